"""`mendflow replay RUN --from STEP`: failing runs of a shipped guide (the scratch directory
clean-up), replayed from a step with an intervention, by the `mendflow` command.

A step reused from the record is not run again: the tests change the world between the
run and its replay (the directory grows, a deleted file comes back), so a step that ran again
would see it. The verdict (outcome from -> to, the first step whose result differs) is
checked as printed and as stored with both runs."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.runtime import intervene
from engine.store import open_store

ROOT = Path(__file__).resolve().parents[3]
GUIDE = ROOT / "guides" / "sre" / "scratch-dir-cleanup.md"
GATE = "approve-mit-1-otherwise-delete-old-files"
DELETE = "mit-1-otherwise-delete-old-files"


def mendflow(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MENDFLOW_DATA_DIR": str(data)}
    env.pop("MENDFLOW_LLM", None)
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], env=env, text=True,
                          capture_output=True, timeout=120, stdin=subprocess.DEVNULL,
                          cwd=data)


def stored(data: Path) -> dict[str, Any]:
    """Every run: its record, events (the replay markers, the verdict notes) and memory."""

    async def read() -> dict[str, Any]:
        store = open_store(data / "mendflow.sqlite3")
        await store.open()
        try:
            out = {}
            for r in await store.list_runs(limit=100):
                out[r.run_id] = {"record": r, "events": await store.events(r.run_id),
                                 "memory": {m.key: m.value for m in await store.memory(r.run_id)}}
            return out
        finally:
            await store.close()

    return asyncio.run(read())


def last_run(data: Path) -> str:
    return max(stored(data), key=lambda rid: stored(data)[rid]["record"].created_at)


def served(events: list[Any]) -> dict[str, str]:
    """Steps a replay served instead of running, and how."""
    return {e.step_id: e.data["replayed"]["how"] for e in events
            if e.step_id and isinstance(e.data.get("replayed"), dict)}


def started(events: list[Any]) -> list[str]:
    return [e.step_id for e in events if e.type == "step_started"]


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    folder = tmp_path / "scratch"
    folder.mkdir()
    old_file(folder / "old.bin", 3_000_000)
    return folder


def old_file(path: Path, size: int) -> None:
    path.write_bytes(b"x" * size)
    ten_days_ago = path.stat().st_mtime - 10 * 86400
    os.utime(path, (ten_days_ago, ten_days_ago))


def run(tmp_path: Path, guide: Path, scratch: Path, *more: str) -> str:
    proc = mendflow(tmp_path, "run", str(guide), "--input", f"scratch_dir={scratch}", *more)
    assert proc.returncode in (0, 1, 3, 4), proc.stdout + proc.stderr
    return last_run(tmp_path)


def test_an_input_set_anew_turns_the_run_around_and_the_steps_before_are_reused(
        tmp_path: Path, scratch: Path) -> None:
    # Over a budget of 1 MiB, with no approval to delete: escalate.
    original = run(tmp_path, GUIDE, scratch, "--input", "max_size_mb=1")
    runs = stored(tmp_path)
    assert runs[original]["record"].outcome == "escalate"
    old_file(scratch / "grown.bin", 5_000_000)  # a `du` that ran again would see it

    proc = mendflow(tmp_path, "replay", original, "--from", "if-directory-within-budget",
                    "--set", "inputs.max_size_mb=100")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    replay = last_run(tmp_path)
    assert replay != original
    assert ("verdict: outcome changed: escalate -> no_action; first step whose result "
            "differs: if-directory-within-budget") in " ".join(proc.stdout.split())
    runs = stored(tmp_path)
    new = runs[replay]
    assert new["record"].outcome == "no_action"
    assert new["record"].context["inputs"]["max_size_mb"] == 100
    # start, size and old finished before the decision: served from the record, not run
    assert served(new["events"]) == {"start": "reused", "size": "reused", "old": "reused"}
    assert new["memory"]["steps.size"] == runs[original]["memory"]["steps.size"]
    assert new["memory"]["steps.size"]["stdout"].startswith("3\t")  # not the grown 8 MiB
    # the verdict is stored with both runs, and `show` says it
    for rid in (original, replay):
        (found,) = intervene.verdicts(runs[rid]["events"])
        assert (found.outcome_from, found.outcome_to, found.first_step) == (
            "escalate", "no_action", "if-directory-within-budget")
    shown = " ".join(mendflow(tmp_path, "show", replay).stdout.split())
    assert f"replay of run {original} from step if-directory-within-budget" in shown
    assert "[reused" in shown
    assert f"replayed as run {replay}: outcome changed: escalate -> no_action" in " ".join(
        mendflow(tmp_path, "show", original).stdout.split())
    report = mendflow(tmp_path, "report", replay).stdout
    assert f"Not run: reused from run {original}." in report


def test_an_edited_guide_turns_a_broken_command_around_without_deleting_again(
        tmp_path: Path, scratch: Path) -> None:
    broken = tmp_path / "broken.md"
    text = GUIDE.read_text()
    assert text.count('du -sm "$SCRATCH_DIR"') == 2
    head, _, tail = text.rpartition('du -sm "$SCRATCH_DIR"')
    broken.write_text(head + 'du -sm "$SCRATCH_DIR/no-such-dir"' + tail)  # a wrong path
    original = run(tmp_path, broken, scratch, "--input", "max_size_mb=1", "--yes")
    runs = stored(tmp_path)
    record = runs[original]["record"]
    assert (record.outcome, runs[original]["memory"][f"steps.{DELETE}"]["exit_code"]) == (
        "inconclusive", 0)
    assert not (scratch / "old.bin").exists()
    old_file(scratch / "old.bin", 10)  # back again: a delete that ran again would take it

    proc = mendflow(tmp_path, "replay", original, "--from", "after", "--guide", str(GUIDE))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    replay = last_run(tmp_path)
    runs = stored(tmp_path)
    new = runs[replay]
    assert (new["record"].status, new["record"].outcome) == ("succeeded", "mitigated")
    assert (scratch / "old.bin").exists()  # the delete was not run again, nor asked for
    assert served(new["events"])[DELETE] == "reused"
    assert served(new["events"])[GATE] == "reused"
    assert set(started(new["events"])) - set(served(new["events"])) == {
        "after", "if-now-within-budget"}
    (found,) = intervene.verdicts(new["events"])
    assert (found.outcome_from, found.outcome_to, found.changed) == (
        "inconclusive", "mitigated", True)
    assert found.first_step == "after" and found.what.startswith("failed -> succeeded")
    assert any("guide edited" in i for i in found.interventions)


def test_a_change_after_the_step_still_needs_its_approval(tmp_path: Path,
                                                          scratch: Path) -> None:
    original = run(tmp_path, GUIDE, scratch, "--input", "max_size_mb=1")
    assert stored(tmp_path)[original]["record"].outcome == "escalate"

    proc = mendflow(tmp_path, "replay", original, "--from", GATE)
    assert proc.returncode == 3, proc.stdout + proc.stderr  # asked again; no one approved
    assert "approval needed" in proc.stdout
    assert "outcome unchanged: escalate" in " ".join(proc.stdout.split())
    assert (scratch / "old.bin").exists()

    proc = mendflow(tmp_path, "replay", original, "--from", GATE, "--dry-run", "--yes")
    assert "(dry run)" in proc.stdout, proc.stdout + proc.stderr
    assert (scratch / "old.bin").exists()  # a dry run changes nothing
    new = stored(tmp_path)[last_run(tmp_path)]
    assert new["memory"][f"steps.{DELETE}"]["dry_run"] is True
    assert intervene.verdicts(new["events"])[0].dry_run

    proc = mendflow(tmp_path, "replay", original, "--from", GATE, "--approve", GATE)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (scratch / "old.bin").exists()
    assert "outcome changed: escalate -> mitigated" in " ".join(proc.stdout.split())


def test_a_steps_output_set_and_steps_served_from_the_record(tmp_path: Path,
                                                             scratch: Path) -> None:
    original = run(tmp_path, GUIDE, scratch, "--input", "max_size_mb=1")
    (tmp_path / "size.json").write_text(json.dumps({"stdout": "0\tscratch", "exit_code": 0}))
    proc = mendflow(tmp_path, "replay", original, "--from", "if-directory-within-budget",
                    "--set", "steps.size.output=@size.json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    new = stored(tmp_path)[last_run(tmp_path)]
    assert served(new["events"])["size"] == "set"
    (found,) = intervene.verdicts(new["events"])
    assert (found.outcome_to, found.first_step) == ("no_action", "size")
    assert found.what.startswith("output ") and "stdout" in found.what

    # --from-record: size and old render as they did, so they are served from the record;
    # the decisions after them really run, on the new budget.
    old_file(scratch / "grown.bin", 5_000_000)
    proc = mendflow(tmp_path, "replay", original, "--from", "size", "--from-record",
                    "--set", "inputs.max_size_mb=100")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    new = stored(tmp_path)[last_run(tmp_path)]
    assert served(new["events"]) == {"start": "reused", "size": "from_record",
                                     "old": "from_record"}
    assert new["record"].outcome == "no_action"


@pytest.mark.parametrize("args, said", [
    (["--set", "inputs.max_size_mb=lots"], "input max_size_mb='lots'"),
    (["--set", "inputs.nope=1"], "unknown input(s) nope"),
    (["--set", "max_size_mb"], "bad --set"),
    (["--set", "vars.X=1"], "--set can change inputs.NAME or steps.STEP.output"),
    (["--set", "steps.size.output=@missing.json"], "cannot read"),
    (["--set", "steps.size.output=[1, 2]"], "a JSON object, not a list"),
    (["--set", "steps.nope.output={}"], "no such step"),
    (["--set", "inputs.max_size_mb=1; touch PWNED"], "input max_size_mb="),
], ids=["type", "unknown", "no-equals", "target", "file", "not-object", "step", "hostile"])
def test_a_bad_set_is_one_line_and_exit_2_and_nothing_runs(
        tmp_path: Path, scratch: Path, args: list[str], said: str) -> None:
    original = run(tmp_path, GUIDE, scratch, "--input", "max_size_mb=1")
    proc = mendflow(tmp_path, "replay", original, "--from", "size", *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and said in lines[0], lines
    assert list(stored(tmp_path)) == [original]  # no run was created
    assert not (tmp_path / "PWNED").exists()


def test_a_bad_from_is_exit_2(tmp_path: Path, scratch: Path) -> None:
    original = run(tmp_path, GUIDE, scratch, "--input", "max_size_mb=100")  # no_action
    proc = mendflow(tmp_path, "replay", original, "--from", "after")
    assert proc.returncode == 2
    assert "step 'after' never ran in run" in proc.stderr
    assert mendflow(tmp_path, "replay", "no-such-run", "--from", "size").returncode == 2


async def test_a_hostile_input_is_data_not_a_command(tmp_path: Path, scratch: Path) -> None:
    """A path with shell syntax in it is passed to `du` as one argument, never run."""
    original = await asyncio.to_thread(run, tmp_path, GUIDE, scratch, "--input",
                                       "max_size_mb=1")
    hostile = f"{scratch}/$(touch {tmp_path}/PWNED); touch {tmp_path}/PWNED2"
    proc = await asyncio.to_thread(mendflow, tmp_path, "replay", original, "--from", "size",
                                   "--set", f"inputs.scratch_dir={hostile}")
    assert proc.returncode in (1, 4), proc.stdout + proc.stderr
    assert not (tmp_path / "PWNED").exists() and not (tmp_path / "PWNED2").exists()


PARALLEL = """---
id: two-checks
title: Two checks at once
---

