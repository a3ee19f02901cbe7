"""Notifications out (engine.serve.notify), through the ASGI app on the embedded store and the
local executor, to real HTTP receivers: a gate's question and the run's end are told to a JSON
and a Slack webhook with the run's link; a receiver that fails twice gets the third attempt; a
receiver that always fails, or hangs, changes nothing about the run; URLs never reach the log.
The same on Celery workers is tested end to end (test_end_to_end.py)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import httpx
import pytest

from engine.errors import ConfigError
from engine.plugins import default_registry
from engine.runtime.executor import LocalExecutor
from engine.runtime.services import build_services
from engine.serve.app import ServeConfig, create_app, load_routes
from engine.serve.auth import parse_tokens
from engine.serve.notify import (
    Notifier,
    NotifyConfig,
    Webhook,
    load_webhooks,
    parse_webhooks,
)
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
from .receiver import Receiver, receiving

BASE = "https://mendflow.example.com/ops"
SECRET = "T000/B000/XXXXsecretXXXX"

App = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def app_with(tmp_path: Path) -> App:
    """An app on an embedded store, notifying `hooks`, with quick backoff."""

    @asynccontextmanager
    async def make(*hooks: Webhook, **notify: float) -> AsyncIterator[httpx.AsyncClient]:
        settings = Settings(data_dir=tmp_path / "data")
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = open_store(settings.store_path)
        await store.open()
        registry = default_registry()
        router = load_routes(write_guides(tmp_path / "guides"),
                             known_plugins=set(registry.names()))
        config = ServeConfig(guides=tmp_path / "guides", tokens=parse_tokens(TOKENS),
                             notify=NotifyConfig(webhooks=hooks, base_url=BASE,
                                                 **{"backoff_s": 0.05, "max_backoff_s": 0.2,
                                                    "poll_s": 0.1, "timeout_s": 2.0,
                                                    **notify}))
        app = create_app(config, build_services(settings, store, registry), router,
                         LocalExecutor)
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                         base_url="http://mendflow") as c:
                c.app = app  # type: ignore[attr-defined]
                yield c
        finally:
            if app.state.live.tasks:  # a test that failed may leave a run waiting for a person
                _, waiting = await asyncio.wait(set(app.state.live.tasks), timeout=30)
                for task in waiting:
                    task.cancel()
            await app.state.notifier.aclose(timeout_s=5)
            await store.close()
    return make


async def start_run(client: httpx.AsyncClient, alertname: str, group: str) -> str:
    said = (await client.post("/api/v1/alerts", json=notification(group=group,
                                                                   alertname=alertname),
                              headers=bearer(ALERTS_TOKEN))).json()["alerts"][0]
    assert said["disposition"] == "started", said
    return str(said["run_id"])


async def run_over(client: httpx.AsyncClient, run_id: str) -> dict:
    for _ in range(600):
        got = await client.get(f"/api/v1/runs/{run_id}", headers=bearer(VIEWER_TOKEN))
        if got.status_code == 200 and got.json()["status"] != "running":
            return got.json()
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} never ended")


async def settled(client: httpx.AsyncClient, run_id: str, hooks: int = 1,
                  timeout: float = 30) -> list:
    """The run's delivery attempts once each webhook's last one is recorded (the end is told
    just after the run's record says it ended: reading at once could find nothing yet)."""
    for _ in range(int(timeout / 0.05)):
        tried = (await client.get(f"/api/v1/notifications?run_id={run_id}",
                                  headers=bearer(VIEWER_TOKEN))).json()
        if sum(1 for d in tried if d["final"] or d["ok"]) >= hooks:
            return list(tried)
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id}: the webhooks were not told its end")


async def until(receiver: Receiver, test: Callable[[list], bool], timeout: float = 30) -> list:
    for _ in range(int(timeout / 0.05)):
        got = receiver.received()
        if test(got):
            return got
        await asyncio.sleep(0.05)
    raise AssertionError(f"the receiver got {receiver.received(ok_only=False)!r}")


