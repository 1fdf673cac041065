#!/usr/bin/env bash
# make bench: issue 17's figures in one run on this machine, each beside its reference from the same run, ending with
# one table (ratios last). Parts: keyword matching; webhook deliveries accepted per second by a local flowtalk-ingest
# (release) at a fixed concurrency next to the single-row INSERT rate pgbench reaches on the same PostgreSQL with the same
# number of clients; webhook→reply latency at 100, 200 and 500 DMs/s (bench-latency.sh); real replies for one busy
# account (bench-drain.sh); the queue beside PGQueuer 1.6.0 (bench-queue.sh); the 7- and 90-day statistics and each
# service's memory (bench-stats.sh). PostgreSQL runs with its defaults (fsync on): every acknowledged write is durable.
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

# Ingest's memory after the run (its figure under load); then ingest and its PostgreSQL (400,000 jobs, autovacuum due)
# stop, so they take nothing from the parts below.
ingest_rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$ingest_pid/status" 2>/dev/null || echo 0)
kill -TERM "$ingest_pid" 2>/dev/null && wait "$ingest_pid" 2>/dev/null || true
ingest_pid=""
scripts/pg.sh stop "$tmp/pg" >/dev/null 2>&1 || true

# The other parts print their own output (kept in $tmp/<part>.out) and end with RESULT lines collected below.
part() { local name=$1; shift; echo; echo "== $name"; "$@" 2>&1 | tee "$tmp/$name.out" || echo "bench: the $name part failed (its figures show as ?)"; }
for rate in 100 200 500; do part "latency-$rate" env BENCH_RATE=$rate scripts/bench-latency.sh; done
part drain scripts/bench-drain.sh
part queue scripts/bench-queue.sh
part stats scripts/bench-stats.sh  # builds every service in release (this script built only some)

# One table: each figure beside its reference from this run (or the goal, where there is none), the ratio (Flowtalk over
# the reference for rates, the reference over Flowtalk for times and memory: higher is better) and whether the goal is met.
mb() { [ -n "${1:-}" ] && [ "$1" != 0 ] && awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }' || true; }  # empty (shown as ?) when missing
value() { sed -nE "s/$2/\\1/p" "$tmp/$1.out" | tail -n 1; }
row() { awk -v m="$1" -v f="$2" -v r="$3" -v better="$4" -v goal="${5:-}" 'BEGIN {
    if (f == "" || r == "-" || r + 0 == 0 || f + 0 == 0) { ratio = "-"; met = "-" }
    else { x = better == "higher" ? f / r : r / f; ratio = sprintf("%.2f", x); met = goal == "" ? "-" : (x >= goal ? "yes" : "no") }
    printf "| %s | %s | %s | %s | %s |\n", m, (f == "" ? "?" : f), r, ratio, (goal == "" ? met : "≥ " goal ": " met) }'; }
echo
echo "== issue 17's table ($(nproc) cores, $(grep -m 1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); PostgreSQL fsync on; release builds)"
echo "| measure | Flowtalk | reference (same run) or goal | ratio | goal met |"
echo "| --- | ---: | ---: | ---: | --- |"
row "ingest: signed deliveries accepted/s, $clients connections (vs pgbench single-row INSERT/s)" "$(printf %.0f "$rps")" "$(printf %.0f "$pg_tps")" higher 1
for shape in 5x10 5x100; do
    f=""; p=""
    read -r f p < <(awk -v s="$shape" '$1 == s { print $2, $3 }' "$tmp/queue.out" | tail -n 1) || true
    row "queue: no-op jobs drained/s, $shape (vs PGQueuer 1.6.0, same N, W, B)" "${f:-}" "${p:-}" higher 2
done
row "real replies/s for one account, 5,000 customers, through the sandbox (goal 1,000)" "$(value drain '^RESULT drain .* rate=([0-9]+) .*$')" 1000 higher 1
for rate in 100 200 500; do
    row "webhook→reply p99 at $rate DMs/s, ms (goal < 100)" "$(value "latency-$rate" '^.* p99 ([0-9]+) ms.*$')" 100 lower 1
done
row "statistics, last 7 days, mean ms (goal < 20)" "$(value stats '^RESULT stats days=7 mean_ms=([0-9.]+) .*$')" 20 lower 1
row "statistics, last 90 days, mean ms (goal < 20)" "$(value stats '^RESULT stats days=90 mean_ms=([0-9.]+) .*$')" 20 lower 1
for service in auth ingest dispatch analytics sandbox; do
    kb=$(value stats "^RESULT memory service=$service idle_kb=([0-9]+)$")
    row "$service resident memory idle, MB (goal < 60)" "$(mb "$kb")" 60 lower 1
done
kb=$(value drain '^RESULT drain .* rss_load_kb=([0-9]+)$')
row "dispatch resident memory, peak while draining 5,000 replies, MB" "$(mb "$kb")" "-" lower
row "ingest resident memory after the ingest run, MB" "$(mb "$ingest_rss")" "-" lower
kb=$(value stats '^RESULT memory service=analytics after_kb=([0-9]+)$')
row "analytics resident memory after 40 statistics requests, MB" "$(mb "$kb")" "-" lower
