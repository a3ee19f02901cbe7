"""Signals stop a run the way a person expects: SIGTERM and SIGHUP like the first Ctrl-C, and a
Ctrl-C at a prompt as anywhere else. The store says how the run stopped, the steps' processes
end, the clean-up runs, and the message names the run and the command that resumes it."""

from __future__ import annotations

import asyncio
import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.plan import Edge, Plan, SourceInfo, Span, Step
from engine.store import open_store
from tests.support.plans import gate_changes

pytestmark = pytest.mark.slow
MENDFLOW = [sys.executable, "-m", "engine.cli"]


def _runs(data: Path) -> list:  # type: ignore[type-arg]
    async def read() -> list:  # type: ignore[type-arg]
        store = open_store(data / "mendflow.sqlite3")
        await store.open()
        try:
            return await store.list_runs()
        finally:
            await store.close()
    return asyncio.run(read())


def _wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text().strip()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never written"
        time.sleep(0.05)
    return path.read_text().strip()


def _plan_file(tmp: Path, pid_file: Path, cleanup_marker: Path | None = None) -> Path:
    """A plan whose step records its process id and sleeps (gated: a program is never a
    read), with a clean-up step that leaves a marker when asked."""
    span = Span(start=1, end=1)
    steps = [Step(id="work", title="work", kind="command", plugin="shell", mutating=True,
                  params={"pipeline": [["sh", "-c", f"echo $$ > {pid_file}; exec sleep 30"]]},
                  source=span),
             Step(id="ok", title="ok", kind="end", outcome="resolved", source=span)]
    cleanup: list[str] = []
    if cleanup_marker is not None:
        steps.append(Step(id="park", title="park", kind="command", plugin="shell",
                          mutating=True, params={"pipeline": [["touch", str(cleanup_marker)]]},
                          source=span))
        cleanup = ["park"]
    plan = Plan(id="slow", title="Slow", compiler="test/1", entry="work", steps=steps,
                edges=[Edge(source="work", target="ok")], cleanup=cleanup,
                source=SourceInfo(path="slow.md", sha256="0" * 64))
    path = tmp / "slow.plan.json"
    path.write_text(gate_changes(plan).to_json())
    return path


def _read_until(fd: int, done: Callable[[bytes], bool], timeout: float) -> bytes:
    """What the pty shows until `done` says so, it closes, or `timeout` passes."""
    seen = b""
    deadline = time.monotonic() + timeout
    while not done(seen) and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    return seen


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_stop_a_run_resumably_and_end_its_steps(sig: signal.Signals,
                                                                  tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    plan = _plan_file(tmp_path, pid_file)
    env = {**os.environ, "MENDFLOW_DATA_DIR": str(tmp_path)}
    proc = subprocess.Popen([*MENDFLOW, "run", str(plan), "--yes"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    step_pid = int(_wait_for(pid_file, proc))
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=20)
    (run,) = _runs(tmp_path)
    assert proc.returncode == 130, err
    assert run.status == "interrupted"
    assert f"run {run.run_id} is resumable with `mendflow resume {run.run_id}`" in err
    assert not _alive(step_pid), "the step's process outlived the run"


def test_sigterm_on_a_plan_with_clean_up_runs_the_clean_up(tmp_path: Path) -> None:
    marker, pid_file = tmp_path / "safe", tmp_path / "pid"
    plan = _plan_file(tmp_path, pid_file, cleanup_marker=marker)
    env = {**os.environ, "MENDFLOW_DATA_DIR": str(tmp_path)}
    proc = subprocess.Popen([*MENDFLOW, "run", str(plan), "--yes"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    step_pid = int(_wait_for(pid_file, proc))
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, out + err
    assert "cancelling (SIGTERM): running the clean-up steps (park)" in err
    assert marker.exists()
    (run,) = _runs(tmp_path)
    assert run.status == "cancelled" and not _alive(step_pid)


def test_ctrl_c_at_an_approval_prompt_stops_the_run_at_once(tmp_path: Path) -> None:
    # Given a run at a terminal, waiting at an approval prompt
    target = tmp_path / "gone"
    target.write_text("x")
    guide = tmp_path / "fix.md"
    guide.write_text(f"# Fix\n\n## Mitigation\n\n1. Remove it:\n\n   ```bash\n   rm {target}\n"
                     "   ```\n")
    env = {**os.environ, "MENDFLOW_DATA_DIR": str(tmp_path), "COLUMNS": "120", "TERM": "dumb"}
    pid, fd = pty.fork()
    if pid == 0:  # the child: `mendflow run` on the pty
        os.execvpe(MENDFLOW[0], [*MENDFLOW, "run", str(guide)], env)
    seen = _read_until(fd, lambda text: b"Approve" in text, timeout=30)
    # When the person presses Ctrl-C at the prompt (no answer typed)
    os.kill(pid, signal.SIGINT)
    start = time.monotonic()
    seen += _read_until(fd, lambda text: False, timeout=10)  # to the end of its output
    exited, status = 0, 0
    while not exited and time.monotonic() - start < 10:
        exited, status = os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    if not exited:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("Ctrl-C at the prompt did not stop the run: " + seen.decode(errors="replace"))
    # Then it stops at once, resumable, saying so; nothing was removed
    assert time.monotonic() - start < 10
    assert os.waitstatus_to_exitcode(status) == 130, seen.decode(errors="replace")
    assert b"resumable with `mendflow resume" in seen
    assert target.exists()
    (run,) = _runs(tmp_path)
    assert run.status == "interrupted"
