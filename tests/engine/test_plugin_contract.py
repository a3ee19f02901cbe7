"""The plugin protocol is the contract: the registry refuses a class that lacks anything the
engine reads of a plugin, naming what is missing, and `PluginBase` gives the defaults."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from engine.errors import PluginError
from engine.plugins import PLUGIN_MEMBERS, Plugin, PluginBase, Registry, default_registry


class Params(BaseModel):
    path: str = "/tmp"


class Minimal(PluginBase):
    name = "minimal"
    Params = Params

    async def run(self, **_: Any) -> None: ...


def test_a_class_missing_what_the_engine_reads_is_refused_by_name() -> None:
    class Bare:  # a plugin written against an older contract
        name = "bare"
        Params = Params

        async def run(self, **_: Any) -> None: ...

    with pytest.raises(PluginError) as caught:
        Registry(discover=False, extra={"bare": Bare})
    message = str(caught.value)
    assert "plugin 'bare'" in message and "lacks read_only, idempotent, untemplated_params, " \
        "template_guards, describe" in message
    assert "PluginBase" in caught.value.hint


def test_plugin_base_gives_safe_defaults() -> None:
    registry = Registry(discover=False, extra={"minimal": Minimal})
    cls = registry.get("minimal")
    assert (cls.read_only, cls.idempotent) == (False, False)  # may change the world, not twice
    assert cls.untemplated_params == frozenset() and dict(cls.template_guards) == {}
    assert registry.instance("minimal").describe(params=Params()) == "minimal {'path': '/tmp'}"
    assert isinstance(registry.instance("minimal"), Plugin)


def test_every_shipped_plugin_keeps_the_whole_contract() -> None:
    registry = default_registry()
    for name in sorted(registry.names()):
        cls = registry.get(name)
        assert all(hasattr(cls, member) for member in PLUGIN_MEMBERS), name
