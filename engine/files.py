"""Reading a text file that a person handed to a command: one error, located, for each way it
can be wrong (missing, unreadable, not UTF-8), raised as the caller's own error class.

It parses nothing but for one reader all share: JSON read strictly (`loads_strict`), for a
document written by someone else (an alert) whose every reader must take it the same way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.errors import MendflowError


def read_text(path: str | Path, *, what: str, error: type[MendflowError],
              hint: str | None = None) -> str:
    """The file's text, or `error` naming the file (and the line of a byte that is not
    UTF-8) and saying what it should be."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise error(f"no such {what}", file=str(p), hint=hint) from None
    except IsADirectoryError:
        raise error(f"the {what} is a directory, not a file", file=str(p), hint=hint) from None
    except OSError as exc:
        raise error(f"cannot read the {what}: {exc.strerror}", file=str(p), hint=hint) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise error(f"the {what} is not UTF-8 text (byte 0x{raw[exc.start]:02x})",
                    file=str(p), line=line, hint=hint) from None


class DuplicateKey(ValueError):
    """A JSON object holds a key twice: one reader keeps the first value, another the last
    (a `node: -rf` before a `node: web-1`), so the document means nothing for sure."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class NotJsonConstant(ValueError):
    """`NaN` or `Infinity`: Python's reader takes them, JSON has no such value."""


def loads_strict(text: str | bytes) -> Any:
    """JSON as JSON means it: a key twice in one object raises `DuplicateKey`, `NaN` and
    `Infinity` raise `NotJsonConstant`; anything else not JSON, `json.JSONDecodeError`."""
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for key, _ in items:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
        return dict(items)

    def constant(name: str) -> Any:
        raise NotJsonConstant(name)
    return json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
