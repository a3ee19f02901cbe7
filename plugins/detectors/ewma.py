"""`ewma`: an EWMA z-score on a metric series. The mean and variance are exponentially
weighted (factor `lam`) and lag one sample, so the z-score of a sample compares it with the
past only; score = max(0, |z| - z0) after `warmup` samples, 0 before.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, Field

from plugins.detectors._base import DetectParams, StreamDetector
from plugins.detectors.threshold import series


class EwmaParams(DetectParams):
    channel: str = Field(default="force")
    lam: float = Field(default=0.02, gt=0, lt=1, description="EWMA weight of a new sample.")
    z0: float = Field(default=3.0, ge=0, description="z below this scores 0.")
    warmup: int = Field(default=50, ge=2)
    tare_s: float = Field(default=0.0, ge=0)
    min_std: float = Field(default=1e-3, gt=0)


def ewma_z(v: np.ndarray, *, lam: float, warmup: int, min_std: float) -> np.ndarray:
    z = np.zeros(len(v))
    if len(v) == 0:
        return z
    mean, var = float(v[0]), 0.0
    for i in range(1, len(v)):
        if i >= warmup:
            z[i] = (v[i] - mean) / max(np.sqrt(var), min_std)
        d = v[i] - mean
        mean += lam * d
        var = (1 - lam) * (var + lam * d * d)
        if i < warmup:  # plain running moments until the EWMA has seen enough
            seg = v[: i + 1]
            mean, var = float(seg.mean()), float(seg.var())
    return z


class EwmaDetector(StreamDetector):
    name: ClassVar[str] = "ewma"
    Params: ClassVar[type[BaseModel]] = EwmaParams

    def score(self, *, params: Any, t: np.ndarray, x: np.ndarray,
              channels: list[str]) -> np.ndarray:
        v = series(x, t, channels, params.channel, params.tare_s)
        z = ewma_z(v, lam=params.lam, warmup=params.warmup, min_std=params.min_std)
        return np.maximum(np.abs(z) - params.z0, 0.0)
