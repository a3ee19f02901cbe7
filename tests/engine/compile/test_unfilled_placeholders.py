"""A command never runs with a value still to fill in as written: a placeholder the compiler
cannot make an input (inside quotes, inside a script string, an ellipsis, a bracketed name)
makes the step a person's, who fills it in. Before, such steps ran (or asked approval for)
`curl https://<cluster>/...`, `hostnamectl set-hostname ...`, `cockroach start [flags]`."""

from __future__ import annotations

import pytest

from engine.plan import StepKind
from tests.support.compiling import compile_text, manual_scripts, pipelines


def one_block(command: str) -> str:
    return f"# T\n\n## Mitigation\n\n1. Do it:\n\n   ```bash\n   {command}\n   ```\n"


@pytest.mark.parametrize("command", [
    "curl -X PUT \"https://<cluster>/_security/api/rolesmapping/all_access\"",
    "curl -u 'admin:<custom-admin-password>' https://dashboards.example/api/x",
    "kubectl exec deploy/search -- sh -c 'curl -XDELETE \"$URI/<index-name>\"'",
    "sudo hostnamectl set-hostname ...",
    "cockroach start [flags] --join=[cluster host]:26257",
    "curl -XPOST 'https://DASHBOARDS_ENDPOINT/api/saved_objects/_import'",
    "gcloud iam service-accounts keys list --iam-account "
    "[SA-NAME]@[PROJECT-ID].iam.gserviceaccount.com",
    "docker inspect --format '{{.Name}}' '<containerId>'",
])
def test_a_command_holding_an_unfilled_placeholder_is_a_persons(command: str) -> None:
    plan = compile_text(one_block(command))
    assert pipelines(plan) == []
    assert any(command.split()[0] in s for s in manual_scripts(plan))


def test_a_hyphenated_braced_placeholder_is_an_input() -> None:
    plan = compile_text(one_block("kubectl logs {pod-name} -n monitoring"))
    assert [i.name for i in plan.inputs] == ["pod_name"]
    assert pipelines(plan) == [[["kubectl", "logs", "{{ inputs.pod_name }}", "-n", "monitoring"]]]


@pytest.mark.parametrize("command, argv", [
    ("grep -c '<title>' /var/www/index.html", ["grep", "-c", "<title>", "/var/www/index.html"]),
    ("grep -E '[A-Z]{3}-[0-9]+' /var/log/app.log", ["grep", "-E", "[A-Z]{3}-[0-9]+",
                                                    "/var/log/app.log"]),
    ("bundle exec rake publishing:republish[slug]",
     ["bundle", "exec", "rake", "publishing:republish[slug]"]),
    ("kubectl get pods -o jsonpath='{.items[0].metadata.name}'",
     ["kubectl", "get", "pods", "-o", "jsonpath={.items[0].metadata.name}"]),
])
def test_angle_brackets_and_brackets_that_are_the_commands_own_still_run(command: str,
                                                                         argv: list[str]) -> None:
    plan = compile_text(one_block(command))
    assert [p[0] for p in pipelines(plan)] == [argv]
    assert all(s.kind != StepKind.MANUAL or not s.params.get("script") for s in plan.steps)
