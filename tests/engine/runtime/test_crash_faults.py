"""No effect repeats after `kill -9` of `mendflow run`, with real processes and a ledger.

Each trial runs a plan with a gated step (its effect: a line appended to a ledger file) and a
read-only step (a GET that a local server counts) in parallel, SIGKILLs the `mendflow run`
process at a random point while both are in flight, and resumes it. What is counted: effect
lines (never two), the step's own process (it dies with the runner), and read-only starts
(again after the crash). Trials run a few at a time, each in its own data directory.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.store import open_store
from tests.support.plans import gate_changes

from .conftest import Recorder, edge, end, plan, sh

pytestmark = pytest.mark.slow
MENDFLOW = [sys.executable, "-m", "engine.cli"]
TRIALS = 10


def _env(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "MENDFLOW_DATA_DIR": str(data_dir)}


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def _wait_for(path: Path, proc: subprocess.Popen[bytes], timeout: float = 60) -> float:
    deadline = time.monotonic() + timeout
    while not _lines(path):
        assert proc.poll() is None, proc.stdout.read().decode()  # type: ignore[union-attr]
        assert time.monotonic() < deadline, f"{path.name} never written"
        time.sleep(0.02)
    return time.monotonic()


def _wait_until(seen: Callable[[], bool], proc: subprocess.Popen[bytes],
                timeout: float = 60) -> float:
    deadline = time.monotonic() + timeout
    while not seen():
        assert proc.poll() is None, proc.stdout.read().decode()  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the read-only step never started"
        time.sleep(0.02)
    return time.monotonic()


def _dead(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")  # a zombie has run its last instruction


def _run_id(data: Path) -> str:
    async def only() -> str:
        async with open_store(data / "mendflow.sqlite3") as store:  # type: ignore[attr-defined]
            (run,) = await store.list_runs()
            return run.run_id
    return asyncio.run(only())


def _start(tmp: Path, steps_plan: object) -> tuple[Path, subprocess.Popen[bytes]]:
    tmp.mkdir(parents=True, exist_ok=True)
    plan_file = tmp / "plan.json"
    plan_file.write_text(gate_changes(steps_plan).to_json())  # type: ignore[arg-type]
    data = tmp / "data"
    # --yes approves gated steps of this run; it must not answer for a step in doubt later
    proc = subprocess.Popen([*MENDFLOW, "run", str(plan_file), "--yes"], env=_env(data),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    return data, proc


def _resume(data: Path, run_id: str, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MENDFLOW, "resume", run_id, *flags], env=_env(data),
                          capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


@dataclass
class Trial:
    kill_after_s: float
    answer: str
    effects_after_kill: int = 0
    effects_after_resume: int = 0
    effects_at_end: int = 0
    probes: int = 0


EFFECT_AT_S = 0.4  # the gated step writes its effect this long after it starts


def _trial(tmp: Path, trial: Trial, recorder: Recorder) -> Trial:
    effects, starts = tmp / "effects", tmp / "effect-starts"
    probe = tmp.name  # this trial's path on the recording server
    p = plan(
        [sh("first", "true"),
         sh("effect", "sh", "-c", f"echo $$ >> {starts}; sleep {EFFECT_AT_S}; "
            f"echo done >> {effects}; sleep 1.2", mutating=True, title="Restart the service"),
         recorder.get("probe", probe, sleep_s=1.6), end("ok")],
        [edge("first", "effect"), edge("first", "probe"), edge("effect", "ok"),
         edge("probe", "ok")])
    data, proc = _start(tmp, p)
    # Given `mendflow run` SIGKILLed at a random point while both steps are in flight
    started = _wait_for(starts, proc)
    _wait_until(lambda: probe in recorder.paths, proc)
    time.sleep(max(0.0, started + trial.kill_after_s - time.monotonic()))
    proc.kill()
    proc.wait(timeout=10)
    # Then the step's own process dies with it, at once
    (effect_pid,) = map(int, _lines(starts))
    deadline = time.monotonic() + 2
    while not _dead(effect_pid):
        assert time.monotonic() < deadline, "the gated step's process outlived its runner"
        time.sleep(0.02)
    time.sleep(max(0.0, started + 1.8 - time.monotonic()))  # a survivor would have written
    trial.effects_after_kill = len(_lines(effects))
    run_id = _run_id(data)

    # When it is resumed with no answer: the gated step is in doubt, and nothing runs
    waiting = _resume(data, run_id)
    trial.effects_after_resume = len(_lines(effects))
    assert waiting.returncode == 130, waiting.stdout + waiting.stderr
    assert "step 'effect' was running when its runner died; its outcome is unknown" in (
        waiting.stdout)
    assert "--rerun effect" in waiting.stdout and "--mark-done effect" in waiting.stdout

    # When a person answers: --rerun runs it again (a new attempt), --mark-done does not
    answered = _resume(data, run_id, trial.answer, "effect")
    assert answered.returncode == 0, answered.stdout + answered.stderr
    trial.effects_at_end = len(_lines(effects))
    trial.probes = recorder.paths.count(probe)
    return trial


def test_sigkill_of_mendflow_run_then_resume_repeats_no_gated_effect(
        tmp_path: Path, recorder: Recorder) -> None:
    rng = random.Random()
    trials = [Trial(kill_after_s=rng.uniform(0.0, 1.0),
                    answer="--rerun" if i % 2 == 0 else "--mark-done") for i in range(TRIALS)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        done = list(pool.map(lambda it: _trial(tmp_path / f"t{it[0]}", it[1], recorder),
                             enumerate(trials)))
    print("\ntrial: kill after s, effects after kill / after resume / at end, answer, probes")
    for t in done:
        print(f"  {t.kill_after_s:.2f}: {t.effects_after_kill} / {t.effects_after_resume} / "
              f"{t.effects_at_end} {t.answer} probes={t.probes}")
    for t in done:
        # The effect happened at most once before the crash (never after it), resuming
        # repeated nothing, and only a person's --rerun ran it once more
        assert t.effects_after_kill <= 1
        assert t.effects_after_resume == t.effects_after_kill
        assert t.effects_at_end == t.effects_after_kill + (t.answer == "--rerun")
        assert t.probes == 2  # the read-only step ran again after the crash: at least once


def _concurrent_resumes(tmp: Path, recorder: Recorder
                        ) -> tuple[int, list[subprocess.CompletedProcess[str]]]:
    probe = tmp.name
    p = plan([sh("first", "true"), recorder.get("probe", probe, sleep_s=1.5), end("ok")],
             [edge("first", "probe"), edge("probe", "ok")])
    data, proc = _start(tmp, p)
    _wait_until(lambda: probe in recorder.paths, proc)
    proc.kill()
    proc.wait(timeout=10)
    run_id = _run_id(data)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: _resume(data, run_id), range(2)))
    return recorder.paths.count(probe), results


def test_two_resumes_of_one_run_drive_it_once(tmp_path: Path, recorder: Recorder) -> None:
    with ThreadPoolExecutor(max_workers=3) as pool:
        outcomes = list(pool.map(lambda i: _concurrent_resumes(tmp_path / f"c{i}", recorder),
                                 range(3)))
    for probes, results in outcomes:
        codes = sorted(r.returncode for r in results)
        # One resume drives the run; the other is refused, naming who drives it
        assert codes == [0, 2], [r.stdout + r.stderr for r in results]
        refused = next(r for r in results if r.returncode == 2)
        assert "is being driven by pid" in refused.stderr and " since " in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
        assert probes == 2  # the crashed run's start, and one resume's



def test_an_answer_for_a_step_that_cannot_be_in_doubt_is_bad_input(tmp_path: Path) -> None:
    p = plan([sh("look", "true"), end("ok")], [edge("look", "ok")])
    data, proc = _start(tmp_path, p)
    proc.wait(timeout=60)
    refused = _resume(data, _run_id(data), "--rerun", "look")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "--rerun look: plan test has no gated step 'look'" in refused.stderr
    twice = _resume(data, _run_id(data), "--rerun", "x", "--mark-done", "x")
    assert twice.returncode == 2 and "is given two answers" in twice.stderr


def test_what_a_killed_runners_step_left_running_ends_when_the_run_is_resumed(
        tmp_path: Path) -> None:
    # Given a (gated) step whose shell starts a child in a session of its own (which no
    # parent-death signal reaches), then waits for it
    pids, late, delay = tmp_path / "pids", tmp_path / "late", tmp_path / "delay"
    # (the first child sleeps long enough that no slow resume can find it done already; the
    # re-run's reads the short delay written before the resume)
    delay.write_text("60")
    child = f'sleep $(cat {delay}); echo late >> {late}'
    p = plan([sh("first", "true"),
              sh("look", "sh", "-c", f'setsid sh -c "{child}" & echo $! >> {pids}; wait',
                 mutating=True),
              end("ok")], [edge("first", "look"), edge("look", "ok")])
    data, proc = _start(tmp_path, p)
    _wait_for(pids, proc)
    # When the runner is SIGKILLed: the stage dies, its setsid child does not
    proc.kill()
    proc.wait(timeout=10)
    (orphan,) = map(int, _lines(pids))
    assert not _dead(orphan)
    delay.write_text("1")
    # Then resuming (a person says: run it again) ends it first: only the re-run writes
    resumed = _resume(data, _run_id(data), "--rerun", "look")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert _dead(orphan)
    assert _lines(late) == ["late"]
