#!/usr/bin/env bash
# The dashboard in a real browser: starts auth, ingest, dispatch, analytics and the sandbox on free ports against a
# fresh schema of $DATABASE_URL, then drives headless Chromium (Debian's chromium + chromium-driver, python3-selenium)
# through Tests/Browser/dashboard_test.py. Screenshots and page sources go to .build/browser-test/ (on failure, and a
# few on success for people to look at). Expects the binaries to be built (make test does that first).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DATABASE_URL:?DATABASE_URL must point at a PostgreSQL server}"

out=.build/browser-test
rm -rf "$out" && mkdir -p "$out"
bin=$(swift build --show-bin-path)
schema="browser_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
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
    META_APP_ID=browser-app META_APP_SECRET=browser-secret META_VERIFY_TOKEN=vt
    TOKEN_ENCRYPTION_KEYS="b1:$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
    PASSWORD_PEPPER=browser-pepper BCRYPT_COST=10 COOKIE_SECURE=false
    PUBLIC_URL="http://127.0.0.1:$auth" ANALYTICS_URL="http://127.0.0.1:$analytics" DASHBOARD_DIR="$PWD/Services/Dashboard"
    INSTAGRAM_GRAPH_URL="http://127.0.0.1:$sandbox" INSTAGRAM_OAUTH_URL="http://127.0.0.1:$sandbox" INSTAGRAM_API_URL="http://127.0.0.1:$sandbox"
    GROQ_API_KEY=sandbox GROQ_BASE_URL="http://127.0.0.1:$sandbox/openai/v1"
    FLOWTALK_ENV=development SANDBOX_SMTP_PORT="$smtp" SMTP_URL="smtp://127.0.0.1:$smtp?tls=none"
    INGEST_URL="http://127.0.0.1:$ingest" SANDBOX_ACCOUNTS="$ig:browser_shop:IGAA-browser-token" SANDBOX_OAUTH_ACCOUNT="$ig"
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
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { echo "browser test: service on port $port never became ready"; tail -5 "$out"/*.log; exit 1; }
done

# The browser runs in New York time: the statistics are asked for in the dashboard's time zone, not the server's.
TZ=America/New_York DASHBOARD_URL="http://127.0.0.1:$auth" SANDBOX_URL="http://127.0.0.1:$sandbox" INSTAGRAM_ID="$ig" ARTIFACTS="$out" \
    /usr/bin/python3 Tests/Browser/dashboard_test.py
