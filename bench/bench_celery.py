"""Mendflow on Celery against raw Celery, measured in one run on this machine; prints ratios.

1. per-step handoff: a raw Celery task that publishes the next one (the floor) vs Mendflow's
   finish -> advance (commit) -> next step starts, on chains of no-op steps; median and p99;
2. makespan of a 20-step parallel plan with 100 ms steps vs its critical path;
3. steps per second, 200 concurrent runs of a 20-step parallel plan on 2 workers, vs raw
   Celery no-op throughput on the same workers and broker.

Needs the local PostgreSQL and Redis (as the tests do). Starts its own `celery worker`
processes (with this module included, for the hop task and the sleep plugin) on a fresh
database and queue, and removes them at the end.
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, ClassVar

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
ADMIN_URL = os.environ.get("MENDFLOW_TEST_DATABASE_URL",
                           "postgresql://postgres@127.0.0.1:5432/test")
DB_NAME = os.environ.setdefault("BENCH_DB", f"mf_bench_{uuid.uuid4().hex[:8]}")
QUEUE = os.environ.setdefault("BENCH_QUEUE", f"mf-bench-{uuid.uuid4().hex[:6]}")
os.environ.update({
    "MENDFLOW_DATABASE_URL": ADMIN_URL.rsplit("/", 1)[0] + f"/{DB_NAME}",
    "MENDFLOW_BROKER_URL": os.environ.get("BENCH_BROKER", "redis://127.0.0.1:6379/14"),
    "MENDFLOW_DEFAULT_QUEUE": QUEUE,
    "MENDFLOW_WORKER_PLUGINS": "bench_celery:SleepPlugin",
    "MENDFLOW_DATA_DIR": tempfile.mkdtemp(prefix="mf-bench-"),
})

import asyncpg  # noqa: E402
import redis  # noqa: E402
from pydantic import BaseModel  # noqa: E402

from engine import scheduler as sched  # noqa: E402
from engine.plan import Edge, Plan, SourceInfo, Span, Step  # noqa: E402
from engine.plugins import Registry, StepContext, StepResult  # noqa: E402
from engine.settings import Settings  # noqa: E402
from worker import app as worker_app  # noqa: E402

SPAN = Span(start=1, end=1)
r = redis.Redis.from_url(os.environ["MENDFLOW_BROKER_URL"])


@worker_app.app.task(name="bench.hop")
def hop(remaining: int, key: str) -> None:
    """A raw Celery handoff: note the time, publish the next hop."""
    r.rpush(key, time.time())
    if remaining > 0:
        hop.apply_async((remaining - 1, key), queue=QUEUE)


class SleepParams(BaseModel):
    sleep_s: float = 0.1


class SleepPlugin:
    name: ClassVar[str] = "sleep"
    Params = SleepParams
    read_only = True
    supports_dry_run = True

    async def run(self, *, params: SleepParams, ctx: StepContext) -> StepResult:
        await asyncio.sleep(params.sleep_s)
        return StepResult(summary="slept")


def step(id: str, plugin: str | None = None, **params: Any) -> Step:
    return Step(id=id, title=id, kind="command", plugin=plugin, params=params, source=SPAN)


def plan(steps: list[Step], edges: list[Edge], id: str) -> Plan:
    steps.append(Step(id="done", title="done", kind="end", outcome="resolved", source=SPAN))
    return Plan(id=id, title=id, compiler="bench/1", source=SourceInfo(path="b.md",
                sha256="0" * 64), entry=steps[0].id, steps=steps, edges=edges)


def chain(n: int) -> Plan:
    steps = [step(f"s{i:02d}") for i in range(n)]
    edges = [Edge(source=a.id, target=b.id) for a, b in zip(steps, steps[1:])]
    return plan(steps, edges + [Edge(source=steps[-1].id, target="done")], "chain")


def parallel(width: int, plugin: str | None = None, **params: Any) -> Plan:
    first = step("start", plugin, **params)
    branches = [step(f"b{i:02d}", plugin, **params) for i in range(width)]
    edges = [Edge(source="start", target=b.id) for b in branches]
    edges += [Edge(source=b.id, target="done") for b in branches]
    return plan([first, *branches], edges, f"parallel-{width}")


class Workers:
    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, n: int, concurrency: int) -> None:
        env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'bench'}"}
        for i in range(n):
            log = open(Path(os.environ["MENDFLOW_DATA_DIR"]) / f"w{len(self.procs)}.log", "wb")
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "worker.app", "worker",
                 "--include", "bench_celery", f"--concurrency={concurrency}", "-Q", QUEUE,
                 "-n", f"bench{len(self.procs)}@%h", "--without-gossip", "--without-mingle",
                 "--loglevel=WARNING"], cwd=ROOT, env=env, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True))
        time.sleep(4 + concurrency * 0.3)  # pool processes open their store pools

    def stop(self) -> None:
        for p in self.procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(p.pid, signal.SIGKILL)
        self.procs.clear()


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def wait_runs(store: Any, ids: list[str]) -> list[Any]:
    while True:
        records = [await store.get_run(i) for i in ids]
        if all(x.status != "running" for x in records):
            return records
        await asyncio.sleep(0.05)


async def raw_hops(chains: int, length: int) -> list[float]:
    deltas: list[float] = []
    for _ in range(chains):
        key = f"bench:{uuid.uuid4().hex}"
        hop.apply_async((length - 1, key), queue=QUEUE)
        while r.llen(key) < length:
            await asyncio.sleep(0.01)
        times = [float(x) for x in r.lrange(key, 0, -1)]
        r.delete(key)
        deltas += [b - a for a, b in zip(times, times[1:])]
    return deltas


async def mendflow_hops(runner: Any, store: Any, chains: int, length: int) -> list[float]:
    deltas: list[float] = []
    p = chain(length)
    for _ in range(chains):
        rec = await runner.start(p, guide_path="b.md", run_id=uuid.uuid4().hex)
        await wait_runs(store, [rec.run_id])
        times = [e.at.timestamp() for e in await store.events(rec.run_id)
                 if e.type == "step_succeeded"]
        deltas += [b - a for a, b in zip(times, times[1:])]
    return deltas


async def raw_throughput(n: int) -> float:
    key = f"bench:{uuid.uuid4().hex}"
    t0 = time.perf_counter()
    for _ in range(n):
        hop.apply_async((0, key), queue=QUEUE)
    while r.llen(key) < n:
        await asyncio.sleep(0.01)
    r.delete(key)
    return n / (time.perf_counter() - t0)


async def main() -> None:
    from engine.runtime.distributed import DistributedRunner
    from engine.store.postgres import PostgresStore
    from worker.dispatch import CeleryDispatcher

    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f"CREATE DATABASE {DB_NAME}")
    workers = Workers()
    store = PostgresStore(os.environ["MENDFLOW_DATABASE_URL"], max_size=8)
    await store.open()
    dispatcher = CeleryDispatcher(worker_app.step, default_queue=QUEUE)
    runner = DistributedRunner(store=store, registry=Registry(discover=False),
                               settings=Settings(), dispatcher=dispatcher)
    try:
        workers.start(2, concurrency=2)
        await raw_hops(1, 10)
        await mendflow_hops(runner, store, 1, 5)  # warm up both paths
        raw = await raw_hops(5, 30)
        mf = await mendflow_hops(runner, store, 5, 30)
        print("1. per-step handoff, chains of no-op steps (2 workers x 2 processes)")
        print(f"   raw Celery hop      median {statistics.median(raw) * 1e3:7.2f} ms   "
              f"p99 {pct(raw, 0.99) * 1e3:7.2f} ms   (n={len(raw)})")
        print(f"   Mendflow handoff    median {statistics.median(mf) * 1e3:7.2f} ms   "
              f"p99 {pct(mf, 0.99) * 1e3:7.2f} ms   (n={len(mf)})")
        print(f"   ratio Mendflow/raw  median {statistics.median(mf) / statistics.median(raw):.2f}x"
              f"   p99 {pct(mf, 0.99) / pct(raw, 0.99):.2f}x   (target: within 2x)")

        wide = parallel(200 // 10 - 2)
        raw_rate = await raw_throughput(4000)
        ids = [uuid.uuid4().hex for _ in range(200)]
        t0 = time.perf_counter()
        await asyncio.gather(*(runner.start(wide, guide_path="b.md", run_id=i) for i in ids))
        records = await wait_runs(store, ids)
        elapsed = time.perf_counter() - t0
        ran = 200 * (len(wide.steps) - 1)  # the end step is not a task
        assert {x.status for x in records} == {"succeeded"}
        print("3. throughput, 200 concurrent runs of a 20-step parallel plan (2 workers x 2)")
        print(f"   raw Celery no-op    {raw_rate:8.0f} tasks/s")
        print(f"   Mendflow            {ran / elapsed:8.0f} steps/s   ratio "
              f"{(ran / elapsed) / raw_rate:.2f}x of raw")
        workers.stop()

        workers.start(2, concurrency=10)
        slow = parallel(18, "sleep", sleep_s=0.1)
        _, cp = sched.critical_path(slow, {s.id: 0.1 for s in slow.steps if s.plugin})
        spans = []
        for _ in range(6):
            rec = await runner.start(slow, guide_path="b.md", run_id=uuid.uuid4().hex)
            await wait_runs(store, [rec.run_id])
            events = await store.events(rec.run_id)
            spans.append(events[-1].at.timestamp() - events[0].at.timestamp())
        span = statistics.median(spans[1:])
        print("2. makespan, 20-step parallel plan with 100 ms steps (2 workers x 10)")
        print(f"   critical path {cp * 1e3:.0f} ms, median makespan {span * 1e3:.0f} ms: "
              f"{span / cp:.2f}x (target: within 1.10x)")
    finally:
        workers.stop()
        dispatcher.close()
        await store.close()
        await admin.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
