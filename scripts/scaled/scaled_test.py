#!/usr/bin/env python3
"""The scaled test (issue 14, item 2): the scaled cluster (cluster.py) on free ports with its own PostgreSQL, customers
writing through the sandbox, which signs each DM as Meta does and posts it over TLS to nginx, which passes it to
whichever ingest replica is up; a signed-in dashboard user reading and testing rules through nginx at the same time.
Under that traffic one replica of each service is killed (SIGKILL) and started again a second later, as an orchestrator
would. Then the queue drains and every accepted DM is checked against what the sandbox sent (chaos.py's classification):
none lost, none answered twice. The dashboard's reads must all succeed (nginx passes an idempotent request a dead
replica failed to the next one). Figures go to stdout and .build/scaled/last-result.md; exit 1 on any failure.

Environment: SCALED_SECONDS (40), SCALED_RATE (DMs/s, 15), SCALE (as make run-scaled), SCALED_BUILD (debug).
"""

import asyncio
import base64
import json
import os
import secrets
import shutil
import signal
import ssl
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from cluster import LOOPBACK, ROOT, SERVICES, Cluster, free_port, parse_scale  # noqa: E402
import chaos  # noqa: E402  (its classification of every DM: answered, unknown, declined, dead, stuck, lost; duplicates)

SECONDS = int(os.environ.get("SCALED_SECONDS", "40"))
RATE = float(os.environ.get("SCALED_RATE", "15"))
BUILD = os.environ.get("SCALED_BUILD", "debug")
IG_ID = chaos.IG_ID
KILLS = [(0.2, "ingest"), (0.35, "dispatch"), (0.5, "auth"), (0.65, "analytics")]
T0 = time.time()


def log(message):
    print(f"[scaled {time.time() - T0:6.1f}s] {message}", flush=True)


class DM:
    __slots__ = ("mid", "customer", "accepted_at", "statuses")

    def __init__(self, mid, customer):
        self.mid, self.customer, self.accepted_at, self.statuses = mid, customer, None, []


class Run:
    def __init__(self):
        self.dms, self.pg_stops = {}, []


async def request(port, method, path, body=b"", headers=None, context=None, timeout=10.0):
    """One HTTP/1.1 request on a fresh connection (TLS when `context`); returns (status, headers, body)."""
    async def exchange():
        reader, writer = await asyncio.open_connection(LOOPBACK, port, ssl=context, server_hostname=LOOPBACK if context else None)
        try:
            head = [f"{method} {path} HTTP/1.1", f"Host: {LOOPBACK}:{port}", "Connection: close", f"Content-Length: {len(body)}"]
            head += [f"{k}: {v}" for k, v in (headers or {}).items()]
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
            await writer.drain()
            status = int((await reader.readline()).split()[1])
            fields = {}
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                fields.setdefault(name.strip().lower(), []).append(value.strip())
            data = await reader.read()
            if "chunked" in ",".join(fields.get("transfer-encoding", [])):
                out, rest = bytearray(), data
                while rest:
                    size_line, _, rest = rest.partition(b"\r\n")
                    size = int(size_line.split(b";")[0] or b"0", 16)
                    if size == 0:
                        break
                    out, rest = out + rest[:size], rest[size + 2:]
                data = bytes(out)
            return status, fields, data
        finally:
            writer.close()
    return await asyncio.wait_for(exchange(), timeout)


