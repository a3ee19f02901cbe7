"""Asking another team in its channel or queue is handing the incident over: "If the disk is
still full after cleanup, raise a P2 with the storage team.", "If none of the above helps,
reach out in #help-db.". Before, each was a person's step, after which the run ended
`resolved` although the guide had just said the problem remained."""

from __future__ import annotations

import pytest

from engine.compile import phrases
from engine.plan import StepKind
from tests.support.compiling import compile_text

GUIDE = """# Disk full

## Mitigation

1. Clean the cache: `rm -rf /var/cache/app/tmp`
2. Check the usage: `df -h /var`

{sentence}
"""


@pytest.mark.parametrize("sentence", [
    "If the disk is still full after cleanup, raise a P2 with the storage team.",
    "If none of the above helps, reach out in #help-db.",
    "If it persists, open an incident in #sre.",
    "If the cert cannot be renewed, file a ticket with the security team.",
    "If you are still stuck, ask for help in #platform.",
])
def test_asking_a_team_ends_the_branch_escalated(sentence):
    plan = compile_text(GUIDE.format(sentence=sentence))
    (end,) = [s for s in plan.steps if s.kind == StepKind.END and s.text == sentence]
    assert end.outcome.value == "escalate"
    # reached from the decision on the sentence's condition (or, for "if none of the above
    # helps", on whether the issue is resolved: the guide's own ending)
    assert any(plan.step(e.source).kind == StepKind.DECIDE and e.condition is not None
               for e in plan.edges if e.target == end.id)
    assert not [s for s in plan.steps if s.kind == StepKind.MANUAL]


@pytest.mark.parametrize("text", [
    "create a ticket for it later in the week",  # no team to hand it to
    "post in #deploys that the new upstreams are live",  # telling is not handing over
    "Karpenter is unable to reach out to the STS endpoint",  # a network's words
])
def test_telling_and_networking_are_no_hand_over(text):
    assert phrases.outcome_of(text) is None
