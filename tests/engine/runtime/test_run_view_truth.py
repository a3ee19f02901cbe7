"""`show` and `report` tell what happened: waits apart from work, a critical path of steps
that ran, and no default that throttles a fan-out below the global limit."""

from __future__ import annotations

import asyncio

from engine.report import build_view
from engine.settings import Settings

from .conftest import edge, end, plan, sh, step


async def test_a_step_waiting_for_a_slot_shows_the_wait_apart_from_its_work(
        make_executor, store, tmp_path) -> None:
    # Given three 0.4 s checks and room for one at a time
    checks = [sh(f"c{i}", "sleep", "0.4") for i in range(3)]
    p = plan([step("start", kind="decide"), *checks, end("done")],
             [*(edge("start", c.id) for c in checks), *(edge(c.id, "done") for c in checks)])
    ex, updates = make_executor(settings=Settings(data_dir=tmp_path, max_concurrency=1))
    record = await ex.start(p, guide_path="t.md")
    view = build_view(record, p, await store.events(record.run_id),
                      await store.memory(record.run_id))
    rows = {r.step_id: r for r in view.rows}
    # Then each step's duration is its own 0.4 s, and the waits (0.4, 0.8 s) are shown apart
    assert all(0.35 < rows[c.id].duration_s < 0.7 for c in checks), \
        [(c.id, rows[c.id].duration_s) for c in checks]
    waits = sorted(rows[c.id].waited_s for c in checks)
    assert waits[0] < 0.1 and 0.3 < waits[1] < 0.7 and 0.7 < waits[2] < 1.3, waits
    # and a person watching saw two of them waiting for a slot
    waiting = {u.step_id for u in updates if u.kind == "step_waiting"}
    assert len(waiting) == 2


async def test_the_default_plugin_limit_does_not_serialise_a_fan_out(
        make_executor, tmp_path) -> None:
    # Given nine 0.5 s checks of one plugin and the default settings (global limit 16)
    checks = [sh(f"c{i}", "sleep", "0.5") for i in range(9)]
    p = plan([step("start", kind="decide"), *checks, end("done")],
             [*(edge("start", c.id) for c in checks), *(edge(c.id, "done") for c in checks)])
    ex, updates = make_executor(settings=Settings(data_dir=tmp_path))
    record = await ex.start(p, guide_path="t.md")
    # Then they all run at once (counted from what the executor reported, not the clock, so
    # that a loaded machine cannot fail it), and none of them waited for a slot
    assert record.outcome == "resolved"
    running = most = 0
    for u in updates:
        if u.step_id in {c.id for c in checks}:
            running += {"step_started": 1, "step_finished": -1}.get(u.kind, 0)
            most = max(most, running)
    assert most == 9
    assert not [u for u in updates if u.kind == "step_waiting"]


async def test_the_critical_path_names_only_steps_that_ran(make_executor, store) -> None:
    # Given a decision whose healthy branch is long and whose escalation is taken
    p = plan(
        [step("start", kind="decide"), sh("check", "sleep", "0.2"),
         step("judge", kind="decide"), sh("long", "sleep", "0.01"), end("ok", "no_action"),
         end("bad", "escalate")],
        [edge("start", "check"), edge("check", "judge"),
         edge("judge", "long", expr="steps.check.exit_code != 0", kind="branch"),
         edge("long", "ok"),
         edge("judge", "bad", expr="not (steps.check.exit_code != 0)", kind="else")])
    ex, _ = make_executor()
    record = await ex.start(p, guide_path="t.md")
    assert record.outcome == "escalate"
    view = build_view(record, p, await store.events(record.run_id),
                      await store.memory(record.run_id))
    # Then the path runs through what ran, never through the skipped healthy branch
    assert "long" not in view.critical_path and "ok" not in view.critical_path
    assert view.critical_path[-1] in ("judge", "check")
    assert "check" in view.critical_path
    assert 0.15 < view.critical_path_s < 2.0


async def test_a_data_source_limit_from_the_config_file_bounds_its_steps(
        make_executor, tmp_path) -> None:
    from engine.datasources import load_datasources

    # Given a data source limited to one step at a time, and two steps that use it
    config = tmp_path / "mendflow.toml"
    config.write_text('[datasources.slow]\ntype = "http"\nurl = "http://127.0.0.1:9"\n'
                      "concurrency = 1\n")
    settings = Settings(data_dir=tmp_path, config_file=config)
    sources = load_datasources(settings, {})
    assert sources.limit("slow") == 1 and sources.limit("other") is None
    ex, _ = make_executor(settings=settings, datasources=sources)
    limits = ex.runner._limits("http", {"name": "slow"})
    assert [(lim.key, lim.size) for lim in limits] == [("source:slow", 1)]
    assert ex.runner._limits("http", {"name": "other"}) == ()
    # Then steps of that source share one slot: a second waits for the first, and says so
    waits: list[bool] = []
    async with ex.runner.slots.hold(limits, holder="a", ttl_s=5, waiting=waits.append):
        second = asyncio.ensure_future(_hold(ex.runner.slots, limits, waits))
        await asyncio.sleep(0.05)
        assert not second.done() and waits == [True]
    await asyncio.wait_for(second, 1)
    assert waits == [True, False]


async def _hold(slots, limits, waits) -> None:
    async with slots.hold(limits, holder="b", ttl_s=5, waiting=waits.append):
        pass
