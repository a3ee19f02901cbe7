"""Questions for people, through the store: what a run started by `mendflow serve` asks when
its options and policy do not answer (`RunOptions.ask_people`).

The question is written to the store (`Store.ask_question`) and the step waits, polling,
until a person answers it through the API (`Store.answer_question`, with who, when and from
where). Any process sharing the store may take the answer: the server that started the run,
another server behind the same load balancer, or a Celery worker running the gate. The step
waits as long as it takes; cancelling the run ends the wait.

Each question is kept by its own key (`question_key`): a judgment by its edge, so that the
answer to one If of a decision never answers another, nor the approval of the same step.

A step in doubt after a crash is not asked here: `mendflow resume` answers it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from engine.interaction import CALL_SEP, Answer, InDoubtReply, NeedsAnswer, in_doubt_hint
from engine.plan import Edge, Step
from engine.store.base import QuestionKind, Store

POLL_FIRST_S = 0.1
POLL_MAX_S = 1.0


class StoreQuestions:
    def __init__(self, store: Store, run_id: str, address: str = "") -> None:
        self.store = store
        self.run_id = run_id
        self.address = address  # "fix/": a linked guide's questions, kept as `fix/KEY`

    def for_call(self, call: str) -> StoreQuestions:
        """A linked guide's questions, kept with its caller's as `CALL/KEY` (as the command
        line names them): the answer to the caller's `restart` never answers the guide's."""
        return StoreQuestions(self.store, self.run_id, f"{self.address}{call}{CALL_SEP}")

    async def _ask(self, key: str, kind: QuestionKind, text: str) -> Answer:
        """Ask the question kept as `key` (`question_key`) and wait for its answer."""
        key = self.address + key
        asked = await self.store.ask_question(self.run_id, key, kind=kind, text=text)
        pause = POLL_FIRST_S
        while asked.yes is None:
            await asyncio.sleep(pause)
            pause = min(pause * 2, POLL_MAX_S)
            asked = await self.store.ask_question(self.run_id, key, kind=kind, text=text)
        return Answer(asked.yes, f"api:{asked.by} from {asked.source}")

    async def approve(self, *, step: Step, action: str, commands: Sequence[str] = ()) -> Answer:
        return await self._ask(question_key(step), "approve", action)

    async def confirm_manual(self, *, step: Step, instructions: str) -> Answer:
        return await self._ask(question_key(step), "manual", instructions)

    async def judge(self, *, step: Step, edge: Edge, evidence: str) -> Answer:
        text = edge.condition.text if edge.condition else edge.target
        return await self._ask(question_key(step, edge), "judge", text)

    async def settle_in_doubt(self, *, step: Step, reason: str) -> InDoubtReply:
        raise NeedsAnswer(f"{reason}: it is not run again unless a person says so",
                          step=step.id, hint=f"Resume it: {in_doubt_hint(step.id)}")


def question_key(step: Step, edge: Edge | None = None) -> str:
    """What a question is kept and answered by (`Question.step_id`): an approval or a manual
    step by its step, a judgment by its edge (`DECIDE->TARGET`, as `--answer` names it). A
    decision with two Ifs asks two questions, and a gate whose branches a person judges asks
    its approval apart: one answer never stands for another question."""
    return f"{step.id}->{edge.target}" if edge is not None else step.id