async def test_a_gate_and_the_end_are_told_to_json_and_slack_with_the_runs_link(
        app_with: App) -> None:
    with receiving(Receiver()) as plain, receiving(Receiver()) as slack:
        async with app_with(Webhook(plain.url + "/hook"),
                            Webhook(slack.url + f"/services/{SECRET}", "slack")) as client:
            run_id = await start_run(client, "ScratchFull", "n1")
            link = f"{BASE}/runs/{run_id}"
            (asked,) = await until(plain, lambda got: len(got) >= 1)
            assert asked["event"] == "question" and asked["run"]["url"] == link
            assert asked["run"]["status"] == "running"
            question = asked["question"]
            assert question["kind"] == "approve" and "touch" in question["text"]
            assert "waiting for an approval" in asked["text"]
            (slack_asked,) = await until(slack, lambda got: len(got) >= 1)
            assert f"<{link}|Open run {run_id}>" in slack_asked["text"]
            assert slack_asked["blocks"][0]["text"]["type"] == "mrkdwn"

            approved = await client.post(
                f"/api/v1/runs/{run_id}/steps/{question['step_id']}/answer",
                json={"yes": True}, headers=bearer(APPROVER_TOKEN))
            assert approved.status_code == 200
            assert (await run_over(client, run_id))["status"] == "succeeded"
            ended = (await until(plain, lambda got: len(got) >= 2))[1]
            assert ended["event"] == "run_ended" and ended["question"] is None
            assert (ended["run"]["status"], ended["run"]["url"]) == ("succeeded", link)
            assert ended["run"]["title"] == "Scratch space full"
            slack_ended = (await until(slack, lambda got: len(got) >= 2))[1]
            assert "ended: succeeded" in slack_ended["text"] and link in slack_ended["text"]
            await client.app.state.notifier.drain()  # (a delivery is recorded after its reply)
            tried = (await client.get("/api/v1/notifications",
                                      headers=bearer(VIEWER_TOKEN))).json()
            assert len(tried) == 4 and all(d["ok"] and d["attempt"] == 1 for d in tried)
            assert SECRET not in str(tried) and "/hook" not in str(tried)
    assert len(plain.posts) == 2 and len(slack.posts) == 2  # each told once


async def test_a_receiver_failing_twice_gets_the_third_attempt(app_with: App, caplog) -> None:
    caplog.set_level(logging.INFO, logger="mendflow.serve.notify")
    with receiving(Receiver([500, 503])) as flaky:
        async with app_with(Webhook(flaky.url + f"/x/{SECRET}?token={SECRET}")) as client:
            run_id = await start_run(client, "NodeDiskFull", "n2")
            assert (await run_over(client, run_id))["status"] == "succeeded"
            (ended,) = await until(flaky, lambda got: len(got) >= 1)
            assert ended["event"] == "run_ended" and ended["run"]["id"] == run_id
            await client.app.state.notifier.drain()
            tried = (await client.get(f"/api/v1/notifications?run_id={run_id}",
                                      headers=bearer(VIEWER_TOKEN))).json()
            events = (await client.get(f"/api/v1/runs/{run_id}/events",
                                       headers=bearer(VIEWER_TOKEN))).json()
    assert [(d["attempt"], d["ok"], d["status"]) for d in reversed(tried)] == [
        (1, False, 500), (2, False, 503), (3, True, 200)]
    noted = [(e["data"]["attempt"], e["data"]["ok"], e["data"]["webhook"]) for e in events
             if e["type"] == "notification"]
    shown = f"{flaky.url}/..."  # the host, never the URL's secret path
    assert noted == [(1, False, shown), (2, False, shown), (3, True, shown)]
    assert len(flaky.posts) == 3
    said = "\n".join(r.getMessage() for r in caplog.records)
    assert "attempt 3: delivered" in said and f"to http://127.0.0.1:{flaky.url[-5:]}" in said
    assert SECRET not in caplog.text


