"""Plan -> diagrams: Mermaid (for Markdown and GitLab/GitHub) and Graphviz DOT.

This module owns drawing a plan; it draws what is there and judges nothing (validation is
`engine.compile.validate`). Output is deterministic: steps and edges in plan order.
"""

from __future__ import annotations

import json

from engine.plan import Edge, Plan, StepKind

_MERMAID_SHAPE = {
    StepKind.DECIDE: ("{", "}"), StepKind.APPROVE: ("[/", "/]"), StepKind.END: ("([", "])"),
    StepKind.MANUAL: ("[[", "]]"), StepKind.CALL: ("[[", "]]"),
}
_DOT_SHAPE = {StepKind.DECIDE: "diamond", StepKind.APPROVE: "parallelogram",
              StepKind.END: "oval", StepKind.MANUAL: "box3d", StepKind.CALL: "component"}


def _label(plan: Plan, step_id: str) -> str:
    s = plan.step(step_id)
    text = s.title if s.kind != StepKind.END else f"{s.title} ({s.outcome})"
    return f"{s.id}: {text}"[:90]


def _edge_label(e: Edge) -> str:
    parts = []
    if e.on == "failure":
        parts.append("on failure")
    if e.condition is not None:
        parts.append(e.condition.text[:50])
    if e.kind == "jump":
        parts.append("jump")
    return "; ".join(parts)


def to_mermaid(plan: Plan) -> str:
    lines = ["flowchart TD"]
    ids = {s.id: f"n{i}" for i, s in enumerate(plan.steps)}
    for s in plan.steps:
        left, right = _MERMAID_SHAPE.get(s.kind, ("[", "]"))
        text = _label(plan, s.id).replace('"', "'")
        lines.append(f'    {ids[s.id]}{left}"{text}"{right}')
    for e in plan.edges:
        if e.source not in ids or e.target not in ids:
            continue
        arrow = "-.->" if e.on == "failure" or e.kind == "jump" else "-->"
        label = _edge_label(e).replace('"', "'").replace("|", "/")
        middle = f'{arrow}|"{label}"|' if label else arrow
        lines.append(f"    {ids[e.source]} {middle} {ids[e.target]}")
    return "\n".join(lines) + "\n"


def to_dot(plan: Plan) -> str:
    lines = [f"digraph {json.dumps(plan.id)} {{", "  rankdir=TB;"]
    for s in plan.steps:
        shape = _DOT_SHAPE.get(s.kind, "box")
        lines.append(f"  {json.dumps(s.id)} [shape={shape}, label={json.dumps(_label(plan, s.id))}];")
    for e in plan.edges:
        attrs = []
        label = _edge_label(e)
        if label:
            attrs.append(f"label={json.dumps(label)}")
        if e.on == "failure" or e.kind == "jump":
            attrs.append("style=dashed")
        suffix = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(f"  {json.dumps(e.source)} -> {json.dumps(e.target)}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"
