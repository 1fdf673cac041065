#!/usr/bin/env bash
# Static checks of deploy/ (run from anywhere; works from the repository root). One line per check; exit 1 if any fails.
#
#   scripts/check-deploy.sh
#
# - Kubernetes manifests: kubernetes-validate (strict, Kubernetes $K8S_VERSION schemas: HPA autoscaling/v2, PDB
#   policy/v1, Ingress networking.k8s.io/v1), the kustomization's resource and image lists, and Flowtalk's own rules
#   (probes, securityContext, resources, HPA metrics, Ingress routes, default-deny NetworkPolicy, no inlined secrets);
# - checkov on deploy/kubernetes and deploy/container/Dockerfile: no failed check; a skip needs a written reason;
# - compose.yaml against README's configuration table (every variable a service gets is documented for that service,
#   every required one is there, production's rules) and against flowtalk.env.example; ports against nginx.conf;
# - nginx.conf: `nginx -t`, then nginx itself routes requests to stub upstreams (webhooks, analytics, auth, /metrics);
# - systemd units: `systemd-analyze verify` in a temporary root with stub executables at /opt/flowtalk/bin (the real
#   binaries are not installed here) and the host's own units, `systemd-analyze security` at most 1.2, README variables;
# - prometheus-rules.yaml: `promtool check rules`; the Grafana dashboard parses, its queries parse (promtool, as
#   recording rules), and rules and dashboard name only metrics defined in Shared/ and Services/.
#
# Needs: python3 (venv), promtool (Debian: prometheus), systemd-analyze (systemd), nginx (nginx-light), openssl.
# Python tools go into .venv-deploy (git-ignored), pinned in deploy/tools/requirements.txt with every dependency pinned
# in deploy/tools/constraints.txt; reinstalled when either changes.
# CHECK_DEPLOY_README=path checks against another README (to try a change to its table).
set -euo pipefail
cd "$(dirname "$0")/.."

K8S_VERSION=1.31.0
VENV=.venv-deploy
REQUIREMENTS=deploy/tools/requirements.txt
CONSTRAINTS=deploy/tools/constraints.txt
started=$(date +%s)
failed=0
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

# check NAME COMMAND...: runs the command, prints "ok NAME (time)" or "FAIL NAME" and the command's output.
check() {
    local name=$1 t0 ms
    shift
    t0=$(date +%s%N)
    if "$@" > "$log/out" 2>&1; then
        ms=$(( ($(date +%s%N) - t0) / 1000000 ))
        printf 'ok    %-72s %3d.%ds\n' "$name" $((ms / 1000)) $((ms % 1000 / 100))
    else
        printf 'FAIL  %s\n' "$name"
        sed 's/^/      /' "$log/out" | tail -n 60
        failed=1
    fi
}

