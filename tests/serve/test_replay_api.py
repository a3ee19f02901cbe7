"""`POST /api/v1/runs/ID/replay`: an operator replays a run from a step with an intervention;
the new run is started by the server, and its verdict is noted on both runs when it ends."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from .conftest import ALERTS_TOKEN, OPERATOR_TOKEN, VIEWER_TOKEN, bearer, notification


async def over(client: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    for _ in range(600):
        got = await client.get(f"/api/v1/runs/{run_id}", headers=bearer(VIEWER_TOKEN))
        if got.status_code == 200 and got.json()["status"] != "running":
            return dict(got.json())
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} never ended")


async def events(client: httpx.AsyncClient, run_id: str) -> list[dict[str, Any]]:
    got = await client.get(f"/api/v1/runs/{run_id}/events", headers=bearer(VIEWER_TOKEN))
    assert got.status_code == 200, got.text
    return list(got.json())


async def test_an_operator_replays_a_run_with_an_input_set_anew(
        client: httpx.AsyncClient) -> None:
    got = await client.post("/api/v1/alerts", json=notification(group="g1"),
                            headers=bearer(ALERTS_TOKEN))
    run_id = got.json()["alerts"][0]["run_id"]
    await over(client, run_id)
    step = next(e["step_id"] for e in await events(client, run_id)
                if e["type"] == "step_started")
    url = f"/api/v1/runs/{run_id}/replay"

    body = {"from_step": step, "set": ["inputs.node=web-2"]}
    assert (await client.post(url, json=body, headers=bearer(VIEWER_TOKEN))).status_code == 403
    for bad, said in ([["inputs.node=web 2; rm -rf /"], "input node="],
                      [[f"steps.{step}.output=@/etc/passwd"], "no file is read here"],
                      [["inputs.nope=1"], "unknown input(s) nope"]):
        refused = await client.post(url, json={"from_step": step, "set": bad},
                                    headers=bearer(OPERATOR_TOKEN))
        assert refused.status_code == 400 and said in refused.json()["detail"], refused.text
    missing = await client.post(url, json={"from_step": "nope"},
                                headers=bearer(OPERATOR_TOKEN))
    assert missing.status_code == 400 and "never ran" in missing.json()["detail"]

    started = await client.post(url, json=body, headers=bearer(OPERATOR_TOKEN))
    assert started.status_code == 200, started.text
    said = started.json()
    assert said["replay_of"] == run_id and said["by"] == "oli"
    assert said["interventions"] == ["inputs.node='web-2'"]
    new = said["run_id"]
    ended = await over(client, new)
    assert ended["status"] == "succeeded" or ended["reason"], ended
    for _ in range(100):  # the verdict is noted once the run has ended
        verdict = [e for e in await events(client, new) if e["type"] == "replay_verdict"]
        if verdict:
            break
        await asyncio.sleep(0.05)
    (note,) = verdict
    assert note["data"]["original_run"] == run_id and note["data"]["replay_run"] == new
    noted = [e["type"] for e in await events(client, run_id)]
    assert "replay_asked" in noted and "replay_verdict" in noted
    record = await client.store.get_run(new)  # type: ignore[attr-defined]
    assert record.context["inputs"]["node"] == "web-2"
    assert record.options.replay.run_id == run_id and record.options.ask_people


async def test_replay_from_here_in_the_ui_is_an_operators_button(
        client: httpx.AsyncClient) -> None:
    from tests.serve.test_ui import csrf_of, login

    got = await client.post("/api/v1/alerts", json=notification(group="g2"),
                            headers=bearer(ALERTS_TOKEN))
    run_id = got.json()["alerts"][0]["run_id"]
    await over(client, run_id)
    step = next(e["step_id"] for e in await events(client, run_id)
                if e["type"] == "step_started")
    action = f"/ui/runs/{run_id}/steps/{step}/replay"

    await login(client, VIEWER_TOKEN)
    page = await client.get(f"/ui/runs/{run_id}")
    assert page.status_code == 200 and action not in page.text  # no button for a viewer
    refused = await client.post(action, data={"csrf": csrf_of(page.text), "set": ""})
    assert refused.status_code == 403

    await login(client, OPERATOR_TOKEN)
    page = await client.get(f"/ui/runs/{run_id}")
    assert f'action="{action}"' in page.text and "Replay from here" in page.text
    started = await client.post(action, data={"csrf": csrf_of(page.text),
                                              "set": "inputs.node=web-3\n"})
    assert started.status_code == 303, started.text
    new = started.headers["location"].rsplit("/", 1)[1]
    await over(client, new)
    record = await client.store.get_run(new)  # type: ignore[attr-defined]
    assert record.options.replay.run_id == run_id
    assert record.context["inputs"]["node"] == "web-3"
    page = await client.get(f"/ui/runs/{new}")
    assert f"replay of run {run_id} from step {step}" in page.text
