"""Structural rules every plan must meet, checked before anything runs: the only networkx importer.

This module owns plan validation, whoever produced the plan (the structural compiler, the LLM
compiler, a hand edit): one entry, acyclic, every step reachable, every path ending in an `end`
step, no dangling edge, no unknown plugin, no template reading something nothing defines, binds
consistent with writes, an approval in front of every mutating step. Each `Problem` names the
guide file, the line (the step's span) and the step, and says what to change in the guide.

It does not compile (`engine.compile.structural`) or schedule (`engine.scheduler`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import networkx as nx

from engine import placement
from engine.compile.nodes import REPEAT_STEP
from engine.errors import ConditionError, TemplateError, ValidationError
from engine.plan import Edge, OnError, Plan, Step, StepKind
from engine.sqltext import steps_read
from engine.templating import check_expression, references, strings_in

_NEEDS_PLUGIN = (StepKind.COMMAND, StepKind.QUERY, StepKind.DETECT)
_ALWAYS = ("alert", "run")


@dataclass(frozen=True)
class Problem:
    rule: str
    message: str
    hint: str
    file: str | None = None
    line: int | None = None
    step: str | None = None

    def to_error(self) -> ValidationError:
        return ValidationError(self.message, file=self.file, line=self.line, step=self.step,
                               hint=self.hint)

    def __str__(self) -> str:
        return str(self.to_error())


def check_plan(plan: Plan, *, known_plugins: set[str] | None = None) -> list[Problem]:
    """Every problem, in a stable order (structure first, then per step in plan order), then
    those of the linked guides' plans it holds (a plan file's child plans meet the same rules:
    no change without an approval, whoever wrote the file)."""
    if known_plugins is None:
        from engine.plugins import default_registry

        known_plugins = default_registry().names()
    problems = list(_Checker(plan, known_plugins).run())
    for child in plan.calls.values():
        problems += check_plan(child, known_plugins=known_plugins)
    return problems


def validate_plan(plan: Plan, *, known_plugins: set[str] | None = None) -> Plan:
    problems = check_plan(plan, known_plugins=known_plugins)
    if problems:
        raise problems[0].to_error()
    return plan


def graph(plan: Plan) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph()
    for s in plan.steps:
        g.add_node(s.id)
    for i, e in enumerate(plan.edges):
        g.add_edge(e.source, e.target, key=i)
    return g


def parallel_groups(plan: Plan) -> list[list[str]]:
    """Sets of steps that may run at the same time: unconditional fan-outs that join again.

    Two steps are in one group when the same edges (source, condition, kind) lead into both
    and they lead to the same steps: a branch and its else differ in condition, so they are
    never grouped.
    """
    order = {s.id: i for i, s in enumerate(plan.steps)}
    succs: dict[str, set[str]] = {s.id: set() for s in plan.steps}
    incoming: dict[str, set[tuple[Any, ...]]] = {s.id: set() for s in plan.steps}
    for e in plan.edges:
        if e.source in succs and e.target in incoming:
            succs[e.source].add(e.target)
            cond = (e.condition.text, e.condition.expr) if e.condition else None
            incoming[e.target].add((e.source, cond, e.on, e.kind))
    groups: dict[tuple[frozenset[Any], frozenset[str]], list[str]] = {}
    for s in plan.steps:
        if s.kind == StepKind.END or not incoming[s.id]:
            continue
        key = (frozenset(incoming[s.id]), frozenset(succs[s.id]))
        groups.setdefault(key, []).append(s.id)
    found = [sorted(ids, key=order.__getitem__) for ids in groups.values() if len(ids) > 1]
    return sorted(found, key=lambda ids: order[ids[0]])


class _Checker:
    def __init__(self, plan: Plan, known: set[str]) -> None:
        self.plan = plan
        self.known = known
        self.file = plan.source.path
        self.steps: dict[str, Step] = {}
        self.cleanup: set[str] = set()
        for s in plan.steps:
            self.steps.setdefault(s.id, s)
        # A condition's text -> what it reads, or why it does not parse.
        self.conditions: dict[str, set[str] | str] = {}
        # Edges by step, built once: asking the plan per step scans every edge (n squared).
        self.out: dict[str, list[Edge]] = {}
        self.into: dict[str, list[Edge]] = {}
        for e in plan.edges:
            self.out.setdefault(e.source, []).append(e)
            self.into.setdefault(e.target, []).append(e)

    def problem(self, rule: str, message: str, hint: str, step: Step | None = None,
                step_id: str | None = None) -> Problem:
        return Problem(rule, message, hint, file=self.file,
                       line=step.source.start if step is not None else None,
                       step=step.id if step is not None else step_id)

    def run(self) -> Iterator[Problem]:
        yield from self._ids_and_edges()
        g = _Graph(self.steps, self.plan.edges)
        if g.order is None:
            yield self._cycle()
            return  # ancestry below needs a DAG
        yield from self._cleanup()
        yield from self._entry_and_reach(g)
        yield from self._endings()
        yield from self._per_step(g)
        yield from self._placement()

    def _placement(self) -> Iterator[Problem]:
        """No template puts a value where its type may not go (`engine.placement`)."""
        for m in placement.problems(self.plan):
            yield self.problem("placement", m.message, m.hint, self.steps.get(m.step))

    def _cleanup(self) -> Iterator[Problem]:
        """Clean-up steps run on their own, after the run: no edge may touch them."""
        self.cleanup = set(self.plan.cleanup)
        for sid in self.plan.cleanup:
            s = self.steps.get(sid)
            if s is None:
                yield self.problem("cleanup", f"clean-up names a missing step {sid!r}",
                                   "List only steps of the plan under cleanup", step_id=sid)
                continue
            if s.kind in (StepKind.END, StepKind.DECIDE, StepKind.APPROVE, StepKind.CALL):
                yield self.problem("cleanup", f"a {s.kind} step cannot be a clean-up step",
                                   "Clean-up steps are commands, queries or manual steps", s)
            if self.into.get(sid) or self.out.get(sid):
                yield self.problem("cleanup", f"clean-up step {sid!r} has edges",
                                   "Clean-up steps run after the run, one after another; "
                                   "nothing leads to or from them", s)

    def _ids_and_edges(self) -> Iterator[Problem]:
        seen: set[str] = set()
        for s in self.plan.steps:
            if s.id in seen:
                yield self.problem("duplicate-id", f"two steps are named {s.id!r}",
                                   "Give each step a unique id", s)
            seen.add(s.id)
        for e in self.plan.edges:
            for end, name in ((e.source, "from"), (e.target, "to")):
                if end not in self.steps:
                    src = self.steps.get(e.source)
                    yield self.problem(
                        "dangling-edge", f"{e.kind} edge {name} missing step {end!r}",
                        "Point the jump or link at a heading or step that exists in the guide",
                        src, step_id=e.source)

    def _cycle(self) -> Problem:
        """The loop, as networkx finds it (asked only once a loop is known to exist)."""
        g = graph(self.plan)
        g.remove_nodes_from([n for n in list(g.nodes) if n not in self.steps])
        cycle = nx.find_cycle(g)
        edges = [self.plan.edges[key] for _, _, key in cycle]
        back = next((e for e in edges if e.kind == "jump"), edges[-1])
        src = self.steps[back.source]
        path = " -> ".join([e.source for e in edges] + [edges[0].source])
        return self.problem(
            "cycle", f"the plan loops ({path}): a {back.kind} edge goes back to "
            f"{back.target!r}", "Jump only forward (a later step or heading); to repeat a "
            "check, write the steps again or describe the retry in the step", src)

    def _entry_and_reach(self, g: _Graph) -> Iterator[Problem]:
        entry = self.steps.get(self.plan.entry)
        if entry is None:
            yield self.problem("entry", f"the entry step {self.plan.entry!r} does not exist",
                               "Set the plan's entry to its first step", step_id=self.plan.entry)
            return
        if g.pred[entry.id]:
            yield self.problem("entry", "the entry step has incoming edges",
                               "The first step of the guide cannot be a jump target", entry)
        reach = g.reachable(entry.id)
        for s in self.plan.steps:
            if s.id not in reach and s.id not in self.cleanup:
                back = self.steps.get(f"{REPEAT_STEP}{s.id.removeprefix('approve-')}"[:60])
                hint = "Connect it: an earlier step, a branch or a jump must lead to it" \
                    if back is None else \
                    f"Only a jump back leads to it (line {back.source.start}: a loop, which a " \
                    "person repeats by hand), and nothing going forward: let an earlier step " \
                    "or case go to it, or write its steps where the jump back is"
                yield self.problem(
                    "unreachable", f"step {s.id!r} cannot be reached from the entry step",
                    hint, s)

    def _endings(self) -> Iterator[Problem]:
        for s in self.plan.steps:
            out = self.out.get(s.id, [])
            if s.kind == StepKind.END:
                if s.outcome is None:
                    yield self.problem("end-outcome", "end step has no outcome",
                                       "Say how the run ends: resolved, mitigated, escalate or "
                                       "no_action", s)
                if out:
                    yield self.problem("end-outgoing", "end step has outgoing edges",
                                       "Nothing runs after an end step; remove the edges", s)
                continue
            if s.outcome is not None:
                yield self.problem("outcome", "only end steps have an outcome",
                                   "Remove the outcome or make it an end step", s)
            if not any(e.on == "success" for e in out) and s.id not in self.cleanup:
                yield self.problem(
                    "dead-end", f"step {s.id!r} leads nowhere when it succeeds",
                    "Every path must end in an end step: add what comes next, or an ending "
                    "(resolved, escalate)", s)

    def _per_step(self, g: _Graph) -> Iterator[Problem]:
        inputs = {i.name for i in self.plan.inputs}
        params = [self._template_refs(s) for s in self.plan.steps]
        conditions = [self._condition_refs(s) for s in self.plan.steps]
        computes = {s.id: _computed_from(s) for s in self.plan.steps if s.plugin == "compute"}
        read = {ref for refs in params for ref in refs} | {
            ref for refs in conditions for _, found in refs if isinstance(found, set)
            for ref in found} | {f"steps.{sid}" for reads in computes.values()
                                 for sid in reads.values()}
        before = _Before(g, self.steps, read)
        for s, param_refs, condition_refs in zip(self.plan.steps, params, conditions):
            if s.kind in _NEEDS_PLUGIN and s.plugin is None:
                yield self.problem("plugin", f"{s.kind} step has no plugin",
                                   "Tag the code block (bash, promql, sql) so the compiler "
                                   "knows what runs it", s)
            if s.plugin is not None and s.plugin not in self.known:
                known = ", ".join(sorted(self.known)) or "none"
                yield self.problem("plugin", f"unknown plugin {s.plugin!r} (known: {known})",
                                   "Install the plugin, or change the code block's language "
                                   "tag", s)
            if s.kind == StepKind.CALL and not s.call:
                yield self.problem("call", "call step names no guide",
                                   "Link to the guide to run", s)
            elif s.kind == StepKind.CALL and s.call not in self.plan.calls:
                yield self.problem("call", f"call step's guide {s.call!r} is not compiled into "
                                   "the plan (`calls`)", "Recompile the calling guide", s)
            yield from self._binds(s)
            for name, sid in computes.get(s.id, {}).items():
                yield from self._computed(s, name, sid, before)
            for ref in param_refs:
                yield from self._check_ref(s, ref, before, inputs, "parameter")
            for expr, refs in condition_refs:
                if isinstance(refs, str):
                    yield self.problem("condition", f"condition {expr!r} does not parse: "
                                       f"{refs}", "Fix the condition", s)
                    continue
                for ref in sorted(refs):
                    yield from self._check_ref(s, ref, before, inputs, "condition",
                                               including_self=True)
            if s.mutating and s.id not in self.cleanup:  # clean-up is approved by the guide
                yield from self._gated(s)

    def _template_refs(self, s: Step) -> list[str]:
        refs: set[str] = set()
        for text in strings_in(s.params):
            try:
                refs |= references(text)
            except TemplateError:
                refs.add(_SYNTAX_ERROR)
            except RecursionError:  # Jinja's parser recurses once per bracket
                refs.add(_TOO_DEEP)
        return sorted(refs)

    def _condition_refs(self, s: Step) -> list[tuple[str, set[str] | str]]:
        """Each condition on `s`'s edges with what it reads, or why it does not parse."""
        return [(e.condition.expr, self._condition(e.condition.expr))
                for e in self.out.get(s.id, [])
                if e.condition is not None and e.condition.expr is not None]

    def _condition(self, expr: str) -> set[str] | str:
        if expr in self.conditions:
            return self.conditions[expr]
        inner = expr[len("not ("):-1] if expr.startswith("not (") and expr.endswith(")") else None
        if inner is not None and isinstance(self.conditions.get(inner), set):
            # The compiler's else of `X` is `not (X)`: it parses and reads what `X` reads,
            # so it need not go through Jinja again (a parse is most of a guard's cost).
            found: set[str] | str = self.conditions[inner]
        else:
            try:
                check_expression(expr)
                found = references(expr, expression=True)
            except ConditionError as exc:
                found = exc.message
            except RecursionError:  # Jinja's parser recurses once per bracket
                found = "nested too deeply"
        self.conditions[expr] = found
        return found

    def _check_ref(self, s: Step, ref: str, before: _Before, inputs: set[str], where: str,
                   *, including_self: bool = False) -> Iterator[Problem]:
        if ref == _SYNTAX_ERROR:
            yield self.problem("template", f"a {where} template does not parse",
                               "Escape literal '{{' in the command", s)
            return
        if ref == _TOO_DEEP:
            yield self.problem("template", f"a {where} template is nested too deeply to parse",
                               "Write a simpler expression (fewer brackets)", s)
            return
        root, _, rest = ref.partition(".")
        name = rest.split(".")[0]
        if root in _ALWAYS:
            return
        if root == "inputs":
            if name not in inputs:
                yield self.problem("undefined", f"{where} reads inputs.{name}, which is not "
                                   "declared", f"Declare '{name}' under inputs: in the front "
                                   "matter", s)
        elif root == "vars":
            key = f"vars.{name}"
            if not before.binds(s.id, key, including_self=including_self):
                yield self.problem("undefined", f"{where} reads {key}, which no earlier step "
                                   "binds", f"Set {name} in an earlier step (export "
                                   f"{name}=$(...)) or use an input", s)
        elif root == "steps":
            if not before.runs(s.id, name, including_self=including_self):
                yield self.problem("undefined", f"{where} reads steps.{name}, which does not "
                                   "run before this step", "Only read results of steps that "
                                   "come earlier on every path", s)
        else:
            yield self.problem("undefined", f"{where} reads {ref!r}: unknown name {root!r}",
                               "Templates may read inputs, vars, steps, alert and run", s)

    def _computed(self, s: Step, name: str, sid: str, before: _Before) -> Iterator[Problem]:
        """A compute step reads `steps.<name>`, the result of step `sid`: it must exist and
        run before it on every path."""
        table = f"steps.{name}" if name == sid else f"steps.{name} (step {sid})"
        if sid not in self.steps:
            yield self.problem("compute", f"the query reads {table}, but no step is named "
                               f"{sid!r}", "Name the step you read with {#name} at the end of "
                               "its heading or list item, or fix the name (`mendflow compile "
                               "GUIDE --stdout` shows the step ids)", s)
        elif sid == s.id or not before.runs(s.id, sid):
            yield self.problem("compute", f"the query reads {table}, which does not run before "
                               "this step", "A query over earlier results comes after the steps "
                               "it reads, on every path to it", s)

    def _binds(self, s: Step) -> Iterator[Problem]:
        for key in s.binds:
            if not key.startswith("vars."):
                yield self.problem("binds", f"bind key {key!r} is not under vars.",
                                   "Bind values as vars.NAME", s)
            if key not in s.writes:
                yield self.problem("binds", f"binds {key} but does not list it in writes",
                                   f"Add {key!r} to the step's writes", s)
        for key in s.writes:
            if key.startswith("vars.") and key not in s.binds:
                yield self.problem("binds", f"writes {key} but binds no value to it",
                                   f"Add a bind for {key!r} or drop it from writes", s)

    def _gated(self, s: Step) -> Iterator[Problem]:
        incoming = self.into.get(s.id, [])
        if not incoming or any(self.steps.get(e.source) is None or
                               self.steps[e.source].kind != StepKind.APPROVE
                               for e in incoming):
            yield self.problem("approval", f"mutating step {s.id!r} has no approval in front "
                               "of it", "Every change needs an approve step right before it", s)
        for e in incoming:
            gate = self.steps.get(e.source)
            if gate is not None and gate.kind == StepKind.APPROVE and \
                    gate.on_error == OnError.CONTINUE:
                yield self.problem("approval", f"approval {gate.id!r} goes on when denied "
                                   "(on_error: continue)", "A denial must never lead to the "
                                   "change: drop on_error from the approve step", gate)
            if gate is not None and gate.kind == StepKind.APPROVE and not any(
                    o.on == "failure" for o in self.out.get(gate.id, [])):
                yield self.problem("approval", f"approval {gate.id!r} has no path for a denial",
                                   "Give the approval a failure edge to an escalate end step",
                                   gate)



