"""Robot-cell and plant recovery playbooks in styles the earlier sweeps did not try: a Yaskawa
alarm table, a MiR fleet over REST, a conveyor PLC over Modbus TCP, a tugger's drives on CAN, a
PackML cartoner over MQTT and OPC UA, a ROS 2 bin-picking cell, a Stäubli/Beckhoff press cell
(tests/fixtures/styles20 holds the guides tried). Each test is one rule a guide author would
recognise."""

from __future__ import annotations

from pathlib import Path

from engine.plan import StepKind
from tests.support.compiling import (
    assert_gated_and_accounted,
    compile_text,
    end_outcomes,
    gated,
    guards_of,
    reachable,
    running,
    runs,
    step_running,
    successors,
)

STYLES20 = Path(__file__).resolve().parents[2] / "fixtures" / "styles20"


def test_each_styles20_guide_compiles_gated_and_accounted_for():
    assert_gated_and_accounted(folder=STYLES20, at_least=7)


# -- a hand-over to the robot's maker --------------------------------------------------------------

def test_calling_the_makers_service_ends_the_run_escalated():
    # "| 4107 | Out of range (ABSO data) | Stop. Call Yaskawa service; do not jog the robot. |":
    # the row became a person's step "Stop", and the run went on into the next section, which
    # jogs the robot; "If the log shows ..., STOP: tag the robot and call Stäubli service." the same
    for said in ("Stop. Call Yaskawa service; do not jog the robot.",
                 "STOP: tag the robot \"Do not operate\" and call St\u00e4ubli service.",
                 "Contact KUKA Service."):
        plan = compile_text("## Check\n\n1. Read the alarm on the pendant.\n"
                            f"2. If the alarm is 4107, {said[0].lower()}{said[1:]}\n"
                            "3. Hold the enabling switch and jog the robot home.\n")
        (guard,) = [s for s in plan.steps if s.kind == StepKind.DECIDE]
        (jog,) = [s for s in plan.steps if s.title.startswith("Hold the enabling")]
        taken = [e.target for e in plan.edges if e.source == guard.id
                 and e.condition is not None and not e.condition.text.startswith("Otherwise")]
        assert len(taken) == 1, said
        assert jog.id not in reachable(plan, taken[0]), said
        assert any(end_outcomes(plan)[s] == "escalate" for s in reachable(plan, taken[0])
                   if s in end_outcomes(plan)), said
    # the same in an alarm table's action cell
    plan = compile_text("## Alarm\n\n| Alarm | What to do |\n|---|---|\n| 4315 | Go to step 2 |\n"
                        "| 4107 | Stop. Call Yaskawa service; do not jog the robot. |\n\n"
                        "## 2. Clear a collision\n\n1. Press SERVO ON and jog the robot away.\n")
    (row,) = [s for s in plan.steps if s.kind == StepKind.DECIDE and "4107" in s.title]
    (jog,) = [s for s in plan.steps if s.title.startswith("Press SERVO ON")]
    (taken,) = [e.target for e in plan.edges if e.source == row.id and e.condition is not None
                and not e.condition.text.startswith("Otherwise")]
    assert jog.id not in reachable(plan, taken) and end_outcomes(plan).get(taken) == "escalate"
    # calling an API service is no hand-over
    plan = compile_text("## Check\n\n1. If the cache is cold, call the payment service "
                        "warm-up endpoint.\n2. Check the latency.\n")
    assert not any(s.kind == StepKind.END and "payment" in s.title for s in plan.steps)


# -- what a case says to do before it jumps, or after its finding ---------------------------------

def _branch(plan, guard_words):
    """The step the case's own side of the decide `guard_words` names leads to."""
    (guard,) = [s for s in plan.steps if s.kind == StepKind.DECIDE and guard_words in s.title]
    (taken,) = [e.target for e in plan.edges if e.source == guard.id and e.condition is not None
                and not e.condition.text.startswith("Otherwise")]
    return plan.step(taken)


