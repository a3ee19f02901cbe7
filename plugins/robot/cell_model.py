"""The simulated peg-in-hole cell's physics: one attempt as a 6-axis force-torque trace.

Pure and seedable (numpy's Generator): no clock, no I/O. The OPC UA server (`sim_cell`)
plays these traces out in (scaled) real time; tests and the benchmark use them directly.

An attempt goes through approach (free air), contact (the peg presses down to `press_n`,
10 N by default), search (a spiral: lateral forces of amplitude `search_n`, 2 N by
default) and insertion (the press relaxes as the peg slides in). It succeeds with
probability `success_p`; durations are Gamma-distributed with the configured means
(defaults from the published peg-in-hole study: s=0.53, T_S=29.85 s, T_F=68.86 s, reset
1 s). A failing attempt shows one failure mode from an onset time until the controller
gives up at its (longer) duration:

- jam: the peg wedges: pressing force and tilt torques rise, the search stalls;
- slip: the peg slips in the gripper: pressing force drops, stick-slip chatter on Tz;
- misalignment: a growing lateral force and torque as the peg rides the chamfer;
- obstruction: something in the hole: a hard, jittery contact from the first touch.

Severity is random, so some failures are subtle. A benign constant sensor offset (an
uncompensated F/T bias) appears on some attempts of either kind and must not raise alarms;
successful attempts also carry short harmless bumps.

Channels: fx, fy, fz (N), tx, ty, tz (N m), sampled at `rate_hz`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

CHANNELS = ["fx", "fy", "fz", "tx", "ty", "tz"]
MODES = ("misalignment", "jam", "slip", "obstruction")
PHASES = ("approach", "contact", "search", "insertion")

APPROACH_S = 2.5
CONTACT_S = 1.0


@dataclass(frozen=True, slots=True)
class CellConfig:
    success_p: float = 0.53
    mean_success_s: float = 29.85
    mean_failure_s: float = 68.86
    reset_s: float = 1.0
    rate_hz: float = 50.0
    duration_shape: float = 9.0  # Gamma shape: coefficient of variation 1/3
    offset_p: float = 0.25  # share of attempts with a benign sensor offset
    offset_n: float = 6.0  # its largest magnitude per force axis (N)
    bump_p: float = 0.3  # share of successful attempts with a harmless bump
    force_noise: float = 0.3
    torque_noise: float = 0.02
    modes: tuple[str, ...] = MODES
    # How hard failures are to see: a failure's severity is drawn from `severity`; its onset
    # (all but obstruction) falls at a fraction of the search phase drawn from `onset`; the
    # sensor noise is scaled by `noise`. These decide how well any detector can do, so they
    # are settings, swept by bench/bench_makespan.py --sweep (easy / paper-like / hard).
    severity: tuple[float, float] = (0.1, 1.2)
    onset: tuple[float, float] = (0.05, 0.35)
    noise: float = 1.0
    # The nominal contact: the pressing force and the search's lateral amplitude (N). A
    # detector must learn them from recorded runs (`mendflow detector calibrate`), so cells
    # that press harder or search wider are settings too.
    press_n: float = 10.0
    search_n: float = 2.0


DEFAULT_CELL = CellConfig()

# The sweep: the same cell statistics (s, T_S, T_F, r: the paper's), failures easier or
# harder to see. "easy" is the default the tests use (failures early and gross); "paper-like"
# puts the onset halfway through the search, as in the paper's cell; "hard" also makes the
# failures a third as severe on a sensor twice as noisy.
SCENARIOS = {
    "easy": DEFAULT_CELL,
    "paper-like": replace(DEFAULT_CELL, onset=(0.35, 0.65)),
    "hard": replace(DEFAULT_CELL, onset=(0.35, 0.65), severity=(0.03, 0.36), noise=2.0),
}


@dataclass
class Attempt:
    success: bool
    mode: str | None
    duration_s: float
    onset_s: float | None
    offset: np.ndarray
    t: np.ndarray
    wrench: np.ndarray  # (steps, 6)
    phase: np.ndarray = field(repr=False)  # index into PHASES per step

    def meta(self) -> dict[str, object]:
        return {"mode": self.mode, "duration_s": round(self.duration_s, 4),
                "failure_onset_s": None if self.onset_s is None else round(self.onset_s, 4),
                "offset": [round(float(v), 4) for v in self.offset]}


def draw_duration(rng: np.random.Generator, mean: float, shape: float, floor: float) -> float:
    return max(float(rng.gamma(shape, mean / shape)), floor)


def generate_attempt(rng: np.random.Generator, cfg: CellConfig = DEFAULT_CELL, *,
                     success: bool | None = None, mode: str | None = None,
                     offset: bool | None = None) -> Attempt:
    """Draw one attempt; `success`, `mode` and `offset` force what is otherwise random."""
    if success is None:
        success = bool(rng.random() < cfg.success_p)
    floor = APPROACH_S + CONTACT_S + 3.0
    mean = cfg.mean_success_s if success else cfg.mean_failure_s
    duration = draw_duration(rng, mean, cfg.duration_shape, floor)
    dt = 1 / cfg.rate_hz
    t = np.arange(0, duration, dt)
    n = len(t)
    w = np.zeros((n, 6))
    phase = np.zeros(n, dtype=int)

    contact_at, search_at = APPROACH_S, APPROACH_S + CONTACT_S
    insert_s = min(4.0, 0.15 * duration)
    insert_at = duration - insert_s if success else np.inf
    phase[t >= contact_at] = 1
    phase[t >= search_at] = 2
    phase[t >= insert_at] = 3

    press = np.clip((t - contact_at) / CONTACT_S, 0, 1) * cfg.press_n
    w[:, 2] = -press
    searching = (t >= search_at) & (t < insert_at)
    ramp_in = np.clip((t - search_at) / 1.0, 0, 1)
    omega = 2 * np.pi * 0.5
    w[:, 0] = np.where(searching, cfg.search_n * ramp_in * np.sin(omega * t), 0.0)
    w[:, 1] = np.where(searching, cfg.search_n * ramp_in * np.cos(omega * t), 0.0)
    w[:, 3] = -0.02 * w[:, 1]
    w[:, 4] = 0.02 * w[:, 0]
    if success:
        relax = np.clip((t - insert_at) / insert_s, 0, 1)
        w[:, 2] = np.where(t >= insert_at, -cfg.press_n * (1 - 0.6 * relax), w[:, 2])
        if rng.random() < cfg.bump_p:
            at = rng.uniform(search_at, max(insert_at - 1, search_at + 0.1))
            bump = np.exp(-0.5 * ((t - at) / 0.08) ** 2)
            w[:, 2] -= 4.0 * bump
            w[:, 0] += 1.5 * bump * rng.choice([-1, 1])

    onset = None
    if not success:
        mode = mode or str(rng.choice(cfg.modes))
        sev = float(rng.uniform(*cfg.severity))
        if mode == "obstruction":
            onset = contact_at + float(rng.uniform(0.0, 0.8))
        else:
            onset = search_at + float(rng.uniform(*cfg.onset)) * (duration - search_at)
        _inject(rng, mode, sev, onset, t, w)
    else:
        mode = None

    bias = np.zeros(6)
    if offset if offset is not None else rng.random() < cfg.offset_p:
        bias[:3] = rng.uniform(-cfg.offset_n, cfg.offset_n, 3)
        bias[3:] = rng.uniform(-0.3, 0.3, 3)
    noise = rng.normal(0, 1, (n, 6)) * cfg.noise * np.array([cfg.force_noise] * 3
                                                            + [cfg.torque_noise] * 3)
    return Attempt(success=success, mode=mode, duration_s=duration, onset_s=onset,
                   offset=bias, t=t, wrench=w + bias + noise, phase=phase)


def _inject(rng: np.random.Generator, mode: str, sev: float, onset: float, t: np.ndarray,
            w: np.ndarray) -> None:
    after = t >= onset
    grow = np.clip((t - onset) / 1.5, 0, 1)
    if mode == "jam":
        frozen = np.argmax(after)
        w[after, 0] = w[frozen, 0]
        w[after, 1] = w[frozen, 1]
        w[:, 2] -= 22.0 * sev * grow
        w[:, 3] += 0.8 * sev * grow
        w[:, 4] -= 0.6 * sev * grow
    elif mode == "slip":
        w[:, 2] += 6.0 * sev * grow
        chatter = rng.normal(0, 0.12 * sev, len(t))
        w[:, 5] += np.where(after, chatter, 0.0)
        w[:, 0] += np.where(after, rng.normal(0, 0.8 * sev, len(t)), 0.0)
    elif mode == "misalignment":
        grow = np.clip((t - onset) / 3.0, 0, 1)
        direction = rng.choice([-1.0, 1.0])
        w[:, 0] += direction * 7.0 * sev * grow
        w[:, 4] += direction * 0.7 * sev * grow
    elif mode == "obstruction":
        grow = np.clip((t - onset) / 0.3, 0, 1)
        w[:, 2] -= 14.0 * sev * grow
        jitter = rng.normal(0, 1.5 * sev, (len(t), 2))
        w[:, :2] += np.where(after[:, None], jitter, 0.0)
    else:
        raise ValueError(f"unknown failure mode {mode!r}; known: {', '.join(MODES)}")
