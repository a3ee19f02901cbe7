"""Robot-cell, plant and field-engineering playbooks in styles the earlier sweeps did not try:
ABB RAPID over Robot Web Services, KUKA KRL message tables, FANUC SRVO tables, an S7-1500
diagnostic buffer, OPC UA and MQTT command lines, ROS 1, a gripper swap checklist, conveyor jam
retries, a welding wire feed fault, a CNC tending shift handover, a Cognex recalibration
(tests/fixtures/styles23 holds the guides tried). Each test is one rule a guide author would
recognise."""

from __future__ import annotations

from pathlib import Path

from engine.plan import StepKind
from tests.support.compiling import (
    assert_gated_and_accounted,
    compile_text,
    end_outcomes,
    guards_of,
    reachable,
    running,
    runs,
)

STYLES23 = Path(__file__).resolve().parents[2] / "fixtures" / "styles23"


def test_each_styles23_guide_compiles_gated_and_accounted_for():
    assert_gated_and_accounted(folder=STYLES23, at_least=10)


def _taken(plan, guard_words):
    """The step the case's own side of the decide `guard_words` names leads to."""
    (guard,) = [s for s in plan.steps if s.kind == StepKind.DECIDE and guard_words in s.title]
    (taken,) = [e.target for e in plan.edges if e.source == guard.id and e.condition is not None
                and not e.condition.text.startswith("Otherwise")]
    return taken


# -- a controller's message table ------------------------------------------------------------------

def test_a_table_of_controller_messages_is_a_decision_on_the_message():
    # "| Message | Cause | Remedy |" over "| KSS26015 | Brake test failed | Do not restart. Tag
    # the robot out of service and call KUKA service |": the table was context for a reader,
    # and the run went on to start the robot after a failed brake test
    for head in ("Message", "Message no.", "Message number"):
        plan = compile_text(
            "## Step 1 – Acknowledge\n\n1. Note every message number on the smartPAD.\n\n"
            f"| {head} | Cause | Remedy |\n|---|---|---|\n"
            "| KSS15016 | Software limit switch A3 | Jog A3 back inside its range in T1 |\n"
            "| KSS26015 | Brake test failed | Do not restart. Tag the robot out of service and "
            "call KUKA service |\n\n"
            "## Step 2 – Restart\n\n1. Switch to AUT EXT and press Start.\n")
        taken = _taken(plan, "KSS26015")
        (start,) = [s for s in plan.steps if s.title.startswith("Switch to AUT EXT")]
        assert start.id not in reachable(plan, taken), head
        assert end_outcomes(plan).get(taken) == "escalate", head
        jog = plan.step(_taken(plan, "KSS15016"))
        assert jog.kind == StepKind.MANUAL and jog.title.startswith("Jog A3"), head


# -- a fault-code flowchart written as nested bullets ---------------------------------------------

def _step_titled(plan, start):
    (step,) = [s for s in plan.steps if s.title.startswith(start)]
    return step


def test_the_bullets_under_a_case_are_that_cases_steps():
    # "- If the fault is `F22` (load overhang):" over "  - Lock out the aisle access door,
    # enter, and push the tote back onto the shuttle.": the bullets under the case were
    # ignored as prose (a list nested in a step is that step's details), and the run stopped
    # the aisle and ended resolved with nobody clearing the tote
    plan = compile_text(
        "## Fault\n\nRead the fault:\n\n```bash\nmosquitto_sub -h b -t s/status -C 1\n```\n\n"
        "- If the fault is `F10` (position lost):\n"
        "  - Send the shuttle home: `mosquitto_pub -h b -t s/cmd -m home`\n"
        "  - Check the shuttle reports its position.\n"
        "- If the fault is `F22` (load overhang):\n"
        "  - Lock out the aisle access door, enter, and push the tote back onto the shuttle.\n"
        "  - power-cycle the shuttle at its breaker.\n")
    lock = _step_titled(plan, "Lock out the aisle access door")
    power = _step_titled(plan, "power-cycle the shuttle")
    assert lock.kind == power.kind == StepKind.MANUAL
    assert lock.id in reachable(plan, _taken(plan, "F22"))
    assert _step_titled(plan, "Check the shuttle reports").kind == StepKind.MANUAL
    # a list nested in a step (not a case) stays that step's details
    plan = compile_text("## Fix\n\n1. Open the cabinet:\n   - Turn the main switch off.\n"
                        "   - Open the door with the key.\n2. Replace the fuse.\n")
    assert not any(s.title.startswith("Turn the main switch") for s in plan.steps)


