"""ft_jam_slip's nominal levels come from the recorded runs it is calibrated on, never from the
simulator's constants (issue 16, item 4).

The cell here presses at 25 N and searches at 5 N (the simulator's defaults are 10 N and
2 N): calibration fits those levels, the detect step scores with them (or with what the step
sets, and says which), the false-alarm rate on fresh successful runs stays near alpha and a
jam is still caught. Without a calibration the levels must be given; an artifact written
before detectors fitted anything still loads and scores with the levels it recorded.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from engine.detect import load_calibration, read_run
from engine.detect.commands import calibrate_cmd, evaluate
from engine.errors import StepFailed
from engine.plugins import parse_params
from plugins.detectors.ft_jam_slip import FtJamSlipDetector
from plugins.robot.cell_model import DEFAULT_CELL, CellConfig
from tests.engine.test_cli import mendflow
from tests.plugins.detectors.helpers import REGISTRY, SIM_NOMINAL, ctx, record

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "detect"
HARD_PRESS = replace(DEFAULT_CELL, press_n=25.0, search_n=5.0)
ALPHA = 0.1


@pytest.fixture(scope="module")
def cell(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """59 successful runs of the 25 N / 5 N cell calibrated (max, alpha 0.1)."""
    d = tmp_path_factory.mktemp("cell")
    record(np.random.default_rng(11), d / "runs", 59, success=True, cfg=HARD_PRESS)
    said = calibrate_cmd(d / "runs", detector="ft_jam_slip", out=d / "cal.json",
                         alpha=ALPHA, window=25, registry=REGISTRY)
    return d / "cal.json", said


async def _watch(**params: object):
    det = FtJamSlipDetector()
    return await det.run(params=parse_params(FtJamSlipDetector, params), ctx=ctx())


@pytest.mark.parametrize("cfg", [HARD_PRESS, replace(DEFAULT_CELL, press_n=40.0, search_n=1.0)],
                         ids=["25N-5N", "40N-1N"])
def test_calibration_fits_the_nominal_levels_the_runs_show(tmp_path: Path,
                                                          cfg: CellConfig) -> None:
    record(np.random.default_rng(12), tmp_path / "runs", 39, success=True, cfg=cfg)
    said = calibrate_cmd(tmp_path / "runs", detector="ft_jam_slip", out=tmp_path / "c.json",
                         alpha=ALPHA, window=25, registry=REGISTRY)
    cal = load_calibration(tmp_path / "c.json")
    assert set(cal.fitted) == {"press_n", "lateral_n", "tilt_nm"}
    assert cal.fitted["press_n"] == pytest.approx(cfg.press_n, rel=0.02)
    # a magnitude of two noisy axes (0.3 N each) reads a little high on a small amplitude
    assert cal.fitted["lateral_n"] == pytest.approx(cfg.search_n, abs=0.2)
    # the simulated tilt is 0.02 m x the lateral force, plus torque noise (0.02 N m)
    assert cal.fitted["tilt_nm"] == pytest.approx(0.02 * cfg.search_n, abs=0.03)
    assert {k: cal.params[k] for k in cal.fitted} == cal.fitted  # what the threshold ranked
    assert "fitted from the 39 successful runs: press_n=" in said


def test_a_level_given_to_calibrate_is_kept_not_fitted(tmp_path: Path) -> None:
    record(np.random.default_rng(13), tmp_path / "runs", 19, success=True, cfg=HARD_PRESS)
    calibrate_cmd(tmp_path / "runs", detector="ft_jam_slip", out=tmp_path / "c.json",
                  alpha=ALPHA, window=25, params={"press_n": 30.0}, registry=REGISTRY)
    cal = load_calibration(tmp_path / "c.json")
    assert cal.params["press_n"] == 30.0 and "press_n" not in cal.fitted
    assert set(cal.fitted) == {"lateral_n", "tilt_nm"}


def test_false_alarms_stay_near_alpha_and_a_jam_is_caught(tmp_path: Path,
                                                          cell: tuple[Path, str]) -> None:
    cal = load_calibration(cell[0])
    fresh = [read_run(p) for p in record(np.random.default_rng(14), tmp_path / "ok", 150,
                                         success=True, cfg=HARD_PRESS)]
    m, _ = evaluate(fresh, cal, registry=REGISTRY)
    # one calibration set of n=59 runs: its own rate is Beta(54, 6) (sd 0.038), and 150
    # fresh runs add a binomial sd of 0.024: 3 sd around alpha
    fpr = 1 - m.tnr
    assert abs(fpr - cal.false_alarm_rate) < 3 * math.hypot(0.038, 0.024), fpr
    obvious = replace(HARD_PRESS, severity=(0.8, 1.2))
    jams = record(np.random.default_rng(15), tmp_path / "jam", 5, success=False, mode="jam",
                  cfg=obvious)
    assert evaluate([read_run(p) for p in jams], cal, registry=REGISTRY)[0].tpr == 1.0


async def test_the_detect_step_scores_with_the_fitted_levels(tmp_path: Path,
                                                            cell: tuple[Path, str]) -> None:
    [jam] = record(np.random.default_rng(16), tmp_path, 1, success=False, mode="jam",
                   cfg=replace(HARD_PRESS, severity=(1.0, 1.0)))
    out = (await _watch(source=str(jam), calibration=str(cell[0]))).outputs
    assert out["alarm"] and out["false_alarm_bound"] == pytest.approx(ALPHA, abs=0.02)
    assert out["params_from"]["press_n"] == "fitted"
    assert out["params_from"]["lateral_n"] == out["params_from"]["tilt_nm"] == "fitted"
    assert out["params_from"]["press_margin_n"] == "calibration"
    onset = read_run(jam).meta["failure_onset_s"]
    assert onset <= out["detected_at"] < onset + 5


async def test_a_level_the_step_sets_wins_and_says_so(tmp_path: Path,
                                                      cell: tuple[Path, str]) -> None:
    [ok] = record(np.random.default_rng(17), tmp_path, 1, success=True, cfg=HARD_PRESS)
    fitted = load_calibration(cell[0]).fitted["press_n"]
    plain = await _watch(source=str(ok), calibration=str(cell[0]), stop_on_alarm=False)
    # a nominal press the cell never reaches: every pressing sample now counts as a jam
    told = await _watch(source=str(ok), calibration=str(cell[0]), stop_on_alarm=False,
                        press_n=5.0)
    assert told.outputs["params_from"]["press_n"] == "guide"
    assert told.outputs["params_from"]["lateral_n"] == "fitted"
    assert told.outputs["score"] > 10 * max(plain.outputs["score"], 1.0)
    assert told.outputs["alarm"] and told.outputs["false_alarm_bound"] is None
    assert f"press_n=5.0 (calibration: {fitted!r})" in told.summary
    # the step setting the calibration's own value changes nothing
    same = await _watch(source=str(ok), calibration=str(cell[0]), stop_on_alarm=False,
                        press_n=fitted)
    assert same.outputs["params_from"]["press_n"] == "guide"
    assert same.outputs["false_alarm_bound"] == plain.outputs["false_alarm_bound"]
    assert same.outputs["score"] == plain.outputs["score"]


async def test_without_a_calibration_the_levels_must_be_given(tmp_path: Path) -> None:
    [ok] = record(np.random.default_rng(18), tmp_path, 1, success=True)
    with pytest.raises(StepFailed, match="nominal press_n, lateral_n, tilt_nm are not "
                                         "known") as err:
        await _watch(source=str(ok), threshold=5.0)
    assert "\n" not in str(err.value) and "mendflow detector calibrate" in (err.value.hint or "")
    with pytest.raises(StepFailed, match="nominal tilt_nm is not known"):
        await _watch(source=str(ok), threshold=5.0, press_n=10.0, lateral_n=2.0)
    out = (await _watch(source=str(ok), threshold=5.0, **SIM_NOMINAL)).outputs
    assert out["params_from"]["press_n"] == "guide"
    assert out["params_from"]["press_margin_n"] == "default"
    assert out["false_alarm_bound"] is None
    with pytest.raises(Exception, match="not known"):  # and scoring directly, offline
        FtJamSlipDetector().score(params=parse_params(FtJamSlipDetector, {}), t=np.zeros(3),
                                  x=np.zeros((3, 6)), channels=["fx", "fy", "fz", "tx", "ty",
                                                                "tz"])


async def test_an_artifact_from_before_fitting_loads_and_scores(tmp_path: Path) -> None:
    """Written by the code before this change (59 runs of the default cell, alpha 0.05): no
    `fitted`, the simulator's levels in `params`; they are what its threshold ranked."""
    old = FIXTURES / "ft_jam_slip-before-fitting.json"
    cal = load_calibration(old, detector="ft_jam_slip")
    assert cal.fitted == {} and cal.params["press_n"] == 10.0
    [jam] = record(np.random.default_rng(1), tmp_path / "runs", 1, success=False, mode="jam")
    out = (await _watch(source=str(jam), calibration=str(old))).outputs
    assert out["alarm"] and out["false_alarm_bound"] == 0.05
    assert out["params_from"]["press_n"] == "calibration"
    proc = mendflow("detector", "evaluate", str(tmp_path / "runs"), "--calibration", str(old),
                    data=tmp_path)
    assert proc.returncode == 0 and "TPR 1.000" in proc.stdout, proc.stderr
    # an artifact that has neither fitted nor recorded levels: a one-line refusal
    data = json.loads(old.read_text())
    for k in ("press_n", "lateral_n", "tilt_nm"):
        del data["params"][k]
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(data))
    with pytest.raises(StepFailed, match="not known") as err:
        await _watch(source=str(jam), calibration=str(bare))
    assert "\n" not in str(err.value)
