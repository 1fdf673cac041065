#!/usr/bin/env bash
# Posts a real-shaped, signed Instagram DM webhook to a local ingest, as Meta would.
#   scripts/send-webhook.sh "message text" [customer-id] [business-ig-id] [mid]   (fails on a non-2xx answer)
set -euo pipefail
cd "$(dirname "$0")/.."
text=${1:-"Hello from a test customer"}
customer=${2:-1129842642640637}
account=${3:-17841400538867190}
url=${INGEST_URL:-http://127.0.0.1:8082}
secret=${META_APP_SECRET:-$(grep -E '^META_APP_SECRET=' .env | tail -n 1 | cut -d= -f2-)}
now=$(($(date +%s) * 1000))
mid=${4:-"local-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"}
escaped=$(printf '%s' "$text" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')
body="{\"object\":\"instagram\",\"entry\":[{\"time\":$now,\"id\":\"$account\",\"messaging\":[{\"sender\":{\"id\":\"$customer\"},\"recipient\":{\"id\":\"$account\"},\"timestamp\":$now,\"message\":{\"mid\":\"$mid\",\"text\":\"$escaped\"}}]}]}"
signature=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$secret" | sed 's/^.*= //')
curl -sS --fail-with-body -X POST "$url/webhooks/instagram" -H 'Content-Type: application/json' -H "X-Hub-Signature-256: sha256=$signature" --data-binary "$body"
echo
