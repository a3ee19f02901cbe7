"""The shipped guides, compiled and run for real on this machine by the `mendflow` command.

The host triage must tell the truth about the host: its findings are checked against what
Python reads from the kernel independently.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.compile import compile_path
from engine.plan import StepKind
from engine.store import open_store

ROOT = Path(__file__).resolve().parents[2]
TRIAGE = ROOT / "guides" / "sre" / "linux-host-triage.md"
CLEANUP = ROOT / "guides" / "sre" / "scratch-dir-cleanup.md"


def mendflow(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MENDFLOW_DATA_DIR": str(data)}
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], env=env, text=True,
                          capture_output=True, timeout=120, stdin=subprocess.DEVNULL)


async def _last_run(data: Path):  # noqa: ANN202
    store = open_store(data / "mendflow.sqlite3")
    await store.open()
    try:
        record = (await store.list_runs(limit=1))[0]
        memory = {m.key: m.value for m in await store.memory(record.run_id)}
        return record, memory
    finally:
        await store.close()


def last_run(data: Path):  # noqa: ANN201
    return asyncio.run(_last_run(data))


def test_every_shipped_guide_compiles_and_lints_without_errors(tmp_path: Path) -> None:
    for guide in sorted((ROOT / "guides").rglob("*.md")):
        if guide.name == "README.md":
            continue
        compile_path(guide)
        proc = mendflow(tmp_path, "lint", str(guide))
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_host_triage_checks_run_in_parallel_and_branch_deterministically() -> None:
    plan = compile_path(TRIAGE)
    checks = {"disk", "inodes", "memory", "load", "top", "oom", "services"}
    assert {e.target for e in plan.edges if e.source == plan.entry} == checks
    decisions = [e for e in plan.edges if e.kind == "branch"]
    assert decisions and all(e.condition.expr for e in decisions)  # no person needed
    assert not any(s.mutating for s in plan.steps)  # triage only reads
    assert {s.outcome for s in plan.steps if s.kind == StepKind.END} == {"escalate", "no_action"}


def test_host_triage_tells_the_truth_about_this_host(tmp_path: Path) -> None:
    proc = mendflow(tmp_path, "run", str(TRIAGE))
    assert proc.returncode in (0, 3), proc.stdout + proc.stderr
    record, memory = last_run(tmp_path)
    assert record.status == "succeeded"

    # memory in use, as the guide computes it, against /proc/meminfo read here
    info = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    total = int(info["MemTotal"].split()[0])
    available = int(info["MemAvailable"].split()[0])
    assert float(memory["steps.memory"]["stdout"]) == pytest.approx(
        100 * (total - available) / total, abs=5)

    # the root filesystem's use, against statvfs (df rounds up)
    st = os.statvfs("/")
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    pct = 100 * used / (used + st.f_bavail * st.f_frsize)
    root = [ln for ln in memory["steps.disk"]["lines"] if ln.split()[-1] == "/"]
    if root:  # `/` is a local filesystem of a type df does not exclude
        assert float(root[0].split()[0].rstrip("%")) == pytest.approx(pct, abs=2)

    # OOM kills since boot, against /proc/vmstat
    vmstat = dict(ln.split() for ln in Path("/proc/vmstat").read_text().splitlines())
    assert memory["steps.oom"]["stdout"].split() == ["oom_kill", vmstat.get("oom_kill", "0")]

    # failed services only where systemd is the init system
    services = memory.get("steps.services")
    if Path("/run/systemd/system").is_dir():
        assert services is not None and services["exit_code"] == 0
    else:
        assert services is None or services["exit_code"] != 0

    # and the outcome follows from the thresholds
    over = max(float(x.rstrip("%")) for x in
               (ln.split()[0] for ln in memory["steps.disk"]["lines"][1:])) > 90
    if over:
        assert record.outcome == "escalate"


def test_host_triage_escalates_a_full_disk_and_lists_what_fills_it(tmp_path: Path) -> None:
    # Given a threshold every filesystem is over
    proc = mendflow(tmp_path, "run", str(TRIAGE), "--input", "disk_threshold_pct=0")
    # Then the run escalates from the disk branch, after listing the root filesystem
    assert proc.returncode == 3, proc.stdout + proc.stderr
    record, memory = last_run(tmp_path)
    assert record.outcome == "escalate" and "filesystem" in (record.reason or "")
    du = next(v for k, v in memory.items() if k.startswith("steps.step-1"))
    assert du["exit_code"] == 0 and du["line_count"] > 0


def _scratch(tmp_path: Path) -> Path:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "old.bin").write_bytes(os.urandom(3_000_000))
    month_ago = time.time() - 30 * 86400
    os.utime(scratch / "old.bin", (month_ago, month_ago))
    (scratch / "new.bin").write_bytes(os.urandom(100_000))
    return scratch


def test_cleanup_dry_run_changes_nothing_and_shows_the_command(tmp_path: Path) -> None:
    scratch = _scratch(tmp_path)
    proc = mendflow(tmp_path, "run", str(CLEANUP), "-i", f"scratch_dir={scratch}",
                    "-i", "max_size_mb=1", "--dry-run")
    assert proc.returncode in (0, 3), proc.stdout + proc.stderr
    assert sorted(p.name for p in scratch.iterdir()) == ["new.bin", "old.bin"]
    _, memory = last_run(tmp_path)
    would = [v["would_run"] for v in memory.values() if isinstance(v, dict) and "would_run" in v]
    assert would == [f"find {scratch} -type f -mtime +7 -delete"]


def test_cleanup_deletes_only_after_approval_and_only_old_files(tmp_path: Path) -> None:
    scratch = _scratch(tmp_path)
    args = ["run", str(CLEANUP), "-i", f"scratch_dir={scratch}", "-i", "max_size_mb=1"]
    # Not approved (no terminal, no --yes): nothing is deleted, the run escalates
    denied = mendflow(tmp_path, *args)
    assert denied.returncode == 3
    assert sorted(p.name for p in scratch.iterdir()) == ["new.bin", "old.bin"]
    # Approved: the old file goes, the recent one stays, and the issue is mitigated
    approved = mendflow(tmp_path, *args, "--yes")
    assert approved.returncode == 0, approved.stdout + approved.stderr
    assert [p.name for p in scratch.iterdir()] == ["new.bin"]
    record, _ = last_run(tmp_path)
    assert record.outcome == "mitigated"


def test_cleanup_within_budget_needs_no_action(tmp_path: Path) -> None:
    scratch = _scratch(tmp_path)
    proc = mendflow(tmp_path, "run", str(CLEANUP), "-i", f"scratch_dir={scratch}",
                    "-i", "max_size_mb=100")
    assert proc.returncode == 0
    assert last_run(tmp_path)[0].outcome == "no_action"
    assert len(list(scratch.iterdir())) == 2


def test_make_demo_treats_a_concluded_triage_as_success(tmp_path: Path) -> None:
    # Given a host that is over every threshold of zero, the triage escalates (exit 3) ...
    env = {**os.environ, "MENDFLOW_DATA_DIR": str(tmp_path)}
    args = "--input disk_threshold_pct=0 --input load_threshold=0"
    proc = subprocess.run(["make", "-s", "demo", f"DEMO_ARGS={args}"], cwd=ROOT, env=env,
                          text=True, capture_output=True, timeout=300)
    # ... and `make demo`, whose job is to triage, says what it found and succeeds
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "the triage concluded: it found problems" in proc.stdout


def test_a_dry_run_is_marked_in_history_and_never_looks_real(tmp_path: Path) -> None:
    scratch = _scratch(tmp_path)
    proc = mendflow(tmp_path, "run", str(CLEANUP), "-i", f"scratch_dir={scratch}",
                    "-i", "max_size_mb=1", "--dry-run")
    assert proc.returncode in (0, 3, 4), proc.stdout + proc.stderr
    record, _ = last_run(tmp_path)
    env = {**os.environ, "MENDFLOW_DATA_DIR": str(tmp_path), "COLUMNS": "250"}
    history = subprocess.run([sys.executable, "-m", "engine.cli", "runs"], env=env, text=True,
                             capture_output=True, timeout=60).stdout
    assert "(dry run)" in history, history
    shown = " ".join(mendflow(tmp_path, "show", record.run_id).stdout.split())
    assert "dry run: nothing was changed; not a real outcome" in shown
