"""A guide's run limit held by the store: two `mendflow serve` processes on one PostgreSQL,
`--max-runs-per-guide 1`, alerts of two groups of one guide, one to each: one run between
them; once it ends, the other group's next notification starts its run."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import ALERTS_TOKEN, TOKENS, VIEWER_TOKEN, bearer, notification, write_guides
from .test_real_alertmanager import (
    ADMIN_URL,
    ROOT,
    admin_sql,
    free_port,
    poll,
    start,
    stop,
    wait_http,
)

pytestmark = pytest.mark.slow


def serve_limited(tmp: Path, port: int, env: dict[str, str], name: str) -> subprocess.Popen[bytes]:
    log = tmp / f"{name}.log"
    proc = start([sys.executable, "-m", "engine.cli", "serve", "--guides", str(tmp / "guides"),
                  "--port", str(port), "--max-runs-per-guide", "1"], log,
                 {"MENDFLOW_API_TOKENS": TOKENS, "PYTHONPATH": str(ROOT), **env})
    wait_http(f"http://127.0.0.1:{port}/healthz", proc, log)
    return proc


def test_two_servers_on_one_postgresql_hold_one_guide_limit(tmp_path: Path) -> None:
    name = f"mf_limit_{uuid.uuid4().hex[:8]}"
    admin_sql(f"CREATE DATABASE {name}")
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    write_guides(tmp_path / "guides", pause=3.0)
    ports = [free_port(), free_port()]
    servers: list[subprocess.Popen[bytes]] = []
    try:
        servers = [serve_limited(tmp_path, p, {"MENDFLOW_DATABASE_URL": url,
                                               "MENDFLOW_DATA_DIR": str(tmp_path / f"d{i}")},
                                 name=f"serve{i}") for i, p in enumerate(ports)]

        def fire(i: int, group: str) -> dict[str, Any]:
            got = httpx.post(f"http://127.0.0.1:{ports[i]}/api/v1/alerts",
                             json=notification(group=group), headers=bearer(ALERTS_TOKEN),
                             timeout=30)
            assert got.status_code == 200, got.text
            return dict(got.json()["alerts"][0])

        first = fire(0, "a")
        assert first["disposition"] == "started"
        second = fire(1, "b")  # the other server, another group, the same guide
        assert second["disposition"] == "refused", second
        assert "1 runs of this guide are live" in second["detail"]
        poll(f"http://127.0.0.1:{ports[0]}/api/v1/runs/{first['run_id']}", VIEWER_TOKEN,
             lambda got: got.get("status") == "succeeded")
        deadline = time.monotonic() + 10
        again = fire(1, "b")
        while again["disposition"] == "refused" and time.monotonic() < deadline:
            time.sleep(0.2)  # the slot is given back just after the run's record ends
            again = fire(1, "b")
        assert again["disposition"] == "started", again
    finally:
        stop(*servers)
        admin_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
