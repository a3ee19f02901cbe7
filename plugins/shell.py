"""The `shell` plugin: run a command pipeline from a guide, with no shell in between.

A step's `pipeline` is a list of argv lists, connected stdout -> stdin like `a | b`. Every
element is passed to the program as one argument, exactly as rendered: a template value such
as `; rm -rf /` or `$(id)` stays a literal string, because nothing parses it. The exit status
is the last stage's; `pipestatus` reports every stage's. A stage before the last that fails
fails the step too (its status is not one of its answers, and no later stage such as `head`
stopped reading early: `engine.exits`): `curl URL | grep -c error` that prints 0 because curl
could not connect found nothing out, and must not read as "no errors".

Outputs (memory): `exit_code`, `pipestatus`, `stdout` (first ~4000 chars), `stderr` (last
~2000 chars), `lines` (first 200 stdout lines), `line_count`, `truncated`, `stdout_bytes`,
`stderr_bytes`, `duration_s`, `argv`. Artifacts: `stdout` and `stderr`, each capped at
`ctx.output_cap_bytes`; output beyond the cap is read and discarded so the program never stalls.
Every one of them is cut from output already redacted (`ctx.redact`): a secret the program
prints is masked whole, never cut in two with a piece left at the cut.

A missing program raises StepFailed (not retryable); an exit status outside `ok_exit_codes`
is the world's answer: `ok=False`, outputs kept as evidence. On timeout or cancellation every
process the step started, grandchildren included, is ended (see `plugins._process`); if the
process running the step dies, the step's processes die with it.

In a dry run the steps that run at all are the ungated ones, and the OS holds them to that:
they run with a read-only view of the filesystem (`run_pipeline(read_only=True)`: bubblewrap),
so a step wrongly taken for read-only fails saying it could not write, instead of writing.
Where no sandbox can be made, the dry run says so once (a warning) and is not enforced.

An ungated step (not `ctx.mutating`) reaches PostgreSQL only in read-only transactions: its
environment carries `PGOPTIONS=... -c default_transaction_read_only=on`, which every libpq
client (psql, pg_dump, a script's driver) sends to the server; a psql that environment does
not reach (`sudo -u postgres psql`, `sudo gitlab-psql`, `kubectl exec POD -- psql`) runs
`SET default_transaction_read_only = on` before its own `-c`; its `mysql`/`mariadb` clients,
wherever they sit, start their session with `SET SESSION TRANSACTION READ ONLY`. (Over ssh
neither reaches: the read-only table gates a database client run there.) The read-only table judges
`psql -c` by its text, and a text cannot tell that `SELECT archive_old_rows()` calls a
function that deletes; the database can. (A superuser login can still act beyond the
database; the table refuses those calls by name.)

This module does not render templates, decide `mutating`, or enforce approvals.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine import exits
from engine.effects.bash import command_words, pipeline_stages
from engine.effects.classify import database_clients
from engine.errors import StepFailed
from engine.plugins import MAX_SUMMARY_CHARS, PluginBase, StepContext, StepResult
from plugins._process import (
    Capture,
    CommandNotFound,
    PipelineResult,
    run_pipeline,
    sandbox_problem,
)

STDERR_TAIL_CHARS = 2000
MAX_LINES = 200
PG_READ_ONLY = "-c default_transaction_read_only=on"
"""What an ungated step's PostgreSQL clients send the server (`PGOPTIONS`): later settings
win, so it goes last."""
PG_READ_ONLY_COMMANDS = (
    "\\set mendflow_quiet :QUIET", "\\set QUIET on",
    "SET default_transaction_read_only = on; SET TRANSACTION READ ONLY",
    "\\set QUIET :mendflow_quiet")
"""What an ungated psql the environment does not reach (behind sudo, in a container) runs
before its own `-c`: every transaction after it read-only, and the one `-1` opens too; quietly
(no `SET` in its output), then as quiet as it was."""
MYSQL_READ_ONLY = "--init-command=SET SESSION TRANSACTION READ ONLY"
"""What an ungated step's MySQL client runs first on connecting: every statement after it, and
what a stored function it calls writes, is refused by the server."""


class ShellParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pipeline: list[Annotated[list[str], Field(min_length=1)]] = Field(
        min_length=1, description="argv per stage, connected stdout -> stdin; no shell.")
    ok_exit_codes: list[int] = Field(default_factory=lambda: [0], min_length=1)
    stdin: str | None = Field(default=None, description="Text fed to the first stage.")
    env: dict[str, str] = Field(default_factory=dict, description="Added to the environment.")
    cwd: str | None = None

    @field_validator("pipeline")
    @classmethod
    def _programs_named(cls, pipeline: list[list[str]]) -> list[list[str]]:
        for i, argv in enumerate(pipeline):
            if not argv[0].strip():
                raise ValueError(f"stage {i} names no program (its first element is empty)")
        return pipeline


def _gist(lines: list[str], limit: int = 160) -> str:
    """The first lines of the output, on one line, for a live view or a report row."""
    shown = " ⏎ ".join(" ".join(line.split()) for line in lines[:4] if line.strip())
    if len(lines) > 4:
        shown += f" ⏎ … ({len(lines)} lines)"
    if not shown:
        return "no output"
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def shown_word(word: str) -> str:
    """`word` quoted for bash on one line: a word holding a newline or another control or
    format character is written `$'...'` with it escaped, so an approver reads every character
    that will run and no value can push the rest of a command to another line."""
    if word.isprintable():
        return shlex.quote(word)
    out = []
    for c in word:
        if c in "\\'":
            out.append("\\" + c)
        elif c.isprintable():
            out.append(c)
        else:
            code = ord(c)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000
                       else f"\\U{code:08x}")
    return "$'" + "".join(out) + "'"


def describe_pipeline(pipeline: list[list[str]], *, cwd: str | None = None,
                      env: dict[str, str] | None = None, stdin: str | None = None) -> str:
    """The pipeline as a person would type it, quoted so that pasting it is safe, on one line:
    with the folder it runs in, the variables it is given and the text fed to it, each of
    which changes what it does (`psql` fed `DROP TABLE x`), so an approver sees them all."""
    head = f"cd {shown_word(cwd)} && " if cwd is not None else ""
    if env:
        head += "export " + " ".join(f"{name}={shown_word(value)}"
                                     for name, value in sorted(env.items())) + " && "
    if stdin is not None:
        head += f"printf %s {shown_word(stdin)} | "
    return head + " | ".join(" ".join(shown_word(w) for w in argv) for argv in pipeline)


class ShellPlugin(PluginBase):
    name: ClassVar[str] = "shell"
    Params: ClassVar[type[BaseModel]] = ShellParams
    read_only: ClassVar[bool] = False  # per step, Step.mutating decides
    idempotent: ClassVar[bool] = False  # a command run twice does what it does twice
    # The steps a dry run lets through are the ungated ones: run them in a read-only view.
    sandbox_dry_runs: ClassVar[bool] = True
    _warned_unsandboxed: ClassVar[bool] = False

    def describe(self, *, params: ShellParams) -> str:
        return describe_pipeline(params.pipeline, cwd=params.cwd, env=params.env,
                                 stdin=params.stdin)

    async def run(self, *, params: ShellParams, ctx: StepContext) -> StepResult:
        return await self.run_stages(params, ctx)

    async def run_stages(self, params: ShellParams, ctx: StepContext, *,
                         inner: Inner | None = None, failures: str | None = None,
                         shown: str | None = None) -> StepResult:
        """`run`, where the one stage may be a shell whose line is itself a pipeline
        (`inner`: its stages, and the marker of the line its statuses are printed on):
        the stages' statuses are judged as a pipeline's own are. `failures`: the marker of
        the lines on which the shell reports each command that failed inside its line (any
        other line: `a; b`, a loop, `$(...)`), each judged as a stage before the last is.
        `shown`: the command as messages name it (a shell's line, not the argv that runs
        it)."""
        command = shown or describe_pipeline(params.pipeline)
        if params.cwd is not None and not os.path.isdir(params.cwd):
            raise StepFailed(f"working directory does not exist: {params.cwd}",
                             retryable=False, step=ctx.step_id)
        env = {**os.environ, **params.env} if params.env else None
        pipeline = params.pipeline
        if not ctx.mutating:
            env = reading_only(os.environ if env is None else env)
            pipeline = [reading_clients(stage) for stage in pipeline]
        started = time.monotonic()
        ctx.logger.debug("step %s runs: %s", ctx.step_id, command)
        read_only = ctx.dry_run and self.sandbox_dry_runs
        if read_only:  # the first call probes bubblewrap (a process): not on the event loop
            self._warn_if_unsandboxed(ctx, await asyncio.to_thread(sandbox_problem))
        try:
            async with asyncio.timeout(ctx.deadline_s):
                result = await run_pipeline(
                    pipeline, cap=ctx.output_cap_bytes, env=env, cwd=params.cwd,
                    stdin=params.stdin.encode() if params.stdin is not None else None,
                    read_only=read_only, tag=ctx.idempotency_key)
        except CommandNotFound as exc:
            raise StepFailed(f"command not found: {exc.program} (is it installed and on "
                             f"PATH?)" if exc.reason == "not found" else
                             f"command not executable: {exc.program} (check its permissions)",
                             retryable=False, step=ctx.step_id) from None
        except TimeoutError:
            raise StepFailed(f"timed out after {ctx.deadline_s:g}s: {command} (every process "
                             f"it started was ended)", step=ctx.step_id,
                             effect_unknown=True) from None
        stages, codes = params.pipeline, result.returncodes
        if inner is not None:
            said = _take_statuses(result.stderr, inner.marker)
            if said is not None and len(said) == len(inner.stages):
                stages, codes = inner.stages, said
        inside = _failed_inside(_take_failures(result.stderr, failures), params.ok_exit_codes) \
            if failures is not None else None
        outcome = _result(params, result, command, time.monotonic() - started, ctx,
                          judged=(stages, codes), inside=inside)
        if read_only and not outcome.ok and _tried_to_write(result.stderr.data) \
                and sandbox_problem() is None:
            outcome.error = (f"{outcome.error} (it tried to write, and the filesystem was "
                             "read-only: a dry run runs ungated steps in a read-only sandbox)")
        return outcome

    @classmethod
    def _warn_if_unsandboxed(cls, ctx: StepContext, problem: str | None) -> None:
        if problem is not None and not cls._warned_unsandboxed:
            cls._warned_unsandboxed = True
            ctx.logger.warning("dry run not enforced by the OS: %s; ungated steps run with "
                               "write access (install bubblewrap to enforce it)", problem)


def _tried_to_write(stderr: bytes | bytearray) -> bool:
    """Whether a failed step said it met the sandbox's read-only filesystem (EROFS): only then
    is the sandbox a likely cause; a refused connection or a missing file is the step's own."""
    return b"Read-only file system" in stderr