def test_a_list_of_code_labels_over_what_to_do_is_a_decision_on_the_code():
    # "- `F10` – position lost" over its bullets, "- `F22` – load overhang" over its: the
    # labels were ignored as prose, and every case's commands ran one after the other (the
    # shuttle was sent home, then the whole aisle stopped, whatever the fault)
    for f10, f22 in (("`F10` – position lost", "`F22` – load overhang"),
                     ("**F10** (position lost)", "**F22** (load overhang)"),
                     ("**Event 16#39:0001 (station failure)**", "**Event 16#4302**")):
        plan = compile_text(
            "## Fault\n\nRead the fault:\n\n```bash\nmosquitto_sub -h b -t s/status -C 1\n```\n"
            f"\nThen look up the fault code:\n\n- {f10}\n"
            "  - Send the shuttle home: `mosquitto_pub -h b -t s/cmd -m home`\n"
            "  - Check the shuttle reports its position.\n"
            f"- {f22}\n"
            "  - Stop the aisle: `mosquitto_pub -h b -t a/cmd -m stop`\n"
            "  - Lock out the aisle door, enter, and push the tote back.\n")
        home = next(s for s in plan.steps if s.kind == StepKind.COMMAND and "home" in
                    " ".join(s.params["pipeline"][0]))
        stop = next(s for s in plan.steps if s.kind == StepKind.COMMAND and "stop" in
                    " ".join(s.params["pipeline"][0]))
        deciding = [s for s in plan.steps if s.kind == StepKind.DECIDE]
        assert len(deciding) == 2, f10
        (first, second) = sorted(deciding, key=lambda s: s.source.start)
        first_side = _taken(plan, first.title)
        assert home.id in reachable(plan, first_side), f10
        assert stop.id in reachable(plan, _taken(plan, second.title)), f10
        other = [e.target for e in plan.edges if e.source == first.id and e.condition is not None
                 and e.condition.text.startswith("Otherwise")]
        assert other and home.id not in reachable(plan, other[0]), f10
        assert _step_titled(plan, "Lock out the aisle door").kind == StepKind.MANUAL, f10
    # a glossary of codes (no bullets under them) is no decision
    plan = compile_text("## Codes\n\nRun `mosquitto_sub -h b -t s/status -C 1`.\n\n"
                        "- `F10` – position lost\n- `F22` – load overhang\n")
    assert not any(s.kind == StepKind.DECIDE for s in plan.steps)
    # nor a list of topics in bold over advice ("**Node health monitoring:**")
    plan = compile_text("## Prevention\n\n- **Node health monitoring:**\n"
                        "  - Monitor node resource utilization\n  - Set up alerts for taints\n"
                        "- **Networking:**\n  - Ensure stable network connectivity\n"
                        "  - Monitor DNS resolution\n")
    assert not any(s.kind == StepKind.DECIDE for s in plan.steps)
    # one bullet under each label is what to do in that case
    plan = compile_text("## Investigate\n\nRun `curl -s http://cache:9100/metrics`.\n\n"
                        "- Based on the `reason`:\n  - `timeout`\n    - Scale up the memcached "
                        "replicas\n  - `network-error`\n    - Check the memcached logs\n")
    scale = _step_titled(plan, "Scale up the memcached")
    assert scale.kind == StepKind.MANUAL and scale.id in reachable(plan, _taken(plan, "timeout"))
    assert scale.id not in reachable(plan, _taken(plan, "network-error"))


# -- a retry's bound ---------------------------------------------------------------------------

