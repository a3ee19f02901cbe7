"""Monte-Carlo campaigns on the simulated cell: attempts until success, with or without
preemption, and shadow-mode histories for `engine.policy`.

An attempt is drawn by `cell_model`; a detector (any `alarm(attempt) -> seconds | None`)
says when it would fire. Without preemption an attempt runs to its end; with it, an alarm
aborts the attempt, which then counts as not successful (a reset follows). Pure and seeded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from engine.detect import Calibration, window_sum
from engine.detect.commands import alarm_index
from engine.plugins import parse_params
from engine.policy import Attempt, CellStats, estimate_from_history
from plugins.robot.cell_model import CHANNELS, DEFAULT_CELL, CellConfig, generate_attempt
from plugins.robot.cell_model import Attempt as CellAttempt

AlarmFn = Callable[[CellAttempt], float | None]


def calibrated_alarm(detector: type, cal: Calibration) -> AlarmFn:
    """An alarm function from a detector class and its calibration."""
    det, params = detector(), parse_params(detector, cal.params)

    def alarm(a: CellAttempt) -> float | None:
        s = det.score(params=params, t=a.t, x=a.wrench, channels=list(CHANNELS))
        idx = alarm_index(cal, window_sum(np.asarray(s), cal.window))
        return None if idx is None else float(a.t[idx])

    return alarm


def shadow_history(rng: np.random.Generator, n: int, alarm: AlarmFn | None,
                   cfg: CellConfig = DEFAULT_CELL, *,
                   success: bool | None = None) -> list[Attempt]:
    out = []
    for _ in range(n):
        a = generate_attempt(rng, cfg, success=success)
        out.append(Attempt(a.success, a.duration_s, alarm(a) if alarm else None))
    return out


def cell_stats(rng: np.random.Generator, n_each: int, alarm: AlarmFn | None,
               cfg: CellConfig = DEFAULT_CELL) -> CellStats:
    """The policy's inputs for a detector on the cell: s is the cell's own; the detector's
    rates, alarm times and durations are estimated from n_each successes and n_each
    failures (stratified, so that no estimate waits on the rarer outcome)."""
    h = (shadow_history(rng, n_each, alarm, cfg, success=True)
         + shadow_history(rng, n_each, alarm, cfg, success=False))
    return replace(estimate_from_history(h, reset_s=cfg.reset_s), s=cfg.success_p)


@dataclass(frozen=True, slots=True)
class Campaign:
    makespans: np.ndarray
    attempts: np.ndarray

    @property
    def mean(self) -> float:
        return float(self.makespans.mean())

    @property
    def se(self) -> float:
        return float(self.makespans.std(ddof=1) / np.sqrt(len(self.makespans)))


def run_tasks(rng: np.random.Generator, tasks: int, alarm: AlarmFn | None, *,
              preempt: bool, cfg: CellConfig = DEFAULT_CELL, max_attempts: int = 1000) -> Campaign:
    """Makespan of each of `tasks` tasks (attempts until one succeeds)."""
    spans, counts = [], []
    for _ in range(tasks):
        total, k = 0.0, 0
        while k < max_attempts:
            k += 1
            a = generate_attempt(rng, cfg)
            at = alarm(a) if (alarm is not None and preempt) else None
            if at is not None and at < a.duration_s:
                total += at + cfg.reset_s
                continue
            if a.success:
                total += a.duration_s
                break
            total += a.duration_s + cfg.reset_s
        spans.append(total)
        counts.append(k)
    return Campaign(np.asarray(spans), np.asarray(counts))
