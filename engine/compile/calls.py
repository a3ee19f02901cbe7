"""Linked guides compiled into the calling plan: each `call` step's guide, its inputs, cycles.

A `call` step (`engine.compile.outline`: "Follow [the etcd backup](etcd-backup.md)") runs the
linked guide as a child run. This module compiles that guide, resolved relative to the calling
guide's file, and bundles its plan into the caller's (`Plan.calls`, by `Step.call`): a run
then runs exactly what was compiled and reviewed, and the child plan is stored by its hash like
any plan. It completes the step's input mapping (the link's query string; an input the child
declares under the name of one of the caller's passes through), and refuses:

- a cycle (A calls B calls A, or a guide linking to itself), in one line naming the chain
  with each link's line, at the first link of the chain (so lint, which reports what compile
  refuses, reports it at the same line);
- a linked guide that does not compile, at the link's line, with the child's own error;
- an input the child does not declare.

A linked Markdown file whose plan runs nothing (prose a person reads) is no guide to run: the
step becomes a manual step, as an instruction with no command is.

It compiles children through the function it is given (`engine.compile` passes its own), so
that it imports no compiler entry point.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from engine.errors import MendflowError, ValidationError
from engine.guide import Guide
from engine.plan import Plan, Step, StepKind
from engine.templating import render

Frame = tuple[str, str, int]
"""A link on the way to a guide: (the calling guide's resolved file, its path as given, the
link's line)."""

CompileChild = Callable[[str, tuple[Frame, ...]], Plan]

_RUNS = frozenset({StepKind.QUERY, StepKind.COMMAND, StepKind.DETECT, StepKind.CALL})


class CallCycle(ValidationError):
    """Guides that call each other in a circle; `files` are the resolved files in it."""

    def __init__(self, frames: list[Frame], back_to: str) -> None:
        chain = " -> ".join(f"{shown}:{line}" for _, shown, line in frames)
        super().__init__(
            f"guide cycle: {chain} -> {back_to}: a guide cannot call itself, directly or "
            "through the guides it calls", file=frames[0][1], line=frames[0][2],
            hint="Make one of these links a reference (\"Read [...](...)\") or copy the steps")
        self.files = frozenset(f for f, _, _ in frames)


def resolved(path: str) -> str:
    return os.path.realpath(path)


def bundle_calls(plan: Plan, guide: Guide, *, stack: tuple[Frame, ...],
                 compile_child: CompileChild) -> Plan:
    """`plan` with each call step's guide compiled into `plan.calls`, its inputs mapped."""
    if not any(s.kind == StepKind.CALL for s in plan.steps):
        return plan
    here = resolved(guide.path)
    compiled: dict[str, tuple[str, Plan]] = {}  # resolved file -> (key, plan)
    calls: dict[str, Plan] = {}
    steps: list[Step] = []
    for step in plan.steps:
        if step.kind != StepKind.CALL or not isinstance(step.params.get("guide"), str):
            steps.append(step)
            continue
        written = render(step.params["guide"], {})  # the path, as the outline escaped it
        shown = os.path.normpath(os.path.join(os.path.dirname(guide.path), written))
        target = resolved(shown)
        line = step.source.start
        chain = [*stack, (here, guide.path, line)]
        for i, (file, _, _) in enumerate(chain):
            if file == target:
                raise CallCycle(chain[i:], shown)
        if target not in compiled:
            child = _compile(compile_child, shown, tuple(chain), here, guide.path, line)
            key = _unique_key(step.call or Path(shown).stem, {k for k, _ in compiled.values()})
            compiled[target] = (key, child)
        key, child = compiled[target]
        if not any(s.kind in _RUNS for s in child.steps):
            steps.append(step.model_copy(update={
                "kind": StepKind.MANUAL, "call": None, "params": {},
                "title": step.title.replace("Run guide: ", "Follow by hand: ", 1)}))
            continue
        inputs = _inputs(step, plan, child, shown, guide.path, line)
        steps.append(step.model_copy(update={"call": key,
                                             "params": {**step.params, "inputs": inputs}}))
        calls[key] = child
    fields = {name: getattr(plan, name) for name in Plan.model_fields}
    return Plan(**{**fields, "steps": steps, "calls": calls})


def _compile(compile_child: CompileChild, shown: str, chain: tuple[Frame, ...], here: str,
             file: str, line: int) -> Plan:
    try:
        return compile_child(shown, chain)
    except CallCycle as exc:
        if here in exc.files:
            raise  # this guide is in the circle: said once, at the circle's first link
        raise _not_compiled(shown, exc, file, line) from None
    except MendflowError as exc:
        raise _not_compiled(shown, exc, file, line) from None


def _not_compiled(shown: str, exc: MendflowError, file: str, line: int) -> ValidationError:
    where = str(exc.location)
    said = f"{where}: {exc.message}" if where else exc.message
    return ValidationError(f"the linked guide {shown} does not compile: {said}", file=file,
                           line=line, hint=exc.hint)


def _unique_key(base: str, taken: set[str]) -> str:
    key, n = base, 1
    while key in taken:
        n += 1
        key = f"{base}-{n}"
    return key


def _inputs(step: Step, plan: Plan, child: Plan, shown: str, file: str,
            line: int) -> dict[str, str]:
    """The link's mapping, checked against what the child declares, plus the caller's inputs
    of the same name as the child's that the link does not map (passed through)."""
    mapped = dict(step.params.get("inputs") or {})
    declared = {i.name for i in child.inputs}
    for name in mapped:
        if name not in declared:
            takes = ", ".join(sorted(declared)) or "none"
            raise ValidationError(
                f"the link passes input {name!r}, but {shown} declares no such input "
                f"(it takes: {takes})", file=file, line=line,
                hint="Pass only the inputs the linked guide declares in its front matter")
    mine = {i.name for i in plan.inputs}
    for name in sorted(declared - mapped.keys()):
        if name in mine:
            mapped[name] = "{{ inputs." + name + " }}"
    return mapped