async def test_a_receiver_always_failing_or_hanging_changes_nothing_about_the_run(
        app_with: App, caplog) -> None:
    with receiving(Receiver(always=500)) as down, receiving(Receiver(delay_s=3)) as slow:
        async with app_with(Webhook(down.url), Webhook(slow.url), attempts=3,
                            timeout_s=1.0) as client:
            run_id = await start_run(client, "NodeDiskFull", "n3")
            run = await run_over(client, run_id)
            assert run["status"] == "succeeded"
            tried = await settled(client, run_id, hooks=2)
    assert len(down.posts) == 3  # given up after the attempts configured
    assert sum(1 for d in tried if not d["ok"]) == 6 and not any(d["ok"] for d in tried)
    assert sum(1 for d in tried if d["final"]) == 2
    assert "given up after 3 attempt(s)" in caplog.text


async def test_a_refusing_receiver_is_not_tried_again(app_with: App) -> None:
    with receiving(Receiver(always=404)) as gone:
        async with app_with(Webhook(gone.url)) as client:
            run_id = await start_run(client, "NodeDiskFull", "n4")
            await run_over(client, run_id)
            await settled(client, run_id)
            await asyncio.sleep(0.3)  # (no attempt after a refusal)
    assert len(gone.posts) == 1


async def test_an_unreachable_webhook_never_shows_its_url(app_with: App, caplog) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with app_with(Webhook(f"http://user:pw@127.0.0.1:{port}/{SECRET}"),
                        attempts=2) as client:
        run_id = await start_run(client, "NodeDiskFull", "n5")
        assert (await run_over(client, run_id))["status"] == "succeeded"
        tried = await settled(client, run_id)
    assert [d["webhook"] for d in tried] == [f"http://127.0.0.1:{port}/..."] * 2
    assert "ConnectError" in tried[0]["error"]
    assert SECRET not in caplog.text + str(tried) and "pw" not in str(tried)


async def test_no_webhooks_no_notifications(app_with: App) -> None:
    async with app_with() as client:
        run_id = await start_run(client, "NodeDiskFull", "n6")
        await run_over(client, run_id)
        assert client.app.state.notifier.deliveries == type(
            client.app.state.notifier.deliveries)()


# -- configuration ---------------------------------------------------------------------------


def test_webhooks_from_the_file_and_the_environment(tmp_path: Path) -> None:
    toml = tmp_path / "mendflow.toml"
    toml.write_text('[serve]\nbase_url = "https://m.example.com"\n\n'
                    '[[serve.webhooks]]\nurl_env = "HOOK_URL"\nformat = "slack"\n'
                    'name = "oncall"\n\n'
                    '[[serve.webhooks]]\nurl = "http://127.0.0.1:9/plain"\n')
    hooks, base = load_webhooks(toml, required=True,
                                environ={"HOOK_URL": f"https://hooks.slack.com/{SECRET}"},
                                spec=f"slack=https://h.example/{SECRET} https://j.example/a?b=c")
    assert base == "https://m.example.com"
    assert [(h.format, h.shown) for h in hooks] == [
        ("slack", "oncall"), ("json", "http://127.0.0.1:9/..."),
        ("slack", "https://h.example/..."), ("json", "https://j.example/...")]
    assert hooks[3].url == "https://j.example/a?b=c"
    assert SECRET not in repr(hooks)


@pytest.mark.parametrize("toml, env, says", [
    ('[[serve.webhooks]]\nformat = "json"\n', {}, "exactly one of url and url_env"),
    ('[[serve.webhooks]]\nurl_env = "NOPE"\n', {}, "NOPE is not set"),
    ('[[serve.webhooks]]\nurl = "ftp://x/T0SECRET"\n', {}, "must be http:// or https://"),
    ('[[serve.webhooks]]\nurl = "http://x"\nformat = "teams"\n', {}, "format"),
    ('[serve]\nwebhook = []\n', {}, "unknown key 'serve.webhook'"),
])
def test_a_bad_webhook_is_one_line_that_never_shows_its_url(tmp_path: Path, toml: str,
                                                            env: dict, says: str) -> None:
    path = tmp_path / "mendflow.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as caught:
        load_webhooks(path, required=True, environ=env, spec=None)
    assert says in caught.value.message and "T0SECRET" not in str(caught.value)


