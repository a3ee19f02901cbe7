"""Makespan-optimal preemption: when aborting an attempt on a detector's alarm pays.

A task is attempted until one attempt succeeds. An attempt succeeds with probability s
(f = 1 - s fails); a success takes T_S on average, a failure T_F, and every attempt that does
not end in success is followed by a reset of length r. A detector watching the attempt fires
on a failing attempt with probability TPR, on average tau_TP into it, and on a successful one
with probability FPR, at tau_FP. Preempting means aborting the attempt when the alarm fires.

Renewal argument. Attempts are i.i.d. cycles; the task ends at the first cycle that ends in
a kept success, which happens with probability p = s (1 - FPR) per cycle, so the number of
cycles N is geometric with E[N] = 1/p. By Wald's identity, E[makespan] = E[N] E[C], where C
is one cycle's length (the last cycle has no reset, which the success term reflects):

    E[C] = s(1-FPR) T_S + s FPR (tau_FP + r) + f TPR (tau_TP + r) + f (1-TPR)(T_F + r)

    E[M_preempt] = E[C] / (s (1 - FPR))
    E[M_none]    = T_S + (f / s)(T_F + r)               (TPR = FPR = 0)

Exactly, T_S in the first term is the mean time of the successes the detector lets run and
T_F in the last that of the failures it misses; a detector fires more often on long
attempts, so these differ from the overall means. `estimate_from_history` estimates both
(`t_s_kept`, `t_f_missed`); with them left unset the formula is the one above.

Subtracting (with the overall means), preemption shortens the expected makespan iff

    f TPR (T_F - tau_TP) > FPR [f (T_F + r) + s (tau_FP + r)]

(the time saved on caught failures beats the successes thrown away, each of which costs a
whole failed-attempt cycle's worth of expected rework).

The inputs are learned from run history recorded in shadow mode: each attempt ran to its end
while the detector only recorded when it would have fired. This module is pure: no I/O
beyond `load_history`, no clock.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from engine.errors import InputError
from engine.files import loads, read_text
from engine.stepsettings import parse_duration


@dataclass(frozen=True, slots=True)
class CellStats:
    s: float  # success probability of one attempt
    t_s: float  # mean success time (s)
    t_f: float  # mean failure time (s)
    reset: float  # r (s)
    tpr: float = 0.0
    fpr: float = 0.0
    tau_tp: float = 0.0  # mean alarm time on failures (s)
    tau_fp: float = 0.0  # mean alarm time on successes (s)
    t_s_kept: float | None = None  # mean time of successes the detector lets run (else t_s)
    t_f_missed: float | None = None  # mean time of failures it misses (else t_f)

    def __post_init__(self) -> None:
        if not 0 < self.s <= 1:
            raise InputError(f"success probability must be in (0, 1], got {self.s}",
                             hint="A task that never succeeds has no finite makespan")
        for name in ("tpr", "fpr"):
            v = getattr(self, name)
            if not 0 <= v <= 1:
                raise InputError(f"{name} must be in [0, 1], got {v}")
        for name in ("t_s", "t_f", "reset"):
            if getattr(self, name) < 0:
                raise InputError(f"{name} must be >= 0")


def makespan_without_detector(c: CellStats) -> float:
    return c.t_s + (1 - c.s) / c.s * (c.t_f + c.reset)


def makespan_with_preemption(c: CellStats) -> float:
    s, f = c.s, 1 - c.s
    kept = s * (1 - c.fpr)
    if kept <= 0:
        return math.inf  # every success is aborted: the task never ends
    t_s = c.t_s if c.t_s_kept is None else c.t_s_kept
    t_f = c.t_f if c.t_f_missed is None else c.t_f_missed
    cycle = (kept * t_s + s * c.fpr * (c.tau_fp + c.reset)
             + f * c.tpr * (c.tau_tp + c.reset) + f * (1 - c.tpr) * (t_f + c.reset))
    return cycle / kept


def preemption_pays(c: CellStats) -> bool:
    """The closed-form inequality; equivalent to makespan_with < makespan_without."""
    s, f = c.s, 1 - c.s
    return f * c.tpr * (c.t_f - c.tau_tp) > c.fpr * (f * (c.t_f + c.reset)
                                                      + s * (c.tau_fp + c.reset))


@dataclass(frozen=True, slots=True)
class Attempt:
    """One recorded attempt, in shadow mode: it ran to its end; `alarm_s` is when the
    detector would have fired (None: it did not)."""

    success: bool
    duration_s: float
    alarm_s: float | None = None


def estimate_from_history(attempts: Sequence[Attempt], *, reset_s: float) -> CellStats:
    """Plug-in estimates of every input from shadow-mode history.

    An alarm after the attempt ended does not count (it could not have preempted it).
    """
    if not attempts:
        raise InputError("no attempts in the history",
                         hint="Record attempts with the detector in shadow mode first")
    ok = [a for a in attempts if a.success]
    bad = [a for a in attempts if not a.success]
    if not ok:
        raise InputError(f"none of {len(attempts)} attempts succeeded: the success rate and "
                         "success time cannot be estimated", hint="Record more attempts")

    def fired(a: Attempt) -> bool:
        return a.alarm_s is not None and a.alarm_s < a.duration_s

    tp = [a.alarm_s for a in bad if fired(a)]
    fp = [a.alarm_s for a in ok if fired(a)]
    kept = [a.duration_s for a in ok if not fired(a)]
    missed = [a.duration_s for a in bad if not fired(a)]
    return CellStats(
        s=len(ok) / len(attempts), t_s=_mean([a.duration_s for a in ok]),
        t_f=_mean([a.duration_s for a in bad]) if bad else 0.0, reset=reset_s,
        tpr=len(tp) / len(bad) if bad else 0.0, fpr=len(fp) / len(ok),
        tau_tp=_mean(tp) if tp else 0.0, tau_fp=_mean(fp) if fp else 0.0,  # type: ignore[arg-type]
        t_s_kept=_mean(kept) if kept else None, t_f_missed=_mean(missed) if missed else None)


@dataclass(frozen=True, slots=True)
class Decision:
    stats: CellStats
    without: float
    preemptive: float
    preempt: bool
    gain_s: float  # without - preemptive

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "stats": asdict(self.stats)}


def decide(stats: CellStats) -> Decision:
    """Both expected makespans; preempt iff that is shorter (with the overall means this
    is exactly `preemption_pays`)."""
    without, pre = makespan_without_detector(stats), makespan_with_preemption(stats)
    return Decision(stats=stats, without=without, preemptive=pre, preempt=pre < without,
                    gain_s=without - pre)


MAX_SECONDS = 1e9
"""The longest time a history or a reset may say (31 years): past it the expected makespans
overflow to inf and nan, and a decision compared nan with nan."""


class _Record(BaseModel):
    """One line of a history file, strictly: `"false"` is not a boolean, NaN not a time."""

    model_config = ConfigDict(extra="ignore", strict=True)
    success: bool
    duration_s: float = Field(gt=0, le=MAX_SECONDS, allow_inf_nan=False)
    alarm_s: float | None = Field(default=None, ge=0, le=MAX_SECONDS, allow_inf_nan=False)

    @field_validator("duration_s", "alarm_s", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def load_history(path: str | Path) -> list[Attempt]:
    """JSON lines, one attempt each: {"success": true, "duration_s": 31.2, "alarm_s": null}."""
    p = Path(path)
    lines = read_text(p, what="history file", error=InputError,
                      hint="Record attempts first (one JSON object per line)").splitlines()
    out = []
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = _Record.model_validate(loads(line, parse_constant=_no_constant))
        except (json.JSONDecodeError, ValueError) as exc:
            raise InputError(f"bad attempt record: {_why(exc)}", file=str(p), line=i,
                             hint='Each line: {"success": true or false, "duration_s": a '
                                  'number > 0, "alarm_s": a number >= 0 or null}, in seconds '
                                  f'(at most {MAX_SECONDS:g})') from None
        out.append(Attempt(success=row.success, duration_s=row.duration_s, alarm_s=row.alarm_s))
    return out


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number")


def _why(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        return f"{where}: {err['msg']}" if where else err["msg"]
    return str(exc)


# -- the decision a run makes: enough history, an interval, then preempt or not ----------------

MIN_ATTEMPTS = 20
MIN_FAILURES = 3
BOOTSTRAP_SAMPLES = 1000



class PolicySettings(BaseModel):
    """Where a playbook's policy comes from: front matter `policy:` (every detect step of the
    guide) or a detect step's own `policy:`; `mendflow policy GUIDE` reads the same."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    history: str = Field(description="Shadow-mode attempts, JSON lines (relative: to the "
                         "working directory).")
    reset: float = Field(default=1.0, ge=0, le=MAX_SECONDS,
                         description="Seconds to reset the cell.")
    min_attempts: int = Field(default=MIN_ATTEMPTS, ge=1, le=100_000)
    default: Literal["abort", "run_on"] = Field(
        default="abort", description="What an alarm does while the history is too short.")

    @field_validator("reset", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return parse_duration(value)


@dataclass(frozen=True, slots=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a detector's alarm does under the policy, and why.

    `preempt` is the action: abort the attempt on the alarm. With enough history it is the
    makespan decision (`decide`); with too little, the guide's default, and `reason` says so.
    The bootstrap intervals (90%, resampling attempts) show how sure the estimate is;
    `pays_share` is the share of resamples in which preemption shortens the makespan."""

    preempt: bool
    reason: str
    attempts: int
    decision: Decision | None = None
    without: Interval | None = None
    preemptive: Interval | None = None
    pays_share: float | None = None

    def as_dict(self) -> dict[str, Any]:
        d = self.decision
        return {
            "preempt": self.preempt, "reason": self.reason, "attempts": self.attempts,
            "decided_by": "history" if d is not None else "guide default",
            "without_s": None if d is None else round(d.without, 3),
            "preemptive_s": None if d is None else _round(d.preemptive),
            "without_interval_s": _pair(self.without),
            "preemptive_interval_s": _pair(self.preemptive),
            "pays_share": self.pays_share,
        }


def verdict(history: Sequence[Attempt], *, reset_s: float, default_preempt: bool = True,
            min_attempts: int = MIN_ATTEMPTS, min_failures: int = MIN_FAILURES,
            samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> Verdict:
    """The policy's verdict on a history: the same for `mendflow policy` and a run's detector
    step. Deterministic (the resampling is seeded)."""
    n = len(history)
    failures = sum(1 for a in history if not a.success)
    successes = n - failures
    fallback = "abort on the alarm" if default_preempt else "let the attempt run on"
    if n < min_attempts or failures < min_failures or successes < 1:
        short = (f"{n} attempts" if n < min_attempts else
                 f"{failures} failures" if failures < min_failures else "no success")
        need = (f"{min_attempts} attempts" if n < min_attempts else
                f"{min_failures} failures" if failures < min_failures else "one success")
        return Verdict(preempt=default_preempt, attempts=n,
                       reason=f"too little history ({short}; {need} needed): following the "
                              f"guide's default ({fallback})")
    d = decide(estimate_from_history(history, reset_s=reset_s))
    rng = random.Random(seed)
    withouts, pres, pays = [], [], 0
    for _ in range(samples):
        sample = [history[rng.randrange(n)] for _ in range(n)]
        try:
            b = decide(estimate_from_history(sample, reset_s=reset_s))
        except InputError:  # a resample without a success: its makespan is unbounded
            withouts.append(math.inf)
            pres.append(math.inf)
            continue
        withouts.append(b.without)
        pres.append(b.preemptive)
        pays += b.preempt
    share = pays / samples
    reason = (f"preemption pays: {d.without:.1f} s -> {d.preemptive:.1f} s expected "
              f"(it pays in {share:.0%} of resamples)" if d.preempt else
              f"preemption does not pay: {d.without:.1f} s without, {_show(d.preemptive)} s "
              f"with (it pays in {share:.0%} of resamples)")
    return Verdict(preempt=d.preempt, reason=reason, attempts=n, decision=d,
                   without=_interval(withouts), preemptive=_interval(pres),
                   pays_share=round(share, 4))


def verdict_for(settings: PolicySettings) -> Verdict:
    """The verdict on the history a policy names; a history file that is not there yet is
    no history (the guide's default holds, and the reason says where it looked)."""
    default = settings.default == "abort"
    if not Path(settings.history).exists():
        fallback = "abort on the alarm" if default else "let the attempt run on"
        return Verdict(preempt=default, attempts=0,
                       reason=f"no history at {settings.history}: following the guide's "
                              f"default ({fallback})")
    return verdict(load_history(settings.history), reset_s=settings.reset,
                   default_preempt=default, min_attempts=settings.min_attempts)


def _interval(xs: list[float]) -> Interval:
    xs = sorted(xs)
    lo, hi = xs[int(0.05 * (len(xs) - 1))], xs[int(math.ceil(0.95 * (len(xs) - 1)))]
    return Interval(lo, hi)


def _pair(i: Interval | None) -> list[float | None] | None:
    return None if i is None else [_round(i.low), _round(i.high)]


def _round(x: float) -> float | None:
    return round(x, 3) if math.isfinite(x) else None  # JSON has no infinity


def _show(x: float, digits: int = 1) -> str:
    return f"{x:.{digits}f}" if math.isfinite(x) else "unbounded"


def policy_report(attempts: Iterable[Attempt] | str | Path, *, reset_s: float = 1.0,
                  title: str = "", default_preempt: bool = True,
                  min_attempts: int = MIN_ATTEMPTS) -> str:
    """What `mendflow policy GUIDE --history FILE --reset R` prints."""
    history = load_history(attempts) if isinstance(attempts, (str, Path)) else list(attempts)
    if not history:
        raise InputError("no attempts in the history",
                         file=str(attempts) if isinstance(attempts, (str, Path)) else None,
                         hint="Record attempts with the detector in shadow mode first")
    v = verdict(history, reset_s=reset_s, default_preempt=default_preempt,
                min_attempts=min_attempts)
    head = f"{title}: " if title else ""
    if v.decision is None:
        return f"{head}{len(history)} attempts\ndecision: {v.reason}"
    d, c = v.decision, v.decision.stats
    assert v.without is not None and v.preemptive is not None
    verdict_text = ("preempt: abort an attempt when the detector fires" if d.preempt else
                    "do not preempt: let attempts run to their end (the detector costs more "
                    "successes than it saves time)")
    return "\n".join([
        (f"{head}{len(history)} attempts, success rate {c.s:.3f}, T_S {c.t_s:.2f} s, "
         f"T_F {c.t_f:.2f} s, reset {c.reset:g} s"),
        f"detector: TPR {c.tpr:.3f} at {c.tau_tp:.2f} s, FPR {c.fpr:.3f} at {c.tau_fp:.2f} s",
        (f"expected makespan without preemption {d.without:.2f} s, with preemption "
         f"{_show(d.preemptive, 2)} s ({d.gain_s:+.2f} s saved)"),
        (f"90% bootstrap intervals: without {_show(v.without.low)}-{_show(v.without.high)} s, "
         f"with {_show(v.preemptive.low)}-{_show(v.preemptive.high)} s; preemption pays in "
         f"{v.pays_share:.0%} of {BOOTSTRAP_SAMPLES} resamples"),
        f"decision: {verdict_text}",
    ])


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs)
