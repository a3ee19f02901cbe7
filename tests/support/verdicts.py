"""Judging one command line in a test: is it a read the plan runs unasked, or gated?

The trust tests (tests/engine/test_trust*.py) and the hostile-reads table share these: a line
judged as a shell line where it uses the shell (`$`, `~`, `&&`, `|`, `;`, a glob), as one
program's argv otherwise, and compiled into a one-block guide to see that the plan gates it.
"""

from __future__ import annotations

import shlex

from engine.compile import compile_guide
from engine.effects import Verdict, classify, powershell_verdict
from engine.effects.bash import bash_verdict
from engine.guide import parse_guide
from engine.plan import Plan, StepKind

_SHELL = ("$", "~", "&&", "|", ";", "*")


def verdict(how: str, line: str) -> Verdict:
    """The verdict on `line` read as PowerShell (`ps`), a bash line (`bash`) or one argv."""
    if how == "ps":
        return powershell_verdict(line)
    if how == "bash":
        return bash_verdict(line)
    return classify(shlex.split(line))


def line_verdict(line: str) -> Verdict:
    """The verdict on `line`, read as a shell line when it uses the shell."""
    return verdict("bash" if any(m in line for m in _SHELL) else "argv", line)


def compiled(how: str, line: str) -> Plan:
    fence = "powershell" if how == "ps" else "bash"
    return compile_guide(parse_guide(f"# T\n\n## Diagnosis\n\n```{fence}\n{line}\n```\n",
                                     path="guide.md"),
                         known_plugins={"shell", "bash", "powershell", "sql", "http"})


def ungated_commands(plan: Plan) -> list[str]:
    """The command steps a plan runs without a change's approval before them."""
    out = []
    for step in plan.steps:
        if step.kind != StepKind.COMMAND:
            continue
        gated = any(plan.step(e.source).kind == StepKind.APPROVE
                    for _, e in plan.incoming(step.id))
        if not (step.mutating and gated):
            out.append(step.id)
    return out


def assert_gated(line: str, *words: str) -> None:
    """`line` is judged a change for a reason holding one of `words`, and its plan gates it."""
    found = line_verdict(line)
    assert found.effect == "mutate", (line, found)
    assert any(w in found.reason for w in words), (line, found.reason)
    assert ungated_commands(compiled("bash", line)) == [], line


def assert_reads(line: str) -> None:
    found = line_verdict(line)
    assert found.read, (line, found.reason)
