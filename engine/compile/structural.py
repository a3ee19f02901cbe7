"""The structural compiler: a guide's syntax tree -> a Plan, offline and deterministic.

This module owns the shape of the whole plan: diagnosis before mitigation, the judgment
"did the diagnosis find a cause?" between them (else `end-no-action`), the ending (`resolved`,
or a judgment between `resolved` and `escalate` when the guide says what to do if the issue
persists), the plan's inputs, triggers, references and source. Reading sections and commands is
`engine.compile.outline`'s job, drawing edges `engine.compile.wiring`'s; it does not validate
(`engine.compile.validate`).

Nothing is lost silently: a post-pass (`ignored_parts`) compares the guide's code blocks, list
items, inline commands and If/When/Otherwise sentences with the steps' spans, and records each
part that became no step in `Plan.ignored`, with its lines and why (sample output,
configuration, illustration, descriptive section, ...); `mendflow compile --explain`
(`engine.compile.explain`) prints them beside the steps.

A guide with no step Mendflow can run still compiles: to one `manual` step, "Follow the guide by
hand" (its span is the whole guide), then `end-no-action`; so does an empty guide. A person
reading the plan sees at once that nothing in it is automated, and the run still records who
handled the incident.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from engine.compile import blocks, phrases
from engine.compile.nodes import Action
from engine.compile.outline import (
    ENDING_POS,
    EndNode,
    Fork,
    IfNode,
    Node,
    Outline,
    build_outline,
    inline_command,
    question_answered,
)
from engine.compile.phrases import Guard, SectionClass
from engine.compile.wiring import Wiring
from engine.guide import Element, Guide
from engine.plan import (
    Edge,
    Ignored,
    InputSpec,
    Plan,
    Reference,
    SourceInfo,
    Span,
    Step,
    StepKind,
    Trigger,
)

COMPILER = "structural/1"
_ALERT_NAME = re.compile(r"^[A-Z][A-Za-z0-9]+$")


def compile_structural(guide: Guide) -> Plan:
    """Compile without validating; `engine.compile.compile_guide` validates."""
    outline = build_outline(guide)
    wiring = Wiring(guide, outline.items_by_heading)
    if outline.escalation:
        wiring.escalate_text, wiring.escalate_span = outline.escalation
    elif outline.contact:
        wiring.escalate_text, wiring.escalate_span = outline.contact
    cleanup = _cleanup_actions(outline)
    tree, final = _tree(guide, outline)
    entry_frontier = wiring.seq(tree, [])
    assert not entry_frontier, "the tree ends every path"
    wiring.resolve_jumps(final)
    cleanup_ids = [wiring.loose(a) for a in cleanup]
    steps = wiring.build_steps()
    # The tree's first node holds the entry step, added first; end steps are added as they
    # are first needed, so list them last for a reader.
    steps = [s for s in steps if s.kind != StepKind.END] + \
        sorted((s for s in steps if s.kind == StepKind.END), key=lambda s: s.id)
    return Plan(
        id=guide.id, title=guide.title, kind=guide.front.kind, compiler=COMPILER,
        source=SourceInfo(path=guide.path, sha256=guide.sha256), owners=guide.front.owners,
        triggers=guide.front.triggers or _triggers(guide), inputs=_inputs(guide, outline),
        entry=steps[0].id, steps=steps, edges=wiring.edges,
        references=_references(guide, outline), cleanup=cleanup_ids,
        ignored=ignored_parts(guide, steps, wiring.edges),
    )


def _cleanup_actions(outline: Outline) -> list[Action]:
    """Actions of "Always" / "Clean-up" sections: they run after the run, whatever its end.
    A manual step with nothing to run is left out: nobody may be there to answer."""
    found = [a for cls, _, nodes in outline.sections if cls == "cleanup"
             for a in _actions(nodes)]
    return [a for a in found if a.kind != StepKind.MANUAL or a.params.get("script")]


def _tree(guide: Guide, outline: Outline) -> tuple[list[Node], str]:
    sections = [s for s in outline.sections if s[0] != "cleanup"]
    first_mit = next((i for i, s in enumerate(sections) if s[0] == "mit"), None)
    if first_mit is not None:
        # A check after the fix is a diagnosis read early ("## Check the logs" below "##
        # Mitigation"), unless it checks the fix ("## Verification", "## Post-checks").
        def late(s: tuple[SectionClass, Element | None, list[Node]]) -> bool:
            return s[0] == "diag" and not (s[1] is not None and phrases.is_verification(s[1].text))
        late_diag = [s for s in sections[first_mit:] if late(s)]
        rest = [s for s in sections[first_mit:] if not late(s)]
        sections = sections[:first_mit] + late_diag + rest
        first_mit += len(late_diag)
    nodes: list[Node] = [n for s in sections for n in s[2]]
    actions = list(_actions(nodes))
    if not actions:
        span = Span(start=1, end=max(1, guide.line_count))
        said = "No step in this guide can run automatically: read it and act on it." \
            if guide.elements else "The guide is empty: it has nothing after its front matter."
        manual = Action("follow-guide", StepKind.MANUAL, "Follow the guide by hand", said,
                        span, 0, "step")
        return [manual, EndNode("no_action", "Nothing automated", "", span)], "end-no-action"

    # What a describing section shows (Meaning, Overview, ...) mitigates nothing.
    mitigates = any(a.section == "mit" or a.mutating and a.section != "info" or
                    (a.kind == StepKind.MANUAL and a.section not in ("diag", "info"))
                    for a in actions)
    final_outcome = "resolved" if mitigates else "no_action"
    last_span = actions[-1].span
    _unmet_check_escalates(nodes)
    if outline.escalation:
        text, span = outline.escalation
        ending: list[Node] = [IfNode(
            Guard(text="The issue is resolved"), [EndNode("resolved", "Resolved", "", last_span)],
            span, ENDING_POS, else_=[EndNode("escalate", "Escalate to a person", text, span)],
            else_text=text, synthetic=True)]
    else:
        ending = [EndNode(final_outcome, "", "", last_span)]

    if first_mit is not None:
        before = [n for s in sections[:first_mit] for n in s[2]]
        after = [n for s in sections[first_mit:] for n in s[2]]
        # The guide's own first mitigation guard already says when to mitigate.
        guarded = bool(after) and isinstance(after[0], IfNode) and not after[0].synthetic
        # (only after a look at something: "Before you start: make sure nobody is inside the
        # fence" prepares, it diagnoses nothing, and a run that did only that has no finding
        # to end `no_action` on: a person's step of a plain section is such a preparation)
        if any(not (a.kind == StepKind.MANUAL and a.section == "step" and not a.prose)
               for a in _actions(before)) and \
                any(True for _ in _actions(after)) and not guarded:
            heading = sections[first_mit][1]
            span = heading.span if heading is not None else last_span
            gate = IfNode(
                Guard(text="The diagnosis found a cause that the mitigation addresses"),
                after + ending, span, heading.index if heading is not None else 0,
                else_=[EndNode("no_action", "No action needed", "Diagnosis found nothing to "
                               "mitigate", span)],
                else_text="Otherwise: nothing to mitigate", synthetic=True)
            return before + [gate], f"end-{final_outcome.replace('_', '-')}"
    return nodes + ending, f"end-{final_outcome.replace('_', '-')}"


_HEALTHY = frozenset({"resolved", "mitigated", "no_action"})


def _unmet_check_escalates(nodes: list[Node]) -> None:
    """The guide's last words are a check that concludes ("When lag is back under 30 s, the
    incident is mitigated"; "If the alert has cleared, no action is needed"): when it does not
    hold, the guide has not said the run went well, so that side hands over to a person rather
    than fall through to the guide's healthy ending. (A guard that runs something first, "If
    X, restart Y", is a precondition: its other side still ends as the guide does.)"""
    node = nodes[-1] if nodes else None
    while isinstance(node, IfNode) and node.else_ is not None and len(node.else_) == 1 and \
            isinstance(node.else_[0], IfNode):
        node = node.else_[0]  # "Otherwise, if ...": the last check of the chain
    if isinstance(node, IfNode) and node.cases and node.else_ is None:
        # the guide ends on its table of cases (or its options) and none held: it said
        # nothing of that case, so a person takes over (it ended `resolved` with nothing done)
        node.else_ = [EndNode("escalate", "None of the guide's cases held",
                              f"None of the cases the guide lists held (the last: "
                              f"{node.guard.text}). The guide says no more: hand over to a "
                              "person", node.span)]
        node.else_text = f"Otherwise (not: {node.guard.text})"
        return
    if not isinstance(node, IfNode) or node.synthetic or node.else_ is not None or \
            len(node.then) != 1 or not isinstance(end := node.then[0], EndNode) or \
            end.outcome not in _HEALTHY:
        return
    node.else_ = [EndNode("escalate", "The guide's check did not hold",
                          f"Not so: {node.guard.text}. The guide says no more: hand over to a "
                          "person", node.span)]
    node.else_text = f"Otherwise (not: {node.guard.text})"


