#!/usr/bin/env bash
# The claim's cost against the backlog (issue #10): for 1,000, 20,000 and 200,000 waiting jobs, before and after
# ANALYZE, the claim of 10 jobs as dispatch runs it (flowtalk_claim_batch, migration 28) and, for comparison, the claim as it
# was before (one statement the planner was free to plan). Prints a Markdown table; docs/architecture.md keeps it.
# Uses a private cluster of its own (scripts/pg.sh), fsync on, removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

swift build --product flowtalk-dev >/dev/null
tmp=$(mktemp -d /tmp/flowtalk-explain.XXXXXX)
chmod 755 "$tmp"
trap 'scripts/pg.sh stop "$tmp/pg" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
port=$(scripts/free-port.sh)
url=$(scripts/pg.sh start "$tmp/pg" "$port")
psql() { command psql "$url" -X -q -v ON_ERROR_STOP=1 "$@"; }
DATABASE_URL=$url .build/debug/flowtalk-dev migrate >/dev/null

old_claim="WITH picked AS MATERIALIZED (
    SELECT j.id FROM jobs j
    WHERE j.state = 'available' AND j.run_at <= now() AND j.kind = ANY('{inbound.message}'::text[])
      AND (j.serialization_key IS NULL OR NOT EXISTS (
            SELECT 1 FROM jobs earlier
            WHERE earlier.serialization_key = j.serialization_key AND earlier.id < j.id AND earlier.state <> 'dead'))
    ORDER BY j.priority DESC, j.run_at, j.id LIMIT 10 FOR UPDATE SKIP LOCKED)
UPDATE jobs SET state = 'running', attempts = jobs.attempts + 1, locked_until = now() + interval '60 seconds'
FROM picked WHERE jobs.id = picked.id RETURNING jobs.id"

# The execution time PostgreSQL reports for one claim, rolled back so the backlog stays as it is; the median of three.
# The pinned claim runs inside its function, so auto_explain reports its statements: promote, claim, then the call.
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
time_old() {
    for _ in 1 2 3; do
        psql -tA <<SQL | sed -n 's/^Execution Time: \([0-9.]*\) ms$/\1/p'
BEGIN;
EXPLAIN (ANALYZE, FORMAT TEXT) $old_claim;
ROLLBACK;
SQL
    done | median
}
new_log() {
    psql -tA 2>&1 <<SQL
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_analyze = on;
SET client_min_messages = log;
BEGIN;
SELECT count(*) FROM flowtalk_claim_batch('{inbound.message}'::text[], 10, 'explain', 60000, gen_random_uuid());
ROLLBACK;
SQL
}
# $1: which duration (2 = the claim statement, 3 = the whole call with its planning)
time_new() { for _ in 1 2 3; do new_log | sed -n 's/.*duration: \([0-9.]*\) ms  plan:.*/\1/p' | sed -n "${1}p"; done | median; }
plan_new() { new_log | grep -E "Index Scan|Bitmap|Seq Scan|Sort " | sed 's/^[ >-]*//; s/  (cost.*//' | sort -u | tr '\n' ';' | sed 's/;$//'; }

echo "| waiting jobs | statistics | claim before (ms) | claim now (ms) | call now, planning included (ms) | plan now |"
echo "| ---: | --- | ---: | ---: | ---: | --- |"
for n in 1000 20000 200000; do
    # No statistics left from the last round (TRUNCATE keeps them): the state after a burst on a new table.
    psql -c "TRUNCATE jobs; ALTER TABLE jobs SET (autovacuum_enabled = false); DELETE FROM pg_statistic WHERE starelid = 'jobs'::regclass"
    # A fresh burst: distinct conversations, as after an outage or a viral post; no statistics yet.
    psql -c "INSERT INTO jobs (kind, payload, dedupe_key, serialization_key)
             SELECT 'inbound.message', '\x7b7d'::bytea, 'mid-' || g, 'conv:acct:' || g FROM generate_series(1, $n) g"
    psql -c "SELECT count(*) FROM jobs" >/dev/null # sets the new rows' hint bits, so neither claim pays for that
    before_old=$(time_old); before_new=$(time_new 2); call=$(time_new 3); plan=$(plan_new)
    echo "| $n | none (just inserted) | $before_old | $before_new | $call | $plan |"
    psql -c "ANALYZE jobs"
    after_old=$(time_old); after_new=$(time_new 2); call=$(time_new 3); plan=$(plan_new)
    echo "| $n | after ANALYZE | $after_old | $after_new | $call | $plan |"
done
psql -c "ALTER TABLE jobs RESET (autovacuum_enabled)"
