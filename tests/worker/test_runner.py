"""`DistributedRunner` in one process, without Celery: on either store that workers can share
(PostgreSQL and SQLite, each a `SharedStore`: `begin_step`, one-transaction commits that park a
lost race's report, `commit_locked`) it must drive a run to the same end, each step reported
once, whatever order tasks arrive in.

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

from engine.errors import StoreError
from engine.plan import Edge, Step
from engine.plugins import Registry
from engine.runtime.distributed import Continuation, DistributedRunner, Outcome
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

    async def flush(self) -> None:
        self.flushes = getattr(self, "flushes", 0) + 1


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


def test_a_store_workers_cannot_share_is_refused_with_a_one_line_error() -> None:
    class Plain:  # a store with none of what distributed execution needs
        def __repr__(self) -> str:
            return "Plain()"

    with pytest.raises(StoreError, match=r"Plain\(\) cannot be shared by workers"):
        DistributedRunner(Services(store=Plain(), registry=Registry(discover=False),  # type: ignore[arg-type]
                                   settings=Settings()), dispatcher=ListDispatcher())


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


@pytest.mark.parametrize("policy", [("*",), ()], ids=["policy", "no-policy"])
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


# -- continuation: a worker runs the steps its own commits start -----------------------------


def noop_chain(length: int, queue: str | None = None, at: int = -1) -> Any:
    """s00 -> s01 -> ... -> done, no-op steps; step `at` routed to `queue`."""
    span = end().source
    steps = [Step(id=f"s{i:02d}", title="s", kind="command", source=span,
                  queue=queue if i == at else None) for i in range(length)]
    edges = [Edge(source=a.id, target=b.id) for a, b in zip(steps, steps[1:])]
    edges.append(Edge(source=steps[-1].id, target="done"))
    return make_plan([*steps, end()], edges, id=f"nchain-{length}-{at}")


def continuing(store: Store, dispatcher: ListDispatcher, owner: str, *, max_steps: int = 100,
               max_s: float = 60.0, width: int = 1) -> DistributedRunner:
    return DistributedRunner(Services(store=store, registry=Registry(discover=False),
                                      settings=Settings()),
                             dispatcher=dispatcher, owner=owner,
                             continuation=Continuation(max_steps=max_steps, max_s=max_s,
                                                       width=width))


def default_queue(step: Step) -> bool:
    return step.queue is None  # this worker serves the default queue only


async def test_a_chain_continues_on_the_worker_that_ran_its_first_step(any_store: Store) -> None:
    dispatcher = ListDispatcher()
    worker = continuing(any_store, dispatcher, "w1")
    run_id = f"c-{uuid.uuid4().hex[:6]}"
    await worker.start(noop_chain(6), guide_path="t.md", run_id=run_id)
    assert dispatcher.sent == [(run_id, "s00", 1)]  # the starter publishes the entry step
    dispatcher.sent.clear()
    # When one task is delivered, for the first step
    result = await worker.execute(run_id, "s00", 1, here=default_queue)
    # Then the same task ran the whole chain: nothing else was published
    assert (result.outcome, result.detail) == (Outcome.RAN, "and 5 more step(s) here")
    assert dispatcher.sent == []
    record = await any_store.get_run(run_id)
    assert (record.status, record.outcome) == ("succeeded", "resolved"), record.reason
    events = await any_store.events(run_id)
    done = [e for e in events if e.type == "step_succeeded"]
    assert [e.step_id for e in done] == [f"s{i:02d}" for i in range(6)]
    assert {e.data["worker"] for e in done} == {"w1"}
    # one commit per step: each step's report and the start of the next are one version apart
    assert record.version == 1 + 6
    # and each continued step was claimed, and its start counted, as a delivered one is
    for i in range(1, 6):
        assert not await any_store.claim_step(run_id, f"s{i:02d}", 1, "w2", lease_s=30)
        assert not await any_store.claim_step(run_id, f"s{i:02d}#run1", 1, "w2")
    # a redelivery of a continued step does nothing
    assert (await worker.execute(run_id, "s03", 1)).outcome == Outcome.RUN_OVER


@pytest.mark.parametrize("max_steps,max_s,ran_here", [(2, 60.0, 3), (100, 0.0, 1)],
                         ids=["steps", "seconds"])
async def test_continuation_stops_at_its_bound_and_publishes_the_next_step(
        any_store: Store, max_steps: int, max_s: float, ran_here: int) -> None:
    dispatcher = ListDispatcher()
    worker = continuing(any_store, dispatcher, "w1", max_steps=max_steps, max_s=max_s)
    run_id = f"b-{uuid.uuid4().hex[:6]}"
    await worker.start(noop_chain(6), guide_path="t.md", run_id=run_id)
    dispatcher.sent.clear()
    # When a task continues a chain, bounded to a number of steps or a time
    await worker.execute(run_id, "s00", 1, here=default_queue)
    # Then it stops at the bound and publishes the next step for any worker to take
    assert dispatcher.sent == [(run_id, f"s{ran_here:02d}", 1)]
    events = await any_store.events(run_id)
    assert [e.step_id for e in events if e.type == "step_succeeded"] == [
        f"s{i:02d}" for i in range(ran_here)]
    # which another worker claims as usual (nothing holds it) and continues to the end
    other = continuing(any_store, ListDispatcher(), "w2")
    result = await other.execute(*dispatcher.sent[0], here=default_queue)
    assert result.outcome == Outcome.RAN
    record = await any_store.get_run(run_id)
    assert (record.status, record.outcome) == ("succeeded", "resolved")


async def test_a_step_routed_to_another_queue_is_published_not_continued(
        any_store: Store) -> None:
    dispatcher = ListDispatcher()
    worker = continuing(any_store, dispatcher, "w1")
    run_id = f"q-{uuid.uuid4().hex[:6]}"
    await worker.start(noop_chain(4, queue="cell7", at=2), guide_path="t.md", run_id=run_id)
    dispatcher.sent.clear()
    await worker.execute(run_id, "s00", 1, here=default_queue)
    # s01 continued here; s02 belongs to the cell's queue: published, and not claimed
    assert dispatcher.sent == [(run_id, "s02", 1)]
    assert await any_store.claim_step(run_id, "s02", 1, "cell-worker", lease_s=30)
    events = await any_store.events(run_id)
    assert [e.step_id for e in events if e.type == "step_succeeded"] == ["s00", "s01"]


async def test_a_fan_out_continues_one_branch_and_publishes_the_others_at_once(
        any_store: Store) -> None:
    dispatcher = ListDispatcher()
    worker = continuing(any_store, dispatcher, "w1")
    run_id = f"f-{uuid.uuid4().hex[:6]}"
    await worker.start(fan_plan(4), guide_path="t.md", run_id=run_id)
    dispatcher.sent.clear()
    await worker.execute(run_id, "start", 1, here=default_queue)
    # b00 ran here; the other branches were published, and flushed before b00 ran
    assert sorted(dispatcher.sent) == [(run_id, f"b{i:02d}", 1) for i in range(1, 4)]
    assert dispatcher.flushes >= 1
    events = await any_store.events(run_id)
    assert [e.step_id for e in events if e.type == "step_succeeded"] == ["start", "b00"]
    # the others, and then the join, run on other workers (here without continuation)
    outcomes = await drive([continuing(any_store, dispatcher, f"w{i}") for i in range(2, 5)],
                           dispatcher.sent, seed=5)
    assert outcomes.count(Outcome.RAN) == 3 + 1
    record = await any_store.get_run(run_id)
    assert (record.status, record.outcome) == ("succeeded", "resolved"), record.reason


@pytest.mark.parametrize("width,max_steps,published", [(3, 100, 1), (8, 100, 0), (8, 2, 2)],
                         ids=["width-3", "width-8", "steps-2"])
async def test_a_wider_continuation_runs_several_branches_together_within_its_bounds(
        any_store: Store, width: int, max_steps: int, published: int) -> None:
    dispatcher = ListDispatcher()
    worker = continuing(any_store, dispatcher, "w1", width=width, max_steps=max_steps)
    run_id = f"w-{uuid.uuid4().hex[:6]}"
    await worker.start(fan_plan(4), guide_path="t.md", run_id=run_id)
    dispatcher.sent.clear()
    await worker.execute(run_id, "start", 1, here=default_queue)
    # Up to `width` branches (and no more than `max_steps` steps) ran here, the others were
    # published (and the join, when the branch that made it ready had lost the race to commit
    # to a sibling: the report was parked, and the run's applier dispatches what it starts)
    branches = [s for _, s, _ in dispatcher.sent if s != "join"]
    assert len(branches) == published
    events = await any_store.events(run_id)
    ran = [e.step_id for e in events if e.type == "step_succeeded"]
    assert ran[0] == "start" and len([s for s in ran if s.startswith("b")]) == 4 - published
    await drive([continuing(any_store, dispatcher, "w2")], dispatcher.sent, seed=1)
    record = await any_store.get_run(run_id)
    assert (record.status, record.outcome) == ("succeeded", "resolved"), record.reason
    events = await any_store.events(run_id)
    assert sorted(e.step_id for e in events if e.type == "step_succeeded") == sorted(
        ["start", "join", "b00", "b01", "b02", "b03"])


async def test_branches_that_finish_together_here_are_committed_together_none_parked(
        any_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker that continues a fan-out runs its branches at once; they finish together. The
    first commits alone; the others, finished while it committed, are committed as one
    against the run as that commit left it (group commit): none loses a compare-and-set to
    its own sibling, so none is parked and applied again under the run's lock."""
    parked: list[str] = []
    real = any_store.commit_or_park  # type: ignore[attr-defined]

    async def counting(run_id: str, **kw: Any) -> Any:
        got = await real(run_id, **kw)
        if got[0] is None:
            parked.append(kw["events"][0][1])
        return got

    monkeypatch.setattr(any_store, "commit_or_park", counting)
    dispatcher = ListDispatcher()
    worker = continuing(any_store, dispatcher, "w1", width=32)
    run_id = f"g-{uuid.uuid4().hex[:6]}"
    await worker.start(fan_plan(12), guide_path="t.md", run_id=run_id)
    dispatcher.sent.clear()
    await worker.execute(run_id, "start", 1, here=default_queue)
    assert parked == []
    # the join is continued here too when the last branch committed alone, else published
    assert [s for _, s, _ in dispatcher.sent] in (["join"], [])
    await drive([continuing(any_store, dispatcher, "w2")], dispatcher.sent, seed=1)
    record = await any_store.get_run(run_id)
    assert (record.status, record.outcome) == ("succeeded", "resolved"), record.reason
    events = await any_store.events(run_id)
    assert sorted(e.step_id for e in events if e.type == "step_succeeded") == sorted(
        ["start", "join", *(f"b{i:02d}" for i in range(12))])  # each once


async def test_runs_of_one_guide_started_together_read_its_step_history_once(
        any_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    # The history (up to 200 past runs' durations per step, and their quantiles) was read
    # once per run per worker process: 200 runs starting together read it 200 times.
    reads: list[str] = []
    real = any_store.step_durations

    async def counting(plan_id: str, **kw: Any) -> dict[str, list[float]]:
        reads.append(plan_id)
        return await real(plan_id, **kw)

    monkeypatch.setattr(any_store, "step_durations", counting)
    dispatcher = ListDispatcher()
    worker = continuing(any_store, dispatcher, "w1")
    ids = [f"h-{uuid.uuid4().hex[:6]}" for _ in range(5)]
    for run_id in ids:
        await worker.start(noop_chain(2), guide_path="t.md", run_id=run_id)
    for task in dispatcher.sent:  # in the order they were started, as a broker delivers
        await worker.execute(*task, here=default_queue)
    for run_id in ids:
        assert (await any_store.get_run(run_id)).status == "succeeded"
    assert reads == [noop_chain(2).id]
