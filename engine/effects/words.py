"""Which words of a command come from a template rather than from the guide's own text.

A sed or awk program is read-only only when the guide wrote it out: a value spliced into a
program can turn it into another program (`s/x/y/e`, `system()`). The compiler and the runtime
mark such words by wrapping them in `Templated`; everything else treats them as plain strings.
"""

from __future__ import annotations

from collections.abc import Sequence


class Templated(str):
    """A word whose text is (or contains) a template value: `{{ inputs.x }}`, `$X`, `<x>`."""

    __slots__ = ()


def marked(words: Sequence[str], templated: Sequence[bool]) -> list[str]:
    """The words, each one that `templated` flags wrapped in `Templated`."""
    return [Templated(w) if t else str(w) for w, t in zip(words, templated, strict=True)]


_ESCAPES = ("{{ '{{' }}", "{{ '{%' }}", "{{ '{#' }}")  # literal braces, as the compiler writes them


def has_template(text: str) -> bool:
    """Whether plan text holds a value (`{{ inputs.x }}`), not only escaped literal braces."""
    for escape in _ESCAPES:
        text = text.replace(escape, "")
    return "{{" in text or "{%" in text
