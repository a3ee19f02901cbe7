"""Lint = compile for guards and jumps: what compile rejects or would silently turn into a
person's question, lint reports first, with a suggested fix that compiles."""

from __future__ import annotations

import re

import pytest

from engine.compile import compile_guide
from engine.compile.lint import lint_guide
from engine.errors import ValidationError
from engine.guide import parse_guide

PLUGINS = {"shell", "bash", "prometheus", "sql", "http", "logs"}


def findings(text: str, rule: str):
    return [f for f in lint_guide(parse_guide(text, path="g.md")) if f.rule == rule]


def compiles(text: str) -> None:
    compile_guide(parse_guide(text, path="g.md"), known_plugins=PLUGINS)


def test_a_jump_to_a_step_heading_that_does_not_exist_is_an_error_whose_fix_compiles():
    guide = ("# T\n\n## Step 1 - Check the disk\n\n```bash\ndf -h\n```\n\nIf the disk is full, "
             "proceed to Step 11.\n\n## Step 2 - Check the logs\n\n```bash\njournalctl -n 50\n"
             "```\n")
    with pytest.raises(ValidationError, match="no heading is 'Step 11'"):
        compiles(guide)
    (finding,) = findings(guide, "MF203")
    assert finding.severity == "error" and finding.line == 9
    # the suggestion names a real heading with its real anchor; applying it compiles
    link = re.search(r"'proceed to (\[[^\]]+\]\(#[^)]+\))'", finding.suggestion).group(1)
    compiles(guide.replace("proceed to Step 11", f"proceed to {link}"))


def test_a_jump_to_an_existing_step_heading_is_not_a_finding():
    guide = ("# T\n\n## Step 1 - Check the disk\n\n```bash\ndf -h\n```\n\nIf the disk is full, "
             "proceed to Step 2.\n\n## Step 2 - Check the logs\n\n```bash\njournalctl -n 50\n"
             "```\n")
    compiles(guide)
    assert findings(guide, "MF203") == []


def test_a_condition_naming_a_missing_step_is_an_error_whose_fix_compiles():
    guide = ("# T\n\n## Diagnosis\n\n1. Check the disk {#disk}:\n\n   ```bash\n   df -h\n"
             "   ```\n\n2. If the disk is full (`steps.dsk.stdout | length > 90`), escalate.\n")
    (finding,) = findings(guide, "MF206")
    assert finding.severity == "error" and "'dsk'" in finding.message
    fixed = re.search(r"Write `([^`]+)`", finding.suggestion).group(1)
    compiles(guide.replace("steps.dsk.stdout | length > 90", fixed))


def test_a_condition_with_an_unknown_filter_is_an_error_not_a_silent_question():
    guide = ("# T\n\n## Diagnosis\n\n1. Check the disk {#disk}:\n\n   ```bash\n   df -h\n"
             "   ```\n\n2. If the disk is full (`steps.disk.stdout | lenght > 90`), escalate.\n")
    (finding,) = findings(guide, "MF206")
    fixed = re.search(r"Write `([^`]+)`", finding.suggestion).group(1)
    assert fixed == "steps.disk.stdout | length > 90"
    compiles(guide.replace("steps.disk.stdout | lenght > 90", fixed))


@pytest.mark.parametrize("written", ["steps.diag-1-check-disk.stdout", "steps.step-1-disk.stdout"])
def test_a_step_id_with_hyphens_after_a_dot_is_named_and_its_fix_is_an_expression(written):
    # `steps.diag-1-check-disk` is `steps.diag - 1 - check - disk` to Jinja: the finding named
    # step 'diag' and suggested naming a step so; now it says why, and the fix (bracket form,
    # the nearest real id) compiles to an expression, not a person's question
    guide = ("# T\n\n## Diagnosis\n\n1. Check the disk:\n\n   ```bash\n   df -h\n   ```\n\n"
             f"2. If the disk is full (`{written} | length > 90`), escalate.\n")
    (finding,) = findings(guide, "MF206")
    assert "hyphens are minus signs" in finding.message, finding.message
    fixed = re.search(r"Write `([^`]+)`", finding.suggestion).group(1)
    assert fixed == 'steps["diag-1-check-disk"].stdout | length > 90'
    plan = compile_guide(parse_guide(guide.replace(f"{written} | length > 90", fixed),
                                     path="g.md"), known_plugins=PLUGINS)
    assert [e.condition.expr for e in plan.edges if e.kind == "branch"] == [fixed]
