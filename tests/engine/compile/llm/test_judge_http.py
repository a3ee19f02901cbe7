"""The LLM path over real HTTP: `mendflow` against a local server speaking the OpenAI protocol.

Each test is a failure a user met with vLLM or Ollama behind OPENAI_BASE_URL: the judge
decided blind (given the decision's own empty output), an If and its Otherwise were two
questions, a hung server cost six minutes per call, `resume` never used the judge, and a
shipped guide's own plan was rejected as hallucinated.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from engine.compile import compile_path
from engine.store import open_store
from tests.support.judging import PODS_GUIDE as GUIDE
from tests.support.judging import is_judgment
from tests.support.openai_server import openai_server

ROOT = Path(__file__).resolve().parents[4]
MENDFLOW = [sys.executable, "-m", "engine.cli"]
pytest.importorskip("langchain_openai")



def _env(tmp_path: Path, base_url: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "MENDFLOW_DATA_DIR": str(tmp_path / "data"),
            "MENDFLOW_LLM": "openai:test-model", "OPENAI_BASE_URL": base_url,
            "OPENAI_API_KEY": "sk-test", **extra}


def _run(args: list[str], env: dict[str, str],
         timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MENDFLOW, *args], env=env, text=True, capture_output=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def test_the_judge_gets_one_question_with_the_evidence_it_is_about(tmp_path: Path) -> None:
    guide = tmp_path / "pods.md"
    guide.write_text(GUIDE)

    def script(body: dict[str, Any]) -> Any:
        if is_judgment(body):
            return {"holds": True, "confidence": 0.9, "rationale": "web-1 is in CrashLoopBackOff"}
        return 500  # no LLM plan: the structural plan runs

    with openai_server(script) as server:
        proc = _run(["run", str(guide)], _env(tmp_path, server.base_url))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    judged = [p for b, p in zip(server.requests, server.prompts()) if is_judgment(b)]
    # One request for the decision (not one for the If and one for its Otherwise) ...
    assert len(judged) == 1, judged
    # ... showing what the step before it found, not the decision's own empty output
    assert "CrashLoopBackOff" in judged[0] and "{}" not in judged[0]
    assert "judge: openai:test-model, 1 call(s), 100 in / 20 out tokens" in proc.stderr


def test_a_hung_server_costs_one_bounded_wait_and_the_hint_is_exact(tmp_path: Path) -> None:
    guide = tmp_path / "pods.md"
    guide.write_text(GUIDE)

    def script(body: dict[str, Any]) -> Any:
        return ("hang", 20) if is_judgment(body) else 500

    env = _env(tmp_path, "", MENDFLOW_LLM_TIMEOUT_S="1", MENDFLOW_LLM_ATTEMPTS="1")
    with openai_server(script) as server:
        env["OPENAI_BASE_URL"] = server.base_url
        started = time.monotonic()
        proc = _run(["run", str(guide)], env)
        took = time.monotonic() - started
    judged = [b for b in server.requests if is_judgment(b)]
    # One judgment request, cut at the 1 s timeout: seconds (start-up included on a busy
    # machine), not the 120 s x 3 attempts it took before
    assert len(judged) == 1 and took < 60, (took, proc.stderr)
    # and with no person at the terminal, the run stops with the exact flag that answers it
    assert proc.returncode == 4, proc.stdout + proc.stderr
    said = " ".join((proc.stdout + proc.stderr).split())  # the console wraps long lines
    assert "--answer if-pods-crash-looping=yes|no" in said


def test_resume_asks_the_judge(tmp_path: Path) -> None:
    guide = tmp_path / "pods.md"
    guide.write_text(GUIDE.replace("1. List the pods {#pods}:", "1. Let the pods settle:\n\n"
                                   "   ```bash\n   sleep 3\n   ```\n\n"
                                   "2. List the pods {#pods}:"))

    def script(body: dict[str, Any]) -> Any:
        if is_judgment(body):
            return {"holds": False, "confidence": 0.95, "rationale": "all pods run"}
        return 500

    with openai_server(script) as server:
        env = _env(tmp_path, server.base_url)
        # Given a run killed while its check runs, before the decision is judged
        proc = subprocess.Popen([*MENDFLOW, "run", str(guide)], env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while not (run_id := _only_run(tmp_path / "data")):  # the check has started
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(0.3)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert not [b for b in server.requests if is_judgment(b)]
        # When it is resumed, the judge decides the decision, as on `run`
        resumed = _run(["resume", run_id], env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert len([b for b in server.requests if is_judgment(b)]) == 1


def _only_run(data: Path) -> str:
    import asyncio

    async def read() -> str:
        if not (data / "mendflow.sqlite3").exists():
            return ""
        store = open_store(data / "mendflow.sqlite3")
        await store.open()
        try:
            runs = await store.list_runs(limit=1)
            return runs[0].run_id if runs else ""
        finally:
            await store.close()

    return asyncio.run(read())


def test_a_model_that_returns_the_shipped_guides_own_plan_is_accepted(tmp_path: Path) -> None:
    # Given the structural plan of a shipped guide with templates and SQL bound parameters
    source = ROOT / "guides" / "sre" / "web-5xx-after-deploy.md"
    structural = json.loads(compile_path(source).to_json())
    reply = {k: structural[k] for k in ("steps", "edges", "entry", "inputs")}
    guide = tmp_path / source.name
    guide.write_text(source.read_text())
    with openai_server(lambda body: reply) as server:
        proc = _run(["compile", "--llm", str(guide), "-o", str(tmp_path / "out")],
                    _env(tmp_path, server.base_url))
    # Then it passes the checks at the first attempt: nothing is "hallucinated"
    assert proc.returncode == 0, proc.stdout + proc.stderr
    said = " ".join(proc.stderr.split())  # wrapped where the paths' length puts it
    assert len(server.requests) == 1 and "1 attempt(s)" in said, proc.stderr


def test_a_cut_reply_and_a_refused_json_mode_say_so(tmp_path: Path) -> None:
    guide = tmp_path / "pods.md"
    guide.write_text(GUIDE)
    env = _env(tmp_path, "", MENDFLOW_LLM_ATTEMPTS="1")
    # A reply cut at the output limit is reported as cut, not as a schema problem
    with openai_server(lambda body: ("length", '{"steps": [{"id": "a", "kind": "comm')) as server:
        env["OPENAI_BASE_URL"] = server.base_url
        proc = _run(["compile", "--llm", str(guide), "-o", str(tmp_path / "o1")], env)
    said = " ".join(proc.stderr.split())
    assert proc.returncode != 0 and "cut at the model's output limit" in said, said
    # A server that refuses JSON mode gets a hint about JSON mode
    refusal = ("status", 400, "response_format of type json_object is not supported")
    with openai_server(lambda body: refusal) as server:
        env["OPENAI_BASE_URL"] = server.base_url
        proc = _run(["compile", "--llm", str(guide), "-o", str(tmp_path / "o2")], env)
    said = " ".join(proc.stderr.split())
    assert proc.returncode != 0 and "refuses JSON mode" in said, said


def test_lint_with_the_llm_says_what_it_cost(tmp_path: Path) -> None:
    guide = tmp_path / "pods.md"
    guide.write_text(GUIDE)
    reply = {"suggestions": [{"line": 13, "message": "vague", "suggestion": "say which pods"}]}
    with openai_server(lambda body: reply) as server:
        proc = _run(["lint", "--llm", str(guide)], _env(tmp_path, server.base_url))
    assert "say which pods" in proc.stdout, proc.stdout + proc.stderr
    said = " ".join(proc.stderr.split())
    assert "lint openai:test-model, 1 call(s), 100 in / 20 out tokens" in said, said
