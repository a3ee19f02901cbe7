"""A batch of reports -> one commit of a run: the pure half of advancing a run, shared by
the local executor (`engine.runtime.executor`) and by workers (`engine.runtime.distributed`).

Owns how events that reached a run (steps' reports, a cancel, the start) become what is
committed: the scheduler state after them, the event rows to append (each report's row
followed by the `step_started` rows of the steps it started), the memory entries they wrote,
the run's status and reason, whether to snapshot the state, and the actions to take once the
commit has landed (steps to start or cancel); and which of the started steps a worker may
claim for itself in the same commit (`claimable`, its continuation). The commits that are not
a batch of reports are made here too: a run's start (`start_run`), its resumption after its
driver died (`resume_run`), its end for a reason outside the scheduler (`end_run`).

A report the scheduler ignores (stale, a duplicate delivered again, or from a step the run
cancelled) leaves no trace: no row, no memory. A step that one report of a batch starts and a
later one cancels is neither started nor recorded as started.

No I/O and no clock: reading the run, writing the commit, redacting (done before a report is
built: `Report.of`) and acting on the actions are the callers'.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from engine import scheduler as sched
from engine.plan import Plan, Step
from engine.runtime.replay import (
    SNAPSHOT_EVERY,
    STEPS_PER_REPLAYED_EVENT,
    EventRow,
    run_status,
    started_events,
)
from engine.store.base import MemoryEntry, RunStatus
from engine.store.base import Report as Parked

Action = sched.StartStep | sched.CancelStep


def _as_is(data: Any) -> Any:
    return data


class Report(NamedTuple):
    """An event for a run, as its row will be committed: the scheduler event, the row's data
    (the event under "event", then notes for people: summary, duration, worker; redacted
    already) and the memory entries the event writes."""

    event: sched.Event
    data: dict[str, Any]
    memory: Sequence[MemoryEntry] = ()

    @classmethod
    def of(cls, event: sched.Event, data: Mapping[str, Any] | None = None,
           memory: Sequence[MemoryEntry] = (), *,
           redact: Callable[[Any], Any] = _as_is) -> Report:
        """The report of `event` with the notes `data`, its row redacted by `redact`."""
        return cls(event, redact({"event": event.model_dump(mode="json"), **(data or {})}),
                   tuple(memory))

    @classmethod
    def parked(cls, report: Parked) -> Report | None:
        """A report a worker parked in the store (its row as written then); None if its row
        holds no scheduler event."""
        raw = report.data.get("event")
        if not isinstance(raw, dict):
            return None
        return cls(sched.event_from_dict(raw), report.data, tuple(report.memory))

    def row(self) -> EventRow:
        event = self.event
        if isinstance(event, sched.Start | sched.Cancel):
            return (event.type, None, None, self.data)
        return (event.type, event.step, event.attempt, self.data)


class Commit(NamedTuple):
    """What a batch of reports changes in a run: commit it, then act on `actions`."""

    state: sched.RunState
    events: list[EventRow]
    memory: list[MemoryEntry]
    status: RunStatus
    reason: str | None
    snapshot: bool  # write `state` as the run's new snapshot
    actions: list[Action]  # to take once committed, in order
    applied: int  # reports the scheduler took

    @property
    def outcome(self) -> str | None:
        return self.state.outcome

    @property
    def started(self) -> list[sched.StartStep]:
        return [a for a in self.actions if isinstance(a, sched.StartStep)]

    def store_args(self) -> dict[str, Any]:
        """`Store.commit`'s keyword arguments after `expected_version`."""
        return {"state": self.state.to_json_dict() if self.snapshot else None,
                "status": self.status, "outcome": self.state.outcome, "reason": self.reason,
                "events": self.events, "memory": self.memory}


