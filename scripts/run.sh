#!/usr/bin/env bash
# make run: build, start PostgreSQL (a private cluster under .data/ unless DATABASE_URL is set), start every service,
# print where they are, and stop everything cleanly on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

mkdir -p .data/logs

source scripts/dev-env.sh

# Values from .env that this script needs itself (the services read .env on their own).
env_value() { grep -E "^(export )?$1=" .env | tail -n 1 | sed -E "s/^(export )?$1=//; s/^[\"']//; s/[\"']$//"; }
DATABASE_URL=${DATABASE_URL:-$(env_value DATABASE_URL || true)}
META_APP_SECRET=$(env_value META_APP_SECRET)
SANDBOX_DEMO_TOKEN=$(env_value SANDBOX_DEMO_TOKEN)
SANDBOX_NEW_SHOP_TOKEN=$(env_value SANDBOX_NEW_SHOP_TOKEN)
SANDBOX_CURL_SHOP_TOKEN=$(env_value SANDBOX_CURL_SHOP_TOKEN)
DEMO_PASSWORD=$(env_value DEMO_PASSWORD)

echo "building (debug)…"
swift build

started_pg=""
if [ -z "$DATABASE_URL" ]; then
    port=${PG_PORT:-54329}
    DATABASE_URL=$(scripts/pg.sh start .data/pg "$port")
    started_pg=".data/pg"
    echo "PostgreSQL: private cluster in .data/pg on 127.0.0.1:$port"
fi
export DATABASE_URL

# The demo shop (a sandbox Instagram account with a few rules), created once; its sign-in is set from .env each time.
.build/debug/flowtalk-dev seed-demo

pids=()
stop_all() {
    trap - INT TERM EXIT
    echo
    echo "stopping…"
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ -n "$started_pg" ]; then scripts/pg.sh stop "$started_pg"; fi
    echo "stopped."
}
trap 'stop_all; exit 0' INT TERM
trap stop_all EXIT

declare -A ports=([auth]=8081 [ingest]=8082 [dispatch]=8083 [analytics]=8084 [sandbox]=8090)
for name in sandbox auth ingest dispatch analytics; do
    # Three sandbox Instagram accounts: the seeded demo shop, @new_shop that Instagram Login (OAuth) approves, and
    # @curl_shop that the README's curl walkthrough connects (flowtalk-dev connect-sandbox).
    # The demo and curl shops are connected without Instagram Login: their webhooks count as subscribed from the start.
    HOST=127.0.0.1 PORT=${ports[$name]} SANDBOX_OAUTH_ACCOUNT=17841400000000043 SANDBOX_SUBSCRIBED=17841400000000042,17841400000000044 \
        SANDBOX_ACCOUNTS="17841400000000042:demo_shop:$SANDBOX_DEMO_TOKEN,17841400000000043:new_shop:$SANDBOX_NEW_SHOP_TOKEN,17841400000000044:curl_shop:$SANDBOX_CURL_SHOP_TOKEN" \
        ".build/debug/flowtalk-$name" > >(tee -a ".data/logs/$name.log" | sed -u "s/^/[$name] /") 2>&1 &
    pids+=($!)
done

for name in sandbox auth ingest dispatch analytics; do
    ok=""
    for _ in $(seq 1 120); do
        if curl -fsS "http://127.0.0.1:${ports[$name]}/readyz" >/dev/null 2>&1; then ok=1; break; fi
        sleep 0.5
    done
    [ -n "$ok" ] || { echo "flowtalk-$name did not become ready; see .data/logs/$name.log" >&2; exit 1; }
done

cat <<MSG

Flowtalk is running (logs in .data/logs/).

  Open the dashboard:  http://127.0.0.1:8081
    Sign up, open the verification link from the mail (http://127.0.0.1:8090/sandbox/mail), then "Connect Instagram":
    the sandbox plays Instagram and approves its test account @new_shop at once.
    Add a rule, then write to @new_shop as a customer would:
      curl -s -X POST http://127.0.0.1:8090/simulate/dm -H 'content-type: application/json' \\
           -d '{"ig_id":"17841400000000043","from":"customer-1","text":"How much is it?"}'
    The reply shows up in the dashboard's Statistics and Activity pages.

  flowtalk-auth       http://127.0.0.1:8081   dashboard and API
  flowtalk-ingest     http://127.0.0.1:8082   POST /webhooks/instagram
  flowtalk-dispatch   http://127.0.0.1:8083   health and metrics
  flowtalk-analytics  http://127.0.0.1:8084   statistics and activity API
  flowtalk-sandbox    http://127.0.0.1:8090   stand-in for Instagram and Groq (and a customer simulator)
                      smtp://127.0.0.1:8091   SMTP catcher: every mail auth sends lands there
  each also serves /healthz, /readyz and /metrics

  Mail sent by Flowtalk: http://127.0.0.1:8090/sandbox/mail
  The privacy policy:    http://127.0.0.1:8081/privacy   (OPERATOR_NAME and PRIVACY_CONTACT in .env fill it in)
  Operate it:            DATABASE_URL='$DATABASE_URL' .build/debug/flowtalk-admin status   (--help for the rest)

A seeded demo shop, @demo_shop (AI on), answers from the terminal too:
  make demo                                   (or: make demo TEXT="Is the blue mug dishwasher safe?")
  Its dashboard sign-in: demo@flowtalk.local  password: $DEMO_PASSWORD   (DEMO_PASSWORD in .env; development only)

Ctrl-C stops everything.
MSG
wait
