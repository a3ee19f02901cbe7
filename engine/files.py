"""Reading a text file that a person handed to a command: one error, located, for each way it
can be wrong (missing, unreadable, not UTF-8), raised as the caller's own error class.

It parses nothing but for the JSON readers all share: `loads`, JSON with a bound on how deep
it nests, and `loads_strict`, JSON read strictly, for a document written by someone else (an
alert) whose every reader must take it the same way.
"""

from __future__ import annotations

import errno
import json
import os
import re
from pathlib import Path
from typing import Any

from engine.errors import MendflowError

MAX_FILE_BYTES = 256 * 2**20
"""The most a file handed to a command may hold (a guide, a plan, an alert, a config, a
history): `/dev/zero`, or a stream that never ends, was read until memory ran out."""


def read_bytes(path: str | Path) -> bytes:
    """`path`'s bytes, at most `MAX_FILE_BYTES`: an OSError (EFBIG) past them, which every
    reader already reports as a file it cannot read, with the reason.

    Opened without waiting: a FIFO no process writes to (`guides/x.md` made by `mkfifo`)
    blocked `open` for ever, and `mendflow compile guides/` with it; now it reads as empty
    (the caller says so), and one that has a writer is read as before."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        os.set_blocking(fd, True)  # a writer's data is waited for, as a pipe's always was
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with f:
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise OSError(errno.EFBIG, f"it holds more than {MAX_FILE_BYTES // 2**20} MiB (a "
                                   "device, or a stream that does not end?)")
    return data


def markdown_under(folder: Path, *, error: type[MendflowError]) -> list[Path]:
    """The `.md` files under `folder`, sorted; a folder that cannot be listed to its end (`/`:
    its /proc holds entries no one can list) is `error` naming it, not a traceback."""
    try:
        return sorted(folder.rglob("*.md"))
    except OSError as exc:
        where = exc.filename or folder
        raise error(f"cannot list the folder: {exc.strerror} ({where})", file=str(folder),
                    hint="Pass the folder that holds the guides") from None


def read_text(path: str | Path, *, what: str, error: type[MendflowError],
              hint: str | None = None) -> str:
    """The file's text, or `error` naming the file (and the line of a byte that is not
    UTF-8) and saying what it should be."""
    p = Path(path)
    try:
        raw = read_bytes(p)
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


MAX_DEPTH = 100
"""How deep a JSON document a person or a sender hands over may nest. Python's reader
recurses once a level and gives up near 1,000 with a RecursionError, which is no `ValueError`:
every caller's `except json.JSONDecodeError` missed it, and `[[[[...` of a few kilobytes, in an
alert, a plan, a history file or a webhook, was an internal error (exit 1, an HTTP 500). No
document Mendflow reads or writes comes near 100 levels."""

_NESTING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[{]|[\]}]', re.DOTALL)


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def loads(text: str | bytes, **options: Any) -> Any:
    """`json.loads(text, **options)`, and a document nested more than `MAX_DEPTH` levels deep
    is a `json.JSONDecodeError` at the bracket that went past it, so a caller's one error for
    bad JSON covers it, with its line. So is a string that is not text: a `\\ud800` escape
    with no other half (Python's reader keeps the lone surrogate, which no UTF-8 output, file,
    terminal or database takes: an alert label holding one ended in an internal error)."""
    doc = text.decode("utf-8", errors="replace") if isinstance(text, bytes) else text
    found = _loads(text, doc, **options)
    if _SURROGATE_ESCAPE.search(doc) is not None or not isinstance(text, bytes) and \
            _has_surrogate(doc):
        _refuse_surrogates(found, doc)
    return found


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _refuse_surrogates(value: Any, doc: str) -> None:
    """A JSONDecodeError at the first string of `value` (keys too) that is not UTF-8 text."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _has_surrogate(item):
                at = _SURROGATE_ESCAPE.search(doc)
                raise json.JSONDecodeError("a string holds half of a UTF-16 surrogate pair "
                                           "(\\ud800-\\udfff alone), which is not text", doc,
                                           at.start() if at is not None else 0)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)


def _loads(text: str | bytes, doc: str, **options: Any) -> Any:
    if doc.count("[") + doc.count("{") <= MAX_DEPTH:  # too few to nest that deep
        return json.loads(text, **options)
    depth = 0
    for token in _NESTING.finditer(doc):
        bracket = token.group()
        if bracket in ("[", "{"):
            depth += 1
            if depth > MAX_DEPTH:
                raise json.JSONDecodeError(f"nested more than {MAX_DEPTH} levels deep", doc,
                                           token.start())
        elif bracket in ("]", "}"):
            depth -= 1
    return json.loads(text, **options)


def loads_strict(text: str | bytes) -> Any:
    """JSON as JSON means it: a key twice in one object raises `DuplicateKey`, `NaN` and
    `Infinity` raise `NotJsonConstant`; anything else not JSON (nested more than `MAX_DEPTH`
    levels deep too), `json.JSONDecodeError`."""
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for key, _ in items:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
        return dict(items)

    def constant(name: str) -> Any:
        raise NotJsonConstant(name)
    return loads(text, object_pairs_hook=pairs, parse_constant=constant)
