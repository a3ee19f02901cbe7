"""Recorded runs from the simulated cell's physics, calibrations, and a step context."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.detect import RecordedRun, write_run
from engine.detect.commands import calibrate_cmd
from engine.plugins import Registry, StepContext
from plugins.detectors.ewma import EwmaDetector
from plugins.detectors.ft_jam_slip import FtJamSlipDetector
from plugins.detectors.model_score import ModelScoreDetector
from plugins.detectors.threshold import ThresholdDetector
from plugins.robot.cell_model import CHANNELS, DEFAULT_CELL, CellConfig, generate_attempt

DETECTORS = {c.name: c for c in (FtJamSlipDetector, EwmaDetector, ThresholdDetector,
                                 ModelScoreDetector)}
REGISTRY = Registry(extra=DETECTORS, discover=False)

# ft_jam_slip's nominal levels for the default simulated cell, for tests that score without a
# calibration (the detector has no defaults for them; calibration fits them).
SIM_NOMINAL = {"press_n": DEFAULT_CELL.press_n, "lateral_n": DEFAULT_CELL.search_n,
               "tilt_nm": 0.1}


def ctx(step: str = "watch") -> StepContext:
    return StepContext(run_id="r", step_id=step, attempt=1, idempotency_key="k",
                       deadline_s=30)


def record(rng: np.random.Generator, directory: Path, n: int, *, success: bool | None = None,
           cfg: CellConfig = DEFAULT_CELL, prefix: str = "run", **kw: object) -> list[Path]:
    out = []
    for i in range(n):
        a = generate_attempt(rng, cfg, success=success, **kw)  # type: ignore[arg-type]
        run = RecordedRun(a.t, a.wrench, list(CHANNELS), "success" if a.success else "failure",
                          a.meta())
        out.append(write_run(run, directory / f"{prefix}-{i:04d}.jsonl"))
    return out


def peg_calibration(directory: Path, *, alpha: float = 0.05, n: int = 59,
                    seed: int = 101) -> Path:
    """ft_jam_slip calibrated on n successful simulated attempts (some with sensor offsets)."""
    runs = directory / "calibration-runs"
    record(np.random.default_rng(seed), runs, n, success=True)
    out = directory / "peg.json"
    calibrate_cmd(runs, detector="ft_jam_slip", out=out, alpha=alpha, window=25,
                  registry=REGISTRY)
    return out
