"""The makespan model: closed forms, the decision, estimates from history, the report.
(The Monte-Carlo check against the simulated cell is in tests/plugins/robot.)"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import InputError
from engine.policy import (
    Attempt,
    CellStats,
    decide,
    estimate_from_history,
    load_history,
    makespan_with_preemption,
    makespan_without_detector,
    policy_report,
    preemption_pays,
    verdict,
)

PAPER = {"s": 0.53, "t_s": 29.85, "t_f": 68.86, "reset": 1.0}


def test_without_detector_is_the_geometric_sum() -> None:
    c = CellStats(**PAPER)
    assert makespan_without_detector(c) == pytest.approx(29.85 + 0.47 / 0.53 * 69.86)
    # a detector that never fires changes nothing
    assert makespan_with_preemption(c) == pytest.approx(makespan_without_detector(c))


def test_a_perfect_instant_detector() -> None:
    c = CellStats(**PAPER, tpr=1.0, fpr=0.0, tau_tp=0.0)
    # every failure costs only a reset
    assert makespan_with_preemption(c) == pytest.approx(29.85 + 0.47 / 0.53 * 1.0)
    assert decide(c).preempt


def test_aborting_every_success_never_ends() -> None:
    assert makespan_with_preemption(CellStats(**PAPER, tpr=1, fpr=1)) == float("inf")


# A property of the closed forms, not of their speed: no per-example deadline (200 ms by
# default), which a loaded machine's scheduler, not the code, decided.
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(s=st.floats(0.05, 0.99), t_s=st.floats(1, 100), t_f=st.floats(1, 200),
       r=st.floats(0, 10), tpr=st.floats(0, 1), fpr=st.floats(0, 0.95),
       a=st.floats(0, 1), b=st.floats(0, 1))
def test_the_inequality_is_the_sign_of_the_gain(s: float, t_s: float, t_f: float, r: float,
                                                tpr: float, fpr: float, a: float,
                                                b: float) -> None:
    c = CellStats(s=s, t_s=t_s, t_f=t_f, reset=r, tpr=tpr, fpr=fpr, tau_tp=a * t_f,
                  tau_fp=b * t_s)
    gain = makespan_without_detector(c) - makespan_with_preemption(c)
    if abs(gain) > 1e-6 * makespan_without_detector(c):
        assert preemption_pays(c) == (gain > 0)


def test_false_alarms_can_make_preemption_a_loss() -> None:
    c = CellStats(**PAPER, tpr=0.3, fpr=0.3, tau_tp=50.0, tau_fp=20.0)
    d = decide(c)
    assert not d.preempt and d.gain_s < 0


def test_estimates_from_shadow_mode_history() -> None:
    h = [Attempt(True, 30.0, None), Attempt(True, 20.0, 5.0), Attempt(False, 70.0, 10.0),
         Attempt(False, 60.0, None), Attempt(False, 50.0, 80.0)]  # alarm after the end
    c = estimate_from_history(h, reset_s=2.0)
    assert c.s == pytest.approx(0.4) and c.t_s == 25.0 and c.t_f == 60.0
    assert c.tpr == pytest.approx(1 / 3) and c.fpr == 0.5
    assert (c.tau_tp, c.tau_fp, c.reset) == (10.0, 5.0, 2.0)


def test_estimates_converge_on_a_large_history() -> None:
    rng = random.Random(1)
    h = []
    for _ in range(20000):
        ok = rng.random() < 0.53
        dur = rng.expovariate(1 / (29.85 if ok else 68.86))
        fires = rng.random() < (0.05 if ok else 0.9)
        alarm = rng.uniform(0, dur) if fires else None
        h.append(Attempt(ok, dur, alarm))
    c = estimate_from_history(h, reset_s=1.0)
    assert c.s == pytest.approx(0.53, abs=0.02)
    assert c.t_s == pytest.approx(29.85, rel=0.05) and c.t_f == pytest.approx(68.86, rel=0.05)
    assert c.tpr == pytest.approx(0.9, abs=0.02) and c.fpr == pytest.approx(0.05, abs=0.01)


def test_history_without_a_success_is_refused() -> None:
    with pytest.raises(InputError, match="none of 2 attempts succeeded"):
        estimate_from_history([Attempt(False, 1.0), Attempt(False, 2.0)], reset_s=1)
    with pytest.raises(InputError, match="no attempts"):
        estimate_from_history([], reset_s=1)


def test_history_file_and_report(tmp_path: Path) -> None:
    p = tmp_path / "h.jsonl"
    rows = ([{"success": True, "duration_s": 30, "alarm_s": None}] * 10
            + [{"success": False, "duration_s": 70, "alarm_s": 10}] * 10)
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert len(load_history(p)) == 20
    text = policy_report(p, reset_s=1.0, title="peg-in-hole")
    assert text.startswith("peg-in-hole: 20 attempts, success rate 0.500")
    assert "without preemption 101.00 s, with preemption 41.00 s" in text
    assert "decision: preempt" in text
    p.write_text('{"success": true}\n')
    with pytest.raises(InputError) as err:
        load_history(p)
    assert err.value.location.line == 1


@pytest.mark.parametrize("line, said", [
    ('{"success": "false", "duration_s": 30}', "success: Input should be a valid boolean"),
    ('{"success": true, "duration_s": NaN}', "NaN is not a number"),
    ('{"success": true, "duration_s": "30"}', "duration_s: Input should be a valid number"),
    ('{"success": true, "duration_s": 0}', "duration_s: Input should be greater than 0"),
    ('{"success": false, "duration_s": 3, "alarm_s": -1}', "alarm_s: Input should be greater"),
    ('[1, 2]', "Input should be a valid dictionary"),
])
def test_a_history_line_that_is_not_an_attempt_is_refused_at_its_line(
        tmp_path: Path, line: str, said: str) -> None:
    p = tmp_path / "h.jsonl"
    p.write_text('{"success": true, "duration_s": 30}\n' + line + "\n")
    with pytest.raises(InputError, match=said) as err:
        load_history(p)
    assert err.value.location.line == 2


def history(successes: int, failures: int) -> list[Attempt]:
    return ([Attempt(True, 30.0)] * successes + [Attempt(False, 70.0, 10.0)] * failures)


def test_too_little_history_follows_the_guides_default_and_says_so() -> None:
    v = verdict(history(10, 5), reset_s=1.0, default_preempt=False)
    assert (v.preempt, v.decision) == (False, None)
    assert v.reason == ("too little history (15 attempts; 20 attempts needed): following the "
                        "guide's default (let the attempt run on)")
    v = verdict(history(30, 2), reset_s=1.0)
    assert v.preempt and "2 failures; 3 failures needed" in v.reason


def test_the_verdict_is_the_decision_with_an_interval_around_both_makespans() -> None:
    h = history(12, 12)
    v = verdict(h, reset_s=1.0)
    d = decide(estimate_from_history(h, reset_s=1.0))
    assert v.decision == d and v.preempt == d.preempt
    assert v.without is not None and v.preemptive is not None
    assert v.without.low <= d.without <= v.without.high
    assert v.preemptive.low <= d.preemptive <= v.preemptive.high
    assert v.pays_share == 1.0
    assert verdict(h, reset_s=1.0) == v  # seeded: the same history gives the same verdict


def test_a_noisy_detector_pays_in_only_some_resamples() -> None:
    # false alarms on a third of successes, late alarms on failures: a close call
    h = ([Attempt(True, 30.0, 5.0)] * 8 + [Attempt(True, 30.0)] * 16
         + [Attempt(False, 40.0, 30.0)] * 6 + [Attempt(False, 40.0)] * 6)
    v = verdict(h, reset_s=1.0)
    assert v.pays_share is not None and 0.0 <= v.pays_share < 0.5 and not v.preempt