def reading_only(env: Mapping[str, str]) -> dict[str, str]:
    """`env` for an ungated step: PostgreSQL clients in read-only transactions."""
    options = env.get("PGOPTIONS", "").strip()
    return {**env, "PGOPTIONS": f"{options} {PG_READ_ONLY}".strip()}


def reading_clients(argv: list[str]) -> list[str]:
    """An ungated step's database clients, their sessions read-only, wherever they sit in argv
    (`psql`, `sudo -u postgres psql`, `kubectl exec POD -- mysql`: `database_clients`): the
    read-only table judges `mysql -e` and `psql -c` by their text, which cannot tell that
    `SELECT purge()` calls a function that deletes. MySQL/MariaDB get `MYSQL_READ_ONLY`. A psql
    run directly gets `PGOPTIONS` (`reading_only`); one behind sudo (which resets the
    environment) or an exec gets `PG_READ_ONLY_COMMANDS` first, before its own `-c`. (The
    table has neither `--init-command` nor a psql `\\set` among the read flags and commands,
    so an ungated step never undoes them.)"""
    out = list(argv)
    for at in reversed(database_clients(argv)):
        name = os.path.basename(argv[at])
        if name in ("mysql", "mariadb"):
            out[at + 1:at + 1] = [MYSQL_READ_ONLY]
        elif at > 0 or name != "psql":
            out[at + 1:at + 1] = [w for sql in PG_READ_ONLY_COMMANDS for w in ("-c", sql)]
    return out