def test_what_a_case_says_to_do_before_its_jump_is_a_persons_step():
    # "2. If the vacuum is low, replace the suction cup and go to step 4.": only the jump was
    # kept, and the branch went on to press START with the worn cup still on
    for item in ("If the vacuum is low, replace the suction cup and go to step 4.",
                 "If the vacuum is low, the cup is worn or the hose leaks: replace the suction "
                 "cup and go to step 4."):
        plan = compile_text("## Procedure\n\n1. Read the vacuum on the HMI.\n"
                            f"2. {item}\n3. Jog the robot.\n4. Press START.\n")
        step = _branch(plan, "vacuum is low")
        assert step.kind == StepKind.MANUAL and step.title == "replace the suction cup", item
        (start,) = [s for s in plan.steps if s.title == "Press START"]
        assert [e.target for e in plan.edges if e.source == step.id] == [start.id]
    # the same in a paragraph: "..., the e-stop chain is open: find the pressed e-stop ... Then
    # continue with step 2."
    plan = compile_text("## Step 1 – Read the fault word\n\nRead it on the HMI.\n\n"
                        "If bit 0 is set, the e-stop chain is open: find the pressed e-stop, "
                        "make sure the area is safe, and pull it out. Then continue with step 2."
                        "\n\n## Step 2 – Clear the jam\n\n1. Remove the carton.\n")
    step = _branch(plan, "bit 0")
    assert step.kind == StepKind.MANUAL and step.title.startswith("find the pressed e-stop")
    # a jump alone, or a finding then a jump, is no person's step
    for item in ("If the vacuum is low, go to step 4.",
                 "If the vacuum is low, the cup is worn; go to step 4."):
        plan = compile_text("## Procedure\n\n1. Read the vacuum on the HMI.\n"
                            f"2. {item}\n3. Jog the robot.\n4. Press START.\n")
        assert _branch(plan, "vacuum is low").title == "Press START", item


def test_a_persons_step_before_a_jump_back_keeps_the_loops_exit():
    # "If named-checkzone reports errors, fix the record in git (repo `dns-zones`), let CI
    # deploy it, and go back to Step 1.": the fix is a person's step before the repeat, and
    # after the repeat the run goes where the decision's other side goes, as it did
    path = STYLES20.parent / "styles14" / "bind-dns.md"
    plan = compile_text(path.read_text())
    fix = _branch(plan, "named-checkzone reports errors")
    assert fix.kind == StepKind.MANUAL and fix.title.startswith("fix the record in git")
    (repeat,) = [e.target for e in plan.edges if e.source == fix.id]
    assert repeat.startswith("repeat-from-step-1")
    (guard,) = [s for s in plan.steps if s.title == "If named-checkzone reports errors"]
    (other,) = [e.target for e in plan.edges if e.source == guard.id and e.condition is not None
                and e.condition.text.startswith("Otherwise")]
    assert [e.target for e in plan.edges if e.source == repeat] == [other]
    # a link in the words is its text
    plan = compile_text("## Check\n\n1. Look at the dashboard.\n2. If a node is hot, note the ID "
                        "of the [hot node](hot.md#node) and go to step 4.\n3. Wait.\n4. Search "
                        "the logs.\n")
    assert _branch(plan, "node is hot").title == "note the ID of the hot node"


