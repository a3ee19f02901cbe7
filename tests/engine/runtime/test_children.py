"""Linked guides run as child runs on the local executor (guides in
tests/fixtures/guides/calls; real shell steps, a real SQLite store)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from engine.compile import compile_path
from engine.plan import Plan
from engine.store import open_store
from engine.store.base import RunOptions

GUIDES = Path(__file__).parents[2] / "fixtures" / "guides" / "calls"


def compile_(name: str) -> Plan:
    return compile_path(GUIDES / name, known_plugins={"shell", "bash"})


async def _memory(store: Any, run_id: str) -> dict[str, Any]:
    return {m.key: m.value for m in await store.memory(run_id)}


async def test_a_call_step_runs_the_linked_guide_as_a_child_run(make_executor, store) -> None:
    plan = compile_("parent.md")
    ex, _ = make_executor()

    record = await ex.start(plan, guide_path="parent.md", inputs={"cluster": "prod"})

    assert (record.status, record.outcome) == ("succeeded", "resolved")
    [child] = await store.child_runs(record.run_id)
    assert (child.run_id, child.parent_run_id, child.parent_step) == (
        f"{record.run_id}.backup", record.run_id, "backup")
    assert (child.status, child.outcome) == ("succeeded", "resolved")
    # its own record: the linked guide's plan, stored by its hash, and the mapped inputs
    assert await store.load_plan(child.plan_hash) == plan.calls["backup"]
    assert child.context["inputs"] == {"cluster": "prod", "label": "nightly-prod"}
    child_memory = await _memory(store, child.run_id)
    assert child_memory["steps.say"]["stdout"] == "backup nightly-prod of prod\n"
    # what the child found comes back to the caller's memory
    found = (await _memory(store, record.run_id))["steps.backup"]
    assert (found["run_id"], found["status"], found["outcome"]) == (
        child.run_id, "succeeded", "resolved")
    assert {"step": "say", "summary": "exit 0: backup nightly-prod of prod"} in found["findings"]
    assert [f["step"] for f in found["findings"]][:2] == ["say", "nodes"]


async def test_a_child_that_escalates_fails_the_call_step_when_the_guide_does_not_branch(
        make_executor, store) -> None:
    ex, _ = make_executor()

    record = await ex.start(compile_("strict.md"), guide_path="strict.md",
                            inputs={"cluster": "prod"})

    assert record.status == "failed"
    assert "step 'count' failed" in (record.reason or "")
    assert "ended escalate" in (record.reason or "")
    memory = await _memory(store, record.run_id)
    assert memory["steps.count"]["outcome"] == "escalate"
    assert "steps.restart" not in memory  # nothing after the failed call ran
    [child] = await store.child_runs(record.run_id)
    assert (child.status, child.outcome) == ("succeeded", "escalate")


async def test_a_guide_that_branches_on_the_childs_outcome_decides_itself(
        make_executor, store) -> None:
    ex, _ = make_executor()

    record = await ex.start(compile_("branching.md"), guide_path="branching.md",
                            inputs={"cluster": "prod"})

    assert (record.status, record.outcome) == ("succeeded", "escalate")
    memory = await _memory(store, record.run_id)
    assert memory["steps.count"]["outcome"] == "escalate"
    assert "steps.restart" not in memory
    assert record.state["steps"]["count"]["status"] == "succeeded"


async def test_a_child_runs_with_its_callers_options_dry_run_included(
        make_executor, store) -> None:
    ex, _ = make_executor()
    # the approvals and answers said of the linked guide's steps (through its call step
    # `backup`) are its own; those said of the caller's are not (trust24 #1)
    options = RunOptions(dry_run=True, approvals=("approve-*", "backup/approve-*"),
                         answers={"gate": True, "backup/gate": False}, auto_approve=("x-*",))

    record = await ex.start(compile_("parent.md"), guide_path="parent.md",
                            inputs={"cluster": "prod"}, options=options)

    [child] = await store.child_runs(record.run_id)
    assert child.options == options.model_copy(update={
        "executor": "local", "approvals": ("approve-*",), "answers": {"gate": False}})


async def test_a_child_that_cannot_start_fails_the_call_step_saying_why(
        make_executor, store) -> None:
    plan = compile_("parent.md")
    call = plan.step("backup")
    broken = plan.model_copy(update={"steps": [
        s if s.id != "backup" else call.model_copy(update={"params": {**call.params,
                                                                       "inputs": {}}})
        for s in plan.steps]})
    ex, _ = make_executor()

    record = await ex.start(broken, guide_path="parent.md", inputs={"cluster": "prod"})

    assert record.status == "failed"
    assert "the linked guide's run cannot start" in (record.reason or "")
    assert "cluster" in (record.reason or "")
    assert await store.child_runs(record.run_id) == []


async def test_a_call_step_run_again_reports_its_finished_child_without_rerunning_it(
        make_executor, store) -> None:
    from engine.runtime.memory import Memory

    plan = compile_("parent.md")
    ex, _ = make_executor()
    record = await ex.start(plan, guide_path="parent.md", inputs={"cluster": "prod"})
    [child] = await store.child_runs(record.run_id)
    events_before = len(await store.events(child.run_id))

    # the call step's attempt runs again (its runner died after the child ended)
    memory = Memory.restore(record.context, await store.memory(record.run_id))
    report = await ex.runner.run(plan, record.run_id, plan.step("backup"), 1, memory)

    assert type(report.event).__name__ == "StepSucceeded"
    assert report.memory[0].value["run_id"] == child.run_id
    assert len(await store.events(child.run_id)) == events_before  # not run again
    assert len(await store.child_runs(record.run_id)) == 1


# -- a run killed with SIGKILL, then resumed, with a real `mendflow` process ------------------

MENDFLOW = [sys.executable, "-m", "engine.cli"]

_PARENT = """# Parent

