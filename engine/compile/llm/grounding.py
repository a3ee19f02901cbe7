"""Grounding: every command and query an LLM plan would run must come from the guide's text.

This module owns the rule that keeps a model from inventing work. A step's command (a shell
pipeline, a PromQL or SQL query, an HTTP URL, a log pattern, a PowerShell script) is
normalised (quotes, prompts, `\\` continuations and whitespace dropped; shell separators
split) and must appear, token by token, in one element of the guide that the step's span
covers. Templates (`{{ inputs.ns }}`) and the guide's own placeholders (`$NS`, `${NS}`,
`<namespace>`) match any one token, so a hard-coded value may become a parameter; a program
name must stay literal. Spans must lie within the guide, and a step's text must be words from
its span. The structural plan's commands, as its compiler rendered them, and its texts (the
synthetic "Nothing automated" included) are grounded by construction (`Baseline`).

It does not check structure (`engine.compile.validate` does) or templates' types
(`engine.compile.llm.templates`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import lru_cache

from engine.compile.validate import Problem
from engine.guide import Guide
from engine.plan import Plan, Step, StepKind

WILD = "\x00"
_ESCAPED = re.compile(r"\{\{\s*'(\{\{|\{%|\{#)'\s*\}\}")
_TEMPLATE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}")
# The guide's own placeholders: Jinja templates it already wrote (`{{ inputs.service }}`),
# `${X}`, `$X`, `<name>` and the TSG style `{start_time}`.
_GUIDE_PLACEHOLDER = re.compile(r"\{\{.*?\}\}|\$\{\w+\}|\$[A-Za-z_]\w*|<[A-Za-z][\w .-]{0,40}>"
                                r"|\{[A-Za-z_]\w{0,40}\}")
# A bound SQL parameter (`:p1`, `:service`) stands for a value, as a template does; `::int`
# casts and `job:metric:rate5m` recording-rule names are not parameters.
_BOUND = re.compile(r"(?<![\w:]):[A-Za-z_]\w*")
_TOKEN = re.compile(r"[^\s|;&()=,`'\"]+")
_PROMPT = re.compile(r"(?m)^\s*(?:\$|#|>)\s+")
_WORD = re.compile(r"[a-z0-9]{3,}")
_RUNS = (StepKind.COMMAND, StepKind.QUERY, StepKind.DETECT)
_WORDED = (StepKind.COMMAND, StepKind.QUERY, StepKind.MANUAL)  # others' texts are the compiler's


def plan_tokens(text: str) -> list[str]:
    """A plan's template string -> tokens; each template becomes one wildcard."""
    marked = _ESCAPED.sub(lambda m: "\x01" + m.group(1)[1], text)
    marked = _TEMPLATE.sub(WILD, marked)
    marked = _BOUND.sub(WILD, marked)
    marked = marked.replace("\x01{", "{{").replace("\x01%", "{%").replace("\x01#", "{#")
    return _tokens(marked)


def guide_tokens(text: str) -> list[str]:
    """Guide text -> tokens; `$VAR`, `${VAR}` and `<placeholder>` become wildcards."""
    text = text.replace("\\\n", " ")
    text = _PROMPT.sub(" ", text)
    return _tokens(_GUIDE_PLACEHOLDER.sub(WILD, text))


def _tokens(text: str) -> list[str]:
    return [t for t in _TOKEN.findall(text) if t not in ("$", "\\")]


@lru_cache(maxsize=4096)
def _pattern(token: str) -> re.Pattern[str]:
    return re.compile(".+".join(re.escape(p) for p in token.split(WILD)), re.S)


def _same(p: str, g: str) -> bool:
    if p == g:
        return True
    if WILD in p and _pattern(p).fullmatch(g.replace(WILD, "x")):
        return True
    return WILD in g and bool(_pattern(g).fullmatch(p.replace(WILD, "x")))


def contains(haystack: list[str], needle: list[str]) -> bool:
    """Is `needle` a contiguous run of `haystack`, wildcards matching one token?"""
    n = len(needle)
    if n == 0:
        return False
    for i in range(len(haystack) - n + 1):
        if all(_same(needle[j], haystack[i + j]) for j in range(n)):
            return True
    return False


def step_commands(step: Step) -> list[tuple[list[str], str]]:
    """(tokens, shown text) for each command or query the step would run."""
    p = step.params
    out: list[tuple[list[str], str]] = []
    if step.plugin == "shell" and isinstance(p.get("pipeline"), list):
        for stage in p["pipeline"]:
            if isinstance(stage, list):
                text = " ".join(str(a) for a in stage)
                out.append((plan_tokens(text), text))
        return out
    for key in ("query", "url", "pattern", "journal_unit", "script"):
        if isinstance(p.get(key), str) and p[key].strip():
            out.append((plan_tokens(p[key]), p[key]))
    return out


