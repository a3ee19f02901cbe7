"""Running an argv pipeline (`a | b | c`) with no shell, and always cleaning up after it.

This module owns the process mechanics shared by the plugins that start programs (`shell`,
and `logs` for journalctl): one `asyncio.create_subprocess_exec` per stage, real OS pipes
between the stages, capped capture of the last stage's stdout and of every stage's stderr,
and the guarantee that no process outlives the call.

Process ownership: every stage starts in its own session (`start_new_session=True`), so it
and everything it forks share a process group that we can signal as a whole. When the call
ends for any reason (normal exit, exception, timeout, task cancellation) every group still
alive gets SIGTERM, then SIGKILL after `KILL_GRACE_S`; every stage is reaped. A pipeline's
background children (`sh -c 'daemon &'`) therefore end with the step. A grandchild that
detaches into a session of its own (`setsid`) escapes; only a cgroup could hold it.

It does not decide what an exit status means, and it knows nothing of steps or memory.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

KILL_GRACE_S = 0.5
"""Time between SIGTERM and SIGKILL for a process group that has to go."""

READ_CHUNK = 64 * 1024


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
) -> PipelineResult:
    """Run `pipeline` to completion; stdout of stage i feeds stdin of stage i+1.

    Raises CommandNotFound if a stage cannot be started (the stages already started are
    ended first). Cancelling the awaiting task ends every process before it returns.
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

    out_r, out_w = pipe()
    err_r, err_w = pipe()
    drains: list[asyncio.Task[None]] = []
    stdout, stderr = Capture(cap), Capture(cap)
    ended = False
    try:
        feed: int = asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL
        for i, argv in enumerate(pipeline):
            last = i == len(pipeline) - 1
            next_r, next_w = (out_r, out_w) if last else pipe()
            try:
                proc = await asyncio.create_subprocess_exec(
                    *argv, stdin=feed, stdout=next_w, stderr=err_w,
                    env=dict(env) if env is not None else None, cwd=cwd,
                    start_new_session=True)
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


async def _feed(writer: asyncio.StreamWriter, data: bytes) -> None:
    """Write stdin to the first stage; a stage that exits without reading it is not an error."""
    try:
        writer.write(data)
        await writer.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        writer.close()
