"""A change the guide warns about right above its block: the approval shows the warning with
the command, so the person approving at 3 a.m. reads what the author wanted read before it
runs (before, the approval held the command alone)."""

from __future__ import annotations

import pytest

from engine.plan import StepKind
from tests.support.compiling import compile_text

GUIDE = "# Cache\n\n## Mitigation\n\n{note}\n\n```bash\nredis-cli FLUSHALL\n```\n"


@pytest.mark.parametrize("note", [
    "> **Warning:** this drops the cache for every tenant.",
    "!!! warning\n    This drops the cache for every tenant.",
    ":::caution\nThis drops the cache for every tenant.\n:::",
    "> [!CAUTION]\n> This drops the cache for every tenant.",
])
def test_the_approval_of_a_change_shows_the_warning_above_it(note: str) -> None:
    plan = compile_text(GUIDE.format(note=note))
    (gate,) = [s for s in plan.steps if s.kind == StepKind.APPROVE]
    assert "the guide warns:" in gate.text and "every tenant" in gate.text, gate.text
    assert gate.text.endswith("redis-cli FLUSHALL")


def test_a_note_that_does_not_warn_or_a_read_carries_nothing() -> None:
    plan = compile_text(GUIDE.format(note="> Note: see the cache dashboard first."))
    (gate,) = [s for s in plan.steps if s.kind == StepKind.APPROVE]
    assert "warns" not in gate.text
    read = compile_text("# Cache\n\n## Diagnosis\n\n> **Warning:** slow on big instances.\n\n"
                        "```bash\nredis-cli INFO memory\n```\n")
    assert not [s for s in read.steps if s.kind == StepKind.APPROVE]
