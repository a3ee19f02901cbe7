"""Exit statuses that answer a question rather than report a failure.

`grep` exits 1 when it finds nothing, `diff` and `cmp` when the files differ, `test` when the
test is false, `pgrep` and `pidof` when no process matches, `systemctl is-active` 3 when the
unit is inactive. A guide that runs them is asking; "no" is evidence, not an error. Every other
status of these tools (grep's 2: the file is missing) still fails the step, and every other
program succeeds on 0 only. The compiler writes the statuses into the step's `ok_exit_codes`,
so the plan shows them and the run reads `exit_code` to tell the answers apart.

The stages before a pipeline's last answer too: `curl URL | grep -c errors` that prints 0
because curl could not connect has no answer, and the `shell` plugin fails it. A stage before
the last succeeds on 0, on the answers above (`grep x f | wc -l`), or whatever its status when
a later stage stops reading early (`| head -1`: it may die of the closed pipe).
"""

from __future__ import annotations

import os
import signal
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
_CUT_OFF: dict[str, frozenset[int]] = {
    # the connection failed or was lost: the remote command may have run, or be running
    "ssh": frozenset({255}),
    # a partial transfer, a timeout, an empty reply, a send or a receive that failed, an HTTP/2
    # stream not closed: after the request may have gone out, its answer lost
    "curl": frozenset({18, 28, 52, 55, 56, 92}),
}
"""Statuses by which a tool says it was cut off after its request may have reached the other
end: whether the other end acted is unknown."""


def ok_exit_codes(pipeline: Sequence[Sequence[str]]) -> list[int] | None:
    """The statuses that count as success for a pipeline whose last stage is one of the
    answering tools; None for every other pipeline (success is 0 only)."""
    return answers(pipeline[-1]) if pipeline else None


def answers(argv: Sequence[str]) -> list[int] | None:
    """The statuses one stage answers with (`grep`: 0 and 1), or None: 0 only."""
    words = _program_words(argv)
    if not words:
        return None
    program = os.path.basename(words[0])
    if program in _ANSWERS:
        return list(_ANSWERS[program])
    sub = next((w for w in words[1:] if not w.startswith("-")), "")
    found = _SUBCOMMAND_ANSWERS.get((program, sub))
    return list(found) if found else None


def cut_off(argv: Sequence[str], code: int) -> bool:
    """Whether a stage's status says it was cut off after it may have acted: killed by a
    signal (not the closed pipe of a reader that stopped early), `timeout`'s 124 (it killed
    the program), or a tool's own word that it lost its connection (`_CUT_OFF`: ssh's 255,
    curl's 52). A change whose stage was cut off is not retried by itself."""
    if code < 0:
        return code != -signal.SIGPIPE
    if argv and os.path.basename(argv[0]) == "timeout" and code in (124, 137):
        return True
    words = _program_words(argv)
    return bool(words) and code in _CUT_OFF.get(os.path.basename(words[0]), ())


def stops_reading_early(argv: Sequence[str]) -> bool:
    """A stage that may close its input before the stage feeding it is done (`head`, `grep
    -q`, `grep -m 1`, `grep -l`): the stage before it may then die of the closed pipe, or
    report the write that failed, and that is no failure of the pipeline."""
    words = _program_words(argv)
    if not words:
        return False
    program = os.path.basename(words[0])
    if program == "head":
        return True
    if program in _GREPS:
        return any(w in _GREP_STOPS or w.startswith(("-m", "--max-count")) or
                   (w.startswith("-") and not w.startswith("--") and "q" in w)
                   for w in words[1:])
    return False


_GREPS = frozenset({"grep", "egrep", "fgrep", "zgrep", "rg"})
_GREP_STOPS = frozenset({"-q", "--quiet", "--silent", "-l", "--files-with-matches"})


def _program_words(argv: Sequence[str]) -> list[str]:
    """`argv` from its program on: wrappers (`sudo`, `timeout 5`, `env X=1`) and templated
    words left out."""
    words = [w for w in argv if "{{" not in w]
    while words and (os.path.basename(words[0]) in _PREFIXES or "=" in words[0]):
        if os.path.basename(words[0]) == "timeout" and len(words) > 1:
            words = words[1:]  # `timeout 5 grep ...`: its duration goes with it
        words = words[1:]
    return words
