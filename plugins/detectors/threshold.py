"""`threshold`: the simplest detector, a channel's value (or a vector's magnitude) against a
level. Score per sample: max(0, value - level); with window 1 and threshold 0 it is the
classic "fire when the value exceeds the level". `channel` may name a stream channel or
`force` / `torque` (the magnitudes of fx fy fz / tx ty tz); `tare_s` subtracts the start.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, Field

from plugins.detectors._base import DetectParams, StreamDetector, channel_index, tare
from plugins.detectors.streaming import Scorer, StreamTare


class ThresholdParams(DetectParams):
    channel: str = Field(default="force", description="Channel, or force / torque magnitude.")
    level: float = Field(default=0.0, description="Score counts what exceeds this.")
    sense: Literal["above", "below", "abs"] = "abs"
    tare_s: float = Field(default=0.0, ge=0)


def series(x: np.ndarray, t: np.ndarray, channels: list[str], channel: str,
           tare_s: float) -> np.ndarray:
    return pick(tare(x, t, tare_s), channels, channel)


def pick(x: np.ndarray, channels: list[str], channel: str) -> np.ndarray:
    """One channel, or the norm of the force or torque vector when the stream has none."""
    if channel in ("force", "torque") and channel not in channels:
        cols = [channel_index(channels, c) for c in
                (("fx", "fy", "fz") if channel == "force" else ("tx", "ty", "tz"))]
        return np.asarray(np.linalg.norm(x[:, cols], axis=1))
    return x[:, channel_index(channels, channel)]


class ThresholdDetector(StreamDetector):
    name: ClassVar[str] = "threshold"
    Params: ClassVar[type[BaseModel]] = ThresholdParams

    def scorer(self, *, params: Any, channels: list[str]) -> Scorer:
        return _ThresholdScorer(self, params, channels)

    def score(self, *, params: Any, t: np.ndarray, x: np.ndarray,
              channels: list[str]) -> np.ndarray:
        return self.excess(params, series(x, t, channels, params.channel, params.tare_s))

    @staticmethod
    def excess(params: Any, v: np.ndarray) -> np.ndarray:
        if params.sense == "above":
            return np.asarray(np.maximum(v - params.level, 0.0))
        if params.sense == "below":
            return np.asarray(np.maximum(params.level - v, 0.0))
        return np.asarray(np.maximum(np.abs(v) - params.level, 0.0))


class _ThresholdScorer:
    def __init__(self, detector: ThresholdDetector, params: Any, channels: list[str]) -> None:
        self.detector, self.params, self.channels = detector, params, channels
        self.tare = StreamTare(params.tare_s)

    def update(self, t: np.ndarray, x: np.ndarray) -> np.ndarray:
        v = pick(self.tare.update(t, x), self.channels, self.params.channel)
        return self.detector.excess(self.params, v)
