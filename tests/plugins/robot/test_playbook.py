"""A peg-in-hole playbook run by the local executor against the real simulated cell:
alarm -> abort -> reset; a stream that cannot be read -> safe stop. The plan is built by
hand to mirror guides/robot/peg-in-hole.md (one attempt) until the compiler reads ```detect
and ```opcua blocks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.plan import Condition, Edge, Plan, SourceInfo, Span, Step
from engine.plugins import Registry
from engine.runtime.executor import LocalExecutor
from engine.runtime.interaction import Answers
from engine.settings import Settings
from engine.store import open_store
from plugins.detectors.ft_jam_slip import FtJamSlipDetector
from plugins.robot.opcua import OpcUaPlugin
from plugins.robot.ua import CellClient
from tests.plugins.robot.conftest import start_cell, stop_cell

SPAN = Span(start=1, end=1)


def _plan(cell: str, cal: Path) -> Plan:
    def ua(id: str, call: str, **kw: Any) -> Step:
        extra = {k: kw.pop(k) for k in ("wait_for",) if k in kw}
        return Step(id=id, title=call, kind="command", plugin="opcua", mutating=True,
                    params={"endpoint": cell, "call": call, **extra}, source=SPAN, **kw)

    def end(id: str, outcome: str) -> Step:
        return Step(id=id, title=id, kind="end", outcome=outcome, source=SPAN)

    def cond(expr: str) -> Condition:
        return Condition(text=expr, expr=expr)

    steps = [
        ua("start", "StartAttempt"),
        Step(id="watch", title="watch", kind="detect", plugin="ft_jam_slip", source=SPAN,
             params={"source": cell, "calibration": str(cal)}),
        ua("abort", "Abort"), ua("reset", "Reset", wait_for={"State": ["idle"]}),
        end("retry", "mitigated"), end("seated", "resolved"), end("gave-up", "escalate"),
        ua("stop", "Stop", on_error="continue"),
        ua("release", "OpenGripper", on_error="continue"), end("stopped", "escalate"),
    ]
    edges = [
        Edge(source="start", target="watch"),
        Edge(source="watch", target="abort", condition=cond("steps.watch.alarm"),
             kind="branch"),
        Edge(source="abort", target="reset"), Edge(source="reset", target="retry"),
        Edge(source="watch", target="seated", kind="else", condition=cond(
            "not steps.watch.alarm and steps.watch.cell_state == 'success'")),
        Edge(source="watch", target="gave-up", kind="else", condition=cond(
            "not steps.watch.alarm and steps.watch.cell_state != 'success'")),
        Edge(source="watch", target="stop", on="failure", kind="error"),
        Edge(source="start", target="stop", on="failure", kind="error"),
        Edge(source="stop", target="release"), Edge(source="release", target="stopped"),
    ]
    return Plan(id="peg-in-hole", title="peg", kind="robot", compiler="test/1",
                source=SourceInfo(path="guides/robot/peg-in-hole.md", sha256="0" * 64),
                entry="start", steps=steps, edges=edges)


async def _run(plan: Plan, tmp: Path) -> Any:
    store = open_store(tmp / "store.sqlite3")
    await store.open()
    try:
        registry = Registry(discover=False, extra={"opcua": OpcUaPlugin,
                                                   "ft_jam_slip": FtJamSlipDetector})
        ex = LocalExecutor(store=store, registry=registry,
                           settings=Settings(data_dir=tmp, default_timeout_s=30),
                           interaction=Answers(assume_yes=True))
        return await ex.start(plan, guide_path="guides/robot/peg-in-hole.md")
    finally:
        await store.close()


async def test_a_jam_is_aborted_and_the_cell_reset(cell: str, peg_cal: Path,
                                                   tmp_path: Path) -> None:
    async with CellClient(cell) as c:
        if await c.read("State") == "running":
            await c.call("Abort")
        await c.call("Reset")
        await c.call("QueueAttempt", False, "jam")
    record = await _run(_plan(cell, peg_cal), tmp_path)
    assert record.status == "succeeded" and record.outcome == "mitigated"
    async with CellClient(cell) as c:
        assert await c.read("State") == "idle" and await c.read("LastTruth") == "failure:jam"


async def test_an_unreadable_stream_stops_the_cell_safely(peg_cal: Path,
                                                          tmp_path: Path) -> None:
    proc, url = start_cell("--seed", "5", "--nan-rate", "0.3")
    try:
        record = await _run(_plan(url, peg_cal), tmp_path)
        assert record.outcome == "escalate"
        async with CellClient(url) as c:
            assert await c.read("State") == "stopped"
            assert await c.read("GripperOpen") is True
    finally:
        stop_cell(proc)
