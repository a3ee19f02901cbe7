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
