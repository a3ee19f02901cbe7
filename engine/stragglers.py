"""Stragglers: a step that takes far longer than it usually does, against its own history.

A step's history is the work time (`duration_s`: its slot wait apart) of every successful
attempt of the same step id of the same guide (plan id) in the last `HISTORY_RUNS` (200) runs of
that guide that are over and were created before the run in question (`Store.step_durations`;
dry-run stand-ins, which did not really run, are left out). With at least `MIN_SAMPLES` of
them, its p50 and p99 are their empirical quantiles (numpy's `median_unbiased`, Hyndman and
Fan's type 8: approximately median-unbiased whatever the distribution; with fewer than about
100 samples the p99 is the largest one seen). A step is a straggler when its work passes the
p99 by more than `SLACK_S` (so that a few-millisecond command's jitter is never one).

It is flagged while it runs, by the process that runs it (the local executor, or the Celery
worker that claimed it): the history is loaded once when a run starts being driven there
(`load_baseline`, cached per run), and each step with enough history gets a timer when its work
begins (after its concurrency-slot wait); if the timer fires before the step ends, the step is
counted (`mendflow_step_stragglers_total`), the driver's observer is told (the CLI's live
view) and a `step_straggler` note is added to the run's events, which every viewer of the
store (the CLI following a Celery run, `mendflow serve`'s stream and API) and the report read.
A step that ends past its p99 before its timer fired is marked in the report all the same.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.errors import MendflowError
from engine.store.base import EventRecord, Store

log = logging.getLogger("mendflow.stragglers")

MIN_SAMPLES = 20
"""Fewer successful attempts than this in a step's history: no p99, no flag ("n too small")."""
HISTORY_RUNS = 200
"""How many of the guide's latest finished runs make the history: enough for a steady p99
(a step that ran in each: 200 samples), and a bound on the query's cost."""
SLACK_S = 0.05
"""A straggler passes its p99 by more than this much (timer jitter, a fast command's noise)."""
NOTE = "step_straggler"
"""The type of the note event that records a straggler flagged live."""


def quantiles(durations: Sequence[float], probs: Sequence[float]) -> list[float]:
    """Empirical quantiles of `durations` (numpy, Hyndman-Fan type 8)."""
    import numpy as np

    values = np.quantile(np.asarray(durations, dtype=float), list(probs),
                         method="median_unbiased")
    return [float(v) for v in values]


@dataclass(frozen=True)
class StepHistory:
    """A step's durations in earlier runs of its guide: how many, their p50 and p99 (None when
    there are fewer than `MIN_SAMPLES`)."""

    n: int
    p50_s: float | None = None
    p99_s: float | None = None

    @classmethod
    def of(cls, durations: Sequence[float], *, min_samples: int = MIN_SAMPLES) -> StepHistory:
        if len(durations) < max(min_samples, 1):
            return cls(n=len(durations))
        p50, p99 = quantiles(durations, (0.5, 0.99))
        return cls(n=len(durations), p50_s=p50, p99_s=p99)

    @property
    def enough(self) -> bool:
        return self.p99_s is not None

    @property
    def threshold_s(self) -> float | None:
        """Work time past which the step is a straggler; None: not enough history."""
        return None if self.p99_s is None else self.p99_s + SLACK_S

    def beyond(self, duration_s: float | None) -> bool:
        threshold = self.threshold_s
        return threshold is not None and duration_s is not None and duration_s > threshold

    def describe(self) -> str:
        if self.p50_s is None or self.p99_s is None:
            return f"n={self.n}, n too small (fewer than {MIN_SAMPLES})"
        return f"p50 {self.p50_s:.3f} s, p99 {self.p99_s:.3f} s, n={self.n}"

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "p50_s": self.p50_s, "p99_s": self.p99_s,
                "enough": self.enough}


@dataclass(frozen=True)
class Baseline:
    """Every step's history in one guide, as loaded when a run started."""

    plan_id: str
    steps: Mapping[str, StepHistory] = field(default_factory=dict)

    def of(self, step_id: str) -> StepHistory:
        return self.steps.get(step_id) or StepHistory(n=0)

    @classmethod
    def of_durations(cls, plan_id: str, durations: Mapping[str, Sequence[float]], *,
                     min_samples: int = MIN_SAMPLES) -> Baseline:
        return cls(plan_id, {sid: StepHistory.of(d, min_samples=min_samples)
                             for sid, d in durations.items()})


async def load_baseline(store: Store, plan_id: str, *, before: datetime | None = None,
                        runs: int = HISTORY_RUNS) -> Baseline:
    """The guide's step histories from the store (one query); an empty baseline, logged, if
    the store cannot say: a run is never held up or failed by its history."""
    try:
        durations = await store.step_durations(plan_id, before=before, runs=runs)
    except MendflowError as exc:
        log.warning("no step history for %s: %s", plan_id, exc.message)
        return Baseline(plan_id)
    return Baseline.of_durations(plan_id, durations)


@dataclass(frozen=True)
class Straggler:
    """A step flagged while it ran: its attempt, its work so far and its history then."""

    step: str
    attempt: int
    elapsed_s: float
    n: int
    p50_s: float
    p99_s: float
    plugin: str = ""

    def describe(self) -> str:
        return (f"straggler: working {self.elapsed_s:.2f} s, beyond its p99 {self.p99_s:.2f} s "
                f"(p50 {self.p50_s:.2f} s, n={self.n})")

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "attempt": self.attempt, "elapsed_s": round(self.elapsed_s, 6),
                "n": self.n, "p50_s": self.p50_s, "p99_s": self.p99_s, "plugin": self.plugin}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Straggler | None:
        try:
            return cls(step=str(data["step"]), attempt=int(data["attempt"]),
                       elapsed_s=float(data["elapsed_s"]), n=int(data["n"]),
                       p50_s=float(data["p50_s"]), p99_s=float(data["p99_s"]),
                       plugin=str(data.get("plugin") or ""))
        except (KeyError, TypeError, ValueError):
            return None

    @classmethod
    def from_event(cls, event: EventRecord) -> Straggler | None:
        """The straggler a `step_straggler` note records; None for any other event."""
        return cls.from_json(event.data) if event.type == NOTE else None


def flagged(events: Iterable[EventRecord]) -> dict[str, Straggler]:
    """The steps flagged live in a run's events (the last flag of each)."""
    found: dict[str, Straggler] = {}
    for ev in events:
        flag = Straggler.from_event(ev)
        if flag is not None:
            found[flag.step] = flag
    return found


class BaselineCache:
    """Runs' baselines as a reader (`mendflow serve`'s API, UI and reports) loaded them: once
    per run, not per request or poll; the oldest is forgotten past `size`."""

    def __init__(self, store: Store, *, size: int = 256) -> None:
        self.store = store
        self.size = size
        self._kept: dict[str, Baseline] = {}

    async def of(self, run_id: str, plan_id: str, created_at: datetime) -> Baseline:
        baseline = self._kept.get(run_id)
        if baseline is None:
            baseline = await load_baseline(self.store, plan_id, before=created_at)
            if len(self._kept) >= self.size:
                del self._kept[next(iter(self._kept))]
            self._kept[run_id] = baseline
        return baseline