def test_a_finding_then_what_to_do_is_titled_by_what_to_do():
    # "If you see `0A1 ...` on the left drive, the motor is blocked: put the tugger on the jack
    # stands and check the wheel by hand.": the person's step read "Record the finding that
    # the motor is blocked", the stands and the check were in no title
    plan = compile_text("## Drives\n\n```sh\ncandump -n 20 can0\n```\n\nIf you see `0A1 [8] 10` "
                        "on the left drive, the motor is blocked: put the tugger on the jack "
                        "stands and check the wheel by hand.\n\n## Reset\n\nReset the drive on "
                        "the panel.\n")
    step = _branch(plan, "0A1")
    assert step.title == "put the tugger on the jack stands and check the wheel by hand"
    # the same in a list item: "- If the peak force exceeds 42000 N, the part was likely
    # double-loaded: remove both parts, ..." was titled by its case and finding
    plan = compile_text("## Read the curve\n\n```bash\nuaread -u opc.tcp://sp2-cx:4840 -n "
                        "'ns=4;s=GVL_Press.rPeakForce'\n```\n\n- If the peak force exceeds "
                        "42000 N, the part was likely double-loaded: remove both parts and "
                        "inspect the tool for cracks.\n- If the peak force is below 38000 N, "
                        "check the material batch.\n")
    assert _branch(plan, "exceeds 42000").title == \
        "remove both parts and inspect the tool for cracks"


# -- Modbus: mbpoll reads with -1, writes the values after the device ----------------------------

def test_an_mbpoll_read_in_prose_is_the_step_its_condition_reads():
    # "Read the speed setpoint (`mbpoll ... -t 4:int -1 10.50.7.10`). If it reads 0, write the
    # nominal 450 mm/s:" over `mbpoll ... 10.50.7.10 450`: the read was no command (mbpoll was
    # unknown), lost, and "it reads 0" read the fault word of the step before
    plan = compile_text("## Reset\n\n```bash\nmbpoll -m tcp -a 1 -r 1 -c 1 -t 4 -1 10.50.7.10\n"
                        "```\n\n## Restore the belt speed\n\nRead the speed setpoint (`mbpoll -m "
                        "tcp -a 1 -r 20 -c 1 -t 4:int -1 10.50.7.10`). If it reads 0, write the "
                        "nominal 450 mm/s:\n\n```bash\nmbpoll -m tcp -a 1 -r 20 -t 4:int -1 "
                        "10.50.7.10 450\n```\n")
    read = plan.step(step_running(plan, "mbpoll -m tcp -a 1 -r 20 -c 1 -t 4:int -1 "
                                        "10.50.7.10".split()))
    write = plan.step(step_running(plan, "mbpoll -m tcp -a 1 -r 20 -t 4:int -1 10.50.7.10 "
                                         "450".split()))
    fault = plan.step(step_running(plan, "mbpoll -m tcp -a 1 -r 1 -c 1 -t 4 -1 "
                                         "10.50.7.10".split()))
    assert not read.mutating and not fault.mutating and gated(plan, write.id)
    # the write's approval names the write, not the read said first in its paragraph
    assert write.title == "If it reads 0, write the nominal 450 mm/s"
    (expr,) = {e.condition.expr for e in plan.edges if e.condition is not None
               and e.condition.text == "If it reads 0"}
    assert f'steps["{read.id}"]' in expr


# -- a machine's reason table, and a row that points elsewhere ----------------------------------

HOLD_REASONS = """## Check the state

```bash
uaread -u opc.tcp://cartoner-l2:4840 -n "ns=2;s=Cartoner.HoldReason"
```

| Hold reason | Action |
|---|---|
| 12 – carton magazine empty | Refill the magazine |
| 31 – glue pressure low | Check the glue unit (see *Glue unit*); do not unhold |
| 44 – film splice | Splice the film and go to *Glue unit* |

## Unhold the machine

```bash
mosquitto_pub -h broker.l2.plant -t 'plant/l2/cartoner/packml/cmd' -m '{"command":"Unhold"}'
```

## Glue unit

1. Check the glue tank level through the sight glass.
"""


def test_a_hold_reason_table_decides_and_its_rows_go_where_they_point():
    # "| Hold reason | Action |": context for a reader, and the cartoner was unholded whatever
    # the reason, the glue-pressure row's "do not unhold" too
    plan = compile_text(HOLD_REASONS)
    unhold = running(plan, "mosquitto_pub")
    (tank,) = [s for s in plan.steps if s.title.startswith("Check the glue tank")]
    refill = _branch(plan, "12")
    assert refill.kind == StepKind.MANUAL and refill.title == "Refill the magazine"
    glue = _branch(plan, "31")
    assert glue.id == tank.id and unhold.id not in reachable(plan, glue.id)
    # "Splice the film and go to *Glue unit*": the person's step, then there
    splice = _branch(plan, "44")
    assert splice.title == "Splice the film" and successors(plan, splice.id) == [tank.id]


