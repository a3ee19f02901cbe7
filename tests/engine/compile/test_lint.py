"""The guide linter: each rule fires where it should, at the right line, and not on a near miss."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.compile.lint import (
    RULES,
    Finding,
    exit_code,
    format_json,
    format_text,
    lint_guide,
    lint_path,
)
from engine.guide import parse_guide
from engine.plan import Edge, Plan, SourceInfo, Span, Step, StepKind
from tests.support import corpora

FIXTURES = Path(__file__).parents[2] / "fixtures" / "guides" / "lint"
CORPUS = corpora.CORPUS


def fired(text: str, rule: str) -> list[int]:
    """Lines at which `rule` fires on the guide `text`."""
    guide = parse_guide(text, path="g.md")
    return [f.line for f in lint_guide(guide) if f.rule == rule]


RUNBOOK = "# Alert\n\n## Meaning\n\nSomething broke.\n\n## Diagnosis\n\n{body}\n"
"""A body of steps inside an otherwise clean alert runbook: line 9 is the body's first line."""


def runbook(body: str) -> str:
    return RUNBOOK.format(body=body) + "\n## Mitigation\n\nThe alert clears; else escalate.\n"


# a session on the node left open in Diagnosis, its Mitigation typed after it (MF210)
CARRIED = (Path(__file__).resolve().parents[2] / "fixtures" / "sessions" / "ssh-left-open.md"
           ).read_text(encoding="utf-8")


