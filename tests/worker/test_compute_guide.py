"""Compute steps on Celery workers: the flaky-scenarios TSG (a PostgreSQL dump, two compute
steps over it, a condition on the computed rate) reaches the same conclusion as on the embedded
executor (tests/guides/test_flaky_scenarios.py); the compute steps read the dump that another
step, perhaps on another worker, kept in the PostgreSQL store."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from engine.compile import compile_path
from tests.support import flaky
from tests.worker.conftest import Workers, wait_all

PLUGINS = {"sql", "compute"}


@pytest.mark.parametrize("is_flaky", [True, False], ids=["flaky", "steady"])
async def test_the_root_cause_is_computed_on_workers(is_flaky: bool, worker_env, store, starter,
                                                     tmp_path: Path) -> None:
    schema = await flaky.seed(flaky=is_flaky)
    env = {**worker_env, "MENDFLOW_CONFIG_FILE": str(flaky.config(tmp_path, schema)),
           "MENDFLOW_WORKER_PLUGINS": worker_env["MENDFLOW_WORKER_PLUGINS"]
           + ",plugins.compute:ComputePlugin"}
    workers = Workers(env, tmp_path)
    try:
        workers.start("w1")
        workers.start("w2")
        plan = compile_path(flaky.GUIDE, known_plugins=PLUGINS)
        run = await starter.start(plan, guide_path=str(flaky.GUIDE),
                                  run_id=f"flaky-{uuid.uuid4().hex[:10]}")
        (record,) = await wait_all(store, [run.run_id], timeout=90)
        memory = {m.key: m.value for m in await store.memory(run.run_id)}
    finally:
        workers.stop_all()
        await flaky.drop(schema)
    assert "rows.parquet" in memory["steps.runs"]["artifacts"]
    rates = memory["steps.rates"]["rows"]
    if is_flaky:
        assert (record.status, record.outcome) == ("succeeded", "escalate"), record.reason
        assert rates[0] == {"scenario": "peg_in_hole", "runs": 20, "completion_rate": 0.55}
        assert memory["steps.worst_step"]["value"] == "align"
    else:
        assert (record.status, record.outcome) == ("succeeded", "no_action"), record.reason
        assert rates[0]["completion_rate"] == 0.95
