"""The `mendflow` command, run as a user runs it: a real process, real files, exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD = ("---\ntitle: Good\n---\n# Good\n\n## Diagnosis\n\n1. Check nodes:\n\n   ```bash\n"
        "   kubectl get nodes\n   ```\n")
BAD = {
    "binary.md": b"\x00\x01\x02 not text",
    "empty.md": b"---\ntitle: x\n---\n\n",
    "fence.md": b"# T\n\n```bash\nls\n",
    "front.md": b"---\ntitle: [unclosed\n---\n# T\n",
    "anchor.md": b"# T\n\n## Diagnosis\n\n1. Check:\n   ```bash\n   ls\n   ```\n"
                 b"2. If it is empty, skip to [Mitigation](#mitigaton).\n\n## Mitigation\n\n"
                 b"1. Fix:\n   ```bash\n   kubectl delete pod x\n   ```\n",
}


def mendflow(*args: str, data: Path, env: dict[str, str] | None = None,
             timeout: float = 60) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "MENDFLOW_DATA_DIR": str(data), **(env or {})}
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], env=full_env, text=True,
                          capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture
def guides(tmp_path: Path) -> Path:
    folder = tmp_path / "guides"
    folder.mkdir()
    (folder / "good.md").write_text(GOOD)
    for name, data in BAD.items():
        (folder / name).write_bytes(data)
    return folder


def test_a_folder_compiles_file_by_file_and_bad_files_say_where(guides: Path,
                                                                tmp_path: Path) -> None:
    out = tmp_path / "plans"
    proc = mendflow("compile", str(guides), "--out", str(out), data=tmp_path)
    assert proc.returncode == 2
    assert (out / "good.plan.json").exists()
    errors = proc.stderr
    assert "Traceback" not in errors
    assert "binary.md:1: not a text file" in errors
    # An empty guide and a fence never closed compile (as CommonMark reads them); lint warns.
    assert (out / "empty.plan.json").exists() and (out / "fence.plan.json").exists()
    assert "front.md:2: malformed front matter" in errors
    assert "anchor.md:9" in errors and "#mitigaton" in errors and "#mitigation" in errors
    assert "3 compiled, 3 failed" in proc.stdout


def test_compiling_twice_gives_the_same_bytes(guides: Path, tmp_path: Path) -> None:
    first = mendflow("compile", str(guides / "good.md"), "--stdout", data=tmp_path)
    second = mendflow("compile", str(guides / "good.md"), "--stdout", data=tmp_path)
    assert first.returncode == 0 and first.stdout == second.stdout
    assert json.loads(first.stdout)["schema_version"] == 1


def test_a_huge_guide_is_refused_with_advice(tmp_path: Path) -> None:
    huge = tmp_path / "huge.md"
    huge.write_text("# Huge\n\n" + "Check the thing.\n\n" * 700_000)  # ~12 MB
    proc = mendflow("compile", str(huge), "--stdout", data=tmp_path)
    assert proc.returncode == 2 and "limit" in proc.stderr and "Split it" in proc.stderr


def test_lint_reports_as_text_and_json_and_fails_on_errors(guides: Path, tmp_path: Path) -> None:
    text = mendflow("lint", str(guides / "anchor.md"), data=tmp_path)
    assert text.returncode == 1 and "MF203" in text.stdout and "suggestion:" in text.stdout
    as_json = mendflow("lint", str(guides / "anchor.md"), "--format", "json", data=tmp_path)
    findings = json.loads(as_json.stdout)
    assert any(f["rule"] == "MF203" and f["line"] == 9 for f in findings)
    clean = mendflow("lint", str(ROOT / "guides" / "sre" / "linux-host-triage.md"), data=tmp_path)
    assert clean.returncode == 0, clean.stdout


def test_graph_draws_mermaid_and_dot(tmp_path: Path) -> None:
    triage = str(ROOT / "guides" / "sre" / "linux-host-triage.md")
    mermaid = mendflow("graph", triage, data=tmp_path)
    assert mermaid.returncode == 0 and mermaid.stdout.startswith(("flowchart", "graph"))
    assert "disk" in mermaid.stdout and "end-no-action" in mermaid.stdout
    dot = mendflow("graph", triage, "--format", "dot", data=tmp_path)
    assert dot.returncode == 0 and dot.stdout.lstrip().startswith("digraph")
    bad = mendflow("graph", triage, "--format", "gif", data=tmp_path)
    assert bad.returncode == 2 and "mermaid, dot, svg or png" in bad.stderr
    picture = tmp_path / "plan.svg"
    svg = mendflow("graph", triage, "--format", "svg", "--out", str(picture), data=tmp_path)
    if "Graphviz is not installed" in svg.stderr:
        pytest.skip("graphviz is not installed here (scripts/ensure-system.sh installs it)")
    assert svg.returncode == 0 and picture.read_text().lstrip().startswith(("<?xml", "<svg"))
    assert "(no_action)" in picture.read_text()  # graphviz escapes the hyphens of ids


def test_schema_is_json_schema_of_the_plan(tmp_path: Path) -> None:
    proc = mendflow("schema", data=tmp_path)
    schema = json.loads(proc.stdout)
    assert "steps" in schema["properties"] and schema["$id"].endswith("plan-v1.json")


def test_plugins_lists_the_built_in_plugins(tmp_path: Path) -> None:
    proc = mendflow("plugins", data=tmp_path)
    for name in ("shell", "prometheus", "sql", "http", "logs"):
        assert name in proc.stdout


def test_a_plan_from_another_schema_version_is_refused(tmp_path: Path) -> None:
    compiled = mendflow("compile", str(ROOT / "guides" / "sre" / "linux-host-triage.md"),
                        "--stdout", data=tmp_path)
    plan = json.loads(compiled.stdout)
    plan["schema_version"] = 0
    old = tmp_path / "old.plan.json"
    old.write_text(json.dumps(plan))
    proc = mendflow("run", str(old), data=tmp_path)
    assert proc.returncode == 2
    assert "schema version 0" in proc.stderr and "Recompile" in proc.stderr


def test_bad_inputs_and_a_corrupted_store_are_clear_errors(tmp_path: Path) -> None:
    triage = str(ROOT / "guides" / "sre" / "linux-host-triage.md")
    assert "Write --input NAME=VALUE" in mendflow("run", triage, "-i", "oops",
                                                  data=tmp_path).stderr
    alert = tmp_path / "alert.json"
    alert.write_text("{not json")
    proc = mendflow("run", triage, "--alert", str(alert), data=tmp_path)
    assert proc.returncode == 2 and "alert.json:1" in proc.stderr
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "mendflow.sqlite3").write_bytes(os.urandom(8192))
    proc = mendflow("run", triage, data=broken)
    assert proc.returncode == 5 and "aside" in proc.stderr and "corrupted" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_runs_show_and_report_describe_a_finished_run(tmp_path: Path) -> None:
    triage = str(ROOT / "guides" / "sre" / "linux-host-triage.md")
    mendflow("run", triage, data=tmp_path)
    listing = mendflow("runs", data=tmp_path)
    run_id = next(w for w in listing.stdout.split() if w.startswith("20"))
    show = mendflow("show", run_id, data=tmp_path)
    assert show.returncode == 0 and "critical path" in show.stdout and "disk" in show.stdout
    report = mendflow("report", run_id, data=tmp_path)
    assert report.stdout.startswith(f"# Run {run_id}")
    for section in ("## What each step found", "## Timeline", "gantt", "## Plan"):
        assert section in report.stdout
    missing = mendflow("show", "no-such-run", data=tmp_path)
    assert missing.returncode == 2 and "mendflow runs" in missing.stderr


def test_ctrl_c_leaves_a_resumable_run(tmp_path: Path) -> None:
    slow = tmp_path / "slow.md"
    slow.write_text("# Slow\n\n## Diagnosis\n\n1. Wait {#wait}:\n\n   ```bash\n   sleep 2\n"
                    "   ```\n\n2. Then check {#after}:\n\n   ```bash\n   uname -s\n   ```\n")
    env = {**os.environ, "MENDFLOW_DATA_DIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "run", str(slow)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)
    assert "Slow" in proc.stdout.readline()  # type: ignore[union-attr] - the run has begun
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "resumable" in err
    listing = mendflow("runs", data=tmp_path)
    assert "interrupted" in listing.stdout
    run_id = next(w for w in listing.stdout.split() if w.startswith("20"))
    resumed = mendflow("resume", run_id, data=tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr


def test_first_ctrl_c_cancels_and_runs_the_always_steps(tmp_path: Path) -> None:
    marker = tmp_path / "safe"
    guide = tmp_path / "cell.md"
    guide.write_text("# Cell\n\n## Steps\n\n1. Work {#work}:\n\n   ```bash\n   sleep 20\n"
                     f"   ```\n\n## Always: make it safe\n\n1. Park {{#park}}:\n\n   ```bash\n"
                     f"   touch {marker}\n   ```\n")
    config = tmp_path / "mendflow.toml"
    config.write_text('[policy]\nauto_approve = ["*"]\n')  # `sleep` is read-only anyway
    env = {**os.environ, "MENDFLOW_DATA_DIR": str(tmp_path), "MENDFLOW_CONFIG_FILE": str(config)}
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "run", str(guide)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)
    assert "Cell" in proc.stdout.readline()  # type: ignore[union-attr] - the run has begun
    time.sleep(0.8)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)  # the 20 s step is cancelled, not waited for
    assert proc.returncode == 130, out + err
    assert "running the clean-up steps (park)" in err
    assert marker.exists()
    assert "cancelled" in mendflow("runs", data=tmp_path).stdout


def test_an_operator_policy_approves_gates_without_a_terminal(tmp_path: Path) -> None:
    target = tmp_path / "gone"
    target.write_text("x")
    guide = tmp_path / "fix.md"
    guide.write_text(f"# Fix\n\n## Mitigation\n\n1. Remove it:\n\n   ```bash\n   rm {target}\n"
                     "   ```\n")
    denied = mendflow("run", str(guide), data=tmp_path)
    assert denied.returncode == 3 and target.exists()
    config = tmp_path / "mendflow.toml"
    config.write_text('[policy]\nauto_approve = ["rm *"]\n')
    approved = mendflow("run", str(guide), data=tmp_path,
                        env={"MENDFLOW_CONFIG_FILE": str(config)})
    assert approved.returncode == 0, approved.stdout + approved.stderr
    assert not target.exists() and "approved by policy" in approved.stdout
    config.write_text("[policy]\nauto_approve = 'approve-*'\n")
    bad = mendflow("run", str(guide), data=tmp_path, env={"MENDFLOW_CONFIG_FILE": str(config)})
    assert bad.returncode == 2 and "policy.auto_approve" in bad.stderr and "list" in bad.stderr


def test_a_plan_file_meets_the_compilers_rules_before_it_runs(tmp_path: Path) -> None:
    # Given a hand-written plan whose change has no approval in front of it
    from engine.plan import Edge, Plan, SourceInfo, Span, Step

    victim = tmp_path / "victim"
    victim.write_text("x")
    span = Span(start=1, end=1)
    steps = [Step(id="rm", title="rm", kind="command", plugin="shell", mutating=True,
                  params={"pipeline": [["rm", str(victim)]]}, source=span),
             Step(id="ok", title="ok", kind="end", outcome="resolved", source=span)]
    plan = Plan(id="hand", title="hand", compiler="hand/1", entry="rm", steps=steps,
                edges=[Edge(source="rm", target="ok")],
                source=SourceInfo(path="hand.md", sha256="0" * 64))
    plan_file = tmp_path / "hand.plan.json"
    plan_file.write_text(plan.to_json())
    # When it is run, even with --yes
    done = mendflow("run", str(plan_file), "--yes", data=tmp_path)
    # Then it is refused before anything runs, saying what the plan lacks
    assert done.returncode == 2, done.stdout + done.stderr
    assert "mutating step 'rm' has no approval in front of it" in done.stderr
    assert victim.exists()


def test_the_readme_exit_code_table_is_the_one_the_command_uses() -> None:
    import re

    from engine.cli._app import OUTCOME_EXIT
    from engine.errors import ExitCode

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = dict(re.findall(r"^\| (\d+) \| (.+) \|$", readme, re.M))
    assert sorted(int(code) for code in table) == sorted(int(c) for c in ExitCode)
    for outcome, code in OUTCOME_EXIT.items():
        assert f"`{outcome}`" in table[str(int(code))], (outcome, code)
    assert "bad input" in table["2"] and "unavailable" in table["5"]
