"""A worker's metrics exporter (`mendflow worker --metrics-port`), scraped after runs on real
Celery workers: the steps of both pool processes summed (prometheus_client's multiprocess
mode), the runs the workers ended, the wait on the broker; its log lines as JSON with the run
and step ids."""

from __future__ import annotations

import json
import socket
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.serve.test_metrics import samples, value
from tests.worker.conftest import parallel_plan, wait_all

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(port: int, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            got = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
            got.raise_for_status()
            return got.text
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


async def test_a_workers_exporter_sums_its_pool_processes_after_celery_runs(
        workers, store, starter, worker_env) -> None:
    # Given: one worker of two pool processes, exporting metrics, logging JSON
    port = free_port()
    proc = workers.start("w-metrics", concurrency=2,
                         args=("--metrics-port", str(port), "--log-format", "json"))
    plan = parallel_plan(4, sleep_s=0.3)
    before = samples(scrape(port))
    assert value(before, "mendflow_step_duration_seconds_count") == 0
    # When: two runs of five ledger steps each run on it
    runs = [await starter.start(plan, guide_path="t.md",
                                run_id=f"metrics-{i}-{uuid.uuid4().hex[:8]}") for i in (1, 2)]
    records = await wait_all(store, [r.run_id for r in runs], timeout=60)
    assert [r.status for r in records] == ["succeeded"] * 2
    text = scrape(port)
    after = samples(text)
    conn = await asyncpg.connect(worker_env["MENDFLOW_DATABASE_URL"])
    try:
        pids = await conn.fetchval("SELECT count(DISTINCT pid) FROM calls WHERE "
                                   "split_part(key, ':', 1) = any($1)",
                                   [r.run_id for r in runs])
    finally:
        await conn.close()
    assert pids == 2  # both pool processes ran steps: the exporter had two to sum
    # Then: every step's attempt is in the histogram, whichever process ran it, once
    assert value(after, "mendflow_step_duration_seconds_count", plugin="ledger",
                 result="succeeded") == 10
    assert value(after, "mendflow_step_duration_seconds_sum", plugin="ledger") >= 10 * 0.3
    # the runs the workers ended (the starter, not the worker, started them)
    assert value(after, "mendflow_runs_ended_total", guide=plan.id, status="succeeded",
                 outcome="resolved") == 2
    assert value(after, "mendflow_runs_started_total") == 0
    # each dispatched step's wait on the broker (the entry steps at least), none running now
    assert value(after, "mendflow_step_queue_wait_seconds_count", plugin="ledger",
                 where="broker") >= 2
    assert value(after, "mendflow_steps_running") == 0
    for run in runs:
        assert run.run_id not in text

    # The worker's own lines are JSON, those about a step with its run and step ids
    lines = [json.loads(line) for line in proc.log.read_text().splitlines()
             if line.startswith("{")]
    about = [line for line in lines if line["run_id"] in {r.run_id for r in runs}]
    assert any(line["step_id"] == "b00" for line in about), lines[-5:]


def test_a_metrics_port_without_a_multiprocess_folder_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Given `celery -A worker.app worker` started by hand with a port but no folder: the pool
    # processes' metrics could not be summed, so the worker says so instead of under-counting
    from engine.errors import ConfigError
    from worker.config import WorkerSettings

    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    settings = WorkerSettings(database_url="postgresql://u@127.0.0.1/db",
                              worker_metrics_port=9108)
    with pytest.raises(ConfigError, match="PROMETHEUS_MULTIPROC_DIR"):
        settings.check()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "/tmp")
    settings.check()


def test_a_given_multiprocess_folder_is_emptied_of_a_previous_workers_values(
        tmp_path) -> None:
    from engine.cli.runs import _metrics_dir

    (tmp_path / "counter_4242.db").write_bytes(b"old")
    (tmp_path / "keep.txt").write_text("not ours")
    assert _metrics_dir(str(tmp_path)) == str(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]
    fresh = _metrics_dir(None)
    assert "mendflow-metrics-" in fresh and not list(Path(fresh).iterdir())
    Path(fresh).rmdir()
