r"""Trust, session 25, on Celery workers (real Redis, PostgreSQL and `mendflow worker`s).

1. A run's approval policy is saved with it, and its workers approved its gates by that
   policy alone: resumed (`mendflow resume RUN --mark-failed X`, or through `mendflow serve`)
   after the operator tightened the policy, a Celery run still passed the gates the policy
   no longer names. The local driver has approved, since session 24, only what both the saved
   and the current policy approve; the resume now saves the current one with the run, and a
   worker answers by both.
2. A step the run stopped (the run cancelled, or ended by a sibling branch while the step
   ran) went on running on its worker to its end: a change acting for a run already over,
   its report ignored, the run's record saying it was cancelled. The worker now reads, while
   the step runs, whether the run still runs it, and stops it as the local driver does.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

from engine.interaction import Answers
from engine.plan import Edge, Step
from engine.store.base import RunOptions
from tests.worker.conftest import (
    SPAN,
    Workers,
    call_started,
    end,
    ledger,
    ledger_rows,
    make_plan,
    wait_all,
)


def _restart_else_kill() -> Any:
    """Restart (a change that hangs past its 1 s timeout); if it fails, approve, then kill."""
    steps = [ledger("restart", sleep_s=5, timeout_s=1),
             Step(id="approve-kill", title="approve the kill", kind="approve", source=SPAN),
             ledger("kill"), end(), end("page", "escalate")]
    edges = [Edge(source="restart", target="done"),
             Edge(source="restart", target="approve-kill", on="failure", kind="error"),
             Edge(source="approve-kill", target="kill"),
             Edge(source="approve-kill", target="page", on="failure", kind="error"),
             Edge(source="kill", target="done")]
    return make_plan(steps, edges, id=f"policy-{uuid.uuid4().hex[:6]}")


async def test_a_policy_tightened_before_a_celery_run_is_resumed_holds_on_its_workers(
        workers: Workers, store: Any, starter: Any, worker_env: dict[str, str],
        tmp_path: Path) -> None:
    workers.start("w1")
    # Given a Celery run started under a policy that approves every gate, stopped for a person
    # (its restart timed out; its error path would approve and kill)
    run_id = f"policy-{uuid.uuid4().hex[:10]}"
    await starter.start(_restart_else_kill(), guide_path="t.md", run_id=run_id,
                        options=RunOptions(auto_approve=("*",)))
    (stopped,) = await wait_all(store, [run_id], timeout=60)
    assert stopped.status == "interrupted", stopped.reason
    # When the operator, whose policy now approves no kill, resumes it: the restart failed
    resumed = await starter.settle_in_doubt(run_id, Answers(in_doubt={"restart": "failed"}),
                                            policy_now=("systemctl restart *",))
    assert resumed.status == "running", resumed.reason
    (record,) = await wait_all(store, [run_id], timeout=60)
    # Then the worker did not approve the kill by the policy saved at the start (before: it
    # did, and the kill ran): the gate was not approved, and the run escalated
    effects, _ = await ledger_rows(worker_env["MENDFLOW_DATABASE_URL"], [run_id])
    assert (run_id, "kill") not in effects, record.reason
    assert (record.status, record.outcome) == ("succeeded", "escalate"), record.reason
    assert (await store.get_run(run_id)).options.policy_now == ("systemctl restart *",)


# -- 2. a step the run stopped stops on its worker ----------------------------------------------


def _long_change_beside(sibling: list[Step], edges: list[Edge]) -> Any:
    """`start`, then a change taking 6 s (`long`) beside `sibling`'s steps."""
    steps = [Step(id="start", title="start", kind="query", plugin="probe",
                  params={"sleep_s": 0}, source=SPAN), ledger("long", sleep_s=6), *sibling,
             end()]
    return make_plan(steps, [Edge(source="start", target="long"),
                             Edge(source="long", target="done"), *edges],
                     id=f"stop-{uuid.uuid4().hex[:6]}")


async def _stopped_mid_change(store: Any, url: str, run_id: str, stop: Any) -> tuple[Any, Any]:
    """Wait until `long` is running, `stop` the run, wait for it to end and then as long as
    `long` would have taken: the run's record, and the ledger's effects."""
    await call_started(url, f"{run_id}:long:1")
    await stop()
    (record,) = await wait_all(store, [run_id], timeout=30)
    await asyncio.sleep(7)  # `long` would have applied its effect by now
    effects, _ = await ledger_rows(url, [run_id])
    return record, effects


async def test_a_step_of_a_cancelled_celery_run_stops_on_its_worker(
        workers: Workers, store: Any, starter: Any, worker_env: dict[str, str]) -> None:
    workers.start("w1")
    url = worker_env["MENDFLOW_DATABASE_URL"]
    run_id = f"stop-{uuid.uuid4().hex[:10]}"
    await starter.start(_long_change_beside([], []), guide_path="t.md", run_id=run_id)
    # When the run is cancelled while its change runs
    record, effects = await _stopped_mid_change(
        store, url, run_id, lambda: starter.cancel(run_id, "cancelled by the test"))
    # Then the change stopped on its worker (before: it ran to its end, for a cancelled run)
    assert record.status == "cancelled", record.reason
    assert (run_id, "long") not in effects, effects


async def test_a_step_of_a_celery_run_a_sibling_ended_stops_on_its_worker(
        workers: Workers, store: Any, starter: Any, worker_env: dict[str, str]) -> None:
    workers.start("w1")
    url = worker_env["MENDFLOW_DATABASE_URL"]
    run_id = f"stop-{uuid.uuid4().hex[:10]}"
    # Given a sibling branch that escalates 1 s after the change began
    page = [Step(id="look", title="look", kind="query", plugin="probe", params={"sleep_s": 1},
                 source=SPAN), end("page", "escalate")]
    plan = _long_change_beside(page, [Edge(source="start", target="look"),
                                      Edge(source="look", target="page")])
    await starter.start(plan, guide_path="t.md", run_id=run_id)

    async def ended() -> None:  # by the sibling, not by the test
        await wait_all(store, [run_id], timeout=30)

    record, effects = await _stopped_mid_change(store, url, run_id, ended)
    assert (record.status, record.outcome) == ("succeeded", "escalate"), record.reason
    assert (run_id, "long") not in effects, effects
