"""A run in which nothing failed: what it teaches is said from its state, without reading its
events (a 1,000-step run has two thousand), unless it fixed an earlier run's failure."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from engine.learn.record import learn_from_run
from engine.store.base import FailureRecord
from engine.store.sqlite import SqliteStore
from tests.engine.store.contract import T0, make_plan, make_run


def _ended(run_id: str, steps: dict[str, dict[str, Any]], *, at: Any = T0) -> Any:
    return make_run(run_id, created_at=at).model_copy(update={
        "status": "succeeded", "outcome": "resolved",
        "state": {"version": 1, "status": "succeeded", "steps": steps, "edges": {}}})


async def _learn(store: SqliteStore, run_id: str) -> int:
    """Learn from the run; how many times its events were read."""
    reads = 0
    events = store.events

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal reads
        reads += 1
        return await events(*args, **kwargs)

    store.events = counted  # type: ignore[method-assign]
    try:
        await learn_from_run(store, run_id, plan=make_plan())
    finally:
        del store.events
    return reads


async def test_a_run_where_nothing_failed_is_learnt_from_without_its_events(
        tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "m.sqlite3") as store:
        await store.create_run(_ended("clean", {"check": {"status": "succeeded", "attempt": 1},
                                                "clean": {"status": "skipped", "attempt": 0}}))
        assert await _learn(store, "clean") == 0
        assert await store.run_failures("clean") == []


async def test_a_run_that_fixed_an_earlier_failure_or_retried_reads_its_events(
        tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "m.sqlite3") as store:
        await store.create_run(_ended("before", {"check": {"status": "failed", "attempt": 1}}))
        failure = FailureRecord(run_id="before", step_id="check", attempt=1, signature="0" * 12,
                                pattern="df: failed", message="df: failed", guide="disk-full",
                                at=T0)
        await store.record_lessons("before", failures=[failure], fixes=[], cause=None)
        later = T0 + timedelta(hours=1)
        await store.create_run(_ended("after", {"check": {"status": "succeeded", "attempt": 1}},
                                      at=later))
        await store.commit("after", expected_version=0, state=None, status="succeeded",
                           outcome="resolved", events=[("step_succeeded", "check", 1, {
                               "event": {"type": "step_succeeded", "step": "check",
                                         "attempt": 1}})])
        assert await _learn(store, "after") == 1
        assert await store.unfixed_failures("disk-full", ["check"], before=later) == []

        await store.create_run(_ended("retried", {"check": {"status": "succeeded",
                                                            "attempt": 2}}, at=later))
        assert await _learn(store, "retried") == 1
