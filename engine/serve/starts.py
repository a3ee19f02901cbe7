"""When the runs that alerts start begin to be driven: the intake first.

`mendflow serve` drives its runs (the local executor) or follows them (Celery) on the event
loop that also takes Alertmanager's notifications in. Starting a run is most of the work an
alert brings (the run's first commits, its driver's lease, forking its first steps'
processes, a thread watching each), and a burst of alerts of distinct groups (an alert storm)
starts hundreds of runs at once: the intake's answers then wait behind them (measured: p50
8x a bare endpoint's on a burst of 600 groups, against 1.4x for the same intake starting no
run). Alertmanager waits for those answers, and retries what times out.

So a run's start is handed here, and:

- when no other notification is being taken in, it starts at once (a lone alert's run is not
  delayed at all);
- while others are, starts wait and go one per `pace_s`, oldest first: the intake keeps the
  loop, and runs still start at a steady rate during a storm;
- none waits longer than `max_defer_s`: past it, it starts whatever the intake is doing.

What a start waiting here has already done is the intake's part: the alert group claimed in
the store (so no other notification, of any `serve` process on the store, starts a second run
for it), the guide's slot taken, the run's row written when the executor can write it apart
(`LocalExecutor.create`), the alert recorded. A run whose row is written and that never
starts (the process was killed meanwhile) is `running` with no driver: resumable from the API
as any run whose driver died.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator

log = logging.getLogger("mendflow.serve")


class RunStarts:
    def __init__(self, *, pace_s: float = 0.05, max_defer_s: float = 15.0) -> None:
        self.pace_s = pace_s
        self.max_defer_s = max_defer_s
        self.taking = 0  # notifications being taken in right now
        self._waiting: OrderedDict[str, tuple[float, Callable[[], None]]] = OrderedDict()
        self._drain: asyncio.Task[None] | None = None
        self._idle: asyncio.Event | None = None  # set when the intake falls idle
        self.deferred = 0  # starts that waited (for tests and logs)

    @contextlib.contextmanager
    def intake(self) -> Iterator[None]:
        """Around the taking in of one notification."""
        self.taking += 1
        try:
            yield
        finally:
            self.taking -= 1
            if not self.taking and self._idle is not None:
                self._idle.set()  # the waiting starts go now

    def __contains__(self, run_id: object) -> bool:
        return run_id in self._waiting

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def add(self, run_id: str, launch: Callable[[], None]) -> None:
        """Start the run (`launch` creates its driving task and returns): now, if the
        intake is not busy with other notifications and none waits before it; else later."""
        if self.taking <= 1 and not self._waiting:
            launch()
            return
        self.deferred += 1
        self._waiting[run_id] = (time.monotonic(), launch)
        if self._drain is None or self._drain.done():
            self._drain = asyncio.get_running_loop().create_task(self._drained(),
                                                                 name="run-starts")

    def hurry(self, run_id: str) -> bool:
        """Start the run now if it is waiting (it is to be cancelled, say); False if not."""
        entry = self._waiting.pop(run_id, None)
        if entry is None:
            return False
        entry[1]()
        return True

    def flush(self) -> None:
        """Start every waiting run now (the server is stopping)."""
        while self._waiting:
            _, (_, launch) = self._waiting.popitem(last=False)
            launch()

    async def _drained(self) -> None:
        last = time.monotonic()  # the first waits a pace too: the intake was busy
        self._idle = idle = asyncio.Event()
        while self._waiting:
            run_id, (queued_at, launch) = next(iter(self._waiting.items()))
            now = time.monotonic()
            overdue = now - queued_at >= self.max_defer_s
            if self.taking and not overdue and now - last < self.pace_s:
                idle.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(idle.wait(), min(
                        self.pace_s - (now - last), queued_at + self.max_defer_s - now))
                continue
            del self._waiting[run_id]
            last = now
            try:
                launch()
            except Exception:  # one start that cannot even be launched stops no other
                log.exception("run %s: its start failed", run_id)
            await asyncio.sleep(0)  # let the run take its first steps before the next
