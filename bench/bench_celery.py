"""Mendflow on Celery against raw Celery, measured in one run on this machine; prints ratios.

1. per-step handoff: a raw Celery task that publishes the next one (the floor) vs Mendflow's
   finish -> advance (commit) -> next step starts, on chains of no-op steps; median and p99.
   A worker continues a chain itself (the commit claims the next step: no broker hop).
   Target: median <= 1.5x the raw hop;
2. makespan of a 20-step parallel plan with 100 ms steps vs its critical path, and how long
   raw Celery itself takes to start 18 tasks published at once on the same workers.
   Target: <= 1.10x the critical path;
3. steps per second, 200 concurrent runs of a 20-step parallel plan on 2 workers, vs raw
   Celery no-op throughput on the same workers and broker. Target: >= 0.6x.

Needs the local PostgreSQL and Redis (as the tests do). Starts its own `celery worker`
processes (with this module included, for the hop task and the sleep plugin) on a fresh
database and queue, and removes them at the end. `--repeat N` (default 3) repeats each
measure and prints every repetition and the median of them; `--only handoff,throughput,makespan`
runs some of them.

Waiting for runs polls PostgreSQL with one query for all of them (not one `get_run` each: 200
of those every 50 ms competed with the workers for the database and the two cores).
"""

from __future__ import annotations

import argparse
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
from engine.plugins import PluginBase, Registry, StepContext, StepResult  # noqa: E402
from engine.runtime.services import Services  # noqa: E402
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


class SleepPlugin(PluginBase):
    name: ClassVar[str] = "sleep"
    Params = SleepParams
    read_only = True

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

    def start(self, n: int, concurrency: int, pool: str = "prefork") -> None:
        env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'bench'}"}
        if pool == "threads":  # the tasks of a process share one event loop and its pool
            env["MENDFLOW_DB_POOL_SIZE"] = str(concurrency)
        for i in range(n):
            log = open(Path(os.environ["MENDFLOW_DATA_DIR"]) / f"w{len(self.procs)}.log", "wb")
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "worker.app", "worker",
                 "--include", "bench_celery", f"--concurrency={concurrency}", "-Q", QUEUE,
                 f"--pool={pool}",
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


async def wait_runs(db: asyncpg.Connection, ids: list[str]) -> dict[str, str]:
    """Statuses of the runs once none is running (one query per poll)."""
    while True:
        rows = await db.fetch("SELECT run_id, status FROM runs WHERE run_id = any($1)", ids)
        if len(rows) == len(ids) and all(r["status"] != "running" for r in rows):
            return {r["run_id"]: r["status"] for r in rows}
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


async def mendflow_hops(runner: Any, store: Any, db: asyncpg.Connection, chains: int,
                        length: int) -> list[float]:
    deltas: list[float] = []
    p = chain(length)
    for _ in range(chains):
        rec = await runner.start(p, guide_path="b.md", run_id=uuid.uuid4().hex)
        await wait_runs(db, [rec.run_id])
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


async def raw_fanout(width: int, runs: int) -> list[float]:
    """Raw Celery's own fan-out on the same workers: `width` no-op tasks published at once
    (one Redis round trip, as the worker publishes a fan-out); per run, how long after the
    publish began the last of them started. The makespan's floor beyond the critical path."""
    lasts = []
    for _ in range(runs):
        key = f"bench:{uuid.uuid4().hex}"
        t0 = time.time()
        with worker_app.app.producer_or_acquire() as producer, producer.batch():
            for _ in range(width):
                hop.apply_async((0, key), queue=QUEUE, producer=producer)
        while r.llen(key) < width:
            await asyncio.sleep(0.005)
        lasts.append(max(float(x) for x in r.lrange(key, 0, -1)) - t0)
        r.delete(key)
        await asyncio.sleep(0.2)
    return lasts


def med(values: list[float]) -> float:
    return statistics.median(values)


async def makespan(runner: Any, store: Any, db: asyncpg.Connection, slow: Plan,
                   runs: int) -> tuple[list[float], list[dict[str, float]]]:
    """Makespans (first to last event of a run), and where the time went in each run."""
    spans, parts = [], []
    for _ in range(runs):
        rec = await runner.start(slow, guide_path="b.md", run_id=uuid.uuid4().hex)
        await wait_runs(db, [rec.run_id])
        events = await store.events(rec.run_id)
        t0 = events[0].at.timestamp()
        done = {e.step_id: e for e in events if e.type == "step_succeeded"}
        first = done["start"]
        branches = [e for sid, e in done.items() if sid != "start"]
        fanned = first.at.timestamp()
        ends = sorted(e.at.timestamp() - fanned for e in branches)
        spans.append(events[-1].at.timestamp() - t0)
        parts.append({
            "start step": first.at.timestamp() - t0,  # its dispatch, run (100 ms) and commit
            "first branch": ends[0],  # after the fan-out commit
            "last branch": ends[-1],
            "branch overheads (median)": med([  # handoff + commit, beyond its 100 ms
                e.at.timestamp() - fanned - e.data["duration_s"] for e in branches]),
        })
    return spans, parts


