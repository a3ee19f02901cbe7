"""The `logs` plugin: count and collect the log lines matching a pattern in a time window.

Sources: files named by glob patterns (`/var/log/app/*.log*`; rotated `*.gz` files are read
through gzip), read oldest first by modification time so the last lines kept are the newest;
and/or a systemd unit's journal (`journal_unit`), read by running
`journalctl --unit=UNIT -o short-iso --no-pager [--since @T] [--until @T]` as an argv (no
shell). Files are streamed line by line: memory stays bounded whatever their size, and a line
longer than 64 KiB is matched on its first 64 KiB.

Time window: `since`/`until` are ISO timestamps or durations back from now ("15m"); see
`plugins._logtime` for the line formats recognised. A line with no timestamp of its own
(a stack trace's continuation) has the time of the last timestamped line before it in the
same source. With a window set, lines whose time is unknown are left out.

Where files may be read: under `roots` (fixed text, never a template; default `/var/log`).
Every file a glob finds is resolved (`os.path.realpath`, symlinks followed) and must lie under
the resolved form of a root: `../../etc/shadow` or a symlink that leads out is refused with a
one-line error naming the file and the roots. A value in `paths` can choose a file under the
roots, never one outside them.

`pattern` is a regular expression in RE2 syntax (Python's for everyday patterns: classes,
groups, alternation, repeats; no backreferences or lookaround), searched in each line (all
lines if omitted), at most 1000 characters. RE2 runs in time linear in the line, so a pattern
from an alert label (`(a|a)*c`) cannot stall a scan. The scan runs in a worker thread and
checks, line by line, the step's deadline and whether the step was cancelled: a long scan
never blocks the event loop (so never a parallel step), and stops at the step's deadline.

A unit the journal has no entry of at all, at any time (journalctl's "-- No entries --" for a
misspelt unit, or one this host does not run), fails the step: its silence is no evidence.

Outputs: `count`, `count_by_file`, `first_at`/`last_at` (ISO times of the first and last match,
None if unknown), `last_lines` (the last `max_lines` matches, each cut to 500 chars after
redaction), `files`; artifact `matches` (those lines whole, redacted). Read-only, supports dry
run.
"""

from __future__ import annotations

import asyncio
import glob
import gzip
import os
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, BinaryIO, ClassVar

import re2
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engine.effects.credentials import holds_credentials
from engine.errors import StepFailed
from engine.plugins import PluginBase, StepContext, StepResult
from plugins._logtime import line_time, parse_when
from plugins._process import CommandNotFound, run_pipeline

MAX_PATTERN_CHARS = 1000
MAX_LINE_BYTES = 64 * 1024
SHOWN_LINE_CHARS = 500
DEFAULT_ROOTS = ("/var/log",)
CHECK_EVERY = 256
"""Lines between looks at the deadline and the stop flag: RE2 bounds a line's cost (a line is
at most 64 KiB), so a stop is noticed within a few milliseconds."""


class LogsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    paths: list[str] = Field(default_factory=list, description="Glob patterns of log files.")
    roots: list[str] = Field(default_factory=lambda: list(DEFAULT_ROOTS), min_length=1,
                             description="Directories files must resolve under (fixed text).")
    pattern: str | None = Field(default=None, description="RE2 regex; all lines if unset.")
    ignore_case: bool = False
    since: str | None = Field(default=None, description="ISO timestamp or duration ('15m').")
    until: str | None = Field(default=None, description="ISO timestamp or duration ('5m').")
    max_lines: int = Field(default=50, ge=1, le=10_000, description="Last N matches kept.")
    journal_unit: str | None = Field(default=None, min_length=1,
                                     description="systemd unit whose journal to read.")

    @field_validator("pattern")
    @classmethod
    def _linear_regex(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if len(v) > MAX_PATTERN_CHARS:
            raise ValueError(f"regex is {len(v)} characters; at most {MAX_PATTERN_CHARS}")
        compile_pattern(v, ignore_case=False)
        return v

    @field_validator("roots")
    @classmethod
    def _fixed_roots(cls, v: list[str]) -> list[str]:
        for root in v:
            if "{{" in root or "{%" in root:
                raise ValueError("roots must be fixed text, not a template: they bound what a "
                                 "value in `paths` may reach")
            if not os.path.isabs(os.path.expanduser(root)):
                raise ValueError(f"root {root!r} is not an absolute path")
        return v

    @field_validator("since", "until")
    @classmethod
    def _when(cls, v: str | None) -> str | None:
        if v is not None:
            parse_when(v, now=datetime.now().astimezone())
        return v

    @model_validator(mode="after")
    def _has_a_source(self) -> LogsParams:
        if not self.paths and not self.journal_unit:
            raise ValueError("give `paths` (log file globs) or `journal_unit`")
        return self


def compile_pattern(pattern: str, *, ignore_case: bool) -> Any:
    """`pattern` compiled by RE2 (linear time), or a ValueError saying what RE2 refused."""
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = not ignore_case
    options.never_capture = True  # only whether a line matches is wanted: faster
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        detail = exc.args[0].decode(errors="replace") if exc.args and isinstance(
            exc.args[0], bytes) else str(exc)
        raise ValueError(f"regex {pattern!r} is not valid RE2 syntax ({detail}); log patterns "
                         "run on RE2, which matches in linear time and has no backreferences "
                         "or lookaround") from None


def _matcher(regex: Any) -> Callable[[bytes], bool]:
    """Whether a line (bytes: nothing to re-encode) holds a match. RE2's own `Match` is called
    when the wrapper exposes it: its `search` builds a match object per call, which doubles the
    cost of a scan that tests every line."""
    match = getattr(getattr(regex, "_regexp", None), "Match", None)
    anchor = getattr(getattr(re2, "_Anchor", None), "UNANCHORED", None)
    if match is None or anchor is None:
        return lambda raw: regex.search(raw) is not None
    return lambda raw: match(anchor, raw, 0, len(raw))[0][0] != -1


def confined(files: list[str], roots: list[str]) -> list[str]:
    """`files` resolved (symlinks followed); a file outside every root is refused, and so is
    one that holds credentials by where it is, whatever the roots (/etc/shadow, a private key,
    ~/.aws/credentials: `engine.effects.credentials`): no log, and its matching lines would go
    into the step's output unredacted."""
    bases = [os.path.realpath(os.path.expanduser(r)) for r in roots]
    kept = []
    for path in files:
        real = os.path.realpath(path)
        if not any(real == base or real.startswith(base.rstrip(os.sep) + os.sep)
                   for base in bases):
            raise _Outside(path, real)
        if holds_credentials(path) or holds_credentials(real):
            raise _Outside(path, real, "it holds credentials (a password, a token or a key)")
        kept.append(path)
    return kept


class _Outside(Exception):
    def __init__(self, path: str, real: str, why: str | None = None) -> None:
        super().__init__(path)
        self.path, self.real, self.why = path, real, why


class _Scan:
    """Matches lines source by source; keeps counts and the last N matches."""

    def __init__(self, params: LogsParams, *, now: datetime, deadline: float) -> None:
        self.matches = _matcher(compile_pattern(params.pattern, ignore_case=params.ignore_case)) \
            if params.pattern else None
        self.since = parse_when(params.since, now=now) if params.since else None
        self.until = parse_when(params.until, now=now) if params.until else None
        self.now = now
        self.deadline = deadline
        self.stop = threading.Event()
        self.count = 0
        self.count_by_file: dict[str, int] = {}
        self.first_at: datetime | None = None
        self.last_at: datetime | None = None
        self.last: deque[str] = deque(maxlen=params.max_lines)
        self._current: dict[str, datetime | None] = {}
        self.windowed = self.since is not None or self.until is not None
        self._seen = 0

    def line(self, source: str, raw: bytes) -> None:
        self._seen += 1
        if self._seen % CHECK_EVERY == 0 and (self.stop.is_set()
                                             or time.monotonic() > self.deadline):
            raise _OutOfTime
        raw = raw.rstrip(b"\r\n")
        text = raw.decode("utf-8", errors="replace")
        at = line_time(text, now=self.now) or self._current.get(source)
        self._current[source] = at
        if self.windowed and (at is None or (self.since is not None and at < self.since)
                              or (self.until is not None and at > self.until)):
            return
        if self.matches is not None and not self.matches(raw):
            return
        self.count += 1
        self.count_by_file[source] = self.count_by_file.get(source, 0) + 1
        self.first_at = self.first_at or at
        self.last_at = at or self.last_at
        self.last.append(text)

    def scan_file(self, path: str) -> None:
        self.count_by_file.setdefault(path, 0)
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as f:
            for raw in _lines(f):
                self.line(path, raw)


class _OutOfTime(Exception):
    pass


def _lines(f: gzip.GzipFile | BinaryIO) -> Iterator[bytes]:
    """Lines of at most MAX_LINE_BYTES: the rest of a longer line is skipped, not kept."""
    while line := f.readline(MAX_LINE_BYTES):
        if len(line) == MAX_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := f.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass
        yield line


def _files(patterns: list[str]) -> list[str]:
    found = {p for pat in patterns for p in glob.glob(os.path.expanduser(pat), recursive=True)
             if os.path.isfile(p)}

    def age(p: str) -> tuple[float, str]:
        try:
            return os.stat(p).st_mtime, p
        except OSError:
            return 0.0, p

    return sorted(found, key=age)


class LogsPlugin(PluginBase):
    name: ClassVar[str] = "logs"
    Params: ClassVar[type[BaseModel]] = LogsParams
    read_only: ClassVar[bool] = True

    untemplated_params: ClassVar[frozenset[str]] = frozenset({"roots"})
    """Roots bound what `paths` may reach: fixed text, passed unrendered."""

    def describe(self, *, params: LogsParams) -> str:
        where = ", ".join(params.paths + ([f"journal of {params.journal_unit}"]
                                          if params.journal_unit else []))
        return f"search {where} for {params.pattern or 'all lines'!r}"

    async def run(self, *, params: LogsParams, ctx: StepContext) -> StepResult:
        scan = _Scan(params, now=datetime.now().astimezone(),
                     deadline=time.monotonic() + ctx.deadline_s)
        files = _files(params.paths) if params.paths else []
        if params.paths and not files:
            raise StepFailed(f"no log file matches {', '.join(params.paths)}",
                             retryable=False, step=ctx.step_id,
                             hint="Check the paths, and that this host keeps those logs")
        try:
            files = confined(files, params.roots)
        except _Outside as out:
            shown = out.path if out.real == out.path else f"{out.path} (which is {out.real})"
            if out.why is not None:
                raise StepFailed(f"refused to read {shown}: {out.why}, not a log",
                                 retryable=False, step=ctx.step_id,
                                 hint="Name only log files in `paths`") from None
            raise StepFailed(f"refused to read {shown}: it is outside the step's roots "
                             f"({', '.join(params.roots)})", retryable=False, step=ctx.step_id,
                             hint="Add its directory to the step's `roots` if it is meant to "
                             "be read") from None
        unreadable: list[str] = []
        try:
            if files:
                unreadable = await asyncio.to_thread(_scan_files, scan, files)
                if len(unreadable) == len(files):
                    raise StepFailed(f"no log file could be read: {'; '.join(unreadable[:3])}",
                                     retryable=False, step=ctx.step_id)
                if unreadable and not scan.count and not params.journal_unit:
                    # "no errors" from the files it could read says nothing of the others
                    raise StepFailed(
                        f"no line matched in the {len(files) - len(unreadable)} log files "
                        f"read, but {len(unreadable)} could not be read: "
                        f"{'; '.join(unreadable[:3])}", retryable=False, step=ctx.step_id,
                        hint="Give the step read access to every file it names, or name "
                             "only those it can read")
            if params.journal_unit:
                await _scan_journal(scan, params.journal_unit, ctx)
        except _OutOfTime:
            raise StepFailed(f"log search timed out after {ctx.deadline_s:g}s "
                             f"({scan.count} matches so far)", step=ctx.step_id) from None
        finally:
            scan.stop.set()  # a thread still scanning after a cancellation stops soon
        return _result(scan, files, unreadable, ctx)


def _scan_files(scan: _Scan, files: list[str]) -> list[str]:
    unreadable = []
    for path in files:
        try:
            scan.scan_file(path)
        except (OSError, EOFError) as exc:  # permissions, a truncated or corrupt .gz
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            unreadable.append(f"{path}: {reason}")
    return unreadable


async def _scan_journal(scan: _Scan, unit: str, ctx: StepContext) -> None:
    if shutil.which("journalctl") is None:
        raise StepFailed("journal not available here: journalctl is not installed",
                         retryable=False, step=ctx.step_id, hint="Read log files with `paths`")
    argv = ["journalctl", f"--unit={unit}", "-o", "short-iso", "--no-pager"]
    if scan.since:
        argv += ["--since", f"@{int(scan.since.timestamp())}"]
    if scan.until:
        argv += ["--until", f"@{int(scan.until.timestamp()) + 1}"]
    source = f"journal:{unit}"
    pending = bytearray()
    entries = 0

    def on_stdout(chunk: bytes) -> None:
        nonlocal entries
        pending.extend(chunk)
        *complete, rest = pending.split(b"\n")
        pending[:] = rest[:MAX_LINE_BYTES]
        for raw in complete:
            if not raw.startswith(b"-- "):  # journalctl's own "-- No entries --" notes
                entries += 1
                scan.line(source, bytes(raw[:MAX_LINE_BYTES]))

    remaining = max(scan.deadline - time.monotonic(), 0.001)
    try:
        async with asyncio.timeout(remaining):
            res = await run_pipeline([argv], cap=64 * 1024, on_stdout=on_stdout)
    except TimeoutError:
        raise _OutOfTime from None
    except CommandNotFound:
        raise StepFailed("journal not available here: journalctl cannot run",
                         retryable=False, step=ctx.step_id) from None
    if pending and not pending.startswith(b"-- "):
        entries += 1
        scan.line(source, bytes(pending))
    err = res.stderr.data.decode("utf-8", errors="replace").strip()
    if "No journal files were found" in err or res.returncodes[0] != 0:
        last = err.splitlines()[-1] if err else f"exit status {res.returncodes[0]}"
        raise StepFailed(f"journal not available here: journalctl: {last}",
                         retryable=False, step=ctx.step_id)
    if not entries and not await _unit_ever_logged(unit, scan):
        # "-- No entries --" for a unit the journal never heard of (a misspelt name, an
        # alert label naming another host's service) is no evidence that nothing went wrong
        raise StepFailed(f"the journal has no entries at all for the unit {unit!r}, so its "
                         "silence says nothing", retryable=False, step=ctx.step_id,
                         hint="Check the unit's name (systemctl list-units), and that this "
                         "host runs it")


async def _unit_ever_logged(unit: str, scan: _Scan) -> bool:
    """Whether the journal holds any entry of `unit`, at any time: a unit that logged
    nothing in the window but has before is quiet; one with no entry at all is unknown."""
    argv = ["journalctl", f"--unit={unit}", "-n", "1", "-o", "short-iso", "--no-pager"]
    remaining = max(scan.deadline - time.monotonic(), 0.001)
    try:
        async with asyncio.timeout(remaining):
            res = await run_pipeline([argv], cap=64 * 1024)
    except TimeoutError:
        raise _OutOfTime from None
    except CommandNotFound:
        return False
    out = res.stdout.data.decode("utf-8", errors="replace")
    return any(line.strip() and not line.startswith("-- ") for line in out.splitlines())


def _result(scan: _Scan, files: list[str], unreadable: list[str],
            ctx: StepContext) -> StepResult:
    # Lines longer than MAX_LINE_BYTES were cut when read: redacted as cut, then shortened.
    lines = [ctx.redact_cut(ln, end=len(ln.encode()) >= MAX_LINE_BYTES) for ln in scan.last]
    outputs = {
        "count": scan.count,
        "count_by_file": scan.count_by_file,
        "first_at": scan.first_at.isoformat() if scan.first_at else None,
        "last_at": scan.last_at.isoformat() if scan.last_at else None,
        "last_lines": [ln[:SHOWN_LINE_CHARS] for ln in lines],
        "files": files,
        "unreadable": unreadable,
    }
    summary = f"{scan.count} matching lines in {len(scan.count_by_file)} sources"
    return StepResult(outputs=outputs, artifacts={"matches": "\n".join(lines).encode()},
                      summary=summary)

