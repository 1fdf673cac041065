#!/usr/bin/env bash
# The dashboard in a real browser: starts auth, ingest, dispatch, analytics and the sandbox on free ports against a
# fresh schema of $DATABASE_URL, then drives headless Chromium (Debian's chromium + chromium-driver, python3-selenium)
# through Tests/Browser/dashboard_test.py. Screenshots and page sources go to .build/browser-test/ (on failure, and a
# few on success for people to look at). Expects the binaries to be built (make test does that first).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DATABASE_URL:?DATABASE_URL must point at a PostgreSQL server}"

out=.build/browser-test
rm -rf "$out" && mkdir -p "$out"
source scripts/test-stack.sh
start_stack browser "$out"

# The browser runs in New York time: the statistics are asked for in the dashboard's time zone, not the server's.
TZ=America/New_York DASHBOARD_URL="http://127.0.0.1:$auth" SANDBOX_URL="http://127.0.0.1:$sandbox" INSTAGRAM_ID="$ig" ARTIFACTS="$out" \
    /usr/bin/python3 Tests/Browser/dashboard_test.py
