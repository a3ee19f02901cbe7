""""If this fails, ..." after a step is that step's failure edge: the step itself runs
unconditionally, its failure goes where the sentence says, and the steps beside it (reads fan
out) go on as before."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.plan import Plan, StepKind
from tests.support.compiling import compile_text, guards_of, step_running
from tests.support.running import run_locally

GUIDE = """# Disk full on the database host

## Diagnosis

1. Check the disk: `df -h`
2. Check the kernel log: `dmesg -T`
3. Check that archiving works: `psql -c "SELECT * FROM pg_stat_archiver"`

   {sentence}

4. Check the slots: `psql -c "SELECT slot_name FROM pg_replication_slots"`
5. Ask the DBA on call to look at the archiver.
"""
ARCHIVER = ["psql", "-c", "SELECT * FROM pg_stat_archiver"]
SLOTS = ["psql", "-c", "SELECT slot_name FROM pg_replication_slots"]


def _edges(plan: Plan, source: str) -> list[tuple[str, str]]:
    return [(e.target, e.on) for e in plan.edges if e.source == source]


def test_if_this_fails_jump_is_the_steps_failure_edge_and_does_not_guard_it():
    for sentence in ("If this fails, skip to step 5.", "If the query fails, go to step 5."):
        plan = compile_text(GUIDE.format(sentence=sentence))
        archiver = step_running(plan, ARCHIVER)
        assert guards_of(plan, archiver) == [], sentence  # it runs whatever happens
        assert not [s for s in plan.steps if s.kind == StepKind.DECIDE
                    and s.id != "start"], sentence
        ask = next(s.id for s in plan.steps if s.title.startswith("Ask the DBA"))
        slots = step_running(plan, SLOTS)
        assert (ask, "failure") in _edges(plan, archiver), sentence
        assert (slots, "success") in _edges(plan, archiver), sentence
        # the checks beside it still lead on to step 4
        disk = step_running(plan, ["df", "-h"])
        assert (slots, "success") in _edges(plan, disk), sentence


def test_if_the_command_fails_escalate_after_reads_that_fan_out():
    plan = compile_text(
        "# T\n\n## Diagnosis\n\n1. Check the free space:\n\n   ```\n   df -h /var/lib/pg\n"
        "   ```\n\n2. List the biggest WAL files:\n\n   ```\n   ls -lS /var/lib/pg/wal\n"
        "   ```\n\n   If this command fails, the data directory is elsewhere: escalate to "
        "the DBA on call.\n\n3. Check the slots: `psql -c \"SELECT 1\"`\n")
    listing = step_running(plan, ["ls", "-lS", "/var/lib/pg/wal"])
    (escalate,) = [t for t, on in _edges(plan, listing) if on == "failure"]
    assert plan.step(escalate).kind == StepKind.END and plan.step(escalate).outcome == \
        "escalate"
    # no question about whether the command failed is asked after it succeeded
    assert not any("fails" in s.title for s in plan.steps if s.kind == StepKind.DECIDE)


def test_a_capitalised_if_in_the_items_next_paragraph_does_not_guard_its_command():
    plan = compile_text(GUIDE.format(sentence="If the archiver shows failures, escalate."))
    archiver = step_running(plan, ARCHIVER)
    assert guards_of(plan, archiver) == []


def test_a_compiled_failure_path_runs_when_the_command_fails(tmp_path: Path) -> None:
    """The failure edge needs no answer: a run whose command fails takes it (it stopped with
    "no value for the condition" before, the guide's escalation never reached)."""
    from engine.compile import compile_guide
    from engine.guide import parse_guide

    missing = tmp_path / "no-such-spool"
    guide = (f"# T\n\n## Diagnosis\n\n1. List the spool:\n\n   ```\n   ls {missing}\n   ```\n\n"
             "   If this command fails, escalate to the storage team.\n\n"
             "2. Check the clock: `date -u`\n")
    plan = compile_guide(parse_guide(guide, path="g.md"))
    assert all(e.condition is None for e in plan.edges if e.on == "failure")

    record = run_locally(plan, tmp_path)
    assert (record.status, record.outcome) == ("succeeded", "escalate"), record.reason


RESTART = """# Web pods down

{heading1}

1. Check the pods: `kubectl get pods -n web`
2. Restart the deployment:

   ```bash
   kubectl rollout restart deploy/web -n web
   ```

3. {sentence}
4. Otherwise, wait for the rollout: `kubectl rollout status deploy/web -n web`.
"""
ROLLOUT = ["kubectl", "rollout", "restart", "deploy/web", "-n", "web"]


@pytest.mark.parametrize("sentence", [
    "If step 2 fails, escalate to the platform team.",
    "If step 2 failed, escalate to the platform team.",
    "If Step 2 returns an error, escalate to the platform team.",
    "If step #2 exits non-zero, escalate to the platform team.",
])
def test_if_step_n_fails_right_after_step_n_is_its_failure_edge(sentence: str) -> None:
    """Before, "If step 2 fails" was a person's question asked after step 2 had succeeded
    (the only way to reach it), and its escalation was never taken by a failure."""
    plan = compile_text(RESTART.format(heading1="## Mitigation", sentence=sentence))
    restart = step_running(plan, ROLLOUT)
    failure = [t for t, on in _edges(plan, restart) if on == "failure"
               and plan.step(t).title != "Escalate to a person"]
    assert [plan.step(t).outcome for t in failure] == ["escalate"], sentence
    assert not [s for s in plan.steps if s.kind == StepKind.DECIDE and s.id != "start"]
    status = step_running(plan, ["kubectl", "rollout", "status", "deploy/web", "-n", "web"])
    assert (status, "success") in _edges(plan, restart)


def test_if_step_n_fails_about_an_earlier_step_stays_a_question() -> None:
    # step 1 ran before step 2; reaching item 3 means it did not stop the run: a person says
    plan = compile_text(RESTART.format(heading1="## Mitigation",
                                       sentence="If step 1 fails, escalate to the team."))
    assert [s.title for s in plan.steps if s.kind == StepKind.DECIDE and s.id != "start"] == \
        ["If step 1 fails"]


def test_if_step_n_fails_names_a_step_heading_in_a_tsg() -> None:
    plan = compile_text(
        "# TSG\n\n## Step 1 - Check the pods\n\n`kubectl get pods -n web`\n\n"
        "## Step 2 - Restart\n\n```bash\nkubectl rollout restart deploy/web -n web\n```\n\n"
        "If Step 2 fails, escalate to the platform team.\n")
    restart = step_running(plan, ROLLOUT)
    failure = [t for t, on in _edges(plan, restart) if on == "failure"
               and plan.step(t).title != "Escalate to a person"]
    assert [plan.step(t).outcome for t in failure] == ["escalate"]
