"""`ft_jam_slip`: a force-torque detector for insertion tasks: jams, slips, misalignment.

The wrench is tared on the first `tare_s` seconds (the free-air approach), so a constant
sensor offset cancels. The noise level of each channel is measured in the same window. Per
sample, the score adds up four excesses, each in units of what is normal:

- press: pressing force beyond the nominal press + margin (a jam or an obstruction);
- lateral: lateral force beyond the search amplitude + margin (misalignment, obstruction);
- tilt: torque about x/y beyond its nominal (wedging);
- chatter: sample-to-sample change of tz far above sensor noise (stick-slip: a slip).

Nominal values default to the simulated cell's (10 N press, 2 N search); calibration sets
how much of it is normal, so the defaults only shape the score.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, Field

from plugins.detectors._base import DetectParams, StreamDetector, channel_index
from plugins.detectors.streaming import Scorer, StreamTare


class FtJamSlipParams(DetectParams):
    tare_s: float = Field(default=1.0, gt=0)
    press_n: float = Field(default=10.0, ge=0, description="Nominal pressing force (N).")
    press_margin_n: float = Field(default=3.0, gt=0)
    lateral_n: float = Field(default=2.0, ge=0, description="Nominal search amplitude (N).")
    lateral_margin_n: float = Field(default=1.5, gt=0)
    tilt_nm: float = Field(default=0.1, ge=0)
    tilt_margin_nm: float = Field(default=0.1, gt=0)
    chatter_sigmas: float = Field(default=4.0, gt=0)


class FtJamSlipDetector(StreamDetector):
    name: ClassVar[str] = "ft_jam_slip"
    Params: ClassVar[type[BaseModel]] = FtJamSlipParams

    def scorer(self, *, params: Any, channels: list[str]) -> Scorer:
        return _FtScorer(params, channels)

    def score(self, *, params: Any, t: np.ndarray, x: np.ndarray,
              channels: list[str]) -> np.ndarray:
        return self.scorer(params=params, channels=channels).update(t, x)


class _FtScorer:
    """The score one block at a time: the tare and the noise level are fixed once the tare
    window has closed; before that (and for its first two samples at least) it is 0."""

    def __init__(self, params: Any, channels: list[str]) -> None:
        self.p = params
        self.col = {c: channel_index(channels, c) for c in ("fx", "fy", "fz", "tx", "ty", "tz")}
        self.tare = StreamTare(params.tare_s)
        self.seen = 0
        self.inside = 0  # samples in the tare window
        self.n_tare: int | None = None  # known once the window has closed
        self.head: list[float] = []  # tz of the first n_tare samples, for the noise level
        self.noise = 1e-3
        self.noise_known = False
        self.prev_tz: float | None = None

    def update(self, t: np.ndarray, x: np.ndarray) -> np.ndarray:
        p, col = self.p, self.col
        if len(t) == 0:
            return np.zeros(0)
        t0 = self.tare.t0 if self.tare.t0 is not None else float(t[0])
        w = self.tare.update(t, x)
        tz = x[:, col["tz"]]
        if self.n_tare is None:
            n_in = int(np.searchsorted(t, t0 + p.tare_s))
            self.inside += n_in
            if n_in < len(t):
                self.n_tare = max(self.inside, 2)
        if self.n_tare is None:
            self.head.extend(tz.tolist())
        elif not self.noise_known:
            self.head.extend(tz[: max(self.n_tare - len(self.head), 0)].tolist())
            if len(self.head) >= self.n_tare:
                head = np.asarray(self.head[: self.n_tare])
                self.noise = max(float(np.std(np.diff(head))) if self.n_tare > 2 else 0.0,
                                 1e-3)
                self.noise_known, self.head = True, []
        press = np.maximum(-w[:, col["fz"]] - p.press_n - p.press_margin_n, 0)
        lateral = np.hypot(w[:, col["fx"]], w[:, col["fy"]])
        lateral = np.maximum(lateral - p.lateral_n - p.lateral_margin_n, 0)
        tilt = np.hypot(w[:, col["tx"]], w[:, col["ty"]])
        tilt = np.maximum(tilt - p.tilt_nm - p.tilt_margin_nm, 0)
        prev = tz[:1] if self.prev_tz is None else np.asarray([self.prev_tz])
        dtz = np.abs(np.diff(tz, prepend=prev))
        chatter = np.maximum(dtz / self.noise - p.chatter_sigmas, 0)
        score = (press / p.press_margin_n + lateral / p.lateral_margin_n
                 + tilt / p.tilt_margin_nm + chatter)
        # nothing is known about "normal" before the tare is done
        done = 0 if self.n_tare is None else max(self.n_tare - self.seen, 0)
        score[: len(score) if self.n_tare is None else done] = 0.0
        self.seen += len(t)
        self.prev_tz = float(tz[-1])
        return score
