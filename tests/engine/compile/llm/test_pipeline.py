"""The LLM compile on a real corpus runbook, with a scripted chat model: accepted, repaired,
or rejected with the validator's messages."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from engine.compile import compile_guide
from engine.compile.llm import (
    LlmOptions,
    ModelOutputError,
    ProviderTimeout,
    compile_with_llm,
    compiler_name,
)
from engine.compile.llm.sections import sections
from engine.guide import load_guide
from tests.engine.compile.llm.scripted import ScriptedChatModel
from tests.support import corpora

CORPUS = corpora.CORPUS / "kubevirt-monitoring/docs/runbooks"
GUIDE = CORPUS / "VirtControllerDown.md"
FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "llm"
KNOWN = {"shell", "bash", "prometheus", "sql", "http", "logs"}
pytestmark = corpora.needs(GUIDE)


@pytest.fixture(scope="module")
def guide():
    return load_guide(GUIDE)


@pytest.fixture()
def refined() -> dict:
    return json.loads((FIXTURES / "VirtControllerDown.refined.json").read_text())


def _compile(guide, replies, max_repairs=2, structured=True):
    model = ScriptedChatModel(replies=list(replies), calls=[], structured=structured)
    result = compile_with_llm(guide, model=model, model_label="openai:gpt-4o-mini",
                              options=LlmOptions(max_repairs=max_repairs, known_plugins=KNOWN))
    return result, model


def _step(plan: dict, sid: str) -> dict:
    return next(s for s in plan["steps"] if s["id"] == sid)


def test_a_good_reply_is_accepted_with_its_conditions_made_deterministic(guide, refined):
    result, model = _compile(guide, [refined])
    assert result.attempts == 1 and len(model.calls) == 1
    assert result.plan.compiler == compiler_name("openai:gpt-4o-mini")
    assert result.plan.source.sha256 == guide.sha256  # identity is the guide's, not the model's
    exprs = {e.condition.expr for e in result.plan.edges if e.condition and e.condition.expr}
    assert "alert.labels.reason is defined" in exprs
    assert result.usage.input_tokens > 0 and result.usage.cost_usd is not None


@pytest.mark.parametrize("structured", [True, False])
def test_invalid_json_is_sent_back_and_repaired(guide, refined, structured):
    result, model = _compile(guide, ['{"steps": [', refined], structured=structured)
    assert result.attempts == 2
    repair = str(model.calls[1][-1].content)
    assert "not valid JSON" in repair


def test_a_hallucinated_command_is_rejected_and_repaired(guide, refined):
    bad = copy.deepcopy(refined)
    _step(bad, "diag-7-check-issues-such-nodes")["params"]["pipeline"] = [
        ["kubectl", "delete", "nodes", "--all"]]
    result, model = _compile(guide, [bad, refined])
    assert result.attempts == 2
    assert "'kubectl delete nodes --all' is not in the guide" in str(model.calls[1][-1].content)
    assert all("delete" not in json.dumps(s.params) for s in result.plan.steps)


def test_a_cycle_is_rejected_with_the_validators_message(guide, refined):
    bad = copy.deepcopy(refined)
    bad["edges"].append({"source": "diag-7-check-issues-such-nodes",
                         "target": "diag-2-set-namespace-environment-variable",
                         "kind": "jump", "on": "success", "condition": None})
    with pytest.raises(ModelOutputError) as info:
        _compile(guide, [bad, bad], max_repairs=1)
    assert any("the plan loops" in p for p in info.value.problems)
    assert "gave no acceptable plan in 2 attempt(s)" in str(info.value)


def test_a_missing_step_is_noticed(guide, refined):
    bad = copy.deepcopy(refined)
    gone = "diag-7-check-issues-such-nodes"
    bad["steps"] = [s for s in bad["steps"] if s["id"] != gone]
    bad["edges"] = [e for e in bad["edges"] if gone not in (e["source"], e["target"])]
    with pytest.raises(ModelOutputError) as info:
        _compile(guide, [bad], max_repairs=0)
    assert any("'kubectl get nodes'" in p and "is not in the plan" in p
               for p in info.value.problems)


def test_a_condition_over_a_value_nothing_produces_is_rejected(guide, refined):
    bad = copy.deepcopy(refined)
    for e in bad["edges"]:
        if e["target"] == "end-resolved":
            e["condition"]["expr"] = "steps.verify.stdout | trim == 'Running'"
    with pytest.raises(ModelOutputError) as info:
        _compile(guide, [bad], max_repairs=0)
    assert any("steps.verify, which does not run before this step" in p
               for p in info.value.problems)


def test_an_unmarked_change_is_rejected(guide, refined):
    bad = copy.deepcopy(refined)
    step = _step(bad, "mit-1-mitigation")
    step.update(kind="command", plugin="shell", params={"pipeline": [["kubectl", "delete",
                                                                       "pod", "x"]]})
    with pytest.raises(ModelOutputError) as info:
        _compile(guide, [bad], max_repairs=0)
    assert any("changes the world but is not marked mutating" in p
               for p in info.value.problems)


def test_garbage_every_time_fails_after_the_bounded_repairs(guide):
    with pytest.raises(ModelOutputError) as info:
        _compile(guide, ["I cannot help with that."] * 3, max_repairs=2)
    assert info.value.problems and "not valid JSON" in info.value.problems[0]


def test_a_provider_timeout_is_translated(guide):
    with pytest.raises(ProviderTimeout) as info:
        _compile(guide, [TimeoutError("read timed out")])
    assert "openai:gpt-4o-mini did not answer in time" in str(info.value)


def test_a_long_guide_is_refined_by_section_not_truncated(guide, refined):
    # Given a context far too small for the whole guide, each section is sent on its own
    base = compile_guide(guide, known_plugins=KNOWN)
    replies = []
    for start, end, _ in sections(guide):
        ids = [s.id for s in base.steps if start <= s.source.start and s.source.end <= end]
        if ids:
            replies.append({"steps": [s for s in refined["steps"] if s["id"] in ids],
                            "edges": [], "inputs": []})
    assert len(replies) > 1
    model = ScriptedChatModel(replies=replies, calls=[])
    result = compile_with_llm(guide, model=model, model_label="openai:gpt-4o-mini",
                              options=LlmOptions(context_tokens=12_000, known_plugins=KNOWN),
                              structural=base)
    assert result.mode == "sections"
    sent = "\n".join(str(c[-1].content) for c in model.calls)
    assert len(model.calls) == len(replies) and "kubectl get nodes" in sent
    assert _step(json.loads(result.plan.to_json()), "diag-5-check-status-virt-controller")[
        "title"] == "Check the status of the virt-controller pods"
