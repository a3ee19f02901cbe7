"""Rules MF3xx, data flow: a value used but never obtained, a value obtained but never used."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterator

from engine.compile import credentials
from engine.compile.lint.base import (
    Command,
    Context,
    _clip,
    rule,
)
from engine.guide import Element
from engine.placement import step_inputs

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


class _Explanations:
    """What the guide's prose mentions, read once: asking "does the prose say `<name>`?" by
    searching the whole prose for each use made a guide with many commands quadratic."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.read = False  # (read at the first question: a guide with no $VAR or <name> in
        # its commands asks none, and its whole prose was scanned four times for nothing)

    def _read(self) -> None:
        prose = self.ctx.prose
        self.inputs = {i.name.lower() for i in self.ctx.guide.front.inputs}
        self.placeholders = set(re.findall(r"<([^<>]*)>", prose))
        self.dollars = sorted(set(re.findall(r"\$([A-Za-z0-9_]*)", prose)))
        self.quoted = set(prose.split("`")[1:-1])
        self.words = set(re.findall(r"[\w-]+", prose))
        self.read = True

    def __call__(self, name: str, *, placeholder: bool) -> bool:
        if not self.read:
            self._read()
        if name.lower() in self.inputs:
            return True
        if placeholder:
            return name in self.placeholders  # "<name>" in the prose
        if name.islower():  # "$name..." or "`name`" in the prose
            at = bisect_left(self.dollars, name)
            return at < len(self.dollars) and self.dollars[at].startswith(name) or \
                name in self.quoted
        return name in self.words  # the name as a word of its own


def _uses(text: str) -> Iterator[tuple[str, str]]:
    """('$NAME' | '<name>', name) for each value a command needs but does not contain."""
    for m in _VAR_USE.finditer(_SINGLE_QUOTED.sub("''", text)):
        yield f"${m.group(1)}", m.group(1)
    for m in _PLACEHOLDER.finditer(text):
        if m.group(1).lower() not in _HTML_TAGS:
            yield f"<{m.group(1)}>", m.group(1)


@rule(("MF301", "data_flow", "error",
        "A command uses a value ($VAR or <placeholder>) nothing sets, declares or explains."),
       ("MF302", "data_flow", "info",
        "A command written inline in prose uses a value nothing sets, declares or explains."))
def value_never_obtained(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    defined = _defined(ctx) | _ENV
    explained = _Explanations(ctx)
    reported: set[str] = set()

    def judge(token: str, name: str) -> bool:
        placeholder = token.startswith("<")
        if (not placeholder and name in defined) or token in reported:
            return False
        if explained(name, placeholder=placeholder):
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


@rule(("MF303", "data_flow", "info",
        "A value is captured (`export X=$(...)`) but no command uses it."))
def exported_unused(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    used: set[str] = set()
    exports: list[tuple[str, Command]] = []
    for _, cmds in ctx.shell_blocks:
        for cmd in cmds:
            used.update(_VAR_USE.findall(cmd.text))
            exports.extend((name, cmd) for name in _EXPORT.findall(cmd.text))
    for el in ctx.elements:
        if el.kind == "code" and not ctx.commands(el):
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


@rule(("MF304", "data_flow", "warning",
        "A `path` input with no `roots` reaches a command that changes the world."))
def unconfined_path_changed(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    """`find "$SCRATCH_DIR" -mtime +7 -delete` with `scratch_dir` a `path` and no `roots`:
    the value is typed (no option, no `..`), but an alert's label, written by whoever controls
    a metric, can still point the deletion at `/etc`. An approval is asked, but a person at
    3 a.m. approves the step the guide meant. Roots say where the guide may act."""
    plan = ctx.plan
    if plan is None:
        return
    unconfined = {i.name for i in plan.inputs if i.type == "path" and not i.roots}
    if not unconfined:
        return
    for step in plan.steps:
        if step.mutating:
            for name in sorted(step_inputs(step) & unconfined):
                yield ("MF304", step.source.start, f"step '{step.id}' changes what the path "
                       f"input '{name}' names, and '{name}' has no roots: a value from an "
                       "alert could point it anywhere",
                       f"Declare where it may point: `roots: [/var/tmp]` on input '{name}' "
                       "in the front matter")


@rule(("MF305", "data_flow", "warning",
       "A credential is written into a command: the plan would hold it."))
def credential_written(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    """`mysql -p'S3cret'`, `PGPASSWORD=hunter2 psql`, `curl -H "Authorization: Bearer ghp_..."`:
    the secret sits in the guide (and its history) and would reach the plan, its approvals and
    reports; the compiler makes the line a person's step with the secret masked. The author
    reads it from the environment instead."""
    found: list[tuple[Element | int, str]] = [
        (cmd.line, cmd.text) for _, cmds in ctx.shell_blocks for cmd in cmds]
    found.extend((el, code) for el in ctx.elements for code in el.inline_code)
    for where, text in found:
        if credentials.written(text):
            yield ("MF305", where, "a credential is written into "
                   f"`{_clip(credentials.masked(text))}`",
                   "Read it from the environment (`$PGPASSWORD`, `--password-stdin`, a data "
                   "source's `password_env`), and rotate the one written here")
