"""Scripted chat models for the vlm_judge tests (langchain-core's fake models; no network).
Each factory is what a guide names as `model: tests.plugins.detectors.fake_models:NAME`."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

SEEN: list[Any] = []


class RecordingFake(GenericFakeChatModel):
    async def ainvoke(self, input: Any, *args: Any, **kwargs: Any) -> Any:
        SEEN.append(input)
        return await super().ainvoke(input, *args, **kwargs)


def _scripted(*answers: str) -> RecordingFake:
    return RecordingFake(messages=iter([AIMessage(content=a) for a in answers]))


def jammed() -> RecordingFake:
    return _scripted("yes\nThe peg is tilted and stuck at the chamfer, not seated.")


def inserted() -> RecordingFake:
    return _scripted("No. The peg is fully seated in the hole.")


def as_json() -> RecordingFake:
    return _scripted('{"failure": true, "reason": "the gripper is empty"}')


def rambling() -> RecordingFake:
    return _scripted("It is hard to say from this angle.")


def broken() -> RecordingFake:
    return RecordingFake(messages=iter([]))  # raises when asked: no scripted answer left


def content_blocks() -> RecordingFake:
    """An answer as content blocks, as Anthropic-style chat models give it."""
    return RecordingFake(messages=iter([AIMessage(content=[
        {"type": "text", "text": "Yes - the peg is jammed at the chamfer."},
        {"type": "text", "text": "Abort and re-grasp."}])]))


def yes_later() -> RecordingFake:
    return _scripted("Looking at the image, yes, the peg is jammed against the rim.")
