#!/usr/bin/env python3
"""make run-scaled (scripts/run-scaled.sh builds and calls this): starts the scaled cluster, seeds the demo shop, prints
where everything is and stops it all on Ctrl-C. Environment: SCALE, SCALED_HTTPS_PORT (8443),
DATABASE_URL (else a private cluster in .data/scaled/pg on SCALED_PG_PORT, 54330), DATABASE_MAX_CONNECTIONS (10)."""

import os
import signal
import subprocess
import sys
import threading

from cluster import ROOT, SERVICES, Cluster, parse_scale


def dotenv(path):
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def main():
    try:
        scale = parse_scale(os.environ.get("SCALE", ""))
    except ValueError as error:
        print(error, file=sys.stderr)
        return 64
    https_port = int(os.environ.get("SCALED_HTTPS_PORT", "8443"))
    settings = dotenv(ROOT / ".env")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8",
           **{k: v for k, v in settings.items() if k not in ("DATABASE_URL",)},
           "DATABASE_MAX_CONNECTIONS": os.environ.get("DATABASE_MAX_CONNECTIONS", "10"), "LOG_LEVEL": settings.get("LOG_LEVEL", "info"),
           "SANDBOX_OAUTH_ACCOUNT": "17841400000000043", "SANDBOX_SUBSCRIBED": "17841400000000042",
           "SANDBOX_ACCOUNTS": f"17841400000000042:demo_shop:{settings['SANDBOX_DEMO_TOKEN']},"
                               f"17841400000000043:new_shop:{settings['SANDBOX_NEW_SHOP_TOKEN']}"}
    database_url = os.environ.get("DATABASE_URL") or settings.get("DATABASE_URL")
    workdir = ROOT / ".data" / "scaled"
    cluster = Cluster(workdir, env, scale, https_port, database_url=database_url,
                      pg_port=int(os.environ.get("SCALED_PG_PORT", "54330")), log=lambda m: print(f"[run-scaled] {m}", flush=True))
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    try:
        print("starting " + ", ".join(f"{scale[s]} {s}" for s in SERVICES) + " behind nginx…", flush=True)
        cluster.start(set(), sandbox_port=8490, smtp_port=8491, base_port=9000)
        seeded = subprocess.run([str(cluster.binary("dev")), "seed-demo"], env={**cluster.env}, capture_output=True, text=True, timeout=120)
        print(seeded.stdout.strip() or seeded.stderr.strip(), flush=True)
        replicas = "\n".join(f"  {s:<10} " + "  ".join(f"{r.name} :{r.port} (metrics :{r.metrics_port})" for r in cluster.by_service(s))
                             for s in SERVICES)
        per_replica = int(env["DATABASE_MAX_CONNECTIONS"])
        print(f"""
Flowtalk is running scaled (logs in .data/scaled/logs/, nginx's in .data/scaled/nginx/).

  Open the dashboard:  {cluster.public_url}
    Your browser will warn about the certificate: it was made at start, signed by .data/scaled/nginx/tls/ca.crt
    (trust that file, or accept the warning).
  Meta's webhook:      {cluster.public_url}/webhooks/instagram   (nginx passes it to whichever ingest replica is up)
  Sandbox:             http://127.0.0.1:8490  (a customer: POST /simulate/dm; mail: /sandbox/mail)

{replicas}

  Database connections: at most {per_replica} per replica (DATABASE_MAX_CONNECTIONS) × {sum(scale.values())} replicas = {per_replica * sum(scale.values())}
  A replica that exits is started again after 1 s. Kill one (kill -9 <pid>) and the rest carry on.
  Ctrl-C stops everything.
""", flush=True)
        done.wait()
        return 0
    except Exception as error:  # noqa: BLE001 - reported, then everything is stopped
        print(f"run-scaled: {error}", file=sys.stderr)
        return 1
    finally:
        print("stopping…", flush=True)
        cluster.stop()
        print("stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
