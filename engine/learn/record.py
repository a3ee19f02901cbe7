"""What an ended run teaches, kept in the store; and read back for the views of a run.

`learn_from_run` is called once a run has ended, by whichever executor ended it (the local
one, or the worker whose commit ended it), and reads everything from the store's record of
the run, so both executors keep the same: the run's failed attempts with their signatures,
the failures of earlier runs that this run's successes fixed (and what had changed), and the
run's root cause. Recording a run again replaces what was kept for it: a run ended twice (a
redelivered task) is counted once.

`run_lessons` is what `show`, the report, the API and the UI show of a run: for each failed
step whose signature is known from other runs, "seen N times since DATE; last fixed by ...",
and the run's root cause (kept, or worked out now for a run that ended before it was kept).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.learn.causes import classify, failed_attempts, needs_cause
from engine.learn.signatures import mask_credentials, of_failure
from engine.plan import Plan
from engine.store.base import (
    EventRecord,
    FailureFix,
    FailureRecord,
    RunCause,
    RunRecord,
    SignatureStats,
    Store,
)

log = logging.getLogger("mendflow.learn")

_ENDED = frozenset({"succeeded", "failed", "cancelled"})
_EARLIER_RUNS = 50
"""Earlier runs whose failures one run may fix (the oldest unfixed first)."""


def failure_records(plan: Plan, record: RunRecord,
                    events: Sequence[EventRecord]) -> list[FailureRecord]:
    """The run's failed attempts with their signatures (messages redacted already; any
    credential the redactor could not know is masked here too)."""
    lines = {s.id: s.source.start for s in plan.steps}
    out: list[FailureRecord] = []
    for attempt in failed_attempts(events):
        message = mask_credentials(attempt.message)
        sig = of_failure(attempt.message)
        out.append(FailureRecord(
            run_id=record.run_id, step_id=attempt.step_id, attempt=attempt.attempt,
            signature=sig.id, pattern=sig.pattern, message=message, guide=record.plan_id,
            guide_path=record.guide_path, plan_hash=record.plan_hash,
            line=lines.get(attempt.step_id), at=attempt.event.at))
    # the same attempt reported twice (a redelivery) is one failure
    return list({(f.step_id, f.attempt): f for f in out}.values())


def succeeded_steps(events: Sequence[EventRecord]) -> dict[str, EventRecord]:
    """The steps that succeeded for real in the run (not in a dry run), by id: the event of
    their first success."""
    out: dict[str, EventRecord] = {}
    for ev in events:
        raw = ev.data.get("event")
        if not isinstance(raw, dict) or ev.step_id is None or ev.step_id in out:
            continue
        if raw.get("type") == "step_succeeded" and raw.get("note") != "dry run":
            out[ev.step_id] = ev
        elif raw.get("type") == "approval" and raw.get("granted"):
            out[ev.step_id] = ev
    return out


def changes(failed: RunRecord, fixed: RunRecord) -> list[str]:
    """What differs between the run a step failed in and the run it later succeeded in."""
    if failed.run_id == fixed.run_id:
        return ["retried in the same run"]
    out: list[str] = []
    was = failed.context.get("inputs") or {}
    now = fixed.context.get("inputs") or {}
    for name in sorted(set(was) | set(now)):
        if was.get(name) != now.get(name):
            out.append(f"input {name}: {_short(was.get(name))} -> {_short(now.get(name))}")
    if failed.plan_hash != fixed.plan_hash:
        out.append(f"guide changed (plan {failed.plan_hash[:12]} -> {fixed.plan_hash[:12]})")
    for what, before, after in (
            ("approved every gate (--yes)", failed.options.assume_yes, fixed.options.assume_yes),
            ("approvals", sorted(failed.options.approvals), sorted(fixed.options.approvals)),
            ("answers", failed.options.answers, fixed.options.answers),
            ("judge", failed.options.judge, fixed.options.judge)):
        if before != after:
            out.append(what if after is True else f"{what}: {_short(before or '-')} -> "
                       f"{_short(after or '-')}")
    replay = fixed.options.replay
    if replay is not None:  # the fix was a replay's intervention (`mendflow replay`)
        out.append(f"replay of run {replay.run_id} from {replay.from_step}: "
                   + ("; ".join(_short(i) for i in replay.interventions) or "no intervention"))
    return out or ["nothing recorded changed (transient, or fixed outside the guide)"]


_UNFAILED = frozenset({"pending", "succeeded", "skipped", "cancelled"})


def _succeeded_if_nothing_failed(record: RunRecord) -> list[str] | None:
    """When the ended run's state says no attempt of any step failed (each step ran once at
    most, and none ended failed or in doubt: a failed attempt is retried, fails its step or
    is taken as failed), the steps it says succeeded, sorted: a superset of those whose
    events say so (an end step, a dry run's or one taken as done are in it too). None when
    it says otherwise, or cannot say (no steps in its state)."""
    steps = (record.state or {}).get("steps")
    if not isinstance(steps, dict) or not steps:
        return None
    succeeded: list[str] = []
    for sid, st in steps.items():
        if not isinstance(st, dict) or st.get("status") not in _UNFAILED \
                or not isinstance(st.get("attempt", 0), int) or st.get("attempt", 0) > 1:
            return None
        if st["status"] == "succeeded":
            succeeded.append(sid)
    return sorted(succeeded)


def _short(value: Any) -> str:
    text = "-" if value is None else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


async def learn_from_run(store: Store, run_id: str, *,
                         plan: Plan | None = None) -> RunCause | None:
    """Keep what the ended run `run_id` teaches (nothing for a run still going); returns its
    root cause (None for a run that needs none). `plan`: the run's plan, where the caller
    holds it (else it is read from the store: a large plan's decoding is a cost per run)."""
    record = await store.get_run(run_id)
    if record.status not in _ENDED:
        return None
    if not needs_cause(record):
        ran = _succeeded_if_nothing_failed(record)
        if ran is not None and not [f for f in await store.unfixed_failures(
                record.plan_id, ran, before=record.created_at) if f.run_id != run_id]:
            # Nothing failed in it, it fixed no earlier failure and needs no cause: it
            # teaches nothing, which its events (every one of them) need not be read to say.
            await store.record_lessons(run_id, failures=[], fixes=[], cause=None)
            return None
    if plan is None:
        plan = await store.load_plan(record.plan_hash)
    events = await store.events(run_id)
    failures = failure_records(plan, record, events)
    succeeded = succeeded_steps(events)
    fixes: list[FailureFix] = []
    for f in failures:  # a later attempt of the same run succeeded: a retry fixed it
        done = succeeded.get(f.step_id)
        if done is not None and done.attempt is not None and done.attempt > f.attempt:
            fixes.append(FailureFix(signature=f.signature, failed_run_id=run_id,
                                    step_id=f.step_id, fixed_run_id=run_id,
                                    changes=changes(record, record), at=done.at))
    earlier = [f for f in await store.unfixed_failures(record.plan_id, sorted(succeeded),
                                                       before=record.created_at)
               if f.run_id != run_id]
    runs: dict[str, RunRecord] = {}
    for f in earlier:
        if f.run_id not in runs:
            if len(runs) >= _EARLIER_RUNS:
                continue
            runs[f.run_id] = await store.get_run(f.run_id)
        fixes.append(FailureFix(signature=f.signature, failed_run_id=f.run_id,
                                step_id=f.step_id, fixed_run_id=run_id,
                                changes=changes(runs[f.run_id], record),
                                at=succeeded[f.step_id].at))
    cause = classify(plan, record, events)
    await store.record_lessons(run_id, failures=failures, fixes=fixes, cause=cause)
    return cause


async def learn_safely(store: Store, run_id: str, *, plan: Plan | None = None) -> None:
    """`learn_from_run`, for an executor ending a run: what it cannot keep is logged, never
    raised (the run has ended as it has, whatever is learnt from it)."""
    try:
        await learn_from_run(store, run_id, plan=plan)
    except Exception as exc:  # noqa: BLE001 - learning must not fail a run
        log.warning("could not keep what run %s teaches: %s", run_id, exc)


@dataclass
class Lessons:
    """What `show`, the report, the API and the UI say of a run beyond its own record."""

    recurring: dict[str, str] = field(default_factory=dict)  # step -> "seen N times ..."
    signatures: dict[str, SignatureStats] = field(default_factory=dict)  # by step
    cause: RunCause | None = None

    def as_json(self) -> dict[str, Any]:
        return {"cause": None if self.cause is None else self.cause.model_dump(mode="json"),
                "recurring": [{"step": step, "signature": stats.signature,
                               "pattern": stats.pattern, "count": stats.count,
                               "first_seen": stats.first_seen.isoformat(),
                               "note": self.recurring[step],
                               "fixes": [f.model_dump(mode="json") for f in stats.fixes]}
                              for step, stats in self.signatures.items()]}


async def run_lessons(store: Store, record: RunRecord, plan: Plan,
                      events: Sequence[EventRecord]) -> Lessons:
    """The run's failures whose signatures other runs of its guide had too, and its root
    cause."""
    lessons = Lessons()
    mine = failure_records(plan, record, events)
    last: dict[str, FailureRecord] = {}
    for f in mine:
        last[f.step_id] = f  # each step's last failure
    if last:
        kept = {(f.step_id, f.attempt) for f in await store.run_failures(record.run_id)}
        stats = {s.signature: s for s in await store.signatures(
            guide=record.plan_id, signatures=sorted({f.signature for f in last.values()}))}
        for step_id, f in last.items():
            known = stats.get(f.signature)
            if known is None:
                continue
            own = sum(1 for g in mine if g.signature == f.signature
                      and (g.step_id, g.attempt) in kept)
            others = known.count - own
            fixes = [x for x in known.fixes if x.failed_run_id != record.run_id
                     or x.fixed_run_id != record.run_id]
            if others <= 0 and not fixes:
                continue  # only this run has it: nothing learnt yet
            shown = known.model_copy(update={"count": max(others, 0), "fixes": fixes})
            lessons.signatures[step_id] = shown
            lessons.recurring[step_id] = shown.describe()
    if needs_cause(record):
        found = await store.run_causes(run_ids=[record.run_id])
        lessons.cause = found[0] if found else classify(plan, record, events)
    return lessons
