"""Embedded executor benchmark: scheduling overhead and makespan, against a floor and a peer.

Run: `.venv/bin/python bench/bench_executor.py [--repeat 5]`

Measured in one run, so only the ratios are meant to be compared across machines:

1. Per-step overhead on 1,000-step wide (one fan-out) and deep (one chain) plans of no-op
   steps, through the whole local executor with its SQLite store (every transition committed
   before it is acted on). Floor: the same DAG as plain `asyncio.gather` / sequential awaits.
   Peers: the same DAG as a LangGraph StateGraph in memory, and with LangGraph's SQLite
   checkpointer (`langgraph-checkpoint-sqlite`, durability "sync": each step's checkpoint is
   written before the next step starts, as Mendflow commits before it acts: the durable peer).
   Targets: <= 0.3 ms per step on the chain, <= 0.2 wide, and faster than LangGraph in memory
   on both.
2. A 20-step parallel plan with 100 ms steps (entry -> 6 chains of 3 -> join): makespan
   against the critical path (target within 5%) and against running the steps one after
   another, with the LangGraph run of the same plan beside it.

Medians of `--repeat` runs are printed; the runners take turns, run by run, so that load from
elsewhere on a shared machine falls on all of them alike.
"""

from __future__ import annotations

import argparse
import asyncio
import operator
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.plan import Edge, Plan, SourceInfo, Span, Step  # noqa: E402
from engine.plugins import PluginBase, Registry, StepContext, StepResult
from engine.runtime.executor import LocalExecutor  # noqa: E402
from engine.runtime.services import Services
from engine.settings import Settings  # noqa: E402
from engine.store import open_store  # noqa: E402

SPAN = Span(start=1, end=1)


class SleepParams(BaseModel):
    seconds: float = 0.0


class SleepPlugin(PluginBase):
    name: ClassVar[str] = "sleep"
    Params = SleepParams
    read_only = True

    async def run(self, *, params: SleepParams, ctx: StepContext) -> StepResult:
        if params.seconds:
            await asyncio.sleep(params.seconds)
        return StepResult(outputs={"slept": params.seconds})


def _step(i: int | str, seconds: float) -> Step:
    return Step(id=f"s{i}", title=f"step {i}", kind="query", plugin="sleep",
                params={"seconds": seconds}, source=SPAN)


def _plan(steps: list[Step], edges: list[tuple[str, str]]) -> Plan:
    end = Step(id="end", title="end", kind="end", outcome="resolved", source=SPAN)
    sinks = {s.id for s in steps} - {a for a, _ in edges}
    all_edges = [Edge(source=a, target=b) for a, b in edges]
    all_edges += [Edge(source=s, target="end") for s in sorted(sinks)]
    return Plan(id="bench", title="bench", compiler="bench", entry=steps[0].id,
                source=SourceInfo(path="bench", sha256="0" * 64), steps=[*steps, end],
                edges=all_edges)


def wide(n: int, seconds: float = 0.0) -> Plan:
    steps = [_step(i, seconds) for i in range(n)]
    return _plan(steps, [("s0", f"s{i}") for i in range(1, n)])


def deep(n: int, seconds: float = 0.0) -> Plan:
    steps = [_step(i, seconds) for i in range(n)]
    return _plan(steps, [(f"s{i}", f"s{i + 1}") for i in range(n - 1)])


def chains(seconds: float = 0.1, width: int = 6, length: int = 3) -> Plan:
    """entry -> `width` chains of `length` -> join: 20 steps, critical path 5 steps."""
    steps = [_step("entry", seconds)]
    edges: list[tuple[str, str]] = []
    for c in range(width):
        prev = "sentry"
        for k in range(length):
            sid = f"c{c}_{k}"
            steps.append(_step(sid, seconds))
            edges.append((prev, f"s{sid}"))
            prev = f"s{sid}"
        edges.append((prev, "sjoin"))
    steps.append(_step("join", seconds))
    return _plan(steps, edges)


# -- runners ---------------------------------------------------------------------------------


async def run_mendflow(plan: Plan) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), max_concurrency=10_000,
                            plugin_concurrency=10_000)
        store = open_store(Path(tmp) / "bench.sqlite3")
        await store.open()
        try:
            ex = LocalExecutor(Services(
                store=store, registry=Registry(discover=False, extra={"sleep": SleepPlugin}),
                settings=settings))
            t0 = time.perf_counter()
            record = await ex.start(plan, guide_path="bench")
            elapsed = time.perf_counter() - t0
        finally:
            await store.close()
    assert record.outcome == "resolved", record.reason
    return elapsed


async def run_gather(plan: Plan) -> float:
    """The floor: each step a coroutine awaiting its predecessors' futures, no bookkeeping."""
    steps = {s.id: s for s in plan.steps if s.kind != "end"}
    preds: dict[str, list[str]] = {sid: [] for sid in steps}
    for e in plan.edges:
        if e.target in preds:
            preds[e.target].append(e.source)
    done: dict[str, asyncio.Future[None]] = {}
    loop = asyncio.get_running_loop()
    for sid in steps:
        done[sid] = loop.create_future()

    async def one(sid: str) -> None:
        for p in preds[sid]:
            await done[p]
        seconds = steps[sid].params["seconds"]
        if seconds:
            await asyncio.sleep(seconds)
        done[sid].set_result(None)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(sid) for sid in steps))
    return time.perf_counter() - t0


