"""One run core, two executors: each scenario runs on the embedded local executor and on real
Celery workers, through the same `Executor` interface the CLI uses, against the same
PostgreSQL store, and must end the same way.

Scenarios: the approvals policy and the starter's answers (saved with the run as its
`RunOptions`), a question nobody answered, concurrency limits, cancel with clean-up, compute
steps over an earlier step's rows, and resuming a run that stopped for an approval.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

from engine.compile import compile_path
from engine.interaction import Answers
from engine.plan import Edge, Plan, Step
from engine.plugins import Registry
from engine.runtime.executor import LocalExecutor
from engine.runtime.services import Executor, Services, answers_for
from engine.settings import Settings
from engine.store.base import RunOptions, RunRecord
from engine.store.postgres import PostgresStore
from tests.support import flaky
from tests.worker.conftest import SPAN, Workers, end, ledger, ledger_rows, make_plan

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
        return Services(store=self.store, registry=registry, settings=settings)

    def build(self, options: RunOptions) -> Executor:
        services = self._services()
        if self.kind == "local":
            self.executor = LocalExecutor(services, interaction=answers_for(options))
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
        run_id = f"{self.kind}-{plan.id}-{uuid.uuid4().hex[:8]}"
        ledger_env = {"MENDFLOW_TEST_LEDGER_URL": self.worker_env["MENDFLOW_TEST_LEDGER_URL"]}
        saved = dict(os.environ)
        os.environ.update(ledger_env)  # the ledger plugin, when it runs in this process
        try:
            task = asyncio.ensure_future(executor.start(
                plan, guide_path="t.md", options=options, run_id=run_id))
            if during is not None:
                await during(executor, run_id)
            return await asyncio.wait_for(task, 120)
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def close(self) -> None:
        if self.workers is not None:
            self.workers.stop_all()


@pytest.fixture(params=EXECUTORS)
async def on(request: pytest.FixtureRequest, store: PostgresStore, worker_env: dict[str, str],
             tmp_path: Path) -> AsyncIterator[Harness]:
    harness = Harness(request.param, store, worker_env, tmp_path)
    try:
        yield harness
    finally:
        harness.close()


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
    (RunOptions(auto_approve=("approve-*",)), True),
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


async def test_an_unanswered_approval_stops_the_run_before_the_change(on: Harness) -> None:
    record = await on.run(gated_plan("unanswered"))
    assert record.status == "interrupted", (record.status, record.reason)
    assert "approval needed" in (record.reason or "")
    assert await applied(on.worker_env["MENDFLOW_DATABASE_URL"], record.run_id) == {"look"}


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
        conn = await asyncpg.connect(url)
        try:
            for _ in range(400):
                if await conn.fetchval("SELECT count(*) FROM calls WHERE key = $1",
                                       f"{run_id}:slow:1"):
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the slow step never started")
        finally:
            await conn.close()
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


async def test_a_run_stopped_for_an_approval_resumes_on_its_executor(on: Harness) -> None:
    from engine.cli.runs import _build_executor

    record = await on.run(gated_plan("resumed"))
    assert record.status == "interrupted"
    # `mendflow resume` builds the executor the run's options name, with the new answer
    answers = Answers(approvals=("approve-fix",))
    resumed_with = _build_executor(on._services().settings, on.store,
                                   observer=lambda update: None, interaction=answers,
                                   executor=record.options.executor)
    assert type(resumed_with).__name__ == {"local": "LocalExecutor",
                                           "celery": "CeleryExecutor"}[on.kind]
    saved = dict(os.environ)
    os.environ["MENDFLOW_TEST_LEDGER_URL"] = on.worker_env["MENDFLOW_TEST_LEDGER_URL"]
    try:
        final = await asyncio.wait_for(resumed_with.resume(record.run_id), 120)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert (final.status, final.outcome) == ("succeeded", "resolved"), final.reason
    assert await applied(on.worker_env["MENDFLOW_DATABASE_URL"], record.run_id) == {
        "look", "fix"}
