"""The closed-form makespan (engine.policy) against Monte-Carlo campaigns on the simulated
cell: no detector, a detector that pays off and one that does not."""

from __future__ import annotations

import numpy as np
import pytest

from engine.detect import RecordedRun
from engine.detect.commands import calibrate
from engine.policy import CellStats, decide, makespan_without_detector, preemption_pays
from plugins.robot.campaign import calibrated_alarm, cell_stats, run_tasks
from plugins.robot.cell_model import CHANNELS, CellConfig, generate_attempt
from tests.plugins.detectors.helpers import DETECTORS, REGISTRY

pytestmark = pytest.mark.slow
CFG = CellConfig()


@pytest.fixture(scope="module")
def successes() -> list[RecordedRun]:
    rng = np.random.default_rng(1)
    out = []
    for _ in range(199):
        a = generate_attempt(rng, success=True)
        out.append(RecordedRun(a.t, a.wrench, list(CHANNELS), "success"))
    return out


def test_without_a_detector() -> None:
    mc = run_tasks(np.random.default_rng(5), 3000, None, preempt=False)
    closed = makespan_without_detector(CellStats(s=CFG.success_p, t_s=CFG.mean_success_s,
                                                 t_f=CFG.mean_failure_s, reset=CFG.reset_s))
    assert abs(mc.mean - closed) < 3 * mc.se


@pytest.mark.parametrize(("detector", "params", "alpha", "window", "pays"), [
    ("ft_jam_slip", {}, 0.05, 25, True),
    # a raw force limit set low: it aborts most successes, and that costs more than it saves
    ("threshold", {"channel": "force", "level": 2.0}, 0.6, 1, False),
])
def test_closed_form_matches_the_cell(successes: list[RecordedRun], detector: str,
                                      params: dict, alpha: float, window: int,
                                      pays: bool) -> None:
    cal = calibrate(successes, detector=detector, params=params, alpha=alpha, window=window,
                    registry=REGISTRY)
    alarm = calibrated_alarm(DETECTORS[detector], cal)
    stats = cell_stats(np.random.default_rng(2), 3000, alarm)
    d = decide(stats)
    mc = run_tasks(np.random.default_rng(3), 2500, alarm, preempt=True)
    assert abs(mc.mean - d.preemptive) < 3 * mc.se
    # the sign of the gain follows the inequality, in the model and on the cell
    assert d.preempt is pays and preemption_pays(stats) is pays
    baseline = makespan_without_detector(stats)
    assert (mc.mean < baseline) is pays