def _actions(nodes: list[Node]) -> Iterator[Action]:
    """The actions under `nodes`, in document order; a loop, not recursion: a chain of
    "Otherwise, if ..." nests as deep as the guide is long."""
    todo: list[Node] = list(reversed(nodes))
    while todo:
        n = todo.pop()
        if isinstance(n, Action):
            yield n
        elif isinstance(n, IfNode):
            todo.extend(reversed([*n.then, *(n.else_ or [])]))
        elif isinstance(n, Fork):  # (guards: a parallel instruction's branches)
            todo.extend(reversed([x for branch in n.branches for x in branch]))


def _inputs(guide: Guide, outline: Outline) -> list[InputSpec]:
    declared = [i.to_spec() for i in guide.front.inputs]
    names = {i.name for i in declared}
    return declared + [spec for name, spec in outline.scope.inputs.items() if name not in names]


def _triggers(guide: Guide) -> list[Trigger]:
    """Alert runbooks are titled with the alert's name (`# KubePodCrashLooping`)."""
    h1 = next((e for e in guide.elements if e.kind == "heading"), None)
    if h1 is not None and h1.level == 1 and _ALERT_NAME.match(h1.text) and \
            any(c.isupper() for c in h1.text[1:]):
        return [Trigger(alert=h1.text)]
    return []


