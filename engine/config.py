"""The operator's config file (`mendflow.toml`): read once, validated, every mistake located.

    [datasources.requests_db]          # named data sources (`engine.datasources`)
    type = "postgresql"
    url = "postgresql://reader@127.0.0.1:5432/requests"
    password_env = "REQUESTS_DB_PASSWORD"

    [policy]                           # the operator's approval policy
    auto_approve = ["systemctl start *"]   # the commands a gate may run unasked

    [serve]                            # `mendflow serve` (engine.serve)
    base_url = "https://mendflow.example.com"   # the run links its notifications carry
    metrics_token_env = "MENDFLOW_METRICS_SCRAPE"  # GET /metrics needs this bearer token
    [[serve.webhooks]]                 # notifications out (engine.serve.notify)
    url_env = "SLACK_WEBHOOK_URL"      # or url = "https://..." (a URL may hold a secret)
    format = "slack"                   # or "json"

A misspelt section or key, a value of the wrong type, a file that is not UTF-8 TOML: each is a
`ConfigError` naming the file, the line and the key, with what to write instead. A file named
by `MENDFLOW_CONFIG_FILE` must exist; the default `./mendflow.toml` may be absent (no sources,
no policy).

What this module does not own: what a data source means (`engine.datasources`) or how an
approval is given (`engine.interaction`).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from engine import files
from engine.errors import ConfigError

DATASOURCE_KEYS = ("type", "url", "password_env", "token_env", "auth")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSourceEntry(_Strict):
    type: str | None = None
    url: str | None = None
    password_env: str | None = None
    token_env: str | None = None
    auth: Literal["bearer", "basic"] | None = None
    concurrency: int | None = Field(default=None, ge=1)


class Policy(_Strict):
    auto_approve: list[str] = Field(default_factory=list)

    @field_validator("auto_approve")
    @classmethod
    def _commands_not_ids(cls, globs: list[str]) -> list[str]:
        named = next((g for g in globs if g.startswith("approve-")), None)
        if named is not None:
            raise ValueError(f"{named!r} names approval steps by id, which the guide chooses: "
                             "write the commands a gate may run ('systemctl restart *'), or "
                             "'*' for every gate")
        return globs


class WebhookEntry(_Strict):
    """A webhook `mendflow serve` notifies: its URL written here or, as a URL often holds a
    secret, named by an environment variable (`url_env`); exactly one of them."""

    url: str | None = None
    url_env: str | None = None
    format: Literal["json", "slack"] = "json"
    name: str | None = Field(default=None, max_length=64)


class ServeSection(_Strict):
    base_url: str | None = None
    metrics_token_env: str | None = None  # the variable holding GET /metrics's bearer token
    webhooks: list[WebhookEntry] = Field(default_factory=list)


class ConfigFile(_Strict):
    datasources: dict[str, DataSourceEntry] = Field(default_factory=dict)
    policy: Policy = Field(default_factory=Policy)
    serve: ServeSection = Field(default_factory=ServeSection)


def read_config(path: Path, *, required: bool = False) -> ConfigFile:
    """The config file at `path`, validated. Absent: empty, unless `required` (it was named
    explicitly, so its absence is a mistake worth saying)."""
    try:
        raw = files.read_bytes(path)
    except FileNotFoundError:
        if required:
            raise ConfigError("the config file does not exist", file=str(path),
                              hint="Point MENDFLOW_CONFIG_FILE at mendflow.toml, or unset it"
                              ) from None
        return ConfigFile()
    except OSError as exc:
        raise ConfigError(f"cannot read the config file: {exc.strerror}", file=str(path),
                          hint="Check the path and its permissions") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"the config file is not UTF-8 text (byte 0x{raw[exc.start]:02x})",
                          file=str(path), line=line, hint="Save it as UTF-8 TOML") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise ConfigError(f"the config file is not valid TOML: {str(exc).split(' (at')[0]}",
                          file=str(path), line=int(match.group(1)) if match else None,
                          hint="Fix the TOML (see README.md for the keys)") from None
    try:
        return ConfigFile.model_validate(data)
    except ValidationError as exc:
        raise _located(exc, text, path) from None


def _located(exc: ValidationError, text: str, path: Path) -> ConfigError:
    err = exc.errors()[0]
    loc = [str(part) for part in err["loc"]]
    key = loc[-1] if loc else ""
    where = ".".join(loc)
    line = _line_of(text, loc)
    if err["type"] == "extra_forbidden":
        allowed = _allowed(loc[:-1])
        return ConfigError(f"unknown key '{where}' in the config file", file=str(path),
                           line=line, hint=f"Write one of: {', '.join(allowed)}"
                           if allowed else "Remove it")
    return ConfigError(f"'{where}': {err['msg'].lower()}", file=str(path), line=line,
                       hint=f"Fix the value of {key} (see README.md for the keys)")


def _allowed(parent: list[str]) -> list[str]:
    if not parent:
        return ["[datasources.NAME]", "[policy]", "[serve]"]
    if parent == ["policy"]:
        return list(Policy.model_fields)
    if parent == ["serve"]:
        return list(ServeSection.model_fields)
    if parent[:2] == ["serve", "webhooks"] and len(parent) == 3:
        return list(WebhookEntry.model_fields)
    if parent[0] == "datasources" and len(parent) == 2:
        return list(DATASOURCE_KEYS)
    return []


def _line_of(text: str, loc: list[str]) -> int | None:
    """The 1-based line where the deepest part of `loc` is written: a key, else its table."""
    lines = text.splitlines()
    for depth in range(len(loc), 0, -1):
        key = re.escape(loc[depth - 1])
        table = r"\[\s*" + r"\s*\.\s*".join(re.escape(p) for p in loc[:depth]) + r"\s*\]"
        for i, ln in enumerate(lines):
            if re.match(rf"\s*(?:{key}\s*=|{table})", ln):
                return i + 1
    return None


def as_tables(config: ConfigFile) -> dict[str, dict[str, Any]]:
    """The data sources as plain tables (only the keys that were written)."""
    return {name: entry.model_dump(exclude_none=True)
            for name, entry in config.datasources.items()}
