"""The web UI through the ASGI app on the embedded store: logging in, who sees and may press
which button, hostile alert values shown as text, and the event stream following a run."""

from __future__ import annotations

import asyncio
import html
import os
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
import pytest

from engine.compile.graph import to_dot
from engine.plugins import default_registry
from engine.runtime.executor import LocalExecutor
from engine.runtime.services import build_services
from engine.serve import pages
from engine.serve.app import ServeConfig, create_app, load_routes
from engine.serve.auth import parse_tokens
from engine.serve.live import Seen, changes, runs_events
from engine.serve.session import COOKIE
from engine.settings import Settings
from engine.store import open_store
from engine.store.postgres import PostgresStore

from .conftest import (
    ALERTS_TOKEN,
    APPROVER_TOKEN,
    OPERATOR_TOKEN,
    TOKENS,
    VIEWER_TOKEN,
    bearer,
    notification,
    write_guides,
)
from .test_intake import pending, wait_over, wait_run

PG_URL = os.environ.get("MENDFLOW_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
HOSTILE = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture(autouse=True)
async def no_run_left_waiting(client: httpx.AsyncClient) -> AsyncIterator[None]:
    """A test that fails while a run waits at its gate must not hang the client's teardown
    (which awaits every run): what is still asked is denied."""
    yield
    for question in await client.store.questions():
        await client.store.answer_question(question.run_id, question.step_id, yes=False,
                                           by="teardown", source="test")


async def login(client: httpx.AsyncClient, token: str) -> httpx.Response:
    client.cookies.clear()
    return await client.post("/ui/login", data={"token": token, "next": "/ui/runs"})


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', html)
    assert found, html[:500]
    return found.group(1)


async def gated_run(client: httpx.AsyncClient, group: str, **labels: str) -> tuple[str, str]:
    """A ScratchFull run waiting at its approval gate: (run id, the gate's step id)."""
    said = (await client.post("/api/v1/alerts",
                              json=notification(group=group, alertname="ScratchFull", **labels),
                              headers=bearer(ALERTS_TOKEN))).json()["alerts"][0]
    assert said["disposition"] == "started", said
    (question,) = await pending(client, said["run_id"])
    return said["run_id"], question["step_id"]


# -- logging in ------------------------------------------------------------------------------


async def test_pages_send_a_stranger_to_the_login_page(client) -> None:
    got = await client.get("/ui/runs/some-run")
    assert got.status_code == 303
    assert got.headers["location"] == "/ui/login?next=/ui/runs/some-run"
    page = await client.get("/ui/login?next=/ui/alerts")
    assert page.status_code == 200 and 'value="/ui/alerts"' in page.text
    assert (await client.get("/ui/runs/events")).status_code == 303  # streams too
    assert (await client.post("/ui/runs/x/cancel")).status_code == 401


async def test_a_known_token_logs_in_with_a_strict_httponly_cookie(client) -> None:
    bad = await login(client, "x" * 32)
    assert bad.status_code == 401 and "not known" in bad.text and COOKIE not in bad.headers.get(
        "set-cookie", "")
    alerts_only = await login(client, ALERTS_TOKEN)
    assert alerts_only.status_code == 401 and "may not read" in alerts_only.text
    good = await login(client, VIEWER_TOKEN)
    assert good.status_code == 303 and good.headers["location"] == "/ui/runs"
    cookie = good.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    page = await client.get("/ui/runs")
    assert page.status_code == 200 and "ann (viewer)" in page.text
    assert VIEWER_TOKEN not in page.text  # the cookie carries it; no page ever shows it
    assert "script-src 'self'" in page.headers["content-security-policy"]
    out = await client.post("/ui/logout", data={"csrf": csrf_of(page.text)})
    assert out.status_code == 303 and 'max-age=0' in out.headers["set-cookie"].lower()


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/api/v1/runs",
                                    "/ui/\\evil"])
async def test_login_goes_back_only_to_a_page_of_the_ui(client, target: str) -> None:
    got = await client.post("/ui/login", data={"token": VIEWER_TOKEN, "next": target})
    assert got.headers["location"] == "/ui/runs"


