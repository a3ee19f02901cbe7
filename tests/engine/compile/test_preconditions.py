"""What must hold before a guide's steps run: "## Preconditions" over "- PVC is in `Bound` state".

Each stated precondition is a check a person (or the model) answers before the steps change
anything, and the run stops there, handed over, when it does not hold. Before, each was ignored
as prose ("nothing to run or decide") and the steps ran whatever the state. An instruction in
such a section ("Request an auth token") stays a step, advice to read first or a preference is
no precondition, and notes under an example later in the section are not preconditions.
"""

from __future__ import annotations

from engine.plan import Plan, StepKind
from tests.support.compiling import compile_text

GUIDE = """# Increase a PVC's size

## Preconditions

- StorageClass supports volume expansion (`allowVolumeExpansion: true`)
- PVC is in `Bound` state
- Disk on the node has at least 50 GB free.
- A private cluster is preferred.

## Steps

1. Mark the claim: `kubectl label pvc data -n shop resize=20Gi`
2. Check it: `kubectl get pvc data -n shop`
"""


def _decides(plan: Plan) -> list[str]:
    return [s.title for s in plan.steps if s.kind == StepKind.DECIDE]


def test_each_precondition_is_checked_before_the_steps_and_stops_the_run_when_unmet():
    plan = compile_text(GUIDE)
    assert _decides(plan) == [
        "If the precondition does not hold (StorageClass supports volume expansion "
        "(`allowVolumeExpansion: true`))",
        "If the precondition does not hold (PVC is in `Bound` state)",
        "If the precondition does not hold (Disk on the node has at least 50 GB free)"]
    for decide in (s for s in plan.steps if s.kind == StepKind.DECIDE):
        (unmet,) = [e.target for e in plan.edges if e.source == decide.id and e.kind == "branch"]
        assert plan.step(unmet).kind == StepKind.END and plan.step(unmet).outcome == "escalate"
    # the change waits for all three: its approval follows the last check's other side
    patch = next(s for s in plan.steps if s.kind == StepKind.COMMAND and "label" in
                 s.params["pipeline"][0])
    gate = next(e.source for e in plan.edges if e.target == patch.id)
    last = [s.id for s in plan.steps if s.kind == StepKind.DECIDE][-1]
    assert any(e.source == last and e.target == gate and e.kind == "else" for e in plan.edges)
    # a preference is no precondition: it stays a reader's note
    assert any(i.text.startswith("A private cluster") for i in plan.ignored)


def test_instructions_and_reading_advice_in_such_a_section_are_no_preconditions():
    plan = compile_text(
        "# Restore\n\n## Before you begin\n\n"
        "- Request an auth token for Grafana annotations.\n"
        "- [Understand how the optimizer chooses plans](https://example.com/cbo).\n"
        "- Lock out the cell: put your padlock on the main disconnect.\n\n"
        "## Steps\n\n1. Restore it: `sudo systemctl restart restore-job`\n")
    assert not [t for t in _decides(plan) if "precondition" in t]


def test_notes_under_an_example_are_no_preconditions():
    plan = compile_text(
        "# Repair\n\n## Before you start\n\nMake a backup first:\n\n"
        "```bash\nsudo tar cvf ~me/1234.tar .\n```\n\n"
        "- There is no `/` between `~` and the username.\n"
        "- The file will be saved as root.\n\n"
        "## Steps\n\n1. Repair it: `git fsck --root`\n")
    assert not [t for t in _decides(plan) if "precondition" in t]


def test_a_lead_in_paragraph_before_the_list_keeps_it_the_sections_preconditions():
    plan = compile_text(GUIDE.replace("## Preconditions\n\n",
                                      "## Preconditions\n\nBefore resizing the claim:\n\n"))
    assert len([t for t in _decides(plan) if "precondition" in t]) == 3


def test_a_precondition_naming_a_command_leaves_the_steps_numbers_alone():
    plan = compile_text(GUIDE.replace(
        "- PVC is in `Bound` state\n",
        "- PVC is in `Bound` state: `kubectl get pvc data -n shop` prints `Bound`\n"))
    assert [s.id for s in plan.steps if s.kind == StepKind.COMMAND][0].startswith("step-1-")
