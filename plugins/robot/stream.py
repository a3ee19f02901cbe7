"""What a force-torque stream yields, whatever carries it (a recorded run, OPC UA, MQTT): blocks
of samples, and the cell states that end an attempt. Shared by the detectors' sources and the
transports, so that neither imports the other."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LIVE_STATES_DONE = ("success", "failure", "aborted", "stopped", "idle", "resetting")


@dataclass(frozen=True, slots=True)
class Block:
    t: np.ndarray
    x: np.ndarray
    state: str | None = None  # the cell's state, for live sources