def run_sequential(plan: Plan) -> float:
    return sum(s.params.get("seconds", 0.0) for s in plan.steps if s.kind != "end")


async def run_langgraph(plan: Plan) -> float:
    """The plan as a LangGraph graph, in memory (no checkpointer)."""
    return await _langgraph(plan, durable=False)


async def run_langgraph_sqlite(plan: Plan) -> float:
    """The plan as a LangGraph graph checkpointed to a SQLite file before each next step."""
    return await _langgraph(plan, durable=True)


async def _langgraph(plan: Plan, *, durable: bool) -> float:
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
    from langgraph.graph import END, START, StateGraph
    from typing_extensions import TypedDict

    class State(TypedDict):
        # A count, not a list of the steps done: the state each checkpoint writes stays the
        # same size (Mendflow writes each step's delta), so no peer pays for a growing state.
        done: Annotated[int, operator.add]

    graph = StateGraph(State)
    steps = {s.id: s for s in plan.steps if s.kind != "end"}

    def node(sid: str, seconds: float) -> Any:
        async def fn(state: State) -> dict[str, int]:
            if seconds:
                await asyncio.sleep(seconds)
            return {"done": 1}
        return fn

    for sid, s in steps.items():
        graph.add_node(sid, node(sid, s.params["seconds"]))
    preds: dict[str, list[str]] = {sid: [] for sid in steps}
    for e in plan.edges:
        if e.target in preds:
            preds[e.target].append(e.source)
    graph.add_edge(START, plan.entry)
    for sid, ps in preds.items():
        if len(ps) == 1:
            graph.add_edge(ps[0], sid)
        elif ps:
            graph.add_edge(ps, sid)  # waits for all of them
    for e in plan.edges:
        if e.target == "end":
            graph.add_edge(e.source, END)
    config: dict[str, Any] = {"recursion_limit": len(steps) + 10}
    if not durable:
        app = graph.compile()
        t0 = time.perf_counter()
        await app.ainvoke({"done": 0}, config)
        return time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        async with AsyncSqliteSaver.from_conn_string(str(Path(tmp) / "lg.sqlite3")) as saver:
            await saver.setup()
            app = graph.compile(checkpointer=saver)
            config["configurable"] = {"thread_id": "bench"}
            t0 = time.perf_counter()
            await app.ainvoke({"done": 0}, config, durability="sync")
            return time.perf_counter() - t0


def interleaved(repeat: int, fns: tuple[Any, ...], *args: Any) -> list[float]:
    """Each runner's median of `repeat` runs, taken in turns (A B C A B C ...), so that load
    from elsewhere on a shared machine falls on all of them alike."""
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            result = fn(*args)
            if asyncio.iscoroutine(result):
                result = asyncio.run(result)
            samples[i].append(result)
    return [statistics.median(x) for x in samples]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args()
    n, r = args.steps, args.repeat

    print(f"== per-step overhead, {n}-step no-op plans (median of {r}, runs interleaved)")
    print(f"{'plan':<6} {'mendflow':>9} {'gather':>8} {'langgraph':>10} {'lg+sqlite':>10} "
          f"{'vs gather':>10} {'vs langgraph':>13} {'vs lg+sqlite':>13}   (ms/step)")
    targets = {"wide": 0.2, "deep": 0.3}
    for name, build in (("wide", wide), ("deep", deep)):
        plan = build(n)
        ours, floor, peer, durable = (x / n * 1e3 for x in interleaved(
            r, (run_mendflow, run_gather, run_langgraph, run_langgraph_sqlite), plan))
        met = ours <= targets[name] and ours < peer
        print(f"{name:<6} {ours:>9.3f} {floor:>8.4f} {peer:>10.3f} {durable:>10.3f} "
              f"{ours / floor:>9.1f}x {ours / peer:>12.2f}x {ours / durable:>12.2f}x   "
              f"target <= {targets[name]} and < langgraph: {'met' if met else 'NOT met'}")
    print("targets: mendflow <= 0.3 ms/step deep, <= 0.2 wide, faster than langgraph in memory")

    print(f"\n== 20-step parallel plan, 100 ms steps (median of {r})")
    plan = chains()
    critical = 0.5
    ours, floor, peer, durable = interleaved(
        r, (run_mendflow, run_gather, run_langgraph, run_langgraph_sqlite), plan)
    seq = run_sequential(plan)
    print(f"critical path {critical:.3f} s, one after another {seq:.3f} s")
    print(f"{'runner':<10} {'makespan s':>11} {'/ critical path':>16} {'/ sequential':>13}")
    for label, value in (("mendflow", ours), ("gather", floor), ("langgraph", peer),
                         ("lg+sqlite", durable)):
        print(f"{label:<10} {value:>11.3f} {value / critical:>16.3f} {value / seq:>13.3f}")
    print("target: mendflow makespan within 5% of the critical path; faster than langgraph")


if __name__ == "__main__":
    main()
