#!/usr/bin/env bash
# The dashboard API against its OpenAPI document, docs/openapi.yaml (a link to Services/Auth/Resources/openapi.yaml,
# which flowtalk-auth serves at /api/openapi.yaml):
#   1. openapi-spec-validator: the document is valid OpenAPI 3.1;
#   2. auth, ingest, dispatch, analytics and the sandbox on free ports against a fresh schema of $DATABASE_URL (as
#      scripts/browser-test.sh starts them), with TRUSTED_PROXIES=127.0.0.1 so each phase can be its own client address;
#   3. Tests/OpenAPI/openapi_check.py: accounts made through the API (mail from the sandbox's catcher, Instagram through
#      the sandbox's OAuth, a simulated DM answered), schemathesis over every documented operation with the session
#      cookie and the dashboard's Origin (checks: not_a_server_error, status_code_conformance,
#      content_type_conformance, response_headers_conformance, response_schema_conformance), the success paths random
#      data cannot reach made on purpose and checked the same way, and sign-out and disconnect last.
# Prints one line per check and `N passed, N failed`; exit 1 on any failure. Logs, the JUnit reports and the services'
# logs go to .build/openapi-check/. Expects the binaries built (make test builds them first; FLOWTALK_BIN_DIR=dir to use
# others). OPENAPI_EXAMPLES (50) bounds schemathesis' examples per operation, OPENAPI_SEED (14) fixes its data.
# Needs: python3 with venv (Debian: python3-venv), psql, curl. Tools go into .venv-openapi (git-ignored), pinned in
# Tests/OpenAPI/requirements.txt with every dependency pinned in Tests/OpenAPI/constraints.txt; reinstalled when
# either changes.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DATABASE_URL:?DATABASE_URL must point at a PostgreSQL server}"

VENV=.venv-openapi
REQUIREMENTS=Tests/OpenAPI/requirements.txt
CONSTRAINTS=Tests/OpenAPI/constraints.txt
SPEC=docs/openapi.yaml
out=.build/openapi-check
started=$(date +%s)
rm -rf "$out" && mkdir -p "$out"

# --- the virtual environment -----------------------------------------------------------------------------------------
stamp="$VENV/.requirements.sha256"
want=$(cat "$REQUIREMENTS" "$CONSTRAINTS" | sha256sum | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    if ! { python3 -m venv "$VENV" && "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQUIREMENTS" -c "$CONSTRAINTS"; } \
        > "$out/venv.log" 2>&1; then
        echo "FAIL  venv $VENV ($REQUIREMENTS)"; sed 's/^/      /' "$out/venv.log" | tail -n 30; exit 1
    fi
    echo "$want" > "$stamp"
    echo "ok    venv $VENV ($REQUIREMENTS)"
fi

# --- 1. the document ---------------------------------------------------------------------------------------------------
if ! "$VENV/bin/openapi-spec-validator" "$SPEC" > "$out/validator.log" 2>&1; then
    echo "FAIL  openapi-spec-validator $SPEC"; sed 's/^/      /' "$out/validator.log" | tail -n 30; exit 1
fi
echo "ok    openapi-spec-validator $SPEC ($(wc -l < "$SPEC") lines)"

# --- 2. the services ---------------------------------------------------------------------------------------------------
source scripts/test-stack.sh
# Each phase of the check is its own client address (X-Forwarded-For), so one phase's rate limits do not block the next.
start_stack openapi "$out" TRUSTED_PROXIES=127.0.0.1
echo "ok    services ready ($(( $(date +%s) - started )) s)"

# --- 3. schemathesis and the success paths ---------------------------------------------------------------------------
status=0
"$VENV/bin/python" Tests/OpenAPI/openapi_check.py --spec "$SPEC" --out "$out" --ig "$ig" \
    --auth "http://127.0.0.1:$auth" --analytics "http://127.0.0.1:$analytics" --sandbox "http://127.0.0.1:$sandbox" \
    --examples "${OPENAPI_EXAMPLES:-50}" --seed "${OPENAPI_SEED:-14}" || status=$?
echo "openapi-check took $(( $(date +%s) - started )) s"
exit "$status"
