"""Cancelling a run that another `mendflow serve` process drives: through the store.

Several `serve` processes behind a load balancer share one store, and a request (a `resolved`
notification, an operator's cancel) reaches any of them, not necessarily the one that drives
the run (the local executor's driver holds the run's lease in its own process). So a cancel
of a run not driven here is a committed note on the run's events (`cancel_asked`, with why,
who and from where: `ask`); every process watches the runs it drives (`CancelWatch`) and,
seeing such a note, cancels the run in its driver as if asked there: steps in flight stop,
the plan's clean-up steps run, the run ends `cancelled`.

A run resumed later does not act on a cancel asked before its resume (the watch starts after
the run's last event then): a resume is a later, deliberate word.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from engine.runtime.services import Executor
from engine.store.base import Store

log = logging.getLogger("mendflow.serve")

CANCEL_ASKED = "cancel_asked"
POLL_S = 1.0


async def ask(store: Store, run_id: str, *, reason: str, by: str, source: str = "") -> int:
    """Note the cancel on the run (committed: its driver, in any process, sees it)."""
    return await store.add_note(run_id, CANCEL_ASKED,
                                {"reason": reason, "by": by, "source": source})


@dataclass
class _Watched:
    executor: Executor
    seen: int | None  # the last event looked at; None: not yet (start after the last one)
    done: bool = False


class CancelWatch:
    """Looks for `cancel_asked` notes on the runs this process drives, every `poll_s`: one
    store query a look for all of them (`Store.notes_after`), reading only the notes and what
    each run wrote since the last look, not each run's events."""

    def __init__(self, store: Store, poll_s: float = POLL_S) -> None:
        self.store = store
        self.poll_s = poll_s
        self._runs: dict[str, _Watched] = {}
        self._poller: asyncio.Task[None] | None = None

    def watch(self, run_id: str, executor: Executor, *, from_start: bool) -> None:
        """`from_start`: a run started here (any cancel noted on it counts); else a resumed
        run (only cancels noted from now on)."""
        self._runs[run_id] = _Watched(executor, 0 if from_start else None)
        if self._poller is None or self._poller.done():
            self._poller = asyncio.get_running_loop().create_task(self._poll(),
                                                                  name="serve:cancels")

    def forget(self, run_id: str) -> None:
        self._runs.pop(run_id, None)

    async def _poll(self) -> None:
        while self._runs:
            try:
                await self._look()
            except Exception as exc:  # the store is away a moment: looked at next time
                log.warning("cannot read the cancel requests of %d run(s): %s",
                            len(self._runs), exc)
            await asyncio.sleep(self.poll_s)

    async def _look(self) -> None:
        looking = {run_id: watched for run_id, watched in self._runs.items()
                   if not watched.done}  # a run cancelled here acts on no later cancel
        found = await self.store.notes_after(
            CANCEL_ASKED, {run_id: watched.seen or 0 for run_id, watched in looking.items()})
        for run_id, (last_seq, notes) in found.items():
            watched = looking[run_id]
            if self._runs.get(run_id) is not watched:  # forgotten (or watched anew) meanwhile
                continue
            resumed = watched.seen is None  # a resumed run: what was asked before is past
            watched.seen = last_seq
            if resumed:
                continue
            for event in notes:
                data: dict[str, Any] = event.data
                reason = str(data.get("reason") or "cancelled")
                log.info("run %s: cancel asked through the store by %s: %s", run_id,
                         data.get("by", "?"), reason)
                if watched.executor.cancel(reason):
                    watched.done = True
                    break
