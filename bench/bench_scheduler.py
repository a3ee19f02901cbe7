"""How much scheduling costs per step, on 1,000-step wide and deep no-op plans.

Drives each plan through `engine.scheduler` alone (no executor, no store): Start, then one
StepSucceeded per started step, until the run reaches its end. Prints the median per-step
overhead of several runs and its ratio to a floor measured in the same process: a plain Python
loop over the same steps doing one dict update each. Also prints, for the executor's sake, what
a state snapshot per event (`to_json_dict()`, what the store persists) would add, and what reading
a state back (`from_json_dict()` plus the first event, which rebuilds the join counters) costs.

    .venv/bin/python bench/bench_scheduler.py [--steps 1000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import deque
from collections.abc import Callable

from engine import scheduler as s
from engine.plan import Edge, Plan, SourceInfo, Span, Step

TARGET_S = 0.5e-3  # per step, from issue 3


def _step(sid: str, kind: str = "command") -> Step:
    return Step(id=sid, title=sid, kind=kind, source=Span(start=1, end=1),
                outcome="resolved" if kind == "end" else None)


def _plan(pid: str, steps: list[Step], edges: list[Edge]) -> Plan:
    return Plan(id=pid, title=pid, compiler="bench/1", source=SourceInfo(path="bench", sha256=""),
                entry=steps[0].id, steps=steps, edges=edges)


def wide(n: int) -> Plan:
    """entry -> n-2 parallel steps -> one end step that joins them all."""
    mid = [f"w{i}" for i in range(n - 2)]
    steps = [_step("entry")] + [_step(m) for m in mid] + [_step("done", "end")]
    edges = [Edge(source="entry", target=m) for m in mid] + [
        Edge(source=m, target="done") for m in mid]
    return _plan("wide", steps, edges)


def deep(n: int) -> Plan:
    """A chain of n steps, the last an end step."""
    steps = [_step(f"s{i}") for i in range(n - 1)] + [_step(f"s{n - 1}", "end")]
    edges = [Edge(source=f"s{i}", target=f"s{i + 1}") for i in range(n - 1)]
    return _plan("deep", steps, edges)


def drive(plan: Plan, *, snapshot: bool = False) -> float:
    """Run `plan` to its end; return the seconds spent in the scheduler (and snapshots, if
    asked)."""
    events = {st.id: s.StepSucceeded(step=st.id, attempt=1) for st in plan.steps}
    s.plan_index(plan)  # built once per plan; timed separately below
    start = time.perf_counter()
    state, actions = s.apply(plan, s.initial_state(plan, seed="bench"), s.Start())
    pending = deque(actions)
    while pending:
        action = pending.popleft()
        state, more = s.apply(plan, state, events[action.step])
        if snapshot:
            state.to_json_dict()
        pending.extend(more)
    elapsed = time.perf_counter() - start
    assert state.status == "succeeded", state.reason
    return elapsed


def reload(plan: Plan) -> float:
    """Seconds to read a half-finished run's state back and apply one event to it."""
    events = {st.id: s.StepSucceeded(step=st.id, attempt=1) for st in plan.steps}
    state, actions = s.apply(plan, s.initial_state(plan, seed="bench"), s.Start())
    pending = deque(actions)
    for _ in range(len(plan.steps) // 2):
        state, more = s.apply(plan, state, events[pending.popleft().step])
        pending.extend(more)
    saved = state.to_json_dict()
    start = time.perf_counter()
    s.apply(plan, s.RunState.from_json_dict(saved), events[pending[0].step])
    return time.perf_counter() - start


def floor(plan: Plan) -> float:
    ids = [st.id for st in plan.steps]
    start = time.perf_counter()
    status: dict[str, str] = {}
    for sid in ids:
        status[sid] = "succeeded"
    return time.perf_counter() - start


def median_of(fn: Callable[[], float], repeat: int) -> float:
    return statistics.median(fn() for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    n, repeat = args.steps, args.repeat

    print(f"{n}-step no-op plans, median of {repeat} runs, per step")
    print(f"{'plan':<6} {'scheduler':>11} {'floor':>9} {'ratio':>8} {'of target':>10} "
          f"{'index build':>12} {'+snapshot':>10} {'reload (once)':>14}")
    for plan in (wide(n), deep(n)):
        per_step = median_of(lambda p=plan: drive(p), repeat) / n
        base = median_of(lambda p=plan: floor(p), repeat) / n
        build = median_of(lambda p=plan: _timed(lambda: s.PlanIndex.build(p)), repeat) / n
        snap = median_of(lambda p=plan: drive(p, snapshot=True), repeat) / n
        load = median_of(lambda p=plan: reload(p), repeat)
        print(f"{plan.id:<6} {per_step * 1e6:>9.1f}us {base * 1e6:>7.3f}us "
              f"{per_step / base:>7.0f}x {per_step / TARGET_S:>9.1%} "
              f"{build * 1e6:>10.1f}us {snap * 1e6:>8.1f}us {load * 1e3:>12.2f}ms")
    print("ratio: scheduler / floor (one dict update per step); of target: share of 0.5 ms;\n"
          "index build: PlanIndex.build per step of plan, once per plan;\n"
          "+snapshot: scheduler plus to_json_dict() after every event (O(plan) each);\n"
          "reload: from_json_dict() of a half-done run plus one event, once per resume.")


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
