"""Runs on real Celery workers, a real Redis and a real PostgreSQL: the happy paths, routing,
and bad tasks. Fault injection (kills, restarts, poison, load) is in test_faults.py."""

from __future__ import annotations

import uuid

from engine.plan import Edge
from tests.worker.conftest import (
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


async def test_runs_complete_on_workers_with_each_step_applied_once(
        workers, store, starter, worker_env) -> None:
    # Given one worker and a chain and a fan-out/fan-in plan
    workers.start("w1")
    chain, fan = chain_plan(4), parallel_plan(6)
    runs = [await starter.start(p, guide_path="t.md", run_id=rid(p.id))
            for p in (chain, fan, chain, fan)]
    # When the starter is done (it returned at once), the workers finish the runs
    records = await wait_all(store, [r.run_id for r in runs], timeout=60)
    assert [(r.status, r.outcome) for r in records] == [("succeeded", "resolved")] * 4
    for plan, ids in ((chain, [runs[0].run_id, runs[2].run_id]),
                      (fan, [runs[1].run_id, runs[3].run_id])):
        calls = await assert_exactly_once(worker_env["MENDFLOW_DATABASE_URL"], plan, ids)
        assert set(calls.values()) == {1}  # no fault: no step even started twice


async def test_step_queue_pins_a_step_to_its_own_worker(workers, store, starter,
                                                         worker_env) -> None:
    # Given a step pinned to a robot cell's queue, served only by that cell's worker
    cell = f"{worker_env['MENDFLOW_DEFAULT_QUEUE']}-cell7"
    plan = make_plan([ledger("plan"), ledger("act", queue=cell), end()],
                     [Edge(source="plan", target="act"), Edge(source="act", target="done")],
                     id="pinned")
    workers.start("general")
    run = await starter.start(plan, guide_path="t.md", run_id=rid("pinned"))
    # When no worker serves the cell's queue, the pinned step waits
    import asyncio
    await asyncio.sleep(3)
    assert (await store.get_run(run.run_id)).status == "running"
    # Then the cell's worker takes it
    cell_worker = workers.start("cell7", concurrency=1, queues=cell)
    (record,) = await wait_all(store, [run.run_id], timeout=30)
    assert record.status == "succeeded"
    events = await store.events(run.run_id)
    (act,) = [e for e in events if e.type == "step_succeeded" and e.step_id == "act"]
    assert str(cell_worker.pid) != "" and act.data["worker"].split(":")[1] != ""
    pool_pids = {int(e.data["worker"].split(":")[1]) for e in events if "worker" in e.data}
    assert len(pool_pids) >= 2  # the plan step and the act step ran in different processes


async def test_task_for_an_unknown_step_or_run_is_rejected_and_recorded(
        workers, store, starter, worker_env) -> None:
    workers.start("w1", concurrency=1)
    run = await starter.start(chain_plan(1), guide_path="t.md", run_id=rid("reject"))
    await wait_all(store, [run.run_id], timeout=30)
    # When tasks name a step the plan does not have, and a run that does not exist
    run2 = await starter.start(chain_plan(1, sleep_s=2), guide_path="t.md",
                               run_id=rid("reject"))
    await starter.dispatcher.dispatch(run_id=run2.run_id, step_id="no-such-step", attempt=1,
                                      delay_s=0, queue=None)
    await starter.dispatcher.dispatch(run_id="no-such-run", step_id="s00", attempt=1,
                                      delay_s=0, queue=None)
    (record,) = await wait_all(store, [run2.run_id], timeout=30)
    # Then the run is unharmed, the bad step task is an event of the run, the other is logged
    assert record.status == "succeeded"
    import asyncio
    for _ in range(100):  # with one pool process, the bad task may come after the run ended
        rejected = [e for e in await store.events(run2.run_id) if e.type == "task_rejected"]
        if rejected:
            break
        await asyncio.sleep(0.1)
    assert [e.step_id for e in rejected] == ["no-such-step"]
    assert (await store.get_run(run2.run_id)).status == "succeeded"
    for _ in range(50):
        log = workers.procs["w1"].log.read_text()
        if "no-such-run" in log:
            break
        await asyncio.sleep(0.1)
    assert "rejected task no-such-run:s00:1: no such run" in log