async def test_a_form_over_the_limit_is_refused(client) -> None:
    got = await client.post("/ui/login", data={"token": "x" * 10_000})
    assert got.status_code == 413


async def test_a_login_posted_from_another_site_is_refused(client) -> None:
    got = await client.post("/ui/login", data={"token": VIEWER_TOKEN},
                            headers={"Origin": "https://evil.example"})
    assert got.status_code == 403 and COOKIE not in got.headers.get("set-cookie", "")


@pytest.mark.parametrize("form", ["logout", "login"])
async def test_a_hostile_origin_or_csrf_token_is_refused_not_an_internal_error(client,
                                                                             form: str) -> None:
    # `Origin: http://[` is no URL (urlsplit raised ValueError) and a CSRF token with a
    # character beyond ASCII made hmac.compare_digest raise TypeError: both were a 500 with a
    # traceback in the server's log
    await login(client, VIEWER_TOKEN)
    csrf = csrf_of((await client.get("/ui/runs")).text)
    data = {"csrf": csrf} if form == "logout" else {"token": VIEWER_TOKEN}
    bad_origin = await client.post(f"/ui/{form}", data=data, headers={"Origin": "http://["})
    assert bad_origin.status_code == 403 and "not a URL" in bad_origin.text
    if form == "logout":
        bad_token = await client.post("/ui/logout", data={"csrf": "é" + csrf[1:]})
        assert bad_token.status_code == 403 and "CSRF" in bad_token.text
        assert (await client.post("/ui/logout", data={"csrf": csrf})).status_code == 303


async def test_a_ui_pages_refusal_is_a_small_escaped_page_the_apis_stays_json(client) -> None:
    await login(client, VIEWER_TOKEN)
    evil = "<img src=x onerror=alert(1)>"
    missing = await client.get(f"/ui/runs/{quote(evil)}")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "404 Not Found" in missing.text and evil not in missing.text
    assert f"no run {html.escape(evil)}" in missing.text
    assert "Content-Security-Policy" in missing.headers
    bad = await client.get("/ui/alerts?disposition=" + quote(evil))
    assert bad.status_code == 400 and bad.headers["content-type"].startswith("text/html")
    assert "disposition: one of" in bad.text and evil not in bad.text
    csrf = csrf_of((await client.get("/ui/runs")).text)
    refused = await client.post("/ui/runs/any/cancel", data={"csrf": csrf})
    assert refused.status_code == 403 and "may not cancel runs" in refused.text
    assert refused.headers["content-type"].startswith("text/html")
    # the UI's own scripts, and the API, keep JSON with the reason in `detail`
    scripted = await client.post("/ui/runs/any/cancel", data={"csrf": csrf},
                                 headers={"X-Requested-With": "fetch"})
    assert scripted.status_code == 403 and "may not cancel" in scripted.json()["detail"]
    api = await client.get("/api/v1/runs/nope", headers=bearer(VIEWER_TOKEN))
    assert api.status_code == 404 and api.json() == {"detail": "no run nope"}
    invalid = await client.get("/api/v1/runs?limit=0", headers=bearer(VIEWER_TOKEN))
    assert invalid.status_code == 422 and "detail" in invalid.json()


# -- roles and forms -------------------------------------------------------------------------


