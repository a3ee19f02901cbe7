"""The robot playbooks as shipped: compiled by the real compiler, run against the simulated
cell over real OPC UA (a subprocess on a TCP port), with a detector calibration written by
`mendflow detector calibrate` and approvals given by an operator policy in mendflow.toml.

The peg-in-hole runs use the LocalExecutor in this process, except the cancel, which sends
SIGINT to a real `mendflow run`. Cells are seeded and each test queues the outcomes of its
attempts, so the force traces the detector sees are the same on every run."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.compile import compile_guide
from engine.compile.lint import lint_path
from engine.guide import load_guide
from engine.interaction import Answers, load_auto_approve
from engine.plan import Plan
from engine.plugins import Registry
from engine.runtime.executor import LocalExecutor, Update
from engine.runtime.services import Services
from engine.settings import Settings
from engine.store import open_store
from plugins.robot.ua import CellClient
from tests.plugins.detectors.helpers import record
from tests.plugins.robot.conftest import ROOT, start_cell, stop_cell

GUIDES = sorted((ROOT / "guides" / "robot").glob("*.md"))
PEG = ROOT / "guides" / "robot" / "peg-in-hole.md"
MENDFLOW = str(Path(sys.executable).with_name("mendflow"))


@pytest.fixture(scope="module")
def calibration(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ft_jam_slip calibrated by the CLI on 59 recorded successful simulated attempts."""
    tmp = tmp_path_factory.mktemp("peg-cal")
    record(np.random.default_rng(101), tmp / "runs", 59, success=True)
    out = tmp / "peg.json"
    subprocess.run([MENDFLOW, "detector", "calibrate", str(tmp / "runs"), "--detector",
                    "ft_jam_slip", "--out", str(out), "--alpha", "0.05", "--window", "25"],
                   cwd=ROOT, check=True, capture_output=True, timeout=60)
    return out


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("operator") / "mendflow.toml"
    path.write_text('[policy]\nauto_approve = ["*"]\n', encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def peg_plan() -> Plan:
    return compile_guide(load_guide(PEG))


class Run:
    """A finished run: its record, final scheduler state and memory."""

    def __init__(self, record: Any, state: Any, memory: dict[str, Any]) -> None:
        self.record, self.state, self.memory = record, state, memory

    def status(self, step: str) -> str:
        return str(self.state.steps[step].status) if step in self.state.steps else "pending"

    def out(self, step: str) -> dict[str, Any]:
        return self.memory.get(f"steps.{step}", {})


async def run_playbook(plan: Plan, cell: str, cal: Path, policy: Path, tmp: Path, *,
                       on_update: Any = None, default_timeout_s: float = 30) -> Run:
    """Run `plan` with the operator's policy (approvals), to its end."""
    store = open_store(tmp / "store.sqlite3")
    await store.open()
    final: list[Any] = []

    def observe(update: Update) -> None:
        if update.kind == "run_finished":
            final.append(update.state)
        if on_update is not None:
            on_update(update, executor)

    try:
        executor = LocalExecutor(
            Services(store=store, registry=Registry(),
                     settings=Settings(data_dir=tmp, default_timeout_s=default_timeout_s,
                                       config_file=policy)),
            interaction=Answers(auto_approve=load_auto_approve(policy)), observer=observe)
        done = await executor.start(plan, guide_path=str(PEG),
                                    inputs={"cell": cell, "calibration": str(cal)})
        memory = {e.key: e.value for e in await store.memory(done.run_id)}
        return Run(done, final[-1], memory)
    finally:
        await store.close()


async def cell_state(url: str) -> dict[str, Any]:
    async with CellClient(url) as c:
        return {k: await c.read(k) for k in ("State", "GripperOpen", "Attempt", "LastTruth")}


async def queue(url: str, *attempts: tuple[bool, str]) -> None:
    async with CellClient(url) as c:
        for success, mode in attempts:
            await c.call("QueueAttempt", success, mode)


def assert_left_safe(run: Run, state: dict[str, Any]) -> None:
    assert run.status("stop") == "succeeded" and run.status("release") == "succeeded"
    assert state["State"] == "stopped" and state["GripperOpen"] is True


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.stem)
def test_each_robot_guide_compiles_and_lints_clean(guide: Path) -> None:
    plan = compile_guide(load_guide(guide))
    assert plan.kind == "robot"
    assert plan.cleanup == ["stop", "release"]  # "Always": stop motion, open the gripper
    assert [plan.step(s).params["call"] for s in plan.cleanup] == ["Stop", "OpenGripper"]
    outcomes = {s.outcome for s in plan.steps if s.kind == "end"}
    assert "escalate" in outcomes and outcomes & {"resolved", "no_action"}
    assert not [f for f in lint_path(guide) if f.severity == "error"]


