"""The second transport: the cell publishes over MQTT (the Mosquitto running here) and a
detect step reads its stream from there."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from engine.plugins import parse_params
from plugins.detectors.ft_jam_slip import FtJamSlipDetector
from plugins.robot.ua import CellClient
from tests.plugins.detectors.helpers import ctx
from tests.plugins.robot.conftest import start_cell, stop_cell


def _broker_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 1883), timeout=0.5):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not _broker_up(), reason="no MQTT broker on 127.0.0.1:1883")


async def test_a_jam_is_detected_from_the_mqtt_stream(peg_cal: Path) -> None:
    prefix = f"mendflow/cell/test-{id(peg_cal)}"
    proc, url = start_cell("--seed", "8", "--mqtt", "127.0.0.1:1883", "--mqtt-prefix", prefix)
    try:
        params = parse_params(FtJamSlipDetector, {
            "source": f"mqtt://127.0.0.1:1883/{prefix}", "calibration": str(peg_cal)})
        watching = asyncio.create_task(FtJamSlipDetector().run(params=params, ctx=ctx()))
        await asyncio.sleep(0.5)  # subscribed before the attempt starts
        async with CellClient(url) as c:
            await c.call("QueueAttempt", False, "jam")
            await c.call("StartAttempt")
        out = (await asyncio.wait_for(watching, 30)).outputs
        assert out["alarm"] is True and out["samples"] > 100
    finally:
        stop_cell(proc)


async def test_a_malformed_sample_block_fails_the_step_in_one_line(peg_cal: Path) -> None:
    import aiomqtt

    from engine.errors import StepFailed

    prefix = f"mendflow/cell/bad-{id(peg_cal)}"
    params = parse_params(FtJamSlipDetector, {
        "source": f"mqtt://127.0.0.1:1883/{prefix}", "calibration": str(peg_cal)})
    watching = asyncio.create_task(FtJamSlipDetector().run(params=params, ctx=ctx()))
    await asyncio.sleep(0.5)
    async with aiomqtt.Client("127.0.0.1", 1883) as client:
        await client.publish(f"{prefix}/samples", b'{"attempt": 1, "start": 0, "x": [1, 2, 3]}',
                             qos=1)
    with pytest.raises(StepFailed, match="a malformed sample block on .*/samples"):
        await asyncio.wait_for(watching, 10)
