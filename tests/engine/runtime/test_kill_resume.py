"""A run killed with SIGKILL resumes from its last commit, with a real `mendflow` process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.store import open_store

from .conftest import edge, end, plan

pytestmark = pytest.mark.slow
MENDFLOW = [sys.executable, "-m", "engine.cli"]


def _env(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "MENDFLOW_DATA_DIR": str(data_dir)}


async def _only_run(data_dir: Path):  # noqa: ANN202
    store = open_store(data_dir / "mendflow.sqlite3")
    await store.open()
    try:
        runs = await store.list_runs()
        assert len(runs) == 1
        events = await store.events(runs[0].run_id)
        return runs[0], [(e.type, e.step_id) for e in events]
    finally:
        await store.close()


def test_kill_9_then_resume_never_reruns_completed_steps(tmp_path: Path, recorder) -> None:
    # read-only steps (GETs of a local recorder): the recorder counts their runs
    p = plan(
        [recorder.get("first", "first"), recorder.get("slow", "slow", 3),
         recorder.get("last", "last"), end("ok")],
        [edge("first", "slow"), edge("slow", "last"), edge("last", "ok")],
    )
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(p.to_json())
    data = tmp_path / "data"

    # Given a run killed with SIGKILL while its second step is in flight
    proc = subprocess.Popen([*MENDFLOW, "run", str(plan_file)], env=_env(data),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    while "slow" not in recorder.paths:
        assert proc.poll() is None, proc.stdout.read().decode()  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the run never reached its second step"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    killed, events = asyncio.run(_only_run(data))
    assert killed.status == "running"
    assert ("step_succeeded", "first") in events and ("step_succeeded", "slow") not in events
    # and `show` says so rather than showing a run that looks alive
    shown = subprocess.run([*MENDFLOW, "show", killed.run_id], env=_env(data),
                           capture_output=True, text=True, timeout=60).stdout
    assert "no process drives it" in shown and f"mendflow resume {killed.run_id}" in shown

    # When it is resumed
    resumed = subprocess.run([*MENDFLOW, "resume", killed.run_id], env=_env(data),
                             capture_output=True, text=True, timeout=60,
                             stdin=subprocess.DEVNULL)

    # Then it finishes; the completed step ran once, the in-flight one again (same attempt)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    final, _ = asyncio.run(_only_run(data))
    assert (final.status, final.outcome) == ("succeeded", "resolved")
    assert recorder.paths == ["first", "slow", "slow", "last"]
    assert final.state["steps"]["slow"]["attempt"] == 1
