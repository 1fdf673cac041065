#!/usr/bin/env bash
# make bench-drain: real replies drained for one busy account (issue 17). DRAIN_DMS DMs from as many customers to the
# demo shop wait in the queue (one real delivery through ingest gives the job's exact shape; the rest are copies with
# other ids), then one flowtalk-dispatch starts and answers them through the sandbox's Send API: rule match, decision,
# send, record — the whole reply path, PostgreSQL with fsync on. Prints the rate, the replies' states, the messages the
# sandbox received per customer (none doubled), dispatch's memory idle and under load, and what PostgreSQL's backends
# were waiting on while it drained (sampled from pg_stat_activity). The sandbox sends no echoes here (ingest is not
# running; bench-latency covers the echo path).
#   DRAIN_DMS (default 5000), DRAIN_BUILD (release | debug; default release), DISPATCH_WORKERS / DISPATCH_BATCH_SIZE /
#   DATABASE_MAX_CONNECTIONS
#   (dispatch's own defaults when unset). Last line: RESULT drain dms= seconds= rate= doubled= rss_idle_kb= rss_load_kb=
set -euo pipefail
cd "$(dirname "$0")/.."

n=${DRAIN_DMS:-5000}
build=${DRAIN_BUILD:-release}
echo "building ingest, dispatch, sandbox and flowtalk-dev ($build)…"
for product in flowtalk-ingest flowtalk-dispatch flowtalk-sandbox flowtalk-dev; do swift build -c "$build" --product "$product" >/dev/null; done
bin=.build/$build

