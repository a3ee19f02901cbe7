"""`mendflow detector ...` and `mendflow policy` as a user runs them, on simulated-cell runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tests.engine.test_cli import mendflow
from tests.plugins.detectors.helpers import record


def test_calibrate_then_evaluate_a_detector_from_recorded_runs(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    record(rng, tmp_path / "ok", 39, success=True)
    record(rng, tmp_path / "mixed", 10, success=True, prefix="s")
    record(rng, tmp_path / "mixed", 10, success=False, prefix="f")
    cal = tmp_path / "peg.json"
    made = mendflow("detector", "calibrate", str(tmp_path / "ok"), "--detector", "ft_jam_slip",
                    "--out", str(cal), "--alpha", "0.1", data=tmp_path)
    assert made.returncode == 0, made.stdout + made.stderr
    artifact = json.loads(cal.read_text())
    assert artifact["alpha"] == 0.1 and artifact["n"] > 0
    scored = mendflow("detector", "evaluate", str(tmp_path / "mixed"), "--calibration",
                      str(cal), data=tmp_path)
    assert scored.returncode == 0, scored.stderr
    for metric in ("TPR", "TNR", "F1"):
        assert metric in scored.stdout


def test_too_few_runs_for_the_alpha_is_a_clear_error(tmp_path: Path) -> None:
    record(np.random.default_rng(3), tmp_path / "few", 5, success=True)
    proc = mendflow("detector", "calibrate", str(tmp_path / "few"), "--detector", "ft_jam_slip",
                    "--out", str(tmp_path / "x.json"), "--alpha", "0.01", data=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "99" in proc.stderr or "runs" in proc.stderr  # says how many are needed


def test_policy_prints_both_makespans_and_the_decision(tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    rows = [{"success": True, "duration_s": 30.0, "alarm_s": None}] * 53 + \
           [{"success": False, "duration_s": 69.0, "alarm_s": 12.0}] * 47
    history.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    proc = mendflow("policy", "guides/robot/peg-in-hole.md", "--history", str(history),
                    data=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "preempt" in proc.stdout
    missing = mendflow("policy", "guides/robot/peg-in-hole.md", "--history",
                       str(tmp_path / "nope"), data=tmp_path)
    assert missing.returncode == 2 and "no such history file" in missing.stderr


def test_policy_reads_the_history_the_guide_names(tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    rows = [{"success": True, "duration_s": 30.0}] * 10 + \
           [{"success": False, "duration_s": 69.0, "alarm_s": 12.0}] * 10
    history.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    guide = tmp_path / "cell.md"
    guide.write_text(f"---\nkind: robot\npolicy: {{history: {history}, reset: 2s}}\n---\n# Cell\n")
    proc = mendflow("policy", str(guide), data=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "reset 2 s" in proc.stdout and "decision: preempt" in proc.stdout
    bare = tmp_path / "bare.md"
    bare.write_text("# Cell\n")
    proc = mendflow("policy", str(bare), data=tmp_path)
    assert proc.returncode == 2 and "names no history" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
