"""Every file a command reads, given bad (binary, empty, truncated or wrongly shaped), is a
one-line error that says where and what to do, with exit 2: never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TRIAGE = ROOT / "guides" / "sre" / "linux-host-triage.md"
PEG = ROOT / "guides" / "robot" / "peg-in-hole.md"

BINARY = bytes(range(256)) * 8
BAD: dict[str, bytes] = {
    "binary": BINARY,
    "empty": b"",
    "truncated-json": b'{"labels": {"service": "web',
    "list": b"[1, 2, 3]",
    "number": b"42",
    "wrong-shape": b'{"labels": "web", "annotations": 3, "steps": "x"}',
}


def mendflow(*args: str, tmp: Path, env: dict[str, str] | None = None
             ) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "MENDFLOW_DATA_DIR": str(tmp / "data"), **(env or {})}
    full.pop("MENDFLOW_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], env=full, text=True,
                          capture_output=True, timeout=60, stdin=subprocess.DEVNULL, cwd=tmp)


def assert_one_line_bad_input(proc: subprocess.CompletedProcess[str]) -> None:
    said = proc.stdout + proc.stderr
    assert "Traceback" not in said and "internal error" not in said, said
    assert proc.returncode == 2, said
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, proc.stderr


def write(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("kind", sorted(BAD))
def test_a_bad_alert_file(kind: str, tmp_path: Path) -> None:
    alert = write(tmp_path, "alert.json", BAD[kind])
    assert_one_line_bad_input(mendflow("run", str(TRIAGE), "--alert", str(alert), "--dry-run",
                                       tmp=tmp_path))


@pytest.mark.parametrize("alert", [
    {"labels": {"disk_threshold_pct": 5, "x": ["a"]}},
    {"labels": {"a": None}},
    {"alerts": "nope"},
    {"alerts": [1]},
    {"annotations": ["x"]},
])
def test_an_alert_with_values_that_are_not_strings(alert: object, tmp_path: Path) -> None:
    path = write(tmp_path, "alert.json", json.dumps(alert).encode())
    assert_one_line_bad_input(mendflow("run", str(TRIAGE), "--alert", str(path), "--dry-run",
                                       tmp=tmp_path))


@pytest.mark.parametrize("kind", sorted(BAD))
def test_a_bad_plan_file(kind: str, tmp_path: Path) -> None:
    plan = write(tmp_path, "bad.plan.json", BAD[kind])
    assert_one_line_bad_input(mendflow("run", str(plan), "--dry-run", tmp=tmp_path))


@pytest.mark.parametrize("kind", ["binary", "empty"])
@pytest.mark.parametrize("command", ["run", "compile", "lint", "graph"])
def test_a_bad_guide(kind: str, command: str, tmp_path: Path) -> None:
    guide = write(tmp_path, "bad.md", BAD[kind])
    args = [command, str(guide)] + (["--dry-run"] if command == "run" else []) + \
        (["--stdout"] if command == "compile" else [])
    proc = mendflow(*args, tmp=tmp_path)
    said = proc.stdout + proc.stderr
    if command == "lint":  # lint reports a guide it cannot read as an error finding
        assert proc.returncode in (1, 2) and "Traceback" not in said
    elif command == "compile":  # one line per guide that did not compile, then exit 2
        assert proc.returncode == 2 and "Traceback" not in said, said
        assert [ln for ln in said.splitlines() if ln.startswith("✘")] == [
            ln for ln in said.splitlines() if ln.strip()][-1:], said
    else:
        assert_one_line_bad_input(proc)


@pytest.mark.parametrize("text", [
    None,  # binary
    "[polcy]\nauto_approve = ['approve-*']\n",            # a misspelt section
    "[policy]\nauto_aprove = ['approve-*']\n",            # a misspelt key
    "[policy]\nauto_approve = 'approve-*'\n",             # a string, not a list
    "[datasources.db]\ntype = 'postgresql'\nurl = 3\n",   # a number for a url
    "[datasources.db\ntype = 'x'\n",                      # truncated
])
def test_a_bad_config_file(text: str | None, tmp_path: Path) -> None:
    config = write(tmp_path, "mendflow.toml", BINARY if text is None else text.encode())
    proc = mendflow("run", str(TRIAGE), "--dry-run", tmp=tmp_path,
                    env={"MENDFLOW_CONFIG_FILE": str(config)})
    assert_one_line_bad_input(proc)
    assert "mendflow.toml" in proc.stderr


def test_a_config_file_that_is_not_there_is_an_error_not_silence(tmp_path: Path) -> None:
    proc = mendflow("run", str(TRIAGE), "--dry-run", tmp=tmp_path,
                    env={"MENDFLOW_CONFIG_FILE": str(tmp_path / "nowhere.toml")})
    assert_one_line_bad_input(proc)
    assert "nowhere.toml" in proc.stderr


@pytest.mark.parametrize("kind", ["binary", "empty", "truncated-json", "list", "wrong-shape"])
def test_a_bad_policy_history(kind: str, tmp_path: Path) -> None:
    history = write(tmp_path, "history.jsonl", BAD[kind])
    assert_one_line_bad_input(mendflow("policy", str(PEG), "--history", str(history),
                                       tmp=tmp_path))


@pytest.mark.parametrize("kind", ["binary", "empty", "truncated-json", "list", "wrong-shape"])
def test_bad_recorded_runs_for_calibration(kind: str, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    write(runs, "run-1.jsonl", BAD[kind])
    assert_one_line_bad_input(mendflow("detector", "calibrate", str(runs), "--detector",
                                       "ft_jam_slip", "-o", str(tmp_path / "cal.json"),
                                       tmp=tmp_path))


@pytest.mark.parametrize("alpha", ["0", "1", "-0.1", "1.5", "nan"])
def test_an_alpha_that_is_not_a_rate(alpha: str, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    assert_one_line_bad_input(mendflow("detector", "calibrate", str(runs), "--detector",
                                       "ft_jam_slip", "--alpha", alpha, "-o",
                                       str(tmp_path / "cal.json"), tmp=tmp_path))


@pytest.mark.parametrize("kind", ["binary", "empty", "truncated-json", "list", "wrong-shape"])
def test_bad_calibration_files(kind: str, tmp_path: Path) -> None:
    cal = write(tmp_path, "cal.json", BAD[kind])
    assert_one_line_bad_input(mendflow("detector", "combine", str(cal), str(cal), "-o",
                                       str(tmp_path / "c.json"), tmp=tmp_path))
    runs = tmp_path / "runs"
    runs.mkdir(exist_ok=True)
    assert_one_line_bad_input(mendflow("detector", "evaluate", str(runs), "--calibration",
                                       str(cal), tmp=tmp_path))


@pytest.mark.parametrize("env", [
    {"MENDFLOW_DEFAULT_TIMEOUT_S": "soon"},
    {"MENDFLOW_MAX_CONCURRENCY": "0", "MENDFLOW_LLM_ATTEMPTS": "9"},
    {"MENDFLOW_DATABASE_URL": "postgresql://u:hunter2-secret@db/x", "MENDFLOW_LOG_FORMAT": "xml"},
])
def test_a_bad_setting_is_one_line_naming_the_variable(env: dict[str, str],
                                                       tmp_path: Path) -> None:
    proc = mendflow("run", str(TRIAGE), "--dry-run", tmp=tmp_path, env=env)
    assert_one_line_bad_input(proc)
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr  # pydantic's spans lines
    for name in env:
        if name != "MENDFLOW_DATABASE_URL":
            assert name in proc.stderr
    assert "hunter2" not in proc.stderr and "errors.pydantic.dev" not in proc.stderr


# -- files the user names to write -------------------------------------------------------------


def unwritable(tmp: Path) -> Path:
    """A path no user can write, root included: its folder is a regular file."""
    blocker = tmp / "not-a-folder"
    blocker.write_text("x")
    return blocker / "sub" / "out"


@pytest.mark.parametrize("args", [
    ("compile", str(TRIAGE), "--out", "{bad}"),
    ("graph", str(TRIAGE), "--format", "dot", "-o", "{bad}.dot"),
    ("graph", str(TRIAGE), "--format", "mermaid", "-o", "{folder}"),
    ("detector", "calibrate", "{tmp}", "--detector", "ft_jam_slip", "-o", "{bad}.json"),
], ids=["compile-out", "graph-out", "graph-out-is-a-folder", "calibrate-out"])
def test_an_output_path_that_cannot_be_written(args: tuple[str, ...], tmp_path: Path) -> None:
    bad = unwritable(tmp_path)
    filled = [a.format(bad=bad, folder=tmp_path, tmp=tmp_path) for a in args]
    assert_one_line_bad_input(mendflow(*filled, tmp=tmp_path))


def test_a_data_folder_that_cannot_be_created(tmp_path: Path) -> None:
    bad = unwritable(tmp_path)
    proc = mendflow("runs", tmp=tmp_path, env={"MENDFLOW_DATA_DIR": str(bad)})
    assert_one_line_bad_input(proc)
    assert "MENDFLOW_DATA_DIR" in proc.stderr
