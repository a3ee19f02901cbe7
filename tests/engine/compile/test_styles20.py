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
    reachable,
)

STYLES20 = Path(__file__).resolve().parents[2] / "fixtures" / "styles20"


def test_each_styles20_guide_compiles_gated_and_accounted_for():
    assert_gated_and_accounted(folder=STYLES20, at_least=7)


def _ends(plan):
    return {s.id: s.outcome for s in plan.steps if s.kind == StepKind.END}


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
        assert any(_ends(plan)[s] == "escalate" for s in reachable(plan, taken[0])
                   if s in _ends(plan)), said
    # the same in an alarm table's action cell
    plan = compile_text("## Alarm\n\n| Alarm | What to do |\n|---|---|\n| 4315 | Go to step 2 |\n"
                        "| 4107 | Stop. Call Yaskawa service; do not jog the robot. |\n\n"
                        "## 2. Clear a collision\n\n1. Press SERVO ON and jog the robot away.\n")
    (row,) = [s for s in plan.steps if s.kind == StepKind.DECIDE and "4107" in s.title]
    (jog,) = [s for s in plan.steps if s.title.startswith("Press SERVO ON")]
    (taken,) = [e.target for e in plan.edges if e.source == row.id and e.condition is not None
                and not e.condition.text.startswith("Otherwise")]
    assert jog.id not in reachable(plan, taken) and _ends(plan).get(taken) == "escalate"
    # calling an API service is no hand-over
    plan = compile_text("## Check\n\n1. If the cache is cold, call the payment service "
                        "warm-up endpoint.\n2. Check the latency.\n")
    assert not any(s.kind == StepKind.END and "payment" in s.title for s in plan.steps)

