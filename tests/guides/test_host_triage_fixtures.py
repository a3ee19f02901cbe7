"""The host triage judged on real outputs of `df` and of `/proc` (fixtures), not on this host.

Each area is read from its own column or number: a 40%-full `/srv/backup2024` is not a full
disk (the digits of a mount path are not a use percentage), and a host over several thresholds
is reported for every one of them, not only the first the chain of decisions reaches.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine import scheduler as sched
from engine import templating
from engine.compile import compile_path
from engine.findings import findings
from engine.plan import Plan

ROOT = Path(__file__).resolve().parents[2]
TRIAGE = ROOT / "guides" / "sre" / "linux-host-triage.md"
FIX = ROOT / "tests" / "fixtures" / "host"


def _shell(out: str, code: int = 0) -> dict[str, Any]:
    lines = [ln for ln in out.splitlines() if ln.strip()]
    return {"exit_code": code, "stdout": out, "stderr": "", "lines": lines,
            "line_count": len(lines)}


def _run_step_on(plan: Plan, sid: str, files: dict[str, Path]) -> str:
    """Run the guide's own command for `sid`, with its /proc files replaced by fixtures."""
    (argv,) = plan.step(sid).params["pipeline"]
    argv = [str(files.get(word, word)) for word in argv]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def _memory(plan: Plan, *, df: str, idf: str, meminfo: Path, loadavg: Path,
            oom: str = "oom_kill 0\n") -> dict[str, Any]:
    steps = {
        "disk": _shell((FIX / df).read_text()),
        "inodes": _shell((FIX / idf).read_text()),
        "memory": _shell(_run_step_on(plan, "memory", {"/proc/meminfo": meminfo})),
        "load": _shell(_run_step_on(plan, "load", {"/proc/cpuinfo": FIX / "cpuinfo-2.txt",
                                                   "/proc/loadavg": loadavg})),
        "top": _shell("PID USER %CPU\n"),
        "oom": _shell(oom),
        "services": _shell(""),
    }
    inputs = {i.name: i.default for i in plan.inputs}
    return {"inputs": inputs, "alert": {}, "run": {}, "steps": steps, "vars": {}}


def _holding(plan: Plan, view: dict[str, Any]) -> set[str]:
    state = sched.PlanIndex.build(plan).initial
    done = sched.StepState(sched.StepStatus.SUCCEEDED, 1)
    state = sched.RunState(steps={**dict(state.steps), **{s: done for s in view["steps"]}},
                           edges=dict(state.edges))
    return {f.decision for f in findings(plan, state, view)}


@pytest.fixture(scope="module")
def plan() -> Plan:
    return compile_path(TRIAGE)


def test_a_mount_path_with_digits_is_not_a_full_disk(plan: Plan) -> None:
    # Given df output where the fullest filesystem is 71% but a mount path reads 2024
    view = _memory(plan, df="df-pcent.txt", idf="df-ipcent.txt",
                   meminfo=FIX / "meminfo-healthy.txt", loadavg=FIX / "loadavg-idle.txt")
    disk = next(e for e in plan.edges if e.kind == "branch" and "steps.disk" in
                (e.condition.expr or ""))
    # Then the disk condition reads the use column only: no filesystem is over 90%
    assert templating.evaluate(disk.condition.expr, view) is False
    # (reading every number of the text, as the guide once did, takes 2024 for a use %)
    assert templating.evaluate("steps.disk.stdout | numbers | max > 90", view) is True


def test_every_area_over_its_threshold_is_reported(plan: Plan) -> None:
    # Given a full root filesystem, memory under pressure and a loaded host
    view = _memory(plan, df="df-pcent-full.txt", idf="df-ipcent.txt",
                   meminfo=FIX / "meminfo-pressure.txt", loadavg=FIX / "loadavg-busy.txt")
    assert float(view["steps"]["memory"]["stdout"]) == pytest.approx(95.0, abs=0.1)
    assert float(view["steps"]["load"]["stdout"]) == pytest.approx(3.65)
    # Then all three are findings, not only the disk the chain of decisions stops at
    assert _holding(plan, view) == {"if-filesystem-fuller-than-threshold",
                                    "if-memory-under-pressure", "if-host-overloaded"}


