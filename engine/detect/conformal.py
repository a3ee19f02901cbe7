"""Split conformal thresholds for detectors, computed exactly.

Given n calibration scores from successful runs (exchangeable with a new successful run),
the threshold is the k-th smallest score with k = ceil((n+1)(1-alpha)). For a new successful
run, P(score > threshold) = 1 - k/(n+1) <= alpha when scores are continuous (at most that
with ties). When k > n the threshold is +inf: n is too small for that alpha, and a finite
threshold needs n >= ceil(1/alpha) - 1. `numpy.quantile` interpolates between order
statistics and does not carry this guarantee for small n; it is not used here.

Three calibrations:

- `fit_max`: one score per run, the run's maximum windowed aggregate; alarm when the
  aggregate crosses the threshold at any time.
- `fit_band`: a time-varying band mu(t) + h * sigma(t) (functional conformal prediction).
  mu and sigma are fitted on one split of the successful runs; the scale h is the conformal
  threshold of max_t (a(t) - mu(t)) / sigma(t) on a disjoint split.
- `combine_alarms`: AND / OR of two calibrated indicators (FIPER: an OOD score and an
  uncertainty score). AND fires only when both do, so its false-alarm rate is at most
  min(alpha1, alpha2); OR is bounded by alpha1 + alpha2 (union bound).

This module does not score runs or read files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.detect.errors import DegenerateBand, TooFewRuns

SPREAD_FLOOR = 1e-9


def min_calibration_runs(alpha: float) -> int:
    """The fewest calibration runs for which the threshold at `alpha` is finite."""
    _check_alpha(alpha)
    return max(math.ceil(1 / alpha - 1e-12) - 1, 1)


def conformal_rank(n: int, alpha: float) -> int:
    """k = ceil((n+1)(1-alpha)): the rank (1-based) of the threshold among n scores."""
    _check_alpha(alpha)
    # Guard the ceiling against float noise: (n+1)(1-alpha) = 19.000000000000004 is 19.
    return math.ceil(round((n + 1) * (1 - alpha), 9))


def exact_false_alarm_rate(n: int, alpha: float) -> float:
    """The false-alarm rate of the conformal threshold for continuous scores: 1 - k/(n+1)."""
    k = conformal_rank(n, alpha)
    return 0.0 if k > n else round(1 - k / (n + 1), 12)


def exceed_probability(n: int, alpha: float, rate: float | None = None) -> float:
    """The calibration-conditional risk: the chance that THIS calibration set gave a threshold
    whose false-alarm rate on new successful runs is above `rate` (default: alpha).

    The guarantee `exact_false_alarm_rate <= alpha` is an average over calibration sets; a
    single set's rate is 1 - U_(k), U_(k) the k-th of n uniforms ~ Beta(k, n + 1 - k), so
    P(rate > r) = P(U_(k) < 1 - r) = P(Binomial(n, 1 - r) >= k) (continuous scores). Above
    alpha itself that is 38% at n = 19, alpha = 0.05, and it stays near half as n grows (the
    rate concentrates at alpha); what shrinks with n is how far above alpha it can be
    (`rate_bound`)."""
    k = conformal_rank(n, alpha)
    if k > n:
        return 0.0  # the threshold is infinite: it never fires
    r = alpha if rate is None else rate
    if r <= 0:
        return 1.0
    if r >= 1:
        return 0.0
    p = 1.0 - r
    # the upper tail of the binomial, in log space (n may be thousands)
    terms = [math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1)
             + j * math.log(p) + (n - j) * math.log(r) for j in range(k, n + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def rate_bound(n: int, alpha: float, confidence: float = 0.9) -> float:
    """The false-alarm rate this calibration set stays under with `confidence` (over the draw
    of the set): the calibration-conditional bound (bisection on `exceed_probability`)."""
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if exceed_probability(n, alpha, mid) > 1 - confidence:
            lo = mid
        else:
            hi = mid
    return hi


def conformal_threshold(scores: Sequence[float] | np.ndarray, alpha: float, *,
                        strict: bool = True) -> float:
    """The k-th smallest of the scores; +inf (or TooFewRuns if `strict`) when k > n."""
    s = np.sort(np.asarray(scores, dtype=float).ravel())
    if s.size and not np.isfinite(s).all():
        raise TooFewRuns("calibration scores contain NaN or infinity",
                         hint="Clean the calibration runs (see clean_stream) first")
    n = int(s.size)
    k = conformal_rank(n, alpha)
    if k > n:
        if strict:
            need = min_calibration_runs(alpha)
            raise TooFewRuns(
                f"{n} calibration runs are too few for alpha={alpha:g}: the threshold "
                f"would be infinite (rank {k} of {n})",
                hint=f"Record at least {need} successful runs (n >= ceil(1/alpha) - 1), or "
                     f"raise alpha to at least {1 / (n + 1):.3g}")
        return math.inf
    return float(s[k - 1])


@dataclass(frozen=True, slots=True)
class MaxFit:
    threshold: float
    n: int
    k: int


def fit_max(aggregates: Sequence[np.ndarray], alpha: float) -> MaxFit:
    """Calibrate on each run's maximum windowed aggregate."""
    maxima = [float(np.max(a)) if len(a) else 0.0 for a in aggregates]
    threshold = conformal_threshold(maxima, alpha)
    return MaxFit(threshold=threshold, n=len(maxima), k=conformal_rank(len(maxima), alpha))


