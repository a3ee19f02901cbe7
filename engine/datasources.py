"""Named data sources (Prometheus servers, databases) and the redaction of their secrets.

Sources are declared in the config file (`mendflow.toml`, `Settings.config_file`):

    [datasources.requests_db]
    type = "postgresql"
    url = "postgresql://mendflow@127.0.0.1:5432/test"
    password_env = "REQUESTS_DB_PASSWORD"   # credentials come from the environment

and from `MENDFLOW_DATASOURCE_<NAME>_URL`, `_TYPE` and `_PASSWORD`, which override the file or
declare a source of their own. The environment is read once, by `load_datasources`, called at
the edge (the CLI); everything else receives a `DataSources` value.

A `DataSource` never shows its secrets: `public()` masks them, `connect_info()` is what a
plugin gets, and `Redactor` scrubs every secret (and its URL-encoded form) out of memory,
errors, logs and artifacts.

What this module does not own: connecting to anything (the plugins), reading settings
(`engine.settings`).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, unquote, urlsplit, urlunsplit

from engine.errors import ConfigError
from engine.settings import Settings

ENV_PREFIX = "MENDFLOW_DATASOURCE_"
MASK = "***"

PLUGIN_TYPES: dict[str, tuple[str, ...]] = {
    "prometheus": ("prometheus",),
    "sql": ("postgresql", "sqlite"),
}
"""The source types each query plugin can talk to (for `resolve_for_plugin`)."""

_SCHEME_TYPES = {"postgresql": "postgresql", "postgres": "postgresql", "sqlite": "sqlite"}
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


def mask_url(url: str) -> str:
    """The URL with its password (if any) replaced by `***`: safe to print."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))


def _with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    if not password or parts.password is not None or not parts.netloc:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{quote(password, safe='')}@{host}"))


@dataclass(frozen=True, slots=True)
class DataSource:
    """One configured source. `secrets` holds values never to be shown (e.g. a password)."""

    name: str
    type: str
    url: str
    secrets: dict[str, str] = field(default_factory=dict)
    origin: str = ""  # where it was declared, for error messages

    def public(self) -> dict[str, Any]:
        """What may be printed or stored: no secrets, the URL password masked."""
        return {"name": self.name, "type": self.type, "url": mask_url(self.url)}

    def connect_info(self) -> dict[str, Any]:
        """What a plugin needs to connect: the URL with its password, and the secrets."""
        return {
            "name": self.name,
            "type": self.type,
            "url": _with_password(self.url, self.secrets.get("password", "")),
            "public_url": mask_url(self.url),
            "secrets": dict(self.secrets),
        }

    def secret_values(self) -> list[str]:
        values = [v for v in self.secrets.values() if v]
        embedded = urlsplit(self.url).password
        if embedded:
            values.append(unquote(embedded))
        return values


