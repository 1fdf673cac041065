#!/usr/bin/env python3
"""Writes N signed, real-shaped Instagram webhook deliveries, one per line: signature TAB body.
Every delivery has its own mid, so none is a duplicate; customers repeat so conversations are realistic."""
import hashlib
import hmac
import sys
import time

count, secret, path = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3]
account = "17841400538867190"
now = int(time.time() * 1000)
with open(path, "w") as out:
    for i in range(count):
        customer = 1129842642640000 + (i % 5000)
        body = (
            '{"object":"instagram","entry":[{"time":%d,"id":"%s","messaging":[{"sender":{"id":"%d"},'
            '"recipient":{"id":"%s"},"timestamp":%d,"message":{"mid":"bench-%d-%d","text":"Hi! Do you ship to Lisbon? Order %d"}}]}]}'
            % (now, account, customer, account, now, now, i, i)
        )
        signature = "sha256=" + hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()
        out.write(signature + "\t" + body + "\n")
