#!/usr/bin/env python3
"""PGQueuer's half of scripts/bench-queue.sh (issue 17): drains N no-op jobs with W workers dequeuing batch B.

    DATABASE_URL=postgres://… .venv-bench/bin/python scripts/bench/pgqueuer_drain.py --jobs 20000 --workers 5 --batch 10

Prints as its last line, like flowtalk-bench-queue does:
    RESULT queue=pgqueuer jobs=N workers=W batch=B seconds=S rate=R

Untimed setup, on its own connection: PGQueuer's schema is dropped when present and installed afresh (Queries.uninstall
and Queries.install, what `pgq uninstall` / `pgq install` run; durability "durable", the default: every table logged),
with PGQueuer's recommended autovacuum settings (Queries.optimize_autovacuum, what `pgq autovac` runs); N jobs for the
one entrypoint are enqueued in bulk (Queries.enqueue with lists) and the tables ANALYZEd.

Timed: from the moment the W queue managers start until every one of them has returned, which is after the no-op
entrypoint ran N times and each manager flushed its completion buffer (the DELETE of the finished jobs from the queue
table, with their log rows): every job is then durably done. The queue table is checked to be empty afterwards.

W workers: W QueueManager instances, each on its own asyncpg connection (PGQueuer's docs: a direct connection, not a
pool, for a QueueManager), all in one process under uvloop. That is how PGQueuer's own benchmark realises "5 dequeue
workers, batch size 10" (tools/benchmark.py --dequeue 5 --dequeue-batch-size 10, in its drain strategy too). Each is a
real concurrent dequeuer: its own connection, LISTEN channel and FOR UPDATE SKIP LOCKED dequeue loop. With --processes,
each manager runs in a process of its own instead, as W `pgq run` processes would (no shared event loop or GIL).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from typing import NoReturn

import asyncpg
import uvloop

from pgqueuer import AsyncpgDriver, Job, Queries, QueueManager

ENTRYPOINT = "bench_noop"
ENQUEUE_CHUNK = 5_000
PAYLOAD = b"{}"  # flowtalk-bench-queue enqueues "{}" too


def fail(message: str) -> NoReturn:
    print(f"pgqueuer_drain: error: {message}", file=sys.stderr, flush=True)
    # os._exit: do not wait for managers or connections that may be the reason for the failure.
    os._exit(1)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, required=True, help="N jobs to enqueue and drain")
    parser.add_argument("--workers", type=int, required=True, help="W queue managers")
    parser.add_argument("--batch", type=int, required=True, help="B jobs per dequeue")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds the drain may take (default 600)")
    parser.add_argument("--processes", action="store_true", help="one process per queue manager")
    args = parser.parse_args()
    for name in ("jobs", "workers", "batch"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    return args


async def connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(dsn=url, timeout=30)


async def prepare(url: str, jobs: int) -> None:
    """Fresh PGQueuer schema and N queued jobs (untimed)."""
    connection = await connect(url)
    try:
        queries = Queries(AsyncpgDriver(connection))
        if await queries.schema_is_installed():
            await queries.uninstall()
        await queries.install()
        await queries.optimize_autovacuum()
        enqueued = 0
        while enqueued < jobs:
            chunk = min(ENQUEUE_CHUNK, jobs - enqueued)
            ids = await queries.enqueue([ENTRYPOINT] * chunk, [PAYLOAD] * chunk, [0] * chunk)
            enqueued += len(ids)
        settings = queries.qbe.settings
        await connection.execute(f"ANALYZE {settings.queue_table}, {settings.queue_table_log}")
        queued = await connection.fetchval(f"SELECT count(*) FROM {settings.queue_table} WHERE status = 'queued'")
        if queued != jobs:
            fail(f"{queued} jobs queued after enqueueing {jobs}")
    finally:
        await connection.close()


async def verify(url: str, jobs: int, handled: int) -> None:
    """Every job ran exactly once and none is left in the queue table."""
    if handled != jobs:
        fail(f"the entrypoint ran {handled} times for {jobs} jobs")
    connection = await connect(url)
    try:
        settings = Queries(AsyncpgDriver(connection)).qbe.settings
        left = await connection.fetchval(f"SELECT count(*) FROM {settings.queue_table}")
        done = await connection.fetchval(
            f"SELECT count(*) FROM {settings.queue_table_log} WHERE status = 'successful' AND entrypoint = $1",
            ENTRYPOINT,
        )
    finally:
        await connection.close()
    if left != 0:
        fail(f"{left} jobs still in the queue table after the drain")
    if done != jobs:
        fail(f"{done} jobs logged successful, expected {jobs}")


# W managers in one process (the default).


async def drain_in_tasks(url: str, jobs: int, workers: int, batch: int, timeout: float) -> tuple[float, int]:
    connections = [await connect(url) for _ in range(workers)]
    managers = [QueueManager(Queries(AsyncpgDriver(connection))) for connection in connections]
    handled = 0

    def stop_all() -> None:
        for manager in managers:
            manager.shutdown.set()

    for manager in managers:

        @manager.entrypoint(ENTRYPOINT)
        async def noop(job: Job) -> None:
            nonlocal handled
            handled += 1
            if handled >= jobs:
                stop_all()

    started = time.perf_counter()
    runs = asyncio.gather(*(manager.run(batch_size=batch) for manager in managers))
    try:
        await asyncio.wait_for(runs, timeout=timeout)
    except asyncio.TimeoutError:
        fail(f"timed out after {timeout:g} s with {handled} of {jobs} jobs handled")
    elapsed = time.perf_counter() - started
    for connection in connections:
        await connection.close()
    return elapsed, handled


# W managers in W processes (--processes).


def process_worker(url: str, jobs: int, batch: int, counter, ready, go, finished) -> None:  # type: ignore[no-untyped-def]
    logging.getLogger("pgqueuer").setLevel(logging.WARNING)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        connection = await connect(url)
        manager = QueueManager(Queries(AsyncpgDriver(connection)))

        @manager.entrypoint(ENTRYPOINT)
        async def noop(job: Job) -> None:
            with counter.get_lock():
                counter.value += 1
                total = counter.value
            if total >= jobs:
                finished.set()

        def watch_finished() -> None:
            finished.wait()
            loop.call_soon_threadsafe(manager.shutdown.set)

        threading.Thread(target=watch_finished, daemon=True).start()
        with ready.get_lock():
            ready.value += 1
        await loop.run_in_executor(None, go.wait)
        await manager.run(batch_size=batch)
        await connection.close()

    uvloop.run(main())


def drain_in_processes(url: str, jobs: int, workers: int, batch: int, timeout: float) -> tuple[float, int]:
    context = multiprocessing.get_context("spawn")
    counter = context.Value("q", 0)
    ready = context.Value("i", 0)
    go = context.Event()
    finished = context.Event()
    processes = [
        context.Process(target=process_worker, args=(url, jobs, batch, counter, ready, go, finished), daemon=True)
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    deadline = time.monotonic() + 60
    while ready.value < workers:
        if time.monotonic() > deadline or any(p.exitcode not in (None, 0) for p in processes):
            fail("the worker processes did not start")
        time.sleep(0.01)
    started = time.perf_counter()
    go.set()
    deadline = time.monotonic() + timeout
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.exitcode is None:
            for other in processes:
                other.kill()
            fail(f"timed out after {timeout:g} s with {counter.value} of {jobs} jobs handled")
        if process.exitcode != 0:
            for other in processes:
                other.kill()
            fail(f"a worker process exited with status {process.exitcode}")
    return time.perf_counter() - started, counter.value


def main() -> None:
    args = parse_args()
    url = os.environ.get("DATABASE_URL")
    if not url:
        fail("DATABASE_URL is not set")
    logging.getLogger("pgqueuer").setLevel(logging.WARNING)

    # A backstop for a hang the drain's own timeout does not cover (setup, shutdown, verification).
    def alarm(signum: int, frame: object) -> None:
        fail(f"no result within {args.timeout + 300:.0f} s")

    signal.signal(signal.SIGALRM, alarm)
    signal.alarm(int(args.timeout) + 300)

    try:
        uvloop.run(prepare(url, args.jobs))
        if args.processes:
            elapsed, handled = drain_in_processes(url, args.jobs, args.workers, args.batch, args.timeout)
        else:
            elapsed, handled = uvloop.run(drain_in_tasks(url, args.jobs, args.workers, args.batch, args.timeout))
        uvloop.run(verify(url, args.jobs, handled))
    except (OSError, asyncpg.PostgresError) as error:
        fail(f"{type(error).__name__}: {error}")
    signal.alarm(0)
    print(
        f"RESULT queue=pgqueuer jobs={args.jobs} workers={args.workers} batch={args.batch} "
        f"seconds={elapsed:.3f} rate={args.jobs / elapsed:.1f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
