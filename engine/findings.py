"""What a run found: every problem the guide's own conditions prove on the evidence gathered.

A guide that checks several areas and then says "If the disk is full, escalate. If memory is
under pressure, escalate. ..." compiles to a chain of decisions: the first one that holds ends
the run, and the others are never asked. The operator then hears about the disk and not about
the memory. This module asks them all, after the run, without running anything:

- a *finding* is a branch condition written as an expression (never a person's judgment),
  whose branch leads to a conclusion that is not healthy (escalate), and which holds over the
  run's memory;
- it counts only when every step the condition reads succeeded: a failed step's output is an
  error, not evidence (the same rule the scheduler applies before concluding);
- the finding carries the condition's words (the guide's), the conclusion it leads to, and the
  values it read, short, so that `show`, `report` and the end of `run` can say them.

Pure over (plan, run state, memory view); it renders nothing into commands and prints nothing.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine import scheduler as sched
from engine import templating
from engine.errors import MendflowError
from engine.plan import Outcome, Plan, Step, StepKind

HEALTHY = frozenset({Outcome.RESOLVED, Outcome.MITIGATED, Outcome.NO_ACTION})
_VALUE_CHARS = 160


@dataclass(frozen=True, slots=True)
class Finding:
    decision: str  # the decide step whose condition holds
    condition: str  # the guide's words for it
    conclusion: str  # the title of the (unhealthy) end it leads to
    taken: bool  # the run took this branch (it is how the run ended)
    evidence: tuple[tuple[str, str], ...]  # (step id, what it found, short)

    def line(self) -> str:
        seen = "; ".join(f"{sid}: {text}" for sid, text in self.evidence)
        return f"{self.condition}" + (f" ({seen})" if seen else "")


def findings(plan: Plan, state: sched.RunState, view: Mapping[str, Any]) -> list[Finding]:
    """Every unhealthy branch condition of `plan` that holds on what the run found, in the
    plan's step order; [] when the run found nothing wrong (or gathered no evidence)."""
    index = sched.PlanIndex.build(plan)
    order = {s.id: n for n, s in enumerate(plan.steps)}
    beyond = _beyond_a_healthy_ending(plan, index, state)
    found: list[tuple[int, int, Finding]] = []
    for i, edge in enumerate(plan.edges):
        cond = edge.condition
        if cond is None or cond.expr is None or edge.kind != "branch":
            continue
        reads = index.reads.get(i, frozenset())
        if not reads or any(_status(state, r) != sched.StepStatus.SUCCEEDED for r in reads):
            continue  # a judgment on no evidence, or on failed evidence: not a finding
        end = _conclusion(plan, index, edge.target)
        if end is None or end.outcome is None or end.outcome in HEALTHY:
            continue
        if end.outcome == Outcome.INCONCLUSIVE:
            continue
        try:
            holds = templating.evaluate(cond.expr, view)
        except MendflowError:
            continue  # a condition that cannot be evaluated proves nothing
        if not holds:
            continue
        taken = bool(state.edges.get(i))
        if not taken and edge.source in beyond:
            continue  # asked only if a check the run passed had failed: out of its context
        evidence = tuple((sid, _short(view, sid)) for sid in sorted(reads))
        found.append((order.get(edge.source, 0), i, Finding(
            decision=edge.source, condition=cond.text or cond.expr,
            conclusion=_rendered(end.title, view),
            taken=taken, evidence=evidence)))
    found.sort(key=lambda t: (t[0], t[1]))
    return [f for _, _, f in found]


def _beyond_a_healthy_ending(plan: Plan, index: sched.PlanIndex,
                             state: sched.RunState) -> set[str]:
    """Steps reached only past a decision whose taken branch ended the run healthy: "If the
    directory is within its budget, no action is needed. If there are no old files, escalate
    (the directory is full of recent files)": when the first holds, the second was never the
    question, and reporting it as a problem would contradict the run's own outcome."""
    out: set[str] = set()
    for i, edge in enumerate(plan.edges):
        if edge.condition is None or not state.edges.get(i):
            continue
        end = _conclusion(plan, index, edge.target)
        if end is None or end.outcome not in HEALTHY:
            continue
        todo = [e.target for j, e in index.outgoing[edge.source] if j != i]
        while todo:
            sid = todo.pop()
            if sid in out:
                continue
            out.add(sid)
            todo.extend(e.target for _, e in index.outgoing[sid])
    return out


def _status(state: sched.RunState, sid: str) -> sched.StepStatus | None:
    st = state.steps.get(sid)
    return st.status if st is not None else None


def _conclusion(plan: Plan, index: sched.PlanIndex, start: str) -> Step | None:
    """The end step a branch leads to when nothing else is decided on the way: follow
    unconditional edges only (a further decision makes the conclusion not this branch's)."""
    queue, seen = deque([start]), {start}
    while queue:
        sid = queue.popleft()
        step = index.steps[sid]
        if step.kind == StepKind.END:
            return step
        for _, edge in index.outgoing[sid]:
            if edge.on == "success" and edge.condition is None and edge.target not in seen:
                seen.add(edge.target)
                queue.append(edge.target)
    return None


def _rendered(text: str, view: Mapping[str, Any]) -> str:
    """A conclusion the guide wrote as a template, with its values; as written if it names
    something the run did not find."""
    if not templating.is_template(text):
        return text
    try:
        return " ".join(templating.render(text, view).split())
    except MendflowError:
        return text


def _short(view: Mapping[str, Any], sid: str) -> str:
    out = (view.get("steps") or {}).get(sid)
    if not isinstance(out, Mapping):
        return ""
    if "stdout" in out:
        text = str(out.get("stdout") or "")
    elif "rows" in out:
        text = str(out.get("rows"))
    else:
        text = str({k: v for k, v in out.items() if k != "artifacts"})
    text = " | ".join(ln.strip() for ln in text.splitlines() if ln.strip())
    return text if len(text) <= _VALUE_CHARS else text[: _VALUE_CHARS - 1] + "…"
