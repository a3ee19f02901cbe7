"""Errors of detector support, each a MendflowError with a hint a person can act on.

    MendflowError
    └── DetectError               anything about detectors, their data or calibrations
        ├── TooFewRuns            too few calibration runs for the alpha asked
        ├── StreamDataError       a sensor stream has NaNs, gaps or the wrong shape
        ├── ModelLoadError        a detector's score model file does not load
        └── CalibrationFileError  a calibration artifact is missing, malformed or mismatched
"""

from __future__ import annotations

from engine.errors import ExitCode, MendflowError


class DetectError(MendflowError):
    """A detector, its data or its calibration is unusable."""

    exit_code = ExitCode.BAD_INPUT


class TooFewRuns(DetectError):
    """Split conformal needs n >= ceil(1/alpha) - 1 calibration runs for a finite threshold."""


class DegenerateBand(DetectError):
    """A functional band whose scale puts it out of reach: it could never fire."""


class StreamDataError(DetectError):
    """A sensor stream cannot be scored: too many NaNs, a gap, or a wrong shape."""


class ModelLoadError(DetectError):
    """A detector's score model file is missing or malformed."""


class CalibrationFileError(DetectError):
    """A calibration artifact is missing, malformed, or for another detector or window."""
