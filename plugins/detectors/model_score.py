"""`model_score`: a detector over a score your own model emits.

Either the stream carries the score (`score_channel: score`, e.g. a policy's uncertainty or
an OOD score written next to the sensor channels), or a small model file turns channels
into a score: JSON `{"kind": "linear", "channels": [...], "weights": [...], "bias": 0,
"tare_s": 1.0, "absolute": true}`; score = |w . x + b| (or signed). A model that does not
load is a ModelLoadError naming the file and what is wrong with it.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticValidationError

from engine.detect import ModelLoadError
from plugins.detectors._base import DetectParams, StreamDetector, channel_index
from plugins.detectors.streaming import Scorer, StreamTare


class LinearModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = "linear"
    channels: list[str] = Field(min_length=1)
    weights: list[float]
    bias: float = 0.0
    tare_s: float = 0.0
    absolute: bool = True

    @model_validator(mode="after")
    def _sizes(self) -> LinearModel:
        if self.kind != "linear":
            raise ValueError(f"kind {self.kind!r} is not supported (only 'linear')")
        if len(self.weights) != len(self.channels):
            raise ValueError(f"{len(self.weights)} weights for {len(self.channels)} channels")
        return self


@lru_cache(maxsize=32)
def load_model(path: str, mtime: float) -> LinearModel:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return LinearModel.model_validate(data)
    except FileNotFoundError:
        raise ModelLoadError(f"no model file at {path}", file=path,
                             hint="Train and export the model, or fix `model:`") from None
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"model file is not JSON: {exc.msg}", file=path, line=exc.lineno,
                             hint="Export the model as JSON (kind, channels, weights)") from None
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        raise ModelLoadError(f"model file is malformed: {first['msg']}", file=path,
                             hint="Expected {kind: linear, channels: [...], weights: [...]}"
                             ) from None


class ModelScoreParams(DetectParams):
    score_channel: str | None = Field(default=None, description="A channel that is the score.")
    model: str | None = Field(default=None, description="A linear model file (JSON).")

    @model_validator(mode="after")
    def _one(self) -> ModelScoreParams:
        if (self.score_channel is None) == (self.model is None):
            raise ValueError("give exactly one of score_channel and model")
        return self


class ModelScoreDetector(StreamDetector):
    name: ClassVar[str] = "model_score"
    Params: ClassVar[type[BaseModel]] = ModelScoreParams

    def score(self, *, params: Any, t: np.ndarray, x: np.ndarray,
              channels: list[str]) -> np.ndarray:
        return self.scorer(params=params, channels=channels).update(t, x)

    def scorer(self, *, params: Any, channels: list[str]) -> Scorer:
        if params.score_channel is not None:
            return _ChannelScorer(channel_index(channels, params.score_channel))
        p = Path(params.model)
        model = load_model(str(p), p.stat().st_mtime if p.exists() else 0.0)
        return _LinearScorer(model, [channel_index(channels, c) for c in model.channels])


class _ChannelScorer:
    def __init__(self, col: int) -> None:
        self.col = col

    def update(self, t: np.ndarray, x: np.ndarray) -> np.ndarray:
        return np.asarray(x[:, self.col], dtype=float)


class _LinearScorer:
    def __init__(self, model: LinearModel, cols: list[int]) -> None:
        self.model, self.cols = model, cols
        self.weights = np.asarray(model.weights)
        self.tare = StreamTare(model.tare_s)

    def update(self, t: np.ndarray, x: np.ndarray) -> np.ndarray:
        v = self.tare.update(t, x)[:, self.cols] @ self.weights + self.model.bias
        return np.asarray(np.abs(v) if self.model.absolute else v)
