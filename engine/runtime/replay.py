"""A run's scheduler state as the store holds it: the snapshot plus the events after it.

Owns the one way both executors (the local one, `engine.runtime.executor`, and the distributed
one, `engine.runtime.distributed`) rebuild `RunState` from a `RunRecord`, how they record
the steps a transition starts, and which status the record takes for a state (`run_status`:
a run that waits on answers for steps in doubt is `interrupted`). It does not commit
anything; the callers do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine import scheduler as sched
from engine.errors import StoreError
from engine.plan import Plan
from engine.runtime.driving import interrupted_reason
from engine.store.base import EventRecord, MemoryEntry, RunRecord, RunStatus, Store

SNAPSHOT_EVERY = 64
"""Finished steps between state snapshots; resume replays at most this many events."""

STEPS_PER_REPLAYED_EVENT = 16
"""Replaying one event through the scheduler costs about what writing and reading 16 steps of
a snapshot does (measured: ~30 us against ~2 us a step), so a small plan snapshots sooner."""


def snapshot_due(plan: Plan, replayed: int) -> bool:
    """Whether a commit after `replayed` events past the snapshot should write a new one: every
    `SNAPSHOT_EVERY` events, sooner for plans small enough that a snapshot is cheaper than
    replaying (each reader of the run replays those events again)."""
    return replayed >= min(SNAPSHOT_EVERY, len(plan.steps) // STEPS_PER_REPLAYED_EVENT)

EventRow = tuple[str, str | None, int | None, dict[str, Any]]


async def current_state(store: Store, plan: Plan,
                        record: RunRecord) -> tuple[sched.RunState, int]:
    """The snapshot, with the scheduler events committed after it replayed on top; and how many
    events were read past the snapshot (a caller snapshots again when that grows large)."""
    events = await store.events(record.run_id, after=record.state_seq)
    return replay(plan, record, events), len(events)


async def checked_state(store: Store, plan: Plan,
                        record: RunRecord) -> tuple[sched.RunState, int]:
    """`current_state`, refused (a StoreError) when the run's memory shows that events are
    missing (`check_memory`): what every reader that resumes, re-dispatches or shows a run
    reads, on every executor, so a history cut short is refused the same way everywhere.
    Memory is read before the events: a step that finishes in between is then in the events
    read, not only in memory (read after, a live run would look cut short)."""
    memory = await store.memory(record.run_id)
    state, replayed = await current_state(store, plan, record)
    check_memory(record, state, memory)
    return state, replayed


def replay(plan: Plan, record: RunRecord, events: Sequence[EventRecord]) -> sched.RunState:
    """The snapshot with `events` (those after `record.state_seq`, already read) applied. A
    snapshot or an event that does not fit the run's plan (a store edited by hand, a snapshot
    cut short: read as it is, it would set finished steps back to pending, to run again) is a
    StoreError."""
    index = sched.plan_index(plan)
    try:
        # no snapshot yet (a record's default: none written, none of its events in it): the
        # plan's first state, every event replayed on it, is the run's; a snapshot cut to {}
        # after events were folded into it is not, and is refused below
        state = sched.initial_state(plan, seed=record.run_id) \
            if not record.state and record.state_seq == 0 else \
            sched.RunState.from_json_dict(record.state)
        todo = [sched.event_from_dict(raw) for ev in events
                if isinstance(raw := ev.data.get("event"), dict)]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise _unreplayable(record, f"{type(exc).__name__}: {exc}".splitlines()[0]) from exc
    if set(state.steps) != set(index.steps) or set(state.edges) != set(range(len(plan.edges))):
        raise _unreplayable(record, "its saved state is not of its plan's steps and edges")
    strange = next((step for event in todo if (step := getattr(event, "step", None)) is not None
                    and step not in index.steps), None)
    if strange is not None:
        raise _unreplayable(record, f"an event names {strange!r}, no step of its plan")
    for event in todo:
        state, _ = sched.apply(plan, state, event, index=index)
    return state


_FINISHED = (sched.StepStatus.SUCCEEDED, sched.StepStatus.FAILED)


def check_memory(record: RunRecord, state: sched.RunState,
                 memory: Sequence[MemoryEntry]) -> None:
    """A StoreError if the run's memory holds what a step attempt found while the history
    read back (`state`) has not seen that attempt finish: memory is written in the commit that
    records the finish, so the events that said so are gone (an events table cut short, a
    restore that lost its tail). Read as it is, the history would run that step, and every
    step after it, an approval and the change it let through among them, again."""
    for entry in memory:
        st = state.steps.get(entry.step_id)
        if st is None or st.attempt > entry.attempt or (
                st.attempt == entry.attempt and st.status in _FINISHED):
            continue
        raise _unreplayable(record, f"step {entry.step_id!r} finished attempt {entry.attempt} "
                            "(its result is in the run's memory) but the events that say so "
                            "are missing")


def _unreplayable(record: RunRecord, said: str) -> StoreError:
    return StoreError(f"run {record.run_id}'s history cannot be read back: {said}",
                      hint="Was the store edited by hand? Restore it from a backup; the run "
                      "cannot be resumed as it is")


def started_events(actions: list[Any]) -> list[EventRow]:
    """The `step_started` rows committed with a transition, one per StartStep it asks for."""
    return [("step_started", a.step, a.attempt, {"delay_s": a.delay_s})
            for a in actions if isinstance(a, sched.StartStep)]


def run_status(plan: Plan, state: sched.RunState) -> tuple[RunStatus, str | None]:
    """The record's status and reason for `state`: `interrupted` (resumable, saying which
    flags answer it) when nothing is left to run but steps in doubt, else the state's own."""
    if sched.stalled_on_doubt(plan, state):
        return "interrupted", interrupted_reason(
            [(sid, st.note or f"step '{sid}' is in doubt") for sid, st in state.in_doubt()])
    return ("running" if state.status == "pending" else state.status), state.reason
