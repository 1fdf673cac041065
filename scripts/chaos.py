#!/usr/bin/env python3
"""make chaos: a fault-injection run over the real binaries (issue 10, item 5).

Starts its own throwaway PostgreSQL cluster (fsync on), the sandbox, 2 ingest and 3 dispatch replicas (dispatch reaches
PostgreSQL through a TCP proxy this script runs), seeds a shop, then for CHAOS_SECONDS sends ~CHAOS_RATE signed webhook
deliveries per second from distinct customers (some redelivered, some out of order) while injecting faults: dispatch
replicas SIGKILLed every 3 s and restarted, each ingest replica killed once, abrupt PostgreSQL restarts
(`pg_ctl stop -m immediate`), a dispatch replica SIGSTOPped past its lease and resumed, the dispatch↔PostgreSQL link cut
and refused for a few seconds, Graph API 5xx / 429 storms / dropped answers / hung sends, and a slow AI provider.
Then it stops the faults, waits for the queue to drain and every replica to be ready, checks every accepted DM against
what the sandbox received, prints one table (also written to .build/chaos/) and exits 1 on any loss or duplicate.

Environment: CHAOS_SECONDS (600), CHAOS_RATE (40), CHAOS_BUILD (debug | release), CHAOS_DRAIN_SECONDS (180, or 90
below 300 s of load), CHAOS_PG_RESTARTS (1 below 120 s, else one per 150 s and at least 3), CHAOS_SEED (random),
CHAOS_STRICT (1 from 300 s on: also fails on unknown >= 1 % of accepted or a replica not ready at the end).

Only loopback addresses are used. Python 3 standard library only. Every loop is bounded in count and time; whatever it
started is stopped on exit, Ctrl-C included.
"""

import asyncio
import base64
import hashlib
import hmac
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ports import free_port  # scripts/ports.py, shared with scripts/scaled/

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"
IG_ID = "17841400000000077"

