# Sourced by scripts/browser-test.sh and scripts/openapi-check.sh: every service (auth, ingest, dispatch, analytics and
# the sandbox) on free ports against a fresh schema of $DATABASE_URL, stopped and the schema dropped on exit.
#   start_stack NAME LOGDIR [EXTRA_ENV...]   NAME prefixes the schema and the test accounts; EXTRA_ENV are VAR=value
# Sets: auth ingest dispatch analytics sandbox smtp (ports), ig (the sandbox's Instagram account id), schema.
# Binaries: $FLOWTALK_BIN_DIR, else `swift build --show-bin-path` (make test builds them first).

start_stack() {
    local name=$1 logdir=$2
    shift 2
    local bin=${FLOWTALK_BIN_DIR:-$(swift build --show-bin-path)}
    schema="${name}_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    psql "$DATABASE_URL" -qc "CREATE SCHEMA $schema" >/dev/null
    local sep='?'
    [[ "$DATABASE_URL" == *\?* ]] && sep='&'
    local url="${DATABASE_URL}${sep}search_path=${schema}"
    auth=$(scripts/free-port.sh); ingest=$(scripts/free-port.sh); dispatch=$(scripts/free-port.sh)
    analytics=$(scripts/free-port.sh); sandbox=$(scripts/free-port.sh); smtp=$(scripts/free-port.sh)
    ig=17841400000000077
    stack_pids=()
    trap stop_stack EXIT
    local common=(
        env -i PATH=/usr/bin:/bin FLOWTALK_ENV=development FLOWTALK_ENV_FILE=/nonexistent HOST=127.0.0.1 LOG_LEVEL=warning DATABASE_URL="$url"
        META_APP_ID="$name-app" META_APP_SECRET="$name-secret" META_VERIFY_TOKEN=vt
        TOKEN_ENCRYPTION_KEYS="k1:$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
        PASSWORD_PEPPER="$name-pepper" BCRYPT_COST=10 COOKIE_SECURE=false
        PUBLIC_URL="http://127.0.0.1:$auth" ANALYTICS_URL="http://127.0.0.1:$analytics" DASHBOARD_DIR="$PWD/Services/Dashboard"
        INSTAGRAM_GRAPH_URL="http://127.0.0.1:$sandbox" INSTAGRAM_OAUTH_URL="http://127.0.0.1:$sandbox" INSTAGRAM_API_URL="http://127.0.0.1:$sandbox"
        GROQ_API_KEY=sandbox GROQ_BASE_URL="http://127.0.0.1:$sandbox/openai/v1"
        SANDBOX_SMTP_PORT="$smtp" SMTP_URL="smtp://127.0.0.1:$smtp?tls=none"
        INGEST_URL="http://127.0.0.1:$ingest" SANDBOX_ACCOUNTS="$ig:${name}_shop:IGAA-$name-token" SANDBOX_OAUTH_ACCOUNT="$ig"
        "$@"
    )
    local service port
    # Auth migrates first; the others wait for the schema.
    for service in sandbox:$sandbox auth:$auth ingest:$ingest dispatch:$dispatch analytics:$analytics; do
        "${common[@]}" PORT="${service#*:}" "$bin/flowtalk-${service%%:*}" >"$logdir/flowtalk-${service%%:*}.log" 2>&1 &
        stack_pids+=($!)
    done
    for port in $auth $ingest $dispatch $analytics $sandbox; do
        for _ in $(seq 1 600); do
            curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
            sleep 0.1
        done
        curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { echo "FAIL  the service on port $port never became ready"; tail -n 5 "$logdir"/*.log; exit 1; }
    done
}

stop_stack() {
    for pid in "${stack_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    psql "$DATABASE_URL" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
}
