#!/usr/bin/env bash
# A private PostgreSQL cluster for development, tests and benchmarks.
#   scripts/pg.sh start DIR PORT [extra server options]   prints the DATABASE_URL on stdout
#   scripts/pg.sh stop DIR
#   scripts/pg.sh kill DIR      an immediate shutdown, as a crash would (fault tests: no checkpoint, clients cut off)
# initdb and postgres refuse to run as root, so as root the cluster runs as the `postgres` system user.
set -euo pipefail

cmd=${1:?usage: pg.sh start DIR PORT [options] | stop DIR | kill DIR}
dir=${2:?data directory required}

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/pg_ctl" ]; then
    echo "pg.sh: the PostgreSQL server is not installed (apt-get install postgresql), or set DATABASE_URL" >&2
    exit 1
fi

# runuser keeps the working directory, which the postgres user may not be allowed to enter.
case "$dir" in /*) ;; *) dir="$(pwd)/$dir" ;; esac
cd /

as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ "$cmd" = start ] && [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin postgres
fi

# As root, the checkout may sit where the postgres user cannot go (/root, a 700 temporary directory): then the cluster
# lives in /var/tmp under a name derived from DIR, so start and stop find the same one.
if [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1; then
    mkdir -p "$dir"
    if ! runuser -u postgres -- test -x "$dir"; then
        moved="/var/tmp/flowtalk-pg-$(printf '%s' "$dir" | sha256sum | cut -c1-16)"
        [ "$cmd" = start ] && echo "pg.sh: the postgres user cannot reach $dir; the cluster lives in $moved instead" >&2
        dir=$moved
    fi
fi

case "$cmd" in
start)
    port=${3:?port required}
    shift 3
    extra="$*"
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then
        chown postgres "$dir"
        if ! runuser -u postgres -- test -w "$dir"; then
            echo "pg.sh: the postgres user cannot write to $dir" >&2
            exit 1
        fi
    fi
    chmod 700 "$dir"
    if [ ! -f "$dir/PG_VERSION" ]; then
        as_pg "$bindir/initdb" -D "$dir" -U flowtalk -A trust -E UTF8 --no-locale >/dev/null
    fi
    if ! as_pg "$bindir/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
        as_pg "$bindir/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
            -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir -c max_connections=300 $extra" start >/dev/null \
            || { echo "pg.sh: PostgreSQL did not start; see $dir/server.log" >&2; tail -n 20 "$dir/server.log" >&2 || true; exit 1; }
    fi
    as_pg "$bindir/psql" -h 127.0.0.1 -p "$port" -U flowtalk -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'flowtalk'" | grep -q 1 \
        || as_pg "$bindir/createdb" -h 127.0.0.1 -p "$port" -U flowtalk flowtalk
    echo "postgres://flowtalk@127.0.0.1:$port/flowtalk"
    ;;
stop)
    if [ -f "$dir/postmaster.pid" ]; then
        as_pg "$bindir/pg_ctl" -D "$dir" -m fast -w stop >/dev/null || true
    fi
    ;;
kill)
    if [ -f "$dir/postmaster.pid" ]; then
        as_pg "$bindir/pg_ctl" -D "$dir" -m immediate -w stop >/dev/null || true
    fi
    ;;
*)
    echo "usage: pg.sh start DIR PORT [options] | stop DIR | kill DIR" >&2
    exit 2
    ;;
esac
