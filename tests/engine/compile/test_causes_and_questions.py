"""A list of possible causes describes; a question followed by what to do decides."""

from __future__ import annotations

from engine.compile.phrases import section_class
from engine.plan import StepKind
from tests.support.compiling import compile_text

GUIDE = """# Redis memory high

## Possible causes
1. Session keys without TTL
2. A big key written by a batch job

## Resolution
1. Check memory: `redis-cli -h $REDIS_HOST info memory`
2. If the sessions DB is the culprit, flush it: `redis-cli -h $REDIS_HOST -n 2 FLUSHDB ASYNC`
3. Still high after 15 minutes? Escalate.
"""


def test_a_list_of_possible_causes_is_not_a_list_of_steps() -> None:
    # "1. Session keys without TTL" was a person's step to perform, before the resolution
    plan = compile_text(GUIDE)
    assert not [s for s in plan.steps if s.kind == StepKind.MANUAL]
    assert {i.reason for i in plan.ignored if "TTL" in i.text} == {"descriptive section"}
    for heading in ("Possible causes", "Causes", "Likely root causes", "Possible Cause:"):
        assert section_class(heading) == "info", heading
    for heading in ("Root cause", "Causes of slow queries", "Known causes and fixes"):
        assert section_class(heading) != "info", heading


def test_a_question_then_an_ending_is_a_decision_that_ends_the_run() -> None:
    # "Still high after 15 minutes? Escalate." was a person's step, and the run then ended
    # resolved whatever the answer
    plan = compile_text(GUIDE)
    (decide,) = [s for s in plan.steps if s.kind == StepKind.DECIDE and
                 s.text == "Still high after 15 minutes?"]
    outs = {e.kind: plan.step(e.target) for e in plan.edges if e.source == decide.id}
    assert outs["branch"].outcome is not None and outs["branch"].outcome.value == "escalate"
    assert outs["else"].outcome is not None and outs["else"].outcome.value == "resolved"
    # a question answered Yes/No is the decision tree's, not this
    plan = compile_text("# T\n\n## S\n\nIs a part present? Yes \u2192 Step 2. No \u2192 escalate."
                        "\n\n## Step 2\n\nRun `uptime`.\n")
    assert [s.title for s in plan.steps if s.kind == StepKind.DECIDE] == ["Is a part present?"]
