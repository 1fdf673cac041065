#!/usr/bin/env bash
# Builds deploy/container/Dockerfile's runtime stage with podman from a local Debian base and already built binaries
# (no registry, no Swift build inside the image), then runs the images and checks them:
#   scripts/container-test.sh [SERVICE ...]      default: flowtalk-admin and the four services, in that order
#
# - base: `debootstrap --variant=minbase bookworm`, imported as debian:bookworm-slim (made once, kept);
# - files: the binary from .build/release (or .build/debug when there is no release build), its Swift runtime
#   libraries and the crash backtracer from the local toolchain (found with ldd), auth's resource bundle and the
#   dashboard, staged as the Dockerfile's `build` stage stages them, and built with --target runtime-prebuilt;
# - the runtime stage's own steps run for real (apt-get from Debian's mirror, the user, ldconfig, ENV, HEALTHCHECK;
#   --format docker, since OCI images carry no HEALTHCHECK);
# - each image runs as Kubernetes and compose run it (read-only root, all capabilities dropped, no new privileges,
#   its own uid 10001) on the host network against a private PostgreSQL (scripts/pg.sh): flowtalk-admin's image runs
#   `migrate` as the deployments' migration job does, and the services then start with FLOWTALK_MIGRATE=false (without
#   flowtalk-admin in the list they migrate themselves); /healthz, /readyz, the image's HEALTHCHECK, /metrics on
#   METRICS_PORT only, for auth the dashboard and /privacy (the resource bundle next to the binary); then SIGABRT,
#   and the Swift backtracer's report.
#
# Needs: podman, runc (this machine's cgroup v1/v2 hybrid is refused by crun), debootstrap, curl, the PostgreSQL
# server; root. Podman's default rlimits exceed this sandbox's hard limits, so every container gets explicit ones.
set -euo pipefail
cd "$(dirname "$0")/.."

