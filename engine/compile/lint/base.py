"""What the linter's rules share: findings, the rule registry, and a guide read once.

Rules live one module per category (clarity, flow, data, queries, structure); each registers
its checks with `rule(...)` when imported. Rules read the markdown-it elements of
`engine.guide` (kinds, spans, sections, inline code, links); a regex only ever looks at one
element's text, never at the whole file. Rules favour precision over recall: a rule that
fires on text a careful SRE would call fine is a defect of the rule.

Rule ids: MF1xx clarity, MF2xx control flow, MF3xx data flow, MF4xx query instructions,
MF5xx presentation and structure. MF000 is a guide that cannot be parsed at all; MF001 one that
parses but does not compile (lint = compile: what compile refuses, lint reports first).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict

from engine.guide import Element, Guide
from engine.plan import Plan

Category = Literal["clarity", "control_flow", "data_flow", "query", "structure"]
Severity = Literal["error", "warning", "info"]


class Finding(BaseModel):
    """One thing the linter has to say about a guide, located and with a fix to try."""

    model_config = ConfigDict(frozen=True)

    rule: str
    category: Category
    severity: Severity
    file: str
    line: int
    message: str
    suggestion: str
    step: str | None = None


class Rule(NamedTuple):
    category: Category
    severity: Severity
    description: str


RULES: dict[str, Rule] = {
    "MF000": Rule("structure", "error", "The guide cannot be read or parsed."),
    "MF001": Rule("structure", "error", "The guide does not compile (reported first, at the "
                  "line compile stops at, with compile's fix)."),
}
Check = Callable[["Context"], Iterator[tuple[str, Element | int, str, str]]]
CHECKS: list[Check] = []


def rule(*defs: tuple[str, Category, Severity, str]) -> Callable[[Check], Check]:
    """Register a check and the rule ids it may report (one check can own related ids)."""

    def deco(fn: Check) -> Check:
        for rid, cat, sev, desc in defs:
            RULES[rid] = Rule(cat, sev, desc)
        CHECKS.append(fn)
        return fn

    return deco


# -- what the rules share: a guide read once ----------------------------------------------

SHELL_LANGS = {"bash", "sh", "shell", "zsh", "console", "shell-session", "shellsession"}
PROMQL_LANGS = {"promql", "prometheus", "metricsql", "logql"}
SQL_LANGS = {"sql", "postgresql", "postgres", "psql", "mysql", "plpgsql"}
_COMMANDS = (
    "kubectl oc virtctl helm curl wget ssh scp sudo gcloud gsutil aws az docker podman "
    "systemctl journalctl service psql mysql redis-cli grep egrep cat less tail head ls cd "
    "export echo git gitlab-ctl gitlab-rake gitlab-psql gitlab-rails knife chef-client "
    "terraform jq awk sed find ps top df du free netstat ss ip dig nslookup host ping "
    "traceroute openssl vault consul kill pkill rm mv cp mkdir chmod chown tar watch "
    "crictl virsh ceph rados etcdctl patronictl pgbouncer make python3 python bundle "
    "rails glab gh iptables lsof strace tcpdump mount umount lsblk zpool zfs"
).split()
_PROMPT = re.compile(r"^\s*(?:\[[^\]\n]*\]\s*|[\w.@~:/-]+)?\$\s+")
_ROLE_WORDS = {
    "diagnosis": re.compile(r"^(diagnos|troubleshoot|investigat|debug|triage|verification"
                            r"|(possible |pre-?)?checks\b|identify|data gathering|gather"
                            r"|how to (check|investigate|diagnose|debug|identify))", re.I),
    "mitigation": re.compile(r"^(mitigat|remediat|resolution|resolv|fix|recover|workaround"
                             r"|solution|repair|how to (fix|resolve|mitigate))", re.I),
    "about": re.compile(r"^(meaning|impact|summary|overview|description|background|about"
                        r"|context|references|related|see also|links|further reading"
                        r"|dashboards?|alerts?\b|severity|owners?)", re.I),
}


@dataclass(frozen=True)
class Command:
    """One command line in a shell block, prompt stripped, with its absolute line number."""

    line: int
    text: str


@dataclass
class Context:
    """The guide, read once for all rules: what several rules ask about an element (its role,
    a block's kind and commands) is worked out once, not once per rule and element."""

    guide: Guide
    plan: Plan | None = None
    _roles: dict[int, str | None] = field(default_factory=dict, repr=False)
    _kinds: dict[int, str | None] = field(default_factory=dict, repr=False)
    _commands: dict[int, list[Command]] = field(default_factory=dict, repr=False)

    @property
    def elements(self) -> list[Element]:
        return self.guide.elements

    def role(self, el: Element) -> str | None:
        """'diagnosis', 'mitigation' or 'about' from the nearest heading that says which."""
        heading = el.index if el.kind == "heading" else el.section
        return None if heading is None else self._heading_role(heading)

    def _heading_role(self, index: int) -> str | None:
        if index not in self._roles:
            heading = self.elements[index]
            text = heading.text.strip()
            own = next((role for role, pattern in _ROLE_WORDS.items() if pattern.match(text)),
                       None)
            self._roles[index] = own if own is not None or heading.section is None else \
                self._heading_role(heading.section)
        return self._roles[index]

    def block_kind(self, el: Element) -> str | None:
        if el.index not in self._kinds:
            self._kinds[el.index] = _block_kind(el)
        return self._kinds[el.index]

    def commands(self, el: Element) -> list[Command]:
        """`shell_commands(el)`, once per block."""
        if el.index not in self._commands:
            self._commands[el.index] = shell_commands(el)
        return self._commands[el.index]

    def next_sibling(self, el: Element) -> Element | None:
        for k in range(el.index + 1, len(self.elements)):  # no slice: a copy per call is O(n)
            other = self.elements[k]
            if other.parent == el.index:
                continue
            return other if other.parent == el.parent and other.kind != "heading" else None
        return None

    def has_body(self, el: Element) -> bool:
        """A list item with nested content, or a paragraph followed by a block of code/list."""
        if self.guide.children(el.index):
            return True
        if el.kind == "list_item":
            return False
        nxt = self.next_sibling(el)
        return nxt is not None and nxt.kind in ("code", "list_item", "table", "quote")

    @cached_property
    def prose(self) -> str:
        """Text of every non-code element with command-like code spans cut out."""
        parts = []
        for el in self.elements:
            if el.kind in ("code", "html"):
                continue
            parts.append(_LONG_CODE_SPAN.sub(" ", el.text))
        return "\n".join(parts)

    @cached_property
    def shell_blocks(self) -> list[tuple[Element, list[Command]]]:
        return [(el, cmds) for el in self.elements if el.kind == "code"
                if (cmds := self.commands(el))]

    @cached_property
    def inline_commands(self) -> list[tuple[Element, str]]:
        out = []
        for el in self.elements:
            if el.kind == "code":
                continue
            for code in el.inline_code:
                words = code.split()
                if len(words) >= 2 and words[0] in _COMMANDS:
                    out.append((el, code))
        return out


_LONG_CODE_SPAN = re.compile(r"`[^`\s]*\s[^`]*`")  # a code span with a blank in it; the
# first part may not hold blanks, or an unclosed "`a a a ..." backtracks quadratically


def code_lines(el: Element) -> list[tuple[int, str]]:
    first = el.span.start + 1 if el.fenced else el.span.start
    return [(first + i, ln) for i, ln in enumerate(el.text.split("\n"))]


def looks_like_shell(el: Element) -> bool:
    if el.lang in SHELL_LANGS:
        return True
    if el.lang is not None:
        return False
    for _, ln in code_lines(el):
        s = ln.strip()
        if not s:
            continue
        if _PROMPT.match(ln):
            return True
        return s.split()[0] in _COMMANDS
    return False


def shell_commands(el: Element) -> list[Command]:
    """The command lines of a shell block: prompt lines if it has prompts, else all lines."""
    if not looks_like_shell(el):
        return []
    lines = code_lines(el)
    prompted = any(_PROMPT.match(ln) for _, ln in lines)
    out: list[Command] = []
    continuing = False
    for no, ln in lines:
        m = _PROMPT.match(ln)
        if m:
            text = ln[m.end():]
        elif continuing or not prompted:
            text = ln
        else:
            continue
        continuing = text.rstrip().endswith("\\")
        text = text.strip()
        if text and not text.startswith("#"):
            out.append(Command(no, text))
    return out


def looks_like_promql(text: str) -> bool:
    return bool(re.search(r"\b(rate|irate|increase|histogram_quantile|sum|avg|max|min|count)"
                          r"\s*(by\s*\([^)]*\)\s*)?\(", text)
                and re.search(r"\w\{[^}]*=~?\s*\"|\[\d+[smhd]\]", text))


def looks_like_sql(text: str) -> bool:
    return bool(re.match(r"\s*(select\s+[\w*(]|with\s+\w+\s+as\s*\(|explain\s|update\s+\w+\s+set"
                         r"|delete\s+from|insert\s+into|alter\s+table|drop\s+table|truncate\s)",
                         text, re.I))


_TIMESTAMP = re.compile(
    r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?|\b\w{3} [ \d]\d \d{2}:\d{2}:\d{2}")
_LOG_LEVEL = re.compile(r"\b(INFO|WARN|WARNING|ERROR|DEBUG|FATAL|TRACE)\b|level=\w+")
_TABLE_HEADER = re.compile(r"^\s*[A-Z][A-Z_-]+(?:\s{2,}[A-Z][A-Z_()-]+(?: [A-Z]+)?){2,}\s*$")


def looks_like_output(text: str) -> bool:
    lines = [ln for ln in text.split("\n") if ln.strip()]
    if not lines:
        return False
    if _TABLE_HEADER.match(lines[0]):
        return True
    stamped = sum(1 for ln in lines if _TIMESTAMP.search(ln) or _LOG_LEVEL.search(ln))
    return stamped >= max(1, len(lines) // 2)


def _looks_like_logs(text: str) -> bool:
    """Stricter than `looks_like_output`: a timestamp alone may be a command's argument."""
    lines = [ln for ln in text.split("\n") if ln.strip()]
    return bool(lines) and (_TABLE_HEADER.match(lines[0]) is not None or sum(
        1 for ln in lines if _LOG_LEVEL.search(ln)) >= max(1, len(lines) // 2))


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z`])", text) if s.strip()]


def is_step(ctx: Context, el: Element) -> bool:
    """An instruction a person would act on: not in a Meaning/Impact/References section."""
    if el.kind not in ("list_item", "paragraph"):
        return False
    role = ctx.role(el)
    if role == "about":
        return False
    return role in ("diagnosis", "mitigation") or el.kind == "list_item" and el.ordered


_ALERT_SECTION = re.compile(r"^(meaning|impact|symptoms?)\s*$", re.I)


def _block_kind(el: Element) -> str | None:
    """'shell', 'promql', 'sql', 'output' or None for a code block, from its tag or content."""
    lang = el.lang
    if lang in PROMQL_LANGS or lang is None and looks_like_promql(el.text):
        return "promql"
    if lang in SQL_LANGS or lang is None and looks_like_sql(el.text):
        return "sql"
    if looks_like_shell(el):
        return "shell"
    if lang is None and looks_like_output(el.text):
        return "output"
    return None


def _clip(text: str, width: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."
