"""`kubectl exec -it POD -- CMD` runs CMD in the pod: kubectl drops the terminal when its input
is not one, so a step runs it as written and it is judged by CMD like `kubectl exec POD -- CMD`.

Before, every `exec -it` line was a person's (a manual step), even `-- df -h`: a read-only look
inside a pod never ran, and a change in one was never offered for approval.
Guide: tests/fixtures/guides/compile/exec-in-pod.md (written for this test)."""

from __future__ import annotations

from pathlib import Path

from engine.plan import StepKind
from tests.support.compiling import compile_text, gated, manual_scripts

GUIDE = Path(__file__).parents[2] / "fixtures" / "guides" / "compile" / "exec-in-pod.md"


def test_a_read_only_command_in_a_pod_runs_ungated_as_written() -> None:
    plan = compile_text(GUIDE.read_text())
    step = plan.step("diag-1-see-how-full-data")
    assert step.kind == StepKind.COMMAND and not step.mutating and not gated(plan, step.id)
    assert step.params["pipeline"] == [["kubectl", "-n", "shop", "exec", "-it", "cart-db-0",
                                        "--", "df", "-h", "/var/lib/data"]]


def test_placeholders_in_it_are_typed_inputs_passed_as_argv_words() -> None:
    plan = compile_text(GUIDE.read_text())
    step = plan.step("diag-2-find-largest-archive-folders")
    assert step.kind == StepKind.COMMAND and not gated(plan, step.id)
    assert step.params["pipeline"] == [["kubectl", "exec", "-it", "{{ inputs.pod_name }}", "-n",
                                        "{{ inputs.namespace }}", "--", "du", "-sh",
                                        "/var/lib/data/archive"]]
    assert {(i.name, i.type, i.required) for i in plan.inputs} == {
        ("pod_name", "name", True), ("namespace", "name", True)}


def test_a_change_in_a_pod_waits_for_its_approval() -> None:
    plan = compile_text(GUIDE.read_text())
    step = plan.step("mit-1-remove-archives-older-than")
    assert step.kind == StepKind.COMMAND and step.mutating and gated(plan, step.id)


def test_a_shell_in_a_pod_stays_a_persons() -> None:
    plan = compile_text(GUIDE.read_text())
    assert "kubectl -n shop exec -it cart-db-0 -- bash" in manual_scripts(plan)
    assert not any("bash" in argv for s in plan.steps if s.kind == StepKind.COMMAND
                   for argv in s.params["pipeline"])
