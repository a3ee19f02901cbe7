"""Concurrency limits on steps: how many may run at once per plugin and per data source.

Two kinds of slots, one interface (`Slots.hold`):

- `LocalSlots`: asyncio semaphores in this process. The embedded executor drives a run in one
  process, so its limits need nothing else.
- `StoreSlots`: slots kept in the store (`Store.take_slot`), so that a limit holds across every
  worker of a Celery deployment. A slot is held by one step attempt (`run:step:attempt`) with a
  lease of the step's timeout plus a grace: a worker killed mid-step gives its slot back when
  the lease lapses, and a redelivered attempt takes back the slot it held. A step waiting for a
  slot polls with a growing pause (capped), so waiting costs the store a few statements a
  second, not a busy loop.

The process-wide `max_concurrency` stays a semaphore of each process (it bounds this process's
work, not the cluster's).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

from engine.store.base import Store


@dataclass(frozen=True)
class Limit:
    """One limit a step is under: `key` names what is limited (`plugin:sql`, `source:prod-db`),
    `size` how many steps may hold it at once."""

    key: str
    size: int


Waiting = Callable[[bool], None]
"""Told True when a step starts waiting for a slot, False when it gets one."""


class Slots(Protocol):
    def hold(self, limits: tuple[Limit, ...], *, holder: str, ttl_s: float,
             waiting: Waiting) -> AbstractAsyncContextManager[None]:
        """Hold one slot of each limit (in order) while the block runs."""
        ...


class LocalSlots:
    """Limits within this process."""

    def __init__(self) -> None:
        self._sems: dict[str, asyncio.Semaphore] = {}

    def hold(self, limits: tuple[Limit, ...], *, holder: str, ttl_s: float,
             waiting: Waiting) -> AbstractAsyncContextManager[None]:
        held = []
        for limit in limits:
            sem = self._sems.get(limit.key)
            if sem is None:
                sem = self._sems[limit.key] = asyncio.Semaphore(limit.size)
            held.append(sem)
        return _Held(held, waiting)


class _Held(AbstractAsyncContextManager[None]):
    """One slot of each semaphore, taken in order, while the block runs (a class rather than
    a generator: every step of the embedded executor goes through it)."""

    __slots__ = ("_sems", "_taken", "_waiting")

    def __init__(self, sems: list[asyncio.Semaphore], waiting: Waiting) -> None:
        self._sems = sems
        self._waiting = waiting
        self._taken: list[asyncio.Semaphore] = []

    async def __aenter__(self) -> None:
        blocked = any(sem.locked() for sem in self._sems)
        try:
            if blocked:
                self._waiting(True)
            for sem in self._sems:
                await sem.acquire()
                self._taken.append(sem)
            if blocked:
                self._waiting(False)
        except BaseException:
            self._release()
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        self._release()

    def _release(self) -> None:
        taken, self._taken = self._taken, []
        for sem in reversed(taken):
            sem.release()


POLL_FIRST_S = 0.02
POLL_MAX_S = 0.5


class StoreSlots:
    """Limits across every process sharing the store."""

    def __init__(self, store: Store, *, grace_s: float = 30.0) -> None:
        self.store = store
        self.grace_s = grace_s

    @asynccontextmanager
    async def hold(self, limits: tuple[Limit, ...], *, holder: str, ttl_s: float,
                   waiting: Waiting) -> AsyncIterator[None]:
        held: list[Limit] = []
        blocked = False
        try:
            for limit in limits:
                pause = POLL_FIRST_S
                while not await self.store.take_slot(limit.key, limit=limit.size, holder=holder,
                                                     ttl_s=ttl_s + self.grace_s):
                    if not blocked:
                        blocked = True
                        waiting(True)
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, POLL_MAX_S)
                held.append(limit)
            if blocked:
                waiting(False)
            yield
        finally:
            # Given back even when the step is cancelled; if the store cannot be reached the
            # lease lapses by itself.
            for limit in reversed(held):
                await asyncio.shield(self.store.release_slot(limit.key, holder=holder))
