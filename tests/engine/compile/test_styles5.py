"""Guide styles the earlier style passes had no fixture for (tests/fixtures/styles): a Mermaid
flowchart beside the prose, runbooks in Portuguese, Italian or Dutch, Jira / Confluence wiki
markup pasted from a ticket, steps written as an HTML `<ol>`, a robot cell's fault-code table
and retry loop, `1)` / `a)` numbering with checkpoints, and a change ticket's Pre-checks /
Procedure / Post-checks / Rollback."""

from __future__ import annotations

from engine.compile.explain import explain
from engine.guide import parse_guide
from engine.plan import StepKind
from tests.support.compiling import STYLES as FIXTURES
from tests.support.compiling import (
    assert_gated_and_accounted,
    assert_if_otherwise_guard_their_blocks,
    compile_text,
    ends_with,
    gated,
    guards_of,
    manual_scripts,
    pipelines,
    runs,
    step_running,
)
from tests.support.compiling import compile_style as compile_file

NEW = ("mermaid-flowchart.md", "portuguese-runbook.md", "jira-wiki-markup.md",
       "html-ol-steps.md", "fault-code-table.md", "paren-numbering.md", "change-ticket.md",
       "symptom-cause-action.md")


# -- diagrams ------------------------------------------------------------------------------------


def test_a_mermaid_flowchart_is_an_illustration_never_a_command():
    plan = compile_file("mermaid-flowchart.md")
    assert not any("flowchart" in str(s.params) or "-->" in str(s.params) for s in plan.steps)
    text = (FIXTURES / "mermaid-flowchart.md").read_text()
    rows = explain(parse_guide(text, path="mermaid-flowchart.md"), plan, text)
    assert any("5-12" in str(r) and "illustration" in str(r) for r in rows)


def test_an_untagged_diagram_block_is_an_illustration():
    # a ```` ``` ```` block holding `graph TD` / `A --> B[restart nginx]`: "sample output"
    for head in ("graph TD", "flowchart LR", "sequenceDiagram", "@startuml", "digraph G {"):
        text = (f"# Disk\n\n```\n{head}\n  A[disk full] --> B[journalctl --vacuum-size=1G]\n```"
                "\n\n## Fix\n\nRun `uptime`.\n")
        plan = compile_text(text)
        rows = explain(parse_guide(text, path="guide.md"), plan, text)
        assert any("illustration" in str(r) for r in rows), head
        assert pipelines(plan) == [[["uptime"]]], head


# -- other languages -----------------------------------------------------------------------------


def test_a_portuguese_runbook_keeps_its_se_caso_contrario_and_quando():
    # "Se a thread de SQL estiver parada:" / "Caso contrário, reinicie o pod": the restart,
    # the delete and the rebuild ran one after another, unguarded
    plan = compile_file("portuguese-runbook.md")
    start = step_running(plan, ["kubectl", "-n", "banco", "exec", "mysql-replica-1", "--",
                                "mysql", "-e", "START REPLICA SQL_THREAD"])
    delete = step_running(plan, ["kubectl", "-n", "banco", "delete", "pod", "mysql-replica-1"])
    rebuild = step_running(plan, ["kubectl", "-n", "banco", "apply", "-f",
                                  "rebuild-replica-job.yaml"])
    assert guards_of(plan, start) == ["Se a thread de SQL estiver parada"]
    assert guards_of(plan, delete) == ["Caso contrário"]
    assert guards_of(plan, rebuild) == ["Quando o atraso passar de uma hora"]
    assert gated(plan, start) and gated(plan, delete) and gated(plan, rebuild)


def test_italian_and_dutch_if_and_otherwise_guard_their_blocks():
    for cond, other in (("Se il disco è pieno:", "Altrimenti, riavvia il pod:"),
                        ("Qualora il disco sia pieno:", "In caso contrario, riavvia il pod:"),
                        ("Als de schijf vol is:", "Anders, herstart de pod:"),
                        ("Indien de schijf vol is:", "Zo niet, herstart de pod:"),
                        ("Caso o disco esteja cheio:", "Senão, reinicie o pod:")):
        assert_if_otherwise_guard_their_blocks(cond, other)


def test_english_words_that_start_like_the_new_guard_words_are_not_guards():
    for lead in ("Also restart it:", "Anderson says to restart it:", "Second, restart it:",
                 "Seal the queue and restart it:", "Indeed, restart it:"):
        plan = compile_text(f"## Fix\n\n{lead}\n\n```bash\n"
                            "kubectl -n web rollout restart deploy/web\n```\n")
        restart = step_running(plan, ["kubectl", "-n", "web", "rollout", "restart",
                                      "deploy/web"])
        assert guards_of(plan, restart) == [], lead