@dataclass(frozen=True, slots=True)
class Inner:
    """A pipeline inside a shell's line (`bash -c 'grep x f 2>/dev/null | tail -5'`): its
    stages, and the marker that opens the line of stderr its statuses are printed on."""

    stages: list[list[str]]
    marker: str


def _take_statuses(stderr: Capture, marker: str) -> list[int] | None:
    """The statuses printed on stderr's last line after `marker` (and the newline printed
    before it), taken out of the capture; None if they are not there (the line exited early,
    or stderr was cut at its cap)."""
    data = bytes(stderr.data)
    at = data.rfind(b"\n" + marker.encode() + b" ")
    if at < 0 or stderr.truncated or not data.endswith(b"\n") or b"\n" in data[at + 1:-1]:
        return None
    try:
        codes = [int(w) for w in data[at + len(marker) + 2:-1].split()]
    except ValueError:
        return None
    removed = len(data) - at
    del stderr.data[at:]
    stderr.total -= removed
    stderr.newlines -= 2
    stderr.ends_with_newline = not stderr.data or stderr.data.endswith(b"\n")
    return codes


def _take_failures(stderr: Capture, marker: str) -> list[tuple[int, str]]:
    """The commands a shell reported failing inside its line, in order, as (status, command):
    its ERR trap prints each on stderr as "\\n<marker> <status> <command>\\n", and those
    lines are taken out of the capture (the stream is left as the line wrote it)."""
    data = bytes(stderr.data)
    tag = b"\n" + marker.encode() + b" "
    found: list[tuple[int, str]] = []
    kept = bytearray()
    pos = removed = newlines = 0
    while (at := data.find(tag, pos)) >= 0:
        end = data.find(b"\n", at + len(tag))
        if end < 0:
            break  # cut at the capture's cap
        status, _, text = data[at + len(tag):end].partition(b" ")
        if not status.isdigit():
            break
        found.append((int(status), text.decode("utf-8", errors="replace")))
        kept += data[pos:at]
        removed += end + 1 - at
        newlines += 2
        pos = end + 1
    if not found:
        return found
    kept += data[pos:]
    stderr.data[:] = kept
    stderr.total -= removed
    stderr.newlines -= newlines
    if not stderr.truncated:
        stderr.ends_with_newline = not stderr.data or stderr.data.endswith(b"\n")
    return found


