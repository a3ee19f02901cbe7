"""Judgment conditions decided by the configured LLM, with the model's rationale.

`LlmJudge` implements the `Interaction` protocol (`engine.interaction`): it answers
`judge` by asking the model whether the condition's sentence holds given what the step found,
and returns `Answer(yes, "llm:MODEL", rationale)`. Approvals and manual steps are never the
model's to answer: they go to the fallback (the terminal prompt, or flags). When the model
cannot decide (it says so, its reply is garbage, or the provider fails) the fallback decides,
so a person is asked exactly as without an LLM. Every decision is reported to `on_decision`
(the CLI prints it) and kept in `decisions`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from engine.compile.llm import prompts
from engine.compile.llm.errors import LlmError
from engine.compile.llm.provider import Usage, ask
from engine.interaction import Answer, InDoubtReply, Interaction, NeedsAnswer, for_call
from engine.plan import Edge, Step

JUDGE_SCHEMA = {
    "title": "Judgment", "type": "object",
    "properties": {"holds": {"type": ["boolean", "null"]},
                   "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                   "rationale": {"type": "string"}},
    "required": ["holds", "rationale"],
}
EVIDENCE_CHARS = 4000


@dataclass(frozen=True)
class Decision:
    step: str
    target: str
    condition: str
    holds: bool | None  # None: the model could not decide; the fallback was asked
    rationale: str
    by: str
    evidence: str = ""  # what the model was shown (bounded, already redacted)
    confidence: float | None = None


@dataclass
class _Spending:
    """What a run's judge has spent of its LLM time, and why it stopped asking (None: it
    has not): one per run, shared by the judges of the guides it links to."""

    spent_s: float = 0.0
    broken: str | None = None


@dataclass
class LlmJudge:
    model: BaseChatModel
    label: str
    fallback: Interaction | None = None
    on_decision: Callable[[Decision], None] | None = None
    usage: Usage = field(default_factory=Usage)
    decisions: list[Decision] = field(default_factory=list)
    min_confidence: float = 0.6
    budget_s: float = 300.0  # LLM time one run may spend; then people decide the rest
    spending: _Spending = field(default_factory=_Spending)

    @property
    def broken(self) -> str | None:
        """Why the model is no longer asked in this run (a breaker), or None."""
        return self.spending.broken

    @broken.setter
    def broken(self, why: str | None) -> None:
        self.spending.broken = why

    @property
    def spent_s(self) -> float:
        return self.spending.spent_s

    @spent_s.setter
    def spent_s(self, seconds: float) -> None:
        self.spending.spent_s = seconds

    def for_call(self, call: str) -> LlmJudge:
        """The judge of a linked guide's run: the same model, its questions for people those
        of that guide (`engine.interaction.for_call`), and the same spending, one object:
        the budget is the run's, its linked guides' judgments included, however often it calls
        them (a copy of the numbers started each call afresh from what the caller had spent
        then, and lost what the linked guide spent)."""
        return replace(self, fallback=for_call(self.fallback, call) if self.fallback else None)

    async def approve(self, *, step: Step, action: str, commands: Sequence[str] = ()) -> Answer:
        return await self._fallback(step, f"--approve {step.id} (or --yes)").approve(
            step=step, action=action, commands=commands)

    async def confirm_manual(self, *, step: Step, instructions: str) -> Answer:
        return await self._fallback(step, f"--answer {step.id}=done once done").confirm_manual(
            step=step, instructions=instructions)

    async def settle_in_doubt(self, *, step: Step, reason: str) -> InDoubtReply:
        flags = f"--rerun {step.id}, --mark-done {step.id} or --mark-failed {step.id}"
        return await self._fallback(step, flags).settle_in_doubt(step=step, reason=reason)

    async def judge(self, *, step: Step, edge: Edge, evidence: str) -> Answer:
        text = edge.condition.text if edge.condition else edge.target
        evidence = evidence[:EVIDENCE_CHARS]
        by = f"llm:{self.label}"
        if self.broken is not None:  # one message when it broke, no wait per judgment
            return await self._person(step, edge, evidence)
        messages = [SystemMessage(prompts.JUDGE_SYSTEM),
                    HumanMessage(prompts.judge_request(text, step.title, step.text, evidence))]
        self.usage.model = self.usage.model or self.label
        holds: bool | None = None
        confidence: float | None = None
        started = time.monotonic()
        try:
            reply = await asyncio.wait_for(
                asyncio.to_thread(ask, self.model, messages, schema=JUDGE_SCHEMA,
                                  provider=self.label, usage=self.usage),
                timeout=max(0.1, self.budget_s - self.spent_s))
            data = reply.data or {}
            holds = data.get("holds") if isinstance(data.get("holds"), bool) else None
            raw = data.get("confidence")
            confidence = float(raw) if isinstance(raw, (int, float)) and \
                not isinstance(raw, bool) else None
            rationale = str(data.get("rationale") or reply.error or "")[:1000]
            if holds is not None and confidence is not None and confidence < self.min_confidence:
                rationale = (f"confidence {confidence:.2f} is below {self.min_confidence:.2f}; "
                             f"a person decides ({rationale})")
                holds = None
        except TimeoutError:
            self.broken = (f"the run's LLM time budget ({self.budget_s:g} s) is spent; "
                           "people decide the remaining judgments")
            rationale = self.broken
        except LlmError as exc:
            self.broken = f"the model could not be asked ({exc}); people decide the rest of " \
                          "this run's judgments"
            rationale = self.broken
        finally:
            self.spent_s += time.monotonic() - started
        if self.spent_s >= self.budget_s and self.broken is None:
            self.broken = (f"the run's LLM time budget ({self.budget_s:g} s) is spent; "
                           "people decide the remaining judgments")
        self._record(Decision(step.id, edge.target, text, holds, rationale, by, evidence,
                              confidence))
        if holds is not None:
            return Answer(holds, by, rationale)
        return await self._person(step, edge, evidence)

    async def _person(self, step: Step, edge: Edge, evidence: str) -> Answer:
        if self.fallback is None:
            text = edge.condition.text if edge.condition else edge.target
            raise NeedsAnswer(f"a person must judge: {text!r} (the LLM judge did not decide)",
                              step=step.id,
                              hint=f"Run interactively, or pass --answer {step.id}=yes|no")
        return await self.fallback.judge(step=step, edge=edge, evidence=evidence)

    def _record(self, decision: Decision) -> None:
        self.decisions.append(decision)
        if self.on_decision is not None:
            self.on_decision(decision)

    def _fallback(self, step: Step, flag: str) -> Interaction:
        """Who answers what the model never does (approvals, manual steps, steps in doubt):
        the person; with nobody at the terminal, the exact flag that answers it."""
        if self.fallback is None:
            raise NeedsAnswer("a person must answer this (the LLM judge only decides "
                              "conditions)", step=step.id,
                              hint=f"Run interactively, or pass {flag}")
        return self.fallback
