"""Reading a text file that a person handed to a command: one error, located, for each way it
can be wrong (missing, unreadable, not UTF-8), raised as the caller's own error class.

It does not parse anything (the callers do: JSON, JSON lines, TOML).
"""

from __future__ import annotations

from pathlib import Path

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
