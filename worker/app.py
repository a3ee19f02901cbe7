"""The Celery app: `celery -A worker.app worker` (or `mendflow worker`) runs Mendflow steps.

Owns the Celery configuration that at-least-once delivery needs (late acks, requeue when a pool
process dies, prefetch of one, a visibility timeout longer than any step), the one task
`mendflow.step(run_id, step_id, attempt)`, which carries ids only and calls
`engine.runtime.distributed.DistributedRunner.execute` (then publishes the steps it started,
from the task's own thread; the steps on the queue the task came from may be continued in the
same task first, within `MENDFLOW_CONTINUE_STEPS`, `MENDFLOW_CONTINUE_S` and
`MENDFLOW_CONTINUE_WIDTH`), and each worker process's runtime: an event-loop thread
(`worker.bridge`), a PostgreSQL pool on it, the runner, and the reconciler sweeping for lost
tasks. Every DAG decision stays in the engine: Celery runs single steps, never
chords or groups (a step feeding two branches would run twice).

At start the main process checks the broker and the store (and applies store migrations once);
if either is unreachable it prints which URL (password masked) and what to check, and exits 2.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import random
import socket
import sys
import threading
import uuid
from collections.abc import Callable
from typing import Any

from celery import Celery, signals

from engine import logs, metrics
from engine.errors import MendflowError, StoreError
from engine.plan import Step
from engine.plugins import Registry
from engine.runtime.distributed import Continuation, DistributedRunner
from engine.runtime.services import build_services
from engine.store.postgres import PostgresStore
from worker.bridge import EventLoopThread
from worker.config import WorkerSettings, load_worker_settings
from worker.dispatch import DUE_HEADER, CeleryDispatcher, Message, check_broker

log = logging.getLogger("mendflow.worker")

settings: WorkerSettings = load_worker_settings()

app = Celery("mendflow", broker=settings.broker, set_as_current=False)
app.conf.update(
    task_acks_late=True,  # ack after the step ran: a killed worker's task is delivered again
    task_reject_on_worker_lost=True,  # a pool process that died: requeue, do not ack
    worker_prefetch_multiplier=1,
    task_default_queue=settings.default_queue,
    task_create_missing_queues=True,
    task_ignore_result=True,
    task_serializer="json",
    accept_content=["json"],
    broker_transport_options={"visibility_timeout": settings.visibility_timeout_s},
    broker_connection_retry_on_startup=True,
    worker_send_task_events=False,
)


@app.task(name="mendflow.step", bind=True, acks_late=True, reject_on_worker_lost=True)
def step(self: Any, run_id: str, step_id: str, attempt: int) -> str:
    """Run one attempt of one step of one run, at most once in effect (see the engine)."""
    rt = runtime()
    outbox: list[Message] = []  # the steps its commits started, sent from this thread
    here = rt.served_here((self.request.delivery_info or {}).get("routing_key"))
    due = getattr(self.request, DUE_HEADER, None)
    try:
        result = rt.bridge.run(rt.dispatcher.collecting(
            outbox, rt.runner.execute(str(run_id), str(step_id), int(attempt), here=here,
                                      due=float(due) if isinstance(due, int | float) else None)))
    except StoreError as exc:  # PostgreSQL away for longer than the pool's reconnect window
        log.warning("step %s:%s:%s: %s; retrying the task", run_id, step_id, attempt, exc)
        raise self.retry(exc=exc, countdown=5, max_retries=12) from None
    finally:
        rt.dispatcher.publish(outbox)
    return result.outcome.value


@app.task(name="mendflow.noop")
def noop(payload: Any = None) -> Any:
    """Does nothing: the benchmark's floor (a raw Celery round trip)."""
    return payload


# -- one runtime per worker process ----------------------------------------------------------


