"""On-call guides in styles the earlier sweeps did not try: a Backstage TechDocs runbook with
HTML comments and admonitions, a GitHub issue template's incident checklist, a decision table
whose Yes/No columns name the next row, an operator's Conditions table, a database failover SOP
with "Primary:"/"Replica:" labelled blocks, a bare-metal BMC guide as a "first 5 minutes"
timeline (tests/fixtures/styles21 holds the guides tried). Each test is one rule a guide author
would recognise."""

from __future__ import annotations

from pathlib import Path

from engine.plan import StepKind
from tests.support.compiling import (
    assert_gated_and_accounted,
    compile_text,
    gated,
    guards_of,
    running,
)

STYLES21 = Path(__file__).resolve().parents[2] / "fixtures" / "styles21"


def test_each_styles21_guide_compiles_gated_and_accounted_for():
    assert_gated_and_accounted(folder=STYLES21, at_least=5)


# -- an item's own command, after a timeline label or a case that names a value -------------------

def test_a_titled_items_command_survives_a_time_label_and_a_cased_value():
    # "- **T+1** — Check chassis power state: `ipmitool ... chassis status`": the time label
    # hid the item's title, and a tool no table knows was a person's step (or nothing at all);
    # "- **T+4** — If the power state is `off`, power it on: `ipmitool ... chassis power on`":
    # the value in code hid the title, and the power-on was "prose: nothing to run or decide"
    plan = compile_text(
        "## First 5 minutes\n\n"
        "- **T+1** \u2014 Check chassis power state: `ipmitool -H web-17-bmc chassis status`\n"
        "- **T+4** \u2014 If the power state is `off`, power it on: "
        "`ipmitool -H web-17-bmc chassis power on`\n"
        "- If the fan state is `failed`, reset the BMC: `ipmitool -H web-17-bmc mc reset cold`\n")
    status = running(plan, "chassis", "status")
    power_on = running(plan, "chassis", "power", "on")
    reset = running(plan, "mc", "reset", "cold")
    assert guards_of(plan, status.id) == []
    assert guards_of(plan, power_on.id) == ["If the power state is `off`"]
    assert guards_of(plan, reset.id) == ["If the fan state is `failed`"]
    assert gated(plan, power_on.id) and gated(plan, reset.id)
    # a label of something shown stays no step of its own
    plan = compile_text("## Check\n\n- **T+2** \u2014 Example: `ipmitool -H bmc sel list`\n")
    assert not any(s.kind == StepKind.COMMAND for s in plan.steps)