def test_cable_routing_spells_out_two_presses_per_clip_then_asks_a_person() -> None:
    plan = compile_guide(load_guide(ROOT / "guides" / "robot" / "cable-routing.md"))
    ids = {s.id for s in plan.steps}
    for clip in "abc":
        assert {f"press_{clip}_1", f"press_{clip}_2", f"retension_{clip}"} <= ids
        assert f"press_{clip}_3" not in ids
        # after the recovery action, the stage's path ends with a person
        after = [e.target for _, e in plan.outgoing(f"retension_{clip}-2") if e.on == "success"]
        assert [plan.step(t).outcome for t in after] == ["escalate"]


async def test_a_failing_attempt_is_aborted_on_the_alarm_then_a_success_resolves(
        cell: str, calibration: Path, policy: Path, peg_plan: Plan, tmp_path: Path) -> None:
    # Given a cell whose next attempt jams and the one after succeeds
    await queue(cell, (False, "jam"), (True, ""))
    run = await run_playbook(peg_plan, cell, calibration, policy, tmp_path)
    # Then the detector fired during attempt 1, which was aborted before it ended by itself
    assert run.out("watch_1")["alarm"] is True and run.out("watch_1")["cell_state"] == "running"
    assert run.status("abort_1") == "succeeded" and run.status("reset_1") == "succeeded"
    assert run.out("abort_1")["result"] >= run.out("watch_1")["detected_at"]
    # and attempt 2 seated the peg
    assert run.out("watch_2")["alarm"] is False and run.out("watch_2")["cell_state"] == "success"
    assert run.record.status == "succeeded" and run.record.outcome == "resolved"
    assert run.status("start_3") != "succeeded"
    assert_left_safe(run, await cell_state(cell))


async def test_three_failures_escalate(cell: str, calibration: Path, policy: Path,
                                       peg_plan: Plan, tmp_path: Path) -> None:
    before = (await cell_state(cell))["Attempt"]
    await queue(cell, (False, "jam"), (False, "obstruction"), (False, "jam"))
    run = await run_playbook(peg_plan, cell, calibration, policy, tmp_path)
    assert run.record.status == "succeeded" and run.record.outcome == "escalate"
    assert [run.out(f"watch_{i}")["cell_state"] == "success" for i in (1, 2, 3)] == [False] * 3
    state = await cell_state(cell)
    assert state["Attempt"] == before + 3 and state["LastTruth"].startswith("failure:")
    assert_left_safe(run, state)


async def test_a_cell_that_stops_answering_is_inconclusive_and_the_clean_up_runs(
        calibration: Path, policy: Path, peg_plan: Plan, tmp_path: Path) -> None:
    # Given a cell whose controller freezes (SIGSTOP: TCP stays open, nothing answers) while
    # attempt 1 is watched, and answers again once the stream has broken
    proc, url = start_cell("--seed", "4", time_scale=0.05)
    frozen = False

    def freeze_then_thaw(update: Update, _executor: LocalExecutor) -> None:
        nonlocal frozen
        if update.kind == "step_finished" and update.step_id == "start_1":
            asyncio.get_running_loop().call_later(0.3, os.kill, proc.pid, signal.SIGSTOP)
            frozen = True
        elif update.kind == "step_finished" and update.step_id == "watch_1" and frozen:
            os.kill(proc.pid, signal.SIGCONT)  # before the clean-up steps are started

    try:
        await queue(url, (True, ""))
        run = await run_playbook(peg_plan, url, calibration, policy, tmp_path,
                                 on_update=freeze_then_thaw)
        # Then the watch failed, the run failed (no ending was reached) ...
        assert frozen and run.status("watch_1") == "failed"
        assert "did not answer" in (run.state.steps["watch_1"].error or "")
        # the watch could not tell how the attempt went: no conclusion is drawn
        assert (run.record.status, run.record.outcome) == ("succeeded", "inconclusive")
        # ... and the clean-up stopped the cell and opened the gripper
        assert_left_safe(run, await cell_state(url))
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        stop_cell(proc)