class Redactor:
    """Replaces every occurrence of any secret (and its URL-encoded forms) with `***`.

    Calling the redactor is `redact_obj`, so it can be handed to the executor as a function.
    Every non-empty secret is redacted, however short: a leak costs more than a mangled log.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if not secret:
                continue
            forms.update({secret, quote(secret, safe=""), quote_plus(secret), quote(secret)})
        ordered = sorted(forms, key=len, reverse=True)  # longest first: no partial leftovers
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        self._bytes_pattern = (
            re.compile(b"|".join(re.escape(f.encode()) for f in ordered)) if ordered else None
        )

    def redact(self, text: str) -> str:
        return self._pattern.sub(MASK, text) if self._pattern else text

    def redact_bytes(self, data: bytes) -> bytes:
        return self._bytes_pattern.sub(MASK.encode(), data) if self._bytes_pattern else data

    def redact_obj(self, value: Any) -> Any:
        """Redact strings anywhere in a JSON-like value (keys too); other values pass through."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, bytes):
            return self.redact_bytes(value)
        if isinstance(value, Mapping):
            return {self.redact_obj(k): self.redact_obj(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.redact_obj(v) for v in value)
        return value

    __call__ = redact_obj


class DataSources:
    """The configured data sources, by name."""

    def __init__(self, sources: Iterable[DataSource] = (), *, config_file: Path | str = "",
                 problems: Mapping[str, str] | None = None) -> None:
        self._sources = {s.name: s for s in sources}
        self.config_file = str(config_file)
        self._problems = dict(problems or {})  # name -> why it cannot be used (missing env)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._sources.values())

    def __len__(self) -> int:
        return len(self._sources)

    def names(self) -> list[str]:
        return sorted(self._sources)

    def resolve(self, name: str | None, type: str | Iterable[str]) -> DataSource:
        """The source called `name`, or the only source of `type` when `name` is None."""
        types = (type,) if isinstance(type, str) else tuple(type)
        wanted = " or ".join(types)
        if name is None:
            candidates = [s for s in self._sources.values() if s.type in types]
            if len(candidates) != 1:
                found = ", ".join(s.name for s in candidates)
                problem = (f"no {wanted} data source is configured" if not candidates else
                           f"several {wanted} data sources are configured ({found})")
                raise ConfigError(f"{problem} in {self._where()}",
                                  hint="Name one with the step's `source` parameter"
                                  if candidates else self._how_to_add(wanted))
            source = candidates[0]
        else:
            source = self._sources.get(name)
            if source is None:
                known = ", ".join(self.names()) or "none"
                raise ConfigError(f"unknown data source {name!r} in {self._where()} "
                                  f"(known: {known})", hint=self._how_to_add(wanted, name))
            if source.type not in types:
                raise ConfigError(f"data source {name!r} is {source.type}, not {wanted}",
                                  hint="Point the step at a source of the right type")
        if source.name in self._problems:
            raise ConfigError(f"data source {source.name!r}: {self._problems[source.name]}",
                              hint="Export the variable before running")
        return source

    def resolve_for_plugin(self, name: str | None, plugin: str) -> dict[str, Any] | None:
        """What the executor passes as `ctx.data_source` for a step of `plugin`.

        None when the plugin uses no data source and the step names none.
        """
        types = PLUGIN_TYPES.get(plugin)
        if types is None:
            if name is None:
                return None
            if name not in self._sources and "://" in name:
                return None  # an address the plugin reads itself (opcua://cell, a stream URL)
            source = self._sources.get(name)
            types = (source.type,) if source else ("any",)
        return self.resolve(name, types).connect_info()

    def redactor(self) -> Redactor:
        return Redactor(v for s in self._sources.values() for v in s.secret_values())

    def public(self) -> list[dict[str, Any]]:
        return [self._sources[n].public() for n in self.names()]

    def _where(self) -> str:
        return self.config_file or "the configuration"

    def _how_to_add(self, wanted: str, name: str | None = None) -> str:
        key = name or "<name>"
        return (f"Add a [datasources.{key}] table (type = \"{wanted.split(' or ')[0]}\", url = ...) "
                f"to {self._where()}, or set {ENV_PREFIX}{_env_key(key)}_URL")


def _env_key(name: str) -> str:
    return name.upper().replace("-", "_")


def load_datasources(settings: Settings, environ: Mapping[str, str]) -> DataSources:
    """Read the config file and the environment once; called by the CLI and the worker."""
    path = Path(settings.config_file)
    tables = _read_file(path)
    declared: dict[str, dict[str, Any]] = {}
    for name, table in tables.items():
        if not _NAME.match(name) or not isinstance(table, Mapping):
            raise ConfigError(f"{path}: [datasources.{name}] must be a table with a simple name",
                              hint="Use letters, digits, '_' and '-'")
        unknown = set(table) - {"type", "url", "password_env"}
        if unknown:
            raise ConfigError(f"{path}: [datasources.{name}] has unknown keys "
                              f"{', '.join(sorted(unknown))}",
                              hint="Allowed: type, url, password_env (secrets come from the "
                              "environment, never the file)")
        declared[name] = {**table, "origin": str(path)}

    by_env_key = {_env_key(n): n for n in declared}
    for var, value in environ.items():
        if not var.startswith(ENV_PREFIX):
            continue
        rest = var[len(ENV_PREFIX):]
        for suffix in ("_URL", "_TYPE", "_PASSWORD"):
            if rest.endswith(suffix) and len(rest) > len(suffix):
                key = rest[: -len(suffix)]
                name = by_env_key.get(key) or key.lower()
                by_env_key.setdefault(key, name)
                entry = declared.setdefault(name, {"origin": var})
                entry[suffix[1:].lower()] = value
                break

    sources, problems = [], {}
    for name, entry in sorted(declared.items()):
        url = entry.get("url")
        if not url:
            raise ConfigError(f"data source {name!r} ({entry['origin']}) has no url",
                              hint=f"Set url in {path} or {ENV_PREFIX}{_env_key(name)}_URL")
        kind = entry.get("type") or _SCHEME_TYPES.get(urlsplit(url).scheme)
        if not kind:
            raise ConfigError(f"data source {name!r} ({entry['origin']}) has no type",
                              hint="Set type = \"prometheus\", \"postgresql\" or \"sqlite\"")
        secrets: dict[str, str] = {}
        if "password" in entry:
            secrets["password"] = entry["password"]
        elif entry.get("password_env"):
            env = entry["password_env"]
            if env in environ:
                secrets["password"] = environ[env]
            else:
                problems[name] = f"its password variable {env} is not set"
        sources.append(DataSource(name=name, type=str(kind), url=str(url), secrets=secrets,
                                  origin=str(entry["origin"])))
    return DataSources(sources, config_file=path, problems=problems)


def _read_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}", file=str(path)) from exc
    tables = data.get("datasources", {})
    if not isinstance(tables, Mapping):
        raise ConfigError(f"{path}: `datasources` must be a table of tables",
                          hint="Write [datasources.<name>] sections")
    return dict(tables)