# (rule, guide text where it fires, the lines, a near miss where it must not fire)
CASES = [
    ("MF101",
     runbook("1. If the CPU usage is high, restart the pod."),
     [9],
     runbook("1. If the CPU usage is above 90% for 5m, restart the pod.")),
    ("MF102",
     runbook("1. Look at `kubectl get pods`.\n2. It should be restarted by hand."),
     [10],
     runbook("1. Look at `kubectl get pods`.\n2. The pod should be restarted by hand.")),
    ("MF103",
     runbook("1. The pod status should be checked."),
     [9],
     runbook("1. The pod status should be checked with `kubectl get pods`.")),
    ("MF104",
     runbook("1. Check the dashboard."),
     [9],
     runbook("1. Check the dashboard for a drop in requests per second.")),
    ("MF201",
     runbook("1. Run `kubectl get pods`.\n2. If the pod is Pending."),
     [10],
     runbook("1. Run `kubectl get pods`.\n2. If the pod is Pending, describe it.")),
    ("MF202",
     RUNBOOK.format(body="1. Run `kubectl get pods`.") + "\n## Mitigation\n\nRestart it.\n",
     [11],
     RUNBOOK.format(body="1. Run `kubectl get pods`.")
     + "\n## Mitigation\n\nRestart it. The alert clears within 10 minutes.\n"),
    ("MF203",
     runbook("1. Run `kubectl get pods`.\n2. If it is down, go to [fix](#mitigaton)."),
     [10],
     runbook("1. Run `kubectl get pods`.\n2. If it is down, go to [fix](#mitigation).")),
    ("MF203",
     runbook("1. Run `kubectl get pods`.\n2. If all are Running, skip to step 5."),
     [10],
     runbook("1. Run `kubectl get pods`.\n2. If all are Running, skip to step 3.\n3. Done.")),
    ("MF203",
     runbook("1. Run `kubectl get pods`.\n2. If all are Running, skip to the Remediation section."),
     [10],
     runbook("1. Run `kubectl get pods`.\n2. If all are Running, skip to the Mitigation section.")),
    ("MF206",  # (guards) a condition naming a step the guide does not have
     runbook("1. Check the disk {#disk}: `df -h`.\n2. If it is full (`steps.dsk.stdout | "
             "int > 90`), escalate."),
     [10],
     runbook("1. Check the disk {#disk}: `df -h`.\n2. If it is full (`steps.disk.stdout | "
             "int > 90`), escalate.")),
    ("MF208",  # a condition reads a command that hides its own failure
     runbook("1. Look for errors:\n\n   ```bash\n   grep error /var/log/app.log || true\n"
             "   ```\n\n   If nothing is returned, no action is needed."),
     [12],
     runbook("1. Look for errors:\n\n   ```bash\n   grep error /var/log/app.log\n"
             "   ```\n\n   If nothing is returned, no action is needed.")),
    ("MF209",  # a jump back: a person repeats the steps (a plan has no loops)
     runbook("1. Run `kubectl get pods`.\n2. If one is Pending, go back to step 1."),
     [10],
     runbook("1. Run `kubectl get pods`.\n2. If one is Pending, go to step 3.\n3. Done.")),
    ("MF210",  # a later section's line after a session on the node left open: where?
     CARRIED, [17],
     CARRIED.replace("1. Check the kubelet", "1. From your laptop, check the kubelet")),
    ("MF211",  # a line at another machine's prompt: a person types it there
     runbook("1. Restart it:\n\n   ```console\n   [root@db-17 ~]# systemctl restart pg\n"
             "   ```"),
     [12],
     runbook("1. Restart it:\n\n   ```console\n   $ ssh db-17 -- systemctl restart pg\n"
             "   ```")),
    ("MF304",  # a path input with no roots reaches a deletion: an alert could aim it anywhere
     "---\ninputs:\n  - name: dir\n    type: path\n---\n"
     + runbook("1. Clean up:\n\n   ```bash\n   find \"$DIR\" -mtime +7 -delete\n   ```"),
     [17],
     "---\ninputs:\n  - name: dir\n    type: path\n    roots: [/var/tmp]\n---\n"
     + runbook("1. Clean up:\n\n   ```bash\n   find \"$DIR\" -mtime +7 -delete\n   ```")),
    ("MF304",  # read-only use of an unconfined path is not flagged
     "---\ninputs:\n  - name: dir\n    type: path\n---\n"
     + runbook("1. Clean up:\n\n   ```bash\n   rm -r \"$DIR\"\n   ```"),
     [17],
     "---\ninputs:\n  - name: dir\n    type: path\n---\n"
     + runbook("1. Size:\n\n   ```bash\n   du -sm \"$DIR\"\n   ```")),
    ("MF305",  # a password written into a command: the plan would hold it
     runbook("1. Count the sessions:\n\n   ```bash\n   PGPASSWORD=Zq7plantX psql -h db -c "
             "'select 1'\n   ```"),
     [12],
     runbook("1. Count the sessions:\n\n   ```bash\n   PGPASSWORD=$DB_PASSWORD psql -h db -c "
             "'select 1'\n   ```")),
    ("MF204",
     "# A\n\n## Meaning\n\nx\n\n## Mitigation\n\nRestart; the alert clears.\n\n## Diagnosis\n\n"
     "Run `kubectl get pods`.\n",
     [7],
     "# A\n\n## Meaning\n\nx\n\n## Diagnosis\n\nRun `kubectl get pods`.\n\n## Mitigation\n\n"
     "Restart; the alert clears.\n"),
    ("MF301",
     runbook("1. List pods:\n\n   ```bash\n   kubectl -n $NAMESPACE get pods\n   ```"),
     [12],
     runbook("1. Set `NAMESPACE`:\n\n   ```bash\n   export NAMESPACE=kubevirt\n   "
             "kubectl -n $NAMESPACE get pods\n   ```")),
    ("MF301",
     runbook("1. Logs:\n\n   ```bash\n   kubectl logs <pod-name>\n   ```"),
     [12],
     runbook("1. Logs, where `<pod-name>` is the pod from step 1:\n\n   ```bash\n"
             "   kubectl logs <pod-name>\n   ```")),
    ("MF302",
     runbook("- Run `kubectl -n $NAMESPACE get pods`."),
     [9],
     runbook("- Run `kubectl -n $NAMESPACE get pods`, NAMESPACE being the alert's namespace.")),
    ("MF303",
     runbook("1. Find it:\n\n   ```bash\n   export POD=$(kubectl get pods -o name)\n   "
             "kubectl get nodes\n   ```"),
     [12],
     runbook("1. Find it:\n\n   ```bash\n   export POD=$(kubectl get pods -o name)\n   "
             "kubectl logs $POD\n   ```")),
    ("MF401",
     runbook("1. List pods:\n\n   ```\n   kubectl get pods -A\n   ```"),
     [11],
     runbook("1. List pods:\n\n   ```bash\n   kubectl get pods -A\n   ```")),
    ("MF402",
     runbook("1. Restarts:\n\n   ```promql\n   rate(restarts_total[5m])\n   ```"),
     [11],
     runbook("1. In Thanos, restarts:\n\n   ```promql\n   rate(restarts_total[5m])\n   ```")),
    ("MF403",
     runbook("1. Logs:\n\n   ```bash\n   kubectl logs virt-handler-7x9kq\n   ```"),
     [12],
     runbook("1. Logs:\n\n   ```bash\n   kubectl logs -l kubevirt.io=virt-handler --since=5m\n"
             "   ```")),
    ("MF403",
     runbook("1. Ping:\n\n   ```bash\n   ping -c 3 10.45.2.8\n   ```"),
     [12],
     runbook("1. Ping:\n\n   ```bash\n   ping -c 3 127.0.0.1\n   ```")),
    ("MF403",  # a host in an alert's runbook is the one that fired; in a how-to it is fixed
     runbook("1. Log in:\n\n   ```bash\n   ssh web-03-sv-gprd.c.prod.internal\n   ```"),
     [12],
     "# Deploy how-to\n\n## Steps\n\n```bash\nssh web-03-sv-gprd.c.prod.internal\n```\n"),
    ("MF404",
     runbook("1. Restart:\n\n   ```bash\n   kubectl delete pod -l app=web\n   ```"),
     [12],
     runbook("1. Restart (warning: drops live connections):\n\n   ```bash\n"
             "   kubectl delete pod -l app=web\n   ```")),
    ("MF405",  # a read that writes a file: gated, and the linter says why
     runbook("1. List old files:\n\n   ```bash\n   find /srv -mtime +7 -fprint /tmp/old\n"
             "   ```"),
     [12],
     runbook("1. List old files:\n\n   ```bash\n   find /srv -mtime +7 -print\n   ```")),
    ("MF405",
     runbook("1. Sessions:\n\n   ```sql\n   SELECT pg_terminate_backend(pid) FROM "
             "pg_stat_activity;\n   ```"),
     [12],
     runbook("1. Sessions:\n\n   ```sql\n   SELECT pid FROM pg_stat_activity;\n   ```")),
    ("MF406",  # a query Prometheus would refuse: found before the run, not at 3 a.m.
     runbook("1. In Prometheus, the error rate:\n\n   ```promql\n   sum(rate(http_errors_total"
             "{service=\"$SERVICE\"}[$WINDOW]) by (\n   ```"),
     [11],
     runbook("1. In Prometheus, the error rate:\n\n   ```promql\n   sum(rate(http_errors_total"
             "{service=\"$SERVICE\"}[$WINDOW])) by (pod) > $LIMIT\n   ```")),
    ("MF406",  # a fence closed with two backticks: the prose under it became the query
     runbook("1. In Prometheus:\n\n   ```promql\n   rate(cpu_seconds_total[2m])\n   ``\n"
             "   If it is over 90%, drain the node."),
     [11],
     runbook("1. In Prometheus:\n\n   ```promql\n   rate(cpu_seconds_total[2m])\n   ```\n"
             "   If it is over 90%, drain the node.")),
    ("MF501",
     "## Diagnosis\n\nRun `kubectl get pods`.\n",
     [1],
     "---\ntitle: Pods\n---\n\n## Diagnosis\n\nRun `kubectl get pods`.\n"),
    ("MF502",
     "# A\n\n#### Deep\n\nx\n",
     [3],
     "# A\n\n## Less deep\n\nx\n"),
    ("MF503",
     "# A\n\n## Meaning\n\nx\n\n## Diagnosis\n\nRun `kubectl get pods`.\n",
     [1],
     "# A\n\n## Overview\n\nx\n\n## Diagnosis\n\nRun `kubectl get pods`.\n"),
    ("MF504",
     runbook("1. Read this.\n" + "   More words here.\n" * 30),
     [9],
     runbook("1. Read this.\n" + "   More words here.\n" * 10)),
    ("MF505",
     runbook("Logs look like:\n\n```\n2024-05-01T10:00:00Z ERROR crashed\n```"),
     [11],
     runbook("Logs look like:\n\n```text\n2024-05-01T10:00:00Z ERROR crashed\n```")),
    ("MF506",
     runbook("1. Run `kubectl get pods`.\n\n<!-- TODO finish"),
     [11],
     runbook("1. Run `kubectl get pods`.\n\n<!-- TODO finish -->")),
    ("MF507",
     runbook("1. Check:\n\n   ```bash\n   kubectl get pods"),
     [11],
     runbook("1. Check:\n\n   ```bash\n   kubectl get pods\n   ```")),
    ("MF509",
     runbook("1. Check:\n\n   ```\n   kubectl get pods\n   ```"),
     [11],
     runbook("1. Check:\n\n   ```bash\n   kubectl get pods\n   ```")),
    ("MF510",
     runbook("1. Ask the camera:\n\n   ```detect\n   detector: vlm_judge\n"
             "   image: cell.png\n   questoin: Did it fail?\n   ```"),
     [11],
     runbook("1. Ask the camera:\n\n   ```detect\n   detector: vlm_judge\n"
             "   image: cell.png\n   question: Did it fail?\n   ```")),
    ("MF508",
     "---\ntitle: Index\n---\n\n",
     [4],
     "---\ntitle: Index\n---\n# Index\n"),
]


