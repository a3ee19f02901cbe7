"""One run core, two executors: each scenario runs on the embedded local executor and on real
Celery workers, through the same `Executor` interface the CLI uses, against the same
PostgreSQL store, and must end the same way.

Scenarios: the approvals policy and the starter's answers (saved with the run as its
`RunOptions`), a question nobody answered, concurrency limits, cancel with clean-up, compute
steps over an earlier step's rows, resuming a run that stopped for an approval, and a linked
guide run as a child run (answered as its caller, its outcome back in the caller's memory).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from engine.compile import compile_path
from engine.interaction import Answers
from engine.plan import Edge, Plan, Step
from engine.plugins import Registry
from engine.runtime.executor import LocalExecutor
from engine.runtime.services import (
    Executor,
    Services,
    answers_for,
    build_services,
    judge_for,
)
from engine.settings import Settings
from engine.store.base import RunOptions, RunRecord
from engine.store.postgres import PostgresStore
from tests.support import flaky
from tests.worker.conftest import (
    SPAN,
    Workers,
    call_started,
    end,
    ledger,
    ledger_rows,
    make_plan,
)

EXECUTORS = ["local", "celery"]


class Harness:
    """Runs plans on one executor: `local` in this process, `celery` on worker processes
    started with the same settings (environment) as the local one reads."""

    def __init__(self, kind: str, store: PostgresStore, worker_env: dict[str, str],
                 tmp_path: Path) -> None:
        self.kind, self.store, self.worker_env, self.tmp_path = kind, store, worker_env, tmp_path
        self.env: dict[str, str] = {}
        self.workers: Workers | None = None
        self.executor: Executor | None = None
        self.task: asyncio.Future[RunRecord]
        self.run_id = ""

    def configure(self, **env: str) -> None:
        """Settings for this scenario, as MENDFLOW_* variables (both executors read them)."""
        self.env.update(env)

    def _environ(self) -> dict[str, str]:
        return {**self.worker_env, **self.env}

    def _services(self) -> Services:
        from worker.app import _extra_plugins

        environ = self._environ()
        saved = dict(os.environ)
        os.environ.update(environ)
        try:
            settings = Settings()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        registry = Registry(extra=_extra_plugins(environ["MENDFLOW_WORKER_PLUGINS"]))
        return build_services(settings, self.store, registry)

    def build(self, options: RunOptions) -> Executor:
        services = self._services()
        if self.kind == "local":
            judge = judge_for(options.judge, services.settings)
            self.executor = LocalExecutor(services,
                                          interaction=answers_for(options, judge=judge))
        else:
            from worker.executor import CeleryExecutor

            if self.workers is None:
                self.workers = Workers(self._environ(), self.tmp_path)
                self.workers.start("w1", concurrency=3)
                self.workers.start("w2", concurrency=3)
            self.executor = CeleryExecutor(services, interaction=answers_for(options),
                                           poll_s=0.05)
        return self.executor

    async def run(self, plan: Plan, options: RunOptions | None = None, *,
                  during: Callable[[Executor, str], Awaitable[None]] | None = None
                  ) -> RunRecord:
        options = options or RunOptions()
        executor = self.build(options)
        self.run_id = run_id = f"{self.kind}-{plan.id}-{uuid.uuid4().hex[:8]}"
        self.task = asyncio.ensure_future(executor.start(
            plan, guide_path="t.md", options=options, run_id=run_id))

        async def driven() -> RunRecord:
            if during is not None:
                await during(executor, run_id)
            return await self.task

        return await self.within_ledger(driven())

    async def within_ledger(self, work: Awaitable[RunRecord]) -> RunRecord:
        """`work`, with what the ledger plugin needs when it runs in this process."""
        saved = dict(os.environ)
        os.environ["MENDFLOW_TEST_LEDGER_URL"] = self.worker_env["MENDFLOW_TEST_LEDGER_URL"]
        try:
            return await asyncio.wait_for(work, 120)
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def stop(self) -> None:
        """What drives the run dies: the local executor's task, or every worker (SIGKILL)."""
        if self.workers is not None:
            for name in list(self.workers.procs):
                self.workers.kill(name)
            self.workers = None
        self.task.cancel()

    def restart(self) -> None:
        if self.kind == "celery":
            self.build(RunOptions())

    def close(self) -> None:
        if self.workers is not None:
            self.workers.stop_all()


