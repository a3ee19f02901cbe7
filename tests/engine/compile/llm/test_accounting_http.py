"""What a run spent on the LLM is kept with the run and shown by `show` and `report`.

Over real HTTP against the local OpenAI-protocol server (tests/support/openai_server.py): a run
whose plan the model compiles and whose decision the model judges stores both purposes' calls,
tokens and approximate cost in the store (SQLite here; the store contract checks PostgreSQL
too), and `mendflow show RUN` and `mendflow report RUN` print them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from engine.compile import compile_path
from tests.support.judging import PODS_GUIDE as GUIDE
from tests.support.judging import is_judgment as _is_judgment
from tests.support.openai_server import openai_server

MENDFLOW = [sys.executable, "-m", "engine.cli"]
pytest.importorskip("langchain_openai")
PG_URL = os.environ.get("MENDFLOW_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MENDFLOW, *args], env=env, text=True, capture_output=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def _script(structural: dict[str, Any]):  # noqa: ANN202
    reply = {k: structural[k] for k in ("steps", "edges", "entry", "inputs")}

    def script(body: dict[str, Any]) -> Any:
        if _is_judgment(body):
            return {"holds": True, "confidence": 0.9, "rationale": "web-1 is crash-looping"}
        return reply  # the compile: the structural plan, accepted at the first attempt
    return script


def _spend(tmp_path: Path, **env_extra: str) -> tuple[str, str, str]:
    """(the run's output, `show`'s, `report`'s) for a judged run of an LLM-compiled plan."""
    guide = tmp_path / "pods.md"
    guide.write_text(GUIDE)
    script = _script(json.loads(compile_path(guide).to_json()))
    with openai_server(script) as server:
        env = {**os.environ, "MENDFLOW_DATA_DIR": str(tmp_path / "data"),
               "MENDFLOW_LLM": "openai:gpt-4o-mini", "OPENAI_BASE_URL": server.base_url,
               "OPENAI_API_KEY": "sk-test", **env_extra}
        ran = _run(["run", str(guide)], env)
    assert ran.returncode == 3, ran.stdout + ran.stderr  # escalate: the judge said yes
    run_id = next(w for line in ran.stdout.splitlines() if line.startswith("run ")
                  for w in [line.split()[1].rstrip(":")])
    shown = _run(["show", run_id], env)
    reported = _run(["report", run_id], env)
    assert shown.returncode == 0 and reported.returncode == 0, shown.stderr + reported.stderr
    return ran.stdout + ran.stderr, " ".join(shown.stdout.split()), reported.stdout


def test_show_and_report_say_what_the_run_spent_on_the_llm(tmp_path: Path) -> None:
    _, shown, reported = _spend(tmp_path)
    # 100 in / 20 out per call (the server's usage), priced at gpt-4o-mini's list price
    compile_line = "compile openai:gpt-4o-mini: 1 call(s), 100 in / 20 out tokens, ~$0.0000"
    judge_line = "judge openai:gpt-4o-mini: 1 call(s), 100 in / 20 out tokens, ~$0.0000"
    assert f"LLM: {compile_line}" in shown and f"LLM: {judge_line}" in shown, shown
    assert "LLM: total: ~$0.0001" in shown, shown  # 2 x (100 x 0.15 + 20 x 0.60) / 1e6
    assert f"- **LLM:** {compile_line}" in reported and f"- **LLM:** {judge_line}" in reported


def test_the_postgresql_store_keeps_it_too(tmp_path: Path) -> None:
    asyncpg = pytest.importorskip("asyncpg")
    import asyncio

    schema = f"mf_test_{uuid.uuid4().hex[:12]}"

    async def ddl(sql: str) -> Any:
        conn = await asyncpg.connect(PG_URL)
        try:
            return await conn.fetchval(sql)
        finally:
            await conn.close()

    try:
        asyncio.run(ddl(f"CREATE SCHEMA {schema}"))
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.skip(f"no PostgreSQL at {PG_URL}: {exc}")
    try:
        # asyncpg passes unknown URL parameters as server settings: the run's own schema
        _, shown, _ = _spend(tmp_path, MENDFLOW_DATABASE_URL=f"{PG_URL}?search_path={schema}")
        rows = asyncio.run(ddl(f"SELECT count(*) FROM {schema}.llm_usage"))
    finally:
        asyncio.run(ddl(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    assert "LLM: judge openai:gpt-4o-mini: 1 call(s), 100 in / 20 out tokens" in shown, shown
    assert "LLM: compile openai:gpt-4o-mini: 1 call(s)" in shown, shown
    assert rows == 2  # kept in PostgreSQL, not in a SQLite file beside it
