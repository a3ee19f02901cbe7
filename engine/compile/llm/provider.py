"""Chat models chosen by `MENDFLOW_LLM`, calls to them, and what each compile costs.

This module owns the provider seam: parsing `provider:model` (`openai:gpt-4o-mini`,
`anthropic:claude-3-5-sonnet-latest`, `ollama:llama3.1`; an OpenAI-compatible server such as
vLLM or Ollama's `/v1` is `openai:MODEL` with `OPENAI_BASE_URL` set), building the LangChain
chat model (provider packages are optional extras, imported only here and only when used),
calling it with structured output where the provider offers it, accounting tokens and cost
from `AIMessage.usage_metadata`, and translating every provider exception into an `LlmError`
that names the provider and what to check. It knows nothing about plans.

Costs come from `PRICES`, a small table of list prices in USD per million tokens. They are
approximate, go stale, and are only a guide; an unknown model's cost is reported as unknown.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage

from engine.compile.llm.errors import (
    LlmError,
    ProviderConfigError,
    ProviderTimeout,
    ProviderUnavailable,
)

PROVIDERS = {"openai": "langchain-openai", "anthropic": "langchain-anthropic",
             "ollama": "langchain-ollama"}

# USD per million (input, output) tokens: approximate list prices, matched by model prefix.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60), "gpt-4o": (2.50, 10.00), "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40), "gpt-4.1": (2.00, 8.00), "o4-mini": (1.10, 4.40),
    "claude-3-5-haiku": (0.80, 4.00), "claude-3-5-sonnet": (3.00, 15.00),
    "claude-3-7-sonnet": (3.00, 15.00), "claude-sonnet-4": (3.00, 15.00),
    "claude-opus-4": (15.00, 75.00), "claude-haiku-4": (1.00, 5.00),
}
# Context windows in tokens (approximate), by model prefix; unknown models get the default.
CONTEXT_TOKENS: dict[str, int] = {
    "gpt-4o": 128_000, "gpt-4.1": 1_000_000, "o4-mini": 200_000, "claude": 200_000,
}
DEFAULT_CONTEXT_TOKENS = 32_000


@dataclass(frozen=True)
class ModelSpec:
    provider: str
    model: str

    @property
    def label(self) -> str:
        return f"{self.provider}:{self.model}"

    @property
    def context_tokens(self) -> int:
        if self.provider == "ollama":
            return DEFAULT_CONTEXT_TOKENS
        return next((n for p, n in CONTEXT_TOKENS.items() if self.model.startswith(p)),
                    DEFAULT_CONTEXT_TOKENS)


def parse_spec(text: str | None) -> ModelSpec:
    """`openai:gpt-4o-mini` -> ModelSpec; anything else is a ProviderConfigError."""
    if not text or not text.strip():
        raise ProviderConfigError("no LLM is configured (MENDFLOW_LLM is not set)",
                                  hint="Set MENDFLOW_LLM=openai:MODEL, anthropic:MODEL or "
                                  "ollama:MODEL")
    provider, sep, model = text.strip().partition(":")
    if not sep or not model or provider not in PROVIDERS:
        raise ProviderConfigError(f"MENDFLOW_LLM={text!r} is not provider:model",
                                  hint="Use openai:MODEL (with OPENAI_BASE_URL for vLLM or "
                                  "Ollama's /v1), anthropic:MODEL or ollama:MODEL")
    return ModelSpec(provider, model)


def make_chat_model(spec: ModelSpec, *, timeout_s: float = 120.0, max_retries: int = 2,
                    record_dir: Path | None = None) -> BaseChatModel:
    """Build the provider's chat model; its package is imported here, lazily. With
    `record_dir` (MENDFLOW_LLM_RECORD), every exchange is also written there
    (`engine.compile.llm.recording`)."""
    if record_dir is not None and spec.provider != "openai":
        raise ProviderConfigError(f"MENDFLOW_LLM_RECORD records the OpenAI protocol; "
                                  f"{spec.label} does not speak it", provider=spec.label,
                                  hint="Record with openai:MODEL and OPENAI_BASE_URL (vLLM, "
                                  "Ollama's /v1, llama.cpp serve it), or unset "
                                  "MENDFLOW_LLM_RECORD")
    try:
        if spec.provider == "openai":
            from langchain_openai import ChatOpenAI

            extra: dict[str, Any] = {}
            if record_dir is not None:
                from engine.compile.llm.recording import recording_client

                extra["http_client"] = recording_client(record_dir, timeout_s)
            return ChatOpenAI(model=spec.model, temperature=0, timeout=timeout_s,
                              max_retries=max_retries, **extra)
        if spec.provider == "anthropic":
            from langchain_anthropic import ChatAnthropic

            anthropic: BaseChatModel = ChatAnthropic(
                model=spec.model, temperature=0, default_request_timeout=timeout_s,
                max_retries=max_retries)
            return anthropic
        from langchain_ollama import ChatOllama

        ollama: BaseChatModel = ChatOllama(model=spec.model, temperature=0,
                                           client_kwargs={"timeout": timeout_s})
        return ollama
    except ImportError:
        package = PROVIDERS[spec.provider]
        raise ProviderConfigError(f"the {spec.provider} provider needs {package}",
                                  provider=spec.label,
                                  hint=f"pip install {package} (the mendflow extra "
                                  f"llm-{spec.provider})") from None
    except Exception as exc:  # a missing API key is raised by the constructor
        raise translate(exc, spec.label) from exc


# -- usage and cost ---------------------------------------------------------------------------


@dataclass
class Usage:
    """Tokens and approximate cost of one compile (or one run's judgments)."""

    model: str = ""
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    unknown_usage: int = field(default=0, repr=False)  # calls that reported no usage

    def add(self, message: BaseMessage | None) -> None:
        self.calls += 1
        meta = getattr(message, "usage_metadata", None)
        if not meta:
            self.unknown_usage += 1
            return
        self.input_tokens += int(meta.get("input_tokens", 0))
        self.output_tokens += int(meta.get("output_tokens", 0))

    def merge(self, other: Usage) -> None:
        """Add another account of the same model (one guide's compile to an eval's total)."""
        self.model = self.model or other.model
        self.calls += other.calls
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.unknown_usage += other.unknown_usage

    @property
    def cost_usd(self) -> float | None:
        name = self.model.partition(":")[2] or self.model
        if self.model.startswith("ollama:"):
            return 0.0
        price = next((p for prefix, p in sorted(PRICES.items(), key=lambda kv: -len(kv[0]))
                      if name.startswith(prefix)), None)
        if price is None:
            return None
        return (self.input_tokens * price[0] + self.output_tokens * price[1]) / 1e6

    def describe(self) -> str:
        cost = self.cost_usd
        money = "cost unknown" if cost is None else f"~${cost:.4f}"
        return (f"{self.calls} call(s), {self.input_tokens} in / {self.output_tokens} out "
                f"tokens, {money}")

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "calls": self.calls, "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens, "cost_usd": self.cost_usd}


# -- calling ----------------------------------------------------------------------------------

# Structured output per provider: OpenAI-compatible servers reliably do JSON mode (the plan's
# free-form `params` rule out strict json_schema), Anthropic does tool calling, Ollama takes
# the JSON schema as its `format`.
_METHODS = {"openai": "json_mode", "anthropic": "function_calling", "ollama": "json_schema"}


@dataclass
class Reply:
    raw: AIMessage | None
    data: Any = None  # the parsed JSON object, or None
    error: str | None = None  # why the reply could not be parsed


def ask(model: BaseChatModel, messages: list[BaseMessage], *, schema: dict[str, Any] | None,
        provider: str, usage: Usage) -> Reply:
    """One call. With a schema, use the provider's structured output where it exists."""
    runnable: Any = model
    structured = False
    if schema is not None:
        method = _METHODS.get(provider.partition(":")[0], "json_mode")
        try:
            runnable = model.with_structured_output(schema, method=method, include_raw=True)
            structured = True
        except (NotImplementedError, TypeError, ValueError):
            runnable = model  # a model without structured output: parse its text ourselves
    try:
        out = runnable.invoke(messages)
    except LlmError:
        raise
    except Exception as exc:
        raise translate(exc, provider) from exc
    if structured and isinstance(out, dict):
        raw = out.get("raw")
        usage.add(raw)
        if _cut(raw):
            return Reply(raw, None, _CUT)
        # The reply's text is read here, not by LangChain's lenient parser: a partial object
        # it would accept is bad JSON, and the model is told so (not about schema fields).
        text = _text(raw)
        if text.strip():
            return parse_json(text, raw)
        if out.get("parsed") is not None:  # tool calling: the object is in the call
            return Reply(raw, out["parsed"])
        return Reply(raw, None, f"the reply is empty ({out.get('parsing_error') or 'no text'})")
    raw = out if isinstance(out, AIMessage) else AIMessage(content=str(out))
    usage.add(raw)
    if _cut(raw):
        return Reply(raw, None, _CUT)
    return parse_json(_text(raw), raw)


_CUT = ("the reply was cut at the model's output limit (finish_reason: length), so its JSON is "
        "incomplete: raise the server's max tokens, or use a model with a longer output")


def _cut(message: Any) -> bool:
    meta = getattr(message, "response_metadata", None) or {}
    return meta.get("finish_reason") == "length" or meta.get("stop_reason") == "max_tokens"


def _text(message: Any) -> str:
    if message is None:
        return ""
    content = getattr(message, "content", message)
    if isinstance(content, list):  # Anthropic-style content blocks
        return "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return str(content)


_FENCE = re.compile(r"```(?:json)?\s*\n(.*?)\n```", re.S)


def parse_json(text: str, raw: AIMessage | None = None) -> Reply:
    """The JSON object in a reply: bare, or in a ```json fence; errors say where it broke."""
    m = _FENCE.search(text)
    body = m.group(1) if m else text.strip()
    if not body.startswith("{") and "{" in body:
        body = body[body.index("{"): body.rindex("}") + 1] if "}" in body else body
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        return Reply(raw, None, f"the reply is not valid JSON: {exc.msg} at line {exc.lineno} "
                     f"column {exc.colno}")
    if not isinstance(data, dict):
        return Reply(raw, None, "the reply is JSON but not an object")
    return Reply(raw, data)


_UNREACHABLE = {
    "openai": "Check that the server is running and OPENAI_BASE_URL points at it (vLLM and "
              "Ollama serve the OpenAI API under /v1)",
    "anthropic": "Check the network to the Anthropic API (and ANTHROPIC_BASE_URL, if set)",
    "ollama": "Check that `ollama serve` is running and OLLAMA_HOST points at it",
}


def translate(exc: BaseException, provider: str) -> LlmError:
    """Provider and transport exceptions -> LlmError subclasses saying what to check."""
    name = type(exc).__name__
    names = {c.__name__ for c in type(exc).__mro__}
    detail = str(exc).splitlines()[0][:300] if str(exc) else name
    if names & {"TimeoutError", "TimeoutException", "APITimeoutError", "ReadTimeout",
                "ConnectTimeout"} or "Timeout" in name:
        return ProviderTimeout(f"{provider} did not answer in time ({detail})", provider=provider,
                               hint="Check that the model server is up and not overloaded, or "
                               "use a smaller model")
    if "Authentication" in name or "PermissionDenied" in name or "api_key" in detail.lower() \
            or "API key" in detail:
        return ProviderConfigError(f"{provider} rejected the credentials ({detail})",
                                   provider=provider, hint="Check the provider's API key "
                                   "environment variable (OPENAI_API_KEY, ANTHROPIC_API_KEY)")
    if "NotFound" in name or "model_not_found" in detail:
        hint = "Check the model name in MENDFLOW_LLM"
        if provider.startswith("openai:"):
            base = os.environ.get("OPENAI_BASE_URL", "")
            if base and not base.rstrip("/").endswith("/v1"):
                hint = (f"OPENAI_BASE_URL={base} does not end in /v1; OpenAI-compatible "
                        "servers (vLLM, Ollama, llama.cpp) serve the API under /v1")
        return ProviderConfigError(f"{provider} does not know this model ({detail})",
                                   provider=provider, hint=hint)
    if "context" in detail.lower() and ("length" in detail.lower() or "window" in detail.lower()):
        from engine.compile.llm.errors import GuideTooLong

        return GuideTooLong(f"{provider}: the prompt exceeds the context window ({detail})",
                            provider=provider, hint="Use a model with a larger context")
    if "LengthFinishReason" in name or "length limit was reached" in detail:
        return ProviderUnavailable(f"{provider}: {_CUT}", provider=provider,
                                   hint="Raise the server's max tokens (vLLM --max-model-len, "
                                   "Ollama num_predict) or use a model with a longer output")
    if "response_format" in detail or "json_object" in detail or "json mode" in detail.lower():
        return ProviderConfigError(f"{provider} refuses JSON mode ({detail})", provider=provider,
                                   hint="Use a server and model that support response_format "
                                   "json_object (vLLM, Ollama and llama.cpp do with recent "
                                   "versions), or the ollama provider")
    if "RateLimit" in name:
        return ProviderUnavailable(f"{provider} is rate-limiting requests ({detail})",
                                   provider=provider, hint="Wait and retry, or raise the quota")
    if names & {"ConnectionError", "ConnectError", "APIConnectionError", "OSError"} or \
            "Connect" in name:
        return ProviderUnavailable(f"cannot reach {provider} ({detail})", provider=provider,
                                   hint=_UNREACHABLE.get(provider.partition(":")[0],
                                                         _UNREACHABLE["openai"]))
    return ProviderUnavailable(f"{provider} failed: {name}: {detail}", provider=provider,
                               hint="Check the provider's status and the model name")
