"""Faults with real processes: every run ends, and no step's effect is applied twice.

Each test checks the ledger (one effect row per mutating step of every run) and, where no
step could have been interrupted, that no step even started twice.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import pytest

from engine.plan import Edge, Retry, Step
from tests.support.plans import gate_changes
from tests.worker.conftest import (
    ROOT,
    SPAN,
    assert_exactly_once,
    chain_plan,
    end,
    ledger,
    make_plan,
    parallel_plan,
    wait_all,
)


def rid(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}"


async def _first_call(url: str, key_prefix: str, timeout: float = 30) -> tuple[str, int]:
    """Wait until a ledger step whose key starts with `key_prefix` has started; (key, pid)."""
    deadline = time.monotonic() + timeout
    conn = await asyncpg.connect(url)
    try:
        while time.monotonic() < deadline:
            row = await conn.fetchrow("SELECT key, pid FROM calls WHERE key LIKE $1 || '%' "
                                      "ORDER BY at LIMIT 1", key_prefix)
            if row is not None:
                return row["key"], row["pid"]
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    raise AssertionError(f"no step of {key_prefix} started")


@pytest.mark.slow
async def test_sigkill_of_the_worker_running_a_step(workers, store, starter,
                                                    worker_env) -> None:
    url = worker_env["MENDFLOW_DATABASE_URL"]
    workers.start("a")
    workers.start("b")
    plan = chain_plan(3, sleep_s=2, timeout_s=4)
    run = await starter.start(plan, guide_path="t.md", run_id=rid("sigkill"))
    # When the worker running the first step is SIGKILLed mid-step (pool processes and all)
    key, pid = await _first_call(url, f"{run.run_id}:s00")
    killed = workers.kill_group_of(pid)
    # Then another worker takes the step over once the dead one's claim lapses, and finishes
    (record,) = await wait_all(store, [run.run_id], timeout=90)
    assert record.status == "succeeded", record.reason
    calls = await assert_exactly_once(url, plan, [run.run_id])
    assert calls[key] == 2  # started twice (killed, then taken over), applied once
    assert {k: n for k, n in calls.items() if k != key} == {
        f"{run.run_id}:s01:1": 1, f"{run.run_id}:s02:1": 1}
    assert killed in ("a", "b")


@pytest.mark.slow
async def test_killing_the_process_that_started_the_run(workers, store, worker_env,
                                                        tmp_path: Path) -> None:
    url = worker_env["MENDFLOW_DATABASE_URL"]
    workers.start("w1")
    plan = chain_plan(4, sleep_s=0.5).model_copy(update={"id": f"starter-{uuid.uuid4().hex[:6]}"})
    plan_file = tmp_path / "chain.plan.json"
    plan_file.write_text(gate_changes(plan).to_json())
    env = {**os.environ, **worker_env, "PYTHONPATH": str(ROOT)}
    # Given `mendflow run --executor celery` following its run
    cli = subprocess.Popen([sys.executable, "-m", "engine.cli", "run", str(plan_file),
                            "--executor", "celery", "--yes"], cwd=ROOT, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    conn = await asyncpg.connect(url)
    try:
        run_id = None
        for _ in range(300):
            assert cli.poll() is None, cli.stdout.read().decode()  # type: ignore[union-attr]
            run_id = await conn.fetchval("SELECT run_id FROM runs WHERE plan_id = $1 AND "
                                         "guide_path = $2", plan.id, plan_file.as_posix())
            if run_id:
                break
            await asyncio.sleep(0.1)
        assert run_id, "the CLI created no run"
    finally:
        await conn.close()
    await _first_call(url, run_id)
    # When it is killed while the run is in its first steps
    cli.kill()
    cli.wait(timeout=10)
    # Then the workers finish the run anyway
    (record,) = await wait_all(store, [run_id], timeout=60)
    assert record.status == "succeeded"
    calls = await assert_exactly_once(url, plan, [run_id])
    assert set(calls.values()) == {1}
    # And a CLI run that is left alone exits 0 with the run's outcome
    done = subprocess.run([sys.executable, "-m", "engine.cli", "run", str(plan_file),
                           "--executor", "celery", "--yes"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=90)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "resolved" in done.stdout


def _redis_restart() -> None:
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", "6379", "shutdown", "nosave"],
                   capture_output=True, timeout=30)
    time.sleep(1)
    subprocess.run(["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1",
                    "--port", "6379", "--save", "", "--appendonly", "no", "--dir",
                    "/var/lib/redis", "--logfile", "/var/log/redis/ci.log"], check=True,
                   timeout=30)
    for _ in range(100):
        if subprocess.run(["redis-cli", "ping"], capture_output=True,
                          text=True).stdout.strip() == "PONG":
            return
        time.sleep(0.1)
    raise AssertionError("redis did not come back")


@pytest.mark.slow
@pytest.mark.alone
async def test_redis_restart_mid_run(workers, store, starter, worker_env) -> None:
    url = worker_env["MENDFLOW_DATABASE_URL"]
    workers.start("w1")
    plan = chain_plan(6, sleep_s=0.4)
    runs = [await starter.start(plan, guide_path="t.md", run_id=rid("redis"))
            for _ in range(8)]
    await _first_call(url, runs[-1].run_id)
    await asyncio.sleep(1)
    # When Redis restarts without persistence (every queued task is lost)
    await asyncio.to_thread(_redis_restart)
    # Then the workers reconnect, the reconciler re-sends the lost steps, and all runs end
    records = await wait_all(store, [r.run_id for r in runs], timeout=120)
    assert {r.status for r in records} == {"succeeded"}
    await assert_exactly_once(url, plan, [r.run_id for r in runs])


def _postgres(action: str) -> None:
    version = sorted(os.listdir("/etc/postgresql"))[0]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action],
                   check=True, capture_output=True, timeout=120)


@pytest.mark.slow
@pytest.mark.alone
async def test_postgres_restart_mid_run(workers, store, starter, worker_env) -> None:
    url = worker_env["MENDFLOW_DATABASE_URL"]
    workers.start("w1")
    plan = chain_plan(6, sleep_s=0.4)
    runs = [await starter.start(plan, guide_path="t.md", run_id=rid("pg"))
            for _ in range(8)]
    await _first_call(url, runs[-1].run_id)
    await asyncio.sleep(1)
    # When PostgreSQL stops for a few seconds and comes back
    try:
        await asyncio.to_thread(_postgres, "stop")
        await asyncio.sleep(3)
    finally:
        await asyncio.to_thread(_postgres, "start")
    # Then the workers' pools reconnect and every run ends, each step applied once
    records = await wait_all(store, [r.run_id for r in runs], timeout=120)
    assert {r.status for r in records} == {"succeeded"}, [r.reason for r in records]
    await assert_exactly_once(url, plan, [r.run_id for r in runs])


@pytest.mark.slow
async def test_poison_step_fails_after_its_budget_and_the_run_takes_its_error_path(
        workers, store, starter) -> None:
    workers.start("w1")
    crash = Step(id="crash", title="crash", kind="query", plugin="crash", timeout_s=1,
                 retry=Retry(attempts=1), source=SPAN)
    plan = make_plan([ledger("before"), crash, end("done"), end("recover", "escalate")],
                     [Edge(source="before", target="crash"),
                      Edge(source="crash", target="done"),
                      Edge(source="crash", target="recover", on="failure", kind="error")],
                     id="poison")
    run = await starter.start(plan, guide_path="t.md", run_id=rid("poison"))
    # When the crash step kills its pool process every time it runs
    (record,) = await wait_all(store, [run.run_id], timeout=90)
    # Then after max_deliveries (2) executions it is failed, and the error path is taken
    assert (record.status, record.outcome) == ("succeeded", "escalate")
    failed = [e for e in await store.events(run.run_id)
              if e.type == "step_failed" and e.step_id == "crash"]
    assert len(failed) == 1 and "lost 2 times" in failed[0].data["event"]["error"]
    assert workers.procs["w1"].poll() is None  # the worker itself survived


@pytest.mark.slow
@pytest.mark.alone
async def test_load_200_runs_of_a_20_step_parallel_plan_on_2_workers(
        workers, store, starter, worker_env) -> None:
    url = worker_env["MENDFLOW_DATABASE_URL"]
    workers.start("a")
    workers.start("b")
    plan = parallel_plan(18)  # start + 18 branches + the end: 20 steps
    assert len(plan.steps) == 20
    ids = [rid("load") for _ in range(200)]
    await asyncio.gather(*(starter.start(plan, guide_path="t.md", run_id=i) for i in ids))
    records = await wait_all(store, ids, timeout=170)
    assert {r.status for r in records} == {"succeeded"}
    calls = await assert_exactly_once(url, plan, ids)
    assert len(calls) == 200 * 19 and set(calls.values()) == {1}
