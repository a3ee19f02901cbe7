"""Compiling a guide written in a test, and reading the plan: the helpers compile tests share
(tests/support/plans.py holds hand-built plans)."""

from __future__ import annotations

from engine.compile import compile_guide
from engine.guide import parse_guide
from engine.plan import Plan, Step, StepKind

PLUGINS = {"shell", "bash", "prometheus", "sql", "http", "logs"}


def compile_text(text: str) -> Plan:
    return compile_guide(parse_guide(text, path="guide.md"), known_plugins=PLUGINS)


def runs(plan: Plan) -> list[Step]:
    return [s for s in plan.steps if s.kind == StepKind.COMMAND]


def pipelines(plan: Plan) -> list[list[list[str]]]:
    return [s.params["pipeline"] for s in runs(plan)]


def gated(plan: Plan, step_id: str) -> bool:
    return any(plan.step(e.source).kind == StepKind.APPROVE for _, e in plan.incoming(step_id))


def manual_scripts(plan: Plan) -> list[str]:
    return [str(s.params.get("script", "")) for s in plan.steps if s.kind == StepKind.MANUAL]
