"""Plugin protocols and the registry: how a step's `plugin` name becomes code that runs.

A plugin is a class with a few class attributes and one keyword-only async method. It
inherits `PluginBase`, which gives every attribute the engine reads a safe default, and sets
what differs:

    class ShellPlugin(PluginBase):
        name = "shell"
        Params = ShellParams          # a pydantic model: the parameter schema
        read_only = False             # may change the world (per step, `Step.mutating` says)
        idempotent = False            # running it twice with one idempotency key: one effect?

        async def run(self, *, params: ShellParams, ctx: StepContext) -> StepResult: ...

`Plugin` is the whole contract, and everything in it is read: `read_only` by the read-only
check, `idempotent` when a step in flight was lost, `describe` for approvals, dry runs and
refusals, and two attributes that shape how the executor renders a step's params before `run`:
`untemplated_params` (names passed through unrendered: SQL text, an HTTP url, log roots, which
the plugin refuses to take as templates) and `template_guards` (name -> a function that
rewrites that param's template so every value in it is escaped for where it sits: PromQL). The
registry refuses a class that lacks any of them, naming what is missing.

Plugins are discovered through Python entry points (`mendflow.queries`, `mendflow.detectors`,
`mendflow.actions`) and loaded lazily: naming a plugin costs nothing until a step uses it. A
third-party package adds a plugin by declaring an entry point; Mendflow does not change.

This module does not run plugins (the executor does, and contains their failures) and knows
no concrete plugin.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from types import MappingProxyType
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from engine.datasources import Redactor
from engine.errors import PluginError

GROUPS = ("mendflow.queries", "mendflow.detectors", "mendflow.actions")

MAX_SUMMARY_CHARS = 4000
"""A step's outputs in memory are summaries; whole outputs are artifacts."""


class StepResult(BaseModel):
    """What a plugin returns: `outputs` become memory at `steps.<step_id>`.

    `outputs` must be JSON-serialisable and small (summaries); large payloads go to
    `artifacts` (name -> bytes), which the executor stores and replaces with references.
    `ok=False` records a failure that is the world's answer (a non-zero exit status), as
    opposed to an exception, which is the plugin failing to get an answer. `effect_unknown`
    with it: the answer says the change may have been made all the same (a gateway's 504:
    it lost its upstream's answer), so a mutating step is not tried again by itself.
    """

    # Artifacts may be binary (a Parquet table): as JSON they are base64.
    model_config = ConfigDict(arbitrary_types_allowed=True, ser_json_bytes="base64")
    ok: bool = True
    outputs: dict[str, Any] = Field(default_factory=dict)
    artifacts: dict[str, bytes] = Field(default_factory=dict)
    summary: str = ""
    error: str | None = None
    effect_unknown: bool = False


@dataclass(frozen=True, slots=True)
class StepContext:
    """What a plugin may know about the step it runs. Read-only.

    `secrets` knows every data-source secret. A plugin redacts raw text with `redact` BEFORE
    it cuts, summarises or quotes it (a cut made first can leave part of a secret at the cut);
    `redact_cut` is for text that was cut before the plugin saw it (a capture cap). The
    executor redacts outputs, events and artifacts again: the plugin's pass is the one that
    makes cuts safe. `mutating` is the plan's word that this step changes the world (it ran
    behind an approval gate); a plugin that can refuse effects does so when it is False.
    """

    run_id: str
    step_id: str
    attempt: int
    idempotency_key: str
    deadline_s: float  # seconds the step may take, from its start
    dry_run: bool = False
    data_source: Mapping[str, Any] | None = None
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger] = field(
        default_factory=lambda: logging.getLogger("mendflow.plugin"))
    output_cap_bytes: int = 1_000_000
    secrets: Redactor = field(default_factory=Redactor)
    mutating: bool = False
    # A query's whole result is kept up to these bounds (settings `result_cap_rows`/`_bytes`).
    result_cap_rows: int = 100_000
    result_cap_bytes: int = 64_000_000
    # What earlier steps of this run found (memory's `steps.<id>`, read-only), and their
    # artifacts: `await read_artifact(step_id, name)` is the bytes that step stored under
    # `name` (None when it stored none). For steps that compute over earlier results.
    results: Mapping[str, Any] = field(default_factory=dict)
    read_artifact: Callable[[str, str], Awaitable[bytes | None]] | None = None

    def redact(self, text: str) -> str:
        """`text` with every secret (and its encoded forms) masked; redact before cutting."""
        return self.secrets.redact(text)

    def redact_cut(self, text: str, *, start: bool = False, end: bool = True) -> str:
        """`redact` for text already cut at its start and/or end: a piece of a secret left
        at the cut is masked too."""
        return self.secrets.redact_cut(text, start=start, end=end)

    def redact_obj(self, value: Any) -> Any:
        """Every string inside a JSON-like value redacted."""
        return self.secrets.redact_obj(value)


