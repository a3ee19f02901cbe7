r"""Trust, session 24 (the runtime): whose approvals, which policy.

1. A linked guide's (call step's) child run was answered with its caller's `--approve`,
   `--answer` and `--rerun`, matched by step id, though each was checked only against the
   caller's plan: `mendflow run --approve restart` approved the caller's `restart` and the
   linked guide's `restart` too, which no one was shown. What the command line says applies
   to the plan it was checked against; a linked guide's steps are named through the call
   step (`--approve CALL/STEP`, `--answer CALL/DECIDE=yes`, `--rerun CALL/STEP`), checked
   against the linked guide's plan, and otherwise asked (or refused, saying which flag).
2. The approval policy (`[policy] auto_approve`) was saved with the run, and a run resumed
   after the operator tightened it still approved what the policy no longer named (a
   distributed run's workers, `mendflow serve`'s resume, read only the saved one). On
   resume a gate is approved by policy only when both the saved and the current policy
   approve it: the stricter wins.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.interaction import Answers, NeedsAnswer, parse_in_doubt
from engine.plan import Plan
from tests.engine.runtime.conftest import edge, end, sh, step
from tests.engine.runtime.conftest import plan as make_plan

# -- helpers --------------------------------------------------------------------------------------


def _mendflow(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`mendflow ARGS`, its store and config file (empty unless written) under `tmp_path`,
    no terminal."""
    config = tmp_path / "mendflow.toml"
    if not config.exists():
        config.write_text("")
    env = {**os.environ, "MENDFLOW_DATA_DIR": str(tmp_path / "data"),
           "MENDFLOW_CONFIG_FILE": str(config)}
    env.pop("MENDFLOW_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, cwd=tmp_path)


def _gated_restart(marker: Path, **kw: object) -> Plan:
    """"Approve, then restart (a change that leaves `marker`)", escalating when not approved,
    with `kw` (steps, edges, calls) added."""
    steps = [step("restart", kind="approve"), sh("bounce", "touch", str(marker), mutating=True),
             end("done", "resolved"), end("denied", "escalate"), *kw.pop("steps", [])]  # type: ignore[misc]
    edges = [edge("restart", "bounce"), edge("restart", "denied", on="failure", kind="error"),
             *kw.pop("edges", [])]  # type: ignore[misc]
    return make_plan(steps, edges, **kw)


def _caller_of_a_restart(tmp_path: Path) -> Path:
    """A guide that restarts (gate `restart`), then follows a linked guide whose own gate is
    also `restart`: the plan file."""
    child = _gated_restart(tmp_path / "child-restarted")
    child = child.model_copy(update={"edges": [*child.edges, edge("bounce", "done")]})
    caller = _gated_restart(tmp_path / "caller-restarted",
                            steps=[step("fix", kind="call", call="restart-child")],
                            edges=[edge("bounce", "fix"), edge("fix", "done")],
                            calls={"restart-child": child})
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(caller.to_json())
    return plan_file


# -- 1. the caller's approvals are the caller's ---------------------------------------------------


def test_approving_the_callers_gate_does_not_approve_the_linked_guides_gate_of_that_name(
        tmp_path: Path) -> None:
    # Given a guide whose gate `restart` precedes a linked guide with a gate `restart` too
    plan_file = _caller_of_a_restart(tmp_path)
    # When the operator approves `restart` (checked against the caller's plan), no terminal
    ran = _mendflow(tmp_path, "run", str(plan_file), "--approve", "restart")
    said = ran.stdout + ran.stderr
    # Then the caller's restart ran, the linked guide's did not (before: both ran, exit 0)
    assert (tmp_path / "caller-restarted").exists(), said
    assert not (tmp_path / "child-restarted").exists(), said
    # (its gate unanswered, the linked guide escalated: the call step, and the run, failed)
    assert ran.returncode == 1 and "Traceback" not in said, said


def test_the_linked_guides_gate_is_approved_through_its_call_step(tmp_path: Path) -> None:
    plan_file = _caller_of_a_restart(tmp_path)
    # When the operator approves both, the linked guide's through its call step `fix`
    ran = _mendflow(tmp_path, "run", str(plan_file), "--approve", "restart",
                    "--approve", "fix/restart")
    said = ran.stdout + ran.stderr
    # Then both ran and the run resolved (before: `fix/restart` refused, no such gate)
    assert ran.returncode == 0, said
    assert (tmp_path / "caller-restarted").exists() and (tmp_path / "child-restarted").exists()


def test_an_approval_for_a_linked_guides_gate_it_does_not_have_is_refused(tmp_path: Path) -> None:
    plan_file = _caller_of_a_restart(tmp_path)
    ran = _mendflow(tmp_path, "run", str(plan_file), "--approve", "fix/reboot")
    said = ran.stdout + ran.stderr
    # Then nothing ran: one line naming the linked guide's gates, the usage exit code
    assert ran.returncode == 2, said
    assert "fix/reboot" in said and "fix/restart" in said and "Traceback" not in said, said
    assert not (tmp_path / "caller-restarted").exists()


def test_a_rerun_said_of_the_callers_step_does_not_settle_the_linked_guides(
        tmp_path: Path) -> None:
    from engine.interaction import for_call  # (new: the base has none)

    # Given `mendflow resume --rerun bounce --mark-failed fix/bounce`, both steps in doubt
    said = Answers(in_doubt=parse_in_doubt(rerun=["bounce"], failed=["fix/bounce"]))
    bounce = sh("bounce", "true", mutating=True)
    # Then each run's `bounce` is settled as said of it (before: the child's re-ran too)
    assert asyncio.run(said.settle_in_doubt(step=bounce, reason="?")).decision == "rerun"
    child = for_call(said, "fix")
    assert asyncio.run(child.settle_in_doubt(step=bounce, reason="?")).decision == "failed"
    with pytest.raises(NeedsAnswer) as raised:
        asyncio.run(for_call(said, "other").settle_in_doubt(step=bounce, reason="?"))
    assert "--rerun other/bounce" in (raised.value.hint or "")
