#!/usr/bin/env bash
# Webhook→reply latency through ingest → queue → dispatch → sandbox, at a fixed rate (release builds, fresh
# PostgreSQL with default durable settings).   BENCH_RATE (default 50 DMs/s), BENCH_SECONDS (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
rate=${BENCH_RATE:-50}
seconds=${BENCH_SECONDS:-10}

echo "building ingest, dispatch, sandbox and flowtalk-dev (release)…"
for product in flowtalk-ingest flowtalk-dispatch flowtalk-sandbox flowtalk-dev; do swift build -c release --product "$product" >/dev/null 2>&1; done

tmp=$(mktemp -d /tmp/flowtalk-latency.XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    scripts/pg.sh stop "$tmp/pg" || true
    rm -rf "$tmp"
}
trap cleanup EXIT
DATABASE_URL=$(scripts/pg.sh start "$tmp/pg" "$(scripts/free-port.sh)")
export DATABASE_URL FLOWTALK_ENV=development FLOWTALK_ENV_FILE=/nonexistent LOG_LEVEL=warning HOST=127.0.0.1
export META_APP_SECRET="bench-$RANDOM$RANDOM" META_VERIFY_TOKEN=bench
export TOKEN_ENCRYPTION_KEYS="bench:$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
export SANDBOX_DEMO_TOKEN="IGAA-bench-$RANDOM$RANDOM"
sandbox_port=$(scripts/free-port.sh); ingest_port=$(scripts/free-port.sh); dispatch_port=$(scripts/free-port.sh)
export SANDBOX_URL="http://127.0.0.1:$sandbox_port" INGEST_URL="http://127.0.0.1:$ingest_port" INSTAGRAM_GRAPH_URL="http://127.0.0.1:$sandbox_port"
.build/release/flowtalk-dev seed-demo >/dev/null
PORT=$sandbox_port SANDBOX_ACCOUNTS="17841400000000042:demo_shop:$SANDBOX_DEMO_TOKEN" .build/release/flowtalk-sandbox 2>"$tmp/sandbox.log" & pids+=($!)
PORT=$ingest_port .build/release/flowtalk-ingest 2>"$tmp/ingest.log" & pids+=($!)
PORT=$dispatch_port .build/release/flowtalk-dispatch 2>"$tmp/dispatch.log" & pids+=($!)
for port in $sandbox_port $ingest_port $dispatch_port; do
    for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
done
# The demo shop answers each customer at most every 3 s; every DM here comes from a new customer.
.build/release/flowtalk-dev bench-latency "$rate" "$seconds"