@pytest.mark.parametrize(("rule", "bad", "lines", "near_miss"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_rule_fires_at_its_line_and_not_on_the_near_miss(rule, bad, lines, near_miss):
    assert fired(bad, rule) == lines
    assert fired(near_miss, rule) == []


def test_every_rule_is_documented_and_exercised():
    # MF000, MF001, MF205: tests below; MF207 (links to files): tests/engine/compile/test_calls.py
    # MF601 (run history, not the text): tests/engine/learn/test_learning_runs.py
    exercised = {c[0] for c in CASES} | {"MF000", "MF001", "MF205", "MF207", "MF601"}
    assert set(RULES) == exercised
    assert all(r.severity in ("error", "warning", "info") and r.description for r in RULES.values())


def test_a_clean_runbook_has_no_findings():
    assert lint_path(FIXTURES / "good.md") == []


def test_the_gated_read_finding_gives_the_tables_reason():
    found = [f for f in lint_guide(parse_guide(runbook(
        "1. Sort:\n\n   ```bash\n   sort -o /tmp/sorted /var/log/x\n   ```"), path="g.md"))
             if f.rule == "MF405"]
    assert [f.message for f in found] == [
        "`sort -o /tmp/sorted /var/log/x`: sort's -o writes a file: this step needs an approval"]


def test_a_bad_guide_reports_each_problem_where_it_is():
    findings = lint_path(FIXTURES / "bad.md")
    assert [(f.line, f.rule) for f in findings] == [
        (1, "MF501"), (7, "MF202"), (7, "MF204"), (12, "MF301"), (12, "MF404"),
        (17, "MF101"), (17, "MF203"), (18, "MF104"), (19, "MF103"), (22, "MF401"),
        (22, "MF509"), (23, "MF403"), (28, "MF402"), (29, "MF403"), (32, "MF502"), (34, "MF505"),
    ]
    jump = next(f for f in findings if f.rule == "MF203")
    assert jump.severity == "error" and "#mitigation" in jump.suggestion
    assert exit_code(findings) == 1


def test_only_execution_breaking_rules_are_errors():
    errors = {rid for rid, r in RULES.items() if r.severity == "error"}
    # MF001: what compile refuses; MF206: a condition reading what does not exist; MF510: a
    # plugin block whose parameters the plugin refuses (the step fails when it runs)
    assert errors == {"MF000", "MF001", "MF203", "MF206", "MF301", "MF506", "MF510"}


def test_unreadable_guides_become_one_error_finding_and_never_raise(tmp_path):
    # A fence never closed reads as CommonMark says (to the end of the guide): compile takes
    # it, and lint warns at the fence.
    fence = [f for f in lint_path(FIXTURES / "unterminated-fence.md") if f.rule == "MF507"]
    assert [(f.rule, f.severity, f.line) for f in fence] == [("MF507", "warning", 7)]
    assert "closing ```" in fence[0].suggestion
    missing = lint_path(tmp_path / "nope.md")
    assert [(f.rule, f.file) for f in missing] == [("MF000", (tmp_path / "nope.md").as_posix())]
    assert [f.rule for f in lint_path(tmp_path)] == ["MF000"]
    assert [f.rule for f in lint_path(FIXTURES / "unterminated-comment.md")] == ["MF506"]


def _plan(guide_path: str) -> Plan:
    def step(sid: str, start: int, end: int) -> Step:
        return Step(id=sid, title=sid, kind=StepKind.MANUAL, source=Span(start=start, end=end))

    return Plan(
        id="g", title="g", compiler="test/1", source=SourceInfo(path=guide_path, sha256="0" * 64),
        entry="diag-1", steps=[step("diag-1", 9, 9), step("diag-2", 10, 13),
                               step("orphan", 16, 16)],
        edges=[Edge(source="diag-1", target="diag-2")],
    )


def test_with_a_plan_unreachable_steps_are_reported_and_findings_name_their_step():
    # Given a plan whose 'orphan' step has no incoming edge, and a finding inside 'diag-2'
    text = runbook("1. Run `kubectl get pods`.\n2. Logs:\n\n   ```\n   kubectl logs -l app=x\n"
                   "   ```")
    findings = lint_guide(parse_guide(text, path="g.md"), plan=_plan("g.md"))
    by_rule = {f.rule: f for f in findings}
    assert (by_rule["MF205"].line, by_rule["MF205"].step) == (16, "orphan")
    assert by_rule["MF401"].step == "diag-2"
    # Without a plan, nothing is said about reachability and no step is named
    plain = lint_guide(parse_guide(text, path="g.md"))
    assert "MF205" not in {f.rule for f in plain}
    assert all(f.step is None for f in plain)


def test_text_format_says_where_what_and_what_to_do():
    f = Finding(rule="MF101", category="clarity", severity="warning", file="g.md", line=9,
                message="vague", suggestion="say a number", step="diag-1")
    assert format_text([f]) == ("g.md:9: [step diag-1] warning MF101 [clarity] vague\n"
                                "    suggestion: say a number\n")


def test_json_format_round_trips_and_is_deterministic():
    findings = lint_path(FIXTURES / "bad.md")
    text = format_json(findings)
    assert [Finding.model_validate(d) for d in json.loads(text)] == findings
    assert format_json(list(reversed(findings))) == text


def test_exit_code_is_one_only_with_errors():
    warn = Finding(rule="MF101", category="clarity", severity="warning", file="g", line=1,
                   message="m", suggestion="s")
    assert exit_code([]) == 0
    assert exit_code([warn]) == 0
    assert exit_code([warn, warn.model_copy(update={"severity": "error"})]) == 1


@pytest.mark.slow
@corpora.needs(CORPUS, corpora.CORPUS2)
def test_whole_corpus_lints_without_raising_and_deterministically():
    paths = corpora.guides(CORPUS) + corpora.guides(corpora.CORPUS2)
    assert len(paths) > 800
    first = [f for p in paths for f in lint_path(p)]
    again = [f for p in paths for f in lint_path(p)]
    assert format_json(first) == format_json(again)
    assert {f.rule for f in first} <= set(RULES)
    for p in paths[:50]:
        findings = [f for f in lint_path(p) if f.rule != "MF001"]  # MF001 comes first
        assert findings == sorted(findings, key=lambda f: (f.line, f.rule, f.message))


def test_an_untagged_block_typed_at_prompts_is_no_ambiguous_call():
    """`er1.fra# rollback 1` over `er1.fra# commit`: the prompts say what is typed (a router's
    lines, a person's there); "tag it ```bash" was wrong advice, tagged or not."""
    back_out = runbook("1. Back out:\n\n   ```\n   er1.fra# rollback 1\n   er1.fra# commit\n"
                       "   ```")
    assert fired(back_out, "MF509") == []
    assert fired(runbook("1. Check:\n\n   ```\n   $ kubectl get pods\n   ```"), "MF509") == []
    assert fired(runbook("1. Check:\n\n   ```\n   kubectl get pods\n   ```"), "MF509") == [11]