@pytest.fixture(params=EXECUTORS)
async def on(request: pytest.FixtureRequest, store: PostgresStore, worker_env: dict[str, str],
             tmp_path: Path) -> AsyncIterator[Harness]:
    from tests.worker.plugins import LedgerPlugin

    harness = Harness(request.param, store, worker_env, tmp_path)
    LedgerPlugin._pool = None  # a pool of another test's event loop, if a local run made one
    try:
        yield harness
    finally:
        harness.close()
        if LedgerPlugin._pool is not None:
            await LedgerPlugin._pool.close()
            LedgerPlugin._pool = None


def gated_plan(tag: str) -> Plan:
    steps = [ledger("look"), Step(id="approve-fix", title="approve", kind="approve", source=SPAN),
             ledger("fix"), end()]
    edges = [Edge(source="look", target="approve-fix"),
             Edge(source="approve-fix", target="fix"), Edge(source="fix", target="done")]
    return make_plan(steps, edges, id=f"gated-{tag}")


async def applied(url: str, run_id: str) -> set[str]:
    effects, _ = await ledger_rows(url, [run_id])
    return {step for (_, step) in effects}


# -- the approvals policy and the starter's answers ------------------------------------------


@pytest.mark.parametrize("options, fixed", [
    (RunOptions(auto_approve=("*",)), True),
    (RunOptions(approvals=("approve-fix",)), True),
    (RunOptions(assume_yes=True), True),
], ids=["policy", "approved", "yes"])
async def test_the_starters_approvals_are_kept_on_either_executor(
        on: Harness, options: RunOptions, fixed: bool) -> None:
    record = await on.run(gated_plan("ok"), options)
    assert (record.status, record.outcome) == ("succeeded", "resolved"), record.reason
    assert record.options.executor == on.kind
    assert await applied(on.worker_env["MENDFLOW_DATABASE_URL"], record.run_id) == {
        "look", "fix"}


async def test_an_unanswered_approval_fails_the_run_before_the_change(on: Harness) -> None:
    record = await on.run(gated_plan("unanswered"))
    assert record.status == "failed", (record.status, record.reason)
    assert "approval needed" in (record.reason or "") and "--approve" in (record.reason or "")
    assert await applied(on.worker_env["MENDFLOW_DATABASE_URL"], record.run_id) == {"look"}


async def test_failures_and_root_causes_are_learnt_where_the_run_ends(on: Harness) -> None:
    """The run's end is where its lessons are kept: by the local executor, or by the worker
    whose commit ended it; repeats are one signature, fixed by the run that was approved."""
    plan = gated_plan(f"learn-{on.kind}-{uuid.uuid4().hex[:6]}")
    failed = [await on.run(plan) for _ in range(2)]
    assert [r.status for r in failed] == ["failed", "failed"]
    fixed = await on.run(plan, RunOptions(approvals=("approve-fix",)))
    assert fixed.outcome == "resolved"

    async def learnt() -> list[Any]:  # a worker keeps them just after its ending commit
        for _ in range(100):
            sigs = await on.store.signatures(guide=plan.id)
            if sigs and sigs[0].fixes:
                return sigs
            await asyncio.sleep(0.1)
        return await on.store.signatures(guide=plan.id)

    sigs = await learnt()
    assert [(s.count, s.runs, s.steps) for s in sigs] == [(2, 2, [f"{plan.id}/approve-fix"])]
    assert {f.fixed_run_id for f in sigs[0].fixes} == {fixed.run_id}
    assert any(c.startswith("approvals:") for c in sigs[0].fixes[0].changes)
    causes = await on.store.run_causes(run_ids=[r.run_id for r in failed])
    assert [(c.cause, c.evidence[0].step_id) for c in causes] == [
        ("operator", "approve-fix"), ("operator", "approve-fix")]
    assert await on.store.run_causes(run_ids=[fixed.run_id]) == []  # resolved: no cause


# -- the judge --------------------------------------------------------------------------------


