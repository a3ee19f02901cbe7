"""Builders for executor tests: small hand-made plans, a real SQLite store, real plugins."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import BaseModel

from engine.interaction import Answers
from engine.plan import Condition, Edge, Plan, SourceInfo, Span, Step
from engine.plugins import PluginBase, Registry, StepContext, StepResult
from engine.runtime.executor import LocalExecutor, Update
from engine.runtime.services import Services
from engine.settings import Settings
from engine.store import open_store
from plugins.shell import ShellPlugin

SPAN = Span(start=1, end=1)


def step(id: str, kind: str = "command", **kw: Any) -> Step:
    if kind == "command" and "plugin" not in kw:
        kw["plugin"] = "shell"
    return Step(id=id, title=kw.pop("title", id), kind=kind, source=SPAN, **kw)


def sh(id: str, *argv: str, **kw: Any) -> Step:
    return step(id, params={"pipeline": [list(argv)]}, **kw)


def end(id: str, outcome: str = "resolved") -> Step:
    return step(id, kind="end", outcome=outcome)


def edge(a: str, b: str, expr: str | None = None, text: str | None = None, **kw: Any) -> Edge:
    cond = Condition(text=text or expr or "?", expr=expr) if (expr or text) else None
    return Edge(source=a, target=b, condition=cond, **kw)


def plan(steps: list[Step], edges: list[Edge], **kw: Any) -> Plan:
    return Plan(id=kw.pop("id", "test"), title="test plan", compiler="test/1",
                source=SourceInfo(path="test.md", sha256="0" * 64), entry=steps[0].id,
                steps=steps, edges=edges, **kw)


class FlakyParams(BaseModel):
    fail_times: int = 0
    key: str = "flaky"


class FlakyPlugin(PluginBase):
    """Fails its first `fail_times` calls per key, then succeeds; counts every call."""

    name: ClassVar[str] = "flaky"
    Params = FlakyParams
    read_only = True
    calls: ClassVar[dict[str, list[str]]] = {}

    async def run(self, *, params: FlakyParams, ctx: StepContext) -> StepResult:
        seen = self.calls.setdefault(params.key, [])
        seen.append(ctx.idempotency_key)
        if len(seen) <= params.fail_times:
            return StepResult(ok=False, error=f"failure {len(seen)}")
        return StepResult(outputs={"calls": len(seen)}, summary=f"ok after {len(seen)}")


class RaisingPlugin(PluginBase):
    name: ClassVar[str] = "raising"
    Params = FlakyParams
    read_only = True

    async def run(self, *, params: FlakyParams, ctx: StepContext) -> StepResult:
        raise ZeroDivisionError("plugin bug")


class GarbagePlugin(PluginBase):
    name: ClassVar[str] = "garbage"
    Params = FlakyParams
    read_only = True

    async def run(self, *, params: FlakyParams, ctx: StepContext) -> Any:
        return {"not": "a StepResult"}


class Recorder:
    """A local HTTP server that notes every GET: a read-only step (`curl -s URL`) whose runs a
    test can count, without the step writing anything. `?sleep=S` answers after S seconds."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                url = urlsplit(self.path)
                recorder.paths.append(url.path.strip("/"))
                time.sleep(float(parse_qs(url.query).get("sleep", ["0"])[0]))
                try:
                    self.send_response(200)
                    self.end_headers()
                    self.wfile.write(b"ok\n")
                except OSError:
                    pass  # the step was killed while it waited

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def get(self, id: str, name: str, sleep_s: float = 0, **kw: Any) -> Step:
        """A read-only shell step that GETs /name (after `sleep_s` seconds)."""
        return sh(id, "curl", "-sf", f"{self.url}/{name}?sleep={sleep_s}", **kw)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    thread = threading.Thread(target=rec.server.serve_forever, daemon=True)
    thread.start()
    yield rec
    rec.server.shutdown()
    rec.server.server_close()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Any]:
    s = open_store(tmp_path / "store.sqlite3")
    await s.open()
    yield s
    await s.close()


@pytest.fixture
def make_executor(store: Any, tmp_path: Path):  # noqa: ANN201
    FlakyPlugin.calls = {}

    def make(**kw: Any) -> tuple[LocalExecutor, list[Update]]:
        updates: list[Update] = []
        registry = Registry(discover=False, extra={
            "shell": ShellPlugin, "flaky": FlakyPlugin, "raising": RaisingPlugin,
            "garbage": GarbagePlugin,
        })
        settings = kw.pop("settings", None) or Settings(data_dir=tmp_path)
        interaction = kw.pop("interaction", None) or Answers()
        services = Services(store=store, registry=registry, settings=settings,
                            **{k: kw.pop(k) for k in ("datasources", "redact") if k in kw})
        ex = LocalExecutor(services, interaction=interaction, observer=updates.append, **kw)
        return ex, updates

    return make
