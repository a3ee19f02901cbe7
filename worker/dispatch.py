"""The Celery side of `engine.runtime.distributed.Dispatcher`, and broker errors translated.

Owns publishing one step task (`apply_async(args=(run_id, step_id, attempt), countdown=delay,
queue=step.queue or default)`) from async code. Publishing blocks, so it does not happen on the
event loop: a task's own publishes (the steps its commit started) are collected in its outbox
while the engine runs on the loop and sent from the task's thread once the engine returns
(every one after its commit, without two more thread handoffs per step), unless the task goes
on running a step itself (continuation): then its engine flushes the outbox to the publishing
thread after the commit, so that the other steps do not wait for that one. Any other publish
(the reconciler's, the starting process's) goes through that one dedicated publishing thread.
Publishing retries a refused connection a bounded number of times; then it is a BrokerError.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from typing import Any, TypeVar

from kombu.connection import Connection
from kombu.exceptions import KombuError, OperationalError

from engine.errors import ExitCode, MendflowError
from engine.store.postgres import mask_password

T = TypeVar("T")
log = logging.getLogger("mendflow.worker.dispatch")

Message = tuple[str, str, int, float, str | None]  # run, step, attempt, delay, queue
_OUTBOX: ContextVar[list[Message] | None] = ContextVar("mendflow_outbox", default=None)

DUE_HEADER = "mendflow_due"
"""When a step task is due (the sender's wall clock, its countdown included): the worker that
takes it measures how long it waited on the broker (`mendflow_step_queue_wait_seconds`)."""

RETRY_POLICY = {"max_retries": 6, "interval_start": 0.1, "interval_step": 0.5,
                "interval_max": 2.0}


class BrokerError(MendflowError):
    """The task broker (Redis) is unreachable or refused a message."""

    exit_code = ExitCode.UNAVAILABLE


def check_broker(url: str, *, timeout_s: float = 5.0) -> None:
    """Connect once; a BrokerError naming the URL (password masked) if that fails."""
    try:
        with Connection(url, connect_timeout=timeout_s) as conn:
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
        outbox = _OUTBOX.get()
        if outbox is not None:  # sent by the task's thread when the engine returns
            outbox.append((run_id, step_id, attempt, delay_s, queue))
            return
        await asyncio.get_running_loop().run_in_executor(
            self._thread, self._publish, run_id, step_id, attempt, delay_s, queue)

    async def flush(self) -> None:
        """Hand what the current task's outbox holds to the publishing thread, now, without
        waiting for it: the task's worker goes on running a step itself (continuation), and
        the steps it published must not wait for that. Outside a task, nothing is held."""
        outbox = _OUTBOX.get()
        if outbox:
            held, outbox[:] = outbox[:], []
            self._thread.submit(self.publish, held)

    @staticmethod
    async def collecting(outbox: list[Message], work: Awaitable[T]) -> T:
        """Run `work` (on the loop) with its dispatches appended to `outbox` instead of sent;
        the caller sends them with `publish` (even if `work` failed after a commit)."""
        _OUTBOX.set(outbox)  # this task's context, and that of the tasks it starts
        return await work

    def publish(self, outbox: list[Message]) -> None:
        """Send collected messages from the calling thread, a fan-out in one Redis round trip
        (kombu's publish batch: its steps arrive together, not one publish apart while the
        first ones' workers compete for the CPU). If the batch fails, each message is sent on
        its own with retries (a message sent twice is a duplicate task, which does nothing);
        each failure then is logged on its own (committed already: the reconciler sends it
        again later)."""
        if len(outbox) > 1:
            try:
                with self.task.app.producer_or_acquire() as producer, producer.batch():
                    for message in outbox:
                        self._publish(*message, producer=producer)
                return
            except Exception as exc:  # noqa: BLE001 - kombu's or redis's: try one by one
                log.warning("could not publish %d steps at once (%s); one by one",
                            len(outbox), exc)
        for message in outbox:
            try:
                self._publish(*message)
            except Exception as exc:  # noqa: BLE001 - never raised into the task: logged
                log.error("could not dispatch %s:%s:%s (%s); the reconciler will retry",
                          *message[:3], exc)

    def _publish(self, run_id: str, step_id: str, attempt: int, delay_s: float,
                 queue: str | None, producer: Any = None) -> None:
        try:
            self.task.apply_async(args=(run_id, step_id, attempt),
                                  countdown=delay_s if delay_s > 0 else None,
                                  queue=queue or self.default_queue, retry=True,
                                  retry_policy=RETRY_POLICY, producer=producer,
                                  headers={DUE_HEADER: time.time() + max(delay_s, 0.0)})
        except (OperationalError, KombuError, OSError) as exc:
            url = mask_password(str(self.task.app.conf.broker_url))
            raise BrokerError(f"cannot publish step {step_id} of run {run_id} to {url}: {exc}",
                              hint="Check that Redis is running (MENDFLOW_BROKER_URL)") from exc

    def close(self) -> None:
        self._thread.shutdown(wait=True)
