"""Runbook styles the earlier sweeps did not try: an Azure TSG with "If yes → Step 4" steps,
an SRE playbook by Triage / Mitigate / Resolve, a Command | Expected table, a procedure whose
items say where to run a command ('Run “x” on pg-02'), lettered and Roman sub-steps, a PLC
integrator's Fault / Cause / Remedy paragraphs (tests/fixtures/styles18 holds the guides
tried). Each test is one rule a guide author would recognise."""

from __future__ import annotations

from pathlib import Path

from engine.plan import StepKind
from tests.support.compiling import (
    assert_gated_and_accounted,
    compile_text,
    gated,
    guards_of,
    running,
    runs,
    successors,
)

STYLES18 = Path(__file__).resolve().parents[2] / "fixtures" / "styles18"


def test_each_styles18_guide_compiles_gated_and_accounted_for():
    assert_gated_and_accounted(folder=STYLES18, at_least=6)


# -- where a command is typed, said after it ------------------------------------------------------

def test_a_command_holding_a_star_then_on_the_primary_is_not_run_here():
    # "Run `psql -c 'select * from pg_stat_replication'` on the primary.": the star read as
    # emphasis and was dropped, the command no longer found before "on the primary", and it
    # ran on the machine running the plan
    for item in ("Run `psql -c 'select * from pg_stat_replication'` on the primary.",
                 "Run \u201cpsql -c 'select * from pg_stat_replication'\u201d on the primary.",
                 "Run `rm -f /var/log/app/*.gz` on the replica."):
        plan = compile_text(f"## Procedure\n\n1. Check the state.\n   {item}\n")
        assert runs(plan) == [], item
        assert [s.kind for s in plan.steps if s.kind != StepKind.END] == [StepKind.MANUAL]
    plan = compile_text("## Check\n\nRun `psql -c 'select * from t'` on your workstation.\n")
    assert len(runs(plan)) == 1


def test_a_command_then_on_a_host_by_its_name_is_not_run_here():
    # "Run “sudo -u postgres pg_basebackup -h pg-01 ...” on pg-02.": the base backup over the
    # replica's data directory ran (gated) on the machine running the plan
    for place in ("pg-02", "`pg-02`", "kafka-3.prod.internal", "db-12a"):
        plan = compile_text("## Rebuild\n\nRun `sudo -u postgres pg_basebackup -h pg-01 -D "
                            f"/var/lib/postgresql/16/main -R -P` on {place}.\n")
        assert runs(plan) == [], place
    # a platform is no machine
    for place in ("k8s", "python3", "ubuntu-22.04", "port 5432"):
        plan = compile_text(f"## Check\n\nRun `curl -sf http://localhost:8080/health` on "
                            f"{place}.\n")
        assert len(runs(plan)) == 1, place


# -- a "Command | Expected" table -----------------------------------------------------------------

FIX_TABLE = """## Fix

| Command | Expected |
|---------|----------|
| `ssh nfs-01 sudo exportfs -ra` | no output |
| `ssh nfs-01 sudo systemctl restart nfs-server` | exits 0 |
| `ssh nfs-01 systemctl is-active nfs-server` | `active` |
"""


def test_a_command_expected_table_is_a_procedure_in_its_rows_order():
    # "Command | Expected" with no step numbers: read as a table of checks, its commands that
    # change anything were only shown (one person's step), and the fix never ran
    plan = compile_text(FIX_TABLE)
    export = running(plan, "exportfs -ra")
    restart = running(plan, "systemctl restart")
    check = running(plan, "is-active")
    assert gated(plan, export.id) and gated(plan, restart.id) and not gated(plan, check.id)
    assert successors(plan, export.id) == [restart.id]
    assert successors(plan, restart.id) == [check.id]
    assert not any(s.kind == StepKind.MANUAL for s in plan.steps)
    # what a check should print is its expectation
    assert any("active" in g for s in successors(plan, check.id) for g in guards_of(plan, s)
               ) or any(plan.step(s).kind == StepKind.DECIDE for s in successors(plan, check.id))
    # a table with more in its first column than one command stays a table of checks
    plan = compile_text("## Fix\n\n| Command | Expected |\n|---|---|\n| restart with "
                        "`sudo systemctl restart nfs-server` | exits 0 |\n")
    assert runs(plan) == []


# -- a controls integrator's Fault / Cause / Remedy -----------------------------------------------

FAULTS = """# Cell 4 palletizer

**Fault:** F101 Gripper vacuum low
**Cause:** Suction cup worn.
**Remedy:** Reset the fault with `curl -s -X PUT http://cell4-gw:8080/tags/DB10.FaultReset -d 1`.

**Fault:** F205 Conveyor jam
**Cause:** Box skewed at the infeed.
**Remedy:** Restart the conveyor with `curl -s -X PUT http://cell4-gw:8080/tags/DB20.Start -d 1`.
"""


def test_a_fault_cause_remedy_entry_is_a_case():
    # "**Fault:** F101 ... **Cause:** ... **Remedy:** ..." (as "Symptom: / Cause: / Action:"
    # is): the entries were paragraphs in turn, and the run reset F101 and restarted the
    # conveyor whatever fault the cell showed
    for label in ("Fault", "Alarm", "Error"):
        plan = compile_text(FAULTS.replace("**Fault:**", f"**{label}:**"))
        reset = running(plan, "FaultReset")
        start = running(plan, "DB20.Start")
        assert guards_of(plan, reset.id) == ["F101 Gripper vacuum low"], label
        assert guards_of(plan, start.id) == ["F205 Conveyor jam"], label
        assert gated(plan, reset.id) and gated(plan, start.id)
    # "Error: ..." with no cause nor remedy after it is a sentence, no case
    plan = compile_text("## Check\n\nError: the gateway refuses writes when the cell is in "
                        "auto. Check it: `curl -s http://cell4-gw:8080/mode`\n")
    assert guards_of(plan, running(plan, "/mode").id) == []


# -- both answers in one sentence -----------------------------------------------------------------

ARROWS = """## Step 1: Check

```bash
kubectl get pods -n web
```

Are all pods running? {answers}

## Step 2: Restart

```bash
kubectl -n web rollout restart deploy/web
```

## Step 3: Verify

```bash
kubectl -n web get deploy/web
```
"""


def test_two_answers_in_one_sentence_are_two_guards():
    # "If no → Step 2, if yes → Step 3." (an Azure TSG's answers): the second answer was part
    # of the first's words, its jump lost, and a "yes" went on into the restart of Step 2
    for answers in ("If no \u2192 Step 2, if yes \u2192 Step 3.",
                    "If no, go to Step 2; if yes, go to Step 3.",
                    "If no -> Step 2, and if yes -> Step 3."):
        plan = compile_text(ARROWS.format(answers=answers))
        restart = running(plan, "rollout restart")
        verify = running(plan, "get deploy/web")
        jumps = {e.target: (e.condition.text if e.condition else "") for e in plan.edges
                 if e.kind == "jump"}
        # (each answer's condition is the question it answers: yes is the question, no its
        # other side, tests/engine/compile/test_answers.py)
        assert jumps.get(verify.id) == "Are all pods running?", answers
        assert "no" in jumps.get(running(plan, "rollout restart").id, "") or any(
            "no" in g for g in guards_of(plan, restart.id)), answers
        into_restart = [t for s, t in plan.incoming(restart.id)]
        assert gated(plan, restart.id)
        assert not any("yes" in g.lower() for g in guards_of(plan, restart.id)), answers
        assert into_restart
