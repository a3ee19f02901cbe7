"""Running a plan on the local executor with a store of its own: the helper runtime tests that
compile a guide and look at how its run ends share."""

from __future__ import annotations

import asyncio
from pathlib import Path

from engine.interaction import Interaction
from engine.plan import Plan
from engine.plugins import Registry, default_registry
from engine.runtime.executor import LocalExecutor
from engine.runtime.services import Services
from engine.settings import Settings
from engine.store import open_store
from engine.store.base import RunRecord


def run_locally(plan: Plan, tmp_path: Path, *, guide_path: str = "g.md",
                interaction: Interaction | None = None,
                registry: Registry | None = None) -> RunRecord:
    """`plan` run to its end with the default plugins (or `registry`'s), its store under
    `tmp_path`, its questions put to `interaction` (none answered when not given)."""
    async def go() -> RunRecord:
        store = open_store(tmp_path / "s.sqlite3")
        await store.open()
        try:
            ex = LocalExecutor(Services(store=store, registry=registry or default_registry(),
                                        settings=Settings(data_dir=tmp_path)),
                               interaction=interaction)
            return await ex.start(plan, guide_path=guide_path)
        finally:
            await store.close()
    return asyncio.run(go())
