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


# -- a stop, and what the sentence says around it -------------------------------------------------

def _case_side(plan, guard_start):
    (decide,) = [s for s in plan.steps if s.kind == StepKind.DECIDE and
                 s.title.startswith(guard_start)]
    (taken,) = [e.target for e in plan.edges if e.source == decide.id and e.condition and
                not e.condition.text.startswith("Otherwise")]
    return taken


_REROUTE = ("3. Reroute:\n\n```bash\ncurl -s -XPOST localhost:9200/_cluster/reroute\n```\n")


def _shards_guide(said):
    return ("## Fix\n\n1. Check:\n\n```bash\ncurl -s localhost:9200/_cat/shards\n```\n\n"
            f"2. {said}\n\n{_REROUTE}")


def test_a_finding_before_a_stop_says_why_and_the_case_ends_there():
    # "2. If there are no unassigned shards, the cluster is recovering by itself: stop here.":
    # the finding was taken for a person's step, and the run went on into the reroute
    for said in ("If there are no unassigned shards, the cluster is recovering by itself: "
                 "stop here.",
                 "If there are no unassigned shards, the cluster heals on its own; stop here."):
        plan = compile_text(_shards_guide(said))
        taken = _case_side(plan, "If there are no unassigned shards")
        assert _ends(plan).get(taken) == "resolved", said
        assert running(plan, "reroute").id not in reachable(plan, taken), said


def test_a_stop_with_something_to_do_before_it_keeps_that_step():
    # a clause that says to do something is still a person's step before the stop
    plan = compile_text(_shards_guide(
        "If the queue is empty, restart the consumer by hand and stop here."))
    taken = _case_side(plan, "If the queue is empty")
    assert plan.step(taken).kind == StepKind.MANUAL
    assert running(plan, "reroute").id not in reachable(plan, taken)
    assert "resolved" in {_ends(plan).get(s) for s in reachable(plan, taken)}
    # (in a paragraph too, and "- resolve the alert" after the finding is such a clause)
    plan = compile_text("## Check\n\n```bash\ncurl -s https://x/health\n```\n\n"
                        "If `Sealed` is `false`, the alert is stale - resolve the alert and stop "
                        "here.\n\n```bash\nkubectl -n v delete pod vault-0\n```\n")
    taken = _case_side(plan, "If `Sealed` is `false`")
    assert "resolved" in {_ends(plan).get(s) for s in reachable(plan, taken)}


def test_stop_here_and_watch_it_ends_the_run():
    # "..., the cluster is recovering: stop here and watch it.": nothing more to do but wait
    for said in ("If there are no unassigned shards, stop here and watch it.",
                 "If there are no unassigned shards, the cluster is recovering: stop here and "
                 "let it recover."):
        plan = compile_text(_shards_guide(said))
        taken = _case_side(plan, "If there are no unassigned shards")
        assert _ends(plan).get(taken) == "resolved", said


def test_stop_and_tell_a_team_hands_the_incident_over():
    # "c) If the pod is `ImagePullBackOff`, the image tag is wrong: stop and tell the release
    # team.": a person's step, and the run went on to restart the deployment
    for said in ("If the pod is `ImagePullBackOff`, the image tag is wrong: stop and tell the "
                 "release team.",
                 "If the pod is `ImagePullBackOff`, stop and notify the release team."):
        plan = compile_text(_shards_guide(said))
        taken = _case_side(plan, "If the pod is `ImagePullBackOff`")
        assert _ends(plan).get(taken) == "escalate", said
        assert running(plan, "reroute").id not in reachable(plan, taken), said