def _computed_from(s: Step) -> dict[str, str]:
    """What a compute step reads: table name -> step id (`engine.sqltext.steps_read`)."""
    query, tables = s.params.get("query"), s.params.get("tables")
    return steps_read(query if isinstance(query, str) else "",
                      tables if isinstance(tables, dict) else None)


_SYNTAX_ERROR = "<syntax error>"
_TOO_DEEP = "<too deep>"


class _Before:
    """What runs before each step, asked only about the names templates read.

    One bit per name read anywhere (`steps.X`, `vars.X`); in topological order, a step's mask
    is the union of its predecessors' masks and what each of them is or binds. That is one pass
    over the edges (times the names read, in 64-bit words), where asking networkx for each
    step's ancestors walks the whole graph once per step: quadratic on a long guide."""

    def __init__(self, g: _Graph, steps: dict[str, Step], read: set[str]) -> None:
        self.bit: dict[str, int] = {}
        for ref in sorted(read):
            root, _, rest = ref.partition(".")
            if root in ("steps", "vars") and rest:
                self.bit.setdefault(f"{root}.{rest.split('.')[0]}", len(self.bit))
        self.own: dict[str, int] = {}
        self.before: dict[str, int] = {}
        if not self.bit:
            return
        for sid, step in steps.items():
            mask = 1 << self.bit[f"steps.{sid}"] if f"steps.{sid}" in self.bit else 0
            for key in step.binds:
                if key in self.bit:
                    mask |= 1 << self.bit[key]
            self.own[sid] = mask
        for sid in g.order or []:
            mask = 0
            for p in g.pred[sid]:
                mask |= self.before[p] | self.own[p]
            self.before[sid] = mask

    def _has(self, sid: str, key: str, including_self: bool) -> bool:
        bit = self.bit.get(key)
        if bit is None:
            return False
        mask = self.before.get(sid, 0) | (self.own.get(sid, 0) if including_self else 0)
        return bool(mask >> bit & 1)

    def runs(self, sid: str, step: str, *, including_self: bool = False) -> bool:
        return self._has(sid, f"steps.{step}", including_self)

    def binds(self, sid: str, key: str, *, including_self: bool = False) -> bool:
        return self._has(sid, key, including_self)