# Shell words whose status 1 is an answer, as grep's is: a test, an arithmetic result of 0,
# `read` at the end of its input, `false` written to fail.
_ANSWERING_SHELL = ("[[", "((", "let ", "read ", "false")


_ASSIGNMENT = re.compile(r"\s*[A-Za-z_][A-Za-z0-9_]*(?:\[[^\]]*\])?\+?=")


def _failed_inside(failures: list[tuple[int, str]], ok_codes: list[int]) -> tuple[str, int] | None:
    """The first command that failed inside a shell's line (its text and status), which the
    line's own status would hide; None if each answered (`grep`'s 1: nothing matched), was
    an allowed status, or died of a pipe closed early."""
    for code, text in failures:
        if code in ok_codes or code == 128 + signal.SIGPIPE:
            continue
        if code == 1 and text.lstrip().startswith(_ANSWERING_SHELL):
            continue
        if _ASSIGNMENT.match(text):
            continue  # `n=$(grep -c x f)`: its status is its `$(...)`'s, judged just before
        words = command_words(text) or _last_stage(text)
        if words and code in (exits.answers(words) or ()):
            continue
        return text, code
    return None


def _last_stage(text: str) -> list[str]:
    """A pipeline's last stage, whose status is the pipeline's (`... | grep -q x`); [] for
    anything else."""
    stages = pipeline_stages(text)
    return stages[-1] if stages else []


