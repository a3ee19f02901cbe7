"""Calibration artifacts: what a calibration decided, stored as JSON next to the guide.

An artifact records the detector and its params (those the detector fitted from the
runs, e.g. ft_jam_slip's nominal force levels, also listed under `fitted`), the method
(`max`, `band` or `combined`), alpha, n and the rank k, the window, the threshold (or
the band), the exact false-alarm rate the threshold carries, a hash of the calibration
data and when it was made, so a reviewer can tell which runs a threshold came from and
whether it is stale.

This module does not fit anything (`engine.detect.conformal`) or score runs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from engine.detect.errors import CalibrationFileError
from engine.files import loads, read_text

FORMAT: Final = "mendflow-calibration/1"


class BandData(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mean: list[float]
    spread: list[float]
    h: float
    n_fit: int


class Calibration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["mendflow-calibration/1"] = FORMAT
    detector: str
    params: dict[str, Any] = Field(default_factory=dict)
    fitted: dict[str, float] = Field(
        default_factory=dict, description="The params fitted from the successful runs (also "
        "in params); empty in artifacts made before detectors fitted any.")
    method: Literal["max", "band", "combined"]
    alpha: float = Field(gt=0, lt=1)
    n: int = Field(ge=0, description="Calibration runs the threshold is a rank of.")
    k: int = Field(ge=0, description="Rank of the threshold: ceil((n+1)(1-alpha)).")
    window: int = Field(ge=1)
    threshold: float | None = Field(default=None, description="For `max`.")
    band: BandData | None = Field(default=None, description="For `band`.")
    rule: Literal["and", "or"] | None = Field(default=None, description="For `combined`.")
    components: list[Calibration] = Field(default_factory=list)
    false_alarm_rate: float = Field(description="Guaranteed bound on a new successful run.")
    data_hash: str
    created_at: str
    runs_used: int = Field(default=0, description="Successful runs read (fit + calibrate).")

    def bound(self) -> float:
        return self.false_alarm_rate


def data_hash(paths: Iterable[Path]) -> str:
    """sha256 over the calibration files' names and bytes, in sorted order."""
    h = hashlib.sha256()
    for p in sorted(Path(p) for p in paths):
        h.update(p.name.encode() + b"\0")
        h.update(p.read_bytes())
    return h.hexdigest()


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def save_calibration(cal: Calibration, path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(cal.model_dump(mode="json"), indent=2, sort_keys=True) + "\n",
                 encoding="utf-8")
    return p


def load_calibration(path: str | Path, *, detector: str | None = None,
                     window: int | None = None) -> Calibration:
    """Read an artifact; refuse one for another detector or window, with a hint."""
    p = Path(path)
    text = read_text(p, what="calibration", error=CalibrationFileError,
                     hint="Run `mendflow detector calibrate` to write it")
    try:
        data = loads(text)
    except json.JSONDecodeError as exc:
        raise CalibrationFileError(f"the calibration is not JSON: {exc.msg}", file=str(p),
                                   line=exc.lineno, hint="Recalibrate to rewrite it") from None
    try:
        cal = Calibration.model_validate(data)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "file"
        raise CalibrationFileError(f"not a calibration: {where}: {first['msg']}",
                                   file=str(p), hint="Recalibrate to rewrite it") from None
    if detector is not None:
        check_detector(cal, detector, p)
    if window is not None and cal.window != window:
        raise CalibrationFileError(
            f"calibration {p} was made with window {cal.window}, the step asks for {window}",
            file=str(p), hint="Drop `window` from the step, or recalibrate with it")
    return cal


def check_detector(cal: Calibration, detector: str, path: str | Path) -> None:
    """Refuse a calibration made for another detector, naming both."""
    if cal.detector != detector:
        raise CalibrationFileError(
            f"calibration {path} is for detector {cal.detector!r}, not {detector!r}",
            file=str(path), hint="Point the step at the calibration of its own detector")
