"""`GET /metrics` of a real `mendflow serve` process, scraped as Prometheus would (and by a
real Prometheus): alerts by disposition, runs started and ended, step durations by plugin,
questions waiting; the metrics token; JSON log lines with run and step ids; no alert label
value, run id or secret in the exposition."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from engine.errors import ConfigError
from engine.plugins import default_registry
from engine.runtime.executor import LocalExecutor
from engine.runtime.services import build_services
from engine.serve.app import ServeConfig, create_app, load_routes
from engine.serve.auth import parse_tokens
from engine.settings import Settings
from engine.store import open_store

from .conftest import (
    ALERTS_TOKEN,
    APPROVER_TOKEN,
    TOKENS,
    VIEWER_TOKEN,
    bearer,
    notification,
    write_guides,
)
from .test_real_alertmanager import ROOT, free_port, start, stop, wait_http

HOSTILE = "zz-label-value-never-in-metrics"
SECRET = "s3cret-db-password-for-metrics"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, by name and sorted labels (the parser is Prometheus's
    own format's, from prometheus_client: a malformed exposition fails here)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def value(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
          **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels` (0 when none)."""
    return sum(v for (n, ls), v in found.items()
               if n == name and all((k, w) in ls for k, w in labels.items()))


def scrape(port: int, token: str | None = None) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10,
                     headers=bearer(token) if token else {})


def wait_run(port: int, run_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = httpx.get(f"http://127.0.0.1:{port}/api/v1/runs/{run_id}",
                        headers=bearer(VIEWER_TOKEN), timeout=10)
        if got.status_code == 200 and got.json()["status"] != "running":
            return dict(got.json())
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not end")


def pending(port: int, run_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = httpx.get(f"http://127.0.0.1:{port}/api/v1/questions?run_id={run_id}",
                        headers=bearer(VIEWER_TOKEN), timeout=10).json()
        if got:
            return dict(got[0])
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} asked nothing")


@pytest.mark.slow
def test_a_real_serve_counts_alerts_runs_steps_and_questions_and_logs_json(
        tmp_path: Path) -> None:
    # Given: a serve process with JSON logs, a data source with a secret, guides that pause
    write_guides(tmp_path / "guides", pause=1.5)
    (tmp_path / "mendflow.toml").write_text(
        '[datasources.db]\ntype = "postgresql"\nurl = "postgresql://reader@127.0.0.1/x"\n'
        'password_env = "METRICS_TEST_DB_PW"\n')
    port = free_port()
    log = tmp_path / "serve.log"
    proc = start([sys.executable, "-m", "engine.cli", "serve", "--guides",
                  str(tmp_path / "guides"), "--port", str(port), "--log-format", "json"], log,
                 {"MENDFLOW_API_TOKENS": TOKENS, "PYTHONPATH": str(ROOT),
                  "MENDFLOW_DATA_DIR": str(tmp_path / "data"),
                  "MENDFLOW_CONFIG_FILE": str(tmp_path / "mendflow.toml"),
                  "METRICS_TEST_DB_PW": SECRET})
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc, log)
        before = samples(scrape(port).text)
        assert value(before, "mendflow_alerts_received_total") == 0

        def fire(body: dict[str, Any]) -> dict[str, Any]:
            got = httpx.post(f"http://127.0.0.1:{port}/api/v1/alerts", json=body,
                             headers=bearer(ALERTS_TOKEN), timeout=30)
            assert got.status_code == 200, got.text
            return dict(got.json()["alerts"][0])

        # When: a group fires (a run), fires again (deduped), an unknown alert arrives, a
        # gated guide's alert waits for an approver, and the first group resolves
        started = fire(notification(group="g1", team=HOSTILE))
        assert started["disposition"] == "started"
        assert fire(notification(group="g1", team=HOSTILE))["disposition"] == "deduped"
        assert fire(notification(group="u", alertname="NobodyKnows", team=HOSTILE)
                    )["disposition"] == "unmatched"
        gated = fire(notification(group="s1", alertname="ScratchFull"))
        question = pending(port, gated["run_id"])
        time.sleep(1.0)
        asking = samples(scrape(port).text)
        assert fire(notification(group="g1", status="resolved", team=HOSTILE)
                    )["disposition"] == "resolved"
        run = wait_run(port, started["run_id"])
        answered = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/runs/{gated['run_id']}/steps/"
            f"{question['step_id']}/answer", json={"yes": True},
            headers=bearer(APPROVER_TOKEN), timeout=10)
        assert answered.status_code == 200, answered.text
        gated_run = wait_run(port, gated["run_id"])
        text = scrape(port).text
        after = samples(text)
    finally:
        stop(proc)

    # Then: the approval was counted while it waited, with its age
    assert value(asking, "mendflow_questions_waiting", kind="approve") == 1
    assert value(asking, "mendflow_questions_oldest_age_seconds", kind="approve") >= 1.0
    assert value(after, "mendflow_questions_waiting", kind="approve") == 0
    # every alert by what was done with it
    for disposition, count in (("started", 2), ("deduped", 1), ("unmatched", 1),
                               ("resolved", 1), ("refused", 0)):
        assert value(after, "mendflow_alerts_received_total",
                     disposition=disposition) == count, disposition
    # runs started and ended by guide, status and outcome
    assert run["status"] == "succeeded" and gated_run["status"] == "succeeded"
    assert value(after, "mendflow_runs_started_total", guide="disk-full") == 1
    assert value(after, "mendflow_runs_started_total", guide="scratch-full") == 1
    assert value(after, "mendflow_runs_ended_total", guide="disk-full",
                 status="succeeded") == 1
    assert value(after, "mendflow_runs_ended_total") == 2
    # step durations by plugin: the disk guide's shell step slept 1.5 s
    plugin = "shell"
    assert value(after, "mendflow_step_duration_seconds_count", plugin=plugin) >= 2
    assert value(after, "mendflow_step_duration_seconds_sum", plugin=plugin) >= 1.5
    assert value(after, "mendflow_step_duration_seconds_count", kind="approve",
                 result="granted") == 1
    assert value(after, "mendflow_step_queue_wait_seconds_count", plugin=plugin,
                 where="slot") >= 2
    assert value(after, "mendflow_steps_running") == 0
    # nothing that came with an alert, no run id, no secret
    for leak in (HOSTILE, "web-1", started["run_id"], gated["run_id"], SECRET):
        assert leak not in text

    # The log: JSON lines, those about a step with its run and step ids, the secret nowhere
    lines = [json.loads(line) for line in log.read_text().splitlines()
             if line.startswith("{")]
    assert lines, log.read_text()[-2000:]
    assert all({"time", "level", "logger", "message", "run_id", "step_id"} <= set(line)
               for line in lines)
    about = [line for line in lines if line["run_id"] == started["run_id"]]
    assert any(line["step_id"] for line in about), about
    assert any(line["message"].startswith(f"run {started['run_id']} of disk-full ended")
               for line in about)
    assert SECRET not in log.read_text()


