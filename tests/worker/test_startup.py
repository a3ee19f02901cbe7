"""Bad configuration at start: an unreachable broker or database is named (password masked)
with what to check, by `mendflow worker` and by `mendflow run --executor celery`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.plans import gate_changes
from tests.worker.conftest import ROOT, chain_plan


def _mendflow(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], cwd=ROOT,
                          env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=120)


def test_worker_with_unreachable_broker_says_which_and_exits(worker_env) -> None:
    done = _mendflow("worker", env={**worker_env,
                                    "MENDFLOW_BROKER_URL": "redis://:s3cret@127.0.0.1:1/0"})
    assert done.returncode == 5, done.stderr
    assert "redis://:***@127.0.0.1:1/0" in done.stderr and "s3cret" not in done.stderr
    assert "Check that Redis is running" in done.stderr


def test_worker_with_unreachable_database_says_which_and_exits(worker_env) -> None:
    url = "postgresql://bob:s3cret@127.0.0.1:1/mendflow"
    done = _mendflow("worker", env={**worker_env, "MENDFLOW_DATABASE_URL": url})
    assert done.returncode == 5, done.stderr
    assert "postgresql://bob:***@127.0.0.1:1/mendflow" in done.stderr
    assert "s3cret" not in done.stderr and "Check that PostgreSQL is running" in done.stderr


def test_celery_run_with_unreachable_broker_exits_5_before_creating_a_run(
        worker_env, tmp_path: Path) -> None:
    plan_file = tmp_path / "p.plan.json"
    plan_file.write_text(gate_changes(chain_plan(1)).to_json())
    done = _mendflow("run", str(plan_file), "--executor", "celery",
                     env={**worker_env, "MENDFLOW_BROKER_URL": "redis://:pw@127.0.0.1:1/0"})
    assert done.returncode == 5, done.stdout + done.stderr
    assert "cannot reach the broker at redis://:***@127.0.0.1:1/0" in done.stderr


def test_unknown_executor_is_bad_input(tmp_path: Path) -> None:
    plan_file = tmp_path / "p.plan.json"
    plan_file.write_text(gate_changes(chain_plan(1)).to_json())
    done = _mendflow("run", str(plan_file), "--executor", "nope",
                     env={"MENDFLOW_DATA_DIR": str(tmp_path)})
    assert done.returncode == 2 and "unknown --executor 'nope'" in done.stderr
    assert "celery" in done.stderr  # the installed ones are listed: the entry point is there