class Dashboard:
    """A signed-in owner in a browser: the session cookie, and the Origin a same-site page sends."""

    def __init__(self, port, context, origin):
        self.port, self.context, self.origin, self.cookie = port, context, origin, ""
        self.results = {}  # "GET /api/…" → {status: count}

    async def call(self, method, path, document=None):
        headers = {"Origin": self.origin, "Cookie": self.cookie}
        body = b""
        if document is not None:
            body, headers["Content-Type"] = json.dumps(document).encode(), "application/json"
        try:
            status, fields, data = await request(self.port, method, path, body, headers, self.context)
        except (OSError, asyncio.TimeoutError, ConnectionError, ValueError, IndexError) as error:
            status, fields, data = type(error).__name__, {}, b""
        for cookie in fields.get("set-cookie", []):
            if cookie.startswith("ft_session="):
                self.cookie = cookie.split(";")[0]
        counts = self.results.setdefault(f"{method} {path.split('?')[0]}", {})
        counts[str(status)] = counts.get(str(status), 0) + 1
        return status, data

    async def sign_in(self):
        account = {"email": f"owner-{secrets.token_hex(4)}@example.com", "password": "correct horse battery staple 42"}
        status, _ = await self.call("POST", "/api/auth/signup", account)
        if status != 201:
            raise RuntimeError(f"sign-up through nginx answered {status}")
        status, _ = await self.call("POST", "/api/auth/login", account)
        if status != 200 or not self.cookie:
            raise RuntimeError(f"sign-in through nginx answered {status}")
        self.results.clear()

    async def browse(self, until):
        """What an owner's open dashboard does: reads (auth and analytics) and the rule tester, ~20 requests a second."""
        steps = [("GET", "/api/auth/me", None), ("GET", "/api/stats?tz=UTC", None), ("GET", "/api/rules", None),
                 ("GET", "/api/activity?limit=20", None), ("POST", "/api/rules/test", {"text": "where is my order?"})]
        index = 0
        while time.monotonic() < until:
            method, path, document = steps[index % len(steps)]
            await self.call(method, path, document)
            index += 1
            await asyncio.sleep(0.05)


async def deliver(sandbox_port, dm, run):
    """Meta's way, through the sandbox (which signs and posts to nginx over TLS): until a 200, 1, 2, 4, 8 s apart."""
    document = json.dumps({"ig_id": IG_ID, "from": dm.customer, "text": f"Hi, where is my order {dm.mid[-6:]}?", "mid": dm.mid}).encode()
    for attempt in range(5):
        try:
            status, _, data = await request(sandbox_port, "POST", "/simulate/dm", document, {"Content-Type": "application/json"}, timeout=15)
            result = str(json.loads(data).get("ingest_status")) if status == 200 else f"sandbox {status}"
        except (OSError, asyncio.TimeoutError, ConnectionError, ValueError, IndexError):
            result = "connection"
        dm.statuses.append(result)
        if result == "200":
            dm.accepted_at = time.time()
            return
        await asyncio.sleep(2 ** attempt)


def metric_sum(port, name, needle=""):
    try:
        with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/metrics", timeout=3) as answer:
            text = answer.read().decode()
    except OSError:
        return None
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and not line.startswith("#") and needle in line)


