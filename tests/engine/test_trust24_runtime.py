r"""Trust, session 24 (the runtime): whose approvals, which policy.

1. A linked guide's (call step's) child run was answered with its caller's `--approve`,
   `--answer` and `--rerun`, matched by step id, though each was checked only against the
   caller's plan: `mendflow run --approve restart` approved the caller's `restart` and the
   linked guide's `restart` too, which no one was shown. What the command line says applies
   to the plan it was checked against; a linked guide's steps are named through the call
   step (`--approve CALL/STEP`, `--answer CALL/DECIDE=yes`, `--rerun CALL/STEP`), checked
   against the linked guide's plan, and otherwise asked (or refused, saying which flag).
2. The approval policy (`[policy] auto_approve`) was saved with the run, and a run resumed
   through `mendflow serve` after the operator tightened it still approved what the policy
   no longer named (it read only the saved one); `mendflow resume` read only the current
   one, so a policy loosened since approved what the run's starter had not agreed to. On
   resume a gate is approved by policy only when both the saved and the current policy
   approve it: the stricter wins.
3. A condition on a parallel branch that read a check whose last attempt failed and which
   was being tried again (`retries`) decided on that failure: "if the check did not pass,
   escalate" escalated on the first attempt's exit status, the retry that might have passed
   cut off. Such a condition, its status included, concludes nothing (`inconclusive`).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.interaction import Answers, NeedsAnswer, parse_in_doubt
from engine.plan import Plan, Retry, Step
from engine.plugins import Registry
from plugins.shell import ShellPlugin
from tests.engine.runtime.conftest import FlakyPlugin, edge, end, sh, step
from tests.engine.runtime.conftest import plan as make_plan
from tests.support.killed import killed_run, mendflow
from tests.support.running import run_locally

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


# -- 2. a resumed run's policy: the stricter wins -------------------------------------------------


def _policy(tmp_path: Path, *approved: str) -> None:
    quoted = ", ".join(f'"{glob}"' for glob in approved)
    (tmp_path / "mendflow.toml").write_text(f"[policy]\nauto_approve = [{quoted}]\n")


def _resumed_under(tmp_path: Path, started: tuple[str, ...], now: tuple[str, ...]
                   ) -> subprocess.CompletedProcess[str]:
    """A run of "wait, approve `restart`, restart" started under policy `started`, killed
    while it waits, resumed under policy `now`."""
    plan = _gated_restart(tmp_path / "restarted", steps=[sh("wait", "sleep", "2")],
                          edges=[edge("wait", "restart"), edge("bounce", "done")])
    plan = plan.model_copy(update={"entry": "wait"})
    _policy(tmp_path, *started)
    _, run_id, env = killed_run(tmp_path, plan.to_json(), "wait", name="plan.json", env={
        "MENDFLOW_CONFIG_FILE": str(tmp_path / "mendflow.toml")})
    _policy(tmp_path, *now)
    return mendflow(env, "resume", run_id)


def test_a_policy_loosened_since_the_run_started_does_not_approve_on_resume(
        tmp_path: Path) -> None:
    # Given a run started under a policy that approves nothing, the gate not reached
    # When the operator's policy approves its command by the time it is resumed
    ran = _resumed_under(tmp_path, (), ("touch *",))
    said = ran.stdout + ran.stderr
    # Then the gate is not approved by policy: its starter did not agree to it (before: the
    # restart ran, approved by the policy of the resuming process alone)
    assert not (tmp_path / "restarted").exists(), said
    assert ran.returncode == 3 and "Traceback" not in said, said  # denied: escalate


def test_a_gate_both_policies_approve_is_approved_on_resume(tmp_path: Path) -> None:
    ran = _resumed_under(tmp_path, ("touch *",), ("touch */restarted",))
    said = ran.stdout + ran.stderr
    assert ran.returncode == 0 and "approved by policy" in said, said
    assert (tmp_path / "restarted").exists(), said


def test_a_policy_tightened_since_the_run_started_holds_for_it(tmp_path: Path) -> None:
    from engine.runtime.services import answers_for
    from engine.store.base import RunOptions

    # Given a run whose saved policy approved `systemctl restart *`, resumed (the way a served
    # run is) under a policy that no longer does
    said = answers_for(RunOptions(auto_approve=("systemctl restart *",)),
                       policy_now=("redis-cli flushall",))
    # Then its gate is not approved by policy (before: the saved policy alone approved it)
    with pytest.raises(NeedsAnswer):
        asyncio.run(said.approve(step=step("restart", kind="approve"), action="restart",
                                 commands=("systemctl restart app",)))


# -- 3. a condition on a step being tried again ----------------------------------------------------


def _branch_reads_a_retried_check(x: Step) -> Plan:
    """Check `x` beside `y` (0.3 s), whose branches read `x`: escalate unless it passed."""
    return make_plan([sh("look", "true"), x, sh("y", "sleep", "0.3"), end("page", "escalate"),
                      end("fine", "no_action"), end("checked", "resolved")],
                     [edge("look", "x"), edge("look", "y"), edge("x", "checked"),
                      edge("y", "page", "steps.x.exit_code != 0"),
                      edge("y", "fine", "steps.x.exit_code == 0")])


def test_a_condition_on_a_step_being_tried_again_concludes_nothing(tmp_path: Path) -> None:
    # Given a check that fails once and is tried again 5 s later, and a parallel branch that
    # decides on its exit status meanwhile
    x = sh("x", "cat", str(tmp_path / "not-yet.txt"),
           retry=Retry(attempts=2, backoff_s=5.0, jitter=False))
    record = run_locally(_branch_reads_a_retried_check(x), tmp_path)
    # Then nothing is concluded from the failure its retry may undo (before: escalate, on the
    # first attempt's exit status, the retry cut off)
    assert (record.status, record.outcome) == ("succeeded", "inconclusive"), record.reason
    assert "reads step 'x', whose last attempt failed" in (record.reason or ""), record.reason


def test_a_condition_on_a_step_its_retry_passed_decides(tmp_path: Path) -> None:
    # Given the same branch deciding (after 1 s) on a check whose retry passed by then
    FlakyPlugin.calls = {}
    x = step("x", plugin="flaky", params={"fail_times": 1, "key": "x"},
             retry=Retry(attempts=2, backoff_s=0.05, jitter=False))
    plan = _branch_reads_a_retried_check(x)
    plan = plan.model_copy(update={
        "edges": [*(e for e in plan.edges if e.source not in ("x", "y")),
                  edge("y", "page", "steps.x.calls != 2"), edge("y", "fine", "steps.x.calls == 2")],
        "steps": [s if s.id != "y" else sh("y", "sleep", "1") for s in plan.steps]})
    registry = Registry(discover=False, extra={"shell": ShellPlugin, "flaky": FlakyPlugin})
    record = run_locally(plan, tmp_path, registry=registry)
    # Then it decides as it says
    assert (record.status, record.outcome) == ("succeeded", "no_action"), record.reason

