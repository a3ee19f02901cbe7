"""Log lines as text or as JSON, each carrying the run and step it is about.

`bound(run_id=..., step_id=...)` says, for the code it wraps (an asyncio task's context, so
steps running at once do not mix), which run and step the lines logged there belong to;
`JsonFormatter` writes one JSON object a line with them as fields (`run_id`, `step_id`), for a
log shipper to index. Every line's text passes through a redactor first (the data sources'
secrets, as `engine.datasources.RedactingLogger` redacts a plugin's lines), the exception's
too: a secret does not reach a log by being in a message someone else formatted.

`configure(fmt)` installs one handler on the `mendflow` logger (stderr); `mendflow serve`
and `mendflow worker` call it with `--log-format` (or MENDFLOW_LOG_FORMAT).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Literal

from engine.printable import visible

LogFormat = Literal["text", "json"]

_RUN: ContextVar[str | None] = ContextVar("mendflow_log_run", default=None)
_STEP: ContextVar[str | None] = ContextVar("mendflow_log_step", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class bound:  # noqa: N801 - used as a function: `with bound(run_id=...):`
    """Lines logged inside belong to this run (and step). A class, not a generator: every
    step of a run goes through it."""

    __slots__ = ("_run_id", "_step_id", "_run", "_step")

    def __init__(self, *, run_id: str | None = None, step_id: str | None = None) -> None:
        self._run_id, self._step_id = run_id, step_id
        self._run: Token[str | None] | None = None
        self._step: Token[str | None] | None = None

    def __enter__(self) -> None:
        if self._run_id is not None:
            self._run = _RUN.set(self._run_id)
        if self._step_id is not None:
            self._step = _STEP.set(self._step_id)

    def __exit__(self, *exc: object) -> None:
        if self._step is not None:
            _STEP.reset(self._step)
        if self._run is not None:
            _RUN.reset(self._run)


def current() -> tuple[str | None, str | None]:
    return _RUN.get(), _STEP.get()


class _Ids(logging.Filter):
    """Puts the bound run and step on every record (`record.run_id`, `record.step_id`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "run_id", None) is None:
            record.run_id = _RUN.get()
        if getattr(record, "step_id", None) is None:
            record.step_id = _STEP.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, run_id, step_id (and exc)."""

    def __init__(self, redact: Callable[[str], str] | None = None) -> None:
        super().__init__()
        self.redact: Callable[[str], str] = redact or (lambda text: text)

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname, "logger": record.name,
            "message": self.redact(record.getMessage()),
            "run_id": getattr(record, "run_id", None),
            "step_id": getattr(record, "step_id", None),
        }
        if record.exc_info:
            line["exc"] = self.redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)


class _RedactingText(logging.Formatter):
    """A line of text for each record. Its message is one line of visible text: what a step
    printed or an alert's label said reaches messages (a run's reason holds a failed command's
    stderr), and a newline in it wrote a line of its own that a reader, or a log shipper
    reading lines, took for Mendflow's (`... INFO mendflow: run r1 of disk ended resolved`),
    and a terminal escape acted on the terminal of whoever tails the log (`engine.printable`).
    Newlines, carriage returns and every control and format character are escaped (`\\n`,
    `\\x1b`); an exception's traceback, after it, keeps its lines."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        super().__init__(TEXT_FORMAT)
        self.redact = redact

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        shown = logging.makeLogRecord(record.__dict__)
        shown.message = visible(self.redact(record.message)).replace("\n", "\\n") \
            .replace("\t", "\\t")
        return super().formatMessage(shown)

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


class Redacting:
    """A redactor that can be given its secrets after logging is configured (the data
    sources are read after the command line)."""

    def __init__(self) -> None:
        self.redact: Callable[[str], str] = lambda text: text

    def __call__(self, text: str) -> str:
        return self.redact(text)


def configure(fmt: LogFormat, *, logger: str = "mendflow", level: int = logging.INFO,
              redact: Callable[[str], str] | None = None) -> logging.Handler:
    """Log `logger`'s lines (INFO and up) to stderr as text or JSON; returns the handler."""
    handler = logging.StreamHandler()
    scrub = redact or (lambda text: text)
    handler.setFormatter(JsonFormatter(scrub) if fmt == "json" else _RedactingText(scrub))
    handler.addFilter(_Ids())
    target = logging.getLogger(logger)
    target.addHandler(handler)
    target.setLevel(level)
    if fmt == "json":  # every line once, as JSON: not again through a root handler (Celery's)
        target.propagate = False
    return handler


def parse_format(value: str | None) -> LogFormat:
    """`text` (the default) or `json`; anything else is the caller's one-line error."""
    if value in (None, "", "text"):
        return "text"
    if value == "json":
        return "json"
    raise ValueError(f"log format {value!r}: use text or json")
