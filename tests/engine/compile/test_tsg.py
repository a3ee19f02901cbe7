"""The TSG style (Microsoft/StepFly): "## Step N - Check ..." headings, "proceed to Step N",
"Steps 2-4 can be executed in parallel", early exits, prose endings and `{x}` placeholders."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.compile import compile_guide, compile_path
from engine.compile.phrases import parallel_steps
from engine.guide import parse_guide
from engine.plan import Plan, StepKind

PLUGINS = {"shell", "bash", "prometheus", "sql", "http", "logs"}
TSG = Path(__file__).parents[2] / "fixtures" / "guides" / "tsg" / "checkout-latency.md"


def compile_text(text: str) -> Plan:
    return compile_guide(parse_guide(text, path="tsg.md"), known_plugins=PLUGINS)


def starting(plan: Plan, prefix: str) -> str:
    """The id of the step whose title starts with `prefix`."""
    return next(s.id for s in plan.steps if s.title.startswith(prefix))


def out(plan: Plan, source: str, kind: str) -> list[str]:
    return [e.target for e in plan.edges if e.source == source and e.kind == kind]


def test_the_stepfly_style_guide_compiles_to_the_fan_out_and_join_its_author_meant():
    plan = compile_path(TSG, known_plugins=PLUGINS)
    step1 = starting(plan, "Step 1")
    errors = starting(plan, "Count the server errors")
    pool, deploys = starting(plan, "Step 3"), starting(plan, "Step 4")
    provider, restart = starting(plan, "Step 5"), starting(plan, "Step 6")
    record = starting(plan, "Step 7")
    # Step 1 first, then "Steps 2-4 can be executed in parallel": one fan-out of three
    assert plan.entry == step1
    assert sorted(out(plan, step1, "next")) == sorted([errors, pool, deploys])
    # Step 5 joins the three branches: each branch's decision leads there on its "no" side
    joined = {e.source for e in plan.edges if e.target == provider}
    assert joined == {starting(plan, "If the error count"), starting(plan, "If more than 90"),
                      starting(plan, "If a revision")}
    # Early exits with the guide's outcome and words
    root = plan.step(out(plan, starting(plan, "If more than 90"), "branch")[0])
    assert (root.kind, root.outcome) == (StepKind.END, "escalate") and "root cause" in root.title
    fix = plan.step(out(plan, starting(plan, "If a revision"), "branch")[0])
    assert fix.outcome == "escalate" and "potential resolution" in fix.title
    assert plan.step(out(plan, starting(plan, "If the provider"), "branch")[0]).outcome == \
        "no_action"
    # "... Proceed to Step 6." under a guard jumps out of the fan-out to Step 6's approval
    assert out(plan, starting(plan, "If the error count"), "jump") == [f"approve-{restart}"]
    # the unconditional "Proceed to Step 7." is an edge, not a question
    (jump,) = [e for e in plan.edges if e.kind == "jump" and e.target == record]
    assert jump.source == starting(plan, "If the provider") and jump.condition.text.startswith(
        "Otherwise")
    assert not [s for s in plan.steps if s.kind == StepKind.DECIDE and "Proceed" in s.title]
    # Step 6's endings
    ends = {e.kind: plan.step(e.target).outcome
            for e in plan.edges if e.source == starting(plan, "If the error rate")}
    assert ends == {"branch": "mitigated", "else": "escalate"}
    # placeholders are declared inputs; values reach SQL only as bound parameters
    assert [i.name for i in plan.inputs] == ["start_time", "end_time", "namespace"]
    sql = plan.step(errors).params
    assert "{" not in sql["query"] and sql["args"] == {"p1": "{{ inputs.start_time }}",
                                                      "p2": "{{ inputs.end_time }}"}
    assert plan.step(deploys).params["pipeline"] == [
        ["kubectl", "-n", "{{ inputs.namespace }}", "rollout", "history", "deployment/checkout"]]


def test_parallel_instructions_in_their_usual_phrasings():
    assert parallel_steps("Steps 2-10 can be executed in parallel.") == [(2, 10)]
    assert parallel_steps("You can run steps 3 to 5 concurrently.") == [(3, 5)]
    assert parallel_steps("Run in parallel steps 2 and 3.") == [(2, 3)]
    assert parallel_steps("Steps 2\u20134 may run at the same time.") == [(2, 4)]
    assert parallel_steps("Steps 2-4 must not run in parallel.") == []


def test_proceed_to_step_n_resolves_to_the_step_n_heading():
    plan = compile_text("# T\n\n## Step 1 - Check the disk\n\n```bash\ndf -h\n```\n\n"
                        "If the disk is full, proceed to Step 3.\n\n"
                        "## Step 2 - Check the memory\n\n"
                        "```bash\nfree -m\n```\n\n## Step 3 - Check the logs\n\n```bash\n"
                        "journalctl -n 50\n```\n")
    (jump,) = [e for e in plan.edges if e.kind == "jump"]
    assert plan.step(jump.target).params["pipeline"] == [["journalctl", "-n", "50"]]


def test_unconditional_proceed_is_an_edge_when_another_jump_reaches_the_step_it_skips():
    plan = compile_text("# T\n\n## Step 1 - Check the disk\n\n```bash\ndf -h\n```\n\n"
                        "If the disk is full, proceed to Step 2.\n\nProceed to Step 3.\n\n"
                        "## Step 2 - Clean the disk\n\n```bash\nrm -rf /tmp/cache\n```\n\n"
                        "## Step 3 - Check the logs\n\n```bash\njournalctl -n 50\n```\n")
    decide_titles = [s.title for s in plan.steps if s.kind == StepKind.DECIDE]
    assert decide_titles == ["If the disk is full"]
    logs = next(s.id for s in plan.steps if s.params.get("pipeline") == [["journalctl", "-n",
                                                                          "50"]])
    assert [e.kind for e in plan.edges if e.target == logs and e.source.startswith("if-")] == \
        ["jump"]


def test_placeholders_in_tsg_notations_are_inputs_and_jsonpath_braces_are_not():
    plan = compile_text("# T\n\n## Diagnosis\n\n```bash\nkubectl -n {namespace} get pod "
                        "{{pod}} -o jsonpath='{.status.phase}'\ngcloud compute instances list "
                        "--project YOUR_PROJECT\n```\n")
    assert sorted(i.name for i in plan.inputs) == ["namespace", "pod", "your_project"]
    argv = [s.params["pipeline"][0] for s in plan.steps if s.kind == StepKind.COMMAND]
    assert argv[0] == ["kubectl", "-n", "{{ inputs.namespace }}", "get", "pod",
                       "{{ inputs.pod }}", "-o", "jsonpath={.status.phase}"]
    assert argv[1][-1] == "{{ inputs.your_project }}"


def test_a_template_written_the_jinja_way_is_one_input_never_split_into_words():
    # `{{ pod }}`, `{{ inputs.namespace }}` (Helm, Ansible, Mendflow's own SQL form) in a shell
    # command: one placeholder, blanks and all; they ran as the words '{{', 'inputs.pod', '}}'
    plan = compile_text("# T\n\n## Diagnosis\n\n```bash\nkubectl delete pod {{ pod }} -n "
                        "{{ inputs.namespace }}\nls -la \"/srv/{{ inputs.namespace }}/logs\"\n"
                        "docker inspect -f '{{ .State.Pid }}' web\n```\n")
    assert sorted(i.name for i in plan.inputs) == ["namespace", "pod"]
    argv = [s.params["pipeline"][0] for s in plan.steps if s.kind == StepKind.COMMAND]
    assert argv[0] == ["kubectl", "delete", "pod", "{{ inputs.pod }}", "-n",
                       "{{ inputs.namespace }}"]
    assert argv[1] == ["ls", "-la", "/srv/{{ inputs.namespace }}/logs"]
    assert argv[2][:3] == ["docker", "inspect", "-f"]  # a Go template is the tool's own
    assert "{{ inputs." not in argv[2][3]


@pytest.mark.parametrize("command", [
    'podman info --format "{{ (index .Host.IDMappings.UIDMap 0).HostID }}"',
    "kubectl get pods -o go-template={{range.items}}{{.metadata.name}}{{end}}",
    'docker ps --format "{{ json . }}"',
])
def test_a_go_template_in_a_command_is_the_tools_own_and_the_command_runs(command: str):
    plan = compile_text(f"# T\n\n## Diagnosis\n\n```bash\n{command}\n```\n")
    assert plan.inputs == []
    assert [s.kind for s in plan.steps if s.kind in (StepKind.COMMAND, StepKind.MANUAL)] == \
        [StepKind.COMMAND]


def test_a_template_that_is_not_one_inputs_name_leaves_the_command_to_a_person():
    plan = compile_text("# T\n\n## Diagnosis\n\n```bash\nkubectl get pod "
                        "{{ steps.find.value | first }}\n```\n")
    assert not [s for s in plan.steps if s.kind == StepKind.COMMAND]
    assert [s for s in plan.steps if s.kind == StepKind.MANUAL]


def test_clickhouse_macros_are_the_servers_and_stay_as_written():
    plan = compile_text("# T\n\n## Diagnosis\n\n```sql\nSELECT count() FROM system.replicas "
                        "WHERE cluster = '{cluster}' AND zk_path LIKE '/clickhouse/{shard}/%'\n"
                        "```\n")
    (query,) = [s for s in plan.steps if s.kind == StepKind.QUERY]
    assert "'{cluster}'" in query.params["query"] and "{shard}" in query.params["query"]
    assert plan.inputs == []


def test_a_braced_placeholder_of_several_words_is_an_input_never_run_as_written():
    # `{node IP or hostname}` is a value the reader fills in, as `{user}` is: the step would
    # otherwise run with the words in braces as part of its URL
    plan = compile_text("# T\n\n## Diagnosis\n\n```shell\ncockroach node status --url "
                        "\"postgresql://{user}@{node IP or hostname}:26257\" --certs-dir certs\n"
                        "awk '{print NR}' /var/log/app.log | tail -n 1\n```\n")
    assert sorted(i.name for i in plan.inputs) == ["node_ip_or_hostname", "user"]
    argv = [s.params["pipeline"] for s in plan.steps if s.kind == StepKind.COMMAND]
    assert argv[0][0][4] == \
        "postgresql://{{ inputs.user }}@{{ inputs.node_ip_or_hostname }}:26257"
    # an awk program's braces are awk's
    assert argv[1][0] == ["awk", "{print NR}", "/var/log/app.log"]