async def test_the_runs_judge_decides_a_prose_condition(on: Harness) -> None:
    from engine.compile import compile_guide
    from engine.guide import parse_guide
    from tests.support.judging import PODS_GUIDE, is_judgment
    from tests.support.openai_server import openai_server

    pytest.importorskip("langchain_openai")

    def script(body: dict[str, Any]) -> Any:
        if is_judgment(body):
            return {"holds": True, "confidence": 0.9, "rationale": "web-1 is crash-looping"}
        return 500

    plan = compile_guide(parse_guide(PODS_GUIDE, path=str(on.tmp_path / "pods.md")))
    with openai_server(script) as server:
        on.configure(OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY="sk-test",
                     MENDFLOW_WORKER_PLUGINS=on.worker_env["MENDFLOW_WORKER_PLUGINS"]
                     + ",plugins.shell:ShellPlugin")
        saved = dict(os.environ)
        os.environ.update(OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY="sk-test")
        try:
            record = await on.run(plan, RunOptions(judge="openai:test-model"))
        finally:
            os.environ.clear()
            os.environ.update(saved)
    assert (record.status, record.outcome) == ("succeeded", "escalate"), record.reason
    judged = [p for b, p in zip(server.requests, server.prompts()) if is_judgment(b)]
    assert len(judged) == 1 and "CrashLoopBackOff" in judged[0]
    said = " ".join(str(e.data) for e in await on.store.events(record.run_id))
    assert "llm:openai:test-model" in said  # the recorded answer names who judged


# -- concurrency limits -------------------------------------------------------------------------


async def test_a_plugin_limit_bounds_a_fan_out(on: Harness) -> None:
    from tests.worker.test_limits_across_workers import _most_at_once

    on.configure(MENDFLOW_PLUGIN_CONCURRENCY="1")
    branches = [ledger(f"b{i}", 0.3) for i in range(4)]
    plan = make_plan([ledger("start"), *branches, end()],
                     [Edge(source="start", target=b.id) for b in branches]
                     + [Edge(source=b.id, target="done") for b in branches], id="limited")
    record = await on.run(plan)
    assert (record.status, record.outcome) == ("succeeded", "resolved"), record.reason
    assert await _most_at_once(on.worker_env["MENDFLOW_DATABASE_URL"], record.run_id) == 1


# -- cancel ----------------------------------------------------------------------------------


async def test_cancel_stops_the_run_and_runs_its_clean_up(on: Harness) -> None:
    url = on.worker_env["MENDFLOW_DATABASE_URL"]
    plan = make_plan([ledger("first"), ledger("slow", 3.0), ledger("after"), ledger("tidy"),
                      end()],
                     [Edge(source="first", target="slow"), Edge(source="slow", target="after"),
                      Edge(source="after", target="done")], id="cancelled")
    plan = plan.model_copy(update={"cleanup": ["tidy"]})

    async def cancel_when_slow_runs(executor: Executor, run_id: str) -> None:
        await call_started(url, f"{run_id}:slow:1")
        assert executor.cancel("cancelled by the test")

    record = await on.run(plan, during=cancel_when_slow_runs)
    assert record.status == "cancelled", (record.status, record.reason)
    done = await applied(url, record.run_id)
    assert "after" not in done and {"first", "tidy"} <= done


# -- compute steps -------------------------------------------------------------------------------


async def test_a_compute_step_reads_an_earlier_steps_rows(on: Harness) -> None:
    schema = await flaky.seed(flaky=True)
    on.configure(MENDFLOW_CONFIG_FILE=str(flaky.config(on.tmp_path, schema)),
                 MENDFLOW_WORKER_PLUGINS=on.worker_env["MENDFLOW_WORKER_PLUGINS"]
                 + ",plugins.compute:ComputePlugin")
    try:
        plan = compile_path(flaky.GUIDE, known_plugins={"sql", "compute"})
        record = await on.run(plan)
        memory = {m.key: m.value for m in await on.store.memory(record.run_id)}
    finally:
        await flaky.drop(schema)
    assert (record.status, record.outcome) == ("succeeded", "escalate"), record.reason
    assert memory["steps.rates"]["rows"][0]["completion_rate"] == 0.55
    assert memory["steps.worst_step"]["value"] == "align"


