"""Which step a guide line belongs to: of the steps whose span holds it, the narrowest.

Shared by the linter (a finding names its step) and `compile --explain` (each line range and
what it became). Built once: each line goes to the first step, narrowest first (then by id),
that holds it, skipping lines already given through pointers past them, so the cost is steps
plus lines, not their product.
"""

from __future__ import annotations

from collections.abc import Iterable

from engine.plan import Step


def narrowest_steps(steps: Iterable[Step], *, last: int | None = None) -> dict[int, Step]:
    """line -> its narrowest step; lines past `last` (when given) are left out."""
    owner: dict[int, Step] = {}
    skip: dict[int, int] = {}  # a line already given -> a later line that may not be

    def next_free(line: int) -> int:
        path = []
        while line in skip:
            path.append(line)
            line = skip[line]
        for seen in path:
            skip[seen] = line
        return line

    for s in sorted(steps, key=lambda s: (s.source.end - s.source.start, s.id)):
        end = s.source.end if last is None else min(s.source.end, last)
        line = next_free(s.source.start)
        while line <= end:
            owner[line] = s
            skip[line] = line + 1
            line = next_free(line + 1)
    return owner
