r"""Trust, session 23 (the runtime): what a failure's branches read, and what an approval was
for.

1. A step whose failure leads on by conditions (a plan's "on failure, if the error says X")
   whose conditions could not be decided (they read output a failure does not have) ended
   `mendflow run` in "The executor must pass every conditional outgoing edge" (exit 1) with
   the run left `running`, and a resume ran the step again into the same wall. Such a
   failure ends the run: `inconclusive` for a check, failed for a change, saying which
   condition could not be decided.
2. A check the plan lets fail (`on_error: continue`) whose own conditions read its output
   ("If the log holds ERROR, escalate; otherwise no action is needed") decided them on the
   failed read's output: a log that could not be read ended the run `no_action`, while the
   same condition on a later step read it as the failure it was (`inconclusive`). A
   condition on a failed step's output concludes nothing wherever it sits.
3. An approval was given for what the gated step would run as the person saw it; the step
   rendered its command again when it started, and ran whatever it rendered then: a value
   bound on a parallel branch while the person decided (`rm -rf {{ vars.dir }}`) made it
   delete another folder than the one approved. A gated step runs only what its approval
   showed; otherwise it is refused, not retried, saying both.
4. A commit the store refused (a disk full, an I/O error, a lock held past its wait) stopped
   the local executor's driver, but not the steps it had started: a change in flight went
   on and acted for a run no one drove (its report lost, the run `running`, its lease
   released for another driver to start it again). Whatever stops a driver stops its steps
   first; the run is left `interrupted`, saying what failed, resumable.
5. A good ending (`no_action`, `resolved`, `mitigated`) reached on one branch while a change
   ran on another (steps "that can be run in parallel") ended the run healthy, the change
   cut off half-way (a restart killed mid-flight, a linked guide's run cancelled in its
   change), or left in doubt: what it did was unknown, and the conclusion did not account
   for it. Such an ending is `inconclusive`, naming the change.
6. A run that asks people through the store (`mendflow serve`) kept each question by its step:
   a decision with two Ifs ("If the disk is full, ...; if memory is exhausted, ...;
   otherwise no action is needed") asked the first, and took its answer for the second,
   never asked: "no" to the disk ended the run `no_action` with memory exhausted. A gate
   whose branch a person judges took its approval for the judgment. A judgment is kept and
   answered by its edge (`DECIDE->TARGET`, as `--answer` names it).
7. A driver whose lease could not be renewed (the store unreachable for its renewals, a
   network partition) went on driving past the lease's end: another `mendflow resume` (or
   `serve`) could then take the run over, and both ran what was in flight (the second put
   the change in doubt, a person said run it again, and it ran twice). A driver that cannot
   renew its lease before it lapses stops first, its steps stopped, the run `interrupted`
   saying so.
8. A step whose work was cancelled from within (a plugin awaiting a future something else
   cancelled, a linked guide's run stopped by its lease) ended its task without a report,
   and the run waited for that report forever: `mendflow run` hung, its lease renewed, no
   one able to resume it. Such a step is a failure (a change's effect unknown), reported on
   either executor, and the run goes on to its ending.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel

from engine.errors import StoreError
from engine.interaction import Answer, Answers
from engine.plan import Condition, Edge, Plan, Step
from engine.plugins import PluginBase, StepContext, StepResult
from engine.store.base import RunRecord
from tests.engine.runtime.conftest import edge, end, sh, step
from tests.engine.runtime.conftest import plan as make_plan
from tests.support.running import run_locally

# -- helpers --------------------------------------------------------------------------------------


def _mendflow_run(tmp_path: Path, plan: Plan, *args: str) -> subprocess.CompletedProcess[str]:
    """`mendflow run PLAN.json` of `plan`, its store under `tmp_path`."""
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(plan.to_json())
    env = {**os.environ, "MENDFLOW_DATA_DIR": str(tmp_path / "data")}
    env.pop("MENDFLOW_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "engine.cli", "run", str(plan_file), *args],
                          env=env, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, cwd=tmp_path)


# -- 1. a failure whose branches cannot be decided ------------------------------------------------


def _timed_out_check_branching_on_its_output() -> Plan:
    # "Read the log (1 s). If it fails and the log says `refused`, escalate; if it fails
    # otherwise, no action is needed": a timeout has no log to read
    return make_plan([sh("log", "sleep", "5", timeout_s=0.5), end("page", "escalate"),
                       end("fine", "no_action")],
                      [edge("log", "fine"),
                       edge("log", "page", "'refused' in steps.log.stdout", on="failure"),
                       edge("log", "fine", "'refused' not in steps.log.stdout", on="failure")])


def test_a_failure_whose_branches_cannot_be_decided_ends_the_run_inconclusive(
        tmp_path: Path) -> None:
    # Given a check that times out, whose failure edges read an output it does not have
    # When it runs
    record = run_locally(_timed_out_check_branching_on_its_output(), tmp_path)
    # Then the run concludes nothing, saying which condition (before: ConditionError raised
    # out of the executor, the run left running)
    assert (record.status, record.outcome) == ("succeeded", "inconclusive"), record.reason
    assert "timed out" in (record.reason or "") and "'refused' in steps.log.stdout" in (
        record.reason or ""), record.reason


def test_mendflow_run_of_such_a_failure_ends_the_run_and_says_why(tmp_path: Path) -> None:
    # When `mendflow run` runs such a plan
    ran = _mendflow_run(tmp_path, _timed_out_check_branching_on_its_output())
    said = ran.stdout + ran.stderr
    # Then it ends inconclusive (exit 4), no internal error, nothing left running (before:
    # exit 1, "The executor must pass every conditional outgoing edge", the run `running`)
    assert ran.returncode == 4, said
    assert "must pass every conditional" not in said and "Traceback" not in said, said
    with sqlite3.connect(tmp_path / "data" / "mendflow.sqlite3") as conn:
        rows = conn.execute("SELECT status, outcome FROM runs").fetchall()
    conn.close()
    assert rows == [("succeeded", "inconclusive")], said


def test_a_change_whose_failure_cannot_be_decided_fails_the_run(tmp_path: Path) -> None:
    # Given a change (approved) that fails at once, whose failure edges read its output
    plan = make_plan([step("gate", kind="approve"),
                       sh("restart", "false", mutating=True), end("page", "escalate"),
                       end("fine", "resolved"), end("denied", "escalate")],
                      [edge("gate", "restart"), edge("gate", "denied", on="failure", kind="error"),
                       edge("restart", "fine"),
                       edge("restart", "page", "'busy' in steps.restart.missing", on="failure"),
                       edge("restart", "fine", "'busy' not in steps.restart.missing",
                             on="failure")])
    record = run_locally(plan, tmp_path, interaction=Answers(assume_yes=True))
    # Then the run failed, saying why (before: ConditionError out of the executor)
    assert record.status == "failed", record.reason
    assert "'busy' in steps.restart.missing" in (record.reason or ""), record.reason


# -- 2. a check the plan lets fail, deciding on its own failed output -----------------------------


def _continued_log_read(tmp_path: Path, page: str, fine: str) -> RunRecord:
    """A read of a log that is not there, which the plan lets fail (`on_error: continue`),
    run: escalate when `page` holds, no action is needed when `fine` does."""
    plan = make_plan([sh("log", "grep", "-h", "ERROR", str(tmp_path / "missing.log"),
                         on_error="continue"), end("page", "escalate"), end("fine", "no_action")],
                     [edge("log", "page", page), edge("log", "fine", fine)])
    return run_locally(plan, tmp_path)


def test_a_continued_checks_own_condition_on_its_failed_output_concludes_nothing(
        tmp_path: Path) -> None:
    # Given a log read the plan lets fail, whose own branches read its output ("If it holds
    # ERROR, escalate; otherwise no action is needed")
    # When the log cannot be read
    record = _continued_log_read(tmp_path, "'ERROR' in steps.log.stdout",
                                 "'ERROR' not in steps.log.stdout")
    # Then the run concludes nothing (before: no_action, on a log never read)
    assert (record.status, record.outcome) == ("succeeded", "inconclusive"), record.reason
    assert "reads step 'log', which failed" in (record.reason or ""), record.reason


def test_a_continued_check_that_tests_its_status_still_decides(tmp_path: Path) -> None:
    # Given the same read, whose branches test its exit status first (the plan handles it)
    record = _continued_log_read(tmp_path, "steps.log.exit_code != 1",
                                 "steps.log.exit_code == 1")
    # Then its conditions decide as they say (grep's 2, "cannot read": escalate)
    assert (record.status, record.outcome) == ("succeeded", "escalate"), record.reason


# -- 3. an approval for one command, another run ---------------------------------------------------


class _SlowApprover(Answers):
    """A person who takes a while to approve, and the actions they were shown."""

    def __init__(self) -> None:
        super().__init__()
        self.shown: list[str] = []

    async def approve(self, *, step: Step, action: str, commands: Sequence[str] = ()) -> Answer:
        self.shown.append(action)
        await asyncio.sleep(1.0)
        return Answer(True, "alice")


def test_a_gated_step_runs_only_what_its_approval_showed(tmp_path: Path) -> None:
    approved, other = tmp_path / "old-logs", tmp_path / "data"
    approved.mkdir()
    other.mkdir()
    # Given `rm -rf {{ vars.dir }}` behind an approval, and a parallel branch that binds
    # vars.dir anew while the person decides
    plan = make_plan(
        [sh("pick", "echo", str(approved), binds={"vars.dir": "result.stdout | trim"}),
         step("gate", kind="approve"),
         step("slow", params={"pipeline": [["sleep", "0.3"], ["echo", str(other)]]},
              binds={"vars.dir": "result.stdout | trim"}),
         sh("clean", "rm", "-rf", "{{ vars.dir }}", mutating=True),
         end("done", "mitigated"), end("denied", "escalate"), step("join", kind="decide")],
        [edge("pick", "gate"), edge("pick", "slow"), edge("gate", "clean"),
         edge("gate", "denied", on="failure", kind="error"), edge("clean", "join"),
         edge("slow", "join"), edge("join", "done")])
    approver = _SlowApprover()
    # When the person approves what they were shown
    record = run_locally(plan, tmp_path, interaction=approver)
    # Then they were shown the folder picked first, and no other folder was deleted (before:
    # `rm -rf .../data` ran on the approval for `rm -rf .../old-logs`)
    assert approver.shown == [f"rm -rf {approved}"]
    assert other.exists(), record.reason
    assert record.status == "failed", record.reason
    assert f"rm -rf {other}" in (record.reason or "") and "approv" in (record.reason or "")


def test_a_gated_step_that_renders_what_was_approved_runs(tmp_path: Path) -> None:
    approved = tmp_path / "old-logs"
    approved.mkdir()
    # Given the same approval, nothing bound anew
    plan = make_plan([sh("pick", "echo", str(approved), binds={"vars.dir": "result.stdout | trim"}),
                       step("gate", kind="approve"),
                       sh("clean", "rm", "-rf", "{{ vars.dir }}", mutating=True),
                       end("done", "mitigated"), end("denied", "escalate")],
                      [edge("pick", "gate"), edge("gate", "clean"),
                       edge("gate", "denied", on="failure", kind="error"), edge("clean", "done")])
    record = run_locally(plan, tmp_path, interaction=_SlowApprover())
    # Then the approved command runs
    assert (record.status, record.outcome) == ("succeeded", "mitigated"), record.reason
    assert not approved.exists()


# -- 4. a commit the store refused, a change left running ----------------------------------------


class _FailingCommit:
    """The store, but its `at`-th commit fails as a disk that filled up would."""

    def __init__(self, inner: Any, at: int) -> None:
        self._inner, self._at, self._commits = inner, at, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def commit(self, *args: Any, **kw: Any) -> Any:
        self._commits += 1
        if self._commits == self._at:
            raise StoreError("database or disk is full")
        return await self._inner.commit(*args, **kw)


def test_a_driver_stopped_by_a_failed_commit_stops_its_steps_first(tmp_path: Path) -> None:
    from engine.plugins import default_registry
    from engine.runtime.executor import LocalExecutor
    from engine.runtime.services import Services
    from engine.settings import Settings
    from engine.store import open_store

    ledger = tmp_path / "ledger"
    # Given a change in flight on one branch while a read on another finishes
    plan = make_plan([sh("look", "true"), sh("read", "true"),
                       sh("change", "sh", "-c", f"sleep 1; echo changed >> {ledger}",
                           mutating=True),
                       step("join", kind="decide"), end("done", "mitigated")],
                      [edge("look", "read"), edge("look", "change"), edge("read", "join"),
                       edge("change", "join"), edge("join", "done")])

    async def go() -> tuple[str, RunRecord]:
        inner = open_store(tmp_path / "s.sqlite3")
        await inner.open()
        try:
            executor = LocalExecutor(Services(
                store=_FailingCommit(inner, at=3), registry=default_registry(),
                settings=Settings(data_dir=tmp_path)))
            said = ""
            # When the commit of the read's report fails
            try:
                await executor.start(plan, guide_path="t.md")
            except StoreError as exc:
                said = exc.message
            await asyncio.sleep(2)  # longer than the change takes
            (run,) = await inner.list_runs()
            return said, await inner.get_run(run.run_id)
        finally:
            await inner.close()

    said, record = asyncio.run(go())
    # Then the driver says so, the change was stopped before it acted (before: it went on and
    # appended to the ledger after the driver had stopped), and the run is resumable
    assert "disk is full" in said
    assert not ledger.exists()
    assert record.status == "interrupted", record
    assert "database or disk is full" in (record.reason or "") and "resumable" in (
        record.reason or "")


# -- 5. a good ending that cuts off a change on another branch -------------------------------------


def _check_beside_a_change(ledger: Path) -> Plan:
    # "Steps 2-3 can be run in parallel": a check that finds nothing wrong, and a change
    return make_plan([sh("look", "true"), sh("errors", "true"),
                       sh("restart", "sh", "-c", f"sleep 3; echo restarted >> {ledger}",
                           mutating=True),
                       end("fine", "no_action"), end("done", "mitigated")],
                      [edge("look", "errors"), edge("look", "restart"), edge("errors", "fine"),
                       edge("restart", "done")])


def test_a_good_ending_that_cuts_off_a_change_in_flight_concludes_nothing(
        tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    # When the check reaches "no action is needed" while the change runs
    record = run_locally(_check_beside_a_change(ledger), tmp_path)
    # Then the run concludes nothing, naming the change it cut off (before: no_action, the
    # change killed half-way)
    assert (record.status, record.outcome) == ("succeeded", "inconclusive"), record.reason
    assert "change 'restart'" in (record.reason or "") and "cut it off" in (record.reason or "")
    assert not ledger.exists()


def test_a_good_ending_beside_a_change_in_doubt_concludes_nothing() -> None:
    from engine import scheduler as sched

    plan = _check_beside_a_change(Path("/nonexistent"))
    state = sched.initial_state(plan, seed="r")
    # Given the change in doubt (its worker died mid-step)
    for event in (sched.Start(), sched.StepSucceeded(step="look", attempt=1),
                  sched.StepInDoubt(step="restart", attempt=1, reason="worker lost"),
                  # When the check reaches "no action is needed"
                  sched.StepSucceeded(step="errors", attempt=1)):
        state, _ = sched.apply(plan, state, event)
    # Then the run concludes nothing (before: no_action, the change's fate never asked)
    assert (state.status, state.outcome) == ("succeeded", "inconclusive"), state.reason
    assert "change 'restart' (restart) was in doubt" in (state.reason or "")


def test_a_good_ending_that_cuts_off_a_linked_guide_making_a_change_concludes_nothing(
        tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    # Given "Follow [the restart](restart.md)" beside a check, the linked guide's change slow
    child = make_plan([sh("restart", "sh", "-c", f"sleep 3; echo restarted >> {ledger}",
                            mutating=True), end("done", "mitigated")],
                       [edge("restart", "done")])
    plan = make_plan([sh("look", "true"), sh("errors", "true"),
                       step("follow", kind="call", call="restart"), end("fine", "no_action"),
                       end("done", "mitigated")],
                      [edge("look", "errors"), edge("look", "follow"), edge("errors", "fine"),
                       edge("follow", "done")], calls={"restart": child})
    # When the check reaches "no action is needed" while the linked guide's change runs
    record = run_locally(plan, tmp_path)
    # Then the run concludes nothing (before: no_action, the child cancelled mid-change)
    assert (record.status, record.outcome) == ("succeeded", "inconclusive"), record.reason
    assert "change 'follow'" in (record.reason or ""), record.reason


def test_a_good_ending_after_the_change_finished_stands(tmp_path: Path) -> None:
    # Given the same branches, the change quick
    plan = make_plan([sh("look", "true"), sh("restart", "true", mutating=True),
                       sh("errors", "sleep", "0.5"), step("join", kind="decide"),
                       end("fine", "no_action")],
                      [edge("look", "errors"), edge("look", "restart"), edge("errors", "join"),
                       edge("restart", "join"), edge("join", "fine")])
    record = run_locally(plan, tmp_path)
    # Then the ending stands
    assert (record.status, record.outcome) == ("succeeded", "no_action"), record.reason


# -- 6. one answer taken for another question -----------------------------------------------------


def _asking_people(plan: Plan, tmp_path: Path, answer: dict[str, bool]
                   ) -> tuple[RunRecord, list[Any]]:
    """`plan` run as `mendflow serve` runs it (its questions put to people through the store),
    a person answering each question as `answer` says by its text (yes when it says
    nothing); the run and its questions."""
    from engine.plugins import default_registry
    from engine.runtime.executor import LocalExecutor
    from engine.runtime.questions import StoreQuestions
    from engine.runtime.services import Services
    from engine.settings import Settings
    from engine.store import open_store

    async def go() -> tuple[RunRecord, list[Any]]:
        store = open_store(tmp_path / "s.sqlite3")
        await store.open()
        try:
            services = Services(store=store, registry=default_registry(),
                                settings=Settings(data_dir=tmp_path))
            run_id = "20261205-000000-ask"
            executor = LocalExecutor(services, interaction=StoreQuestions(store, run_id))
            record = await executor.create(plan, guide_path="t.md", run_id=run_id)

            async def person() -> None:
                while True:
                    for q in await store.questions(run_id=run_id):
                        await store.answer_question(run_id, q.step_id, yes=answer.get(q.text, True),
                                                    by="alice", source="test")
                    await asyncio.sleep(0.05)

            answering = asyncio.create_task(person())
            try:
                record = await asyncio.wait_for(executor.drive(plan, record), 60)
            finally:
                answering.cancel()
            return record, await store.questions(run_id=run_id, pending=False)
        finally:
            await store.close()

    return asyncio.run(go())


def _judged(a: str, b: str, text: str, kind: str = "branch", **kw: Any) -> Edge:
    return Edge(source=a, target=b, condition=Condition(text=text), kind=kind, **kw)


def test_each_if_of_a_decision_is_asked_and_answered_apart(tmp_path: Path) -> None:
    # Given a decision with two Ifs a person judges
    plan = make_plan([sh("look", "true"), step("which", kind="decide"),
                       end("disk", "escalate"), end("memory", "escalate"),
                       end("fine", "no_action")],
                      [edge("look", "which"),
                       _judged("which", "disk", "the disk is full"),
                       _judged("which", "memory", "memory is exhausted"),
                       _judged("which", "fine", "otherwise", kind="else")])
    # When the person says no to the disk, yes to memory
    record, asked = _asking_people(plan, tmp_path, {"the disk is full": False,
                                                    "memory is exhausted": True})
    # Then both were asked, each kept by its edge, and the run went the memory way (before:
    # the second question was never asked, "no" taken for it, and the run said no_action)
    assert sorted((q.step_id, q.text, q.yes) for q in asked) == [
        ("which->disk", "the disk is full", False),
        ("which->memory", "memory is exhausted", True)]
    assert record.outcome == "escalate" and "'memory'" in (record.reason or ""), record.reason


def test_an_approval_is_not_taken_for_the_judgment_after_it(tmp_path: Path) -> None:
    # Given a gate approved by a person, whose branch after it the person judges
    plan = make_plan([step("gate", kind="approve"), end("deep", "escalate"),
                       end("fine", "no_action"), end("denied", "escalate")],
                      [_judged("gate", "deep", "the node needs a deeper look"),
                       _judged("gate", "fine", "otherwise", kind="else"),
                       edge("gate", "denied", on="failure", kind="error")])
    record, asked = _asking_people(plan, tmp_path, {"the node needs a deeper look": False})
    # Then the judgment was asked apart from the approval, and its "no" decided (before: the
    # approval's yes was taken for it, never asked)
    assert sorted((q.step_id, q.kind, q.yes) for q in asked) == [
        ("gate", "approve", True), ("gate->deep", "judge", False)]
    assert record.outcome == "no_action" and "'fine'" in (record.reason or ""), record.reason


# -- 7. a lease that could not be renewed ---------------------------------------------------------


class _Unrenewable:
    """The store, but every renewal of a driver's lease fails (its server unreachable)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def renew_lease(self, run_id: str, *, holder: str, ttl_s: float) -> bool:
        raise StoreError("could not reach the store")


