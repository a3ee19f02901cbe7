"""Findings (engine.findings) never contradict the run's own healthy ending: a check asked
only past a decision whose passing branch ended the run is out of its context."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine import scheduler as sched
from engine.compile import compile_path
from engine.findings import findings

GUIDE = Path(__file__).resolve().parents[2] / "guides" / "sre" / "scratch-dir-cleanup.md"


def _run(within_budget: bool) -> list[str]:
    plan = compile_path(GUIDE)
    index = sched.PlanIndex.build(plan)
    done = sched.StepState(sched.StepStatus.SUCCEEDED, 1)
    taken = {i: (e.kind == "branch") == within_budget for i, e in enumerate(plan.edges)
             if e.source == "if-directory-within-budget"}
    state = sched.RunState(steps={**dict(index.initial.steps), "start": done, "size": done,
                                  "old": done, "if-directory-within-budget": done},
                           edges={**dict(index.initial.edges), **taken})
    size = "1" if within_budget else "900"
    view: dict[str, Any] = {
        "inputs": {i.name: i.default for i in plan.inputs}, "alert": {}, "run": {}, "vars": {},
        "steps": {"size": {"exit_code": 0, "stdout": f"{size}\t/scratch\n"},
                  "old": {"exit_code": 0, "stdout": "", "lines": [], "line_count": 0}}}
    return [f.decision for f in findings(plan, state, view)]


def test_a_run_that_ended_no_action_reports_no_problem_from_past_that_ending() -> None:
    # Before: "found 1 problem: If there are no old files to delete -> Escalate: the
    # directory is full of recent files" in a run that ended no_action (within its budget).
    assert _run(within_budget=True) == []


def test_past_a_failed_check_the_same_condition_is_a_finding() -> None:
    assert _run(within_budget=False) == ["if-no-old-files-delete"]
