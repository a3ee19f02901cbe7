"""Where a detect step reads its stream from: a recorded run file or a live cell.

    source: runs/attempt-0007.jsonl          # or file:runs/attempt-0007.jsonl
    source: opcua://127.0.0.1:4840           # the cell's current attempt, from its start
    source: mqtt://127.0.0.1:1883/mendflow/cell/sim

A source yields blocks of samples (t, x) until its stream ends; a live source also reports
the cell's state, so the detector knows when the attempt is over. This module does not
score; it also does not decide what a gap means (`engine.detect.windows.clean_stream`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from engine.detect import read_run
from engine.errors import StepFailed
from plugins.robot.cell_model import CHANNELS
from plugins.robot.stream import LIVE_STATES_DONE, Block


class Source(Protocol):
    """What a detect step reads: its channels' names, the run's label where it has one, and
    its blocks of samples."""

    channels: list[str]
    label: str | None = None

    def blocks(self) -> AsyncIterator[Block]: ...


class RecordedSource(Source):
    def __init__(self, path: str) -> None:
        run = read_run(Path(path))
        self.channels, self.label, self._run = run.channels, run.label, run

    async def blocks(self) -> AsyncIterator[Block]:
        yield Block(self._run.t, self._run.x, "recorded")


class OpcUaSource(Source):
    """Polls the cell's ReadSamples(from) for the current attempt's samples."""

    def __init__(self, url: str, *, rate_hz: float, poll_s: float, timeout_s: float) -> None:
        self.url, self.rate_hz, self.poll_s, self.timeout_s = url, rate_hz, poll_s, timeout_s
        self.channels = list(CHANNELS)

    async def blocks(self) -> AsyncIterator[Block]:
        from plugins.robot.ua import CellClient

        async with CellClient(self.url, timeout_s=self.timeout_s) as cell:
            attempt, nxt = None, 0
            while True:
                got, start, flat, state = _samples(await cell.call("ReadSamples", nxt),
                                                   self.url, len(self.channels))
                if attempt is None:
                    attempt = got
                elif got != attempt:
                    raise StepFailed(f"the cell started attempt {got} while attempt {attempt} "
                                     "was being watched", retryable=False,
                                     hint="Run one detect step per attempt")
                values = np.asarray(flat, dtype=float).reshape(-1, len(self.channels))
                if len(values):
                    idx = np.arange(start, start + len(values))
                    nxt = start + len(values)
                    yield Block(idx / self.rate_hz, values, state)
                elif state in LIVE_STATES_DONE:
                    yield Block(np.zeros(0), np.zeros((0, len(self.channels))), state)
                    return
                else:
                    await asyncio.sleep(self.poll_s)


def _samples(reply: object, url: str, width: int) -> tuple[int, int, list[float], str]:
    """ReadSamples' reply (attempt, start, flat samples, state), checked: a server that sends
    something else is named in one line, not a ValueError from deep inside numpy."""
    try:
        if not isinstance(reply, (list, tuple)) or len(reply) != 4:
            raise TypeError(f"{type(reply).__name__} is not (attempt, start, samples, state)")
        got, start, rows, state = reply
        flat: list[Any] = list(rows or [])
        if len(flat) % width or not all(isinstance(v, (int, float)) for v in flat):
            raise ValueError(f"{len(flat)} values are not rows of {width} numbers")
        return int(got), int(start), flat, str(state)
    except (TypeError, ValueError) as exc:
        raise StepFailed(f"the cell at {url} sent a malformed sample block ({exc})",
                         retryable=False, hint="ReadSamples(from) must return (attempt, "
                         f"start, a flat list of {width}-channel rows, state)") from None


def open_source(source: str, *, rate_hz: float = 50.0, poll_s: float = 0.02,
                timeout_s: float = 2.0) -> Source:
    if source.startswith(("opcua://", "opc.tcp://")):
        return OpcUaSource(source, rate_hz=rate_hz, poll_s=poll_s, timeout_s=timeout_s)
    if source.startswith("mqtt://"):
        from plugins.robot.mqtt import MqttSource
        return MqttSource(source, rate_hz=rate_hz, timeout_s=timeout_s)
    path = source.removeprefix("file:")
    if "://" in path:
        raise StepFailed(f"unknown source {source!r}", retryable=False,
                         hint="Use a recorded run path, opcua://HOST:PORT or "
                              "mqtt://HOST:PORT/TOPIC")
    return RecordedSource(path)
