"""Streaming detection gives the scores rescoring the whole stream gave, however the stream is
cut into blocks, and a watch keeps bounded state (no stream) while it does."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from engine.plugins import parse_params
from plugins.detectors._base import tare
from plugins.detectors.ewma import EwmaDetector
from plugins.detectors.ft_jam_slip import FtJamSlipDetector
from plugins.detectors.model_score import ModelScoreDetector
from plugins.detectors.streaming import Watch
from plugins.detectors.threshold import ThresholdDetector, series
from plugins.robot.cell_model import CHANNELS, generate_attempt
from tests.plugins.detectors.helpers import SIM_NOMINAL

COL = {c: i for i, c in enumerate(CHANNELS)}


def ft_reference(p, t, x):
    """ft_jam_slip's score as it was computed over the whole stream before streaming."""
    w = tare(x, t, p.tare_s)
    n_tare = max(int(np.searchsorted(t, t[0] + p.tare_s)), 2) if len(t) else 0
    press = np.maximum(-w[:, COL["fz"]] - p.press_n - p.press_margin_n, 0)
    lateral = np.maximum(np.hypot(w[:, COL["fx"]], w[:, COL["fy"]]) - p.lateral_n
                         - p.lateral_margin_n, 0)
    tilt = np.maximum(np.hypot(w[:, COL["tx"]], w[:, COL["ty"]]) - p.tilt_nm
                      - p.tilt_margin_nm, 0)
    tz = x[:, COL["tz"]]
    dtz = np.abs(np.diff(tz, prepend=tz[:1]))
    noise = max(float(np.std(np.diff(tz[:n_tare]))) if n_tare > 2 else 0.0, 1e-3)
    chatter = np.maximum(dtz / noise - p.chatter_sigmas, 0)
    score = (press / p.press_margin_n + lateral / p.lateral_margin_n
             + tilt / p.tilt_margin_nm + chatter)
    score[:n_tare] = 0.0
    return score


def ewma_reference(v, lam, warmup, min_std):
    z = np.zeros(len(v))
    mean, var = float(v[0]), 0.0
    for i in range(1, len(v)):
        if i >= warmup:
            z[i] = (v[i] - mean) / max(np.sqrt(var), min_std)
        d = v[i] - mean
        mean += lam * d
        var = (1 - lam) * (var + lam * d * d)
        if i < warmup:
            seg = v[: i + 1]
            mean, var = float(seg.mean()), float(seg.var())
    return z


def cuts(rng: np.random.Generator, n: int) -> list[int]:
    """Block edges as a live source gives them: mostly small, some empty, some large."""
    edges, at = [0], 0
    while at < n:
        at = min(n, at + int(rng.choice([0, 1, 2, 7, 20, 50, 400])))
        edges.append(at)
    return edges


def blockwise(scorer, t, x, edges) -> np.ndarray:
    return np.concatenate([scorer.update(t[a:b], x[a:b]) for a, b in zip(edges, edges[1:])])


@pytest.fixture(scope="module")
def attempts() -> list:
    rng = np.random.default_rng(7)
    return [generate_attempt(rng, success=s, mode=m) for s, m in
            [(True, None), (False, "jam"), (False, "slip"), (False, "misalignment")]]


@pytest.mark.parametrize("tare_s", [1.0, 0.013, 5.0])
def test_ft_jam_slip_streams_the_scores_rescoring_gave(attempts, tare_s: float) -> None:
    det = FtJamSlipDetector()
    p = parse_params(FtJamSlipDetector, {"tare_s": tare_s, **SIM_NOMINAL})
    rng = np.random.default_rng(3)
    for a in attempts:
        want = ft_reference(p, a.t, a.wrench)
        got = blockwise(det.scorer(params=p, channels=list(CHANNELS)), a.t, a.wrench,
                        cuts(rng, len(a.t)))
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(det.score(params=p, t=a.t, x=a.wrench,
                                             channels=list(CHANNELS)), want, atol=1e-9)


@pytest.mark.parametrize("tare_s", [0.0, 0.5])
def test_ewma_and_threshold_stream_the_scores_rescoring_gave(attempts, tare_s: float) -> None:
    rng = np.random.default_rng(4)
    ew = parse_params(EwmaDetector, {"tare_s": tare_s, "warmup": 30})
    th = parse_params(ThresholdDetector, {"tare_s": tare_s, "level": 8.0, "channel": "fz"})
    for a in attempts:
        v = series(a.wrench, a.t, list(CHANNELS), "force", tare_s)
        want = np.maximum(np.abs(ewma_reference(v, ew.lam, 30, ew.min_std)) - ew.z0, 0.0)
        got = blockwise(EwmaDetector().scorer(params=ew, channels=list(CHANNELS)), a.t,
                        a.wrench, cuts(rng, len(a.t)))
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
        want = ThresholdDetector().score(params=th, t=a.t, x=a.wrench, channels=list(CHANNELS))
        got = blockwise(ThresholdDetector().scorer(params=th, channels=list(CHANNELS)), a.t,
                        a.wrench, cuts(rng, len(a.t)))
        np.testing.assert_allclose(got, want, atol=1e-9)


def test_a_linear_model_streams_the_scores_rescoring_gave(attempts, tmp_path: Path) -> None:
    model = tmp_path / "m.json"
    model.write_text(json.dumps({"channels": ["fz", "tz"], "weights": [0.5, -2.0],
                                 "bias": 0.1, "tare_s": 0.7}))
    p = parse_params(ModelScoreDetector, {"model": str(model)})
    a = attempts[1]
    want = np.abs(tare(a.wrench, a.t, 0.7)[:, [COL["fz"], COL["tz"]]] @ [0.5, -2.0] + 0.1)
    got = blockwise(ModelScoreDetector().scorer(params=p, channels=list(CHANNELS)), a.t,
                    a.wrench, cuts(np.random.default_rng(5), len(a.t)))
    np.testing.assert_allclose(got, want, atol=1e-9)


def test_a_watch_keeps_no_stream(attempts) -> None:
    """Ten times the samples, the same memory: the state is the scorer's and the window's."""
    det = FtJamSlipDetector()
    p = parse_params(FtJamSlipDetector, SIM_NOMINAL)
    a = attempts[0]

    def peak(repeats: int) -> int:
        watch = Watch(scorer=det.scorer(params=p, channels=list(CHANNELS)), window=25,
                      cal=None, fixed=1e9, max_gap_s=0.5, max_nan_fraction=0.05)
        span = a.t[-1] - a.t[0] + a.t[1] - a.t[0]
        tracemalloc.start()
        for r in range(repeats):
            for i in range(0, len(a.t), 20):
                watch.add(a.t[i:i + 20] + r * span, a.wrench[i:i + 20])
        size = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert watch.samples == repeats * len(a.t)
        return size

    small, large = peak(1), peak(10)
    assert large < 2 * small + 200_000
