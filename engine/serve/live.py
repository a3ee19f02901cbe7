"""What the web UI pushes: Server-Sent Events made by polling the store.

A run's stream reads the run's row, the events committed since the last look and its pending
questions, every `interval_s`; the scheduler state is rebuilt (the snapshot with its events
replayed, `engine.runtime.replay`) only when there are new events. Because it reads the store,
it works whichever `serve` process (or Celery worker) drives the run.

It sends, as `event: NAME` with a JSON `data:` line:

- `step`  `{"id", "status"}` for each step whose status changed (all of them first); a step
  that waits on a person's answer has the status `asking`;
- `run`   `{"status", "outcome", "reason"}` when the run's status changed (first, always);
- `questions` `{"pending": [step ids]}` when the set of pending questions changed;
- `straggler` `{"step", "attempt", "elapsed_s", "p50_s", "p99_s", "n", "plugin"}` once for
  each step flagged as a straggler (`engine.stragglers`: it worked past the p99 of its own
  history; the process running it noted it in the run's events, on either executor);
- `end`   once the run is over, and the stream closes.

The run list's stream sends `runs` first and whenever the newest runs' statuses change. A
stream that is not over closes after `STREAM_MAX_S` and the browser reconnects. Neither owns
any state beyond one request: `changes` is pure.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from engine.plan import Plan
from engine.runtime.replay import current_state
from engine.store.base import Store
from engine.stragglers import flagged

KEEPALIVE_S = 15.0
STREAM_MAX_S = 30.0
"""A stream closes after this long and the browser's EventSource opens it again (a run's
stream starts with the whole state, the list's with `runs`): no connection is held so long
that it delays a server's shutdown or pins a dead proxy path."""


@dataclass(frozen=True)
class Seen:
    """One look at a run: what the UI shows of it."""

    status: str
    outcome: str | None
    reason: str | None
    steps: dict[str, str] = field(default_factory=dict)
    pending: tuple[str, ...] = ()
    stragglers: dict[str, dict[str, Any]] = field(default_factory=dict)  # flagged, by step


def changes(before: Seen | None, after: Seen) -> list[tuple[str, dict[str, Any]]]:
    """The events that take a page showing `before` (None: nothing yet) to `after`."""
    out: list[tuple[str, dict[str, Any]]] = []
    if before is None or (before.status, before.outcome) != (after.status, after.outcome):
        out.append(("run", {"status": after.status, "outcome": after.outcome,
                            "reason": after.reason}))
    for step, status in after.steps.items():
        if before is None or before.steps.get(step) != status:
            out.append(("step", {"id": step, "status": status}))
    if before is None or before.pending != after.pending:
        out.append(("questions", {"pending": list(after.pending)}))
    for step, flag in after.stragglers.items():
        if before is None or before.stragglers.get(step) != flag:
            out.append(("straggler", flag))
    return out


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


class RunWatch:
    """Looks at one run, re-reading its scheduler state only when new events arrived."""

    def __init__(self, store: Store, run_id: str) -> None:
        self.store = store
        self.run_id = run_id
        self._plan: Plan | None = None
        self._last_seq = -1
        self._steps: dict[str, str] = {}
        self._stragglers: dict[str, dict[str, Any]] = {}

    async def look(self) -> Seen:
        record = await self.store.get_run(self.run_id)
        if self._plan is None:
            self._plan = await self.store.load_plan(record.plan_hash)
        fresh = await self.store.events(self.run_id, after=max(self._last_seq, 0))
        if fresh or self._last_seq < 0 or record.status != "running":
            state, _ = await current_state(self.store, self._plan, record)
            self._steps = {step.id: str(state.steps[step.id].status)
                           if step.id in state.steps else "pending"
                           for step in self._plan.steps}
            if fresh:
                self._last_seq = fresh[-1].seq
                self._stragglers.update((step, flag.to_json())
                                        for step, flag in flagged(fresh).items())
            self._last_seq = max(self._last_seq, 0)
        pending = tuple(sorted(q.step_id for q in
                               await self.store.questions(run_id=self.run_id)))
        steps = {s: ("asking" if s in pending and status == "running" else status)
                 for s, status in self._steps.items()}
        return Seen(status=record.status, outcome=record.outcome, reason=record.reason,
                    steps=steps, pending=pending, stragglers=dict(self._stragglers))


async def run_events(store: Store, run_id: str, *, interval_s: float,
                     disconnected: Callable[[], Awaitable[bool]],
                     max_s: float = STREAM_MAX_S) -> AsyncIterator[str]:
    """The run's stream: its state first, then each change, until the run ends, the client
    goes away or `max_s` passed."""
    watch = RunWatch(store, run_id)
    deadline = asyncio.get_running_loop().time() + max_s
    yield "retry: 2000\n\n"
    before: Seen | None = None
    quiet = 0.0
    while True:
        after = await watch.look()
        sent = changes(before, after)
        for name, data in sent:
            yield sse(name, data)
        before = after
        if after.status != "running":
            yield sse("end", {"status": after.status, "outcome": after.outcome})
            return
        quiet = 0.0 if sent else quiet + interval_s
        if quiet >= KEEPALIVE_S:  # a comment line keeps proxies from closing an idle stream
            yield ": keepalive\n\n"
            quiet = 0.0
        await asyncio.sleep(interval_s)
        if await disconnected() or asyncio.get_running_loop().time() >= deadline:
            return


async def runs_events(store: Store, *, interval_s: float, limit: int,
                      disconnected: Callable[[], Awaitable[bool]],
                      max_s: float = STREAM_MAX_S) -> AsyncIterator[str]:
    """The run list's stream: `runs` first (the page may have missed a change while it
    connected), then whenever the newest runs or their statuses change."""
    deadline = asyncio.get_running_loop().time() + max_s
    yield "retry: 3000\n\n"
    before: list[tuple[str, str, str | None]] | None = None
    quiet = 0.0
    while True:
        now = [(r.run_id, str(r.status), r.outcome)
               for r in await store.list_runs(limit=limit)]
        if now != before:
            yield sse("runs", {"count": len(now)})
            before = now
            quiet = 0.0
        else:
            quiet += interval_s
        if quiet >= KEEPALIVE_S:
            yield ": keepalive\n\n"
            quiet = 0.0
        await asyncio.sleep(interval_s)
        if await disconnected() or asyncio.get_running_loop().time() >= deadline:
            return
