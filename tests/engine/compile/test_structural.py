"""The structural compiler on small guides: steps, branches, jumps, inputs, approvals, ends."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.compile import compile_guide, compile_many, compile_path, parallel_groups
from engine.errors import MendflowError, ValidationError
from engine.guide import parse_guide
from engine.plan import Plan, StepKind

PLUGINS = {"shell", "bash", "prometheus", "sql", "http", "logs"}
FIXTURES = Path(__file__).parents[2] / "fixtures" / "guides" / "compile"


def compile_text(text: str, path: str = "guide.md") -> Plan:
    return compile_guide(parse_guide(text, path=path), known_plugins=PLUGINS)


def argvs(plan: Plan) -> dict[str, list[list[str]]]:
    return {s.id: s.params["pipeline"] for s in plan.steps if s.plugin == "shell"}


def edge(plan: Plan, source: str, target: str):
    found = [e for e in plan.edges if e.source == source and e.target == target]
    assert found, f"no edge {source} -> {target}"
    return found[0]


def test_numbered_steps_become_steps_in_source_order_with_auto_numbering():
    plan = compile_text("# T\n\n## Diagnosis\n\n1. Check the nodes:\n\n   ```bash\n   kubectl "
                        "get nodes\n   ```\n\n1. Check the pods:\n\n   ```bash\n   kubectl get "
                        "pods -A\n   ```\n")
    commands = [s for s in plan.steps if s.kind == StepKind.COMMAND]
    assert [s.id for s in commands] == ["diag-1-check-nodes", "diag-2-check-pods"]
    assert commands[0].source.start == 8
    # Two independent checks: a no-op `start` entry lets both run at once
    assert plan.entry == "start"
    assert {e.target for e in plan.edges if e.source == "start"} == {s.id for s in commands}
    assert plan.compiler == "structural/1"


def test_kubevirt_code_block_after_an_item_belongs_to_it_and_lists_continue():
    # Given code indented 2 spaces under "1. ...": it ends the list and the next list restarts at 1
    text = ("# T\n\n## Diagnosis\n\n1. Check the default storage class:\n\n  ```bash\n  $ kubectl "
            "get sc\n  ```\n\n2. Check the virt storage class:\n\n  ```bash\n  $ kubectl get sc "
            "-o name\n  ```\n")
    plan = compile_text(text)
    commands = [s for s in plan.steps if s.kind == StepKind.COMMAND]
    assert [s.id for s in commands] == ["diag-1-check-default-storage-class",
                                        "diag-2-check-virt-storage-class"]
    assert commands[1].params["pipeline"] == [["kubectl", "get", "sc", "-o", "name"]]


def test_prompts_stripped_continuations_joined_and_console_output_dropped():
    text = ("# T\n\n## Diagnosis\n\n```console\n$ kubectl -n ns get pods \\\n    -l app=web\n"
            "NAME   READY   STATUS\nweb-1  1/1     Running\n```\n")
    plan = compile_text(text)
    assert list(argvs(plan).values()) == [[["kubectl", "-n", "ns", "get", "pods", "-l",
                                            "app=web"]]]


def test_sample_output_and_configuration_never_become_steps():
    text = ("# T\n\n## Diagnosis\n\n```\n2024-01-01T10:00:00Z ERROR connection refused\n"
            "2024-01-01T10:00:01Z ERROR connection refused\n```\n\n```yaml\napiVersion: v1\n"
            "kind: Pod\n```\n\n```\nNAME    READY   STATUS\n"
            "web-1   0/1     CrashLoopBackOff\n```\n")
    plan = compile_text(text)
    assert not [s for s in plan.steps if s.kind in (StepKind.COMMAND, StepKind.QUERY)]


def test_untagged_block_with_known_cli_is_a_command():
    plan = compile_text("# T\n\n## Diagnosis\n\n```\nsudo gitlab-ctl status\n```\n")
    assert list(argvs(plan).values()) == [[["sudo", "gitlab-ctl", "status"]]]
    assert not plan.steps[0].mutating


def test_language_tag_chooses_the_plugin():
    text = ("# T\n\n## Diagnosis\n\n```promql\nrate(http_errors_total[5m])\n```\n\n```sql\n"
            "SELECT count(*) FROM jobs;\n```\n")
    plan = compile_text(text)
    queries = [s for s in plan.steps if s.kind == StepKind.QUERY]
    assert [(q.plugin, q.params["query"]) for q in queries] == [
        ("prometheus", "rate(http_errors_total[5m])"), ("sql", "SELECT count(*) FROM jobs;")]


def test_sql_write_is_mutating_gated_and_marked_as_a_write_for_the_plugin():
    plan = compile_text("# T\n\n## Mitigation\n\n```sql\nUPDATE jobs SET state = 'retry';\n```\n")
    step = next(s for s in plan.steps if s.plugin == "sql")
    assert (step.kind, step.mutating) == (StepKind.COMMAND, True)
    assert step.params == {"query": "UPDATE jobs SET state = 'retry';", "read_only": False}
    assert plan.step(plan.incoming(step.id)[0][1].source).kind == StepKind.APPROVE


def test_pipes_become_stages_and_and_and_become_sequential_steps():
    plan = compile_text("# T\n\n## Diagnosis\n\n```bash\nps aux | grep nginx && df -h\n```\n")
    steps = argvs(plan)
    assert list(steps.values()) == [[["ps", "aux"], ["grep", "nginx"]], [["df", "-h"]]]
    first, second = steps
    assert edge(plan, first, second).kind == "next"
    assert parallel_groups(plan) == []  # one line: sequential, never concurrent


@pytest.mark.parametrize("line, reason, reads", [
    ("for p in $(kubectl get pods -o name); do echo $p; done", "loop", True),
    ("kubectl logs web > /tmp/web.log", "redirection", False),
    ("kubectl get pods || echo none", "or", True),
    ("kubectl delete pod $(kubectl get pods -o name | head -1)", "substitution in argument", False),
])
def test_what_needs_a_shell_runs_verbatim_in_bash_never_as_argv(line, reason, reads):
    plan = compile_text(f"# T\n\n## Mitigation\n\n```bash\n{line}\n```\n")
    bash = [s for s in plan.steps if s.plugin == "bash"]
    assert [s.params["script"] for s in bash] == [line], reason
    assert bash[0].mutating is not reads
    assert not argvs(plan), "nothing that needs a shell is ever split into argv"


@pytest.mark.parametrize("line, reason", [
    ("sleep 10 &", "background"),
    ("cat > /etc/x.conf <<EOF\napiVersion: v1\nEOF", "a heredoc that writes a file"),
])
def test_what_no_step_can_run_becomes_a_manual_step_carrying_the_script(line, reason):
    plan = compile_text(f"# T\n\n## Mitigation\n\n```bash\n{line}\n```\n")
    manual = [s for s in plan.steps if s.kind == StepKind.MANUAL]
    assert len(manual) == 1, reason
    assert manual[0].params["script"].startswith(line.split("\n")[0].split(" ")[0])
    assert not argvs(plan) and not any(s.plugin == "bash" for s in plan.steps)


def test_ssh_with_a_quoted_remote_command_is_plain_argv():
    plan = compile_text("# T\n\n## Diagnosis\n\n```bash\nssh db1 'df -h; uptime'\n```\n")
    assert list(argvs(plan).values()) == [[["ssh", "db1", "df -h; uptime"]]]
    assert not plan.steps[0].mutating


def test_export_from_command_binds_a_var_that_later_steps_read():
    text = ("# T\n\n## Diagnosis\n\n1. Set the namespace:\n\n   ```bash\n   $ export NAMESPACE="
            "\"$(kubectl get kubevirt -A -o custom-columns=\"\":.metadata.namespace)\"\n   ```\n\n"
            "2. Check it:\n\n   ```bash\n   $ kubectl -n $NAMESPACE get pods\n   ```\n")
    plan = compile_text(text)
    bind = plan.step("diag-1-set-namespace")
    assert bind.params["pipeline"] == [["kubectl", "get", "kubevirt", "-A", "-o",
                                        "custom-columns=:.metadata.namespace"]]
    assert bind.binds == {"vars.NAMESPACE": "result.stdout | trim"}
    assert bind.writes == ["steps.diag-1-set-namespace", "vars.NAMESPACE"]
    assert plan.step("diag-2-check").params["pipeline"][0][2] == "{{ vars.NAMESPACE }}"
    assert edge(plan, "diag-1-set-namespace", "diag-2-check")
    assert plan.inputs == []


def test_variables_and_placeholders_become_declared_inputs():
    text = ("# T\n\n## Diagnosis\n\n- Check the pod via `kubectl -n $NAMESPACE get pod ${POD}`.\n"
            "- Check the volume via `kubectl get pvc <pvc-name> -n $NAMESPACE`.\n")
    plan = compile_text(text)
    assert [i.name for i in plan.inputs] == ["namespace", "pod", "pvc_name"]
    assert all(i.required for i in plan.inputs)
    assert list(argvs(plan).values()) == [
        [["kubectl", "-n", "{{ inputs.namespace }}", "get", "pod", "{{ inputs.pod }}"]],
        [["kubectl", "get", "pvc", "{{ inputs.pvc_name }}", "-n", "{{ inputs.namespace }}"]]]


def test_export_of_a_literal_is_an_input_with_that_default():
    plan = compile_text("# T\n\n## Diagnosis\n\n```bash\nexport NS=kubevirt\nkubectl get pods "
                        "-n $NS\n```\n")
    assert [(i.name, i.default, i.required) for i in plan.inputs] == [("ns", "kubevirt", False)]


def test_alert_label_placeholder_is_a_typed_input_the_alert_fills():
    plan = compile_text("# T\n\n## Diagnosis\n\n```shell\n$ NODE=<instance label from alert>\n"
                        "$ kubectl describe node $NODE\n```\n")
    assert list(argvs(plan).values()) == [[["kubectl", "describe", "node",
                                            "{{ inputs.instance }}"]]]
    assert [(i.name, i.type, i.required) for i in plan.inputs] == [("instance", "name", True)]


def test_go_templates_survive_as_literal_text():
    plan = compile_text("# T\n\n## Diagnosis\n\n```bash\nkubectl get pods -o go-template="
                        "'{{range .items}}{{.metadata.name}}{{end}}'\n```\n")
    from engine.templating import render
    arg = plan.steps[0].params["pipeline"][0][-1]
    assert render(arg, {}) == "go-template={{range .items}}{{.metadata.name}}{{end}}"


@pytest.mark.parametrize("command, mutating", [
    ("kubectl get pods", False), ("kubectl -n ns describe pod x", False),
    ("kubectl delete pod x", True), ("kubectl -n ns rollout restart deploy/x", True),
    ("kubectl rollout status deploy/x", False), ("kubectl cordon node1", True),
    ("systemctl status nginx", False), ("systemctl restart nginx", True),
    ("virtctl migrate vm1", True), ("gitlab-ctl restart", True), ("gitlab-ctl status", False),
    ("rm -f /tmp/x", True), ("kill 1234", True), ("curl https://x/health", False),
    ("curl -X POST https://x/reset", True), ("sudo systemctl stop nginx", True),
    ("df -h", False), ("grep error /var/log/syslog", False), ("frobnicate --all", True),
])
def test_mutating_commands_are_recognised(command, mutating):
    plan = compile_text(f"# T\n\n## Mitigation\n\n```bash\n{command}\n```\n")
    step = next(s for s in plan.steps if s.kind == StepKind.COMMAND)
    assert step.mutating is mutating


def test_mutating_step_is_gated_by_an_approval_whose_denial_escalates():
    plan = compile_text("# T\n\n## Mitigation\n\n```bash\nkubectl delete pod web-1\n```\n")
    step = next(s for s in plan.steps if s.mutating)
    [(_, into)] = plan.incoming(step.id)
    gate = plan.step(into.source)
    assert gate.kind == StepKind.APPROVE and plan.entry == gate.id
    denial = [e for _, e in plan.outgoing(gate.id) if e.on == "failure"]
    assert [(e.kind, plan.step(e.target).outcome) for e in denial] == [("error", "escalate")]


def test_read_only_diagnostics_fan_out_and_join_but_a_var_reader_waits():
    text = ("# T\n\n## Diagnosis\n\n1. Set it:\n   ```bash\n   export NS=$(kubectl get ns -o name)"
            "\n   ```\n2. Nodes:\n   ```bash\n   kubectl get nodes\n   ```\n3. Pods:\n   ```bash\n"
            "   kubectl get pods -n $NS\n   ```\n4. Events:\n   ```bash\n   kubectl get events\n"
            "   ```\n")
    plan = compile_text(text)
    # Then events run beside pods; pods (reading NS) runs only after the step that binds NS
    assert parallel_groups(plan) == [["diag-1-set", "diag-2-nodes"],
                                     ["diag-3-pods", "diag-4-events"]]
    import networkx as nx

    from engine.compile.validate import graph
    assert "diag-1-set" in nx.ancestors(graph(plan), "diag-3-pods")


def test_mutating_steps_are_never_concurrent():
    plan = compile_text("# T\n\n## Mitigation\n\n1. First:\n   ```bash\n   kubectl delete pod a"
                        "\n   ```\n2. Second:\n   ```bash\n   kubectl delete pod b\n   ```\n")
    assert parallel_groups(plan) == []
    assert edge(plan, "mit-1-first", "approve-mit-2-second")


def test_if_otherwise_bullets_become_a_branch_and_its_else():
    plan = compile_path(FIXTURES / "if-otherwise.md", known_plugins=PLUGINS)
    decide = plan.step("if-pod-crashloopbackoff")
    assert decide.kind == StepKind.DECIDE
    branch = edge(plan, "if-pod-crashloopbackoff", "approve-mit-1-pod-crashloopbackoff")
    other = edge(plan, "if-pod-crashloopbackoff", "approve-mit-2-otherwise-restart-deployment")
    assert (branch.kind, branch.condition.text) == ("branch", "If the pod is in `CrashLoopBackOff`")
    assert branch.condition.expr is None  # a judgment
    assert other.kind == "else" and other.condition.text == "Otherwise"


def test_if_output_is_empty_derives_an_expression_over_the_previous_step():
    plan = compile_path(FIXTURES / "if-otherwise.md", known_plugins=PLUGINS)
    jump = edge(plan, "if-output-empty", "if-pod-crashloopbackoff")
    assert jump.kind == "jump"
    assert jump.condition.expr == '(steps["diag-2-describe"].stdout | trim) == ""'
    other = edge(plan, "if-output-empty", "diag-3-check-events-namespace")
    assert other.condition.expr == 'not ((steps["diag-2-describe"].stdout | trim) == "")'


def test_if_the_command_fails_is_a_failure_edge():
    plan = compile_text("# T\n\n## Diagnosis\n\n1. Check:\n   ```bash\n   kubectl get nodes\n"
                        "   ```\n2. If the command fails, check the API server:\n   ```bash\n"
                        "   kubectl get --raw /healthz\n   ```\n")
    e = edge(plan, "diag-1-check", "diag-2-fails-check-api-server")
    assert (e.on, e.kind) == ("failure", "branch")
    assert plan.step("diag-1-check").on_error == "fail"


def test_diagnosis_then_a_judgment_before_mitigation_else_no_action():
    plan = compile_path(FIXTURES / "calls.md", known_plugins=PLUGINS)
    gate = plan.step("if-diagnosis-found-cause-mitigation-address")
    outs = {e.target: e for _, e in plan.outgoing(gate.id)}
    assert plan.step("end-no-action").outcome == "no_action"
    assert outs["end-no-action"].kind == "else"
    assert outs["mit-1-restart-web"].condition.expr is None


def test_link_to_an_existing_guide_is_a_call_step_else_a_reference():
    plan = compile_path(FIXTURES / "calls.md", known_plugins=PLUGINS)
    call = plan.step("mit-1-restart-web")
    assert call.kind == StepKind.CALL and call.call == "other-guide"
    assert [r.target for r in plan.references] == ["missing-guide.md"]


def test_escalation_sentence_gives_a_resolved_or_escalate_ending():
    plan = compile_path(FIXTURES / "if-otherwise.md", known_plugins=PLUGINS)
    outs = {e.target: e for _, e in plan.outgoing("if-issue-resolved")}
    assert set(outs) == {"end-resolved", "end-escalate"}
    assert "open a support case" in outs["end-escalate"].condition.text


def test_meaning_and_impact_sections_run_nothing_that_changes_the_world():
    # Their commands are kept (tests/engine/compile/test_sections.py), as manual steps.
    plan = compile_text("# T\n\n## Meaning\n\nRun `kubectl delete pod x` to see.\n\n```bash\n"
                        "kubectl delete pod x\n```\n\n"
                        "## Diagnosis\n\n```bash\nkubectl get pods\n```\n")
    assert [s.kind for s in plan.steps if s.kind != StepKind.END] == \
        [StepKind.MANUAL, StepKind.MANUAL, StepKind.COMMAND]


def test_guide_without_actions_is_one_manual_step_then_no_action():
    plan = compile_path(FIXTURES / "prose-only.md", known_plugins=PLUGINS)
    assert [(s.id, s.kind) for s in plan.steps] == [("follow-guide", StepKind.MANUAL),
                                                   ("end-no-action", StepKind.END)]
    assert [r.target for r in plan.references] == ["https://example.com/arch"]


def test_jump_back_is_a_persons_repeat_step_not_a_loop_or_a_hang():
    # (the guide did not compile: "the plan loops"; see test_styles10 for the rule)
    plan = compile_path(FIXTURES / "cycle.md", known_plugins=PLUGINS)
    (repeat,) = [s for s in plan.steps if s.id.startswith("repeat-from-")]
    assert repeat.kind == StepKind.MANUAL and repeat.source.start == 17
    assert [e.source for e in plan.edges if e.target == repeat.id] == ["if-output-not-empty"]


def test_jump_to_a_misspelt_anchor_is_located_and_lists_the_headings():
    with pytest.raises(ValidationError) as exc:
        compile_path(FIXTURES / "missing-anchor.md", known_plugins=PLUGINS)
    assert exc.value.location.line == 11
    assert "#mitigaton" in exc.value.message and "#mitigation" in exc.value.hint


def test_jump_to_a_step_that_does_not_exist_is_located():
    with pytest.raises(ValidationError) as exc:
        compile_path(FIXTURES / "step-out-of-range.md", known_plugins=PLUGINS)
    assert exc.value.location.line == 9 and "step 9" in exc.value.message


def test_skip_the_next_step_jumps_over_it():
    text = ("# T\n\n## Diagnosis\n\n1. Check:\n   ```bash\n   kubectl get nodes\n   ```\n\n"
            "   If the output is empty, skip the next step.\n\n2. Pods:\n   ```bash\n   kubectl get"
            " pods\n   ```\n\n3. Events:\n   ```bash\n   kubectl get events\n   ```\n")
    plan = compile_text(text)
    jumps = [e for e in plan.edges if e.kind == "jump"]
    assert [(plan.step(e.source).kind, e.target) for e in jumps] == [
        (StepKind.DECIDE, "diag-3-events")]


def test_front_matter_sets_id_title_inputs_triggers_owners():
    text = ("---\nid: web-down\ntitle: Web is down\ntriggers: [{alert: WebDown}]\nowners: [sre]\n"
            "inputs: [{name: namespace, default: web}]\n---\n# X\n\n## Diagnosis\n\n```bash\n"
            "kubectl get pods -n $NAMESPACE\n```\n")
    plan = compile_text(text)
    assert (plan.id, plan.title, plan.owners) == ("web-down", "Web is down", ["sre"])
    assert [t.alert for t in plan.triggers] == ["WebDown"]
    assert [(i.name, i.default) for i in plan.inputs] == [("namespace", "web")]


def test_compiling_twice_gives_identical_bytes_and_source_hash():
    a = compile_path(FIXTURES / "if-otherwise.md", known_plugins=PLUGINS)
    b = compile_path(FIXTURES / "if-otherwise.md", known_plugins=PLUGINS)
    assert a.to_json() == b.to_json()
    assert a.source.sha256 == __import__("hashlib").sha256(
        (FIXTURES / "if-otherwise.md").read_bytes()).hexdigest()


def test_compile_many_reports_each_file_and_one_bad_file_never_stops_the_rest(tmp_path):
    (tmp_path / "good.md").write_text("# G\n\n```bash\nkubectl get pods\n```\n")
    (tmp_path / "bin.md").write_bytes(b"\x00\x01binary")
    (tmp_path / "open.md").write_text("---\ntitle: [unclosed\n---\n# O\n")
    results = compile_many([tmp_path], known_plugins=PLUGINS)
    assert [(Path(r.path).name, r.ok) for r in results] == [
        ("bin.md", False), ("good.md", True), ("open.md", False)]
    for r in results:
        if not r.ok:
            assert isinstance(r.error, MendflowError) and r.error.location.file
            assert r.error.location.line is not None


# -- authors' names, checkable conditions and endings --------------------------------------

def test_named_steps_take_their_names_and_a_duplicate_name_is_a_located_error():
    plan = compile_text("# T\n\n## Diagnosis\n\n1. Check disk {#disk}:\n   ```bash\n   df -h\n"
                        "   ```\n2. Check memory {#mem}:\n   ```bash\n   free -m\n   ```\n")
    assert {"disk", "mem"} <= {s.id for s in plan.steps}
    assert plan.step("disk").title == "Check disk"
    with pytest.raises(ValidationError) as err:
        compile_text("# T\n\n## Diagnosis\n\n1. A {#x}:\n   ```bash\n   df -h\n   ```\n"
                     "2. B {#x}:\n   ```bash\n   free -m\n   ```\n")
    assert err.value.location.line == 9 and "{#x}" in err.value.message


def test_an_inline_expression_makes_a_guard_deterministic_and_the_branch_ends_the_run():
    text = ("# T\n\n## Diagnosis\n\n1. Check disk {#disk}:\n   ```bash\n   df --output=pcent /\n"
            "   ```\n\n## Assessment\n\n1. If the disk is full (`steps.disk.stdout | numbers | "
            "max > 90`), escalate.\n2. Otherwise, no action is needed.\n")
    plan = compile_text(text)
    branch = next(e for e in plan.edges if e.kind == "branch")
    assert branch.condition.expr == "steps.disk.stdout | numbers | max > 90"
    assert plan.step(branch.target).outcome == "escalate"
    other = next(e for e in plan.edges if e.kind == "else" and e.source == branch.source)
    assert other.condition.expr == f"not ({branch.condition.expr})"
    assert plan.step(other.target).outcome == "no_action"
    assert not [s for s in plan.steps if s.kind == "manual"]  # no "escalate" chore for a person


def test_an_expression_over_unknown_roots_is_not_taken_for_a_condition():
    text = ("# T\n\n## Diagnosis\n\n1. Check disk {#disk}:\n   ```bash\n   df -h\n   ```\n\n"
            "## Assessment\n\n1. If `os.system('x') > 1`, escalate to the owner.\n")
    plan = compile_text(text)
    assert all(e.condition is None or e.condition.expr is None or "os." not in e.condition.expr
               for e in plan.edges)


def test_otherwise_in_the_same_item_ends_the_other_branch():
    text = ("# T\n\n## Mitigation\n\n1. Restart it:\n   ```bash\n   systemctl restart nginx\n"
            "   ```\n2. Check it {#after}:\n   ```bash\n   systemctl is-active nginx\n   ```\n"
            "3. If it is active (`steps.after.stdout | trim == 'active'`), the issue is "
            "mitigated. Otherwise, escalate to the web team.\n")
    plan = compile_text(text)
    decide = next(s for s in plan.steps if s.kind == "decide" and s.id.startswith("if-"))
    ends = {e.kind: plan.step(e.target).outcome for _, e in plan.outgoing(decide.id)}
    assert ends == {"branch": "mitigated", "else": "escalate"}


def test_a_guarded_mitigation_needs_no_extra_judgment_before_it():
    text = ("# T\n\n## Diagnosis\n\n1. Size {#size}:\n   ```bash\n   du -sm /tmp\n   ```\n\n"
            "## Mitigation\n\n1. If it is small (`steps.size.stdout | numbers | first < 10`), no "
            "action is needed.\n2. Otherwise, clean it:\n   ```bash\n   rm -rf /tmp/cache\n"
            "   ```\n")
    plan = compile_text(text)
    judgments = [e for e in plan.edges if e.condition is not None and e.condition.expr is None
                 and e.kind == "branch"]
    assert judgments == []


def test_otherwise_comma_if_is_an_else_if_and_a_denial_has_its_own_ending():
    text = ("# T\n\n## Mitigation\n\n1. Watch {#watch}:\n"
            "   ```bash\n   grep -c slip /var/log/cell\n"
            "   ```\n2. If it slipped (`steps.watch.stdout | trim != '0'`), regrasp:\n"
            "   ```bash\n   systemctl restart gripper\n   ```\n"
            "3. Otherwise, if the log is empty (`steps.watch.stdout | trim == ''`), escalate: "
            "the sensor is silent.\n")
    plan = compile_text(text)
    # the else-if keeps its condition and ends the run with the guide's words
    elif_edges = [e for e in plan.edges if e.condition and e.condition.expr and
                  "== ''" in e.condition.expr and e.kind == "branch"]
    assert len(elif_edges) == 1
    assert plan.step(elif_edges[0].target).title.startswith("Escalate: the sensor is silent")
    # a refused approval does not claim the guide's reason
    gate = next(s for s in plan.steps if s.kind == StepKind.APPROVE)
    denied = next(e for _, e in plan.outgoing(gate.id) if e.on == "failure")
    assert plan.step(denied.target).title == "Escalate to a person"
