"""`mendflow replay` on both executors: a run that failed for want of an approval, replayed
from its approval gate, is turned around; the change before the gate is not made again (the
ledger counts every execution of a step), and the change after it still needs its approval."""

from __future__ import annotations

import uuid

from engine.runtime import intervene
from engine.store.base import RunOptions, RunRecord
from tests.worker import test_both_executors as both
from tests.worker.conftest import ledger_rows
from tests.worker.test_both_executors import Harness, gated_plan

on = both.on  # the fixture: each test runs on the local executor and on Celery workers


async def _replay(on: Harness, original: RunRecord, from_step: str,
                  options: RunOptions) -> tuple[RunRecord, intervene.Verdict]:
    prepared = await intervene.prepare(on.store, original.run_id, from_step=from_step,
                                       sets=intervene.parse_sets([]))
    executor = on.build(options)
    run_id = f"{on.kind}-replay-{uuid.uuid4().hex[:8]}"
    record = await on.within_ledger(executor.start(
        prepared.plan, guide_path=prepared.guide_path, inputs=prepared.inputs,
        alert=prepared.alert, options=options.model_copy(update={"replay": prepared.replay}),
        run_id=run_id))
    found = await intervene.conclude(on.store, record.run_id)
    assert found is not None
    return record, found


async def test_a_replay_from_the_gate_turns_the_run_around_without_redoing_what_came_before(
        on: Harness) -> None:
    url = on.worker_env["MENDFLOW_DATABASE_URL"]
    original = await on.run(gated_plan(f"replay-{on.kind}"))
    assert original.status == "failed" and "approval needed" in (original.reason or "")

    # No approval again: the change after the gate is not made; it is asked for, as always.
    denied, same = await _replay(on, original, "approve-fix", RunOptions())
    assert denied.options.executor == on.kind
    assert denied.status == "failed" and "approval needed" in (denied.reason or "")
    assert not same.changed and same.outcome_to == "failed"

    # Approved this time: resolved; `look` (a change made before the gate) is reused.
    fixed, verdict = await _replay(on, original, "approve-fix",
                                   RunOptions(approvals=("approve-fix",)))
    assert (fixed.status, fixed.outcome) == ("succeeded", "resolved"), fixed.reason
    assert (verdict.outcome_from, verdict.outcome_to, verdict.changed) == (
        "failed", "resolved", True)
    assert verdict.first_step == "approve-fix"
    assert verdict.what.startswith("failed -> succeeded")
    effects, _ = await ledger_rows(url, [original.run_id, denied.run_id, fixed.run_id])
    assert effects == {(original.run_id, "look"): 1, (fixed.run_id, "fix"): 1}
    events = await on.store.events(fixed.run_id)
    look = [e for e in events if e.step_id == "look" and e.type == "step_succeeded"]
    assert look and look[0].data["replayed"]["how"] == "reused"
    # the verdict is stored with both runs
    assert [v.replay_run for v in intervene.verdicts(await on.store.events(original.run_id))
            ] == [denied.run_id, fixed.run_id]
    assert [v.line() for v in intervene.verdicts(events)] == [verdict.line()]