def test_a_bad_environment_entry_names_its_position_not_its_url() -> None:
    with pytest.raises(ConfigError, match="MENDFLOW_WEBHOOKS entry 2") as caught:
        parse_webhooks("http://ok.example/a slack=mailto:T0SECRET")
    assert "T0SECRET" not in str(caught.value)


PARENT = """---
id: parent-cleanup
title: Clean up by the linked guide
triggers:
  - alert: NeedsLinkedCleanup
---

# Clean up by the linked guide

## Mitigation

1. Follow [the clean-up guide](cleanup.md) {#cleanup}.
"""

CHILD = """---
id: linked-cleanup
title: The linked clean-up
---

# The linked clean-up

## Mitigation

1. Mark the clean-up:

   ```bash
   touch MARKER
   ```
"""


async def test_a_linked_guides_gate_is_told_as_its_child_runs_question(
        app_with: App, tmp_path: Path) -> None:
    guides = write_guides(tmp_path / "guides")
    (guides / "parent.md").write_text(PARENT)
    (guides / "cleanup.md").write_text(CHILD.replace("MARKER", str(tmp_path / "cleaned")))
    with receiving(Receiver()) as hook:
        async with app_with(Webhook(hook.url)) as client:
            run_id = await start_run(client, "NeedsLinkedCleanup", "c1")
            (asked,) = await until(hook, lambda got: len(got) >= 1)
            # a linked guide's gate is asked through its caller: told as the caller's
            asker = asked["run"]["id"]
            assert asker == run_id
            assert asked["question"]["kind"] == "approve" and "touch" in asked["question"]["text"]
            assert asked["run"]["url"] == f"{BASE}/runs/{asker}"
            answered = await client.post(
                f"/api/v1/runs/{asker}/steps/{asked['question']['step_id']}/answer",
                json={"yes": True}, headers=bearer(APPROVER_TOKEN))
            assert answered.status_code == 200
            assert (await run_over(client, run_id))["status"] == "succeeded"
            told = await until(hook, lambda got: len(got) >= 2)
    assert [(b["event"], b["run"]["id"]) for b in told] == [("question", asker),
                                                            ("run_ended", run_id)]
    assert (tmp_path / "cleaned").exists()


def test_the_slack_body_escapes_what_slack_would_read_as_markup() -> None:
    from datetime import UTC, datetime

    from engine.serve.notify import Notifier, _Message
    from engine.store.base import RunRecord

    now = datetime.now(UTC)
    record = RunRecord(run_id="r1", plan_id="p", plan_hash="h", guide_path="g.md",
                       title="Disk <!channel> & <https://evil.example|click>", status="failed",
                       reason="node <@U123> said <script>", created_at=now, updated_at=now)
    notifier = Notifier(NotifyConfig(base_url=BASE), store=None)  # type: ignore[arg-type]
    message = _Message("run_ended", record, "r1", f"Run r1 ({record.title}) ended: failed: "
                       f"{record.reason}")
    slack = notifier.body(Webhook("https://hooks.example/x", "slack"), message)
    assert "<!channel>" not in slack["text"] and "<@U123>" not in slack["text"]
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;" in slack["text"]
    assert slack["text"].endswith(f"<{BASE}/runs/r1|Open run r1>")  # the one real link
    plain = notifier.body(Webhook("https://hooks.example/y"), message)
    assert plain["run"]["title"] == record.title  # JSON carries values as they are


