"""Text that is safe to put on a person's terminal or in a report.

Values from inputs, alert labels and command output are printed in the live view, on the
approval line, by `show` and in reports. A raw terminal escape among them (`ESC ]0;...BEL`,
`ESC [2J`, a bidi override) could retitle or clear the operator's terminal, hide text, or make
a command read differently from what will run. Every control character except newline and tab,
and every invisible format character, is shown as an escape instead (`\\x1b`, `\\u202e`).

It does not decide what is secret (`engine.datasources`) or shorten anything.
"""

from __future__ import annotations

import unicodedata

_KEEP = frozenset("\n\t")


def visible(text: str) -> str:
    """`text` with every control and format character (but newline and tab) escaped."""
    if text.isprintable():
        return text
    out: list[str] = []
    for c in text:
        if c not in _KEEP and unicodedata.category(c) in ("Cc", "Cf"):
            code = ord(c)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(c)
    return "".join(out)
