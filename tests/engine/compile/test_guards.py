"""Guards scope what they introduce; a failed check is failed evidence unless the guide lets it
fail. Each test is a small guide written here, not taken from the corpus."""

from __future__ import annotations

from engine.compile import compile_guide
from engine.guide import parse_guide
from engine.plan import Plan, StepKind

PLUGINS = {"shell", "bash", "prometheus", "sql", "http", "logs"}


def compile_text(text: str, path: str = "guide.md") -> Plan:
    return compile_guide(parse_guide(text, path=path), known_plugins=PLUGINS)


def outs(plan: Plan, sid: str) -> dict[str, object]:
    return {e.target: e for e in plan.edges if e.source == sid}


def decides(plan: Plan) -> list:
    return [s for s in plan.steps if s.kind == StepKind.DECIDE and s.id != "start"]


# -- issue #12: a failed read-only check no longer continues by default -------------------------

def test_a_failed_check_stops_the_run_unless_the_guide_says_it_may_fail():
    plan = compile_text("# T\n\n## Diagnosis\n\n1. Check the nodes:\n\n   ```bash\n   kubectl get "
                        "nodes\n   ```\n\n2. List failed units (this may fail where systemd is not "
                        "running):\n\n   ```bash\n   systemctl list-units --state=failed\n   ```\n")
    by_title = {s.title: s for s in plan.steps if s.kind == StepKind.COMMAND}
    assert by_title["Check the nodes"].on_error == "fail"
    assert by_title["List failed units (this may fail where systemd is not running)"].on_error \
        == "continue"


# -- guards scope what they introduce ----------------------------------------------------------

def test_if_paragraph_with_a_colon_guards_the_list_it_introduces():
    plan = compile_text("# T\n\n## Mitigation\n\nIf the pod is stuck in `Terminating`:\n\n"
                        "- Delete it by force:\n\n  ```bash\n  kubectl delete pod web-1 --force\n"
                        "  ```\n")
    decide = next(s for s in decides(plan) if s.title == "If the pod is stuck in `Terminating`")
    approve = next(s for s in plan.steps if s.kind == StepKind.APPROVE)
    # Then the deletion is only reached through the branch, not unconditionally
    assert outs(plan, decide.id)[approve.id].kind == "branch"
    assert not [e for e in plan.edges if e.target == approve.id and e.source != decide.id]


def test_prose_guards_become_decisions_over_a_persons_step_with_their_words():
    plan = compile_text("# T\n\n## Mitigation\n\nLook at the operator logs. If the logs show a "
                        "syntax error, correct the ServiceMonitor that has it.\n")
    decide = next(s for s in decides(plan) if "syntax error" in s.title)
    (then,) = [plan.step(e.target) for e in plan.edges
               if e.source == decide.id and e.kind == "branch"]
    assert then.kind == StepKind.MANUAL and then.title == "correct the ServiceMonitor that has it"


def test_guarded_endings_keep_their_outcome_and_otherwise_pairs_with_the_if():
    plan = compile_text("# T\n\n## Diagnosis\n\n```bash\nkubectl get nodes\n```\n\n"
                        "If all nodes are `Ready`, the issue is mitigated. Otherwise, escalate to "
                        "the platform team.\n")
    decide = next(s for s in decides(plan) if "Ready" in s.title)
    ends = {e.kind: plan.step(e.target).outcome for e in plan.edges if e.source == decide.id}
    assert ends == {"branch": "mitigated", "else": "escalate"}


def test_if_x_escalate_in_a_paragraph_is_an_escalate_branch_not_a_resolved_run():
    plan = compile_text("# T\n\n## Diagnosis\n\n```bash\nkubectl get pods -n web\n```\n\n"
                        "If the pods are crash looping, escalate to the web team.\n\n"
                        "If the pods are healthy, no action is needed.\n")
    by_title = {s.title: s.id for s in decides(plan)}

    def branch_outcomes(decide: str) -> list[str | None]:
        return [plan.step(e.target).outcome for e in plan.edges
                if e.source == by_title[decide] and e.kind == "branch"]
    assert branch_outcomes("If the pods are crash looping") == ["escalate"]
    assert branch_outcomes("If the pods are healthy") == ["no_action"]


def test_a_guard_that_describes_what_happens_is_not_a_branch():
    plan = compile_text("# T\n\n## Diagnosis\n\n```bash\nkubectl get pvc -A\n```\n\n"
                        "If the default storage class does not exist, the new PVC will be in "
                        "`Pending` phase.\n\n## Impact\n\nWhen the disk fills, writes fail.\n")
    assert decides(plan) == []


def test_if_this_does_not_resolve_the_issue_escalate_ends_the_run_in_escalate():
    plan = compile_text("# T\n\n## Mitigation\n\n```bash\nkubectl rollout restart deploy/web\n"
                        "```\n\nIf this does not resolve the issue, escalate to the web team.\n")
    outcomes = {plan.step(e.target).outcome for e in plan.edges if e.kind in ("branch", "else")
                and plan.step(e.target).kind == StepKind.END}
    assert outcomes == {"resolved", "escalate"}


