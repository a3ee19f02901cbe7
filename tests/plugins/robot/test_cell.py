"""The simulated cell over real OPC UA: the opcua plugin, a live detect step, preemption,
and a cell that drops samples or stops answering."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import numpy as np
import pytest

from engine.errors import StepFailed
from engine.plugins import parse_params
from plugins.detectors.ft_jam_slip import FtJamSlipDetector
from plugins.robot.cell_model import CellConfig, generate_attempt
from plugins.robot.opcua import OpcUaPlugin
from plugins.robot.ua import CellClient, CellError
from tests.plugins.detectors.helpers import ctx
from tests.plugins.robot.conftest import start_cell, stop_cell


async def opcua(endpoint: str, **params: object) -> dict:
    p = parse_params(OpcUaPlugin, {"endpoint": endpoint, **params})
    return (await OpcUaPlugin().run(params=p, ctx=ctx("cell"))).outputs


async def watch(source: str, cal: Path, **params: object) -> dict:
    p = parse_params(FtJamSlipDetector, {"source": source, "calibration": str(cal), **params})
    return (await FtJamSlipDetector().run(params=p, ctx=ctx())).outputs


async def to_idle(url: str) -> None:
    async with CellClient(url) as c:
        if await c.read("State") == "running":
            await c.call("Abort")
        await c.call("Reset")


def test_the_model_is_seedable_and_has_the_configured_means() -> None:
    a = generate_attempt(np.random.default_rng(3))
    b = generate_attempt(np.random.default_rng(3))
    np.testing.assert_array_equal(a.wrench, b.wrench)
    rng = np.random.default_rng(4)
    draws = [generate_attempt(rng) for _ in range(1500)]
    ok = np.array([d.duration_s for d in draws if d.success])
    bad = np.array([d.duration_s for d in draws if not d.success])
    cfg = CellConfig()
    assert abs(len(ok) / 1500 - cfg.success_p) < 3 * np.sqrt(0.53 * 0.47 / 1500)
    assert abs(ok.mean() - cfg.mean_success_s) < 3 * ok.std() / np.sqrt(len(ok))
    assert abs(bad.mean() - cfg.mean_failure_s) < 3 * bad.std() / np.sqrt(len(bad))


async def test_an_attempt_runs_to_its_queued_outcome(cell: str) -> None:
    await to_idle(cell)
    await opcua(cell, call="QueueAttempt", args=[True, ""])
    out = await opcua(cell, call="StartAttempt", wait_for={"State": ["success", "failure"]},
                      read=["LastTruth", "Phase"], wait_timeout_s=20)
    assert out["values"]["State"] == "success" and out["values"]["LastTruth"] == "success"
    assert out["values"]["Phase"] == "insertion"


async def test_the_cell_refuses_what_its_state_forbids(cell: str) -> None:
    await to_idle(cell)
    await opcua(cell, call="StartAttempt")
    with pytest.raises(CellError, match="refused to call StartAttempt") as err:
        await opcua(cell, call="StartAttempt")
    assert not err.value.retryable
    out = await opcua(cell, call="Stop", read=["State"])
    assert out["values"]["State"] == "stopped"
    with pytest.raises(CellError, match="refused to call Move"):
        await opcua(cell, call="Move", args=[0.1, 0.0, 0.2])
    await opcua(cell, call="Reset", wait_for={"State": ["idle"]})
    assert (await opcua(cell, call="Move", args=[0.1, 0.0, 0.2], read=["Position"])
            )["values"]["Position"] == [0.1, 0.0, 0.2]


async def test_a_live_jam_is_detected_and_preempted(cell: str, peg_cal: Path) -> None:
    await to_idle(cell)
    await opcua(cell, call="QueueAttempt", args=[False, "jam"])
    await opcua(cell, call="StartAttempt")
    out = await watch(cell, peg_cal)
    assert out["alarm"] is True and out["cell_state"] == "running"
    aborted = await opcua(cell, call="Abort", read=["State", "LastTruth"])
    assert aborted["values"] == {"State": "aborted", "LastTruth": "failure:jam"}
    assert aborted["result"] >= out["detected_at"]  # the abort came after the alarm


async def test_a_live_success_runs_to_the_end_without_alarm(cell: str, peg_cal: Path) -> None:
    await to_idle(cell)
    await opcua(cell, call="QueueAttempt", args=[True, ""])
    await opcua(cell, call="StartAttempt")
    out = await watch(cell, peg_cal)
    assert out["alarm"] is False and out["cell_state"] == "success"
    assert out["samples"] > 500 and out["dropped"] == 0


async def test_no_cell_at_the_endpoint() -> None:
    from tests.plugins.robot.conftest import free_port
    with pytest.raises(StepFailed) as err:
        await opcua(f"opcua://127.0.0.1:{free_port()}", read=["State"], timeout_s=0.5)
    assert "cell" in str(err.value) and "running" in (err.value.hint or "")


async def test_a_sensor_dropping_samples_fails_the_step(peg_cal: Path) -> None:
    proc, url = start_cell("--seed", "3", "--nan-rate", "0.3")
    try:
        await opcua(url, call="StartAttempt")
        with pytest.raises(StepFailed, match="have NaNs"):
            await watch(url, peg_cal)
    finally:
        stop_cell(proc)


async def test_a_cell_that_stops_answering_mid_attempt(peg_cal: Path) -> None:
    proc, url = start_cell("--seed", "4", time_scale=0.05)
    try:
        await opcua(url, call="QueueAttempt", args=[True, ""])
        await opcua(url, call="StartAttempt")
        task = asyncio.create_task(watch(url, peg_cal, timeout_s=0.5))
        await asyncio.sleep(0.4)
        os.kill(proc.pid, signal.SIGSTOP)  # the controller freezes; TCP stays open
        with pytest.raises(StepFailed, match="did not answer within 0.5 s") as err:
            await asyncio.wait_for(task, 10)
        assert "stop the cell safely" in (err.value.hint or "")
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        stop_cell(proc)


def test_how_hard_failures_are_to_see_is_a_setting() -> None:
    from dataclasses import replace

    from plugins.robot.cell_model import APPROACH_S, CONTACT_S, DEFAULT_CELL, SCENARIOS

    late = replace(DEFAULT_CELL, onset=(0.6, 0.6), modes=("jam",))
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = generate_attempt(rng, late, success=False)
        search = APPROACH_S + CONTACT_S
        assert a.onset_s == pytest.approx(search + 0.6 * (a.duration_s - search))
    quiet = replace(DEFAULT_CELL, noise=0.0, offset_p=0.0, bump_p=0.0)
    a = generate_attempt(np.random.default_rng(1), quiet, success=True)
    assert float(np.std(np.diff(a.wrench[:20, 5]))) == 0.0  # no sensor noise at all
    assert SCENARIOS["easy"] == DEFAULT_CELL
    assert SCENARIOS["hard"].severity[1] < SCENARIOS["easy"].severity[1]


async def test_an_opc_ua_server_that_is_not_a_cell_is_named_in_one_line() -> None:
    from asyncua import Server

    from tests.plugins.robot.conftest import free_port

    server = Server()
    await server.init()
    port = free_port()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/other/")
    await server.register_namespace("urn:someone-else:plc")
    async with server:
        with pytest.raises(CellError, match="is not a cell controller Mendflow knows") as err:
            async with CellClient(f"opcua://127.0.0.1:{port}/other/"):
                pass
        assert err.value.hint and "Objects/Cell" in err.value.hint


def test_a_malformed_sample_block_is_named_in_one_line() -> None:
    from plugins.detectors.sources import _samples

    assert _samples((1, 0, [0.0] * 12, "running"), "u", 6) == (1, 0, [0.0] * 12, "running")
    for bad in [(1, 0, [0.0] * 7, "running"), (1, 0), "nonsense", (1, 0, ["x"] * 6, "s")]:
        with pytest.raises(StepFailed, match="sent a malformed sample block"):
            _samples(bad, "u", 6)
