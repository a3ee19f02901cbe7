"""The LLM compile as a LangGraph state graph: propose -> check -> (repair -> propose)* -> done.

It starts from the structural plan and the guide, asks the model for a refined plan in the plan
schema (structured output where the provider has it), checks the answer with `checks` (the same
validator as every plan, plus grounding, templates and coverage), and on failure sends the
problems back for a bounded number of repairs. It accepts a plan or raises `ModelOutputError`
with the last problems. A guide whose prompt would not fit the model's context is refined one
section at a time (`engine.compile.llm.sections`), never truncated.

It does not build chat models (`provider`), cache plans (`engine.compile.cache`), or decide what
to do when the LLM path fails (the caller falls back to the structural plan and says so).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langgraph.graph import END, START, StateGraph

from engine.compile import compile_guide
from engine.compile.llm import prompts
from engine.compile.llm.checks import candidate, check_candidate
from engine.compile.llm.errors import LlmError, ModelOutputError
from engine.compile.llm.grounding import Grounding
from engine.compile.llm.provider import Reply, Usage, ask
from engine.compile.llm.results import (
    PROMPT_SHARE,
    LlmCompileResult,
    LlmOptions,
    compiler_name,
    estimate_tokens,
)
from engine.compile.llm.sections import compile_by_section
from engine.compile.stepsettings import apply_step_settings
from engine.guide import Guide
from engine.plan import Plan, plan_json_schema

__all__ = ["LlmCompileResult", "LlmOptions", "compile_with_llm", "compiler_name",
           "estimate_tokens", "guide_text"]


class _State(TypedDict, total=False):
    messages: list[BaseMessage]
    attempt: int
    reply: Reply | None
    plan: Plan | None
    problems: list[str]


def guide_text(guide: Guide, text: str | None = None) -> str:
    if text is not None:
        return text
    return Path(guide.path).read_text(encoding="utf-8-sig").replace("\r\n", "\n")


def compile_with_llm(guide: Guide, *, model: BaseChatModel, model_label: str,
                     text: str | None = None, options: LlmOptions | None = None,
                     structural: Plan | None = None) -> LlmCompileResult:
    """Refine the structural plan of `guide` with `model`; raises an `LlmError` on failure."""
    opts = options or LlmOptions()
    usage = Usage(model=model_label)
    try:
        result = _compile(guide, model=model, model_label=model_label, text=text, opts=opts,
                          structural=structural, usage=usage)
        # The author's timeouts and retries hold whatever the model wrote for them.
        result.plan = apply_step_settings(result.plan, guide)
        return result
    except LlmError as exc:  # what the failed attempts cost is still counted by the caller
        exc.usage = usage
        raise


def _compile(guide: Guide, *, model: BaseChatModel, model_label: str, text: str | None,
             opts: LlmOptions, structural: Plan | None, usage: Usage) -> LlmCompileResult:
    source = guide_text(guide, text)
    base = structural or compile_guide(guide, known_plugins=opts.known_plugins)
    grounding = Grounding(guide)
    schema = plan_json_schema(calls=False)  # linked guides' plans are bundled, not written
    request = prompts.compile_request(source, base.to_json(indent=None), schema)
    budget = int(opts.context_tokens * PROMPT_SHARE)
    if estimate_tokens(prompts.SYSTEM + request) > budget:

        return compile_by_section(guide, source, base, model=model, model_label=model_label,
                                  usage=usage, grounding=grounding, options=opts, budget=budget)
    messages: list[BaseMessage] = [SystemMessage(prompts.SYSTEM), HumanMessage(request)]
    runner = _Runner(model, model_label, base, grounding, usage, opts, schema)
    final = runner.graph.invoke({"messages": messages, "attempt": 0},
                                {"recursion_limit": 4 * (opts.max_repairs + 2)})
    if final.get("plan") is None:
        raise ModelOutputError(
            f"{model_label} gave no acceptable plan in {final['attempt']} attempt(s); last "
            f"problems: {'; '.join(final['problems'][:3])}", problems=final["problems"],
            provider=model_label, file=guide.path,
            hint="The structural plan still works: run without --llm, or try a stronger model")
    return LlmCompileResult(final["plan"], base, model_label, final["attempt"], usage)


class _Runner:
    """The graph's nodes, closed over the model and what the checks need."""

    def __init__(self, model: BaseChatModel, label: str, base: Plan, grounding: Grounding,
                 usage: Usage, opts: LlmOptions, schema: dict[str, Any]) -> None:
        self.model, self.label, self.base = model, label, base
        self.grounding, self.usage, self.opts, self.schema = grounding, usage, opts, schema
        g = StateGraph(_State)
        g.add_node("propose", self.propose)
        g.add_node("check", self.check)
        g.add_node("repair", self.repair)
        g.add_edge(START, "propose")
        g.add_edge("propose", "check")
        g.add_conditional_edges("check", self.route, {"done": END, "repair": "repair"})
        g.add_edge("repair", "propose")
        self.graph = g.compile()

    def propose(self, state: _State) -> _State:
        reply = ask(self.model, state["messages"], schema=self.schema, provider=self.label,
                    usage=self.usage)
        return {"reply": reply, "attempt": state["attempt"] + 1}

    def check(self, state: _State) -> _State:
        reply = state["reply"]
        assert reply is not None
        if reply.data is None:
            return {"plan": None, "problems": [reply.error or "the reply is empty"]}
        plan, problems = candidate(reply.data, self.base, compiler_name(self.label))
        if plan is None:
            return {"plan": None, "problems": problems}
        found = check_candidate(plan, structural=self.base, grounding=self.grounding,
                                known_plugins=self.opts.known_plugins,
                                registry=self.opts.registry)
        if found:
            return {"plan": None, "problems": [str(p) for p in found]}
        return {"plan": plan, "problems": []}

    def route(self, state: _State) -> str:
        if state.get("plan") is not None or state["attempt"] > self.opts.max_repairs:
            return "done"
        return "repair"

    def repair(self, state: _State) -> _State:
        reply = state["reply"]
        said = reply.raw if reply is not None and reply.raw is not None else AIMessage("")
        return {"messages": [*state["messages"], said,
                             HumanMessage(prompts.repair_request(state["problems"]))]}
