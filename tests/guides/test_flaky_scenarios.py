"""A TSG whose root cause needs an aggregate over a raw dump, run end to end by `mendflow run`.

Step 1 dumps a day of robot test runs from PostgreSQL; steps 2 and 3 are compute steps over
that dump (the completion rate per scenario, the step that fails most); a condition on the
computed rate chooses the conclusion, and the conclusion names what was computed. The Celery
executor runs the same guide in tests/worker/test_compute_guide.py.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.store import open_store
from engine.store.base import ArtifactRef
from plugins._table import read_table
from tests.support import flaky


@pytest.fixture(params=[True, False], ids=["flaky", "steady"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[bool, Path]]:
    try:
        schema = asyncio.run(flaky.seed(flaky=request.param))
    except OSError as exc:
        pytest.fail(f"PostgreSQL at {flaky.ADMIN_URL} is required for this test: {exc}")
    flaky.config(tmp_path, schema)
    try:
        yield request.param, tmp_path
    finally:
        asyncio.run(flaky.drop(schema))


def mendflow(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(flaky.ROOT),
           "MENDFLOW_DATA_DIR": str(directory / "data"),
           "MENDFLOW_CONFIG_FILE": str(directory / "mendflow.toml")}
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], cwd=directory, env=env,
                          text=True, capture_output=True, timeout=120,
                          stdin=subprocess.DEVNULL, check=False)


async def read_run(data: Path):
    store = open_store(data / "mendflow.sqlite3")
    await store.open()
    try:
        record = (await store.list_runs(limit=1))[0]
        memory = {m.key: m.value for m in await store.memory(record.run_id)}
        ref = memory["steps.runs"]["artifacts"]["rows.parquet"]
        dump = read_table(await store.get_artifact(ArtifactRef.model_validate(ref)))
        return record, memory, dump
    finally:
        await store.close()


def test_the_root_cause_is_computed_from_the_dump(world: tuple[bool, Path]) -> None:
    is_flaky, directory = world
    proc = mendflow(directory, "run", str(flaky.GUIDE))
    # the exit status says the outcome: 3 escalate, 0 no action
    assert proc.returncode == (3 if is_flaky else 0), proc.stdout + proc.stderr
    record, memory, dump = asyncio.run(read_run(directory / "data"))
    # the dump is kept whole (60 runs in the window), the summary in memory as for any query
    assert dump.num_rows == 60 and memory["steps.runs"]["row_count"] == 60
    assert len(memory["steps.runs"]["rows"]) == 5
    rates = memory["steps.rates"]
    assert rates["row_count"] == 3 and rates["columns"] == ["scenario", "runs",
                                                            "completion_rate"]
    if is_flaky:
        assert rates["rows"][0] == {"scenario": "peg_in_hole", "runs": 20,
                                    "completion_rate": 0.55}
        assert memory["steps.worst_step"]["value"] == "align"
        assert (record.status, record.outcome) == ("succeeded", "escalate")
        assert "this is the root cause: peg_in_hole is flaky at align" in \
            " ".join(proc.stdout.split())
    else:
        assert rates["rows"][0]["completion_rate"] == 0.95
        assert memory["steps.worst_step"]["value"] == "route_clip_2"
        assert (record.status, record.outcome) == ("succeeded", "no_action")
    # why the run ended, as run, show and report say it, has the values filled in
    shown = mendflow(directory, "show", record.run_id).stdout
    report = mendflow(directory, "report", record.run_id).stdout
    whys = [ln for ln in (proc.stdout + shown + report).splitlines()
            if "reached end step" in ln]
    assert len(whys) == 3 and not any("{{" in ln for ln in whys), whys
