"""The conformal guarantee on the simulated cell's own score distribution.

Over many independent calibration draws, the mean false-alarm rate of ft_jam_slip on fresh
successful attempts lies within binomial confidence of the exact rate 1 - k/(n+1) <= alpha;
a threshold from numpy.quantile on the same draws breaks alpha at small n.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from engine.detect import conformal_threshold, exact_false_alarm_rate, window_sum
from engine.plugins import parse_params
from plugins.detectors.ft_jam_slip import FtJamSlipDetector
from plugins.robot.cell_model import CHANNELS, generate_attempt
from tests.plugins.detectors.helpers import SIM_NOMINAL

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pool() -> np.ndarray:
    """Each successful attempt's maximum windowed score (what `max` calibrates on)."""
    rng = np.random.default_rng(2024)
    det, params = FtJamSlipDetector(), parse_params(FtJamSlipDetector, SIM_NOMINAL)
    out = []
    for _ in range(3000):
        a = generate_attempt(rng, success=True)
        s = det.score(params=params, t=a.t, x=a.wrench, channels=list(CHANNELS))
        out.append(window_sum(s, 25).max())
    return np.asarray(out)


def _rates(pool: np.ndarray, n: int, alpha: float, *, draws: int, fresh: int,
           quantile: bool) -> np.ndarray:
    rng = np.random.default_rng(n)
    rates = []
    for _ in range(draws):
        idx = rng.permutation(len(pool))
        cal, test = pool[idx[:n]], pool[idx[n:n + fresh]]
        thr = np.quantile(cal, 1 - alpha) if quantile else conformal_threshold(cal, alpha)
        rates.append(np.mean(test > thr))
    return np.asarray(rates)


@pytest.mark.parametrize(("n", "alpha"), [(19, 0.1), (59, 0.05), (39, 0.2)])
def test_mean_false_alarm_rate_is_the_exact_conformal_rate(pool: np.ndarray, n: int,
                                                           alpha: float) -> None:
    rates = _rates(pool, n, alpha, draws=1500, fresh=100, quantile=False)
    exact = exact_false_alarm_rate(n, alpha)
    se = rates.std(ddof=1) / math.sqrt(len(rates))
    assert exact <= alpha
    assert abs(rates.mean() - exact) < 3 * se + 0.003  # + the pool's own finiteness


def test_numpy_quantile_breaks_alpha_for_small_n(pool: np.ndarray) -> None:
    n, alpha = 19, 0.1
    rates = _rates(pool, n, alpha, draws=1500, fresh=100, quantile=True)
    se = rates.std(ddof=1) / math.sqrt(len(rates))
    assert rates.mean() > alpha + 3 * se


def test_a_band_over_a_score_that_is_zero_while_it_tares_can_still_fire(
        tmp_path: Path) -> None:
    """SAFE-style band on ft_jam_slip: the score is exactly 0 through the tare and approach,
    so the spread there is ~0; floored at its median over time (itself ~0) it made the scale
    h ~1e9 and the band unreachable wherever the score does vary. Floored at a fraction of
    how much the aggregate varies at all, the band catches what the max threshold catches."""
    from engine.detect.commands import calibrate_cmd, evaluate_cmd
    from tests.plugins.detectors.helpers import record

    record(np.random.default_rng(101), tmp_path / "runs", 80, success=True)
    record(np.random.default_rng(5), tmp_path / "eval", 30, success=False)
    record(np.random.default_rng(6), tmp_path / "eval", 30, success=True, prefix="ok")
    band, peak = tmp_path / "band.json", tmp_path / "max.json"
    for method, out in (("band", band), ("max", peak)):
        calibrate_cmd(tmp_path / "runs", detector="ft_jam_slip", out=out, alpha=0.1,
                      window=25, method=method, params=None, fit_fraction=0.5, seed=0)
    h = json.loads(band.read_text())["band"]["h"]
    assert h < 1e4
    tpr = {m: float(evaluate_cmd(tmp_path / "eval", calibration=p).split("TPR ")[1].split()[0])
           for m, p in (("band", band), ("max", peak))}
    assert tpr["band"] >= tpr["max"] - 0.1 and tpr["band"] > 0.8
