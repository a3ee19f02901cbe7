"""Guides with triggers, tokens, and an app on the embedded store for `mendflow serve`'s
tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.plugins import default_registry
from engine.runtime.executor import LocalExecutor
from engine.runtime.services import build_services
from engine.serve.app import ServeConfig, create_app, load_routes
from engine.serve.auth import parse_tokens
from engine.settings import Settings
from engine.store import open_store

ALERTS_TOKEN = "am-" + "a" * 29
VIEWER_TOKEN = "ann-" + "v" * 28
OPERATOR_TOKEN = "oli-" + "o" * 28
APPROVER_TOKEN = "pat-" + "p" * 28
TOKENS = (f"am:alerts:{ALERTS_TOKEN},ann:viewer:{VIEWER_TOKEN},oli:operator:{OPERATOR_TOKEN},"
          f"pat:approver:{APPROVER_TOKEN}")

DISK = """---
id: disk-full
title: Disk filling up on a node
triggers:
  - alert: NodeDiskFull
inputs:
  - name: node
    type: name
    description: The node, from the alert's `node` label.
---

# Disk filling up on a node

## Diagnosis

1. Check the free space on {{ inputs.node }}:

   ```bash
   sleep {{ inputs.pause }} && df -h /
   ```
"""

CRITICAL = """---
id: disk-full-critical
title: Disk full on a critical node
triggers:
  - alert: NodeDiskFull
    labels: {severity: critical}
inputs:
  - name: node
    type: name
---

# Disk full on a critical node

## Diagnosis

1. Check the free space:

   ```bash
   df -h /
   ```
"""


SCRATCH = """---
id: scratch-full
title: Scratch space full
triggers:
  - alert: ScratchFull
---

# Scratch space full

## Mitigation

1. Mark the scratch space for clean-up:

   ```bash
   touch MARKER
   ```
"""


def write_guides(folder: Path, pause: float = 0.0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    disk = DISK.replace("{{ inputs.pause }}", f"{pause:g}")
    (folder / "disk.md").write_text(disk)
    (folder / "critical.md").write_text(CRITICAL)
    (folder / "scratch.md").write_text(SCRATCH.replace("MARKER", str(folder / "marker")))
    return folder


def notification(group: str = "{}:{alertname=\"NodeDiskFull\"}", *, status: str = "firing",
                 **labels: str) -> dict[str, Any]:
    labels = {"alertname": "NodeDiskFull", "node": "web-1", **labels}
    return {"version": "4", "groupKey": group, "truncatedAlerts": 0, "status": status,
            "receiver": "mendflow", "groupLabels": {"alertname": labels["alertname"]},
            "commonLabels": labels, "commonAnnotations": {}, "externalURL": "http://am",
            "alerts": [{"status": status, "labels": labels,
                        "annotations": {"summary": "disk filling up"},
                        "startsAt": "2026-12-02T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                        "generatorURL": "http://prom/graph", "fingerprint": "abc123"}]}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The app on an embedded store, the local executor, guides that pause 1 s."""
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir(parents=True)
    store = open_store(settings.store_path)
    await store.open()
    registry = default_registry()
    router = load_routes(write_guides(tmp_path / "guides", pause=1.0),
                         known_plugins=set(registry.names()))
    config = ServeConfig(guides=tmp_path / "guides", tokens=parse_tokens(TOKENS),
                         max_body_bytes=20_000)
    app = create_app(config, build_services(settings, store, registry), router, LocalExecutor)
    async with serving(app, store) as c:
        yield c


@asynccontextmanager
async def serving(app: Any, store: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `app` in this process (`.app`, `.store` on it); on the way out the runs the
    app started are awaited and the store is closed."""
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://mendflow") as c:
            c.app = app  # type: ignore[attr-defined]
            c.store = store  # type: ignore[attr-defined]
            yield c
    finally:
        app.state.starts.flush()  # runs still waiting to start (engine.serve.starts)
        for task in list(app.state.live.tasks):
            await task
        await store.close()
