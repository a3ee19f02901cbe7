"""A heading that is an instruction holding its command, over prose alone ("### Check
`kubectl rollout status deploy/web`", "### Roll back with `kubectl rollout undo deploy/web`"),
is the step: its command runs (a change behind its approval) as the same words in a paragraph
would. It was a title only: the check became a person's step and the roll-back was nowhere in
the plan. A section with commands of its own ("#### Kill `git pack-objects` processes" over its
`pkill`) names in its heading what they do: no step of its own."""

from __future__ import annotations

from engine.plan import StepKind
from tests.support.compiling import compile_text, gated

GUIDE = """# Web deploy stuck

## Diagnosis

### Check `kubectl rollout status deploy/web -n web --timeout=60s`

If it times out, the new pods are not becoming ready.

### Run `kubectl get events -n web --sort-by=.lastTimestamp`

Look for `FailedScheduling`.

## Mitigation

### Roll back with `kubectl rollout undo deploy/web -n web`
"""


def _commands(text: str) -> dict[str, str]:
    plan = compile_text(text)
    return {" ".join(" ".join(argv) for argv in s.params["pipeline"]): s.id
            for s in plan.steps if s.kind == StepKind.COMMAND and "pipeline" in s.params}


def test_a_heading_holding_its_command_over_prose_is_the_step() -> None:
    plan = compile_text(GUIDE)
    steps = {" ".join(" ".join(argv) for argv in s.params["pipeline"]): s
             for s in plan.steps if s.kind == StepKind.COMMAND and "pipeline" in s.params}
    status = steps["kubectl rollout status deploy/web -n web --timeout=60s"]
    events = steps["kubectl get events -n web --sort-by=.lastTimestamp"]
    undo = steps["kubectl rollout undo deploy/web -n web"]
    assert not gated(plan, status.id) and not gated(plan, events.id)
    assert gated(plan, undo.id)
    # the prose under a heading that acts is about its step, no person's step of its own
    assert not [s for s in plan.steps if s.kind == StepKind.MANUAL and
                s.title.startswith(("Check `kubectl", "Run `kubectl"))]


def test_a_section_with_its_own_commands_keeps_its_heading_a_title() -> None:
    text = ("# Gitaly CPU\n\n## Mitigation\n\n#### Kill `git pack-objects` processes\n\n"
            "```bash\nsudo pkill -f 'git pack-objects --stdout'\n```\n")
    argvs = _commands(text)
    assert not any(a.startswith("git pack-objects") for a in argvs), argvs


def test_a_heading_naming_a_thing_is_no_step() -> None:
    text = ("# Queue\n\n## Diagnosis\n\n### The `kube-proxy` pods\n\nThey route service "
            "traffic.\n\n### `kubectl drain` hangs\n\nSee the PDBs.\n")
    assert _commands(text) == {}
