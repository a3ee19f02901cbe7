"""A detector's alarm asks the makespan policy (engine.policy) at run time: it aborts the
attempt only when preemption pays on the recorded history, and records both expected
makespans and why; with too little history it follows the guide's default and says so. The
decision is the one `mendflow policy` prints for the same history."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from engine.detect import read_run
from engine.errors import StepFailed
from engine.plugins import parse_params
from engine.policy import Attempt, load_history, policy_report, verdict
from plugins.detectors import _base as detectors_base
from plugins.detectors.ft_jam_slip import FtJamSlipDetector
from plugins.detectors.sources import Source
from plugins.robot.stream import Block
from tests.plugins.detectors.helpers import ctx, peg_calibration, record


@pytest.fixture(scope="module")
def cal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return peg_calibration(tmp_path_factory.mktemp("cal"))


@pytest.fixture(scope="module")
def jam(tmp_path_factory: pytest.TempPathFactory) -> Path:
    [path] = record(np.random.default_rng(1), tmp_path_factory.mktemp("run"), 1,
                    success=False, mode="jam")
    return path


def write_history(path: Path, attempts: list[Attempt]) -> Path:
    path.write_text("".join(json.dumps({"success": a.success, "duration_s": a.duration_s,
                                        "alarm_s": a.alarm_s}) + "\n" for a in attempts))
    return path


PAYS = [Attempt(True, 30.0)] * 12 + [Attempt(False, 70.0, 10.0)] * 12
# every other success is thrown away by a false alarm, failures are caught late: a loss
LOSES = ([Attempt(True, 30.0, 2.0)] * 12 + [Attempt(True, 30.0)] * 12
         + [Attempt(False, 35.0, 33.0)] * 6)


class InBlocks(Source):
    """A recorded run given a second at a time, as a live cell gives it (a unit-test stand-in
    for the OPC UA source, whose own tests use the simulated cell)."""

    def __init__(self, path: str) -> None:
        self._run = read_run(path)
        self.channels = list(self._run.channels)

    async def blocks(self) -> AsyncIterator[Block]:
        t, x = self._run.t, self._run.x
        for start in np.arange(t[0], t[-1] + 1, 1.0):
            keep = (t >= start) & (t < start + 1)
            yield Block(t[keep], x[keep], "running")


@pytest.fixture(autouse=True)
def live_like(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(detectors_base, "open_source", lambda source, **_: InBlocks(source))


async def watch(source: Path, cal: Path, **params: object):
    return await FtJamSlipDetector().run(
        params=parse_params(FtJamSlipDetector, {"source": str(source), "calibration": str(cal),
                                                **params}), ctx=ctx())


async def test_an_alarm_aborts_when_preemption_pays(tmp_path: Path, cal: Path, jam: Path) -> None:
    history = write_history(tmp_path / "h.jsonl", PAYS)
    out = (await watch(jam, cal, policy={"history": str(history), "reset": "1s"})).outputs
    assert out["alarm"] and out["preempt"]
    assert out["detected_at"] <= out["stream_s"] < out["detected_at"] + 1  # stopped at it
    p = out["policy"]
    assert p["decided_by"] == "history" and p["preempt"] is True
    assert p["without_s"] == pytest.approx(verdict(PAYS, reset_s=1.0).decision.without, abs=1e-3)
    # the same decision `mendflow policy` prints for this history
    assert "decision: preempt" in policy_report(history, reset_s=1.0)


async def test_an_alarm_watches_on_when_preemption_does_not_pay(tmp_path: Path, cal: Path,
                                                                jam: Path) -> None:
    history = write_history(tmp_path / "h.jsonl", LOSES)
    result = await watch(jam, cal, policy={"history": str(history), "reset": "1s"})
    out = result.outputs
    assert out["alarm"] and not out["preempt"]
    assert out["stream_s"] > out["detected_at"] + 5  # it watched the attempt on to its end
    assert out["stream_s"] == pytest.approx(read_run(jam).t[-1] - read_run(jam).t[0], abs=0.1)
    assert out["policy"]["preempt"] is False and out["policy"]["preemptive_s"] > \
        out["policy"]["without_s"]
    assert "watch on: preemption does not pay" in result.summary
    assert "decision: do not preempt" in policy_report(load_history(history), reset_s=1.0)


async def test_too_little_history_follows_the_guides_default(tmp_path: Path, cal: Path,
                                                             jam: Path) -> None:
    history = write_history(tmp_path / "h.jsonl", LOSES[:10])
    out = (await watch(jam, cal, policy={"history": str(history), "default": "run_on"})).outputs
    assert out["alarm"] and not out["preempt"]
    assert out["policy"]["decided_by"] == "guide default"
    assert out["policy"]["reason"].startswith("too little history (10 attempts; 20 attempts")
    missing = (await watch(jam, cal, policy={"history": str(tmp_path / "none.jsonl")})).outputs
    assert missing["preempt"] and "no history at" in missing["policy"]["reason"]


async def test_without_a_policy_an_alarm_always_aborts(cal: Path, jam: Path) -> None:
    out = (await watch(jam, cal)).outputs
    assert out["alarm"] and out["preempt"] and out["policy"] is None


async def test_a_bad_history_fails_the_step_in_one_line(tmp_path: Path, cal: Path,
                                                        jam: Path) -> None:
    bad = tmp_path / "h.jsonl"
    bad.write_text('{"success": "yes", "duration_s": 3}\n')
    with pytest.raises(StepFailed, match="history is unreadable: bad attempt record"):
        await watch(jam, cal, policy={"history": str(bad)})
