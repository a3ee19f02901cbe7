"""Commands for robot cells: detector calibrate | combine | evaluate, and policy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from engine import files
from engine.cli._app import app, ensure_folder, out
from engine.errors import InputError, PluginError, StepFailed

detector_app = typer.Typer(help="Failure detectors: calibrate, combine, evaluate.",
                            no_args_is_help=True)
app.add_typer(detector_app, name="detector")


@detector_app.command("calibrate")
def detector_calibrate(
    runs: Annotated[Path, typer.Argument(help="Folder of recorded runs (JSON lines).")],
    detector: Annotated[str, typer.Option(help="Detector plugin, e.g. ft_jam_slip.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Calibration file to write.")],
    alpha: Annotated[float, typer.Option(help="False-alarm rate to guarantee.")] = 0.1,
    window: Annotated[int, typer.Option(help="Steps summed by the window.")] = 25,
    method: Annotated[str, typer.Option(help="max or band")] = "max",
    params: Annotated[Optional[str], typer.Option(help="Detector params as JSON.")] = None,
    fit_fraction: Annotated[float, typer.Option(help="Share of runs that fit the "
                                                     "score model/band.")] = 0.5,
    seed: Annotated[int, typer.Option(help="Split seed.")] = 0,
) -> None:
    """Calibrate a detector's alarm threshold on successful runs (split conformal)."""
    from engine.detect.commands import calibrate_cmd

    if not 0.0 < alpha < 1.0:  # also false for nan
        raise InputError(f"--alpha {alpha:g} is not a false-alarm rate: it must lie strictly "
                         "between 0 and 1", hint="Write --alpha 0.1 for at most 10% false alarms")
    if not 0.0 < fit_fraction < 1.0:
        raise InputError(f"--fit-fraction {fit_fraction:g} must lie strictly between 0 and 1",
                         hint="Write --fit-fraction 0.5")
    if window < 1:
        raise InputError(f"--window {window} is not a number of steps: it must be 1 or more",
                         hint="Write --window 25")
    try:
        parsed = files.loads(params) if params else None
    except json.JSONDecodeError as exc:
        raise InputError(f"--params is not JSON: {exc.msg}",
                         hint='Write --params \'{"k": 1}\'') from None
    if parsed is not None and not isinstance(parsed, dict):
        raise InputError(f"--params is JSON {type(parsed).__name__}, not an object of the "
                         "detector's parameters", hint='Write --params \'{"k": 1}\'')
    ensure_folder(out)
    try:
        out_text = calibrate_cmd(runs, detector=detector, out=out, alpha=alpha, window=window,
                                 method=method, params=parsed, fit_fraction=fit_fraction,
                                 seed=seed)
    except PluginError as exc:  # --detector names no plugin, --params none of its parameters
        if isinstance(exc, StepFailed):
            raise
        raise InputError(exc.message, hint=exc.hint) from None
    _say(out_text)


@detector_app.command("combine")
def detector_combine(
    first: Annotated[Path, typer.Argument(help="First calibration.")],
    second: Annotated[Path, typer.Argument(help="Second calibration.")],
    rule: Annotated[str, typer.Option(help="and (fewer false alarms) or or")] = "and",
    out: Annotated[Path, typer.Option("--out", "-o", help="Combined file to write.")] = Path(
        "combined.json"),
) -> None:
    """Combine two calibrated indicators with AND or OR."""
    from engine.detect.commands import combine_cmd

    _say(combine_cmd(first, second, rule=rule, out=out))


@detector_app.command("evaluate")
def detector_evaluate(
    runs: Annotated[Path, typer.Argument(help="Folder of labelled recorded runs.")],
    calibration: Annotated[Path, typer.Option(help="Calibration file.")],
) -> None:
    """TPR, TNR, balanced accuracy, F1 and detection time of a calibrated detector."""
    from engine.detect.commands import evaluate_cmd

    try:
        said = evaluate_cmd(runs, calibration=calibration)
    except PluginError as exc:  # the calibration names no plugin, or none of its parameters
        if isinstance(exc, StepFailed):
            raise
        raise InputError(exc.message, file=str(calibration),
                         hint="Recalibrate to rewrite it") from None
    _say(said)


@app.command()
def policy(
    guide: Annotated[Path, typer.Argument(help="The robot playbook the history is for (its "
                                               "front matter's `policy:` is the default).")],
    history: Annotated[Optional[Path], typer.Option(help="Attempts recorded with the detector "
                                                         "watching (JSON lines).")] = None,
    reset: Annotated[Optional[float], typer.Option(help="Seconds to reset the cell.")] = None,
) -> None:
    """Should an alarm abort the attempt? Estimates, both expected makespans with bootstrap
    intervals, the decision: the same verdict a run's detect step reaches on this history."""
    from engine.guide import load_guide
    from engine.policy import MAX_SECONDS, PolicySettings, policy_report

    said = load_guide(guide).front.policy
    if history is None and said is None:
        raise InputError("the guide names no history (no `policy:` in its front matter)",
                         file=str(guide), hint="Give --history FILE, or add to the front "
                         "matter: policy: {history: FILE, reset: 5s}")
    settings = (said or PolicySettings(history=str(history))).model_copy(update={
        k: v for k, v in (("history", str(history) if history else None),
                          ("reset", reset)) if v is not None})
    if reset is not None and not (0 <= reset <= MAX_SECONDS):
        raise InputError(f"--reset {reset:g} is not a time in seconds", hint="Write --reset 5")
    if not Path(settings.history).exists():
        raise InputError("no such history file", file=settings.history,
                         hint="Record attempts as JSON lines: success, duration_s, alarm_s")
    _say(policy_report(settings.history, reset_s=settings.reset, title=guide.stem,
                       default_preempt=settings.default == "abort",
                       min_attempts=settings.min_attempts))


def _say(text: str) -> None:
    out.print(text, highlight=False, markup=False, soft_wrap=True)
