"""`ewma`: an EWMA z-score on a metric series. The mean and variance are exponentially
weighted (factor `lam`) and lag one sample, so the z-score of a sample compares it with the
past only; score = max(0, |z| - z0) after `warmup` samples, 0 before.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, Field

from plugins.detectors._base import DetectParams, StreamDetector
from plugins.detectors.streaming import Scorer, StreamTare
from plugins.detectors.threshold import pick, series


class EwmaParams(DetectParams):
    channel: str = Field(default="force")
    lam: float = Field(default=0.02, gt=0, lt=1, description="EWMA weight of a new sample.")
    z0: float = Field(default=3.0, ge=0, description="z below this scores 0.")
    warmup: int = Field(default=50, ge=2)
    tare_s: float = Field(default=0.0, ge=0)
    min_std: float = Field(default=1e-3, gt=0)


def ewma_z(v: np.ndarray, *, lam: float, warmup: int, min_std: float) -> np.ndarray:
    return EwmaState(lam=lam, warmup=warmup, min_std=min_std).update(v)


class EwmaState:
    """The EWMA z-score one sample at a time: plain running moments for the first `warmup`
    samples, then exponentially weighted ones (O(1) per sample, O(warmup) memory)."""

    def __init__(self, *, lam: float, warmup: int, min_std: float) -> None:
        self.lam, self.warmup, self.min_std = lam, warmup, min_std
        self.i = 0
        self.mean, self.var = 0.0, 0.0
        self.head: list[float] = []

    def update(self, v: np.ndarray) -> np.ndarray:
        z = np.zeros(len(v))
        lam = self.lam
        mean, var, i = self.mean, self.var, self.i
        for k, value in enumerate(v.tolist()):
            if i == 0:
                mean, var = value, 0.0
                self.head.append(value)
                i = 1
                continue
            if i >= self.warmup:
                z[k] = (value - mean) / max(var ** 0.5, self.min_std)
            d = value - mean
            mean += lam * d
            var = (1 - lam) * (var + lam * d * d)
            if i < self.warmup:  # plain running moments until the EWMA has seen enough
                self.head.append(value)
                seg = np.asarray(self.head)
                mean, var = float(seg.mean()), float(seg.var())
                if i + 1 >= self.warmup:
                    self.head = []
            i += 1
        self.mean, self.var, self.i = mean, var, i
        return z


class EwmaDetector(StreamDetector):
    name: ClassVar[str] = "ewma"
    Params: ClassVar[type[BaseModel]] = EwmaParams

    def scorer(self, *, params: Any, channels: list[str]) -> Scorer:
        return _EwmaScorer(params, channels)

    def score(self, *, params: Any, t: np.ndarray, x: np.ndarray,
              channels: list[str]) -> np.ndarray:
        v = series(x, t, channels, params.channel, params.tare_s)
        z = ewma_z(v, lam=params.lam, warmup=params.warmup, min_std=params.min_std)
        return np.asarray(np.maximum(np.abs(z) - params.z0, 0.0))


class _EwmaScorer:
    def __init__(self, params: Any, channels: list[str]) -> None:
        self.params, self.channels = params, channels
        self.tare = StreamTare(params.tare_s)
        self.state = EwmaState(lam=params.lam, warmup=params.warmup, min_std=params.min_std)

    def update(self, t: np.ndarray, x: np.ndarray) -> np.ndarray:
        v = pick(self.tare.update(t, x), self.channels, self.params.channel)
        return np.asarray(np.maximum(np.abs(self.state.update(v)) - self.params.z0, 0.0))
