#!/usr/bin/env bash
# make test: every test against a real PostgreSQL. Without DATABASE_URL a throwaway cluster is started (fsync off,
# for speed) and removed afterwards; if it cannot start, the run fails.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${DATABASE_URL:-}" ]; then
    tmp=$(mktemp -d /tmp/flowtalk-test.XXXXXX)
    chmod 755 "$tmp"
    cleanup() { scripts/pg.sh stop "$tmp/pg" || true; rm -rf "$tmp"; }
    trap cleanup EXIT
    port=$(scripts/free-port.sh)
    DATABASE_URL=$(scripts/pg.sh start "$tmp/pg" "$port" -c fsync=off -c synchronous_commit=off -c full_page_writes=off)
    export DATABASE_URL
    echo "test database: throwaway cluster on port $port"
fi

swift build --build-tests "$@"
swift test --skip-build "$@"