missing=()
command -v promtool > /dev/null || missing+=("promtool (apt-get install prometheus)")
command -v systemd-analyze > /dev/null || missing+=("systemd-analyze (apt-get install systemd)")
command -v nginx > /dev/null || [ -x /usr/sbin/nginx ] || missing+=("nginx (apt-get install nginx-light)")
command -v openssl > /dev/null || missing+=("openssl (apt-get install openssl)")
if [ ${#missing[@]} -gt 0 ]; then
    printf 'FAIL  tools missing: %s\n' "${missing[*]}"
    exit 1
fi

# --- the virtual environment -----------------------------------------------------------------------------------------
stamp="$VENV/.requirements.sha256"
want=$(cat "$REQUIREMENTS" "$CONSTRAINTS" | sha256sum | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    check "venv $VENV (${REQUIREMENTS})" bash -c "
        python3 -m venv '$VENV' && '$VENV/bin/pip' install --quiet --disable-pip-version-check -r '$REQUIREMENTS' -c '$CONSTRAINTS' \
        && echo '$want' > '$stamp'"
    [ "$failed" = 0 ] || exit 1
fi
py="$VENV/bin/python"
deploy_py=deploy/tools/check_deploy.py

# --- Kubernetes --------------------------------------------------------------------------------------------------------
mapfile -t manifests < <(find deploy/kubernetes -name '*.yaml' ! -name kustomization.yaml | sort)
check "kubernetes-validate --strict -k $K8S_VERSION (${#manifests[@]} files)" \
    "$VENV/bin/kubernetes-validate" --strict --quiet -k "$K8S_VERSION" "${manifests[@]}"
check "kustomization.yaml lists every manifest and image" "$py" "$deploy_py" kustomization
check "kubernetes: probes, securityContext, HPA, Ingress, policies, README" "$py" "$deploy_py" kubernetes

# --- checkov ---------------------------------------------------------------------------------------------------------
# --skip-download: no call home for guidelines (no network here).
# One run over deploy/ (the Kubernetes manifests and deploy/container/Dockerfile; its other YAML files are no Kubernetes
# objects): checkov's start-up dominates. Both scans must have happened, and no check may fail.
checkov_scan() {
    "$VENV/bin/checkov" --quiet --compact --skip-download --framework kubernetes dockerfile -d deploy > "$log/checkov" 2>&1 \
        || { cat "$log/checkov"; return 1; }
    if ! grep -q "kubernetes scan results" "$log/checkov" || ! grep -q "dockerfile scan results" "$log/checkov"; then
        echo "checkov did not scan both the manifests and the Dockerfile:"; cat "$log/checkov"; return 1
    fi
    grep -E "scan results|Passed checks" "$log/checkov" | paste -sd ' ' | sed 's/  */ /g' > "$log/checkov-summary"
}
check "checkov: deploy/kubernetes and the Dockerfile, no failed check" checkov_scan
sed 's/^/      /' "$log/checkov-summary" 2>/dev/null || true
check "checkov skips carry a reason" "$py" "$deploy_py" skips

# --- compose and nginx -------------------------------------------------------------------------------------------------
check "compose.yaml against README's configuration and flowtalk.env.example" "$py" "$deploy_py" compose
check "nginx.conf: nginx -t and routes through nginx to stub upstreams" "$py" "$deploy_py" nginx-routes

# --- systemd -----------------------------------------------------------------------------------------------------------
systemd_root="$log/root"
mkdir -p "$systemd_root/opt/flowtalk/bin" "$systemd_root/etc/systemd/system" "$systemd_root/lib/systemd"
cp -a /lib/systemd/system "$systemd_root/lib/systemd/"
cp deploy/systemd/*.service "$systemd_root/etc/systemd/system/"
while read -r exe; do
    printf '#!/bin/sh\nexit 0\n' > "$systemd_root/opt/flowtalk/bin/$exe"
    chmod 755 "$systemd_root/opt/flowtalk/bin/$exe"
done < <(sed -n 's#^ExecStart=/opt/flowtalk/bin/\([^ ]*\).*#\1#p' deploy/systemd/*.service | sort -u)
units=()
for unit in deploy/systemd/*.service; do units+=("$(basename "$unit")"); done
verify_units() {
    # verify exits 0 on unknown keys and other warnings: any output is a failure.
    local out
    out=$(cd "$systemd_root/etc/systemd/system" && systemd-analyze verify --root="$systemd_root" "${units[@]}" 2>&1) || { echo "$out"; return 1; }
    [ -z "$out" ] || { echo "$out"; return 1; }
}
check "systemd-analyze verify (temporary root, stub binaries)" verify_units
security_units() {
    local unit rc=0
    for unit in "${units[@]}"; do
        systemd-analyze security --offline=true --root="$systemd_root" --threshold=12 "$unit" > "$log/security" 2>&1 \
            || { grep -E "Overall|✗" "$log/security"; rc=1; }
    done
    return $rc
}
check "systemd-analyze security: exposure at most 1.2 (now 1.1)" security_units
check "systemd units: hardening and README variables" "$py" "$deploy_py" systemd-env

# --- observability -------------------------------------------------------------------------------------------------------
check "promtool check rules prometheus-rules.yaml" promtool check rules deploy/observability/prometheus-rules.yaml
grafana_rules() {
    "$py" "$deploy_py" grafana-promql "$log/grafana-rules.yaml" && promtool check rules "$log/grafana-rules.yaml"
}
check "grafana-dashboard.json parses; its queries parse (promtool)" grafana_rules
check "rules and dashboard use only metrics the code defines" "$py" "$deploy_py" metrics

echo "check-deploy: $(( $(date +%s) - started )) s"
if [ "$failed" != 0 ]; then
    echo "check-deploy: FAILED"
    exit 1
fi
echo "check-deploy: all passed"
