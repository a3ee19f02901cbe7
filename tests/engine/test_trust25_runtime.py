r"""Trust, session 25 (the runtime): one budget, no effect guessed at.

1. The LLM judge's time budget (`llm_budget_s`) is the run's, but a linked guide's (call
   step's) run judged with a copy of its numbers: each call started afresh from what the
   caller had spent then, and what the linked guide spent was lost. A guide calling another
   guide again and again judged with a fresh budget each time. The spending is one object,
   shared by the run and every guide it links to.
"""

from __future__ import annotations

import time
from typing import Any

from engine.compile.llm import LlmJudge
from engine.interaction import Answer, Answers, for_call
from engine.plan import Condition, Edge, Span, Step, StepKind
from tests.engine.compile.llm.scripted import ScriptedChatModel

# -- 1. one judge budget per run, its linked guides included --------------------------------------


class _SlowModel(ScriptedChatModel):
    """A model that takes 0.4 s to say the condition holds."""

    def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None,
                  **kw: Any) -> Any:
        time.sleep(0.4)
        return super()._generate(messages, stop, run_manager, **kw)


class _Person:
    async def judge(self, *, step: Step, edge: Edge, evidence: str) -> Answer:
        return Answer(False, "terminal")


_DISK = Step(id="disk", title="Check disk", kind=StepKind.COMMAND, source=Span(start=1, end=1))
_FULL = Edge(source="disk", target="clean", condition=Condition(text="If the disk is full"))


async def test_a_linked_guide_judges_within_the_runs_budget_not_a_fresh_one() -> None:
    # Given a run whose judge may spend 1 s, and a model that takes 0.4 s a judgment
    model = _SlowModel(replies=[{"holds": True, "rationale": "97% used"}] * 3, calls=[])
    judge = LlmJudge(model, "openai:test", fallback=_Person(), budget_s=1.0)
    said = Answers(fallback=judge)
    # When the run calls its linked guide three times, each call judging once
    answers = [await for_call(said, "fix").judge(step=_DISK, edge=_FULL, evidence="97%")
               for _ in range(3)]
    # Then the model answered while the run's budget lasted, then a person (before: each call
    # had a fresh budget: the model answered all three, and the run had spent 0 s)
    assert [a.by for a in answers] == ["llm:openai:test", "llm:openai:test", "terminal"]
    assert judge.spent_s >= 0.9 and "budget" in (judge.broken or "")