def test_a_driver_that_cannot_renew_its_lease_stops_before_it_lapses(tmp_path: Path) -> None:
    from engine.plugins import default_registry
    from engine.runtime.executor import LocalExecutor
    from engine.runtime.services import Services
    from engine.settings import Settings
    from engine.store import open_store

    ledger = tmp_path / "ledger"
    # Given a change that takes longer than the driver's lease (0.9 s)
    plan = make_plan([sh("look", "true"),
                       sh("change", "sh", "-c", f"sleep 3; echo changed >> {ledger}",
                           mutating=True), end("done", "mitigated")],
                      [edge("look", "change"), edge("change", "done")])

    async def go() -> tuple[BaseException | RunRecord, RunRecord, float]:
        inner = open_store(tmp_path / "s.sqlite3")
        await inner.open()
        try:
            executor = LocalExecutor(Services(
                store=_Unrenewable(inner), registry=default_registry(),
                settings=Settings(data_dir=tmp_path)), lease_ttl_s=0.9)
            # When the lease cannot be renewed
            began = time.monotonic()
            (ended,) = await asyncio.gather(executor.start(plan, guide_path="t.md"),
                                            return_exceptions=True)
            took = time.monotonic() - began
            await asyncio.sleep(3.5)  # longer than the change takes
            (run,) = await inner.list_runs()
            return ended, await inner.get_run(run.run_id), took
        finally:
            await inner.close()

    ended, record, took = asyncio.run(go())
    # Then the driver stopped before its lease lapsed, the change with it (before: the run
    # went on to its end, driven past its lease, and the change appended to the ledger)
    assert isinstance(ended, asyncio.CancelledError), ended
    assert took < 0.9 + 0.5, took
    assert not ledger.exists()
    assert record.status == "interrupted", record
    assert "lease could not be renewed" in (record.reason or ""), record.reason


