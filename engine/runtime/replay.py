"""A run's scheduler state as the store holds it: the snapshot plus the events after it.

Owns the one way both executors (the local one, `engine.runtime.executor`, and the distributed
one, `engine.runtime.distributed`) rebuild `RunState` from a `RunRecord`, and how they record
the steps a transition starts. It does not commit anything; the callers do.
"""

from __future__ import annotations

from typing import Any

from engine import scheduler as sched
from engine.plan import Plan
from engine.store.base import RunRecord, Store

SNAPSHOT_EVERY = 64
"""Finished steps between state snapshots; resume replays at most this many events."""

EventRow = tuple[str, str | None, int | None, dict[str, Any]]


async def current_state(store: Store, plan: Plan,
                        record: RunRecord) -> tuple[sched.RunState, int]:
    """The snapshot, with the scheduler events committed after it replayed on top; and how many
    events were read past the snapshot (a caller snapshots again when that grows large)."""
    state = sched.RunState.from_json_dict(record.state)
    events = await store.events(record.run_id, after=record.state_seq)
    for ev in events:
        raw = ev.data.get("event")
        if isinstance(raw, dict):
            state, _ = sched.apply(plan, state, sched.event_from_dict(raw))
    return state, len(events)


def started_events(actions: list[Any]) -> list[EventRow]:
    """The `step_started` rows committed with a transition, one per StartStep it asks for."""
    return [("step_started", a.step, a.attempt, {"delay_s": a.delay_s})
            for a in actions if isinstance(a, sched.StartStep)]