async def test_a_clean_up_step_is_retried_until_a_frozen_controller_answers_again(
        calibration: Path, policy: Path, peg_plan: Plan, tmp_path: Path) -> None:
    # Given a cell whose controller freezes during attempt 1 and is still frozen when the
    # clean-up starts; it answers again a moment after the first try to stop it has failed
    proc, url = start_cell("--seed", "4", time_scale=0.05)
    tries: list[int] = []

    def freeze_then_thaw_late(update: Update, _executor: LocalExecutor) -> None:
        if update.kind == "step_finished" and update.step_id == "start_1":
            asyncio.get_running_loop().call_later(0.3, os.kill, proc.pid, signal.SIGSTOP)
        elif update.kind == "step_started" and update.step_id == "stop":
            tries.append(update.attempt or 0)
            if len(tries) == 1:
                asyncio.get_running_loop().call_later(2.5, os.kill, proc.pid, signal.SIGCONT)

    try:
        await queue(url, (True, ""))
        run = await run_playbook(peg_plan, url, calibration, policy, tmp_path,
                                 on_update=freeze_then_thaw_late)
        # Then the stop was tried again until the cell answered, and the cell is left safe
        assert tries[:2] == [1, 2] and run.state.steps["stop"].attempt >= 2
        assert_left_safe(run, await cell_state(url))
        assert run.record.status != "failed"
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        stop_cell(proc)


async def test_a_cancel_mid_attempt_runs_the_clean_up(
        cell: str, calibration: Path, policy: Path, peg_plan: Plan, tmp_path: Path) -> None:
    await queue(cell, (True, ""))
    before = (await cell_state(cell))["Attempt"]

    def cancel_while_watching(update: Update, executor: LocalExecutor) -> None:
        if update.kind == "step_finished" and update.step_id == "start_1":
            asyncio.get_running_loop().call_later(0.2, executor.cancel, "operator cancel")

    run = await run_playbook(peg_plan, cell, calibration, policy, tmp_path,
                             on_update=cancel_while_watching)
    assert run.record.status == "cancelled" and run.record.outcome is None
    assert run.status("watch_1") == "cancelled" and run.status("start_2") == "pending"
    state = await cell_state(cell)
    assert state["Attempt"] == before + 1 and state["LastTruth"] == "success"
    assert_left_safe(run, state)  # stopped mid-attempt, gripper open


async def test_sigint_to_mendflow_run_cancels_and_runs_the_clean_up(
        cell: str, calibration: Path, policy: Path, tmp_path: Path) -> None:
    # Given `mendflow run` watching a (long, successful) attempt
    async with CellClient(cell) as c:
        await c.call("QueueAttempt", True, "")
        before = await c.read("Attempt")
    env = {**os.environ, "MENDFLOW_DATA_DIR": str(tmp_path / "data"),
           "MENDFLOW_CONFIG_FILE": str(policy)}
    proc = await asyncio.create_subprocess_exec(
        MENDFLOW, "run", str(PEG), "--input", f"cell={cell}",
        "--input", f"calibration={calibration}",
        cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    try:
        async with CellClient(cell) as c:
            for _ in range(400):
                if await c.read("State") == "running" and await c.read("Attempt") > before:
                    break
                await asyncio.sleep(0.025)
            else:
                pytest.fail("the run never started an attempt")
        # When the operator presses Ctrl-C
        proc.send_signal(signal.SIGINT)
        raw, _ = await asyncio.wait_for(proc.communicate(), 30)
        output = raw.decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    # Then the run ends cancelled (exit 130) and its Always steps left the cell safe
    assert proc.returncode == 130, output
    assert "cancelled" in output
    state = await cell_state(cell)
    assert state["State"] == "stopped" and state["GripperOpen"] is True
    assert state["Attempt"] == before + 1  # stopped mid-attempt: no second attempt began


@pytest.mark.slow
async def test_at_real_speed_a_missed_failure_runs_to_its_end_and_the_retry_resolves(
        calibration: Path, policy: Path, peg_plan: Plan, tmp_path: Path) -> None:
    """Time scale 1.0: a failure the detector misses runs to its own end (about a minute,
    ~69 s on average), past the engine's default step timeout (60 s; 30 s here, so that every
    draw of the failure's length is past it); the playbook's own detect timeout (5 minutes)
    lets it end."""
    deaf = tmp_path / "deaf.json"  # a calibration whose threshold nothing reaches
    data = json.loads(calibration.read_text())
    data["threshold"] = 1e12
    deaf.write_text(json.dumps(data))
    assert all(s.timeout_s == 300 for s in peg_plan.steps if s.kind == "detect")
    proc, url = start_cell("--seed", "4", time_scale=1.0)
    try:
        await queue(url, (False, "jam"), (True, ""))
        run = await run_playbook(peg_plan, url, deaf, policy, tmp_path, default_timeout_s=30)
        assert run.out("watch_1")["alarm"] is False
        assert run.out("watch_1")["stream_s"] > 30  # longer than the engine's default timeout
        assert run.out("watch_1")["cell_state"].startswith("fail")
        assert run.out("watch_2")["cell_state"] == "success"
        assert (run.record.status, run.record.outcome) == ("succeeded", "resolved")
        assert_left_safe(run, await cell_state(url))
    finally:
        stop_cell(proc)
