"""Real processes for the distributed tests: a throw-away PostgreSQL database, a unique Celery
queue on the local Redis, and `mendflow worker` processes started (and reaped) by the tests.

Every worker runs in its own session (process group) so that a test can SIGKILL one whole
worker, pool processes included, and the teardown leaves no orphan. Timings are shortened by
settings (leases, the reconciler), never by sleeping less in the code under test.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from engine.plan import Edge, Plan, SourceInfo, Span, Step
from engine.runtime.services import Services
from engine.settings import Settings
from engine.store.postgres import PostgresStore
from tests.worker.plugins import SCHEMA

ROOT = Path(__file__).resolve().parents[2]
ADMIN_URL = os.environ.get("MENDFLOW_TEST_DATABASE_URL",
                           "postgresql://postgres@127.0.0.1:5432/test")
REDIS_HOST = "127.0.0.1:6379"
SPAN = Span(start=1, end=1)


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.fixture(scope="session")
def database() -> Iterator[str]:
    name = f"mf_worker_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(ADMIN_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def schema(url: str) -> None:
        conn = await asyncpg.connect(url)
        try:
            for sql in SCHEMA:
                await conn.execute(sql)
        finally:
            await conn.close()

    _run(admin(f"CREATE DATABASE {name}"))
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    _run(schema(url))
    yield url
    _run(admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture(scope="session")
def worker_env(database: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    queue = f"mf-test-{uuid.uuid4().hex[:8]}"
    redis_db = 1 + uuid.uuid4().int % 15
    env = {
        "MENDFLOW_DATABASE_URL": database,
        "MENDFLOW_BROKER_URL": f"redis://{REDIS_HOST}/{redis_db}",
        "MENDFLOW_DEFAULT_QUEUE": queue,
        "MENDFLOW_DATA_DIR": str(tmp_path_factory.mktemp("data")),
        "MENDFLOW_DEFAULT_TIMEOUT_S": "10",
        "MENDFLOW_LEASE_GRACE_S": "2",
        "MENDFLOW_VISIBILITY_TIMEOUT_S": "30",
        "MENDFLOW_RECONCILE_EVERY_S": "2",
        "MENDFLOW_STALL_AFTER_S": "5",
        "MENDFLOW_MAX_DELIVERIES": "2",
        "MENDFLOW_WORKER_PLUGINS": "tests.worker.plugins:LedgerPlugin,"
                                   "tests.worker.plugins:EffectPlugin,"
                                   "tests.worker.plugins:ProbePlugin,"
                                   "tests.worker.plugins:CrashPlugin",
        "MENDFLOW_TEST_LEDGER_URL": database,
    }
    # This process dispatches too: worker.app reads its settings once, at import. Set them for
    # that import only, so that no other test's subprocess inherits them.
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        import worker.app  # noqa: F401
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return env


class Workers:
    """`mendflow worker` processes, each in its own process group, logs under tmp."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *, concurrency: int = 2, queues: str | None = None,
              wait: bool = True, args: tuple[str, ...] = ()) -> subprocess.Popen[bytes]:
        log = self.logs / f"{name}-{len(self.procs)}.log"
        argv = [sys.executable, "-m", "engine.cli", "worker", f"--concurrency={concurrency}",
                f"--queues={queues or self.env['MENDFLOW_DEFAULT_QUEUE']}", *args]
        proc = subprocess.Popen(argv, cwd=ROOT, env=self.env,
                                stdout=log.open("wb"), stderr=subprocess.STDOUT,
                                start_new_session=True)
        proc.log = log  # type: ignore[attr-defined]
        self.procs[name] = proc
        if wait:
            self.wait_ready(proc)
        return proc

    def wait_ready(self, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = proc.log.read_text(errors="replace")  # type: ignore[attr-defined]
            if " ready." in text:
                return
            if proc.poll() is not None:
                raise AssertionError(f"worker exited {proc.returncode}:\n{text[-3000:]}")
            time.sleep(0.1)
        raise AssertionError("worker not ready:\n" + proc.log.read_text()[-3000:])  # type: ignore

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs[name]
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)

    def kill_group_of(self, pid: int) -> str:
        """SIGKILL the whole worker whose pool process `pid` is; returns its name."""
        pgid = os.getpgid(pid)
        for name, proc in self.procs.items():
            if proc.pid == pgid:
                self.kill(name)
                return name
        raise AssertionError(f"pid {pid} belongs to no worker of this test")

    def stop_all(self) -> None:
        for name, proc in list(self.procs.items()):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=15)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # pool processes left behind, if any
            except ProcessLookupError:
                pass
            proc.wait(timeout=15)
        self.procs.clear()


@pytest.fixture
def workers(worker_env: dict[str, str], tmp_path: Path) -> Iterator[Workers]:
    w = Workers(worker_env, tmp_path)
    yield w
    w.stop_all()


