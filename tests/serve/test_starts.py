"""The intake first: runs that alerts start are driven once the intake lets them
(`engine.serve.starts`), their rows written by the intake, and a cancel asked meanwhile holds."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx

from engine.plugins import default_registry
from engine.runtime.executor import LocalExecutor
from engine.runtime.services import build_services
from engine.serve.app import ServeConfig, create_app, load_routes
from engine.serve.auth import parse_tokens
from engine.serve.starts import RunStarts
from engine.settings import Settings
from engine.store import RunRecord, open_store

from .conftest import ALERTS_TOKEN, OPERATOR_TOKEN, TOKENS, bearer, notification, serving
from .conftest import write_guides as _write_guides

# -- RunStarts on its own ------------------------------------------------------------------


async def test_a_start_goes_at_once_when_no_other_notification_is_taken_in() -> None:
    starts, began = RunStarts(pace_s=10), []
    with starts.intake():  # the notification that starts it
        starts.add("r1", lambda: began.append("r1"))
    assert began == ["r1"] and starts.deferred == 0


async def test_while_the_intake_is_busy_starts_wait_and_go_paced_in_order() -> None:
    starts, began = RunStarts(pace_s=0.1, max_defer_s=30), []
    with starts.intake(), starts.intake():  # two notifications being taken in
        for run in ("r1", "r2", "r3"):
            starts.add(run, lambda run=run: began.append((run, time.monotonic())))
        assert began == [] and starts.waiting == 3 and "r2" in starts
        await asyncio.sleep(0.15)
        assert [run for run, _ in began] in (["r1"], ["r1", "r2"])  # one per 0.1 s
    for _ in range(50):  # the intake is idle: the rest go at once
        if len(began) == 3:
            break
        await asyncio.sleep(0.01)
    assert [run for run, _ in began] == ["r1", "r2", "r3"] and starts.waiting == 0


async def test_no_start_waits_longer_than_its_bound_however_busy_the_intake() -> None:
    starts, began = RunStarts(pace_s=60, max_defer_s=0.2), []
    with starts.intake(), starts.intake():  # busy all along
        t0 = time.monotonic()
        starts.add("r1", lambda: began.append(time.monotonic() - t0))
        starts.add("r2", lambda: began.append(time.monotonic() - t0))
        await asyncio.sleep(0.5)
    assert len(began) == 2 and all(0.15 < t < 0.45 for t in began), began


async def test_a_waiting_start_can_be_hurried_or_flushed() -> None:
    starts, began = RunStarts(pace_s=60, max_defer_s=60), []
    with starts.intake(), starts.intake():
        for run in ("r1", "r2", "r3"):
            starts.add(run, lambda run=run: began.append(run))
        assert starts.hurry("r2") and not starts.hurry("r2") and began == ["r2"]
        starts.flush()
    assert began == ["r2", "r1", "r3"] and starts.waiting == 0


# -- a cancel asked before a run is driven --------------------------------------------------


async def test_a_run_cancelled_before_it_is_driven_ends_cancelled_with_its_clean_up(
        tmp_path: Path) -> None:
    from engine.compile import compile_guide
    from engine.guide import load_guide

    guide = tmp_path / "g.md"
    guide.write_text("---\nid: held\ntitle: Held\n---\n\n# Held\n\n## Diagnosis\n\n"
                     "1. Wait:\n\n   ```bash\n   sleep 30\n   ```\n\n## Always\n\n"
                     f"1. Say so:\n\n   ```bash\n   touch {tmp_path / 'cleaned'}\n   ```\n")
    plan = compile_guide(load_guide(guide))
    settings = Settings(data_dir=tmp_path / "data")
    async with open_store(settings.data_dir / "mendflow.sqlite3") as store:
        executor = LocalExecutor(build_services(settings, store, default_registry()))
        record = await executor.create(plan, guide_path=str(guide))
        assert (await store.get_run(record.run_id)).status == "running"  # written, not driven
        assert executor.cancel("the alert resolved")
        t0 = time.monotonic()
        ended = await asyncio.wait_for(executor.drive(plan, record), 20)
        assert ended.status == "cancelled" and time.monotonic() - t0 < 15
        assert (tmp_path / "cleaned").exists()
        assert not executor.cancel("again")  # driving ended: nothing to cancel


# -- the intake answers while run driving is saturated ----------------------------------------


class _Heavy(LocalExecutor):
    """A local executor whose run start blocks the event loop for a while, as forking its
    first steps' processes from a large server does; it notes when each run began."""

    began: list[float] = []

    async def drive(self, plan: Any, record: RunRecord) -> RunRecord:
        _Heavy.began.append(time.monotonic())
        time.sleep(0.04)  # noqa: ASYNC251 - the point: work that holds the loop
        return await super().drive(plan, record)


