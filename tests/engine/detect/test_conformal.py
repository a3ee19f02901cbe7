"""Exact split-conformal thresholds: ranks, too-few-runs errors, the guarantee, the band,
and why numpy.quantile is not a conformal threshold."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.detect import (
    TooFewRuns,
    conformal_rank,
    conformal_threshold,
    exact_false_alarm_rate,
    fit_band,
    fit_max,
    min_calibration_runs,
)
from engine.detect.conformal import combined_alarm_index, combined_alpha_bound


@pytest.mark.parametrize(("n", "alpha", "k"), [(9, 0.1, 9), (19, 0.05, 19), (99, 0.1, 90),
                                               (100, 0.1, 91), (8, 0.1, 9), (20, 0.2, 17)])
def test_rank_is_ceil_n_plus_one_times_one_minus_alpha(n: int, alpha: float, k: int) -> None:
    assert conformal_rank(n, alpha) == k


def test_threshold_is_the_kth_smallest_score() -> None:
    scores = [5.0, 1.0, 4.0, 2.0, 3.0, 9.0, 8.0, 7.0, 6.0, 10.0]
    # n=10, alpha=0.2: k = ceil(11 * 0.8) = 9 -> the 9th smallest is 9.0
    assert conformal_threshold(scores, 0.2) == 9.0


@pytest.mark.parametrize("alpha", [0.5, 0.2, 0.1, 0.05, 0.01, 0.3])
def test_min_runs_is_the_boundary_of_a_finite_threshold(alpha: float) -> None:
    need = min_calibration_runs(alpha)
    assert need == math.ceil(1 / alpha) - 1
    assert math.isfinite(conformal_threshold(np.arange(need), alpha))
    assert conformal_threshold(np.arange(need - 1), alpha, strict=False) == math.inf


def test_too_few_runs_says_how_many_are_needed() -> None:
    with pytest.raises(TooFewRuns) as err:
        conformal_threshold(np.arange(10.0), 0.05)
    assert "at least 19 successful runs" in str(err.value)
    assert "n >= ceil(1/alpha) - 1" in str(err.value)


def test_nan_scores_are_refused() -> None:
    with pytest.raises(TooFewRuns, match="NaN"):
        conformal_threshold([1.0, float("nan"), 2.0] * 10, 0.1)


def test_exact_rate_matches_order_statistics() -> None:
    assert exact_false_alarm_rate(19, 0.05) == pytest.approx(1 - 19 / 20)
    assert exact_false_alarm_rate(99, 0.1) == pytest.approx(1 - 90 / 100)
    assert exact_false_alarm_rate(5, 0.1) == 0.0  # infinite threshold: it never fires


def _false_alarm_rate(rng: np.random.Generator, n: int, alpha: float, *, quantile: bool,
                      draws: int = 4000) -> float:
    # Given: n calibration scores and one fresh score, all i.i.d.; When: the threshold is
    # computed from the n; Then: the fresh score exceeds it with the rate returned.
    cal = rng.exponential(size=(draws, n))
    fresh = rng.exponential(size=draws)
    if quantile:
        thr = np.quantile(cal, 1 - alpha, axis=1)
    else:
        thr = np.array([conformal_threshold(row, alpha) for row in cal])
    return float(np.mean(fresh > thr))


def test_conformal_keeps_alpha_where_numpy_quantile_breaks_it() -> None:
    rng = np.random.default_rng(7)
    n, alpha, draws = 19, 0.1, 20000
    conformal = _false_alarm_rate(rng, n, alpha, quantile=False, draws=draws)
    naive = _false_alarm_rate(rng, n, alpha, quantile=True, draws=draws)
    se = math.sqrt(alpha * (1 - alpha) / draws)
    # exact: k = ceil(20 * 0.9) = 18, rate 1 - 18/20 = 0.10; quantile interpolates lower
    assert abs(conformal - exact_false_alarm_rate(n, alpha)) < 3 * se
    assert naive > alpha + 3 * se


def test_fit_max_uses_each_runs_maximum() -> None:
    runs = [np.array([0.0, 1.0, float(i)]) for i in range(20)]
    fit = fit_max(runs, 0.1)
    assert (fit.n, fit.k) == (20, 19) and fit.threshold == 18.0


def test_band_follows_a_time_varying_profile() -> None:
    rng = np.random.default_rng(3)
    t = np.arange(200)
    profile = np.where(t < 100, 1.0, 10.0)

    def runs(k: int) -> list[np.ndarray]:
        return [profile + rng.normal(0, 0.5, len(t)) for _ in range(k)]

    band = fit_band(runs(30), runs(40), 0.1)
    upper = band.upper(250)
    assert upper[50] < 5 < upper[150]  # low early, high late
    assert len(upper) == 250 and upper[-1] == upper[199]  # the last value holds
    # an excursion to 6 early is far outside the band; the same value late is normal
    spike = profile.copy()
    spike[50] = 6.0
    assert np.any(spike > upper[:200])
    assert not np.any(np.where(t >= 100, spike, 0) > upper[:200])


def test_band_needs_runs_to_fit_and_to_calibrate() -> None:
    with pytest.raises(TooFewRuns):
        fit_band([np.zeros(5)], [np.zeros(5)] * 30, 0.1)
    with pytest.raises(TooFewRuns):
        fit_band([np.zeros(5), np.ones(5)], [np.zeros(5)] * 3, 0.1)


def test_and_or_combinations() -> None:
    assert combined_alarm_index(3, 7, "and") == 7
    assert combined_alarm_index(3, None, "and") is None
    assert combined_alarm_index(3, 7, "or") == 3
    assert combined_alarm_index(None, None, "or") is None
    assert combined_alpha_bound(0.1, 0.05, "and") == 0.05
    assert combined_alpha_bound(0.1, 0.05, "or") == pytest.approx(0.15)


def test_and_keeps_false_alarms_below_the_smaller_alpha() -> None:
    # Given two indicators calibrated at 0.2 and 0.1 on correlated null scores
    rng = np.random.default_rng(11)
    n, draws = 49, 3000
    fa_and = fa_or = 0
    for _ in range(draws):
        base = rng.normal(size=(n + 1, 1))
        a = base[:, 0] + rng.normal(size=n + 1)
        b = base[:, 0] + rng.normal(size=n + 1)
        ta, tb = conformal_threshold(a[:n], 0.2), conformal_threshold(b[:n], 0.1)
        fa_and += (a[n] > ta) and (b[n] > tb)
        fa_or += (a[n] > ta) or (b[n] > tb)
    se = math.sqrt(0.1 * 0.9 / draws)
    assert fa_and / draws <= 0.1 + 3 * se
    assert fa_or / draws <= 0.3 + 3 * se
    assert fa_or / draws > 0.2  # OR does cost more false alarms


@pytest.mark.parametrize("n, alpha", [(19, 0.05), (99, 0.05), (59, 0.1), (200, 0.1)])
def test_the_calibration_conditional_risk_is_the_share_of_sets_above_alpha(
        n: int, alpha: float) -> None:
    """The average guarantee hides that a single calibration set often exceeds alpha: the
    exact binomial tail against 20,000 simulated calibration sets of continuous scores."""
    from engine.detect.conformal import exceed_probability, rate_bound

    rng = np.random.default_rng(n)
    k = conformal_rank(n, alpha)
    kth = np.sort(rng.random((20_000, n)), axis=1)[:, k - 1]
    simulated = float(np.mean(1 - kth > alpha))
    assert exceed_probability(n, alpha) == pytest.approx(simulated, abs=0.015)
    assert exceed_probability(19, 0.05) == pytest.approx(0.377, abs=0.01)
    # the 90%-confidence bound on this set's rate: 10% of simulated sets are above it
    bound = rate_bound(n, alpha)
    assert float(np.mean(1 - kth > bound)) == pytest.approx(0.1, abs=0.015)
    assert alpha < rate_bound(2000, alpha) < rate_bound(n, alpha) or n > 2000
