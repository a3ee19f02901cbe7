"""Values a script reads, bound as data: each named value travels in the environment under a
prefix, and the script's fixed prelude assigns it to the variable the guide's text reads, so a
value is never part of the script's text (the `bash` and `powershell` plugins)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def checked_names(args: Mapping[str, str], language: str,
                  refused: Callable[[str], str | None] = lambda name: None) -> None:
    """Raise ValueError for a name that is not a variable name of `language`, or that
    `refused` gives a reason against."""
    for name in args:
        if not _NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a {language} variable name")
        why = refused(name)
        if why:
            raise ValueError(why)


def bound_env(prefix: str, args: Mapping[str, str]) -> dict[str, str]:
    """The environment that carries the values: `PREFIX` + name -> value."""
    return {f"{prefix}{name}": value for name, value in args.items()}
