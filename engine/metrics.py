"""Engine metrics: every Prometheus metric Mendflow exports, defined once, recorded into by the
engine (the runtime, the serve intake) and exposed by whoever serves them (`mendflow serve`'s
`GET /metrics`, a worker's exporter). The only importer of `prometheus_client`.

Label values are bounded by what an operator configured, never by what arrives: a guide's id
(its front matter), a plugin's name, a step kind, a status or outcome from the engine's own
vocabulary. Never a run id, an alert's labels or a value a step found.

Several processes (a prefork Celery worker's pool) add up through prometheus_client's
multiprocess mode: the process that exports sets `PROMETHEUS_MULTIPROC_DIR` before this module
is first imported anywhere (`mendflow worker --metrics-port` does), every process writes its
values into that folder, and `exposition()` sums them. Without the variable, values live in
this process (`mendflow serve`, `mendflow run`).

It does not decide what is measured where (the recording sites do) nor serve HTTP.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client import start_http_server as _start_http_server

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own variable
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Step durations: from a shell command's milliseconds to a long query's minutes.
_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
                     600)

ALERTS = Counter("mendflow_alerts_received", "Alerts received by mendflow serve, by what was "
                 "done with each (started, deduped, unmatched, refused, resolved).",
                 ["disposition"])
RUNS_STARTED = Counter("mendflow_runs_started", "Runs started, by guide id.", ["guide"])
RUNS_ENDED = Counter("mendflow_runs_ended", "Runs that ended, by guide id, status "
                     "(succeeded, failed, cancelled, interrupted) and outcome.",
                     ["guide", "status", "outcome"])
STEP_DURATION = Histogram("mendflow_step_duration_seconds", "Time a step's attempt worked "
                          "(its wait for a concurrency slot apart), by plugin ('' for steps "
                          "without one), kind and result.", ["plugin", "kind", "result"],
                          buckets=_DURATION_BUCKETS)
QUEUE_WAIT = Histogram("mendflow_step_queue_wait_seconds", "Time a step waited before it "
                       "could work: for a concurrency slot (where=slot), or on the broker "
                       "between its dispatch and a worker taking it (where=broker; its retry "
                       "delay excluded).", ["plugin", "where"], buckets=_DURATION_BUCKETS)
STRAGGLERS = Counter("mendflow_step_stragglers", "Steps flagged while they ran as stragglers "
                     "(working past the p99 of their own history: same guide, same step), "
                     "by guide id and plugin.", ["guide", "plugin"])
STEPS_RUNNING = Gauge("mendflow_steps_running", "Steps working now (holding their slot), by "
                      "plugin.", ["plugin"], multiprocess_mode="livesum")
QUESTIONS_WAITING = Gauge("mendflow_questions_waiting", "Questions runs wait on a person for "
                          "(approve, manual, judge), in the whole store.", ["kind"],
                          multiprocess_mode="mostrecent")
QUESTIONS_OLDEST = Gauge("mendflow_questions_oldest_age_seconds", "Age of the oldest question "
                         "waiting, by kind (0: none).", ["kind"], multiprocess_mode="mostrecent")

QUESTION_KINDS = ("approve", "manual", "judge")
ENDED = ("succeeded", "failed", "cancelled", "interrupted")


def alert_received(disposition: str) -> None:
    ALERTS.labels(disposition).inc()


def run_started(guide: str) -> None:
    RUNS_STARTED.labels(guide).inc()


def run_ended(guide: str, status: str, outcome: str | None) -> None:
    """A run that reached an end (`ENDED`); other statuses are not ends and are ignored."""
    if status in ENDED:
        RUNS_ENDED.labels(guide, status, outcome or "").inc()


# Each step records into three labelled series; `labels()` validates and locks on every call,
# a third of the metrics' cost per step, so the series are looked up once and kept here (their
# labels are bounded, see above).
_STEP_DURATIONS: dict[tuple[str, str, str], Histogram] = {}
_QUEUE_WAITS: dict[tuple[str, str], Histogram] = {}
_STEPS_RUNNING: dict[str, _Running] = {}


def step_done(plugin: str | None, kind: str, result: str, duration_s: float) -> None:
    key = (plugin or "", kind, result)
    series = _STEP_DURATIONS.get(key)
    if series is None:
        series = _STEP_DURATIONS[key] = STEP_DURATION.labels(*key)
    series.observe(max(duration_s, 0.0))


def straggler(guide: str, plugin: str | None) -> None:
    STRAGGLERS.labels(guide, plugin or "").inc()


def waited(plugin: str | None, where: str, seconds: float) -> None:
    key = (plugin or "", where)
    series = _QUEUE_WAITS.get(key)
    if series is None:
        series = _QUEUE_WAITS[key] = QUEUE_WAIT.labels(*key)
    series.observe(max(seconds, 0.0))


class _Running:
    """Counts a step in its plugin's gauge while the block runs. A class, not a generator:
    every step goes through it; it keeps nothing of a step, so one serves all of a plugin's."""

    __slots__ = ("_gauge",)

    def __init__(self, gauge: Gauge) -> None:
        self._gauge = gauge

    def __enter__(self) -> None:
        self._gauge.inc()

    def __exit__(self, *exc: object) -> None:
        self._gauge.dec()


def step_running(plugin: str | None) -> AbstractContextManager[None]:
    running = _STEPS_RUNNING.get(plugin or "")
    if running is None:
        running = _STEPS_RUNNING[plugin or ""] = _Running(STEPS_RUNNING.labels(plugin or ""))
    return running


class _Waiting(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def asked_at(self) -> datetime: ...


def questions_waiting(questions: Iterable[_Waiting], *, now: datetime | None = None) -> None:
    """Set the waiting-question gauges from the store's pending questions (every kind is
    set, so a kind whose questions were answered drops to 0)."""
    now = now or datetime.now(UTC)
    count = dict.fromkeys(QUESTION_KINDS, 0)
    oldest = dict.fromkeys(QUESTION_KINDS, 0.0)
    for q in questions:
        count[q.kind] = count.get(q.kind, 0) + 1
        oldest[q.kind] = max(oldest.get(q.kind, 0.0), (now - q.asked_at).total_seconds())
    for kind in count:
        QUESTIONS_WAITING.labels(kind).set(count[kind])
        QUESTIONS_OLDEST.labels(kind).set(oldest[kind])


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def registry() -> CollectorRegistry:
    """What to expose: this process's metrics, or (multiprocess mode) every process's."""
    folder = multiprocess_dir()
    if folder is None:
        from prometheus_client import REGISTRY

        return REGISTRY
    summed = CollectorRegistry()
    multiprocess.MultiProcessCollector(summed, path=folder)
    return summed


def exposition() -> bytes:
    """The metrics in Prometheus's text format."""
    return generate_latest(registry())


def start_exporter(port: int, *, host: str = "0.0.0.0") -> None:
    """Serve `exposition()` at http://HOST:PORT/metrics from a daemon thread (a worker's)."""
    _start_http_server(port, addr=host, registry=registry())


def process_dead(pid: int) -> None:
    """A process of a multiprocess group ended: its live gauges no longer count."""
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(pid)