def _references(guide: Guide, outline: Outline) -> list[Reference]:
    seen: set[tuple[str, str, int]] = set()
    out: list[Reference] = []
    for el in guide.elements:
        for link in el.links:
            if not link.href or link.href.startswith("#") or \
                    (el.index, link.href) in outline.call_links:
                continue
            key = (link.text, link.href, el.span.start)
            if key not in seen:
                seen.add(key)
                out.append(Reference(text=link.text or link.href, target=link.href,
                                     line=el.span.start))
    return out


# -- what became no step ---------------------------------------------------------------------

_BLOCK_REASON = {"output": "sample output", "config": "configuration", "other": "illustration",
                 "plugin": "plugin parameters", "script": "script", "query": "query",
                 "command": "commands"}
_GUARD_SENTENCE = re.compile(r"(?:^|(?<=[.!?:])\s+)(?:[*_]{0,2}\s*)"
                             r"(?:(?:\[!\w+\]|note|important|tip|warning|caution)\s*[:-]?\s+)?"
                             r"((?:(?:only )?(?:if|when)|whenever|otherwise|"
                             r"else|unless|in case|in the case|should|(?:provided|providing) "
                             r"that|(?:as|so) long as|in the event)\b[^.!?\n]*)", re.I)
_PROMPTED = re.compile(r"^\s*\$\s+")


