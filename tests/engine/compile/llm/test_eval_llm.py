"""`mendflow eval --llm`: the model's plans scored by the same fidelity measures as the
structural compiler's, over HTTP against recorded replies (tests/fixtures/llm).

The fixtures hold two guides the model refines (tests/fixtures/llm/guides, recorded/) and one
it keeps inventing an `openssl` command for (tests/fixtures/llm/eval, eval/recorded/): the
grounding check rejects it three times, and that guide is scored on the structural plan a run
would fall back to, and said so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.openai_server import Replay, openai_server

ROOT = Path(__file__).resolve().parents[4]
FIXTURES = ROOT / "tests" / "fixtures" / "llm"
MENDFLOW = [sys.executable, "-m", "engine.cli"]
pytest.importorskip("langchain_openai")


def _eval(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "MENDFLOW_LLM"}  # only if given
    full.update(PYTHONPATH=str(ROOT), OPENAI_API_KEY="sk-test", **env)
    return subprocess.run([*MENDFLOW, "eval", *args], env=full, text=True, capture_output=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def test_without_a_model_it_is_one_line_and_exit_2(tmp_path: Path) -> None:
    proc = _eval(["--llm", str(FIXTURES / "guides")], MENDFLOW_DATA_DIR=str(tmp_path))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "MENDFLOW_LLM is not set" in lines[0], proc.stderr
    assert proc.stdout == ""


def test_the_models_plans_are_scored_like_the_structural_ones(tmp_path: Path) -> None:
    folders = []
    for name in ("guides", "eval"):  # copies elsewhere: the recordings are machine-neutral
        shutil.copytree(FIXTURES / name, tmp_path / name, ignore=shutil.ignore_patterns("*.json"))
        folders.append(str(tmp_path / name))
    replay = Replay(FIXTURES / "recorded", FIXTURES / "eval" / "recorded")
    with openai_server(replay) as server:
        llm = _eval(["--llm", "--format", "json", *folders], MENDFLOW_DATA_DIR=str(tmp_path),
                    MENDFLOW_LLM="openai:gpt-4o-mini", OPENAI_BASE_URL=server.base_url)
    structural = _eval(["--format", "json", *folders], MENDFLOW_DATA_DIR=str(tmp_path))
    assert replay.misses == [], (replay.misses, llm.stderr)
    assert llm.returncode == 0 and structural.returncode == 0, llm.stderr + structural.stderr
    got, base = json.loads(llm.stdout), json.loads(structural.stdout)
    # The same measures, per source and in total, for the LLM's plans
    assert got["measures"].keys() == base["measures"].keys() == {"TOTAL", "guides", "eval"}
    assert got["measures"]["TOTAL"].keys() == base["measures"]["TOTAL"].keys()
    total = got["measures"]["TOTAL"]
    assert total["files"] == 3 and total["invented"] == 0
    assert total["kept"]["value"] == 1.0 and total["gated"]["value"] == 1.0
    # Who compiled what, and what it cost (2 refined plans, 3 rejected attempts)
    assert got["llm"]["model"] == "openai:gpt-4o-mini"
    assert got["llm"]["compiled_by_model"] == 2
    assert [Path(f["guide"]).name for f in got["llm"]["fell_back"]] == ["cert-expiry.md"]
    assert "openssl" in got["llm"]["fell_back"][0]["why"]
    assert got["llm"]["usage"]["calls"] == 5 and got["llm"]["usage"]["cost_usd"] > 0
    assert "llm" not in base
    said = " ".join(llm.stderr.split())
    assert "structural plan scored:" in said and "2 compiled by the model, 1 fell back" in said


def test_an_unreachable_provider_stops_the_eval(tmp_path: Path) -> None:
    proc = _eval(["--llm", str(FIXTURES / "guides")], MENDFLOW_DATA_DIR=str(tmp_path),
                 MENDFLOW_LLM="openai:gpt-4o-mini", OPENAI_BASE_URL="http://127.0.0.1:9/v1",
                 MENDFLOW_LLM_ATTEMPTS="1", MENDFLOW_LLM_TIMEOUT_S="5")
    # not a table of structural scores passed off as the model's
    assert proc.returncode != 0 and proc.stdout == "", proc.stdout
    assert "cannot reach openai:gpt-4o-mini" in " ".join(proc.stderr.split()), proc.stderr