def test_an_alarm_row_that_says_what_to_do_and_where_to_go_goes_there():
    # "| 1325 | Communication error (I/O) | Check cable X81 and go to step 4 |": a person's
    # step "Check cable X81 and go to step 4", then on into step 2's jogging
    plan = compile_text("## 1. Read the alarm\n\n| Alarm | Meaning | What to do |\n|---|---|---|\n"
                        "| 4315 | Collision detected | Go to step 2 |\n"
                        "| 1325 | Communication error (I/O) | Check cable X81 and go to step 3 |\n"
                        "\n## 2. Clear a collision\n\n1. Press SERVO ON and jog the robot away.\n\n"
                        "## 3. Restart the job\n\n1. Turn the mode switch to PLAY.\n")
    cable = _branch(plan, "1325")
    (play,) = [s for s in plan.steps if s.title == "Turn the mode switch to PLAY"]
    assert cable.title == "Check cable X81" and successors(plan, cable.id) == [play.id]


# -- a person's step at the machine, said in a paragraph ------------------------------------------

def test_a_lock_out_or_a_step_at_the_pendant_in_a_paragraph_is_a_persons_step():
    # "**LOTO required.** Lock out the conveyor's isolator Q7 before you reach into the belt."
    # over the jam's numbered steps, "On the programming pendant, select {ALARM HISTORY} and
    # note the alarm code." before a block: context for a reader, the lock-out lost
    plan = compile_text("## Clear the jam\n\n**LOTO required.** Lock out the conveyor's isolator "
                        "Q7 before you reach into the belt.\n\n1. Remove the jammed carton.\n"
                        "2. Remove your lock from Q7.\n")
    titles = [s.title for s in plan.steps if s.kind == StepKind.MANUAL]
    assert titles[0] == "LOTO required" and titles[1] == "Remove the jammed carton"
    (lock,) = [s for s in plan.steps if s.title == "LOTO required"]
    assert "Lock out the conveyor's isolator Q7" in lock.text
    plan = compile_text("## 1. Read the alarm\n\nOn the programming pendant, select **{SYSTEM "
                        "INFO} → {ALARM HISTORY}** and note the alarm code.\n\nFrom the cell PC:"
                        "\n\n```bash\ncurl -s http://10.40.3.20/alarms\n```\n")
    (pendant,) = [s for s in plan.steps if s.kind == StepKind.MANUAL]
    assert pendant.title.startswith("On the programming pendant, select")
    assert successors(plan, pendant.id) == [running(plan, "curl").id]
    # before a case in the same paragraph: "Step 3. On the SP2 pendant, open the fault log. If
    # the log shows ..., STOP: ..."
    plan = compile_text("## Procedure\n\n**Step 3.** On the SP2 pendant, open **Application "
                        "manager → Fault log**. If the log shows *Joint 3 brake test failed*, "
                        "STOP: tag the robot and call St\u00e4ubli service.\n\n**Step 4.** Bring "
                        "the robot home.\n")
    (log,) = [s for s in plan.steps if s.title.startswith("Step 3. On the SP2 pendant")]
    assert [plan.step(t).kind for t in successors(plan, log.id)] == [StepKind.DECIDE]
    # and the lock's removal after the fix: "Then remove your lock and tag from Q0, switch to
    # **Auto** and run one part."
    plan = compile_text((STYLES20 / "opcua-python-beckhoff-press.md").read_text())
    assert any(s.kind == StepKind.MANUAL and s.title.startswith("Then remove your lock and tag")
               for s in plan.steps)
    # a precondition said alone: "Before moving the robot by hand, make sure the gripper
    # holds no part."
    plan = compile_text("## Recovery\n\n```bash\nros2 service call /dashboard_client/play "
                        "std_srvs/srv/Trigger\n```\n\nBefore moving the robot by hand, make "
                        "sure the gripper holds no part.\n")
    assert [s.title for s in plan.steps if s.kind == StepKind.MANUAL] == [
        "Before moving the robot by hand, make sure the gripper holds no part"]
    # what a reader is told about the machine, or a note, is no step
    for para in ("On the pendant, the alarm history lists the last 100 alarms.",
                 "Never enter the cell while the servo power lamp is lit.",
                 "On the pendant, see the manual for the menu paths."):
        plan = compile_text(f"## Recover\n\n{para}\n\n1. Press RESET.\n")
        assert [s.title for s in plan.steps if s.kind == StepKind.MANUAL] == ["Press RESET"], \
            para