def test_after_the_retries_run_out_the_run_ends_as_the_item_says():
    # "6. After the third failed attempt, abort: press E-STOP, lock out the conveyor, clear the
    # jam by hand, and call maintenance." / "7. When the photo-eyes clear, resume production.":
    # the abort was a person's step, and the run went on to resume production and end resolved
    for said in ("After the third failed attempt, abort: press E-STOP on CS-3, lock out the "
                 "conveyor, clear the jam by hand, and call maintenance.",
                 "After three failed attempts, stop and call maintenance.",
                 "After 2 unsuccessful retries, escalate to the shift lead."):
        plan = compile_text("## Procedure\n\n1. Press JAM RESET on CS-3.\n"
                            "2. Read the photo-eyes. If they are still blocked, repeat step 1, "
                            f"up to 3 times in total.\n3. {said}\n"
                            "4. Restart the zone from the HMI and resume production.\n")
        taken = _taken(plan, said.split(",")[0])
        (restart,) = [s for s in plan.steps if s.title.startswith("Restart the zone")]
        assert restart.id not in reachable(plan, taken), said
        assert end_outcomes(plan).get(taken) == "escalate", said
    # "after the restart" is a time, not a bound
    plan = compile_text("## Procedure\n\n1. Press JAM RESET.\n2. After the restart, watch the "
                        "merge for one minute.\n3. Resume production.\n")
    assert not any(s.kind == StepKind.DECIDE for s in plan.steps)


# -- a person's hands before a command or a jump -----------------------------------------------

def test_what_a_sentence_says_to_do_by_hand_before_its_command_is_a_persons_step():
    # "**Remedy:** Lock out the conveyor, clear the box by hand, then restart the conveyor with
    # `curl -X PUT ...`": only the restart was kept, its approval all anyone saw, the lock-out
    # lost
    for said, hands in (("Lock out the conveyor, clear the box by hand, then restart the "
                         "conveyor with `curl -s -X PUT http://gw/tags/Start -d 1`.",
                         "Lock out the conveyor, clear the box by hand"),
                        ("**Remedy:** Replace the suction cup, then reset the fault with "
                         "`curl -s -X PUT http://gw/tags/FaultReset -d 1`.",
                         "Replace the suction cup")):
        plan = compile_text(f"## Recover\n\n{said}\n")
        (person,) = [s for s in plan.steps if s.kind == StepKind.MANUAL]
        (command,) = [s for s in plan.steps if s.kind == StepKind.COMMAND]
        assert person.title == hands, said
        assert command.id in reachable(plan, person.id), said
    # a condition before the command is no person's step
    plan = compile_text("## Recover\n\nIf the belt is stopped, then restart it with "
                        "`curl -s -X PUT http://gw/tags/Start -d 1`.\n")
    assert not any(s.title.startswith("If the belt") and s.kind == StepKind.MANUAL
                   for s in plan.steps)


def test_a_plant_verb_before_a_jump_is_a_persons_step():
    # "- If the state is `guardstop`, a cell door is open: close gate S4-G1 and acknowledge on
    # the safety panel, then continue with step 2.": only the jump was kept ("close gate S4-G1"
    # has no article, and "close" was no verb the lists knew), the gate left open
    for item in ("If the state is `guardstop`, a cell door is open: close gate S4-G1 and "
                 "acknowledge on the safety panel, then continue with step 2.",
                 "If the guard door is open, close door G4 and go to step 2."):
        plan = compile_text("## Procedure\n\n1. Read the state on the pendant.\n"
                            f"2. {item}\n3. Jog the robot home.\n"
                            "## 2. Restart\n\n1. Press START.\n")
        step = plan.step(_taken(plan, item.split(",")[0]))
        assert step.kind == StepKind.MANUAL, item
        assert step.title.startswith(("close gate S4-G1", "close door G4")), item


def test_a_terse_instruction_among_instructions_is_a_step_too():
    # "- stop pubsubbeat" among "- see the queue going up ..." and "- acknowledge all
    # messages ...": two words were too few to instruct, and the stop was ignored as prose
    plan = compile_text("## Acknowledge all messages\n\n- stop pubsubbeat\n"
                        "- watch the queue going up on the dashboard\n"
                        "- acknowledge all messages in the pubsub queue\n")
    titles = [s.title for s in plan.steps if s.kind == StepKind.MANUAL]
    assert titles[:3] == ["stop pubsubbeat", "watch the queue going up on the dashboard",
                          "acknowledge all messages in the pubsub queue"]


# -- an output said inline, then a case over the block ----------------------------------------