# Two checks at once

## Diagnosis

The two checks below are independent; run them all at once.

1. Wait for the slow check {#slow}:

   ```bash
   sleep 3
   ```

2. Count the entries {#fast}:

   ```bash
   ls {folder}
   ```

3. If `steps.fast.exit_code == 0`, the folder is healthy: no action is needed.
"""


def test_a_step_the_original_cancelled_when_it_ended_is_not_the_first_difference(
        tmp_path: Path) -> None:
    """The broken check fails at once and ends the run while the slow one still runs (it is
    cancelled, no result). In the replay with the fixed guide the slow one finishes too; the
    first step whose result differs is the fixed check, not the one the original cut short."""
    there = tmp_path / "there"
    there.mkdir()
    broken, fixed = tmp_path / "broken.md", tmp_path / "fixed.md"
    broken.write_text(PARALLEL.replace("{folder}", str(tmp_path / "missing")))
    fixed.write_text(PARALLEL.replace("{folder}", str(there)))
    proc = mendflow(tmp_path, "run", str(broken))
    assert proc.returncode == 4, proc.stdout + proc.stderr  # inconclusive
    original = last_run(tmp_path)
    assert "steps.slow" not in stored(tmp_path)[original]["memory"]  # cut short
    proc = mendflow(tmp_path, "replay", original, "--from", "fast", "--guide", str(fixed))
    said = proc.stdout + proc.stderr
    (found,) = intervene.verdicts(stored(tmp_path)[last_run(tmp_path)]["events"])
    assert (found.outcome_from, found.outcome_to) == ("inconclusive", "no_action"), said
    assert found.first_step == "fast" and found.what.startswith("failed -> succeeded"), said
    # Replayed again as it is, from the same step: the steps that ran again took another few
    # milliseconds, which is no difference in what they found.
    replay = last_run(tmp_path)
    proc = mendflow(tmp_path, "replay", replay, "--from", "fast")
    (found,) = intervene.verdicts(stored(tmp_path)[last_run(tmp_path)]["events"])
    assert (found.changed, found.first_step) == (False, None), proc.stdout + proc.stderr
