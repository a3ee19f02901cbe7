r"""Trust, session 25 (the runtime): one budget, no effect guessed at.

1. The LLM judge's time budget (`llm_budget_s`) is the run's, but a linked guide's (call
   step's) run judged with a copy of its numbers: each call started afresh from what the
   caller had spent then, and what the linked guide spent was lost. A guide calling another
   guide again and again judged with a fresh budget each time. The spending is one object,
   shared by the run and every guide it links to.
2. A change that timed out (or was cut off after it may have acted) failed, and its error
   path was taken at once: "restart; if the restart fails, kill the process" killed the
   process while the restart, its effect unknown, may have done its work (or still be at
   it). Such a change whose error path goes on to act is in doubt: a person says what it
   did (`--mark-failed` takes the error path) before the next way runs.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from engine.compile.llm import LlmJudge
from engine.interaction import Answer, Answers, for_call, parse_in_doubt
from engine.plan import Condition, Edge, Plan, Span, Step, StepKind
from engine.plugins import default_registry
from engine.runtime.executor import LocalExecutor
from engine.runtime.services import Services
from engine.settings import Settings
from engine.store import open_store
from tests.engine.compile.llm.scripted import ScriptedChatModel
from tests.engine.runtime.conftest import edge, end, sh, step
from tests.engine.runtime.conftest import plan as make_plan
from tests.support.running import run_locally

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


# -- 2. a change whose effect is unknown is not followed by the next way ---------------------------


def _restart_else_kill(tmp_path: Path, *, then_escalate: bool = False) -> Plan:
    """Approve, restart (a change that hangs past its 0.5 s timeout); if the restart fails,
    approve and kill (a change that leaves `killed`), or (`then_escalate`) escalate."""
    killed = tmp_path / "killed"
    steps = [step("approve-restart", kind="approve"),
             sh("restart", "sleep", "5", mutating=True, timeout_s=0.5),
             step("approve-kill", kind="approve"), sh("kill", "touch", str(killed), mutating=True),
             end("done", "mitigated"), end("page", "escalate")]
    edges = [edge("approve-restart", "restart"), edge("restart", "done"),
             edge("restart", "page" if then_escalate else "approve-kill", on="failure",
                  kind="error"),
             edge("approve-kill", "kill"), edge("kill", "done")]
    return make_plan(steps, edges)


_BOTH = Answers(approvals=("approve-restart", "approve-kill"))


def test_a_timed_out_change_is_not_followed_by_the_next_way_unasked(tmp_path: Path) -> None:
    # Given "restart; if the restart fails, kill", both approved, and a restart that times out
    record = run_locally(_restart_else_kill(tmp_path), tmp_path, interaction=_BOTH)
    # Then the kill did not run: the restart is in doubt, the run stops for a person (before:
    # the restart failed and the kill ran at once)
    assert not (tmp_path / "killed").exists(), record.reason
    assert record.status == "interrupted", record.reason
    assert "--mark-failed restart" in (record.reason or ""), record.reason


def test_a_person_saying_the_change_failed_takes_its_error_path(tmp_path: Path) -> None:
    record = run_locally(_restart_else_kill(tmp_path), tmp_path, interaction=_BOTH)
    said = Answers(approvals=("approve-restart", "approve-kill"),
                   in_doubt=parse_in_doubt(failed=["restart"]))

    async def resume() -> Any:
        store = open_store(tmp_path / "s.sqlite3")
        await store.open()
        try:
            ex = LocalExecutor(Services(store=store, registry=default_registry(),
                                        settings=Settings(data_dir=tmp_path)), interaction=said)
            return await ex.resume(record.run_id)
        finally:
            await store.close()

    resumed = asyncio.run(resume())
    assert (tmp_path / "killed").exists(), resumed.reason
    assert (resumed.status, resumed.outcome) == ("succeeded", "mitigated"), resumed.reason


def test_a_timed_out_change_whose_error_path_acts_on_nothing_escalates(tmp_path: Path) -> None:
    record = run_locally(_restart_else_kill(tmp_path, then_escalate=True), tmp_path,
                         interaction=_BOTH)
    assert (record.status, record.outcome) == ("succeeded", "escalate"), record.reason
