"""Windows over per-step scores, first crossings, and cleaning a sensor stream.

The aggregate at step i is the sum of the scores of steps i-w+1 .. i (fewer at the start):
causal, so an alarm at step i uses nothing from the future. This module does not score
anything (detectors do) and does not choose thresholds (`engine.detect.conformal`).
"""

from __future__ import annotations

import numpy as np

from engine.detect.errors import StreamDataError


def window_sum(scores: np.ndarray, window: int) -> np.ndarray:
    """Sum of the last `window` scores at every step (a trailing, causal window)."""
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    s = np.asarray(scores, dtype=float)
    if s.ndim != 1:
        raise StreamDataError(f"scores must be one value per step, got shape {s.shape}")
    c = np.concatenate(([0.0], np.cumsum(s)))
    idx = np.arange(1, len(s) + 1)
    return c[idx] - c[np.maximum(idx - window, 0)]


def first_crossing(aggregate: np.ndarray, threshold: float | np.ndarray) -> int | None:
    """Index of the first step whose aggregate is strictly above the threshold, or None.

    Strictly above: with ties the conformal guarantee still holds (P(new > k-th) <= alpha).
    """
    above = np.asarray(aggregate, dtype=float) > threshold
    hits = np.flatnonzero(above)
    return int(hits[0]) if hits.size else None


def clean_stream(t: np.ndarray, x: np.ndarray, *, max_gap_s: float,
                 max_nan_fraction: float = 0.05) -> tuple[np.ndarray, np.ndarray, int]:
    """Drop samples with NaNs; refuse a stream with too many of them or with a time gap.

    Returns (t, x, dropped). A gap longer than `max_gap_s` (between kept samples, or where
    the clock goes backwards) raises StreamDataError, since a window over it would silently
    sum over time the detector never saw.
    """
    t = np.asarray(t, dtype=float)
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or len(t) != len(x):
        raise StreamDataError(f"stream shape mismatch: {len(t)} times, values {x.shape}",
                              hint="Give one row of channel values per time stamp")
    if len(t) == 0:
        return t, x, 0
    bad = ~np.isfinite(t) | ~np.isfinite(x).all(axis=1)
    dropped = int(bad.sum())
    if dropped > max_nan_fraction * len(t):
        raise StreamDataError(
            f"{dropped} of {len(t)} samples have NaNs or infinities "
            f"(more than {max_nan_fraction:.0%})",
            hint="Check the sensor and its driver; raise max_nan_fraction only if the "
                 "detector was calibrated on streams as patchy as this")
    t, x = t[~bad], x[~bad]
    if len(t) > 1:
        dt = np.diff(t)
        worst = int(np.argmax(np.abs(dt) * (dt > 0) + np.where(dt <= 0, np.inf, 0)))
        if dt[worst] <= 0:
            raise StreamDataError(f"time does not increase at sample {worst + 1} "
                                  f"(t={t[worst]:g} then {t[worst + 1]:g})",
                                  hint="Sort the samples by time; drop duplicates")
        if dt[worst] > max_gap_s:
            raise StreamDataError(
                f"gap of {dt[worst]:.3g} s in the stream at t={t[worst]:.3g} s "
                f"(at most {max_gap_s:g} s allowed)",
                hint="The sensor or the link dropped out; rerun the attempt, or raise "
                     "max_gap_s if the detector tolerates it")
    return t, x, dropped