def test_a_failed_check_is_no_evidence_of_a_problem(plan: Plan) -> None:
    view = _memory(plan, df="df-pcent-full.txt", idf="df-ipcent.txt",
                   meminfo=FIX / "meminfo-pressure.txt", loadavg=FIX / "loadavg-busy.txt")
    state = sched.PlanIndex.build(plan).initial
    done = sched.StepState(sched.StepStatus.SUCCEEDED, 1)
    failed = sched.StepState(sched.StepStatus.FAILED, 1, "awk: cannot open /proc/meminfo")
    steps = {**dict(state.steps), **{s: done for s in view["steps"]}, "memory": failed}
    found = findings(plan, sched.RunState(steps=steps, edges=dict(state.edges)), view)
    assert "if-memory-under-pressure" not in {f.decision for f in found}


def test_a_healthy_host_has_no_findings(plan: Plan) -> None:
    view = _memory(plan, df="df-pcent.txt", idf="df-ipcent.txt",
                   meminfo=FIX / "meminfo-healthy.txt", loadavg=FIX / "loadavg-idle.txt")
    assert _holding(plan, view) == set()


def test_run_show_and_report_list_every_problem(tmp_path: Path) -> None:
    # Given a df that reports a full root filesystem, and thresholds memory and load exceed
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_df = bin_dir / "df"
    fake_df.write_text(f"#!/bin/sh\ncase \"$*\" in *ipcent*) cat {FIX / 'df-ipcent.txt'};;\n"
                       f"*) cat {FIX / 'df-pcent-full.txt'};; esac\n")
    fake_df.chmod(0o755)
    # and a du that reads a fixed tree: the real one walks / while other tests churn /tmp, and
    # a file gone mid-walk fails it (the run then, rightly, ends inconclusive)
    fake_du = bin_dir / "du"
    fake_du.write_text(f"#!/bin/sh\ncat {FIX / 'du-root.txt'}\n")
    fake_du.chmod(0o755)
    env = {**os.environ, "MENDFLOW_DATA_DIR": str(tmp_path),
           "PATH": f"{bin_dir}:{os.environ['PATH']}"}

    def mendflow(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "engine.cli", *args], env=env, text=True,
                              capture_output=True, timeout=120, stdin=subprocess.DEVNULL)

    proc = mendflow("run", str(TRIAGE), "-i", "memory_threshold_pct=0", "-i", "load_threshold=-1")
    # Then the run escalates on the disk and says memory and load too
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "found 3 problems" in proc.stdout, proc.stdout
    run_id = proc.stdout.split("run ", 2)[-1].split(":", 1)[0].strip()
    shown = mendflow("show", run_id).stdout
    assert "found 3 problems" in shown and "memory is under pressure" in shown
    report = mendflow("report", run_id).stdout
    assert "**Found:**" in report and "host is overloaded" in report


def test_the_conclusion_says_what_was_found_in_the_guides_words(tmp_path: Path) -> None:
    # Given a guide whose escalation names the value it found, and a one-line result
    guide = tmp_path / "completion.md"
    guide.write_text(
        "# Checkout completion\n\n## Diagnosis\n\n1. Count the orders {#orders}:\n\n"
        "   ```bash\n   echo \"checkout 53.7\"\n   ```\n\n"
        "2. If the completion is low (`steps.orders.stdout | numbers | first < 90`), "
        "escalate: {{ steps.orders.stdout | trim }} is below target.\n\n"
        "3. Otherwise, no action is needed.\n")
    env = {**os.environ, "MENDFLOW_DATA_DIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "engine.cli", "run", str(guide)], env=env,
                          text=True, capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    # Then the outcome carries the finding with its value, rendered from memory
    assert "checkout 53.7 is below target" in proc.stdout
    run_id = proc.stdout.split("run ", 2)[-1].split(":", 1)[0].strip()
    shown = subprocess.run([sys.executable, "-m", "engine.cli", "show", run_id], env=env,
                           text=True, capture_output=True, timeout=120).stdout
    assert "conclusion:" in shown and "checkout 53.7 is below target" in shown
    # and the one-line result is shown as its value, not as "1 lines"
    assert "│ checkout 53.7" in shown