# -- conditions over what the step before printed -------------------------------------------------

def _expr_of(case: str) -> str | None:
    plan = compile_text("## Check\n\n```bash\nros2 topic echo /gripper/state --once --field data\n"
                        f"```\n\n{case}, replace the suction cup.\n\n## Go\n\nPress START.\n")
    (expr,) = {e.condition.expr for e in plan.edges if e.condition is not None
               and not e.condition.text.startswith("Otherwise")}
    return expr


def test_a_condition_reads_every_value_it_names_or_is_left_to_a_person():
    out = 'steps["diag-1-check"].stdout'
    # "If it shows `Error` or `Fault`": only `Error` was read (a `Fault` went on as healthy)
    assert _expr_of("If it shows `Error` or `Fault`") == \
        f'("Error" in {out}) or ("Fault" in {out})'
    # "`Error`, `Fault` or `Estop`, ...": the comma cut the case at `Error`, the rest was
    # the person's step
    assert _expr_of("If it shows `Error`, `Fault` or `Estop`") == \
        f'("Error" in {out}) or ("Fault" in {out}) or ("Estop" in {out})'
    assert _expr_of("If it does not show `READY` or `IDLE`") == \
        f'("READY" not in ({out} | words)) and ("IDLE" not in ({out} | words))'
    # "Unless it shows `Idle`": read as "if", the branch was taken exactly when it should not
    assert _expr_of("Unless it shows `Idle`") == f'not ("Idle" in {out})'
    assert _expr_of("Unless it prints 0") == f"not (0 in ({out} | numbers))"
    # more than the values it names, or a code span that names the command: a person's call
    for case in ("If the value is `0` or negative", "If `stat` prints `Stale file handle`",
                 "If it shows `Error` and the team agreed"):
        assert _expr_of(case) is None, case


# -- a list of "case: what to do" after a check ---------------------------------------------------

CAMERA = """## {heading}

```bash
curl -s http://10.60.3.40/api/v1/inspection/last
```

* Score below 0.85 or status `NG`: clean the lens and the lighting ring, then re-check.
* Camera does not answer: power-cycle it at breaker F12, wait 60 s, then re-check.

## Recalibrate

1. Place the calibration grid under the camera.
"""


def test_a_list_of_cases_with_a_decimal_or_a_verb_no_list_knows_decides():
    # "* Score below 0.85 or status `NG`: clean the lens ...", "* Camera does not answer:
    # power-cycle it at breaker F12": the decimal point ended the case, and "power-cycle" was
    # no verb: both items were ignored as prose, the cleaning and the power cycle lost
    for heading in ("1 Check the camera", "1 Camera"):
        plan = compile_text(CAMERA.format(heading=heading))
        clean = _branch(plan, "Score below 0.85")
        power = _branch(plan, "Camera does not answer")
        assert clean.kind == power.kind == StepKind.MANUAL, heading
        # each titled by what to do (its case is the decision's)
        assert clean.title.startswith("clean the lens") and \
            power.title.startswith("power-cycle it at breaker F12"), heading


