"""How a TSG says where a path ends and where a case goes, in words the earlier rules missed:
a paragraph that only says how the run stands ("The issue is mitigated."), a case whose
instruction points at its step in brackets ("roll it back (Step 7)"), and a jump into a
"Roll back" section that only cases lead to."""

from __future__ import annotations

from engine.compile import phrases
from engine.plan import Plan, StepKind
from tests.support.compiling import compile_text, step_running

TSG = """# TSG: Ingestion latency high in region {region}

## Step 1 - Check the queue backlog

```bash
rabbitmqctl list_queues name messages
```

If any queue holds more than a million messages, go to Step 3.

## Step 2 - Check recent deployments

```bash
kubectl -n ingest rollout history deployment/consumer
```

If a revision rolled out in the window, roll it back (Step 4).

## Step 3 - Drain the backlog

```bash
kubectl -n ingest scale deployment/consumer --replicas=20
```

The issue is mitigated.

## Step 4 - Roll back

```bash
kubectl -n ingest rollout undo deployment/consumer
```

This is a potential resolution. Watch the latency for 30 minutes.
"""


def successors(plan: Plan, sid: str) -> list[str]:
    """The steps a step's success leads to, through approval gates."""
    out: list[str] = []
    for e in plan.edges:
        if e.source == sid and e.on == "success":
            step = plan.step(e.target)
            out.extend(successors(plan, step.id) if step.kind == StepKind.APPROVE
                       else [step.id])
    return out


def test_a_step_in_brackets_after_a_cases_instruction_is_where_the_case_goes() -> None:
    plan = compile_text(TSG)
    case = next(s for s in plan.steps if s.title.startswith("If a revision rolled out"))
    undo = step_running(plan, ["kubectl", "-n", "ingest", "rollout", "undo",
                               "deployment/consumer"])
    # before: a person's step "then roll it back (Step 4)", and on into the drain
    assert [e.kind for e in plan.edges if e.source == case.id and e.kind == "jump"] == ["jump"]
    assert undo in successors(plan, case.id)
    assert not any("roll it back" in (s.title or "").lower() for s in plan.steps
                   if s.kind == StepKind.MANUAL)


def test_a_jump_into_a_roll_back_section_runs_it_without_asking_again() -> None:
    plan = compile_text(TSG)
    # the case decided: no second question "Step 4 - Roll back?", whose "no" ended resolved
    assert not [s for s in plan.steps if s.kind == StepKind.DECIDE and "Roll back" in s.title]


def test_the_issue_is_mitigated_ends_the_path_before_a_section_only_jumps_reach() -> None:
    plan = compile_text(TSG)
    drain = step_running(plan, ["kubectl", "-n", "ingest", "scale", "deployment/consumer",
                                "--replicas=20"])
    (after,) = successors(plan, drain)
    assert plan.step(after).outcome == "mitigated"  # not on into the roll-back


def test_a_potential_resolution_ends_handed_over_after_the_words_that_follow_it() -> None:
    plan = compile_text(TSG)
    undo = step_running(plan, ["kubectl", "-n", "ingest", "rollout", "undo",
                               "deployment/consumer"])
    (watch,) = successors(plan, undo)
    assert plan.step(watch).kind == StepKind.MANUAL
    assert "Watch the latency" in plan.step(watch).title
    (end,) = successors(plan, watch)
    assert plan.step(end).outcome == "escalate"


SEQUENTIAL = """# Restart the app

## Restart

```bash
systemctl restart app
```

The issue is mitigated.

## Verify

```bash
systemctl status app
```
"""


def test_a_said_ending_that_would_strand_the_next_section_is_a_readers_note() -> None:
    plan = compile_text(SEQUENTIAL)
    restart = step_running(plan, ["systemctl", "restart", "app"])
    status = step_running(plan, ["systemctl", "status", "app"])
    assert successors(plan, restart) == [status]  # nothing else leads to Verify


def test_only_a_sentence_that_is_nothing_but_the_outcome_says_it() -> None:
    assert phrases.said_ending("The issue is mitigated.") == "mitigated"
    assert phrases.said_ending("This is the root cause: the pool is full.") == "escalate"
    assert phrases.said_ending("No further action is needed.") == "no_action"
    assert phrases.said_ending(
        "This annotation should be removed as soon as the issue is resolved.") is None
    assert phrases.said_ending("Email alerts have nothing to do with Alertmanager.") is None