def commit_reports(plan: Plan, state: sched.RunState, reports: Sequence[Report], *,
                   since_snapshot: int = 0, snapshot_every: int = SNAPSHOT_EVERY,
                   index: sched.PlanIndex | None = None) -> Commit | None:
    """`reports` applied one after another to `state` (the run as last committed), as one
    commit; None if the scheduler ignored them all (there is nothing to write).

    The state is snapshotted when the run ends, or once `since_snapshot` (events or reports
    past the run's snapshot before this batch, as the caller counts them) plus the reports
    applied reaches `snapshot_every` (`local_snapshot_every`, `shared_snapshot_every`)."""
    index = index or sched.plan_index(plan)
    first = state
    rows: list[EventRow | sched.StartStep] = []
    memory: list[MemoryEntry] = []
    actions: list[Action] = []
    applied = 0
    unstarted: set[tuple[str, int]] = set()  # started, then cancelled, in this batch
    for report in reports:
        new_state, more = sched.apply(plan, state, report.event, index=index)
        if new_state is state:
            continue  # stale, a duplicate, or a cancelled step's report
        state, applied = new_state, applied + 1
        rows.append(report.row())
        for action in more:
            if isinstance(action, sched.StartStep):
                rows.append(action)
            elif actions and any(isinstance(a, sched.StartStep)
                                 and (a.step, a.attempt) == (action.step, action.attempt)
                                 for a in actions):
                unstarted.add((action.step, action.attempt))
        if unstarted:
            actions = [a for a in actions if not (
                isinstance(a, sched.StartStep) and (a.step, a.attempt) in unstarted)]
        actions += more
        memory += report.memory
    if state is first:
        return None
    events: list[EventRow] = [
        r if not isinstance(r, sched.StartStep)
        else ("step_started", r.step, r.attempt, {"delay_s": r.delay_s})
        for r in rows
        if not isinstance(r, sched.StartStep) or (r.step, r.attempt) not in unstarted]
    status, reason = run_status(plan, state)
    snapshot = state.finished or since_snapshot + applied >= snapshot_every
    return Commit(state, events, memory, status, reason, snapshot, actions, applied)


def start_run(plan: Plan, state: sched.RunState, *,
              redact: Callable[[Any], Any] = _as_is) -> Commit:
    """A run's first commit: `Start` applied to its initial `state`, and the steps it starts;
    snapshotted (the state every later commit's events are replayed onto)."""
    change = commit_reports(plan, state, [Report.of(sched.Start(), redact=redact)])
    if change is None:
        raise ValueError(f"run of {plan.id} was started already")
    return change._replace(snapshot=True)


def resume_run(plan: Plan, state: sched.RunState, reports: Sequence[Report], *,
               waiting: str | None = None, index: sched.PlanIndex | None = None) -> Commit:
    """The commit that resumes a run whose driver died: a `resumed` row, then `reports` (the
    steps it left in doubt, people's answers about steps in doubt) applied one after another,
    then what was in flight started again (`sched.resume`: same attempts; the steps an answer
    re-runs or lets go on among them). With `waiting` (why: a step in doubt has no answer)
    nothing starts and the run stops `interrupted` for that reason. Snapshotted."""
    index = index or sched.plan_index(plan)
    rows: list[EventRow] = [("resumed", None, None, {})]
    applied = 0
    for report in reports:
        new_state, _ = sched.apply(plan, state, report.event, index=index)
        if new_state is state:
            continue
        state, applied = new_state, applied + 1
        rows.append(report.row())
    if waiting is not None:
        rows.append(("interrupted", None, None, {"reason": waiting}))
        return Commit(state, rows, [], "interrupted", waiting, True, [], applied)
    actions = sched.resume(plan, state)
    rows += started_events(actions)
    status, reason = run_status(plan, state)
    return Commit(state, rows, [], status, reason, True, actions, applied)


def end_run(state: sched.RunState, status: RunStatus, reason: str) -> Commit:
    """The commit that ends or stops a run for a reason outside the scheduler (nothing left
    to run, the user's interrupt): a row saying so; snapshotted, nothing to act on."""
    return Commit(state, [(status, None, None, {"reason": reason})], [], status, reason, True,
                  [], 0)


def claimable(plan: Plan, commit: Commit, *, width: int,
              may_run: Callable[[Step], bool]) -> list[sched.StartStep]:
    """The steps `commit` starts that its writer may claim in it and run itself (a worker's
    continuation): those due now (no retry delay) that `may_run` accepts, asked in order, up to
    `width`, while the run goes on."""
    if commit.status != "running":
        return []
    steps = sched.plan_index(plan).steps
    kept: list[sched.StartStep] = []
    for action in commit.started:
        if len(kept) >= width:
            break
        if action.delay_s <= 0 and may_run(steps[action.step]):
            kept.append(action)
    return kept


def local_snapshot_every(plan: Plan) -> int:
    """Reports between snapshots when one process drives the run and keeps its state: a
    snapshot costs O(steps), so a large plan's comes less often (a resume replays at most a
    quarter of its steps' events), and a step's share of it stays small."""
    return max(SNAPSHOT_EVERY, len(plan.steps) // 4)


def shared_snapshot_every(plan: Plan) -> int:
    """Events past the snapshot at which workers write a new one: every reader of the run
    replays them, so a small plan, whose snapshot is cheaper than replaying, snapshots
    sooner (`engine.runtime.replay.snapshot_due`)."""
    return min(SNAPSHOT_EVERY, len(plan.steps) // STEPS_PER_REPLAYED_EVENT)