@pytest.fixture
async def store(worker_env: dict[str, str]) -> AsyncIterator[PostgresStore]:
    async with PostgresStore(worker_env["MENDFLOW_DATABASE_URL"], reconnect_s=60) as store:
        yield store


@pytest.fixture
async def starter(store: PostgresStore, worker_env: dict[str, str]) -> AsyncIterator[Any]:
    """A DistributedRunner in the test process, dispatching through Celery like the CLI."""
    from engine.plugins import Registry
    from engine.runtime.distributed import DistributedRunner
    from worker import app as worker_app
    from worker.dispatch import CeleryDispatcher

    dispatcher = CeleryDispatcher(worker_app.step,
                                  default_queue=worker_env["MENDFLOW_DEFAULT_QUEUE"])
    yield DistributedRunner(Services(store=store, registry=Registry(discover=False),
                                     settings=Settings()), dispatcher=dispatcher)
    dispatcher.close()


# -- plans -----------------------------------------------------------------------------------


def ledger(id: str, sleep_s: float = 0.0, **kw: Any) -> Step:
    return Step(id=id, title=id, kind="command", plugin="ledger", mutating=True,
                params={"sleep_s": sleep_s}, source=SPAN, **kw)


def end(id: str = "done", outcome: str = "resolved") -> Step:
    return Step(id=id, title=id, kind="end", outcome=outcome, source=SPAN)


def make_plan(steps: list[Step], edges: list[Edge], id: str = "dist") -> Plan:
    return Plan(id=id, title=id, compiler="test/1",
                source=SourceInfo(path="test.md", sha256="0" * 64), entry=steps[0].id,
                steps=steps, edges=edges)


def parallel_plan(width: int, sleep_s: float = 0.0, **kw: Any) -> Plan:
    """start -> width branches in parallel -> done."""
    branches = [ledger(f"b{i:02d}", sleep_s, **kw) for i in range(width)]
    edges = [Edge(source="start", target=b.id) for b in branches]
    edges += [Edge(source=b.id, target="done") for b in branches]
    return make_plan([ledger("start", sleep_s, **kw), *branches, end()], edges,
                     id=f"parallel-{width}")


def chain_plan(length: int, sleep_s: float = 0.0, **kw: Any) -> Plan:
    steps = [ledger(f"s{i:02d}", sleep_s, **kw) for i in range(length)]
    edges = [Edge(source=a.id, target=b.id) for a, b in zip(steps, steps[1:])]
    edges.append(Edge(source=steps[-1].id, target="done"))
    return make_plan([*steps, end()], edges, id=f"chain-{length}")


async def wait_all(store: PostgresStore, run_ids: list[str], timeout: float) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        records = [await store.get_run(r) for r in run_ids]
        if all(r.status != "running" for r in records):
            return records
        if time.monotonic() > deadline:
            stuck = [(r.run_id, r.status, r.reason) for r in records if r.status == "running"]
            raise AssertionError(f"{len(stuck)} runs still running: {stuck[:5]}")
        await asyncio.sleep(0.25)


async def ledger_rows(url: str, run_ids: list[str]) -> tuple[dict[tuple[str, str], int],
                                                              dict[str, int]]:
    """Effects per (run, step), and calls per idempotency key, for these runs."""
    conn = await asyncpg.connect(url)
    try:
        effects = await conn.fetch("SELECT run_id, step_id, count(*) AS n FROM ledger WHERE "
                                   "run_id = any($1) GROUP BY run_id, step_id", run_ids)
        calls = await conn.fetch("SELECT key, count(*) AS n FROM calls WHERE "
                                 "split_part(key, ':', 1) = any($1) GROUP BY key", run_ids)
    finally:
        await conn.close()
    return ({(r["run_id"], r["step_id"]): r["n"] for r in effects},
            {r["key"]: r["n"] for r in calls})


async def assert_exactly_once(url: str, plan: Plan, run_ids: list[str]) -> dict[str, int]:
    """Every mutating step of every run applied its effect exactly once; returns the calls."""
    effects, calls = await ledger_rows(url, run_ids)
    expected = {(r, s.id) for r in run_ids for s in plan.steps if s.plugin == "ledger"}
    assert set(effects) == expected, f"missing {sorted(expected - set(effects))[:5]}"
    assert {k: n for k, n in effects.items() if n != 1} == {}
    return calls


async def call_started(url: str, key: str, timeout: float = 60) -> int:
    """Wait until the ledger step with idempotency key `key` has started (its call is noted);
    the pid of the process running it."""
    conn = await asyncpg.connect(url)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid = await conn.fetchval("SELECT pid FROM calls WHERE key = $1 LIMIT 1", key)
            if pid is not None:
                return int(pid)
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    raise AssertionError(f"{key} never started")
