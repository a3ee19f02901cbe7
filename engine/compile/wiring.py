"""Outline -> steps and edges: sequence, fan-out/join, branches, approvals, jumps, ends.

This module owns the control flow of a compiled plan. Read-only diagnostics with no data
dependency fan out from the previous step and join after; a step that reads a var waits for the
step that binds it; a mutating step is gated by an `approve` step whose denial (and the step's
own failure) leads to `end-escalate`; every guard becomes a `decide` step with a `branch` edge
and an `else` edge, so that exactly one side is taken; a jump is a `decide` branch whose edge
targets the step its anchor or step number names. It does not read the guide's text
(`engine.compile.outline`) nor check the result (`engine.compile.validate`).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Any

from engine.compile.nodes import REPEAT_STEP, Action
from engine.compile.outline import (
    _BOLD_TITLE,
    ENDING_POS,
    EndNode,
    Fork,
    IfNode,
    JumpNode,
    Node,
    _slug,
    titled_places,
)
from engine.compile.phrases import (
    Guard,
    JumpRef,
    derive_condition,
    fold_title,
    is_rollback,
    may_fail,
    negate,
    numbered_title,
    step_label,
    step_number,
    title_key,
    titled_heading,
)
from engine.errors import ValidationError
from engine.guide import Element, Guide, slugify
from engine.plan import Condition, Edge, OnError, Outcome, Span, Step, StepKind

_PARALLEL_KINDS = (StepKind.COMMAND, StepKind.QUERY)
# Plugins whose steps leave `stdout` and `exit_code` in memory: a condition on what the
# command printed ("If nothing is returned") reads them (a shell line run by bash too).
_OUTPUT_PLUGINS = frozenset({"shell", "bash"})
# "If step 2 fails, escalate": a guard on a numbered step's failure (its number, as the list
# or the guide's "Step N" headings give it).
_STEP_N_FAILS = re.compile(
    r"\bsteps?\s+#?(\d{1,3})\s+(?:fails|failed|returns an error|errors(?: out)?|"
    r"(?:does not|doesn't|did not|didn't) succeed|exits? (?:with an error|non-?zero))\b", re.I)


def _loose(anchor: str) -> str:
    return re.sub(r"[^a-z0-9]", "", anchor.lower())


@dataclass(frozen=True)
class Pending:
    """An edge waiting for its target."""

    source: str
    cond: Condition | None = None
    on: str = "success"
    kind: str = "next"


def _names_step(words: str, step: Action | None) -> bool:
    """Whether a condition names a step's program or subcommand ("If the describe shows")."""
    if step is None or not isinstance(pipeline := step.params.get("pipeline"), list) or \
            not pipeline or not isinstance(pipeline[0], list):
        return False
    said = {w.lower() for w in re.findall(r"[A-Za-z][\w-]{3,}", words)}
    return any(isinstance(w, str) and not w.startswith("-") and w.lower() in said
               for w in pipeline[0][:3])


# "skip to Phase 3", "continue with Phase 2": the place every case comes to in the end (what is
# skipped leads there too), not one case's own section
_JOINS = re.compile(r"\b(?:skip(?:ping)?|continue|carry on|resume)\b", re.I)


def _joins(ref: JumpRef) -> bool:
    """Whether a jump's words skip ahead or go on ("skip to Phase 3", "continue with step
    5"), the title they name aside ("go to *Skip the duplicate*" routes to its section)."""
    said = ref.sentence
    if ref.kind in ("title", "heading"):
        said = re.sub(re.escape(ref.value.rstrip(". ")), " ", said, flags=re.I)
    return _JOINS.search(said) is not None