def _result(params: ShellParams, res: PipelineResult, command: str, duration_s: float,
            ctx: StepContext, *, judged: tuple[list[list[str]], list[int]],
            inside: tuple[str, int] | None = None) -> StepResult:
    """Outputs, artifacts, summary and error, every one cut from text already redacted: a
    secret the program printed never leaves a piece of itself at a cut."""
    out_bytes, err_bytes = _redacted(res.stdout, ctx), _redacted(res.stderr, ctx)
    out = out_bytes.decode("utf-8", errors="replace")
    err = err_bytes.decode("utf-8", errors="replace")
    lines = out.splitlines()
    exit_code = res.returncodes[-1]
    outputs: dict[str, Any] = {
        "exit_code": exit_code,
        "pipestatus": res.returncodes,
        "stdout": out[:MAX_SUMMARY_CHARS],
        "stderr": err[-STDERR_TAIL_CHARS:],
        "lines": lines[:MAX_LINES],
        "line_count": res.stdout.lines,
        "truncated": res.stdout.truncated or res.stderr.truncated,
        "stdout_bytes": res.stdout.total,
        "stderr_bytes": res.stderr.total,
        "duration_s": round(duration_s, 3),
        "argv": [list(argv) for argv in params.pipeline],
    }
    artifacts = {"stdout": out_bytes, "stderr": err_bytes}
    ok = exit_code in params.ok_exit_codes
    error = None
    shown = ctx.redact(command)
    last_err = next((ln for ln in reversed(err.splitlines()) if ln.strip()), "")
    stages, codes = judged
    upstream = _hidden_failure(stages, codes)
    status = _status(exit_code) if upstream is None else \
        f"{_status(upstream[1])} at stage {upstream[0] + 1}"
    if not ok:
        error = f"{shown} exited with status {_status(exit_code)}"
    elif upstream is not None:
        ok = False
        at, code = upstream
        error = (f"{ctx.redact(shlex.join(stages[at]) or 'stage')} (stage {at + 1} of "
                 f"{len(stages)}) exited with status {_status(code)}: the output of "
                 f"`{shown}` proves nothing")
    elif inside is not None:
        ok = False
        error = (f"`{ctx.redact(inside[0])}` exited with status {_status(inside[1])} inside "
                 f"`{shown}`: what the line printed proves nothing")
        status = f"{_status(inside[1])} inside the line"
    if error and last_err:
        error += f": {last_err[:500]}"
    summary = f"exit {status}: {_gist(outputs['lines'])}"
    # `ssh host restart` whose connection dropped (255): the restart may have run
    unknown = not ok and any(exits.cut_off(stage, code) for stage, code in zip(stages, codes))
    return StepResult(ok=ok, outputs=outputs, artifacts=artifacts, summary=summary, error=error,
                      effect_unknown=unknown)


def _hidden_failure(pipeline: list[list[str]], codes: list[int]) -> tuple[int, int] | None:
    """The first stage before the last that failed (its index and status), which the last
    stage's status would hide; None if every one succeeded, answered (`grep`'s 1), or may
    have died of a later stage that stopped reading early (`head`)."""
    for at, code in enumerate(codes[:-1]):
        if code in (0, -signal.SIGPIPE, 128 + signal.SIGPIPE):
            continue
        if at < len(pipeline) and (code in (exits.answers(pipeline[at]) or ()) or
                                   any(exits.stops_reading_early(later)
                                       for later in pipeline[at + 1:])):
            continue
        return at, code
    return None


def _redacted(capture: Capture, ctx: StepContext) -> bytes:
    """A captured stream, redacted (bytes that are not UTF-8 kept as they were); a capture
    cut at its cap is redacted as cut."""
    text = capture.data.decode("utf-8", errors="surrogateescape")
    return ctx.redact_cut(text, end=capture.truncated).encode("utf-8", errors="surrogateescape")


def _status(code: int) -> str:
    if code < 0:
        return f"{code} (killed by signal {-code})"
    return str(code)
