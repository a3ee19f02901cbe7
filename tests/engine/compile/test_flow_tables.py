"""A procedure written as a flowchart table ("Step | Action | If OK | If not OK", "Yes | No",
"Pass | Fail"): each row is a step, then its outcome, judged by a person or the model; each
outcome cell goes to a step of the table, ends the run, or is a person's step; an empty or
"Continue" cell goes on. It was one person's step holding the whole table, and the run ended
resolved whatever the cells said."""

from __future__ import annotations

from engine.plan import Plan, StepKind
from tests.support.compiling import compile_text, gated

FLOW = """# Payment API errors

## Procedure

| Step | Action | If OK | If not OK |
|---|---|---|---|
| 1 | Check the pods: `kubectl get pods -n pay` | Go to step 2 | Go to step 3 |
| 2 | Check the database: `pg_isready -h db.pay` | Escalate to payments | Escalate to the DBAs |
| 3 | Restart it: `kubectl rollout restart deploy/api -n pay` | Resolved | Escalate to SRE |
"""


def _step(plan: Plan, argv0: str, word: str):
    return next(s for s in plan.steps if s.kind == StepKind.COMMAND and
                s.params["pipeline"][0][0] == argv0 and word in s.params["pipeline"][0])


def _out(plan: Plan, source: str) -> dict[str, str]:
    return {e.kind: e.target for e in plan.edges if e.source == source}


def test_each_row_runs_and_its_outcome_decides_where_the_run_goes() -> None:
    plan = compile_text(FLOW)
    pods, db = _step(plan, "kubectl", "pods"), _step(plan, "pg_isready", "-h")
    restart = _step(plan, "kubectl", "restart")
    assert not gated(plan, pods.id) and not gated(plan, db.id) and gated(plan, restart.id)
    first = next(s for s in plan.steps if s.kind == StepKind.DECIDE and s.text.startswith(
        "Step 1 is OK"))
    jumps = [e for e in plan.edges if e.source == first.id]
    # "Go to step 2" / "Go to step 3": the rows' steps, a change behind its approval
    assert {e.target for e in jumps} == {db.id, f"approve-{restart.id}"}
    ends = {s.id: s.outcome.value for s in plan.steps if s.kind == StepKind.END}
    second = next(s for s in plan.steps if s.kind == StepKind.DECIDE and s.text.startswith(
        "Step 2 is OK"))
    assert {ends[t] for t in _out(plan, second.id).values()} == {"escalate"}
    third = next(s for s in plan.steps if s.kind == StepKind.DECIDE and s.text.startswith(
        "Step 3 is OK"))
    assert sorted(ends[t] for t in _out(plan, third.id).values()) == ["escalate", "resolved"]


def test_a_continue_cell_goes_on_to_the_next_row() -> None:
    plan = compile_text(FLOW.replace("| Go to step 2 | Go to step 3 |", "| Continue | Go to step "
                                     "3 |"))
    first = next(s for s in plan.steps if s.kind == StepKind.DECIDE and s.text.startswith(
        "Step 1 is not OK"))
    restart = _step(plan, "kubectl", "restart")
    assert _out(plan, first.id)["jump"] == f"approve-{restart.id}"


def test_a_row_that_asks_is_its_own_question() -> None:
    plan = compile_text("# Cell stopped\n\n## Recovery\n\n| # | Check | Yes | No |\n|---|---|---|"
                        "---|\n| 1 | Is the safety gate closed? | Continue | Escalate to controls "
                        "|\n| 2 | Reset: `curl -X POST http://cell-1:8080/reset` | Resolved | "
                        "Escalate to controls |\n")
    asked = {s.text for s in plan.steps if s.kind == StepKind.DECIDE}
    assert "The answer is no: Is the safety gate closed?" in asked
