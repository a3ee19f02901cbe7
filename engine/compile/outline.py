"""Guide -> outline: a tree of actions, guarded branches and jumps, in source order.

This module owns reading the guide's structure: which headings and list items are steps, which
code blocks and inline commands belong to which item (including kubevirt's code blocks that
end a list item and follow it as a sibling), what each command becomes (a command, a query, a
binding, a manual step), and what guards and jumps the prose adds. It does not draw edges or
name memory keys for results (`engine.compile.wiring` does).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal, TypedDict

from engine import exits, placement
from engine.compile import blocks, credentials, phrases, placeholders, powershell, queries
from engine.compile.links import guide_link
from engine.compile.nodes import Action, at_its_prompt
from engine.compile.phrases import Guard, JumpRef, SectionClass
from engine.compile.scope import Scope
from engine.compile.sessions import (
    SessionReader,
    asks_a_password,
    opens_session,
    prompt_host,
    reaches_its_machine,
    without_terminal,
    workstation_tool,
)
from engine.compile.shellwords import Parsed, Pipeline, Word, parse_line
from engine.effects import (
    Templated,
    classify_pipeline,
    looks_like_command,
    sql_verdict,
    step_verdict,
)
from engine.effects.bash import bash_verdict, read_script
from engine.effects.classify import in_the_folder
from engine.effects.rules import EDITOR, LOGIN, UNTIL_STOPPED
from engine.errors import ValidationError
from engine.guide import Element, Guide, load_yaml, slugify
from engine.plan import Span, StepKind
from engine.templating import is_template, literal

_PREFIX = {"diag": "diag", "mit": "mit", "step": "step"}
_STOP = frozenset("""the a an of for to by and or in on with from is are be that this these those
following command commands running run using use via any all your you if its it as at which
whether then there their following below above""".split())


# an escalation in place of what the guide forbids ("Do not reinstall the agent on domain
# controllers. Escalate to the identity team instead.")
_INSTEAD_OF = re.compile(r"\b(?:do not|don't|never)\b[^`]*\binstead\b", re.I | re.S)
# a condition whose subject is a command: "If `ceph -s` shows ...", "When the output of `x`
# says ..." (`\0` stands for the command)
_CONDITION_SUBJECT = re.compile(r"^\W*(?:only\s+)?(?:if|when|once|unless|in case)\s+"
                                r"(?:the (?:output|result) of\s+)?(?:the\s+)?`\0`\s+\w", re.I)


class _Where(TypedDict):
    """Where a plugin block sits, for the errors about it."""

    file: str
    line: int


@dataclass
class IfNode:
    guard: Guard
    then: list[Node]
    span: Span
    pos: int
    else_: list[Node] | None = None
    else_text: str | None = None
    synthetic: bool = False  # added by the compiler (not the guide's words): not a jump target
    # one of the cases the guide lists (a decision table's rows, its options): when none of
    # them holds at the guide's end, it said nothing of what then
    cases: bool = False


# where the compiler's own ending sits ("The issue is resolved", else the guide's escalation):
# after every element of the guide
ENDING_POS = 10**9


@dataclass
class EndNode:
    outcome: str
    title: str
    text: str
    span: Span
    # "The issue is mitigated." on its own after a section's steps: the run ends there only
    # where nothing else needs that path (see `Wiring._may_end`), else it is a reader's note;
    # "jumped": only where a jump leads to what follows ("Escalate to the network team." before
    # the "Step 4" that a case goes to; elsewhere it is the guide's last word, see `escalation`);
    # "last": only inside a branch or at the guide's end ("Else: 1. Escalate to the team.")
    said: Literal["", "ending", "jumped", "last"] = ""
    instead: Action | None = None  # where the said ending may not end: this step instead
    pos: int | None = None  # a said ending's element: where a jump to it lands


@dataclass
class JumpNode:
    ref: JumpRef
    span: Span
    pos: int
    unconditional: bool = False  # "Proceed to Step 5." on its own: an edge, not a question


@dataclass
class Fork:
    """"Steps 2-4 can be executed in parallel": each branch starts at once, the next node
    joins them; a branch that ends the run (an early exit) cancels the others."""

    branches: list[list[Node]]
    span: Span
    pos: int


Node = Action | IfNode | JumpNode | EndNode | Fork


@dataclass
class Outline:
    sections: list[tuple[SectionClass, Element | None, list[Node]]]
    scope: Scope
    escalation: tuple[str, Span] | None
    call_links: set[tuple[int, str]]  # (element index, href) used as call steps
    items_by_heading: dict[int | None, list[Element]]
    contact: tuple[str, Span] | None = None  # an "Escalation" section's words: who takes over


def build_outline(guide: Guide) -> Outline:
    return _OutlineBuilder(guide).build()


class _OutlineBuilder:
    def __init__(self, guide: Guide) -> None:
        self.g = guide
        self.els = guide.elements
        self.scope = Scope(named=frozenset(
            w for e in self.els if e.kind in ("paragraph", "list_item", "heading", "table")
            for w in placeholders.named(e.text)))
        self.ids: set[str] = set()
        self.counters: dict[str, int] = {}
        self.escalation: tuple[str, Span] | None = None
        # the ending an FAQ answer or a known problem's action says ("..., then escalate to the
        # orders team"): its case's, after its steps; None outside such a case
        self._case_end: list[EndNode] | None = None
        # "If X, acknowledge the alert and you're done:" -> after the block it introduces, the
        # case's ending (keyed by the paragraph's element)
        self._ends_after: dict[int, EndNode] = {}
        self.call_links: set[tuple[int, str]] = set()
        self.cls: dict[int, SectionClass] = {}
        self.owner: dict[int, int | None] = {}
        self.children: dict[int | None, list[int]] = {}
        self.items_by_heading: dict[int | None, list[Element]] = {}
        self.h1_count = sum(1 for e in self.els if e.kind == "heading" and e.level == 1)
        self._heading_words: dict[str, bool] = {}
        self._cases: set[int] | None = None  # headings naming alarm codes: `_code_cases`
        self._open_else: dict[int, tuple[IfNode, IfNode]] = {}  # id(if) -> (if, its tail)
        self.sessions = SessionReader()  # `ssh host`, `oc debug node/X`...: where lines run
        # the directory a `cd DIR` block left the reader's shell in, by top section (its later
        # blocks' commands run there, as the author's terminal did)
        self._cwd: dict[int | None, str] = {}
        # each bullet's list (`_in_case_list`), and whether a list is one of cases, by its id
        self._case_runs: dict[int, list[Element]] | None = None
        self._case_verdicts: dict[int, bool] = {}
        self._instruction_verdicts: dict[int, set[int]] = {}

    # -- structure ---------------------------------------------------------------------

    def build(self) -> Outline:
        self._classify_headings()
        self._assign_owners()
        h1 = [e for e in self.els if e.kind == "heading" and e.level == 1]
        title = h1[0].index if len(h1) == 1 and self.owner[h1[0].index] is None else None
        sections: list[tuple[SectionClass, Element | None, list[Node]]] = []
        intro = self._content(None, "step", headings=False)
        if title is not None:
            intro += self._content(title, "step", headings=False)
        if intro:
            sections.append(("step", None, intro))
        for idx in self.children.get(title, []):
            el = self.els[idx]
            if el.kind != "heading":
                continue
            # A describing section (Meaning, Overview, ...) keeps its commands, not its flow.
            nodes = self._content(idx, "info") if self.cls[idx] == "info" else self._heading(el)
            if nodes:
                sections.append((self.cls[idx], el, nodes))
        sections = self._forks(sections)
        for _, _, nodes in sections:
            _fill_in_first(nodes)
        self._last_item_escalates(sections)
        return Outline(sections, self.scope, self.escalation, self.call_links,
                       self.items_by_heading, self._contact())

    def _last_item_escalates(
            self, sections: list[tuple[SectionClass, Element | None, list[Node]]]) -> None:
        """The procedure's last numbered step hands over ("3. Escalate to the messaging
        team."): it is the guide's last word, as the same sentence in a paragraph is (the
        run's ending when the issue remains), not a person's step the run goes past to end
        resolved. Only a step that opens by handing over, with nothing to run and no guard
        of its own, and only when no other escalation was read."""
        acting = [nodes for cls, _, nodes in sections if cls not in ("info", "cleanup")]
        if self.escalation is not None or not acting or not acting[-1]:
            return
        last = acting[-1][-1]
        if isinstance(last, EndNode) and last.said == "last":  # (see `_item`)
            acting[-1].pop()
            self.escalation = (last.text, last.span)
            return
        if not isinstance(last, Action) or last.kind != StepKind.MANUAL or \
                last.params.get("script") or last.prose:
            return
        el = self.els[last.pos]
        if el.kind != "list_item" or not el.ordered or _HANDS_OVER.match(el.text) is None or \
                phrases.outcome_of(el.text) != "escalate" or \
                phrases.guard_in(el.text) is not None:
            return
        acting[-1].pop()
        self.escalation = (el.text, el.span)

    def _contact(self) -> tuple[str, Span] | None:
        """The words of a section headed "Escalation" (or "When to escalate", "Contacts"):
        whom a run that hands over goes to. Such a section describes, so its words shape no
        flow; they become the text of the run's escalate ending."""
        for el in self.els:
            if el.kind == "heading" and _CONTACT_HEADING.match(el.text.replace("*", "")):
                words = [c for c in self.els if c.section == el.index and c.text and (
                    c.kind == "list_item" or c.kind == "paragraph" and c.parent is None)]
                if words:
                    text = "\n".join(c.text for c in words)[:1000]
                    return text, Span(start=words[0].span.start, end=words[-1].span.end)
        return None

    def _forks(self, sections: list[tuple[SectionClass, Element | None, list[Node]]]
               ) -> list[tuple[SectionClass, Element | None, list[Node]]]:
        """"Steps 2-4 can be executed in parallel": the "Step N" sections it names become the
        branches of one fork, in the place of the first; the section after them joins."""
        numbered = {phrases.step_number(el.text): i for i, (_, el, _) in enumerate(sections)
                    if el is not None and phrases.step_number(el.text) is not None}
        if len(numbered) < 2:
            return sections
        merged: dict[int, list[int]] = {}
        for el in self.els:
            if el.kind not in ("paragraph", "list_item", "quote"):
                continue
            for first, last in phrases.parallel_steps(el.text):
                members = [numbered[n] for n in range(first, last + 1) if n in numbered]
                if len(members) > 1 and not any(m in merged or any(m in v for v in
                                                                   merged.values())
                                                for m in members):
                    merged[members[0]] = members
        if not merged:
            return sections
        gone = {m for ms in merged.values() for m in ms[1:]}
        out: list[tuple[SectionClass, Element | None, list[Node]]] = []
        for i, (cls, head, nodes) in enumerate(sections):
            if i in gone:
                continue
            if i in merged:
                branches = [sections[m][2] for m in merged[i]]
                assert head is not None
                nodes = [Fork(branches, head.span, head.index)]
            out.append((cls, head, nodes))
        return out

    def _classify_headings(self) -> None:
        for el in self.els:
            if el.kind != "heading":
                continue
            cls = phrases.section_class(el.text)
            if _SHORT_VERSION.match(el.text) and self._steps_after(el):
                # "## TL;DR" over "1. Check for a deploy → roll it back.", then "## Details"
                # with the commands: the short version of what follows, for a reader (its
                # lines were person's steps, and its "Still burning? Page the owner." asked
                # before any check had run)
                cls = "info"
            parent = el.section
            inherit = parent is not None and self.els[parent].level < el.level and not (
                self.els[parent].level == 1 and self.owner_is_title(parent))
            if inherit and parent is not None and (cls == "step" or self.cls[parent] == "info"):
                cls = self.cls[parent]
            self.cls[el.index] = cls

    def _steps_after(self, heading: Element) -> bool:
        """Whether a later section, outside this one, has code to run."""
        later = next((e.index for e in self.els[heading.index + 1:] if e.kind == "heading"
                      and e.level <= heading.level), None)
        return later is not None and any(e.kind == "code" for e in self.els[later:])

    def owner_is_title(self, idx: int) -> bool:
        return self.h1_count == 1

    def _assign_owners(self) -> None:
        """Who contains each element; a top-level code block after a list item joins it."""
        last_item: int | None = None
        state = None
        for el in self.els:
            if el.kind == "heading":
                owner = el.section
                last_item, state = None, None
            elif el.parent is not None:
                owner = el.parent
            elif el.kind == "list_item":
                owner = el.section
                last_item, state = el.index, "item"
                self.items_by_heading.setdefault(el.section, []).append(el)
            elif el.kind == "code" and last_item is not None and state in ("item", "attached"):
                owner, state = last_item, "attached"
            elif el.kind == "paragraph" and state == "attached":
                owner = last_item
            else:
                owner, state = el.section, None
            self.owner[el.index] = owner
            self.children.setdefault(owner, []).append(el.index)

    def _heading(self, el: Element) -> list[Node]:
        cls = self.cls[el.index]
        option = phrases.option_of(el.text) if el.level > 1 else None
        symptom = phrases.symptom_of(el.text) or phrases.scenario_of(el.text) or \
            option or _faq_case(el.text) if el.level > 1 else None
        if symptom is not None:
            # "### Symptom: evictions climbing" over its Cause and Fix, "## Scenario B:
            # consumers attached but slow": its steps are for that case only (they all ran in
            # turn), and its "Escalate to X" ends its branch after them (it was context for a
            # reader, and the run ended healthy)
            outer, self._case_end = self._case_end, []
            nodes = self._content(el.index, cls)
            if self._case_end and not (nodes and isinstance(nodes[-1], (EndNode, JumpNode))):
                nodes.append(self._case_end[0])
            self._case_end = outer
            if nodes:
                # (an option is one of a choice: the next option is its other side)
                return [IfNode(Guard(text=symptom, alternative=option == symptom), nodes,
                               el.span, el.index)]
            return nodes
        own: list[Node] = []
        if el.level > 1 and el.inline_code and cls not in ("info", "cleanup") and \
                phrases.is_instruction_only(el.text.replace("`", "")) and \
                not self._holds_commands(el.index):
            # "### Roll back with `kubectl rollout undo deploy/web`" over prose alone: the
            # heading is the step, its command run (or shown) as the same words in a paragraph
            # are (it was a title only: a read-only check a person's step, the roll-back lost);
            # the prose under it is about that step, no person's step of its own. A section
            # with commands of its own ("#### Kill `git pack-objects` processes" over its
            # `pkill`) names in its heading what they do.
            own = self._inline(el, cls, el.index)
        nodes = [*own, *self._content(el.index, cls, acted=_has_action(own))]
        nodes = self._check_then_fix(el, nodes)
        guard = phrases.guard_of(el.text) if el.level > 2 or \
            el.level == 2 and phrases.if_heading(el.text) else None
        if guard is None and el.level > 2 and el.section is not None and \
                (answer := _BARE_ANSWER.match(el.text.replace("**", "").strip())) is not None \
                and (asked := phrases.question_of(self.els[el.section].text)) is not None:
            # "### Is the kubelet running?" over "#### Yes" and "#### No": each answer's
            # section is for that answer (both ran in turn, the kubelet started either way)
            guard = Guard(text=asked) if answer.group(1).lower() == "yes" else \
                Guard(text=f"Otherwise (no: {asked})", is_else=True)
        if guard is None and el.index in self._code_cases():
            # "## SRVO-050 Collision Detect alarm" beside "## SRVO-062 BZAL alarm": one
            # section per alarm, each for when its alarm is the one raised, never all in turn
            guard = Guard(text=el.text.replace("**", "").replace("__", "").strip())
        if guard is None and el.level > 1 and phrases.is_rollback(el.text):
            # "## Rollback": its steps undo the procedure's; a person decides whether they run.
            # Once they ran, the change is undone and the run ends there, handed to a person:
            # the procedure's next steps ("## 2. Warm the cache") are for a change that is no
            # longer there (they ran after the undo, and the run said it was resolved)
            guard = Guard(text=el.text)
            if _has_action(nodes) and not isinstance(nodes[-1], (EndNode, JumpNode)):
                nodes = [*nodes, EndNode("escalate", f"Rolled back ({_short(el.text)})",
                                         el.text, el.span)]
        if guard is None and el.level > 1 and phrases.is_last_resort(el.text) and \
                _has_action(nodes) and not isinstance(nodes[0], IfNode):
            # "## Last resort" after the triage: its steps are for when the steps above did
            # not help, a person's call (the triage's last case fell into the restart)
            guard = Guard(text=f"{_short(el.text)}: the steps above did not help")
        if guard and nodes:
            return [IfNode(guard, nodes, el.span, el.index)]
        return nodes

    def _said_ending(self, el: Element, cls: SectionClass, owner: int) -> list[Node]:
        """A paragraph that opens by saying how the run stands: "The issue is mitigated.",
        "This is the root cause.", "This is a potential resolution. Monitor for 30 minutes.":
        the path ends there (after a person's step for the words that follow it), where
        nothing else needs to fall through it (`Wiring._may_end`). It was context for a
        reader, and the run fell into the next section, one that only a jump was for (the
        roll-back after the backlog was drained)."""
        sentences = phrases._sentences(el.text)
        if not sentences or (ending := phrases.said_ending(sentences[0])) is None:
            return []
        out: list[Node] = []
        rest = " ".join(sentences[1:])
        if rest:
            out.append(self._manual(owner, cls, rest, rest, el.span, el.index))
        out.append(EndNode(ending, _conclusion(sentences[0]) or _short(sentences[0]),
                           el.text, el.span, said="ending", pos=el.index))
        return out

    def _check_then_fix(self, el: Element, nodes: list[Node]) -> list[Node]:
        """"### High memory" over "**Check:** `free -m`" then "**Fix:** `sudo systemctl
        restart app`": the fix is for when the check shows the section's problem (a judgment
        after the check, the heading its words). Every section's fix ran in turn, whatever its
        check showed."""
        if el.level < 2 or phrases.guard_of(el.text) is not None:
            return nodes
        kids = [self.els[i] for i in self.children.get(el.index, [])]
        check = next((k for k in kids if k.kind == "paragraph" and _CHECK_LABEL.match(k.text)),
                     None)
        fix = next((k for k in kids if k.kind == "paragraph" and _FIX_LABEL.match(k.text) and
                    check is not None and k.index > check.index), None)
        if fix is None:
            return nodes
        at = next((k for k, n in enumerate(nodes) if getattr(n, "pos", -1) >= fix.index),
                  len(nodes))
        before, after = nodes[:at], nodes[at:]
        if not _has_action(after):
            return nodes
        case = el.text.replace("**", "").strip()
        return [*before, IfNode(Guard(text=case), after, fix.span, fix.index)]

    def _holds_commands(self, idx: int) -> bool:
        """Whether anything under an element is a code block or names a command inline."""
        todo = list(self.children.get(idx, []))
        while todo:
            el = self.els[todo.pop()]
            if _names_a_command(el):
                return True
            todo.extend(self.children.get(el.index, []))
        return False

    def _code_cases(self) -> set[int]:
        """The headings that each name an alarm or fault code, or are nothing but an error
        message or state in code or quotes ("### `ImagePullBackOff`"), among two or more such
        sibling sections (same level, same parent heading): each section is for its case
        (they all ran in turn: the roll-back and the memory raise offered whatever the error)."""
        if self._cases is None:
            siblings: dict[tuple[int | None, int], list[int]] = {}
            for e in self.els:
                if e.kind == "heading" and e.level > 1 and (phrases.names_a_code(e.text) or
                                                            phrases.names_a_message(e.text)):
                    siblings.setdefault((self.owner.get(e.index), e.level), []).append(e.index)
            self._cases = {i for group in siblings.values() if len(group) > 1 for i in group}
        return self._cases

    def _content(self, owner: int | None, cls: SectionClass, *,
                 headings: bool = True, acted: bool = False) -> list[Node]:
        """Nodes for everything `owner` (a heading, list item or quote, or the root) holds."""
        if cls == "info":
            return self._described(owner)
        nodes: list[Node] = []
        guarded: tuple[Guard, list[Node], Element] | None = None
        prose: list[Element] = []
        # `<details><summary>If the pod is stuck</summary>` ... `</details>`, a `<TabItem>`:
        # an HTML container whose opener is a condition guards all it holds, up to its closer
        scoped: tuple[Guard, list[Node], Element] | None = None

        def flush() -> None:
            nonlocal guarded
            if guarded and guarded[1]:
                done = self._ends_after.pop(guarded[2].index, None)
                if done is not None and not isinstance(guarded[1][-1], (EndNode, JumpNode)):
                    guarded[1].append(done)
                self._append(nodes, IfNode(guarded[0], guarded[1], guarded[2].span,
                                           guarded[2].index))
            guarded = None

        def close_scope() -> None:
            nonlocal scoped, nodes
            if scoped is not None:
                flush()
                guard, outer, opener = scoped
                inner, nodes, scoped = nodes, outer, None
                if phrases.is_rollback(guard.text) and _has_action(inner) and \
                        not isinstance(inner[-1], (EndNode, JumpNode)):
                    # a collapsed "Rollback" ends the run once it ran, as "## Rollback" does
                    inner.append(EndNode("escalate", f"Rolled back ({_short(guard.text)})",
                                         opener.text, opener.span))
                if (faq or html_end) and self._case_end and not (inner and isinstance(
                        inner[-1], (EndNode, JumpNode))):
                    inner.append(self._case_end[0])
                if faq:
                    self._case_end = None
                elif html_end:  # the container's "Escalate to X" ended its case only
                    self._case_end = html_end[0]
                    html_end.clear()
                if inner:
                    self._append(nodes, IfNode(guard, inner, opener.span, opener.index))

        faq = False  # the scope is an FAQ entry's: its answer ends at the next question, heading
        # an HTML container's scope: the case ending its "Escalate to X" made is its own (the
        # ending of the scope around it, kept here)
        html_end: list[list[EndNode] | None] = []

        for idx in self.children.get(owner, []):
            el = self.els[idx]
            if el.kind in ("paragraph", "list_item") and phrases.struck_out(el.text):
                continue  # "~~Restart nginx: `x`~~ (no longer needed)": crossed out, not done
            if el.kind == "list_item" and phrases.ticked(el.text):
                continue  # "2. [x] Page the DBA": done already (it was a person's step, or,
                # under "Escalation", the run's ending)
            option = phrases.option_of(el.text) if el.kind == "paragraph" else None
            asked = (phrases.faq_question(el.text) or phrases.symptom_of(el.text) or option or
                     # a definition list's term, "Pod stuck Pending" over ": Check ..."
                     (el.text.rstrip(" .:") if el.term else None)) \
                if el.kind == "paragraph" else None
            if asked is not None or faq and (el.kind == "heading" or el.kind == "paragraph" and
                                             phrases.after_options(el.text)):
                close_scope()  # ("In both cases, confirm ...": for whichever was taken)
                faq = False
            if asked is not None and (option is not None or _asks_a_case(asked)):
                # "**Q:** Pods stuck `Pending`?", "**Q:** What if one partition lags?": its
                # answer is for that case only; "Option A: the challenge failed because of
                # DNS. Check the record:": what follows, up to the next option, is one way for
                # a person to choose (each ran in turn)
                flush()
                scoped, nodes, faq = (Guard(text=asked), nodes, el), [], True
                self._case_end = []
            if el.kind == "html" or el.kind == "paragraph" and phrases.only_shortcodes(el.text):
                opens = phrases.html_guard(el.text)
                if scoped is not None and (opens is not None or phrases.closes_html_guard(
                        el.text)):
                    close_scope()
                if opens is None and guarded is not None and _FOLD.search(el.text):
                    # "If `api-3` flapped, put it in maintenance:" in the fold "Step 2 - Take a
                    # bad server out", then `</details>`: the case is over where its fold ends
                    # (it went on over the next folds' config check and reload, skipped when
                    # the server had not flapped)
                    flush()
                if opens is not None:
                    flush()
                    scoped = (opens, nodes, el)
                    nodes = []
                    if not faq:
                        html_end.append(self._case_end)
                        self._case_end = []
                continue
            if el.kind == "heading":
                flush()
                if headings and self.cls[idx] == "info":
                    nodes.extend(self._described(idx))
                elif headings:
                    for node in self._heading(el):
                        if isinstance(node, IfNode):
                            self._append(nodes, node)
                        else:
                            nodes.append(node)
                continue
            tab = phrases.tab_label(el.text) if el.kind == "paragraph" else None
            if tab is not None and not any(
                    c != idx and self.els[c].kind == "paragraph" and
                    phrases.tab_label(self.els[c].text) is not None
                    for c in self.children.get(owner, [])):
                # a lone `=== "Check lag"`: no alternative to choose, a label over its steps
                flush()
                continue
            if tab is not None:
                # `=== "Linux"`: the tab's steps are one alternative, for a person to choose;
                # the tabs are one choice (after the "Kubernetes" tab's steps the run asked
                # about "VM", then "RDS"), then what follows them all
                flush()
                guarded = (Guard(text=tab, alternative=True), [], el)
                continue
            if el.kind == "paragraph" and self._expected(el, guarded[1] if guarded else nodes):
                continue
            if el.kind == "paragraph" and cls not in ("info", "cleanup") and \
                    (above := phrases.guard_of_above(el.text)) is not None and \
                    self._guard_above(above, el, guarded[1] if guarded else nodes):
                continue
            if el.kind == "paragraph":
                # "If `nginx -t` fails, it prints the file and line, e.g." over the output it
                # prints, then "Revert the last change ...": what to do in that case
                held = guarded if guarded is not None and not guarded[1] and \
                    guarded[2].kind == "paragraph" and idx > guarded[2].index + 1 and \
                    self.els[idx - 1].kind == "code" and \
                    not phrases.guard_of(el.text) and cls not in ("info", "cleanup") else None
                flush()
                prose.append(el)
                stub = None
                if held is not None:
                    stub = IfNode(held[0], [], held[2].span, held[2].index)
                    nodes.append(stub)
                cut = self._rollback_line(el) if cls not in ("info", "cleanup") else None
                if cut is not None:
                    # "**Verify:** `x`" then "**Rollback:** `y`" on the paragraph's next line:
                    # the way back is for when a person decides to undo, as a paragraph so
                    # labelled is (it ran right after the change, undoing it)
                    guarded = self._prose(cut[0], cls, owner, nodes)
                    flush()
                    el = cut[1]
                guarded = self._prose(el, cls, owner, nodes)  # (guards: outline._prose)
                if stub is not None and not stub.then:
                    nodes[:] = [n for n in nodes if n is not stub]
                continue
            if el.kind == "code":
                target = guarded[1] if guarded else nodes
                found = self._code(el, cls, owner)
                last = target[-1] if target else None
                if len(found) == 1 and isinstance(edit := found[0], Action) and \
                        edit.kind == StepKind.MANUAL and edit.span.start < el.span.start and \
                        isinstance(last, Action) and last.kind == StepKind.MANUAL and \
                        last.pos == el.index - 1 and "script" not in last.params:
                    target.pop()  # the words' own step, now with the text they add
                    found = [replace(edit, id=last.id, title=last.title)]
                target.extend(found)
                continue
            if el.kind == "table":
                flush()
                own = owner if owner is not None else el.index
                rows = self._flow_table(el, cls, own)
                if rows is None:
                    rows = self._step_table(el, cls, own)
                if rows is None:
                    rows = self._decision_table(el, cls, own)
                nodes.extend(rows if rows is not None else self._inline(el, cls, own))
                continue
            if el.kind == "quote" and (lone := self._lone_condition(idx)) is not None:
                # "> ⚠️ Only if the error budget burn is above 10x.": a note that is nothing
                # but a condition is said of what follows, as the sentence out of a quote is
                flush()
                prose.append(lone)
                guarded = self._prose(lone, cls, owner, nodes)
                continue
            if el.kind == "quote" and (case := self._titled_case(idx)) is not None:
                # `!!! danger "If two members are down"` over "Do not continue. Restore from
                # the snapshot instead": the title is the case, its words what to do in it
                flush()
                prose.append(case)
                guarded = self._prose(case, cls, owner, nodes)
                continue
            if el.kind in ("list_item", "quote"):
                if guarded and self._introduces(guarded[2]):
                    # "If X:" guards the list it opens, and a quote under it: the commands
                    # pasted at a prompt ("> $ sudo certbot renew"), as it guards a block, or
                    # a note on them ("> Note: ..." did not keep X over the block after it)
                    for node in (self._item(el, cls) if el.kind == "list_item"
                                 else self._content(idx, cls)):
                        if isinstance(node, IfNode):
                            self._append(guarded[1], node)
                        else:
                            guarded[1].append(node)
                    continue
                flush()
                if el.kind == "list_item" and not el.ordered and not self._has_actions(el, cls):
                    prose.append(el)
                for node in (self._item(el, cls) if el.kind == "list_item"
                             else self._content(idx, cls)):
                    if isinstance(node, IfNode):
                        self._append(nodes, node)
                    else:
                        nodes.append(node)
        close_scope()
        flush()
        nodes = _one_value_or_another(nodes)
        # ("## If the quick path did not help" over "Take the agent offline." is that case's
        # step: its words were lost, the condition left with nothing to guard)
        in_case = owner is not None and cls == "step" and self.els[owner].kind == "heading" and \
            phrases.if_heading(self.els[owner].text)
        if owner is not None and self.els[owner].kind == "heading" and \
                (cls in ("diag", "mit") or in_case) and not _has_action(nodes) and prose and \
                not acted:
            text = "\n".join(p.text for p in prose if not phrases.is_escalation(p.text))[:2000]
            if text.strip():
                span = Span(start=prose[0].span.start, end=prose[-1].span.end)
                title = _short(text) if in_case else self.els[owner].text
                nodes.insert(0, self._manual(owner, cls, title, text, span, prose[0].index))
        return nodes

    def _described(self, owner: int | None) -> list[Node]:
        """The commands of a section that describes (Meaning, Impact, Overview, ...), in order.

        Its prose is context, never control flow: no guard, jump or ending is read from it. Its
        commands are kept: a read-only one runs (evidence for the reader), anything else is a
        manual step a person may follow, never run by the plan."""
        nodes: list[Node] = []
        for idx in self.children.get(owner, []):
            el = self.els[idx]
            if el.kind == "code":
                nodes.extend(self._code(el, "info", owner))
            elif el.kind == "list_item" and phrases.ticked(el.text):
                continue  # done already: no command to show, no escalation to take from it
            elif el.kind in ("paragraph", "table", "list_item"):
                nodes.extend(self._inline(el, "info", owner if owner is not None else el.index))
                if el.kind != "table" and (self.escalation is None or
                                           _INSTEAD_OF.search(self.escalation[0])) and \
                        self._under_escalation(el) and phrases.is_escalation(el.text):
                    # (over a warning's "Do not reinstall the agent on domain controllers.
                    # Escalate to the identity team instead.": what to do in that one case,
                    # said on the way; the run's hand-over was the identity team's)
                    self.escalation = (el.text, el.span)
            if el.kind in ("heading", "list_item", "quote"):
                nodes.extend(self._described(idx))
        # `a && b && c` is one line: if any part would change something, the whole line is
        # a person's (b and c run only after a, which the plan does not run)
        changing = {(n.span.start, n.span.end, n.text) for n in nodes
                    if isinstance(n, Action) and n.mutating}
        out: list[Node] = []
        for n in nodes:
            if not isinstance(n, Action) or (n.span.start, n.span.end, n.text) not in changing:
                out.append(n)
            elif not any(isinstance(m, Action) and m.span == n.span and m.text == n.text
                         and m.kind == StepKind.MANUAL for m in out[-1:]):
                out.append(self._shown(n))
        return out

    def _shown(self, action: Action) -> Action:
        """A step that would change something, as a manual step holding what it would run."""
        script = action.text
        return Action(action.id, StepKind.MANUAL, action.title, script, action.span, action.pos,
                      action.section, params={"script": literal(script)})

    def _last_in_list(self, el: Element) -> bool:
        """Whether a list item is its list's last (no item of its list after its own parts)."""
        after = next((x for x in self.els[el.index + 1:] if x.span.start > el.span.end), None)
        return after is None or not (after.kind == "list_item" and after.parent == el.parent
                                     and after.depth == el.depth and
                                     after.section == el.section)

    def _expected_before(self, el: Element) -> str | None:
        """What the paragraph just before a paragraph says should be seen ("Expected: X"),
        when it is one and beside it (same section, same item or none)."""
        if el.index == 0:
            return None
        before = self.els[el.index - 1]
        if before.kind != "paragraph" or before.parent != el.parent or \
                before.section != el.section:
            return None
        return phrases.expectation(before.text)

    def _sibling_before(self, el: Element) -> Element | None:
        """The item just before a list item in its list, if any."""
        for at in range(el.index - 1, -1, -1):  # (no copy of the elements before it)
            other = self.els[at]
            if other.kind == "list_item" and other.parent == el.parent and \
                    other.depth == el.depth:
                return other if other.section == el.section else None
            if other.index == el.parent or other.kind == "heading":
                return None
        return None

    def _bullet_run(self, el: Element) -> list[Element] | None:
        """The bullets of the list `el` is in (found for every list in one pass)."""
        if self._case_runs is None:
            self._case_runs = {}
            current: dict[tuple[int | None, int | None, int], list[Element]] = {}
            for other in self.els:
                if other.kind != "list_item" or other.ordered:
                    continue
                key = (other.parent, other.section, other.depth)
                if other.number == 1 or key not in current:
                    current[key] = []
                current[key].append(other)
                self._case_runs[other.index] = current[key]
        return self._case_runs.get(el.index)

    def _in_instruction_list(self, el: Element) -> bool:
        """Whether a bullet tells a person what to do, in a list of such instructions ("- Put
        the cell in T1 on the teach pendant." / "- Make sure nobody is inside the fence."): a
        procedure in bullets, each instruction a person's step as a numbered one is (they
        were ignored as prose, and the run went on without anyone confirming them). Most of
        the list must instruct (a note among them, "Keep in mind that ...", stays a note);
        not a list nested in a step, nor options ("You can either:"). Under a case ("- If the
        fault is `F22`:", "- `timeout`") one bullet is enough: it is what to do in that case."""
        run = self._bullet_run(el)
        up = self.els[el.parent] if el.parent is not None else None
        nested = up is not None and up.kind == "list_item"
        if run is None or up is not None and nested and not self._opens_case(up) or \
                len(run) < 2 and not nested:
            return False
        told = self._instruction_verdicts.get(id(run))
        if told is None:
            # (under a case, terse bullets may start in lower case: "- power-cycle the station")
            told = set() if phrases.offers_options(self._intro(run[0])) else \
                {item.index for item in run if phrases.instructs(
                    item.text[:1].upper() + item.text[1:] if nested else item.text)}
            if len(told) < (1 if nested else 2) or 2 * len(told) <= len(run):
                told = set()
            elif told:  # (and a terse one among them, "- stop pubsubbeat", is one too)
                told |= {item.index for item in run if phrases.opens_with_a_verb(item.text)}
            self._instruction_verdicts[id(run)] = told
        return el.index in told

    def _opens_case(self, item: Element) -> bool:
        """Whether a list item only names a case, and the list under it says what to do in it
        ("- If the fault is `F22` (load overhang):" over "  - Stop the aisle: `...`", "  - Lock
        out the aisle door, enter, and push the tote back."): its bullets are that case's
        steps, not details of a step of its own."""
        guard = phrases.guard_of(item.text) or self._label_case(item)
        return guard is not None and not guard.is_else and \
            not _consequent(item.text, guard).strip(" .:;,-\u2013\u2014")

    def _label_case(self, el: Element) -> Guard | None:
        """The case a bullet names by a code label alone, in a list of such labels each over
        the bullets that say what to do ("- `F10` – position lost" over "  - Send the shuttle
        to its reference point: `...`", "- **Event 16#39:xxxx (station failure)**" over "  -
        power-cycle the station ..."): a fault-code flowchart in bullets. The labels were
        ignored as prose, and every case's commands ran one after the other, whatever the
        code."""
        if el.ordered or el.kind != "list_item" or not self.children.get(el.index) or \
                not _names_a_case(el):
            return None
        run = self._bullet_run(el)
        if run is None or len(run) < 2 or not all(
                _names_a_case(item) and any(
                    self.els[c].kind == "list_item" for c in self.children.get(item.index, []))
                for item in run):
            return None
        return Guard(text=el.text.replace("**", "").replace("__", "").strip().rstrip(":"))

    def _in_case_list(self, el: Element) -> bool:
        """Whether a bullet is one of a list of cases, each opening with its condition ("- If
        register 100 is `4`, abort ...", "- If register 101 is non-zero, clear it by hand", "-
        `Use%` above 95: escalate"): what each says to do is a person's step under it, in any
        section that has steps. The lists are found in one pass and each judged once (asked
        item by item, a list of 4,000 cases took minutes)."""
        run = self._bullet_run(el)
        if run is None or len(run) < 2:
            return False
        verdict = self._case_verdicts.get(id(run))
        if verdict is None:
            verdict = self._case_verdicts[id(run)] = (
                all(phrases.guard_of(item.text) is not None for item in run) or
                # each a case before a colon or an arrow; a short label ("Fast") is one beside
                # a case that compares ("Slow (over 100 ms)")
                all(phrases.colon_case(item.text, loose=True) is not None for item in run) and
                any(phrases.colon_case(item.text) is not None for item in run))
        return verdict

    def _has_actions(self, el: Element, cls: SectionClass) -> bool:
        if any(looks_like_command(c) for c in el.inline_code) and cls in ("diag", "mit"):
            return True
        return any(self.els[c].kind in ("code", "list_item") and (
            self.els[c].kind == "list_item" or blocks.read_block(self.els[c]).cls in (
                "command", "query", "script")) for c in self.children.get(el.index, []))

    def _item(self, el: Element, cls: SectionClass) -> list[Node]:
        nodes: list[Node] = []
        if cls not in ("info", "cleanup") and not el.inline_code and el.section is not None \
                and not self.children.get(el.index) and \
                phrases.is_verification(self.els[el.section].text) and \
                (phrases.states_a_check(el.text) or _CONFIRM_THESE.search(self._intro(el)) and
                 phrases.guard_of(el.text) is None):
            # "## Verify" over "- The error rate is back under 1%.": what the fix should have
            # brought about, a person's (or the model's) check; when it does not hold the fix
            # did not take and the run hands over (it was ignored as prose, and the run ended
            # resolved whatever the error rate)
            said = el.text.replace("**", "").replace("__", "").strip().rstrip(".,;")
            return [IfNode(Guard(text=f"If not as expected ({said})"),
                           [EndNode("escalate", _short(f"The fix did not take ({said})"),
                                    el.text, el.span)], el.span, el.index)]
        if el.parent is None and el.section is not None and not self.children.get(el.index) \
                and phrases.is_preconditions(self.els[el.section].text) and \
                self._opens_section(el) and phrases.states_a_precondition(el.text):
            # "## Preconditions" over "- PVC is in `Bound` state": what must hold before the
            # steps change anything, a person's (or the model's) check; when it does not, the
            # run stops there, handed over (it was ignored as prose, and the PVC was edited
            # whatever its state). A command it names is the judge's to read in its words.
            said = el.text.replace("**", "").replace("__", "").strip().rstrip(".,;")
            said = re.sub(r"^\[[ xX]\]\s*", "", said)
            unmet = EndNode("escalate", _short(f"A precondition does not hold ({said})"),
                            el.text, el.span)
            return [IfNode(Guard(text=f"If the precondition does not hold ({said})"), [unmet],
                           el.span, el.index)]
        guard = phrases.answer_guard(el.text, self._asked(el)) or phrases.guard_of(el.text)
        colon: Guard | None = None
        if guard is None and cls not in ("info", "cleanup") and not el.ordered and \
                (colon := phrases.colon_case(el.text, loose=True)) is not None and \
                self._in_case_list(el):
            # "- `Use%` above 95: escalate to the DBA on-call.": one of a list of cases, each
            # its condition before a colon (they were one person's step, the escalation the
            # whole run's ending and "below 80: no action needed" lost)
            guard = colon
        if guard is None and cls not in ("info", "cleanup"):
            guard = self._label_case(el)  # "- `F10` – position lost" over what to do in it
        if guard is not None and (before := self._sibling_before(el)) is not None and \
                (expected := phrases.expectation(before.text)) is not None:
            guard = phrases.against_expectation(guard, expected)
        if guard is None and cls not in ("info", "cleanup") and not self.children.get(el.index):
            # "2. If it still fails, escalate to controls.": the list's step decides there, its
            # branch ending the run (it was a person's step, and the run ended `resolved`)
            guard = phrases.guard_of(el.text, fallback=True)
            if guard is not None and phrases.outcome_of(el.text) != "escalate":
                guard = None
        case = phrases.case_of(el.text, code=True) if guard is None and not el.links and \
            cls not in ("info", "cleanup") else None
        if case is not None:  # "fsync p99 > 10ms -> disk slow, escalate storage."
            said = el.text.split(case, 1)[-1].lstrip(" \u2192\u21d2->=")
            ending = phrases.outcome_of(said)
            if ending is None and phrases.stops_handed_over(said):
                # "`dbt` test failures → a data problem. Post the failing test in
                # #analytics-eng and stop.": handed over (it was prose, and the run went on
                # to clear the task the item forbids)
                ending = "escalate"
            # ("Lines say `timeout` → escalate": the case may show the output in code spans;
            # what follows the arrow holds none, no command to run before the ending)
            if ending is not None and not self.g.children(el.index) and "`" not in said:
                return [IfNode(Guard(text=case), [EndNode(ending, _conclusion(said) or
                                                          _short(said), el.text, el.span)],
                               el.span, el.index)]
        # "Retry step 1 up to 3 times. If it still fails, hand over to the release team.": the
        # item's later sentence decides after its step, as a whole item so written does (it
        # was the person's step's words, and the run went on to end resolved)
        groups = self._groups(el.text, el.span, fallback=cls not in ("info", "cleanup") and
                              not self.children.get(el.index))
        lead = bool(groups) and (groups[0][0] is None or guard is not None)
        head = groups[0][1] if lead else ""
        tails = [(g, t, s) for g, t, s in (groups[1:] if lead else groups) if g is not None]
        links = [(lk.text, lk.href) for lk in el.links]
        lead_jumps = self._jumps_in(head, links, el, guard) if tails else self._jumps(el, guard)
        # "If <condition>, ... escalate / no action is needed / the issue is mitigated": the
        # branch ends there, and "... Otherwise, escalate." in the same item ends the other.
        ending = else_ending = None
        stop_after: str | None = None  # the ending after the person's step the case says to do
        then_text = ""
        else_text: str | None = ""
        if guard:
            then_text, else_text = _split_otherwise(
                _consequent(head if tails else self._item_text(el), guard))
            if tails and tails[0][0].is_else:
                else_text = tails.pop(0)[1]
            if not lead_jumps:
                ending = guard.ends or phrases.outcome_of(then_text)
                if ending is not None and not guard.ends and cls not in ("info", "cleanup") \
                        and phrases.done_before_ending(then_text):
                    # "5. If the part finishes cleanly, switch Single Block off. The cell is
                    # back in production.": the person's step, then the end (the switch was
                    # lost in the ending)
                    stop_after, ending = ending, None
                if ending is None and phrases.stops_here(then_text) and \
                        not phrases.before_stopping(then_text):
                    # "2. If `ceph health` prints `HEALTH_OK`, you are done.": the run ends
                    # there, as the same sentence in a paragraph does (it was a person's step,
                    # and the run went on into the rollback)
                    ending = "no_action" if cls in ("diag", "info") else "resolved"
                elif ending is None and phrases.stops_handed_over(then_text):
                    ending = "escalate"  # "3. If it is F999, inform IT-Service and stop."
                elif ending is None and phrases.stops_here(then_text) and \
                        phrases.only_why(phrases.before_stopping(then_text)):
                    # "2. If there are no unassigned shards, the cluster is recovering by
                    # itself: stop here.": what it says before the stop is why, no step (it was
                    # a person's step, and the run went on into the reroute)
                    ending = "no_action" if cls in ("diag", "info") else "resolved"
                elif ending is None and phrases.stops_here(then_text):
                    # "2. If the battery is under 20 %, send the AGV to charge and stop here.":
                    # the person's step, then the end (the run went on into the next step)
                    stop_after = "resolved"
            else_ending = phrases.outcome_of(else_text) if else_text else None
        inline = self._inline(el, cls, el.index)  # every section's inline commands count
        inline.extend(self._pasted(el, cls, el.index))
        back: list[Node] = []
        if cls not in ("info", "cleanup") and (cut := self._rollback_line(el)) is not None:
            # "1. Raise maxmemory: `x`" over "Rollback: `y`": the way back, for when a person
            # decides to undo (it ran right after the change, undoing it)
            back = [n for n in inline if _said_in(n, cut[1].text)]
            inline = [n for n in inline if not any(n is b for b in back)]
        # "If X, call the vendor. Otherwise restart it: `x`": the command the other case says
        # to run is that case's (it ran in the item's own case, before its ending)
        theirs = _said_only_in(inline, else_text, then_text)
        inline = [n for n in inline if not any(n is t for t in theirs)]
        otherwise: list[Node] = [replace(n, title=_short(else_text or "")) for n in theirs]
        nodes.extend(n for n in inline if _said_in(n, head) or
                     not any(_said_in(n, t) for _, t, _ in tails))
        nodes.extend(self._call(el, cls, el.index))
        outer, self._ending_item = self._ending_item, ending is not None
        content = self._content(el.index, cls)
        self._ending_item = outer
        other: IfNode | None = None
        else_at, else_words = el.span, ""  # where the item's "Otherwise" is said
        if guard is not None and not guard.is_else and content and \
                isinstance(last := content[-1], IfNode) and last.guard.is_else and \
                last.guard.no_to is None and last.else_ is None and \
                0 <= last.pos < len(self.els) and self.els[last.pos].parent == el.index:
            # "2. If the queue is long, restart the consumer:" over its block, then "Otherwise,
            # go to step 4." under it: the other side of the item's own question (it was a
            # question of its own, "Otherwise?", asked after the restart had run). Read with
            # the item's words ("Otherwise, escalate."), it is the item's else already.
            if not else_text:
                other = last
                content.pop()
            elif else_text.strip() in self.els[last.pos].text:
                content.pop()
                else_at, else_words = last.span, self.els[last.pos].text
        # "2. Look at the depth. If it is above 1000, scale the workers:", "3. Still growing
        # after 10 minutes? Purge the dead-letter queue:" over its block: the block is what the
        # item's last case says to do, and an "Otherwise, ..." under it the other side (the
        # block ran whatever the answer, before the question was asked, "Otherwise?" was asked
        # after it, and the case was a person's step "scale the workers")
        introduced: list[Node] = []
        if guard is None and tails and content and not tails[-1][0].is_else and \
                self._introduces(el) and _does_in_case(el.text, *tails[-1][:2]) and \
                _has_action(content):
            introduced, content = content, []
        nodes.extend(content)
        only_jumps = guard is not None and lead_jumps
        if only_jumps and not _has_action(nodes) and ending is None and \
                cls not in ("info", "cleanup") and \
                (first := phrases.said_before_jump(then_text) or
                 phrases.said_after_jump(then_text)):
            # "2. If the vacuum is low, replace the suction cup and go to step 4.": a person's
            # step, then the jump (only the jump was kept: the branch skipped the repair)
            nodes.insert(0, self._said(cls, first, self._item_text(el), el.span, el.index))
        # An unticked task-list box ("- [ ] Confirm the dashboard is green") is a to-do, a
        # person's step like a numbered one (a ticked box is done, by someone else)
        todo = not el.ordered and re.match(r"\[ \]\s", el.text) is not None
        if not _has_action([*nodes, *introduced]) and (
                el.ordered or todo or cls in ("diag", "mit") and guard
                or cls == "step" and guard and self._in_case_list(el)
                and _asks_someone(then_text)
                or cls in ("step", "diag", "mit") and guard is None and
                not el.ordered and self._in_instruction_list(el)) \
                and not only_jumps and ending is None \
                and not (not el.ordered and phrases.is_escalation(el.text)) \
                and not (guard is not None and _goes_on(then_text)):
            # ("- All pods `Running` → continue." asks nobody anything: that case goes on)
            # ("No: cordon the zone" is titled by what it says to do, not "No")
            # ("- Camera does not answer: power-cycle it at breaker F12": titled by what to
            # do, not by its case, which the decision before it names)
            # (nor "- If the force exceeds 42000 N, the part was likely double-loaded: remove
            # both parts, ...", by its finding)
            step = self._manual(el.index, cls, then_text.strip() if colon is not None and
                                guard is colon and then_text.strip() else
                                guard is not None and phrases.finding_then(then_text) or
                                phrases.without_answer(el.text).strip() or el.text,
                                self._item_text(el), el.span, el.index)
            if el.ordered and guard is None and not nodes and not lead_jumps and \
                    not self.children.get(el.index) and _HANDS_OVER.match(el.text) and \
                    phrases.outcome_of(el.text) == "escalate" and \
                    phrases.guard_in(el.text, fallback=True) is None and \
                    self._last_in_list(el):
                # "Else: 1. Escalate to the storage team.": the list's last step hands the
                # incident over; the path ends there, escalated, where nothing else needs it
                # to go on (it was a person's step, and the run ended `resolved`)
                return [EndNode("escalate", _conclusion(el.text) or _short(el.text),
                                el.text, el.span, said="last", instead=step, pos=el.index)]
            nodes.insert(0, step)
        if not nodes and not lead_jumps and guard is None and not el.ordered and \
                cls not in ("info", "cleanup") and self.escalation is None and \
                phrases.is_escalation(el.text):
            # "- **T+15m** — Escalate to the streaming team.": the guide's last word, as the
            # same sentence in a paragraph is (the run's ending when the issue remains; it
            # was ignored as prose)
            self.escalation = (el.text, el.span)
        nodes.extend(lead_jumps)
        taken: list[Node] = [n for n in nodes if isinstance(n, Action)]
        # "2. If `fault` is 3, go to **Recover**. If `fault` is 0, no action needed.": the
        # first case's branch leaves (a jump, an ending), so a later case in the item is the
        # next question when it does not hold, not one asked inside it (where nothing can reach
        # it: the guide failed to compile)
        leaves = guard is not None and not else_text and (only_jumps or ending is not None)
        cases: list[Node] = []
        for g, text, span in tails:  # "Check X. If Y, do Z.": Y guards Z within the item
            mine = [n for n in inline if _said_in(n, text) and not any(n is t for t in taken)]
            taken.extend(mine)
            if not mine and _goes_on(_consequent(text, g)) and nodes and \
                    isinstance(nodes[-1], IfNode) and nodes[-1].else_ is None:
                nodes[-1].else_text = text
                continue
            if (want := phrases.expectation_in(el.text.split(text, 1)[0])) is not None:
                g = phrases.against_expectation(g, want)  # "Expected: X. If not: ..."
            if introduced and (g, text, span) == tails[-1]:
                self._append(nodes, self._case_over_block(el, g, text, span, mine, introduced))
                continue
            then = self._guarded(g, text, span, el, cls, el.index, mine, links)
            if then and leaves and not g.is_else:
                self._append(cases, IfNode(g, then, span, el.index))
            elif then and not _fold_into_check(nodes, g, then):
                self._append(nodes, IfNode(g, then, span, el.index))
        if _has_action(back):
            nodes.append(IfNode(Guard(text="Rollback"), [*back, EndNode(
                "escalate", "Rolled back", el.text, el.span)], el.span, el.index))
        if ending is None and stop_after is not None and not lead_jumps and not cases:
            ending = stop_after
        if ending is not None:
            nodes.append(EndNode(ending, _conclusion(then_text) or _short(el.text),
                                 self._item_text(el), el.span))
        # "If it is complete, purge the CDN: `x`. Otherwise, go back to step 1.": the other
        # case's jump (it was dropped, and that case ended the run `resolved`)
        else_jumps = self._jumps_in(else_text, links, el, Guard(text=else_text, is_else=True)) \
            if guard and else_text and else_ending is None else []
        if guard and nodes:
            node = IfNode(guard, nodes, el.span, el.index)
            if else_jumps:
                node.else_ = [*otherwise, *else_jumps]
                node.else_text = else_text
            elif else_ending is not None:
                node.else_ = [*otherwise, EndNode(
                    else_ending, _conclusion(else_text or "") or "Otherwise",
                    else_words or self._item_text(el), else_at)]
                node.else_text = f"Otherwise (not: {guard.text})"
            elif else_text and (otherwise or cls in ("diag", "mit") or
                                cls == "step" and not _goes_on(_ELSE_LEAD.sub("", else_text))):
                # (in a list of steps as in a fix: "Otherwise send the backtrace to the kernel
                # team." was dropped there, that case ending the run resolved; "otherwise
                # continue with the next step" asks nobody anything)
                node.else_ = otherwise or [self._said(cls, else_text, else_text, el.span,
                                                      el.index)]
                node.else_text = else_text
            elif other is not None:
                node.else_ = other.then
                node.else_text = other.guard.text
            return [node, *cases]
        if other is not None:
            nodes.append(other)  # (no question of the item's own to be the other side of)
        return nodes + cases

    def _opens_section(self, item: Element) -> bool:
        """Whether `item`'s list is what its section opens with: only paragraphs (its lead-in,
        "Before you restore from a snapshot:") come between the heading and the list (not the
        notes under an example: "- There is no `/` between `~` and the username")."""
        k = item.index - 1
        while k > (item.section or 0) and self.els[k].kind == "list_item" and \
                self.els[k].section == item.section:
            k -= 1
        while k > (item.section or 0) and self.els[k].kind == "paragraph":
            k -= 1
        return k == item.section

    def _case_over_block(self, el: Element, g: Guard, text: str, span: Span,
                         mine: list[Node], introduced: list[Node]) -> IfNode:
        """The item's last case (`g`, said in `text`) over the block the item introduces:
        the block is its branch, and an "Otherwise, ..." paragraph under the block (the last
        of `introduced`) its other side."""
        tail = introduced[-1]
        otherwise = introduced.pop() if isinstance(tail, IfNode) and tail.guard.is_else and \
            tail.else_ is None and tail.guard.no_to is None else None
        # titled by what the case says to do ("Scale the workers"), not by the item's question
        # or look ("Approve: Look at the depth"); a label stays its title
        does = _consequent(text, g).strip().rstrip(" :*_")
        does = "" if _RUN_THIS.match(does) else does  # ("execute the following command")
        plain = el.text.replace("**", "").replace("__", "")
        then = [replace(n, title=does[:1].upper() + does[1:]) if does and
                isinstance(n, Action) and plain.startswith(n.title[:40]) and
                (n.title.endswith("?") or phrases.looks(n.title)) else n for n in introduced]
        case = IfNode(g, [*mine, *then], Span(start=el.span.start, end=span.end), el.index)
        if isinstance(otherwise, IfNode):
            case.else_, case.else_text = otherwise.then, otherwise.guard.text
        return case

    def _asked(self, el: Element) -> str | None:
        """The question of the item a list item sits under ("Are any pods crash-looping?"
        over "**Yes** → ..." and "**No** → ..."), if it asks one; or, for answers, of the
        paragraph just before their list ("**Decision point:** are there under-replicated
        partitions?" over "- **No** → skip to Phase 3." / "- **Yes** → continue with Phase
        2.": both jumps were lost, and the mitigation ran whatever the answer)."""
        up = self.els[el.parent] if el.parent is not None else None
        if up is not None and up.kind == "list_item" and \
                ((asked := phrases.lead_question(up.text)) is not None or el.ordered or
                 not phrases.answers(el.text)):
            return asked
        if el.ordered or not phrases.answers(el.text):
            return None
        run = self._bullet_run(el)
        at = next((k for k, item in enumerate(run or []) if item.index == el.index), 0)
        prior = [item for item in (run or [])[:at] if not phrases.answers(item.text)]
        if prior and (asked := phrases.whether_asked(prior[-1].text)) is not None:
            # "- check whether a new block was downloaded today" over "- if yes, roll back
            # ..." and "- if no, escalate ...": the bullet before the answers asks (they were
            # questions "if yes" and "if no" of nothing, the check ignored as prose)
            return asked
        first = run[0] if run else el
        before = self.els[first.index - 1] if first.index else None
        if before is None or before.kind != "paragraph" or before.parent != el.parent or \
                before.section != el.section:
            return None
        return phrases.lead_question(before.text)

    def _item_text(self, el: Element) -> str:
        parts = [el.text] + [self.els[c].text for c in self.children.get(el.index, [])
                             if self.els[c].kind == "paragraph"]
        return "\n".join(parts)[:2000]

    def _append(self, nodes: list[Node], node: IfNode) -> None:
        """Attach "Otherwise ..." to the open `if` before it; "Otherwise, if <expr> ..." is an
        else-if, and a later "Otherwise" attaches to the innermost open one."""
        if any(isinstance(n, Action) and not n.prose or isinstance(n, EndNode) and n.said
               for n in node.then):
            # (what the list under "Else:" says to do, its "Escalate to the storage team."
            # too, stands in for the person's step of the guard's own words)
            node.then = [n for n in node.then if not (isinstance(n, Action) and n.prose)]
        top = last = nodes[-1] if nodes else None
        if node.guard.words and (case_of := phrases.answer_case(node.guard.words)) is not None:
            # "- If no, and the primary is reachable, restart the replica" / "- If no, and the
            # primary is down, escalate": cases of the one answer, asked on its side (the
            # restart ran on any no, and the second no became a question of its own asked
            # after the restart, escalating whatever the primary's state)
            inner = IfNode(Guard(text=f"If {case_of[0]}"), node.then, node.span, node.pos,
                           cases=True)
            node.then = [inner]
            if node.guard.is_else and isinstance(top, IfNode) and top.else_ is not None and \
                    top.else_text == node.guard.text:
                case = top.else_[-1] if len(top.else_) == 1 else None
                while isinstance(case, IfNode) and case.cases and case.else_ is not None and \
                        len(case.else_) == 1:
                    case = case.else_[0]
                if isinstance(case, IfNode) and case.cases and case.else_ is None:
                    case.else_, case.else_text = [inner], f"Otherwise (not: {case.guard.text})"
                    return
        if node.guard.alternative and isinstance(top, IfNode) and top.guard.alternative and \
                not node.guard.is_else:
            # "### Option A: raise maxmemory" then "### Option B: evict the session keys"
            # (under "Pick one of the options below"): one is taken, then what follows them
            # all; B was asked after A had run, and C after both
            top.cases = True
            while top.else_ is not None and len(top.else_) == 1 and \
                    isinstance(top.else_[0], IfNode) and top.else_[0].guard.alternative:
                top = top.else_[0]
            if top.else_ is None:
                top.else_ = [node]
                top.else_text = f"Otherwise (not: {top.guard.text})"
                top.cases = node.cases = True
                return
            top = last = nodes[-1]
        if isinstance(top, IfNode) and node.guard.is_else:
            # Resume where the last walk down this chain ended: only its tail ever changes,
            # so a chain of n else-ifs costs n steps in all, not n squared.
            seen = self._open_else.get(id(top))
            last = seen[1] if seen is not None and seen[0] is top else top
            while isinstance(last, IfNode) and last.else_ is not None and len(last.else_) == 1 \
                    and isinstance(last.else_[0], IfNode):
                last = last.else_[0]
            self._open_else[id(top)] = (top, last)
        if not node.guard.is_else and (forbidden := self._forbidden_after(nodes, node)):
            # "sudo haproxy -c -f cfg" and "sudo systemctl reload haproxy" in one block, then
            # "If the check fails, do not reload; escalate to the network team.": the case is
            # the check's failure, asked before the reload it forbids (it was the reload's own
            # failure, asked after the reload had run, and a failed check ended the run with
            # no word of the escalation)
            nodes.insert(len(nodes) - forbidden, node)
            return
        if not (node.guard.is_else and isinstance(last, IfNode) and last.else_ is None):
            if node.guard.is_else and (asked := node.guard.no_to) is not None:
                # "- **No** → skip to Phase 3." answered first: nothing before it to be the
                # other side of, so it asks its own question the other way round
                node.guard = Guard(text=f"The answer is no: {asked}")
            nodes.append(node)
            return
        if phrases.explicit_expr(node.guard.text):  # "Otherwise, if (`expr`), ..."
            inner = IfNode(phrases.Guard(text=node.guard.text), node.then, node.span, node.pos,
                           else_=node.else_, else_text=node.else_text)
            last.else_ = [inner]
            last.else_text = f"Otherwise (not: {last.guard.text})"
        else:
            last.else_ = node.then
            last.else_text = node.guard.text
            if node.guard.no_to is not None and node.guard.words:
                # "- If no → Step 2" under "- If yes → Step 3": one decision, read from both
                # answers' lines and words
                last.guard = replace(last.guard, words=" ".join(
                    w for w in (last.guard.words, node.guard.words) if w))
                last.span = Span(start=min(last.span.start, node.span.start),
                                 end=max(last.span.end, node.span.end))

    @staticmethod
    def _forbidden_after(nodes: list[Node], node: IfNode) -> int:
        """How many of the last steps of `nodes` a failure case forbids ("If the check fails,
        do not reload"): the steps of the block before it from the first whose command holds
        the verb it forbids, when a step of the same block runs before them (the check). 0:
        none, the case is about the last step as written."""
        said = " ".join(n.text for n in node.then if isinstance(n, (EndNode, Action)))
        m = _DO_NOT.search(said)  # (first: the cheap test, asked of every case)
        if m is None or phrases.derive_condition(node.guard.text, "step")[0] != "failure":
            return 0
        verb = m.group(1).lower()
        k = len(nodes)
        while k > 0 and isinstance(last := nodes[k - 1], Action) and last.block is not None \
                and not last.prose and last.block == getattr(nodes[-1], "block", None):
            k -= 1
        block = nodes[k:]
        at = next((i for i, n in enumerate(block) if isinstance(n, Action) and
                   verb in n.text.lower().split()), None)
        return len(block) - at if at else 0

    def _escalates_case(self, prev: IfNode, el: Element) -> bool:
        """"If the provider is down:" (or "Otherwise:"), then "Escalate to #payments-oncall.":
        the escalation is that case's ending, in place of the person's step its guard alone
        made (it was the whole run's last word: that case went on to "is the issue resolved?"
        and the other case's steps). Not after a fallback ("If this does not help:")."""
        branch = prev.else_ if prev.else_ is not None else prev.then
        if not branch or prev.else_ is None and phrases.is_fallback(prev.guard.text):
            return False
        if not all(isinstance(n, Action) and n.kind == StepKind.MANUAL and
                   not n.params.get("script") and n.pos == el.index - 1 for n in branch):
            return False
        said = self.els[el.index - 1]
        if said.kind != "paragraph" or not said.text.rstrip(" *_").endswith(":"):
            return False
        branch[:] = [EndNode("escalate", _conclusion(el.text) or _short(el.text), el.text,
                             el.span)]
        return True

    # -- prose -------------------------------------------------------------------------

    _ending_item = False  # inside an item whose guarded branch ends the run itself

    def _prose(self, el: Element, cls: SectionClass, owner: int | None,
               nodes: list[Node]) -> tuple[Guard, list[Node], Element] | None:
        """A paragraph's nodes, appended to `nodes`; returns the guard it leaves open for the
        code blocks (and, after "If X:", the list) that follow it.

        Each If/When sentence guards itself and the sentences after it up to the next guard;
        an "Otherwise" sentence pairs with the If before it. In Diagnosis and Mitigation a
        guard whose words hold no command is a person's step under a decision, never dropped;
        "..., escalate" / "no action is needed" / "the issue is mitigated" end its branch."""
        if self._ending_item and phrases.outcome_of(el.text):
            return None  # "Then escalate: ..." closes its item's branch (an EndNode)
        if cls not in ("info", "cleanup") and phrases.rollback_title(el.text) and \
                el.index + 1 < len(self.els) and self.els[el.index + 1].kind == "code":
            # "**Rollback:**" over its block: for when a person decides to undo, then handed
            # over, as a "## Rollback" section is (the block ran right after the change)
            self._ends_after[el.index] = EndNode("escalate", "Rolled back", el.text, el.span)
            return (Guard(text="Rollback"), [], el)
        moving = [i for i, n in enumerate(nodes) if isinstance(n, Action) and n.mutating and
                  n.block is not None and n.block == el.index - 1]
        if moving and cls not in ("info", "cleanup") and phrases.stands_by(el.text):
            # "Watch the robot the whole time. Press the E-stop if it moves anywhere but
            # home." under the block that moves it: said to whoever approves the move, who
            # stands by it (it was context for a reader, after the approval)
            warned = " ".join(el.text.replace("**", "").split())[:300]
            for i in moving:
                step = nodes[i]
                assert isinstance(step, Action)
                nodes[i] = replace(step, caution=f"{step.caution} {warned}".strip())
            return None
        # ("Unless you see huge numbers, ignore these alerts. However, if the issue persists,
        # follow the steps below:": the list is for the last sentence's case, not the first's)
        groups = self._groups(el.text, el.span, self._asked_before(el),
                              fallback=el.text.rstrip(" *_").endswith(":"))
        if groups and (first_guard := groups[0][0]) is not None and \
                (expected := self._expected_before(el)) is not None:
            # "Expected: a backup `Completed` ..." then "If not: escalate ...", paragraphs
            # under a step's heading: the "If not" is about what was expected (it was a
            # question reading "If not" alone), as in a list's items
            groups[0] = (phrases.against_expectation(first_guard, expected), *groups[0][1:])
        own = owner if owner is not None else el.index
        found: list[Node] = []
        found.extend(self._inline(el, cls, own))  # every section's inline commands count
        found.extend(self._pasted(el, cls, own))
        found.extend(self._call(el, cls, own))
        back = phrases.rollback_paragraph(el.text) if cls not in ("info", "cleanup") and \
            _has_action(found) else None
        if back is not None:
            # "Rollback: if the reboot fails again, put the instance back in error with `nova
            # reset-state x`, and escalate.": for when a person decides to undo, then handed
            # over, as a "## Rollback" section is (the command was only the words of the
            # run's last escalation, and never a step)
            nodes.append(IfNode(Guard(text=back), [*found, EndNode(
                "escalate", f"Rolled back ({_short(back)})", el.text, el.span)],
                el.span, el.index))
            return None
        if not any(g is not None for g, _, _ in groups):
            prev = nodes[-1] if nodes else None
            if isinstance(prev, IfNode) and not prev.guard.is_else and prev.else_ is None and \
                    not prev.guard.alternative and \
                    not prev.synthetic and self.els[prev.pos].kind == "paragraph" and \
                    self._introduces(self.els[prev.pos]) and \
                    owner in (self.owner.get(prev.pos), self._placed_in(prev.pos)) \
                    and not phrases.is_escalation(el.text) and not phrases.opens_a_step(el.text) \
                    and not phrases.after_options(el.text):
                # "For the case that X:" guards the paragraphs and blocks after it too, up to
                # the next numbered step ("Step 3) Restart pgbouncer:" is for every case) or
                # what is for every case ("In both cases, ...")
                nodes.pop()
                prev.then.extend(found)
                prev.then.extend(self._jumps(el, prev.guard))
                return (prev.guard, prev.then, self.els[prev.pos])
            if isinstance(prev, IfNode) and not prev.synthetic and cls not in ("info", "cleanup") \
                    and phrases.is_escalation(el.text) and self._escalates_case(prev, el):
                return None
            if self._case_end is not None and cls not in ("info", "cleanup") and \
                    phrases.is_escalation(el.text):
                # "Action: Find the stuck offset, then escalate to the orders team": this
                # case's ending, after its steps (it was the whole run's, its commands lost)
                nodes.extend(found)
                self._case_end.append(EndNode("escalate", _conclusion(el.text) or
                                              _short(el.text), el.text, el.span))
                return None
            if self.escalation is None and cls not in ("info", "cleanup") and \
                    phrases.is_escalation(el.text):
                self.escalation = (el.text, el.span)
                if not el.text.rstrip(" *_").endswith(":") and \
                        not phrases.numbered_step(el.text):
                    # "Escalate to the network team with the trace." after Step 3, before
                    # the Step 4 a case jumps to: that path ends here (it ran on into Step 4).
                    # ("Step 5 — Hand the node over ... open a ticket:" is a step's title)
                    nodes.append(EndNode("escalate", _conclusion(el.text) or _short(el.text),
                                         el.text, el.span, said="jumped", pos=el.index))
                if _has_action(found):
                    # "..., put the instance back in error with `nova reset-state x`, and
                    # escalate to the compute team.": the run's last word, whose command was
                    # lost in it; a person's step holds it (its sentence says when), never run
                    shown = [c for c in el.inline_code if inline_command(c)]
                    nodes.append(self._manual(own, cls, el.text, el.text, el.span, el.index,
                                              script="\n".join(shown) or None))
                return None
            told = self._told_case(el.text, el, cls) if not found and not el.links else None
            if told is not None:
                nodes.append(told)
                return None
            jumps = self._jumps(el, None)
            if not found and cls not in ("info", "cleanup") and any(
                    isinstance(j, JumpNode) and phrases.action_before_jump(j.ref.sentence)
                    for j in jumps):
                # "Re-seat the part by hand, then continue with Step 3": a person's step, then
                # the jump (the instruction was only the words of a question)
                found.append(self._manual(own, cls, el.text, el.text, el.span, el.index))
            if not found and not jumps and cls not in ("info", "cleanup") and \
                    (phrases.repeats_or_waits(el.text) or phrases.is_checkpoint(el.text) or
                     phrases.runs_again(el.text) and not self._titles_what_follows(el) or
                     phrases.numbered_step(el.text) and not self._titles_what_follows(el) or
                     self._acts_alone(el)):
                # "Repeat steps 1-2 until all pods are Ready.", "Wait 5 minutes.", "Step 1:
                # Press the e-stop.", "ii. Clear the jam by hand.": a person's step in the
                # procedure (it was context for a reader, the loop, wait or step lost)
                found.append(self._manual(own, cls, el.text, el.text, el.span, el.index))
            if not found and not jumps and cls not in ("info", "cleanup"):
                found.extend(self._said_ending(el, cls, own))
            nodes.extend(found)
            nodes.extend(jumps)
            return None
        links = [(lk.text, lk.href) for lk in el.links]
        # What no one sentence says (the manual step holding the paragraph's mentioned
        # commands) is kept as it is, before the paragraph's branches.
        # (a command's own check, "Verify the cycle resumes: `x` shows `RUNNING`", stays
        # right after it, wherever its sentence puts the command)
        units = _units(found)
        unsaid = [u for u in units if not any(_said_in(u[0], t) for _, t, _ in groups)]
        nodes.extend(n for u in unsaid for n in u)
        units = [u for u in units if not any(u is x for x in unsaid)]
        open_: tuple[Guard, list[Node], Element] | None = None
        at = len(nodes)
        for k, (guard, text, span) in enumerate(groups):
            said = [u for u in units if _said_in(u[0], text)]
            units = [u for u in units if not any(u is m for m in said)]  # each said once
            mine = [n for u in said for n in u]
            if guard is None:
                told = self._told_case(text, el, cls) if not mine and not links else None
                if told is not None:
                    nodes.append(told)
                    continue
                if not mine and cls not in ("info", "cleanup") and \
                        (phrases.repeats_or_waits(text) or phrases.acts_alone(text) or
                         phrases.runs_again(text) and not self._titles_what_follows(el)):
                    # "Wait two minutes and run the query from step 1 again. Should the count
                    # still climb, escalate.": the wait before the question, a person's step
                    # (it was dropped, and the question asked at once); so is "On the SP2
                    # pendant, open the fault log. If it shows ..., STOP: ..."
                    nodes.append(self._manual(own, cls, text, text, span, el.index))
                    continue
                nodes.extend(mine)
                nodes.extend(self._jumps_in(text, links, el, None))
                continue
            if phrases.is_fallback(guard.text) and phrases.outcome_of(text) == "escalate" and \
                    self.escalation is None and cls not in ("info", "cleanup") and \
                    phrases.explicit_expr(guard.text) is None and not mine:
                self.escalation = (text, span)  # the guide's last word: the run's ending
                continue
            if not mine and _goes_on(_consequent(text, guard)) and nodes and \
                    isinstance(nodes[-1], IfNode) and nodes[-1].else_ is None:
                nodes[-1].else_text = text  # "If not, continue with the steps below."
                continue
            then = self._guarded(guard, text, span, el, cls, own, mine, links)
            other = groups[k + 1][0] if k + 1 < len(groups) else None
            if not then and not guard.is_else and other is not None and other.is_else and \
                    cls not in ("info", "cleanup"):
                # "If the state is `Started`, the 503 comes from somewhere else. Otherwise look
                # at why it stopped:": the case its "Otherwise" is the other side of (it was
                # dropped, and "Otherwise look at why it stopped" asked as a case of its own)
                finding = _consequent(text, guard)
                then = [self._said(cls, f"Record the finding that {finding}" if finding else
                                   text, text, span, el.index)]
            last = k == len(groups) - 1
            if then and _fold_into_check(nodes, guard, then):
                continue
            if last and not any(isinstance(n, (EndNode, JumpNode)) for n in then):
                open_ = (guard, then, el)
            elif then:
                self._append(nodes, IfNode(guard, then, span, el.index))
        # What no one sentence holds (a command wrapped over a line break, the step that shows
        # the paragraph's commands) comes before its guards: never dropped.
        nodes[at:at] = [n for u in units if isinstance(u[0], Action) for n in u]
        return open_

    def _guard_above(self, guard: Guard, el: Element, nodes: list[Node]) -> bool:
        """"Run the command above only if the archive has already been shipped to S3." under
        a block: the condition guards the block's steps, the last of `nodes` (they ran
        whatever the archive's state, the sentence context for a reader)."""
        k = len(nodes)
        while k and isinstance(nodes[k - 1], Action) and nodes[k - 1].pos == el.index - 1:
            k -= 1
        if k == len(nodes) or self.els[el.index - 1].kind != "code":
            return False
        then = nodes[k:]
        del nodes[k:]
        self._append(nodes, IfNode(guard, then, el.span, el.index))
        return True

    @staticmethod
    def _rollback_line(el: Element) -> tuple[Element, Element] | None:
        """A paragraph whose later line is labelled as the way back ("**Expected result:**
        `OK`", "**Verify:** `x`", then "**Rollback:** `y`", a line each): the lines before it,
        and the way back from its line on, each a paragraph of its own."""
        k = next((i for i, (_, line) in enumerate(el.source_lines)
                  if i and phrases.rollback_paragraph(line) is not None), None)
        if k is None:
            return None
        label = el.source_lines[k][1].replace("**", "").replace("__", "").strip(" \t>*_-")
        at = el.text.find(label.split(":", 1)[0] + ":", 1)
        if at <= 0:
            return None
        before, back = el.text[:at].rstrip(), el.text[at:]
        line = el.source_lines[k][0]
        return (el.model_copy(update={
                    "text": before, "source_lines": el.source_lines[:k],
                    "inline_code": [c for c in el.inline_code if f"`{c}`" in before],
                    "span": Span(start=el.span.start, end=max(el.span.start, line - 1))}),
                el.model_copy(update={
                    "text": back, "source_lines": el.source_lines[k:],
                    "inline_code": [c for c in el.inline_code if f"`{c}`" in back],
                    "span": Span(start=line, end=el.span.end)}))

    def _told_case(self, text: str, el: Element, cls: SectionClass) -> IfNode | None:
        """A sentence of prose that names a case of the output and what to do in it: "No rows
        → nothing is stuck; close the alert." (how the run ends then), "`data: True` on the
        bumper means it is still pressed: free it by hand before anything else." (a person's
        step under the case). Either was context for a reader: the run went on as if the
        case could not happen. What follows names no command (a command would be a step of
        its own) and is no jump."""
        if cls in ("info", "cleanup"):
            return None
        case = phrases.case_of(text, code=True)
        said = text.split(case, 1)[-1].lstrip(" \u2192\u21d2->=") if case else ""
        means = phrases.means_case(text) if case is None else None
        if means is not None:
            case, said = means
        normal = phrases.normal_case(text) if case is None else None
        if normal is not None:
            # "Lag under 60 s on every shard is normal, stop here.": the run ends there in
            # that case (it was context for a reader, and the reindex was offered anyway)
            case, said = normal
        if case is None or "`" in said or phrases.jumps_in(said, []):
            return None
        ending = phrases.outcome_of(said)
        if ending is None and normal is not None and phrases.stops_here(said) and \
                not phrases.before_stopping(said):
            ending = "no_action" if cls in ("diag", "info") else "resolved"
        if ending is not None:
            then: list[Node] = [EndNode(ending, _conclusion(said) or _short(said), text,
                                        el.span)]
        elif means is not None and phrases.is_instruction(said) and not phrases.is_finding(said):
            then = [self._said(cls, said, text, el.span, el.index)]
        else:
            return None
        return IfNode(Guard(text=case), then, el.span, el.index)

    def _guarded(self, guard: Guard, text: str, span: Span, el: Element, cls: SectionClass,
                 owner: int, mine: list[Node], links: list[tuple[str, str]]) -> list[Node]:
        """What one guard of a paragraph or item does: its commands and jumps, else its
        ending, else (in an action section) a person's step with its words."""
        then: list[Node] = list(mine)
        then.extend(self._jumps_in(text, links, el, guard))
        rest = _consequent(text, guard)
        if not mine and then and cls not in ("info", "cleanup") and \
                all(isinstance(n, JumpNode) for n in then) and \
                (first := phrases.said_before_jump(rest) or phrases.said_after_jump(rest)):
            # "If bit 0 is set, the e-stop chain is open: find the pressed e-stop and pull it
            # out. Then continue with step 2.": a person's step, then the jump (only the jump
            # was kept: the branch skipped what the case needs done)
            then.insert(0, self._said(cls, first, text, span, el.index))
        first, *after = _THEN_NEXT.split(rest, 1)
        if after and any(isinstance(n, Action) for n in mine) and \
                cls not in ("info", "cleanup") and not self._ending_item and \
                "`" in after[0] and not any(inline_command(c) for c in _CODE.findall(first)) \
                and phrases.is_instruction(first) and not phrases.jumps_in(first, []):
            # "If the cluster fails to create, try again with the `--retain` option, then run
            # `kind export logs`": the retry is a person's, before the command (only the
            # command was kept: the retry was nowhere in the plan)
            then.insert(0, self._manual(owner, cls, first.strip(" ,;"), text, span, el.index))
        lead_in = rest.rstrip(" *_")
        if not then and not guard.is_else and lead_in.endswith(":") and \
                cls not in ("info", "cleanup") and phrases.stops_here(lead_in[:-1]):
            # "If the check says OK now, acknowledge the alert and you're done:" over the
            # block: the block is the case's, then the run ends (it went on to the cleanup)
            self._ends_after[el.index] = EndNode(
                "no_action" if cls == "diag" else "resolved", _short(text), text, span)
            return then
        block = self.els[el.index + 1] if el.index + 1 < len(self.els) else None
        if not then and not guard.is_else and lead_in.endswith(":") and \
                cls not in ("info", "cleanup") and block is not None and \
                block.kind in ("code", "list_item") and block.parent == el.parent and \
                (ending := guard.ends or phrases.outcome_of(lead_in[:-1])) is not None:
            # "If the vehicle does not move within 2 minutes, set it out of service and inform
            # the shift supervisor:" over the block that takes it out: the block is the case's,
            # then the run ends so (it ended at once, and the block ran in the other case)
            self._ends_after[el.index] = EndNode(ending, _conclusion(lead_in[:-1]) or
                                                 _short(text), text, span)
            return then
        if not any(isinstance(n, JumpNode) for n in then):
            ending = guard.ends or phrases.outcome_of(rest)
            if ending is None and phrases.goes_no_further(rest):
                ending = "escalate"  # "If two members are down, do not continue. Restore ..."
            if ending is None and phrases.stops_here(rest):
                # "If the queue is short, stop here.": nothing to fix while diagnosing, done
                # after a fix; the steps after it are not for this case
                ending = "no_action" if cls in ("diag", "info") else "resolved"
                first = phrases.before_stopping(rest)
                if first and phrases.hands_over(first):
                    # "If the queue is empty, go to the [provider runbook](p.md) and stop
                    # here", "Inform IT-Service and terminate the procedure here": handed
                    # over, not resolved (it ended the run "resolved")
                    ending = "escalate"
                elif not then and cls not in ("info", "cleanup") and first and \
                        phrases.is_instruction(first) and not phrases.only_why(first):
                    # "When the battery is under 20 %, send the AGV to charge instead and stop
                    # here.": a person's step, then the end (the charging was dropped)
                    then.append(self._said(cls, first, text, span, el.index))
                    ending = "resolved"
            if ending is not None:
                if not then and cls not in ("info", "cleanup") and not self._ending_item:
                    then.extend(self._done_before_ending(rest, cls, text, span, el))
                then.append(EndNode(ending, _conclusion(rest) or _short(text), text, span))
                return then
        # A guard with nothing after it is a label over the steps below it ("**Only if the
        # lag keeps growing**", an admonition so titled): "Only" is the author's stress, not
        # the subject of a description ("Only the primary has ...")
        said = rest or re.sub(r"^\W*only\s+(?=(?:if|when)\b)", "", text, flags=re.I)
        acts = not then and cls not in ("info", "cleanup") and not self._ending_item
        instruction = acts and phrases.is_instruction(said)
        if acts and rest and not instruction:
            # "If the end date is in the past, the rotation did not land. Re-issue it.": the
            # finding, then in a sentence of its own what to do about it (the condition was
            # left with nothing to guard, and the re-issue ran whatever the date)
            found = next((rest[a:b].strip() for a, b in phrases.sentence_offsets(rest)[1:]
                          if _says_to_do(rest[a:b])), None)
            if found is not None:
                said = rest = found
                instruction = phrases.is_instruction(said)
        if instruction and el.kind == "paragraph" and \
                (ahead := self._section_named(el, said)) is not None:
            # "If the end date is in the past, re-issue it." right above "## Re-issue": the
            # section is what the case says to do (a person's step "re-issue it", then the run
            # went on into the section whatever the date)
            return [JumpNode(JumpRef("anchor", ahead.anchor or slugify(ahead.text), said),
                             span, el.index)]
        if instruction:
            # (titled by the whole sentence when the guard took all its words: "If no server
            # says `leader` the ensemble has no quorum." left a full stop, a step with no title)
            title = rest if re.search(r"\w", rest) else text
            if phrases.is_finding(title) and not phrases.is_instruction_only(title):
                # "..., the motor is blocked: put the tugger on the stands": titled by what to
                # do (it was "Record the finding that the motor is blocked")
                title = phrases.finding_then(title) or f"Record the finding that {title}"
            then.append(self._said(cls, title, text, span, el.index))
        return then

    def _done_before_ending(self, rest: str, cls: SectionClass, text: str, span: Span,
                            el: Element) -> list[Node]:
        """What a case says to do in the sentences before the one that ends the run ("If the
        part finishes cleanly, switch Single Block off. The cell is back in production."): a
        person's step before the end (the end kept only its last sentence, the switch lost)."""
        before = phrases.done_before_ending(rest)
        return [self._said(cls, before, text, span, el.index)] if before else []

    def _section_named(self, el: Element, said: str) -> Element | None:
        """The heading right after paragraph `el` when `said` names it: its verb the title's
        first word, its other words the title's or only "it", "them", "the" ("re-issue it" over
        "## Re-issue", "restart the controller" over "## 5. Restart the controller")."""
        after = self.els[el.index + 1] if el.index + 1 < len(self.els) else None
        if after is None or after.kind != "heading" or after.level < 2:
            return None
        words = _TITLE_WORD.findall(said.lower().replace("`", ""))
        title = _TITLE_WORD.findall(_NUMBERED_TITLE.sub("", after.text).lower())
        if not words or not title or words[0] != title[0]:
            return None
        return after if set(words[1:]) - _FILLER <= set(title) else None

    def _acts_alone(self, el: Element) -> bool:
        """A section's paragraph that tells a person what to do, in a section with steps of its
        own ("**LOTO required.** Lock out the conveyor's isolator Q7 before you reach into the
        belt." over the jam's numbered steps; "On the programming pendant, select {ALARM
        HISTORY} and note the alarm code."), or what to confirm first ("Before moving the robot
        by hand, make sure the gripper holds no part."): their step, in its place (it was
        context for a reader, the lock-out lost). Not the words over a block, which name its
        step."""
        after = self.els[el.index + 1] if el.index + 1 < len(self.els) else None
        return (el.parent is None or self.els[el.parent].kind == "heading") and \
            not (after is not None and after.kind == "code" and after.parent == el.parent) and \
            (phrases.acts_alone(el.text) or phrases.checks_before(el.text))

    def _said(self, cls: SectionClass, title: str, text: str, span: Span, pos: int) -> Action:
        """A person's step holding a guard's words. Its id does not count as a numbered step
        (it gives way to the commands the guard introduces, if any follow)."""
        base = f"{_PREFIX.get(cls, 'step')}-then-{_slug(title) or 'act'}"
        sid, n = base, 1
        while sid in self.ids:
            n += 1
            sid = f"{base}-{n}"
        self.ids.add(sid)
        return Action(sid, StepKind.MANUAL, _short(title), text, span, pos, cls, prose=True)

    def _groups(self, text: str, span: Span, question: str | None = None, *,
                fallback: bool = False) -> list[tuple[Guard | None, str, Span]]:
        """`text` cut at each sentence that opens a guard: (guard or None, words, lines).
        `question`: the one the paragraph before asked, which this one's answers answer;
        `fallback`: a sentence after the first that escalates when the rest failed ("If it
        still fails, escalate") is a guard too."""
        if not phrases.may_guard(text) and "?" not in text and question is None:
            return [(None, text, span)]  # most prose has no guard word: no sentences to cut
        out: list[tuple[Guard | None, str, Span]] = []
        exact = text.count("\n") >= span.end - span.start  # else the lines were joined
        lines = span.end - span.start
        # "Is X? **Yes** → ...": the answers' condition
        offsets = _both_answers(text, phrases.sentence_offsets(text))
        sentences = [text[a:b] for a, b in offsets]
        # whether an answer ("Yes: ...") comes after each sentence, read once from the end
        answered = [False] * (len(sentences) + 1)
        for k in range(len(sentences) - 1, -1, -1) if "?" in text else ():
            answered[k] = answered[k + 1] or phrases.answers(sentences[k].strip())
        for k, (a, b) in enumerate(offsets):
            sentence = sentences[k]
            guard = phrases.answer_guard(sentence, question) or \
                phrases.guard_in(sentence, fallback=fallback and bool(out)) or \
                (phrases.labelled_condition(sentence, sentences[k + 1])
                 if k + 1 < len(sentences) else None)
            if guard is None and k + 1 < len(sentences) and question is None and \
                    (asked := phrases.asked_before_doing(
                        sentence, sentences[k + 1], answered_later=answered[k + 1])) is not None:
                # "Kernel panic or `Out of memory` in the output? Reboot it:": the question
                # is the condition of what it says to do (the reboot ran whatever the output)
                guard = Guard(text=asked)
            # the question stays asked over the check that answers it ("Is X? Check it:
            # `x`. Yes: ...")
            question = (phrases.question_of(sentence) or question) if guard is None \
                else question
            if exact:
                first = span.start + text.count("\n", 0, a)
                last = min(span.end, span.start + text.count("\n", 0, b))
            else:  # where the sentence sits, by its share of the text (one line either way)
                first = max(span.start, span.start + lines * a // max(len(text), 1) - 1)
                last = min(span.end, span.start + -(-lines * b // max(len(text), 1)) + 1)
            if guard is not None or not out:
                out.append((guard, sentence, Span(start=first, end=max(first, last))))
            else:
                g, words, where = out[-1]
                out[-1] = (g, f"{words} {sentence}", Span(start=where.start,
                                                          end=max(where.start, last)))
        return out

    def _asked_before(self, el: Element) -> str | None:
        """The question a paragraph's answers answer when it opens with one ("**Yes** → ...")
        under a paragraph that asks it ("Is one backend responsible?"), past the answers'
        other paragraphs ("\u2705 Yes → ..." over "\u274c No → ..."): the answers were read
        without it, a Yes branch's command lost or run whatever the answer."""
        if el.kind != "paragraph" or not phrases.answers(el.text):
            return None
        k = el.index - 1
        while k >= 0 and self.els[k].kind == "paragraph" and \
                self.owner.get(k) == self.owner.get(el.index):
            asked = phrases.question_of(self.els[k].text)
            if asked is not None:
                return asked
            if not phrases.answers(self.els[k].text):
                return None
            k -= 1
        return None

    def _under_escalation(self, el: Element) -> bool:
        """Whether `el` sits under an "Escalation" heading: a section that only describes,
        except that its "Transfer the ICM to X if none of the mitigations help" is the guide's
        own ending when nothing worked (it was left as context for a reader)."""
        return el.section is not None and \
            re.match(r"^\W*escalat", self.els[el.section].text, re.I) is not None

    def _lone_condition(self, quote: int) -> Element | None:
        """The paragraph of a quote that holds nothing but a condition, said of what follows
        ("> **Only if** the burn is above 10x.")."""
        inner = self.children.get(quote, [])
        if len(inner) != 1 or self.els[inner[0]].kind != "paragraph":
            return None
        para = self.els[inner[0]]
        return para if phrases.guard_of(para.text) is not None and self._introduces(para) \
            else None

    def _titled_case(self, quote: int) -> Element | None:
        """An admonition titled by a condition whose words say not to go on (`!!! danger "If
        two members are down"` over "Do not continue. Restore from the snapshot instead"), as
        one sentence: the condition, then its words (the title was a person's step "Record
        the finding that ...", the words a note, and the run went on into the steps after)."""
        inner = self.children.get(quote, [])
        if len(inner) < 2 or any(self.els[i].kind != "paragraph" for i in inner):
            return None
        title, rest = self.els[inner[0]], [self.els[i] for i in inner[1:]]
        guard = phrases.guard_of(title.text)
        body = " ".join(p.text for p in rest)
        if guard is None or guard.is_else or _consequent(title.text, guard).strip(" .:*_") or \
                not (phrases.goes_no_further(body) or phrases.is_instruction(
                    phrases._sentences(body)[0] if phrases._sentences(body) else body)):
            return None
        said = f"{title.text.rstrip(' .:*_')}, {body[0].lower()}{body[1:]}"
        return title.model_copy(update={
            "text": said, "span": Span(start=rest[0].span.start, end=rest[-1].span.end),
            "links": [lk for p in (title, *rest) for lk in p.links],
            "inline_code": [c for p in (title, *rest) for c in p.inline_code]})

    def _placed_in(self, pos: int) -> int | None:
        """What an element sits in, a quote's words in what holds the quote."""
        up = self.owner.get(pos)
        return self.owner.get(up) if up is not None and self.els[up].kind == "quote" else up

    @staticmethod
    def _introduces(el: Element) -> bool:
        """A paragraph or item that ends with ':' introduces what follows it; so does one that
        is nothing but a condition, a label over the steps under it ("**When the unit is
        masked**", an admonition titled "If the pod is Pending"), or a sentence that is
        nothing but one ("> ⚠️ Only if the error budget burn is above 10x.": it said no more,
        so it is said of what follows; it was a person's "then act" step, and the fallback
        after it was switched on whatever the burn)."""
        text = el.text.rstrip(" *_")
        if text.endswith(":") or _EXAMPLE_FOLLOWS.search(text):
            return True  # ("..., it prints the file and line, e.g.": what it shows follows)
        if el.kind != "paragraph" or text.endswith(("!", "?")):
            return False
        guard = phrases.guard_of(el.text)
        return guard is not None and not guard.is_else and \
            not _consequent(el.text, guard).strip(" .")

    def _jumps(self, el: Element, guard: Guard | None) -> list[Node]:
        out: list[Node] = []
        links = [(lk.text, lk.href) for lk in el.links]
        refs = phrases.jumps_in(el.text, links, see=guard is not None)
        if not refs:
            return out
        sentences = phrases._sentences(el.text)
        for ref in refs:
            if not self._lands(ref, el):
                continue  # "skip to mitigation" in prose, with no such heading: not a jump
            if guard is not None:
                node: Node = JumpNode(ref, el.span, el.index)  # the caller wraps it in the guard
                out.append(node)
                continue
            text = ref.sentence
            i = sentences.index(ref.sentence) if ref.sentence in sentences else -1
            before = next((g for s in reversed(sentences[:max(i, 0)])
                           if (g := phrases.guard_in(s)) is not None), None)
            # "Every partition → ... Go to X": an option after a question; its case decides
            case = phrases.case_of(el.text) if before is None and \
                phrases.guard_in(ref.sentence) is None else None
            if case is not None and ref.sentence.startswith(case):
                case = None
            if before is None and case is None and phrases.is_unconditional_jump(ref.sentence):
                out.append(JumpNode(ref, el.span, el.index, unconditional=True))
                continue
            if before is not None and phrases.guard_in(ref.sentence) is None:
                text = f"{before.text}: {text}"
            elif case is not None:
                text = case
            out.append(IfNode(Guard(text=text), [JumpNode(ref, el.span, el.index)], el.span,
                              el.index))
        return out

    def _jumps_in(self, text: str, links: list[tuple[str, str]], el: Element,
                  guard: Guard | None) -> list[Node]:
        """Jumps said in `text` (part of `el`): under a guard, bare jumps its branch takes;
        unguarded, "Proceed to Step 5." is an edge, and any other a judged question."""
        out: list[Node] = []
        for ref in phrases.jumps_in(text, links, see=guard is not None):
            if not self._lands(ref, el):
                continue
            if guard is not None:
                out.append(JumpNode(ref, el.span, el.index))
            elif phrases.is_unconditional_jump(ref.sentence):
                out.append(JumpNode(ref, el.span, el.index, unconditional=True))
            else:
                out.append(IfNode(Guard(text=ref.sentence), [JumpNode(ref, el.span, el.index)],
                                  el.span, el.index))
        return out

    def _lands(self, ref: phrases.JumpRef, el: Element) -> bool:
        """Whether a jump said in prose names a place in this guide: "go to Recovery" jumps
        only to a later heading titled so, one with steps ("Go to Elastic Cloud web UI and
        log in" above "## Elastic Cloud Web UI" is a place on the web)."""
        if ref.kind == "heading" and ref.see:  # "(step 3)": a later heading numbered so
            keys = (ref.value.lower(), f"{ref.value[:-1]})")
            return any(h.index > el.index and h.text.lower().startswith(keys)
                       for h in self.g.headings())
        if ref.kind == "heading":
            return self._heading_starts(ref.value)
        if ref.kind == "title":
            heading = phrases.titled_heading(ref.value, ((phrases.title_key(h.text), h)
                                                         for h in titled_places(self.g)
                                                         if h.index > el.index))
            return heading is not None and phrases.section_class(heading.text) != "info"
        return True

    def _heading_starts(self, words: str) -> bool:
        key = words.lower()
        if key not in self._heading_words:  # once per phrase, not once per jump
            if re.fullmatch(r"\d{1,3}\.", key):
                # "section 4" is the heading numbered "4.", "4)", "4 -" or "4 ·"
                at = phrases.numbered_title(int(key[:-1]))
                self._heading_words[key] = any(at.match(h.text) for h in self.g.headings())
            else:
                # "go to B" is the heading lettered "B." or "B)"
                keys = (key, f"{key[:-1]})") if re.fullmatch(r"[a-z]\.", key) else (key,)
                self._heading_words[key] = any(h.text.lower().startswith(keys)
                                               for h in self.g.headings())
        return self._heading_words[key]

    def _inline(self, el: Element, cls: SectionClass, owner: int) -> list[Node]:
        """Every inline command of a paragraph, item or table becomes part of a step.

        It runs when the sentence asks for it ("Run `kubectl get pods`") and it is one command
        on its own (not one of "`a` or `b`", nor the start of a longer span of the same text:
        "prepend `podman unshare`, i.e. `podman unshare ls`"); in a describing section only a
        read-only one
        runs. Any other (a command the text mentions, shows or offers) is kept in one manual
        step that holds the text: a person reads it, and nothing the guide wrote is lost."""
        nodes: list[Node] = []
        shown: list[str] = []
        told: set[str] = set()  # the sentences whose person's part is a step already
        at = 0
        nxt = self.els[el.index + 1] if el.index + 1 < len(self.els) else None
        block = nxt.text if nxt is not None and nxt.kind == "code" else ""
        listed = set(el.command_cells) if el.kind == "table" else set()
        # "`nginx -t` should exit 0.": its status is the check (a program's words, whatever
        # the tool: the table judges it)
        succeeds = phrases.states_success(el.text) if el.kind != "table" and el.inline_code \
            else None
        commands = [c for c in el.inline_code
                    if c in listed or inline_command(c) or _run_word(c, el.text, block) or
                    c == succeeds and _ARGV_WORDS.match(c) is not None or
                    powershell.windows_command(c) or blocks.device_command(c) or
                    self._item_is_code(c, el)]
        if not commands:
            return nodes
        lead = self._lead(el)
        sentence = _sentences_of(el.text)
        choices = _alternatives(el.text)
        fragments = _fragments(commands)
        intro = self._intro(el)
        expects = phrases.expected_output(el.text) if el.kind != "table" else None
        stated = phrases.states_output(el.text) if el.kind != "table" and expects is None \
            else None
        expects = expects or stated
        # "start it with `sudo systemctl start named` and re-check with `rndc status`": a
        # program the compiler does not know, which the sentence asks to run beside one it
        # runs, is a person's (it was dropped: the sentence had its step)
        unknown = {c for c in el.inline_code if c not in commands and el.kind != "table" and
                   _ARGV_WORDS.match(c) is not None and not _prose_words(c) and
                   not _ENGLISH.intersection(c.lower().split()) and
                   any(f"`{k}`" in sentence.get(c, ("", ""))[0] for k in commands) and
                   not re.search(rf"\b(?:the|a|an|this|that|its|your|our)\s+`{re.escape(c)}`",
                                 el.text, re.I) and
                   phrases.asks_to_run(sentence.get(c, (el.text, ""))[0], c)}
        for code in (c for c in el.inline_code if c in commands or c in unknown):
            line = _PROMPT_MARK.sub("", code).strip()
            new: list[Node] = []
            if code in unknown:
                if not shown:
                    at = len(nodes)
                shown.append(line)
                continue
            spaced = code if code in sentence else " ".join(code.split())  # text's spacing
            said, after = sentence.get(spaced, (el.text, ""))
            verify = expects is not None and expects[0] == code
            checked = succeeds is not None and succeeds in (code, spaced)
            # A table runs what its "Command" column lists; any other cell is only shown
            asked = code in listed if el.kind == "table" else \
                verify or checked or phrases.asks_to_run(said, spaced, after or intro)
            # "For example: `ssh host`" (its element's last command) only shows the opener, but
            # the items after it are typed into that session: it opens it (a person's step) so
            # they run there, not here
            asked = asked or code == commands[-1] and cls not in ("info", "cleanup") and \
                opens_session(line)
            if asked and self.sessions.open is None and not opens_session(line) and \
                    not workstation_tool(line) and (phrases.runs_elsewhere(said, spaced) or
                                                    el.kind == "list_item" and
                                                    phrases.runs_elsewhere(intro)):
                # "On all nodes, `x`": typed on another machine, a person's there; and so are
                # the sub-steps of "a. On the OSD's host:" ("i. `systemctl stop ceph-osd@17`")
                asked = False
            if asked and self.sessions.away is not None and phrases.runs_here(el.text):
                self.sessions.here()  # "From your laptop, run `curl localhost:8080`"
            if asked and not _prose_words(line) and code not in fragments and \
                    code not in choices and not powershell.windows_command(line) and \
                    not blocks.device_command(line):
                new = self._commands([blocks.CommandLine(line, lead.start, lead.end)],
                                     el, cls, owner, block=None)
                if (cls == "info" or el.kind == "table" or stated is not None or checked) and \
                        any(isinstance(n, Action) and n.mutating for n in new):
                    # a table lists checks, and "`x` prints `y`" or "`x` succeeds" states one:
                    # a command that changes anything is only shown
                    new = []
                if verify and expects is not None and new and \
                        all(isinstance(n, Action) and not n.mutating for n in new):
                    new.append(self._expectation(code, expects[1], el))
                if el.kind == "table" and (named := _row_title(el, code)) is not None:
                    new = _retitled(new, named)
                if new and el.kind != "table" and cls not in ("info", "cleanup") and \
                        said not in told and (first := phrases.done_before_command(said, code)):
                    # "Lock out the conveyor, clear the box by hand, then restart it with
                    # `x`": the hands' part is a person's step before the command (it was
                    # dropped, and the restart's approval was all anyone saw)
                    told.add(said)
                    new.insert(0, self._manual(owner, cls, first, said, lead, el.index))
            if not any(isinstance(n, Action) for n in new) and not self._in_session(lead, line):
                if el.kind != "table" and (g := phrases.guard_of(said)) is not None and \
                        _CONDITION_SUBJECT.match(g.text.replace(f"`{code}`", "`\0`")) and \
                        bash_verdict(line).effect == "read":
                    # "If `ceph health` shows `HEALTH_WARN`, stop here and page storage": the
                    # command is what the condition reads, the judge's to read in its words
                    # (it was a person's step of its own, before the case's ending); one that
                    # changes anything ("If `kill -TTIN` fails, ...") stays in a person's sight
                    continue
                if not shown:
                    at = len(nodes)
                shown.append(line)
                continue
            nodes.extend(new)
        if shown:  # no script: the text says what to do with them ("kill `x` processes")
            nodes.insert(at, self._manual(owner, cls, self._title(owner, el), el.text, lead,
                                          el.index))
        if cls not in ("info", "cleanup") and el.kind != "table" and \
                sum(isinstance(n, Action) for n in nodes) >= 2:
            # "Resize the pool: `x`. Wait for the new nodes to be Ready. Then restart the API:
            # `y`": the wait between two of its commands is a person's step there (it was
            # dropped, and the restart ran right after the resize)
            # (a sentence of its own, or a line: "`x`" over "Wait ...", "`x`<br>Wait ...")
            lines = [part for _, line in el.source_lines for part in re.split(
                r"<br\s*/?>", line, flags=re.I)]
            pieces = {text[a:b].strip() for text in [el.text, *lines]
                      for a, b in phrases.sentence_offsets(text)}
            for said in sorted(pieces, key=el.text.find, reverse=True):
                a = el.text.find(said)
                if a < 0 or "`" in said or not phrases.repeats_or_waits(said):
                    continue
                b = a + len(said)
                later = [k for k, n in enumerate(nodes) if _said_in(n, el.text[b:])]
                if later and any(_said_in(n, el.text[:a]) for n in nodes[:later[0]]):
                    nodes.insert(later[0], self._manual(owner, cls, said, said, lead, el.index))
        return nodes

    def _pasted(self, el: Element, cls: SectionClass, owner: int) -> list[Node]:
        """Commands pasted into a paragraph or a list item with no fence, read from its lines.

        - Lines typed at a `$ ` prompt, from a chat or a terminal ("> first check the node:"
          then "> $ kubectl get pods -A ..."): commands, as in a transcript; the lines after
          one, up to the next prompt, are its output, never run.
        - Every line a command, or every line after the first ("4. Recreate it:" over "ceph
          orch daemon add ..." indented too little to be a code block): a block, read as one
          (a `\\` continuation and a trailing `# comment` as in any block). A line that ends
          a sentence or introduces ("ceph health will say so.", "make it fail:") or has a
          word ending in a comma is prose, and so is the paragraph."""
        if el.kind not in ("paragraph", "list_item") or el.inline_code:
            return []
        out = [blocks.CommandLine(m.group(1).strip(), at, at, prompt="$")
               for at, line in el.source_lines
               if (m := _PROMPTED.match(line)) is not None and inline_command(m.group(1))]
        lines = el.source_lines
        if not out and len(lines) == 1 and (said := _RUN_LABEL.match(lines[0][1])) is not None \
                and inline_command(said.group("cmd")) and \
                not _FUNCTION_WORD.search(said.group("cmd")):
            # "1. Run: rabbitmqctl list_queues name messages consumers" (a wiki export that lost
            # its code marks): the label says the rest is the command (it was a person's step)
            at = lines[0][0]
            out = [blocks.CommandLine(said.group("cmd").strip(), at, at)]
        rest = lines if len(lines) > 1 and inline_command(lines[0][1]) else lines[1:]
        if not out and len(lines) == 1 and el.kind == "paragraph" and \
                not _FUNCTION_WORD.search(lines[0][1]) and self._introduced(el):
            # "Run the following from the bastion:" over a paragraph that is only a command
            # (a Word or Google document, its code formatting lost): that command, as a block
            # right there would be (it was context for a reader, the check never ran)
            rest = lines
        if not out and rest and _all_commands([line for _, line in rest]):
            code = Element(index=el.index, kind="code", span=Span(start=rest[0][0],
                                                                  end=rest[-1][0]),
                           text="\n".join(line for _, line in rest))
            block = blocks.read_block(code)
            out = block.lines if block.cls == "command" else []
        return self._commands(out, el, cls, owner, block=None) if out else []

    def _introduced(self, el: Element) -> bool:
        """Whether the element before `el`, in the same container, is a paragraph that
        introduces what follows (it ends with a colon)."""
        if el.index == 0:
            return False
        prev = self.els[el.index - 1]
        return prev.kind == "paragraph" and prev.parent == el.parent and \
            prev.section == el.section and prev.text.rstrip(" *_").endswith(":")

    def _flow_table(self, el: Element, cls: SectionClass, owner: int) -> list[Node] | None:
        """A procedure as a flowchart table ("Step | Action | If OK | If not OK", "# | Check |
        Yes | No", "Pass | Fail"): each row is a step (its command runs, gated when it changes
        anything; a person's otherwise), then the row's outcome, judged by a person or the
        model: each outcome cell goes to a step of the table ("Go to step 3"), ends the run
        ("Escalate to the DBA on-call", "Resolved") or says what a person does; an empty or
        "Continue" cell goes on to the next row. It was one person's step holding the whole
        table, and the run ended resolved whatever its cells said."""
        rows = el.cells
        if len(rows) < 3 or not rows[0] or cls == "info":
            return None
        head = [c.replace("*", "").strip() for c in rows[0]]
        act = next((i for i, c in enumerate(head) if _STEP_ACTION_COLUMN.match(c) or
                    _CHECK_COLUMN.match(c)), None)
        ok = next((i for i, c in enumerate(head) if _OK_COLUMN.match(c)), None)
        bad = next((i for i, c in enumerate(head) if _NOT_OK_COLUMN.match(c)), None)
        if not _STEP_COLUMN.match(head[0]) or act is None or ok is None or bad is None:
            return None
        # "# | Question | How to check | Yes | No": the row's question, beside its check
        ask = next((i for i, c in enumerate(head) if _QUESTION_COLUMN.match(c)), None)
        numbered: dict[int | str, str] = {}  # a row's number or label -> its first step's id
        made: list[tuple[int, list[Node], Span, str, str, str]] = []
        for i, row in enumerate(rows[1:]):
            if len(row) <= max(act, ok, bad):
                continue
            line = el.span.start + 2 + i  # the header, its `|---|` line, then one row a line
            where = Span(start=line, end=line)
            action = row[act].strip()
            found: list[Node] = []
            for code in (c for c in re.findall(r"`([^`]+)`", action) if inline_command(c)):
                found.extend(self._commands([blocks.CommandLine(code, line, line)], el, cls,
                                            owner, block=None))
            if not any(isinstance(n, Action) for n in found):
                found = [self._manual(owner, cls, action or f"Step {i + 1}", action, where,
                                      el.index)]
            question = row[ask].strip() if ask is not None and ask < len(row) else ""
            if question or action:  # (titled by its row, not the table's section)
                found = _retitled(found, _short(question or action))
            first = next(n for n in found if isinstance(n, Action))
            number = re.match(r"\W*(\d{1,3})", row[0])
            numbered[int(number.group(1)) if number else i + 1] = first.id
            if (label := _ROW_LABEL.fullmatch(row[0].replace("*", "").strip())) is not None:
                numbered[label.group(0).upper()] = first.id  # "Q3": the cells name rows so
            made.append((i + 1, found, where, question or action, row[ok].strip(),
                         row[bad].strip()))
        if len(made) < 2:
            return None
        out: list[Node] = []
        for n, found, where, action, if_ok, if_not in made:
            out.extend(found)
            then = self._flow_outcome(if_ok, numbered, where, el)
            other = self._flow_outcome(if_not, numbered, where, el)
            if then is None and other is None:
                continue
            # a row that asks ("Is the safety gate closed?") is its own question
            asked = phrases.question_of(action)
            yes = asked or f"Step {n} is OK ({_short(action, 60)})"
            no = f"The answer is no: {asked}" if asked else \
                f"Step {n} is not OK ({_short(action, 60)})"
            node = IfNode(Guard(text=yes), then or [], where, el.index, else_=other)
            if not then:  # only the other side acts: ask it the other way round
                node = IfNode(Guard(text=no), other or [], where, el.index)
            out.append(node)
        return out

    def _flow_outcome(self, cell: str, numbered: dict[int | str, str], where: Span,
                      el: Element) -> list[Node] | None:
        """What a flow table's outcome cell does: None when it goes on to the next row. A cell
        naming a row by its label ("Q3", "Go to Q3") goes to that row, as a step number does
        (the label was a person's step, and the run went on to the next row whatever the
        answer); one that opens with how the run ends ("Resolved — it was transient")
        ends it so."""
        text = cell.replace("**", "").strip()
        if _GOES_ON_CELL.match(text):
            return None
        step = _STEP_IN_CELL.match(text)
        named = _ROW_IN_CELL.match(text)
        row: int | str | None = int(step.group("n")) if step is not None else \
            named.group("label").upper() if named is not None else None
        if row is not None and row in numbered:
            ref = JumpRef("id", f"{el.index}:{numbered[row]}", text)
            return [JumpNode(ref, where, el.index)]
        opening = re.split(r"\s*[\u2014\u2013:;,(]\s*|\s+-\s+", text.lower(), maxsplit=1)[0]
        ending = _SAID_ENDING.get(text.lower().rstrip(" .!")) or phrases.outcome_of(text) or \
            _SAID_ENDING.get(opening.rstrip(" .!"))
        if ending is not None:
            return [EndNode(ending, _conclusion(text) or _short(text), text, where)]
        return [self._manual(el.index, "step", text, text, where, el.index)]

    def _step_table(self, el: Element, cls: SectionClass, owner: int) -> list[Node] | None:
        """A procedure written as a table ("Step | Action | Command | Expected", its rows
        numbered 1, 2, 3): each row is a step, in the table's order. The row's command runs
        (gated when it changes anything, like any step's), a row without one is a person's
        step with its words; the other cells ("Expected") are never run. Any other table is
        read by `_inline`: its listed checks run, its actions are only shown."""
        rows = el.cells
        # a test case's "# | Action | Expected result" table: its Action cells that are one
        # command each are its commands, as a "Command" column's are (the whole table was one
        # person's step)
        acts = [k for k, h in enumerate(rows[0] if rows else [])
                if _STEP_ACTION_COLUMN.match(h) or _ACTION_COLUMN.match(h)]
        cells = [m.group(1) for r in rows[1:] for k in acts if k < len(r)
                 and (m := re.fullmatch(r"\s*`([^`]+)`\s*", r[k])) is not None]
        # ... or its words, then the one command: "Check the eviction counter: `x`" (the
        # whole table was one person's step)
        # (not a decision table's "Condition | Mitigation": each row is a case, not a step)
        told = [] if any(_CONDITION_COLUMN.match(h.replace("*", "").strip())
                         for h in rows[0]) else \
            [k for k in acts if _STEP_ACTION_COLUMN.match(rows[0][k])]
        labelled = {(i, k): m for i, r in enumerate(rows[1:]) for k in told if k < len(r)
                    and (m := _LABELLED_CELL.match(r[k])) is not None and
                    inline_command(m.group("cmd"))}
        cells += [m.group("cmd") for m in labelled.values()]
        # a "Command | Expected" table with no step numbers (one command a row, what it should
        # print beside it) is a procedure too, in its rows' order: its commands were only
        # shown when they changed anything, and the fix it wrote never ran
        paired = len(rows) >= 2 and bool(rows[0]) and \
            _COMMAND_COLUMN.match(rows[0][0]) is not None and \
            any(_EXPECTED_COLUMN.match(h) for h in rows[0][1:]) and \
            all(r and re.fullmatch(r"\s*`([^`]+)`\s*", r[0]) and
                r[0].strip()[1:-1] in el.command_cells for r in rows[1:])
        # a checklist ("# | Check | How | OK?" over "| 1 | Robot program running | ... | ☐ |"):
        # each numbered row is a person's check, ticked when done (the table was context for a
        # reader, and "If any check is not OK, ..." asked after checks nobody was given)
        ticks = [k for k, h in enumerate(rows[0] if rows else []) if _TICK_COLUMN.match(h)]
        ticked = bool(ticks) and all(len(r) > ticks[0] and r[ticks[0]].strip() in _TICK_BOXES
                                     for r in rows[1:])
        if not paired and (
                len(rows) < 3 or not (el.command_cells or cells or ticked) or not rows[0] or
                not _STEP_COLUMN.match(rows[0][0]) or not _numbered_on(rows[1:])):
            return None
        listed = set(el.command_cells) | set(cells)
        nodes: list[Node] = []
        for i, row in enumerate(rows[1:]):
            line = el.span.start + 2 + i  # the header, its `|---|` line, then one row a line
            codes = [c for cell in (row[:1] if paired else row[1:])
                     for c in re.findall(r"`([^`]+)`", cell)
                     if c in listed and cell.strip() == f"`{c}`"]
            label = next((m.group("label") for (r, _), m in labelled.items() if r == i), "")
            codes += [m.group("cmd") for (r, _), m in labelled.items() if r == i]
            said = " | ".join(c for k, c in enumerate(row[1:], 1) if c.strip(" -\u2013\u2014")
                              and k not in ticks)
            # "Expected result: `200`" beside a check: its output must hold it, or the run
            # stops for a person (it went on, and ended resolved, whatever the check printed)
            wants = [m.group(1) for k, h in enumerate(rows[0]) if k < len(row) and
                     _EXPECTED_COLUMN.match(h) and
                     (m := re.fullmatch(r"\s*`([^`]+)`\s*", row[k])) is not None]
            # the row's own words title its steps ("Check queue depth"), not the section
            named = next((c.strip() for k, c in enumerate(row[1:], 1) if c.strip() and
                          "`" not in c and k < len(rows[0]) and
                          not _EXPECTED_COLUMN.match(rows[0][k])), "") or label
            # "If evictions keep rising, restart the warm-up job: `x`": the row's case guards
            # its command
            guard = phrases.guard_of(label) if label else None
            at = len(nodes)
            if codes:
                for code in codes:
                    new = self._commands([blocks.CommandLine(code, line, line)], el, cls,
                                         owner, block=None)
                    if named:
                        new = _retitled(new, _short(named))
                    if len(codes) == 1 and len(wants) == 1 and new and all(
                            isinstance(n, Action) and not n.mutating for n in new):
                        new.append(self._expectation(code, wants[0], el))
                    nodes.extend(new)
            else:
                nodes.append(self._manual(owner, cls, said or row[0], f"Step {row[0]}: {said}",
                                          Span(start=line, end=line), el.index))
            if guard is not None and nodes[at:]:
                nodes[at:] = [IfNode(guard, nodes[at:], Span(start=line, end=line), el.index)]
            self.sessions.row_done()  # (a row is a step of its own, as a list item is)
        return nodes

    def _decision_table(self, el: Element, cls: SectionClass, owner: int) -> list[Node] | None:
        """A table of conditions and what to do in each ("Condition | Mitigation", "When |
        Action", "Symptom | Fix"), with no column of checks to run and a command in its
        actions (else it describes what the system does in each case): a decision, row after
        row.
        The first row whose condition holds is taken (a judgment, as any prose condition):
        its commands run (gated when they change anything), a row that says an ending ("Engage
        the storage team", "No action needed") ends the run so, or a person does what it says;
        a row "Anything else" / "Otherwise" is what is left. It was one person's step holding
        the whole table."""
        rows = el.cells
        if len(rows) < 2 or cls == "info" or not rows[0]:
            return None
        head = [c.replace("*", "").strip() for c in rows[0]]
        when = next((i for i, c in enumerate(head) if _CONDITION_COLUMN.match(c)), None)
        then = next((i for i, c in enumerate(head) if _ACTION_COLUMN.match(c)), None)
        if when is None or then is None:
            return None
        checks = [i for i, c in enumerate(head) if i not in (when, then) and _CHECK_COLUMN.match(c)]
        if len(checks) > 1 or checks and not all(
                self._reads_only(row[checks[0]]) for row in rows[1:] if len(row) > checks[0]):
            return None
        # "| Symptom | Likely cause | Check | Fix |": each row's check runs first (they only
        # read), then the rows decide as any decision table's do; the fixes were only the
        # words of a person's step holding the whole table
        cause = next((i for i, c in enumerate(head) if i not in (when, then) and
                      _CAUSE_COLUMN.match(c)), None) if checks else None
        looked: list[Node] = []
        for i, row in enumerate(rows[1:]):
            if checks and len(row) > checks[0]:
                line = el.span.start + 2 + i
                for code in re.findall(r"`([^`]+)`", row[checks[0]]):
                    looked.extend(self._commands([blocks.CommandLine(code, line, line)], el,
                                                 cls, owner, block=None))
        # "| Popup text | Code | Go to |" over "| ... | C153A1 | §2 |": a row's case sends the
        # run to that part of the guide (the table was context for a reader, and every part
        # it routes to ran, one after the other: the arm was unlocked and restarted, then the
        # cell walked for a collision)
        goes = _GO_TO_COLUMN.match(head[then]) is not None
        jumps = {i: j for i, row in enumerate(rows[1:]) if len(row) > then
                 and (j := self._cell_jump(row[then], el, goes)) is not None}
        if not _CODE_COLUMN.match(head[when]) and not jumps and not any(
                inline_command(c) for row in rows[1:] if len(row) > then
                for c in re.findall(r"`([^`]+)`", row[then])) and not all(
                phrases.is_instruction_only(row[then]) for row in rows[1:]
                if len(row) > max(when, then) and row[when].strip()):
            # "Scenario | Action" saying what the system does: a description (a fault code's
            # "Recovery" is what a person does when the device reports it, commands or not);
            # a table whose every action tells a person what to do ("Restart the auth
            # service", "Escalate to the identity team") is a decision all the same (it was
            # the whole guide's one "follow it by hand" step, ending `no_action`)
            return None
        branches: list[tuple[str, list[Node], Span]] = []
        for i, row in enumerate(rows[1:]):
            if len(row) <= max(when, then) or not row[when].strip():
                continue
            line = el.span.start + 2 + i  # the header, its `|---|` line, then one row a line
            where = Span(start=line, end=line)
            action = row[then].strip()
            codes = [c for c in re.findall(r"`([^`]+)`", action) if inline_command(c)]
            found: list[Node] = []
            for code in codes:
                found.extend(self._commands([blocks.CommandLine(code, line, line)], el, cls,
                                            owner, block=None))
            ending = (phrases.outcome_of(action) or
                      ("no_action" if _NOTHING_CELL.match(action) else None)) \
                if not codes else None
            first_then = _THEN_GO_CELL.match(action) if not codes and i not in jumps else None
            if i in jumps:
                found = [JumpNode(jumps[i], where, el.index)]
            elif first_then is not None and (
                    go := self._cell_jump(first_then.group(2), el, True)) is not None:
                # "Close door 4B, then [Restart the program](#restart-the-program)": the
                # person's step, then the run goes on there (it went on to the steps after
                # the table, the restart's own guard never asked)
                found = [self._manual(owner, cls, first_then.group(1),
                                      f"{row[when]}: {action}", where, el.index),
                         JumpNode(go, where, el.index)]
            elif ending is not None:  # "Engage the storage team", "No action needed"
                found = [EndNode(ending, "Nothing to do" if _NOTHING_CELL.match(action) else
                                 _conclusion(action) or _short(action), action, where)]
            elif not codes and len(refs := [r for r in phrases.jumps_in(
                    action.replace("*", ""), [(lk.text, lk.href) for lk in el.links], see=True)
                    if self._lands(r, el)]) == 1:
                # "Check cable X81 and go to step 4", "Check the glue unit (see *Glue unit*);
                # do not unhold": what it says to do first is a person's step (a "see" names
                # the section that does it), then the run goes on there (it went on to the
                # steps after the table: the unhold the row forbids)
                first = phrases.said_before_jump(action) if not refs[0].see else ""
                found = [self._manual(owner, cls, first, f"{row[when]}: {action}", where,
                                      el.index)] if first else []
                found.append(JumpNode(refs[0], where, el.index))
            elif not any(isinstance(n, Action) for n in found):
                found = [self._manual(owner, cls, action or row[when], f"{row[when]}: {action}",
                                      where, el.index)]
            case = row[when].strip()
            if _VALUE_COLUMN.match(head[when]) and not _OTHERWISE_ROW.match(case):
                # ("`malicious`": the value said, as its step's title says it)
                value = re.fullmatch(r"`([^`]+)`", case)
                case = f"{head[when]} is {value.group(1) if value else case}"
            elif _CODE_COLUMN.match(head[when]) and not _OTHERWISE_ROW.match(case):
                meaning = next((row[i].strip() for i, c in enumerate(head) if i < len(row)
                                and i not in (when, then) and _MEANING_COLUMN.match(c)), "")
                case = f"{head[when]} is {case}" + (f" ({meaning})" if meaning else "")
            elif cause is not None and len(row) > cause and row[cause].strip() and \
                    not _OTHERWISE_ROW.match(case):
                case = f"{case} ({row[cause].strip()})"
            branches.append((case, found, where))
        if not branches:
            return None
        rest: list[Node] | None = None
        if _OTHERWISE_ROW.match(branches[-1][0]):
            rest = branches.pop()[1]
        listed = rest is None  # (no "Anything else" row: the rows are all it knows)
        for condition, found, where in reversed(branches):
            rest = [IfNode(Guard(text=condition), found, where, el.index, else_=rest,
                           cases=listed)]
        return looked + (rest or [])

    def _cell_jump(self, cell: str, el: Element, goes: bool) -> phrases.JumpRef | None:
        """Where a "Go to" cell sends the run ("§2", "Section 3", "Step 4", "Clear a jam"),
        or an action cell that only points elsewhere ("see *Collision recovery*", "→ §3"),
        when that is a part of this guide after the table."""
        said = cell.replace("**", "").replace("*", "").replace("_", " ").strip()
        pointer = _POINTS_TO.match(said)
        if not said or not goes and pointer is None:
            return None
        if pointer is not None:
            said = said[pointer.end():]
        refs = phrases.jumps_in(f"Go to {said}", [(lk.text, lk.href) for lk in el.links])
        if not refs and goes and (key := phrases.title_key(
                re.sub(r"\s*\([^()]*\)\s*$", "", said).rstrip(" ."))) and any(
                    h.index > el.index and phrases.title_key(h.text) == key
                    for h in self.g.headings()):
            # "Check the safety fence door, then reset the alarm" over a "## Reset the alarm"
            # section: a later heading's whole title, said in the cell, is that section, as a
            # link would be (the run fell through every section after the table instead)
            refs = [phrases.JumpRef("title", key, f"Go to {said}")]
        return refs[0] if len(refs) == 1 and self._lands(refs[0], el) else None

    @staticmethod
    def _reads_only(cell: str) -> bool:
        """Whether a table cell's commands (in code) only read, and it has one."""
        codes = [c for c in re.findall(r"`([^`]+)`", cell) if inline_command(c)]
        parsed = [parse_line(c) for c in codes]
        return bool(codes) and all(
            p.pipelines and not p.unsupported and all(
                classify_pipeline([[_judged(w) for w in st] for st in pipe.stages]).read
                for pipe in p.pipelines) for p in parsed)

    def _in_session(self, lead: Span, line: str) -> bool:
        """Whether the open session's step took this element's command `line` (the opener's
        step became the session's first run, or a person's session script holds the line:
        "ssh to the primary with `ssh db-1`, then open `sudo gitlab-psql`"): it is in the plan,
        nothing for a person to redo."""
        s = self.sessions.open
        if s is None or s.last is None or s.last.span.end < lead.start:
            return False
        return s.last.kind == StepKind.COMMAND or \
            s.last.kind == StepKind.MANUAL and line in s.last.text.splitlines()

    @staticmethod
    def _expectation(code: str, want: str, el: Element) -> IfNode:
        """"Verify: `x` returns `Y`": when the output does not hold Y the check failed, and
        the run stops for a person (escalate), never going on as if it had passed."""
        text = f"{_CHECK_FAILS}{want}`"
        end = EndNode("escalate", _short(f"`{code}` did not return `{want}`"), el.text, el.span)
        return IfNode(Guard(text=text), [end], el.span, el.index)

    def _expected(self, el: Element, target: list[Node]) -> bool:
        """"Expected: `Running`" right under a command that only reads: the check of its
        output, as "Verify: `x` returns `Y`" is (it was context for a reader, and the run went
        on whatever the command printed)."""
        want = phrases.expected_value(el.text)
        last = target[-1] if target else None
        if want is None or not isinstance(last, Action) or last.kind != StepKind.COMMAND or \
                last.mutating or last.pos != el.index - 1 or self._case_follows(el):
            return False
        target.append(self._expectation(last.text, want, el))
        return True

    def _case_follows(self, el: Element) -> bool:
        """Whether what comes right after an expectation is a case of what the check showed
        ("Expected: `RUNNING`." then "2. If the state is `SAFE_OFF` or `COLLISION`: ..."): the
        guide says what to do when it is not as expected (the run ended escalated there, and
        the collision recovery could never run)."""
        after = self.els[el.index + 1] if el.index + 1 < len(self.els) else None
        if after is None or after.kind not in ("list_item", "paragraph") or \
                after.section != el.section:
            return False
        guard = phrases.guard_of(after.text)
        return guard is not None and not guard.is_else

    _intros: dict[int, str] | None = None

    def _item_is_code(self, code: str, el: Element) -> bool:
        """A list item that is one command and nothing else, under words that ask to do what
        the list holds ("abort the cycle and retry the pick:" over "- `robotctl cell4 cycle
        abort`"): the step's command whatever the tool (an unknown one is gated). It was
        neither run nor kept when `inline_command` did not know the tool."""
        return el.kind == "list_item" and el.text.strip(" .;") == f"`{code}`" and \
            len(code.split()) > 1 and _ARGV_WORDS.match(code) is not None and \
            phrases.asks_for_list(self._intro(el))

    def _intro(self, el: Element) -> str:
        """The words that introduce an element when they end with ':': for a list item, the
        item it is nested in or the paragraph before its list; for a paragraph, the paragraph
        before it ("This is done via:" then "`gpg --armor --export <KEYID>`")."""
        if self._intros is None:  # one pass over the guide, the first time it is asked
            self._intros = {}
            before_list: dict[int | None, str] = {}  # container -> its last non-item text
            previous: dict[int | None, str] = {}  # container -> the text just before
            for e in self.els:
                if e.kind == "heading":
                    before_list.clear()
                    previous.clear()
                    continue
                if e.kind == "list_item" and e.parent is not None and \
                        self.els[e.parent].kind == "list_item":
                    text = self.els[e.parent].text
                elif e.kind == "list_item":
                    text = before_list.get(e.parent, "")
                else:
                    text = previous.get(e.parent, "")
                if text.rstrip(" *_").endswith(":") or _GIVES_EXAMPLE.search(text):
                    self._intros[e.index] = text
                previous[e.parent] = e.text if e.kind == "paragraph" else ""
                if e.kind != "list_item":
                    before_list[e.parent] = previous[e.parent]
        return self._intros.get(el.index, "")

    def _lead(self, el: Element) -> Span:
        """The lines of an element's own text: a list item's lead, before the blocks it holds
        (a command named in "Check `x`:" is not the sample output printed under it)."""
        inner = self.g.children(el.index)
        end = inner[0].span.start - 1 if inner else el.span.end
        return Span(start=el.span.start, end=max(el.span.start, min(end, el.span.end)))

    def _call(self, el: Element, cls: SectionClass, owner: int) -> list[Node]:
        """"Follow [the etcd backup](etcd-backup.md?cluster=...)": a step that runs the linked
        guide as a child run (`engine.compile.calls` compiles it into the plan). A link to a
        file that is not there is no call: the item stays a person's (and lint warns)."""
        if cls == "info" or not phrases.is_call_sentence(el.text):
            return []
        out: list[Node] = []
        for link in el.links:
            found = guide_link(link.href.split("#", 1)[0], file=self.g.path,
                               line=el.span.start)
            if found is None:
                continue
            linked = Path(self.g.path).parent / found.path
            if not linked.is_file():
                continue
            if "#" in link.href and linked.resolve() == Path(self.g.path).resolve():
                continue  # a section of this guide (its own file + #anchor): not a second run
            self.call_links.add((el.index, link.href))
            target = Path(found.path)
            sid = self._id(owner, cls, link.text or target.stem)
            out.append(Action(sid, StepKind.CALL, f"Run guide: {link.text}", el.text, el.span,
                              el.index, cls,
                              params={"guide": literal(target.as_posix()),
                                      "inputs": dict(found.inputs)},
                              call=slugify(target.stem) or "guide"))
        return out

    # -- code --------------------------------------------------------------------------

    def _code(self, el: Element, cls: SectionClass, owner: int | None) -> list[Node]:
        """A code block's steps; a change the guide warns about right above the block
        ("> **Warning:** only do this with the customer's consent.") carries the warning,
        which its approval shows (the approver saw the command alone)."""
        found = self._code_steps(el, cls, owner)
        before = self.els[el.index - 1] if el.index else None
        if before is None or before.parent is None or self.els[before.parent].kind != "quote" \
                or self.els[before.parent].parent != el.parent:
            return found
        # (an admonition, `!!! warning` / `:::caution`, is a quote whose first paragraph is
        # its title)
        words = [self.els[c].text for c in self.children.get(before.parent, [])
                 if self.els[c].kind == "paragraph"]
        if not words or not _CAUTION.match(words[0]):
            return found
        said = " ".join(" ".join(words).replace("**", "").split())[:300]
        return [replace(n, caution=said) if isinstance(n, Action) and n.mutating else n
                for n in found]

    def _code_steps(self, el: Element, cls: SectionClass, owner: int | None) -> list[Node]:
        intro = self.els[el.index - 1] if el.index else None
        if intro is not None and intro.index and intro.kind == "paragraph" and \
                phrases.only_template_tags(intro.text) and \
                self.els[intro.index - 1].kind in ("paragraph", "list_item") and \
                self.els[intro.index - 1].parent == intro.parent:
            # GitBook's `{% code title="unseal.sh" %}` over the block: markup; the words before
            # it introduce the block ("Each key holder runs, on their own machine:")
            intro = self.els[intro.index - 1]
        if intro is not None and intro.parent is not None and \
                self.els[intro.parent].kind == "quote" and \
                not intro.text.rstrip(" *_").endswith(":") and \
                (note := self.els[intro.parent]).index and note.parent == el.parent and \
                (label := self.els[note.index - 1]).kind == "paragraph" and \
                label.parent == el.parent and phrases.numbered_step(label.text):
            # "**Step 4:** Raise the target." then "> **Warning:** only with the customer's
            # consent." then the command: the note is said of the step, the step's title
            # names the block (the title was a person's step of its own, the command another)
            intro = label
        config = blocks.announces_config(intro, el)
        block = blocks.read_block(el, after_output_cue=blocks.announces_output(intro),
                                  after_config_cue=config)
        if not config and block.cls in ("output", "other") and blocks.announces_edit(intro):
            # "Edit the restart point in the `MainModule` before starting again:" over a RAPID
            # listing: the text a person writes, their step's (it was "sample output")
            config = True
            block = blocks.read_block(el, after_config_cue=True)
        own = owner if owner is not None else el.index
        if not el.lang and self.sessions.device_shell(el) and \
                not blocks.announces_output(intro):
            # typed at a device's shell opened before (`ssh admin@lb`, `tmsh`): `show ltm pool
            # x` is no SQL and `modify ltm pool ...` no sample output; a person's step there
            first = el.span.start + 1 if el.fenced else el.span.start
            return list(self.sessions.typed_at_device(
                self, el, cls, own, [blocks.CommandLine(raw.strip(), first + n, first + n)
                                     for n, raw in enumerate(el.text.split("\n"))]))
        if intro is not None and intro.kind == "paragraph" and self.owner.get(intro.index) == \
                owner and (owner is None or self.els[owner].kind == "heading" and
                           not self.els[owner].name) and \
                phrases.tab_label(intro.text) is None and \
                not phrases.only_template_tags(intro.text):
            # "Debug the node:" names the block (a heading's {#name} wins); a tab's label
            # (`=== "kubeadm"`, `{{% tab name="VM" %}}`) is markup, not words: the section's
            # title names it (the step was titled `=== "kubeadm"`)
            own = intro.index
        span = Span(start=block.start, end=block.end)
        title = self._title(own, el)
        if powershell.dialect(el):  # PowerShell and cmd blocks: engine.compile.powershell
            return powershell.steps(self, el, cls, own, title)
        if block.cls == "query":
            mutating = block.plugin == "sql" and not sql_verdict(block.text).read
            kind = StepKind.COMMAND if mutating else StepKind.QUERY
            # SQL text stays fixed (values become bound args); PromQL values pass the `promql`
            # filter. The sql plugin refuses writes unless told: say so for a write asked for.
            text = placeholders.normalize_sql(block.text) if block.plugin == "sql" else \
                block.text
            try:
                query = queries.query_params(block.plugin or "", text, self.scope,
                                             file=self.g.path, line=block.start)
            except ValidationError:
                if (el.lang or "").lower() in blocks.QUERY_TAGS and el.lang != "metricsql":
                    raise  # the author said it is PromQL/SQL: the error names the line
                # A query whose values cannot be placed safely (or that Mendflow cannot read):
                # a person runs it, with the text as the guide wrote it.
                return [self._manual(own, cls, title, block.text, span, el.index,
                                     script=block.text)]
            params = dict(query.params)
            if mutating:
                params["read_only"] = False
            return [Action(self._id(own, cls, title), kind, title, block.text, span, el.index,
                           cls, plugin=query.plugin or block.plugin, params=params,
                           mutating=mutating,
                           uses=query.uses, block=el.index)]
        if block.cls == "config" and cls != "info" and intro is not None and config:
            # "Add the following line to the blacklist section:": a person's edit, holding
            # the text to add (it was run line by line as commands, or lost as output)
            return [self._manual(own, cls, title, intro.text, Span(start=intro.span.start,
                                                                    end=block.end),
                                 el.index, script=block.text)]
        if block.cls == "plugin":
            return [self._plugin_step(block, el, cls, own, title)]
        if block.cls == "script":
            return [self._manual(own, cls, title, block.text, span, el.index,
                                 script=block.text)]
        if block.cls != "command":
            return []
        if intro is not None and intro.kind in ("paragraph", "list_item") and \
                self.sessions.open is None and block.lines and \
                not any(opens_session(line.text) or reaches_its_machine(line.text)
                        for line in block.lines) and (phrases.runs_elsewhere(intro.text) or
                                                      phrases.others_run(intro.text) or
                                                      self._list_runs_elsewhere(intro)):
            # "On the database host, run:": typed on a machine no line of the block reaches
            # (`ssh`, `kubectl exec`, a cloud CLI would); run here, it would act on (or
            # report) the wrong machine. A person's step, there; and so is a block "Ask the
            # DBA to run:" hands to someone else.
            script = "\n".join(line.text for line in block.lines)
            where = Span(start=block.lines[0].start, end=block.lines[-1].end)
            return [self._manual(own, cls, title, script, where, el.index, script=script)]
        if intro is not None and intro.kind in ("paragraph", "list_item") and \
                (self.sessions.open is not None or self.sessions.away is not None) and \
                phrases.runs_here(intro.text):
            self.sessions.here()  # "Then, from your laptop:": the session is over
        return self._done_first(intro, cls, own) + \
            self._commands(block.lines, el, cls, own, block=el.index)

    def _done_first(self, intro: Element | None, cls: SectionClass, own: int) -> list[Node]:
        """A person's step for what the words introducing a block say to do before it ("Lock
        out the conveyor and clear the jam by hand, then restart it:", "Wait 15 minutes, then
        restart it:"): it was dropped, and the restart ran right after the step before."""
        if intro is None or intro.kind not in ("paragraph", "list_item") or \
                cls in ("info", "cleanup") or not (first := phrases.done_before_block(intro.text)):
            return []
        return [self._manual(own, cls, first, intro.text, intro.span, intro.index)]

    def _list_runs_elsewhere(self, item: Element) -> bool:
        """Whether the words before an item's list say its steps are typed on another machine
        ("If Rundeck is down, do the same on `worker-01`:" over "1. ... `systemctl restart
        celery-worker`"): each item's block is a person's there (they ran here)."""
        return item.kind == "list_item" and phrases.runs_elsewhere(self._intro(item))

    def _plugin_step(self, block: blocks.Block, el: Element, cls: SectionClass, owner: int,
                     title: str) -> Action:
        """A block whose body is a plugin's parameters (YAML): ```detect, ```opcua, ...

        Its string values are templates as written. A `detect` block names its detector; what
        any other block does is the read-only table's call (`engine.effects.step_verdict`): an
        action (`call:`), an HTTP method other than GET/HEAD, SQL that is not one reading
        statement change the world, and a `mendflow:shell` block is a script, never read-only."""
        where: _Where = {"file": self.g.path, "line": block.start}
        params = load_yaml(block.text, file=self.g.path, line=block.start + 1,
                           what=f"the {el.lang} block is not valid YAML")
        if not isinstance(params, dict):
            raise ValidationError(f"the {el.lang} block must be 'key: value' lines", **where,
                                  hint="See guides/README.md for plugin blocks")
        plugin = block.plugin
        kind = StepKind.QUERY
        mutating = False
        if plugin is None:  # ```detect
            plugin = params.pop("detector", None) or params.pop("plugin", None)
            if not isinstance(plugin, str) or not plugin:
                raise ValidationError("a detect block must name its detector", **where,
                                      hint="Add 'detector: ft_jam_slip' (or another detector)")
            kind = StepKind.DETECT
        elif plugin == "shell" or not step_verdict(plugin, params).read:
            kind, mutating = StepKind.COMMAND, True
            if plugin == "sql":
                params["read_only"] = False
        span = Span(start=block.start, end=block.end)
        return Action(self._id(owner, cls, title), kind, title, block.text, span, el.index, cls,
                      plugin=plugin, params=params, mutating=mutating, block=el.index)

    def _commands(self, lines: list[blocks.CommandLine], el: Element, cls: SectionClass,
                  owner: int, *, block: int | None) -> list[Node]:
        nodes: list[Node] = []
        title = self._title(owner, el)
        manual: list[blocks.CommandLine] = []
        session = False  # after `ssh host` or `kubectl debug`, later lines run in that session
        # after `cd /var/discourse`, the block's later commands run there: the directory, and
        # the `cd` lines no step has said yet (the next step says them, as a session's opener)
        region = self._top_section(el)
        cwd: str | None = self._cwd.get(region)
        # "1. Go to the log folder: `cd /var/log/app`" then "3. `rm -f app.log.1`": the block
        # runs where the one before left the shell (it ran in the runner's own directory; its
        # approval never said where); its first command says the `cd`
        carried = f"cd {cwd}" if cwd is not None else None
        moved_here = False  # a `cd` of this block's own (a session opened after it needs it)
        moved: list[blocks.CommandLine] = []

        def to_manual(line: blocks.CommandLine) -> None:
            manual.extend(moved)  # a person's script says where it runs
            moved.clear()
            manual.append(line)

        def said_where(step: Action, line: blocks.CommandLine) -> Action:
            """A shell line's step after `cd` lines: it spans them (its `cwd` says where it
            runs; its text stays the line bash runs, and its approval names the directory)."""
            nonlocal carried
            if not moved:
                carried = None
                return step
            span = Span(start=moved[0].start, end=line.end)
            moved.clear()
            carried = None
            return replace(step, span=span)

        def flush_manual() -> None:
            if manual:
                script = "\n".join(m.text for m in manual)
                span = Span(start=manual[0].start, end=manual[-1].end)
                nodes.append(self._manual(owner, cls, title, script, span, el.index,
                                          script=script))
                manual.clear()

        for k, line in enumerate(lines):
            if credentials.written(line.text):
                # `mysql -p'S3cret'`, `PGPASSWORD=hunter2 psql`: no plan holds a secret (it is
                # stored and shown in approvals and reports); a person runs it with their own,
                # the script showing it masked (lint says where it was written)
                to_manual(replace(line, text=credentials.masked(line.text)))
                continue
            if line.shown:
                self.sessions.typed_at_shell(line)  # (at a prompt: a session it left is over)
            if line.shown and not self.sessions.console_open(el):
                # a commented-out command: an alternative for a person to run
                entered = self.sessions.enter(self, line, el, cls, owner) \
                    if k + 1 < len(lines) and lines[k + 1].console else None
                if entered is not None:  # a console opened in the session: typed there
                    flush_manual()
                    nodes.extend(entered)
                    continue
                to_manual(line)
                continue
            if moved_here and self.sessions.open is None and opens_session(line.text):
                # a session opened where `cd` went (`sudo -u git`, then `git fsck`): its
                # commands need that directory, which no session form carries: a person's
                to_manual(line)
                session = True
                continue
            taken = self.sessions.take(self, line, el, cls, owner, block)
            if taken is not None:  # a session's line runs in the session, not here
                flush_manual()
                nodes.extend(taken)
                continue
            if line.console:  # typed into a database console (`db=# `, `\\dt`): a person's job
                to_manual(line)
                continue
            host = prompt_host(line.prompt) if line.prompt else None
            if host is not None and not reaches_its_machine(line.text) and \
                    not opens_session(line.text):
                # `[root@db-17 ~]# systemctl restart postgresql-15`, `root@file-31:~$ top`:
                # typed at another machine's own prompt, no session of the guide's leading
                # there. Run here, it restarts (or reports) this machine's; a person's step
                # there, its script saying where (a `kubectl` or `ssh` line there runs as any)
                if not manual or manual[-1].prompt != line.prompt:
                    manual.append(blocks.CommandLine(at_its_prompt(host, line.prompt),
                                                     line.start, line.start, prompt=line.prompt))
                to_manual(line)
                continue
            parsed = without_terminal(parse_line(line.text))
            # (a prompt naming a host or directory, `/ $ cd /prometheus`, is another shell's)
            target = None if session or line.prompt not in ("", "$", "#") else \
                _directory(parsed)
            if target is not None:  # `cd DIR` on its own line: where the next lines run
                cwd = target if cwd is None else os.path.normpath(os.path.join(cwd, target))
                moved.append(line)
                moved_here = True
                continue
            # a directory change this reader cannot follow (`cd ~/x`, `cd $DIR && make`): the
            # lines after it run where only a person's shell is
            after_cd = not session and bool(_CHANGES_DIRECTORY.search(line.text))
            if len(parsed.pipelines) > 1 and any(
                    _directory(Parsed(pipelines=[p])) is not None or _shell_builtin(p)
                    for p in parsed.pipelines[:-1]) and not session:
                # `cd /tmp && tar -cf x .`, `export X=1; cmd`: the line's own shell keeps the
                # state it sets for the commands after it: the line runs in bash, verbatim
                script = self._script(line, el, cls, owner, title, block, cwd)
                if script is not None:
                    flush_manual()
                    nodes.append(said_where(script, line))
                    session = session or after_cd
                    continue
            if parsed.assign and not session:
                self.scope.assign(*parsed.assign)
                continue
            if parsed.unsupported and not session:
                script = self._script(line, el, cls, owner, title, block, cwd)
                if script is not None:  # a line that needs a shell runs in bash, verbatim
                    flush_manual()
                    nodes.append(said_where(script, line))
                    session = session or after_cd
                    continue
            if session or parsed.unsupported or not parsed.pipelines or \
                    any(_shell_builtin(p) for p in parsed.pipelines):
                # What cannot run is shown to a person, never dropped; a shell builtin
                # (`source`, `alias`, `export` after `&&`) changes only the shell it runs in.
                to_manual(line)
                session = session or after_cd
                continue
            with in_the_folder(cwd):  # after `cd /dev`, `cat watchdog` opens /dev/watchdog
                verdicts = [classify_pipeline([[_judged(w) for w in st] for st in p.stages])
                            for p in parsed.pipelines]
            effects = [v.effect for v in verdicts]
            if any(asks_a_password([w.plain() for w in st]) for p in parsed.pipelines
                   for st in p.stages):
                effects.append("interactive")  # a person types the password
            if "interactive" in effects:
                to_manual(line)
                # an editor closes when the person saves, a login when they answer it, a
                # stream or a live screen (`tail -f`, `watch`) when they stop it: it reads no
                # line typed after it, and the lines after it run here again
                session = session or any(v.effect == "interactive" and EDITOR not in v.reason
                                         and LOGIN not in v.reason
                                         and UNTIL_STOPPED not in v.reason
                                         for v in verdicts)
                continue
            if self._reads_a_saved_file(parsed):
                # "Save the following as `fix.yaml`:" over its YAML, then `kubectl apply -f
                # fix.yaml`: the file is one a person makes from the guide; here the command
                # would read whatever file of that name the machine has, or none
                to_manual(line)
                continue
            argvs = [[[self.scope.word(w) for w in stage] for stage in pipeline.stages]
                     for pipeline in parsed.pipelines]
            if any(_value_in_code(stage) for argv in argvs for stage in argv) or \
                    any(self._misplaced(argv) for argv in argvs):
                # A value would pick the program or become program text, or free text would
                # become an argument: a person runs it, with the guide's words.
                to_manual(line)
                continue
            flush_manual()
            for pipeline, eff, argv in zip(parsed.pipelines, effects, argvs):
                uses = frozenset(v for st in pipeline.stages for w in st
                                 for v in self.scope.refs(w))
                span = Span(start=(moved or [line])[0].start, end=line.end)
                text = "\n".join([*([carried] if carried and not moved else []),
                                  *(m.text for m in moved), line.text])
                moved.clear()
                carried = None
                params = _shell_params(argv)
                if cwd is not None:
                    params["cwd"] = literal(cwd)
                sid = self._id(owner, cls, title)
                nodes.append(Action(sid, StepKind.COMMAND, title, text, span, el.index, cls,
                                    plugin="shell", params=params,
                                    mutating=eff == "mutate", bind=parsed.bind, uses=uses,
                                    block=block))
            if parsed.bind:
                self.scope.bind(parsed.bind)
        if moved and len(moved) == len(lines) and block is not None and \
                self._commands_follow(el, region):
            # a block of `cd` alone: where the section's later steps run (their `cwd`); its
            # step goes there in a shell of its own, so that a folder this machine lacks
            # fails the run here, before any step runs in the wrong place
            went = "\n".join(m.text for m in moved)
            # (`pwd` says where it went: a shell that only changes directory does nothing)
            goes: dict[str, Any] = {"script": " && ".join([*(m.text.strip() for m in moved),
                                                           "pwd"])}
            if (before := self._cwd.get(region)) is not None:
                goes["cwd"] = literal(before)
            nodes.append(Action(self._id(owner, cls, title), StepKind.COMMAND, title, went,
                                Span(start=moved[0].start, end=moved[-1].end), el.index, cls,
                                plugin="bash", params=goes, mutating=False, block=block))
            moved.clear()
        manual.extend(moved)  # a `cd` that no command followed: a person's, as written
        flush_manual()
        if not session and cwd is not None:
            self._cwd[region] = cwd
        nodes = _commented_conditions(lines, nodes, el.index)
        return _guard_comments(el, nodes) if block is not None and el.kind == "code" else nodes

    def _commands_follow(self, el: Element, region: int | None) -> bool:
        """Whether a block or an inline command comes after `el` in its top section."""
        for later in self.els[el.index + 1:]:
            if self._top_section(later) != region or later.kind == "heading" and \
                    (later.level or 0) <= 2:
                return False
            if _names_a_command(later):
                return True
        return False

    def _top_section(self, el: Element) -> int | None:
        """The H1/H2 section an element is in (a `cd` holds for its blocks)."""
        at = el.section
        while at is not None and (self.els[at].level or 0) > 2:
            at = self.els[at].section
        return at

    def _script(self, line: blocks.CommandLine, el: Element, cls: SectionClass, owner: int,
                title: str, block: int | None, cwd: str | None = None) -> Action | None:
        """A line only a shell can run (`$(...)`, a loop, a redirection, a glob) as a `bash`
        step: the guide's text verbatim, the shell variables it reads bound from inputs or
        earlier results as data (`plugins.bash`). None when it cannot be one (a background
        job, a file written from a heredoc, `<placeholder>`s, a person's program, `{#` that a
        template would read): the caller keeps it manual."""
        text = line.text.strip()
        if "{{" in text or "{%" in text or "{#" in text or placeholders.find(text):
            return None
        with in_the_folder(cwd):  # after `cd /dev`, `cat watchdog` opens /dev/watchdog
            found = read_script(text)
        if found is None:
            return None
        args = {name: "{{ " + self.scope.var(name) + " }}" for name in sorted(found.reads)}
        uses = frozenset(n for n in found.reads if n in self.scope.bound)
        params: dict[str, Any] = {"script": found.text}
        if args:
            params["args"] = args
        if cwd is not None:  # after `cd DIR`: it runs there
            params["cwd"] = literal(cwd)
        return Action(self._id(owner, cls, title), StepKind.COMMAND, title, found.text,
                      Span(start=line.start, end=line.end), el.index, cls, plugin="bash",
                      params=params, mutating=not found.verdict.read, uses=uses, block=block)

    def _misplaced(self, pipeline: list[list[str]]) -> bool:
        """Whether an input's value would sit where its type may not (free text as an argv
        word): `engine.placement` would refuse the plan."""
        step = SimpleNamespace(id="-", plugin="shell", params={"pipeline": pipeline})
        return bool(placement.step_problems(step, self.scope.inputs))  # type: ignore[arg-type]

    def _titles_what_follows(self, el: Element) -> bool:
        """Whether a numbered paragraph ("Step 1: Restart the exporter", "2.3 Reset the
        counters") is the title of the commands or list right after it, or a bold line with
        no full stop over paragraphs ("**Step 2: See what uses the space**"): what follows is
        the step, and a person's step of its words did the same work twice (a restart by
        hand, then the restart command). Over a sample of a file ("Step 2: Ensure the alert
        has a `team` label" above YAML) it is the step itself. A note between them ("> **Warning:**
        only do this with the customer's consent.") is said of the step: what follows the note
        is what the title is over."""
        k = el.index + 1
        while k < len(self.els) and self.els[k].kind == "quote" and \
                self.els[k].parent == el.parent and self.els[k].section == el.section:
            quote = self.els[k]
            k += 1
            while k < len(self.els) and self.els[k].span.start <= quote.span.end:
                k += 1  # (the note's own paragraphs)
        after = self.els[k] if k < len(self.els) else None
        if after is None or after.section != el.section or after.parent != el.parent:
            return False
        lines = [line for _, line in el.source_lines]
        if after.kind == "paragraph" and len(lines) == 1 and \
                _BOLD_TITLE.fullmatch(lines[0].strip()):
            return True  # (its paragraphs say what to do)
        return after.kind == "list_item" or after.kind == "table" and bool(after.command_cells) \
            or after.kind == "code" and blocks.read_block(after).cls in ("command", "query",
                                                                          "script", "plugin")

    def _reads_a_saved_file(self, parsed: Parsed) -> bool:
        """Whether a command names a file the guide tells a person to save from a block of
        its own ("Save the following as `fix.yaml`:", "Create a file named `x.conf` with the
        following content:" over the file's text)."""
        if not hasattr(self, "_saved"):
            self._saved: frozenset[str] = frozenset(
                name for el in self.els if el.kind in ("paragraph", "list_item")
                and (m := _SAVE_AS.search(el.text)) is not None
                and (name := m.group("name"))
                and any(e.kind == "code" and blocks.read_block(e).cls in ("config", "output",
                                                                          "other")
                        for e in self.els[el.index + 1:el.index + 3]))
        if not self._saved:
            return False
        words = (w.plain() for p in parsed.pipelines for stage in p.stages for w in stage
                 if w.is_literal)
        return any(w in self._saved or os.path.basename(w) in self._saved for w in words)

    def _manual(self, owner: int, cls: SectionClass, title: str, text: str, span: Span,
                pos: int, *, script: str | None = None) -> Action:
        params = {"script": literal(script)} if script is not None else {}
        return Action(self._id(owner, cls, title), StepKind.MANUAL, _short(title), text, span,
                      pos, cls, params=params)

    # -- names -------------------------------------------------------------------------

    def _title(self, owner: int, el: Element) -> str:
        container = self.els[owner]
        if container.kind == "list_item" and \
                not phrases.without_answer(container.text).strip(" .:*_") and \
                (asked := self._asked(container)) is not None and \
                (answer := phrases.answer_guard(container.text, asked)) is not None:
            # "- If yes:" over a block: the block is titled by the question it answers ("Is
            # `/var` more than 90% full? (yes)"), not "If yes" ("Approve: If yes")
            return f"{_short(asked)} ({'no' if answer.is_else else 'yes'})"
        if container.kind == "paragraph" and el.kind == "code" and \
                (said := phrases._sentences(container.text)) and len(said) > 1 and \
                said[-1].rstrip(" *_").endswith(":") and phrases.guard_of(said[-1]) and \
                any(inline_command(c) for c in _CODE.findall(" ".join(said[:-1]))):
            # "Read the speed setpoint (`mbpoll ... -1 host`). If it reads 0, write 450 mm/s:":
            # the case with the colon names the block; the first sentence is the read's own
            # step (the approval of the write read "Read the speed setpoint")
            return _short(said[-1])
        if container.kind in ("list_item", "heading", "paragraph") and container.text:
            return _short(container.text)
        return _short(el.text.split("\n")[0])

    _bases: dict[int, str]

    def _id(self, owner: int, cls: SectionClass, title: str) -> str:
        if not hasattr(self, "_bases"):
            self._bases = {}
            self._uses: dict[str, int] = {}
        base = self._bases.get(owner)
        named = self.els[owner].name if owner is not None and owner < len(self.els) else None
        if base is None and named:
            if named in self.ids:
                free = next(f"{named}-{n}" for n in range(2, len(self.ids) + 3)
                            if f"{named}-{n}" not in self.ids)
                raise ValidationError(
                    f"two steps are named {{#{named}}}", file=self.g.path,
                    line=self.els[owner].span.start,
                    hint=f"Give each step its own name: write {{#{free}}} here")
            self._bases[owner] = base = named
        if base is None:
            prefix = _PREFIX.get(cls, "step")
            self.counters[prefix] = self.counters.get(prefix, 0) + 1
            slug = _slug(title)
            base = f"{prefix}-{self.counters[prefix]}" + (f"-{slug}" if slug else "")
            self._bases[owner] = base
        n = self._uses.get(base, 0) + 1
        self._uses[base] = n
        sid = base if n == 1 else f"{base}-{n}"
        while sid in self.ids:
            n += 1
            sid = f"{base}-{n}"
        self.ids.add(sid)
        return sid


_PROMPT_MARK = re.compile(r"^\s*\$\s+")
_BOLD_TITLE = re.compile(r"(\*\*|__)(?:(?!\1).)*[^.!?:\s*_]\1")
"""A paragraph wholly in bold, with no full stop: a title (Confluence's and Notion's headings)."""
_PROMPTED = re.compile(r"^\s*\$\s+(\S.*)$")
# "Use `dd` to wipe the partitions. E.g.,": what follows is an example, not a step.
_GIVES_EXAMPLE = re.compile(r"\b(?:e\.g\.?|for example|for instance|example|ex\.)\s*[,:]?[\s*_]*$",
                            re.I)


_PROGRAM_PATH = re.compile(r"^(?:\./|~/|/usr/|/bin/|/sbin/|/opt/)\S")


# Tools that a sentence names with their arguments often enough (`ceph status`, `gpg -k x`,
# `telnet host 26257`) but that the block reader does not need to know by name. Task runners
# (`make drain NODE=x`, `just reboot node-3`, `rake db:migrate`) run a team's own targets: a
# command (gated: what a target does is unknown), never prose; so do `kubectx`/`kubens`.
_INLINE_TOOLS = frozenset("""ceph rados rbd radosgw-admin perf gpg dd dpkg telnet sysctl loginctl
nsenter modprobe pg_ctl python python3 patronictl gitlab-patronictl chef-server-ctl
packagecloud-ctl firewall-cmd tctl mkfs blkid fdisk parted sgdisk wipefs rpm zypper
make gmake just rake mage kubectx kubens""".split())


def _fill_in_first(nodes: list[Node]) -> None:
    """A command whose words still hold a value to fill in that no input could take (inside
    quotes or a script string: `curl "https://<cluster>/x"`, `set-hostname ...`, `[flags]`)
    becomes a person's step, who fills it in: it never runs with the placeholder as written.
    (A step that binds a value later steps read stays: they need it.)"""
    todo = list(nodes)  # (a loop, not recursion: an "Otherwise, if" chain nests deep)
    while todo:
        n = todo.pop()
        if isinstance(n, IfNode):
            todo.extend(n.then)
            todo.extend(n.else_ or [])
        elif isinstance(n, Fork):
            for branch in n.branches:
                todo.extend(branch)
        elif isinstance(n, Action) and n.kind == StepKind.COMMAND and n.bind is None and \
                "pipeline" in n.params and any(
                    placeholders.unfilled(str(w)) for stage in n.params["pipeline"]
                    for w in stage):
            n.kind, n.plugin, n.mutating, n.block = StepKind.MANUAL, None, False, None
            n.params = {"script": literal(n.text)}


# "Q: How do I see which jobs ran longest?", "Q: Will we ever remove data?": a how-to, or a
# question about the team's practice, not a case to decide
_HOW_TO = re.compile(r"(?i:^\W*(?:how|what|where|which|who|why|is there a way)\b|\b(?:we|us)\b)|"
                     r"\bI\b(?!/)")

def _asks_a_case(asked: str) -> bool:
    """Whether an FAQ entry's question names a case ("Pods stuck `Pending`?", "What if one
    partition lags?"), not how to do something ("How do I rotate the key?")."""
    return not _HOW_TO.search(asked) or phrases.question_case(asked)


def _faq_case(text: str) -> str | None:
    """The case an FAQ entry's heading asks about ("### Q: What if certbot hits a rate
    limit?"), if it names one."""
    asked = phrases.faq_question(text)
    return asked if asked is not None and _asks_a_case(asked) else None


# "If yes → Step 4, if no → Step 3." (an Azure TSG's answers, one sentence): each answer is
# its own guard (the second was part of the first's words, its jump lost, and that answer
# went on into the step after the question)
_ANSWERS_OPEN = re.compile(r"^[\W_]*if\s+(?:yes|no|not|so)\b", re.I)
_NEXT_ANSWER = re.compile(r"[,;]\s+(?=(?:and\s+|or\s+)?if\s+(?:yes|no|not|so)\b)", re.I)


def _both_answers(text: str, offsets: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """`offsets` with a sentence of answers cut at each answer after its first."""
    out: list[tuple[int, int]] = []
    for a, b in offsets:
        if not _ANSWERS_OPEN.match(text[a:b]):
            out.append((a, b))
            continue
        for m in _NEXT_ANSWER.finditer(text, a, b):
            out.append((a, m.start()))
            a = m.end()
        out.append((a, b))
    return out


# a checklist's column of boxes to tick ("OK?", "Done", "✓"), and the empty boxes in it
_TICK_COLUMN = re.compile(r"^\W*(?:ok|done|checked|tick|initials?|sign(?:ed)?|y/n|yes/no)\W*$|"
                          r"^[\s\u2713\u2714\u2610\u2611]+$", re.I)
_TICK_BOXES = frozenset({"", "\u2610", "\u25a1", "[ ]", "[]", "\u2751", "\u274f"})
# a procedure table's action cell: its words, then the one command ("Check the counter: `x`")
_LABELLED_CELL = re.compile(r"^\s*(?P<label>[^`|]{3,200}?)\s*(?::|\s[\u2014\u2013-])\s*"
                            r"`(?P<cmd>[^`]+)`\s*\.?\s*$")
_STEP_COLUMN = re.compile(r"^\W*(?:step|#|no|nr|n|num|number)\W*$", re.I)
# a procedure table's column of commands ("Command | Expected")
_COMMAND_COLUMN = re.compile(r"^\W*(?:commands?|cmd|run)\W*$", re.I)
_EXPECTED_COLUMN = re.compile(r"^\W*expected(?:\s+(?:result|output|value|response))?s?\W*$",
                              re.I)
# a procedure table's action column (a decision table's is `_ACTION_COLUMN` below, which
# this one once shadowed: "Instructions" and "To do" were no action column)
_STEP_ACTION_COLUMN = re.compile(r"^\W*(?:actions?|what to do|to do|do|instructions?|tasks?)\W*$",
                                 re.I)
# A flow table's outcome columns: "If OK | If not OK", "Yes | No", "Pass | Fail"
_OK_COLUMN = re.compile(r"^\W*(?:if\s+)?(?:ok|okay|yes|pass(?:ed|es)?|success(?:ful)?|healthy|"
                        r"good|it works|true)\W*$", re.I)
_NOT_OK_COLUMN = re.compile(r"^\W*(?:if\s+)?(?:not\s+ok(?:ay)?|nok|no|fail(?:ed|s)?|failure|"
                            r"unhealthy|bad|not|otherwise|else|it does(?:n't| not) work|false)"
                            r"\W*$", re.I)
# an outcome cell that only goes on to the next row
_GOES_ON_CELL = re.compile(r"^\W*(?:continue|next(?: step| row)?|go on|proceed|carry on|-+|n/?a)?"
                           r"\W*$", re.I)
# A row's label in a flow table's first column ("Q3", "A2", "R10"), and a cell naming one
_ROW_LABEL = re.compile(r"[A-Za-z]\d{1,3}")
_ROW_IN_CELL = re.compile(r"^\W*(?:(?:go|jump|skip|continue|proceed|return|back)\s+(?:on\s+)?"
                          r"(?:back\s+)?to\s+)?(?:row\s+)?(?P<label>[A-Za-z]\d{1,3})\W*$", re.I)
_QUESTION_COLUMN = re.compile(r"^\W*(?:questions?|ask)\W*$", re.I)
_STEP_IN_CELL = re.compile(r"^\W*(?:(?:go|jump|skip|continue|proceed|return|back)\s+(?:on\s+)?"
                           r"(?:back\s+)?to\s+)?(?:step\s*)?#?(?P<n>\d{1,3})\W*$", re.I)
# an HTML fold's opener or closer: `<details>`, `<summary>`, `</details>`
_FOLD = re.compile(r"</?\s*(?:details|summary)\b", re.I)
# what a failure case forbids: "do not reload", "don't restart the service"
_DO_NOT = re.compile(r"\b(?:do not|don't|never)\s+([a-z][a-z-]+)", re.I)
# a heading's words, past its number ("3. Replace the disk", "Step 4 — Restart")
_TITLE_WORD = re.compile(r"[a-z0-9][a-z0-9'-]*")
_NUMBERED_TITLE = re.compile(r"^\W*(?:step\s+)?\d+(?:\.\d+)*[.):]?\s*(?:[\u2014\u2013:-]\s*)?",
                             re.I)
_FILLER = frozenset("it them this that these those the a an now again first then".split())
# An action cell that says there is nothing to do ("| Node healthy again | `kubectl get nodes`
# | None |"): the case ends the run `no_action` (it was a person's step "None", and the run went
# on to the next section's reimage)
_NOTHING_CELL = re.compile(r"^\W*(?:none|nothing|no action|no fix|n/a|not needed|"
                           r"none needed|no change)\W*$|^\s*[\u2014\u2013-]\s*$", re.I)
_SAID_ENDING = {"resolved": "resolved", "done": "resolved", "fixed": "resolved",
                "mitigated": "mitigated", "stop": "resolved", "end": "resolved"}
# A decision table's columns: the case, and what to do in it; a column of checks to run first
# makes it a symptom table (its checks run, its actions are shown: `_inline`)
# what a check the guide ran answered ("| Verdict | Action |" over "`malicious` | Go to
# Contain", "| Result | Next step |", "| State | Fix |"): each row is the case that the answer
# is that value (the table was context for a reader, and the guide ran every section after it)
_VALUE_NAMES = (r"(?:(?:check|test|probe|scan|lookup|query|health|exit|command)\s+)?"
                r"(?:verdicts?|results?|outcomes?|status|states?|answers?|readings?|"
                r"responses?|findings?|classifications?|output)|health|phase")
_CODE_NAMES = (r"(?:(?:fault|error|alarm|event|status|exit|return|reason|diagnostic|dtc)\s+)?"
               r"(?:codes?|ids?|numbers?|no\.?)|faults?|alarms?|error codes?|"
               # a controller's event log ("Event | Title | Action": ABB's 50204, 20205)
               r"events?(?=\W*$)|"
               # a controller's numbered messages ("Message | Cause | Remedy": KUKA's KSS01805,
               # a PLC's message numbers)
               r"messages?(?:\s+(?:codes?|ids?|numbers?|no\.?))?(?=\W*$)|"
               # a machine's stated reason ("Hold reason | Action": PackML's hold and stop
               # reasons, a line's downtime reason codes)
               r"(?:hold|stop|stoppage|downtime|reject|trip|interlock)\s+reasons?|"
               # in a plant's own language: "Código | Descripción | Acción", "Codice allarme |
               # Descrizione | Azione", "Störung | Bedeutung | Maßnahme", "Code d'alarme"
               r"c[óo]digos?(?: de (?:alarma|error|fallo|falha|erro))?|"
               r"codic[ei](?: (?:di )?(?:allarme|errore))?|alarmas?|allarmi?|alarmes?|"
               r"fehlercodes?|fehlernummer|alarmnummer|st[öo]rung(?:scode|snummer)?|"
               r"codes? d['\u2019](?:alarme|erreur)|n[º°]\s*(?:de )?alarma")
_CONDITION_COLUMN = re.compile(r"^\W*(?:conditions?|when|if|symptoms?|situations?|cases?|"
                               r"scenarios?|triggers?|observed|observations?|signs?|"
                               r"indicators?|errors?|error messages?|"
                               r"(?:(?:if|when) )?you (?:see|observe|notice|get|find)|"
                               r"what you (?:see|observe|notice|get|find)|" + _CODE_NAMES +
                               r"|" + _VALUE_NAMES + r")\W*$", re.I)
# a column that says where to go ("Go to": "§2", "Section 3", "Clear a jam"), one of the
# action columns
_GO_TO_WORDS = r"go ?to|jump to|continue (?:at|with|in)|see"
_ACTION_COLUMN = re.compile(r"^\W*(?:actions?|mitigations?|fix(?:es)?|remed(?:y|ies|iation)|"
                            r"resolutions?|responses?|solutions?|workarounds?|what to do|"
                            r"do this|then|next steps?|recovery(?: steps?| actions?)?|"
                            r"corrective actions?|how to (?:fix|recover|resolve|clear)|"
                            + _GO_TO_WORDS + r"|acci[óo]n(?:es)?|azion[ei]|ma[ßs]nahmen?|"
                            r"a[çc][ãa]o|a[çc][õo]es|qu[ée] hacer|cosa fare|was (?:ist )?zu tun|"
                            r"que faire|o que fazer|abhilfe|soluci[óo]n|soluzione|rem[èe]de)\W*$",
                            re.I)
# A section that is the short version of the guide's steps, told again in full below it
_SHORT_VERSION = re.compile(r"^\W*(?:tl;?\s?dr|too long;? didn'?t read|at a glance|in short|"
                            r"(?:the )?short version)\W*$", re.I)
# A cell that only points to another part of the guide ("see *Collision recovery*", "→ §3")
_POINTS_TO = re.compile(r"^\W*?(?:see|go to|jump to|continue (?:at|with|in)|follow|proceed to|"
                        r"\u2192|->|=>|"
                        # "Ir a [Recuperación](#...)", "Vai a", "Vedi", "Voir", "Siehe", "Gehe zu"
                        r"ir a|ir para|vaya a|v[ée]ase|vai a|vedi|andare a|voir|allez [àa]|"
                        r"aller [àa]|siehe|gehe zu|weiter (?:mit|bei))\s*", re.I)
# an action cell that does something, then points on: "Close door 4B, then [Restart](#restart)"
_THEN_GO_CELL = re.compile(r"^(\S.*?)(?:,\s*|\s+)(?:and\s+)?then\s+(.+)$", re.I)
_GO_TO_COLUMN = re.compile(r"^\W*(?:" + _GO_TO_WORDS + r")\W*$", re.I)
# A fault-code table's key ("Code | Meaning | Recovery", "Alarm | Text | Action"): a row's
# case is the code the cell or device reports, named with its meaning.
# a bullet that only names a fault code or a state, in code or in bold with a number in it,
# with a few words of what it means ("`F10` – position lost", "**Event 16#02:4562 (cycle time
# exceeded)**", "**E-210**: encoder fault"; not a topic, "**Node health monitoring:**")
_CASE_LABEL = re.compile(r"(?:`[^`\n]+`|\*\*[^*\n]*\d[^*\n]*\*\*|__[^_\n]*\d[^_\n]*__)\s*"
                         r"(?:(?:[:\u2013\u2014-]|->|\u2192)\s*[^.;!?\n]{0,60}|\([^)\n]{0,60}\))?"
                         r"\s*:?")


def _one_value_or_another(nodes: list[Node]) -> list[Node]:
    """"**If** the state is `Held`:" over its steps, then "**If** the state is `Aborted`:" over
    its own (and "Otherwise, hand over ..."): one thing's values, so one case is taken, each the
    other side of the one before (the Aborted question was asked after the Held recovery, and
    its "Otherwise" ended that recovery escalated)."""
    out: list[Node] = []
    tail: IfNode | None = None  # the last case of the chain `out` ends with
    for node in nodes:
        prev = tail if tail is not None and out and isinstance(out[-1], IfNode) else \
            out[-1] if out else None
        if isinstance(node, IfNode) and isinstance(prev, IfNode) and prev.else_ is None and \
                not node.guard.is_else and not node.guard.alternative and \
                not prev.guard.is_else and not prev.guard.alternative and \
                not node.synthetic and not prev.synthetic and \
                phrases.other_value(prev.guard.text, node.guard.text):
            prev.else_ = [node]
            prev.else_text = f"Otherwise (not: {prev.guard.text})"
            tail = node
            continue
        out.append(node)
        tail = node if isinstance(node, IfNode) else None
    return out


def _names_a_case(item: Element) -> bool:
    """Whether a bullet, as written (its bold kept), only names a fault code or a state."""
    said = " ".join(line for _, line in item.source_lines) if item.source_lines else item.text
    said = re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", said).strip()
    return _CASE_LABEL.fullmatch(said) is not None


_CODE_COLUMN = re.compile(r"^\W*(?:" + _CODE_NAMES + r")\W*$", re.I)
_VALUE_COLUMN = re.compile(r"^\W*(?:" + _VALUE_NAMES + r")\W*$", re.I)
_CAUSE_COLUMN = re.compile(r"^\W*(?:(?:likely|probable|possible|root)\s+)?causes?\W*$", re.I)
_MEANING_COLUMN = re.compile(r"^\W*(?:meaning|description|(?:[\w-]+\s+)?(?:text|message|title)|"
                             r"cause|fault|descripci[óo]n|descrizione|beschreibung|"
                             r"descri[çc][ãa]o|significado|significato|bedeutung|signification|"
                             r"texto|testo|meldung(?:stext)?|texte)\W*$",
                             re.I)  # ("Popup text", "Alarm message")
_CHECK_COLUMN = re.compile(r"^\W*(?:checks?|verify|verification|diagnos\w*|how to check|"
                           r"commands?|query|queries|investigat\w*)\W*$", re.I)
_OTHERWISE_ROW = re.compile(rf"^\W*(?:{phrases.REST_OF_CASES})\W*$", re.I)


# "Save the following as `fix.yaml`:", "Create a file named `recovery.yaml` under ... with":
# a file a person makes from the block the words introduce
_SAVE_AS = re.compile(r"\b(?:save|store|write|put|paste|copy|create)\b[^.`]{0,60}?"
                      r"`(?P<name>[^`\s/]+\.[A-Za-z][A-Za-z0-9]{0,5})`", re.I)


def _numbered_on(rows: list[list[str]]) -> bool:
    """Whether a table's rows are numbered one after another: 1, 2, 3, or on from where the
    table before stopped (a Method of Procedure numbers its Execution table 4-8 after its
    Pre-checks 1-3; those rows were read as a list of checks and its change lost)."""
    numbers = [r[0].strip().rstrip(".)") if r else "" for r in rows]
    if not numbers or not numbers[0].isdigit():
        return False
    first = int(numbers[0])
    return first >= 1 and numbers == [str(n) for n in range(first, first + len(numbers))]


def _retitled(nodes: list[Node], title: str) -> list[Node]:
    """`nodes`, each step titled `title` in place: a session's reader holds its steps (the
    opener's step a later line runs as, the person's step later lines join), and a copy so
    titled left the step it went on changing out of the plan (a MOP table's `show bgp
    summary` after its `ssh` row was lost)."""
    for n in nodes:
        if isinstance(n, Action):
            n.title = title
    return nodes


def _row_title(table: Element, code: str) -> str | None:
    """A checks table's row named for its command step: the row's name ("Proxy pods ready")
    and what the guide expects of it ("expected: all `Running`"), which were lost (each step
    of a table was titled with its section, the Expected column nowhere in the plan)."""
    rows = table.cells
    head = [c.replace("*", "").strip() for c in rows[0]] if rows else []
    row = next((r for r in rows[1:] if f"`{code}`" in r), None)
    if row is None:
        return None
    expected = [k for k, h in enumerate(head) if _EXPECTED_COLUMN.match(h)]
    name = next((c.strip() for k, c in enumerate(row) if k not in expected and c.strip()
                 and "`" not in c and not (k < len(head) and _STEP_COLUMN.match(head[k]))),
                None)
    wants = [row[k].strip() for k in expected if k < len(row) and row[k].strip()]
    if name is None and not wants:
        return None
    title = " ".join([_short(name or code)] + [f"(expected {w})" for w in wants])
    return title if len(title) <= 100 else title[:99].rstrip() + "…"


def _all_commands(lines: list[str]) -> bool:
    """Whether every line starts a command or continues the one before it (after a `\\`)."""
    going_on = False
    for line in lines:
        said = re.sub(r"\s+#\s.*$", "", line).rstrip()
        if said.endswith((".", ":")) or _prose_words(said) or \
                not going_on and not inline_command(said):
            return False
        going_on = line.rstrip().endswith("\\") and not re.search(r"\s#\s", line)
    return not going_on


# "Run: CMD", "Execute: CMD", "Command: CMD" on a line of its own (after a list's number)
_RUN_LABEL = re.compile(r"^\s*(?:[-*+]\s+|\d{1,3}[.)]\s+)?(?:run|execute|command|type)\s*:\s*"
                        r"(?P<cmd>[^`\s][^`]*?)\s*$", re.I)
# words of a sentence, never of a command's arguments ("kubectl get pods and look at ...")
_FUNCTION_WORD = re.compile(r"\s(?:and|then|to|the|a|an|if|for|with|at|on|of|whether|look|"
                            r"see|check|your|you|it|this|that)(?:\s|$)", re.I)


_EXAMPLE_FOLLOWS = re.compile(r"(?:\be\.\s?g\.|\bfor example|\bfor instance|\blike this)\s*,?$",
                              re.I)


def inline_command(code: str) -> bool:
    """An inline code span that is a command: two words or more, after an optional `$ `
    prompt, starting with a known tool (the block reader's recogniser, or a tool prose names
    with its arguments), `sudo` (which only ever runs a program) or a program's path
    (`./bin/x`, `/opt/chef/bin/chef-client`)."""
    line = _PROMPT_MARK.sub("", code).strip()
    words = line.split()
    return len(words) >= 2 and (looks_like_command(line) or words[0] in _INLINE_TOOLS or
                                words[0] == "sudo" or bool(_PROGRAM_PATH.match(words[0])))


# A program and its words as a command line shows them: the name lower case, no sentence. Not
# a chat's slash command (`/pd ack`, `/deploy rollback api`): a root path names no program.
_ARGV_WORDS = re.compile(r"^(?:\./|/(?=[\w.+-]+/))?[a-z][\w.+/-]*(?:\s+[^\s,;!?]+)+$")
_CHECKBOX_MARK = re.compile(r"^\s*\[[ xX]\]\s*")
# "Renew the cert: `certbot renew --cert-name site`": a title, a colon, one code span, nothing
# after it (one pattern, its code compared after: not a pattern made per code span). The title
# may hold a value in code where a case opens it ("If the state is `off`, power it on: `...`")
_TITLED_CODE = re.compile(r"^[\W\d]*(?P<lead>(?:[^`:]|`[^`:]{1,20}`){1,60}:)\s*`(?P<code>[^`]*)`"
                          r"[\s.]*$")
_SCRIPT_NAME = re.compile(r"^(?:\.{0,2}/)?[\w.+-]+(?:/[\w.+-]+)*\.(?:sh|bash|py|rb|pl)$")


def _argv_of_words(code: str, words: list[str]) -> bool:
    """A program and its arguments as a command line shows them, no English among them
    ("Run `rndc retransfer corp.example`.": a tool no table knows, run with a subcommand and
    a name; it was context for a reader, and the transfer was nowhere in the plan)."""
    return len(words) <= 8 and bool(_ARGV_WORDS.match(code)) and \
        not any(w.lower() in _ENGLISH for w in words) and \
        bool(re.fullmatch(r"[a-z][\w.+-]*", words[0])) and \
        bool(re.fullmatch(r"[a-z][\w-]*", words[1]))


def _with_options(words: list[str]) -> bool:
    """A program's name, then an option among its words (`crontab -l -u app`)."""
    return bool(re.fullmatch(r"[a-z][\w.+-]*", words[0])) and \
        any(re.match(r"--?[A-Za-z]", w) for w in words[1:])


# "Confirm that all processes are GREEN with `x`", "Verify with `y`": the check is made by
# running the program the sentence names (it was only shown, a person's step with no script)
_CHECK_WITH = (r"(?:^|[.!?;:]\s+)\W*(?:then\s+)?(?:confirm|verify|check|make sure|ensure|"
               r"validate)\b[^`.;]{0,80}?\b(?:with|using|by running)")


def _checked_with(code: str, words: list[str], text: str) -> bool:
    """A program's command line the sentence checks with ("; check with `storcli64 /c0 /e252
    /s3 show rebuild`", "Then verify with `kdumpctl status`"): whatever its arguments look like
    (a controller's `/c0`), the check is made by running it (it was context for a reader, and
    the check nowhere in the plan)."""
    return len(words) <= 8 and bool(_ARGV_WORDS.match(code)) and \
        not any(w.lower() in _ENGLISH for w in words) and \
        re.search(rf"{_CHECK_WITH}\s+`{re.escape(code)}`", text, re.I | re.M) is not None


def _run_word(code: str, text: str, block: str = "") -> bool:
    """A program the sentence says to run, right after "run"/"execute" ("Run `uptime`.", "by
    running `kafka-topics.sh --describe`"): a command, though `inline_command` knows neither a
    one-word program from a name nor a script it has no table for. One word must be a known
    program; more, the first must be a script's file name (`*.sh`, `*.py`, ...) or a program's
    name with an option after it (`crontab -l -u app`); the effects classifier then decides
    whether it changes anything: an unknown program is gated. Not
    when the words name the command of the `block` right after them ("Run `ls` on the host"
    over `ls /var/test`) or introduce one ("Run `date` command:")."""
    words = code.split()
    titled = _TITLED_CODE.match(_CHECKBOX_MARK.sub("", text.replace("**", "")))
    if titled and titled.group("code") != code:
        titled = None
    if titled and len(words) > 1 and _ARGV_WORDS.match(code) and \
            phrases.titled_step(titled.group("lead")):
        # "Renew the cert: `certbot renew --cert-name site`", "Resume the cell: `cellctl
        # resume`": the step's command, whatever the tool (gated unless known to only read)
        return True
    if not words or (not looks_like_command(words[0]) if len(words) == 1 else
                     not (_SCRIPT_NAME.match(words[0]) or _with_options(words) or
                          _argv_of_words(code, words) and re.search(
                              rf"(?:^|[.:;!?,]\s+|\b(?:then|next|finally|first|now|and|"
                              rf"please),?\s+)(?:run|execute)\s+`{re.escape(code)}`",
                              text, re.I | re.M) or _checked_with(code, words, text))):
        return False  # (a program no table knows: only where the guide says to run it)
    m = re.search(rf"(?:\b(?:run|running|execute|executing)|{_CHECK_WITH})\s+"
                  rf"`{re.escape(code)}`(\s*command)?(\s*:)?", text, re.I)
    # "Run `date` command:" and "Run `ls` on the host" over a block name the block's command
    return m is not None and not m.group(2) and not text.rstrip(" *_").endswith(":") and \
        re.search(rf"(?m)^\s*(?:\$\s*)?(?:sudo\s+(?:-\w+\s+)*)?{re.escape(words[0])}\b",
                  f"{text}\n{block}") is None


_CAUTION = re.compile(r"\W*(?:warning|caution|danger|important|careful)\b", re.I)
"""A note that warns: "> **Warning:** ...", "> [!CAUTION]", "> Careful: ..."."""
_HANDS_OVER = re.compile(
    r"\W*(?:(?:then|finally|lastly),?\s+)?(?:escalat|page\b|call\b|contact\b|hand (?:it )?over\b|"
    r"open an? (?:p\d|sev|incident|ticket|support|case)|raise an? (?:p\d|sev|incident)|declare\b|"
    r"engage\b|notify\b|inform\b|reach out\b)", re.I)
"""A step that opens by handing the incident over: "Escalate to ...", "Page the on-call"."""
_CONTACT_HEADING = re.compile(r"^\s*(?:escalation(?:s| path| policy| contacts?| procedure)?|"
                              r"escalate|when to escalate|how to escalate|who to (?:contact|page)|"
                              r"contacts?)\s*:?\s*$", re.I)
_PROSE_WORD = re.compile(r"^[A-Za-z][\w-]*[,:]$|^%[sd]$")


# Words of English in a span: a message or a phrase (`no free executors`), not a command line
_ENGLISH = frozenset("""the a an to is are of and in for with this that be will it on not no
was were has have from by as or when all""".split())


def _prose_words(line: str) -> bool:
    """A span that reads as words, not a command line: a word ending with ',' or ':' ("file
    write stall detected: %s", "rbd map, rbd unmap, mkfs") or a printf mark. Kept, not run."""
    return any(_PROSE_WORD.match(w) for w in line.split())


_SENTENCE_END = re.compile(r"(?<=[.!?:])\s+(?=[A-Z`*\[(])|\n\s*\n|"
                           r"[ \t]*\n\s*(?=[\[*_`\"(]*[A-Z])")  # an item's next paragraph
_CODE = re.compile(r"`([^`]+)`")
# "..., then run `x`", "... and then `y`": one instruction after another in one sentence
_THEN_NEXT = re.compile(r"\s*(?:,|;|\band)\s+then\b\s*|,\s*(?=then\s)|\s+then\s+(?=run\b)", re.I)
_OR_NEXT = re.compile(r"`([^`]+)`(?=\s*,?\s+or\s+`([^`]+)`)")
_ABBREVIATED = re.compile(r"\b(?:e\.g|i\.e|etc|vs|cf|ex)\.$", re.I)


def _sentences_of(text: str) -> dict[str, tuple[str, str]]:
    """Each code span of `text` -> the first sentence that holds it, and the words it follows
    when they end with ':' ("Reload patroni: `x`"), else "" (one pass over the text). "e.g."
    does not end a sentence: what follows it is the example it gives."""
    out: dict[str, tuple[str, str]] = {}
    parts = [piece for part in _SENTENCE_END.split(text)
             for piece in phrases.ABORT_AFTER_CODE.split(part)]  # "`x` Abort if Y": two
    merged: list[str] = []
    for part in parts:
        if merged and _ABBREVIATED.search(merged[-1]):
            merged[-1] = f"{merged[-1]} {part}"
        else:
            merged.append(part)
    lead = ""
    for sentence in merged:
        for m in _CODE.finditer(sentence):
            out.setdefault(m.group(1), (sentence, lead))
        lead = sentence if sentence.rstrip(" *_").endswith(":") else ""
    return out


def _alternatives(text: str) -> set[str]:
    """Code spans offered as alternatives ("`pidstat 1` or `top -H`"): a person chooses."""
    out: set[str] = set()
    for m in _OR_NEXT.finditer(text):
        out.update((m.group(1), m.group(2)))
    return out


def _fragments(commands: list[str]) -> set[str]:
    """Spans that only begin a longer span of the same text (sorted: a span's extensions
    follow it)."""
    ordered = sorted(set(commands))
    return {c for c, nxt in zip(ordered, ordered[1:]) if nxt.startswith(c + " ")}


_BUILTINS = frozenset("""export alias unalias source . set unset ulimit eval shopt declare local
readonly pushd popd umask trap""".split())


_CHANGES_DIRECTORY = re.compile(r"(?:^|&&|;|\|\|)\s*(?:sudo\s+)?(?:cd|pushd|popd)(?:\s|$)")


def _directory(parsed: Parsed) -> str | None:
    """DIR of a line that is only `cd DIR`, DIR a path as written (not `~`, `-`, a variable or
    a placeholder): None for any other line."""
    if len(parsed.pipelines) != 1 or len(parsed.pipelines[0].stages) != 1:
        return None
    stage = parsed.pipelines[0].stages[0]
    if len(stage) != 2 or stage[0].plain() != "cd" or not stage[1].is_literal:
        return None
    target = stage[1].plain()
    if not target or target == "-" or target[0] in "~$<{" or placeholders.find(target):
        return None
    return target


def _shell_builtin(pipeline: Pipeline) -> bool:
    """Whether a pipeline's program is a shell builtin: no program of that name runs it."""
    return any(stage and stage[0].plain() in _BUILTINS for stage in pipeline.stages)


def _judged(word: Word) -> str:
    """A word as the read-only table sees it: a `$VAR` or `<placeholder>` is a value."""
    return word.plain() if word.is_literal else Templated(word.plain())


def _conclusion(text: str, limit: int = 100) -> str:
    """What an ending says, as its step's title: 'the new version causes the errors:
    escalate to the deploy owner' (code spans and the leading comma dropped)."""
    words = re.sub(r"\s*\(`[^`]*`\)|`[^`]*`", "", text)
    sentences = [" ".join(part.split()).strip(" ,.:;") for part in
                 re.split(r"(?<=[.!?])\s+|\n+|:\s+(?=Then\b)", words)]
    sentences = [x for x in sentences if x]
    if not sentences:
        return ""
    said = next((x for x in sentences if phrases.outcome_of(x)), sentences[0])
    said = re.sub(r"^(?:otherwise|else|then)\b[\s,:]*", "", said, flags=re.I)
    if not said:
        return ""
    said = said[0].upper() + said[1:]
    return said if len(said) <= limit else said[: limit - 1].rstrip() + "…"


# "If it does not, ...", "If not, ...": the other side of the check just stated
_REFERS_BACK = re.compile(r"^(?:if|when|in case)\s+(?:not\b|(?:it|this|that|the output|the "
                          r"command|the check|the result)\s+(?:does not|doesn't|did not|didn't|"
                          r"is not|isn't|fails?)\b)", re.I)
_CHECK_FAILS = "If the output does not contain `"  # the guard of `Outline._expectation`
# An answer heading: "Yes", "If yes", "No.", "If no:"
_BARE_ANSWER = re.compile(r"^(?:if\s+)?(yes|no)\s*[.:!]?$", re.I)
# "... and confirm:", "Check that:", "Make sure:" over a list of what should hold
_CONFIRM_THESE = re.compile(r"\b(?:confirm|verify|check|ensure|make sure)(?: that)?\s*:\s*$",
                            re.I)


def _fold_into_check(nodes: list[Node], guard: Guard, then: list[Node]) -> bool:
    """"Verify the cycle resumes: `x` shows `RUNNING`. If it does not, stop the cell and call
    maintenance.": what to do when the check just made fails is that check's failing side, in
    place of its hand-over (it was a second question, asked only once the check had passed).
    Returns whether `then` went there."""
    last = nodes[-1] if nodes else None
    if not _REFERS_BACK.match(guard.text) or not isinstance(last, IfNode) or \
            last.else_ is not None or not last.guard.text.startswith(_CHECK_FAILS):
        return False
    last.then = then  # ("If not, restart it": the run goes on after, as any guard's does)
    return True


def _units(found: list[Node]) -> list[list[Node]]:
    """`found` cut where each action starts: an action and what belongs to it (its check)."""
    units: list[list[Node]] = []
    for n in found:
        if isinstance(n, Action) or not units:
            units.append([n])
        else:
            units[-1].append(n)
    return units


def _said_in(node: Node, text: str) -> bool:
    """Whether an inline command or guide call of a paragraph is said in `text`, a part of it."""
    if not isinstance(node, Action):
        return False
    if node.kind == StepKind.CALL:
        return node.title.removeprefix("Run guide: ") in text
    # a command typed in an open session says the session's opener first ("ssh runner-3\n
    # sudo rm -rf ..."): the paragraph said its own line (it was put before the guard, and
    # the deletion was done whatever the disk held)
    return node.text in text or "\n" in node.text and node.text.rsplit("\n", 1)[1] in text


def _said_only_in(nodes: list[Node], text: str | None, not_in: str) -> list[Action]:
    """The inline commands of `nodes` said in `text` (an item's "Otherwise ..."), not in
    `not_in` (its own case's words)."""
    return [n for n in nodes if isinstance(n, Action) and text and _said_in(n, text) and
            not _said_in(n, not_in)]


_POINTER = re.compile(r"^\W*(?:see|refer|read|learn|consult|check out)\b", re.I)


def _says_to_do(sentence: str) -> bool:
    """Whether a sentence after a case's finding is what to do about it: an instruction the
    verb lists know ("Restart the broker."), or a short one shaped so ("Re-issue it."); not a
    description that opens with a verb form ("Removing a node prevents ...", "Notice that
    the conditions are evaluated on a schedule")."""
    words = sentence.split()
    if not words or _POINTER.match(sentence):
        return False  # "See these docs for details.": where to read more, nothing to do
    return phrases.is_instruction_only(sentence) or \
        len(words) <= 6 and phrases.tells_to_act(sentence) and \
        not words[0].lower().endswith("ing")


def _goes_on(consequent: str) -> bool:
    """"continue with the steps below": the guide's words for the other side of an If."""
    return phrases.goes_on(consequent)


def _asks_someone(consequent: str) -> bool:
    """Whether what a guard says is an instruction, or a finding then one after a colon ("the
    conveyor is jammed: clear it by hand"); not what happens ("then X may be slow")."""
    return phrases.tells_to_act(consequent) or ":" in consequent and \
        phrases.tells_to_act(consequent.split(":", 1)[1])


def _consequent(text: str, guard: Guard) -> str:
    """What a guard's sentence says to do: 'If the pod is stuck, delete it.' -> 'delete it.'"""
    plain = text.replace("**", "").replace("__", "")
    at = plain.find(guard.text)
    rest = plain[at + len(guard.text):] if at >= 0 else \
        case[1] if (case := phrases.answer_case(plain)) is not None else \
        phrases.without_answer(plain)  # ("If no, and the primary is down, escalate.")
    rest = re.sub(r"^(?:[\s,:;\u2192\u21d2]|->|=>)*(?:then\b[\s,]*)?", "", rest).strip()
    said = re.sub(r"^(?:otherwise|else)\b\s*", "", guard.text, flags=re.I).strip()
    if not rest.strip(" .!") and guard.is_else and said != guard.text and \
            phrases.outcome_of(said):  # "Otherwise the incident is resolved.": its ending
        return said
    return rest


def question_answered(guide: Guide, el: Element, sentence: str | None = None) -> str | None:
    """The question `el` (or its `sentence`) answers ("If no → Step 2", "**No**: escalate"):
    the nearest one asked before it in its section, or None when it is no answer."""
    if not phrases.answers(el.text if sentence is None else sentence):
        return None
    for k in range(el.index - 1, -1, -1):
        up = guide.elements[k]
        if up.section != el.section or up.kind == "heading":
            return None
        asked = phrases.lead_question(up.text) if up.kind in ("paragraph", "list_item") \
            else None
        if asked is not None:
            return asked
    return None


def titled_places(guide: Guide) -> list[Element]:
    """What a jump may name by its title ("go to Recovery", "go to Step C"): the headings, and
    the paragraphs that open a lettered step ("**Step C — Check the partitions**"; the jump
    landed nowhere, a person's "go to Step C" step, and the run went on into Step B)."""
    return [el for el in guide.elements if el.kind == "heading" or
            el.kind == "paragraph" and phrases.lettered_step(el.text)]


def _does_in_case(text: str, guard: Guard, said: str) -> bool:
    """Whether the case `said` (the last of an item's `text`) says what to do in it right
    after its condition ("Still growing? Purge the queue:", "If so, purge it:"): what the item
    introduces is for that case. Not a finding ("If X was used, ClickHouse may count slowly.
    ... run the following query:" introduces the check of X), nor a case said in passing, in
    brackets ("Confirm it (if X, this error shows):"), nor one after a sentence that names the
    block itself ("The following command finds the pod. However, if you know it, ...:")."""
    before = text[:text.find(said)]
    if before.count("(") > before.count(")") or re.search(r"\b(?:the following|below)\b",
                                                          before, re.I):
        return False
    rest = _consequent(said, guard)
    if not rest.strip(" :*_"):
        return True  # "Check if only a few ingesters have it. If so:": what follows is the case's
    offsets = phrases.sentence_offsets(rest)
    first = rest[offsets[0][0]:offsets[0][1]] if offsets else ""
    # (a finding says what is so, not what to do: "the process is terminated and this
    # message is written:" introduces what is written)
    return bool(first) and phrases.is_instruction(first) and (
        not phrases.is_finding(first) or phrases.is_instruction_only(first))


_ELSE_LEAD = re.compile(r"^\W*(?:otherwise|else|if not)\b[\s,]*", re.I)


def _split_otherwise(text: str) -> tuple[str, str | None]:
    """'..., the issue is mitigated. Otherwise, escalate.' -> (then part, else part)."""
    # (an item's "..., restart the consumer:" over its block, then "Otherwise, escalate." in a
    # paragraph of its own: the colon ends the then part too)
    m = re.search(r"(?:(?<=[.;!])\s+|(?<=:)\s*\n\s*)(?=(?:Otherwise|Else|If not)\b)", text)
    return (text[: m.start()], text[m.end():]) if m else (text, None)


def _commented_conditions(lines: list[blocks.CommandLine], nodes: list[Node],
                          pos: int) -> list[Node]:
    """A command whose trailing comment says when to run it (`systemctl reload nginx  # do
    not run in prod`, `nginx -t  # optional`, `find ... -delete  # only on staging`): a
    decision on that condition, the step skipped otherwise. It ran whatever the comment said
    (and a script step lost the comment), or a declined gate escalated an optional step."""
    out = list(nodes)
    for line in lines:
        cond = phrases.comment_condition(line.text)
        if cond is None:
            continue
        mine = [n for n in out if isinstance(n, Action) and n.kind == StepKind.COMMAND and
                n.span.end == line.end and n.span.start <= line.start]
        if not mine:
            continue
        at = next(k for k, n in enumerate(out) if n is mine[0])
        out = [n for n in out if not any(n is m for m in mine)]
        out.insert(at, IfNode(Guard(text=cond), list(mine),
                              Span(start=line.start, end=line.end), pos))
    return out


# A known problem's labels: "**Check:** `free -m`" then "**Fix:** `sudo systemctl restart app`"
_CHECK_LABEL = re.compile(r"^\W*(?:check|diagnos[ei]s?|diagnose|verify|test|confirm|detect|"
                          r"how to (?:check|tell|confirm))\s*[:\u2013\u2014-]", re.I)
_FIX_LABEL = re.compile(r"^\W*(?:fix|resolution|resolve|remedy|solution|workaround|mitigation|"
                        r"mitigate|action|how to fix)\s*[:\u2013\u2014-]", re.I)
# A comment line of a block that says when the lines under it run: "# if a pod is in
# CrashLoopBackOff, delete it:", "# otherwise just restart the deployment", "# only on the
# primary:" (not shell syntax: "# if [ -f x ]; then" typed at a root prompt)
_GUARD_COMMENT = re.compile(r"^\s*#+\s*(?P<c>(?:if|when|only if|unless|otherwise|else|in case)\b"
                            r"[^`;\[\]]*)$", re.I)


def _guard_comments(el: Element, nodes: list[Node]) -> list[Node]:
    """The commands of a block under a comment that says when they run ("# if a pod is in
    CrashLoopBackOff, delete it:" over `kubectl delete pod ...`, then "# otherwise just
    restart the deployment" over the restart), up to the next comment or blank line: a
    decision on that condition, "otherwise" its other side. Both ran in turn (each approved
    on its own, the approval never saying when it was meant for)."""
    first = el.span.start + 1 if el.fenced else el.span.start
    marks: list[tuple[int, Guard | None]] = []
    for i, raw in enumerate(el.text.split("\n")):
        m = _GUARD_COMMENT.match(raw)
        if m is not None:
            words = m.group("c").strip()
            marks.append((first + i, phrases.guard_of(words) or Guard(
                text=words.rstrip(" :"), is_else=bool(re.match(r"(?i)otherwise|else", words)))))
        elif not raw.strip() or raw.lstrip().startswith("#"):
            marks.append((first + i, None))
    scopes = [(at, next((b for b, _ in marks if b > at), el.span.end + 1), g)
              for at, g in marks if g is not None]
    if not scopes:
        return nodes
    out: list[Node] = []
    made: dict[int, list[Node]] = {}  # a scope's start line -> the side its nodes go to
    last: IfNode | None = None
    for n in nodes:
        start = getattr(n, "span", None)
        scope = next((sc for sc in scopes if start is not None and sc[0] < start.start < sc[1]),
                     None)
        if scope is None:
            out.append(n)
            last = None
            continue
        at, _, guard = scope
        if at in made:
            made[at].append(n)
            continue
        if guard.is_else and last is not None and last.else_ is None and out and \
                out[-1] is last:
            last.else_, last.else_text = [n], guard.text  # "# otherwise ..."
            made[at] = last.else_
            continue
        last = IfNode(guard, [n], Span(start=at, end=at), el.index)
        made[at] = last.then
        out.append(last)
    return out


def _names_a_command(el: Element) -> bool:
    """Whether an element is a code block or names a command inline."""
    return el.kind == "code" or any(looks_like_command(c) for c in el.inline_code)


# What says only "the block below" ("execute the following command", "run this"): no title
_RUN_THIS = re.compile(r"^(?:then\s+|just\s+)?(?:run|execute|type|enter|use|do)\b[\w ]{0,30}?"
                       r"\b(?:following|this|these|below|command|commands)\W*$", re.I)


def _has_action(nodes: list[Node]) -> bool:
    todo = list(nodes)  # a loop, not recursion: "Otherwise, if" chains nest without bound
    while todo:
        n = todo.pop()
        if isinstance(n, Action) and not n.prose:
            return True
        if isinstance(n, IfNode):
            todo.extend(n.then)
            todo.extend(n.else_ or [])
        elif isinstance(n, Fork):
            todo.extend(x for branch in n.branches for x in branch)
    return False


_ANSWER_LABEL = re.compile(r"^(?:A|Answer)\s*[:.)]\s+(?=\S)")
# "1. Check the queue" as a heading's words: the number is no sentence of its own (the title
# of every step under "## 1. Check the webhook queue" was "1")
_HEADING_NUMBER = re.compile(r"^[0-9]{1,3}\.[ \t]+(?=\S)")
_FIRST_SENTENCE_END = re.compile(r"(?<=[.:!?])\s|:\s*$|\n")
_CODE_SPAN = re.compile(r"`([^`]*)`")
_BLANK = re.compile(r"\s")
_WORD = re.compile(r"[a-z0-9]+")


def _short(text: str, limit: int = 80) -> str:
    text = text.replace("**", "").strip()
    text = _ANSWER_LABEL.sub("", text, count=1)  # an FAQ's "A: Check ...": its words
    number = phrases.step_number_prefix(text)  # "ii. Check ...", "Step 2: Check ...": its words
    if not number and (m := _HEADING_NUMBER.match(text)) is not None:
        number = m.group(0)  # a heading's "1. Check ..." (a list's marker anywhere else)
    first = number + _FIRST_SENTENCE_END.split(text[len(number):], maxsplit=1)[0].rstrip(":. ")
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"


def _slug(text: str, words: int = 4) -> str:
    if "`" in text:  # (a title with no code span is its own words: read once, not twice)
        prose = _CODE_SPAN.sub(lambda m: " " if _BLANK.search(m.group(1)) else m.group(1),
                               text)  # drop a quoted command, keep a quoted identifier
        if len(_WORD.findall(prose.lower())) >= 2:
            text = prose  # name the step by its words, not by the command quoted in them
        text = text.replace("`", "")
    tokens = [t for t in _WORD.findall(text.lower()) if t not in _STOP]
    return "-".join(tokens[:words])[:40].strip("-")


def _value_in_code(argv: list[str]) -> bool:
    """Whether a template in `argv` sits where a value would be code (`placement`)."""
    return any(is_template(word) for word in argv) and \
        any(sink in ("program", "script") and is_template(word)
            for word, sink in zip(argv, placement.argv_sinks(argv)))


def _shell_params(argv: list[list[str]]) -> dict[str, object]:
    """A shell step's parameters; a tool whose "no" is an exit status (grep 1, systemctl
    is-active 3) accepts it, so that a check that finds nothing is evidence, not a failure."""
    codes = exits.ok_exit_codes(argv)
    return {"pipeline": argv, **({"ok_exit_codes": codes} if codes else {})}
