"""Linked guides as child runs on Celery workers (real workers, Redis and PostgreSQL).

The worker that executes a call step drives the child run itself, on the local run core:
no task per child step, so a pool whose every slot runs a call step cannot deadlock waiting
for slots. After that worker is SIGKILLed mid-child, the redelivered call step finds the
child, resumes it (its finished steps are not run again, its idempotent in-flight step is
applied exactly once) and the caller ends as on the embedded executor."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from engine.compile import compile_path
from engine.plan import Edge, Plan, Step
from tests.worker.conftest import (
    SPAN,
    Workers,
    assert_exactly_once,
    call_started,
    end,
    ledger,
    make_plan,
    wait_all,
)

GUIDES = Path(__file__).parents[1] / "fixtures" / "guides" / "calls"


async def test_call_steps_run_their_guides_as_child_runs_on_one_single_slot_worker(
        workers: Workers, store, starter) -> None:
    # One worker with one slot, three callers at once: each call step drives its child in
    # the slot it holds, so none waits for a slot another call holds.
    workers.start("w1", concurrency=1)
    plan = compile_path(GUIDES / "parent.md", known_plugins={"shell", "bash"})
    strict = compile_path(GUIDES / "strict.md", known_plugins={"shell", "bash"})
    ids = [f"call-{uuid.uuid4().hex[:10]}" for _ in range(3)]
    for run_id in ids[:2]:
        await starter.start(plan, guide_path="parent.md", run_id=run_id,
                            inputs={"cluster": "prod"})
    await starter.start(strict, guide_path="strict.md", run_id=ids[2],
                        inputs={"cluster": "prod"})

    records = await wait_all(store, ids, timeout=90)

    for record in records[:2]:
        assert (record.status, record.outcome) == ("succeeded", "resolved"), record.reason
        [child] = await store.child_runs(record.run_id)
        assert (child.run_id, child.parent_step, child.status, child.outcome) == (
            f"{record.run_id}.backup", "backup", "succeeded", "resolved")
        memory = {m.key: m.value for m in await store.memory(record.run_id)}
        assert memory["steps.backup"]["outcome"] == "resolved"
        assert {"step": "say", "summary": "exit 0: backup nightly-prod of prod"} in \
            memory["steps.backup"]["findings"]
    # an escalating child fails a call step the guide does not branch on, as locally
    failed = records[2]
    assert failed.status == "failed" and "ended escalate" in (failed.reason or "")


def _call(id: str, key: str) -> Step:
    return Step(id=id, title=f"Run guide: {key}", kind="call", call=key,
                params={"guide": f"{key}.md", "inputs": {}}, source=SPAN)


def _caller() -> tuple[Plan, Plan]:
    child = make_plan([ledger("c1"), ledger("c2", 4.0), ledger("c3"), end()],
                      [Edge(source="c1", target="c2"), Edge(source="c2", target="c3"),
                       Edge(source="c3", target="done")], id="child")
    parent = make_plan([ledger("p1"), _call("backup", "child"), ledger("p2"), end()],
                       [Edge(source="p1", target="backup"), Edge(source="backup", target="p2"),
                        Edge(source="p2", target="done")], id="caller")
    return parent.model_copy(update={"calls": {"child": child}}), child


@pytest.mark.slow
async def test_sigkill_of_the_worker_driving_a_child_resumes_the_child_once(
        workers: Workers, store, starter, worker_env: dict[str, Any]) -> None:
    url = worker_env["MENDFLOW_DATABASE_URL"]
    workers.start("w1", concurrency=2)
    workers.start("w2", concurrency=2)
    parent, child_plan = _caller()
    run_id = f"kill-{uuid.uuid4().hex[:10]}"
    child_id = f"{run_id}.backup"
    await starter.start(parent, guide_path="caller.md", run_id=run_id)

    # When the worker running the child's slow step (so, driving the child) is SIGKILLed
    pid = await call_started(url, f"{child_id}:c2:1")
    killed = workers.kill_group_of(pid)
    workers.start("w3", concurrency=2)

    # Then the call step is redelivered, the child resumed, and both end
    (record,) = await wait_all(store, [run_id], timeout=120)
    assert (record.status, record.outcome) == ("succeeded", "resolved"), record.reason
    children = await store.child_runs(run_id)
    assert [(c.run_id, c.status, c.outcome) for c in children] == [
        (child_id, "succeeded", "resolved")]  # one child: resumed, not started again
    await assert_exactly_once(url, parent, [run_id])
    calls = await assert_exactly_once(url, child_plan, [child_id])
    assert calls[f"{child_id}:c1:1"] == 1  # finished before the kill: not run again
    assert calls[f"{child_id}:c2:1"] == 2  # in flight: run again, applied once
    assert killed in ("w1", "w2")
    events = [e.type for e in await store.events(child_id)]
    assert "resumed" in events
