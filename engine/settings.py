"""Typed settings: the only place Mendflow reads its environment (`MENDFLOW_*`).

Settings are read once, at the edge (the CLI, the worker), and passed in as values; engine code
never calls `os.environ` itself.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    """Per-user data directory, following the XDG base directory convention."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "mendflow"


class Settings(BaseSettings):
    """Mendflow settings; each field reads `MENDFLOW_<NAME>` from the environment."""

    model_config = SettingsConfigDict(env_prefix="MENDFLOW_", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir, description="Store and artifacts.")
    max_concurrency: int = Field(default=16, ge=1, description="Steps running at once in this "
                                 "process, in all.")
    plugin_concurrency: int | None = Field(
        default=None, ge=1, description="Steps at once per plugin (on Celery: across every "
        "worker); unset: no limit of its own, so that a fan-out of one plugin's steps is never "
        "throttled below the global limit.")
    default_timeout_s: float = Field(default=60.0, gt=0, description="Step timeout if unset.")
    output_cap_bytes: int = Field(default=1_000_000, ge=1024, description="Per-stream cap.")
    result_cap_rows: int = Field(default=100_000, ge=1, description="Rows of a query's result "
                                 "kept whole (the run artifact `rows.parquet` that compute steps "
                                 "read); beyond it the result is cut, and memory says so.")
    result_cap_bytes: int = Field(default=64_000_000, ge=1024, description="Bytes (about: the "
                                  "rows as JSON) of a query's result kept whole; beyond it the "
                                  "result is cut, and memory says so.")
    llm: str | None = Field(default=None, description="LLM provider:model, e.g. openai:gpt-4o.")
    llm_timeout_s: float = Field(default=30.0, gt=0, description="Seconds one LLM call may take.")
    llm_attempts: int = Field(default=2, ge=1, le=5, description="Tries per LLM call.")
    llm_budget_s: float = Field(default=300.0, gt=0, description="LLM time a run may spend "
                                "judging; then a person decides the rest.")
    llm_min_confidence: float = Field(default=0.6, ge=0, le=1, description="Below this, the "
                                      "judge's answer goes to a person.")
    llm_record: Path | None = Field(default=None, description="Write every LLM exchange "
                                    "(OpenAI protocol) to this folder as a replayable fixture.")
    database_url: str | None = Field(default=None, description="PostgreSQL store (scale-out).")
    broker_url: str | None = Field(default=None, description="Celery broker (scale-out).")
    base_url: str | None = Field(default=None, description="Where people reach `mendflow "
                                 "serve`: the run links its notifications carry.")
    webhooks: str | None = Field(default=None, description="Webhooks `mendflow serve` "
                                 "notifies, whitespace-separated, each `URL`, `json=URL` or "
                                 "`slack=URL` (besides mendflow.toml's [[serve.webhooks]]).")
    log_format: Literal["text", "json"] = Field(default="text", description="Log lines "
                            "of `mendflow serve` and `mendflow worker`: text, or json (one "
                            "object a line, with run_id and step_id).")
    metrics_token: str | None = Field(default=None, description="A bearer token that `GET "
                                      "/metrics` of `mendflow serve` then requires (unset: "
                                      "open, as exporters are).")
    config_file: Path = Field(default=Path("mendflow.toml"), description="Data sources.")

    @field_validator("database_url", "broker_url", "base_url")
    @classmethod
    def _a_url(cls, value: str | None) -> str | None:
        """A URL that cannot be read (an unclosed `[host`, a port that is no number up to
        65535) is bad input, said without the URL (it may hold a password)."""
        if value is not None:
            try:
                urlsplit(value).port  # noqa: B018 - raises ValueError on a bad port
            except ValueError:
                raise ValueError("cannot be read as a URL: write scheme://host:port/path (a "
                                 "host in [brackets] closes them, a port is a number up to "
                                 "65535)") from None
        return value

    @property
    def config_required(self) -> bool:
        """Whether the config file was named (MENDFLOW_CONFIG_FILE): then it must exist."""
        return "config_file" in self.model_fields_set

    @property
    def store_path(self) -> Path:
        return self.data_dir / "mendflow.sqlite3"

    @property
    def artifacts_dir(self) -> Path:
        return self.data_dir / "artifacts"


def load_settings(**overrides: Any) -> Settings:
    """Read the environment once; keyword overrides win (the CLI passes its flags here)."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def describe_invalid(exc: ValidationError, prefix: str = "MENDFLOW_") -> str:
    """One line naming each bad `MENDFLOW_*` variable and what it must be (pydantic's own message
    spans lines and links to its docs). The value is not repeated: it may be a URL with a
    password or a token."""
    parts = []
    for error in exc.errors(include_url=False):
        field = ".".join(str(p) for p in error["loc"]) or "?"
        parts.append(f"{prefix}{field.upper()}: {error['msg']}")
    return "; ".join(parts) + ". Fix or unset it"
