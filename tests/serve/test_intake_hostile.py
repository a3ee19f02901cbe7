"""Alert payloads written by whoever controls a metric's labels: what the intake does with a
notification that mixes firing and resolved alerts, and other hostile shapes."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from engine.plugins import default_registry
from engine.runtime.executor import LocalExecutor
from engine.runtime.services import build_services
from engine.serve.app import ServeConfig, create_app, load_routes
from engine.serve.auth import parse_tokens
from engine.serve.pages import markdown_html
from engine.settings import Settings
from engine.store import open_store

from .conftest import (
    ALERTS_TOKEN,
    TOKENS,
    VIEWER_TOKEN,
    bearer,
    notification,
    serving,
    write_guides,
)
from .test_intake import ALERTS, wait_over, wait_run


async def test_a_resolved_alert_in_a_still_firing_group_does_not_cancel_its_run(client) -> None:
    # Alertmanager sends every alert of the group: one that resolved (anyone can make a
    # metric flap under the same group) must not cancel the run another still-firing alert
    # of the same group, routed to the same guide, holds
    client.app.state.config.on_resolved = "cancel"
    first = (await client.post(ALERTS, json=notification(group="m1"),
                               headers=bearer(ALERTS_TOKEN))).json()["alerts"][0]
    await wait_run(client, first["run_id"], over=False)
    mixed = notification(group="m1")
    flapped = copy.deepcopy(mixed["alerts"][0])
    flapped["status"] = "resolved"
    flapped["labels"]["node"] = "web-2"
    flapped["fingerprint"] = "def456"
    mixed["alerts"].append(flapped)
    said = (await client.post(ALERTS, json=mixed, headers=bearer(ALERTS_TOKEN))).json()
    assert [a["disposition"] for a in said["alerts"]] == ["deduped", "resolved"], said
    assert "still firing" in said["alerts"][1]["detail"], said
    assert (await wait_over(client, first["run_id"]))["status"] == "succeeded"


TOKEN = "Tk9-Qx7zP3vW8mendflowS3cret"  # a valid name: it can sit in a label


@pytest.fixture
async def secret_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                        ) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a data source whose token is TOKEN."""
    monkeypatch.setenv("MENDFLOW_DATASOURCE_PROM_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("MENDFLOW_DATASOURCE_PROM_TYPE", "prometheus")
    monkeypatch.setenv("MENDFLOW_DATASOURCE_PROM_TOKEN", TOKEN)
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir(parents=True)
    store = open_store(settings.store_path)
    await store.open()
    registry = default_registry()
    router = load_routes(write_guides(tmp_path / "guides"), known_plugins=set(registry.names()))
    config = ServeConfig(guides=tmp_path / "guides", tokens=parse_tokens(TOKENS),
                         max_body_bytes=20_000)
    app = create_app(config, build_services(settings, store, registry), router, LocalExecutor)
    async with serving(app, store) as c:
        yield c


async def test_a_label_that_is_a_configured_secret_is_kept_out_of_the_alert_records(
        secret_client) -> None:
    client = secret_client
    started = notification(group="s1", node=TOKEN)
    started["alerts"][0]["annotations"]["summary"] = f"token {TOKEN} leaked"
    refused = notification(group="s2", node=f"{TOKEN} x")  # not a name: refused, with detail
    unmatched = notification(group="s3", alertname="Other", node=TOKEN)
    said = []
    for body in (started, refused, unmatched):
        got = await client.post(ALERTS, json=body, headers=bearer(ALERTS_TOKEN))
        assert got.status_code == 200, got.text
        said += got.json()["alerts"]
        assert TOKEN not in got.text
    assert [a["disposition"] for a in said] == ["started", "refused", "unmatched"], said
    await wait_over(client, said[0]["run_id"])
    listed = await client.get(ALERTS, headers=bearer(VIEWER_TOKEN))
    assert listed.status_code == 200 and len(listed.json()) == 3
    assert TOKEN not in listed.text, listed.text
    for kept in await client.store.alerts():
        assert TOKEN not in kept.model_dump_json(), kept
    run = await client.get(f"/api/v1/runs/{said[0]['run_id']}", headers=bearer(VIEWER_TOKEN))
    assert TOKEN not in run.text
    report = await client.get(f"/api/v1/runs/{said[0]['run_id']}/report",
                              headers=bearer(VIEWER_TOKEN))
    assert report.status_code == 200 and TOKEN not in report.text


async def test_a_label_full_of_markdown_stays_text_in_the_report(client) -> None:
    # labels that are not inputs are never type-checked: the report shows them, and a
    # backtick or a line break ended their code span and let them write the report
    body = notification(group="md1")
    body["alerts"][0]["labels"]["runbook"] = (
        "x` [Approve here](http://evil.example/) ![t](http://evil.example/t.png) `y\n\n"
        "# Outcome: resolved\n<script>alert(1)</script>``")
    said = (await client.post(ALERTS, json=body, headers=bearer(ALERTS_TOKEN))).json()
    run_id = said["alerts"][0]["run_id"]
    await wait_over(client, run_id)
    report = (await client.get(f"/api/v1/runs/{run_id}/report",
                               headers=bearer(VIEWER_TOKEN))).text
    html = str(markdown_html(report))
    assert "evil.example" in html  # shown, as text
    assert "<a " not in html and "<img" not in html and "<script" not in html, html
    assert "Outcome: resolved</h1>" not in html
    (line,) = [row for row in report.splitlines() if row.startswith("- **Alert:**")]
    assert "runbook=x" in line and "\\n\\n# Outcome" in line


async def test_a_notification_with_a_key_twice_is_refused_whole(client) -> None:
    body = (b'{"version": "4", "groupKey": "d1", "status": "firing", "receiver": "r", '
            b'"alerts": [{"status": "firing", "startsAt": "2026-12-02T10:00:00Z", '
            b'"labels": {"alertname": "NodeDiskFull", "node": "-rf", "node": "web-1"}}]}')
    got = await client.post(ALERTS, content=body, headers=bearer(ALERTS_TOKEN))
    assert got.status_code == 400 and "'node' is in one object twice" in got.json()["detail"]
    assert await client.store.alerts() == [] and await client.store.list_runs() == []


async def test_an_alert_with_thousands_of_labels_gets_a_report_of_a_few_of_them(client) -> None:
    body = notification(group="many1")
    body["alerts"][0]["labels"].update({f"l{i:05d}": "v" for i in range(2_000)})
    client.app.state.config.max_body_bytes = 200_000
    said = (await client.post(ALERTS, json=body, headers=bearer(ALERTS_TOKEN))).json()
    run_id = said["alerts"][0]["run_id"]
    await wait_over(client, run_id)
    report = (await client.get(f"/api/v1/runs/{run_id}/report",
                               headers=bearer(VIEWER_TOKEN))).text
    (line,) = [row for row in report.splitlines() if row.startswith("- **Alert:**")]
    assert line.count("=v`") < 60 and "1952 more label(s)" in line, line[-200:]


async def test_a_body_nested_deeper_than_json_readers_recurse_is_a_400(client) -> None:
    # a few kilobytes of `[[[[`: Python's JSON reader raised a RecursionError, no ValueError,
    # and the intake answered 500 with a traceback in its log
    body = '{"version": "4", "alerts": ' + "[" * 4000 + "]" * 4000 + "}"
    said = await client.post(ALERTS, content=body, headers={
        **bearer(ALERTS_TOKEN), "content-type": "application/json"})
    assert said.status_code == 400, said.text
    assert "not an Alertmanager webhook" in said.json()["detail"]
