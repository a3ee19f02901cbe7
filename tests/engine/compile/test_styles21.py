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
    reachable,
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


# -- how the guide says to record the run's end ---------------------------------------------------

def _ending_of(plan, guard_words):
    """The outcome the case `guard_words` of a decide leads straight to (None: no ending)."""
    (guard,) = [s for s in plan.steps if s.kind == StepKind.DECIDE and guard_words in s.title]
    (taken,) = [e.target for e in plan.edges if e.source == guard.id and e.condition is not None
                and not e.condition.text.startswith("Otherwise (not")]
    return plan.step(taken).outcome if plan.step(taken).kind == StepKind.END else None


def test_closing_or_marking_the_incident_as_an_outcome_ends_the_run_so():
    # "If the output is empty, the alert has cleared on its own. Close the incident as no
    # action.": a person's step "Record the finding ...", then the run went on to restart the
    # broker; "..., close the incident as no action." ended it "resolved"
    fix = "## Fix\n\n```bash\nssh kafka-2 sudo systemctl restart kafka\n```\n"
    for said, outcome in (
            ("If the output is empty, the alert has cleared on its own. Close the incident as "
             "no action.", "no_action"),
            ("If the output is empty, close the incident as no action.", "no_action"),
            ("If the output is empty, the alert has cleared. Close the incident.", "resolved"),
            # "Otherwise the failover is done; mark the change as mitigated and open a ticket
            # to rebuild the old primary as a replica.": escalated (the follow-up's ticket)
            ("If the output is empty, the failover is done; mark the change as mitigated and "
             "open a ticket to rebuild the old primary as a replica.", "mitigated"),
            ("If the output is empty, mark it as mitigated.", "mitigated")):
        plan = compile_text("## Check\n\n```bash\nkafka-topics.sh --bootstrap-server k:9092 "
                            f"--describe --under-replicated-partitions\n```\n\n{said}\n\n{fix}")
        assert _ending_of(plan, "If the output is empty") == outcome, said
    # a ticket for the work that is left, alone, still hands the run over
    plan = compile_text("## Check\n\n```bash\ndf -h /var\n```\n\nIf less than 10% is free, "
                        "open a ticket to grow the volume.\n\n" + fix)
    assert _ending_of(plan, "If less than 10% is free") == "escalate"


# -- a decision table whose Yes/No cells name the next row ----------------------------------------

def test_a_decision_tables_yes_no_cells_go_to_the_row_they_name():
    # "| Q1 | Does the load balancer answer? | `curl -sI ...` | Q3 | Q2 |": "Q3" and "Q2" were
    # persons' steps, and the run went through every row in order: the app was restarted
    # (row Q6) after the LB VM was started (row Q5), whatever the answers; "Resolved — it was
    # transient" was a person's step, not the end
    plan = compile_text(
        "# Website down\n\n| # | Question | How to check | Yes | No |\n|---|---|---|---|---|\n"
        "| Q1 | Does the load balancer answer? | `curl -sI https://www.example.com` | Q3 | Q2 |\n"
        "| Q2 | Is the LB VM running? | `gcloud compute instances describe lb-1` "
        "| Escalate to network team | Q4 |\n"
        "| Q3 | Does the backend health check pass? | `curl -s http://web-1:8080/healthz` "
        "| Resolved \u2014 it was transient | Q5 |\n"
        "| Q4 | Start the LB VM | `gcloud compute instances start lb-1` | Go to Q1 | Escalate |\n"
        "| Q5 | Restart the app | `ssh web-1 sudo systemctl restart webapp` | Q3 "
        "| Escalate to app team |\n")
    lb = running(plan, "curl", "-sI")
    start = running(plan, "instances", "start")
    health = running(plan, "healthz")
    restart = running(plan, "systemctl", "restart")
    assert not any(s.kind == StepKind.MANUAL and s.title in ("Q2", "Q3", "Q5")
                   for s in plan.steps)
    (q1,) = [s for s in plan.steps if s.kind == StepKind.DECIDE
             and s.title == "Does the load balancer answer?"]
    yes = [e.target for e in plan.edges if e.source == q1.id and e.condition is not None
           and not e.condition.text.startswith("Otherwise")]
    assert yes == [health.id]
    assert start.id not in reachable(plan, health.id)
    assert restart.id not in reachable(plan, start.id) and lb.id not in reachable(plan, health.id)
    assert guards_of(plan, restart.id) and gated(plan, restart.id)
    assert _ending_of(plan, "Does the backend health check pass?") == "resolved"
