#!/usr/bin/env bash
# make run-scaled: Flowtalk scaled on one machine. nginx terminates TLS on https://127.0.0.1:8443 (a certificate made at
# start) and balances 2 auth, 2 ingest, 3 dispatch and 2 analytics replicas; SCALE="ingest=3 dispatch=5" changes the
# counts. Uses .env's secrets (as make run) and its own PostgreSQL in .data/scaled/pg unless DATABASE_URL is set.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .data/scaled
source scripts/dev-env.sh
command -v nginx >/dev/null || { echo "run-scaled needs nginx (apt-get install nginx-light)" >&2; exit 1; }
echo "building (debug)…"
swift build
exec python3 scripts/scaled/run_scaled.py