def test_a_list_of_labelled_steps_is_no_list_of_cases():
    # "- Lock out the cell: put your padlock ...", "- Verify zero energy: try to start the
    # cell ...": each label is what to do, not a case (read as cases, the lock-out was lost)
    plan = compile_text("## Before you start\n\n- Lock out the cell: put your personal padlock "
                        "and tag on the main disconnect `W2-QS1`.\n- Verify zero energy: try to "
                        "start the cell from the operator panel; nothing must move.\n\n"
                        "## Recover\n\n1. Press RESET.\n")
    assert [s.kind for s in plan.steps if s.kind != StepKind.END] == [StepKind.MANUAL] * 3


def test_a_hand_over_after_the_last_failed_attempt_ends_the_run_escalated():
    # "If the status is `failed`, do not retry more than twice; after the second failure call
    # the vision integrator.": a person's step, then on into the robot's hand-eye run in Auto
    # mode with the calibration failed
    plan = compile_text("## Recalibrate\n\n1. Trigger the calibration:\n\n   ```bash\n   curl -s "
                        "http://10.60.3.40/api/v1/calibration/status\n   ```\n\n   If the status "
                        "is `failed`, do not retry more than twice; after the second failure "
                        "call the vision integrator.\n\n2. Run the hand-eye project `HE_V3` from "
                        "the pendant in Auto mode.\n")
    failed = _branch(plan, "failed")
    assert failed.kind == StepKind.END and failed.outcome == "escalate"
    assert failed.title.startswith("Do not retry more than twice")


def test_opening_a_maintenance_work_order_is_the_guides_escalation():
    # "## If it happens again within an hour" over "Stop the line, lock it out, and open a
    # maintenance work order.": context for a reader (the run ended resolved whatever happened)
    plan = compile_text("## Fix\n\n1. Press RESET.\n2. Press START.\n\n## If it happens again "
                        "within an hour\n\nStop the line, lock it out, and open a maintenance "
                        "work order.\n")
    ends = [s for s in plan.steps if s.kind == StepKind.END and s.outcome == "escalate"]
    assert any("maintenance work order" in s.text for s in ends)


def test_an_expectation_followed_by_the_case_it_misses_does_not_end_the_run():
    # "Expected: `{"state":"RUNNING"}`." under the read, then "2. If the state is `SAFE_OFF` or
    # `COLLISION`: ...": the run ended escalated whenever the robot was not running, so the
    # guide's collision recovery could never run
    plan = compile_text((STYLES20 / "doosan-mqtt-fleet.md").read_text())
    read = running(plan, "mosquitto_sub")
    (case,) = [s for s in plan.steps if s.title.startswith("If the state is `SAFE_OFF`")]
    assert successors(plan, read.id) == [case.id]
    (fence,) = [s for s in plan.steps if s.title == "Make sure nobody is inside the fence"]
    assert fence.id in reachable(plan, read.id)
    # an expectation alone still stops the run when it does not hold
    plan = compile_text("## Check\n\n1. Read the state:\n\n   ```bash\n   mosquitto_sub -h gw4 -t "
                        "state -C 1 -W 5\n   ```\n\n   Expected: `RUNNING`.\n\n2. Press START.\n")
    assert any(s.kind == StepKind.END and s.outcome == "escalate" and "RUNNING" in s.title
               for s in plan.steps)


def test_standing_by_the_e_stop_is_said_to_whoever_approves_the_move():
    # "Watch the robot the whole time. Press the E-stop if it moves anywhere but home." under
    # the block that moves it: context for a reader, after the approval the move ran on
    plan = compile_text((STYLES20 / "doosan-mqtt-fleet.md").read_text())
    home = running(plan, "move_home")
    (gate,) = [plan.step(e.source) for _, e in plan.incoming(home.id)
               if plan.step(e.source).kind == StepKind.APPROVE]
    assert "Press the E-stop if it moves anywhere but home" in gate.text
    resume = running(plan, '"resume"')
    (other,) = [plan.step(e.source) for _, e in plan.incoming(resume.id)
                if plan.step(e.source).kind == StepKind.APPROVE]
    assert "E-stop" not in other.text