## Mitigation

1. Ask first {{#first}}:

   ```bash
   curl -sf "{url}/parent-first"
   ```

2. Follow [the child guide](child.md) {{#child}}.

3. Ask last {{#last}}:

   ```bash
   curl -sf "{url}/parent-last?sleep={last_s}"
   ```
"""

_CHILD = """# Child

## Mitigation

1. Ask first {{#a}}:

   ```bash
   curl -sf "{url}/child-first"
   ```

2. Ask slowly {{#b}}:

   ```bash
   curl -sf "{url}/child-slow?sleep={slow_s}"
   ```

3. Ask last {{#c}}:

   ```bash
   curl -sf "{url}/child-last"
   ```
"""


async def _runs(data_dir: Path) -> list[Any]:
    store = open_store(data_dir / "mendflow.sqlite3")
    await store.open()
    try:
        return await store.list_runs()
    finally:
        await store.close()


@pytest.mark.slow
@pytest.mark.parametrize(("killed_in", "slow_s", "last_s", "expected"), [
    # the child is in flight: it is resumed, its finished step not run again
    ("child-slow", 3, 0, ["parent-first", "child-first", "child-slow", "child-slow",
                          "child-last", "parent-last"]),
    # the child has ended: it is not run again, the caller goes on after it
    ("parent-last", 0, 3, ["parent-first", "child-first", "child-slow", "child-last",
                           "parent-last", "parent-last"]),
])
def test_kill_9_then_resume_resumes_the_child_and_never_reruns_it(
        tmp_path: Path, recorder, killed_in: str, slow_s: int, last_s: int,
        expected: list[str]) -> None:
    guides = tmp_path / "guides"
    guides.mkdir()
    (guides / "parent.md").write_text(_PARENT.format(url=recorder.url, last_s=last_s))
    (guides / "child.md").write_text(_CHILD.format(url=recorder.url, slow_s=slow_s))
    data = tmp_path / "data"
    env = {**os.environ, "MENDFLOW_DATA_DIR": str(data)}

    # Given a run killed with SIGKILL while `killed_in` is in flight
    proc = subprocess.Popen([*MENDFLOW, "run", str(guides / "parent.md")], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    while killed_in not in recorder.paths:
        assert proc.poll() is None, proc.stdout.read().decode()  # type: ignore[union-attr]
        assert time.monotonic() < deadline, f"the run never reached {killed_in}"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    parent = next(r for r in asyncio.run(_runs(data)) if r.parent_run_id is None)
    assert parent.status == "running"

    # When the caller is resumed
    resumed = subprocess.run([*MENDFLOW, "resume", parent.run_id], env=env,
                             capture_output=True, text=True, timeout=90,
                             stdin=subprocess.DEVNULL)

    # Then both end; each finished step ran once, the one in flight once more
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    runs = {r.run_id: r for r in asyncio.run(_runs(data))}
    assert len(runs) == 2  # one child run: resumed, never started again
    child = runs[f"{parent.run_id}.child"]
    assert (runs[parent.run_id].status, runs[parent.run_id].outcome) == (
        "succeeded", "resolved")
    assert (child.status, child.outcome, child.parent_step) == ("succeeded", "resolved", "child")
    assert recorder.paths == expected
    assert runs[parent.run_id].state["steps"]["child"]["attempt"] == 1
    assert child.state["steps"]["b"]["attempt"] == 1
    # `show` nests the child's steps under the call step
    shown = subprocess.run([*MENDFLOW, "show", parent.run_id], env={**env, "COLUMNS": "200"},
                           capture_output=True, text=True, timeout=60).stdout
    lines = shown.splitlines()
    at = next(i for i, ln in enumerate(lines) if f"↳ run {child.run_id}" in ln)
    assert [ln.split("│")[2].strip() for ln in lines[at + 1:at + 4]] == ["a", "b", "c"]


def test_a_compiled_plan_file_runs_its_bundled_child_without_the_guides(tmp_path: Path) -> None:
    # The plan file holds the child's plan: the guides may be gone by the time it runs.
    plan_file = tmp_path / "parent.plan.json"
    plan_file.write_text(compile_("parent.md").to_json())
    env = {**os.environ, "MENDFLOW_DATA_DIR": str(tmp_path / "data")}

    done = subprocess.run([*MENDFLOW, "run", str(plan_file), "--input", "cluster=prod"],
                          env=env, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, cwd=tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    runs = asyncio.run(_runs(tmp_path / "data"))
    child = next(r for r in runs if r.parent_run_id)
    assert (child.parent_step, child.status, child.outcome) == ("backup", "succeeded",
                                                                "resolved")
    assert child.guide_path.endswith("fixtures/guides/calls/backup.md")


async def test_cancelling_the_caller_cancels_its_child_and_runs_the_childs_clean_up(
        make_executor, store) -> None:
    from .conftest import edge, end, plan, sh, step

    child = plan([sh("slow", "sleep", "5"), sh("tidy", "echo", "tidy"), end("done")],
                 [edge("slow", "done")], id="child").model_copy(update={"cleanup": ["tidy"]})
    call = step("backup", kind="call", call="child", plugin=None,
                params={"guide": "child.md", "inputs": {}})
    caller = plan([call, sh("after", "echo", "after"), end("done")],
                  [edge("backup", "after"), edge("after", "done")], id="caller")
    caller = caller.model_copy(update={"calls": {"child": child}})
    ex, _ = make_executor()
    started = asyncio.get_running_loop().time()
    running = asyncio.ensure_future(ex.start(caller, guide_path="caller.md"))
    while not (children := await store.child_runs(_caller_id(await store.list_runs()))) or \
            "slow" not in {e.step_id for e in await store.events(children[0].run_id)}:
        await asyncio.sleep(0.05)

    assert ex.cancel("stop it")
    record = await running

    assert record.status == "cancelled"
    child_record = await store.get_run(children[0].run_id)
    assert child_record.status == "cancelled", child_record.reason
    child_memory = await _memory(store, child_record.run_id)
    assert child_memory["steps.tidy"]["stdout"] == "tidy\n"  # the child's clean-up ran
    assert "steps.slow" not in child_memory
    assert "steps.after" not in await _memory(store, record.run_id)
    assert asyncio.get_running_loop().time() - started < 4  # its sleep was stopped


def _caller_id(runs: list[Any]) -> str:
    return next((r.run_id for r in runs if r.parent_run_id is None), "")


_CHILD_WITHOUT_EVIDENCE = """---
title: Check the node count
inputs:
  - name: cluster
---

# Check the node count

## Diagnosis

1. Count the nodes of the cluster {#nodes}:

   ```bash
   cat /nonexistent/mendflow-nodes-count
   ```

2. If the cluster has too few nodes (`steps.nodes.stdout | int < 3`), escalate to the
   platform team.

3. Otherwise, no action is needed.
"""
_CALLER = """---
title: Caller that branches on the child
inputs:
  - name: cluster
---

# Caller that branches on the child

## Diagnosis

1. Follow [the node count check](child.md) {{#count}}.

2. If the check {said} (`{condition}`), escalate to the platform team.

3. Otherwise, no action is needed.
"""


@pytest.mark.parametrize(("said", "condition", "status", "outcome"), [
    # asked only whether it escalated: its other branch would end healthy past a check that
    # failed (it ended no_action, exit 0)
    ("escalated", 'steps.count.outcome == "escalate"', "failed", None),
    # true for every ending but a healthy one: the guide's own branch for the rest
    ("was not healthy", 'steps.count.outcome != "no_action"', "succeeded", "escalate"),
    # names the ending itself
    ("could not tell", 'steps.count.outcome == "inconclusive"', "succeeded", "escalate"),
])
async def test_a_child_that_concluded_nothing_never_lets_its_caller_end_healthy(
        make_executor, store, tmp_path: Path, said: str, condition: str, status: str,
        outcome: str | None) -> None:
    (tmp_path / "child.md").write_text(_CHILD_WITHOUT_EVIDENCE)
    caller = tmp_path / "caller.md"
    caller.write_text(_CALLER.format(said=said, condition=condition))
    ex, _ = make_executor()

    record = await ex.start(compile_path(caller, known_plugins={"shell", "bash"}),
                            guide_path=str(caller), inputs={"cluster": "prod"})

    [child] = await store.child_runs(record.run_id)
    assert (child.status, child.outcome) == ("succeeded", "inconclusive")
    assert (record.status, record.outcome) == (status, outcome), record.reason
    if status == "failed":
        assert "ended inconclusive" in (record.reason or "")


_CHANGE_THEN_CHECK = """# Flush

## Mitigation

1. Flush the cache {{#flush}}:

   ```bash
   touch {marker}
   ```

2. Check the flush took {{#check}}:

   ```bash
   ls {missing}
   ```
"""

_RETRIED_CALLER = """# Caller

## Mitigation

1. Follow [the flush](child.md) {#flush retries=1}.
"""


@pytest.mark.parametrize("change_first", [True, False])
async def test_a_retried_call_step_never_makes_its_childs_change_again(
        make_executor, store, tmp_path: Path, change_first: bool) -> None:
    from engine.interaction import Answers

    # Given a call step with a retry, whose child makes a change and then fails a check
    # (or, the control, fails its check before any change)
    child = _CHANGE_THEN_CHECK.format(marker=tmp_path / "flushed", missing=tmp_path / "nope")
    if not change_first:
        child = child.replace("1. Flush", "0. Check the flush took {#first}:\n\n   ```bash\n"
                              f"   ls {tmp_path / 'nope'}\n   ```\n\n1. Flush")
    (tmp_path / "child.md").write_text(child)
    caller = tmp_path / "caller.md"
    caller.write_text(_RETRIED_CALLER)
    ex, _ = make_executor(interaction=Answers(assume_yes=True))

    record = await ex.start(compile_path(caller, known_plugins={"shell", "bash"}),
                            guide_path=str(caller))

    children = await store.child_runs(record.run_id)
    assert record.status == "failed"
    if change_first:
        # Then the child ran once (before: a second child flushed again, approved by --yes),
        # and the call step says why it did not try again
        assert [c.run_id for c in children] == [f"{record.run_id}.flush"]
        assert "started a change (flush)" in (record.reason or ""), record.reason
        assert "not run again by itself" in (record.reason or "")
    else:  # nothing changed: the retry may run the guide again
        assert len(children) == 2, [c.run_id for c in children]
