"""A condition on what a command printed reads that step's output when the command is a shell
line run by bash (`grep error app.log 2>/dev/null | tail -5`), as it does for a plain
pipeline: before, "If nothing is returned, no action is needed" after such a line was a
question for a person, though the step's `stdout` held the answer."""

from __future__ import annotations

from tests.support.compiling import compile_text

GUIDE = ("# Errors\n\n## Diagnosis\n\n1. Look for errors in the log:\n\n   ```\n"
         "   grep -i error /var/log/app.log 2>/dev/null | tail -5\n   ```\n\n   {sentence}\n")


def test_a_condition_on_a_bash_lines_output_is_an_expression():
    plan = compile_text(GUIDE.format(sentence="If nothing is returned, no action is needed. "
                                              "Otherwise, escalate to the API team."))
    (look,) = [s for s in plan.steps if s.plugin == "bash"]
    conditions = [e.condition for e in plan.edges if e.condition is not None]
    assert conditions and all(c.expr is not None and f'steps["{look.id}"].stdout' in c.expr
                              for c in conditions)


def test_a_bash_lines_failure_is_its_failure_edge():
    plan = compile_text(GUIDE.format(sentence="If this command fails, escalate to the API team."))
    (look,) = [s for s in plan.steps if s.plugin == "bash"]
    failing = [e for e in plan.edges if e.source == look.id and e.on == "failure"]
    assert failing and plan.step(failing[0].target).outcome == "escalate"
