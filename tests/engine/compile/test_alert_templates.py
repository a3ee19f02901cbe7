"""Prometheus' alert templates pasted into a guide's commands and queries: `{{ $labels.pod }}`
is the firing alert's `pod` label, a typed input like `$POD` or `<pod>`."""

from __future__ import annotations

import pytest

from engine.errors import InputError
from engine.plan import StepKind
from engine.runtime.memory import coerce_inputs
from tests.support.compiling import compile_text, pipelines

GUIDE = """# KubePodCrashLooping

Pod {{ $labels.namespace }}/{{ $labels.pod }} is restarting.

## Steps

1. Get the last logs:
   ```bash
   kubectl logs -n {{ $labels.namespace }} {{$labels.pod}} --previous --tail=100
   ```
2. Describe it: `kubectl describe pod -n $NAMESPACE {{ $labels.pod }}`
"""


def test_an_alert_label_template_in_a_command_is_the_alerts_label_as_an_input() -> None:
    # the command was a person's step holding `{{ $labels.namespace }}` as text: the alert
    # that fired carries the value, and nobody ran the read
    plan = compile_text(GUIDE)
    assert pipelines(plan) == [
        [["kubectl", "logs", "-n", "{{ inputs.namespace }}", "{{ inputs.pod }}", "--previous",
          "--tail=100"]],
        [["kubectl", "describe", "pod", "-n", "{{ inputs.namespace }}", "{{ inputs.pod }}"]]]
    assert not [s for s in plan.steps if s.kind == StepKind.MANUAL]
    specs = {i.name: i for i in plan.inputs}
    assert set(specs) == {"namespace", "pod"} and specs["pod"].type == "name"
    assert "label of the alert" in specs["pod"].description
    assert coerce_inputs(plan.inputs, {}, labels={"namespace": "shop", "pod": "web-1"}) == {
        "namespace": "shop", "pod": "web-1"}
    # whoever writes the metric writes the label: it is typed like any input
    with pytest.raises(InputError):
        coerce_inputs(plan.inputs, {}, labels={"namespace": "--all-namespaces", "pod": "x"})


def test_an_alert_label_template_in_a_query_is_a_bound_value() -> None:
    # a PromQL query kept `{{ $labels.instance }}` as its label's value: it matched no series
    # and the check read as "nothing wrong"
    plan = compile_text("# T\n\n## Diagnosis\n\n```promql\nup{instance=\"{{ $labels.instance }}\"}"
                        "\n```\n\n```sql\nSELECT * FROM jobs WHERE host = '{{ $labels.instance }}';"
                        "\n```\n")
    promql, sql = [s for s in plan.steps if s.kind == StepKind.QUERY]
    assert promql.params["query"] == \
        "up{instance=\"{{ (inputs.instance) | promql('label') }}\"}"
    assert sql.params["query"] == "SELECT * FROM jobs WHERE host = :p1;"
    assert sql.params["args"] == {"p1": "{{ inputs.instance }}"}
    assert [i.name for i in plan.inputs] == ["instance"]


def test_a_go_template_of_the_tool_is_still_the_tools() -> None:
    plan = compile_text("# T\n\n## S\n\n1. List: `docker ps --format '{{.Labels.app}}'`\n")
    assert pipelines(plan) == [[["docker", "ps", "--format", "{{ '{{' }}.Labels.app}}"]]]
    assert not plan.inputs


def test_a_label_keeps_the_case_the_template_names_it_with() -> None:
    # Prometheus label names are case-sensitive: `{{ $labels.Namespace }}` is filled from the
    # alert's `Namespace` label (lower-cased, the run asked for an input no alert carried)
    plan = compile_text("# T\n\n## S\n\n1. Check `kubectl get pod -n {{ $labels.Namespace }} "
                        "web`\n")
    assert [i.name for i in plan.inputs] == ["Namespace"]
    assert coerce_inputs(plan.inputs, {}, labels={"Namespace": "shop"}) == {"Namespace": "shop"}