def test_a_case_that_ends_the_run_after_its_block_runs_the_block_in_that_case():
    # "3.3 If the vehicle does not move within 2 minutes, set it out of service and inform the
    # shift supervisor:" over `grpcurl ... RemoveFromSystem`: the case ended the run at once,
    # and the vehicle was removed from the system in the other case, when it moved fine
    plan = compile_text((STYLES20 / "agv-fleet-sop.md").read_text())
    remove = running(plan, "RemoveFromSystem")
    assert gated(plan, remove.id)
    assert guards_of(plan, remove.id) == ["If the vehicle does not move within 2 minutes"]
    (after,) = successors(plan, remove.id)
    assert plan.step(after).kind == StepKind.END and plan.step(after).outcome == "escalate"


def test_only_continue_if_stops_the_run_when_it_does_not_hold():
    # "2. Only continue if the gripper is empty.": a person's step, and the robot was homed
    # whatever the gripper held
    plan = compile_text("## Fix\n\n1. Check the gripper is empty.\n2. Only continue if the "
                        "gripper is empty.\n3. Home the robot: `ros2 service call /home "
                        "std_srvs/srv/Trigger`\n")
    home = running(plan, "/home")
    stop = _branch(plan, "Unless the gripper is empty")
    assert stop.kind == StepKind.END and stop.outcome == "escalate"
    assert guards_of(plan, home.id) == ["Otherwise (not: Unless the gripper is empty)"]
    # said of the output: "Proceed only if it shows `EMPTY`." reads the step before
    plan = compile_text("## Fix\n\n```bash\nros2 topic echo /gripper/state --once\n```\n\n"
                        "Proceed only if it shows `EMPTY`.\n\n```bash\nros2 service call /home "
                        "std_srvs/srv/Trigger\n```\n")
    (expr,) = {e.condition.expr for e in plan.edges if e.condition is not None
               and e.condition.text == "Unless it shows `EMPTY`"}
    assert expr == 'not ("EMPTY" in steps["mit-1-fix"].stdout)'


def test_a_machine_step_said_with_its_condition_after_it_runs_only_then():
    # "1. Home the robot unless it is already at home:" over the homing call: "Home" was no
    # verb that runs anything, the condition was dropped, and the robot was homed every time
    plan = compile_text("## Fix\n\n1. Home the robot unless it is already at home:\n\n   ```bash"
                        "\n   ros2 service call /home std_srvs/srv/Trigger\n   ```\n\n2. Press "
                        "START.\n")
    home = running(plan, "/home")
    assert guards_of(plan, home.id) == ["unless it is already at home"]
    # jogging is a hand on the pendant: "Jog the robot home from the teach pendant, then
    # `curl ...`" stays the person's step it was
    plan = compile_text("## Fix\n\n**Remedy:** Jog the robot to home from the teach pendant, "
                        "then `curl -s -X PUT http://cell4-gw:8080/tags/DB30.HomeAck -d 1`.\n")
    assert runs(plan) == []


def test_skip_this_step_if_guards_the_step_by_the_other_case():
    # "1. Skip this step if the robot is already homed. Home the robot:" over the homing call:
    # the condition was dropped, and the robot was homed every time
    for guide in ("## Fix\n\n1. Skip this step if the robot is already homed. Home the robot:\n"
                  "\n   ```bash\n   ros2 service call /home std_srvs/srv/Trigger\n   ```\n\n2. "
                  "Press START.\n",
                  "## Home\n\nSkip this step if the robot is already homed.\n\n```bash\nros2 "
                  "service call /home std_srvs/srv/Trigger\n```\n\n## Run\n\n1. Press START.\n"):
        plan = compile_text(guide)
        home = running(plan, "/home")
        assert guards_of(plan, home.id) == ["Unless the robot is already homed"]
