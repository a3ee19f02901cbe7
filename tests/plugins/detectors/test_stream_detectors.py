"""The stream detectors as detect steps over recorded runs: alarms, outputs, offsets that
must not alarm, and bad input (NaNs, gaps, missing calibrations, broken model files)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.detect import RecordedRun, read_run, write_run
from engine.errors import StepFailed
from engine.plugins import parse_params
from plugins.detectors.ewma import EwmaDetector, ewma_z
from plugins.detectors.ft_jam_slip import FtJamSlipDetector
from plugins.detectors.model_score import ModelScoreDetector
from plugins.detectors.threshold import ThresholdDetector
from plugins.robot.cell_model import CHANNELS, generate_attempt
from tests.plugins.detectors.helpers import SIM_NOMINAL, ctx, peg_calibration, record


@pytest.fixture(scope="module")
def cal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return peg_calibration(tmp_path_factory.mktemp("cal"))


async def _watch(detector: type, **params: object):
    return await detector().run(params=parse_params(detector, params), ctx=ctx())


async def test_a_jam_raises_an_alarm_after_its_onset(tmp_path: Path, cal: Path) -> None:
    [path] = record(np.random.default_rng(1), tmp_path, 1, success=False, mode="jam")
    onset = read_run(path).meta["failure_onset_s"]
    result = await _watch(FtJamSlipDetector, source=str(path), calibration=str(cal))
    out = result.outputs
    assert out["alarm"] is True and out["window"] == 25
    assert onset <= out["detected_at"] < onset + 5
    assert out["score"] > out["threshold"] and out["false_alarm_bound"] <= 0.05
    assert "alarm at" in result.summary


async def test_each_failure_mode_is_caught_at_full_severity(tmp_path: Path,
                                                            cal: Path) -> None:
    rng = np.random.default_rng(2)
    for mode in ("jam", "slip", "misalignment", "obstruction"):
        a = generate_attempt(rng, success=False, mode=mode)
        # severity is random: these seeded draws are clear cases of each mode
        path = write_run(RecordedRun(a.t, a.wrench, list(CHANNELS), "failure", a.meta()),
                         tmp_path / f"{mode}.jsonl")
        out = (await _watch(FtJamSlipDetector, source=str(path), calibration=str(cal),
                            stop_on_alarm=True)).outputs
        assert out["alarm"], mode


def test_a_constant_sensor_offset_does_not_change_the_score() -> None:
    # Given one successful attempt, and the same attempt seen through a biased sensor
    a = generate_attempt(np.random.default_rng(3), success=True, offset=False)
    biased = a.wrench + np.array([5.0, -4.0, 6.0, 0.3, -0.2, 0.1])
    det, params = FtJamSlipDetector(), parse_params(FtJamSlipDetector, SIM_NOMINAL)
    plain = det.score(params=params, t=a.t, x=a.wrench, channels=list(CHANNELS))
    seen = det.score(params=params, t=a.t, x=biased, channels=list(CHANNELS))
    # Then the tared score is the same (so the calibrated detector stays silent) ...
    np.testing.assert_allclose(seen, plain, atol=1e-9)
    # ... while a raw force limit that ignores the tare fires on the bias alone
    raw = ThresholdDetector().score(params=parse_params(ThresholdDetector, {"level": 8.0}),
                                    t=a.t, x=biased, channels=list(CHANNELS))
    assert raw[:100].sum() > 0


async def test_successful_runs_with_offsets_rarely_alarm(tmp_path: Path, cal: Path) -> None:
    paths = record(np.random.default_rng(4), tmp_path, 30, success=True, offset=True)
    alarms = [(await _watch(FtJamSlipDetector, source=str(p), calibration=str(cal)))
              .outputs["alarm"] for p in paths]
    assert sum(alarms) <= 5  # bound 0.05: P(>5 of 30) < 0.001


async def test_nans_beyond_the_tolerance_fail_the_step_with_a_hint(tmp_path: Path,
                                                                  cal: Path) -> None:
    [path] = record(np.random.default_rng(5), tmp_path, 1, success=True)
    run = read_run(path)
    run.x[::4, 2] = np.nan
    write_run(run, path)
    with pytest.raises(StepFailed) as err:
        await _watch(FtJamSlipDetector, source=str(path), calibration=str(cal))
    assert "have NaNs" in str(err.value) and err.value.hint and not err.value.retryable
    # a few dropped samples are tolerated and counted
    run = read_run(path)
    run.x[:, 2] = np.where(np.isnan(run.x[:, 2]), 0.0, run.x[:, 2])
    run.x[200:203, 2] = np.nan
    write_run(run, path)
    out = (await _watch(FtJamSlipDetector, source=str(path), calibration=str(cal))).outputs
    assert out["dropped"] == 3


async def test_a_gap_in_the_stream_fails_the_step(tmp_path: Path, cal: Path) -> None:
    [path] = record(np.random.default_rng(6), tmp_path, 1, success=True)
    run = read_run(path)
    keep = (run.t < 5) | (run.t > 7)
    write_run(RecordedRun(run.t[keep], run.x[keep], run.channels, run.label), path)
    with pytest.raises(StepFailed, match="gap of 2.0"):
        await _watch(FtJamSlipDetector, source=str(path), calibration=str(cal))


async def test_no_threshold_and_wrong_calibration_are_refused(tmp_path: Path,
                                                             cal: Path) -> None:
    [path] = record(np.random.default_rng(7), tmp_path, 1, success=True)
    with pytest.raises(StepFailed, match="no threshold"):
        await _watch(FtJamSlipDetector, source=str(path))
    with pytest.raises(StepFailed, match="for detector 'ft_jam_slip', not 'ewma'"):
        await _watch(EwmaDetector, source=str(path), calibration=str(cal))
    with pytest.raises(StepFailed, match="no recorded runs|cannot read|no such recorded run"):
        await _watch(FtJamSlipDetector, source=str(tmp_path / "nope.jsonl"), threshold=1,
                     **SIM_NOMINAL)


def test_ewma_z_scores_a_step_change() -> None:
    v = np.concatenate([np.random.default_rng(8).normal(0, 1, 300), np.full(20, 8.0)])
    z = ewma_z(v, lam=0.02, warmup=50, min_std=1e-3)
    assert np.all(np.abs(z[:50]) == 0) and np.max(np.abs(z[60:300])) < 5
    assert z[300] > 6


async def test_threshold_with_a_fixed_level(tmp_path: Path) -> None:
    [path] = record(np.random.default_rng(9), tmp_path, 1, success=False, mode="jam")
    out = (await _watch(ThresholdDetector, source=str(path), channel="fz", sense="below",
                        level=-15, tare_s=1.0, threshold=0, window=1)).outputs
    assert out["alarm"] and out["threshold"] == 0 and out["window"] == 1


async def test_model_score_from_a_channel_and_from_a_model_file(tmp_path: Path) -> None:
    t = np.arange(300) * 0.02
    score = np.where(t > 4, 1.0, 0.0)
    path = write_run(RecordedRun(t, np.stack([score, np.zeros(300)], 1), ["score", "a"],
                                 "failure"), tmp_path / "r.jsonl")
    out = (await _watch(ModelScoreDetector, source=str(path), score_channel="score",
                        threshold=10, window=20)).outputs
    assert out["alarm"] and out["detected_at"] == pytest.approx(4.2, abs=0.03)
    model = tmp_path / "m.json"
    model.write_text(json.dumps({"kind": "linear", "channels": ["score"], "weights": [2.0]}))
    out = (await _watch(ModelScoreDetector, source=str(path), model=str(model),
                        threshold=10, window=20)).outputs
    assert out["detected_at"] == pytest.approx(4.1, abs=0.03)


@pytest.mark.parametrize(("content", "message"), [
    (None, "no model file"), ("{not json", "not JSON"),
    ('{"kind": "linear", "channels": ["a"], "weights": [1, 2]}', "2 weights for 1 channels"),
    ('{"kind": "forest", "channels": ["a"], "weights": [1]}', "only 'linear'"),
])
async def test_a_model_file_that_does_not_load(tmp_path: Path, content: str | None,
                                               message: str) -> None:
    [path] = record(np.random.default_rng(10), tmp_path, 1, success=True)
    model = tmp_path / "m.json"
    if content is not None:
        model.write_text(content)
    with pytest.raises(StepFailed, match=message) as err:
        await _watch(ModelScoreDetector, source=str(path), model=str(model), threshold=1)
    assert err.value.hint
