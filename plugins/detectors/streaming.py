"""Streaming detection: each sample is scored once, in O(1), with bounded memory.

A live attempt arrives in blocks (a poll's worth of samples). Rescoring the whole stream on
every block costs O(n) per block, O(n^2) per attempt: at force-torque rates (1 kHz) a
minute-long attempt becomes unworkable. Here every detector keeps the state its score needs
(`Scorer.update` takes only the new samples), the trailing window keeps its last `window - 1`
scores, and cleaning (NaNs, gaps, time order) is judged at block edges from the last kept
sample. Memory: the scorer's state, the window, a few counters; never the stream.

The scores do not depend on how the stream is cut into blocks: a detector's `score()` over a
whole recorded run (what calibration uses) is its scorer fed that run as one block, and the
tests check that any cut gives the same scores.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from engine.detect import clean_stream
from engine.detect.commands import threshold_at
from engine.detect.conformal import combined_alarm_index
from engine.detect.errors import StreamDataError


class Scorer(Protocol):
    """A detector's state over one stream: `update` scores the new samples only."""

    def update(self, t: np.ndarray, x: np.ndarray) -> np.ndarray: ...


class StreamTare:
    """The causal tare of `plugins.detectors._base.tare`, one block at a time: inside the
    first `tare_s` seconds a sample is compared with the running mean so far; after it, with
    the mean of that window, fixed once the window has closed."""

    def __init__(self, tare_s: float) -> None:
        self.tare_s = tare_s
        self.t0: float | None = None
        self.total: np.ndarray | None = None
        self.count = 0
        self.base: np.ndarray | None = None  # fixed when the window closes

    @property
    def closed(self) -> bool:
        return self.base is not None

    def update(self, t: np.ndarray, x: np.ndarray) -> np.ndarray:
        if self.tare_s <= 0 or len(t) == 0:
            return x
        if self.t0 is None:
            self.t0 = float(t[0])
            self.total = np.zeros(x.shape[1])
        out = np.empty_like(x, dtype=float)
        if self.base is None:
            n = int(np.searchsorted(t, self.t0 + self.tare_s, side="left"))
            inside = x[:n]
            assert self.total is not None
            run = (self.total + np.cumsum(inside, axis=0)) / \
                (self.count + np.arange(1, n + 1))[:, None]
            out[:n] = inside - run
            self.total = self.total + inside.sum(axis=0)
            self.count += n
            if n < len(t):  # the window closed in this block
                self.base = self.total / max(self.count, 1) if self.count else x[0].copy()
                out[n:] = x[n:] - self.base
            return out
        return np.asarray(x - self.base)


