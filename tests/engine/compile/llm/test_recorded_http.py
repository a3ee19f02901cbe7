"""Recorded responses: exchanges with an OpenAI-compatible server kept as files and replayed.

`MENDFLOW_LLM_RECORD=DIR` writes each exchange the client makes; `Replay(DIR)` answers from
those files through the real local HTTP server, keyed by the hash of the normalised request.
tests/fixtures/llm/recorded holds exchanges in the shape a real server sends (ids, usage,
finish_reason, system_fingerprint) for the guides in tests/fixtures/llm/guides: compile and
judge run end to end from them, HTTP included, with no model.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.compile import compile_path
from engine.compile.llm.recording import load_exchanges, normalise, request_key
from tests.support.judging import PODS_GUIDE as GUIDE
from tests.support.judging import is_judgment as _is_judgment
from tests.support.openai_server import Replay, openai_server

ROOT = Path(__file__).resolve().parents[4]
FIXTURES = ROOT / "tests" / "fixtures" / "llm"
MENDFLOW = [sys.executable, "-m", "engine.cli"]
pytest.importorskip("langchain_openai")


def _run(args: list[str], env: dict[str, str], cwd: Path | None = None
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MENDFLOW, *args], env=env, text=True, capture_output=True,
                          timeout=120, stdin=subprocess.DEVNULL, cwd=cwd)


def _env(data: Path, base_url: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "MENDFLOW_DATA_DIR": str(data),
            "MENDFLOW_LLM": "openai:gpt-4o-mini", "OPENAI_BASE_URL": base_url,
            "OPENAI_API_KEY": "sk-test", **extra}


def test_the_key_ignores_what_differs_between_machines() -> None:
    body = {"model": "gpt-4o-mini", "temperature": 0.0, "stream": False, "n": 1,
            "response_format": {"type": "json_object"},
            "messages": [{"role": "user", "content": 'plan {"path": "/tmp/pytest-7/a/pods.md"} '
                          "at 2026-12-02T06:04:54.123Z"}]}
    elsewhere = {**body, "model": "llama3.1", "stream": True, "messages": [
        {"role": "user", "content": 'plan {"path":  "/home/ci/work/pods.md"}\n'
         "at 2025-01-01T00:00:00Z"}]}
    assert request_key(body) == request_key(elsewhere)
    other = {**body, "messages": [{"role": "user", "content": "plan for db.md"}]}
    assert request_key(body) != request_key(other)
    assert normalise(body)["messages"][0]["content"].startswith('plan {"path": "pods.md"}')


def test_a_recorded_run_replays_over_http_with_no_model(tmp_path: Path) -> None:
    recorded = tmp_path / "recorded"
    structural = json.loads(compile_path(_guide(tmp_path / "a")).to_json())
    reply = {k: structural[k] for k in ("steps", "edges", "entry", "inputs")}

    def live(body: dict[str, Any]) -> Any:  # stands for any OpenAI-compatible server
        if _is_judgment(body):
            return {"holds": True, "confidence": 0.9, "rationale": "web-1 is crash-looping"}
        return reply

    # Given a run recorded against a server
    with openai_server(live) as server:
        first = _run(["run", str(_guide(tmp_path / "a"))],
                     _env(tmp_path / "d1", server.base_url, MENDFLOW_LLM_RECORD=str(recorded)))
    assert first.returncode == 3, first.stdout + first.stderr
    files = sorted(recorded.glob("*.json"))
    assert len(files) == 2  # the compile and the judgment
    kept = json.loads(files[0].read_text())
    assert kept["response"]["usage"]["prompt_tokens"] == 100 and kept["status"] == 200
    assert "sk-test" not in "".join(f.read_text() for f in files)  # no credentials kept

    # When the same guide runs elsewhere (another folder, a fresh store) against the replay
    replay = Replay(recorded)
    with openai_server(replay) as server:
        again = _run(["run", str(_guide(tmp_path / "b"))], _env(tmp_path / "d2", server.base_url))
    # Then every request was answered from the recording, with the same outcome
    assert replay.misses == [] and len(replay.hits) == 2, (replay.misses, again.stderr)
    assert again.returncode == 3, again.stdout + again.stderr
    assert "1 attempt(s)" in again.stderr and "web-1 is crash-looping" in again.stderr


def test_a_request_nobody_recorded_is_a_miss_not_a_guess(tmp_path: Path) -> None:
    replay = Replay(tmp_path)  # nothing recorded
    with openai_server(replay) as server:
        proc = _run(["compile", "--llm", str(_guide(tmp_path / "a")), "-o", str(tmp_path / "o")],
                    _env(tmp_path / "d", server.base_url, MENDFLOW_LLM_ATTEMPTS="1"))
    assert proc.returncode != 0 and len(replay.misses) == 1
    assert "no recorded reply" in " ".join(proc.stderr.split())


def test_compile_and_judge_run_end_to_end_from_the_shipped_fixtures(tmp_path: Path) -> None:
    replay = Replay(FIXTURES / "recorded")
    guides = tmp_path / "guides"  # a copy elsewhere: the recording is machine-neutral
    shutil.copytree(FIXTURES / "guides", guides)
    with openai_server(replay) as server:
        env = _env(tmp_path / "data", server.base_url)
        compiled = _run(["compile", "--llm", str(guides), "-o", str(tmp_path / "plans")], env)
        disk = _run(["run", str(guides / "disk-full.md")], env)
        crash = _run(["run", str(guides / "pods-crash-looping.md")], env)
    assert replay.misses == [], (replay.misses, compiled.stderr, disk.stderr, crash.stderr)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    # The model's refinement is the plan that ran: it made the disk decision deterministic
    # (an expression over df's output, so it is not judged), and left the other to the judge
    plan = json.loads((tmp_path / "plans" / "disk-full.llm.plan.json").read_text())
    assert plan["compiler"].startswith("llm/")
    assert any("column(5)" in (e["condition"] or {}).get("expr", "") for e in plan["edges"]
               if e["condition"] and e["condition"]["expr"])
    assert disk.returncode == 0, disk.stdout + disk.stderr  # 72% full: no action
    assert crash.returncode == 3, crash.stdout + crash.stderr
    said = " ".join(crash.stderr.split())
    assert "judged" in said and "OOMKilled" in said, said
    assert "judge: openai:gpt-4o-mini, 1 call(s), 412 in / 38 out tokens" in said, said
    # Every fixture was used: none is stale
    assert set(replay.hits) == set(load_exchanges(FIXTURES / "recorded")), replay.hits


def _guide(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pods.md"
    path.write_text(GUIDE)
    return path


def test_the_judge_is_told_each_thing_once() -> None:
    from engine.compile.llm.prompts import judge_request

    cond = "If the pods are crash-looping because they ran out of memory"
    asked = judge_request(cond, cond, cond, "pods found: OOMKilled")
    assert asked.count(cond) == 1 and "Decision:" not in asked
    richer = judge_request("memory is short", "Check memory", "If memory is short, restart",
                           "free found: 10 MB")
    assert "Decision: Check memory" in richer and "Instruction: If memory is short" in richer
