"""The Celery side of `engine.runtime.distributed.Dispatcher`, and broker errors translated.

Owns publishing one step task (`apply_async(args=(run_id, step_id, attempt), countdown=delay,
queue=step.queue or default)`) from async code: publishing blocks, so it happens on one
dedicated thread per process (kombu's producers are not to be shared across threads freely).
Publishing retries a refused connection a bounded number of times; then it is a BrokerError.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import kombu
from kombu.exceptions import KombuError, OperationalError

from engine.errors import MendflowError
from engine.store.postgres import mask_password

RETRY_POLICY = {"max_retries": 6, "interval_start": 0.1, "interval_step": 0.5,
                "interval_max": 2.0}


class BrokerError(MendflowError):
    """The task broker (Redis) is unreachable or refused a message."""

    exit_code = 3


def check_broker(url: str, *, timeout_s: float = 5.0) -> None:
    """Connect once; a BrokerError naming the URL (password masked) if that fails."""
    try:
        with kombu.Connection(url, connect_timeout=timeout_s) as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout_s)
    except Exception as exc:
        raise BrokerError(f"cannot reach the broker at {mask_password(url)}: {exc}",
                          hint="Check that Redis is running and reachable there, and "
                          "MENDFLOW_BROKER_URL") from exc


class CeleryDispatcher:
    def __init__(self, task: Any, *, default_queue: str) -> None:
        self.task = task
        self.default_queue = default_queue
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mendflow-publish")

    async def dispatch(self, *, run_id: str, step_id: str, attempt: int, delay_s: float,
                       queue: str | None) -> None:
        await asyncio.get_running_loop().run_in_executor(
            self._thread, self._publish, run_id, step_id, attempt, delay_s, queue)

    def _publish(self, run_id: str, step_id: str, attempt: int, delay_s: float,
                 queue: str | None) -> None:
        try:
            self.task.apply_async(args=(run_id, step_id, attempt),
                                  countdown=delay_s if delay_s > 0 else None,
                                  queue=queue or self.default_queue, retry=True,
                                  retry_policy=RETRY_POLICY)
        except (OperationalError, KombuError, OSError) as exc:
            url = mask_password(str(self.task.app.conf.broker_url))
            raise BrokerError(f"cannot publish step {step_id} of run {run_id} to {url}: {exc}",
                              hint="Check that Redis is running (MENDFLOW_BROKER_URL)") from exc

    def close(self) -> None:
        self._thread.shutdown(wait=True)