def test_an_inline_expected_output_then_a_case_introduces_a_command():
    # "Expected output: `RUN`. If the CPU is in `STOP`:" over the diagnostic-buffer read: the
    # paragraph opened with "Expected output", and the read was ignored as sample output
    plan = compile_text("## 1 Read the CPU state\n\n```bash\npython3 -m s7tools.state --ip "
                        "172.16.7.10\n```\n\nExpected output: `RUN`. If the CPU is in `STOP`:"
                        "\n\n```bash\npython3 -m s7tools.diagbuf --ip 172.16.7.10 --last 10\n```"
                        "\n\n## 2 Restart\n\n1. Turn the key to RUN.\n")
    read = running(plan, "s7tools.diagbuf")
    assert guards_of(plan, read.id) == ["If the CPU is in `STOP`"]
    # an output heading over its block stays output
    for said in ("Expected output:", "Expected output: the CPU prints its state. For example:"):
        plan = compile_text("## Check\n\n```bash\npython3 -m s7tools.state\n```\n\n"
                            f"{said}\n\n```\nRUN\n```\n")
        assert len(runs(plan)) == 1, said


# -- a plant's word for the end ------------------------------------------------------------------

def test_resuming_production_ends_the_run_resolved():
    # "5. Watch one full cycle. When the cycle counter increases, resume production." over
    # "## 3. Motion supervision tripped": "resume production" was a person's step, and the run
    # went on into the next section, jogging the robot clear while the cell ran
    for said in ("When the cycle counter increases, resume production.",
                 "When the cycle counter increases, put the cell back in production.",
                 "When the cycle counter increases, release the aisle and resume normal "
                 "production."):
        plan = compile_text("## 2. Restart\n\n1. Press START on the operator panel.\n"
                            f"2. Watch one full cycle. {said}\n\n"
                            "## 3. Motion supervision tripped\n\n1. Switch to MANUAL and jog "
                            "the robot clear of the fixture.\n")
        taken = _taken(plan, "cycle counter increases")
        (jog,) = [s for s in plan.steps if s.title.startswith("Switch to MANUAL")]
        assert jog.id not in reachable(plan, taken), said
        assert any(end_outcomes(plan).get(s) == "resolved" for s in reachable(plan, taken)), said
    # production named in passing is no ending
    plan = compile_text("## Restart\n\n1. If the line is stopped, check the production "
                        "schedule before you restart it.\n2. Press START.\n")
    assert not any(s.kind == StepKind.END and s.outcome == "resolved" and "schedule" in s.title
                   for s in plan.steps)


# -- a checklist table ---------------------------------------------------------------------------

def test_a_numbered_checklist_table_with_boxes_to_tick_is_a_persons_checks():
    # "| # | Check | How | OK? |" over "| 1 | Robot program running | `urctl ... status` shows
    # `PLAYING` | ☐ |": the table was context for a reader, and "If any check is not OK, ..."
    # was asked after checks nobody was given
    for box in ("\u2610", "[ ]", ""):
        plan = compile_text(
            "## Outgoing shift\n\n| # | Check | How | OK? |\n|---|---|---|---|\n"
            f"| 1 | Robot program running | `urctl --host r1 status` shows `PLAYING` | {box} |\n"
            f"| 2 | Chip conveyor clear | look into both mills | {box} |\n\n"
            "If any check is not OK, write it in the handover log.\n")
        checks = [s for s in plan.steps if s.kind == StepKind.MANUAL
                  and s.title.startswith(("Robot program running", "Chip conveyor clear"))]
        assert len(checks) == 2, box
        assert "\u2610" not in checks[0].title and "[ ]" not in checks[0].title, box
        (asked,) = [s for s in plan.steps if s.kind == StepKind.DECIDE]
        assert asked.id in reachable(plan, checks[1].id), box
    # a numbered table of facts, with no boxes to tick, stays context
    plan = compile_text("## Cells\n\n| # | Cell | Robot |\n|---|---|---|\n| 1 | T-9 | UR10e |\n"
                        "| 2 | T-10 | UR5e |\n")
    assert not any(s.kind == StepKind.MANUAL and s.title.startswith("T-9") for s in plan.steps)


# -- an aside is no test of the output -----------------------------------------------------------

