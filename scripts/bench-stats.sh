#!/usr/bin/env bash
# The statistics API over 90 days (issue 17, item 4): one shop with 90 days of hourly counters — the message counts,
# rule hits and the latency buckets dispatch writes, every metric in every hour (a busy shop's worst case) — as
# analytics' hourly job leaves them: past hours packed into one row each (hourly_packed), the last two hours in 4 shards;
# read through a running flowtalk-analytics. Prints the mean and the slowest of 20 requests for the last 7 and the last 90 days,
# and each service's resident memory idle (analytics' again after the requests): RESULT lines make bench collects.
#   DATABASE_URL (default: its own PostgreSQL, fsync on), FLOWTALK_BIN_DIR (default: the release build, made if missing),
#   BENCH_STATS_REQUESTS (20)
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${BENCH_STATS_REQUESTS:-20}
logdir=$(mktemp -d /tmp/flowtalk-bench-stats.XXXXXX)
chmod 755 "$logdir"
own_pg=""
stack_pids=()
cleanup() {
    [ ${#stack_pids[@]} -gt 0 ] && stop_stack
    if [ -n "$own_pg" ]; then scripts/pg.sh stop "$own_pg" >/dev/null 2>&1 || true; fi
    rm -rf "$logdir"
}
trap cleanup EXIT
if [ -z "${FLOWTALK_BIN_DIR:-}" ]; then
    echo "building the services (release)…"
    swift build -c release >/dev/null
    FLOWTALK_BIN_DIR=$(swift build -c release --show-bin-path)
    export FLOWTALK_BIN_DIR
fi
if [ -z "${DATABASE_URL:-}" ]; then
    own_pg="$logdir/pg"
    DATABASE_URL=$(scripts/pg.sh start "$own_pg" "$(scripts/free-port.sh)")
    export DATABASE_URL
fi
source scripts/test-stack.sh
start_stack benchstats "$logdir"
trap cleanup EXIT  # start_stack set its own
sep='?'; [[ "$DATABASE_URL" == *\?* ]] && sep='&'
db="${DATABASE_URL}${sep}options=-csearch_path%3D${schema}"

base="http://127.0.0.1:$auth"
jar="$logdir/cookies"
email="stats-$RANDOM@example.com"; password="pw-$(head -c 12 /dev/urandom | base64 | tr -dc 'a-zA-Z0-9')"
curl -sf -o /dev/null -H "Origin: $base" -H 'Content-Type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"$password\"}" "$base/api/auth/signup"
curl -sf -o /dev/null -c "$jar" -H "Origin: $base" -H 'Content-Type: application/json' -d "{\"email\":\"$email\",\"password\":\"$password\"}" "$base/api/auth/login"
account=$(psql "$db" -tAc "SELECT id FROM accounts WHERE email = '$email'")

# 90 days of hours × (12 counts + 5 rule hits + the 22 latency buckets), as analytics' hourly job leaves them (it
# packs each hour two hours past into one hourly_packed row, ActivityStore.compactCounts): the older hours packed, the
# last two in hourly_counts, 4 shards each. Written straight to where they end up, so hourly_counts holds no dead rows
# of a bulk move (the hourly job moves an hour at a time, and autovacuum reuses the space).
psql "$db" -qc "
CREATE TEMP TABLE bench_counts AS
SELECT h, m, s, 1 + (random() * 5)::int AS count
FROM generate_series(date_trunc('hour', now()) - interval '90 days', date_trunc('hour', now()), interval '1 hour') AS h,
     unnest(ARRAY['received', 'replied_rule', 'replied_ai', 'replied_fallback', 'replied_ice_breaker', 'skipped:no_rule', 'skipped:cooldown',
                  'skipped:human_active', 'failed', 'hand_offs', 'reactions', 'human_replies',
                  'rule:' || gen_random_uuid(), 'rule:' || gen_random_uuid(), 'rule:' || gen_random_uuid(), 'rule:' || gen_random_uuid(),
                  'rule:' || gen_random_uuid()]
                 || ARRAY(SELECT 'latency_le:' || b FROM unnest(ARRAY['10','20','30','50','75','100','150','200','300','500','750','1000','1500',
                          '2000','3000','5000','7500','10000','15000','30000','60000','inf']) AS b)) AS m,
     generate_series(0, 3) AS s
WHERE s = 0 OR h >= date_trunc('hour', now()) - interval '2 hours';
INSERT INTO hourly_counts (account_id, hour, metric, shard, count)
SELECT '$account', h, m, s, count FROM bench_counts WHERE h >= date_trunc('hour', now()) - interval '2 hours';
INSERT INTO hourly_packed (account_id, hour, metrics, counts)
SELECT '$account', h, array_agg(m ORDER BY m), array_agg(count ORDER BY m) FROM bench_counts
WHERE h < date_trunc('hour', now()) - interval '2 hours' GROUP BY h;
ANALYZE hourly_counts; ANALYZE hourly_packed"
rows=$(psql "$db" -tAc "SELECT (SELECT count(*) FROM hourly_counts WHERE account_id = '$account')
                             + (SELECT sum(cardinality(metrics)) FROM hourly_packed WHERE account_id = '$account')")
packed=$(psql "$db" -tAc "SELECT count(*) FROM hourly_packed WHERE account_id = '$account'")

# Each service's resident memory, idle (the stack is up, nothing has been asked of it but a sign-up and a sign-in).
services=(sandbox auth ingest dispatch analytics)  # test-stack.sh's start order
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
sleep 2
for i in "${!services[@]}"; do echo "RESULT memory service=${services[$i]} idle_kb=$(rss_kb "${stack_pids[$i]}")"; done

session=$(awk '$6 == "ft_session" { print $7 }' "$jar")
today=$(date -u +%F)
echo "statistics, one shop with $rows hourly counts (90 days; $packed hours packed), $requests requests each, through flowtalk-analytics:"
for days in 7 90; do
    from=$(date -u -d "$today - $((days - 1)) days" +%F)
    times=()
    for _ in $(seq 1 "$requests"); do
        times+=("$(curl -sf -o /dev/null -w '%{time_total}' -H "Cookie: ft_session=$session" -H "Origin: $base" \
            "http://127.0.0.1:$analytics/api/stats?from=$from&to=$today&tz=Europe/Paris")")
    done
    printf '%s\n' "${times[@]}" | awk -v d="$days" '{ s += $1; if ($1 > m) m = $1 } END { printf "  last %2d days: mean %.1f ms, slowest %.1f ms\n", d, s / NR * 1000, m * 1000
        printf "RESULT stats days=%d mean_ms=%.1f slowest_ms=%.1f\n", d, s / NR * 1000, m * 1000 }'
done
echo "RESULT memory service=analytics after_kb=$(rss_kb "${stack_pids[4]}")"
