"""What each part of a guide became: `mendflow compile GUIDE --explain`.

This module owns accounting for a guide line by line against its plan: every element the
Markdown reader found (heading, paragraph, list item, code block, table, quote, HTML) gets a
row with its lines and what it became (the steps made from it, by id and kind) or why it
became none (the plan's `ignored` records, or what the element is: a heading, context prose).
Lines no element holds (front matter, link definitions) get rows of their own, so that every
non-blank line of the guide is accounted for. It neither compiles nor prints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.compile import phrases
from engine.compile.lines import narrowest_steps
from engine.compile.outline import question_answered
from engine.guide import Element, Guide
from engine.plan import Ignored, Plan, Step, StepKind


@dataclass(frozen=True)
class Row:
    start: int
    end: int
    depth: int  # list nesting, for indenting
    part: str  # what the lines are: "code (bash)", "list item", "paragraph", ...
    became: str  # "diag-1 (command), approve-diag-1 (approve)" or "ignored: sample output"

    def __str__(self) -> str:
        lines = f"{self.start}" if self.start == self.end else f"{self.start}-{self.end}"
        return f"{lines:>9}  {'  ' * self.depth}{self.part}: {self.became}"


def explain(guide: Guide, plan: Plan, text: str | None = None) -> list[Row]:
    """One row per element (document order) and per run of lines no element holds (with the
    guide's `text`, runs of blank lines are left out)."""
    starting: dict[int, list[Step]] = {}
    ending: dict[int, list[Step]] = {}
    ends: dict[int, list[Step]] = {}  # the run's endings in the guide's words, by first line
    for s in plan.steps:
        if s.kind == StepKind.END and s.text:
            ends.setdefault(s.source.start, []).append(s)
        elif s.kind != StepKind.END:
            starting.setdefault(s.source.start, []).append(s)
            if s.kind in (StepKind.COMMAND, StepKind.QUERY) or "script" in s.params:
                ending.setdefault(s.source.end, []).append(s)  # (a session's: from its opener)
    narrowest = narrowest_steps((s for s in plan.steps if s.kind != StepKind.END),
                                last=guide.line_count)
    ignored: dict[tuple[int, int], list[Ignored]] = {}
    for ig in plan.ignored:
        ignored.setdefault((ig.span.start, ig.span.end), []).append(ig)
    rows: list[Row] = []
    if guide.front_lines:
        rows.append(Row(1, guide.front_lines, 0, "front matter", "the guide's settings "
                        "(id, title, owners, inputs, triggers), not steps"))
    for el in guide.elements:
        made = _made(el, starting, ending) + [
            s for s in ends.get(el.span.start, ()) if s.text[:60] in el.text]
        said = [f"ignored {ig.kind} '{ig.text}': {ig.reason}" if ig.text else
                f"ignored {ig.kind}: {ig.reason}"
                for ig in ignored.get((el.span.start, el.span.end), [])]
        became = ", ".join(f"{s.id} ({s.kind.value}{f': {s.outcome.value}' if s.outcome else ''})"
                           for s in made)
        holder = narrowest.get(el.span.start)
        if not became and not said:
            became = _other_side(el, guide, plan)
        if not became and not said and holder is not None and el.kind != "heading":
            became = f"part of {holder.id} ({holder.kind.value}), which spans " \
                f"{holder.source}"
        if said:
            became = "; ".join(([became] if became else []) + said)
        fan = _fanned_out(el, guide, plan)
        if fan:
            became = f"{became}; {fan}" if became else fan
        rows.append(Row(el.span.start, el.span.end, el.depth, _part(el),
                        became or _default(el, plan)))
    blank = None if text is None else [True] + [not x.strip() for x in text.split("\n")]
    rows.extend(_gaps(guide, rows, blank, None if text is None else text.split("\n")))
    rows.sort(key=lambda r: (r.start, -r.end))
    return rows


def unaccounted(guide_text: str, rows: list[Row]) -> list[int]:
    """Non-blank lines of the guide that no row holds (the test's check; empty when sound)."""
    held = _held(rows, guide_text.count("\n") + 1)
    return [i for i, line in enumerate(guide_text.split("\n"), 1) if line.strip() and not held[i]]


def format_rows(rows: list[Row]) -> str:
    return "".join(f"{r}\n" for r in rows)


def _made(el: Element, starting: dict[int, list[Step]],
          ending: dict[int, list[Step]]) -> list[Step]:
    """Steps made from `el`: those that start on its lines and end within them (a step over a
    whole list item is the item's; a block's steps are the block's), and for a block, the
    steps of a session it opens or runs a line of (they span from the opener to the line)."""
    out = []
    for line in range(el.span.start, el.span.end + 1):
        for s in starting.get(line, ()):
            if s.source.end <= el.span.end and (el.kind != "list_item" or s.source.start ==
                                                el.span.start):
                out.append(s)
        if el.kind == "code":  # a session: opened in one block, its lines run from others
            out.extend(s for s in starting.get(line, ()) if s.source.end > el.span.end)
            out.extend(s for s in ending.get(line, ()) if s.source.start < el.span.start)
    return out


def _part(el: Element) -> str:
    if el.kind == "code":
        return f"code ({el.lang})" if el.lang else "code"
    if el.kind == "heading":
        return f"heading '{_clip(el.text)}'"
    if el.kind == "list_item":
        return f"{'numbered ' if el.ordered else ''}list item '{_clip(el.text)}'"
    return f"{el.kind} '{_clip(el.text)}'" if el.text else el.kind


def _fanned_out(el: Element, guide: Guide, plan: Plan) -> str:
    """"Steps 3 through 5 are independent; run them concurrently.": which of the "Step N"
    sections it names the plan starts at once (their first steps entered by the same edges),
    or "" where it starts none together."""
    if el.kind not in ("paragraph", "list_item", "quote"):
        return ""
    ranges = phrases.parallel_steps(el.text)
    if not ranges:
        return ""
    heads = [h for h in guide.headings() if phrases.step_number(h.text) is not None]
    incoming: dict[str, set[tuple[str, str, str]]] = {}
    for e in plan.edges:
        incoming.setdefault(e.target, set()).add((e.source, e.on, e.kind))
    said: list[str] = []
    for first, last in ranges:
        entries: list[Step] = []
        for k, h in enumerate(heads):
            n = phrases.step_number(h.text)
            if n is None or not first <= n <= last:
                continue
            end = next((x.span.start for x in guide.headings()
                        if x.span.start > h.span.start and x.level <= h.level), 10**9)
            step = next((s for s in plan.steps if s.kind not in (StepKind.END,)
                         and h.span.start < s.source.start < end), None)
            if step is not None:
                entries.append(step)
        together = [s for s in entries if incoming.get(s.id) and sum(
            incoming.get(o.id) == incoming.get(s.id) for o in entries) > 1]
        if len(together) > 1:
            said.append(f"steps {first}-{last} start at once: "
                        + ", ".join(s.id for s in together))
    return "; ".join(said)


def _other_side(el: Element, guide: Guide, plan: Plan) -> str:
    """"If yes → Step 3" / "If no → Step 2" under "Is the consumer running?": the decision on
    that question (its edges read the question, and "Otherwise (no: <the question>)"), or ""."""
    asked = question_answered(guide, el)
    answer = phrases.answer_guard(el.text, asked) if asked is not None else None
    if asked is None or answer is None:
        return ""
    if not answer.is_else:
        decide = next((s.id for s in plan.steps if s.kind == StepKind.DECIDE and
                       s.title == asked and s.source.start <= el.span.start <= s.source.end),
                      None)
        return f"{decide} (decide)" if decide else ""
    said = f"Otherwise (no: {asked})"
    decide = next((e.source for e in plan.edges if e.condition is not None and
                   e.condition.text == said), None)
    return f"the other side (no) of {decide} (decide)" if decide else ""


def _default(el: Element, plan: Plan) -> str:
    """Why an element with no step and no ignored record is none: what it is."""
    if el.kind == "heading":
        return "a section of the guide (its steps are listed under it)"
    if el.kind in ("list_item", "paragraph") and \
            (want := phrases.expectation(el.text)) is not None and any(
            s.kind == StepKind.DECIDE and (s.text or "") == f"If not as expected ({want})"
            for s in plan.steps):
        return "what should be seen: the condition of the decision after it"
    if el.kind == "list_item":
        return "its parts are listed under it"
    if el.kind == "html":
        return "HTML, not read"
    if el.kind == "quote":
        return "a quote (its parts are listed under it)"
    if el.kind == "code":
        return "nothing to run"
    return "context for a reader: no command, condition or jump in it"


_FOOTNOTE = re.compile(r"^\[\^[^\]\s]{1,40}\]:\s*\S")


def _gaps(guide: Guide, rows: list[Row], blank: list[bool] | None,
          source: list[str] | None = None) -> list[Row]:
    held = _held(rows, guide.line_count)
    out: list[Row] = []
    start = None
    for line in range(1, guide.line_count + 2):
        free = line <= guide.line_count and not held[line] and not (
            blank is not None and line < len(blank) and blank[line])
        if free and start is None:
            start = line
        elif not free and start is not None:
            held_lines = [x for x in (source or [])[start - 1:line - 1] if x.strip()]
            if held_lines and _FOOTNOTE.match(held_lines[0]) and \
                    all(_FOOTNOTE.match(x) or x.startswith("  ") for x in held_lines):
                out.append(Row(start, line - 1, 0, "footnotes", "each read where the guide "
                               "refers to it (its step lists it)"))
            else:
                out.append(Row(start, line - 1, 0, "other lines", "no Markdown element (link "
                               "definitions and the like): nothing to run"))
            start = None
    return out


def _held(rows: list[Row], lines: int) -> list[bool]:
    diff = [0] * (lines + 3)
    for r in rows:
        a, b = max(1, r.start), min(lines, r.end)
        if a <= b:
            diff[a] += 1
            diff[b + 1] -= 1
    held, run = [False] * (lines + 2), 0
    for i in range(1, lines + 1):
        run += diff[i]
        held[i] = run > 0
    return held


def _clip(text: str, width: int = 50) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"
