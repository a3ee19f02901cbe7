"""A plugin's concurrency limit holds across every worker, not per worker or per task: the
slots live in the shared store (`engine.runtime.limits.StoreSlots`)."""

from __future__ import annotations

import uuid

import asyncpg

from tests.worker.conftest import Workers, assert_exactly_once, parallel_plan, wait_all


async def _most_at_once(url: str, run_id: str) -> int:
    """The most ledger steps of the run that were inside their plugin at one time: each from
    its call (`calls.at`) to its effect (`ledger.at`)."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT c.at AS began, l.at AS ended FROM calls c JOIN ledger l ON l.key = c.key "
            "WHERE l.run_id = $1", run_id)
    finally:
        await conn.close()
    edges = sorted([(r["began"], 1) for r in rows] + [(r["ended"], -1) for r in rows],
                   key=lambda e: (e[0], e[1]))
    inside = most = 0
    for _, step in edges:
        inside += step
        most = max(most, inside)
    return most


async def test_a_plugin_limit_holds_across_workers(worker_env, store, starter,
                                                   tmp_path) -> None:
    # Given two workers with room for four steps each, and a plugin limited to two at once
    workers = Workers({**worker_env, "MENDFLOW_PLUGIN_CONCURRENCY": "2"}, tmp_path)
    try:
        workers.start("w1", concurrency=4)
        workers.start("w2", concurrency=4)
        # When eight 0.6 s steps of that plugin are ready together
        plan = parallel_plan(8, sleep_s=0.6)
        run = await starter.start(plan, guide_path="t.md",
                                  run_id=f"limits-{uuid.uuid4().hex[:10]}")
        (record,) = await wait_all(store, [run.run_id], timeout=90)
    finally:
        workers.stop_all()
    # Then the run finishes, every step once, and never more than two ran at a time
    assert (record.status, record.outcome) == ("succeeded", "resolved")
    url = worker_env["MENDFLOW_DATABASE_URL"]
    await assert_exactly_once(url, plan, [run.run_id])
    assert await _most_at_once(url, run.run_id) == 2
    # And no slot is left held once the run is over
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM slots WHERE holder LIKE $1",
                                   f"{run.run_id}:%") == 0
    finally:
        await conn.close()
