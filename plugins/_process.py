"""Running an argv pipeline (`a | b | c`) with no shell, and always cleaning up after it.

This module owns the process mechanics shared by the plugins that start programs (`shell`,
and `logs` for journalctl): one `asyncio.create_subprocess_exec` per stage, real OS pipes
between the stages, capped capture of the last stage's stdout and of every stage's stderr,
and the guarantee that no process outlives the call, nor the process that made it.

Process ownership: every stage starts in its own session (`start_new_session=True`), so it
and everything it forks share a process group that we can signal as a whole. When the call
ends for any reason (normal exit, exception, timeout, task cancellation) every group still
alive gets SIGTERM, then SIGKILL after `KILL_GRACE_S`; every stage is reaped. A pipeline's
background children (`sh -c 'daemon &'`) therefore end with the step.

When the process running the steps dies (`kill -9` of `mendflow run`, of a Celery worker)
nothing above runs, so each stage is also bound to its parent by the kernel: it gets SIGKILL
when the thread that started it exits (`prctl(PR_SET_PDEATHSIG)` in the child, before
exec; the event loop's thread, which lives as long as the runner does). That reaches the
stage processes only; their own children are orphaned, not killed, until whoever takes over
the run on this host ends them (`engine.runtime.driving.reap_leftovers` finds them by the
step key, `tag`, that every stage carries in its environment and passes on to its
children). Inside a sandbox (below) the stage runs in its own PID namespace with
`--die-with-parent`, and then every process it started dies with the runner at once,
grandchildren and `setsid` escapes included.

Read-only sandbox (`read_only=True`, what a dry run asks for): each stage runs under
bubblewrap with a read-only view of the whole filesystem (`--ro-bind / /`, which keeps /proc
and /tmp as they are, read-only), a private /dev, a private writable tmpfs as `$TMPDIR`, and
its own PID namespace (host processes are visible in /proc but cannot be signalled). A write
fails with EROFS whatever the command line says. Where bubblewrap is missing or cannot set
up a sandbox, `read_only` is not enforced: `sandbox_problem()` says why, once.

It does not decide what an exit status means, and it knows nothing of steps or memory.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from engine.runtime.driving import STEP_KEY_ENV

KILL_GRACE_S = 0.5
"""Time between SIGTERM and SIGKILL for a process group that has to go."""

READ_CHUNK = 64 * 1024

_PR_SET_PDEATHSIG = 1
try:  # resolved here, not in the child: between fork and exec only the call itself is safe
    _prctl: Callable[..., int] | None = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux: no parent-death signal
    _prctl = None

SANDBOX_ARGS = ("--ro-bind", "/", "/", "--dev", "/dev", "--tmpfs", "/dev/shm",
                "--setenv", "TMPDIR", "/dev/shm", "--unshare-pid", "--die-with-parent",
                "--")
"""bubblewrap's arguments before a stage's argv: a read-only view of every file."""


def _die_with_parent(parent: int) -> Callable[[], None]:
    """The child's last act before exec: SIGKILL when the parent (thread) dies, and exit at
    once if it already has (the signal would never come)."""
    def bind() -> None:
        if _prctl is not None:
            _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(137)
    return bind


@functools.cache
def _bwrap() -> str | None:
    return shutil.which("bwrap")


@functools.cache
def sandbox_problem() -> str | None:
    """Why a read-only sandbox cannot be made here (None: it can). Tried once per process."""
    bwrap = _bwrap()
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed"
    try:
        probe = subprocess.run([bwrap, *SANDBOX_ARGS, "true"], capture_output=True,
                               timeout=10, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"bubblewrap cannot run: {exc}"
    if probe.returncode != 0:
        detail = probe.stderr.decode(errors="replace").strip().splitlines()
        return f"bubblewrap cannot make a sandbox here: {detail[-1] if detail else 'failed'}"
    return None


@dataclass(slots=True)
class Capture:
    """A stream read to its end, of which at most `cap` bytes are kept."""

    cap: int
    data: bytearray = field(default_factory=bytearray)
    total: int = 0
    newlines: int = 0
    ends_with_newline: bool = True

    @property
    def lines(self) -> int:
        """Lines seen, counting a last line with no newline."""
        return self.newlines + (0 if self.ends_with_newline else 1)

    @property
    def truncated(self) -> bool:
        return self.total > len(self.data)

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        self.newlines += chunk.count(b"\n")
        if chunk:
            self.ends_with_newline = chunk.endswith(b"\n")
        room = self.cap - len(self.data)
        if room > 0:
            self.data += chunk[:room]


@dataclass(slots=True)
class PipelineResult:
    returncodes: list[int]  # per stage; negative: killed by that signal
    stdout: Capture
    stderr: Capture


class CommandNotFound(Exception):
    """A stage's executable does not exist (or is not executable)."""

    def __init__(self, program: str, reason: str) -> None:
        super().__init__(program)
        self.program = program
        self.reason = reason


