"""Two `mendflow serve` apps on one PostgreSQL (two processes behind a load balancer): what
one is told about a run the other drives reaches that run through the store."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from engine.plugins import default_registry
from engine.runtime.executor import LocalExecutor
from engine.runtime.services import build_services
from engine.serve.app import ServeConfig, create_app, load_routes
from engine.serve.auth import parse_tokens
from engine.serve.notify import NotifyConfig, Webhook
from engine.settings import Settings
from engine.store.postgres import PostgresStore

from .conftest import (
    ALERTS_TOKEN,
    APPROVER_TOKEN,
    OPERATOR_TOKEN,
    TOKENS,
    VIEWER_TOKEN,
    bearer,
    notification,
)
from .receiver import Receiver, receiving

PG_URL = os.environ.get("MENDFLOW_TEST_DATABASE_URL",
                        "postgresql://postgres@127.0.0.1:5432/test")
ALERTS = "/api/v1/alerts"
CLEANUP = "step-1-say-what-clean-up"

SLOW = """---
id: slow-fix
title: A long look, then a clean-up that always runs
triggers:
  - alert: SlowThing
---

# A long look, then a clean-up

## Diagnosis

1. Look for a long time:

   ```bash
   sleep 60
   ```

## Finally

1. Say what the clean-up saw:

   ```bash
   uname -s
   ```
"""


@asynccontextmanager
async def two_servers(tmp_path: Path, **config: Any) -> AsyncIterator[
        tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    guides = tmp_path / "guides"
    guides.mkdir(parents=True, exist_ok=True)
    (guides / "slow.md").write_text(SLOW)
    registry = default_registry()
    schema = f"mf_across_{uuid.uuid4().hex[:12]}"
    stores: list[PostgresStore] = []
    apps = []
    try:
        for n in range(2):
            settings = Settings(data_dir=tmp_path / f"data{n}")
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            store = PostgresStore(PG_URL, schema=schema)
            await store.open()
            stores.append(store)
            apps.append(create_app(ServeConfig(guides=guides, tokens=parse_tokens(TOKENS),
                                               cancel_poll_s=0.2, **config),
                                   build_services(settings, store, registry),
                                   load_routes(guides, known_plugins=set(registry.names())),
                                   LocalExecutor))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=apps[0]),
                                     base_url="http://one") as one, \
                httpx.AsyncClient(transport=httpx.ASGITransport(app=apps[1]),
                                  base_url="http://two") as two:
            one.app, two.app = apps  # type: ignore[attr-defined]
            yield one, two
    finally:
        for app in apps:
            app.state.starts.flush()
            for task in list(app.state.live.tasks):
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        for store in stores:
            await store.close()
        conn = await asyncpg.connect(PG_URL)
        try:
            await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        finally:
            await conn.close()


async def run_of(client: httpx.AsyncClient, run_id: str, *, until: Any,
                 timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        got = await client.get(f"/api/v1/runs/{run_id}", headers=bearer(VIEWER_TOKEN))
        if got.status_code == 200 and until(got.json()):
            return dict(got.json())
        assert time.monotonic() < deadline, f"run {run_id}: {got.status_code} {got.text[:300]}"
        await asyncio.sleep(0.1)


def steps(run: dict[str, Any]) -> dict[str, str]:
    return {s["id"]: s["status"] for s in run["steps"]}


async def test_resolved_at_one_server_cancels_the_run_another_drives(tmp_path: Path) -> None:
    # Given two servers on one PostgreSQL, resolved alerts cancelling their runs, and an
    # alert fired at the first: the first drives its run (a minute-long look)
    async with two_servers(tmp_path, on_resolved="cancel") as (a, b):
        fired = await a.post(ALERTS, json=notification(group="g1", alertname="SlowThing"),
                             headers=bearer(ALERTS_TOKEN))
        said = fired.json()["alerts"][0]
        assert said["disposition"] == "started", said
        run_id = said["run_id"]
        await run_of(a, run_id, until=lambda r: "running" in steps(r).values())
        assert run_id in a.app.state.live.executors  # type: ignore[attr-defined]
        # When the group's resolved notification reaches the second server
        began = time.monotonic()
        resolved = await b.post(ALERTS, json=notification(group="g1", alertname="SlowThing",
                                                          status="resolved"),
                                headers=bearer(ALERTS_TOKEN))
        got = resolved.json()["alerts"][0]
        # Then it is recorded against the run, and the run the first drives is cancelled
        # with its clean-up, well before its look would have ended
        assert got["disposition"] == "resolved" and got["run_id"] == run_id, got
        run = await run_of(b, run_id, until=lambda r: r["status"] != "running")
        assert run["status"] == "cancelled", run
        assert time.monotonic() - began < 20
        assert steps(run)[CLEANUP] == "succeeded", steps(run)
        events = (await b.get(f"/api/v1/runs/{run_id}/events",
                              headers=bearer(VIEWER_TOKEN))).json()
        asked = [e for e in events if e["type"] == "cancel_asked"]
        assert len(asked) == 1 and asked[0]["data"]["reason"] == "the alert resolved"


async def test_resolved_with_record_lets_a_run_driven_elsewhere_finish(tmp_path: Path) -> None:
    async with two_servers(tmp_path) as (a, b):  # on_resolved = "record"
        said = (await a.post(ALERTS, json=notification(group="g2", alertname="SlowThing"),
                             headers=bearer(ALERTS_TOKEN))).json()["alerts"][0]
        run_id = said["run_id"]
        await run_of(a, run_id, until=lambda r: "running" in steps(r).values())
        got = (await b.post(ALERTS, json=notification(group="g2", alertname="SlowThing",
                                                      status="resolved"),
                            headers=bearer(ALERTS_TOKEN))).json()["alerts"][0]
        assert got["disposition"] == "resolved"
        await asyncio.sleep(1.0)  # five of the driver's looks for a cancel
        run = await run_of(b, run_id, until=lambda r: True)
        assert run["status"] == "running", run
        events = (await b.get(f"/api/v1/runs/{run_id}/events",
                              headers=bearer(VIEWER_TOKEN))).json()
        assert not [e for e in events if e["type"] == "cancel_asked"]


async def test_an_operators_cancel_at_another_server_reaches_the_driver(
        tmp_path: Path) -> None:
    async with two_servers(tmp_path) as (a, b):
        said = (await a.post(ALERTS, json=notification(group="g3", alertname="SlowThing"),
                             headers=bearer(ALERTS_TOKEN))).json()["alerts"][0]
        run_id = said["run_id"]
        await run_of(a, run_id, until=lambda r: "running" in steps(r).values())
        asked = await b.post(f"/api/v1/runs/{run_id}/cancel", headers=bearer(OPERATOR_TOKEN))
        assert asked.status_code == 200, asked.text
        assert asked.json() == {"run_id": run_id, "cancelling": True, "driven_here": False}
        run = await run_of(a, run_id, until=lambda r: r["status"] != "running")
        assert run["status"] == "cancelled"
        assert steps(run)[CLEANUP] == "succeeded"
        again = await b.post(f"/api/v1/runs/{run_id}/cancel", headers=bearer(OPERATOR_TOKEN))
        assert again.status_code == 409


GATED = """---
id: gated-fix
title: A fix that waits for an approver
triggers:
  - alert: GatedThing