@dataclass(frozen=True, slots=True)
class Band:
    """mu(t) + h * sigma(t), t in steps; beyond the fitted horizon the last value holds."""

    mean: np.ndarray
    spread: np.ndarray
    h: float
    n_fit: int
    n_cal: int
    k: int

    def upper(self, length: int) -> np.ndarray:
        return _extend(self.mean, length) + self.h * _extend(self.spread, length)


def band_scores(aggregates: Sequence[np.ndarray], mean: np.ndarray,
                spread: np.ndarray) -> np.ndarray:
    """Each run's worst standardized excess, max_t (a(t) - mu(t)) / sigma(t)."""
    out = []
    for a in aggregates:
        a = np.asarray(a, dtype=float)
        if a.size == 0:
            out.append(-math.inf)
            continue
        out.append(float(np.max((a - _extend(mean, a.size)) / _extend(spread, a.size))))
    return np.asarray(out)


def fit_band(fit: Sequence[np.ndarray], calibrate: Sequence[np.ndarray],
             alpha: float) -> Band:
    """Fit mu, sigma on `fit` runs; calibrate h conformally on the disjoint `calibrate` runs."""
    if len(fit) < 2:
        raise TooFewRuns(f"a band needs at least 2 runs to fit its mean and spread, got "
                         f"{len(fit)}", hint="Record more successful runs")
    horizon = max(len(a) for a in fit)
    stacked = np.full((len(fit), horizon), np.nan)
    for i, a in enumerate(fit):
        stacked[i, :len(a)] = a
    counts = np.sum(~np.isnan(stacked), axis=0)
    # Where fewer than two runs still go on, carry the last well-estimated value forward.
    usable = int(np.max(np.flatnonzero(counts >= 2))) + 1 if np.any(counts >= 2) else 1
    mean = np.nanmean(stacked[:, :usable], axis=0)
    spread = np.maximum(np.nanstd(stacked[:, :usable], axis=0, ddof=1), SPREAD_FLOOR)
    # A spread that dips to ~0 somewhere makes the band hair-triggered there, and the scale h
    # then grows to cover it (by 1e9 on a detector whose score is 0 while it tares), which
    # puts the band out of reach everywhere else. Floor it at a small fraction of how much
    # the aggregate varies at all (pooled over time), not of its median over time, which is
    # ~0 when most steps score nothing.
    seen = stacked[:, :usable][~np.isnan(stacked[:, :usable])]
    pooled = float(np.std(seen)) if seen.size > 1 else 0.0
    spread = np.maximum(spread, max(0.05 * float(np.median(spread)), 0.05 * pooled)
                        + SPREAD_FLOOR)
    scores = band_scores(calibrate, mean, spread)
    h = conformal_threshold(scores, alpha)
    top = max((float(np.max(a)) for a in (*fit, *calibrate) if len(a)), default=0.0)
    reach = float(np.median(mean + h * spread))
    if not math.isfinite(h) or reach > 100 * max(top, pooled, SPREAD_FLOOR):
        raise DegenerateBand(
            f"the band degenerates on these scores: its scale h={h:.3g} puts its edge "
            f"(median {reach:.3g}) far beyond any aggregate seen ({top:.3g}), so it could "
            "not fire", hint="Calibrate with --method max, or a detector whose score varies "
                             "on successful runs")
    return Band(mean=mean, spread=spread, h=h, n_fit=len(fit), n_cal=len(calibrate),
                k=conformal_rank(len(calibrate), alpha))


def combine_alarms(first: bool, second: bool, rule: str) -> bool:
    """AND / OR of two calibrated indicators."""
    if rule == "and":
        return first and second
    if rule == "or":
        return first or second
    raise ValueError(f"rule must be 'and' or 'or', got {rule!r}")


def combined_alarm_index(first: int | None, second: int | None, rule: str) -> int | None:
    """When the combination fires, given each indicator's first alarm step.

    AND fires once both have fired (indicators latch), OR once either has.
    """
    if rule == "and":
        return None if first is None or second is None else max(first, second)
    if rule == "or":
        hits = [i for i in (first, second) if i is not None]
        return min(hits) if hits else None
    raise ValueError(f"rule must be 'and' or 'or', got {rule!r}")


def combined_alpha_bound(alpha1: float, alpha2: float, rule: str) -> float:
    return min(alpha1, alpha2) if rule == "and" else min(alpha1 + alpha2, 1.0)


def _extend(values: np.ndarray, length: int) -> np.ndarray:
    if length <= len(values):
        return values[:length]
    return np.concatenate([values, np.full(length - len(values), values[-1])])


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
