"""A step's "Expected: X" item, then "If not: Y": the decision is whether X was seen ("If not
as expected (all pods `Running`)"). It was a question reading "If not" alone, the expectation
ignored as prose, so whoever judged it (a person or the model) was asked about nothing."""

from __future__ import annotations

from engine.compile.explain import explain
from engine.guide import parse_guide
from engine.plan import StepKind
from tests.support.compiling import compile_text

GUIDE = """# Web down

## Procedure

1. Check pods: `kubectl get pods -n web`
   - Expected: all pods `Running`.
   - If not: go to step 3.
2. Check the ingress: `kubectl get ingress -n web`
   - Expected result: an address is listed.
   - If not: escalate to the network team.
3. Restart the deployment: `kubectl rollout restart deploy/web -n web`
"""


def test_if_not_is_about_the_expectation_before_it() -> None:
    plan = compile_text(GUIDE)
    asked = sorted(s.text for s in plan.steps if s.kind == StepKind.DECIDE)
    assert asked == ["If not as expected (all pods `Running`)",
                     "If not as expected (an address is listed)"]
    assert not [i for i in plan.ignored if i.text.startswith("Expected")]


def test_explain_says_the_expectation_is_the_condition() -> None:
    guide = parse_guide(GUIDE, path="g.md")
    text = "\n".join(str(row) for row in explain(guide, compile_text(GUIDE), GUIDE))
    assert "'Expected: all pods `Running`.': what should be seen" in text


def test_an_if_not_with_no_expectation_before_it_is_as_written() -> None:
    plan = compile_text(GUIDE.replace("   - Expected: all pods `Running`.\n", "   - Look at "
                                      "the STATUS column.\n"))
    assert "If not" in {s.text for s in plan.steps if s.kind == StepKind.DECIDE}


def test_an_expectation_paragraph_in_the_step_is_what_if_not_is_about() -> None:
    """The same written as the step's own paragraphs ("**Expected:** all pods `Running`." then
    "**If not:** go to step 3.")."""
    plan = compile_text("# Web down\n\n## Procedure\n\n1. Check pods: `kubectl get pods -n web`"
                        "\n\n   **Expected:** all pods `Running`.\n\n   **If not:** go to step 3."
                        "\n\n2. Check the ingress: `kubectl get ingress -n web`\n\n3. Restart: "
                        "`kubectl rollout restart deploy/web -n web`\n")
    asked = [s.text for s in plan.steps if s.kind == StepKind.DECIDE]
    assert asked == ["If not as expected (all pods `Running`)"]