def test_a_later_sentence_of_an_item_guards_its_own_words_within_the_item():
    plan = compile_text("# T\n\n## Diagnosis\n\n1. Check the replication lag on the dashboard. "
                        "If the lag keeps growing, restart the replica by hand.\n")
    decide = next(s for s in decides(plan) if s.title == "If the lag keeps growing")
    item = next(s for s in plan.steps if s.kind == StepKind.MANUAL
                and s.title.startswith("Check the replication lag"))
    (then,) = [e.target for e in plan.edges if e.source == decide.id and e.kind == "branch"]
    # Then the item's step comes first, and the guarded words are a step of their own
    assert [e.target for e in plan.edges if e.source == item.id] == [decide.id]
    assert plan.step(then).title == "restart the replica by hand"


def test_a_guard_paragraph_ending_with_a_colon_keeps_guarding_what_follows_it():
    plan = compile_text("# T\n\n## Mitigation\n\nFor the case that the mount is `/var`, removing "
                        "unused images solves it:\n\nClean the images:\n\n```bash\n"
                        "crictl rmi --prune\n```\n")
    decide = next(s for s in decides(plan) if "/var" in s.title)
    approve = next(s for s in plan.steps if s.kind == StepKind.APPROVE)
    assert [e.source for e in plan.edges if e.target == approve.id] == [decide.id]
    # the guard's own words gave way to the command it introduces: no extra person's step
    assert not [s for s in plan.steps if s.kind == StepKind.MANUAL]


def test_a_finding_under_a_guard_is_recorded_by_a_person_not_dropped():
    plan = compile_text("# T\n\n## Diagnosis\n\n```bash\njournalctl -u praefect -n 100\n```\n\n"
                        "If you see no logs, the replication manager is not processing jobs.\n")
    decide = next(s for s in decides(plan) if s.title == "If you see no logs")
    (then,) = [plan.step(e.target) for e in plan.edges
               if e.source == decide.id and e.kind == "branch"]
    assert then.kind == StepKind.MANUAL and then.title == (
        "Record the finding that the replication manager is not processing jobs")


# -- a check that concludes, and admonitions -----------------------------------------------------

def _ends_reached_from(plan: Plan, sid: str) -> dict[str, str]:
    steps = {s.id: s for s in plan.steps}
    return {e.kind: steps[e.target].outcome.value for e in plan.edges
            if e.source == sid and steps[e.target].outcome is not None}


def test_when_the_guides_closing_check_does_not_hold_the_run_is_not_healthy():
    plan = compile_text("# Lag\n\n## Fix\n\nRestart the replica:\n\n```bash\nsudo systemctl "
                        "restart pg\n```\n\nWhen lag is back under 30 s, the incident is "
                        "mitigated.\n")
    check = next(s for s in decides(plan) if s.title.startswith("When lag"))
    # Before: the other side fell through to the guide's ending, `resolved`: healthier than
    # the `mitigated` the guide gives when its own check holds.
    assert _ends_reached_from(plan, check.id) == {"branch": "mitigated", "else": "escalate"}


def test_a_closing_no_action_check_hands_over_when_it_does_not_hold():
    plan = compile_text("# Disk\n\n## Diagnosis\n\n```bash\ndf -h /\n```\n\nIf usage is below "
                        "80%, no action is needed.\n")
    check = next(s for s in decides(plan) if s.title.startswith("If usage"))
    assert _ends_reached_from(plan, check.id) == {"branch": "no_action", "else": "escalate"}


def test_a_closing_guard_that_runs_a_fix_still_ends_as_the_guide_does_otherwise():
    # "If X, restart Y" is a precondition, not a check that concludes: its other side is the
    # guide's own ending.
    plan = compile_text("# Svc\n\n## Mitigation\n\nIf the service is stopped, restart it:\n\n"
                        "```bash\nsudo systemctl restart web\n```\n")
    check = next(s for s in decides(plan) if s.title.startswith("If the service"))
    steps = {s.id: s for s in plan.steps}
    other = next(e.target for e in plan.edges if e.source == check.id and e.kind == "else")
    assert steps[other].outcome is not None and steps[other].outcome.value == "resolved"


def test_a_guard_inside_a_github_admonition_or_after_a_bold_label_is_a_branch():
    for label in ("> [!NOTE]\n> ", "> **Note**\n> ", "> Warning - "):
        plan = compile_text("# T\n\n## Check\n\n```bash\nuptime\n```\n\n" + label +
                            "If the load is above 10, wait ten minutes and check again.\n")
        assert [s.title for s in decides(plan)] == ["If the load is above 10"], label


def test_run_a_one_word_program_runs_it_but_a_caption_over_its_block_does_not():
    plan = compile_text("# T\n\n## Check\n\nRun `uptime`.\n")
    assert [(s.kind, s.params.get("pipeline")) for s in plan.steps
            if s.kind != StepKind.END] == [(StepKind.COMMAND, [["uptime"]])]
    captioned = compile_text("# T\n\n## Check\n\n1. Run `ls` on the host\n   ```\n   ls /var/x\n"
                             "   ```\n")
    assert [s.params.get("pipeline") for s in captioned.steps
            if s.kind == StepKind.COMMAND] == [[["ls", "/var/x"]]]


def test_an_escalation_sections_words_say_whom_the_run_hands_over_to():
    plan = compile_text("# T\n\n## Fix\n\n```bash\nsudo systemctl restart web\n```\n\n"
                        "## Escalation\n\nPage `#web-oncall` with the output of the restart.\n")
    end = next(s for s in plan.steps if s.id == "end-escalate")
    assert end.text == "Page `#web-oncall` with the output of the restart."
    assert end.source.start == 11
    # a describing section: its words shape no flow (no question added at the end)
    assert decides(plan) == []
