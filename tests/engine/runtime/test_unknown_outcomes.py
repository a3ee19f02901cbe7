"""A change whose plugin raised something unexpected may have acted before it raised (an HTTP
POST sent, then its answer could not be read: JSON nested past what the reader recurses, a
plugin bug): whether it took effect is unknown, so it is not tried again by itself, even on a
step whose guide asked for retries. A read that raised is still retried."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from engine.interaction import Answers
from engine.plugins import PluginBase, Registry, StepContext, StepResult
from engine.runtime.executor import LocalExecutor
from engine.runtime.services import Services
from engine.settings import Settings

from .conftest import FlakyParams, edge, end, plan, step

RETRIES = {"attempts": 3, "backoff_s": 0.01, "jitter": False}


class ActsThenRaises(PluginBase):
    """Acts (notes the call), then raises as a plugin bug would."""

    name: ClassVar[str] = "acts_then_raises"
    Params = FlakyParams
    read_only = False
    calls: ClassVar[list[str]] = []

    async def run(self, *, params: FlakyParams, ctx: StepContext) -> StepResult:
        self.calls.append(ctx.idempotency_key)
        raise RecursionError("maximum recursion depth exceeded while decoding a JSON array")


class ReadsThenRaises(ActsThenRaises):
    name: ClassVar[str] = "reads_then_raises"
    read_only = True


def _executor(store: Any, tmp_path: Path) -> LocalExecutor:
    registry = Registry(discover=False, extra={"acts_then_raises": ActsThenRaises,
                                               "reads_then_raises": ReadsThenRaises})
    services = Services(store=store, registry=registry, settings=Settings(data_dir=tmp_path))
    return LocalExecutor(services, interaction=Answers(approvals=("gate",)))


async def test_a_change_that_raised_is_not_retried_by_itself(store, tmp_path: Path) -> None:
    ActsThenRaises.calls = []
    p = plan([step("gate", kind="approve"),
              step("act", plugin="acts_then_raises", params={}, mutating=True, retry=RETRIES),
              end("done", "mitigated"), end("denied", "escalate")],
             [edge("gate", "act"), edge("gate", "denied", on="failure", kind="error"),
              edge("act", "done")])
    record = await _executor(store, tmp_path).start(p, guide_path="t.md")
    assert len(ActsThenRaises.calls) == 1, ActsThenRaises.calls
    assert record.status == "failed"
    error = record.state["steps"]["act"]["error"]
    assert "RecursionError" in error and "not tried again by itself" in error


async def test_a_read_that_raised_is_still_retried(store, tmp_path: Path) -> None:
    ActsThenRaises.calls = []
    p = plan([step("look", plugin="reads_then_raises", params={}, retry=RETRIES), end("ok")],
             [edge("look", "ok")])
    record = await _executor(store, tmp_path).start(p, guide_path="t.md")
    assert len(ActsThenRaises.calls) == 3
    assert record.outcome == "inconclusive"