async def main(state):
    scale = parse_scale(os.environ.get("SCALE", ""))
    work = Path(tempfile.mkdtemp(prefix="flowtalk-scaled."))
    os.chmod(work, 0o755)
    state["work"] = work
    taken = set()
    https_port, pg_port, sandbox_port, smtp_port = (free_port(taken) for _ in range(4))
    secret = secrets.token_hex(20)
    token = "IGAA-scaled-" + secrets.token_hex(12)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8",
           "FLOWTALK_ENV": "development", "LOG_LEVEL": "notice", "META_APP_ID": "scaled-app", "META_APP_SECRET": secret,
           "INSTAGRAM_APP_SECRET": secrets.token_hex(20), "META_VERIFY_TOKEN": "scaled", "PASSWORD_PEPPER": secrets.token_hex(16),
           "BCRYPT_COST": "10", "TOKEN_ENCRYPTION_KEYS": "s1:" + base64.b64encode(os.urandom(32)).decode(), "SANDBOX_DEMO_TOKEN": token,
           "SANDBOX_ACCOUNTS": f"{IG_ID}:chaos_shop:{token}", "DATABASE_MAX_CONNECTIONS": "10", "DISPATCH_LEASE_SECONDS": "5"}
    cluster = Cluster(work, env, scale, https_port, pg_port=pg_port, build=BUILD, log=log)
    state["cluster"] = cluster
    log("starting " + ", ".join(f"{scale[s]} {s}" for s in SERVICES) + f" behind nginx on https://{LOOPBACK}:{https_port}")
    await asyncio.to_thread(cluster.start, taken, sandbox_port, smtp_port)
    seeded = await asyncio.to_thread(__import__("subprocess").run, [str(cluster.binary("dev")), "seed-chaos", IG_ID],
                                     env=cluster.env, capture_output=True, text=True, timeout=120)
    if seeded.returncode != 0:
        raise RuntimeError(f"seed-chaos failed: {seeded.stderr.strip()}")
    context = ssl.create_default_context(cafile=str(cluster.ca))
    failures = []

    # The dashboard through nginx: its page over TLS, and a session that works on every replica of auth and analytics.
    status, _, page = await request(https_port, "GET", "/", context=context)
    if status != 200 or b"<html" not in page.lower():
        failures.append(f"the dashboard page through nginx answered {status}")
    dashboard = Dashboard(https_port, context, cluster.public_url)
    await dashboard.sign_in()

    run = Run()
    tag = secrets.token_hex(3)
    log(f"traffic: {RATE:g} DMs/s for {SECONDS} s and a dashboard user; kills at " +
        ", ".join(f"{int(f * 100)} % ({s})" for f, s in KILLS))
    start = time.monotonic()
    browsing = asyncio.ensure_future(dashboard.browse(start + SECONDS + 5))
    killed = []

    async def killer():
        for fraction, service in KILLS:
            await asyncio.sleep(max(0.0, start + fraction * SECONDS - time.monotonic()))
            victim = cluster.by_service(service)[0]
            victim.kill(signal.SIGKILL)
            killed.append((round(time.monotonic() - start, 1), victim.name))
            log(f"SIGKILL {victim.name}")
    kills = asyncio.ensure_future(killer())
    tasks = []
    for index in range(int(RATE * SECONDS)):
        await asyncio.sleep(max(0.0, start + index / RATE - time.monotonic()))
        dm = DM(f"scaled-{tag}-{index}", f"8{int(tag, 16) % 100000:05d}{index:07d}")
        run.dms[dm.mid] = dm
        tasks.append(asyncio.ensure_future(deliver(sandbox_port, dm, run)))
    await kills
    await asyncio.gather(*tasks)
    await browsing
    log(f"load done: {len(run.dms)} DMs; waiting for the queue to drain")

    pg = chaos.Postgres(work / "pg", pg_port)
    drain_start, drained_in = time.monotonic(), None
    while time.monotonic() - drain_start < 120:
        left = int((await asyncio.to_thread(pg.psql, "SELECT count(*) FROM jobs WHERE kind LIKE 'inbound.%' AND state <> 'dead'"))[0][0])
        if left == 0:
            drained_in = time.monotonic() - drain_start
            break
        await asyncio.sleep(0.5)
    ready = {r.name: await asyncio.to_thread(__import__("cluster").http_ready, r.port) for r in cluster.replicas}
    _, _, data = await request(sandbox_port, "GET", f"/simulate/conversations/{IG_ID}", timeout=30)
    check = await asyncio.to_thread(chaos.classify, run, pg, json.loads(data).get("messages", []))

    res = check["result"]
    accepted = sum(1 for dm in run.dms.values() if dm.accepted_at is not None)
    lost = len(res["lost"]) + len(res["stuck"])
    duplicates = sum(extra for _, extra, _ in check["duplicates"])
    delivery = {}
    for dm in run.dms.values():
        for result in dm.statuses:
            delivery[result] = delivery.get(result, 0) + 1
    gets_failed = {k: v for k, v in dashboard.results.items() if k.startswith("GET") and any(s != "200" for s in v)}
    share = {}
    for replica in cluster.replicas:
        if replica.service == "dispatch":
            share[replica.name] = metric_sum(replica.metrics_port, "flowtalk_jobs_outcomes_total")
        else:
            share[replica.name] = metric_sum(replica.metrics_port, "flowtalk_http_requests_total", 'route="/')
    p50, p99 = chaos.percentile(check["delays"], 0.5), chaos.percentile(check["delays"], 0.99)
    rows = [
        ("replicas", ", ".join(f"{scale[s]} {s}" for s in SERVICES) + f", behind nginx (TLS) on one {os.cpu_count()}-core machine, {BUILD} build"),
        ("traffic", f"{SECONDS} s at {RATE:g} DMs/s through sandbox → nginx → ingest, and a dashboard user at ~20 requests/s"),
        ("killed (SIGKILL, started again 1 s later)", ", ".join(f"{name} at {at} s" for at, name in killed)),
        ("DMs / accepted (a 200 from ingest)", f"{len(run.dms)} / {accepted}"),
        ("answered once / unknown / declined", f"{len(res['answered'])} / {len(res['unknown'])} / {len(res['declined'])}"),
        ("lost / duplicate sends / dead", f"{lost} / {duplicates} / {len(res['dead'])}"),
        ("webhook deliveries by answer", ", ".join(f"{k} {v}" for k, v in sorted(delivery.items()))),
        ("delay webhook→reply p50 / p99", f"{p50:,.0f} ms / {p99:,.0f} ms" if p50 is not None else "-"),
        ("queue drained", f"{drained_in:.1f} s after the load" if drained_in is not None else "NO, not within 120 s"),
        ("dashboard requests by answer", "; ".join(f"{k} " + ", ".join(f"{s}×{n}" for s, n in sorted(v.items()))
                                                   for k, v in sorted(dashboard.results.items()))),
        ("work per replica (requests; dispatch: jobs) since its last start", ", ".join(
            f"{name} {int(v) if v is not None else '-'}" for name, v in share.items())),
        ("replicas ready at the end", "all" if all(ready.values()) else ", ".join(n for n, ok in ready.items() if not ok) + " NOT ready"),
    ]
    if lost:
        failures.append(f"{lost} accepted DMs lost")
    if duplicates:
        failures.append(f"{duplicates} duplicate sends")
    if accepted < len(run.dms):
        failures.append(f"{len(run.dms) - accepted} DMs never accepted after 5 deliveries")
    if gets_failed:
        failures.append(f"dashboard reads failed: {gets_failed}")
    if len(killed) != len(KILLS):
        failures.append("not every kill happened")
    if drained_in is None or not all(ready.values()):
        failures.append("the cluster did not settle (queue drained, every replica ready)")
    width = max(len(n) for n, _ in rows)
    lines = [f"| {'measure'.ljust(width)} | result |", f"| {'-' * width} | --- |"] + [f"| {n.ljust(width)} | {v} |" for n, v in rows]
    report = "\n".join(lines + ["", "PASS" if not failures else "FAIL: " + "; ".join(failures)])
    if check["details"]:
        report += "\n\n" + "\n".join(f"  {mid}: {why}" for mid, why in list(check["details"].items())[:15])
    print("\n" + report, flush=True)
    out = ROOT / ".build" / "scaled"
    out.mkdir(parents=True, exist_ok=True)
    (out / "last-result.md").write_text(f"run {time.strftime('%Y-%m-%d %H:%M:%S')}\n\n{report}\n")
    for logfile in (work / "logs").glob("*.log"):
        shutil.copy2(logfile, out / logfile.name)
    return 0 if not failures else 1


def entry():
    state = {}
    code = 2
    try:
        code = asyncio.run(asyncio.wait_for(main(state), 240 + SECONDS * 3))
    except KeyboardInterrupt:
        code = 130
    except Exception as error:  # noqa: BLE001 - reported, then everything is stopped
        log(f"error: {type(error).__name__}: {error}")
    finally:
        if state.get("cluster"):
            state["cluster"].stop()
        if state.get("work"):
            shutil.rmtree(state["work"], ignore_errors=True)
    sys.exit(code)


if __name__ == "__main__":
    entry()
