"""Reading SQL text without parsing it: where a quoted literal or a dollar-quoted body ends.

Shared by the compiler (which turns placeholders into bound parameters) and the sql plugin
(which turns `:name` parameters into the driver's `$n`): both must skip what sits inside
quotes exactly alike, or a `:p1` inside a string would be bound by one and not the other.
It does not classify SQL (`engine.effects.sql` does).
"""

from __future__ import annotations


def quoted_end(text: str, start: int, quote: str) -> int:
    """Index just past the literal that opens with `quote` at `start` (`''` is an escaped
    quote); the end of the text if it never closes."""
    i = start + 1
    while i < len(text):
        if text[i] == quote:
            if text[i + 1:i + 2] == quote:
                i += 2
                continue
            return i + 1
        i += 1
    return len(text)


def dollar_tag_end(text: str, start: int) -> int | None:
    """End of a `$tag$` opener at `start`, or None when `$` starts no dollar quote (`$1`)."""
    j = start + 1
    while j < len(text) and (text[j].isalnum() or text[j] == "_"):
        j += 1
    if j < len(text) and text[j] == "$" and not text[start + 1:j].isdigit():
        return j + 1
    return None
