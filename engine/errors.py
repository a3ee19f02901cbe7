"""Mendflow's error tree: every error the engine raises on purpose derives from one root.

    MendflowError                 anything Mendflow raises on purpose
    ├── GuideError                a guide cannot be read or parsed (file, line)
    ├── PlanError                 a plan is invalid or cannot be loaded
    │   ├── ValidationError       a compiled plan breaks a structural rule (step, line)
    │   └── SchemaVersionError    a plan written by another schema version
    ├── TemplateError             a Jinja2 template is malformed or names something undefined
    ├── ConditionError            a condition expression cannot be evaluated
    ├── PluginError               a plugin is unknown, cannot load, or failed
    │   └── StepFailed            a step ran and failed (exit status, timeout, bad output)
    ├── StoreError                the run store is unreachable, corrupted or inconsistent
    │   └── RunNotFound           no run with that id
    ├── ConfigError               settings or data sources are wrong
    ├── InputError                a run was given a bad --input, --alert or answer
    └── DetectError               detectors, their data or calibrations (engine.detect.errors:
                                  TooFewRuns, StreamDataError, ModelLoadError,
                                  CalibrationFileError)

Control-flow signals (a run cancelled by the user) are not failures and do not derive from
MendflowError; see `Cancelled`.

Every error carries an optional location (`file`, `line`, `step`) and a `hint` saying what to
do; `str(err)` renders them as one line a person can act on, e.g.

    guides/x.md:12 [step diag-2]: jump to missing anchor '#mitigaton'. Fix the link ...
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """What `mendflow` exits with: one meaning each (the README's table; a test reads both)."""

    OK = 0  # resolved, mitigated or no_action (or the command did what it was asked)
    FAILED = 1  # a step (a change) or the engine failed; lint found errors
    BAD_INPUT = 2  # bad input or usage: guide, plan, flags, config, alert, unknown run id
    ESCALATE = 3  # the run ended with `escalate`: a person must act
    INCONCLUSIVE = 4  # the evidence failed: the run drew no conclusion
    UNAVAILABLE = 5  # infrastructure unavailable: the store, the broker
    INTERRUPTED = 130  # interrupted or cancelled (the run stays resumable)


@dataclass(frozen=True, slots=True)
class Location:
    """Where in a guide (or plan) an error points to. Lines are 1-based."""

    file: str | None = None
    line: int | None = None
    step: str | None = None

    def __str__(self) -> str:
        where = self.file or ""
        if self.line is not None:
            where = f"{where}:{self.line}" if where else f"line {self.line}"
        if self.step:
            where = f"{where} [step {self.step}]" if where else f"[step {self.step}]"
        return where


class MendflowError(Exception):
    """Root of every error Mendflow raises on purpose."""

    exit_code: int = ExitCode.FAILED

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        step: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.location = Location(file=file, line=line, step=step)
        self.hint = hint

    def __str__(self) -> str:
        where = str(self.location)
        text = f"{where}: {self.message}" if where else self.message
        if self.hint:
            text = f"{text}. {self.hint}" if not text.endswith(".") else f"{text} {self.hint}"
        return text

    def to_dict(self) -> dict[str, object]:
        return {
            "error": type(self).__name__,
            "message": self.message,
            "file": self.location.file,
            "line": self.location.line,
            "step": self.location.step,
            "hint": self.hint,
        }


class GuideError(MendflowError):
    """A guide cannot be read or parsed."""

    exit_code = ExitCode.BAD_INPUT


class PlanError(MendflowError):
    """A plan is invalid or cannot be loaded."""

    exit_code = ExitCode.BAD_INPUT


class ValidationError(PlanError):
    """A compiled plan breaks a structural rule."""


class SchemaVersionError(PlanError):
    """A plan file was written by a schema version this Mendflow does not read."""


class TemplateError(MendflowError):
    """A Jinja2 template is malformed or refers to something nothing defines."""


class ConditionError(MendflowError):
    """A condition expression cannot be evaluated over the run memory."""


class PluginError(MendflowError):
    """A plugin is unknown, cannot be loaded, or failed."""


class StepFailed(PluginError):
    """A step ran and failed; `retryable` says whether another attempt may help.
    `effect_unknown`: it was cut off (a timeout) after it may have acted, so whether it
    changed anything is not known; the engine never retries a mutating step for which that is
    so (a person decides)."""

    def __init__(self, message: str, *, retryable: bool = True, effect_unknown: bool = False,
                 **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retryable = retryable
        self.effect_unknown = effect_unknown


class StoreError(MendflowError):
    """The run store is unreachable, corrupted or inconsistent."""

    exit_code = ExitCode.UNAVAILABLE


class RunNotFound(StoreError):
    """No run with that id exists in the store."""

    exit_code = ExitCode.BAD_INPUT


class ConfigError(MendflowError):
    """Settings or data sources are wrong."""

    exit_code = ExitCode.BAD_INPUT


class InputError(MendflowError):
    """A run was given a bad --input, --alert or answer."""

    exit_code = ExitCode.BAD_INPUT


class Cancelled(Exception):
    """Control-flow signal: the user cancelled the run. Not a failure; the run stays resumable."""
