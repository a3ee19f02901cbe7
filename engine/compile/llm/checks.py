"""Every check an LLM plan must pass, in one place, with messages fit for the repair prompt.

A candidate is accepted only if it parses in the plan schema, passes the same validator as the
structural compiler's plans (`engine.compile.validate.check_plan`), is grounded in the guide
(`grounding`), renders its templates into parameters its plugins accept (`templates`), keeps
every condition's sentence, and still runs every command and query the structural compiler
found (a step the model dropped is a command the guide asks for and the plan would skip).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError as PydanticValidationError

from engine.compile.llm.grounding import Grounding, contains, step_commands
from engine.compile.llm.templates import check_templates
from engine.compile.validate import Problem, check_plan
from engine.effects import step_verdict
from engine.plan import Plan, StepKind
from engine.plugins import Registry

# What the model may change; the rest (id, title, source hash, triggers, ...) is the guide's.
MODEL_FIELDS = ("steps", "edges", "entry", "inputs")


def candidate(data: Any, structural: Plan, compiler: str) -> tuple[Plan | None, list[str]]:
    """The model's JSON -> a Plan on the structural plan's identity, or why it is not one."""
    if isinstance(data, dict) and isinstance(data.get("plan"), dict):
        data = data["plan"]
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
        return None, ["the reply is not a plan: it needs a `steps` list (and `edges`, "
                      "`entry`) as in the plan schema"]
    fields = structural.model_dump(mode="json")
    for key in MODEL_FIELDS:
        if key in data:
            fields[key] = data[key]
    fields["compiler"] = compiler
    try:
        return Plan.model_validate(fields), []
    except PydanticValidationError as exc:
        return None, [f"schema: {'.'.join(str(x) for x in e['loc'])}: {e['msg']}"
                      for e in exc.errors()[:15]]


def check_candidate(plan: Plan, *, structural: Plan, grounding: Grounding,
                    known_plugins: set[str] | None = None,
                    registry: Registry | None = None) -> list[Problem]:
    problems = check_plan(plan, known_plugins=known_plugins)
    problems += grounding.check(plan, baseline=structural)
    problems += check_templates(plan, registry=registry)
    for e in plan.edges:
        if e.condition is not None and not e.condition.text.strip():
            problems.append(Problem("condition", f"edge {e.source} -> {e.target} has a "
                                    "condition with no text", "Keep the guide's sentence in "
                                    "condition.text", file=plan.source.path, step=e.source))
    problems += missing_commands(plan, structural)
    problems += unmarked_changes(plan)
    return problems


def unmarked_changes(plan: Plan) -> list[Problem]:
    """A step that is not read-only by the read-only table must say so, or the runtime refuses
    to run it (and it would otherwise run without an approval)."""
    out: list[Problem] = []
    for s in plan.steps:
        if s.mutating or not s.plugin or s.kind not in (StepKind.COMMAND, StepKind.QUERY):
            continue
        verdict = step_verdict(s.plugin, s.params, plan_params=s.params)
        if verdict.effect == "mutate":
            out.append(Problem("mutating", f"step {s.id!r} changes the world but is not marked "
                               f"mutating ({verdict.reason})", "Set mutating: true and put an "
                               "approve step (with a failure edge to escalate) right before it",
                               file=plan.source.path, line=s.source.start, step=s.id))
    return out


def missing_commands(plan: Plan, structural: Plan) -> list[Problem]:
    """Commands the structural plan runs that no step of `plan` runs."""
    ran = [tokens for s in plan.steps for tokens, _ in step_commands(s)]
    out: list[Problem] = []
    for s in structural.steps:
        for tokens, text in step_commands(s):
            if not any(contains(t, tokens) or contains(tokens, t) for t in ran):
                out.append(Problem("missing", f"the guide's command {text!r} (line "
                                   f"{s.source.start}) is not in the plan",
                                   f"Keep a step that runs it (the compiler's step {s.id!r})",
                                   file=plan.source.path, line=s.source.start, step=s.id))
    return out
