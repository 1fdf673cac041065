#!/usr/bin/env bash
# Queue drain rate (issue 17): Flowtalk's job queue (flowtalk-bench-queue, release build: JobQueue + JobWorker, the code
# dispatch runs) beside PGQueuer 1.6.0 (scripts/bench/pgqueuer_drain.py), on one private PostgreSQL (defaults, fsync on),
# in one run, with the same N no-op jobs, W workers and dequeue batch B. Each queue gets its own database, made afresh
# for every shape, so neither sees the other's tables or the dead rows of an earlier shape; which one runs first
# alternates from shape to shape. Enqueueing is untimed in both; the time runs from the workers' start until every job
# is done and deleted from the queue.
#   BENCH_QUEUE_JOBS     N (default 20000)
#   BENCH_QUEUE_SHAPES   "WxB …" (default "5x10 5x100")
#   BENCH_QUEUE_TIMEOUT  seconds one drain may take (default 600)
#   BENCH_QUEUE_FLOWTALK a flowtalk-bench-queue built elsewhere: used as it is, without building
# PGQueuer is installed into .venv-bench (git-ignored) from scripts/bench/requirements-pgqueuer.txt, again only when
# that file changes.
set -Eeuo pipefail
cd "$(dirname "$0")/.."

jobs=${BENCH_QUEUE_JOBS:-20000}
shapes=${BENCH_QUEUE_SHAPES:-"5x10 5x100"}
timeout_s=${BENCH_QUEUE_TIMEOUT:-600}
venv=.venv-bench
requirements=scripts/bench/requirements-pgqueuer.txt
flowtalk_bin=${BENCH_QUEUE_FLOWTALK:-.build/release/flowtalk-bench-queue}

fail() { echo "bench-queue: FAILED: $*" >&2; exit 1; }
trap 'echo "bench-queue: FAILED (line $LINENO): $BASH_COMMAND" >&2' ERR

[[ $jobs =~ ^[1-9][0-9]*$ ]] || fail "BENCH_QUEUE_JOBS must be a positive integer (got '$jobs')"
[[ $timeout_s =~ ^[1-9][0-9]*$ ]] || fail "BENCH_QUEUE_TIMEOUT must be a positive integer (got '$timeout_s')"
read -r -a shape_list <<< "$shapes"
[ "${#shape_list[@]}" -gt 0 ] || fail "BENCH_QUEUE_SHAPES is empty"
for shape in "${shape_list[@]}"; do
    [[ $shape =~ ^[1-9][0-9]*x[1-9][0-9]*$ ]] || fail "BENCH_QUEUE_SHAPES: '$shape' is not WxB (e.g. 5x10)"
done

# PGQueuer's virtualenv: made when missing or broken, remade when the requirements change (the stamp holds their hash).
stamp=$venv/.requirements.sha256
wanted=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1 \
    || [ "$(cat "$stamp" 2>/dev/null || true)" != "$wanted" ]; then
    echo "bench-queue: installing PGQueuer into $venv…"
    rm -rf "$venv"
    python3 -m venv "$venv" || fail "python3 -m venv $venv did not work (on Debian: apt-get install python3-venv)"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements" \
        || { rm -rf "$venv"; fail "pip install -r $requirements did not work"; }
    echo "$wanted" > "$stamp"
fi
"$venv/bin/python" -c 'import pgqueuer, asyncpg, uvloop' || fail "$venv cannot import pgqueuer (remove $venv and retry)"
pgqueuer_version=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("pgqueuer"))')
asyncpg_version=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("asyncpg"))')

tmp=$(mktemp -d /tmp/flowtalk-bench-queue.XXXXXX)
chmod 755 "$tmp"
cleanup() {
    scripts/pg.sh stop "$tmp/pg" || true
    rm -rf "$tmp"
}
trap cleanup EXIT

if [ -z "${BENCH_QUEUE_FLOWTALK:-}" ]; then
    echo "bench-queue: building flowtalk-bench-queue (release)…"
    if ! swift build -c release --product flowtalk-bench-queue > "$tmp/build.log" 2>&1; then
        tail -n 40 "$tmp/build.log" >&2
        fail "swift build -c release --product flowtalk-bench-queue did not work (its output's end is above)"
    fi
fi
[ -x "$flowtalk_bin" ] || fail "$flowtalk_bin is missing or not executable"

