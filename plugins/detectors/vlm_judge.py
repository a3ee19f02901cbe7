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


class VlmJudgeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    image: str = Field(description="Image file (PNG, JPEG).")
    question: str = Field(default="Did the task fail?")
    model: str = Field(description="'module:factory' returning a langchain-core chat model.")


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
    if m is None:
        raise ValueError(text[:200])
    return m.group(1).lower() == "yes", m.group(2).strip()


class VlmJudgeDetector(PluginBase):
    name: ClassVar[str] = "vlm_judge"
    Params: ClassVar[type[BaseModel]] = VlmJudgeParams
    read_only: ClassVar[bool] = True

    def describe(self, *, params: VlmJudgeParams) -> str:
        return f"ask {params.model} about {params.image}: {params.question}"

    async def run(self, *, params: VlmJudgeParams, ctx: StepContext) -> StepResult:
        path = Path(params.image)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise StepFailed(f"cannot read image {path}: {exc.strerror}", retryable=False,
                             step=ctx.step_id, hint="Take the snapshot first") from None
        mime = mimetypes.guess_type(path.name)[0] or "image/png"
        try:
            model = load_chat_model(params.model)
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
        answer = reply.content if isinstance(reply.content, str) else json.dumps(reply.content)
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
