"""No shipped guide ends healthy when one of its checks failed.

Each shipped guide is compiled, and for each evidence step (a read-only command, query or
detector) the pure scheduler is driven with that step failing and every other step
succeeding, once with every condition true and once with every condition false (so the
run's "Otherwise: no action" paths are taken). A run may end resolved, mitigated or no_action
only on evidence that succeeded: a check the guide says may fail (`on_error: continue`) is the
one exception, because the guide's author said so.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import scheduler as sched
from engine.compile import compile_path
from engine.plan import OnError, Plan, StepKind

ROOT = Path(__file__).resolve().parents[2]
GUIDES = sorted(p for p in (ROOT / "guides").rglob("*.md") if p.name != "README.md")
HEALTHY = {"resolved", "mitigated", "no_action"}


def _branches(plan: Plan, index: sched.PlanIndex, sid: str, value: bool) -> dict[int, bool]:
    out: dict[int, bool] = {}
    edges = [(i, e) for i, e in index.outgoing[sid] if e.condition is not None]
    for i, e in edges:
        if e.kind != "else":
            out[i] = value
    for i, e in edges:
        if e.kind == "else":
            out[i] = not any(out.get(j) for j, f in edges if f.kind != "else")
    return out


def drive(plan: Plan, failing: str, value: bool) -> sched.RunState:
    index = sched.plan_index(plan)
    state, actions = sched.apply(plan, sched.initial_state(plan), sched.Start())
    queue = list(actions)
    while queue and not state.finished:
        action = queue.pop(0)
        if not isinstance(action, sched.StartStep):
            continue
        sid, attempt = action.step, action.attempt
        step = index.steps[sid]
        branches = _branches(plan, index, sid, value)
        if sid == failing:
            event: sched.Event = sched.StepFailed(step=sid, attempt=attempt, error="forced",
                                                  retryable=False, branches=branches)
        elif step.kind in (StepKind.APPROVE, StepKind.MANUAL):
            event = sched.Approval(step=sid, attempt=attempt, granted=True, by="test",
                                   branches=branches)
        else:
            event = sched.StepSucceeded(step=sid, attempt=attempt, branches=branches)
        state, more = sched.apply(plan, state, event)
        queue += more
    return state


def _evidence(plan: Plan) -> list[str]:
    return [s.id for s in plan.steps
            if s.kind in (StepKind.COMMAND, StepKind.QUERY, StepKind.DETECT)
            and not s.mutating and s.on_error != OnError.CONTINUE
            and s.id not in plan.cleanup]


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.stem)
def test_a_failed_check_never_ends_a_shipped_guide_healthy(guide: Path) -> None:
    plan = compile_path(guide)
    healthy: list[str] = []
    for sid in _evidence(plan):
        for value in (True, False):
            state = drive(plan, sid, value)
            if state.steps[sid].status != sched.StepStatus.FAILED:
                continue  # the path these conditions take never runs this step
            if state.outcome in HEALTHY:
                healthy.append(f"{sid} failed, conditions {value}: {state.outcome} "
                               f"({state.reason})")
    assert not healthy, "\n".join(healthy)


def test_the_forcing_itself_reaches_a_healthy_end_when_nothing_fails() -> None:
    assert sum(1 for g in GUIDES for _ in _evidence(compile_path(g))) > 10
    # The check above can fail: with no step failing, the host triage ends healthy
    plan = compile_path(ROOT / "guides" / "sre" / "linux-host-triage.md")
    assert drive(plan, failing="", value=False).outcome == "no_action"