---

# A fix that waits for an approver

## Mitigation

1. Mark the fix:

   ```bash
   touch MARKER
   ```
"""


async def test_a_run_resumed_by_another_server_tells_each_event_once(tmp_path: Path) -> None:
    # Given two servers on one PostgreSQL telling one webhook, and a run started by the
    # first that waits for an approver (told once, by the first)
    (tmp_path / "guides").mkdir(parents=True)
    (tmp_path / "guides" / "gated.md").write_text(GATED.replace("MARKER",
                                                                str(tmp_path / "marker")))
    with receiving(Receiver()) as hook:
        told = NotifyConfig(webhooks=(Webhook(hook.url + "/hook"),), poll_s=0.1,
                            base_url="http://mendflow")
        async with two_servers(tmp_path, notify=told) as (a, b):
            said = (await a.post(ALERTS, json=notification(group="g4", alertname="GatedThing"),
                                 headers=bearer(ALERTS_TOKEN))).json()["alerts"][0]
            run_id = said["run_id"]
            await until_told(hook, lambda got: len(got) >= 1)
            # When the first stops driving it (its process dies: the run is left resumable)
            # and an operator resumes it at the second, which an approver then approves
            (driving,) = [t for t in a.app.state.live.tasks  # type: ignore[attr-defined]
                          if t.get_name() == f"run:{run_id}"]
            driving.cancel()
            await asyncio.gather(driving, return_exceptions=True)
            resumed = await b.post(f"/api/v1/runs/{run_id}/resume",
                                   headers=bearer(OPERATOR_TOKEN))
            assert resumed.status_code == 200, resumed.text
            (question,) = await pending_at(b, run_id)
            approved = await b.post(f"/api/v1/runs/{run_id}/steps/{question['step_id']}/answer",
                                    json={"yes": True}, headers=bearer(APPROVER_TOKEN))
            assert approved.status_code == 200, approved.text
            run = await run_of(b, run_id, until=lambda r: r["status"] not in (
                "running", "interrupted"))
            assert run["status"] == "succeeded", run
            await b.app.state.notifier.drain()  # type: ignore[attr-defined]
            await asyncio.sleep(0.5)  # polls of either server that could tell it again
            await a.app.state.notifier.drain()  # type: ignore[attr-defined]
            # Then the webhook heard the question once and the end once
            got = [body for body in hook.received() if body["run"]["id"] == run_id]
            events = sorted(body["event"] for body in got)
            assert events == ["question", "run_ended"], events
            assert (tmp_path / "marker").exists()


async def until_told(hook: Receiver, test: Any, timeout: float = 30) -> list[Any]:
    deadline = time.monotonic() + timeout
    while not test(got := hook.received()):
        assert time.monotonic() < deadline, got
        await asyncio.sleep(0.05)
    return got


async def pending_at(client: httpx.AsyncClient, run_id: str) -> list[dict[str, Any]]:
    for _ in range(300):
        got = (await client.get(f"/api/v1/questions?run_id={run_id}",
                                headers=bearer(VIEWER_TOKEN))).json()
        if got:
            return list(got)
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} asked nothing")


async def test_the_store_records_a_notice_once_and_reads_a_groups_run(client,
                                                                       tmp_path: Path) -> None:
    # the embedded store (the `client` fixture); PostgreSQL's is used by the tests above
    said = (await client.post(ALERTS, json=notification(group="g5"),
                              headers=bearer(ALERTS_TOKEN))).json()["alerts"][0]
    run_id = said["run_id"]
    store = client.store
    group = f"g5|{tmp_path / 'guides' / 'disk.md'}"
    assert await store.alert_group_run(group) == run_id
    assert await store.alert_group_run("no such group") is None
    assert await store.claim_notice(run_id, "run_ended") is True
    assert await store.claim_notice(run_id, "run_ended") is False
    assert await store.claim_notice(run_id, "question:s:t") is True
