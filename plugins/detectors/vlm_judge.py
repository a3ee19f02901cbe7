"""`vlm_judge`: ask a multimodal chat model whether an image shows a failure (as AHA does).

    ```detect
    detector: vlm_judge
    image: "{{ steps.snapshot.outputs.path }}"   # PNG or JPEG file
    question: Did the peg go into the hole?
    model: mypackage.models:vision_chat         # a zero-argument factory of a chat model
    ```

The model gets the image and the question, and is told to answer on its first line `yes`
(the task failed) or `no`, then a reason; a JSON answer `{"failure": true, "reason": ...}`
is accepted too. Outputs: `alarm` (failure yes), `score` (1.0 / 0.0), `detected_at` (null:
a judgment has no time in a stream), `reason`, `answer`, `threshold` 0.5, `window` 1.

This is the only module that imports langchain-core. Any chat model of langchain-core's
interface works (tests use its scripted fake models, no network). Model errors and answers
that are neither yes nor no fail the step with a hint.
"""

from __future__ import annotations

import base64
import importlib
import json
import mimetypes
import os
import re
from pathlib import Path
from typing import Any, ClassVar

from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, ConfigDict, Field

from engine.detect import ModelLoadError
from engine.errors import StepFailed
from engine.plugins import PluginBase, StepContext, StepResult

SYSTEM = ("You judge robot task attempts from a camera image. Answer the question about "
          "whether the task FAILED. First line: 'yes' if it failed, 'no' if it did not. "
          "Second line: one sentence saying why.")
_YES = re.compile(r"^\W*(yes|no)\b[\s:.,-]*(.*)$", re.IGNORECASE | re.DOTALL)
# "Looking at the image, yes: the peg is jammed." The first sentence's first yes or no.
_FIRST_SENTENCE = re.compile(r"^(.*?(?:[.!?](?=\s|$)|\n|$))", re.DOTALL)
_WORD = re.compile(r"\b(yes|no)\b[\s:.,-]*", re.IGNORECASE)
MODEL_ENV = "MENDFLOW_VLM_MODEL"


class VlmJudgeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    image: str = Field(description="Image file (PNG, JPEG).")
    question: str = Field(default="Did the task fail?")
    model: str | None = Field(default=None, description="'module:factory' returning a "
                              f"langchain-core chat model; default: ${MODEL_ENV}.")


def load_chat_model(spec: str) -> Any:
    module, _, attr = spec.partition(":")
    if not module or not attr:
        raise ModelLoadError(f"model {spec!r} is not 'module:factory'",
                             hint="Name a zero-argument function returning a chat model")
    try:
        factory = getattr(importlib.import_module(module), attr)
        return factory()
    except (ImportError, AttributeError) as exc:
        raise ModelLoadError(f"cannot load chat model {spec!r}: {exc}",
                             hint="Install the package that provides it") from None


def parse_verdict(text: str) -> tuple[bool, str]:
    text = text.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
            return bool(data["failure"]), str(data.get("reason", ""))
        except (json.JSONDecodeError, KeyError, TypeError):
            pass
    m = _YES.match(text)
    if m is not None:
        return m.group(1).lower() == "yes", m.group(2).strip()
    first = _FIRST_SENTENCE.match(text)
    w = _WORD.search(first.group(1)) if first is not None else None
    if w is None:
        raise ValueError(text[:200])
    return w.group(1).lower() == "yes", text[w.end():].strip() or text


def reply_text(content: Any) -> str:
    """A chat model's reply content as text: a string, or a list of content blocks (strings
    or `{"type": "text", "text": ...}`; images and tool calls are not the answer)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [b if isinstance(b, str) else str(b.get("text", ""))
                 for b in content if isinstance(b, str) or
                 (isinstance(b, dict) and b.get("type") == "text")]
        return "\n".join(p for p in parts if p)
    return json.dumps(content)


class VlmJudgeDetector(PluginBase):
    name: ClassVar[str] = "vlm_judge"
    Params: ClassVar[type[BaseModel]] = VlmJudgeParams
    read_only: ClassVar[bool] = True

    def describe(self, *, params: VlmJudgeParams) -> str:
        return f"ask {params.model or '$' + MODEL_ENV} about {params.image}: {params.question}"

    async def run(self, *, params: VlmJudgeParams, ctx: StepContext) -> StepResult:
        path = Path(params.image)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise StepFailed(f"cannot read image {path}: {exc.strerror}", retryable=False,
                             step=ctx.step_id, hint="Take the snapshot first") from None
        mime = mimetypes.guess_type(path.name)[0] or "image/png"
        spec = params.model or os.environ.get(MODEL_ENV, "").strip()
        if not spec:
            raise StepFailed("no chat model to ask: the step names no model and "
                             f"{MODEL_ENV} is not set", retryable=False, step=ctx.step_id,
                             hint=f"Add model: package.module:factory to the step, or set "
                                  f"{MODEL_ENV}")
        try:
            model = load_chat_model(spec)
        except ModelLoadError as exc:
            raise StepFailed(exc.message, retryable=False, step=ctx.step_id,
                             hint=exc.hint) from None
        url = f"data:{mime};base64,{base64.b64encode(data).decode()}"
        messages = [SystemMessage(SYSTEM), HumanMessage(content=[
            {"type": "text", "text": params.question},
            {"type": "image_url", "image_url": {"url": url}}])]
        try:
            reply = await model.ainvoke(messages)
        except Exception as exc:  # noqa: BLE001 - a provider's own error types, contained here
            raise StepFailed(f"the chat model failed: {type(exc).__name__}: {exc}",
                             step=ctx.step_id, hint="Check the model and its credentials") \
                from None
        answer = reply_text(reply.content)
        try:
            failed, reason = parse_verdict(answer)
        except ValueError:
            raise StepFailed(f"the model answered neither yes nor no: {answer[:200]!r}",
                             step=ctx.step_id, hint="Ask a yes/no question") from None
        return StepResult(outputs={"alarm": failed, "score": 1.0 if failed else 0.0,
                                   "detected_at": None, "threshold": 0.5, "window": 1,
                                   "reason": reason, "answer": answer[:2000],
                                   "detector": self.name},
                          summary=f"vlm_judge: {'failure' if failed else 'no failure'}"
                                  f" ({reason})")
