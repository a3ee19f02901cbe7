"""What one table entry says, and how an argv is judged against it.

A `Tool` is one row of the read-only table: the flags that keep the tool read-only, how many
operands it may take (`uniq IN OUT` writes OUT), a check on what the flags and operands say
(`date +%s` reads the clock, `date 0101` sets it), the subcommands that read (`kubectl get`),
and the flags that make it run until someone stops it (`tail -f`). Anything the row does not
list is not read-only. It holds no rows itself (`engine.effects.table` does).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar, Union

from engine.effects.options import Cause, Effect, Flags, NotRead, Parsed, parse

EDITOR = "opens an editor for a person to change the text in: a person's job"
LOGIN = "login asks a person for a password, a token or a browser"  # then it is over
# a stream or a live screen (`tail -f`, `watch`, `top`): it reads no line the guide types after
# it, so the guide goes on once the person stops it. A program that stays open for what comes
# after it (`kubectl port-forward`, `attach`, a console) says "stays open" instead.
UNTIL_STOPPED = "until someone stops it"
Check = Callable[[Parsed, str], None]  # raises NotRead; the str names the command ("git branch")


@dataclass(frozen=True)
class Tool:
    flags: Flags = field(default_factory=Flags)
    max_operands: int | None = None
    too_many: str = "takes an operand that it writes"  # said after the command's name
    check: Check | None = None
    subcommands: Mapping[str, Tool] | None = None
    inherit: bool = False  # the tool's flags still apply after its subcommand (cobra, systemctl)
    bare: Effect = "mutate"  # a subcommand tool given no subcommand
    follow: frozenset[str] = frozenset()  # flags that run it until stopped: a person's job
    any_args: bool = False  # no flag or operand of this tool writes (ps, dig): all are fine
    live: bool = False  # a live view or stream whatever its arguments (`gitlab-ctl tail`)
    stays: bool = False  # live, and open for the lines after it (`port-forward`, `attach`)
    # a flag given instead of a subcommand that is that subcommand (`ceph -s`: `ceph status`)
    named_by: Mapping[str, str] | None = None


Grammar = Callable[[str, list[str]], None]  # a tool with its own syntax (find): raises NotRead
Rule = Union["Tool", Grammar]
R = TypeVar("R", "Tool", Grammar)


def judge(name: str, tool: Tool, args: list[str], inherited: Flags | None = None) -> None:
    """Raise NotRead unless `name args` is read-only by `tool`'s row."""
    if tool.live and tool.stays:
        raise NotRead(f"{name} stays open until someone closes it: a person's job",
                      cause="interactive", effect="interactive")
    if tool.live:
        raise NotRead(f"{name} runs {UNTIL_STOPPED}: a person's job",
                      cause="interactive", effect="interactive")
    if tool.any_args:  # (its check, if any, gets every word as an operand)
        if tool.check is not None:
            tool.check(Parsed(operands=list(args)), name)
        return
    flags = tool.flags | inherited if inherited is not None else tool.flags
    if tool.subcommands is not None:
        # cobra reads a subcommand's flags wherever they stand, even before its name
        finding = _all_flags(tool, flags) if tool.inherit else flags
        head = parse(args, finding, name, stop_at_operand=True)
        _follow(name, tool, head)
        named = tool.named_by  # (asked only of a tool that has one: this runs per command)
        said = next((named[f] for f, _ in head.flags if f in named), None) \
            if named and not head.operands else None
        if said is not None and named:  # judged as the subcommand it names, with its flags
            judge(f"{name} {said}", tool.subcommands[said], [a for a in args if a not in named],
                  flags if tool.inherit else inherited)
            return
        if not head.operands:
            if tool.bare != "read":
                raise NotRead(f"{name} needs a subcommand that reads", cause="subcommand",
                              effect=tool.bare)
            if tool.check is not None:  # (on the flags of the bare command: `git remote -v`)
                tool.check(head, name)
            return
        sub = head.operands[0]
        at = len(args) - len(head.operands)
        row = tool.subcommands.get(sub)
        if row is None and sub == "edit":  # kubectl edit, systemctl edit, virsh edit
            raise NotRead(f"`{name} edit` {EDITOR}", cause="interactive", effect="interactive")
        if row is None:
            raise NotRead(f"`{name} {sub}` is not a read-only subcommand", cause="subcommand")
        if tool.inherit:  # the flags before the subcommand are the subcommand's too
            judge(f"{name} {sub}", row, args[:at] + args[at + 1:], flags)
        else:
            judge(f"{name} {sub}", row, args[at + 1:], inherited)
        return
    parsed = parse(args, flags, name)
    _follow(name, tool, parsed)
    if tool.max_operands is not None and len(parsed.operands) > tool.max_operands:
        raise NotRead(f"{name} {tool.too_many}", cause="operand")
    if tool.check is not None:
        tool.check(parsed, name)


_ALL_FLAGS: dict[tuple[int, int], tuple[Tool, Flags, Flags]] = {}


def _all_flags(tool: Tool, flags: Flags) -> Flags:
    """`flags` and every subcommand's, merged once per (tool, flags): tables never change."""
    key = (id(tool), id(flags))
    kept = _ALL_FLAGS.get(key)
    if kept is None:
        merged = flags
        for each in (tool.subcommands or {}).values():
            merged = merged | each.flags
        kept = _ALL_FLAGS[key] = (tool, flags, merged)
    return kept[2]


def _follow(name: str, tool: Tool, parsed: Parsed) -> None:
    flag = next((f for f, _ in parsed.flags if f in tool.follow), None)
    if flag is not None:
        raise NotRead(f"{name} {flag} runs {UNTIL_STOPPED}: a person's job",
                      cause="interactive", effect="interactive")


def needs(*flags: str, what: str, cause: Cause = "operand") -> Check:
    """A tool that reads only in the mode one of `flags` selects (`mdadm --detail`, `nginx
    -t`, `haproxy -c`): without one, `what` it does instead."""

    def check(p: Parsed, name: str) -> None:
        if not p.has(*flags):
            raise NotRead(f"{name} without {flags[0]} {what}", cause=cause)
    return check


def bounded(*stops: str) -> Check:
    """A reader that streams until someone stops it unless one of `stops` (a count, a
    timeout, `--nostream`) tells it when to end: a person's job without one."""

    def check(p: Parsed, name: str) -> None:
        if not p.has(*stops):
            raise NotRead(f"{name} runs until someone stops it (add {stops[0]} to end it): a "
                          "person's job", cause="interactive", effect="interactive")
    return check


def rows(names: str, rule: R) -> dict[str, R]:
    """The same row under several names (aliases, tool families)."""
    return {name: rule for name in names.split()}