def _expected_by(el: Element, expecting: list[str]) -> bool:
    """Whether an "Expected: X" item is the condition of the "If not" after it."""
    x = phrases.expectation(el.text) if expecting else None
    return x is not None and any(f"({x})" in text for text in expecting)


def ignored_parts(guide: Guide, steps: list[Step], edges: list[Edge]) -> list[Ignored]:
    """Every code block, list item, inline command and If/When/Otherwise sentence of `guide`
    that no step holds, with why: the post-pass that makes sure nothing is lost silently.

    A block is held by a step that starts or ends on its lines (a session's step spans from
    the block that opened it to the block of the line it runs); an item by any step
    over its lines; an inline command by a step over its element whose text or script holds
    it; a condition by a decide step over its element, an edge carrying its words, or a
    manual step whose text a person reads. Linear: steps are indexed by their first line."""
    starting: dict[int, list[Step]] = {}
    ending: dict[int, list[Step]] = {}  # steps that run a line (a session's: from its opener)
    ends: dict[int, list[Step]] = {}  # the run's endings the guide wrote, by their first line
    for s in steps:
        if s.kind == StepKind.END:
            ends.setdefault(s.source.start, []).append(s)
        else:
            starting.setdefault(s.source.start, []).append(s)
            if s.kind in (StepKind.COMMAND, StepKind.QUERY) or "script" in s.params:
                ending.setdefault(s.source.end, []).append(s)
    spans = sorted((s.source.start, s.source.end) for s in steps if s.kind != StepKind.END)
    cover = _Coverage(spans, guide.line_count)
    conditions = {_clause_key(e.condition.text) for e in edges if e.condition is not None}
    describing = _describing_sections(guide)
    expecting = [s.text for s in steps if s.kind == StepKind.DECIDE and s.text and
                 s.text.startswith("If not as expected (")]
    out: list[Ignored] = []

    def within(a: int, b: int) -> list[Step]:
        return [s for line in range(a, b + 1) for s in starting.get(line, ())]

    for el in guide.elements:
        span = el.span  # (frozen: shared, not copied)
        info = el.section in describing
        if el.kind == "code":
            # (a session's steps span from its opener's block to the block of their line)
            held = within(el.span.start, el.span.end) or [
                s for line in range(el.span.start, el.span.end + 1) for s in ending.get(line, ())]
            if not held:
                intro = guide.elements[el.index - 1] if el.index else None
                cls = blocks.read_block(el, after_output_cue=blocks.announces_output(intro),
                                        after_config_cue=blocks.announces_config(intro, el)).cls
                reason = _BLOCK_REASON.get(cls, cls)
                if cls in ("command", "query", "script"):
                    reason = "descriptive section" if info else \
                        f"{reason} the plan does not run (assignments become inputs)"
                out.append(Ignored(span=span, kind="code", reason=reason,
                                   text=_first(el.text)))
            continue
        if el.kind == "list_item" and not cover.any(el.span.start, el.span.end) and \
                not any(s.text and s.text[:60] in el.text for s in ends.get(el.span.start, ())) \
                and not _expected_by(el, expecting) and \
                not _answer_compiled(guide, el, el.text, conditions):
            # (what the author marked says more than the section it is in)
            reason = "crossed out (~~...~~): the author struck it, nothing to do" \
                if phrases.struck_out(el.text) else \
                "a ticked box: done already, nothing to do again" \
                if phrases.ticked(el.text) else "descriptive section" if info else \
                "prose: nothing to run or decide"
            out.append(Ignored(span=span, kind="item", reason=reason, text=_first(el.text)))
        if el.kind in ("paragraph", "list_item") and phrases.struck_out(el.text):
            if el.kind == "paragraph":  # its commands, each said to be crossed out
                out.extend(Ignored(span=span, kind="inline", reason="crossed out (~~...~~): "
                                   "the author struck it, nothing to do",
                                   text=_PROMPTED.sub("", code).strip()[:120])
                           for code in el.inline_code if inline_command(code))
            continue
        if el.kind not in ("paragraph", "list_item", "table", "heading"):
            continue
        commands = [c for c in el.inline_code if inline_command(c)] \
            if el.kind != "heading" else []
        guards = list(_GUARD_SENTENCE.finditer(el.text.replace("**", ""))) \
            if el.kind != "table" else []
        if not commands and not guards:
            continue
        near = within(el.span.start, el.span.end) if el.kind != "heading" else []
        if commands:
            # A manual step holding the element's text holds all its commands; else each is
            # held by a step that runs it (its text) or lists it (a script line).
            whole = any(s.kind == StepKind.MANUAL and s.text.startswith(el.text[:200])
                        for s in near)
            held_lines = {s.text for s in near} | {
                ln.strip() for s in near for ln in str(s.params.get("script", "")).split("\n")}
            for code in commands:
                line = _PROMPTED.sub("", code).strip()
                if not whole and line not in held_lines:
                    out.append(Ignored(span=span, kind="inline", reason="descriptive section"
                                       if info else "reference: named, not asked for",
                                       text=line[:120]))
        if guards:
            decided = any(s.kind == StepKind.DECIDE for s in near) if el.kind != "heading" \
                else cover.any(el.span.start, el.span.end)
            for m in guards:
                sentence = m.group(1).strip()
                if decided or _clause_key(sentence) in conditions or (
                        el.kind != "heading" and any(s.kind == StepKind.MANUAL and
                                                     sentence[:40] in s.text for s in near)) \
                        or any(sentence[:40] in s.text for s in ends.get(el.span.start, ())) \
                        or _answer_compiled(guide, el, sentence, conditions):
                    continue
                out.append(Ignored(span=span, kind="guard", reason="descriptive section" if info
                                   else "condition with nothing to guard", text=sentence[:120]))
    return out


