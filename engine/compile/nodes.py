"""A step the outline makes from a part of a guide, before wiring turns it into plan steps.

Its own module so that the readers of special notations (`engine.compile.sessions`,
`engine.compile.powershell`) make steps without importing the outline that calls them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from engine.compile.phrases import SectionClass
from engine.plan import Span, StepKind

# The id prefix of a person's step standing for a jump back ("go back to step 3"): a loop,
# which a plan cannot draw (`engine.compile.wiring`; the linter points at each).
REPEAT_STEP = "repeat-from-"
# The first line of a person's step whose line the guide typed after leaving a session on
# another machine open in an earlier section (`engine.compile.sessions`): where it runs is unsaid
WHERE_UNSAID = "# where: this section does not say"
AT_ITS_PROMPT = re.compile(r"^# on (?P<host>\S+) \(at its prompt: (?P<prompt>.*)\)$", re.M)
"""The note opening a person's script typed at another machine's prompt (`at_its_prompt`)."""


def at_its_prompt(host: str, prompt: str) -> str:
    """`# on db-17 (at its prompt: [root@db-17 ~]#)`: where a person types the lines below."""
    return f"# on {host} (at its prompt: {prompt.strip()})"


@dataclass
class Action:
    id: str
    kind: StepKind
    title: str
    text: str
    span: Span
    pos: int  # element index, for ordering and jump targets
    section: SectionClass
    plugin: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    mutating: bool = False
    bind: str | None = None
    uses: frozenset[str] = frozenset()
    block: int | None = None  # code element index: steps of one block stay sequential
    call: str | None = None
    prose: bool = False  # a person's step standing for a guard's words, not for a command
    context: str = ""  # what the text runs inside (a session's opening lines), for approvals
    caution: str = ""  # the guide's warning right above the block ("> **Warning:** ..."), ditto