tmp=$(mktemp -d /tmp/flowtalk-drain.XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    scripts/pg.sh stop "$tmp/pg" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT
url=$(scripts/pg.sh start "$tmp/pg" "$(scripts/free-port.sh)")
psql() { command psql "$url" -X -q -tA -v ON_ERROR_STOP=1 "$@"; }
[ "$(psql -c 'SHOW fsync')" = on ] || { echo "bench-drain: fsync must be on" >&2; exit 1; }

shop=17841400000000042
secret="drain-$RANDOM$RANDOM"
token="IGAA-drain-$RANDOM$RANDOM"
sandbox_port=$(scripts/free-port.sh); ingest_port=$(scripts/free-port.sh); dispatch_port=$(scripts/free-port.sh)
common=(env -i PATH=/usr/bin:/bin FLOWTALK_ENV=development FLOWTALK_ENV_FILE=/nonexistent DATABASE_URL="$url" HOST=127.0.0.1 LOG_LEVEL=warning
    META_APP_SECRET="$secret" META_VERIFY_TOKEN=vt TOKEN_ENCRYPTION_KEYS="drain:$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
    SANDBOX_DEMO_TOKEN="$token" SANDBOX_URL="http://127.0.0.1:$sandbox_port" INGEST_URL="http://127.0.0.1:$ingest_port"
    INSTAGRAM_GRAPH_URL="http://127.0.0.1:$sandbox_port" SANDBOX_ECHOES=false ${DISPATCH_WORKERS:+DISPATCH_WORKERS=$DISPATCH_WORKERS}
    ${DISPATCH_BATCH_SIZE:+DISPATCH_BATCH_SIZE=$DISPATCH_BATCH_SIZE} ${DATABASE_MAX_CONNECTIONS:+DATABASE_MAX_CONNECTIONS=$DATABASE_MAX_CONNECTIONS})
ready() { for _ in $(seq 1 600); do curl -fsS "http://127.0.0.1:$1/readyz" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# CPU clock ticks used so far by some pids (PostgreSQL: every process of the cluster's user).
# A process gone meanwhile is skipped: backends that exit during the drain are under-counted. The sampler itself (two
# psql calls every 50 ms) shares the two cores and lowers the rate a little.
ticks() { local total=0 pid t; for pid in "$@"; do t=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null) || continue; total=$((total + ${t:-0})); done; echo "$total"; }
pg_pids() { local pm; pm=$(head -n 1 "$tmp/pg/postmaster.pid"); echo "$pm" $(pgrep -P "$pm" || true); }

"${common[@]}" "$bin/flowtalk-dev" seed-demo >/dev/null
"${common[@]}" PORT="$sandbox_port" SANDBOX_ACCOUNTS="$shop:demo_shop:$token" "$bin/flowtalk-sandbox" 2>"$tmp/sandbox.log" & pids+=($!)
ready "$sandbox_port" || { echo "bench-drain: the sandbox did not start" >&2; cat "$tmp/sandbox.log" >&2; exit 1; }

# One real delivery through ingest gives the job's exact shape.
"${common[@]}" PORT="$ingest_port" "$bin/flowtalk-ingest" 2>"$tmp/ingest.log" & ingest_pid=$!; pids+=($ingest_pid)
ready "$ingest_port" || { echo "bench-drain: ingest did not start" >&2; cat "$tmp/ingest.log" >&2; exit 1; }
INGEST_URL="http://127.0.0.1:$ingest_port" META_APP_SECRET="$secret" scripts/send-webhook.sh "How much is it?" 7000000000000000 "$shop" drain-template >/dev/null
kill "$ingest_pid"; wait "$ingest_pid" 2>/dev/null || true; pids=("${pids[0]}")
psql -c "CREATE TABLE drain_template AS SELECT kind, payload, serialization_key FROM jobs; DELETE FROM jobs; DELETE FROM job_dedupe"
# Dispatch starts on an empty queue (its idle memory is read then); the DMs arrive in one transaction, with the
# statistics a running system's autovacuum would have. The clock runs from the first reply begun to the last one final.
"${common[@]}" PORT="$dispatch_port" "$bin/flowtalk-dispatch" 2>"$tmp/dispatch.log" & dispatch_pid=$!; pids+=($dispatch_pid)
ready "$dispatch_port" || { echo "bench-drain: dispatch did not start" >&2; cat "$tmp/dispatch.log" >&2; exit 1; }
sleep 2
rss_idle=$(rss_kb "$dispatch_pid")
psql -c "BEGIN;
         INSERT INTO jobs (kind, payload, dedupe_key, serialization_key)
         SELECT t.kind,
                convert_to(replace(replace(convert_from(t.payload, 'UTF8'), 'drain-template', 'drain-' || g), '7000000000000000', (7000000000000000 + g)::text), 'UTF8'),
                'drain-' || g, replace(t.serialization_key, '7000000000000000', (7000000000000000 + g)::text)
         FROM drain_template t, generate_series(1, $n) g;
         ANALYZE jobs;
         COMMIT"
rss_load=0
: > "$tmp/waits"
cpu0="$(ticks $dispatch_pid) $(ticks "${pids[0]}") $(ticks $(pg_pids))"; wall0=$(date +%s.%N)
for _ in $(seq 1 36000); do
    [ "$(psql -c "SELECT count(*) FROM jobs WHERE dedupe_key LIKE 'drain-%' AND state <> 'dead'")" = 0 ] && break
    psql -c "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') || ' ' || left(regexp_replace(query, '\s+', ' ', 'g'), 40)
             FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() AND backend_type = 'client backend'" >> "$tmp/waits"
    rss=$(rss_kb "$dispatch_pid"); [ "$rss" -gt "$rss_load" ] && rss_load=$rss
    sleep 0.05
done
cpu1="$(ticks $dispatch_pid) $(ticks "${pids[0]}") $(ticks $(pg_pids))"; wall1=$(date +%s.%N)
cpu=$(awk -v cores="$(nproc)" -v a="$cpu0" -v b="$cpu1" -v w0="$wall0" -v w1="$wall1" -v hz="$(getconf CLK_TCK)" 'BEGIN {
    split(a, x, " "); split(b, y, " "); w = w1 - w0
    printf "dispatch %.2f, sandbox %.2f, PostgreSQL %.2f (of %d)", (y[1] - x[1]) / hz / w, (y[2] - x[2]) / hz / w, (y[3] - x[3]) / hz / w, cores }')
read -r seconds sent failed unknown skipped < <(psql -F ' ' -c "
    SELECT round(extract(epoch FROM max(finished_at) - min(created_at))::numeric, 2),
           count(*) FILTER (WHERE state = 'sent'), count(*) FILTER (WHERE state = 'failed'),
           count(*) FILTER (WHERE state = 'unknown'), count(*) FILTER (WHERE state = 'skipped') FROM replies")
[ -n "$seconds" ] && [ "$sent" != 0 ] || { echo "bench-drain: no reply was sent" >&2; tail -n 20 "$tmp/dispatch.log" >&2; exit 1; }
left=$(psql -c "SELECT count(*) FROM jobs WHERE dedupe_key LIKE 'drain-%'")
curl -fsS "http://127.0.0.1:$sandbox_port/simulate/conversations/$shop" > "$tmp/conversation.json"
read -r received customers doubled < <(python3 -c '
import json, sys, collections
messages = [m for m in json.load(open(sys.argv[1])).get("messages", []) if m.get("direction") == "out"]
per = collections.Counter(m["customer_id"] for m in messages)
print(len(messages), len(per), sum(1 for c in per.values() if c > 1))' "$tmp/conversation.json")

echo "== real replies drained: $n DMs from $n customers to one account, one dispatch (${DISPATCH_WORKERS:-default} workers × batch ${DISPATCH_BATCH_SIZE:-default})"
echo "| measure | value |"
echo "| --- | ---: |"
echo "| drained in (first reply begun → last reply final) | $seconds s |"
awk -v n="$n" -v s="$seconds" 'BEGIN { printf "| replies per second | %.0f |\n", n / s }'
echo "| replies sent / failed / unknown / skipped | $sent / $failed / $unknown / $skipped |"
echo "| jobs left (dead included) | $left |"
echo "| messages the sandbox received / customers / customers answered twice | $received / $customers / $doubled |"
echo "| cores busy while draining | $cpu |"
echo "| dispatch resident memory idle / peak while draining | $((rss_idle / 1024)) MB / $((rss_load / 1024)) MB |"
echo
echo "what active backends waited on while draining (samples; CPU = running):"
sed -E 's/\$[0-9]+/?/g' "$tmp/waits" | sort | uniq -c | sort -rn | head -n 8
[ "$sent" = "$n" ] && [ "$doubled" = 0 ] && [ "$left" = 0 ] || { echo "bench-drain: not every DM was answered exactly once" >&2; exit 1; }
awk -v n="$n" -v s="$seconds" -v d="$doubled" -v i="$rss_idle" -v l="$rss_load" \
    'BEGIN { printf "RESULT drain dms=%d seconds=%s rate=%.0f doubled=%d rss_idle_kb=%d rss_load_kb=%d\n", n, s, n / s, d, i, l }'
