"""Calibration artifacts and recorded runs on disk, metrics, and the calibrate / evaluate
commands end to end with a small detector defined here."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from pydantic import BaseModel

from engine.detect import (
    CalibrationFileError,
    RecordedRun,
    StreamDataError,
    TooFewRuns,
    load_calibration,
    read_run,
    write_run,
)
from engine.detect.commands import calibrate_cmd, combine_cmd, evaluate_cmd
from engine.detect.metrics import Verdict, evaluate_alarms
from engine.plugins import PluginBase, Registry


class LevelParams(BaseModel):
    source: str | None = None
    channel: int = 0


class LevelDetector(PluginBase):
    """Score = the channel's value; a failure is a late rise."""

    name: ClassVar[str] = "level"
    Params = LevelParams

    def score(self, *, params: Any, t: np.ndarray, x: np.ndarray,
              channels: list[str]) -> np.ndarray:
        return x[:, params.channel]

    async def run(self, **_: Any) -> Any:  # pragma: no cover - not used here
        raise NotImplementedError


REGISTRY = Registry(extra={"level": LevelDetector}, discover=False)


def _runs(tmp: Path, n_ok: int, n_bad: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    d = tmp / "runs"
    for i in range(n_ok + n_bad):
        bad = i >= n_ok
        t = np.arange(200) * 0.02
        x = rng.normal(0, 1, (200, 1))
        if bad:
            x[100:] += 5.0
        write_run(RecordedRun(t, x, ["v"], "failure" if bad else "success",
                              {"duration_s": 4.0}), d / f"run-{i:03d}.jsonl")
    return d


def test_a_run_round_trips_with_nans(tmp_path: Path) -> None:
    x = np.array([[1.0, np.nan], [2.0, 3.0]])
    p = write_run(RecordedRun(np.array([0.0, 0.02]), x, ["a", "b"], "success", {"k": 1}),
                  tmp_path / "r.jsonl")
    r = read_run(p)
    assert r.label == "success" and r.channels == ["a", "b"] and r.meta == {"k": 1}
    assert np.isnan(r.x[0, 1]) and r.x[1, 1] == 3.0


def test_a_file_that_is_not_a_run_names_its_line(tmp_path: Path) -> None:
    p = tmp_path / "r.jsonl"
    p.write_text('{"mendflow_run": 1, "channels": ["a"]}\n[0.0, 1.0]\n[0.02]\n')
    with pytest.raises(StreamDataError) as err:
        read_run(p)
    assert err.value.location.line == 3
    p.write_text("hello\n")
    with pytest.raises(StreamDataError, match="not a recorded run"):
        read_run(p)


def test_calibrate_then_evaluate(tmp_path: Path) -> None:
    runs = _runs(tmp_path, 40, 20)
    out = tmp_path / "cal.json"
    text = calibrate_cmd(runs, detector="level", out=out, alpha=0.1, window=5,
                         registry=REGISTRY)
    assert "on 40 successful runs of 60" in text and "k=37" in text
    cal = json.loads(out.read_text())
    assert cal["alpha"] == 0.1 and cal["n"] == 40 and cal["window"] == 5
    assert len(cal["data_hash"]) == 64 and cal["created_at"]
    assert cal["false_alarm_rate"] == pytest.approx(1 - 37 / 41)
    report = evaluate_cmd(runs, calibration=out, registry=REGISTRY)
    assert "TPR 1.000" in report
    # failures start half-way through: alarms come about then (a few early, on noise)
    frac = float(report.split("mean detection time ")[1].split()[0])
    assert 0.45 < frac < 0.56


def test_band_calibration_splits_fit_and_calibration_runs(tmp_path: Path) -> None:
    runs = _runs(tmp_path, 40, 5)
    out = tmp_path / "band.json"
    calibrate_cmd(runs, detector="level", out=out, alpha=0.1, window=5, method="band",
                  registry=REGISTRY)
    cal = load_calibration(out)
    assert cal.band is not None and cal.band.n_fit == 20 and cal.n == 20
    assert cal.n + cal.band.n_fit == cal.runs_used == 40


def test_too_few_runs_for_alpha(tmp_path: Path) -> None:
    runs = _runs(tmp_path, 10, 0)
    with pytest.raises(TooFewRuns, match="at least 19"):
        calibrate_cmd(runs, detector="level", out=tmp_path / "c.json", alpha=0.05,
                      registry=REGISTRY)
    with pytest.raises(TooFewRuns, match="leave 5 to calibrate"):
        calibrate_cmd(runs, detector="level", out=tmp_path / "c.json", alpha=0.1,
                      method="band", registry=REGISTRY)


def test_combined_and_is_bounded_by_the_smaller_alpha(tmp_path: Path) -> None:
    runs = _runs(tmp_path, 40, 10)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    calibrate_cmd(runs, detector="level", out=a, alpha=0.2, window=5, registry=REGISTRY)
    calibrate_cmd(runs, detector="level", out=b, alpha=0.1, window=10, registry=REGISTRY)
    text = combine_cmd(a, b, rule="and", out=tmp_path / "ab.json")
    combo = load_calibration(tmp_path / "ab.json")
    assert combo.method == "combined" and combo.alpha == 0.1
    assert combo.false_alarm_rate <= 0.1 and "AND" in text
    assert "TPR 1.000" in evaluate_cmd(runs, calibration=tmp_path / "ab.json",
                                       registry=REGISTRY)


def test_calibration_for_another_detector_or_window_is_refused(tmp_path: Path) -> None:
    runs = _runs(tmp_path, 20, 0)
    out = tmp_path / "cal.json"
    calibrate_cmd(runs, detector="level", out=out, alpha=0.1, window=5, registry=REGISTRY)
    with pytest.raises(CalibrationFileError, match="for detector 'level'"):
        load_calibration(out, detector="ewma")
    with pytest.raises(CalibrationFileError, match="window 5"):
        load_calibration(out, window=7)
    with pytest.raises(CalibrationFileError, match="calibrate"):
        load_calibration(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"format": "mendflow-calibration/1"}')
    with pytest.raises(CalibrationFileError, match="not a calibration"):
        load_calibration(tmp_path / "bad.json")


def test_metrics() -> None:
    m = evaluate_alarms([
        Verdict("failure", 2.0, 10.0), Verdict("failure", None, 10.0),
        Verdict("success", None, 5.0), Verdict("success", 1.0, 5.0),
        Verdict("success", None, 5.0), Verdict("success", None, 5.0),
    ])
    assert (m.tpr, m.tnr) == (0.5, 0.75)
    assert m.balanced_accuracy == pytest.approx(0.625)
    assert m.f1 == pytest.approx(0.5)  # precision 1/2, recall 1/2
    assert m.mean_detection_fraction == pytest.approx(0.2)
    assert (m.tau_tp_s, m.tau_fp_s) == (2.0, 1.0)
    assert math.isnan(evaluate_alarms([Verdict("success", None, 1)]).tpr)
