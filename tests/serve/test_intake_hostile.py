"""Alert payloads written by whoever controls a metric's labels: what the intake does with a
notification that mixes firing and resolved alerts, and other hostile shapes."""

from __future__ import annotations

import copy

from .conftest import ALERTS_TOKEN, bearer, notification
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