# -- resume --------------------------------------------------------------------------------------


async def test_a_stopped_run_resumes_on_its_executor_and_repeats_no_step(on: Harness) -> None:
    from engine.cli.runs import executor_factory

    url = on.worker_env["MENDFLOW_DATABASE_URL"]
    plan = make_plan([ledger("s1"), ledger("s2", 2.0), ledger("s3"), end()],
                     [Edge(source="s1", target="s2"), Edge(source="s2", target="s3"),
                      Edge(source="s3", target="done")], id="stopped")

    async def stop_in_s2(executor: Executor, run_id: str) -> None:
        await call_started(url, f"{run_id}:s2:1")
        on.stop()  # the process driving the run is gone: this one, or every worker

    with pytest.raises(asyncio.CancelledError):
        await on.run(plan, during=stop_in_s2)
    record = await on.store.get_run(on.run_id)
    assert record.status in ("running", "interrupted")
    on.restart()
    # `mendflow resume` builds the executor the run's options name
    resumed_with = executor_factory(record.options.executor)(on._services(),
                                                             interaction=Answers())
    assert type(resumed_with).__name__ == {"local": "LocalExecutor",
                                           "celery": "CeleryExecutor"}[on.kind]
    final = await on.within_ledger(resumed_with.resume(record.run_id))
    assert (final.status, final.outcome) == ("succeeded", "resolved"), final.reason
    effects, calls = await ledger_rows(url, [record.run_id])
    assert set(effects.values()) == {1} and len(effects) == 3
    assert calls[f"{record.run_id}:s1:1"] == 1  # finished before the stop: never run again


# -- linked guides: child runs ---------------------------------------------------------------


def caller_plan(tag: str, child_ends: str) -> Plan:
    """look -> call `backup` (a gated ledger change, then `child_ends`) -> after."""
    child = make_plan([ledger("look"), Step(id="approve-fix", title="approve", kind="approve",
                                             source=SPAN), ledger("fix"), end("done", child_ends)],
                      [Edge(source="look", target="approve-fix"),
                       Edge(source="approve-fix", target="fix"),
                       Edge(source="fix", target="done")], id=f"child-{tag}")
    call = Step(id="backup", title="Run guide: backup", kind="call", call="backup",
                params={"guide": "backup.md", "inputs": {}}, source=SPAN)
    plan = make_plan([ledger("first"), call, ledger("after"), end()],
                     [Edge(source="first", target="backup"),
                      Edge(source="backup", target="after"), Edge(source="after", target="done")],
                     id=f"caller-{tag}")
    return plan.model_copy(update={"calls": {"backup": child}})


@pytest.mark.parametrize("child_ends", ["resolved", "escalate"])
async def test_a_linked_guide_runs_as_a_child_run_answered_as_its_caller(
        on: Harness, child_ends: str) -> None:
    url = on.worker_env["MENDFLOW_DATABASE_URL"]
    # the caller's gates approved, and the linked guide's through its call step (`backup/`):
    # an approval of the caller's steps is none of the child's
    options = RunOptions(approvals=("approve-*", "backup/approve-*"))
    record = await on.run(caller_plan(child_ends, child_ends), options)

    [child] = await on.store.child_runs(record.run_id)
    assert (child.run_id, child.parent_step, child.status, child.outcome) == (
        f"{record.run_id}.backup", "backup", "succeeded", child_ends)
    assert child.options.approvals == ("approve-*",)  # what was said of it reached it
    assert await applied(url, child.run_id) == {"look", "fix"}
    found = {m.key: m.value for m in await on.store.memory(record.run_id)}["steps.backup"]
    assert (found["run_id"], found["outcome"]) == (child.run_id, child_ends)
    if child_ends == "resolved":
        assert (record.status, record.outcome) == ("succeeded", "resolved"), record.reason
        assert await applied(url, record.run_id) == {"first", "after"}
    else:  # the call step fails; the guide has no failure path for it, so the run fails
        assert record.status == "failed" and "ended escalate" in (record.reason or "")
        assert await applied(url, record.run_id) == {"first"}
