"""Command-line flags, parsed the way the tools themselves parse them (getopt and its cousins).

This module owns reading an argv tail against one tool's flag table: short flags with and
without a value (`-n 5`, `-n5`), bundles (`-sXDELETE` is `-s -X DELETE`), optional values that
only attach (`-i.bak`, `--in-place=.bak`), `--long=value` and `--long value`, `--` ending the
flags, GNU permutation (flags after operands) or POSIX stop-at-the-first-operand, Go's pflag
forms (`--all=true`, `-n=ns`), numeric counts (`head -20`) and one-dash long names (`-noout`).

A flag the table does not list is refused (`NotRead`): a command is read-only only when every
flag it carries is known to be. It does not know any tool (`engine.effects.table` does).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Effect = Literal["read", "mutate", "interactive"]
Cause = Literal["tool", "subcommand", "flag", "operand", "script", "sql", "plugin", "wrapper",
                "interactive"]


class NotRead(Exception):
    """Why a command is not read-only: its effect and one sentence a person can act on.

    `cause` says which part of the command decided it (the tool itself, a subcommand, a flag, an
    operand, a script...); the linter explains the ones that look like reads."""

    def __init__(self, reason: str, *, cause: Cause, effect: Effect = "mutate") -> None:
        super().__init__(reason)
        self.reason = reason
        self.cause = cause
        self.effect = effect


_BOOLS = frozenset({"true", "false", "1", "0", "t", "f", "True", "False", "TRUE", "FALSE"})
_NUMERIC = re.compile(r"-\d+")


@dataclass(frozen=True)
class Flags:
    """One tool's read-only flags (getopt_long's tables), and why some others are not.

    Build it with `Flags.of(optstring, longopts)`: optstring as getopt's (`"an:i::"`: -a, -n
    VALUE, -i[VALUE]); longopts as names, `name=` taking a value, `name=?` an optional one."""

    short: frozenset[str] = frozenset()
    short_value: frozenset[str] = frozenset()
    short_optional: frozenset[str] = frozenset()
    long: frozenset[str] = frozenset()
    long_value: frozenset[str] = frozenset()
    long_optional: frozenset[str] = frozenset()
    numeric: bool = False  # `-20` is a count (head, tail, git log)
    one_dash: bool = False  # long names take one dash: `-noout`, `-brief` (openssl, ip)
    go: bool = False  # Go's pflag: `--all=true`, `-n=ns`
    posix: bool = False  # the first operand ends the flags (wrappers, ssh, xargs)
    why: Mapping[str, str] = field(default_factory=dict)  # flag -> what it does that is not read

    @classmethod
    def of(cls, optstring: str = "", longopts: str = "", **kw: object) -> Flags:
        short: set[str] = set()
        value: set[str] = set()
        optional: set[str] = set()
        i = 0
        while i < len(optstring):
            c = optstring[i]
            if optstring.startswith("::", i + 1):
                optional.add(c)
                i += 3
            elif optstring.startswith(":", i + 1):
                value.add(c)
                i += 2
            else:
                short.add(c)
                i += 1
        long_: set[str] = set()
        long_value: set[str] = set()
        long_optional: set[str] = set()
        for name in longopts.split():
            if name.endswith("=?"):
                long_optional.add(name[:-2])
            elif name.endswith("="):
                long_value.add(name[:-1])
            else:
                long_.add(name)
        return cls(frozenset(short), frozenset(value), frozenset(optional), frozenset(long_),
                   frozenset(long_value), frozenset(long_optional), **kw)  # type: ignore[arg-type]

    def __or__(self, other: Flags) -> Flags:
        # Tables are built once and merged on every judgement (a cobra tool merges all its
        # subcommands' flags): keep each merge, keyed by the operands' identities (kept alive
        # with it, so an id is never reused while its entry stands).
        key = (id(self), id(other))
        kept = _MERGED.get(key)
        if kept is None:
            kept = _MERGED[key] = (self, other, self._merge(other))
        return kept[2]

    def _merge(self, other: Flags) -> Flags:
        return Flags(self.short | other.short, self.short_value | other.short_value,
                     self.short_optional | other.short_optional, self.long | other.long,
                     self.long_value | other.long_value, self.long_optional | other.long_optional,
                     self.numeric or other.numeric, self.one_dash or other.one_dash,
                     self.go or other.go, self.posix and other.posix,
                     {**self.why, **other.why})


_MERGED: dict[tuple[int, int], tuple[Flags, Flags, Flags]] = {}


@dataclass
class Parsed:
    """An argv tail read against a flag table: the flags given (name, value) and the operands."""

    flags: list[tuple[str, str | None]] = field(default_factory=list)
    operands: list[str] = field(default_factory=list)
    after_dashes: list[str] = field(default_factory=list)  # the operands after `--` (paths)

    def has(self, *names: str) -> bool:
        return any(name in names for name, _ in self.flags)

    def values(self, *names: str) -> list[str]:
        return [v for name, v in self.flags if name in names and v is not None]


def parse(args: list[str], flags: Flags, tool: str, *, stop_at_operand: bool = False) -> Parsed:
    """Read `args` against `flags`; raises NotRead on a flag the table does not list."""
    out = Parsed()
    posix = flags.posix or stop_at_operand
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            out.operands += args[i + 1:]
            out.after_dashes = args[i + 1:]
            break
        if arg.startswith("--") or (flags.one_dash and arg.startswith("-") and len(arg) > 1
                                    and _one_dash_long(arg, flags)):
            i = _long(args, i, flags, tool, out)
        elif arg.startswith("-") and arg != "-":
            if flags.numeric and _NUMERIC.fullmatch(arg):
                out.flags.append(("-N", arg[1:]))
            else:
                i = _short(args, i, flags, tool, out)
        else:
            if posix:
                out.operands += args[i:]
                break
            out.operands.append(arg)
        i += 1
    return out


def refuse_flag(flag: str, flags: Flags, tool: str) -> NotRead:
    """The refusal for a flag that is not read-only, with the reason the table knows."""
    why = flags.why.get(flag)
    if why:
        return NotRead(f"{tool}'s {flag} {why}", cause="flag")
    return NotRead(f"{flag} is not a read-only flag of {tool}", cause="flag")


def _one_dash_long(arg: str, flags: Flags) -> bool:
    name = arg[1:].split("=", 1)[0]
    return name in flags.long or name in flags.long_value or name in flags.long_optional or \
        f"-{name}" in flags.why


def _long(args: list[str], i: int, flags: Flags, tool: str, out: Parsed) -> int:
    arg = args[i]
    dashes = "--" if arg.startswith("--") else "-"
    name, eq, value = arg[len(dashes):].partition("=")
    flag = dashes + name
    if name in flags.long:
        if eq and not (flags.go and value in _BOOLS):
            raise NotRead(f"{flag} takes no value in {tool}", cause="flag")
        out.flags.append((flag, value if eq else None))
    elif name in flags.long_value:
        if not eq:
            if i + 1 >= len(args):
                raise NotRead(f"{flag} of {tool} needs a value", cause="flag")
            i += 1
            value = args[i]
        out.flags.append((flag, value))
    elif name in flags.long_optional:
        out.flags.append((flag, value if eq else None))
    else:
        raise refuse_flag(flag, flags, tool)
    return i


def _short(args: list[str], i: int, flags: Flags, tool: str, out: Parsed) -> int:
    arg = args[i]
    j = 1
    while j < len(arg):
        c = arg[j]
        flag = f"-{c}"
        if c in flags.short:
            out.flags.append((flag, None))
            j += 1
            continue
        if c in flags.short_value:
            value = arg[j + 1:]
            if flags.go and value.startswith("="):
                value = value[1:]
            if not value:
                if i + 1 >= len(args):
                    raise NotRead(f"{flag} of {tool} needs a value", cause="flag")
                i += 1
                value = args[i]
            out.flags.append((flag, value))
            return i
        if c in flags.short_optional:
            out.flags.append((flag, arg[j + 1:] or None))
            return i
        raise refuse_flag(flag, flags, tool)
    return i
