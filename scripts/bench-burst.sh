#!/usr/bin/env bash
# make bench-burst: does a backlog drain as fast as a small queue? (issue #10) For each size in BURST_SIZES, that many
# DMs from distinct customers wait in the queue (queued while dispatch was down, with no statistics gathered since),
# then one flowtalk-dispatch starts and the time until the queue is empty gives the drain rate. The DMs are for an
# Instagram account Flowtalk does not serve, so each job is claim, look-up, drop: the queue's own cost, not the Graph
# API's. PostgreSQL runs with fsync on, in a private cluster removed at the end.
#   BURST_SIZES (default "1000 50000"), BURST_BUILD (debug | release; default debug)
set -euo pipefail
cd "$(dirname "$0")/.."

sizes=${BURST_SIZES:-1000 50000}
build=${BURST_BUILD:-debug}
swift build -c "$build" --product flowtalk-ingest >/dev/null
swift build -c "$build" --product flowtalk-dispatch >/dev/null
bin=.build/$build

tmp=$(mktemp -d /tmp/flowtalk-burst.XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    scripts/pg.sh stop "$tmp/pg" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT
port=$(scripts/free-port.sh)
url=$(scripts/pg.sh start "$tmp/pg" "$port")
psql() { command psql "$url" -X -q -tA -v ON_ERROR_STOP=1 "$@"; }
secret=burst-secret
keys="burst:$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
common=(env -i PATH=/usr/bin:/bin FLOWTALK_ENV=development FLOWTALK_ENV_FILE=/nonexistent DATABASE_URL="$url" HOST=127.0.0.1 LOG_LEVEL=warning
    META_APP_SECRET=$secret META_VERIFY_TOKEN=vt TOKEN_ENCRYPTION_KEYS="$keys")

ready() { for _ in $(seq 1 600); do curl -fsS "http://127.0.0.1:$1/readyz" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }

# One real delivery through ingest gives the job's exact shape; the backlog is made of copies with other ids.
ingest_port=$(scripts/free-port.sh)
"${common[@]}" PORT="$ingest_port" "$bin/flowtalk-ingest" 2>"$tmp/ingest.log" &
pids+=($!)
ready "$ingest_port" || { echo "bench-burst: ingest did not start" >&2; cat "$tmp/ingest.log" >&2; exit 1; }
INGEST_URL="http://127.0.0.1:$ingest_port" META_APP_SECRET="$secret" scripts/send-webhook.sh "How much is it?" 7000000000000000 "17841400000999999" burst-template >/dev/null
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true; pids=()
psql -c "CREATE TABLE burst_template AS SELECT kind, payload, serialization_key FROM jobs; DELETE FROM jobs; DELETE FROM job_dedupe"

echo "| DMs waiting | drained in (s) | jobs/s | dead jobs |"
echo "| ---: | ---: | ---: | ---: |"
for n in $sizes; do
    psql -c "DELETE FROM jobs; DELETE FROM job_dedupe; DELETE FROM handled_events"
    psql -c "INSERT INTO jobs (kind, payload, dedupe_key, serialization_key)
             SELECT t.kind,
                    convert_to(replace(replace(convert_from(t.payload, 'UTF8'), 'burst-template', 'burst-' || g), '7000000000000000', (7000000000000000 + g)::text), 'UTF8'),
                    'burst-' || g, replace(t.serialization_key, '7000000000000000', (7000000000000000 + g)::text)
             FROM burst_template t, generate_series(1, $n) g"
    psql -c "VACUUM jobs" # the inserts' dead index entries from the last round, not statistics: ANALYZE is not run
    dispatch_port=$(scripts/free-port.sh)
    "${common[@]}" PORT="$dispatch_port" "$bin/flowtalk-dispatch" 2>"$tmp/dispatch.log" &
    pids=($!)
    ready "$dispatch_port" || { echo "bench-burst: dispatch did not start" >&2; cat "$tmp/dispatch.log" >&2; exit 1; }
    start=$(date +%s.%N)
    for _ in $(seq 1 36000); do
        [ "$(psql -c "SELECT count(*) FROM jobs WHERE state <> 'dead'")" = 0 ] && break
        sleep 0.1
    done
    end=$(date +%s.%N)
    kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true; pids=()
    left=$(psql -c "SELECT count(*) FROM jobs WHERE state <> 'dead'")
    [ "$left" = 0 ] || { echo "bench-burst: $left jobs left after an hour" >&2; exit 1; }
    dead=$(psql -c "SELECT count(*) FROM jobs WHERE state = 'dead'")
    awk -v n="$n" -v s="$start" -v e="$end" -v d="$dead" 'BEGIN { printf "| %d | %.1f | %.0f | %d |\n", n, e - s, n / (e - s), d }'
done
