"""Hand-made plans for tests that run them through `mendflow run PLAN.json`.

A plan file meets the same rules as a compiled plan (`engine.compile.validate`): every step
that changes the world has an approve step right before it, whose denial ends the run. Tests
build their plans from bare steps; `gate_changes` puts the gates in.
"""

from __future__ import annotations

from engine.plan import Edge, Plan, Step, StepKind


def gate_changes(plan: Plan) -> Plan:
    """`plan` with an `approve-<id>` step in front of each mutating step (not clean-up), all
    its incoming edges moved to the gate, and a denial path to an `escalate` end."""
    mutating = [s for s in plan.steps if s.mutating and s.id not in plan.cleanup]
    if not mutating:
        return plan
    steps = list(plan.steps)
    edges: list[Edge] = []
    gates = {s.id: f"approve-{s.id}" for s in mutating}
    for e in plan.edges:
        edges.append(e.model_copy(update={"target": gates[e.target]}) if e.target in gates
                     else e)
    denied = "end-denied"
    for s in mutating:
        steps.append(Step(id=gates[s.id], title=f"Approve {s.title}", kind=StepKind.APPROVE,
                          source=s.source))
        edges += [Edge(source=gates[s.id], target=s.id),
                  Edge(source=gates[s.id], target=denied, on="failure", kind="error")]
    steps.append(Step(id=denied, title="Not approved", kind=StepKind.END, outcome="escalate",
                      source=mutating[0].source))
    entry = gates.get(plan.entry, plan.entry)
    return plan.model_copy(update={"steps": steps, "edges": edges, "entry": entry})
