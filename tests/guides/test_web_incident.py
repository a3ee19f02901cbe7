"""The web incident end to end: the demo's real Prometheus and PostgreSQL, the real `mendflow`.

For each scenario the demo is brought up with its own command (`python -m demo.web_incident
up`), the shipped guide is run against it as a user would (MENDFLOW_CONFIG_FILE pointing at
the generated mendflow.toml, the database password only in the environment), and the run must
reach the conclusion the data supports, with the Prometheus and SQL checks running at once and
the password nowhere in what Mendflow kept or shows.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from demo.prometheus import MISSING_REASON, prometheus_available
from demo.web_incident import environment
from engine.store import open_store

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "guides" / "sre" / "web-5xx-after-deploy.md"
CHECKS = {"error_ratio", "ratio_by_version", "errors_by_endpoint", "new_version"}
ADMIN_URL = os.environ.get("MENDFLOW_DEMO_ADMIN_URL", environment.ADMIN_URL)


def _postgres_reachable() -> bool:
    async def probe() -> None:
        conn = await asyncpg.connect(ADMIN_URL, timeout=3)
        await conn.close()
    try:
        asyncio.run(probe())
        return True
    except Exception:  # noqa: BLE001 - any failure means: no server to test against
        return False


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not prometheus_available(), reason=MISSING_REASON),
    pytest.mark.skipif(not _postgres_reachable(), reason=f"PostgreSQL at {ADMIN_URL} is not "
                       "reachable as a superuser (set MENDFLOW_DEMO_ADMIN_URL)"),
]


def demo(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "demo.web_incident", "--dir", str(directory),
                           *args], cwd=ROOT, text=True, capture_output=True, timeout=120,
                          env={**os.environ, "MENDFLOW_DEMO_ADMIN_URL": ADMIN_URL}, check=False)


@pytest.fixture
def incident(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[environment.Environment]:
    """The demo environment for `request.param` (a scenario), torn down with its own command."""
    directory = tmp_path / "demo"
    database = f"mendflow_demo_t{os.getpid()}_{request.param}"
    up = demo(directory, "up", "--scenario", request.param, "--database", database)
    assert up.returncode == 0, up.stdout + up.stderr
    env = environment.load(directory)
    assert env is not None
    assert "mendflow" in up.stdout and "run" in up.stdout and str(GUIDE) in up.stdout
    try:
        yield env
    finally:
        down = demo(directory, "down")
        assert down.returncode == 0, down.stdout + down.stderr
        assert not directory.exists()


def mendflow(env: environment.Environment, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine.cli", *args],
                          env={**os.environ, **env.env()}, text=True, capture_output=True,
                          timeout=120, stdin=subprocess.DEVNULL, check=False)


async def _read_run(data: Path):
    store = open_store(data / "mendflow.sqlite3")
    await store.open()
    try:
        record = (await store.list_runs(limit=1))[0]
        memory = {m.key: m.value for m in await store.memory(record.run_id)}
        events = await store.events(record.run_id)
        return record, memory, events
    finally:
        await store.close()


def run_guide(env: environment.Environment, *args: str):
    proc = mendflow(env, "run", str(GUIDE), "--alert", env.alert_file, *args)
    record, memory, events = asyncio.run(_read_run(Path(env.data_dir)))
    return proc, record, memory, events


def assert_checks_ran_in_parallel(events) -> None:
    started = {e.step_id: e.seq for e in events if e.type == "step_started" and e.step_id in CHECKS}
    finished = [e.seq for e in events if e.step_id in CHECKS and e.type != "step_started"]
    assert set(started) == CHECKS
    assert max(started.values()) < min(finished), "a check finished before another one started"


def assert_password_nowhere(env: environment.Environment, proc, run_id: str) -> None:
    password = env.password
    assert len(password) >= 16
    shown = [proc.stdout, proc.stderr, mendflow(env, "show", run_id).stdout,
             mendflow(env, "report", run_id).stdout]
    assert not [text for text in shown if password in text]
    # memory, events and the run record live in the store; artifacts next to it
    for path in Path(env.data_dir).rglob("*"):
        if path.is_file():
            assert password.encode() not in path.read_bytes(), f"password found in {path}"


@pytest.mark.parametrize("incident", ["regression"], indirect=True)
def test_a_bad_release_is_blamed_on_the_new_version(incident: environment.Environment) -> None:
    proc, record, memory, events = run_guide(incident)
    # Then: escalate to the deploy owner to roll back, from the data
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert record.outcome == "escalate"
    assert "new version causes the errors" in (record.reason or "")
    by_version = {s["labels"]["version"]: s["value"]
                  for s in memory["steps.ratio_by_version"]["series"]}
    assert by_version["v2"] > 0.05 and by_version["v1"] < 0.02
    assert memory["steps.new_version"]["rows"][0]["version"] == "v2"
    assert 55 <= float(memory["steps.new_version"]["rows"][0]["minutes_ago"]) <= 65
    worst = memory["steps.errors_by_endpoint"]["rows"][0]
    assert (worst["version"], worst["path"]) == ("v2", "/api/checkout")
    assert_checks_ran_in_parallel(events)
    assert_password_nowhere(incident, proc, record.run_id)


@pytest.mark.parametrize("incident", ["healthy"], indirect=True)
def test_a_healthy_release_needs_no_action(incident: environment.Environment) -> None:
    proc, record, memory, events = run_guide(incident)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert record.outcome == "no_action"
    assert memory["steps.error_ratio"]["value"] < 0.02
    assert_checks_ran_in_parallel(events)
    assert_password_nowhere(incident, proc, record.run_id)


@pytest.mark.parametrize("incident", ["upstream"], indirect=True)
def test_errors_on_every_version_go_to_the_service_owner(
        incident: environment.Environment) -> None:
    proc, record, memory, events = run_guide(incident)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert record.outcome == "escalate"
    assert "errors are not tied to the deploy" in (record.reason or "")
    assert memory["steps.ratio_by_version"]["min"] > 0.02
    assert_checks_ran_in_parallel(events)
    assert_password_nowhere(incident, proc, record.run_id)

    # An alert label crafted to inject PromQL (and SQL) changes no query: PromQL reads it as
    # one escaped label value, SQL binds it as a value; both match nothing (vector(1) is not
    # added), and the run fails at the threshold rather than guess.
    alert = json.loads(Path(incident.alert_file).read_text())
    alert["labels"]["service"] = 'shop-web"} or vector(1) or up{x="'
    Path(incident.alert_file).write_text(json.dumps(alert))
    proc, record, memory, events = run_guide(incident)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert memory["steps.error_ratio"]["count"] == 0
    assert memory["steps.ratio_by_version"]["count"] == 0
    assert memory["steps.errors_by_endpoint"]["row_count"] == 0
    assert memory["steps.new_version"]["row_count"] == 0
    assert_password_nowhere(incident, proc, record.run_id)