class Rescoring:
    """The fallback for a detector that only has `score()` over a whole stream: it keeps the
    stream and rescores it (O(n) per block). The shipped detectors all stream."""

    def __init__(self, score: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> None:
        self.score = score
        self.t = np.zeros(0)
        self.x: np.ndarray | None = None

    def update(self, t: np.ndarray, x: np.ndarray) -> np.ndarray:
        self.t = np.concatenate([self.t, t])
        self.x = x if self.x is None else np.concatenate([self.x, x])
        return np.asarray(self.score(self.t, self.x), dtype=float)[-len(t):]


Thresholds = Callable[[np.ndarray], np.ndarray]


@dataclass
class Watch:
    """One stream under watch: clean, score, window and compare, block by block."""

    scorer: Scorer
    window: int
    cal: Any  # a max or band Calibration, or None with `fixed`
    fixed: float
    max_gap_s: float
    max_nan_fraction: float
    samples: int = 0  # kept
    seen: int = 0  # all, NaN rows included
    dropped: int = 0
    t0: float | None = None
    last_t: float | None = None
    top: float = 0.0
    alarm: int | None = None  # index (of kept samples) of the first alarm
    alarm_t: float | None = None
    _carry: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def add(self, t: np.ndarray, x: np.ndarray) -> None:
        """Take a block; raises StreamDataError for a stream the detector must not trust."""
        self.seen += len(t)
        t, x, dropped = clean_stream(t, x, max_gap_s=self.max_gap_s, max_nan_fraction=1.0)
        self.dropped += dropped
        if self.seen >= 100:  # the NaN share is judged once enough samples are in
            self._nan_check(self.max_nan_fraction)
        if len(t) == 0:
            return
        if self.last_t is not None:
            dt = float(t[0]) - self.last_t
            if dt <= 0:
                raise StreamDataError(f"time does not increase at sample {self.samples} "
                                      f"(t={self.last_t:g} then {float(t[0]):g})",
                                      hint="Sort the samples by time; drop duplicates")
            if dt > self.max_gap_s:
                raise StreamDataError(
                    f"gap of {dt:.3g} s in the stream at t={self.last_t:.3g} s (at most "
                    f"{self.max_gap_s:g} s allowed)",
                    hint="The sensor or the link dropped out; rerun the attempt, or raise "
                         "max_gap_s if the detector tolerates it")
        if self.t0 is None:
            self.t0 = float(t[0])
        scores = np.nan_to_num(np.asarray(self.scorer.update(t, x), dtype=float))
        both = np.concatenate([self._carry, scores])
        c = np.concatenate(([0.0], np.cumsum(both)))
        k = len(self._carry)
        idx = np.arange(k + 1, len(both) + 1)
        agg = c[idx] - c[np.maximum(idx - self.window, 0)]
        self._carry = both[-(self.window - 1):] if self.window > 1 else np.zeros(0)
        if self.alarm is None:
            limit = self._limits(self.samples, len(agg))
            hits = np.flatnonzero(agg > limit)
            if hits.size:
                self.alarm = self.samples + int(hits[0])
                self.alarm_t = float(t[int(hits[0])])
        self.top = max(self.top, float(agg.max()))
        self.samples += len(t)
        self.last_t = float(t[-1])

    def finish(self) -> None:
        """The stream ended: the NaN share is judged on all of it."""
        if self.seen:
            self._nan_check(self.max_nan_fraction)

    def _nan_check(self, cap: float) -> None:
        if self.dropped > cap * self.seen:
            raise StreamDataError(
                f"{self.dropped} of {self.seen} samples have NaNs or infinities "
                f"(more than {cap:.0%})",
                hint="Check the sensor and its driver; raise max_nan_fraction only if the "
                     "detector was calibrated on streams as patchy as this")

    def _limits(self, start: int, n: int) -> np.ndarray | float:
        if self.cal is None:
            return self.fixed
        if self.cal.method == "band" and self.cal.band is not None:
            band = self.cal.band
            i = np.minimum(np.arange(start, start + n), len(band.mean) - 1)
            return np.asarray(np.asarray(band.mean)[i] + band.h * np.asarray(band.spread)[i])
        return float(self.cal.threshold)

    @property
    def detected_at(self) -> float | None:
        if self.alarm_t is None or self.t0 is None:
            return None
        return round(self.alarm_t - self.t0, 4)

    @property
    def stream_s(self) -> float:
        return (self.last_t - self.t0) if self.t0 is not None and self.last_t is not None \
            and self.samples > 1 else 0.0

    def threshold(self) -> float:
        if self.cal is None:
            return self.fixed
        at = self.alarm if self.alarm is not None else max(self.samples - 1, 0)
        value = threshold_at(self.cal, at)
        return value if math.isfinite(value) else math.nan


@dataclass
class CombinedWatch:
    """Two calibrated indicators on one stream, FIPER-style: AND fires once both have fired
    (indicators latch), OR once either has (`engine.detect.conformal.combined_alarm_index`,
    what offline evaluation uses)."""

    parts: list[Watch]
    rule: str
    window: int

    def add(self, t: np.ndarray, x: np.ndarray) -> None:
        for part in self.parts:
            part.add(t, x)

    def finish(self) -> None:
        for part in self.parts:
            part.finish()

    @property
    def alarm(self) -> int | None:
        return combined_alarm_index(self.parts[0].alarm, self.parts[1].alarm, self.rule)

    @property
    def detected_at(self) -> float | None:
        times = [p.detected_at for p in self.parts]
        if self.alarm is None:
            return None
        hit = [x for x in times if x is not None]
        return max(hit) if self.rule == "and" else min(hit)

    @property
    def samples(self) -> int:
        return self.parts[0].samples

    @property
    def dropped(self) -> int:
        return self.parts[0].dropped

    @property
    def stream_s(self) -> float:
        return self.parts[0].stream_s

    @property
    def top(self) -> float:
        return self.parts[0].top

    def threshold(self) -> float:
        return self.parts[0].threshold()

    def components(self) -> list[dict[str, Any]]:
        return [{"alarm": p.alarm is not None, "detected_at": p.detected_at,
                 "score": round(p.top, 6), "threshold": round(p.threshold(), 6),
                 "method": p.cal.method if p.cal is not None else None} for p in self.parts]