async def test_only_an_approver_gets_and_may_use_the_approve_button(client,
                                                                    tmp_path: Path) -> None:
    run_id, gate = await gated_run(client, "ui-roles")
    page_url, answer_url = f"/ui/runs/{run_id}", f"/ui/runs/{run_id}/steps/{gate}/answer"
    for token in (VIEWER_TOKEN, OPERATOR_TOKEN):
        await login(client, token)
        page = await client.get(page_url)
        assert page.status_code == 200 and f'id="question-{gate}"' in page.text
        assert "Approve</button>" not in page.text and "An approver must" in page.text
        refused = await client.post(answer_url, data={"csrf": csrf_of(page.text), "yes": "yes"})
        assert refused.status_code == 403, refused.text
    assert [q["step_id"] for q in await pending(client, run_id)] == [gate]  # still waiting
    viewer_csrf = csrf_of(page.text)

    await login(client, APPROVER_TOKEN)
    page = await client.get(page_url)
    assert "Approve</button>" in page.text and "Deny</button>" in page.text
    assert APPROVER_TOKEN not in page.text
    # Given an approver's cookie, a form without this caller's CSRF token, or from another
    # site, is refused: the cookie alone approves nothing
    for data, headers in [({"yes": "yes"}, {}),
                          ({"yes": "yes", "csrf": viewer_csrf}, {}),
                          ({"yes": "yes", "csrf": csrf_of(page.text)},
                           {"Origin": "https://evil.example"})]:
        refused = await client.post(answer_url, data=data, headers=headers)
        assert refused.status_code == 403, refused.text
    assert not (tmp_path / "guides" / "marker").exists()

    approved = await client.post(answer_url, data={"yes": "yes", "csrf": csrf_of(page.text)},
                                 headers={"X-Requested-With": "fetch"})
    assert approved.status_code == 200 and approved.json()["by"] == "pat"
    run = await wait_over(client, run_id)
    assert run["status"] == "succeeded" and (tmp_path / "guides" / "marker").exists()
    (audit,) = run["questions"]
    assert audit["by"] == "pat" and audit["source"].endswith("(web UI)")
    again = await client.post(answer_url, data={"yes": "no", "csrf": csrf_of(page.text)})
    assert again.status_code == 409  # the first answer stands
    done = await client.get(page_url)
    assert "Approve</button>" not in done.text and "yes by pat from" in done.text


async def test_an_approver_denies_from_the_page_and_nothing_changes(client,
                                                                    tmp_path: Path) -> None:
    run_id, gate = await gated_run(client, "ui-deny")
    await login(client, APPROVER_TOKEN)
    page = await client.get(f"/ui/runs/{run_id}")
    denied = await client.post(f"/ui/runs/{run_id}/steps/{gate}/answer",
                               data={"yes": "no", "csrf": csrf_of(page.text)})
    assert denied.status_code == 303 and denied.headers["location"] == f"/ui/runs/{run_id}"
    run = await wait_over(client, run_id)
    assert run["outcome"] != "resolved" and not (tmp_path / "guides" / "marker").exists()


# -- hostile values are text -----------------------------------------------------------------


async def test_a_script_in_an_alert_is_text_on_every_page(client) -> None:
    run_id, gate = await gated_run(client, "ui-xss", team=HOSTILE)
    unmatched = notification(group="ui-xss-2", alertname="<img src=x onerror=alert(2)>")
    await client.post("/api/v1/alerts", json=unmatched, headers=bearer(ALERTS_TOKEN))
    await login(client, APPROVER_TOKEN)
    alerts = await client.get("/ui/alerts")
    run = await client.get(f"/ui/runs/{run_id}")
    await client.post(f"/ui/runs/{run_id}/steps/{gate}/answer",
                      data={"yes": "yes", "csrf": csrf_of(run.text)})
    await wait_over(client, run_id)
    report = await client.get(f"/ui/runs/{run_id}/report")
    for page in (alerts, run, report):
        assert page.status_code == 200
        assert HOSTILE not in page.text and ESCAPED in page.text, page.url
    assert "<img src=x" not in alerts.text and "&lt;img src=x onerror=alert(2)&gt;" in alerts.text
    unmatched_only = await client.get("/ui/alerts?disposition=unmatched")
    assert "&lt;img" in unmatched_only.text and ESCAPED not in unmatched_only.text
    assert (await client.get("/ui/alerts?disposition=bogus")).status_code == 400


def test_the_report_markdown_keeps_raw_html_as_text() -> None:
    html = str(pages.markdown_html(f"# Run\n\n{HOSTILE}\n\n[x](javascript:alert(1))\n"))
    assert "<h1>Run</h1>" in html and HOSTILE not in html and ESCAPED in html
    assert 'href="javascript' not in html


