"""Exit statuses that answer a question rather than report a failure.

`grep` exits 1 when it finds nothing, `diff` and `cmp` when the files differ, `test` when the
test is false, `pgrep` and `pidof` when no process matches, `systemctl is-active` 3 when the
unit is inactive. A guide that runs them is asking; "no" is evidence, not an error. Every other
status of these tools (grep's 2: the file is missing) still fails the step, and every other
program succeeds on 0 only. The compiler writes the statuses into the step's `ok_exit_codes`,
so the plan shows them and the run reads `exit_code` to tell the answers apart.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

_ANSWERS: dict[str, list[int]] = {
    **dict.fromkeys(("grep", "egrep", "fgrep", "zgrep", "rg", "pgrep", "pidof", "diff", "cmp",
                     "test", "["), [0, 1]),
}
_SUBCOMMAND_ANSWERS: dict[tuple[str, str], list[int]] = {
    ("systemctl", "status"): [0, 3],
    ("systemctl", "is-active"): [0, 3],
    ("systemctl", "is-failed"): [0, 1],
    ("systemctl", "is-enabled"): [0, 1],
}
_PREFIXES = frozenset({"sudo", "env", "nice", "ionice", "timeout", "command"})


def ok_exit_codes(pipeline: Sequence[Sequence[str]]) -> list[int] | None:
    """The statuses that count as success for a pipeline whose last stage is one of the
    answering tools; None for every other pipeline (success is 0 only)."""
    if not pipeline or not pipeline[-1]:
        return None
    words = [w for w in pipeline[-1] if "{{" not in w]
    while words and (os.path.basename(words[0]) in _PREFIXES or "=" in words[0]):
        if os.path.basename(words[0]) == "timeout" and len(words) > 1:
            words = words[1:]  # `timeout 5 grep ...`: its duration goes with it
        words = words[1:]
    if not words:
        return None
    program = os.path.basename(words[0])
    if program in _ANSWERS:
        return list(_ANSWERS[program])
    sub = next((w for w in words[1:] if not w.startswith("-")), "")
    found = _SUBCOMMAND_ANSWERS.get((program, sub))
    return list(found) if found else None