class Wiring:
    def __init__(self, guide: Guide, items_by_heading: dict[int | None, list[Element]]) -> None:
        self.guide = guide
        self.items_by_heading = items_by_heading
        self.steps: dict[str, dict[str, Any]] = {}
        self.edges: list[Edge] = []
        self.jumps: list[tuple[Pending, JumpNode]] = []
        self.entries: list[tuple[int, int, str]] = []  # (element index, order, step id)
        self.last_exec: Action | None = None
        self.escalate_span: Span | None = None
        self.escalate_text = "A person declined or a change failed: hand over to a person"
        self._titled_ends: dict[tuple[str, str | None], str] = {}  # (end id, its title) -> id
        self._next_suffix: dict[str, int] = {}
        self._heading_by_words: dict[str, Element | None] = {}
        self._item_positions: dict[int | None, list[int]] = {}
        self._depth = 0  # > 0 inside a branch: a path that stops there strands nothing
        self._targets: list[int] | None = None  # element indices that some jump lands on
        self._reached: set[int] = set()  # ... and those of unconditional jumps too
        # sections that cases of one decision route to: (their headings, where the run goes
        # on after the last of them), see `_alternatives`
        self._routed: list[tuple[list[int], int | None, IfNode | None]] = []
        # the guide's own escalations so far: (the edges into it, the ending)
        self._escalated: list[tuple[list[Pending], str]] = []
        self._fail_words: dict[int, bool] = {}  # `_lets_fail`, by element index

    # -- building ----------------------------------------------------------------------

    def seq(self, nodes: list[Node], frontier: list[Pending]) -> list[Pending]:
        if self._targets is None:
            conditional, self._reached = self._landings(nodes)
            self._targets = sorted(conditional)
            self._routed = self._alternatives(nodes)
        i = 0
        evidence = self.last_exec  # what a list of cases is about (see below)
        # fall-through held back from a routed section: (group, what was falling through)
        held: dict[int, list[Pending]] = {}
        last_pos: int | None = None
        while i < len(nodes):
            node = nodes[i]
            at = getattr(node, "pos", None)
            if held and i == len(nodes) - 1 and (at is None or at == ENDING_POS):
                # the guide's ending (its end, or the compiler's "is the issue resolved?"
                # when the guide says what to do if not): what was held back ends there too
                # (a case's section last, "go to **Follow-up**", left the fix's path nowhere
                # to go, and the guide failed to compile)
                frontier = frontier + [p for pending in held.values() for p in pending]
                held = {}
            if at is not None and self._routed and \
                    not (isinstance(node, IfNode) and node.synthetic):  # (the compiler's gate)
                for g, (headings, resume, listed) in enumerate(self._routed):
                    if g in held and resume is not None and at >= resume and \
                            (last_pos is None or last_pos < resume):
                        frontier = frontier + held.pop(g)  # on after the last of them
                    if listed is not None and frontier and last_pos is not None and \
                            last_pos < headings[0] <= at and \
                            self.guide.elements[last_pos].section == \
                            self.guide.elements[listed.pos].section:
                        # straight on from the decision: none of its cases held, and the
                        # guide says nothing of that (it ran the first case's section)
                        self._connect(frontier, self.end(
                            "escalate", "None of the guide's cases held",
                            f"None of the cases the guide lists held (the last: "
                            f"{listed.guard.text}). The guide says no more: hand over to a "
                            "person", listed.span))
                        frontier = []
                    if last_pos is not None and frontier and \
                            any(last_pos < h <= at for h in headings):
                        # the end of one routed section does not run into the next: each is
                        # one case's, taken only by its jump
                        held.setdefault(g, []).extend(frontier)
                        frontier = []
            if at is not None:
                last_pos = at
            if isinstance(node, IfNode):
                if i and self._sibling_cases(nodes[i - 1], node) and \
                        not _names_step(node.guard.text, self.last_exec):
                    # "- `Pending`: describe the pod." then "- `CrashLoopBackOff`: ...": each
                    # case is about what the step before the list found, never about what the
                    # case before it ran (its describe's output was read for the next case),
                    # unless it names that step ("- If the describe shows `Insufficient cpu`")
                    self.last_exec = evidence
                else:
                    evidence = self.last_exec
            if isinstance(node, Action) and self._parallel(node):
                group = [node]
                blocks = {node.block} - {None}  # kept as the group grows: joining is O(1)
                bound = {node.bind} - {None}
                while i + 1 < len(nodes) and isinstance(nxt := nodes[i + 1], Action) and \
                        self._joins(blocks, bound, nxt):
                    i += 1
                    group.append(nxt)
                    blocks.add(nxt.block)
                    bound.add(nxt.bind)
                if not frontier and len(group) > 1:
                    # A plan has one entry: a no-op `start` step lets the whole group fan out.
                    self._add("start", pos=-1, title="Start", kind=StepKind.DECIDE,
                              text="Start the independent checks below at once",
                              source=group[0].span, entry=False)
                    frontier = [Pending("start")]
                frontier = self._group(group, frontier) if len(group) > 1 else \
                    self._action(group[0], frontier)
            elif isinstance(node, Action):
                frontier = self._action(node, frontier)
            elif isinstance(node, IfNode):
                unentered_rollback = not frontier and not node.synthetic and \
                    is_rollback(node.guard.text)
                if unentered_rollback and node.pos in self._reached:
                    # "If a deployment finished in the window, roll it back (Step 7).": only a
                    # case's jump leads to "## Step 7 - Roll back", and the case has decided:
                    # the jump lands on its steps (a person was asked again, and saying no
                    # ended the run resolved)
                    frontier = self.seq(node.then, [])
                elif unentered_rollback and len({t for _, t in self._escalated}) == 1:
                    # "## Rollback" after "If `ceph health` prints HEALTH_OK, you are done.
                    # Otherwise escalate to the storage team.": every path ended before it,
                    # and it had no way in (the guide failed to compile). A person may roll
                    # back before handing over: the escalation asks first, and ends as it did
                    frontier = self._before_escalating(node)
                elif frontier or not node.synthetic:  # the compiler's own ending needs a way in
                    frontier = self._if(node, frontier)
                elif any(t >= node.pos for t in self._reached):
                    # Nothing falls through to the compiler's own gate, but the guide jumps
                    # into what it guards ("If the disk is full, go to Recovery"): its steps
                    # are there for the jump to land on.
                    frontier = self.seq(node.then, [])
            elif isinstance(node, JumpNode) and node.unconditional and \
                    not self._may_stop(nodes, i):
                # Nothing else leads to what follows: keep the guide's words as a question
                # rather than strand the rest of the guide.
                frontier = self._if(IfNode(Guard(text=node.ref.sentence),
                                           [JumpNode(node.ref, node.span, node.pos)],
                                           node.span, node.pos), frontier)
            elif isinstance(node, JumpNode):
                self.jumps.extend((p, node) for p in frontier)
                frontier = []
            elif isinstance(node, Fork):
                frontier = self._fork(node, frontier)
            elif isinstance(node, EndNode) and node.said and not self._may_end(node, nodes, i):
                # the steps after it are reached only through it: a reader's note, or the
                # person's step it is when it does not end the run
                if node.instead is not None:
                    frontier = self._action(node.instead, frontier)
            elif isinstance(node, EndNode):
                # ("Step 3: Escalate" over "Escalate to the web team." alone: what "If yes →
                # Step 3" lands on; the jump went past it to the guide's `resolved`)
                at = node.pos if node.said else None
                landed = at is not None and self._landing_before(nodes, i, at)
                if frontier or landed:
                    target = self.end(node.outcome, node.title, node.text, node.span)
                    self._connect(frontier, target)
                    if node.outcome == Outcome.ESCALATE.value and frontier:
                        self._escalated.append((list(frontier), target))
                    if landed and at is not None:
                        self.entries.append((at, len(self.entries), target))
                frontier = []
            i += 1
        return frontier + [p for pending in held.values() for p in pending]

    def _alternatives(self, nodes: list[Node]
                      ) -> list[tuple[list[int], int | None, IfNode | None]]:
        """Sections that two or more cases of one decision route to ("| C153A1 | §2 |", "| C204A3
        | §3 |"; "- Pending → go to **Scheduling**", "- CrashLoopBackOff → go to **Crashes**"):
        each is one case's. The headings (sibling ones, of one level), and the element where
        the run goes on after the last of them (None: the guide's end), and the decision's last
        case when it has no "Otherwise" (None holds: a person takes over). Without this the end of
        one ran into the next: after unlocking the arm for a joint deviation, the run went on
        into the collision recovery."""
        els = self.guide.elements
        out: list[tuple[list[int], int | None, IfNode | None]] = []
        todo = [nodes]
        while todo:
            seq = todo.pop()
            k = 0
            while k < len(seq):
                if not isinstance(seq[k], IfNode):
                    if isinstance(seq[k], Fork):
                        todo.extend(seq[k].branches)  # type: ignore[union-attr]
                    k += 1
                    continue
                heads: set[int] = set()
                listed: IfNode | None = None
                jumped_from = -1  # where the cases that jump to a section end
                run: list[tuple[IfNode, bool]] = []  # a list's cases so far, each: it jumps
                while k < len(seq) and isinstance(node := seq[k], IfNode):
                    chain: IfNode | None = node
                    jumps = False  # whether a case of this chain jumps to a section
                    if not (run and self._sibling_cases(run[-1][0], node)):
                        run = []
                    while chain is not None:
                        last_case = chain.pos
                        listed = chain if not chain.else_ else None
                        todo.append(chain.then)
                        rest = chain.else_ or []
                        # ("Is it at its maximum? If yes → Step 4, if no → Step 3": the other
                        # side's jump routes to its section too)
                        for side in (chain.then, rest):
                            if len(side) == 1 and isinstance(jump := side[0], JumpNode) and \
                                    not _joins(jump.ref):
                                try:
                                    target = self._target_pos(jump)
                                except ValidationError:
                                    target = -1
                                if 0 <= target < len(els) and els[target].kind == "heading":
                                    heads.add(target)
                                    jumps = True
                        chain = rest[0] if len(rest) == 1 and isinstance(rest[0], IfNode) \
                            else None
                        if chain is None and rest:
                            todo.append(rest)
                    if jumps:
                        jumped_from = max(jumped_from, last_case)
                    run.append((node, jumps))
                    if any(j for _, j in run) and all(
                            not n.else_ and n.then and isinstance(n.then[-1], (EndNode, JumpNode))
                            for n, _ in run):
                        # "- Error 1062: go to *Skip the duplicate*", "- IO stopped: escalate",
                        # "- Both `Yes`: no action needed": a list of cases, each going
                        # somewhere, ends where its last case is written
                        jumped_from = max(jumped_from, last_case)
                    k += 1
                levels = {els[h].level for h in heads}
                if len(heads) >= 2 and len(levels) == 1 or \
                        len(heads) == 1 and listed is not None and \
                        self._next_section(jumped_from) == min(heads):
                    last = max(heads)
                    resume = next((h.index for h in self.guide.headings()
                                   if h.index > last and h.level <= els[last].level), None)
                    out.append((sorted(heads), resume, listed))
        return out

    def _next_section(self, pos: int) -> int | None:
        """The heading that the guide reads on into from element `pos`, when nothing of the
        guide's own stands between them (only what `pos` holds: its code, its sub-items).
        A case that jumps there ("If the errors come back, go to step 3." right above "## 3.
        Replace the disk") makes it the case's section, as two cases make theirs: without this
        the run fell into it when the case did not hold, and replaced a disk whose errors had
        cleared."""
        els = self.guide.elements
        if not 0 <= pos < len(els):
            return None
        for el in els[pos + 1:]:
            if el.kind == "heading":
                return el.index
            if not self._inside(el, pos):
                return None
        return None

    def _inside(self, el: Element, pos: int) -> bool:
        """Whether `el` is part of element `pos` (through its parents)."""
        parent = el.parent
        while parent is not None:
            if parent == pos:
                return True
            parent = self.guide.elements[parent].parent
        return False

    def _sibling_cases(self, before: Node, node: IfNode) -> bool:
        """Whether two guards are items of one list (its cases, each read on its own)."""
        els = self.guide.elements
        if not isinstance(before, IfNode) or before.pos == node.pos or \
                not (0 <= before.pos < len(els) and 0 <= node.pos < len(els)):
            return False
        a, b = els[before.pos], els[node.pos]
        if a.kind == b.kind == "heading":  # sibling sections, one per case
            return a.level == b.level and a.section == b.section
        return a.kind == b.kind == "list_item" and a.parent == b.parent and a.depth == b.depth

    def _before_escalating(self, node: IfNode) -> list[Pending]:
        """Route the guide's escalation (one ending) through a rollback section that nothing
        else reaches: roll back (and end handed over, as the section says), or hand over as
        written."""
        target = self._escalated[0][1]
        waiting = [p for pending, _ in self._escalated for p in pending]
        self._escalated = []
        self.edges = [e for e in self.edges if not (e.target == target and Pending(
            e.source, e.condition, e.on, e.kind) in waiting)]
        after = self._if(node, waiting)
        self._connect(after, target)
        return []

    def _fork(self, node: Fork, frontier: list[Pending]) -> list[Pending]:
        """Each branch starts from the same frontier; the next node joins what they leave."""
        if not frontier:
            self._add("start", pos=-1, title="Start", kind=StepKind.DECIDE,
                      text="Start the independent checks below at once", source=node.span,
                      entry=False)
            frontier = [Pending("start")]
        prev = self.last_exec
        out: list[Pending] = []
        self._depth += 1
        for branch in node.branches:
            self.last_exec = prev
            out.extend(self.seq(branch, frontier))
        self._depth -= 1
        self.last_exec = prev
        return out

    def _may_stop(self, nodes: list[Node], i: int) -> bool:
        """Whether an unconditional jump at nodes[i] may end its path: inside a branch, at
        the end of the guide, or when another jump leads to the node after it."""
        if self._depth or i + 1 >= len(nodes):
            return True
        nxt = nodes[i + 1]
        at = getattr(nxt, "pos", None)
        if at is None:
            return False
        here = getattr(nodes[i], "pos", None)
        if here is None:
            return False
        k = bisect_right(self._targets or [], here)
        return k < len(self._targets or []) and (self._targets or [])[k] <= at

    def _may_end(self, node: EndNode, nodes: list[Node], i: int) -> bool:
        """Whether an ending the guide says on its own (`node`, at nodes[i]) may end its path:
        inside a branch, at the end of the guide, or where some jump leads to what follows
        (a "## Step 7 - Roll back" that a case jumps to); see `EndNode.said`."""
        if node.said != "jumped" and (
                self._depth or all(isinstance(n, EndNode) for n in nodes[i + 1:])):
            return True
        if i + 1 >= len(nodes) or node.said == "last":
            return False
        at = getattr(nodes[i + 1], "pos", None)
        return at is not None and self._landing_before(nodes, i, at)

    def _landing_before(self, nodes: list[Node], i: int, pos: int) -> bool:
        """Whether a jump lands between the node before nodes[i] and element `pos`."""
        here = getattr(nodes[i - 1], "pos", None) if i else -1
        return here is not None and any(here < t <= pos for t in self._reached)

    def _landings(self, nodes: list[Node]) -> tuple[set[int], set[int]]:
        """Element indices where the guide's jumps land (before any step exists): the
        conditional jumps', and every jump's."""
        conditional: set[int] = set()
        every: set[int] = set()
        todo = list(nodes)
        while todo:
            n = todo.pop()
            if isinstance(n, IfNode):
                todo.extend(n.then)
                todo.extend(n.else_ or [])
            elif isinstance(n, Fork):
                todo.extend(x for b in n.branches for x in b)
            elif isinstance(n, JumpNode):
                try:
                    at = self._target_pos(n)
                except ValidationError:
                    continue
                every.add(at)
                if not n.unconditional:
                    conditional.add(at)
        return conditional, every

    def _parallel(self, a: Action) -> bool:
        return a.section == "diag" and a.kind in _PARALLEL_KINDS and not a.mutating and \
            a.plugin is not None

    def _joins(self, blocks: set[int | None], bound: set[str | None], a: Action) -> bool:
        """Whether `a` may run alongside a group: parallel, not from a block already in it
        (a block's lines stay in order), and reading nothing the group binds."""
        if not self._parallel(a) or a.plugin == "compute":
            return False  # a compute step reads earlier results: it runs after them
        if a.block is not None and a.block in blocks:
            return False
        return not (a.uses & bound)

    def _group(self, group: list[Action], frontier: list[Pending]) -> list[Pending]:
        out: list[Pending] = []
        for a in group:
            out.extend(self._action(a, frontier))
        self.last_exec = group[-1]
        return out

    def _action(self, a: Action, frontier: list[Pending]) -> list[Pending]:
        writes = [f"steps.{a.id}"]
        binds: dict[str, str] = {}
        if a.bind:
            writes.append(f"vars.{a.bind}")
            binds[f"vars.{a.bind}"] = "result.stdout | trim"
        # A failed check is failed evidence: the run goes on past it only where the guide
        # says the check may fail ("(may fail)", "ignore errors"), never by default.
        lets_fail = a.kind in _PARALLEL_KINDS and not a.mutating and self._may_fail(a)
        gate = f"approve-{a.id}"
        if a.mutating:
            # where it runs, when its text does not say the `cd` it follows
            cwd = a.params.get("cwd")
            where = f"(in {cwd})\n" if isinstance(cwd, str) and not a.text.startswith("cd ") \
                else ""
            self._add(gate, pos=a.pos, title=f"Approve: {a.title}", kind=StepKind.APPROVE,
                      text="Approve before it runs: "
                      + (f"(the guide warns: {a.caution})\n" if a.caution else "")
                      + (f"{a.context}\n" if a.context else "")
                      + where + a.text, source=a.span, entry=True)
        self._add(a.id, pos=a.pos, title=a.title, kind=a.kind, plugin=a.plugin, params=a.params,
                  writes=writes, binds=binds, mutating=a.mutating, call=a.call, text=a.text,
                  on_error=OnError.CONTINUE if lets_fail else OnError.FAIL,
                  source=a.span, entry=not a.mutating)
        if a.mutating:
            self._connect(frontier, gate)
            self._connect([Pending(gate)], a.id)
            # A denial or a failed change has its own ending, not one the guide wrote for
            # another reason, so the run's reason says what happened.
            escalate = self.end(Outcome.ESCALATE.value, "Escalate to a person")
            self.edges.append(Edge(source=gate, target=escalate, on="failure", kind="error"))
            self.edges.append(Edge(source=a.id, target=escalate, on="failure", kind="error"))
        else:
            self._connect(frontier, a.id)
        if a.kind in _PARALLEL_KINDS and a.plugin or \
                a.kind == StepKind.MANUAL and a.params.get("script"):
            # what the next condition is about; a person's query or command ("**Step 2:**
            # Check the throttling" over a Kusto query no plugin runs) is theirs to judge
            # ("If the result is empty" read the step before it, which the run had: healthy
            # on an `az monitor` reading that said nothing about the 503s)
            self.last_exec = a
        return [Pending(a.id)]

    def _may_fail(self, a: Action) -> bool:
        """Whether the guide's words around `a` (its line, its block's intro, its list item)
        let it fail."""
        els = self.guide.elements
        if may_fail(a.text):
            return True
        if not 0 <= a.pos < len(els):
            return False
        el = els[a.pos]
        near = [el]
        if el.parent is not None:
            near.append(els[el.parent])
        if a.pos and els[a.pos - 1].kind == "paragraph":
            near.append(els[a.pos - 1])
        return any(e.kind != "code" and self._lets_fail(e) for e in near)

    def _lets_fail(self, el: Element) -> bool:
        """`may_fail` of an element's words, read once per element (a table's thousand rows
        each asked it of the whole table: minutes)."""
        said = self._fail_words.get(el.index)
        if said is None:
            said = self._fail_words[el.index] = may_fail(el.text)
        return said

    def _if(self, node: IfNode, frontier: list[Pending]) -> list[Pending]:
        # An "Otherwise, if ..." chain is an else holding one `if`: walk it in a loop, not by
        # recursion (a guide can test one value against thousands of cases), and settle each
        # level's result on the way back out, innermost first.
        chain: list[tuple[list[Pending], Action | None]] = []
        while True:
            if not node.then:
                result = frontier
                break
            prev = self.last_exec
            then_front, others = self._branch(node, frontier, prev)
            if not then_front:
                self.last_exec = prev  # the branch does not flow on: its steps are not ancestors
            saved = self.last_exec
            else_if = node.else_[0] if node.else_ is not None and len(node.else_) == 1 and \
                isinstance(node.else_[0], IfNode) else None
            if else_if is not None:
                self.last_exec = prev
                chain.append((then_front, saved))
                node, frontier = else_if, others
                continue
            if node.else_:
                self.last_exec = prev
                self._depth += 1
                else_front = self.seq(node.else_, others)
                self._depth -= 1
                if not else_front:
                    self.last_exec = saved
            else:
                else_front = others
            result = then_front + else_front
            break
        for then_front, saved in reversed(chain):
            if not result:
                self.last_exec = saved
            result = then_front + result
        return result

    def _branch(self, node: IfNode, frontier: list[Pending],
                prev: Action | None) -> tuple[list[Pending], list[Pending]]:
        """The guard's decision (or the previous step's failure edge) and its `then` side;
        returns the frontier after `then` and the pending edges of the other side.

        "If this command fails, ..." is the failure edge of the step just before it, even
        when that step runs beside others (reads fan out): they go on with its success."""
        step = prev.id if prev is not None and prev.plugin in _OUTPUT_PLUGINS else None
        kind, expr = derive_condition(node.guard.text, step) if not node.synthetic else \
            ("expr", None)
        if not node.synthetic and _STEP_N_FAILS.search(node.guard.text):
            # "If step 2 fails" right after step 2 is its failure edge; about another step,
            # a person's question (never a reading of what the step before printed)
            kind, expr = ("failure", None) if prev is not None and \
                self._names_failure_of(node, prev) else ("expr", None)
        else_cond = Condition(text=node.else_text or f"Otherwise (not: {node.guard.text})",
                              expr=negate(expr))
        if kind == "failure" and prev is not None and Pending(prev.id) in frontier:
            self.steps[prev.id]["on_error"] = OnError.FAIL
            source = prev.id
            # The failure is the condition: the edge is taken when the step fails, with no
            # question to decide (a condition here would be one no executor can answer).
            branch = Pending(source, on="failure", kind="branch")
            other = Pending(source, else_cond, kind="else") if node.else_ else Pending(source)
            beside = [p for p in frontier if p != Pending(prev.id)]
        else:
            source = self._unique(f"if-{_slug(node.guard.text, 5) or 'condition'}")
            # (an answer's words beside its question: "Is the pod running? If yes → Step 3")
            said = f"{node.guard.text} {node.guard.words}" if node.guard.words else \
                node.guard.text
            self._add(source, pos=node.pos, title=node.guard.text, kind=StepKind.DECIDE,
                      text=said, source=node.span, entry=not node.synthetic)
            self._connect(frontier, source)
            branch = Pending(source, Condition(text=node.guard.text, expr=expr), kind="branch")
            other = Pending(source, else_cond, kind="else")
            beside = []
        self._depth += 1
        then_front = self.seq(node.then, [branch])
        self._depth -= 1
        return then_front, [other, *beside]

    def _names_failure_of(self, node: IfNode, prev: Action) -> bool:
        """Whether the guard is "If step N fails" and step N is where `prev` comes from.
        Another step's failure (one run earlier, whose failure ended its own branch) stays a
        person's question."""
        m = _STEP_N_FAILS.search(node.guard.text)
        if m is None:
            return False
        ref = JumpNode(ref=JumpRef(kind="step", value=m.group(1), sentence=node.guard.text),
                       span=node.span, pos=node.pos)
        try:
            at = self._target_pos(ref)
        except ValidationError:  # no such step: the guard stays a question
            return False
        target = self.guide.elements[at]
        if target.kind == "heading":  # "## Step 2 - Restart": the steps under it
            return self.guide.elements[prev.pos].section == at
        return at <= prev.pos <= self._subtree_end(at)

    def end(self, outcome: str, title: str | None = None, text: str = "",
            span: Span | None = None) -> str:
        sid = f"end-{outcome.replace('_', '-')}"
        titles = {"resolved": "Resolved", "mitigated": "Mitigated",
                  "escalate": "Escalate to a person", "no_action": "No action needed"}
        if sid in self.steps and self.steps[sid].get("title") != (title or titles[outcome]):
            # The guide names this ending in its own words: keep it apart, so the run's
            # reason says which ending it reached (and the plain ending, the guide's last
            # step done, is not one a row or a sentence named: "Reply to the reporter and
            # close the ticket" was the ending of every path off the guide's end).
            base = sid
            sid = self._titled_ends.get((base, title)) or self._free_id(base)
            self._titled_ends[(base, title)] = sid
        if sid not in self.steps:
            if outcome == Outcome.ESCALATE.value:
                text = text or self.escalate_text
                span = span or self.escalate_span
            self._add(sid, pos=10**9, title=title or titles[outcome], kind=StepKind.END,
                      outcome=Outcome(outcome), text=text,
                      source=span or Span(start=self.guide.line_count,
                                          end=self.guide.line_count), entry=False)
        return sid

    def _free_id(self, base: str) -> str:
        """`base-2`, `base-3`, ...: the first not taken (ids are never freed, so count on)."""
        n = self._next_suffix.get(base, 2)
        while f"{base}-{n}" in self.steps:
            n += 1
        self._next_suffix[base] = n
        return f"{base}-{n}"

    # -- jumps -------------------------------------------------------------------------

    def resolve_jumps(self, final_end: str) -> None:
        entries = sorted(self.entries)
        at = {sid: pos for pos, _, sid in entries}
        rank = {sid: (pos, k) for pos, k, sid in entries}
        for pending, node in self.jumps:
            target = self._jump_target(node, entries, final_end)
            if target not in self.steps:  # a jump past the last step: the guide's ending
                target = self.end(target.removeprefix("end-").replace("-", "_"))
            # (only a jump back to a step at or before it can close a loop: every other edge
            # goes forward, so the search is made for those alone; within one flow table,
            # "back" is by the order its rows' steps were made, not by its one element)
            back = rank.get(target, (node.pos + 1, 0)) <= rank.get(pending.source, (-1, 0)) \
                if node.ref.kind == "id" else at.get(target, node.pos + 1) <= node.pos
            if back and self._reaches(target, pending.source):
                self._repeat(pending, node, target, entries, final_end)
                continue
            self.edges.append(Edge(source=pending.source, target=target, condition=pending.cond,
                                   on=pending.on, kind="jump"))

    def _reaches(self, start: str, goal: str) -> bool:
        """Whether the edges drawn so far lead from step `start` to step `goal`."""
        out: dict[str, list[str]] = {}
        for e in self.edges:
            out.setdefault(e.source, []).append(e.target)
        seen, todo = {start}, [start]
        while todo:
            at = todo.pop()
            if at == goal:
                return True
            for nxt in out.get(at, ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return False

    def _repeat(self, pending: Pending, node: JumpNode, target: str,
                entries: list[tuple[int, int, str]], final_end: str) -> None:
        """"If the rollout is not complete, go back to step 3": a loop, which a plan cannot
        draw (the guide failed to compile). A person repeats the steps from the target until
        the condition no longer holds; then the run goes on where the other side of the
        decision goes (the loop's exit), or else with the steps after the jump."""
        title = str(self.steps[target].get("title", target)).removeprefix("Approve: ")
        base = f"{REPEAT_STEP}{target.removeprefix('approve-')}"[:60]
        sid, n = base, 1
        while sid in self.steps:
            n += 1
            sid = f"{base}-{n}"
        words = node.ref.sentence.strip()
        self._add(sid, pos=node.pos, entry=False, title=f"Repeat from '{title}'",
                  kind=StepKind.MANUAL,
                  text=f"{words}\nGo back to '{title}' and repeat the steps from there by hand "
                       "while this holds; then continue here.", source=node.span)
        self.edges.append(Edge(source=pending.source, target=sid, condition=pending.cond,
                               on=pending.on, kind="jump"))
        source = pending.source
        into = [e for e in self.edges if e.target == source]
        if self.steps[source].get("kind") == StepKind.MANUAL and len(into) == 1 and \
                into[0].kind == "branch":
            # "If it reports errors, fix the record and go back to Step 1": the person's step
            # before the jump is the branch's; its decision's other side is the loop's exit
            source = into[0].source
        others = [e.target for e in self.edges if e.source == source and
                  e.on == "success" and e.target not in (sid, pending.source) and
                  e.kind in ("branch", "else")]
        later = self._first_at(node.pos + 1, entries, final_end)
        for after in [*others, later, final_end]:
            if after not in self.steps:
                after = self.end(after.removeprefix("end-").replace("-", "_"))
            if not self._reaches(after, sid):
                self.edges.append(Edge(source=sid, target=after))
                return

    def _jump_target(self, node: JumpNode, entries: list[tuple[int, int, str]],
                     final_end: str) -> str:
        if node.ref.kind == "id":  # a flow table's row: its step, behind its approval
            sid = node.ref.value.split(":", 1)[1]
            return f"approve-{sid}" if f"approve-{sid}" in self.steps else sid
        return self._first_at(self._target_pos(node), entries, final_end)

    def _target_pos(self, node: JumpNode) -> int:
        """The element a jump lands on: a heading (anchor, words, "Step N"), a list item."""
        ref: JumpRef = node.ref
        if ref.kind == "id":  # "ELEMENT:STEP"
            return int(ref.value.split(":", 1)[0])
        els = self.guide.elements
        source_el = els[node.pos]
        if ref.kind == "title":  # "go to Recovery": the outline kept it only if one is so titled
            titled = titled_heading(ref.value, ((title_key(h.text), h)
                                                for h in titled_places(self.guide)
                                                if h.index > node.pos))
            if titled is not None:
                return titled.index
        if ref.kind in ("anchor", "heading"):
            anchors = self.guide.anchors()
            heading = anchors.get(ref.value.lower()) or anchors.get(slugify(ref.value))
            if heading is None and ref.kind == "heading":
                heading = self._heading_starting(ref.value)
            if heading is None and ref.kind == "heading" and re.fullmatch(r"[A-Z]\.", ref.value):
                heading = self._heading_starting(f"{ref.value[0]})")  # "go to B": "## B) ..."
            if heading is None and ref.kind == "heading" and re.fullmatch(r"\d{1,3}\.", ref.value):
                heading = self._numbered_heading(int(ref.value[:-1]))  # "section 3": "### 3)"
            if heading is None:  # GitHub and GitLab differ on '-' and '_': compare loosely
                loose = _loose(ref.value)
                heading = next((h for a, h in anchors.items() if _loose(a) == loose), None)
            if heading is None:
                known = ", ".join(f"#{a}" for a in anchors) or "none"
                raise ValidationError(
                    f"jump to missing anchor '#{ref.value}'", file=self.guide.path,
                    line=node.span.start, step=self._step_at(node.pos),
                    hint=f"Fix the link to one of the guide's headings: {known}")
            return heading.index
        items = self._sibling_items(source_el)
        if ref.kind == "step":
            n = int(ref.value)
            step_heading = self._step_heading(n)
            # (a bullet list has no step numbers: "continue with step 2" under "- ..." items
            # is the "Step 2" heading, when the guide has one)
            in_list = self._in_item(source_el) and 1 <= n <= len(items) and \
                any(it.ordered for it in items)
            if step_heading is not None and not in_list:
                return step_heading.index  # "proceed to Step 5": the "## Step 5 - ..." heading
            bullets = not any(it.ordered for it in items)
            if (bullets or not 1 <= n <= len(items)) and \
                    (numbered_heading := self._numbered_heading(n)):
                # "go to step 3": the "### 3) Check the port" (from a bullet list too, whose
                # items have no numbers: its third bullet was taken)
                return numbered_heading.index
            if not 1 <= n <= len(items):
                numbered = sorted(self._step_headings())
                where = (f"Use a step number from 1 to {len(items)}, or link to a heading"
                         if items or not numbered else
                         f"Use a step number the guide's 'Step N' headings have: "
                         f"{', '.join(str(k) for k in numbered)}")
                raise ValidationError(
                    f"jump to step {n}, but this list has {len(items)} steps"
                    + (" and no heading is 'Step " + str(n) + "'" if numbered else ""),
                    file=self.guide.path, line=node.span.start, step=self._step_at(node.pos),
                    hint=where)
            return items[n - 1].index
        # "skip the next (n) step(s)"
        here = self._item_of(source_el)
        k = next((i for i, it in enumerate(items) if here is not None and it.index == here), -1)
        later = k + 1 + int(ref.value)
        if k >= 0 and later < len(items):
            return items[later].index
        last = items[min(len(items) - 1, k + int(ref.value))].index if items and k >= 0 else \
            node.pos
        return self._subtree_end(last) + 1

    def _in_item(self, el: Element) -> bool:
        """Whether `el` sits in a list item (there "step N" is the list's N-th item)."""
        idx: int | None = el.index
        while idx is not None:
            e = self.guide.elements[idx]
            if e.kind == "list_item":
                return True
            idx = e.parent
        return False

    def _step_headings(self) -> dict[int, Element]:
        if not hasattr(self, "_numbered"):
            self._numbered: dict[int, Element] = {}
            for h in self.guide.headings():
                n = step_number(h.text)
                if n is not None:
                    self._numbered.setdefault(n, h)
            # "**Step 3:** Check the endpoint": a notebook-style label opening a paragraph
            for el in self.guide.elements:
                if el.kind in ("paragraph", "list_item"):
                    n = step_label(el.text)
                    if n is not None:
                        self._numbered.setdefault(n, el)
                elif el.kind == "html" and (title := fold_title(el.text)) is not None:
                    n = step_number(title)  # `<summary>Step 2 — Take a bad server out</summary>`
                    if n is not None:
                        self._numbered.setdefault(n, el)
        return self._numbered

    def _step_heading(self, n: int) -> Element | None:
        return self._step_headings().get(n)

    def _numbered_heading(self, n: int) -> Element | None:
        """The first heading numbered `n` ("### 3. Check the port", "### 3) Check the port",
        "### 3 - Check the port", "### 3: ...", "### 3 · Clear a jam"): step or section n of
        a guide whose steps are numbered headings."""
        at = numbered_title(n)
        heading = next((h for h in self.guide.headings() if at.match(h.text)), None)
        if heading is not None:
            return heading
        # `<details><summary><b>3. Defragment</b></summary>`: a guide whose every step is a
        # fold numbers its steps in the folds' summaries ("go to step 3" opens the third)
        fold = next((el for el in self.guide.elements if el.kind == "html"
                     and (title := fold_title(el.text)) is not None and at.match(title)), None)
        if fold is not None:
            return fold
        # "**5. Evacuate from a dead hypervisor**": a numbered title line wholly in bold is the
        # heading of a guide written without `#` headings (Confluence's, Notion's)
        return next((el for el in self.guide.elements if el.kind == "paragraph"
                     and len(el.source_lines) == 1 and at.match(el.text)
                     and _BOLD_TITLE.fullmatch(el.source_lines[0][1].strip())), None)

    def _heading_starting(self, words: str) -> Element | None:
        """The first heading whose text starts with `words` ("skip to mitigation")."""
        key = words.lower()
        if key not in self._heading_by_words:
            self._heading_by_words[key] = next(
                (h for h in self.guide.headings() if h.text.lower().startswith(key)), None)
        return self._heading_by_words[key]

    def _first_at(self, pos: int, entries: list[tuple[int, int, str]], final_end: str) -> str:
        """The first step at or after element `pos` (`entries` is sorted)."""
        at = bisect_left(entries, (pos,))
        return entries[at][2] if at < len(entries) else final_end

    def _item_of(self, el: Element) -> int | None:
        idx: int | None = el.index
        while idx is not None:
            e = self.guide.elements[idx]
            if e.kind == "list_item" and e.parent is None:
                return e.index
            idx = e.parent
        if el.section not in self._item_positions:
            self._item_positions[el.section] = [
                i.index for i in self.items_by_heading.get(el.section, [])]
        positions = self._item_positions[el.section]
        at = bisect_right(positions, el.index)
        return positions[at - 1] if at else None

    def _sibling_items(self, el: Element) -> list[Element]:
        return self.items_by_heading.get(el.section, [])

    def _subtree_end(self, idx: int) -> int:
        end = idx
        for e in self.guide.elements[idx + 1 :]:
            p = e.parent
            inside = False
            while p is not None:
                if p == idx:
                    inside = True
                    break
                p = self.guide.elements[p].parent
            if not inside:
                break
            end = e.index
        return end

    def _step_at(self, pos: int) -> str | None:
        return self._first_at(pos, sorted(self.entries), "") or None

    # -- helpers -----------------------------------------------------------------------

    def _add(self, sid: str, *, pos: int, entry: bool, **fields: Any) -> None:
        self.steps[sid] = {"id": sid, **{k: v for k, v in fields.items() if v is not None}}
        if entry:
            self.entries.append((pos, len(self.entries), sid))

    def _connect(self, frontier: list[Pending], target: str) -> None:
        for p in frontier:
            self.edges.append(Edge(source=p.source, target=target, condition=p.cond, on=p.on,
                                   kind=p.kind))

    def _unique(self, base: str) -> str:
        base = re.sub(r"-+", "-", base).strip("-")[:48].strip("-")
        return base if base not in self.steps else self._free_id(base)

    def loose(self, a: Action) -> str:
        """A clean-up step: no edges, no approval gate (the guide approves it by listing it
        under Always), and a failure does not stop the clean-up after it."""
        self._add(a.id, pos=a.pos, title=a.title, kind=a.kind, plugin=a.plugin,
                  params=a.params, writes=[f"steps.{a.id}"], mutating=a.mutating, text=a.text,
                  on_error=OnError.CONTINUE, source=a.span, entry=False)
        return a.id

    def build_steps(self) -> list[Step]:
        return [Step(**fields) for fields in self.steps.values()]