def test_only_a_plain_drawing_is_inlined_as_svg() -> None:
    plain = '<svg xmlns="http://www.w3.org/2000/svg"><g id="step-a"><text>a</text></g></svg>'
    assert pages._plain_svg(plain)
    for bad in ('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
                '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>',
                '<svg xmlns="http://www.w3.org/2000/svg"><a href="javascript:x">a</a></svg>',
                '<svg xmlns="http://www.w3.org/2000/svg"><foreignObject/></svg>', "<svg"):
        assert not pages._plain_svg(bad), bad


# -- the plan graph and the guides -----------------------------------------------------------


async def test_the_run_page_draws_the_plan_with_a_node_per_step(client) -> None:
    run_id, gate = await gated_run(client, "ui-graph")
    await login(client, VIEWER_TOKEN)
    page = (await client.get(f"/ui/runs/{run_id}")).text
    assert '<div id="graph"' in page
    dashes = gate.replace("-", "&#45;")  # Graphviz writes a dash as a character reference
    assert f'id="step&#45;{dashes}" class="node step kind&#45;approve"' in page
    assert "touch " in page  # the gated step's command, shown before it runs
    await login(client, APPROVER_TOKEN)
    page = (await client.get(f"/ui/runs/{run_id}")).text
    await client.post(f"/ui/runs/{run_id}/steps/{gate}/answer",
                      data={"yes": "yes", "csrf": csrf_of(page)})
    await wait_over(client, run_id)
    detail = (await client.get(f"/ui/runs/{run_id}/detail")).text
    assert "rendered" in detail and "exit 0" in detail  # command as run, and its summary


async def test_the_guides_pages_show_triggers_graph_and_lint(client) -> None:
    await login(client, VIEWER_TOKEN)
    listing = (await client.get("/ui/guides")).text
    for plan_id in ("disk-full", "disk-full-critical", "scratch-full"):
        assert f'href="/ui/guides/{plan_id}"' in listing
    assert "NodeDiskFull severity=critical" in listing
    one = await client.get("/ui/guides/scratch-full")
    assert one.status_code == 200 and 'class="node step' in one.text
    assert "Lint findings (" in one.text
    assert (await client.get("/ui/guides/nope")).status_code == 404


def test_dot_gives_each_step_an_id_and_class_only_when_asked(tmp_path: Path) -> None:
    router = load_routes(write_guides(tmp_path / "guides"))
    plan = next(r.plan for r in router.routes if r.plan.id == "scratch-full")
    marked = to_dot(plan, node_ids=True)
    assert all(f'id="step-{s.id}", class="step kind-{s.kind}"' in marked for s in plan.steps)
    assert "id=" not in to_dot(plan)


# -- live: the event streams -----------------------------------------------------------------


def parse_sse(text: str) -> list[tuple[str, dict]]:
    import json

    out = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines()
                      if ": " in line and not line.startswith(":"))
        if "event" in fields:
            out.append((fields["event"], json.loads(fields["data"])))
    return out


def test_changes_sends_everything_first_then_only_what_changed() -> None:
    first = Seen("running", None, None, {"a": "running", "b": "pending"}, ())
    assert [n for n, _ in changes(None, first)] == ["run", "step", "step", "questions"]
    later = Seen("running", None, None, {"a": "succeeded", "b": "asking"}, ("b",))
    assert changes(first, later) == [("step", {"id": "a", "status": "succeeded"}),
                                     ("step", {"id": "b", "status": "asking"}),
                                     ("questions", {"pending": ["b"]})]
    assert changes(later, later) == []


