"""The simulated peg-in-hole cell, served as a real OPC UA server.

    python -m plugins.robot.sim_cell --port 4840 --time-scale 0.05 --seed 1

plays attempts drawn by `cell_model` in scaled real time (0.05: a 30 s attempt takes 1.5 s).
Object `Cell` in namespace `urn:mendflow:robot-cell`:

variables  State (idle|running|success|failure|aborted|resetting|stopped), Attempt, Time
           (seconds of cell time into the attempt), Wrench (fx fy fz tx ty tz), Phase,
           GripperOpen, Position (x y z), LastTruth (the simulator's ground truth of the last
           attempt, e.g. "failure:jam"; a real cell has no such thing)
methods    StartAttempt() -> attempt; Abort() -> cell time of the abort; Reset() (takes the
           reset time); Stop() (safe stop: motion halted, gripper kept); Move(x, y, z);
           OpenGripper(); CloseGripper(); ReadSamples(from) -> [attempt, start, flat
           samples (6 per step, NaN where the sensor dropped one), state];
           QueueAttempt(success, mode) (forces the next attempt's outcome; tests and demos)

With `--mqtt HOST:PORT` it also publishes sample blocks and states over MQTT (see
`plugins.robot.mqtt`). This module owns the cell's state machine; the physics is
`cell_model`, the protocol is `ua`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from plugins.robot.cell_model import PHASES, Attempt, CellConfig, generate_attempt
from plugins.robot.ua import Method, serve_cell, set_values, ua_invalid_state

TICK_S = 0.01
MAX_BLOCK = 2000
TERMINAL = ("success", "failure", "aborted")


class InvalidState(Exception):
    """A method was called in a state that does not allow it (the client sees a bad status)."""


@dataclass
class SimCell:
    cfg: CellConfig = field(default_factory=CellConfig)
    seed: int = 0
    time_scale: float = 0.05
    nan_rate: float = 0.0
    state: str = "idle"
    attempt_no: int = 0
    current: Attempt | None = None
    end_index: int | None = None
    gripper_open: bool = False
    position: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.1])
    log: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        self._queue: list[dict[str, Any]] = []
        self._started = 0.0
        self._nan_mask: np.ndarray | None = None

    # -- time ------------------------------------------------------------------------------

    def elapsed(self) -> float:
        """Cell seconds into the current attempt."""
        if self.current is None:
            return 0.0
        if self.state != "running":
            return self.current.t[self.end_index - 1] if self.end_index else 0.0
        return (time.monotonic() - self._started) / self.time_scale

    def available(self) -> int:
        if self.current is None:
            return 0
        if self.end_index is not None:
            return self.end_index
        return int(np.searchsorted(self.current.t, self.elapsed(), side="right"))

    def advance(self) -> None:
        a = self.current
        if self.state == "running" and a is not None and self.elapsed() >= a.duration_s:
            self.end_index = len(a.t)
            self.state = "success" if a.success else "failure"
            self._record(self.state, a.duration_s)

    def _record(self, outcome: str, at: float) -> None:
        a = self.current
        assert a is not None
        self.log.append({"attempt": self.attempt_no, "outcome": outcome, "at_s": at,
                         "success": a.success, "mode": a.mode,
                         "duration_s": a.duration_s, "onset_s": a.onset_s})

    # -- methods ---------------------------------------------------------------------------

    async def start_attempt(self) -> int:
        self.advance()
        if self.state not in ("idle", *TERMINAL):
            raise InvalidState(f"cannot start an attempt while {self.state}")
        forced = self._queue.pop(0) if self._queue else {}
        self.current = generate_attempt(self.rng, self.cfg, **forced)
        n = len(self.current.t)
        self._nan_mask = (self.rng.random(n) < self.nan_rate) if self.nan_rate else None
        self.attempt_no += 1
        self.end_index = None
        self.state = "running"
        self._started = time.monotonic()
        return self.attempt_no

    async def abort(self) -> float:
        self.advance()
        if self.state != "running":
            return float(self.elapsed())
        at = self.elapsed()
        self.end_index = max(self.available(), 1)
        self.state = "aborted"
        self._record("aborted", at)
        return float(at)

    async def reset(self) -> bool:
        self.advance()
        if self.state == "running":
            raise InvalidState("abort or stop the attempt before a reset")
        self.state = "resetting"
        await asyncio.sleep(self.cfg.reset_s * self.time_scale)
        self.state = "idle"
        self.position = [0.0, 0.0, 0.1]
        return True

    async def stop(self) -> bool:
        self.advance()
        if self.state == "running":
            self.end_index = max(self.available(), 1)
            self._record("stopped", self.elapsed())
        self.state = "stopped"
        return True

    async def move(self, x: float, y: float, z: float) -> bool:
        if self.state in ("running", "stopped"):
            raise InvalidState(f"cannot move while {self.state}")
        await asyncio.sleep(0.5 * self.time_scale)
        self.position = [float(x), float(y), float(z)]
        return True

    async def open_gripper(self) -> bool:
        if self.state == "running":
            raise InvalidState("cannot open the gripper during an attempt")
        self.gripper_open = True
        return True

    async def close_gripper(self) -> bool:
        self.gripper_open = False
        return True

    async def queue_attempt(self, success: bool, mode: str) -> bool:
        self._queue.append({"success": bool(success), "mode": mode or None})
        return True

    async def read_samples(self, start: int) -> tuple[int, int, list[float], str]:
        self.advance()
        a = self.current
        if a is None:
            return (0, 0, [], self.state)
        start = max(int(start), 0)
        stop = min(self.available(), start + MAX_BLOCK)
        block = a.wrench[start:stop].copy()
        if self._nan_mask is not None:
            block[self._nan_mask[start:stop]] = np.nan
        return (self.attempt_no, start, [float(v) for v in block.ravel()], self.state)

    def status(self) -> dict[str, Any]:
        a = self.current
        i = max(self.available() - 1, 0)
        truth = ""
        if a is not None and self.state in (*TERMINAL, "stopped", "idle", "resetting"):
            truth = "success" if a.success else f"failure:{a.mode}"
        return {
            "State": self.state, "Attempt": self.attempt_no, "Time": float(self.elapsed()),
            "Wrench": [float(v) for v in (a.wrench[i] if a is not None else np.zeros(6))],
            "Phase": PHASES[int(a.phase[i])] if a is not None else "approach",
            "GripperOpen": self.gripper_open, "Position": list(self.position),
            "LastTruth": truth,
        }


async def serve(cell: SimCell, *, host: str = "127.0.0.1", port: int = 4840,
                ready: asyncio.Event | None = None, mqtt: str | None = None,
                mqtt_prefix: str | None = None) -> None:
    """Serve the cell until cancelled."""

    nodes: dict[str, Any] = {}

    def guarded(fn: Any) -> Any:
        async def call(_parent: Any, *args: Any) -> Any:
            try:
                result = await fn(*args)
            except InvalidState as exc:
                raise ua_invalid_state(str(exc)) from None
            if nodes:  # a read right after a call sees what the call did
                await set_values(nodes, cell.status())
            return result
        return call

    methods: dict[str, tuple[Method, Sequence[type], Sequence[type]]] = {
        "StartAttempt": (guarded(cell.start_attempt), [], [int]),
        "Abort": (guarded(cell.abort), [], [float]),
        "Reset": (guarded(cell.reset), [], [bool]),
        "Stop": (guarded(cell.stop), [], [bool]),
        "Move": (guarded(cell.move), [float, float, float], [bool]),
        "OpenGripper": (guarded(cell.open_gripper), [], [bool]),
        "CloseGripper": (guarded(cell.close_gripper), [], [bool]),
        "ReadSamples": (guarded(cell.read_samples), [int], [int, int, float, str]),
        "QueueAttempt": (guarded(cell.queue_attempt), [bool, str], [bool]),
    }
    server, served = await serve_cell(host, port, variables=cell.status(), methods=methods)
    nodes.update(served)
    publisher = None
    if mqtt:
        from plugins.robot.mqtt import CellPublisher
        publisher = CellPublisher(mqtt, **({"prefix": mqtt_prefix} if mqtt_prefix else {}))
    try:
        if ready is not None:
            ready.set()
        async with publisher or contextlib.nullcontext():
            sent = 0
            while True:
                cell.advance()
                await set_values(nodes, cell.status())
                if publisher is not None:
                    sent = await publisher.publish(cell, sent)
                await asyncio.sleep(TICK_S)
    finally:
        with contextlib.suppress(Exception):
            await server.stop()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m plugins.robot.sim_cell", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=4840)
    p.add_argument("--time-scale", type=float, default=0.05,
                   help="wall seconds per cell second (default 0.05: 20x faster)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--success-p", type=float, default=0.53)
    p.add_argument("--mean-success-s", type=float, default=29.85)
    p.add_argument("--mean-failure-s", type=float, default=68.86)
    p.add_argument("--reset-s", type=float, default=1.0)
    p.add_argument("--nan-rate", type=float, default=0.0,
                   help="share of samples the sensor drops (published as NaN)")
    p.add_argument("--mqtt", default=None, help="also publish over MQTT, e.g. 127.0.0.1:1883")
    p.add_argument("--mqtt-prefix", default=None, help="topic prefix (mendflow/cell/sim)")
    args = p.parse_args(argv)
    cfg = CellConfig(success_p=args.success_p, mean_success_s=args.mean_success_s,
                     mean_failure_s=args.mean_failure_s, reset_s=args.reset_s)
    cell = SimCell(cfg=cfg, seed=args.seed, time_scale=args.time_scale,
                   nan_rate=args.nan_rate)
    print(f"sim cell on opcua://{args.host}:{args.port} (time scale {args.time_scale:g}, "
          f"seed {args.seed})", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(cell, host=args.host, port=args.port, mqtt=args.mqtt,
                          mqtt_prefix=args.mqtt_prefix))


if __name__ == "__main__":
    main()
