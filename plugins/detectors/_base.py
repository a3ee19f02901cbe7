"""The run loop every stream detector shares, and the parameters of a `detect` step.

    ```detect
    detector: ft_jam_slip            # the compiler maps this block to kind=detect, plugin=it
    source: opcua://127.0.0.1:4840   # or a recorded run file, or mqtt://HOST:PORT/TOPIC
    calibration: calibrations/peg.json
    ```

The loop reads blocks from the source, drops NaN samples (refusing a stream with too many
or with a time gap, `engine.detect.clean_stream`), scores every sample with the detector's
`score()`, sums the scores over the trailing window, and fires when the sum crosses the
calibrated threshold (or band). It stops at the first alarm (unless `stop_on_alarm` is off)
or when the stream ends.

Outputs (memory `steps.<id>`): `alarm` (bool), `score` (the largest windowed score seen),
`detected_at` (seconds into the stream, null without an alarm), `threshold`, `window`,
`samples`, `dropped` (NaN samples), `stream_s`, `cell_state` (live sources: the cell's state
when the step ended), `calibration`, `false_alarm_bound` (null when the step sets a scoring
parameter other than the calibration's), `params_from` (each scoring parameter's origin:
`guide` (set in the step: it wins), `fitted` (fitted by calibration from its recorded runs),
`calibration` (given or defaulted when it was calibrated) or `default`).

A bad stream, calibration or model raises StepFailed with the detector's hint; the
playbook's failure edge then stops the cell. This module knows no concrete detector.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from engine.detect import DetectError, StreamDataError, load_calibration
from engine.detect.artifact import check_detector
from engine.errors import InputError, StepFailed
from engine.plugins import PluginBase, StepContext, StepResult, default_registry, parse_params
from engine.policy import PolicySettings, Verdict, verdict_for
from plugins.detectors.sources import open_source
from plugins.detectors.streaming import CombinedWatch, Rescoring, Scorer, Watch

DEFAULT_WINDOW = 25
COMMON = frozenset({"source", "calibration", "threshold", "window", "max_gap_s",
                    "max_nan_fraction", "stop_on_alarm", "rate_hz", "poll_s", "timeout_s",
                    "max_stream_s", "policy"})


class DetectParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str | None = Field(default=None, description="Recorded run, opcua:// or mqtt://.")
    calibration: str | None = Field(default=None, description="Calibration artifact (JSON).")
    threshold: float | None = Field(default=None, description="Fixed threshold, uncalibrated.")
    window: int | None = Field(default=None, ge=1, description="Default: the calibration's.")
    max_gap_s: float = Field(default=0.5, gt=0)
    max_nan_fraction: float = Field(default=0.05, ge=0, le=1)
    stop_on_alarm: bool = True
    rate_hz: float = Field(default=50.0, gt=0, description="Live sources' sample rate.")
    poll_s: float = Field(default=0.02, gt=0)
    timeout_s: float = Field(default=2.0, gt=0, description="A live source's reply timeout.")
    max_stream_s: float | None = Field(default=None, gt=0,
                                       description="Stop watching after this much stream.")
    policy: PolicySettings | None = Field(
        default=None, description="Abort on an alarm only when the makespan policy says it "
        "pays (engine.policy); otherwise watch on to the attempt's end.")


class StreamDetector(PluginBase):
    """Base of the stream detectors: subclasses set name, Params and score()."""

    name: ClassVar[str] = "stream"
    Params: ClassVar[type[BaseModel]] = DetectParams
    read_only: ClassVar[bool] = True

    def score(self, *, params: Any, t: np.ndarray, x: np.ndarray,
              channels: list[str]) -> np.ndarray:
        raise NotImplementedError

    def describe(self, *, params: Any) -> str:
        return f"watch {params.source} with {self.name}"

    async def run(self, *, params: Any, ctx: StepContext) -> StepResult:
        try:
            return await self._watch(params, ctx)
        except DetectError as exc:
            raise StepFailed(f"{self.name}: {exc.message}", retryable=False, step=ctx.step_id,
                             hint=exc.hint) from None

    def scorer(self, *, params: Any, channels: list[str]) -> Scorer:
        """The detector's state over one stream (`plugins.detectors.streaming`). A detector
        that only defines `score()` is rescored whole on every block (O(n) per block)."""
        return Rescoring(lambda t, x: self.score(params=params, t=t, x=x, channels=channels))

    async def _watch(self, params: Any, ctx: StepContext) -> StepResult:
        if not params.source:
            raise StepFailed(f"{self.name}: no source to watch", retryable=False,
                             step=ctx.step_id, hint="Give source: a recorded run file or "
                             "opcua://HOST:PORT")
        cal = (load_calibration(params.calibration, window=params.window)
               if params.calibration else None)
        combined = cal is not None and cal.method == "combined"
        sources: dict[str, str] = {}
        if not combined:  # a step that cannot be scored is refused before its source opens
            scorer_params, window, fixed, sources = self._resolve(params, cal)
        source = open_source(params.source, rate_hz=params.rate_hz, poll_s=params.poll_s,
                             timeout_s=params.timeout_s)
        if combined:
            watch: Watch | CombinedWatch = self._combined(cal, params, source.channels)
        else:
            watch = Watch(scorer=self.scorer(params=scorer_params, channels=source.channels),
                          window=window, cal=cal, fixed=fixed, max_gap_s=params.max_gap_s,
                          max_nan_fraction=params.max_nan_fraction)
        state = None
        # The history does not change during an attempt: its verdict (a bootstrap, tens to
        # hundreds of ms) is worked out before watching, so an alarm acts on it at once.
        ready = _ask_policy(params.policy, ctx) if params.policy is not None else None
        decided: Verdict | None = None  # the verdict, once an alarm has asked it
        async for block in source.blocks():
            state = block.state
            if len(block.t) == 0:
                continue
            watch.add(block.t, block.x)
            if watch.alarm is not None and decided is None:
                decided = ready
            if watch.alarm is not None and params.stop_on_alarm and (decided is None or
                                                                     decided.preempt):
                break
            if params.max_stream_s is not None and watch.stream_s >= params.max_stream_s:
                break
        watch.finish()
        if watch.alarm is None and watch.samples < watch.window:
            # Its window never filled: no score was summed over what it is calibrated for,
            # so "no alarm" says nothing (an empty recording, a stream that ended at once).
            raise StreamDataError(
                f"too little data: {watch.samples} sample(s), fewer than its window of "
                f"{watch.window}; no alarm over them is no sign the attempt went well",
                hint="Check the source: a recorded run with its samples, or a live cell that "
                     "streams the attempt")
        return _with_policy(self._result(params, watch, cal, state, sources), params, decided)

    def _combined(self, cal: Any, params: Any, channels: list[str]) -> CombinedWatch:
        """FIPER-style AND/OR of two calibrated indicators, each watched as it was
        calibrated (its own detector, parameters, window and threshold or band)."""
        names = [c.detector for c in cal.components]
        if self.name not in names:
            raise DetectError(f"the combined calibration is of {' and '.join(names)}, not of "
                              f"{self.name}", hint="Name one of its detectors in the step")
        registry = default_registry()
        parts = []
        for c in cal.components:
            if c.method == "combined":
                raise DetectError("a combination of combinations is not supported",
                                  hint="Combine two calibrations made by calibrate")
            det = self if c.detector == self.name else registry.instance(c.detector)
            if not isinstance(det, StreamDetector):
                raise DetectError(f"the combined calibration names {c.detector!r}, which is "
                                  "no stream detector", hint="Calibrate the combination again")
            scorer_params = type(params).model_validate(c.params) if det is self else \
                parse_params(type(det), c.params)
            parts.append(Watch(scorer=det.scorer(params=scorer_params, channels=channels),
                               window=c.window, cal=c, fixed=math.nan,
                               max_gap_s=params.max_gap_s,
                               max_nan_fraction=params.max_nan_fraction))
        return CombinedWatch(parts=parts, rule=cal.rule, window=cal.window)

    def check_params(self, params: Any) -> None:
        """Refuse (DetectError) scoring params that cannot score, e.g. nominal levels that
        neither the step nor a calibration gives. Most detectors need nothing."""

    def _resolve(self, params: Any, cal: Any) -> tuple[Any, int, float, dict[str, str]]:
        """The scorer's params, the window, a fixed threshold (NaN when calibrated) and where
        each scoring parameter came from, given the step's calibration (or None).

        A parameter the step sets wins over the calibration's ("guide"); the others are the
        calibration's, "fitted" from its runs or "calibration" (given or defaulted when it
        was made); without a calibration, "guide" or "default"."""
        own = {k: getattr(params, k) for k in params.model_fields_set if k not in COMMON}
        names = [k for k in type(params).model_fields if k not in COMMON]
        if cal is not None:
            check_detector(cal, self.name, params.calibration)
            scorer_params = type(params).model_validate({**cal.params, **own})
            fitted = cal.fitted or {}
            sources = {k: "guide" if k in own else "fitted" if k in fitted
                       else "calibration" if k in cal.params else "default" for k in names}
            self.check_params(scorer_params)
            return scorer_params, cal.window, math.nan, sources
        if params.threshold is None:
            raise DetectError("no threshold: the step names neither a calibration nor a "
                              "threshold", hint="Calibrate with `mendflow detector calibrate` "
                              "and give calibration: FILE, or give threshold: NUMBER")
        self.check_params(params)
        sources = {k: "guide" if k in own else "default" for k in names}
        return params, params.window or DEFAULT_WINDOW, float(params.threshold), sources

    def _result(self, params: Any, watch: Watch | CombinedWatch, cal: Any,
                state: str | None, sources: dict[str, str]) -> StepResult:
        alarm = watch.alarm is not None
        detected_at = watch.detected_at
        threshold = watch.threshold()
        top = watch.top
        outputs = {
            "alarm": alarm, "score": round(top, 6), "detected_at": detected_at,
            "threshold": round(float(threshold), 6), "window": watch.window,
            "samples": watch.samples, "dropped": watch.dropped,
            "stream_s": round(watch.stream_s, 4), "cell_state": state,
            "calibration": params.calibration,
            "false_alarm_bound": cal.false_alarm_rate if cal is not None else None,
            "detector": self.name, "params_from": sources,
        }
        # The calibration's bound is for the scores it ranked: a step value other than the
        # calibration's voids it (the step says which and what the calibration had).
        changed = {k: cal.params.get(k) for k in sources if sources[k] == "guide"
                   and cal is not None and cal.method != "combined"
                   and cal.params.get(k) != getattr(params, k)}
        if changed:
            outputs["false_alarm_bound"] = None
        if isinstance(watch, CombinedWatch):
            outputs["rule"] = watch.rule
            outputs["components"] = watch.components()
        summary = (f"{self.name}: alarm at {detected_at:.2f} s (score {top:.3g} > "
                   f"{threshold:.3g})" if alarm else
                   f"{self.name}: no alarm in {watch.stream_s:.2f} s (max score {top:.3g}, "
                   f"threshold {threshold:.3g})")
        if changed:
            summary += "; no false-alarm bound: the step sets " + ", ".join(
                f"{k}={getattr(params, k)!r} (calibration: {v!r})" for k, v in changed.items())
        return StepResult(outputs=outputs, summary=summary)


def _ask_policy(policy: PolicySettings, ctx: StepContext) -> Verdict:
    try:
        return verdict_for(policy)
    except InputError as exc:
        raise StepFailed(f"the preemption policy's history is unreadable: {exc.message}",
                         retryable=False, step=ctx.step_id, hint=exc.hint) from None


def _with_policy(result: StepResult, params: Any, decided: Verdict | None) -> StepResult:
    """`preempt`: the alarm aborts the attempt (always so without a policy); `policy`: the
    verdict at the alarm, both expected makespans and why."""
    alarm = bool(result.outputs["alarm"])
    preempt = alarm and (decided is None or decided.preempt)
    result.outputs["preempt"] = preempt
    result.outputs["policy"] = decided.as_dict() if decided is not None else None
    if decided is not None:
        result.summary += f"; {'abort' if preempt else 'watch on'}: {decided.reason}"
    return result


def tare(x: np.ndarray, t: np.ndarray, tare_s: float) -> np.ndarray:
    """Subtract the mean of the first `tare_s` seconds (a sensor bias cancels); causal: the
    samples inside the tare window are compared with what has been seen so far."""
    if tare_s <= 0 or len(t) == 0:
        return x
    n = int(np.searchsorted(t, t[0] + tare_s, side="left"))
    n = max(n, 1)
    base = x[:n].mean(axis=0)
    out = x - base
    if n > 1:  # inside the tare window only past samples are known: running mean
        run = np.cumsum(x[:n], axis=0) / np.arange(1, n + 1)[:, None]
        out[:n] = x[:n] - run
    return np.asarray(out)


def channel_index(channels: list[str], name: str) -> int:
    try:
        return channels.index(name)
    except ValueError:
        raise DetectError(f"the stream has no channel {name!r} (it has "
                          f"{', '.join(channels)})", hint="Fix `channel` in the step") from None
