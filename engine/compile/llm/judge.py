"""Judgment conditions decided by the configured LLM, with the model's rationale.

`LlmJudge` implements the `Interaction` protocol (`engine.runtime.interaction`): it answers
`judge` by asking the model whether the condition's sentence holds given what the step found,
and returns `Answer(yes, "llm:MODEL", rationale)`. Approvals and manual steps are never the
model's to answer: they go to the fallback (the terminal prompt, or flags). When the model
cannot decide (it says so, its reply is garbage, or the provider fails) the fallback decides,
so a person is asked exactly as without an LLM. Every decision is reported to `on_decision`
(the CLI prints it) and kept in `decisions`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from engine.compile.llm import prompts
from engine.compile.llm.errors import LlmError
from engine.compile.llm.provider import Usage, ask
from engine.plan import Edge, Step
from engine.runtime.interaction import Answer, InDoubtReply, Interaction, NeedsAnswer

JUDGE_SCHEMA = {
    "title": "Judgment", "type": "object",
    "properties": {"holds": {"type": ["boolean", "null"]}, "rationale": {"type": "string"}},
    "required": ["holds", "rationale"],
}


@dataclass(frozen=True)
class Decision:
    step: str
    target: str
    condition: str
    holds: bool | None  # None: the model could not decide; the fallback was asked
    rationale: str
    by: str


@dataclass
class LlmJudge:
    model: BaseChatModel
    label: str
    fallback: Interaction | None = None
    on_decision: Callable[[Decision], None] | None = None
    usage: Usage = field(default_factory=Usage)
    decisions: list[Decision] = field(default_factory=list)

    async def approve(self, *, step: Step, action: str) -> Answer:
        return await self._fallback().approve(step=step, action=action)

    async def confirm_manual(self, *, step: Step, instructions: str) -> Answer:
        return await self._fallback().confirm_manual(step=step, instructions=instructions)

    async def settle_in_doubt(self, *, step: Step, reason: str) -> InDoubtReply:
        return await self._fallback().settle_in_doubt(step=step, reason=reason)

    async def judge(self, *, step: Step, edge: Edge, evidence: str) -> Answer:
        text = edge.condition.text if edge.condition else edge.target
        messages = [SystemMessage(prompts.JUDGE_SYSTEM),
                    HumanMessage(prompts.judge_request(text, step.title, step.text, evidence))]
        self.usage.model = self.usage.model or self.label
        holds: bool | None = None
        try:
            reply = await asyncio.to_thread(ask, self.model, messages, schema=JUDGE_SCHEMA,
                                            provider=self.label, usage=self.usage)
            data = reply.data or {}
            holds = data.get("holds") if isinstance(data.get("holds"), bool) else None
            rationale = str(data.get("rationale") or reply.error or "")[:1000]
        except LlmError as exc:
            rationale = f"the model could not be asked: {exc}"
        by = f"llm:{self.label}"
        self._record(Decision(step.id, edge.target, text, holds, rationale, by))
        if holds is not None:
            return Answer(holds, by, rationale)
        return await self._fallback().judge(step=step, edge=edge, evidence=evidence)

    def _record(self, decision: Decision) -> None:
        self.decisions.append(decision)
        if self.on_decision is not None:
            self.on_decision(decision)

    def _fallback(self) -> Interaction:
        if self.fallback is None:
            raise NeedsAnswer("a person must answer this (the LLM judge only decides "
                              "conditions)", hint="Run interactively, or pass --yes/--answer")
        return self.fallback
