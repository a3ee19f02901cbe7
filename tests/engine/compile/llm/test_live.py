"""A live compile of a few corpus runbooks; runs only where MENDFLOW_LLM is configured."""

from __future__ import annotations

import pytest

from engine.settings import load_settings
from tests.support import corpora

CORPUS = corpora.CORPUS / "kubevirt-monitoring/docs/runbooks"
LLM = load_settings().llm
pytestmark = pytest.mark.skipif(not LLM, reason="MENDFLOW_LLM is not set: no live LLM to test")


@pytest.mark.parametrize("name", ["VirtControllerDown.md", "CDIDefaultStorageClassDegraded.md"])
def test_a_live_model_compiles_a_grounded_valid_plan(name):
    from engine.compile.eval import score_plan
    from engine.compile.llm import chat_model_from_settings, compile_with_llm
    from engine.guide import load_guide

    spec, model = chat_model_from_settings(LLM)
    guide = load_guide(CORPUS / name)
    result = compile_with_llm(guide, model=model, model_label=spec.label)
    score = score_plan(guide, result.plan)
    assert score.gates["valid"] and score.counts["mutating_unapproved"] == 0
    assert score.ratios["command_precision"].value in (None, 1.0)
