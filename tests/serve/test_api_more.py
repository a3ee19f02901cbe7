"""The REST API beyond intake and questions (issue 15 part 3), through the ASGI app on the
embedded store: a guide's run limit that holds across two servers on one store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

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
    OPERATOR_TOKEN,
    TOKENS,
    VIEWER_TOKEN,
    bearer,
    notification,
    serving,
    write_guides,
)

Server = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def server(tmp_path: Path) -> Server:
    """`mendflow serve` as an app on the embedded store in tmp_path (every server made by one
    test shares it, as servers behind a load balancer share PostgreSQL)."""
    write_guides(tmp_path / "guides", pause=2.0)

    @asynccontextmanager
    async def make(**config: Any) -> AsyncIterator[httpx.AsyncClient]:
        settings = Settings(data_dir=tmp_path / "data")
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = open_store(settings.store_path)
        await store.open()
        registry = default_registry()
        router = load_routes(tmp_path / "guides", known_plugins=set(registry.names()))
        app = create_app(ServeConfig(guides=tmp_path / "guides", tokens=parse_tokens(TOKENS),
                                     **config),
                         build_services(settings, store, registry), router, LocalExecutor)
        async with serving(app, store) as c:
            yield c
    return make


async def fire(client: httpx.AsyncClient, group: str, **labels: str) -> dict[str, Any]:
    got = await client.post("/api/v1/alerts", json=notification(group=group, **labels),
                            headers=bearer(ALERTS_TOKEN))
    assert got.status_code == 200, got.text
    return dict(got.json()["alerts"][0])


async def over(client: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    for _ in range(600):
        got = await client.get(f"/api/v1/runs/{run_id}", headers=bearer(VIEWER_TOKEN))
        if got.status_code == 200 and got.json()["status"] != "running":
            return dict(got.json())
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} never ended")


# -- a guide's run limit holds across servers -------------------------------------------------


async def test_a_guides_run_limit_holds_across_two_servers_on_one_store(server: Server) -> None:
    async with server(max_runs_per_guide=1) as one, server(max_runs_per_guide=1) as two:
        first = await fire(one, "g1")
        assert first["disposition"] == "started"
        second = await fire(two, "g2")  # another group, the same guide, the other server
        assert second["disposition"] == "refused", second
        assert "1 runs of this guide are live" in second["detail"]
        other_guide = await fire(two, "g3", alertname="ScratchFull")
        assert other_guide["disposition"] == "started"  # the limit is per guide
        repeat = await fire(one, "g1")  # its own group's repeat is deduped, not refused
        assert (repeat["disposition"], repeat["run_id"]) == ("deduped", first["run_id"])
        await over(one, first["run_id"])
        await asyncio.sleep(0.1)  # the slot is given back as the run's task ends
        third = await fire(two, "g2")  # the refused group again: it claimed nothing
        assert third["disposition"] == "started", third  # the ended run gave its slot back
        await over(two, third["run_id"])
        # the gated ScratchFull run waits for an approver: not this test's business
        cancelled = await two.post(f"/api/v1/runs/{other_guide['run_id']}/cancel",
                                   headers=bearer(OPERATOR_TOKEN))
        assert cancelled.status_code == 200


async def test_a_lapsed_slot_of_a_dead_server_is_free_again(server: Server) -> None:
    async with server(max_runs_per_guide=1) as client:
        store = client.store
        # a server that died holding the guide's one slot: its slot lapses by itself
        assert await store.take_slot("serve:guide:disk-full", limit=1, holder="dead-run",
                                     ttl_s=0.2)
        refused = await fire(client, "d1")
        assert refused["disposition"] == "refused"
        await asyncio.sleep(0.3)
        started = await fire(client, "d2")
        assert started["disposition"] == "started"
        await over(client, started["run_id"])


# -- the plan graph, the HTML report, guides with their lint status ---------------------------


async def test_a_runs_graph_shows_each_steps_status(server: Server) -> None:
    async with server() as client:
        said = await fire(client, "p1")
        await over(client, said["run_id"])
        got = (await client.get(f"/api/v1/runs/{said['run_id']}/graph",
                                headers=bearer(VIEWER_TOKEN))).json()
        assert got["plan"] == "disk-full" and got["status"] == "succeeded"
        by_id = {n["id"]: n for n in got["nodes"]}
        assert any(n["kind"] == "command" and n["status"] == "succeeded"
                   for n in by_id.values()), by_id
        assert all(e["source"] in by_id and e["target"] in by_id for e in got["edges"])
        assert got["mermaid"].startswith("flowchart TD")
        guide = (await client.get("/api/v1/guides/disk-full/graph",
                                  headers=bearer(VIEWER_TOKEN))).json()
        assert [n["id"] for n in guide["nodes"]] == list(by_id)
        assert all("status" not in n for n in guide["nodes"])
        missing = await client.get("/api/v1/guides/nope/graph", headers=bearer(VIEWER_TOKEN))
        assert missing.status_code == 404
        assert (await client.get(f"/api/v1/runs/{said['run_id']}/graph")).status_code == 401


async def test_the_html_report_renders_a_hostile_label_as_text(server: Server) -> None:
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    async with server() as client:
        said = await fire(client, "h1", team=hostile)
        await over(client, said["run_id"])
        page = await client.get(f"/api/v1/runs/{said['run_id']}/report.html",
                                headers=bearer(VIEWER_TOKEN))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src" not in page.headers["content-security-policy"]  # no script at all
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    text = page.text
    assert "&lt;script&gt;" in text and "<script" not in text and "<img" not in text
    assert f"<h1>Run {said['run_id']}" in text


async def test_guides_are_listed_with_their_lint_status(server: Server, tmp_path: Path) -> None:
    from engine.compile import lint as linter

    async with server() as client:
        listed = (await client.get("/api/v1/guides", headers=bearer(VIEWER_TOKEN))).json()
        disk = next(g for g in listed if g["plan"] == "disk-full")
        expected = linter.lint_path(tmp_path / "guides" / "disk.md")
        assert disk["lint"]["errors"] == sum(f.severity == "error" for f in expected)
        assert [f["rule"] for f in disk["lint"]["findings"]] == [f.rule for f in expected]
        assert disk["lint"]["status"] in ("clean", "warning", "error")
        # a guide edited while the server runs is linted again
        path = tmp_path / "guides" / "disk.md"
        path.write_text(path.read_text() + "\n## Mitigation\n\n1. Do the thing.\n   `\n")
        again = (await client.get("/api/v1/guides", headers=bearer(VIEWER_TOKEN))).json()
        relinted = next(g for g in again if g["plan"] == "disk-full")["lint"]
        assert relinted["findings"] == [f.model_dump(mode="json")
                                        for f in linter.lint_path(path)]
        assert relinted != disk["lint"]


# -- repeats and resolutions of a live run's alert are on the run's events ---------------------


async def test_a_repeat_and_the_resolution_of_a_live_runs_alert_are_noted_on_the_run(
        server: Server) -> None:
    async with server() as client:
        first = await fire(client, "r1")
        for _ in range(100):  # the intake answers before the run's record is written
            if (await client.get(f"/api/v1/runs/{first['run_id']}",
                                 headers=bearer(VIEWER_TOKEN))).status_code == 200:
                break
            await asyncio.sleep(0.02)
        repeat = await fire(client, "r1")
        assert (repeat["disposition"], repeat["run_id"]) == ("deduped", first["run_id"])
        resolved = await client.post("/api/v1/alerts", json=notification(
            group="r1", status="resolved"), headers=bearer(ALERTS_TOKEN))
        assert resolved.json()["alerts"][0]["run_id"] == first["run_id"]
        run = await over(client, first["run_id"])
        assert run["status"] == "succeeded"  # the notes changed nothing about the run
        events = (await client.get(f"/api/v1/runs/{first['run_id']}/events",
                                   headers=bearer(VIEWER_TOKEN))).json()
        notes = [(e["type"], e["data"]["group_key"], e["data"]["status"]) for e in events
                 if e["type"].startswith("alert_")]
        assert notes == [("alert_repeated", "r1", "firing"),
                         ("alert_resolved", "r1", "resolved")]
        seqs = [e["seq"] for e in events]
        assert seqs == list(range(1, len(seqs) + 1))
        later = (await client.get(f"/api/v1/runs/{first['run_id']}/events?after={seqs[-2]}",
                                  headers=bearer(VIEWER_TOKEN))).json()
        assert [e["seq"] for e in later] == [seqs[-1]]
        assert (await client.get("/api/v1/runs/nope/events",
                                 headers=bearer(VIEWER_TOKEN))).status_code == 404


# -- resume -------------------------------------------------------------------------------------


async def test_a_run_whose_driver_died_is_resumed_by_an_operator(server: Server) -> None:
    async with server() as client:
        said = await fire(client, "u1")
        run_id = said["run_id"]
        for _ in range(200):  # until its step runs (it sleeps 2 s)
            got = await client.get(f"/api/v1/runs/{run_id}", headers=bearer(VIEWER_TOKEN))
            if got.status_code == 200 and any(s["status"] == "running"
                                              for s in got.json()["steps"]):
                break
            await asyncio.sleep(0.02)
        url = f"/api/v1/runs/{run_id}/resume"
        busy = await client.post(url, headers=bearer(OPERATOR_TOKEN))
        assert busy.status_code == 409 and "driven by this server" in busy.json()["detail"]

        (task,) = [t for t in client.app.state.live.tasks if t.get_name() == f"run:{run_id}"]
        task.cancel()  # what drove the run is gone
        with pytest.raises(asyncio.CancelledError):
            await task
        stopped = (await client.get(f"/api/v1/runs/{run_id}",
                                    headers=bearer(VIEWER_TOKEN))).json()
        assert stopped["status"] in ("running", "interrupted")

        assert (await client.post(url, headers=bearer(VIEWER_TOKEN))).status_code == 403
        unknown = await client.post(url, json={"mark_done": ["nope"]},
                                    headers=bearer(APPROVER_TOKEN))
        assert unknown.status_code == 400 and "no gated step 'nope'" in unknown.json()["detail"]
        both = await asyncio.gather(client.post(url, headers=bearer(OPERATOR_TOKEN)),
                                    client.post(url, headers=bearer(OPERATOR_TOKEN)))
        assert sorted(r.status_code for r in both) == [200, 409], [r.text for r in both]
        (resumed,) = [r for r in both if r.status_code == 200]
        assert resumed.json() == {"run_id": run_id, "resuming": True, "by": "oli"}
        (driving,) = client.app.state.live.tasks  # this server drives the run again
        assert (await driving).status == "succeeded"
        run = await over(client, run_id)
        assert run["status"] == "succeeded", (run["reason"], run["steps"])
        events = (await client.get(f"/api/v1/runs/{run_id}/events",
                                   headers=bearer(VIEWER_TOKEN))).json()
        (asked,) = [e for e in events if e["type"] == "resume_asked"]
        assert (asked["data"]["by"], asked["data"]["source"]) == ("oli", "127.0.0.1")
        ended = await client.post(url, headers=bearer(OPERATOR_TOKEN))
        assert ended.status_code == 409 and "ended succeeded" in ended.json()["detail"]