@asynccontextmanager
async def two_servers(backend: str, tmp_path: Path) -> AsyncIterator[
        tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """Two apps (two `serve` processes) on one store: SQLite's file, or a PostgreSQL schema
    of its own."""
    guides = write_guides(tmp_path / "guides")  # beside any guide the test wrote there
    registry = default_registry()
    schema = f"mf_ui_{uuid.uuid4().hex[:12]}"
    stores: list[Any] = []
    apps = []
    try:
        for n in range(2):
            settings = Settings(data_dir=tmp_path / f"data{n}")
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            store = PostgresStore(PG_URL, schema=schema) if backend == "postgres" else \
                open_store(tmp_path / "shared.db")
            await store.open()
            stores.append(store)
            apps.append(create_app(ServeConfig(guides=guides, tokens=parse_tokens(TOKENS)),
                                   build_services(settings, store, registry),
                                   load_routes(guides, known_plugins=set(registry.names())),
                                   LocalExecutor))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=apps[0]),
                                     base_url="http://one") as one, \
                httpx.AsyncClient(transport=httpx.ASGITransport(app=apps[1]),
                                  base_url="http://two") as two:
            yield one, two
    finally:
        for question in await stores[0].questions() if stores else []:
            await stores[0].answer_question(question.run_id, question.step_id, yes=False,
                                            by="teardown", source="test")  # nothing waits
        for app in apps:
            for task in list(app.state.live.tasks):
                await task
        for store in stores:
            await store.close()
        if backend == "postgres":
            conn = await asyncpg.connect(PG_URL)
            try:
                await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            finally:
                await conn.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_runs_stream_read_by_another_server_follows_it_to_its_end(
        backend: str, tmp_path: Path) -> None:
    # Given two servers on one store, the first driving a run waiting at its gate
    async with two_servers(backend, tmp_path) as (driver, watcher):
        run_id, gate = await gated_run(driver, "ui-sse")
        # When the second server's event stream is open while an approver approves on the
        # first
        stream = asyncio.create_task(watcher.get(f"/ui/runs/{run_id}/events",
                                                 headers=bearer(VIEWER_TOKEN)))
        await asyncio.sleep(1.0)
        assert not stream.done()
        approved = await driver.post(f"/api/v1/runs/{run_id}/steps/{gate}/answer",
                                     json={"yes": True}, headers=bearer(APPROVER_TOKEN))
        assert approved.status_code == 200
        got = await asyncio.wait_for(stream, 30)
    # Then it sent the gate asking, then done, the run's end, and closed
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(got.text)
    gate_states = [d["status"] for n, d in events if n == "step" and d["id"] == gate]
    assert gate_states[0] == "asking" and gate_states[-1] == "succeeded", events
    assert ("questions", {"pending": [gate]}) in events
    assert events.index(("questions", {"pending": []})) > events.index(
        ("questions", {"pending": [gate]}))
    runs = [d["status"] for n, d in events if n == "run"]
    assert runs == ["running", "succeeded"]
    assert events[-1] == ("end", {"status": "succeeded", "outcome": events[-1][1]["outcome"]})


async def test_the_run_list_stream_says_when_a_run_starts(client) -> None:
    ticks = 0

    async def never() -> bool:
        nonlocal ticks
        ticks += 1
        return ticks > 2000

    stream = runs_events(client.store, interval_s=0.02, limit=10, disconnected=never)
    assert (await anext(stream)).startswith("retry:")
    assert (await anext(stream)).startswith("event: runs\n")  # first: catch up
    next_event = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.1)
    assert not next_event.done()  # nothing changed: nothing sent
    said = (await client.post("/api/v1/alerts", json=notification(group="ui-list"),
                              headers=bearer(ALERTS_TOKEN))).json()["alerts"][0]
    assert (await asyncio.wait_for(next_event, 10)).startswith("event: runs\n")
    await stream.aclose()
    await login(client, VIEWER_TOKEN)
    table = (await client.get("/ui/runs/table")).text
    assert f'href="/ui/runs/{said["run_id"]}"' in table
    await wait_over(client, said["run_id"])


