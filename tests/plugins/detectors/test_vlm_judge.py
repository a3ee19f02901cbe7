"""vlm_judge with scripted chat models (langchain-core fakes; no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import StepFailed
from engine.plugins import parse_params
from plugins.detectors.vlm_judge import VlmJudgeDetector, parse_verdict
from tests.plugins.detectors import fake_models
from tests.plugins.detectors.helpers import ctx

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                    "0000000d4944415478da63f8cfc0f01f0005000201a5d6b1d80000000049454e44ae426082")
MODELS = "tests.plugins.detectors.fake_models"


@pytest.fixture
def image(tmp_path: Path) -> Path:
    p = tmp_path / "cell.png"
    p.write_bytes(PNG)
    return p


async def _judge(image: Path, model: str, question: str = "Did the insertion fail?"):
    params = parse_params(VlmJudgeDetector, {"image": str(image), "question": question,
                                             "model": f"{MODELS}:{model}"})
    return await VlmJudgeDetector().run(params=params, ctx=ctx())


async def test_a_yes_is_an_alarm_with_the_models_reason(image: Path) -> None:
    fake_models.SEEN.clear()
    out = (await _judge(image, "jammed")).outputs
    assert out["alarm"] is True and out["score"] == 1.0 and out["detected_at"] is None
    assert out["reason"].startswith("The peg is tilted")
    # the model was shown the question and the image
    [messages] = fake_models.SEEN
    content = messages[-1].content
    assert content[0]["text"] == "Did the insertion fail?"
    assert content[1]["image_url"]["url"].startswith("data:image/png;base64,iVBOR")


async def test_a_no_and_a_json_answer(image: Path) -> None:
    out = (await _judge(image, "inserted")).outputs
    assert out["alarm"] is False and out["reason"] == "The peg is fully seated in the hole."
    out = (await _judge(image, "as_json")).outputs
    assert out["alarm"] is True and out["reason"] == "the gripper is empty"


async def test_unclear_answers_and_broken_models_fail_the_step(image: Path,
                                                               tmp_path: Path) -> None:
    with pytest.raises(StepFailed, match="neither yes nor no"):
        await _judge(image, "rambling")
    with pytest.raises(StepFailed, match="the chat model failed"):
        await _judge(image, "broken")
    with pytest.raises(StepFailed, match="cannot load chat model") as err:
        await _judge(image, "no_such_factory")
    assert err.value.hint
    with pytest.raises(StepFailed, match="cannot read image"):
        await _judge(tmp_path / "missing.png", "jammed")


@pytest.mark.parametrize(("text", "verdict"), [
    ("Yes: stuck", (True, "stuck")), ("no", (False, "")), ("NO. fine", (False, "fine")),
    ('{"failure": false, "reason": "ok"}', (False, "ok")),
])
def test_parse_verdict(text: str, verdict: tuple[bool, str]) -> None:
    assert parse_verdict(text) == verdict


def test_yesterday_is_not_yes() -> None:
    with pytest.raises(ValueError):
        parse_verdict("yesterday it worked")


async def test_an_answer_in_content_blocks_is_read(image: Path) -> None:
    out = (await _judge(image, "content_blocks")).outputs
    assert out["alarm"] is True and out["reason"].startswith("the peg is jammed")


async def test_a_yes_later_in_the_first_sentence_is_read(image: Path) -> None:
    out = (await _judge(image, "yes_later")).outputs
    assert out["alarm"] is True and out["reason"] == "the peg is jammed against the rim."


@pytest.mark.parametrize(("text", "verdict"), [
    ("Looking closely, no: it is seated.", False),
    ("I think yes. The peg slipped.", True),
    ("The peg is seated. No failure is visible, yes.", None),  # none in the first sentence
])
def test_the_first_sentences_first_yes_or_no(text: str, verdict: bool | None) -> None:
    if verdict is None:
        with pytest.raises(ValueError):
            parse_verdict(text)
    else:
        assert parse_verdict(text)[0] is verdict


async def test_a_step_without_a_model_says_how_to_name_one(image: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MENDFLOW_VLM_MODEL", raising=False)
    params = parse_params(VlmJudgeDetector, {"image": str(image)})
    with pytest.raises(StepFailed, match="names no model and MENDFLOW_VLM_MODEL is not set"):
        await VlmJudgeDetector().run(params=params, ctx=ctx())
    monkeypatch.setenv("MENDFLOW_VLM_MODEL", f"{MODELS}:jammed")
    out = (await VlmJudgeDetector().run(params=params, ctx=ctx())).outputs
    assert out["alarm"] is True