def test_an_alarms_meaning_in_brackets_is_no_test_of_the_output():
    # "| SRVO-062 BZAL alarm | The pulse coder backup battery is empty | Replace the batteries
    # ... |": the row's case read "(... battery is empty)" as "the alarm read printed nothing",
    # and the row was taken, or not, by whether `curl` printed anything
    plan = compile_text(
        "## Alarms\n\nRead the alarm: `curl -s http://10.8.1.33/md/errall.ls`\n\n"
        "| Alarm | Cause | Remedy |\n|---|---|---|\n"
        "| SRVO-001 | The operator panel E-STOP is pressed | Release it and press RESET |\n"
        "| SRVO-062 BZAL | The pulse coder backup battery is empty | Replace the batteries, "
        "then call FANUC service |\n")
    (row,) = [s for s in plan.steps if s.kind == StepKind.DECIDE and "SRVO-062" in s.title]
    assert all(e.condition.expr is None for e in plan.edges
               if e.source == row.id and e.condition is not None)
    # said of the output, it still is one
    plan = compile_text("## Check\n\n```bash\nls /var/spool/jobs\n```\n\nIf the output is "
                        "empty, stop here: no action needed.\n\n## Fix\n\n```bash\nrm -rf "
                        "/var/spool/jobs/*\n```\n")
    assert any(e.condition is not None and e.condition.expr is not None and '== ""' in
               e.condition.expr for e in plan.edges)


# -- cases of one thing's values -----------------------------------------------------------------

def test_cases_giving_one_thing_different_values_take_one_of_them():
    # "**If** the state is `Held`:" over its steps, "**If** the state is `Aborted`:" over its
    # own, "Otherwise, hand over to the packaging line lead.": the Aborted question was asked
    # after the Held recovery, and its "Otherwise" ended that recovery escalated
    plan = compile_text(
        "## Check\n\n```bash\nuaread -u opc.tcp://f12:4840 -n \"ns=3;s=State\"\n```\n\n"
        "**If** the state is `Held`:\n\n1. Refill the cap hopper.\n2. Press UNHOLD on the HMI."
        "\n\n**If** the state is `Aborted`:\n\n1. Remove the broken glass.\n2. Press RESET on "
        "the HMI.\n\n**If** the state is `Stopped`:\n\n1. Press START on the HMI.\n\n"
        "Otherwise, hand over to the packaging line lead.\n")
    (unhold,) = [s for s in plan.steps if s.title.startswith("Press UNHOLD")]
    after = reachable(plan, unhold.id)
    assert not any(plan.step(s).kind == StepKind.DECIDE for s in after)
    (reset,) = [s for s in plan.steps if s.title.startswith("Press RESET")]
    assert reset.id in reachable(plan, _taken(plan, "`Aborted`"))
    assert not any(end_outcomes(plan).get(s) == "escalate" for s in after)
    # cases of different things are each asked
    plan = compile_text("## Check\n\nIf the state is `Held`:\n\n1. Press UNHOLD.\n\n"
                        "If the alarm is `LowCaps`:\n\n1. Refill the cap hopper.\n")
    (unhold,) = [s for s in plan.steps if s.title.startswith("Press UNHOLD")]
    assert any(plan.step(s).kind == StepKind.DECIDE for s in reachable(plan, unhold.id))


# -- a check put as a question, then its answers -----------------------------------------------

def test_answers_after_a_check_whether_answer_that_check():
    # "- check whether a new block was downloaded today" over "- if yes, roll back ..." and "-
    # if no, escalate to controls engineering": the answers were questions "if yes" and "if no"
    # of nothing
    plan = compile_text(
        "## Diagnostic buffer\n\n- **Event 16#02:4562 (cycle time exceeded)**\n"
        "  - check whether a new block was downloaded today\n"
        "  - if yes, roll back to the last released project version and download it\n"
        "  - if no, escalate to controls engineering\n"
        "- **Event 16#39:0001 (station failure)**\n  - check the PROFINET cable\n")
    (asked,) = [s for s in plan.steps if s.kind == StepKind.DECIDE and "block" in s.title]
    assert asked.title.startswith("Whether a new block was downloaded today")
    roll = plan.step(_taken(plan, "Whether a new block"))
    assert roll.kind == StepKind.MANUAL and roll.title.startswith("roll back")
    (other,) = [e.target for e in plan.edges if e.source == asked.id and e.condition is not None
                and e.condition.text.startswith("Otherwise")]
    assert end_outcomes(plan).get(other) == "escalate"
    assert not any(s.kind == StepKind.DECIDE and s.title.lower() in ("if yes", "if no")
                   for s in plan.steps)
