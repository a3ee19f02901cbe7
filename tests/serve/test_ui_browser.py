"""The web UI in a real headless Chromium against a real `mendflow serve` process: a person
logs in with their token, watches a run appear in the run list, opens it, sees its gated step
waiting in the plan graph, approves it, and sees the run end; all without reloading a page
(the event stream and the page's script do it). A screenshot of each stage is kept under
.artifacts/ (MENDFLOW_TEST_ARTIFACTS)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import pytest

from . import browser
from .conftest import (
    ALERTS_TOKEN,
    APPROVER_TOKEN,
    VIEWER_TOKEN,
    bearer,
    notification,
    write_guides,
)
from .test_real_alertmanager import (
    ADMIN_URL,
    ROOT,
    admin_sql,
    free_port,
    serve,
    stop,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def driver():
    d = browser.start()
    try:
        yield d
    finally:
        d.quit()


@pytest.fixture(params=["local", "celery"])
def server(request: pytest.FixtureRequest, tmp_path: Path):
    """A real `mendflow serve` on a free port: embedded (SQLite, local executor), or with
    `--executor celery` on a database of its own, a queue of its own and one `mendflow worker`."""
    write_guides(tmp_path / "guides")
    port = free_port()
    env = {"MENDFLOW_DATA_DIR": str(tmp_path / "data")}
    if request.param == "local":
        proc = serve(tmp_path, port, env)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            stop(proc)
        return
    with celery_backend(tmp_path) as celery_env:
        proc = serve(tmp_path, port, {**env, **celery_env}, extra_args=["--executor", "celery"])
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            stop(proc)


@contextmanager
def celery_backend(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A throw-away PostgreSQL database, a unique queue on the local Redis, and a worker."""
    name = f"mf_ui_{uuid.uuid4().hex[:10]}"
    admin_sql(f"CREATE DATABASE {name}")
    env = {"MENDFLOW_DATABASE_URL": ADMIN_URL.rsplit("/", 1)[0] + f"/{name}",
           "MENDFLOW_BROKER_URL": f"redis://127.0.0.1:6379/{1 + uuid.uuid4().int % 15}",
           "MENDFLOW_DEFAULT_QUEUE": f"mf-ui-{uuid.uuid4().hex[:8]}",
           "MENDFLOW_DATA_DIR": str(tmp_path / "worker-data")}
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "worker", "--concurrency=2",
         f"--queues={env['MENDFLOW_DEFAULT_QUEUE']}"], cwd=ROOT,
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, stdout=log.open("wb"),
        stderr=subprocess.STDOUT, start_new_session=True)
    try:
        browser.wait_for("the worker", lambda: " ready." in log.read_text(errors="replace")
                         or worker.poll() is not None, timeout=60)
        assert worker.poll() is None, log.read_text()[-3000:]
        yield env
    finally:
        with suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=15)
        admin_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_an_approver_approves_a_gated_step_in_the_browser_and_watches_the_run_end(
        driver, server: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    executor = request.node.callspec.params["server"]
    browser.login(driver, server, APPROVER_TOKEN)
    driver.execute_script("window.notReloaded = true")

    # Given an alert whose guide has an approval-gated step, arriving while the list is open
    said = httpx.post(f"{server}/api/v1/alerts",
                      json=notification(group="browser-1", alertname="ScratchFull"),
                      headers=bearer(ALERTS_TOKEN), timeout=10).json()["alerts"][0]
    run_id = said["run_id"]
    browser.wait_for("the new run in the list", lambda: driver.execute_script(
        "return document.querySelector('tr[data-run=\"' + arguments[0] + '\"]') !== null",
        run_id))
    assert driver.execute_script("return window.notReloaded === true")  # live, no reload
    gate = browser.wait_for("the gate's question", lambda: httpx.get(
        f"{server}/api/v1/questions?run_id={run_id}", headers=bearer(VIEWER_TOKEN),
        timeout=5).json())[0]["step_id"]

    # When the approver opens the run, sees the gate waiting, and approves it
    browser.open_run(driver, server, run_id)
    browser.wait_step_status(driver, gate, "asking")
    assert browser.run_status(driver) == "running"
    assert not (tmp_path / "guides" / "marker").exists()
    browser.screenshot(driver, f"ui-run-waiting-for-approval-{executor}")
    driver.execute_script("window.notReloaded = true")
    browser.approve_step(driver, run_id, gate)

    # Then the page shows the gate passed and the run ended, without a reload
    browser.wait_run_status(driver, "succeeded")
    browser.wait_step_status(driver, gate, "succeeded")
    run = httpx.get(f"{server}/api/v1/runs/{run_id}", headers=bearer(VIEWER_TOKEN),
                    timeout=5).json()
    assert run["executor"] == executor
    commands = [s["id"] for s in run["steps"] if s["kind"] == "command"]
    for step in commands:
        browser.wait_step_status(driver, step, "succeeded")
    assert driver.execute_script("return window.notReloaded === true")
    assert (tmp_path / "guides" / "marker").exists()
    browser.wait_for("the answer in the run's audit", lambda: "yes by pat from" in
                     driver.find_element("id", "run-detail").text)
    shot = browser.screenshot(driver, f"ui-run-approved-and-ended-{executor}")
    assert shot.stat().st_size > 10_000
    assert browser.console_errors(driver) == []  # no script error, nothing the CSP blocked


@pytest.mark.parametrize("server", ["local"], indirect=True)
def test_a_viewer_sees_the_gate_but_no_button(driver, server: str) -> None:
    said = httpx.post(f"{server}/api/v1/alerts",
                      json=notification(group="browser-2", alertname="ScratchFull"),
                      headers=bearer(ALERTS_TOKEN), timeout=10).json()["alerts"][0]
    gate = browser.wait_for("the gate's question", lambda: httpx.get(
        f"{server}/api/v1/questions?run_id={said['run_id']}", headers=bearer(VIEWER_TOKEN),
        timeout=5).json())[0]["step_id"]
    browser.login(driver, server, VIEWER_TOKEN)
    browser.open_run(driver, server, said["run_id"])
    browser.wait_step_status(driver, gate, "asking")
    page = driver.find_element("id", "run-detail").text
    assert "An approver must approve or deny it." in page
    assert not driver.find_elements("css selector", "button.approve")
    # clean up: an approver denies it, so the server stops with no run waiting
    httpx.post(f"{server}/api/v1/runs/{said['run_id']}/steps/{gate}/answer",
               json={"yes": False}, headers=bearer(APPROVER_TOKEN), timeout=5)


def test_a_server_with_an_open_event_stream_still_stops(tmp_path: Path) -> None:
    # Given a page's event stream open on a real server (no browser needed)
    write_guides(tmp_path / "guides")
    port = free_port()
    proc = serve(tmp_path, port, {"MENDFLOW_DATA_DIR": str(tmp_path / "data")})
    try:
        with httpx.stream("GET", f"http://127.0.0.1:{port}/ui/runs/events",
                          headers=bearer(VIEWER_TOKEN), timeout=30) as stream:
            lines = stream.iter_lines()
            assert next(lines).startswith("retry:")
            # When the server is told to stop while the stream is open
            proc.terminate()
            # Then it shuts down cleanly (it used to wait for the stream to end: for ever);
            # uvicorn re-raises the SIGTERM it handled, hence -15
            assert proc.wait(timeout=20) in (0, -15)
        assert "Application shutdown complete" in (tmp_path / "serve.log").read_text()
    finally:
        stop(proc)
