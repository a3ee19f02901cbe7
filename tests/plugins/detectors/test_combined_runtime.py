"""FIPER-style combinations of two calibrated indicators, and the SAFE-style band, as detect
steps at run time (they were offline only): each fires on failures the simulated cell injects
and stays quiet on nominal runs at about its calibrated rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.detect.commands import calibrate_cmd, combine_cmd
from engine.errors import StepFailed
from engine.plugins import parse_params
from plugins.detectors.ewma import EwmaDetector
from plugins.detectors.ft_jam_slip import FtJamSlipDetector
from tests.plugins.detectors.helpers import REGISTRY, ctx, record


@pytest.fixture(scope="module")
def cals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("fiper")
    record(np.random.default_rng(101), tmp / "runs", 80, success=True)
    out = {}
    for method in ("max", "band"):
        out[method] = tmp / f"{method}.json"
        calibrate_cmd(tmp / "runs", detector="ft_jam_slip", out=out[method], alpha=0.1,
                      window=25, method=method, registry=REGISTRY)
    for rule in ("and", "or"):
        out[rule] = tmp / f"{rule}.json"
        combine_cmd(out["max"], out["band"], rule=rule, out=out[rule])
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    tmp = tmp_path_factory.mktemp("runs")
    return {"fail": record(np.random.default_rng(5), tmp, 20, success=False, prefix="f"),
            "ok": record(np.random.default_rng(6), tmp, 30, success=True, prefix="s")}


async def watch(path: Path, cal: Path, detector: type = FtJamSlipDetector):
    params = parse_params(detector, {"source": str(path), "calibration": str(cal)})
    return (await detector().run(params=params, ctx=ctx())).outputs


@pytest.mark.parametrize("which", ["and", "or", "band"])
async def test_each_fires_on_failures_and_stays_quiet_on_nominal_runs(cals, runs,
                                                                      which: str) -> None:
    caught = [await watch(p, cals[which]) for p in runs["fail"]]
    quiet = [await watch(p, cals[which]) for p in runs["ok"]]
    tpr = sum(o["alarm"] for o in caught) / len(caught)
    fpr = sum(o["alarm"] for o in quiet) / len(quiet)
    assert tpr >= 0.75, tpr
    # calibrated at 0.1 (AND: <= 0.1, OR: <= 0.2); 30 runs leave room for chance
    assert fpr <= (0.3 if which == "or" else 0.2), fpr


async def test_and_fires_when_both_have_fired_or_when_either_has(cals, runs) -> None:
    for path in runs["fail"]:
        both = await watch(path, cals["and"])
        either = await watch(path, cals["or"])
        parts = both["components"]
        assert [p["method"] for p in parts] == ["max", "band"]
        fired = [p["detected_at"] for p in parts if p["alarm"]]
        if len(fired) == 2:
            assert both["alarm"] and both["detected_at"] == max(fired)
        else:
            assert not both["alarm"]
        if fired:
            assert either["alarm"] and either["detected_at"] == min(fired)
        assert both["rule"] == "and" and either["rule"] == "or"


async def test_a_step_of_another_detector_is_refused(cals, runs) -> None:
    with pytest.raises(StepFailed, match="combined calibration is of ft_jam_slip and "
                                         "ft_jam_slip, not of ewma"):
        await watch(runs["fail"][0], cals["and"], detector=EwmaDetector)


async def test_a_combination_naming_a_plugin_that_is_no_detector_is_refused(cals, runs,
                                                                            tmp_path) -> None:
    # a calibration file edited (or written by hand) to combine with `bash`: the step fails
    # naming it (it was an AttributeError from inside the detector)
    import json
    data = json.loads(cals["and"].read_text())
    data["components"][1]["detector"] = "bash"
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(data))
    with pytest.raises(StepFailed, match="names 'bash', which is no stream detector"):
        await watch(runs["fail"][0], edited)