@runtime_checkable
class Plugin(Protocol):
    name: ClassVar[str]
    Params: ClassVar[type[BaseModel]]
    # False: what a step does is decided per step (`Step.mutating`, and the read-only table
    # for what its parameters really ask); True: nothing it does changes the world.
    read_only: ClassVar[bool]
    # True: a second run with the same `ctx.idempotency_key` has no further effect (the
    # plugin or the system it calls deduplicates by key). Then a gated step left in flight by
    # a dead runner or worker is run again automatically, exactly once in effect; otherwise
    # its outcome is in doubt and a person decides.
    idempotent: ClassVar[bool]
    untemplated_params: ClassVar[frozenset[str]]
    template_guards: ClassVar[Mapping[str, Callable[[str], str]]]

    def describe(self, *, params: Any) -> str:
        """What the step would do, in a line a person approving it reads."""
        ...

    async def run(self, *, params: Any, ctx: StepContext) -> StepResult: ...


class PluginBase:
    """The defaults of what the engine reads of a plugin: not read-only, not idempotent, every
    param rendered as a template, described by its name and parameters."""

    name: ClassVar[str]
    read_only: ClassVar[bool] = False
    idempotent: ClassVar[bool] = False
    untemplated_params: ClassVar[frozenset[str]] = frozenset()
    template_guards: ClassVar[Mapping[str, Callable[[str], str]]] = MappingProxyType({})

    def describe(self, *, params: Any) -> str:
        shown = params.model_dump(mode="json") if isinstance(params, BaseModel) else params
        return f"{self.name} {shown}"


PLUGIN_MEMBERS = ("name", "Params", "read_only", "idempotent", "untemplated_params",
                  "template_guards", "describe", "run")


class Registered(Protocol):
    """What every class the registry holds has (query plugins, detectors, actions alike)."""

    name: ClassVar[str]
    Params: ClassVar[type[BaseModel]]


@dataclass(frozen=True, slots=True)
class PluginInfo:
    name: str
    group: str
    origin: str  # "module:attr" and the distribution that provides it


class Registry:
    """Plugins by name. Entry points are read on first use; classes are imported on first get."""

    def __init__(self, *, extra: Mapping[str, type[Any]] | None = None,
                 discover: bool = True) -> None:
        self._discover = discover
        self._points: dict[str, tuple[str, EntryPoint]] | None = None
        self._loaded: dict[str, type[Any]] = {
            name: _conforming(name, cls, f"{cls.__module__}:{cls.__qualname__}")
            for name, cls in (extra or {}).items()}
        self._factories: dict[str, Callable[[], Any]] = {}

    def _entry_points(self) -> dict[str, tuple[str, EntryPoint]]:
        if self._points is None:
            self._points = {}
            if self._discover:
                for group in GROUPS:
                    for ep in entry_points(group=group):
                        self._points.setdefault(ep.name, (group, ep))
        return self._points

    def register(self, cls: type[Registered]) -> None:
        self._loaded[cls.name] = _conforming(cls.name, cls, f"{cls.__module__}:"
                                             f"{cls.__qualname__}")

    def names(self) -> set[str]:
        return set(self._loaded) | set(self._entry_points())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.names()

    def info(self) -> list[PluginInfo]:
        rows = [PluginInfo(n, "registered", f"{c.__module__}:{c.__qualname__}")
                for n, c in self._loaded.items()]
        for n, (group, ep) in sorted(self._entry_points().items()):
            if n not in self._loaded:
                dist = ep.dist.name if ep.dist else "?"
                rows.append(PluginInfo(n, group, f"{ep.value} ({dist})"))
        return sorted(rows, key=lambda r: r.name)

    def get(self, name: str) -> type[Plugin]:
        if name in self._loaded:
            return self._loaded[name]
        point = self._entry_points().get(name)
        if point is None:
            known = ", ".join(sorted(self.names())) or "none"
            raise PluginError(f"unknown plugin {name!r} (installed: {known})",
                              hint="Install the package that provides it, or fix the step")
        try:
            cls: type[Any] = point[1].load()
        except Exception as exc:
            raise PluginError(f"plugin {name!r} failed to load from {point[1].value}: {exc}",
                              hint="Reinstall the package that provides it") from exc
        self._loaded[name] = _conforming(name, cls, point[1].value)
        return cls

    def instance(self, name: str) -> Plugin:
        if name not in self._factories:
            self._factories[name] = self.get(name)
        made: Plugin = self._factories[name]()
        return made


def parse_params(plugin_cls: type[Registered], params: Mapping[str, Any], *,
                 step: str | None = None) -> Any:
    """Validate rendered parameters against the plugin's schema; errors name the step."""
    try:
        return plugin_cls.Params.model_validate(dict(params))
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "params"
        raise PluginError(f"bad parameter {where!r} for plugin {plugin_cls.name!r}: "
                          f"{first['msg']}", step=step) from None


_default: Registry | None = None


def default_registry() -> Registry:
    global _default
    if _default is None:
        _default = Registry()
    return _default


def _conforming(name: str, cls: type[Any], origin: str) -> type[Any]:
    """`cls` if it has everything of `Plugin`; else a PluginError naming what it lacks."""
    missing = [m for m in PLUGIN_MEMBERS if not hasattr(cls, m)]
    if missing:
        raise PluginError(f"plugin {name!r} ({origin}) lacks {', '.join(missing)}",
                          hint="Inherit engine.plugins.PluginBase (it gives the defaults) and "
                               "define name, Params and an async run()")
    return cls
