"""`POST /api/v1/alerts` and the read endpoints, through the ASGI app on the embedded store:
who may call what, what a bad notification does (nothing), routing, hostile labels, dedupe."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from engine.errors import InputError
from engine.plan import Span, Step
from engine.serve.alerts import Alert, Notification, Route, Router
from engine.serve.app import load_routes

from .conftest import (
    ALERTS_TOKEN,
    APPROVER_TOKEN,
    OPERATOR_TOKEN,
    VIEWER_TOKEN,
    bearer,
    notification,
    write_guides,
)

ALERTS = "/api/v1/alerts"


async def wait_run(client: httpx.AsyncClient, run_id: str, *, over: bool = True) -> dict:
    """The run once it exists (the intake answers before the run's record is written), and
    with `over`, once it has ended."""
    for _ in range(400):
        got = await client.get(f"/api/v1/runs/{run_id}", headers=bearer(VIEWER_TOKEN))
        if got.status_code == 200 and (not over or got.json()["status"] != "running"):
            return got.json()
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id}: {got.status_code} {got.text[:200]}")


async def wait_over(client: httpx.AsyncClient, run_id: str) -> dict:
    return await wait_run(client, run_id)


async def test_callers_need_a_token_with_the_right_role(client) -> None:
    assert (await client.post(ALERTS, json=notification())).status_code == 401
    wrong = await client.post(ALERTS, json=notification(), headers=bearer("x" * 32))
    assert wrong.status_code == 401
    viewer = await client.post(ALERTS, json=notification(), headers=bearer(VIEWER_TOKEN))
    assert viewer.status_code == 403 and "may not alerts" in viewer.json()["detail"]
    alerts_only = await client.get("/api/v1/runs", headers=bearer(ALERTS_TOKEN))
    assert alerts_only.status_code == 403
    assert await client.store.alerts() == []  # nothing recorded for refused callers


@pytest.mark.parametrize("body, why", [
    (b"not json", "not an Alertmanager webhook"),
    (b'{"version": "3", "groupKey": "g", "status": "firing", "receiver": "r", '
     b'"alerts": []}', "version"),
    (b'{"version": "4", "groupKey": "g", "status": "firing", "receiver": "r", '
     b'"alerts": []}', "alerts"),
    (b'{"version": "4", "groupKey": "g", "status": "burning", "receiver": "r", '
     b'"alerts": [{"status": "firing", "labels": {}, "startsAt": "2026-12-02T10:00:00Z"}]}',
     "status"),
])
async def test_a_bad_notification_is_refused_with_its_reason_and_starts_nothing(
        client, body: bytes, why: str) -> None:
    got = await client.post(ALERTS, content=body, headers=bearer(ALERTS_TOKEN))
    assert got.status_code == 400 and why in got.json()["detail"], got.text
    assert await client.store.alerts() == [] and await client.store.list_runs() == []


async def test_a_body_over_the_limit_is_refused(client) -> None:
    huge = notification(note="x" * 4000)
    huge["alerts"] *= 10
    got = await client.post(ALERTS, json=huge, headers=bearer(ALERTS_TOKEN))
    assert got.status_code == 413
    assert await client.store.list_runs() == []


async def test_an_alert_runs_its_guide_with_its_labels_as_typed_inputs(client) -> None:
    got = await client.post(ALERTS, json=notification(node="db-7"), headers=bearer(ALERTS_TOKEN))
    (said,) = got.json()["alerts"]
    assert said["disposition"] == "started" and said["guide"].endswith("disk.md")
    run = await wait_over(client, said["run_id"])
    assert run["status"] == "succeeded", run
    record = await client.store.get_run(said["run_id"])
    assert record.context["inputs"]["node"] == "db-7"
    assert record.context["alert"]["labels"]["alertname"] == "NodeDiskFull"
    listed = (await client.get("/api/v1/runs", headers=bearer(VIEWER_TOKEN))).json()
    assert [r["run_id"] for r in listed] == [said["run_id"]]
    report = await client.get(f"/api/v1/runs/{said['run_id']}/report",
                              headers=bearer(VIEWER_TOKEN))
    assert report.status_code == 200 and "Disk filling up" in report.text


async def test_the_most_specific_trigger_wins(client) -> None:
    got = await client.post(ALERTS, json=notification(group="crit", severity="critical"),
                            headers=bearer(ALERTS_TOKEN))
    (said,) = got.json()["alerts"]
    assert said["guide"].endswith("critical.md")
    await wait_over(client, said["run_id"])


async def test_an_unmatched_alert_is_kept_and_listed(client) -> None:
    body = notification(group="other", alertname="CertExpiring")
    (said,) = (await client.post(ALERTS, json=body, headers=bearer(ALERTS_TOKEN))).json()["alerts"]
    assert said["disposition"] == "unmatched" and said["run_id"] is None
    kept = (await client.get(f"{ALERTS}?disposition=unmatched",
                             headers=bearer(VIEWER_TOKEN))).json()
    assert [a["alertname"] for a in kept] == ["CertExpiring"]
    assert kept[0]["labels"]["node"] == "web-1"
    assert await client.store.list_runs() == []


@pytest.mark.parametrize("node", ["web-1; rm -rf /", "$(reboot)", "<script>alert(1)</script>",
                                  "web 1", "web-1\nseverity=critical"])
async def test_a_hostile_label_refuses_the_run_and_changes_nothing(client, node: str) -> None:
    got = await client.post(ALERTS, json=notification(group=f"evil-{node}", node=node),
                            headers=bearer(ALERTS_TOKEN))
    (said,) = got.json()["alerts"]
    assert said["disposition"] == "refused" and "is not a valid name" in said["detail"]
    assert await client.store.list_runs() == []
    (kept,) = await client.store.alerts(disposition="refused")
    assert kept.labels["node"] == node  # kept as the text it was, for a person to see


async def test_a_group_with_a_live_run_gets_no_second_run(client) -> None:
    first = (await client.post(ALERTS, json=notification(group="g1"),
                               headers=bearer(ALERTS_TOKEN))).json()["alerts"][0]
    again = (await client.post(ALERTS, json=notification(group="g1"),
                               headers=bearer(ALERTS_TOKEN))).json()["alerts"][0]
    assert first["disposition"] == "started"
    assert again["disposition"] == "deduped" and again["run_id"] == first["run_id"]
    await wait_over(client, first["run_id"])
    # once the run is over, the group's next notification starts a new one
    later = (await client.post(ALERTS, json=notification(group="g1"),
                               headers=bearer(ALERTS_TOKEN))).json()["alerts"][0]
    assert later["disposition"] == "started" and later["run_id"] != first["run_id"]
    await wait_over(client, later["run_id"])


async def test_an_operator_cancels_a_live_run_a_viewer_cannot(client) -> None:
    said = (await client.post(ALERTS, json=notification(group="c1"),
                              headers=bearer(ALERTS_TOKEN))).json()["alerts"][0]
    await wait_run(client, said["run_id"], over=False)
    url = f"/api/v1/runs/{said['run_id']}/cancel"
    assert (await client.post(url, headers=bearer(VIEWER_TOKEN))).status_code == 403
    assert (await client.post(url, headers=bearer(OPERATOR_TOKEN))).json()["cancelling"]
    run = await wait_over(client, said["run_id"])
    assert run["status"] == "cancelled"


def test_guides_with_equally_specific_triggers_are_refused(tmp_path: Path) -> None:
    folder = write_guides(tmp_path / "guides")
    (folder / "copy.md").write_text((folder / "disk.md").read_text().replace(
        "id: disk-full", "id: disk-full-copy"))
    with pytest.raises(InputError, match="both trigger on alert NodeDiskFull"):
        load_routes(folder)


def test_label_matchers_match_exactly_or_by_full_regex() -> None:
    from engine.plan import Trigger

    def route(**labels: str) -> Route:
        return Route(Path("g.md"), None, Trigger(alert="A", labels=labels))  # type: ignore[arg-type]

    router = Router([route(), route(env="~prod-.*")])
    alert = Notification.model_validate(notification(alertname="A")).alerts[0]
    prod = Alert.model_validate({**alert.model_dump(), "labels": {"alertname": "A",
                                                                 "env": "prod-eu"}})
    staging = Alert.model_validate({**alert.model_dump(), "labels": {"alertname": "A",
                                                                    "env": "preprod-eu"}})
    assert router.route(prod).trigger.labels == {"env": "~prod-.*"}
    assert router.route(staging).trigger.labels == {}


# -- questions: a gate waits for an approver ------------------------------------------------


async def pending(client: httpx.AsyncClient, run_id: str) -> list[dict]:
    for _ in range(200):
        got = (await client.get(f"/api/v1/questions?run_id={run_id}",
                                headers=bearer(VIEWER_TOKEN))).json()
        if got:
            return got
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} asked nothing")


async def test_a_gate_waits_for_an_approver_who_is_recorded(client, tmp_path: Path) -> None:
    marker = tmp_path / "guides" / "marker"
    said = (await client.post(ALERTS, json=notification(group="s1", alertname="ScratchFull"),
                              headers=bearer(ALERTS_TOKEN))).json()["alerts"][0]
    run_id = said["run_id"]
    (question,) = await pending(client, run_id)
    assert question["kind"] == "approve" and "touch" in question["text"]
    assert (await wait_run(client, run_id, over=False))["status"] == "running"  # waiting
    assert not marker.exists()
    url = f"/api/v1/runs/{run_id}/steps/{question['step_id']}/answer"
    assert (await client.post(url, json={"yes": True},
                              headers=bearer(VIEWER_TOKEN))).status_code == 403
    operator = await client.post(url, json={"yes": True}, headers=bearer(OPERATOR_TOKEN))
    assert operator.status_code == 403 and "approver" in operator.json()["detail"]
    approved = await client.post(url, json={"yes": True}, headers=bearer(APPROVER_TOKEN))
    assert approved.status_code == 200 and approved.json()["by"] == "pat"
    late = await client.post(url, json={"yes": False}, headers=bearer(APPROVER_TOKEN))
    assert late.status_code == 409  # the first answer stands
    run = await wait_over(client, run_id)
    assert run["status"] == "succeeded" and marker.exists()
    (audit,) = run["questions"]
    assert (audit["yes"], audit["by"], audit["source"]) == (True, "pat", "127.0.0.1")
    report = (await client.get(f"/api/v1/runs/{run_id}/report",
                               headers=bearer(VIEWER_TOKEN))).text
    assert f"`{question['step_id']}` (approve): approved by pat at" in report


async def test_a_denied_gate_changes_nothing(client, tmp_path: Path) -> None:
    marker = tmp_path / "guides" / "marker"
    said = (await client.post(ALERTS, json=notification(group="s2", alertname="ScratchFull"),
                              headers=bearer(ALERTS_TOKEN))).json()["alerts"][0]
    (question,) = await pending(client, said["run_id"])
    denied = await client.post(
        f"/api/v1/runs/{said['run_id']}/steps/{question['step_id']}/answer",
        json={"yes": False}, headers=bearer(APPROVER_TOKEN))
    assert denied.status_code == 200
    run = await wait_over(client, said["run_id"])
    assert run["outcome"] != "resolved" and not marker.exists(), run


async def test_a_resolved_alert_cancels_its_groups_live_run_and_claims_nothing(client) -> None:
    client.app.state.config.on_resolved = "cancel"
    said = (await client.post(ALERTS, json=notification(group="r1"),
                              headers=bearer(ALERTS_TOKEN))).json()["alerts"][0]
    await wait_run(client, said["run_id"], over=False)
    resolved = (await client.post(ALERTS, json=notification(group="r1", status="resolved"),
                                  headers=bearer(ALERTS_TOKEN))).json()["alerts"][0]
    assert resolved["disposition"] == "resolved" and resolved["run_id"] == said["run_id"]
    assert (await wait_over(client, said["run_id"]))["status"] == "cancelled"
    # a resolved group with no live run claims nothing: its next firing starts a run at once
    (await client.post(ALERTS, json=notification(group="r2", status="resolved"),
                       headers=bearer(ALERTS_TOKEN)))
    again = (await client.post(ALERTS, json=notification(group="r2"),
                               headers=bearer(ALERTS_TOKEN))).json()["alerts"][0]
    assert again["disposition"] == "started"
    await wait_over(client, again["run_id"])


async def test_a_linked_guides_question_is_answered_by_its_address(client) -> None:
    from engine.runtime.questions import StoreQuestions

    # Given a run whose linked guide (called by step `fix`) waits on its own gate `restart`,
    # kept with its caller's questions as `fix/restart` (trust24 #1)
    said = (await client.post(ALERTS, json=notification(group="s9", alertname="ScratchFull"),
                              headers=bearer(ALERTS_TOKEN))).json()["alerts"][0]
    run_id = said["run_id"]
    await pending(client, run_id)
    asking = StoreQuestions(client.store, run_id).for_call("fix")
    gate = Step(id="restart", title="restart", kind="approve", source=Span(start=1, end=1))
    waiting = asyncio.ensure_future(asking.approve(step=gate, action="systemctl restart x"))
    while not any(q["step_id"] == "fix/restart" for q in await pending(client, run_id)):
        await asyncio.sleep(0.05)
    # When an approver answers it by that address (before: no route, 404)
    approved = await client.post(f"/api/v1/runs/{run_id}/steps/fix/restart/answer",
                                 json={"yes": True}, headers=bearer(APPROVER_TOKEN))
    # Then that question, and no other, is answered
    assert approved.status_code == 200, approved.text
    assert (await asyncio.wait_for(waiting, 10)).yes
    left = [q["step_id"] for q in await pending(client, run_id)]
    assert "fix/restart" not in left
    for step_id in left:  # the run's own gate: denied, so that it ends
        await client.post(f"/api/v1/runs/{run_id}/steps/{step_id}/answer", json={"yes": False},
                          headers=bearer(APPROVER_TOKEN))
    await wait_over(client, run_id)
