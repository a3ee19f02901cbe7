"""Hugo's block shortcodes (documentation sites built with Hugo, Docsy and their themes): a
code shortcode is a code block in its language, an admonition shortcode is an admonition."""

from __future__ import annotations

import pytest

from engine.plan import StepKind
from tests.support.compiling import compile_text, gated, guards_of, runs, step_running


@pytest.mark.parametrize("opener, closer", [
    ('{{< highlight bash "linenos=table" >}}', "{{< /highlight >}}"),
    ('{{< codeFromInline lang="bash" >}}', "{{< /codeFromInline >}}"),
    ('{{< code lang="bash" >}}', "{{< /code >}}"),
    ("{{% highlight bash %}}", "{{% /highlight %}}"),
])
def test_a_code_shortcode_is_a_code_block(opener: str, closer: str):
    # "Check the versions by running:" over `{{< codeFromInline lang="bash" >}}`: the whole
    # paragraph was context for a reader, and `kubectl version` was neither run nor shown
    plan = compile_text(f"## Diagnosis\n\nCheck the versions by running:\n{opener}\n"
                        f"kubectl version\n{closer}\n\n## Mitigation\n\n{opener}\n"
                        f"kubectl rollout restart deploy/web -n web\n{closer}\n")
    version = step_running(plan, ["kubectl", "version"])
    assert not gated(plan, version)
    restart = step_running(plan, ["kubectl", "rollout", "restart", "deploy/web", "-n", "web"])
    assert gated(plan, restart)
    assert [s.source.start for s in runs(plan)] == [5, 11]  # line for line: spans hold


def test_an_admonition_shortcode_is_an_admonition_whose_condition_guards():
    plan = compile_text("## Mitigation\n\n{{% alert title=\"Only if the lag keeps growing\" "
                        "color=\"warning\" %}}\n```bash\nkubectl scale deploy/w --replicas=8\n"
                        "```\n{{% /alert %}}\n")
    scale = step_running(plan, ["kubectl", "scale", "deploy/w", "--replicas=8"])
    assert guards_of(plan, scale) == ["Only if the lag keeps growing"]


def test_an_unclosed_or_unknown_shortcode_is_left_as_it_is():
    plan = compile_text("## Diagnosis\n\n{{< highlight bash >}}\nkubectl version\n\n"
                        "{{< figure src=\"x.png\" >}}\n\nRun `kubectl get nodes`.\n")
    # (an unclosed one opens no block that would swallow the rest of the guide as code)
    assert "kubectl get nodes" in [s.text for s in runs(plan)]
    assert not [s for s in plan.steps if s.kind == StepKind.COMMAND and "figure" in s.text]
