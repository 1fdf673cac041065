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

swift build --build-tests
# deploy/: the Kubernetes manifests (kubernetes-validate, checkov), compose against README's configuration, the systemd
# units (systemd-analyze), the alert rules and dashboard (promtool). A filtered run leaves it out; DEPLOY_CHECK=1 forces it.
if [ "${DEPLOY_CHECK:-$([ $# -eq 0 ] && echo 1 || echo 0)}" = 1 ]; then
    scripts/check-deploy.sh
fi
# The dashboard in headless Chromium (needs chromium, chromium-driver, python3-selenium: .ci/run installs them).
# A filtered run (arguments given) leaves it out; BROWSER_TEST=1 forces it, BROWSER_TEST=0 leaves it out.
if [ "${BROWSER_TEST:-$([ $# -eq 0 ] && echo 1 || echo 0)}" = 1 ]; then
    scripts/browser-test.sh
fi
# The dashboard API against docs/openapi.yaml: openapi-spec-validator, then schemathesis against the running services
# (.venv-openapi). A filtered run leaves it out; OPENAPI_CHECK=1 forces it, OPENAPI_CHECK=0 leaves it out.
if [ "${OPENAPI_CHECK:-$([ $# -eq 0 ] && echo 1 || echo 0)}" = 1 ]; then
    scripts/openapi-check.sh
fi
# A watchdog: a hung test would otherwise hold CI until its own limit, saying nothing. Past TEST_TIMEOUT_SECONDS
# (default 1800) the run is stopped and the tests that started and never ended are named.
# `timeout` runs the tests in a process group of their own, which Ctrl-C does not reach: the trap passes it on.
# At most TEST_PARALLELISM tests at once (default 16): each in-process test starts whole services against PostgreSQL,
# and hundreds at once on a 2-core machine starved them past their own readiness and query timeouts.
export SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH="${TEST_PARALLELISM:-16}"
log=$(mktemp /tmp/flowtalk-swift-test.XXXXXX)
timeout --kill-after=10 "${TEST_TIMEOUT_SECONDS:-1800}" swift test --skip-build "$@" > >(tee "$log") 2>&1 &
tests=$!
trap 'kill -TERM -- "-$tests" 2>/dev/null || true' INT TERM
set +e
wait "$tests"
status=$?
set -e
trap - INT TERM
if [ "$status" = 124 ] || [ "$status" = 137 ]; then
    echo "swift test did not finish within ${TEST_TIMEOUT_SECONDS:-1800} s; tests that started and never ended:" >&2
    python3 scripts/unfinished-tests.py "$log" >&2
fi
rm -f "$log"
[ "$status" = 0 ] || exit "$status"
# The scaled cluster (README "Running N replicas"): every service's replicas behind nginx over TLS, one of each killed
# under traffic; fails on any lost or duplicated DM or a failed dashboard read. SCALED_TEST=1 forces it, 0 leaves it out.
if [ "${SCALED_TEST:-$([ $# -eq 0 ] && echo 1 || echo 0)}" = 1 ]; then
    SCALED_SECONDS=${SCALED_SECONDS:-30} python3 scripts/scaled/scaled_test.py
fi
# The short fault-injection run (docs/measurements.md, "Fault injection") over the binaries just built, with its own PostgreSQL (fsync
# on): fails on any lost or duplicated DM. A filtered run leaves it out; CHAOS=1 forces it, CHAOS=0 leaves it out.
if [ "${CHAOS:-$([ $# -eq 0 ] && echo 1 || echo 0)}" = 1 ]; then
    CHAOS_SECONDS=60 CHAOS_BUILD=debug python3 scripts/chaos.py
fi
