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

from plugins.detectors._base import DetectParams, StreamDetector, channel_index, tare


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

    def score(self, *, params: Any, t: np.ndarray, x: np.ndarray,
              channels: list[str]) -> np.ndarray:
        col = {c: channel_index(channels, c) for c in ("fx", "fy", "fz", "tx", "ty", "tz")}
        w = tare(x, t, params.tare_s)
        n_tare = max(int(np.searchsorted(t, t[0] + params.tare_s)), 2) if len(t) else 0
        press = np.maximum(-w[:, col["fz"]] - params.press_n - params.press_margin_n, 0)
        lateral = np.hypot(w[:, col["fx"]], w[:, col["fy"]])
        lateral = np.maximum(lateral - params.lateral_n - params.lateral_margin_n, 0)
        tilt = np.hypot(w[:, col["tx"]], w[:, col["ty"]])
        tilt = np.maximum(tilt - params.tilt_nm - params.tilt_margin_nm, 0)
        tz = x[:, col["tz"]]
        dtz = np.abs(np.diff(tz, prepend=tz[:1]))
        noise = float(np.std(np.diff(tz[:n_tare]))) if n_tare > 2 else 0.0
        noise = max(noise, 1e-3)
        chatter = np.maximum(dtz / noise - params.chatter_sigmas, 0)
        score = (press / params.press_margin_n + lateral / params.lateral_margin_n
                 + tilt / params.tilt_margin_nm + chatter)
        score[:n_tare] = 0.0  # nothing is known about "normal" before the tare is done
        return score