SECONDS = int(os.environ.get("CHAOS_SECONDS", "600"))
RATE = float(os.environ.get("CHAOS_RATE", "40"))
BUILD = os.environ.get("CHAOS_BUILD", "debug")
DRAIN_SECONDS = int(os.environ.get("CHAOS_DRAIN_SECONDS", "180" if SECONDS >= 300 else "90"))
PG_RESTARTS = int(os.environ.get("CHAOS_PG_RESTARTS", "1" if SECONDS < 120 else str(max(3, SECONDS // 150))))
SEED = int(os.environ.get("CHAOS_SEED", str(random.SystemRandom().randrange(1 << 30))))
STRICT = os.environ.get("CHAOS_STRICT", "1" if SECONDS >= 300 else "0") == "1"
# CHAOS_SELFTEST=1: the harness checks itself: halfway through it deletes one queued DM's job and dedupe key (a lost
# acknowledged DM) and sends one extra Graph message to a customer who was answered (a duplicate); the run must FAIL.
SELFTEST = os.environ.get("CHAOS_SELFTEST", "0") == "1"

LEASE_SECONDS = 5  # DISPATCH_LEASE_SECONDS (its minimum): the SIGSTOP outlasts it
GRAPH_TIMEOUT = 5  # GRAPH_TIMEOUT_SECONDS: a hung send lasts longer
GROQ_TIMEOUT = 5  # GROQ_TIMEOUT_SECONDS: the slowest AI answers last longer (the fallback text goes out)
DISPATCH_KILL_EVERY = 3.0
SIGSTOP_SECONDS = LEASE_SECONDS + 3
PROXY_CUT_SECONDS = 4
P_AI = 0.10  # DMs no rule answers: the AI path
P_PAIR = 0.05  # customers who write twice, delivered newest first
P_REDELIVER = 0.05  # accepted deliveries Meta sends again (same mid)
P_GRAPH_5XX = 0.03
P_GRAPH_DROP = 0.002  # the message goes out, the answer is lost
P_GRAPH_HUNG = 0.002  # no answer within GRAPH_TIMEOUT

rng = random.Random(SEED)
T0 = time.time()


def log(message):
    print(f"[chaos {time.time() - T0:6.1f}s] {message}", flush=True)


# ---------------------------------------------------------------------------------------------------------------- HTTP

async def http(port, method, path, body=b"", headers=None, timeout=5.0):
    """One HTTP/1.1 request to 127.0.0.1:port on a fresh connection; returns (status, body bytes). Raises on failure."""
    async def exchange():
        reader, writer = await asyncio.open_connection(LOOPBACK, port)
        try:
            head = [f"{method} {path} HTTP/1.1", f"Host: {LOOPBACK}:{port}", "Connection: close", f"Content-Length: {len(body)}"]
            head += [f"{k}: {v}" for k, v in (headers or {}).items()]
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
            await writer.drain()
            status_line = await reader.readline()
            if not status_line:
                raise ConnectionError("connection closed before the status line")
            status = int(status_line.split()[1])
            length, chunked = None, False
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
                elif name.strip().lower() == "transfer-encoding" and "chunked" in value.lower():
                    chunked = True
            if chunked:
                data = bytearray()
                while True:
                    size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        break
                    data += await reader.readexactly(size)
                    await reader.readline()
                return status, bytes(data)
            if length is not None:
                return status, await reader.readexactly(length)
            return status, await reader.read()
        finally:
            writer.close()
    return await asyncio.wait_for(exchange(), timeout)


async def http_json(port, method, path, document=None, timeout=10.0):
    body = json.dumps(document).encode() if document is not None else b""
    status, data = await http(port, method, path, body, {"Content-Type": "application/json"} if document is not None else None, timeout)
    return status, (json.loads(data) if data and data[:1] in (b"{", b"[") else None)


# ------------------------------------------------------------------------------------------------------------ processes

class Proc:
    """A service replica: started in its own session (Ctrl-C reaches only this script), output appended to a log."""

    def __init__(self, name, binary, env, logdir):
        self.name, self.binary, self.env, self.logpath = name, binary, env, logdir / f"{name}.log"
        self.popen = None
        self.stopped = False  # SIGSTOPped
        self.starts = 0

    def start(self):
        with open(self.logpath, "ab") as out:
            out.write(f"=== start {self.starts + 1} at {time.time() - T0:.1f}s ===\n".encode())
            out.flush()
            self.popen = subprocess.Popen([str(self.binary)], env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True, cwd="/")
        self.starts += 1

    def last_line(self):
        try:
            lines = [line for line in self.logpath.read_text(errors="replace").splitlines() if line.strip()]
        except OSError:
            return ""
        return lines[-1] if lines else ""

    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig):
        if self.alive():
            try:
                os.kill(self.popen.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self):
        if self.popen is None:
            return
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGKILL)
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.stopped = False

    def terminate(self):
        """For the end of the run: SIGTERM, then SIGKILL after 5 s."""
        if not self.alive():
            return
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()


class Postgres:
    """A private cluster through scripts/pg.sh (as root it runs as the postgres user), fsync on (the default)."""

    def __init__(self, directory, port):
        self.dir, self.port = directory, port
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: [int(x) if x.isdigit() else 0 for x in p.parent.parent.name.split(".")])
        if not bins:
            raise RuntimeError("the PostgreSQL server is not installed (apt-get install postgresql)")
        self.pg_ctl = str(bins[-1])
        self.as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.url = None

    def start(self):
        result = subprocess.run([str(ROOT / "scripts/pg.sh"), "start", str(self.dir), str(self.port)], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start: {result.stderr.strip()}")
        self.url = result.stdout.strip().splitlines()[-1]

    def stop_immediate(self):
        subprocess.run(self.as_pg + [self.pg_ctl, "-D", str(self.dir), "-m", "immediate", "-w", "-t", "30", "stop"],
                       capture_output=True, timeout=60)

    def psql(self, sql, timeout=60):
        """Rows of a query, each a list of strings (tab-separated, unaligned)."""
        result = subprocess.run(["psql", "-h", LOOPBACK, "-p", str(self.port), "-U", "flowtalk", "-d", "flowtalk", "-X", "-A", "-t",
                                 "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql], capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"psql: {result.stderr.strip()}")
        return [line.split("\t") for line in result.stdout.splitlines() if line]


class Proxy:
    """A TCP proxy 127.0.0.1:listen → 127.0.0.1:target (asyncio). `cut` closes every connection and refuses new ones."""

    def __init__(self, listen, target):
        self.listen, self.target = listen, target
        self.server = None
        self.transports = set()

    async def start(self):
        self.server = await asyncio.start_server(self.handle, LOOPBACK, self.listen, reuse_address=True)

    async def handle(self, reader, writer):
        try:
            upstream_reader, upstream_writer = await asyncio.wait_for(asyncio.open_connection(LOOPBACK, self.target), 5)
        except (OSError, asyncio.TimeoutError):
            writer.transport.abort()
            return
        pair = (writer.transport, upstream_writer.transport)
        self.transports.update(pair)

        async def pipe(source, sink):
            try:
                while True:
                    data = await source.read(65536)
                    if not data:
                        break
                    sink.write(data)
                    await sink.drain()
            except (OSError, asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                sink.transport.abort()

        try:
            await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))
        except asyncio.CancelledError:
            pass  # the run is ending: the connections close below
        finally:
            for transport in pair:
                transport.abort()
                self.transports.discard(transport)

    async def cut(self, seconds):
        self.server.close()
        for transport in list(self.transports):
            transport.abort()
        self.transports.clear()
        await asyncio.sleep(seconds)
        await self.start()

    def close(self):
        if self.server:
            self.server.close()
        for transport in list(self.transports):
            transport.abort()


# ----------------------------------------------------------------------------------------------------------------- load

class DM:
    __slots__ = ("mid", "customer", "text", "ts", "body", "signature", "first_at", "accepted_at", "attempts", "statuses", "kind")

    def __init__(self, mid, customer, text, ts, secret, kind):
        self.mid, self.customer, self.text, self.ts, self.kind = mid, customer, text, ts, kind
        self.body = json.dumps({"object": "instagram", "entry": [{"time": ts, "id": IG_ID, "messaging": [{
            "sender": {"id": customer}, "recipient": {"id": IG_ID}, "timestamp": ts,
            "message": {"mid": mid, "text": text}}]}]}, separators=(",", ":")).encode()
        self.signature = "sha256=" + hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
        self.first_at = None
        self.accepted_at = None
        self.attempts = 0
        self.statuses = []


class Run:
    def __init__(self):
        self.secret = "chaos-" + hashlib.sha256(str(SEED).encode()).hexdigest()[:32]
        self.dms = {}
        self.faults = {}  # fault name → times injected
        self.events = []  # (seconds since T0, what)
        self.ingest_ports = []
        self.next_ingest = 0
        self.delivery_results = {"200": 0}
        self.redeliveries = 0
        self.redelivery_statuses = {}
        self.tasks = set()
        self.pg_stops = []  # wall-clock times of immediate shutdowns

    def fault(self, name, count=1):
        self.faults[name] = self.faults.get(name, 0) + count
        self.events.append((round(time.time() - T0, 3), name))

    def spawn(self, coroutine):
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def ingest_port(self):
        port = self.ingest_ports[self.next_ingest % len(self.ingest_ports)]
        self.next_ingest += 1
        return port

    async def post(self, dm):
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": dm.signature}
        try:
            status, _ = await http(self.ingest_port(), "POST", "/webhooks/instagram", dm.body, headers, timeout=5)
            return str(status)
        except asyncio.TimeoutError:
            return "timeout"
        except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError):
            return "connection"

    async def deliver(self, dm, delay=0.0):
        """Meta's way: deliver until a 200, retrying an unacknowledged delivery after 1, 2, 4 s (4 attempts)."""
        if delay:
            await asyncio.sleep(delay)
        for attempt in range(4):
            started = time.time()
            if dm.first_at is None:
                dm.first_at = started
            dm.attempts += 1
            result = await self.post(dm)
            dm.statuses.append(result)
            self.delivery_results[result] = self.delivery_results.get(result, 0) + 1
            if result == "200":
                dm.accepted_at = started
                if rng.random() < P_REDELIVER:
                    self.spawn(self.redeliver(dm, rng.uniform(0.2, 10)))
                return
            await asyncio.sleep(2 ** attempt)

    async def redeliver(self, dm, delay):
        await asyncio.sleep(delay)
        self.redeliveries += 1
        result = await self.post(dm)
        self.redelivery_statuses[result] = self.redelivery_statuses.get(result, 0) + 1

    def new_dm(self, index, customer, ts, sub=""):
        if rng.random() < P_AI:
            text, kind = f"Do you make custom mugs with a cat on them? ({index}{sub})", "ai"
        else:
            text, kind = f"Hi, where is my order {index}{sub}?", "rule"
        dm = DM(f"chaos-{SEED}-{index}{sub}", customer, text, ts, self.secret, kind)
        self.dms[dm.mid] = dm
        return dm

    async def load(self, seconds):
        """RATE new customers a second for `seconds`; some write twice, delivered newest first."""
        start = time.monotonic()
        total = int(RATE * seconds)
        for index in range(total):
            await asyncio.sleep(max(0.0, start + index / RATE - time.monotonic()))
            customer = f"9{SEED % 100000:05d}{index:07d}"
            now = int(time.time() * 1000)
            if rng.random() < P_PAIR:
                first = self.new_dm(index, customer, now - 1000, "a")
                second = self.new_dm(index, customer, now, "b")
                self.spawn(self.deliver(second))
                self.spawn(self.deliver(first, rng.uniform(0.2, 1.5)))
            else:
                self.spawn(self.deliver(self.new_dm(index, customer, now)))


# --------------------------------------------------------------------------------------------------------------- faults

class Chaos:
    def __init__(self, run, pg, proxy, dispatch, ingest, sandbox_port, seconds):
        self.run, self.pg, self.proxy, self.dispatch, self.ingest = run, pg, proxy, dispatch, ingest
        self.sandbox_port, self.seconds = sandbox_port, seconds
        self.end = time.monotonic() + seconds
        self.pg_lock = asyncio.Lock()

    def at(self, fraction):
        return fraction * self.seconds

    async def sleep_until(self, offset, start):
        await asyncio.sleep(max(0.0, start + offset - time.monotonic()))

    async def restart_later(self, proc, delay):
        await asyncio.sleep(delay)
        if not proc.alive():
            proc.start()

    async def dispatch_killer(self):
        for _ in range(int(self.seconds / DISPATCH_KILL_EVERY) + 1):
            await asyncio.sleep(DISPATCH_KILL_EVERY)
            if time.monotonic() >= self.end:
                return
            candidates = [p for p in self.dispatch if p.alive() and not p.stopped]
            if not candidates:
                continue
            victim = rng.choice(candidates)
            await asyncio.to_thread(victim.kill)
            self.run.fault("dispatch SIGKILL")
            self.run.spawn(self.restart_later(victim, rng.uniform(0.3, 1.0)))

    async def scheduled(self, start):
        """Everything that happens at set times: ingest kills, PostgreSQL restarts, SIGSTOP, proxy cuts, 429 storms."""
        plan = [(self.at(0.3), "ingest", 0), (self.at(0.6), "ingest", 1)]
        for k in range(PG_RESTARTS):
            plan.append(((k + 0.5) / PG_RESTARTS * self.seconds * 0.9, "pg", None))
        stops = [self.at(0.15)] + [self.at(0.15) + 150 * k for k in range(1, 10) if self.at(0.15) + 150 * k < self.at(0.9)]
        plan += [(t, "sigstop", None) for t in stops]
        cuts = [self.at(0.75)] if self.seconds < 300 else [100 + 150 * k for k in range(10) if 100 + 150 * k < self.at(0.9)]
        plan += [(t, "proxy", None) for t in cuts]
        storms = [self.at(0.25), self.at(0.85)] if self.seconds < 300 else [30 + 60 * k for k in range(20) if 30 + 60 * k < self.at(0.9)]
        plan += [(t, "429", None) for t in storms]
        plan.sort(key=lambda item: item[0])
        for offset, what, arg in plan:
            await self.sleep_until(offset, start)
            if what == "ingest":
                victim = self.ingest[arg]
                await asyncio.to_thread(victim.kill)
                self.run.fault("ingest SIGKILL")
                self.run.spawn(self.restart_later(victim, 1.5))
            elif what == "pg":
                self.run.spawn(self.pg_restart())
            elif what == "sigstop":
                self.run.spawn(self.sigstop())
            elif what == "proxy":
                self.run.fault(f"dispatch↔PostgreSQL link cut ({PROXY_CUT_SECONDS} s)")
                self.run.spawn(self.proxy.cut(PROXY_CUT_SECONDS))
            elif what == "429":
                await self.graph_faults([{"kind": "rate_limit", "count": 25}], "Graph 429 storm (25 sends)")

    async def pg_restart(self):
        async with self.pg_lock:
            self.run.pg_stops.append(time.time())
            await asyncio.to_thread(self.pg.stop_immediate)
            self.run.fault("PostgreSQL immediate stop + start")
            await asyncio.sleep(1.0)
            for _ in range(5):
                try:
                    await asyncio.to_thread(self.pg.start)
                    return
                except Exception as error:  # noqa: BLE001 - retried, bounded
                    log(f"PostgreSQL restart failed, retrying: {error}")
                    await asyncio.sleep(2)

    async def sigstop(self):
        candidates = [p for p in self.dispatch if p.alive() and not p.stopped]
        if not candidates:
            return
        victim = rng.choice(candidates)
        victim.stopped = True
        victim.signal(signal.SIGSTOP)
        self.run.fault(f"dispatch SIGSTOP {SIGSTOP_SECONDS} s (lease {LEASE_SECONDS} s)")
        await asyncio.sleep(SIGSTOP_SECONDS)
        victim.signal(signal.SIGCONT)
        victim.stopped = False

    async def graph_faults(self, faults, name, count=1):
        try:
            status, _ = await http_json(self.sandbox_port, "POST", "/sandbox/faults", {"ig_id": IG_ID, "faults": faults})
            if status == 204:
                self.run.fault(name, count)
        except (OSError, asyncio.TimeoutError, ConnectionError):
            pass

    async def graph_noise(self):
        """Random Graph faults at their rates of the send rate: 5xx, dropped answers, hung sends."""
        owed = {"server_error": 0.0, "drop": 0.0, "slow": 0.0}
        rates = {"server_error": P_GRAPH_5XX, "drop": P_GRAPH_DROP, "slow": P_GRAPH_HUNG}
        names = {"server_error": "Graph 5xx", "drop": "Graph answer dropped", "slow": f"Graph send hung {GRAPH_TIMEOUT + 3} s"}
        for _ in range(int(self.seconds * 2) + 1):
            await asyncio.sleep(0.5)
            if time.monotonic() >= self.end:
                return
            for kind in owed:
                owed[kind] += rates[kind] * RATE * 0.5 * rng.uniform(0.5, 1.5)
                count = int(owed[kind])
                if count:
                    owed[kind] -= count
                    fault = {"kind": kind, "count": count}
                    if kind == "slow":
                        fault["seconds"] = GRAPH_TIMEOUT + 3
                    await self.graph_faults([fault], names[kind], count)

    async def selftest(self, start, token):
        """A loss and a duplicate made on purpose, to show the checks see them (CHAOS_SELFTEST=1)."""
        await self.sleep_until(self.at(0.5), start)
        for _ in range(20):
            try:
                rows = await asyncio.to_thread(self.pg.psql, """
                    WITH victim AS (SELECT id, dedupe_key FROM jobs WHERE kind = 'inbound.message' AND state = 'available'
                                    ORDER BY id DESC LIMIT 1 FOR UPDATE SKIP LOCKED),
                         gone AS (DELETE FROM job_dedupe WHERE key IN (SELECT dedupe_key FROM victim))
                    DELETE FROM jobs WHERE id IN (SELECT id FROM victim) RETURNING dedupe_key""", 10)
                if rows:
                    self.run.fault(f"self-test: job deleted ({rows[0][0]})")
                    break
            except Exception:  # noqa: BLE001 - PostgreSQL may be restarting; bounded
                pass
            await asyncio.sleep(0.5)
        answered = next((dm for dm in self.run.dms.values() if dm.accepted_at and dm.kind == "rule"), None)
        if answered:
            document = json.dumps({"recipient": {"id": answered.customer}, "message": {"text": "a second answer (self-test)"}}).encode()
            for _ in range(40):  # the sandbox's queued faults apply to this send too: until one goes through
                try:
                    status, _ = await http(self.sandbox_port, "POST", f"/v25.0/{IG_ID}/messages", document,
                                           {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}, timeout=10)
                    if status == 200:
                        self.run.fault(f"self-test: extra send to {answered.customer}")
                        return
                except (OSError, asyncio.TimeoutError, ConnectionError, asyncio.IncompleteReadError):
                    pass
                await asyncio.sleep(0.2)

    async def slow_ai(self):
        """A slow AI provider: answers 2 s late most of the time, and now and then later than GROQ_TIMEOUT."""
        for tick in range(int(self.seconds / 5) + 1):
            await asyncio.sleep(5)
            if time.monotonic() >= self.end:
                return
            faults = [{"kind": "slow", "seconds": 2, "count": 3}]
            if tick % 4 == 3:
                faults.append({"kind": "slow", "seconds": GROQ_TIMEOUT + 3, "count": 1})
            try:
                status, _ = await http_json(self.sandbox_port, "POST", "/sandbox/groq/faults", {"faults": faults})
                if status == 204:
                    self.run.fault("AI answer 2 s late", 3)
                    if len(faults) > 1:
                        self.run.fault(f"AI answer {GROQ_TIMEOUT + 3} s late (timeout)")
            except (OSError, asyncio.TimeoutError, ConnectionError):
                pass


# -------------------------------------------------------------------------------------------------------------- checks

def percentile(values, fraction):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def classify(run, pg, sandbox_messages):
    jobs = {}
    for job_id, kind, state, attempts, key, error, locked_by, lease_live in pg.psql(
            "SELECT id, kind, state, attempts, coalesce(dedupe_key, ''), coalesce(last_error, ''), coalesce(locked_by, ''), "
            "coalesce((locked_until > now())::text, '') FROM jobs WHERE kind LIKE 'inbound.%'"):
        jobs[key] = {"id": int(job_id), "kind": kind, "state": state, "attempts": int(attempts), "error": error, "locked_by": locked_by,
                     "lease_live": lease_live == "true"}
    dedupe = {row[0] for row in pg.psql("SELECT key FROM job_dedupe WHERE key LIKE 'ig:message:chaos-%'")}
    handled = {row[0] for row in pg.psql("SELECT mid FROM handled_events WHERE kind = 'message'")}
    replies = {}
    for reply_id, mid, customer, state, source, error in pg.psql(
            "SELECT id, inbound_mid, customer_id, state, source, coalesce(error, '') FROM replies"):
        replies[mid] = {"id": int(reply_id), "customer": customer, "state": state, "source": source, "error": error}
    parts = {}
    for mid, reply_id in pg.psql("SELECT mid, coalesce(reply_id::text, '') FROM sent_messages"):
        if reply_id:
            parts.setdefault(int(reply_id), []).append(mid)
    dead_all = int(pg.psql("SELECT count(*) FROM jobs WHERE state = 'dead'")[0][0])
    outcomes = pg.psql("SELECT outcome, coalesce(reason, ''), count(*) FROM activity GROUP BY 1, 2 ORDER BY 3 DESC")

    at_sandbox = {}  # sandbox mid → at_ms
    per_customer = {}
    for message in sandbox_messages:
        if message.get("direction") != "out":
            continue
        at_sandbox[message["mid"]] = message["at_ms"]
        per_customer.setdefault(message["customer_id"], []).append(message)

    by_customer = {}
    for dm in run.dms.values():
        by_customer.setdefault(dm.customer, []).append(dm)

    result = {"answered": [], "unknown": [], "declined": [], "dead": [], "stuck": [], "lost": []}
    delays = []
    details = {}
    for dm in run.dms.values():
        if dm.accepted_at is None:
            continue
        key = f"ig:message:{dm.mid}"
        job = jobs.get(key)
        reply = replies.get(dm.mid)
        if reply and reply["state"] == "sent":
            sent = parts.get(reply["id"], [])
            if sent and all(m in at_sandbox for m in sent):
                result["answered"].append(dm.mid)
                delays.append(min(at_sandbox[m] for m in sent) - dm.accepted_at * 1000)
            else:
                result["lost"].append(dm.mid)
                details[dm.mid] = "reply marked sent, but the sandbox has no such message"
        elif reply and reply["state"] == "unknown":
            result["unknown"].append(dm.mid)
            own = per_customer.get(dm.customer, [])
            if own and len(by_customer[dm.customer]) == 1:
                delays.append(own[0]["at_ms"] - dm.accepted_at * 1000)
        elif reply and reply["state"] in ("failed", "skipped"):
            result["declined"].append(dm.mid)
            details[dm.mid] = f"reply {reply['state']}: {reply['error']}"
        elif job and job["state"] == "dead":
            result["dead"].append(dm.mid)
            details[dm.mid] = f"job dead after {job['attempts']} attempts: {job['error'][:120]}"
        elif job:
            result["stuck"].append(dm.mid)
            details[dm.mid] = (f"job {job['id']} {job['state']} attempts {job['attempts']} locked_by {job['locked_by'] or '-'} "
                               f"lease {'live' if job['lease_live'] else 'expired/none'} last_error {job['error'][:80] or '-'}"
                               + (f"; reply {reply['state']}" if reply else ""))
        elif reply:
            result["lost"].append(dm.mid)
            details[dm.mid] = f"reply left {reply['state']} and no job"
        elif dm.mid in handled:
            result["declined"].append(dm.mid)
            details[dm.mid] = "decided without a reply (see the activity log)"
        else:
            result["lost"].append(dm.mid)
            nearest = min((dm.accepted_at - t for t in run.pg_stops), key=abs, default=None)
            details[dm.mid] = ("no job, no reply, no decision; dedupe key " + ("present" if key in dedupe else "ABSENT")
                               + (f"; accepted {nearest * 1000:+.0f} ms from the nearest PostgreSQL stop" if nearest is not None else "")
                               + f"; statuses {dm.statuses}")

    duplicates = []
    for customer, messages in per_customer.items():
        own = by_customer.get(customer, [])
        allowed = 0
        for dm in own:
            reply = replies.get(dm.mid)
            if reply:
                allowed += len(parts.get(reply["id"], [])) + (1 if reply["state"] == "unknown" else 0)
        if not own:
            duplicates.append((customer, len(messages), "a send to a customer who never wrote"))
        elif len(messages) > allowed:
            duplicates.append((customer, len(messages) - allowed, f"{len(messages)} sends for {len(own)} DMs ({allowed} allowed)"))
    answered_unacked = sum(1 for dm in run.dms.values() if dm.accepted_at is None and replies.get(dm.mid))
    return {"result": result, "delays": delays, "details": details, "duplicates": duplicates, "dead_all": dead_all,
            "outcomes": outcomes, "answered_unacked": answered_unacked,
            "jobs_left": sum(1 for j in jobs.values() if j["state"] != "dead")}


def table(run, check, ready, drained_in, sandbox_applied):
    res = check["result"]
    accepted = sum(1 for dm in run.dms.values() if dm.accepted_at is not None)
    duplicates = sum(extra for _, extra, _ in check["duplicates"])
    p50, p99 = percentile(check["delays"], 0.5), percentile(check["delays"], 0.99)
    longest = max(check["delays"], default=None)
    lost = len(res["lost"]) + len(res["stuck"])

    def ms(value):
        return "-" if value is None else f"{value:,.0f} ms"

    rows = [
        ("run", f"{SECONDS} s at {RATE:g} DMs/s, {BUILD} build, seed {SEED}"),
        ("DMs generated (distinct mids)", f"{len(run.dms):,}"),
        ("accepted (ingest answered 200)", f"{accepted:,}"),
        ("answered once", f"{len(res['answered']):,}"),
        ("unknown (half-sent at a crash, ≤ 1 send)", f"{len(res['unknown']):,} ({100 * len(res['unknown']) / max(1, accepted):.2f} %)"),
        ("decided not to answer (failed/skipped)", f"{len(res['declined']):,}"),
        ("duplicates (extra sends)", f"{duplicates:,}"),
        ("lost (no reply, no terminal state)", f"{lost:,}" + (f" ({len(res['stuck'])} still queued or running)" if res["stuck"] else "")),
        ("dead jobs (all kinds)", f"{check['dead_all']:,} ({len(res['dead'])} of accepted DMs)"),
        ("inbound jobs left at the end", f"{check['jobs_left']:,}"),
        ("delay webhook→reply p50 / p99 / max", f"{ms(p50)} / {ms(p99)} / {ms(longest)}"),
        ("queue drained", "yes, " + f"{drained_in:.0f} s after the load" if drained_in is not None else f"NO, not within {DRAIN_SECONDS} s"),
        ("replicas ready at the end", ", ".join(f"{name} {'ok' if ok else 'NOT READY'}" for name, ok in ready)),
        ("deliveries (attempts by answer)", ", ".join(f"{k} {v:,}" for k, v in sorted(run.delivery_results.items()))),
        ("redeliveries of accepted (same mid)", f"{run.redeliveries:,}: " + ", ".join(f"{k} {v:,}" for k, v in sorted(run.redelivery_statuses.items()))),
        ("out-of-order pairs", f"{sum(1 for m in run.dms if m.endswith('b')):,}"),
        ("replied without a 200 (allowed)", f"{check['answered_unacked']:,}"),
    ]
    rows += [(f"fault: {name}", f"{count:,}") for name, count in sorted(run.faults.items())]
    rows += [("sandbox applied", ", ".join(f"{k} {v:,}" for k, v in sorted(sandbox_applied.items())) or "-")]
    width = max(len(name) for name, _ in rows)
    lines = [f"| {'measure'.ljust(width)} | result |", f"| {'-' * width} | --- |"]
    lines += [f"| {name.ljust(width)} | {value} |" for name, value in rows]
    failures = []
    if lost:
        failures.append(f"{lost} accepted DMs lost")
    if duplicates:
        failures.append(f"{duplicates} duplicate sends")
    if accepted < 0.5 * len(run.dms):
        failures.append(f"only {accepted} of {len(run.dms)} DMs accepted")
    if STRICT and len(res["unknown"]) >= 0.01 * max(1, accepted):
        failures.append("unknown ≥ 1 % of accepted")
    if STRICT and not all(ok for _, ok in ready):
        failures.append("a replica not ready at the end")
    if STRICT and run.faults.get("PostgreSQL immediate stop + start", 0) < 3:
        failures.append("fewer than 3 PostgreSQL restarts")
    return "\n".join(lines), failures


# ---------------------------------------------------------------------------------------------------------------- main

async def wait_ready(port, seconds, proc=None):
    """Whether /readyz answers 200 within `seconds`; False at once when `proc` has exited."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.popen is not None and proc.popen.poll() is not None and not proc.stopped:
            return False
        try:
            status, _ = await http(port, "GET", "/readyz", timeout=2)
            if status == 200:
                return True
        except (OSError, asyncio.TimeoutError, ConnectionError, ValueError, IndexError):
            pass
        await asyncio.sleep(0.3)
    return False


async def main(state):
    out_root = ROOT / ".build" / "chaos"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    outdir = out_root / stamp
    logdir = outdir / "logs"
    logdir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="flowtalk-chaos."))
    os.chmod(tmp, 0o755)
    state["tmp"] = tmp
    log(f"run {stamp}: {SECONDS} s at {RATE:g} DMs/s, {BUILD} build, seed {SEED}; logs in {logdir.relative_to(ROOT)}")

    # The binaries are copied first: a rebuild during the run does not swap them.
    bindir = tmp / "bin"
    bindir.mkdir()
    for product in ("flowtalk-ingest", "flowtalk-dispatch", "flowtalk-sandbox", "flowtalk-dev"):
        source = ROOT / ".build" / BUILD / product
        if not source.exists():
            raise RuntimeError(f"{source} is missing: build first (swift build{' -c release' if BUILD == 'release' else ''})")
        shutil.copy2(source, bindir / product)

    taken = set()
    pg = Postgres(tmp / "pg", free_port(taken))
    state["pg"] = pg
    await asyncio.to_thread(pg.start)
    proxy = Proxy(free_port(taken), pg.port)
    await proxy.start()
    state["proxy"] = proxy
    sandbox_port = free_port(taken)
    ingest_ports = [free_port(taken) for _ in range(2)]
    dispatch_ports = [free_port(taken) for _ in range(3)]
    log(f"PostgreSQL on {pg.port} (fsync on), dispatch's proxy on {proxy.listen}, sandbox {sandbox_port}, ingest {ingest_ports}, dispatch {dispatch_ports}")

    run = Run()
    run.ingest_ports = ingest_ports
    state["run"] = run
    token = "IGAA-chaos-" + hashlib.sha256(f"token{SEED}".encode()).hexdigest()[:24]
    sandbox_url = f"http://{LOOPBACK}:{sandbox_port}"
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8",
            "FLOWTALK_ENV": "development", "FLOWTALK_ENV_FILE": "/nonexistent", "LOG_LEVEL": "notice", "HOST": LOOPBACK, "META_APP_SECRET": run.secret,
            "META_VERIFY_TOKEN": "chaos", "TOKEN_ENCRYPTION_KEYS": "chaos:" + base64.b64encode(os.urandom(32)).decode(),
            "SANDBOX_DEMO_TOKEN": token}

    seeded = await asyncio.to_thread(subprocess.run, [str(bindir / "flowtalk-dev"), "seed-chaos", IG_ID],
                                     env={**base, "DATABASE_URL": pg.url}, capture_output=True, text=True, timeout=120)
    if seeded.returncode != 0:
        raise RuntimeError(f"seed-chaos failed: {seeded.stderr.strip() or seeded.stdout.strip()}")

    procs = state["procs"]
    sandbox = Proc("sandbox", bindir / "flowtalk-sandbox", {**base, "PORT": str(sandbox_port), "INGEST_URL": f"http://{LOOPBACK}:{ingest_ports[0]}",
                                                             "SANDBOX_ACCOUNTS": f"{IG_ID}:chaos_shop:{token}"}, logdir)
    ingest = [Proc(f"ingest-{i}", bindir / "flowtalk-ingest", {**base, "PORT": str(port), "DATABASE_URL": pg.url}, logdir)
              for i, port in enumerate(ingest_ports)]
    dispatch_url = pg.url.replace(f":{pg.port}/", f":{proxy.listen}/")
    dispatch = [Proc(f"dispatch-{i}", bindir / "flowtalk-dispatch", {
        **base, "PORT": str(port), "DATABASE_URL": dispatch_url, "INSTAGRAM_GRAPH_URL": sandbox_url,
        "DISPATCH_LEASE_SECONDS": str(LEASE_SECONDS), "GRAPH_TIMEOUT_SECONDS": str(GRAPH_TIMEOUT), "GROQ_API_KEY": "sandbox-groq-key",
        "GROQ_BASE_URL": f"{sandbox_url}/openai/v1", "GROQ_TIMEOUT_SECONDS": str(GROQ_TIMEOUT)}, logdir)
        for i, port in enumerate(dispatch_ports)]
    procs += [sandbox] + ingest + dispatch
    for proc in procs:
        proc.start()
    named_ports = [("sandbox", sandbox_port)] + [(p.name, port) for p, port in zip(ingest, ingest_ports)] + \
                  [(p.name, port) for p, port in zip(dispatch, dispatch_ports)]
    by_name = {proc.name: proc for proc in procs}
    for name, port in named_ports:
        if not await wait_ready(port, 90, by_name[name]):
            proc = by_name[name]
            why = f"exited with status {proc.popen.returncode}" if not proc.alive() else "did not become ready within 90 s"
            raise RuntimeError(f"{name} {why}: {proc.last_line()!r}; see {proc.logpath}")
    log("all replicas ready; load and faults start")

    chaos = Chaos(run, pg, proxy, dispatch, ingest, sandbox_port, SECONDS)
    start = time.monotonic()
    fault_tasks = [asyncio.ensure_future(c) for c in (chaos.dispatch_killer(), chaos.scheduled(start), chaos.graph_noise(), chaos.slow_ai())]
    if SELFTEST:
        fault_tasks.append(asyncio.ensure_future(chaos.selftest(start, token)))
    progress = asyncio.ensure_future(report_progress(run, pg, SECONDS))
    await run.load(SECONDS)
    log(f"load done: {len(run.dms):,} DMs generated; stopping faults")
    for task in fault_tasks:
        task.cancel()
    await asyncio.gather(*fault_tasks, return_exceptions=True)

    try:
        _, cleared = await http_json(sandbox_port, "DELETE", "/sandbox/faults")
    except (OSError, asyncio.TimeoutError, ConnectionError):
        cleared = None
    # What is still under way ends by itself: a restart, a cut, a SIGSTOP (at most 8 s), deliveries being retried (at
    # most 4 attempts, ~27 s) and redeliveries (at most 10 s later).
    finish_by = time.monotonic() + 45
    while run.tasks and time.monotonic() < finish_by:
        await asyncio.wait(list(run.tasks), timeout=finish_by - time.monotonic())
    # Back to a healthy system: every replica running and resumed, PostgreSQL up, the proxy listening.
    for proc in dispatch + ingest:
        if proc.stopped:
            proc.signal(signal.SIGCONT)
            proc.stopped = False
        if not proc.alive():
            proc.start()
    if not proxy.server.is_serving():
        await proxy.start()
    try:
        await asyncio.to_thread(pg.psql, "SELECT 1", 10)
    except Exception:  # noqa: BLE001 - a restart that failed: start it once more
        await asyncio.to_thread(pg.start)
    log(f"faults stopped; {len(run.tasks)} deliveries still under way; waiting up to {DRAIN_SECONDS} s for the queue to drain")

    drain_start = time.monotonic()
    drained_in = None
    ready = []
    while time.monotonic() - drain_start < DRAIN_SECONDS:
        try:
            left = int((await asyncio.to_thread(pg.psql, "SELECT count(*) FROM jobs WHERE kind LIKE 'inbound.%' AND state <> 'dead'", 20))[0][0])
        except Exception as error:  # noqa: BLE001 - the database may still be coming back; bounded loop
            log(f"queue check failed: {error}")
            left = -1
        ready = []
        for name, port in named_ports:
            ready.append((name, await wait_ready(port, 0.5)))
        if left == 0 and all(ok for _, ok in ready):
            drained_in = time.monotonic() - drain_start
            break
        await asyncio.sleep(1)
    progress.cancel()
    log("queue drained" if drained_in is not None else f"queue NOT drained within {DRAIN_SECONDS} s")
    if drained_in is None:
        ready = [(name, await wait_ready(port, 2)) for name, port in named_ports]

    _, conversation = await http_json(sandbox_port, "GET", f"/simulate/conversations/{IG_ID}", timeout=30)
    _, applied = await http_json(sandbox_port, "GET", "/sandbox/faults")
    check = await asyncio.to_thread(classify, run, pg, (conversation or {}).get("messages", []))
    text, failures = table(run, check, ready, drained_in, (applied or {}).get("applied", {}))
    verdict = "PASS" if not failures else "FAIL: " + "; ".join(failures)
    lines = [text, "", verdict]
    res = check["result"]
    examples = [f"  {mid}: {check['details'][mid]}" for kind in ("lost", "stuck", "dead") for mid in res[kind][:15]]
    if examples:
        lines += ["", "examples (lost, stuck, dead):"] + examples
    if check["duplicates"]:
        lines += ["", "duplicates:"] + [f"  customer {c}: {why}" for c, _, why in check["duplicates"][:15]]
    lines += ["", "activity outcomes: " + ", ".join(f"{o}{'/' + r if r else ''} {n}" for o, r, n in check["outcomes"])]
    report = "\n".join(lines)
    print("\n" + report, flush=True)
    (outdir / "result.md").write_text(report + "\n")
    (out_root / "last-result.md").write_text(f"run {stamp}\n\n{report}\n")
    (outdir / "result.json").write_text(json.dumps({
        "seconds": SECONDS, "rate": RATE, "build": BUILD, "seed": SEED, "faults": run.faults, "events": run.events,
        "sandbox_applied": (applied or {}).get("applied", {}), "cleared_faults": (cleared or {}).get("cleared"),
        "counts": {k: len(v) for k, v in res.items()}, "details": check["details"], "duplicates": check["duplicates"],
        "delays_ms": {"p50": percentile(check["delays"], 0.5), "p99": percentile(check["delays"], 0.99), "max": max(check["delays"], default=None)},
        "verdict": verdict}, indent=1))
    log(f"table written to {(outdir / 'result.md').relative_to(ROOT)}")
    return 0 if not failures else 1


async def report_progress(run, pg, seconds):
    for _ in range(int(seconds / 10) + 100):
        await asyncio.sleep(10)
        accepted = sum(1 for dm in run.dms.values() if dm.accepted_at is not None)
        try:
            rows = await asyncio.to_thread(pg.psql, "SELECT state, count(*) FROM jobs WHERE kind LIKE 'inbound.%' GROUP BY 1", 5)
            queue = ", ".join(f"{s} {n}" for s, n in rows) or "empty"
            rows = await asyncio.to_thread(pg.psql, "SELECT state, count(*) FROM replies WHERE state NOT IN ('sent', 'skipped') GROUP BY 1", 5)
            replies = ", ".join(f"{s} {n}" for s, n in rows) or "-"
            rows = await asyncio.to_thread(
                pg.psql, "SELECT coalesce(wait_event_type || ':' || wait_event, 'running') || ' [' || "
                "regexp_replace(left(query, 48), '\\s+', ' ', 'g') || ']', count(*) FROM pg_stat_activity "
                "WHERE state = 'active' AND backend_type = 'client backend' AND pid <> pg_backend_pid() GROUP BY 1 ORDER BY 2 DESC LIMIT 3", 5)
            waits = ", ".join(f"{s} {n}" for s, n in rows) or "-"
        except Exception:  # noqa: BLE001 - PostgreSQL may be restarting
            queue, replies, waits = "unreachable", "?", "?"
        log(f"{len(run.dms):,} DMs, {accepted:,} accepted; inbound jobs: {queue}; replies: {replies}; active backends: {waits}; "
            f"faults {sum(run.faults.values()):,}")


def cleanup(state):
    """Stops whatever this run started: replicas, the proxy, PostgreSQL; removes the temporary directory."""
    for proc in state.get("procs", []):
        try:
            proc.terminate()
        except Exception:  # noqa: BLE001 - best effort, everything else must still stop
            pass
    if state.get("proxy"):
        try:
            state["proxy"].close()
        except Exception:  # noqa: BLE001 - its loop may be closed already
            pass
    if state.get("pg"):
        try:
            state["pg"].stop_immediate()
        except Exception:  # noqa: BLE001
            pass
    if state.get("tmp"):
        shutil.rmtree(state["tmp"], ignore_errors=True)


def entry():
    state = {"procs": []}
    limit = 300 + SECONDS + 60 + DRAIN_SECONDS + 120  # startup, load, retries, drain, checks

    async def bounded():
        task = asyncio.ensure_future(main(state))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, task.cancel)
        try:
            return await asyncio.wait_for(task, limit)
        finally:
            for proc in state.get("procs", []):
                proc.signal(signal.SIGCONT)
            if state.get("proxy"):
                state["proxy"].close()
                await asyncio.sleep(0.1)

    code = 2
    try:
        code = asyncio.run(bounded())
    except asyncio.CancelledError:
        log("interrupted")
        code = 130
    except asyncio.TimeoutError:
        log(f"the run took longer than its limit of {limit} s")
    except Exception as error:  # noqa: BLE001 - reported, then everything is stopped
        log(f"error: {error}")
    finally:
        cleanup(state)
    sys.exit(code)


if __name__ == "__main__":
    entry()
