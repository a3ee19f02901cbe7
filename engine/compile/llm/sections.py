"""Long guides, one section at a time: the structure stays the compiler's, steps are refined.

When a guide and its plan do not fit the model's context, the guide is split at its top-level
headings (never truncated). For each section the model sees those lines and the structural
plan's steps whose spans lie in them, and may refine those steps (params, templates, binds,
titles) and the expressions on the edges between them, but add or remove nothing. Each patch is
merged and the whole plan checked again; a patch that breaks a check is dropped and that
section keeps its structural steps (the result's `notes` say which). A single section that
alone exceeds the budget raises `GuideTooLong`.
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import ValidationError as PydanticValidationError

from engine.compile.llm import prompts
from engine.compile.llm.checks import check_candidate
from engine.compile.llm.errors import GuideTooLong, ModelOutputError
from engine.compile.llm.grounding import Grounding
from engine.compile.llm.provider import Usage, ask
from engine.compile.llm.results import LlmCompileResult, LlmOptions, compiler_name, estimate_tokens
from engine.guide import Guide
from engine.plan import Condition, InputSpec, Plan, Step


def sections(guide: Guide) -> list[tuple[int, int, str]]:
    """(first line, last line, heading) of each top-level section, covering the whole guide."""
    heads = [e for e in guide.elements if e.kind == "heading"]
    top = min((h.level for h in heads), default=1)
    level = top + 1 if sum(1 for h in heads if h.level == top) == 1 else top
    starts = [(h.span.start, h.text) for h in heads if h.level <= level]
    if not starts or starts[0][0] > 1:
        starts.insert(0, (1, "(start)"))
    out = []
    for i, (start, name) in enumerate(starts):
        end = starts[i + 1][0] - 1 if i + 1 < len(starts) else guide.line_count
        out.append((start, end, name))
    return out


def compile_by_section(guide: Guide, text: str, base: Plan, *, model: BaseChatModel,
                       model_label: str, usage: Usage, grounding: Grounding,
                       options: LlmOptions, budget: int) -> LlmCompileResult:
    plan = _replace(base, compiler=compiler_name(model_label))
    notes: list[str] = []
    refined = 0
    for start, end, name in sections(guide):
        ids = {s.id for s in base.steps if start <= s.source.start and s.source.end <= end}
        if not ids:
            continue
        steps = [s.model_dump(mode="json") for s in base.steps if s.id in ids]
        edges = [e.model_dump(mode="json") for e in base.edges
                 if e.source in ids and e.target in ids]
        request = prompts.section_request(text, start, end, json.dumps(steps),
                                          json.dumps(edges))
        if estimate_tokens(prompts.SYSTEM + request) > budget:
            raise GuideTooLong(
                f"section {name!r} (lines {start}-{end}) alone is larger than "
                f"{model_label}'s context budget ({budget} tokens)", provider=model_label,
                file=guide.path, line=start,
                hint="Split the section into smaller sections or guides, or use a model with "
                "a larger context; the structural plan needs no LLM")
        reply = ask(model, [SystemMessage(prompts.SYSTEM), HumanMessage(request)], schema=None,
                    provider=model_label, usage=usage)
        merged, why = _merge(plan, reply.data, ids) if reply.data is not None else \
            (None, reply.error or "empty reply")
        if merged is not None:
            found = check_candidate(merged, structural=base, grounding=grounding,
                                    known_plugins=options.known_plugins,
                                    registry=options.registry)
            why = "; ".join(str(p) for p in found[:3]) if found else ""
            if not found:
                plan, refined = merged, refined + 1
                continue
        notes.append(f"lines {start}-{end} ({name}): kept the structural steps ({why})")
    if not refined:
        raise ModelOutputError(f"{model_label} refined no section of the guide",
                               provider=model_label, problems=notes, file=guide.path,
                               hint="The structural plan still works: run without --llm")
    return LlmCompileResult(plan, base, model_label, refined, usage, mode="sections",
                            notes=notes)


def _merge(plan: Plan, data: Any, ids: set[str]) -> tuple[Plan | None, str]:
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
        return None, "the reply has no steps"
    try:
        new_steps = {s.id: s for s in (Step.model_validate(x) for x in data["steps"])}
        new_inputs = [InputSpec.model_validate(x) for x in data.get("inputs") or []]
        conds = {(e["source"], e["target"], e.get("kind", "next"), e.get("on", "success")):
                 e.get("condition") for e in data.get("edges") or [] if isinstance(e, dict)}
    except (PydanticValidationError, KeyError, TypeError) as exc:
        return None, f"schema: {str(exc).splitlines()[0]}"
    if set(new_steps) != ids:
        return None, "the reply added or dropped steps"
    steps = [new_steps.get(s.id, s) for s in plan.steps]
    edges = []
    for e in plan.edges:
        key = (e.source, e.target, e.kind, e.on)
        c = conds.get(key)
        if key in conds and e.condition is not None and isinstance(c, dict):
            e = e.model_copy(update={"condition": Condition(
                text=e.condition.text, expr=c.get("expr") or None)})
        edges.append(e)
    have = {i.name for i in plan.inputs}
    inputs = list(plan.inputs) + [i for i in new_inputs if i.name not in have]
    return _replace(plan, steps=steps, edges=edges, inputs=inputs), ""


def _replace(plan: Plan, **fields: Any) -> Plan:
    """A validated copy (model_copy would skip validation and keep the cached JSON)."""
    data = plan.model_dump(mode="json")
    for key, value in fields.items():
        data[key] = [v.model_dump(mode="json") for v in value] if isinstance(value, list) \
            else value
    return Plan.model_validate(data)
