"""SIGKILL of a Celery worker mid-step, repeated: what each class of step does on redelivery.

Each trial runs three steps in parallel on one real `mendflow worker` (its queue has one
worker at a time): `effect` (gated, its plugin not idempotent: each execution adds a row to
`effects`), `keyed` (gated, its plugin idempotent for its key: `ledger`) and `look`
(read-only: `probe`). The worker is SIGKILLed (pool processes and all) at a random point while
all three run; a new worker on the queue takes their redelivered tasks. Then: `effect` never
runs again unasked (the run stops `interrupted`, naming `--rerun effect`), `keyed` is applied
exactly once, `look` ran at least once; a person's answer (`--rerun` or `--mark-done`,
alternately) finishes the run. Redelivery is made quick by
settings (short leases and sweeps), not by changing the code under test.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from engine.interaction import Answers
from engine.plan import Edge, Step
from tests.worker.conftest import ROOT, SPAN, Workers, end, make_plan, wait_all

TRIALS = 10
EFFECT_AT_S = 0.3
STEP_S = 0.8
# A step's time limit, which with the lease grace sets how soon a dead worker's claim lapses.
# It leaves the step 1.7 s beyond its 0.8 s of work: a worker started just after a kill opens
# its database pool and imports its plugins inside the first step's time, and under the full
# suite's load that took more than the 0.4 s a 1.2 s limit left (the gated `keyed` step then
# timed out and, rightly, was not tried again).
TIMEOUT_S = 2.5

pytestmark = pytest.mark.slow


@pytest.fixture
def quick_workers(worker_env: dict[str, str], tmp_path: Path) -> Any:
    env = {**worker_env, "MENDFLOW_LEASE_GRACE_S": "0.3", "MENDFLOW_RECONCILE_EVERY_S": "0.5",
           "MENDFLOW_STALL_AFTER_S": "1.0", "MENDFLOW_MAX_DELIVERIES": "3"}
    w = Workers(env, tmp_path)
    yield w
    w.stop_all()


def _plan(queue: str) -> Any:
    def step(id: str, plugin: str, **kw: Any) -> Step:
        return Step(id=id, title=id, kind=kw.pop("kind", "command"), plugin=plugin,
                    params={"sleep_s": STEP_S, **kw.pop("params", {})}, timeout_s=TIMEOUT_S,
                    queue=queue, source=SPAN, **kw)

    steps = [step("start", "probe", kind="query", params={"sleep_s": 0}),
             step("effect", "effect", mutating=True, params={"effect_at_s": EFFECT_AT_S}),
             step("keyed", "ledger", mutating=True),
             step("look", "probe", kind="query"), end()]
    edges = [Edge(source="start", target=s) for s in ("effect", "keyed", "look")]
    edges += [Edge(source=s, target="done") for s in ("effect", "keyed", "look")]
    return make_plan(steps, edges, id=f"crash-{uuid.uuid4().hex[:6]}")


@dataclass
class Trial:
    run_id: str
    kill_after_s: float
    answer: str
    status: str = ""
    reason: str = ""
    effects_after_kill: int = 0
    effects_at_end: int = 0
    keyed: int = 0
    keyed_calls: int = 0
    looks: int = 0


async def _effect_started(conn: asyncpg.Connection, run_id: str) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pid = await conn.fetchval("SELECT pid FROM calls WHERE key = $1", f"{run_id}:effect:1")
        if pid is not None:
            return int(pid)
        await asyncio.sleep(0.02)
    raise AssertionError(f"{run_id}: effect never started")


async def _count(conn: asyncpg.Connection, sql: str, *args: Any) -> int:
    return int(await conn.fetchval(sql, *args))


async def test_sigkill_of_a_worker_mid_step_repeats_no_gated_effect(
        quick_workers: Workers, store: Any, starter: Any, worker_env: dict[str, str]) -> None:
    url = worker_env["MENDFLOW_DATABASE_URL"]
    rng = random.Random()
    queue = f"crash-{uuid.uuid4().hex[:8]}"
    worker = quick_workers.start("w0", concurrency=3, queues=queue)
    conn = await asyncpg.connect(url)
    trials: list[Trial] = []
    try:
        for i in range(TRIALS):
            quick_workers.wait_ready(worker)
            trial = Trial(f"wk-{uuid.uuid4().hex[:10]}", rng.uniform(0.0, STEP_S - 0.1),
                          "rerun" if i % 2 == 0 else "done")
            await starter.start(_plan(queue), guide_path="t.md", run_id=trial.run_id)
            # When the worker running the three steps is SIGKILLed at a random point in them
            pid = await _effect_started(conn, trial.run_id)
            await asyncio.sleep(trial.kill_after_s)
            quick_workers.kill_group_of(pid)
            worker = quick_workers.start(f"w{i + 1}", concurrency=3, queues=queue, wait=False)
            # Then the run stops interrupted, the gated step in doubt, the others done
            (record,) = await wait_all(store, [trial.run_id], timeout=60)
            trial.status, trial.reason = record.status, record.reason or ""
            trial.effects_after_kill = await _count(
                conn, "SELECT count(*) FROM effects WHERE run_id = $1", trial.run_id)
            assert trial.effects_after_kill <= 1, f"trial {i}: the gated effect repeated"
            assert trial.status == "interrupted", f"trial {i}: {trial.reason}"
            # When a person answers (what `mendflow resume RUN --rerun effect` does)
            answered = await starter.settle_in_doubt(
                trial.run_id, Answers(in_doubt={"effect": trial.answer}))
            assert answered.status in ("running", "succeeded"), answered.reason
            (record,) = await wait_all(store, [trial.run_id], timeout=60)
            assert (record.status, record.outcome) == ("succeeded", "resolved"), record.reason
            trial.effects_at_end = await _count(
                conn, "SELECT count(*) FROM effects WHERE run_id = $1", trial.run_id)
            trial.keyed = await _count(conn, "SELECT count(*) FROM ledger WHERE run_id = $1 "
                                       "AND step_id = 'keyed'", trial.run_id)
            trial.keyed_calls = await _count(conn, "SELECT count(*) FROM calls WHERE key LIKE "
                                             "$1", f"{trial.run_id}:keyed:%")
            trial.looks = await _count(conn, "SELECT count(*) FROM calls WHERE key LIKE $1",
                                       f"{trial.run_id}:look:%")
            trials.append(trial)
    finally:
        await conn.close()
    print("\ntrial: kill after s, status, effects after kill / at end (answer), keyed applied "
          "/ calls, look calls")
    for t in trials:
        print(f"  {t.kill_after_s:.2f}: {t.status}, {t.effects_after_kill} / "
              f"{t.effects_at_end} ({t.answer}), keyed {t.keyed} / {t.keyed_calls}, "
              f"look {t.looks}")
    for t in trials:
        assert t.status == "interrupted", t.reason
        assert "step 'effect' was running when its worker died" in t.reason
        assert "--rerun effect" in t.reason
        assert t.effects_after_kill <= 1  # never run again by a redelivery
        assert t.effects_at_end == t.effects_after_kill + (t.answer == "rerun")
        assert t.keyed == 1  # idempotent: applied exactly once, however often it ran
        assert t.looks >= 1  # read-only: at least once
    # The kills did land mid-step: the idempotent and the read-only step ran again
    assert sum(t.keyed_calls > 1 for t in trials) >= TRIALS // 2
    assert sum(t.looks > 1 for t in trials) >= TRIALS // 2


async def test_resume_with_rerun_on_the_command_line_continues_a_celery_run(
        quick_workers: Workers, store: Any, starter: Any, worker_env: dict[str, str]) -> None:
    url = worker_env["MENDFLOW_DATABASE_URL"]
    queue = f"crash-{uuid.uuid4().hex[:8]}"
    quick_workers.start("a", concurrency=3, queues=queue)
    plan = _plan(queue)
    run_id = f"cli-{uuid.uuid4().hex[:10]}"
    await starter.start(plan, guide_path="t.md", run_id=run_id)
    conn = await asyncpg.connect(url)
    try:
        pid = await _effect_started(conn, run_id)
        await asyncio.sleep(EFFECT_AT_S + 0.2)  # after its effect
        quick_workers.kill_group_of(pid)
        quick_workers.start("b", concurrency=3, queues=queue, wait=False)
        (record,) = await wait_all(store, [run_id], timeout=60)
        assert record.status == "interrupted", record.reason
        env = {**os.environ, **worker_env, "PYTHONPATH": str(ROOT)}

        def resume(*flags: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "engine.cli", "resume", run_id,
                                   *flags], cwd=ROOT, env=env, capture_output=True,
                                  text=True, timeout=120, stdin=subprocess.DEVNULL)

        # `--yes` answers approvals, never a step in doubt: the run stays interrupted
        waiting = await asyncio.to_thread(resume, "--yes")
        assert waiting.returncode == 130, waiting.stdout + waiting.stderr
        assert "--rerun effect" in waiting.stdout
        assert (await store.get_run(run_id)).status == "interrupted"
        done = await asyncio.to_thread(resume, "--rerun", "effect")
        assert done.returncode == 0, done.stdout + done.stderr
        assert await _count(conn, "SELECT count(*) FROM effects WHERE run_id = $1",
                            run_id) == 2  # once before the kill, once more as asked
    finally:
        await conn.close()
