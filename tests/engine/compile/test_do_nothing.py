""""Otherwise, do nothing." ends that case with no action: it was a person's step reading "do
nothing", after which the run went on through every next step (in a non-production
environment, the production fix ran, gated). "ILM will do nothing" and "do nothing until the
backup ends" say no ending."""

from __future__ import annotations

import networkx as nx
import pytest

from engine.compile import phrases
from engine.plan import StepKind
from tests.support.compiling import compile_text

GUIDE = """# Search failing

1. Check the environment. If the failure is in production, carry on through the next steps.
   Otherwise, do nothing.
2. Restart the search workers: `kubectl -n search rollout restart deployment/search-api`
"""


def test_otherwise_do_nothing_ends_that_case_with_no_action() -> None:
    plan = compile_text(GUIDE)
    g = nx.DiGraph()
    g.add_edges_from((e.source, e.target) for e in plan.edges)
    (otherwise,) = [e for e in plan.edges if e.kind == "else"]
    ends = {s.id: s.outcome for s in plan.steps if s.kind == StepKind.END}
    assert ends.get(otherwise.target) == "no_action"
    restart = next(s.id for s in plan.steps if "rollout restart" in s.text
                   and s.kind == StepKind.COMMAND)
    assert not nx.has_path(g, otherwise.target, restart)


@pytest.mark.parametrize("text", ["ILM will do nothing.", "Do nothing until the backup ends.",
                                  "You may choose to do nothing and let it fail."])
def test_do_nothing_inside_a_sentence_is_no_ending(text: str) -> None:
    assert phrases.outcome_of(text) is None
