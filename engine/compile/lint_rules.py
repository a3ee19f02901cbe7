"""The guide linter's rules: each one a small function over a parsed `Guide`.

This module owns what the linter checks and what it suggests instead; `engine.compile.lint`
owns running the rules, sorting their findings and printing them. Rules read the markdown-it
elements of `engine.guide` (kinds, spans, sections, inline code, links); a regex only ever
looks at one element's text, never at the whole file.

Rules favour precision over recall: a rule that fires on text a careful SRE would call fine
is a defect of the rule, so most of them look for a missing thing only where its absence
matters (a threshold inside a condition, a data source next to a query).

Rule ids: MF1xx clarity, MF2xx control flow, MF3xx data flow, MF4xx query instructions,
MF5xx presentation and structure. MF000 is a guide that cannot be parsed at all.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict

from engine.guide import Element, Guide, slugify
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
}
Check = Callable[["Context"], Iterator[tuple[str, Element | int, str, str]]]
CHECKS: list[Check] = []


def _rule(*defs: tuple[str, Category, Severity, str]) -> Callable[[Check], Check]:
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
    guide: Guide
    plan: Plan | None = None

    @property
    def elements(self) -> list[Element]:
        return self.guide.elements

    def role(self, el: Element) -> str | None:
        """'diagnosis', 'mitigation' or 'about' from the nearest heading that says which."""
        chain = self.guide.section_path(el)
        if el.kind == "heading":
            chain = [*chain, el]
        for heading in reversed(chain):
            for role, pattern in _ROLE_WORDS.items():
                if pattern.match(heading.text.strip()):
                    return role
        return None

    def next_sibling(self, el: Element) -> Element | None:
        for other in self.elements[el.index + 1 :]:
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
                if (cmds := shell_commands(el))]

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


_LONG_CODE_SPAN = re.compile(r"`[^`]*\s[^`]*`")


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


# -- 1. clarity and precision ---------------------------------------------------------------

_VAGUE = re.compile(
    r"\b(high(er)?|low(er)?|too (many|much|few|long|high|low|slow)|a lot of|lots of|large|huge"
    r"|slow(ly)?|recently|excessive(ly)?|elevated|significant(ly)?)\b", re.I)
_DECISION = re.compile(r"\W*(?:if|when|whenever|unless|once)\b(.*?)(?:,|\bthen\b|:|$)", re.I)
"""The condition clause of a decision sentence: 'If <clause>, do ...'."""


@_rule(("MF101", "clarity", "warning",
        "A condition uses a vague quantity ('high', 'too many', 'slow') with no number."))
def vague_threshold(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    for el in ctx.elements:
        if not is_step(ctx, el):
            continue
        for sent in sentences(el.text):
            cond = _DECISION.match(sent)
            if not cond or re.search(r"\d|`|\balert\b", cond.group(1), re.I):
                continue
            m = _VAGUE.search(cond.group(1))
            if m:
                word = m.group(0)
                yield ("MF101", el, f"condition uses '{word}' with no threshold: "
                       f"\"{_clip(sent)}\"",
                       f"Say the number that counts as '{word}' (e.g. 'above 90% for 5m', "
                       f"'more than 3 restarts in 10m') so the decision is the same for everyone")
                break


_PRONOUN_SUBJECT = re.compile(
    r"^(It|They|This|That|These|Those)\s+(should|must|needs? to|has to|have to)\b")


@_rule(("MF102", "clarity", "info", "A step's subject is a pronoun ('It should be ...')."))
def pronoun_subject(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    for el in ctx.elements:
        if el.kind == "list_item" and is_step(ctx, el):
            m = _PRONOUN_SUBJECT.match(el.text)
            if m:
                yield ("MF102", el, f"step starts with the pronoun '{m.group(1)}': "
                       f"\"{_clip(el.text)}\"",
                       f"Name the thing instead of '{m.group(1)}' (e.g. 'The virt-handler pod "
                       f"should ...'): a step may be read on its own")


_PASSIVE = re.compile(
    r"\b(should|must|needs? to|has to|have to) be (checked|verified|validated|investigated"
    r"|reviewed|inspected|examined|monitored|restarted|fixed|resolved|looked at|analy[sz]ed"
    r"|confirmed|adjusted|increased|cleaned up|removed|deleted|updated)\b(?![^.]*\bby\b)", re.I)


@_rule(("MF103", "clarity", "warning",
        "Passive instruction ('should be checked') with no actor and no how."))
def passive_instruction(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    for el in ctx.elements:
        if not is_step(ctx, el) or el.inline_code or el.links or ctx.has_body(el):
            continue
        m = _PASSIVE.search(el.text)
        if m:
            yield ("MF103", el, f"'{m.group(0)}' says neither who does it nor how",
                   f"Write it as an instruction with the command or tool, e.g. 'Run `...` and "
                   f"check that ...' instead of '{m.group(0)}'")


_CHECK_VERB = re.compile(r"^(check|verify|inspect|investigate|review|examine|look at|look into"
                         r"|confirm|validate)\b", re.I)
_WHAT_OR_HOW = re.compile(
    r"\b(for|whether|if|that|to see|to ensure|to make sure|to confirm|is|are|has|have|shows?"
    r"|contains?|match(es)?|equals?|should|must|using|via|with|in|on|from|at|by)\b", re.I)


@_rule(("MF104", "clarity", "warning",
        "A 'check X' step gives no command, no query and nothing to look for."))
def bare_check(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    for el in ctx.elements:
        if not is_step(ctx, el) or el.inline_code or el.links or ctx.has_body(el):
            continue
        text = el.text.strip()
        m = _CHECK_VERB.match(text)
        if not m or text.endswith(":") or _WHAT_OR_HOW.search(text[m.end():]):
            continue
        yield ("MF104", el, f"\"{_clip(text)}\" gives no command, query or thing to look for",
               "Add the command or query in a code block and say what a bad result looks "
               "like, e.g. 'Run `kubectl get pods -n ...` and look for pods not Ready'")


# -- 2. control flow --------------------------------------------------------------------------

_ACTION_WORD = re.compile(
    r"\b(run|check|restart|delete|escalate|contact|page|see|go|skip|follow|continue|proceed|"
    r"open|create|scale|increase|decrease|remove|stop|start|use|try|apply|rollback|roll back|"
    r"revert|drain|cordon|reboot|investigate|review|ask|notify|wait|retry|file|raise|consult|"
    r"refer|reach out|verify|ensure|make sure|inspect|look|set|update|fix|resolve|move|add|"
    r"send|post|announce|kill|terminate|purge|consider|tell|ping|means?|points? to|indicates?|"
    r"suggests?|likely|probably|need|must|should)\b",
    re.I)


@_rule(("MF201", "control_flow", "warning", "An 'If ...' gives a condition but no action."))
def if_without_action(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    for el in ctx.elements:
        if not is_step(ctx, el) or ctx.has_body(el):
            continue
        for sent in sentences(el.text):
            m = re.match(r"(If|When)\s+(.*)", sent.strip())
            if not m:
                continue
            rest = m.group(2)
            if re.search(r",|\bthen\b|:", rest) or _ACTION_WORD.search(rest):
                continue
            yield ("MF201", el, f"\"{_clip(sent)}\" says when but not what to do",
                   "Finish the sentence with the action, e.g. 'If the pod is Pending, "
                   "describe it with `kubectl describe pod ...`', and say what to do otherwise "
                   "if it is not simply the next step")
            break


_END_WORDS = re.compile(
    r"\b(resolv\w*|escalat\w*|contact|support|reach out|open an? (issue|ticket|case|incident)|"
    r"page|done|complete[sd]?|fixed|clears?|stops? firing|no longer|back to normal|recover\w*|"
    r"help|slack|on-?call)\b", re.I)


@_rule(("MF202", "control_flow", "warning",
        "A runbook never says when it is done, resolved, or when to escalate."))
def no_end(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    mitigation = [h for h in ctx.guide.headings() if ctx.role(h) == "mitigation"
                  and _ROLE_WORDS["mitigation"].match(h.text)]
    if not mitigation:
        return
    start = mitigation[0].index
    for el in ctx.elements[start:]:
        if _END_WORDS.search(el.text) or any(_END_WORDS.search(lk.text) for lk in el.links):
            return
    yield ("MF202", mitigation[0], "the guide never says when the incident is resolved or "
           "when to escalate",
           "End the Mitigation section with how to tell it worked (e.g. 'the alert clears "
           "within 10m') and whom to escalate to if it does not")


_STEP_JUMP = re.compile(
    r"\b(?:skip|go|jump|proceed|continue|return|move|back|repeat)\s+(?:directly\s+|back\s+)?"
    r"(?:to|from|with)\s+step\s+(\d+)", re.I)
_SECTION_JUMP = re.compile(
    r"\b(?:skip|go|jump|proceed|continue|move)\s+(?:directly\s+)?to\s+(?:the\s+)?"
    r"[\"'“]?((?:Diagnos|Mitigat|Troubleshoot|Resolution|Remediat|Verif|Escalat|Meaning|Impact"
    r"|Rollback|Recover)[\w -]{0,30}?)[\"'”]?(?:\s+section\b|\s*[.,;:]|$)")


@_rule(("MF203", "control_flow", "error",
        "A jump to an anchor, step number or section that does not exist."))
def missing_jump_target(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    anchors = ctx.guide.anchors()
    known = {_loose(a) for a in anchors} | {
        _loose(m) for el in ctx.elements if el.kind == "html"
        for m in re.findall(r"\b(?:name|id)=[\"']([^\"']+)", el.text)}
    titles = {h.text.strip().lower() for h in ctx.guide.headings()}
    for el in ctx.elements:
        for link in el.links:
            if link.href.startswith("#") and len(link.href) > 1:
                target = link.href[1:]
                if _loose(target) not in known:
                    near = _closest(target, list(anchors))
                    guess = f" (did you mean #{near}?)" if near else ""
                    yield ("MF203", el, f"link '{link.text}' jumps to missing anchor "
                           f"'#{target}'",
                           f"Point it at an existing heading{guess} or add a heading whose "
                           f"slug is '{target}'")
        for m in _STEP_JUMP.finditer(el.text):
            n = int(m.group(1))
            last = _last_step_number(ctx, el)
            if last is not None and n > last:
                yield ("MF203", el, f"'{m.group(0)}' but the list has only {last} steps",
                       f"Jump to a step between 1 and {last}, or link the target heading "
                       f"with [text](#anchor) so renumbering cannot break it")
        for m in _SECTION_JUMP.finditer(el.text):
            name = m.group(1).strip()
            if name.lower() not in titles and slugify(name) not in anchors:
                yield ("MF203", el, f"'{m.group(0)}' but there is no '{name}' heading",
                       f"Add a '## {name}' heading or correct the section name")


def _loose(anchor: str) -> str:
    """Anchor compared the way GitHub and GitLab both resolve it (they differ on '-', '_')."""
    return re.sub(r"[^a-z0-9]", "", anchor.lower())


def _last_step_number(ctx: Context, el: Element) -> int | None:
    numbers = [e.number for e in ctx.elements
               if e.kind == "list_item" and e.ordered and e.number and e.section == el.section]
    if not numbers:
        numbers = [e.number for e in ctx.elements
                   if e.kind == "list_item" and e.ordered and e.number]
    return max(numbers) if numbers else None


def _closest(target: str, options: list[str]) -> str | None:
    near = difflib.get_close_matches(target, options, n=1, cutoff=0.75)
    return near[0] if near else None


@_rule(("MF204", "control_flow", "warning", "Mitigation comes before Diagnosis."))
def mitigation_first(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    first: dict[str, Element] = {}
    for h in ctx.guide.headings():
        for role in ("diagnosis", "mitigation"):
            if _ROLE_WORDS[role].match(h.text.strip()) and len(h.text.split()) <= 4:
                first.setdefault(role, h)
    if "diagnosis" in first and "mitigation" in first:
        mit, diag = first["mitigation"], first["diagnosis"]
        if mit.index < diag.index and mit.level == diag.level:
            yield ("MF204", mit, f"'{mit.text}' (line {mit.span.start}) comes before "
                   f"'{diag.text}' (line {diag.span.start})",
                   "Move the Diagnosis section above Mitigation: find the cause before "
                   "changing anything")


@_rule(("MF205", "control_flow", "warning",
        "A compiled step can never run: nothing leads to it from the entry step."))
def unreachable_steps(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    plan = ctx.plan
    if plan is None:
        return
    seen = {plan.entry}
    frontier = [plan.entry]
    while frontier:
        sid = frontier.pop()
        for _, edge in plan.outgoing(sid):
            if edge.target not in seen:
                seen.add(edge.target)
                frontier.append(edge.target)
    for step in plan.steps:
        if step.id not in seen:
            yield ("MF205", step.source.start, f"step '{step.id}' ({_clip(step.title)}) is "
                   "unreachable: no path leads to it from the start",
                   "Link to it from the step that should lead there (e.g. 'If ..., go to "
                   "[this section](#anchor)') or delete it")


# -- 3. data flow ---------------------------------------------------------------------------

_VAR_USE = re.compile(r"(?<![\\$])\$\{?([A-Za-z_][A-Za-z0-9_]*)")
_VAR_SET = re.compile(r"(?:^|(?<=[\s;&|(`]))([A-Za-z_][A-Za-z0-9_]*)(?:\[[^\]]*\])?\+?=")
_VAR_LOOP = re.compile(r"\b(?:for|select)\s+([A-Za-z_][A-Za-z0-9_]*)\s+in\b")
_VAR_READ = re.compile(r"\bread\s+(?:-\w+\s+)*((?:[A-Za-z_][A-Za-z0-9_]*\s*)+)")
_EXPORT = re.compile(r"\bexport\s+([A-Za-z_][A-Za-z0-9_]*)=[\"']?(?:\$\(|`)")
_PLACEHOLDER = re.compile(r"(?<![<\w])<([A-Za-z][\w.:-]*(?: [\w.:-]+){0,3})>(?!>)")
_SINGLE_QUOTED = re.compile(r"'[^']*'")
_ENV = set(
    "HOME PATH USER PWD OLDPWD SHELL HOSTNAME TERM LANG TMPDIR EDITOR PAGER KUBECONFIG UID "
    "EUID RANDOM SECONDS LINENO IFS BASH_SOURCE PS1 HISTFILE DISPLAY SSH_AUTH_SOCK GOPATH "
    "REPLY PPID BASHPID OPTARG OPTIND".split())
_HTML_TAGS = {"br", "code", "pre", "b", "i", "p", "div", "span", "none", "nil", "null",
              "unknown", "pending", "details", "summary"}


def _defined(ctx: Context) -> set[str]:
    names = {i.name for i in ctx.guide.front.inputs}
    for _, cmds in ctx.shell_blocks:
        for cmd in cmds:
            names.update(_VAR_SET.findall(cmd.text))
            names.update(_VAR_LOOP.findall(cmd.text))
            for group in _VAR_READ.findall(cmd.text):
                names.update(group.split())
    for _, code in ctx.inline_commands:
        names.update(_VAR_SET.findall(code))
    return names


def _explained(ctx: Context, name: str, *, placeholder: bool) -> bool:
    inputs = {i.name.lower() for i in ctx.guide.front.inputs}
    if name.lower() in inputs:
        return True
    if placeholder:
        return f"<{name}>" in ctx.prose
    if name.islower():
        return f"${name}" in ctx.prose or f"`{name}`" in ctx.prose
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", ctx.prose) is not None


def _uses(text: str) -> Iterator[tuple[str, str]]:
    """('$NAME' | '<name>', name) for each value a command needs but does not contain."""
    for m in _VAR_USE.finditer(_SINGLE_QUOTED.sub("''", text)):
        yield f"${m.group(1)}", m.group(1)
    for m in _PLACEHOLDER.finditer(text):
        if m.group(1).lower() not in _HTML_TAGS:
            yield f"<{m.group(1)}>", m.group(1)


@_rule(("MF301", "data_flow", "error",
        "A command uses a value ($VAR or <placeholder>) nothing sets, declares or explains."),
       ("MF302", "data_flow", "info",
        "A command written inline in prose uses a value nothing sets, declares or explains."))
def value_never_obtained(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    defined = _defined(ctx) | _ENV
    reported: set[str] = set()

    def judge(token: str, name: str) -> bool:
        placeholder = token.startswith("<")
        if (not placeholder and name in defined) or token in reported:
            return False
        if _explained(ctx, name, placeholder=placeholder):
            return False
        reported.add(token)
        return True

    for el, cmds in ctx.shell_blocks:
        for cmd in cmds:
            for token, name in _uses(cmd.text):
                if judge(token, name):
                    yield ("MF301", cmd.line, f"'{token}' is used in a command but never set",
                           _obtain_hint(token, name))
    for el, code in ctx.inline_commands:
        for token, name in _uses(code):
            if judge(token, name):
                yield ("MF302", el, f"'{token}' in `{_clip(code, 50)}` is never set",
                       _obtain_hint(token, name))


def _obtain_hint(token: str, name: str) -> str:
    return (f"Set it in an earlier block (`export {name}=$(kubectl get ...)`), declare it in the "
            f"front matter (`inputs: [{{name: {name}}}]`), or say in the text where "
            f"{token} comes from (e.g. the alert's labels)")


@_rule(("MF303", "data_flow", "info",
        "A value is captured (`export X=$(...)`) but no command uses it."))
def exported_unused(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    used: set[str] = set()
    exports: list[tuple[str, Command]] = []
    for _, cmds in ctx.shell_blocks:
        for cmd in cmds:
            used.update(_VAR_USE.findall(cmd.text))
            exports.extend((name, cmd) for name in _EXPORT.findall(cmd.text))
    for el in ctx.elements:
        if el.kind == "code" and not shell_commands(el):
            used.update(_VAR_USE.findall(el.text))
        for code in el.inline_code:
            used.update(_VAR_USE.findall(code))
    seen: set[str] = set()
    for name, cmd in exports:
        if name not in used and name not in _ENV and name not in seen:
            seen.add(name)
            yield ("MF303", cmd.line, f"'{name}' is exported but no later command uses "
                   f"${name}",
                   f"Use ${name} in the commands that need it, or drop the export")


# -- 4. query instructions ------------------------------------------------------------------


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


@_rule(("MF401", "query", "warning", "A command or query block has no language tag."))
def untagged_block(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    tags = {"shell": "bash", "promql": "promql", "sql": "sql"}
    for el in ctx.elements:
        if el.kind != "code" or el.lang is not None:
            continue
        kind = _block_kind(el)
        if kind not in tags:
            continue
        how = "fenced block" if el.fenced else "indented block"
        yield ("MF401", el, f"{kind} {how} has no language tag",
               f"Fence it as ```{tags[kind]} so it is run by the right plugin and not "
               f"mistaken for sample output")


_SOURCE_WORDS = re.compile(
    r"\b(prometheus|thanos|grafana|mimir|victoria\w*|datasource|data source|database|postgres"
    r"\w*|psql|mysql|replica|primary|clickhouse|console|explore|db|dashboard|elastic"
    r"\w*|kibana|bigquery|redis|sentry|loki|pg_\w+|gitlab-\w+|rails)\b", re.I)


@_rule(("MF402", "query", "warning",
        "A query does not say which data source (Prometheus, database) it runs against."))
def query_without_source(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    reported: set[str] = set()  # once per query language: the fix is usually one sentence
    for el in ctx.elements:
        if el.kind != "code":
            continue
        kind = _block_kind(el)
        if kind not in ("promql", "sql") or kind in reported:
            continue
        near = [el.text] if kind == "sql" and "psql" in el.text else []
        near += [h.text for h in ctx.guide.section_path(el)]
        before = [e for e in ctx.elements[max(0, el.index - 2): el.index]
                  if e.kind != "code" and e.parent == el.parent]
        near += [e.text for e in before]
        if el.parent is not None:
            near.append(ctx.elements[el.parent].text)
        has_link = any(e.links for e in before)
        if has_link or any(_SOURCE_WORDS.search(t) for t in near):
            continue
        example = ("'In Thanos (https://thanos.example/), run:'" if kind == "promql"
                   else "'On the primary database (`gitlab-psql`), run:'")
        reported.add(kind)
        yield ("MF402", el, f"{kind} query with no data source said",
               f"Say where it runs just before the block, e.g. {example}, or name a data "
               "source configured in Mendflow's settings")


_K8S_SUFFIX = "[bcdfghjklmnpqrstvwxz2456789]"
_HARD_CODED = [  # (what, pattern, fix); IPs and hosts only count in alert runbooks
    ("pod name with a generated suffix", re.compile(
        rf"\b[a-z][a-z0-9]*(?:-[a-z0-9]+)*?(?:-{_K8S_SUFFIX}{{8,10}})?-(?={_K8S_SUFFIX}*\d)"
        rf"(?={_K8S_SUFFIX}*[a-z]){_K8S_SUFFIX}{{5}}\b(?![.-])"),
     "use a label selector (`-l app=...`) or a variable set by an earlier step"),
    ("IP address", re.compile(r"(?<![\w.])(?!127\.0\.0\.1|0\.0\.0\.0)(?:\d{1,3}\.){3}\d{1,3}"
                              r"(?![\w./])"),
     "make it an input (`inputs: [{name: HOST_IP}]`) or look it up in an earlier step"),
    ("absolute timestamp", re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}"),
     "use a relative window (`--since=1h`, `now-1h`) or the alert's start time"),
    ("host name", re.compile(r"\b[a-z][a-z0-9]*(?:-[a-z0-9]+)*-\d{2,}[a-z0-9-]*"
                             r"(?:\.[a-z0-9-]+){2,}\b"),
     "make the host an input, or take it from the alert's `instance` label"),
]


@_rule(("MF403", "query", "warning",
        "A command or query hard-codes a value (pod name, IP, host, timestamp) of one incident."))
def hard_coded_values(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    # In a how-to, `ssh deploy-01-sv-gprd...` names fixed infrastructure; in an alert's
    # runbook the host is whichever one fired, so there it should come from the alert.
    per_alert = any(_ALERT_SECTION.match(h.text.strip()) for h in ctx.guide.headings())
    checks = [c for c in _HARD_CODED if per_alert or c[0] not in ("IP address", "host name")]
    for el in ctx.elements:
        if el.kind != "code":
            continue
        kind = _block_kind(el)
        if kind == "shell":
            lines = [(c.line, c.text) for c in shell_commands(el)]
        elif kind in ("promql", "sql"):
            lines = code_lines(el)
        else:
            continue
        found: set[str] = set()
        for no, text in lines:
            for what, pattern, fix in checks:
                m = pattern.search(text)
                if m and what not in found:
                    found.add(what)
                    yield ("MF403", no, f"hard-coded {what} '{m.group(0)}' belongs to one "
                           "incident", f"Do not copy one incident's values: {fix}")


_MUTATING = re.compile(
    r"\b(kubectl|oc)\s+(?:-\S+\s+(?:\S+\s+)?)*(delete|apply|patch|edit|scale|drain|cordon"
    r"|uncordon|replace|taint|label|annotate|rollout\s+(?:restart|undo)|set\s+image)\b"
    r"|\bvirtctl\s+(stop|restart|migrate|pause)\b|\bhelm\s+(upgrade|uninstall|rollback|delete)\b"
    r"|\brm\s+-\w*[rf]|\bsystemctl\s+(restart|stop|disable)\b|\b(reboot|shutdown)\b"
    r"|\bgitlab-ctl\s+(restart|stop|reconfigure)\b|\bterraform\s+(apply|destroy)\b"
    r"|\bdocker\s+(rm|kill|stop)\b|\bkill\s+-9\b"
    r"|^\s*(delete\s+from|update\s+\w+\s+set|drop\s+|truncate\s|alter\s+table)", re.I)
_CAUTION = re.compile(
    r"\b(warning|caution|careful|carefully|approv\w*|destructive|disrupt\w*|downtime|outage"
    r"|irreversibl\w*|permanent\w*|danger\w*|backup|back up|make sure|ensure|impact|risk\w*"
    r"|important|dry-run|change request|maintenance)\b|⚠|:warning:", re.I)


@_rule(("MF404", "query", "warning",
        "A command that changes the system has no warning or approval note."))
def unguarded_mutation(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    for el in ctx.elements:
        if el.kind != "code":
            continue
        kind = _block_kind(el)
        lines = ([(c.line, c.text) for c in shell_commands(el)] if kind == "shell"
                 else code_lines(el) if kind == "sql" else [])
        hit = next(((no, t) for no, t in lines if _MUTATING.search(t) and "--dry-run" not in t),
                   None)
        if hit is None or _CAUTION.search(_surroundings(ctx, el)):
            continue
        verb = _MUTATING.search(hit[1]).group(0).strip()  # type: ignore[union-attr]
        yield ("MF404", hit[0], f"'{_clip(verb, 40)}' changes the system and the guide gives "
               "no warning", "Say what it changes and what could go wrong just before it "
               "(e.g. '> **Warning:** this restarts every virt-handler pod'); Mendflow asks for "
               "an approval before mutating steps")


def _surroundings(ctx: Context, el: Element) -> str:
    """The step around a code block: its item, the elements just before it, its heading."""
    parts = [h.text for h in ctx.guide.section_path(el)[-1:]]
    parts += [e.text for e in ctx.elements[max(0, el.index - 3): el.index]]
    idx = el.parent
    while idx is not None:
        parts.append(ctx.elements[idx].text)
        idx = ctx.elements[idx].parent
    return "\n".join(parts)


# -- 5. presentation and structure -----------------------------------------------------------


@_rule(("MF501", "structure", "warning", "The guide has no title heading."))
def no_title(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    headings = ctx.guide.headings()
    if ctx.guide.front.title or any(h.level == 1 for h in headings):
        return
    where: Element | int = headings[0] if headings else ctx.guide.front_lines + 1
    yield ("MF501", where, "the guide has no title: no '# ' heading and no front matter title",
           "Start the guide with '# <what went wrong>', e.g. '# VirtHandlerDaemonSetDown'")


@_rule(("MF502", "structure", "info", "A heading skips a level (## then ####)."))
def heading_skip(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    previous = 0
    for h in ctx.guide.headings():
        if previous and h.level > previous + 1:
            yield ("MF502", h, f"heading '{_clip(h.text, 50)}' is level {h.level} right after "
                   f"level {previous}", f"Make it a level {previous + 1} heading "
                   f"('{'#' * (previous + 1)} {_clip(h.text, 40)}')")
        previous = h.level


@_rule(("MF503", "structure", "warning",
        "An alert runbook has Diagnosis but no Mitigation section, or the reverse."))
def missing_section(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    if ctx.guide.front.kind != "sre":
        return
    heads = ctx.guide.headings()
    have = {role for h in heads for role in ("diagnosis", "mitigation", "about")
            if _ROLE_WORDS[role].match(h.text.strip())}
    alert_shaped = any(_ALERT_SECTION.match(h.text.strip()) for h in heads)
    if not alert_shaped or not {"diagnosis", "mitigation"} & have:
        return
    if {"diagnosis", "mitigation"} <= have:
        return
    missing = "Mitigation" if "diagnosis" in have else "Diagnosis"
    where: Element | int = heads[0] if heads else 1
    yield ("MF503", where, f"the runbook has no {missing} section",
           f"Add a '## {missing}' section" + (
               " saying what to do once the cause is known" if missing == "Mitigation"
               else " saying how to find the cause before acting"))


_ALERT_SECTION = re.compile(r"^(meaning|impact|symptoms?)\s*$", re.I)

LONG_STEP_LINES = 25
"""A list item longer than this (code blocks not counted) is several steps in one."""


@_rule(("MF504", "structure", "info",
        f"A step runs over {LONG_STEP_LINES} lines of prose; split it."))
def long_step(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    for el in ctx.elements:
        if el.kind != "list_item" or not el.ordered:
            continue
        lines = set(range(el.span.start, el.span.end + 1))
        for child in ctx.elements[el.index + 1:]:
            if child.kind == "code" and _inside(ctx, child, el):
                lines -= set(range(child.span.start, child.span.end + 1))
            elif child.span.start > el.span.end:
                break
        if len(lines) > LONG_STEP_LINES:
            yield ("MF504", el, f"step {el.number} runs over {len(lines)} lines of prose",
                   "Split it into numbered steps that each do one thing and end with what "
                   "to look for")


def _inside(ctx: Context, el: Element, container: Element) -> bool:
    idx = el.parent
    while idx is not None:
        if idx == container.index:
            return True
        idx = ctx.elements[idx].parent
    return False


@_rule(("MF505", "structure", "warning",
        "Sample output or logs are not marked as output (untagged, or tagged as shell)."))
def unmarked_output(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    for el in ctx.elements:
        if el.kind != "code":
            continue
        first = next((ln for ln in el.text.split("\n") if ln.strip()), "")
        untagged_output = el.lang is None and _block_kind(el) == "output"
        shell_output = (el.lang in SHELL_LANGS and el.lang != "console" and first
                        and not any(_PROMPT.match(ln) for ln in el.text.split("\n"))
                        and _looks_like_logs(el.text) and "/" not in first.split()[0]
                        and first.split()[0] not in _COMMANDS)
        if untagged_output or shell_output:
            yield ("MF505", el, "this block looks like sample output but "
                   + ("has no tag" if untagged_output else f"is tagged '{el.lang}'"),
                   "Tag it ```text (or put it under 'Example output:') so it is never run; "
                   "keep commands and their output in separate blocks")


@_rule(("MF506", "structure", "error",
        "An HTML comment or block is never closed and hides the rest of the guide."))
def unterminated_html(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    for el in ctx.elements:
        if el.kind == "html" and "<!--" in el.text and "-->" not in el.text.split("<!--")[-1]:
            yield ("MF506", el, "'<!--' is never closed: everything after it is hidden",
                   "Close the comment with '-->' where it should end")


# -- helpers --------------------------------------------------------------------------------


def _clip(text: str, width: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."

