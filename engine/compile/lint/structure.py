"""Rules MF5xx, presentation and structure: title, heading levels, the sections an alert
runbook needs, overlong steps, unmarked sample output, unclosed comments."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import ValidationError

from engine.compile.blocks import read_block, shows_prompts
from engine.compile.lint.base import (
    _ALERT_SECTION,
    _COMMANDS,
    _PROMPT,
    _ROLE_WORDS,
    SHELL_LANGS,
    Context,
    _clip,
    _looks_like_logs,
    rule,
)
from engine.errors import MendflowError
from engine.guide import Element
from engine.plugins import default_registry

# -- 5. presentation and structure -----------------------------------------------------------


@rule(("MF501", "structure", "warning", "The guide has no title heading."))
def no_title(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    headings = ctx.guide.headings()
    if ctx.guide.front.title or any(h.level == 1 for h in headings):
        return
    where: Element | int = headings[0] if headings else ctx.guide.front_lines + 1
    yield ("MF501", where, "the guide has no title: no '# ' heading and no front matter title",
           "Start the guide with '# <what went wrong>', e.g. '# VirtHandlerDaemonSetDown'")


@rule(("MF502", "structure", "info", "A heading skips a level (## then ####)."))
def heading_skip(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    previous = 0
    for h in ctx.guide.headings():
        if previous and h.level > previous + 1:
            yield ("MF502", h, f"heading '{_clip(h.text, 50)}' is level {h.level} right after "
                   f"level {previous}", f"Make it a level {previous + 1} heading "
                   f"('{'#' * (previous + 1)} {_clip(h.text, 40)}')")
        previous = h.level


@rule(("MF503", "structure", "warning",
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



LONG_STEP_LINES = 25
"""A list item longer than this (code blocks not counted) is several steps in one."""


@rule(("MF504", "structure", "info",
        f"A step runs over {LONG_STEP_LINES} lines of prose; split it."))
def long_step(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    for el in ctx.elements:
        if el.kind != "list_item" or not el.ordered:
            continue
        lines = set(range(el.span.start, el.span.end + 1))
        for k in range(el.index + 1, len(ctx.elements)):  # no slice: a copy per item is O(n²)
            child = ctx.elements[k]
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


@rule(("MF505", "structure", "warning",
        "Sample output or logs are not marked as output (untagged, or tagged as shell)."))
def unmarked_output(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    for el in ctx.elements:
        if el.kind != "code":
            continue
        first = next((ln for ln in el.text.split("\n") if ln.strip()), "")
        untagged_output = el.lang is None and ctx.block_kind(el) == "output"
        shell_output = (el.lang in SHELL_LANGS and el.lang != "console" and first
                        and not any(_PROMPT.match(ln) for ln in el.text.split("\n"))
                        and _looks_like_logs(el.text) and "/" not in first.split()[0]
                        and first.split()[0] not in _COMMANDS)
        if untagged_output or shell_output:
            yield ("MF505", el, "this block looks like sample output but "
                   + ("has no tag" if untagged_output else f"is tagged '{el.lang}'"),
                   "Tag it ```text (or put it under 'Example output:') so it is never run; "
                   "keep commands and their output in separate blocks")


@rule(("MF506", "structure", "error",
        "An HTML comment or block is never closed and hides the rest of the guide."))
def unterminated_html(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    for el in ctx.elements:
        if el.kind == "html" and "<!--" in el.text and "-->" not in el.text.split("<!--")[-1]:
            yield ("MF506", el, "'<!--' is never closed: everything after it is hidden",
                   "Close the comment with '-->' where it should end")


@rule(("MF507", "structure", "warning",
        "A code fence is never closed: it runs to the end of its list item, quote or the guide."))
def unclosed_fence(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    for line in ctx.guide.unclosed_fences:
        yield ("MF507", line, "this code block is never closed: it runs to the end of its list "
               "item, quote or the guide, and the text after it is read as code",
               "Add a closing ``` line (as many backticks as the opening) after the block's "
               "last line")


@rule(("MF508", "structure", "warning", "The guide is empty: nothing after the front matter."))
def empty_guide(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    if not ctx.guide.elements:
        yield ("MF508", ctx.guide.front_lines + 1 if ctx.guide.front_lines else 1,
               "the guide is empty: it compiles to one 'follow the guide by hand' step",
               "Write the steps as headings, numbered lists and code blocks")


_CONSOLE_TAGS = ("console", "shell-session", "shellsession", "terminal")


@rule(("MF509", "structure", "warning",
        "A console block without prompts, or an untagged block, is read as commands: an "
        "ambiguous call the author should confirm."))
def ambiguous_block(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    for el in ctx.elements:
        if el.kind != "code" or (el.lang is not None and el.lang not in _CONSOLE_TAGS):
            continue
        lines = el.text.split("\n")
        if any(_PROMPT.match(ln) for ln in lines) or shows_prompts(el.text):
            # (the compiler's prompts: `[root@h ~]# `, fish's `~> `, busybox's `/ # `, a
            # router's `er1# `): what is typed at them is said, tagged or not; "tag it
            # ```bash" was wrong advice for a device's lines
            continue
        if read_block(el).cls != "command":
            continue
        where = f"{el.span.start}-{el.span.end}"
        if el.lang is None:
            yield ("MF509", el, f"untagged block at {where} read as commands",
                   "Tag it ```bash if it is commands to run, or ```text if it is output")
        else:
            yield ("MF509", el, f"{el.lang} block without prompts at {where} read as commands",
                   "Add `$ ` before each command (its output lines then stay output), or "
                   "tag it ```text if nothing in it is to be run")


@rule(("MF510", "structure", "error",
       "A plugin block's parameters do not fit the plugin's schema (a required one missing, "
       "an unknown key, a fixed value of the wrong type): the step would fail when it runs."))
def plugin_params(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    plan = ctx.plan
    if plan is None:
        return
    registry = default_registry()
    for step in plan.steps:
        if step.plugin is None or step.plugin not in registry:
            continue  # an unknown plugin is compile's own error (MF001)
        try:
            schema = registry.get(step.plugin).Params
        except MendflowError:
            continue
        try:
            schema.model_validate(step.params)
        except ValidationError as exc:
            for err in exc.errors():
                where = ".".join(str(x) for x in err["loc"]) or "params"
                value = _at(step.params, err["loc"])
                if isinstance(value, str) and ("{{" in value or "{%" in value):
                    continue  # a template: its type is known only when it is rendered
                fields = ", ".join(sorted(schema.model_fields))
                yield ("MF510", step.source.start,
                       f"step '{step.id}': parameter '{where}' of plugin '{step.plugin}': "
                       f"{err['msg']}",
                       f"Fix '{where}' in the block (the {step.plugin} plugin takes: {fields})")
                break  # one finding per step: the first thing wrong


def _at(params: object, loc: tuple[int | str, ...]) -> object:
    for key in loc:
        if isinstance(params, dict) and key in params:
            params = params[key]
        elif isinstance(params, list) and isinstance(key, int) and key < len(params):
            params = params[key]
        else:
            return None
    return params