async def test_a_metrics_token_closes_metrics_to_callers_without_it(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir(parents=True)
    store = open_store(settings.store_path)
    await store.open()
    registry = default_registry()
    router = load_routes(write_guides(tmp_path / "guides"),
                         known_plugins=set(registry.names()))
    token = "scrape-" + "m" * 25
    config = ServeConfig(guides=tmp_path / "guides", tokens=parse_tokens(TOKENS),
                         metrics_token=token)
    app = create_app(config, build_services(settings, store, registry), router, LocalExecutor)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://mendflow") as client:
            assert (await client.get("/metrics")).status_code == 401
            assert (await client.get("/metrics", headers=bearer(VIEWER_TOKEN))
                    ).status_code == 401  # an API token is not the metrics token
            got = await client.get("/metrics", headers=bearer(token))
            assert got.status_code == 200
            assert got.headers["content-type"].startswith("text/plain")
            assert "mendflow_alerts_received" in got.text
            assert token not in got.text
    finally:
        await store.close()


def test_the_metrics_token_comes_from_the_variable_the_config_file_names(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.cli.serve import _metrics_token

    config = tmp_path / "mendflow.toml"
    config.write_text('[serve]\nmetrics_token_env = "SCRAPE_TOKEN_FOR_TEST"\n')
    settings = Settings(config_file=config)
    monkeypatch.delenv("SCRAPE_TOKEN_FOR_TEST", raising=False)
    with pytest.raises(ConfigError, match="SCRAPE_TOKEN_FOR_TEST"):
        _metrics_token(settings)
    monkeypatch.setenv("SCRAPE_TOKEN_FOR_TEST", "from-the-env")
    assert _metrics_token(settings) == "from-the-env"
    assert _metrics_token(Settings(config_file=config, metrics_token="direct")) == "direct"
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert _metrics_token(Settings()) is None  # no file, no token: /metrics is open


@pytest.mark.slow
def test_a_real_prometheus_scrapes_serve_with_the_metrics_token(tmp_path: Path) -> None:
    from .test_end_to_end import binary

    prometheus = binary("prometheus")
    write_guides(tmp_path / "guides")
    token = "scrape-" + "p" * 25
    port, prom_port = free_port(), free_port()
    log = tmp_path / "serve.log"
    procs = [start([sys.executable, "-m", "engine.cli", "serve", "--guides",
                    str(tmp_path / "guides"), "--port", str(port)], log,
                   {"MENDFLOW_API_TOKENS": TOKENS, "PYTHONPATH": str(ROOT),
                    "MENDFLOW_DATA_DIR": str(tmp_path / "data"),
                    "MENDFLOW_METRICS_TOKEN": token})]
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", procs[0], log)
        assert scrape(port).status_code == 401
        got = httpx.post(f"http://127.0.0.1:{port}/api/v1/alerts", json=notification(),
                         headers=bearer(ALERTS_TOKEN), timeout=30)
        assert got.json()["alerts"][0]["disposition"] == "started"
        (tmp_path / "prometheus.yml").write_text(f"""
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: mendflow
    authorization: {{credentials: "{token}"}}
    static_configs:
      - targets: ["127.0.0.1:{port}"]
""")
        prom_log = tmp_path / "prometheus.log"
        procs.append(start([prometheus, f"--config.file={tmp_path / 'prometheus.yml'}",
                            f"--storage.tsdb.path={tmp_path / 'prom-data'}",
                            f"--web.listen-address=127.0.0.1:{prom_port}"], prom_log))
        wait_http(f"http://127.0.0.1:{prom_port}/-/ready", procs[1], prom_log)
        query = ('mendflow_alerts_received_total{job="mendflow",disposition="started"}'
                 ' and on() up{job="mendflow"} == 1')
        deadline = time.monotonic() + 30
        result: list[Any] = []
        while time.monotonic() < deadline and not result:
            result = httpx.get(f"http://127.0.0.1:{prom_port}/api/v1/query",
                               params={"query": query}, timeout=5).json()["data"]["result"]
            time.sleep(0.5)
    finally:
        stop(*procs)
    # Then: Prometheus scraped serve (with the token) and stored the alert counter
    assert result and float(result[0]["value"][1]) == 1, prom_log.read_text()[-2000:]
