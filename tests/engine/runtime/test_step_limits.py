"""A guide's own timeouts and retries hold at run time, and a change cut off by its timeout is
never tried again by itself: whether it acted is unknown, so a person decides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.compile import compile_guide
from engine.guide import parse_guide
from engine.interaction import Answers
from engine.plan import Retry
from engine.plugins import Registry
from engine.runtime.executor import LocalExecutor
from engine.runtime.services import Services
from engine.settings import Settings
from plugins.shell import ShellPlugin

from .conftest import edge, end, plan, sh, step

QUICK = Retry(attempts=3, backoff_s=0, max_backoff_s=0, jitter=False)


def executor(store: Any, tmp_path: Path, **kw: Any) -> LocalExecutor:
    registry = Registry(discover=False, extra={"shell": ShellPlugin})
    services = Services(store=store, registry=registry,
                        settings=Settings(data_dir=tmp_path, default_timeout_s=60))
    return LocalExecutor(services, interaction=Answers(assume_yes=True), **kw)


async def test_a_guides_timeout_and_retries_are_what_the_run_uses(store, tmp_path) -> None:
    # Given a guide whose slow read allows 0.5 s per try and one retry (the default is 60 s)
    guide = parse_guide(
        "# Slow check\n\n## Diagnosis\n\n### Wait for the cell {#wait timeout=500ms retries=1 "
        "backoff=0s}\n\n```sh\nsleep 5\n```\n", path="slow.md")
    p = compile_guide(guide, known_plugins={"shell"})
    # When it runs
    record = await executor(store, tmp_path).start(p, guide_path="slow.md")
    # Then each try was cut at 0.5 s, it was tried twice, and the run says so
    wait = record.state["steps"]["wait"]
    assert wait["attempt"] == 2
    assert "timed out after 0.5" in wait["error"]
    assert record.outcome == "inconclusive" and "after 2 attempts" in record.reason


async def test_a_change_cut_off_by_its_timeout_is_not_tried_again(store, tmp_path) -> None:
    # Given a gated change that hangs, with three tries allowed
    marker = tmp_path / "ran"
    fix = sh("fix", "sh", "-c", f"echo x >> {marker}; sleep 5", mutating=True,
             timeout_s=0.5, retry=QUICK)
    p = plan([step("gate", kind="approve"), fix, end("ok")],
             [edge("gate", "fix"), edge("fix", "ok")])
    # When it runs and times out
    record = await executor(store, tmp_path).start(p, guide_path="t.md")
    # Then it ran once only: it may have changed the world, so no retry by itself
    assert marker.read_text() == "x\n"
    state = record.state["steps"]["fix"]
    assert state["attempt"] == 1 and state["status"] == "failed"
    assert "not tried again by itself" in state["error"]
    assert record.status == "failed"


async def test_a_read_cut_off_by_its_timeout_is_tried_again(store, tmp_path) -> None:
    p = plan([sh("look", "sleep", "5", timeout_s=0.3, retry=QUICK), end("ok")],
             [edge("look", "ok")])
    record = await executor(store, tmp_path).start(p, guide_path="t.md")
    assert record.state["steps"]["look"]["attempt"] == 3
