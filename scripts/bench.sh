#!/usr/bin/env bash
# make bench: webhook deliveries accepted per second by a local flowtalk-ingest (release build) at a fixed
# concurrency, next to the single-row INSERT rate pgbench reaches on the same PostgreSQL with the same number of
# clients. PostgreSQL runs with its defaults (fsync on): every acknowledged delivery is durable.
#   BENCH_CLIENTS (default 32), BENCH_SECONDS (default 15), BENCH_DELIVERIES (default 400000)
set -euo pipefail
cd "$(dirname "$0")/.."

clients=${BENCH_CLIENTS:-32}
seconds=${BENCH_SECONDS:-15}
deliveries=${BENCH_DELIVERIES:-400000}
threads=2

if ! command -v wrk >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
    else echo "bench: wrk is needed (apt-get install wrk)" >&2; exit 1; fi
fi
pgbench=$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench | sort -V | tail -n 1)

# CPU seconds used so far by every process of a user (PostgreSQL) or by one pid, from /proc (clock ticks).
ticks_of_pids() { local total=0 pid; for pid in "$@"; do [ -r "/proc/$pid/stat" ] && total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat"))); done; echo "$total"; }
postgres_ticks() { ticks_of_pids $(pgrep -u postgres -f "postgres" || true); }
hz=$(getconf CLK_TCK)
# Measures CPU over the middle of a run (connections are open then): prints "postgres_cores other_cores".
sample_cpu() {
    local other_pid=$1 window=$2 p0 p1 o0 o1
    p0=$(postgres_ticks); o0=$(ticks_of_pids $other_pid)
    sleep "$window"
    p1=$(postgres_ticks); o1=$(ticks_of_pids $other_pid)
    awk -v p="$((p1 - p0))" -v o="$((o1 - o0))" -v hz="$hz" -v w="$window" 'BEGIN { printf "%.3f %.3f\n", p / hz / w, o / hz / w }'
}

echo "building flowtalk-ingest and flowtalk-bench-rules (release)…"
swift build -c release --product flowtalk-ingest >/dev/null
swift build -c release --product flowtalk-bench-rules >/dev/null

echo "== keyword matching (ReplyRules)"
.build/release/flowtalk-bench-rules

tmp=$(mktemp -d /tmp/flowtalk-bench.XXXXXX)
chmod 755 "$tmp"
ingest_pid=""
cleanup() {
    [ -n "$ingest_pid" ] && kill -TERM "$ingest_pid" 2>/dev/null && wait "$ingest_pid" 2>/dev/null || true
    scripts/pg.sh stop "$tmp/pg" || true
    rm -rf "$tmp"
}
trap cleanup EXIT
pg_port=$(scripts/free-port.sh)
DATABASE_URL=$(scripts/pg.sh start "$tmp/pg" "$pg_port")
psql -q "$DATABASE_URL" -c "SHOW fsync" -tA | grep -q on || { echo "bench: fsync must be on" >&2; exit 1; }

echo "== pgbench: single-row INSERT, $clients clients, ${seconds}s"
psql -q "$DATABASE_URL" -c "CREATE TABLE bench_insert (id bigserial PRIMARY KEY, payload bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
echo "INSERT INTO bench_insert (payload) VALUES (convert_to(repeat('x', 200), 'UTF8'));" > "$tmp/insert.sql"
"$pgbench" -n -c "$clients" -j "$threads" -T "$seconds" -f "$tmp/insert.sql" "$DATABASE_URL" > "$tmp/pgbench.txt" 2>&1 &
bench_pid=$!
sleep 3
read -r pg_cpu_pgbench client_cpu_pgbench < <(sample_cpu "$bench_pid" $((seconds - 5)))
wait "$bench_pid"
pg_tps=$(grep -E '^tps = ' "$tmp/pgbench.txt" | head -n 1 | sed -E 's/^tps = ([0-9.]+).*/\1/')
echo "pgbench: $pg_tps inserts/s"

echo "== flowtalk-ingest: signed deliveries, $clients connections, ${seconds}s"
secret="bench-secret-$RANDOM$RANDOM"
python3 scripts/bench/make_deliveries.py "$deliveries" "$secret" "$tmp/deliveries.tsv"
ingest_port=$(scripts/free-port.sh)
DATABASE_URL="$DATABASE_URL" HOST=127.0.0.1 PORT=$ingest_port META_APP_SECRET=$secret META_VERIFY_TOKEN=bench LOG_LEVEL=warning \
    FLOWTALK_ENV=development FLOWTALK_ENV_FILE=/nonexistent .build/release/flowtalk-ingest 2>"$tmp/ingest.log" &
ingest_pid=$!
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$ingest_port/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
wrk -t "$threads" -c "$clients" -d "${seconds}s" --latency -s scripts/bench/webhook.lua "http://127.0.0.1:$ingest_port/webhooks/instagram" \
    -- "$tmp/deliveries.tsv" "$threads" > "$tmp/wrk.txt" &
bench_pid=$!
sleep 3
read -r pg_cpu_ingest ingest_cpu < <(sample_cpu "$ingest_pid" $((seconds - 5)))
wait "$bench_pid"
cat "$tmp/wrk.txt"
rps=$(grep -E '^Requests/sec:' "$tmp/wrk.txt" | awk '{print $2}')
errors=$(grep -E 'Non-2xx' "$tmp/wrk.txt" | awk '{print $NF}' || true)
jobs=$(psql -tA "$DATABASE_URL" -c "SELECT count(*) FROM jobs")
commits=$(curl -fsS "http://127.0.0.1:$ingest_port/metrics" | grep -E '^flowtalk_enqueue_batch_submissions_count' | awk '{print $2}')

echo
echo "== result ($(nproc) cores, PostgreSQL fsync on, $clients concurrent clients, ${seconds}s each)"
printf '%-44s %12s\n' "pgbench single-row INSERT (tps)" "$pg_tps"
printf '%-44s %12s\n' "flowtalk-ingest deliveries accepted (req/s)" "$rps"
printf '%-44s %12s\n' "jobs committed" "$jobs"
printf '%-44s %12s\n' "group commits (statements)" "${commits:-?}"
printf '%-44s %12s\n' "non-2xx responses" "${errors:-0}"
per_op() { awk -v cores="$1" -v rate="$2" 'BEGIN { printf "%.1f", cores * 1000000 / rate }'; }
printf '%-44s %12s\n' "PostgreSQL CPU per pgbench insert (µs)" "$(per_op "$pg_cpu_pgbench" "$pg_tps")"
printf '%-44s %12s\n' "PostgreSQL CPU per accepted delivery (µs)" "$(per_op "$pg_cpu_ingest" "$rps")"
printf '%-44s %12s\n' "flowtalk-ingest CPU per delivery (µs)" "$(per_op "$ingest_cpu" "$rps")"

echo
echo "== webhook→reply latency (ingest → queue → dispatch → sandbox)"
scripts/bench-latency.sh

echo
echo "== the job queue beside PGQueuer 1.6.0 (no-op jobs, same server, same N, W and B)"
scripts/bench-queue.sh

echo
echo "== statistics over 7 and 90 days (counters only)"
scripts/bench-stats.sh  # builds every service in release (this script built only some)