class _Graph:
    """The plan's steps and edges as adjacency lists, with a topological order (`order` is
    None when the plan loops). Edges to or from a missing step are left out: they are
    reported as dangling. Plain lists, not networkx: on a plan of 20,000 steps, building and
    walking a networkx graph was most of the validation time."""

    def __init__(self, steps: dict[str, Step], edges: list[Edge]) -> None:
        self.succ: dict[str, list[str]] = {sid: [] for sid in steps}
        self.pred: dict[str, list[str]] = {sid: [] for sid in steps}
        for e in edges:
            if e.source in steps and e.target in steps:
                self.succ[e.source].append(e.target)
                self.pred[e.target].append(e.source)
        waiting = {sid: len(p) for sid, p in self.pred.items()}
        ready = [sid for sid, n in waiting.items() if n == 0]
        order: list[str] = []
        while ready:
            sid = ready.pop()
            order.append(sid)
            for t in self.succ[sid]:
                waiting[t] -= 1
                if waiting[t] == 0:
                    ready.append(t)
        self.order = order if len(order) == len(self.succ) else None

    def reachable(self, start: str) -> set[str]:
        seen, todo = {start}, [start]
        while todo:
            for t in self.succ[todo.pop()]:
                if t not in seen:
                    seen.add(t)
                    todo.append(t)
        return seen
