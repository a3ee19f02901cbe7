"""A file a person makes from the guide: "Save the following as `fix.yaml`:" over its YAML,
then `kubectl apply -f fix.yaml`. The run has no such file: the command would read whatever
file of that name the machine has (a stale manifest, applied after an approval that showed only
the command), or none. It is a person's step, the block above it their file."""

from __future__ import annotations

import pytest

from engine.plan import StepKind
from tests.support.compiling import compile_text, manual_scripts, pipelines

YAML = "```yaml\nkind: PodDisruptionBudget\nmetadata:\n  name: web\n```\n"


@pytest.mark.parametrize("words", [
    "Save the following as `pdb-relaxed.yaml`:",
    "Create a `PodDisruptionBudget` manifest and save it as `pdb-relaxed.yaml`:",
    "Create a file named `pdb-relaxed.yaml` under `/tmp` with the following content:"])
def test_a_command_reading_a_file_the_guide_says_to_save_is_a_persons_step(words: str):
    plan = compile_text(f"## Mitigation\n\n{words}\n\n{YAML}\nThen apply it:\n\n"
                        "```bash\nkubectl apply -f pdb-relaxed.yaml\n```\n")
    assert pipelines(plan) == []
    assert manual_scripts(plan) == ["kubectl apply -f pdb-relaxed.yaml"]


def test_a_file_a_command_of_the_guide_writes_is_the_runs_own():
    # "Save the output as `pods.txt`:" over a command that writes it: the run has the file
    plan = compile_text("## Diagnosis\n\nSave the pod list as `pods.txt`:\n\n```bash\n"
                        "kubectl get pods -A -o wide\n```\n\nThen count them:\n\n```bash\n"
                        "wc -l pods.txt\n```\n")
    assert [["wc", "-l", "pods.txt"]] in pipelines(plan)
    # and a file the guide never says to save is left to the command
    plan = compile_text(f"## Mitigation\n\n{YAML}\nApply `other.yaml`:\n\n```bash\n"
                        "kubectl apply -f other.yaml\n```\n")
    assert [s for s in plan.steps if s.kind == StepKind.COMMAND]