async def main() -> None:
    from engine.runtime.distributed import DistributedRunner
    from engine.store.postgres import PostgresStore
    from worker.dispatch import CeleryDispatcher

    args = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    args.add_argument("--repeat", type=int, default=3, help="repetitions of each measure")
    args.add_argument("--only", default="handoff,throughput,makespan",
                      help="which measures, comma-separated")
    args.add_argument("--slow-concurrency", type=int, default=10,
                      help="slots per worker (2 workers) for the 100 ms makespan plan")
    opts = args.parse_args()
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f"CREATE DATABASE {DB_NAME}")
    await admin.close()  # a connection idle for the whole run may be gone by its end
    workers = Workers()
    store = PostgresStore(os.environ["MENDFLOW_DATABASE_URL"], max_size=8)
    await store.open()
    db = await asyncpg.connect(os.environ["MENDFLOW_DATABASE_URL"])
    dispatcher = CeleryDispatcher(worker_app.step, default_queue=QUEUE)
    runner = DistributedRunner(Services(store=store, registry=Registry(discover=False),
                                        settings=Settings()), dispatcher=dispatcher)
    try:
        only = set(opts.only.split(","))
        if only & {"handoff", "throughput"}:
            workers.start(2, concurrency=2)
        if "handoff" in only:
            await raw_hops(1, 10)
            await mendflow_hops(runner, store, db, 1, 5)  # warm up both paths
            raws, mfs = [], []
            print("1. per-step handoff, chains of 30 no-op steps (2 workers x 2 processes)")
            for rep in range(opts.repeat):
                raw = await raw_hops(5, 30)
                mf = await mendflow_hops(runner, store, db, 5, 30)
                raws.append((med(raw), pct(raw, 0.99)))
                mfs.append((med(mf), pct(mf, 0.99)))
                print(f"   rep {rep + 1}: raw median {med(raw) * 1e3:6.2f} ms p99 "
                      f"{pct(raw, 0.99) * 1e3:6.2f} ms | Mendflow median {med(mf) * 1e3:6.2f} ms "
                      f"p99 {pct(mf, 0.99) * 1e3:6.2f} ms (n={len(mf)} each)")
            raw_m, raw_p = med([x[0] for x in raws]), med([x[1] for x in raws])
            mf_m, mf_p = med([x[0] for x in mfs]), med([x[1] for x in mfs])
            print(f"   median of reps: raw {raw_m * 1e3:.2f} / {raw_p * 1e3:.2f} ms, Mendflow "
                  f"{mf_m * 1e3:.2f} / {mf_p * 1e3:.2f} ms; ratio median {mf_m / raw_m:.2f}x, "
                  f"p99 {mf_p / raw_p:.2f}x (target: median within 1.5x)")

        if "throughput" in only:
            wide = parallel(200 // 10 - 2)
            ran = 200 * (len(wide.steps) - 1)  # the end step is not a task
            raw_rates, mf_rates = [], []
            print("3. throughput, 200 concurrent runs of a 20-step parallel plan (2 workers x 2)")
            for rep in range(opts.repeat):
                raw_rate = await raw_throughput(4000)
                ids = [uuid.uuid4().hex for _ in range(200)]
                t0 = time.perf_counter()
                await asyncio.gather(*(runner.start(wide, guide_path="b.md", run_id=i)
                                       for i in ids))
                statuses = await wait_runs(db, ids)
                elapsed = time.perf_counter() - t0
                assert set(statuses.values()) == {"succeeded"}
                raw_rates.append(raw_rate)
                mf_rates.append(ran / elapsed)
                print(f"   rep {rep + 1}: raw Celery no-op {raw_rate:6.0f} tasks/s | Mendflow "
                      f"{ran / elapsed:6.0f} steps/s")
            print(f"   median of reps: raw {med(raw_rates):.0f} tasks/s, Mendflow "
                  f"{med(mf_rates):.0f} steps/s, ratio {med(mf_rates) / med(raw_rates):.2f}x "
                  "(target: at least 0.6x)")
        workers.stop()

        if "makespan" in only:
            slow = parallel(18, "sleep", sleep_s=0.1)
            _, cp = sched.critical_path(slow, {s.id: 0.1 for s in slow.steps if s.plugin})
            n = opts.slow_concurrency
            for pool, what in (("prefork", f"2 workers x {n} processes"),
                               ("threads", f"2 worker processes x {n} threads, one loop each")):
                workers.start(2, concurrency=n, pool=pool)
                print(f"2. makespan, 20-step parallel plan with 100 ms steps, --pool={pool}: "
                      f"{what} ({2 * n} slots for 18 parallel steps)")
                await makespan(runner, store, db, slow, 1)  # warm up every pool process
                await raw_fanout(18, 2)
                fanout = await raw_fanout(18, 5 * opts.repeat)
                print(f"   raw Celery: 18 no-op tasks published at once, the last starts "
                      f"{med(fanout) * 1e3:.1f} ms after (median of {len(fanout)})")
                reps, breakdown = [], []
                for rep in range(opts.repeat):
                    spans, parts = await makespan(runner, store, db, slow, 5)
                    reps.append(med(spans))
                    breakdown += parts
                    print(f"   rep {rep + 1}: median makespan {med(spans) * 1e3:.0f} ms")
                span = med(reps)
                print(f"   critical path {cp * 1e3:.0f} ms, median makespan {span * 1e3:.0f} ms: "
                      f"{span / cp:.2f}x (target: within 1.10x)")
                print("   where it goes (medians, ms): " + ", ".join(
                    f"{k} {med([p[k] for p in breakdown]) * 1e3:.1f}" for k in breakdown[0]))
                workers.stop()
    finally:
        workers.stop()
        dispatcher.close()
        await store.close()
        await db.close()
        admin = await asyncpg.connect(ADMIN_URL)
        await admin.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
