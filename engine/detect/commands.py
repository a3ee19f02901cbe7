"""What `mendflow detector calibrate|combine|evaluate` do, as functions returning text.

A detector plugin that can be calibrated provides, besides `run`, a pure scoring method

    def score(self, *, params, t: ndarray, x: ndarray, channels: list[str]) -> ndarray

one score per sample, causal (the score at step i uses samples <= i), and optionally

    def fit_params(self, *, params, runs: list[(t, x, channels)]) -> dict[str, float]

the parameters it fits from successful runs when `params` leaves them unset (ft_jam_slip's
nominal force levels); calibration stores them in the artifact. These functions find
it through the plugin registry, score recorded runs (`engine.detect.runs`), window the
scores, calibrate on the successful runs only, and store or apply the artifact. They print
nothing; the CLI prints what they return.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from engine.detect.artifact import (
    BandData,
    Calibration,
    data_hash,
    load_calibration,
    now_iso,
    save_calibration,
)
from engine.detect.conformal import (
    combined_alarm_index,
    combined_alpha_bound,
    exact_false_alarm_rate,
    exceed_probability,
    fit_band,
    fit_max,
    min_calibration_runs,
    rate_bound,
)
from engine.detect.errors import DetectError, TooFewRuns
from engine.detect.metrics import Metrics, Verdict, evaluate_alarms
from engine.detect.runs import RecordedRun, read_run, run_files
from engine.detect.windows import clean_stream, first_crossing, window_sum
from engine.plugins import Registry, default_registry, parse_params

DEFAULT_MAX_GAP_S = 0.5


@runtime_checkable
class Scorer(Protocol):
    name: ClassVar[str]

    def score(self, *, params: Any, t: np.ndarray, x: np.ndarray,
              channels: list[str]) -> np.ndarray: ...


@dataclass(frozen=True, slots=True)
class BoundScorer:
    """A detector with its parsed params: scores and windows a stream."""

    scorer: Any
    params: Any
    window: int

    def aggregate(self, t: np.ndarray, x: np.ndarray, channels: list[str]) -> np.ndarray:
        scores = np.asarray(self.scorer.score(params=self.params, t=t, x=x, channels=channels),
                            dtype=float)
        if scores.shape != (len(t),):
            raise DetectError(f"detector {self.scorer.name!r} returned {scores.shape} scores "
                              f"for {len(t)} samples", hint="A detector gives one score "
                              "per sample")
        return window_sum(np.nan_to_num(scores, nan=0.0), self.window)


def bind_scorer(detector: str, params: Mapping[str, Any] | None, window: int, *,
                registry: Registry | None = None) -> BoundScorer:
    registry = registry or default_registry()
    cls = registry.get(detector)
    if not hasattr(cls, "score"):
        raise DetectError(f"detector {detector!r} cannot be calibrated (it has no score())",
                          hint="Calibrate a detector that scores streams, e.g. ft_jam_slip")
    parsed = parse_params(cls, dict(params or {}))
    return BoundScorer(registry.instance(detector), parsed, window)


def alarm_index(cal: Calibration, aggregate: np.ndarray) -> int | None:
    """First step at which a calibrated (max or band) detector fires."""
    if cal.method == "max":
        assert cal.threshold is not None
        return first_crossing(aggregate, cal.threshold)
    if cal.method == "band":
        assert cal.band is not None
        upper = (_extend(np.asarray(cal.band.mean), len(aggregate))
                 + cal.band.h * _extend(np.asarray(cal.band.spread), len(aggregate)))
        return first_crossing(aggregate, upper)
    raise DetectError("a combined calibration fires on its components' alarms",
                      hint="Use run_alarm() for combined calibrations")


def threshold_at(cal: Calibration, index: int) -> float:
    """The threshold in force at a step (constant for `max`, the band's upper edge else)."""
    if cal.method == "band" and cal.band is not None:
        i = min(index, len(cal.band.mean) - 1)
        return cal.band.mean[i] + cal.band.h * cal.band.spread[i]
    return float(cal.threshold) if cal.threshold is not None else math.nan


def run_alarm(cal: Calibration, run: RecordedRun, *, registry: Registry | None = None,
              max_gap_s: float = DEFAULT_MAX_GAP_S) -> tuple[int | None, np.ndarray]:
    """(first alarm step or None, the aggregate) of a calibrated detector on one run."""
    t, x, _ = clean_stream(run.t, run.x, max_gap_s=max_gap_s)
    if cal.method == "combined":
        idx = [run_alarm(c, RecordedRun(t, x, run.channels), registry=registry,
                         max_gap_s=max_gap_s) for c in cal.components]
        assert cal.rule is not None
        return combined_alarm_index(idx[0][0], idx[1][0], cal.rule), idx[0][1]
    bound = bind_scorer(cal.detector, cal.params, cal.window, registry=registry)
    agg = bound.aggregate(t, x, run.channels)
    return alarm_index(cal, agg), agg


def calibrate(runs: Sequence[RecordedRun], *, detector: str, params: Mapping[str, Any] | None,
              alpha: float, window: int, method: str = "max", fit_fraction: float = 0.5,
              seed: int = 0, registry: Registry | None = None,
              max_gap_s: float = DEFAULT_MAX_GAP_S, hash_: str = "") -> Calibration:
    """Calibrate a detector on the successful runs among `runs`.

    A detector with `fit_params` first fits the parameters `params` leaves unset: on all
    the successful runs for `max` (a median over runs moves little with any one of them, so
    the threshold's rank keeps its rate up to that; the tests measure it), on the band's fit
    part only for `band`."""
    ok = [r for r in runs if r.label == "success"]
    if method not in ("max", "band"):
        raise DetectError(f"unknown calibration method {method!r}", hint="Use max or band")
    bound = bind_scorer(detector, params, window, registry=registry)
    streams = []
    for r in ok:
        t, x, _ = clean_stream(r.t, r.x, max_gap_s=max_gap_s)
        streams.append((t, x, r.channels))
    order = list(range(len(streams)))
    if method == "band":
        random.Random(seed).shuffle(order)
    n_fit = max(2, round(fit_fraction * len(order))) if method == "band" else len(order)
    bound, fitted = _fit(bound, [streams[i] for i in order[:n_fit]])
    aggs = [bound.aggregate(t, x, channels) for t, x, channels in streams]
    # Every parameter the score used, defaults and fitted ones included.
    used = bound.params.model_dump(mode="json", exclude_none=True) \
        if hasattr(bound.params, "model_dump") else dict(params or {})
    common = {"detector": detector, "params": used, "fitted": fitted, "alpha": alpha,
              "window": window, "data_hash": hash_, "created_at": now_iso(),
              "runs_used": len(ok)}
    if method == "max":
        fit = fit_max(aggs, alpha)
        return Calibration(method="max", n=fit.n, k=fit.k, threshold=fit.threshold,
                           false_alarm_rate=exact_false_alarm_rate(fit.n, alpha), **common)
    if method == "band":
        fit_part = [aggs[i] for i in order[:n_fit]]
        cal_part = [aggs[i] for i in order[n_fit:]]
        if len(cal_part) < min_calibration_runs(alpha):
            raise TooFewRuns(
                f"{len(ok)} successful runs leave {len(cal_part)} to calibrate the band "
                f"after {n_fit} fit it; alpha={alpha:g} needs at least "
                f"{min_calibration_runs(alpha)}",
                hint=f"Record at least {n_fit + min_calibration_runs(alpha)} successful runs "
                     "or lower fit_fraction")
        band = fit_band(fit_part, cal_part, alpha)
        return Calibration(method="band", n=band.n_cal, k=band.k,
                           band=BandData(mean=[float(v) for v in band.mean],
                                         spread=[float(v) for v in band.spread],
                                         h=band.h, n_fit=band.n_fit),
                           false_alarm_rate=exact_false_alarm_rate(band.n_cal, alpha),
                           **common)
    raise AssertionError(method)  # refused above


def _fit(bound: BoundScorer, streams: Sequence[tuple[np.ndarray, np.ndarray, list[str]]],
         ) -> tuple[BoundScorer, dict[str, float]]:
    """The scorer bound to what the detector fits (nothing for most), and the fitted values."""
    fit = getattr(bound.scorer, "fit_params", None)
    if fit is None or not hasattr(bound.params, "model_copy"):
        return bound, {}
    fitted: dict[str, float] = fit(params=bound.params, runs=list(streams))
    if not fitted:
        return bound, {}
    return replace(bound, params=bound.params.model_copy(update=fitted)), fitted


def calibrate_cmd(runs: Path, *, detector: str, out: Path, alpha: float = 0.1,
                  window: int = 25, method: str = "max", params: Mapping[str, Any] | None = None,
                  fit_fraction: float = 0.5, seed: int = 0,
                  registry: Registry | None = None) -> str:
    """`mendflow detector calibrate RUNS --detector D --alpha A --window W --method M --out F`."""
    files = run_files(runs)
    loaded = [read_run(p) for p in files]
    used = [p for p, r in zip(files, loaded, strict=True) if r.label == "success"]
    cal = calibrate(loaded, detector=detector, params=params, alpha=alpha, window=window,
                    method=method, fit_fraction=fit_fraction, seed=seed, registry=registry,
                    hash_=data_hash(used))
    save_calibration(cal, out)
    level = (f"threshold {cal.threshold:.4g}" if cal.method == "max"
             else f"band scale h={cal.band.h:.4g} (fitted on {cal.band.n_fit} runs)"
             if cal.band else "")
    risk, bound = exceed_probability(cal.n, alpha), rate_bound(cal.n, alpha)
    return (f"calibrated {detector} ({cal.method}, window {window}) on {cal.n} successful "
            f"runs of {len(loaded)}: {level}, rank k={cal.k}; false-alarm rate on a new "
            f"successful run {cal.false_alarm_rate:.4f} <= alpha={alpha:g} on average over "
            f"calibration sets; this set's own rate: above alpha with chance {risk:.0%}, at "
            f"most {bound:.4f} with 90% confidence (more successful runs bring it nearer "
            f"alpha){_fitted_line(cal)}\nwrote {out}")


def _fitted_line(cal: Calibration) -> str:
    if not cal.fitted:
        return ""
    where = (f"the {cal.band.n_fit} runs that fitted the band" if cal.band is not None
             else f"the {cal.runs_used} successful runs")
    return ("\nfitted from " + where + ": "
            + ", ".join(f"{k}={v:.4g}" for k, v in cal.fitted.items()))


def combine_cmd(first: Path, second: Path, *, rule: str, out: Path) -> str:
    """`mendflow detector combine CAL1 CAL2 --rule and|or --out F` (FIPER-style)."""
    a, b = load_calibration(first), load_calibration(second)
    if rule not in ("and", "or"):
        raise DetectError(f"rule must be 'and' or 'or', got {rule!r}")
    bound = combined_alpha_bound(a.false_alarm_rate, b.false_alarm_rate, rule)
    cal = Calibration(detector=f"{a.detector}+{b.detector}", method="combined",
                      alpha=combined_alpha_bound(a.alpha, b.alpha, rule), n=min(a.n, b.n),
                      k=0, window=max(a.window, b.window), rule=rule, components=[a, b],
                      false_alarm_rate=bound, data_hash=f"{a.data_hash}+{b.data_hash}",
                      created_at=now_iso(), runs_used=max(a.runs_used, b.runs_used))
    save_calibration(cal, out)
    return (f"combined {a.detector} {rule.upper()} {b.detector}: false-alarm rate <= "
            f"{bound:.4f}\nwrote {out}")


def evaluate(runs: Sequence[RecordedRun], cal: Calibration, *,
             registry: Registry | None = None,
             max_gap_s: float = DEFAULT_MAX_GAP_S) -> tuple[Metrics, list[Verdict]]:
    verdicts = []
    for r in runs:
        if r.label not in ("success", "failure"):
            continue
        idx, _ = run_alarm(cal, r, registry=registry, max_gap_s=max_gap_s)
        alarm_s = None if idx is None else float(r.t[idx] - r.t[0])
        verdicts.append(Verdict(label=r.label, alarm_s=alarm_s, duration_s=r.duration_s))
    return evaluate_alarms(verdicts), verdicts


def evaluate_cmd(runs: Path, *, calibration: Path, registry: Registry | None = None) -> str:
    """`mendflow detector evaluate RUNS --calibration F`: the metrics, one per line."""
    cal = load_calibration(calibration)
    m, _ = evaluate([read_run(p) for p in run_files(runs)], cal, registry=registry)
    return "\n".join([
        (f"detector {cal.detector} ({cal.method}, alpha={cal.alpha:g}, window {cal.window}) "
        f"on {m.n_failure} failed and {m.n_success} successful runs"),
        (f"TPR {m.tpr:.3f}   TNR {m.tnr:.3f}   balanced accuracy {m.balanced_accuracy:.3f}"
        f"   F1 {m.f1:.3f}"),
        (f"mean detection time {m.mean_detection_fraction:.3f} of the run "
        f"(true alarms at {m.tau_tp_s:.2f} s, false alarms at {m.tau_fp_s:.2f} s)"),
    ])


def _extend(values: np.ndarray, length: int) -> np.ndarray:
    if length <= len(values):
        return values[:length]
    return np.concatenate([values, np.full(length - len(values), values[-1])])
