"""A procedure whose last numbered step hands the incident over ("3. Escalate to the messaging
team.") ends there: the run asks whether the issue is resolved, and otherwise ends `escalate`
with the step's words, as the same sentence written as a paragraph does. Before, the step was
a person's step that the run went past to end `resolved`: healthy, after the guide said to
hand over."""

from __future__ import annotations

import networkx as nx
import pytest

from engine.plan import Plan, StepKind
from tests.support.compiling import compile_text, step_running

GUIDE = """# Queue backlog

## Diagnosis

1. Check the queue depth: `rabbitmqctl list_queues name messages`

## Mitigation

1. Restart the consumer: `systemctl restart consumer`
2. Check the queue depth again: `rabbitmqctl list_queues name messages --online`
{last}
"""


def _graph(plan: Plan) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_edges_from((e.source, e.target) for e in plan.edges)
    return g


def _ends_after(plan: Plan, step_id: str) -> set[str]:
    """The outcomes of the end steps reachable from `step_id`."""
    ends = {s.id: s.outcome for s in plan.steps if s.kind == StepKind.END}
    return {ends[t] for t in nx.descendants(_graph(plan), step_id) if t in ends}


@pytest.mark.parametrize("last", [
    "3. Escalate to the messaging team.",
    "3. Page the messaging on-call and hand over the incident.",
    "3. Then escalate to #messaging-oncall in Slack.",
])
def test_a_last_step_that_hands_over_is_the_runs_ending(last: str) -> None:
    plan = compile_text(GUIDE.format(last=last))
    check = step_running(plan, ["rabbitmqctl", "list_queues", "name", "messages", "--online"])
    assert "escalate" in _ends_after(plan, check)
    escalate = next(s for s in plan.steps if s.kind == StepKind.END and s.outcome == "escalate"
                    and last[3:] in s.text)
    assert escalate.source.start == 11  # (the step's line)
    # no path from the check to "resolved" that does not pass a decision
    g = _graph(plan)
    resolved = next(s.id for s in plan.steps if s.kind == StepKind.END and s.outcome == "resolved")
    decides = {s.id for s in plan.steps if s.kind == StepKind.DECIDE}
    g.remove_nodes_from(decides)
    assert not nx.has_path(g, check, resolved)
    assert not any(s.kind == StepKind.MANUAL and last[3:] in s.text for s in plan.steps)


@pytest.mark.parametrize("last", [
    # a hand-over with steps after it: a step of the procedure
    "3. Escalate to the messaging team.\n4. While waiting, drain the node: `kubectl drain n1`",
    # not a hand-over: a step that mentions one
    "3. Read the escalation policy before the next shift.",
])
def test_a_step_that_is_not_the_procedures_last_hand_over_stays_a_step(last: str) -> None:
    plan = compile_text(GUIDE.format(last=last))
    first = last.splitlines()[0][3:]
    assert any(s.kind == StepKind.MANUAL and s.text.startswith(first) for s in plan.steps)
