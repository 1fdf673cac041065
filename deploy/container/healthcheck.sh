#!/bin/sh
# The container's HEALTHCHECK: GET /healthz of this container's service on loopback. The port is PORT, else the
# service's default (README, "Configuration"); HTTPS when the service terminates TLS itself (TLS_CERT_FILE set: the
# probe talks to its own loopback address, so the certificate's name is not checked). /healthz answers over plain HTTP
# in every mode (docs/api.md, "HTTPS"). flowtalk-admin and other tools serve nothing: healthy by definition.
set -eu

case "${SERVICE:-}" in
    flowtalk-auth) default_port=8081 ;;
    flowtalk-ingest) default_port=8082 ;;
    flowtalk-dispatch) default_port=8083 ;;
    flowtalk-analytics) default_port=8084 ;;
    flowtalk-sandbox) default_port=8090 ;;
    *) exit 0 ;;
esac
port="${PORT:-$default_port}"

if [ -n "${TLS_CERT_FILE:-}" ]; then
    exec curl --fail --silent --show-error --max-time 3 --insecure --output /dev/null "https://127.0.0.1:$port/healthz"
fi
exec curl --fail --silent --show-error --max-time 3 --output /dev/null "http://127.0.0.1:$port/healthz"