# -- wiki markup ---------------------------------------------------------------------------------


def test_jira_wiki_markup_reads_as_the_markdown_it_means():
    # `h2. Mitigation`, `# Find why ...` then `{code}` ... `{code}`: the whole guide was one
    # person's "read it and act on it", every command lost
    plan = compile_file("jira-wiki-markup.md")
    assert [["curl", "-s", "localhost:9200/_cluster/health?pretty"]] in pipelines(plan)
    explain_ = step_running(plan, ["curl", "-s", "localhost:9200/_cluster/allocation/explain?"
                                                 "pretty"])
    delete = step_running(plan, ["curl", "-s", "-X", "DELETE", "localhost:9200/logs-2026.10.01"])
    reroute = step_running(plan, ["curl", "-s", "-X", "POST",
                                  "localhost:9200/_cluster/reroute?retry_failed=true"])
    assert guards_of(plan, delete) == ["If the disk watermark is exceeded"]
    assert gated(plan, delete) and gated(plan, reroute) and not gated(plan, explain_)
    ids = [s.id for s in plan.steps]
    assert ids.index(explain_) < ids.index(delete) < ids.index(reroute)
    # the {noformat} sample never runs, and the escalation is the run's
    assert not any("unassigned_shards" in str(s.params) for s in plan.steps)
    assert any("search team" in (s.text or "") for s in ends_with(plan, "escalate"))


def test_wiki_markup_is_read_only_in_a_guide_written_in_it():
    # a Markdown guide's `# Title` stays a heading and `{code}` in prose stays prose
    plan = compile_text("# Restart\n\nThe {code} macro is Confluence's.\n\n"
                        "```bash\nsudo systemctl restart nginx\n```\n")
    assert gated(plan, step_running(plan, ["sudo", "systemctl", "restart", "nginx"]))
    plan = compile_text("# Confluence macros\n\n```text\n{code}\nx\n{code}\n```\n\n"
                        "# Restart\n\n```bash\nsudo systemctl restart nginx\n```\n")
    assert [s.text for s in parse_guide("# A\n\n```text\n{code}\nx\n{code}\n```\n",
                                        path="g.md").elements if s.kind == "heading"] == ["A"]
    assert gated(plan, step_running(plan, ["sudo", "systemctl", "restart", "nginx"]))
    # wiki markup inside an HTML comment is not the guide's notation: `# T` stays a heading
    assert [e.text for e in parse_guide(
        "# T\n\n<!-- old:\nh2. Old\n{code}\nkubectl delete ns prod\n{code}\n-->\n\n"
        "1. Check `uptime`\n", path="g.md").elements if e.kind == "heading"] == ["T"]
    plan = compile_text("h2. Fix\n\n* Restart it: {{sudo systemctl restart nginx}}\n"
                        "** then check: {{systemctl is-active nginx}}\n")
    assert gated(plan, step_running(plan, ["sudo", "systemctl", "restart", "nginx"]))
    assert [["systemctl", "is-active", "nginx"]] in pipelines(plan)


# -- HTML lists ----------------------------------------------------------------------------------


def test_an_html_ordered_list_is_the_guides_steps():
    # `<ol><li>Cancel the stuck jobs: <code>sudo cancel -a ...</code></li>`: "HTML, not read",
    # the guide one person's step
    plan = compile_file("html-ol-steps.md")
    cancel = step_running(plan, ["sudo", "cancel", "-a", "zebra-pack-2"])
    enable = step_running(plan, ["sudo", "cupsenable", "zebra-pack-2"])
    assert gated(plan, cancel) and gated(plan, enable)
    assert guards_of(plan, enable) == ["If the printer shows as disabled"]
    ids = [s.id for s in plan.steps]
    assert ids.index(cancel) < ids.index(enable)
    assert any("site IT team" in (s.text or "") for s in ends_with(plan, "escalate"))
    assert not any(s.id == "follow-guide" for s in plan.steps)


def test_other_html_stays_html():
    plan = compile_text("## Fix\n\n<table><tr><td><code>sudo reboot</code></td></tr></table>\n")
    assert runs(plan) == []
    plan = compile_text("## Fix\n\n<ul>\n<li>one</li><li>two</li>\n</ul>\n\nRun `uptime`.\n")
    assert pipelines(plan) == [[["uptime"]]]


# -- fault-code tables ---------------------------------------------------------------------------