# -- 8. a step cancelled from within, never reported ----------------------------------------------


class _CancelledWithinParams(BaseModel):
    key: str = "x"


class _CancelledWithin(PluginBase):
    """A read whose client's request future was cancelled under it (a connection pool that
    closed): CancelledError out of its own work, the step itself never cancelled."""

    name: ClassVar[str] = "cancelled_within"
    Params = _CancelledWithinParams
    read_only = True

    async def run(self, *, params: _CancelledWithinParams, ctx: StepContext) -> StepResult:
        request: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        request.cancel()
        await request
        return StepResult()


def test_a_step_cancelled_from_within_is_a_failure_not_a_hang(tmp_path: Path) -> None:
    from engine.plugins import Registry
    from engine.runtime.executor import LocalExecutor
    from engine.runtime.services import Services
    from engine.settings import Settings
    from engine.store import open_store
    from plugins.shell import ShellPlugin

    # Given a check whose plugin's request is cancelled under it
    plan = make_plan([step("look", plugin="cancelled_within"), end("fine", "no_action")],
                      [edge("look", "fine")])

    async def go() -> RunRecord:
        store = open_store(tmp_path / "s.sqlite3")
        await store.open()
        try:
            registry = Registry(discover=False, extra={"shell": ShellPlugin,
                                                       "cancelled_within": _CancelledWithin})
            executor = LocalExecutor(Services(store=store, registry=registry,
                                              settings=Settings(data_dir=tmp_path)))
            # When it runs (before: the run waited for its report forever)
            return await asyncio.wait_for(executor.start(plan, guide_path="t.md"), 30)
        finally:
            await store.close()

    record = asyncio.run(go())
    # Then the check failed, saying so, and the run concluded nothing
    assert (record.status, record.outcome) == ("succeeded", "inconclusive"), record.reason
    assert "stopped before it reported" in (record.reason or ""), record.reason