@pytest.mark.parametrize("env, says", [
    ({"MENDFLOW_WEBHOOKS": "slack=ftp://hooks.example/T0SECRET"}, "MENDFLOW_WEBHOOKS entry 1"),
    ({"MENDFLOW_BASE_URL": "mendflow.example.com"}, "base URL"),
])
def test_serve_refuses_a_bad_webhook_setting_in_one_line(tmp_path: Path, env: dict,
                                                        says: str) -> None:
    import os
    import subprocess
    import sys

    write_guides(tmp_path / "guides")
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "serve", "--guides", str(tmp_path / "guides")],
        env={**os.environ, "MENDFLOW_API_TOKENS": TOKENS,
             "MENDFLOW_DATA_DIR": str(tmp_path / "data"),
             "PYTHONPATH": str(Path(__file__).resolve().parents[2]), **env},
        capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode != 0
    assert says in done.stderr and "Traceback" not in done.stderr
    assert "serving" not in done.stderr  # refused before it says it serves
    assert "T0SECRET" not in done.stderr + done.stdout


async def test_a_run_no_serve_drives_is_told_when_it_ends(app_with: App, tmp_path: Path) -> None:
    """A run started from the CLI (or driven by Celery workers after the `serve` that started
    it restarted) is followed by no `serve` process; its end was never told. The notifier
    polls the store for every run that stops, whoever drives it, once across processes."""
    import os
    import subprocess
    import sys

    with receiving(Receiver()) as hook:
        async with app_with(Webhook(hook.url)) as client:
            app = client.app  # type: ignore[attr-defined]
            async with app.router.lifespan_context(app):  # as uvicorn starts it
                env = {**os.environ, "MENDFLOW_DATA_DIR": str(tmp_path / "data")}
                done = await asyncio.to_thread(
                    subprocess.run, [sys.executable, "-m", "engine.cli", "run",
                                     str(tmp_path / "guides" / "disk.md"), "-i", "node=web-1"],
                    capture_output=True, text=True, env=env, timeout=120)
                assert done.returncode in (0, 3), done.stderr
                run_id = re.search(r"^run (\S+):", done.stdout, re.M).group(1)  # type: ignore
                (told,) = await until(hook, lambda got: len(got) >= 1)
                assert told["event"] == "run_ended" and told["run"]["status"] == "succeeded"
                assert (told["run"]["id"], told["run"]["url"]) == (run_id,
                                                                  f"{BASE}/runs/{run_id}")
                await asyncio.sleep(0.5)  # later polls find it told: not again
    assert len(hook.posts) == 1


async def test_an_interrupted_run_is_told_and_its_later_end_too(tmp_path: Path) -> None:
    """A run that stops for a person's word (interrupted: told when its executor returns)
    and ends after a resume is told twice: the stop, then the end. Before, the stop took the
    run's one `run_ended` notice and the end was never told."""
    from tests.engine.store.contract import make_run

    store = open_store(tmp_path / "runs.db")
    await store.open()
    with receiving(Receiver()) as hook:
        notifier = Notifier(NotifyConfig(webhooks=(Webhook(hook.url),), poll_s=0.05), store)
        try:
            await store.create_run(make_run("r1"))
            notifier.start()
            await store.commit("r1", expected_version=0, state=None, status="interrupted",
                               reason="a step is in doubt")
            notifier.ended(await store.get_run("r1"))  # as the app does when start() returns
            (stopped,) = await until(hook, lambda got: len(got) >= 1)
            assert stopped["run"]["status"] == "interrupted"
            await store.commit("r1", expected_version=1, state=None, status="succeeded",
                               outcome="resolved")
            ended = (await until(hook, lambda got: len(got) >= 2))[1]
            assert (ended["event"], ended["run"]["status"]) == ("run_ended", "succeeded")
            await asyncio.sleep(0.3)
            assert len(hook.posts) == 2
        finally:
            await notifier.aclose(timeout_s=5)
            await store.close()