def test_a_fault_code_table_is_a_decision_on_the_code_the_cell_reports():
    # "| Code | Meaning | Recovery |": context for a reader, every recovery lost
    plan = compile_file("fault-code-table.md")
    cases = [s for s in plan.steps if s.kind == StepKind.MANUAL and
             ("suction cups" in (s.text or "") or "Clear the jam" in (s.text or ""))]
    assert [guards_of(plan, s.id) for s in cases] == [
        ["Code is V101 (Vacuum not reached at pick)"], ["Code is C220 (Infeed conveyor jam)"]]
    plan = compile_text("## Recover\n\n| Alarm | Text | Action |\n|---|---|---|\n"
                        "| 1042 | Axis 3 overtravel | `rosservice call /arm/reset_axis 3` |\n"
                        "| other | | Escalate to controls engineering |\n")
    (reset,) = [s.id for s in runs(plan) if "reset_axis" in str(s.params)]
    assert guards_of(plan, reset) == ["Alarm is 1042 (Axis 3 overtravel)"]
    assert gated(plan, reset)
    assert len(ends_with(plan, "escalate")) >= 1


def test_calling_the_supervisor_or_opening_a_maintenance_ticket_ends_the_branch():
    # the fault table's "E001 | Safety circuit open | ... Call the line supervisor.": a
    # person's step, after which the run went on to retry the pick
    plan = compile_file("fault-code-table.md")
    (end,) = [s for s in ends_with(plan, "escalate") if "line supervisor" in (s.text or "")]
    assert guards_of(plan, end.id) == ["Code is E001 (Safety circuit open)"]
    for words in ("call the shift lead", "lock out the cell and open a maintenance ticket",
                  "contact the controls engineer", "page the electrician"):
        plan = compile_text(f"## Fix\n\n1. Reset the gripper: `sudo systemctl restart grip`\n"
                            f"2. If the gripper jams twice, {words}.\n")
        assert any(guards_of(plan, s.id) == ["If the gripper jams twice"]
                   for s in ends_with(plan, "escalate")), words
    plan = compile_text("## Fix\n\n1. If the API is slow, call the API: `curl -s "
                        "localhost:8080/health`\n")
    assert [s for s in ends_with(plan, "escalate") if "call the API" in (s.text or "")] == []


def test_a_table_of_codes_with_no_recovery_column_is_reference():
    plan = compile_text("## Codes\n\n| Code | Meaning |\n|---|---|\n| V101 | Vacuum lost |\n"
                        "\n## Check\n\nRun `uptime`.\n")
    assert not any(s.kind in (StepKind.MANUAL, StepKind.DECIDE) for s in plan.steps)


# -- known problems: Symptom / Cause / Action ----------------------------------------------------


def test_a_symptom_guards_its_action_up_to_the_next_symptom():
    # "**Symptom:** ... **Cause:** ... **Action:** Roll back ...": the symptoms were context,
    # so the rollback and the poll-interval change ran one after the other
    plan = compile_file("symptom-cause-action.md")
    undo = step_running(plan, ["kubectl", "-n", "orders", "rollout", "undo",
                               "deploy/orders-consumer"])
    env = step_running(plan, ["kubectl", "-n", "orders", "set", "env", "deploy/orders-consumer",
                              "MAX_POLL_INTERVAL_MS=600000"])
    assert guards_of(plan, undo) == ["Consumer lag grows on every partition"]
    assert guards_of(plan, env) == ["The group rebalances every few seconds"]
    assert gated(plan, undo) and gated(plan, env)
    plan = compile_text("## Fix\n\nProblem: The disk is full. Fix: clean it:\n\n```bash\n"
                        "sudo journalctl --vacuum-size=1G\n```\n\n## Next\n\nRun `uptime`.\n")
    vacuum = step_running(plan, ["sudo", "journalctl", "--vacuum-size=1G"])
    assert guards_of(plan, vacuum) == ["The disk is full"]
    assert guards_of(plan, step_running(plan, ["uptime"])) != ["The disk is full"]


def test_an_action_that_escalates_ends_its_case_after_its_steps():
    # "Action: Find the stuck offset, then escalate to the orders team": the escalation was
    # the whole run's last word, decided after every case
    plan = compile_file("symptom-cause-action.md")
    (end,) = [s for s in ends_with(plan, "escalate") if "orders team" in (s.text or "")]
    describe = [s.id for s in runs(plan) if "--describe" in str(s.params)][0]
    assert guards_of(plan, describe) == ["Lag grows on one partition only"]
    assert any(e.source == describe for _, e in plan.incoming(end.id))


def test_prose_that_opens_with_problem_or_issue_is_no_case():
    plan = compile_text("## Fix\n\nIssue: none known. Restart it:\n\n```bash\n"
                        "sudo systemctl restart nginx\n```\n")
    assert guards_of(plan, step_running(plan, ["sudo", "systemctl", "restart", "nginx"])) == []


# -- retry loops ---------------------------------------------------------------------------------