services=("$@")
[ ${#services[@]} -gt 0 ] || services=(flowtalk-admin flowtalk-auth flowtalk-ingest flowtalk-dispatch flowtalk-analytics)

for tool in podman runc debootstrap curl; do
    command -v "$tool" >/dev/null || { echo "container-test: $tool is missing (apt-get install podman runc debootstrap curl)" >&2; exit 1; }
done
podman=(podman --runtime "$(command -v runc)")
limits=(--ulimit nofile=4096:4096 --ulimit nproc=4096:4096)
# The Dockerfile's runtime stage starts FROM debian:bookworm-slim: the debootstrap'd base is stored under that name
# (podman's local storage only; nothing is pulled, since the image is present).
base=docker.io/library/debian:bookworm-slim
work=$(mktemp -d /var/tmp/flowtalk-container-test.XXXXXX)
chmod 755 "$work"   # the postgres user must reach the cluster under it (scripts/pg.sh)
pg_dir="$work/pg"
pg_started=""
migrated=""
containers=()

cleanup() {
    for c in "${containers[@]}"; do "${podman[@]}" rm -f "$c" >/dev/null 2>&1 || true; done
    [ -z "$pg_started" ] || scripts/pg.sh stop "$pg_dir" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

step() { printf '%-76s' "$1"; }
ok() { echo "ok${1:+ ($1)}"; }
fail() { echo "FAILED: $*"; exit 1; }

# --- the base image -------------------------------------------------------------------------------------------------
step "base image $base"
if "${podman[@]}" image exists "$base"; then
    ok "kept"
else
    debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian > "$work/debootstrap.log" 2>&1 \
        || { tail -20 "$work/debootstrap.log"; fail "debootstrap"; }
    tar -C "$work/rootfs" -c . | "${podman[@]}" import --quiet - "$base" >/dev/null
    rm -rf "$work/rootfs"
    ok "debootstrap'd"
fi

# --- PostgreSQL ---------------------------------------------------------------------------------------------------
pg_port=$(scripts/free-port.sh 2>/dev/null || echo 54391)
database_url=$(scripts/pg.sh start "$pg_dir" "$pg_port")
pg_started=1

toolchain_lib=$(dirname "$(command -v swift)")/../lib/swift/linux
toolchain_libexec=$(dirname "$(command -v swift)")/../libexec/swift/linux

for service in "${services[@]}"; do
    bin_dir=.build/release
    [ -x "$bin_dir/$service" ] || bin_dir=.build/debug
    [ -x "$bin_dir/$service" ] || fail "no built $service in .build/release or .build/debug"
    image="localhost/$service:container-test"

    # --- stage what the Dockerfile's build stage would ---------------------------------------------------------
    ctx="$work/ctx-$service"
    s="$ctx/staging"
    mkdir -p "$s/opt/flowtalk/bin" "$s/usr/lib/swift/linux" "$s/usr/libexec/swift/linux" "$s/usr/local/bin"
    cp "$bin_dir/$service" "$s/opt/flowtalk/bin/"
    if [ "$service" = flowtalk-auth ]; then
        cp -R "$bin_dir/flowtalk_AuthService.resources" "$s/opt/flowtalk/bin/"
        cp -R Services/Dashboard "$s/opt/flowtalk/dashboard"
    fi
    cp "$toolchain_libexec/swift-backtrace" "$s/usr/libexec/swift/linux/"
    { ldd "$bin_dir/$service"; ldd "$toolchain_libexec/swift-backtrace"; } \
        | awk '$3 ~ /\/lib\/swift\/linux\// { print $3 }' | xargs -r realpath --no-symlinks | sort -u \
        | xargs -r cp -L -t "$s/usr/lib/swift/linux/"
    cp deploy/container/healthcheck.sh "$s/usr/local/bin/flowtalk-healthcheck"
    chmod 0755 "$s/usr/local/bin/flowtalk-healthcheck"
    [ -e "$toolchain_lib/libswiftCore.so" ] || fail "no Swift runtime at $toolchain_lib"

    step "$service: podman build --target runtime-prebuilt"
    start=$(date +%s)
    "${podman[@]}" build --quiet --format docker --pull=never "${limits[@]}" --network host -f deploy/container/Dockerfile \
        --target runtime-prebuilt --build-arg SERVICE="$service" --build-arg FLOWTALK_VERSION=container-test \
        -t "$image" "$ctx" > "$work/build-$service.log" 2>&1 || { tail -30 "$work/build-$service.log"; fail "podman build"; }
    size=$("${podman[@]}" image inspect --format '{{.Size}}' "$image")
    ok "$(( $(date +%s) - start )) s, $(( size / 1048576 )) MiB"

    step "$service: image runs as uid 10001, SERVICE=$service"
    user=$("${podman[@]}" image inspect --format '{{.Config.User}}' "$image")
    [ "$user" = "10001:10001" ] || fail "USER is '$user'"
    image_env=$("${podman[@]}" image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$image")
    grep -qx "SERVICE=$service" <<< "$image_env" || fail "the image's SERVICE is not $service"
    ok

    # --- run it as an orchestrator would --------------------------------------------------------------------------
    if [ "$service" = flowtalk-admin ]; then
        step "$service: migrate (the migration job), read-only, cap-drop ALL"
        "${podman[@]}" run --rm "${limits[@]}" --network host --read-only --cap-drop ALL --security-opt no-new-privileges \
            -e FLOWTALK_ENV=development -e "DATABASE_URL=$database_url" "$image" migrate > "$work/migrate.log" 2>&1 \
            || { cat "$work/migrate.log"; fail "flowtalk-admin migrate"; }
        grep -q "schema" "$work/migrate.log" || { cat "$work/migrate.log"; fail "flowtalk-admin migrate said nothing"; }
        migrated=1
        ok "$(tail -n 1 "$work/migrate.log" | cut -c1-60)"
        step "$service: migrate again: nothing to apply, exit 0"
        "${podman[@]}" run --rm "${limits[@]}" --network host --read-only --cap-drop ALL \
            -e FLOWTALK_ENV=development -e "DATABASE_URL=$database_url" "$image" migrate > "$work/migrate2.log" 2>&1 \
            || { cat "$work/migrate2.log"; fail "second migrate"; }
        ok
        continue
    fi
    port=$(scripts/free-port.sh 2>/dev/null || echo 18081)
    metrics_port=$(scripts/free-port.sh 2>/dev/null || echo 19100)
    name="flowtalk-ct-$service-$$"
    env=(-e FLOWTALK_ENV=development -e "DATABASE_URL=$database_url" -e HOST=127.0.0.1 -e "PORT=$port" -e LOG_LEVEL=info
         -e "METRICS_PORT=$metrics_port")
    [ -z "$migrated" ] || env+=(-e FLOWTALK_MIGRATE=false)
    case "$service" in
        flowtalk-auth) env+=(-e META_APP_ID=1234 -e META_APP_SECRET=container-test-secret -e PASSWORD_PEPPER=container-test-pepper
                             -e "TOKEN_ENCRYPTION_KEYS=ct:$(head -c 32 /dev/urandom | base64)" -e "PUBLIC_URL=http://127.0.0.1:$port"
                             -e COOKIE_SECURE=false -e OPERATOR_NAME="Container Test" -e PRIVACY_CONTACT=privacy@example.com) ;;
        flowtalk-ingest) env+=(-e META_APP_SECRET=container-test-secret -e META_VERIFY_TOKEN=container-test-token) ;;
        flowtalk-dispatch) env+=(-e "TOKEN_ENCRYPTION_KEYS=ct:$(head -c 32 /dev/urandom | base64)") ;;
        flowtalk-analytics) env+=(-e "PUBLIC_URL=http://127.0.0.1:8081") ;;
    esac
    step "$service: starts read-only, cap-drop ALL, no-new-privileges"
    "${podman[@]}" run -d --name "$name" "${limits[@]}" --network host --read-only --cap-drop ALL \
        --security-opt no-new-privileges "${env[@]}" "$image" > /dev/null 2> "$work/run-$service.err" \
        || { cat "$work/run-$service.err"; fail "podman run"; }
    containers+=("$name")
    ready=""
    for _ in $(seq 1 120); do
        if curl -fsS "http://127.0.0.1:$port/readyz" > /dev/null 2>&1; then ready=1; break; fi
        sleep 0.5
    done
    [ -n "$ready" ] || { "${podman[@]}" logs "$name" 2>&1 | tail -20; fail "/readyz never answered 200"; }
    ok

    step "$service: /healthz and the image's HEALTHCHECK"
    [ "$(curl -fsS "http://127.0.0.1:$port/healthz")" = '{"status":"ok"}' ] || fail "/healthz"
    "${podman[@]}" healthcheck run "$name" > /dev/null 2>&1 || fail "podman healthcheck run"
    ok

    step "$service: /metrics on METRICS_PORT only; build_info has the version"
    if grep -q METRICS_PORT "$bin_dir/$service"; then
        curl -fsS -o "$work/metrics.txt" "http://127.0.0.1:$metrics_port/metrics" || fail "no /metrics on METRICS_PORT"
        grep -q '^# TYPE' "$work/metrics.txt" || fail "METRICS_PORT's /metrics has no metrics"
        public=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/metrics")
        [ "$public" != 200 ] || fail "the public port serves /metrics too"
        if grep -q '^flowtalk_build_info' "$work/metrics.txt"; then
            grep -q '^flowtalk_build_info{.*version="container-test"' "$work/metrics.txt" \
                || fail "flowtalk_build_info does not carry the image's FLOWTALK_VERSION"
        fi
        ok
    else
        ok "skipped: this build predates METRICS_PORT"
    fi

    step "$service: PID 1 is the service, uid 10001, no capabilities"
    pid=$("${podman[@]}" inspect --format '{{.State.Pid}}' "$name")
    [ "$(cat "/proc/$pid/comm")" = "${service:0:15}" ] || fail "PID 1 is $(cat "/proc/$pid/comm")"
    grep -qE '^Uid:\s+10001\s+10001\s+10001\s+10001$' "/proc/$pid/status" || fail "$(grep ^Uid: "/proc/$pid/status")"
    grep -qE '^CapEff:\s+0+$' "/proc/$pid/status" || fail "$(grep ^CapEff: "/proc/$pid/status")"
    grep -qE '^NoNewPrivs:\s+1$' "/proc/$pid/status" || fail "no_new_privs not set"
    ok

    if [ "$service" = flowtalk-auth ]; then
        step "$service: dashboard and /privacy (resource bundle)"
        curl -fsS -o "$work/index.html" "http://127.0.0.1:$port/" || fail "dashboard index"
        grep -qi '<html' "$work/index.html" || fail "dashboard index is no page"
        curl -fsS -o "$work/privacy.html" "http://127.0.0.1:$port/privacy" || fail "/privacy"
        grep -q 'Container Test' "$work/privacy.html" || fail "/privacy does not name OPERATOR_NAME"
        ok
    fi

    step "$service: SIGABRT gives a Swift backtrace"
    "${podman[@]}" kill --signal ABRT "$name" > /dev/null
    for _ in $(seq 1 60); do
        [ "$("${podman[@]}" inspect --format '{{.State.Running}}' "$name")" = false ] && break
        sleep 0.5
    done
    "${podman[@]}" logs "$name" > "$work/$service.log" 2>&1 || true
    if grep -q "Program crashed" "$work/$service.log" && grep -q "Backtrace took" "$work/$service.log"; then
        ok "$(grep -o 'Backtrace took [0-9.]*s' "$work/$service.log")"
    else
        grep -n -i -E "crash|backtrace|thread 0" "$work/$service.log" | head -10
        fail "no backtrace in the log"
    fi
done

echo "container-test: all checks passed"
