"""MQTT through aiomqtt: the only module that imports it (the second transport of the cell).

The simulated cell publishes, under `mendflow/cell/<name>/`:
    samples   {"attempt": n, "start": i, "x": [[fx, fy, fz, tx, ty, tz], ...]}  (QoS 1)
    state     "running" | "success" | ...  (retained)
A detect step reads them with `source: mqtt://HOST:PORT/mendflow/cell/<name>`; it follows
the attempt running when it subscribes, from the next block on. Connection errors become
CellError with a hint.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import aiomqtt
import numpy as np

from plugins.robot.cell_model import CHANNELS
from plugins.robot.stream import LIVE_STATES_DONE, Block
from plugins.robot.ua import CellError

DEFAULT_PREFIX = "mendflow/cell/sim"


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.partition(":")
    return host or "127.0.0.1", int(port or 1883)


class CellPublisher:
    """Publishes new samples and state changes of a SimCell; an async context manager."""

    def __init__(self, broker: str, *, prefix: str = DEFAULT_PREFIX) -> None:
        host, port = _host_port(broker)
        self.prefix = prefix
        self._client = aiomqtt.Client(host, port)
        self._state: str | None = None
        self._attempt = 0

    async def __aenter__(self) -> Self:
        try:
            await self._client.__aenter__()
        except aiomqtt.MqttError as exc:
            raise CellError(f"cannot reach the MQTT broker: {exc}",
                            hint="Is mosquitto running? (127.0.0.1:1883)") from None
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._client.__aexit__(kind, exc, tb)

    async def publish(self, cell: Any, sent: int) -> int:
        """Publish samples from index `sent` on; return the new index."""
        if cell.attempt_no != self._attempt:
            self._attempt, sent = cell.attempt_no, 0
        if cell.state != self._state:
            self._state = cell.state
            await self._client.publish(f"{self.prefix}/state", cell.state, qos=1, retain=True)
        upto = cell.available()
        if cell.current is not None and upto > sent:
            block = cell.current.wrench[sent:upto]
            payload = {"attempt": cell.attempt_no, "start": sent,
                       "x": [[round(float(v), 5) for v in row] for row in block]}
            await self._client.publish(f"{self.prefix}/samples", json.dumps(payload), qos=1)
        return max(int(upto), sent)


class MqttSource:
    """A detect step's stream from MQTT (see module docstring)."""

    def __init__(self, url: str, *, rate_hz: float, timeout_s: float) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 1883
        self.prefix = parts.path.strip("/") or DEFAULT_PREFIX
        self.rate_hz, self.timeout_s = rate_hz, timeout_s
        self.channels = list(CHANNELS)
        self.label: str | None = None

    async def blocks(self) -> AsyncIterator[Any]:
        attempt = None
        try:
            async with aiomqtt.Client(self.host, self.port, timeout=self.timeout_s) as client:
                await client.subscribe(f"{self.prefix}/#", qos=1)
                async for msg in client.messages:
                    topic = str(msg.topic)
                    body = msg.payload.decode() if isinstance(msg.payload, bytes) else ""
                    if topic.endswith("/state"):
                        if attempt is not None and body in LIVE_STATES_DONE:
                            yield Block(np.zeros(0), np.zeros((0, 6)), body)
                            return
                        continue
                    try:
                        data = json.loads(body)
                        got, start = data["attempt"], int(data["start"])
                        x = np.asarray(data["x"], dtype=float).reshape(-1, 6)
                    except (ValueError, KeyError, TypeError) as exc:
                        raise CellError(f"a malformed sample block on {topic} ({exc})",
                                        retryable=False, hint='Publish {"attempt": N, '
                                        '"start": I, "x": [6-channel rows, flat]}') from None
                    if attempt is None:
                        attempt = got
                    elif got != attempt:
                        return
                    idx = np.arange(start, start + len(x))
                    yield Block(idx / self.rate_hz, x, "running")
        except aiomqtt.MqttError as exc:
            raise CellError(f"MQTT stream from {self.host}:{self.port} failed: {exc}",
                            hint="Is mosquitto running and the cell publishing?") from None
