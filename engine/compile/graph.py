"""Plan -> diagrams: Mermaid (for Markdown and GitLab/GitHub) and Graphviz DOT.

This module owns drawing a plan; it draws what is there and judges nothing (validation is
`engine.compile.validate`). Output is deterministic: steps and edges in plan order.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import textwrap

from engine.errors import ConfigError
from engine.plan import Edge, Plan, StepKind
from engine.stepsettings import StepSettings

_MERMAID_SHAPE = {
    StepKind.DECIDE: ("{", "}"), StepKind.APPROVE: ("[/", "/]"), StepKind.END: ("([", "])"),
    StepKind.MANUAL: ("[[", "]]"), StepKind.CALL: ("[[", "]]"),
}
_DOT_SHAPE = {StepKind.DECIDE: "diamond", StepKind.APPROVE: "parallelogram",
              StepKind.END: "oval", StepKind.MANUAL: "box3d", StepKind.CALL: "component"}


def _label_lines(plan: Plan, step_id: str) -> list[str]:
    """The step's id, its words (code spans dropped, wrapped), and for a decision the
    expression that decides it, or that a person judges it."""
    s = plan.step(step_id)
    words = re.sub(r"\s*\(`[^`]*`\)|`[^`]*`", "", s.title)
    words = re.sub(r"\s*\(?`[^`]*$", "", words).strip(" ,.:…") or s.title  # a cut-off span
    lines = [s.id if s.kind != StepKind.END else f"{s.id} ({s.outcome})"]
    lines += textwrap.wrap(words, 40)[:3]
    limits = StepSettings(timeout=s.timeout_s, retries=s.retry.attempts - 1,
                          backoff=s.retry.backoff_s).describe()
    if limits:
        lines.append(f"({limits})")
    if s.kind == StepKind.DECIDE:
        exprs = [e.condition.expr for e in plan.edges if e.source == s.id and e.kind == "branch"
                 and e.condition is not None]
        if exprs and all(exprs):
            lines += textwrap.wrap(str(exprs[0]), 44)[:2]
        elif exprs:
            lines.append("(a person judges)")
    return lines


def _label(plan: Plan, step_id: str, sep: str = "\n") -> str:
    return sep.join(_label_lines(plan, step_id))


def _edge_label(e: Edge) -> str:
    """Short: a decide step's node already shows its condition, so its edges say yes / no."""
    parts = []
    if e.on == "failure":
        parts.append("on failure")
    if e.kind == "branch" and e.condition is not None:
        parts.append("yes")
    elif e.kind == "else":
        parts.append("no")
    elif e.condition is not None:
        parts.append(e.condition.text[:50])
    if e.kind == "jump":
        parts.append("jump")
    return "; ".join(parts)


def _q(text: str) -> str:
    """A DOT string: JSON's quoting, but UTF-8 kept (DOT does not read \\u escapes)."""
    return json.dumps(text, ensure_ascii=False)


_OUTCOME_CLASS = {"resolved": "ok", "mitigated": "ok", "no_action": "ok", "escalate": "warn"}


def to_mermaid(plan: Plan) -> str:
    lines = ["flowchart TD"]
    ids = {s.id: f"n{i}" for i, s in enumerate(plan.steps)}
    for s in plan.steps:
        left, right = _MERMAID_SHAPE.get(s.kind, ("[", "]"))
        text = _label(plan, s.id, "<br/>").replace('"', "#quot;")
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
    lines = [f"digraph {_q(plan.id)} {{", "  rankdir=TB;",
             '  node [fontname="Helvetica", fontsize=10]; edge [fontname="Helvetica", fontsize=9];']
    for s in plan.steps:
        shape = _DOT_SHAPE.get(s.kind, "box")
        fill = {"ok": "#d8f3dc", "warn": "#ffe5b4"}.get(
            _OUTCOME_CLASS.get(str(s.outcome), ""), "#e0e7ff" if s.kind == StepKind.APPROVE
            else "white")
        lines.append(f"  {_q(s.id)} [shape={shape}, style=filled, fillcolor="
                     f"{_q(fill)}, label={_q(_label(plan, s.id))}];")
    for e in plan.edges:
        attrs = []
        label = _edge_label(e)
        if label:
            attrs.append(f"label={_q(label)}")
        if e.on == "failure" or e.kind == "jump":
            attrs.append("style=dashed")
        suffix = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(f"  {_q(e.source)} -> {_q(e.target)}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_graphviz(dot: str, fmt: str, *, timeout_s: float = 60) -> bytes:
    """Render DOT to SVG or PNG with Graphviz's `dot` (argv, no shell)."""
    exe = shutil.which("dot")
    if exe is None:
        raise ConfigError("Graphviz is not installed: cannot render a picture",
                          hint="Install it (apt-get install graphviz), or use --format "
                               "mermaid or dot")
    try:
        proc = subprocess.run([exe, f"-T{fmt}"], input=dot.encode(), capture_output=True,
                              timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise ConfigError(f"Graphviz took longer than {timeout_s:g} s") from None
    if proc.returncode != 0:
        raise ConfigError(f"Graphviz failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout
