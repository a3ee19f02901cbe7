"""A playbook written as "**Step N:**" paragraphs, the way a cell's recovery card is: what to do
then where to go, a check of what a command shows, and a hand-over to the people on the floor."""

from __future__ import annotations

from engine.compile import phrases
from engine.plan import StepKind
from tests.support.compiling import compile_text, step_running

CARD = """# Robot cell 7: part not detected at the fixture

**Step 1:** Read the fixture sensor: `ros2 topic echo /cell7/fixture/present --once`

Is a part present? Yes \u2192 Step 3. No \u2192 Step 2.

**Step 2:** Re-seat the part by hand, then continue with Step 3.

**Step 3:** Home the arm: `ros2 action send_goal /cell7/arm/home control_msgs/action/Home "{}"`

**Step 4:** Verify the cycle resumes: `ros2 topic echo /cell7/cycle/state --once` shows `RUNNING`.
If it does not, stop the cell and call maintenance.
"""


def test_what_to_do_before_an_unconditional_jump_is_a_persons_step_then_the_jump() -> None:
    # "Re-seat the part by hand, then continue with Step 3" was a yes/no question whose both
    # answers went to step 3: the re-seating itself was in no step
    plan = compile_text(CARD)
    (reseat,) = [s for s in plan.steps if s.kind == StepKind.MANUAL]
    assert "Re-seat the part by hand" in reseat.text
    home = step_running(plan, ["ros2", "action", "send_goal", "/cell7/arm/home",
                               "control_msgs/action/Home", "{}"])
    (out,) = [e for e in plan.edges if e.source == reseat.id]
    assert out.kind == "jump" and out.condition is None and \
        plan.step(out.target).kind == StepKind.APPROVE
    assert [e.target for e in plan.edges if e.source == out.target and e.on == "success"] == \
        [home]
    assert phrases.action_before_jump("If it is loose, re-seat it, then go to Step 3") is None


def test_a_check_said_with_what_it_verifies_reads_its_own_output_after_it_runs() -> None:
    # "Verify the cycle resumes: `x` shows `RUNNING`." was a person's step: the words before
    # the colon hid the check, and a sentence after it hid it too
    plan = compile_text(CARD)
    check = step_running(plan, ["ros2", "topic", "echo", "/cell7/cycle/state", "--once"])
    (nxt,) = [e.target for e in plan.edges if e.source == check]
    conds = [e.condition for e in plan.edges if e.source == nxt and e.condition is not None]
    assert any(c.expr == f'"RUNNING" not in (steps["{check}"].stdout | words)' for c in conds)


def test_calling_the_people_on_the_floor_is_an_escalation() -> None:
    # "stop the cell and call maintenance" was a person's step and then the run ended resolved
    plan = compile_text(CARD)
    (end,) = [s for s in plan.steps if s.kind == StepKind.END and
              s.title == "Stop the cell and call maintenance"]
    assert end.outcome is not None and end.outcome.value == "escalate"
    for said in ("notify the shift supervisor", "get a technician", "inform the cell engineer",
                 "call maintenance"):
        assert phrases.outcome_of(f"If the gripper jams, {said}.") == "escalate", said
    for said in ("call the API", "check the maintenance logs", "call the maintenance window "
                 "script"):
        assert phrases.outcome_of(f"If the gripper jams, {said}.") is None, said


def test_what_to_do_if_a_check_fails_is_that_checks_failing_side() -> None:
    # "... shows `RUNNING`. If it does not, stop the cell ..." was a second question asked only
    # after the check had passed (its answer could only be no)
    plan = compile_text(CARD)
    check = step_running(plan, ["ros2", "topic", "echo", "/cell7/cycle/state", "--once"])
    (decide,) = [e.target for e in plan.edges if e.source == check]
    outs = {e.kind: plan.step(e.target) for e in plan.edges if e.source == decide}
    assert outs["branch"].title == "Stop the cell and call maintenance"
    assert outs["else"].outcome is not None and outs["else"].outcome.value == "resolved"
    assert not [s for s in plan.steps if s.kind == StepKind.DECIDE and "does not" in s.text
                and "output" not in s.text]
    # an If about something else is its own question
    plan = compile_text(CARD.replace("If it does not, stop", "If the light is red, stop"))
    assert [s for s in plan.steps if s.kind == StepKind.DECIDE and
            s.text == "If the light is red"]


def test_a_list_items_if_not_after_its_check_is_the_checks_failing_side() -> None:
    plan = compile_text("# T\n\n## Steps\n\n1. Verify: `systemctl is-active app` returns `active`. "
                        "If not, restart it: `systemctl restart app`\n")
    check = step_running(plan, ["systemctl", "is-active", "app"])
    restart = step_running(plan, ["systemctl", "restart", "app"])
    (decide,) = [e.target for e in plan.edges if e.source == check]
    (branch,) = [e for e in plan.edges if e.source == decide and e.kind == "branch"]
    assert branch.condition is not None and \
        branch.condition.expr == f'"active" not in (steps["{check}"].stdout | words)'
    assert [e.target for e in plan.edges if e.source == branch.target and e.on == "success"] \
        == [restart]
