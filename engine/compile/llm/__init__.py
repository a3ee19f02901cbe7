"""The LLM compiler: the only package that imports langgraph and langchain.

Public API:

- `compile_with_llm(guide, model=..., model_label=...)` -> `LlmCompileResult`: the structural
  plan refined by a chat model, checked by the same validator, grounded in the guide
  (`pipeline`, `checks`, `grounding`, `templates`, `sections`);
- `recording`: `MENDFLOW_LLM_RECORD=DIR` writes each exchange as a fixture tests replay;
- `chat_model_from_settings(settings)` / `parse_spec` / `make_chat_model`: `MENDFLOW_LLM` ->
  a LangChain chat model (`provider`), with `Usage` for tokens and approximate cost;
- `LlmJudge`: run-time judgment conditions decided by the model, with a rationale (`judge`);
- `llm_findings`: `mendflow lint --llm` suggestions (`lint`);
- the `LlmError` tree (`errors`).

Nothing here runs at import time beyond langchain-core and langgraph; provider packages
(langchain-openai, -anthropic, -ollama) are imported only when a model is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from engine.compile.llm.errors import (
    GuideTooLong,
    LlmError,
    ModelOutputError,
    ProviderConfigError,
    ProviderTimeout,
    ProviderUnavailable,
)
from engine.compile.llm.judge import Decision, LlmJudge
from engine.compile.llm.lint import llm_findings
from engine.compile.llm.pipeline import (
    LlmCompileResult,
    LlmOptions,
    compile_with_llm,
    compiler_name,
)
from engine.compile.llm.prompts import PROMPT_VERSION
from engine.compile.llm.provider import ModelSpec, Usage, make_chat_model, parse_spec

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

__all__ = [
    "PROMPT_VERSION", "Decision", "GuideTooLong", "LlmCompileResult", "LlmError", "LlmJudge",
    "LlmOptions", "ModelOutputError", "ModelSpec", "ProviderConfigError", "ProviderTimeout",
    "ProviderUnavailable", "Usage", "chat_model_from_settings", "compile_with_llm",
    "compiler_name", "llm_findings", "make_chat_model", "parse_spec",
]


def chat_model_from_settings(llm: str | None, *, timeout_s: float = 30.0, attempts: int = 2,
                             record_dir: Path | None = None
                             ) -> tuple[ModelSpec, BaseChatModel]:
    """`Settings.llm` -> (ModelSpec, chat model); ProviderConfigError if unusable. A call
    waits at most `timeout_s` per attempt, `attempts` times (MENDFLOW_LLM_TIMEOUT_S,
    MENDFLOW_LLM_ATTEMPTS): a hung server costs a minute, not six. With `record_dir`
    (MENDFLOW_LLM_RECORD), every exchange is written there as a replayable fixture."""
    spec = parse_spec(llm)
    return spec, make_chat_model(spec, timeout_s=timeout_s, max_retries=attempts - 1,
                                 record_dir=record_dir)
