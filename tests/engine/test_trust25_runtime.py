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
   did (`--mark-failed` takes the error path) before the next way runs. A linked guide
   that so stops for a person fails its call step no more: its caller stops for one too.
3. A change running when the run ended (cancelled, or another branch reached its end) was
   recorded `cancelled`, as a step that never ran is, and the report said "(cancelled)":
   it was stopped mid-way, and may have acted. Its note and the report say what it did is
   unknown.
4. (Celery, `tests/worker/test_trust25_celery.py`) a resume's policy is saved with the run:
   a worker approves a gate by policy only when both the saved and that one approve it.
5. A diagnosis written as its own guide (a call step whose linked guide changes nothing)
   that failed (its check failed: it concluded nothing) was not evidence: a caller that went
   on past it ("if that fails, go on to step 5") concluded `no_action`. Its failure is lost
   evidence, as a failed check's is: nothing healthy is concluded.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from engine.compile.llm import LlmJudge
from engine.interaction import Answer, Answers, NeedsAnswer, for_call, parse_in_doubt
from engine.plan import Condition, Edge, Plan, Span, Step, StepKind
from engine.plugins import default_registry
from engine.report import build_view, render_markdown
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


def test_a_linked_guide_stopped_for_a_person_does_not_send_its_caller_down_its_error_path(
        tmp_path: Path) -> None:
    # Given a caller that follows the linked guide "restart; if that fails, kill" (whose
    # restart times out: it stops for a person) and, if the call fails, approves and drains
    drained = tmp_path / "drained"
    child = _restart_else_kill(tmp_path)
    caller = make_plan([step("fix", kind="call", call="restart"),
                        step("approve-drain", kind="approve"),
                        sh("drain", "touch", str(drained), mutating=True),
                        end("done", "mitigated")],
                       [edge("fix", "done"),
                        edge("fix", "approve-drain", on="failure", kind="error"),
                        edge("approve-drain", "drain"), edge("drain", "done")],
                       calls={"restart": child})
    said = Answers(approvals=("approve-drain", "fix/approve-restart", "fix/approve-kill"))
    record = run_locally(caller, tmp_path, interaction=said)
    # Then neither the kill nor the drain ran: the caller stops for a person too (before:
    # the call step failed, and the caller drained at once)
    assert not drained.exists() and not (tmp_path / "killed").exists(), record.reason
    assert record.status == "interrupted", record.reason
    assert "--mark-failed fix" in (record.reason or ""), record.reason

# -- 3. a change the run's ending stopped mid-way -----------------------------------------------


def test_a_change_stopped_by_the_runs_ending_is_reported_as_unknown_not_cancelled(
        tmp_path: Path) -> None:
    # Given a change (5 s) beside a look that escalates after 0.3 s
    p = make_plan([sh("start", "true"), sh("long", "sleep", "5", mutating=True),
                   sh("look", "sleep", "0.3"), end("done"), end("page", "escalate")],
                  [edge("start", "long"), edge("start", "look"), edge("long", "done"),
                   edge("look", "page")])
    record = run_locally(p, tmp_path)
    assert (record.status, record.outcome) == ("succeeded", "escalate"), record.reason

    async def report() -> str:
        store = open_store(tmp_path / "s.sqlite3")
        await store.open()
        try:
            run = await store.get_run(record.run_id)
            memory = await store.memory(record.run_id)
            view = build_view(run, p, await store.events(record.run_id), memory)
            return render_markdown(view)
        finally:
            await store.close()

    # Then the change it stopped is said to have done what is unknown (before: "cancelled",
    # its note the ending's reason, as if it had not run)
    note = record.state["steps"]["long"]["note"]
    assert "what it did is unknown" in note, note
    said = asyncio.run(report())
    assert "`long`: long (cancelled, stopped while it ran: what it did is unknown)" in said, said


# -- 4. the policy a resume saves holds on the workers -----------------------------------------


async def test_a_worker_approves_by_the_policy_its_runs_resume_saved_as_well() -> None:
    from engine.runtime.services import answers_for
    from engine.store.base import RunOptions

    # Given a run's options as a resume under a tighter policy left them (what a worker reads)
    options = RunOptions(auto_approve=("*",), policy_now=("systemctl restart *",))
    said = answers_for(options)
    gate = step("approve-kill", kind="approve")
    # Then a gate only the policy saved at the start approves is not approved (before: the
    # saved one alone decided)
    with pytest.raises(NeedsAnswer):
        await said.approve(step=gate, action="kill", commands=("pkill -9 app",))
    assert (await said.approve(step=gate, action="restart",
                               commands=("systemctl restart app",))).by == "policy"


# -- 5. a failed diagnosis guide is lost evidence --------------------------------------------------


def test_a_caller_past_a_failed_diagnosis_guide_concludes_nothing_healthy(
        tmp_path: Path) -> None:
    # Given a linked guide that only checks (its check fails: it concludes nothing), and a
    # caller that, if it fails, looks once more and says no action is needed
    child = make_plan([sh("check", "false"), end("ok", "resolved")], [edge("check", "ok")],
                      id="child")
    caller = make_plan([step("diag", kind="call", call="child"), sh("look", "true"),
                        end("fine", "no_action"), end("page", "escalate")],
                       [edge("diag", "page"), edge("diag", "look", on="failure", kind="error"),
                        edge("look", "fine")], calls={"child": child})
    record = run_locally(caller, tmp_path)
    # Then the run concludes nothing (before: no_action, the diagnosis's evidence missing)
    assert (record.status, record.outcome) == ("succeeded", "inconclusive"), record.reason
    assert "step 'diag' failed" in (record.reason or ""), record.reason
