"""Issue 15's Done-when, end to end with real parts: a real Prometheus evaluates an alerting
rule that fires at once, a real Alertmanager routes the alert to `mendflow serve`'s webhook
with a bearer token, the guide whose trigger matches runs and shows live in a real headless
Chromium, its gated step waits for an approver who approves it there with a click, the run
ends and a real webhook receiver gets the end notification with the run's link. On the
embedded default (SQLite, local executor) and on Celery (PostgreSQL, Redis, a `mendflow
worker` process)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.worker.conftest import Workers

from . import browser
from .conftest import ALERTS_TOKEN, APPROVER_TOKEN, TOKENS, VIEWER_TOKEN
from .receiver import Receiver, receiving
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

ALERT = "MendflowE2EGateNeeded"
HOOK_SECRET = "e2e-hook-" + "s" * 24  # the webhook URL's secret part: never in a log

GUIDE = """---
id: e2e-gated
title: End-to-end gated clean-up
triggers:
  - alert: ALERT
    labels: {severity: page}
inputs:
  - name: node
    type: name
    description: The node, from the alert's `node` label.
---

# End-to-end gated clean-up

## Mitigation

1. Look at the node {{ inputs.node }}:

   ```bash
   echo checking {{ inputs.node }}
   ```

2. Mark the node as cleaned:

   ```bash
   touch MARKER
   ```
"""


def binary(*names: str) -> str:
    for name in names:
        if subprocess.run(["which", name], capture_output=True).returncode == 0:
            return name
    if os.environ.get("CI") == "true":
        pytest.fail(f"{names[0]} is not installed (scripts/ensure-system.sh installs it)")
    pytest.skip(f"{names[0]} is not installed")


def approve_in_the_browser(driver: Any, ui: str, api: str, run_id: str) -> dict[str, Any]:
    """An approver opens the run page, sees the gate waiting (pushed live), and clicks
    Approve; the run's answer as the API then shows it."""
    (question,) = poll(f"{api}/questions?run_id={run_id}", VIEWER_TOKEN,
                       lambda got: len(got) == 1)
    assert question["kind"] == "approve", question
    browser.login(driver, ui, APPROVER_TOKEN)
    browser.open_run(driver, ui, run_id)
    browser.wait_step_status(driver, question["step_id"], "asking")
    browser.approve_step(driver, run_id, question["step_id"])
    browser.wait_run_status(driver, "succeeded", timeout=90)
    browser.screenshot(driver, f"e2e-{run_id}")
    assert not browser.console_errors(driver)
    run = poll(f"{api}/runs/{run_id}", VIEWER_TOKEN, lambda got: bool(got.get("questions")))
    (answer,) = run["questions"]
    return dict(answer)