def test_a_list_step_that_escalates_when_the_retries_fail_ends_the_run_escalated():
    # "3. If it still fails after two retries, escalate to controls engineering.": a
    # person's step, after which the run ended `resolved`
    plan = compile_file("fault-code-table.md")
    (end,) = [s for s in ends_with(plan, "escalate") if "controls engineering" in (s.text or "")]
    assert guards_of(plan, end.id) == ["If it still fails after two retries"]
    assert not any(s.kind == StepKind.MANUAL and "controls engineering" in (s.text or "")
                   for s in plan.steps)
    for item in ("- If nothing helps, escalate to the web team.",
                 "2. If the issue persists, escalate to the web team."):
        plan = compile_text(f"## Fix\n\n1. Restart: `sudo systemctl restart nginx`\n{item}\n")
        (end,) = [s for s in ends_with(plan, "escalate") if "web team" in (s.text or "")]
        assert len(guards_of(plan, end.id)) == 1, item
        assert not any(s.kind == StepKind.MANUAL for s in plan.steps), item


def test_a_fallback_escalation_mid_list_decides_before_the_steps_after_it():
    plan = compile_text("## Fix\n\n1. Restart: `sudo systemctl restart nginx`\n"
                        "2. If the issue persists, escalate to the web team.\n"
                        "3. Check it: `systemctl is-active nginx`\n")
    check = step_running(plan, ["systemctl", "is-active", "nginx"])
    assert guards_of(plan, check) == ["Otherwise (not: If the issue persists)"]


# -- checkpoints and stops under a step ----------------------------------------------------------


def test_a_stop_in_a_steps_next_paragraph_stops_after_the_step():
    # "4) Verify from outside: `curl ...`" over "Stop if the served certificate still expires
    # in 2026.": the curl ran only if the certificate was old, and nothing stopped the run
    plan = compile_file("paren-numbering.md")
    curl = step_running(plan, ["curl", "-sv", "https://api.example.com/healthz"])
    assert guards_of(plan, curl) == []
    (stop,) = [s for s in ends_with(plan, "escalate") if (s.text or "").startswith("Stop if")]
    assert guards_of(plan, stop.id) == ["Stop if the served certificate still expires in 2026"]
    (close,) = [s for s in plan.steps if s.kind == StepKind.MANUAL and
                "Close the change ticket" in (s.text or "")]
    assert guards_of(plan, close.id) == [
        "Otherwise (not: Stop if the served certificate still expires in 2026)"]
    for stop_words in ("Abort if any axis reports `HOMING_FAILED`.",
                       "Do not continue unless every axis reports `HOMED`."):
        plan = compile_text(f"## Fix\n\nRe-home the axes: `sudo systemctl restart homing`\n"
                            f"{stop_words}\n\nRun `uptime`.\n")
        restart = step_running(plan, ["sudo", "systemctl", "restart", "homing"])
        assert guards_of(plan, restart) == [], stop_words
        assert len(ends_with(plan, "escalate")) >= 2, stop_words
        assert guards_of(plan, step_running(plan, ["uptime"])) != [], stop_words


def test_a_checkpoint_is_a_persons_step_in_its_place():
    # "**Checkpoint:** the current certificate expires within 30 days.": context for a
    # reader, the check lost
    plan = compile_file("paren-numbering.md")
    (check,) = [s for s in plan.steps if s.kind == StepKind.MANUAL and
                (s.text or "").startswith("Checkpoint: the current certificate")]
    ids = [s.id for s in plan.steps]
    get = [s.id for s in runs(plan) if "jsonpath" in str(s.params)][0]
    apply = step_running(plan, ["kubectl", "-n", "gateway", "apply", "-f",
                                "gateway-tls-2027.yaml"])
    assert ids.index(get) < ids.index(check.id) < ids.index(apply)
    plan = compile_text("## Fix\n\nApply it:\n\n```bash\nkubectl apply -f x.yaml\n```\n\n"
                        "Expected result: every pod is Ready.\n")
    assert [s.text for s in plan.steps if s.kind == StepKind.MANUAL] == \
        ["Expected result: every pod is Ready."]
    plan = compile_text("## Fix\n\nCheckpoint:\n\n```bash\nkubectl get pods\n```\n")
    assert not any(s.kind == StepKind.MANUAL for s in plan.steps)


# -- every new style, whole ----------------------------------------------------------------------


def test_every_new_style_gates_its_changes_and_accounts_for_every_line():
    assert_gated_and_accounted(NEW)


def test_sample_output_and_diagrams_in_the_new_styles_are_never_run():
    for name, sample in (("jira-wiki-markup.md", "unassigned_shards"),
                         ("mermaid-flowchart.md", "Escalate to networking")):
        plan = compile_file(name)
        assert not any(sample in str(s.params) for s in runs(plan)), name
        assert not any(sample in script for script in manual_scripts(plan)), name