async def _drain(fd: int, capture: Capture,
                 on_chunk: Callable[[bytes], None] | None = None) -> None:
    """Read `fd` to EOF. Beyond the cap, chunks are read and dropped, so writers never block."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=READ_CHUNK)
    pipe = os.fdopen(fd, "rb", buffering=0)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), pipe)
    try:
        while chunk := await reader.read(READ_CHUNK):
            capture.add(chunk)
            if on_chunk is not None:
                on_chunk(chunk)
    finally:
        transport.close()


def _signal_group(pgid: int, sig: int) -> bool:
    """Send `sig` to a process group; False if the group no longer exists."""
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:  # the pgid was reused by someone else's process: not ours
        return False


async def _end_groups(procs: Sequence[asyncio.subprocess.Process]) -> None:
    """SIGTERM every live group, SIGKILL what is left after the grace, reap every stage."""
    pgids = [p.pid for p in procs]
    alive = [g for g in pgids if _signal_group(g, signal.SIGTERM)]
    if alive:
        deadline = asyncio.get_running_loop().time() + KILL_GRACE_S
        while alive and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
            alive = [g for g in alive if _signal_group(g, 0)]
        for g in alive:
            _signal_group(g, signal.SIGKILL)
    for p in procs:
        await p.wait()


async def run_pipeline(
    pipeline: Sequence[Sequence[str]],
    *,
    stdin: bytes | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    cap: int,
    on_stdout: Callable[[bytes], None] | None = None,
    read_only: bool = False,
    tag: str | None = None,
) -> PipelineResult:
    """Run `pipeline` to completion; stdout of stage i feeds stdin of stage i+1.

    With `read_only`, every stage runs in the read-only sandbox when one can be made here
    (`sandbox_problem()` is None); otherwise as usual. `tag` (the step's idempotency key) goes
    into every stage's environment as `STEP_KEY_ENV`, so that what a stage leaves running
    can be found after its runner died. Raises CommandNotFound if a stage
    cannot be started (the stages already started are ended first). Cancelling the awaiting
    task ends every process before it returns.
    """
    procs: list[asyncio.subprocess.Process] = []
    parent_fds: set[int] = set()  # pipe ends the parent still has to close

    def pipe() -> tuple[int, int]:
        r, w = os.pipe()
        parent_fds.update((r, w))
        return r, w

    def close(fd: int) -> None:
        if fd in parent_fds:
            parent_fds.discard(fd)
            os.close(fd)

    if tag is not None:
        env = {**(os.environ if env is None else env), STEP_KEY_ENV: tag}
    out_r, out_w = pipe()
    err_r, err_w = pipe()
    drains: list[asyncio.Task[None]] = []
    stdout, stderr = Capture(cap), Capture(cap)
    ended = False
    try:
        feed: int = asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL
        sandbox = read_only and sandbox_problem() is None
        for i, argv in enumerate(pipeline):
            last = i == len(pipeline) - 1
            next_r, next_w = (out_r, out_w) if last else pipe()
            if sandbox:
                _check_program(argv[0], env, cwd)  # bwrap would only say "execvp ... failed"
                argv = [_bwrap() or "bwrap", *SANDBOX_ARGS, *argv]
            try:
                proc = await asyncio.create_subprocess_exec(
                    *argv, stdin=feed, stdout=next_w, stderr=err_w,
                    env=dict(env) if env is not None else None, cwd=cwd,
                    start_new_session=True, preexec_fn=_die_with_parent(os.getpid()))
            except (FileNotFoundError, PermissionError) as exc:
                if cwd is not None and getattr(exc, "filename", None) == cwd:
                    raise  # the working directory, not the program, is missing
                reason = "not executable" if isinstance(exc, PermissionError) else "not found"
                raise CommandNotFound(argv[0], reason) from None
            procs.append(proc)
            if i > 0:
                close(feed)  # the stage owns its stdin now
            close(next_w)
            feed = next_r
        close(err_w)
        drains = [asyncio.create_task(_drain(out_r, stdout, on_stdout)),
                  asyncio.create_task(_drain(err_r, stderr))]
        parent_fds.difference_update((out_r, err_r))  # the drains own and close them
        if stdin is not None and procs[0].stdin is not None:
            await _feed(procs[0].stdin, stdin)
        codes = [await p.wait() for p in procs]
        # Every stage has exited; what is left in their groups is a background child that
        # still holds our pipes open. It ends with the step.
        await _end_groups(procs)
        ended = True
        await asyncio.gather(*drains)
        return PipelineResult(returncodes=codes, stdout=stdout, stderr=stderr)
    finally:
        for fd in list(parent_fds):
            close(fd)
        if procs and not ended:
            await asyncio.shield(_end_groups(procs))
        for task in drains:
            task.cancel()
        if drains:
            await asyncio.gather(*drains, return_exceptions=True)


def _check_program(program: str, env: Mapping[str, str] | None, cwd: str | None) -> None:
    """CommandNotFound for a program that could not be started, as exec would have said."""
    path = (env or os.environ).get("PATH", os.defpath)
    if "/" in program:
        found = os.path.join(cwd, program) if cwd and not os.path.isabs(program) else program
        if not os.path.exists(found):
            raise CommandNotFound(program, "not found")
    elif shutil.which(program, mode=os.F_OK, path=path) is None:
        raise CommandNotFound(program, "not found")
    else:
        found = shutil.which(program, mode=os.F_OK, path=path) or program
    if not os.access(found, os.X_OK) or os.path.isdir(found):
        raise CommandNotFound(program, "not executable")


async def _feed(writer: asyncio.StreamWriter, data: bytes) -> None:
    """Write stdin to the first stage; a stage that exits without reading it is not an error."""
    try:
        writer.write(data)
        await writer.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        writer.close()
