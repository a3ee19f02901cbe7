"""An ending whose condition follows it ("No further action is required if the lag is below 10
seconds.", "This alert can be safely ignored if ...", "Escalate to the DBA unless ...") or
opens with "Once" ("Once the replica catches up, the incident is resolved.") decides there,
its branch ending the run. Before, as an item's second paragraph, the first kind guarded the
item's own check (the paragraphs read as one sentence: the check ran only "if the lag is
below 10 seconds"), and the "Once" form was lost: the restart after it ran whatever the
replica did."""

from __future__ import annotations

import pytest

from engine.compile import phrases
from engine.guide import parse_guide
from engine.plan import StepKind
from tests.support.compiling import compile_text, guards_of, step_running

CHECK = ["psql", "-c", "select now() - pg_last_xact_replay_timestamp()"]
RESTART = ["systemctl", "restart", "postgresql"]
GUIDE = """# Replication lag

## Diagnosis

1. Check the lag: `psql -c "select now() - pg_last_xact_replay_timestamp()"`

   {sentence}

2. Restart the replica: `systemctl restart postgresql`
"""


@pytest.mark.parametrize("sentence, condition, outcome", [
    ("No further action is required if the lag is below 10 seconds.",
     "if the lag is below 10 seconds", "no_action"),
    ("This alert can be safely ignored if the node is being drained.",
     "if the node is being drained", "no_action"),
    ("Escalate to the DBA on call unless the lag recovers within 5 minutes.",
     "unless the lag recovers within 5 minutes", "escalate"),
    ("Once the replica catches up, the incident is resolved.",
     "Once the replica catches up", "resolved"),
])
def test_an_ending_with_its_condition_decides_after_the_check(sentence, condition, outcome):
    plan = compile_text(GUIDE.format(sentence=sentence))
    assert guards_of(plan, step_running(plan, CHECK)) == []  # the check runs whatever it finds
    (decide,) = [s for s in plan.steps if s.kind == StepKind.DECIDE and s.text == condition]
    ends = {e.kind: plan.step(e.target) for e in plan.edges if e.source == decide.id}
    assert ends["branch"].kind == StepKind.END and ends["branch"].outcome.value == outcome
    # the restart is for the other case only
    assert guards_of(plan, step_running(plan, RESTART)) == [f"Otherwise (not: {condition})"]


def test_when_tells_when_not_whether():
    plan = compile_text(GUIDE.format(
        sentence="Close the incident issue when the PagerDuty alert eventually resolves."))
    assert not [s for s in plan.steps if s.kind == StepKind.DECIDE and s.id != "start"]


def test_an_items_paragraph_with_no_stop_ends_a_sentence():
    guide = parse_guide(GUIDE.format(sentence="No further action is required if the lag is "
                                     "below 10 seconds."), path="g.md")
    (item,) = [e for e in guide.elements if e.kind == "list_item" and "lag:" in e.text]
    assert [item.text[a:b] for a, b in phrases.sentence_offsets(item.text)] == [
        'Check the lag: `psql -c "select now() - pg_last_xact_replay_timestamp()"`',
        "No further action is required if the lag is below 10 seconds."]
    # a paragraph that ends with its stop joins the next as before
    guide = parse_guide("1. Check the lag.\n\n   Then restart it.\n", path="g.md")
    assert guide.elements[0].text == "Check the lag. Then restart it."


@pytest.mark.parametrize("text", ["This alert can be safely ignored", "It is safe to ignore",
                                  "You can safely ignore this warning"])
def test_safely_ignored_is_no_action(text):
    assert phrases.outcome_of(text) == "no_action"
    assert phrases.outcome_of("Errors can be ignored by the parser") is None
