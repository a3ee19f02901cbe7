"""Generic failure-detector support: scores, windows, conformal calibration, evaluation.

A detector turns a stream of observations into a score per time step; `windows` aggregates
it (the sum over the last w steps) and finds where the aggregate first crosses a threshold;
`conformal` calibrates thresholds on successful runs so that the false-alarm rate is at most
alpha; `artifact` stores a calibration as JSON; `runs` reads and writes recorded runs;
`metrics` scores a detector on labelled runs; `commands` holds what `mendflow detector
calibrate|evaluate` call.

Everything here is pure (numpy only, file I/O only in `artifact`, `runs` and `commands`). It
knows no concrete detector: those are plugins (entry point group `mendflow.detectors`) that
provide `score(*, params, t, x, channels) -> ndarray`, see `commands.Scorer`.
"""

from engine.detect.artifact import Calibration, load_calibration, save_calibration
from engine.detect.conformal import (
    combine_alarms,
    conformal_rank,
    conformal_threshold,
    exact_false_alarm_rate,
    fit_band,
    fit_max,
    min_calibration_runs,
)
from engine.detect.errors import (
    CalibrationFileError,
    DetectError,
    ModelLoadError,
    StreamDataError,
    TooFewRuns,
)
from engine.detect.metrics import Metrics, evaluate_alarms
from engine.detect.runs import RecordedRun, read_run, read_runs, write_run
from engine.detect.windows import clean_stream, first_crossing, window_sum

__all__ = [
    "Calibration", "CalibrationFileError", "DetectError", "Metrics", "ModelLoadError",
    "RecordedRun", "StreamDataError", "TooFewRuns", "clean_stream", "combine_alarms",
    "conformal_rank", "conformal_threshold", "evaluate_alarms", "exact_false_alarm_rate",
    "first_crossing", "fit_band", "fit_max", "load_calibration", "min_calibration_runs",
    "read_run", "read_runs", "save_calibration", "window_sum", "write_run",
]
