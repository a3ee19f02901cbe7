"""What an LLM compile is asked (its options) and what it returns, shared by the whole-guide
pipeline (`engine.compile.llm.pipeline`) and the section-by-section one
(`engine.compile.llm.sections`), so that neither imports the other."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from engine.compile.llm import prompts
from engine.compile.llm.provider import Usage
from engine.plan import Plan
from engine.plugins import Registry

CHARS_PER_TOKEN = 3.5  # conservative for English and code; no tokenizer download needed
PROMPT_SHARE = 0.5  # of the context window: the rest is left for the answer


def compiler_name(model_label: str) -> str:
    """Recorded in `Plan.compiler`; the cache key's model and prompt version come from it."""
    return f"llm/{prompts.PROMPT_VERSION}/{model_label}"


@dataclass(frozen=True)
class LlmOptions:
    max_repairs: int = 2
    context_tokens: int = 32_000
    known_plugins: set[str] | None = None
    registry: Registry | None = None


@dataclass
class LlmCompileResult:
    plan: Plan
    structural: Plan
    model: str
    attempts: int
    usage: Usage
    mode: Literal["whole", "sections"] = "whole"
    notes: list[str] = field(default_factory=list)


def estimate_tokens(text: str) -> int:
    return int(len(text) / CHARS_PER_TOKEN) + 1