pg_port=$(scripts/free-port.sh)
DATABASE_URL=$(scripts/pg.sh start "$tmp/pg" "$pg_port") || fail "PostgreSQL did not start (scripts/pg.sh)"
[ "$(psql -X "$DATABASE_URL" -tAc 'SHOW fsync')" = on ] || fail "fsync must be on"
[ "$(psql -X "$DATABASE_URL" -tAc 'SHOW synchronous_commit')" = on ] || fail "synchronous_commit must be on"
pg_version=$(psql -X "$DATABASE_URL" -tAc 'SHOW server_version')
server_url=${DATABASE_URL%/*}
flowtalk_url=$server_url/flowtalk_bench
pgqueuer_url=$server_url/pgqueuer_bench

# Runs one queue's drain and sets `rate` from the RESULT line that ends its standard output. Its output goes to
# $tmp/NAME-WxB.out and .err, shown when it fails. The outer time limit leaves pgqueuer_drain.py room to report its own
# time-out first.
run_drain() {
    local name=$1 workers=$2 batch=$3 url=$4 out="$tmp/$1-$2x$3.out" err="$tmp/$1-$2x$3.err" status=0 last
    shift 4
    psql -X -q "$url" -c CHECKPOINT
    DATABASE_URL=$url timeout --kill-after=10 $((timeout_s + 360)) "$@" --jobs "$jobs" --workers "$workers" --batch "$batch" \
        > "$out" 2> "$err" || status=$?
    last=$(tail -n 1 "$out")
    local pattern="^RESULT queue=$name jobs=$jobs workers=$workers batch=$batch seconds=[0-9.]+ rate=([0-9.]+)$"
    if [ "$status" -ne 0 ] || ! [[ $last =~ $pattern ]]; then
        echo "---- $name ${workers}x$batch: the end of its standard output ----" >&2
        tail -n 15 "$out" >&2
        echo "---- $name ${workers}x$batch: the end of its standard error ----" >&2
        tail -n 30 "$err" >&2
        echo "----" >&2
        if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then fail "$name ${workers}x$batch ran out of time and was stopped"; fi
        if [ "$status" -ne 0 ]; then fail "$name ${workers}x$batch exited with status $status"; fi
        fail "$name ${workers}x$batch did not end with 'RESULT queue=$name jobs=$jobs workers=$workers batch=$batch seconds=S rate=R'"
    fi
    echo "  $last"
    rate=${BASH_REMATCH[1]}
}

echo "== queue drain: $jobs no-op jobs, shapes $shapes (workers x batch)"
results=()
index=0
for shape in "${shape_list[@]}"; do
    workers=${shape%x*}
    batch=${shape#*x}
    for db in flowtalk_bench pgqueuer_bench; do
        psql -X -q "$DATABASE_URL" -c "SET client_min_messages TO warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
    done
    flowtalk_rate="" pgqueuer_rate=""
    for turn in 0 1; do
        if [ $(((index + turn) % 2)) -eq 0 ]; then
            run_drain flowtalk "$workers" "$batch" "$flowtalk_url" "$flowtalk_bin"
            flowtalk_rate=$rate
        else
            # PGQueuer reads its durability from the environment: its tables stay logged (durable), as Flowtalk's are.
            run_drain pgqueuer "$workers" "$batch" "$pgqueuer_url" \
                env -u PGQUEUER_DURABILITY -u DURABILITY "$venv/bin/python" scripts/bench/pgqueuer_drain.py --timeout "$timeout_s"
            pgqueuer_rate=$rate
        fi
    done
    results+=("$shape $flowtalk_rate $pgqueuer_rate")
    index=$((index + 1))
done

echo
cpu=$(grep -m 1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
echo "== result ($(nproc) cores${cpu:+, $cpu}; PostgreSQL $pg_version, defaults, fsync on; $jobs jobs; PGQueuer $pgqueuer_version, asyncpg $asyncpg_version)"
printf '%-8s %16s %16s %26s\n' "shape" "flowtalk jobs/s" "pgqueuer jobs/s" "ratio (flowtalk/pgqueuer)"
for row in "${results[@]}"; do
    read -r shape flowtalk_rate pgqueuer_rate <<< "$row"
    ratio=$(awk -v f="$flowtalk_rate" -v p="$pgqueuer_rate" 'BEGIN { printf "%.2f", f / p }')
    printf '%-8s %16s %16s %26s\n' "$shape" "$flowtalk_rate" "$pgqueuer_rate" "$ratio"
done
