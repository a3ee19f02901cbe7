"""The LLM compiler's errors, all under `MendflowError`; each names the provider and what to check.

    MendflowError
    └── LlmError                   the LLM path failed; the structural plan is the fallback
        ├── ProviderConfigError    MENDFLOW_LLM is malformed, or the provider's package or key
        │                          is missing (exit 2)
        ├── ProviderUnavailable    the provider cannot be reached, refused us, or rate-limits
        ├── ProviderTimeout        the provider did not answer in time
        ├── ModelOutputError       the model never produced an acceptable plan (the last
        │                          validator messages are attached as `problems`)
        └── GuideTooLong           a section of the guide alone exceeds the context window

`provider.translate` maps provider (openai, anthropic, ollama, httpx) exceptions onto these.
"""

from __future__ import annotations

from typing import Any

from engine.errors import ExitCode, MendflowError


class LlmError(MendflowError):
    """The LLM path failed; callers may fall back to the structural plan and say so."""

    def __init__(self, message: str, *, provider: str | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.provider = provider
        self.usage: Any = None  # a compile's `Usage` so far, when it failed midway


class ProviderConfigError(LlmError):
    """MENDFLOW_LLM cannot be used as written."""

    exit_code = ExitCode.BAD_INPUT


class ProviderUnavailable(LlmError):
    """The provider cannot be reached or refused the request."""


class ProviderTimeout(LlmError):
    """The provider did not answer within the timeout."""


class ModelOutputError(LlmError):
    """Every attempt (first answer and repairs) was rejected; `problems` says why."""

    def __init__(self, message: str, *, problems: list[str] | None = None,
                 **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.problems = list(problems or [])


class GuideTooLong(LlmError):
    """The guide does not fit the model's context, even one section at a time."""
