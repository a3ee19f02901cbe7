"""How well a detector separates failed from successful runs.

A run's verdict is its first alarm (or none). Failures are positives: TPR is the share of
failed runs with an alarm, TNR the share of successful runs without one; balanced accuracy
is their mean; F1 is over alarms as positive predictions. Detection time is the alarm time
as a fraction of the run's duration, averaged over true positives (earlier is better).

This module does not run detectors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True, slots=True)
class Verdict:
    label: str  # success | failure
    alarm_s: float | None  # seconds from the run's start, or None
    duration_s: float


@dataclass(frozen=True, slots=True)
class Metrics:
    n_success: int
    n_failure: int
    tpr: float
    tnr: float
    balanced_accuracy: float
    f1: float
    mean_detection_fraction: float  # NaN when nothing was detected
    tau_tp_s: float
    tau_fp_s: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def evaluate_alarms(verdicts: Sequence[Verdict]) -> Metrics:
    pos = [v for v in verdicts if v.label == "failure"]
    neg = [v for v in verdicts if v.label == "success"]
    tp = [v for v in pos if v.alarm_s is not None]
    fp = [v for v in neg if v.alarm_s is not None]
    tpr = len(tp) / len(pos) if pos else math.nan
    tnr = 1 - len(fp) / len(neg) if neg else math.nan
    precision = len(tp) / (len(tp) + len(fp)) if tp or fp else 0.0
    f1 = (2 * precision * tpr / (precision + tpr)) if pos and precision + tpr > 0 else 0.0
    frac = [v.alarm_s / v.duration_s for v in tp if v.duration_s > 0]  # type: ignore[operator]
    return Metrics(
        n_success=len(neg), n_failure=len(pos), tpr=tpr, tnr=tnr,
        balanced_accuracy=(tpr + tnr) / 2, f1=f1,
        mean_detection_fraction=sum(frac) / len(frac) if frac else math.nan,
        tau_tp_s=_mean([v.alarm_s for v in tp]), tau_fp_s=_mean([v.alarm_s for v in fp]),
    )


def _mean(xs: Sequence[float | None]) -> float:
    vals = [x for x in xs if x is not None]
    return sum(vals) / len(vals) if vals else math.nan