def _answer_compiled(guide: Guide, el: Element, sentence: str, conditions: set[str]) -> bool:
    """Whether `sentence` answers a question ("If no → Step 2", "No: escalate") whose decision
    the plan holds: the answer is that decision's other side (its edge says "Otherwise (no:
    <the question>)", no words of the answer's own)."""
    asked = question_answered(guide, el, sentence)
    return asked is not None and _clause_key(asked) in conditions


_CLAUSE_WORDS = re.compile(r"[a-z0-9]+")
_LEAD_WORDS = frozenset("if when whenever otherwise else unless in case the should not".split())


def _clause_key(text: str) -> str:
    """A condition's first words, its opening If/When/Otherwise dropped: an edge's condition
    and the sentence it came from share it (set lookup, not a scan of every edge)."""
    words = _CLAUSE_WORDS.findall(text.lower())
    while words and words[0] in _LEAD_WORDS:
        words = words[1:]
    return " ".join(words[:5])


def _first(text: str, limit: int = 80) -> str:
    line = next((x.strip() for x in text.split("\n") if x.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _describing_sections(guide: Guide) -> set[int]:
    """Headings of sections that describe (Meaning, Overview, ...), sub-sections included."""
    out: set[int] = set()
    for h in guide.headings():
        if phrases.section_class(h.text) == "info" or h.section in out:
            out.add(h.index)
    return out


class _Coverage:
    """Which lines some step's span holds, answered in O(1) per range after O(lines) setup."""

    def __init__(self, spans: list[tuple[int, int]], lines: int) -> None:
        diff = [0] * (lines + 3)
        for a, b in spans:
            a, b = max(1, a), min(lines, b)
            if a <= b:
                diff[a] += 1
                diff[b + 1] -= 1
        self.prefix = [0] * (lines + 2)
        run = 0
        for i in range(1, lines + 2):
            run += diff[i]
            self.prefix[i] = self.prefix[i - 1] + (run > 0)

    def any(self, a: int, b: int) -> bool:
        a, b = max(1, a), min(len(self.prefix) - 1, b)
        return a <= b and self.prefix[b] - self.prefix[a - 1] > 0
