"""`mendflow run --alert`: the alert must be one the guide is for, and still firing.

A run acts on what its alert says: the guide's conditions read its labels, its inputs default
to them, and its changes follow. An alert for another failure than the guide's triggers name
(`NodeDown` into the disk-full guide), or one that has resolved, is refused with exit 2 before
anything runs, as `mendflow serve` (which routes by the same triggers) starts nothing for them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.plan import Trigger
from tests.engine.test_bad_files import assert_one_line_bad_input, mendflow

GUIDE = """---
triggers:
  - alert: DiskFull
    labels: {severity: ~critical|page}
  - alert: InodesFull
---
# Disk full

## Diagnosis

1. Check the disk usage:

   ```bash
   df -h /
   ```
"""


def _run(tmp: Path, alert: dict[str, object], guide: str = GUIDE):
    (tmp / "guide.md").write_text(guide)
    (tmp / "alert.json").write_text(json.dumps(alert))
    return mendflow("run", str(tmp / "guide.md"), "--alert", str(tmp / "alert.json"),
                    "--dry-run", tmp=tmp)


def _alert(name: str, status: str = "firing", **labels: str) -> dict[str, object]:
    return {"status": status, "labels": {"alertname": name, **labels}, "annotations": {}}


@pytest.mark.parametrize("alert", [
    _alert("NodeDown", severity="critical"),       # another alert
    _alert("DiskFull", severity="warning"),        # the name, but not the label matcher
    _alert("DiskFull"),                            # the matcher's label missing
    {"status": "firing", "labels": {"severity": "critical"}},  # no alertname at all
])
def test_an_alert_the_guide_is_not_for_is_refused(tmp_path: Path, alert):
    proc = _run(tmp_path, alert)
    assert_one_line_bad_input(proc)
    assert "is not one this guide is for" in proc.stderr, proc.stderr
    assert "alert DiskFull with severity=~critical|page; alert InodesFull" in proc.stderr


@pytest.mark.parametrize(("alert", "said"), [
    (_alert("InodesFull", status="resolved"), "has resolved"),
    # Alertmanager's API (/api/v2/alerts): silenced by a person, or muted by an inhibition
    ({"labels": {"alertname": "InodesFull"}, "status": {
        "state": "suppressed", "silencedBy": ["5c1f"], "inhibitedBy": []}}, "is silenced"),
    ({"labels": {"alertname": "InodesFull"}, "status": {
        "state": "suppressed", "silencedBy": [], "inhibitedBy": ["ab"]}}, "is inhibited"),
    # Prometheus' API (/api/v1/alerts): not yet firing for its `for:`
    ({"labels": {"alertname": "InodesFull"}, "state": "pending"}, "has not fired"),
])
def test_an_alert_that_is_not_firing_is_refused(tmp_path: Path, alert, said: str):
    proc = _run(tmp_path, alert)
    assert_one_line_bad_input(proc)
    assert said in proc.stderr and "--input" in proc.stderr, proc.stderr


@pytest.mark.parametrize("alert", [
    {"labels": {"alertname": "InodesFull"}, "status": {"state": "active", "silencedBy": []}},
    {"labels": {"alertname": "InodesFull"}, "state": "firing", "value": "1e+00"}])
def test_the_apis_firing_alerts_run(tmp_path: Path, alert):
    proc = _run(tmp_path, alert)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("alert", [
    _alert("DiskFull", severity="page"), _alert("InodesFull", severity="info")])
def test_an_alert_a_trigger_matches_runs(tmp_path: Path, alert):
    proc = _run(tmp_path, alert)
    assert proc.returncode == 0, proc.stderr


def test_a_guide_without_triggers_takes_any_firing_alert(tmp_path: Path):
    proc = _run(tmp_path, _alert("Anything"), guide=GUIDE.split("---\n", 2)[2])
    assert proc.returncode == 0, proc.stderr


def test_trigger_matching_is_alertmanagers():
    trigger = Trigger(alert="DiskFull", labels={"severity": "~crit.*", "team": "db"})
    assert trigger.matches({"alertname": "DiskFull", "severity": "critical", "team": "db"})
    assert not trigger.matches({"alertname": "DiskFull", "severity": "xcritical", "team": "db"})
    assert not trigger.matches({"alertname": "DiskFull", "severity": "critical", "team": "web"})
    assert Trigger(labels={"team": "db"}).matches({"alertname": "X", "team": "db"})


@pytest.mark.parametrize("payload", [
    {"event": {"event_type": "incident.triggered", "data": {"title": "Disk full"}}},  # PagerDuty
    {"annotations": {"summary": "disk full"}},
])
def test_a_payload_without_labels_is_no_alert(tmp_path: Path, payload):
    # another tool's event ran the guide as if an alert with no labels had fired
    for guide in (GUIDE, GUIDE.split("---\n", 2)[2]):
        proc = _run(tmp_path, payload, guide=guide)
        assert_one_line_bad_input(proc)
        assert "no `labels`" in proc.stderr, proc.stderr
