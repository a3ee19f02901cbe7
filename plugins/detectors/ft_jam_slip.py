"""`ft_jam_slip`: a force-torque detector for insertion tasks: jams, slips, misalignment.

The wrench is tared on the first `tare_s` seconds (the free-air approach), so a constant
sensor offset cancels. The noise level of each channel is measured in the same window. Per
sample, the score adds up four excesses, each in units of what is normal:

- press: pressing force beyond the nominal press + margin (a jam or an obstruction);
- lateral: lateral force beyond the search amplitude + margin (misalignment, obstruction);
- tilt: torque about x/y beyond its nominal (wedging);
- chatter: sample-to-sample change of tz far above sensor noise (stick-slip: a slip).

The nominal levels (`press_n`, `lateral_n`, `tilt_nm`) are the cell's own and have no
defaults: `mendflow detector calibrate` fits them from the recorded successful runs (per
run, the median of the tared level over its working samples, those at or above half the
run's 99th percentile after the tare window; then the median over runs), stores them in the
calibration and the step scores with them. A step may set one explicitly (it wins, and the
step's `params_from` says so). Without a calibration and without them the step is refused:
a force limit guessed for another cell would fire on every attempt or on none. The margins
and `chatter_sigmas` keep their defaults unless given; calibration's threshold absorbs how
far they are from this cell's noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Final

import numpy as np
from pydantic import BaseModel, Field

from engine.detect import DetectError
from plugins.detectors._base import DetectParams, StreamDetector, channel_index
from plugins.detectors.streaming import Scorer, StreamTare


class FtJamSlipParams(DetectParams):
    tare_s: float = Field(default=1.0, gt=0)
    press_n: float | None = Field(default=None, ge=0, description="Nominal pressing force "
                                  "(N). Default: fitted by calibration.")
    press_margin_n: float = Field(default=3.0, gt=0)
    lateral_n: float | None = Field(default=None, ge=0, description="Nominal search "
                                    "amplitude (N). Default: fitted by calibration.")
    lateral_margin_n: float = Field(default=1.5, gt=0)
    tilt_nm: float | None = Field(default=None, ge=0, description="Nominal tilt torque "
                                  "(N m). Default: fitted by calibration.")
    tilt_margin_nm: float = Field(default=0.1, gt=0)
    chatter_sigmas: float = Field(default=4.0, gt=0)


class FtJamSlipDetector(StreamDetector):
    name: ClassVar[str] = "ft_jam_slip"
    Params: ClassVar[type[BaseModel]] = FtJamSlipParams

    def check_params(self, params: Any) -> None:
        missing = [k for k in NOMINAL if getattr(params, k) is None]
        if missing:
            raise DetectError(
                f"the cell's nominal {', '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} not known",
                hint="Calibrate on recorded successful runs (`mendflow detector calibrate "
                     "RUNS --detector ft_jam_slip`) and give calibration: FILE, or set them "
                     "in the step")

    def fit_params(self, *, params: Any,
                   runs: Sequence[tuple[np.ndarray, np.ndarray, list[str]]]) -> dict[str, float]:
        """The nominal levels the params leave unset, from successful runs (see the module
        docstring); the tare is the scorer's own."""
        unset = [k for k in NOMINAL if getattr(params, k) is None]
        if not unset:
            return {}
        levels: dict[str, list[float]] = {k: [] for k in unset}
        for t, x, channels in runs:
            col = {c: channel_index(channels, c) for c in ("fx", "fy", "fz", "tx", "ty")}
            n_in = int(np.searchsorted(t, t[0] + params.tare_s)) if len(t) else 0
            if n_in >= len(t):
                continue  # nothing after the tare window
            w = StreamTare(params.tare_s).update(t, x)[n_in:]
            signal = {"press_n": -w[:, col["fz"]],
                      "lateral_n": np.hypot(w[:, col["fx"]], w[:, col["fy"]]),
                      "tilt_nm": np.hypot(w[:, col["tx"]], w[:, col["ty"]])}
            for k in unset:
                levels[k].append(working_level(signal[k]))
        if not levels[unset[0]]:
            raise DetectError(f"{self.name}: no successful run lasts beyond the tare window "
                              f"({params.tare_s:g} s): nothing to fit the nominal levels on",
                              hint="Record whole attempts, or lower tare_s")
        return {k: round(float(np.median(v)), 6) for k, v in levels.items()}

    def scorer(self, *, params: Any, channels: list[str]) -> Scorer:
        self.check_params(params)
        return _FtScorer(params, channels)

    def score(self, *, params: Any, t: np.ndarray, x: np.ndarray,
              channels: list[str]) -> np.ndarray:
        return self.scorer(params=params, channels=channels).update(t, x)


NOMINAL: Final = ("press_n", "lateral_n", "tilt_nm")


def working_level(signal: np.ndarray) -> float:
    """The level a channel works at in one run: the median of its samples at or above half
    its 99th percentile (the pressing or searching phase, not the approach); 0 for a channel
    that stays at or below 0."""
    top = float(np.quantile(signal, 0.99))
    if top <= 0:
        return 0.0
    return float(np.median(signal[signal >= 0.5 * top]))


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
        return np.asarray(score)
