"""On-call runbooks in SRE and TSG styles the earlier sweeps did not try: an Opsgenie
Triage / Mitigate / Verify / Follow-up runbook, a Google-SRE playbook entry with bold lead-ins,
ad-hoc Ansible, an Azure TSG with KQL, PowerShell and `cmd`, a GitHub wiki with "### 1)" and
"### 1." headings, reStructuredText converted to Markdown, a Confluence "Step | Action |
Expected result" table, lettered cases under a numbered item, arrow chains, FAQ answers, a
retry loop, and a triage followed by a last resort (tests/fixtures/styles24 holds the guides
tried). Each test is one rule a guide author would recognise."""

from __future__ import annotations

from pathlib import Path

from engine.plan import StepKind
from tests.support.compiling import (
    assert_gated_and_accounted,
    compile_text,
    gated,
    guards_of,
    reachable,
    running,
)

STYLES24 = Path(__file__).resolve().parents[2] / "fixtures" / "styles24"


def test_each_styles24_guide_compiles_gated_and_accounted_for():
    assert_gated_and_accounted(folder=STYLES24, at_least=10)


def _ends(plan):
    return {s.id: s.outcome for s in plan.steps if s.kind == StepKind.END}


def _step_titled(plan, start):
    (step,) = [s for s in plan.steps if s.title.startswith(start)]
    return step


# -- a case's section is the guide's last ---------------------------------------------------------

def test_a_case_that_goes_to_the_last_section_leaves_the_fix_a_way_to_the_ending():
    # "- If no rollout happened, go to **Follow-up**." under Triage, and "## Follow-up" last
    # with two bullets: the fix's path was held back from running into a case's section and
    # had nowhere to go, and the guide failed to compile ("the tree ends every path")
    plan = compile_text(
        "## Triage\n\n1. Look at the last deploy:\n\n"
        "   ```bash\n   kubectl -n web rollout history deploy/web\n   ```\n\n"
        "   - If a rollout finished in the last 30 minutes, go to **Mitigate**.\n"
        "   - If no rollout happened, go to **Follow-up**.\n\n"
        "## Mitigate\n\n1. Roll back:\n\n"
        "   ```bash\n   kubectl -n web rollout undo deploy/web\n   ```\n\n"
        "## Verify\n\n1. If the error rate is still above 1%, escalate to the web lead.\n\n"
        "## Follow-up\n\n- Open a ticket for the owning team.\n"
        "- Close the alert once the graph is flat.\n")
    undo = running(plan, "rollout", "undo")
    assert gated(plan, undo.id)
    reached = reachable(plan, undo.id)
    outcomes = {_ends(plan)[s] for s in reached if s in _ends(plan)}
    assert "resolved" in outcomes and "escalate" in outcomes