class Runtime:
    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.bridge = EventLoopThread()
        assert settings.database_url is not None  # WorkerSettings.check
        self.store = PostgresStore(settings.database_url, min_size=1,
                                   max_size=settings.db_pool_size)
        self.bridge.run(self.store.open())
        self.dispatcher = CeleryDispatcher(step, default_queue=settings.default_queue)
        services = build_services(settings, self.store,
                                  Registry(extra=_extra_plugins(settings.worker_plugins)))
        _log_redactor.redact = lambda text: str(services.redact(text))
        self.runner = DistributedRunner(
            services, dispatcher=self.dispatcher,
            owner=f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}",
            max_deliveries=settings.max_deliveries, lease_grace_s=settings.lease_grace_s,
            continuation=Continuation(max_steps=settings.continue_steps,
                                      max_s=settings.continue_s, width=settings.continue_width))
        self.sweeper = self.bridge.submit(self._sweep())

    def served_here(self, queue: str | None) -> Callable[[Step], bool] | None:
        """Which steps a task delivered from `queue` may continue with in this process: those
        routed to that same queue (a step with no queue goes to the default one). None (no
        continuation) when the delivery does not say its queue."""
        if not queue:
            return None
        default = self.settings.default_queue
        return lambda step: (step.queue or default) == queue

    async def _sweep(self) -> None:
        every = self.settings.reconcile_every_s
        while True:
            await asyncio.sleep(every * random.uniform(0.5, 1.5))  # spread the processes out
            try:
                await self.runner.reconcile(idle_s=self.settings.stall_after_s)
            except MendflowError as exc:
                log.warning("reconcile failed: %s", exc)
            except Exception:
                log.exception("reconcile failed")

    def close(self) -> None:
        self.sweeper.cancel()
        try:
            self.bridge.run(self.store.close(), timeout=10)
        finally:
            self.dispatcher.close()
            self.bridge.stop()


_runtime: tuple[int, Runtime] | None = None
# The log lines' redactor, given the data sources' secrets once a process has read them.
_log_redactor = logs.Redacting()
_runtime_lock = threading.Lock()


def runtime() -> Runtime:
    """This process's runtime, made on first use (after a fork, anew). With `--pool threads`
    the tasks of a process share it: one event loop runs all their steps concurrently (steps
    are async, so threads only wait), and the first tasks must not make two."""
    global _runtime
    current = _runtime
    if current is not None and current[0] == os.getpid():
        return current[1]
    with _runtime_lock:
        if _runtime is None or _runtime[0] != os.getpid():
            _runtime = (os.getpid(), Runtime(settings))
        return _runtime[1]


@signals.worker_init.connect
def _preflight(**_: Any) -> None:
    try:
        check_broker(settings.broker)
        asyncio.run(_check_store(settings))
    except MendflowError as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.stderr.flush()
        os._exit(exc.exit_code or 2)
    if settings.log_format == "json":
        logs.configure("json", redact=_log_redactor)
    if settings.worker_metrics_port is not None:
        try:
            metrics.start_exporter(settings.worker_metrics_port)
        except OSError as exc:
            sys.stderr.write(f"error: cannot serve metrics on port "
                             f"{settings.worker_metrics_port}: {exc}\n")
            sys.stderr.flush()
            os._exit(2)
        log.info("metrics at http://0.0.0.0:%d/metrics", settings.worker_metrics_port)


async def _check_store(settings: WorkerSettings) -> None:
    assert settings.database_url is not None
    store = PostgresStore(settings.database_url)
    await store.open()  # also applies migrations, once, before the pool processes start
    await store.close()


@signals.worker_process_init.connect
def _start_process(**_: Any) -> None:
    runtime()


@signals.worker_process_shutdown.connect
def _stop_process(**_: Any) -> None:
    global _runtime
    if _runtime is not None and _runtime[0] == os.getpid():
        rt, _runtime = _runtime[1], None
        rt.close()
    metrics.process_dead(os.getpid())  # its steps-running gauge no longer counts


def _extra_plugins(spec: str) -> dict[str, type]:
    """`module:Class,...` -> {Class.name: Class}: the worker-side plugin hook (tests use it)."""
    found: dict[str, type] = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        module, _, attr = item.partition(":")
        cls = getattr(importlib.import_module(module), attr)
        found[cls.name] = cls
    return found
