"""The LLM judge decides conditions (a person when it cannot); the plan cache and its choice."""

from __future__ import annotations

import json

import pytest

from engine.compile.cache import PlanCache, choose_plan, llm_plan_path
from engine.compile.llm import LlmJudge, ProviderConfigError, parse_spec
from engine.compile.llm.errors import ProviderUnavailable
from engine.compile.llm.provider import Usage
from engine.guide import parse_guide
from engine.interaction import Answer
from engine.plan import Condition, Edge, Span, Step, StepKind
from tests.engine.compile.llm.scripted import ScriptedChatModel

STEP = Step(id="disk", title="Check disk", kind=StepKind.COMMAND, source=Span(start=1, end=1))
EDGE = Edge(source="disk", target="cleanup", condition=Condition(text="If the disk is full"))


class Person:
    async def judge(self, *, step, edge, evidence):
        return Answer(False, "terminal")


async def test_the_judge_answers_with_the_models_rationale():
    model = ScriptedChatModel(replies=[{"holds": True, "rationale": "/ is 97% used"}], calls=[])
    judge = LlmJudge(model, "openai:gpt-4o-mini", fallback=Person())
    answer = await judge.judge(step=STEP, edge=EDGE, evidence="/dev/sda1 97% /")
    assert answer == Answer(True, "llm:openai:gpt-4o-mini", "/ is 97% used")
    assert "97% /" in str(model.calls[0][-1].content)


@pytest.mark.parametrize("reply", [{"holds": None, "rationale": "no data"}, "garbage",
                                   ConnectionError("refused")])
async def test_an_undecided_or_failing_judge_asks_the_person(reply):
    judge = LlmJudge(ScriptedChatModel(replies=[reply], calls=[]), "ollama:llama3",
                     fallback=Person())
    answer = await judge.judge(step=STEP, edge=EDGE, evidence="")
    assert answer.by == "terminal" and judge.decisions[0].holds is None


def test_bad_specs_and_errors_name_the_provider():
    with pytest.raises(ProviderConfigError, match="not provider:model"):
        parse_spec("gpt-4o")
    from engine.compile.llm.provider import translate

    err = translate(ConnectionError("connection refused"), "openai:qwen")
    assert isinstance(err, ProviderUnavailable) and "OPENAI_BASE_URL" in str(err)
    assert Usage(model="ollama:llama3", input_tokens=10**6).cost_usd == 0.0
    assert Usage(model="openai:mystery", input_tokens=10).cost_usd is None


def _guide(tmp_path, text="# T\n\n## Diagnosis\n\n```bash\nuptime\n```\n"):
    path = tmp_path / "g.md"
    path.write_text(text)
    return parse_guide(path.read_bytes(), path=str(path))


def test_a_fresh_plan_is_cached_then_reused_until_the_guide_changes(tmp_path):
    from engine.compile import compile_guide

    guide = _guide(tmp_path)
    base = compile_guide(guide)
    llm = type(base).model_validate(json.loads(base.to_json()) | {"compiler": "llm/1/openai:m"})
    cache = PlanCache(tmp_path / "plans")
    calls = []

    def fresh():
        calls.append(1)
        return llm

    kw = {"structural": lambda: base, "cache": cache, "compiler": "llm/1/openai:m",
          "fresh": fresh}
    assert choose_plan(guide, **kw).origin == "fresh-llm"
    assert choose_plan(guide, **kw).origin == "cached-llm" and len(calls) == 1
    changed = _guide(tmp_path, "# T\n\n## Diagnosis\n\n```bash\nuptime -p\n```\n")
    assert choose_plan(changed, **kw).origin == "fresh-llm" and len(calls) == 2


def test_a_stale_reviewed_plan_is_ignored_and_a_failing_llm_falls_back(tmp_path):
    from engine.compile import compile_guide

    guide = _guide(tmp_path)
    base = compile_guide(guide)
    llm_plan_path(guide.path).write_text(base.to_json().replace(guide.sha256, "0" * 64))

    def broken():
        raise ProviderUnavailable("cannot reach openai:m")

    choice = choose_plan(guide, structural=lambda: base, fresh=broken)
    assert choice.origin == "structural"
    assert "ignored stale" in choice.note and "cannot reach openai:m" in choice.note
