"""`DistributedRunner` in one process, without Celery: the PostgreSQL fast path (`begin_step`,
one-statement commits, `commit_locked`) and the generic path any `Store` takes (SQLite here)
must drive a run to the same end, each step reported once, whatever order tasks arrive in.

Tasks go to a list instead of a broker and are executed in a shuffled order, several at once,
so that sibling steps finish together and their commits race.
"""

from __future__ import annotations

import asyncio
import os
import random
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from engine.plan import Edge, Step
from engine.plugins import Registry
from engine.runtime.distributed import DistributedRunner, Outcome
from engine.runtime.services import Services
from engine.settings import Settings
from engine.store.base import RunOptions, Store
from engine.store.postgres import PostgresStore
from engine.store.sqlite import SqliteStore
from tests.worker.conftest import ADMIN_URL, chain_plan, end, make_plan


class ListDispatcher:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, int]] = []

    async def dispatch(self, *, run_id: str, step_id: str, attempt: int, delay_s: float,
                       queue: str | None) -> None:
        self.sent.append((run_id, step_id, attempt))


def fan_plan(width: int) -> Any:
    """start -> width no-op branches -> join -> done (the join waits for all of them)."""
    noop = [Step(id=f"b{i:02d}", title="b", kind="command", source=end().source)
            for i in range(width)]
    steps = [Step(id="start", title="s", kind="command", source=end().source), *noop,
             Step(id="join", title="j", kind="command", source=end().source), end()]
    edges = [Edge(source="start", target=b.id) for b in noop]
    edges += [Edge(source=b.id, target="join") for b in noop]
    edges.append(Edge(source="join", target="done"))
    return make_plan(steps, edges, id=f"fan-{width}")


@pytest.fixture(params=["postgres", "sqlite"])
async def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        store: Store = SqliteStore(tmp_path / "runs.db")
        await store.open()
        yield store
        await store.close()
        return
    schema = f"mf_runner_{uuid.uuid4().hex[:10]}"
    async with PostgresStore(os.environ.get("MENDFLOW_TEST_DATABASE_URL", ADMIN_URL),
                             schema=schema, max_size=8) as pg:
        yield pg
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await conn.close()


async def drive(runners: list[DistributedRunner], sent: list[tuple[str, str, int]],
                seed: int) -> list[Outcome]:
    """Execute every dispatched task, a shuffled batch at a time, concurrently, each task on
    another runner (another worker process: one task at a time each, as prefork runs them)."""
    rng, outcomes = random.Random(seed), []
    while sent:
        batch = sent[:]
        sent.clear()
        rng.shuffle(batch)
        batch += batch[: len(batch) // 3]  # and some duplicates, as at-least-once delivery does
        for start in range(0, len(batch), len(runners)):
            chunk = batch[start:start + len(runners)]
            results = await asyncio.gather(*(runner.execute(*task)
                                             for runner, task in zip(runners, chunk)))
            outcomes += [r.outcome for r in results]
    return outcomes


@pytest.mark.parametrize("plan", [fan_plan(12), chain_plan(5)], ids=["fan", "chain"])
async def test_both_store_paths_finish_runs_with_each_step_reported_once(
        any_store: Store, plan: Any) -> None:
    if any(s.plugin for s in plan.steps):  # the chain's ledger steps need the worker plugin
        plan = plan.model_copy(update={"steps": [
            s.model_copy(update={"plugin": None, "mutating": False}) for s in plan.steps]})
    dispatcher = ListDispatcher()
    runners = [DistributedRunner(Services(store=any_store, registry=Registry(discover=False),
                                          settings=Settings()),
                                 dispatcher=dispatcher, owner=f"w{i}")
               for i in range(8)]
    run_ids = [f"r{i}-{uuid.uuid4().hex[:6]}" for i in range(3)]
    for run_id in run_ids:
        await runners[0].start(plan, guide_path="t.md", run_id=run_id)
    # When the tasks of three runs arrive shuffled, concurrently, some of them twice
    outcomes = await drive(runners, dispatcher.sent, seed=7)
    # Then every run succeeds, and every step was reported (and ran) exactly once
    tasks = [s.id for s in plan.steps if s.kind != "end"]
    assert outcomes.count(Outcome.RAN) == len(tasks) * len(run_ids)
    assert set(outcomes) <= {Outcome.RAN, Outcome.DUPLICATE, Outcome.DEFERRED, Outcome.RUN_OVER}
    for run_id in run_ids:
        record = await any_store.get_run(run_id)
        assert (record.status, record.outcome) == ("succeeded", "resolved"), record.reason
        events = await any_store.events(run_id)
        reported = sorted(e.step_id for e in events if e.type == "step_succeeded")
        assert reported == sorted(tasks)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))


def gated_plan() -> Any:
    """start -> approve-fix (an approval gate) -> fix -> done."""
    span = end().source
    steps = [Step(id="start", title="s", kind="command", source=span),
             Step(id="approve-fix", title="Approve: fix", kind="approve", source=span),
             Step(id="fix", title="fix", kind="command", source=span), end()]
    edges = [Edge(source="start", target="approve-fix"), Edge(source="approve-fix", target="fix"),
             Edge(source="fix", target="done")]
    return make_plan(steps, edges, id="gated")


@pytest.mark.parametrize("policy", [("approve-*",), ()], ids=["policy", "no-policy"])
async def test_the_starters_approval_policy_is_saved_with_the_run_and_used_by_workers(
        any_store: Store, policy: tuple[str, ...]) -> None:
    dispatcher = ListDispatcher()
    runners = [DistributedRunner(Services(store=any_store, registry=Registry(discover=False),
                                          settings=Settings()),
                                 dispatcher=dispatcher, owner=f"w{i}")
               for i in range(2)]
    run_id = f"g-{uuid.uuid4().hex[:6]}"
    # the operator's `auto_approve` policy reaches the worker that meets the gate
    await runners[0].start(gated_plan(), guide_path="t.md", run_id=run_id,
                           options=RunOptions(auto_approve=policy))
    await drive(runners[1:], dispatcher.sent, seed=3)
    record = await any_store.get_run(run_id)
    assert record.options.auto_approve == policy
    events = await any_store.events(run_id)
    ran = {e.step_id for e in events if e.type == "step_succeeded"}
    if policy:
        assert (record.status, record.outcome) == ("succeeded", "resolved"), record.reason
        assert "fix" in ran
    else:  # nobody approved it: the change never ran
        assert "fix" not in ran and record.outcome != "resolved"