class Grounding:
    """The guide's text, tokenised once per element, for checking many candidate plans."""

    def __init__(self, guide: Guide) -> None:
        self.guide = guide
        self.elements = [(el.span.start, el.span.end, guide_tokens(el.text),
                          set(_WORD.findall(el.text.lower()))) for el in guide.elements]

    def found(self, tokens: list[str], start: int = 1, end: int | None = None) -> bool:
        end = self.guide.line_count if end is None else end
        return any(contains(toks, tokens) for s, e, toks, _ in self.elements
                   if s <= end and e >= start)

    def check(self, plan: Plan, *, baseline: Plan | None = None) -> list[Problem]:
        return list(self._check(plan, Baseline(baseline)))

    def _check(self, plan: Plan, base: Baseline) -> Iterator[Problem]:
        file = plan.source.path
        last = self.guide.line_count
        for s in plan.steps:
            def problem(rule: str, msg: str, hint: str, s: Step = s) -> Problem:
                return Problem(rule, msg, hint, file=file, line=min(s.source.start, last),
                               step=s.id)

            if s.source.end > last or s.source.start > s.source.end:
                yield problem("span", f"span {s.source} is not inside the guide (1-{last})",
                              "Give the lines of the guide the step comes from")
                continue
            if s.kind in _RUNS:
                for tokens, text in step_commands(s):
                    yield from self._command(s, tokens, text, problem, base)
            if s.kind in _WORDED and s.text and s.text not in base.texts:
                words = set(_WORD.findall(s.text.lower()))
                span_words = set().union(*([w for a, b, _, w in self.elements
                                            if a <= s.source.end and b >= s.source.start]
                                           or [set()]))
                missing = sorted(words - span_words)
                if len(missing) > max(2, len(words) // 10):
                    yield problem("ungrounded-text", f"the step's text is not from lines "
                                  f"{s.source} (words not there: {', '.join(missing[:6])})",
                                  "Quote the guide's own instruction in `text`, or fix the span")

    def _command(self, s: Step, tokens: list[str], text: str,
                 problem: Callable[[str, str, str], Problem],
                 base: Baseline) -> Iterator[Problem]:
        spans = base.commands.get(text)
        if spans is not None:  # the structural compiler's own rendering of a guide command
            if any(a <= s.source.end and b >= s.source.start for a, b in spans):
                return
            yield problem("span", f"command {text!r} is in the guide but not in lines "
                          f"{s.source}", "Set the step's span to the lines the command is on")
            return
        if any(a <= s.source.end and b >= s.source.start and contains(rendered, tokens)
               for a, b, rendered in base.tokens):
            return  # the compiler's rendering with a value made a template, or a part of it
        literal = [t for t in tokens if WILD not in t]
        if not tokens or not literal:
            yield problem("ungrounded", f"command {text!r} is only placeholders",
                          "Keep the guide's program and arguments; template only the values "
                          "that vary per incident")
            return
        if self.found(tokens, s.source.start, s.source.end):
            return
        if self.found(tokens):
            yield problem("span", f"command {text!r} is in the guide but not in lines "
                          f"{s.source}", "Set the step's span to the lines the command is on")
            return
        yield problem("ungrounded", f"command {text!r} is not in the guide (hallucinated?)",
                      "Run only commands the guide gives; drop this step or copy the guide's "
                      "command exactly")


class Baseline:
    """What the structural plan already says, grounded by construction: the commands it
    renders from the guide (a quoted placeholder made a bound parameter or a template, a LIKE
    pattern a concatenation, `--` before a remote command), each with the lines it comes from,
    and its steps' texts (its synthetic ones, such as "Nothing automated", included). A model
    may keep them, move them to other steps or rename those steps; a command must still sit
    in a step whose span covers the lines it was rendered from."""

    def __init__(self, plan: Plan | None) -> None:
        self.commands: dict[str, list[tuple[int, int]]] = {}
        self.tokens: list[tuple[int, int, list[str]]] = []
        self.texts: set[str] = set()
        for s in plan.steps if plan is not None else ():
            self.texts.add(s.text)
            if s.kind in _RUNS:
                for tokens, text in step_commands(s):
                    self.commands.setdefault(text, []).append((s.source.start, s.source.end))
                    self.tokens.append((s.source.start, s.source.end, tokens))
