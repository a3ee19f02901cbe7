"""A guard that opens an item's next paragraph or line with no full stop before it ("1. Count
the errors: `grep -c error /var/log/app.log`" over "If it prints 0, no action is needed.") is a
guard of its own. Before, the item's paragraphs were read as one sentence with no guard in it:
the condition was lost without a word, the run ended `no_action` whatever the count was, and a
restart the guide wrote for the other case ran after any count."""

from __future__ import annotations

import pytest

from engine.compile import phrases
from engine.plan import Plan, StepKind
from tests.support.compiling import compile_text, guards_of, step_running

COUNT = ["grep", "-c", "error_total", "/var/log/app.log"]
RESTART = ["systemctl", "restart", "app"]


def _guide(joint: str, guard: str) -> str:
    return ("# Errors on the API\n\n## Diagnosis\n\n"
            f"1. Count recent errors: `{' '.join(COUNT)}`{joint}{guard}\n"
            f"2. Restart the app: `{' '.join(RESTART)}`\n")


def _decides(plan: Plan) -> list[str]:
    return [s.text for s in plan.steps if s.kind == StepKind.DECIDE and s.id != "start"]


def _ends_under(plan: Plan, decide_text: str) -> dict[str, str]:
    """The outcome of each end step a branch of the decision reaches directly: branch -> outcome."""
    (decide,) = [s for s in plan.steps if s.kind == StepKind.DECIDE and s.text == decide_text]
    out = {}
    for e in plan.edges:
        target = plan.step(e.target)
        if e.source == decide.id and target.kind == StepKind.END and target.outcome:
            out[e.kind] = target.outcome.value
    return out


@pytest.mark.parametrize("joint", ["\n\n   ", "\n   ", " "],
                         ids=["next paragraph", "next line", "same line"])
def test_a_guard_after_a_code_span_with_no_stop_decides(joint):
    plan = compile_text(_guide(joint, "If it prints 0, no action is needed."))
    assert _decides(plan) == ["If it prints 0"]
    assert _ends_under(plan, "If it prints 0") == {"branch": "no_action"}
    restart = step_running(plan, RESTART)
    # the restart is for the other case only, never after a count of 0
    assert guards_of(plan, restart) == ["Otherwise (not: If it prints 0)"]


def test_an_escalation_after_a_code_span_with_no_stop_ends_the_run():
    plan = compile_text(_guide("\n   ", "If it prints more than 100, escalate to the API team."))
    assert _decides(plan) == ["If it prints more than 100"]
    assert _ends_under(plan, "If it prints more than 100") == {"branch": "escalate"}
    assert guards_of(plan, step_running(plan, COUNT)) == []  # the count runs whatever it finds


def test_a_paragraph_with_no_stop_before_its_guard():
    plan = compile_text("# T\n\n## Diagnosis\n\n1. Look at the error panel of the dashboard\n\n"
                        "   If the errors are above 5%, escalate to the API team.\n")
    assert _decides(plan) == ["If the errors are above 5%"]


@pytest.mark.parametrize("text, sentences", [
    ("Count them: `grep -c x f` If it prints 0, stop.",
     ["Count them: `grep -c x f`", "If it prints 0, stop."]),
    ("Check the pods If CPU is high, scale out.", ["Check the pods", "If CPU is high, scale out."]),
    ("Run `x` Otherwise, escalate.", ["Run `x`", "Otherwise, escalate."]),
    # a title's words, and a section named after its condition, are no guard
    ("Restart If Needed: `systemctl restart app`", None),
    ("Skip to If site search is unavailable.", None),
    ("See the section When the node is down for the rest.", None),
])
def test_where_a_sentence_begins_without_a_stop(text, sentences):
    cut = [text[a:b] for a, b in phrases.sentence_offsets(text)]
    assert cut == (sentences or [text])


def test_a_jump_to_a_section_named_after_a_condition_stays_a_jump():
    plan = compile_text(
        "# Search is down\n\n## Diagnosis\n\n### Check the error rates\n\n"
        "Open the search dashboard. If the errors here are high, this suggests site search is "
        "implicated. Skip to [If site search is unavailable](#if-site-search-is-unavailable).\n\n"
        "### Check the other product\n\nRun `curl -s https://example.org/health`\n\n"
        "## If site search is unavailable\n\nRestart the search app: `systemctl restart search`\n")
    jumps = [e for e in plan.edges if e.kind == "jump"]
    assert jumps and all(e.condition is not None for e in jumps)
    # the jump's sentence is no guard; the section's own heading is (a second-level "If"
    # heading guards its steps: the restart is for that case only)
    decides = [s for s in plan.steps if s.kind == StepKind.DECIDE and
               s.text == "If site search is unavailable"]
    assert [s.source.start for s in decides] == [13]