def start_prometheus(tmp: Path, am_port: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    (tmp / "rules.yml").write_text(f"""
groups:
  - name: mendflow-e2e
    interval: 1s
    rules:
      - alert: {ALERT}
        expr: vector(1) > 0
        for: 0s
        labels: {{severity: page, node: web-7}}
        annotations: {{summary: "the end-to-end test's alert"}}
""")
    (tmp / "prometheus.yml").write_text(f"""
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [{tmp / 'rules.yml'}]
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["127.0.0.1:{am_port}"]
""")
    log = tmp / "prometheus.log"
    proc = start([binary("prometheus"), f"--config.file={tmp / 'prometheus.yml'}",
                  f"--storage.tsdb.path={tmp / 'prom-data'}",
                  f"--web.listen-address=127.0.0.1:{port}",
                  # the first send races Prometheus's discovery of the Alertmanager: resent
                  # each second, not after the default minute
                  "--rules.alert.resend-delay=1s"], log)
    wait_http(f"http://127.0.0.1:{port}/-/ready", proc, log)
    return proc, port


def start_alertmanager(tmp: Path, am_port: int, serve_port: int) -> subprocess.Popen[bytes]:
    (tmp / "alertmanager.yml").write_text(f"""
route:
  receiver: mendflow
  group_by: [alertname, node]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: mendflow
    webhook_configs:
      - url: http://127.0.0.1:{serve_port}/api/v1/alerts
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {ALERTS_TOKEN}
""")
    log = tmp / "alertmanager.log"
    proc = start([binary("prometheus-alertmanager", "alertmanager"),
                  f"--config.file={tmp / 'alertmanager.yml'}",
                  f"--storage.path={tmp / 'am-data'}",
                  f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
                 log)
    wait_http(f"http://127.0.0.1:{am_port}/-/ready", proc, log)
    return proc


@pytest.fixture(params=["embedded", "celery"])
def backend(request: pytest.FixtureRequest, tmp_path: Path
            ) -> Iterator[tuple[dict[str, str], list[str]]]:
    """The environment and `serve` flags of one backend; on Celery, a worker is started once
    `serve` (which migrates the store) is up: see `workers_for`."""
    if request.param == "embedded":
        yield {"MENDFLOW_DATA_DIR": str(tmp_path / "data")}, []
        return
    name = f"mf_e2e_{uuid.uuid4().hex[:8]}"
    admin_sql(f"CREATE DATABASE {name}")
    try:
        yield {"MENDFLOW_DATABASE_URL": ADMIN_URL.rsplit("/", 1)[0] + f"/{name}",
               "MENDFLOW_BROKER_URL": f"redis://127.0.0.1:6379/{1 + uuid.uuid4().int % 15}",
               "MENDFLOW_DEFAULT_QUEUE": f"mf-e2e-{uuid.uuid4().hex[:8]}",
               "MENDFLOW_DATA_DIR": str(tmp_path / "data")}, ["--executor", "celery"]
    finally:
        admin_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_a_prometheus_alert_runs_its_guide_through_alertmanager_an_approver_approves_and_the_end_is_notified(  # noqa: E501
        tmp_path: Path, backend: tuple[dict[str, str], list[str]]) -> None:
    driver = browser.start()
    env, flags = backend
    guides = tmp_path / "guides"
    guides.mkdir()
    marker = tmp_path / "cleaned"
    (guides / "gated.md").write_text(GUIDE.replace("ALERT", ALERT)
                                     .replace("MARKER", str(marker)))
    port, am_port = free_port(), free_port()
    base_url = f"http://mendflow.test:{port}"
    procs: list[subprocess.Popen[bytes]] = []
    workers = Workers(env, tmp_path)
    with receiving(Receiver()) as hook:
        serve_env = {**env, "MENDFLOW_API_TOKENS": TOKENS, "PYTHONPATH": str(ROOT),
                     "MENDFLOW_WEBHOOKS": f"{hook.url}/hooks/{HOOK_SECRET}",
                     "MENDFLOW_BASE_URL": base_url}
        serve_log = tmp_path / "serve.log"
        t0 = time.monotonic()
        try:
            procs.append(start([sys.executable, "-m", "engine.cli", "serve", "--guides",
                                str(guides), "--port", str(port), *flags], serve_log,
                               serve_env))
            wait_http(f"http://127.0.0.1:{port}/healthz", procs[-1], serve_log)
            if flags:
                workers.start("worker", concurrency=2)
            procs.append(start_alertmanager(tmp_path, am_port, port))
            procs.append(start_prometheus(tmp_path, am_port)[0])
            api = f"http://127.0.0.1:{port}/api/v1"

            began = time.monotonic()
            print(f"processes up: {began - t0:.1f} s")
            alerts = poll(f"{api}/alerts", VIEWER_TOKEN,
                          lambda got: any(a["disposition"] == "started" for a in got),
                          timeout=90)
            (started,) = [a for a in alerts if a["disposition"] == "started"]
            assert started["alertname"] == ALERT and started["labels"]["node"] == "web-7"
            run_id = started["run_id"]
            run = poll(f"{api}/runs/{run_id}", VIEWER_TOKEN,
                       lambda got: got.get("status") == "running", timeout=30)
            assert run["executor"] == ("celery" if flags else "local")

            # the approver learns of the gate from its notification, with the run's link
            link = f"{base_url}/runs/{run_id}"
            (asked,) = hook.wait_for(lambda got: len(got) >= 1, timeout=30)
            assert (asked["event"], asked["question"]["kind"]) == ("question", "approve")
            assert asked["run"]["url"] == link
            print(f"alert to gate notified: {time.monotonic() - began:.1f} s")
            approved = approve_in_the_browser(driver, f"http://127.0.0.1:{port}", api,
                                              run_id)
            assert approved["by"] == "pat"

            run = poll(f"{api}/runs/{run_id}", VIEWER_TOKEN,
                       lambda got: got.get("status") != "running", timeout=90)
            assert run["status"] == "succeeded", run
            assert marker.exists()
            (audit,) = run["questions"]
            assert (audit["by"], audit["source"]) == ("pat", "127.0.0.1 (web UI)")

            told = hook.wait_for(lambda got: any(b["event"] == "run_ended" for b in got),
                                 timeout=60)
            ended = next(b for b in told if b["event"] == "run_ended")
            assert (ended["run"]["id"], ended["run"]["status"], ended["run"]["url"]) == (
                run_id, "succeeded", link)
            assert [b["event"] for b in told] == ["question", "run_ended"]  # each told once
            print(f"alert to notified end: {time.monotonic() - began:.1f} s "
                  f"({'celery' if flags else 'embedded'})")
        finally:
            driver.quit()
            stop(*reversed(procs))
            workers.stop_all()
    logged = serve_log.read_text()
    assert f"notification run_ended of run {run_id}" in logged
    assert HOOK_SECRET not in logged and ALERTS_TOKEN not in logged