async def test_the_intake_answers_a_burst_while_run_starts_wait(tmp_path: Path) -> None:
    # Given a server whose run starts each hold the loop 40 ms, when 24 alerts of distinct
    # groups arrive at once, then every one is answered with its run's row already written,
    # and the runs began mostly after the burst was answered (one per pace during it), not
    # all of them in between the notifications as before; every run then starts and ends
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir(parents=True)
    store = open_store(settings.store_path)
    await store.open()
    registry = default_registry()
    router = load_routes(_write_guides(tmp_path / "guides"), known_plugins=set(registry.names()))
    config = ServeConfig(guides=tmp_path / "guides", tokens=parse_tokens(TOKENS),
                         max_runs_per_guide=100, start_pace_s=0.25)
    _Heavy.began = []
    app = create_app(config, build_services(settings, store, registry), router, _Heavy)
    async with serving(app, store) as client:
        async def post(i: int) -> tuple[dict[str, Any], float]:
            got = await client.post("/api/v1/alerts", headers=bearer(ALERTS_TOKEN),
                                    json=notification(f"g{i}", node=f"web-{i}"))
            assert got.status_code == 200, got.text
            return got.json()["alerts"][0], time.monotonic()

        answered = await asyncio.gather(*(post(i) for i in range(24)))
        last_answer = max(at for _, at in answered)
        run_ids = [said["run_id"] for said, _ in answered]
        assert all(said["disposition"] == "started" for said, _ in answered)
        for run_id in run_ids:  # written by the intake, before its answer
            assert (await store.get_run(run_id)).run_id == run_id
        during = sum(at <= last_answer for at in _Heavy.began)
        assert app.state.starts.deferred > 0
        assert during <= 8, f"{during} of 24 runs began while the burst was being answered"
        for _ in range(400):
            runs = await store.list_runs(limit=100)
            if len(runs) == 24 and all(r.status != "running" for r in runs):
                break
            await asyncio.sleep(0.05)
        assert sorted(r.run_id for r in runs) == sorted(run_ids)
        assert {r.status for r in runs} == {"succeeded"}, [r.reason for r in runs]


async def test_a_run_waiting_to_start_is_cancelled_from_the_api(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir(parents=True)
    store = open_store(settings.store_path)
    await store.open()
    registry = default_registry()
    router = load_routes(_write_guides(tmp_path / "guides", pause=30),
                         known_plugins=set(registry.names()))
    config = ServeConfig(guides=tmp_path / "guides", tokens=parse_tokens(TOKENS),
                         start_pace_s=60, start_max_defer_s=60)
    app = create_app(config, build_services(settings, store, registry), router, LocalExecutor)
    async with serving(app, store) as client:
        starts: RunStarts = app.state.starts
        with starts.intake():  # another notification is being taken in: the start waits
            got = await client.post("/api/v1/alerts", headers=bearer(ALERTS_TOKEN),
                                    json=notification("g1"))
            run_id = got.json()["alerts"][0]["run_id"]
            assert run_id in starts
            cancel = await client.post(f"/api/v1/runs/{run_id}/cancel",
                                       headers=bearer(OPERATOR_TOKEN))
            assert cancel.json() == {"run_id": run_id, "cancelling": True,
                                     "driven_here": True}, cancel.text
            assert run_id not in starts
        for _ in range(300):
            record = await store.get_run(run_id)
            if record.status != "running":
                break
            await asyncio.sleep(0.05)
        assert record.status == "cancelled", record.reason


# -- the intake's own connections ------------------------------------------------------------


class _Held:
    """A store whose every call waits for `gate`: the runs' connections, all busy."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.gate = inner, asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        async def held(*args: Any, **kwargs: Any) -> Any:
            await self.gate.wait()
            return await method(*args, **kwargs)
        return held


async def test_the_intake_writes_through_its_own_store_while_the_runs_one_is_held(
        tmp_path: Path) -> None:
    # Given the runs' store busy (every call waits), when an alert arrives, then the intake
    # still claims its group, writes its run and records it through its own connections and
    # answers; once the runs' store is free the run is driven to its end
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir(parents=True)
    async with open_store(settings.store_path) as runs_store, \
            open_store(settings.store_path) as intake_store:
        held = _Held(runs_store)
        registry = default_registry()
        router = load_routes(_write_guides(tmp_path / "guides"),
                             known_plugins=set(registry.names()))
        config = ServeConfig(guides=tmp_path / "guides", tokens=parse_tokens(TOKENS))
        services = build_services(settings, held, registry)  # type: ignore[arg-type]
        app = create_app(config, services, router, LocalExecutor, intake_store=intake_store)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://mendflow") as client:
            got = await asyncio.wait_for(client.post(
                "/api/v1/alerts", headers=bearer(ALERTS_TOKEN), json=notification("g1")), 10)
            said = got.json()["alerts"][0]
            assert said["disposition"] == "started", said
            assert (await intake_store.get_run(said["run_id"])).status == "running"
            assert [a.disposition for a in await intake_store.alerts()] == ["started"]
            held.gate.set()
            (task,) = app.state.live.tasks
            assert (await asyncio.wait_for(task, 30)).status == "succeeded"
