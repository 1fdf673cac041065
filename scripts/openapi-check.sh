#!/usr/bin/env bash
# The dashboard API against its OpenAPI document, docs/openapi.yaml (a link to Services/Auth/Resources/openapi.yaml,
# which flowtalk-auth serves at /api/openapi.yaml):
#   1. openapi-spec-validator: the document is valid OpenAPI 3.1;
#   2. auth, ingest, dispatch, analytics and the sandbox on free ports against a fresh schema of $DATABASE_URL (as
#      scripts/browser-test.sh starts them), with TRUSTED_PROXIES=127.0.0.1 so each phase can be its own client address;
#   3. Tests/OpenAPI/openapi_check.py: accounts made through the API (mail from the sandbox's catcher, Instagram through
#      the sandbox's OAuth, a simulated DM answered), schemathesis over every documented operation with the session
#      cookie and the dashboard's Origin (checks: not_a_server_error, status_code_conformance,
#      content_type_conformance, response_headers_conformance, response_schema_conformance), the success paths random
#      data cannot reach made on purpose and checked the same way, and sign-out and disconnect last.
# Prints one line per check and `N passed, N failed`; exit 1 on any failure. Logs, the JUnit reports and the services'
# logs go to .build/openapi-check/. Expects the binaries built (make test builds them first; FLOWTALK_BIN_DIR=dir to use
# others). OPENAPI_EXAMPLES (50) bounds schemathesis' examples per operation, OPENAPI_SEED (14) fixes its data.
# Needs: python3 with venv (Debian: python3-venv), psql, curl. Tools go into .venv-openapi (git-ignored), pinned in
# Tests/OpenAPI/requirements.txt with every dependency pinned in Tests/OpenAPI/constraints.txt; reinstalled when
# either changes.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DATABASE_URL:?DATABASE_URL must point at a PostgreSQL server}"

VENV=.venv-openapi
REQUIREMENTS=Tests/OpenAPI/requirements.txt
CONSTRAINTS=Tests/OpenAPI/constraints.txt
SPEC=docs/openapi.yaml
out=.build/openapi-check
started=$(date +%s)
rm -rf "$out" && mkdir -p "$out"

# --- the virtual environment -----------------------------------------------------------------------------------------
stamp="$VENV/.requirements.sha256"
want=$(cat "$REQUIREMENTS" "$CONSTRAINTS" | sha256sum | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    if ! { python3 -m venv "$VENV" && "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQUIREMENTS" -c "$CONSTRAINTS"; } \
        > "$out/venv.log" 2>&1; then
        echo "FAIL  venv $VENV ($REQUIREMENTS)"; sed 's/^/      /' "$out/venv.log" | tail -n 30; exit 1
    fi
    echo "$want" > "$stamp"
    echo "ok    venv $VENV ($REQUIREMENTS)"
fi

# --- 1. the document ---------------------------------------------------------------------------------------------------
if ! "$VENV/bin/openapi-spec-validator" "$SPEC" > "$out/validator.log" 2>&1; then
    echo "FAIL  openapi-spec-validator $SPEC"; sed 's/^/      /' "$out/validator.log" | tail -n 30; exit 1
fi
echo "ok    openapi-spec-validator $SPEC ($(wc -l < "$SPEC") lines)"

# --- 2. the services ---------------------------------------------------------------------------------------------------
bin=${FLOWTALK_BIN_DIR:-$(swift build --show-bin-path)}
schema="openapi_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
psql "$DATABASE_URL" -qc "CREATE SCHEMA $schema" >/dev/null
sep='?'; [[ "$DATABASE_URL" == *\?* ]] && sep='&'
url="${DATABASE_URL}${sep}search_path=${schema}"

auth=$(scripts/free-port.sh); ingest=$(scripts/free-port.sh); dispatch=$(scripts/free-port.sh)
analytics=$(scripts/free-port.sh); sandbox=$(scripts/free-port.sh); smtp=$(scripts/free-port.sh)
ig=17841400000000077
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    psql "$DATABASE_URL" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
}
trap cleanup EXIT

common=(
    env -i PATH=/usr/bin:/bin FLOWTALK_ENV=development FLOWTALK_ENV_FILE=/nonexistent HOST=127.0.0.1 LOG_LEVEL=warning DATABASE_URL="$url"
    META_APP_ID=openapi-app META_APP_SECRET=openapi-secret META_VERIFY_TOKEN=vt
    TOKEN_ENCRYPTION_KEYS="o1:$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
    PASSWORD_PEPPER=openapi-pepper BCRYPT_COST=10 COOKIE_SECURE=false TRUSTED_PROXIES=127.0.0.1
    PUBLIC_URL="http://127.0.0.1:$auth" ANALYTICS_URL="http://127.0.0.1:$analytics" DASHBOARD_DIR="$PWD/Services/Dashboard"
    INSTAGRAM_GRAPH_URL="http://127.0.0.1:$sandbox" INSTAGRAM_OAUTH_URL="http://127.0.0.1:$sandbox" INSTAGRAM_API_URL="http://127.0.0.1:$sandbox"
    GROQ_API_KEY=sandbox GROQ_BASE_URL="http://127.0.0.1:$sandbox/openai/v1"
    SANDBOX_SMTP_PORT="$smtp" SMTP_URL="smtp://127.0.0.1:$smtp?tls=none"
    INGEST_URL="http://127.0.0.1:$ingest" SANDBOX_ACCOUNTS="$ig:openapi_shop:IGAA-openapi-token" SANDBOX_OAUTH_ACCOUNT="$ig"
)
start() { # name port
    "${common[@]}" PORT="$2" "$bin/$1" >"$out/$1.log" 2>&1 &
    pids+=($!)
}
start flowtalk-sandbox "$sandbox"
start flowtalk-auth "$auth"       # migrates first; the others wait for the schema
start flowtalk-ingest "$ingest"
start flowtalk-dispatch "$dispatch"
start flowtalk-analytics "$analytics"
for port in $auth $ingest $dispatch $analytics $sandbox; do
    for _ in $(seq 1 600); do
        curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { echo "FAIL  service on port $port never became ready"; tail -n 5 "$out"/*.log; exit 1; }
done
echo "ok    services ready ($(( $(date +%s) - started )) s)"

# --- 3. schemathesis and the success paths ---------------------------------------------------------------------------
status=0
"$VENV/bin/python" Tests/OpenAPI/openapi_check.py --spec "$SPEC" --out "$out" --ig "$ig" \
    --auth "http://127.0.0.1:$auth" --analytics "http://127.0.0.1:$analytics" --sandbox "http://127.0.0.1:$sandbox" \
    --examples "${OPENAPI_EXAMPLES:-50}" --seed "${OPENAPI_SEED:-14}" || status=$?
echo "openapi-check took $(( $(date +%s) - started )) s"
exit "$status"