def test_the_browser_is_skipped_without_chromium_only_outside_ci(monkeypatch) -> None:
    from . import browser

    monkeypatch.setattr(browser.shutil, "which", lambda name: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        browser.start()
    for ci in ("true", "1"):
        monkeypatch.setenv("CI", ci)
        with pytest.raises(pytest.fail.Exception, match="ensure-system.sh"):
            browser.start()


async def test_the_run_list_filters_by_status_and_outcome(client) -> None:
    said = (await client.post("/api/v1/alerts", json=notification(group="ui-filter"),
                              headers=bearer(ALERTS_TOKEN))).json()["alerts"][0]
    await wait_over(client, said["run_id"])
    await login(client, VIEWER_TOKEN)
    link = f'href="/ui/runs/{said["run_id"]}"'
    assert link in (await client.get("/ui/runs?status=succeeded")).text
    assert link not in (await client.get("/ui/runs?status=failed")).text
    assert link not in (await client.get("/ui/runs/table?outcome=escalate")).text


async def test_an_operator_cancels_a_run_from_its_page_and_a_viewer_cannot(client) -> None:
    said = (await client.post("/api/v1/alerts", json=notification(group="ui-cancel"),
                              headers=bearer(ALERTS_TOKEN))).json()["alerts"][0]
    run_id = said["run_id"]
    await wait_run(client, run_id, over=False)  # the guide pauses 1 s in its first step
    await login(client, VIEWER_TOKEN)
    page = (await client.get(f"/ui/runs/{run_id}")).text
    assert "Cancel run" not in page
    refused = await client.post(f"/ui/runs/{run_id}/cancel", data={"csrf": csrf_of(page)})
    assert refused.status_code == 403
    await login(client, OPERATOR_TOKEN)
    page = (await client.get(f"/ui/runs/{run_id}")).text
    assert "Cancel run" in page
    cancelled = await client.post(f"/ui/runs/{run_id}/cancel", data={"csrf": csrf_of(page)})
    assert cancelled.status_code == 303
    assert (await wait_over(client, run_id))["status"] == "cancelled"


JUDGED = """---
id: judged
title: A fix a person judges
triggers:
  - alert: NeedsJudgment
---

# A fix a person judges

## Diagnosis

1. Look at the node {#look}:

   ```bash
   echo looking
   ```

## Mitigation

1. Note the fix {#note}:

   ```bash
   echo noted
   ```
"""


async def test_an_operator_answers_a_judgment_from_the_page(tmp_path: Path) -> None:
    # Given a guide whose mitigation waits on a person's judgment
    (tmp_path / "guides").mkdir(exist_ok=True)
    (tmp_path / "guides" / "judged.md").write_text(JUDGED)
    async with two_servers("sqlite", tmp_path) as (ui, _):
        said = (await ui.post("/api/v1/alerts",
                              json=notification(group="ui-judge", alertname="NeedsJudgment"),
                              headers=bearer(ALERTS_TOKEN))).json()["alerts"][0]
        (question,) = await pending(ui, said["run_id"])
        assert question["kind"] == "judge"
        page_url = f"/ui/runs/{said['run_id']}"
        await login(ui, VIEWER_TOKEN)
        assert "Yes / done</button>" not in (await ui.get(page_url)).text
        # When an operator (not an approver) answers it on the page
        await login(ui, OPERATOR_TOKEN)
        page = (await ui.get(page_url)).text
        assert "Yes / done</button>" in page and "An operator must" not in page
        answered = await ui.post(f"{page_url}/steps/{question['step_id']}/answer",
                                 data={"yes": "yes", "csrf": csrf_of(page)})
        assert answered.status_code == 303
        # Then the run goes on and ends
        run = await wait_over(ui, said["run_id"])
        assert run["status"] == "succeeded" and run["outcome"] == "resolved", run


async def test_a_run_without_a_snapshot_yet_shows_its_steps_pending(client, tmp_path) -> None:
    from datetime import UTC, datetime

    from engine.serve.live import RunWatch
    from engine.store.base import RunRecord

    plan = next(r.plan for r in load_routes(write_guides(tmp_path / "g")).routes)
    now = datetime.now(UTC)
    await client.store.create_run(RunRecord(
        run_id="no-snapshot", plan_id=plan.id, plan_hash=await client.store.save_plan(plan),
        guide_path="g.md", created_at=now, updated_at=now))
    seen = await RunWatch(client.store, "no-snapshot").look()
    assert seen.status == "running" and set(seen.steps.values()) == {"pending"}
