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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine.errors import InputError
from engine.files import read_text


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
            row = json.loads(line)
            out.append(_attempt(row))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise InputError(f"bad attempt record: {exc}", file=str(p), line=i,
                             hint='Each line: {"success": bool, "duration_s": number, '
                                  '"alarm_s": number or null}') from None
    return out


def _attempt(row: Any) -> Attempt:
    if not isinstance(row, Mapping):
        raise ValueError(f"a record is a JSON object, not a {type(row).__name__}")
    alarm = row.get("alarm_s")
    return Attempt(success=bool(row["success"]), duration_s=float(row["duration_s"]),
                   alarm_s=None if alarm is None else float(alarm))


def policy_report(attempts: Iterable[Attempt] | str | Path, *, reset_s: float = 1.0,
                  title: str = "") -> str:
    """What `mendflow policy GUIDE --history FILE --reset R` prints."""
    history = load_history(attempts) if isinstance(attempts, (str, Path)) else list(attempts)
    d = decide(estimate_from_history(history, reset_s=reset_s))
    c = d.stats
    verdict = ("preempt: abort an attempt when the detector fires" if d.preempt else
               "do not preempt: let attempts run to their end (the detector costs more "
               "successes than it saves time)")
    head = f"{title}: " if title else ""
    return "\n".join([
        (f"{head}{len(history)} attempts, success rate {c.s:.3f}, T_S {c.t_s:.2f} s, "
        f"T_F {c.t_f:.2f} s, reset {c.reset:g} s"),
        f"detector: TPR {c.tpr:.3f} at {c.tau_tp:.2f} s, FPR {c.fpr:.3f} at {c.tau_fp:.2f} s",
        (f"expected makespan without preemption {d.without:.2f} s, with preemption "
        f"{d.preemptive:.2f} s ({d.gain_s:+.2f} s saved)"),
        f"decision: {verdict}",
    ])


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs)
