"""The LLM judge on Celery workers: a run started with `MENDFLOW_LLM` saves its judge with the
run, and the worker that meets a prose decision asks that model (over real HTTP, a local
server speaking the OpenAI protocol), with the evidence the steps before it found."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from engine.compile import compile_guide
from engine.guide import parse_guide
from engine.store.base import RunOptions
from tests.support.judging import PODS_GUIDE as GUIDE
from tests.support.judging import is_judgment
from tests.support.openai_server import openai_server
from tests.worker.conftest import Workers, wait_all

pytest.importorskip("langchain_openai")



async def test_a_worker_asks_the_runs_judge(worker_env, store, starter, tmp_path: Path) -> None:
    def script(body: dict[str, Any]) -> Any:
        if is_judgment(body):
            return {"holds": True, "confidence": 0.9, "rationale": "web-1 is crash-looping"}
        return 500

    plan = compile_guide(parse_guide(GUIDE, path=str(tmp_path / "pods.md")))
    with openai_server(script) as server:
        env = {**worker_env, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-test",
               "MENDFLOW_WORKER_PLUGINS": worker_env["MENDFLOW_WORKER_PLUGINS"]
               + ",plugins.shell:ShellPlugin"}
        workers = Workers(env, tmp_path)
        try:
            workers.start("w1")
            run = await starter.start(plan, guide_path=str(tmp_path / "pods.md"),
                                      run_id=f"judge-{uuid.uuid4().hex[:10]}",
                                      options=RunOptions(judge="openai:test-model"))
            (record,) = await wait_all(store, [run.run_id], timeout=90)
        finally:
            workers.stop_all()
    assert record.options.judge == "openai:test-model"
    assert (record.status, record.outcome) == ("succeeded", "escalate"), record.reason
    judged = [p for b, p in zip(server.requests, server.prompts()) if is_judgment(b)]
    assert len(judged) == 1 and "CrashLoopBackOff" in judged[0]
    events = await store.events(run.run_id)
    said = " ".join(str(e.data) for e in events)
    assert "llm:openai:test-model" in said  # the recorded answer names who judged
    # what the worker's judge spent is the run's, as a local run's is (it was not counted)
    spent = await store.llm_usage(run.run_id)
    assert [(u.purpose, u.calls) for u in spent] == [("judge", 1)], spent
    assert "test-model" in spent[0].model


def test_the_cli_starter_saves_its_judge_only_when_it_judges_with_the_llm() -> None:
    from engine.cli.runs import _run_options
    from engine.compile.llm import LlmJudge
    from engine.interaction import Answers
    from engine.settings import Settings

    settings = Settings(database_url="postgresql://127.0.0.1/test", llm="openai:test-model")
    judged = Answers(fallback=LlmJudge(model=object(), label="openai:test-model"))  # type: ignore[arg-type]
    for interaction, expected in ((judged, "openai:test-model"), (Answers(), None)):
        options = _run_options(settings, interaction, executor="celery", dry_run=False)
        assert options.judge == expected and options.executor == "celery"
