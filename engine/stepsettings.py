"""How long a step may take and how often it is tried, as a guide author writes it.

Two places say it, the more specific winning:

- front matter, per step kind: `defaults: {query: {timeout: 30s}, detect: {timeout: 300s}}`;
- a step's own name tag, pandoc-attribute style: `## Insert the peg {#insert timeout=120s
  retries=2 backoff=5s}`.

`timeout` and `backoff` are durations (`500ms`, `30s`, `2m`, `1h`, `1m30s`, or a number of
seconds); `retries` is how many times a failed step is tried again (0: once only). A step that
changes the world and times out is never tried again by itself, whatever its retries: its effect
is unknown (`engine.scheduler`).
"""

from __future__ import annotations

import math
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

# The step kinds that do something for a while; decisions, gates and ends take no time.
TIMED_KINDS = ("query", "command", "detect", "call")
KEYS = ("timeout", "retries", "backoff")

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: object) -> float:
    """`"1m30s"` -> 90.0; a bare number is seconds. Raises ValueError with what to write."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        try:
            seconds = float(text)
        except ValueError:
            parts = _PART.findall(text)
            if not parts or "".join(a + u for a, u in parts) != text.replace(" ", ""):
                raise ValueError(f"{value!r} is not a duration (write 30s, 2m, 500ms or 1h)") \
                    from None
            seconds = sum(float(a) * _UNIT[u] for a, u in parts)
    else:
        raise ValueError(f"{value!r} is not a duration (write 30s, 2m, 500ms or 1h)")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{value!r} is not a duration: it must be a finite time >= 0")
    return seconds


class StepSettings(BaseModel):
    """What an author set; None: not set here (a default or the engine's setting applies)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timeout: float | None = Field(default=None, gt=0, le=7 * 86400,
                                  description="Seconds a try may take.")
    retries: int | None = Field(default=None, ge=0, le=99,
                                description="Tries after the first one fails.")
    backoff: float | None = Field(default=None, ge=0, le=3600,
                                  description="Seconds before the first retry (doubling).")

    @field_validator("timeout", "backoff", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return None if value is None else parse_duration(value)

    @field_validator("retries", mode="before")
    @classmethod
    def _count(cls, value: Any) -> Any:
        if isinstance(value, bool) or (isinstance(value, str) and not value.isdigit()):
            raise ValueError(f"{value!r} is not a number of retries (write retries=2)")
        return value

    def over(self, base: StepSettings | None) -> StepSettings:
        """These settings, with what they leave unset taken from `base`."""
        if base is None:
            return self
        mine = self.model_dump(exclude_none=True)
        return StepSettings(**{**base.model_dump(exclude_none=True), **mine})

    def describe(self) -> str:
        """`timeout 2m, 2 retries after 5s` for a graph label; '' when nothing is set."""
        said = []
        if self.timeout is not None:
            said.append(f"timeout {_short(self.timeout)}")
        if self.retries:
            said.append(f"{self.retries} retr{'y' if self.retries == 1 else 'ies'}"
                        + (f" after {_short(self.backoff)}" if self.backoff is not None else ""))
        return ", ".join(said)


def _short(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"


def parse_tag_settings(words: list[str]) -> StepSettings:
    """`["timeout=120s", "retries=2"]` (what follows `{#name` in a tag) -> StepSettings.
    Raises ValueError naming the word that is wrong and what is allowed."""
    given: dict[str, str] = {}
    for word in words:
        if word.startswith("."):
            continue  # a pandoc class (`.unnumbered`): how the heading renders, not the step
        key, eq, value = word.partition("=")
        if not eq or not value:
            raise ValueError(f"'{word}' is not key=value (known keys: {', '.join(KEYS)})")
        if key not in KEYS:
            raise ValueError(f"unknown setting '{key}' (known: {', '.join(KEYS)})")
        if key in given:
            raise ValueError(f"'{key}' is set twice")
        given[key] = value.strip("'\"")
    try:
        return StepSettings.model_validate(given)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ValueError(f"{err['loc'][0]}: {err['msg'].removeprefix('Value error, ')}") \
            from None
