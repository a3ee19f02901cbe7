"""How many runs of one guide may be live at once, across every `mendflow serve` process that
shares the store: a limit kept in the store (`Store.take_slot`), not a counter in memory that
each process behind a load balancer would keep for itself.

A run started by an alert holds one of its guide's slots from before its alert group is
claimed until the run ends. The process that drives (or, on Celery, follows) the run renews
the slot while it does; a process that dies stops renewing, and its runs' slots lapse after
`ttl_s` by themselves (their runs are not followed by anyone then either).
"""

from __future__ import annotations

import asyncio
import logging

from engine.store.base import Store

log = logging.getLogger("mendflow.serve")

TTL_S = 60.0


class GuideSlots:
    def __init__(self, store: Store, limit: int, *, ttl_s: float = TTL_S) -> None:
        self.store = store
        self.limit = limit
        self.ttl_s = ttl_s

    @staticmethod
    def key(plan_id: str) -> str:
        """By the guide's id, which every process reads the same from the guide (its path
        can differ between hosts)."""
        return f"serve:guide:{plan_id}"

    async def take(self, plan_id: str, run_id: str) -> bool:
        return await self.store.take_slot(self.key(plan_id), limit=self.limit, holder=run_id,
                                          ttl_s=self.ttl_s)

    async def release(self, plan_id: str, run_id: str) -> None:
        try:
            await self.store.release_slot(self.key(plan_id), holder=run_id)
        except Exception as exc:  # it lapses by itself: said, not raised into the run
            log.warning("run %s: its slot of guide %s lapses by itself: %s", run_id, plan_id,
                        exc)

    async def hold(self, plan_id: str, run_id: str) -> None:
        """Renew the run's slot until cancelled (run this beside the run)."""
        while True:
            await asyncio.sleep(self.ttl_s / 3)
            try:
                await self.store.take_slot(self.key(plan_id), limit=self.limit,
                                           holder=run_id, ttl_s=self.ttl_s)
            except Exception as exc:  # the store is down a moment: renewed next time
                log.warning("run %s: cannot renew its slot of guide %s: %s", run_id, plan_id,
                            exc)
