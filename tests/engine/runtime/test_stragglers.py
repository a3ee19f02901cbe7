"""Stragglers (`engine.stragglers`): a step working past the p99 of its own history is flagged
while it still runs, on both executors and both stores, counted in the metrics, shown by the
serve API and stream, and marked in the report.

History is seeded by really running a shipped guide (scratch-dir-cleanup) on a real store;
the deliberately slow step is that guide's `size` step (`du -sm "$SCRATCH_DIR"`) run with a
`du` on PATH that sleeps before it measures: the real command, just late.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
import pytest
from prometheus_client import REGISTRY

from engine.compile import compile_path
from engine.plan import Plan
from engine.plugins import default_registry
from engine.report import build_view, render_markdown
from engine.runtime.distributed import DistributedRunner
from engine.runtime.executor import LocalExecutor, Update
from engine.runtime.intervene import parse_sets, prepare
from engine.runtime.services import Services, build_services
from engine.serve.live import run_events
from engine.settings import Settings
from engine.store.base import RunOptions, Store
from engine.store.postgres import PostgresStore
from engine.store.sqlite import SqliteStore
from engine.stragglers import (
    MIN_SAMPLES,
    NOTE,
    SLACK_S,
    Baseline,
    StepHistory,
    Straggler,
    flagged,
    load_baseline,
)

ROOT = Path(__file__).resolve().parents[3]
GUIDE = ROOT / "guides" / "sre" / "scratch-dir-cleanup.md"
PG_URL = os.environ.get("MENDFLOW_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
SLOW_S = 2.5  # the slow `du`'s sleep: far past any p99 of a few-ms command


def counted(guide: str, plugin: str) -> float:
    return REGISTRY.get_sample_value("mendflow_step_stragglers_total",
                                     {"guide": guide, "plugin": plugin}) or 0.0


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        lite = SqliteStore(tmp_path / "runs.sqlite3")
        await lite.open()
        yield lite
        await lite.close()
        return
    schema = f"mf_strag_{uuid.uuid4().hex[:10]}"
    async with PostgresStore(PG_URL, schema=schema, max_size=8) as pg:
        yield pg
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await conn.close()


@pytest.fixture
def plan() -> Plan:
    return compile_path(GUIDE)


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    folder = tmp_path / "scratch"
    folder.mkdir()
    (folder / "a.log").write_text("x" * 1000)
    return folder


def services_of(store: Store, tmp_path: Path) -> Services:
    return build_services(Settings(data_dir=tmp_path), store, default_registry())


async def seed(store: Store, plan: Plan, services: Services, scratch: Path, runs: int) -> None:
    """`runs` real runs of the shipped guide: they end no_action (the folder is small)."""
    for _ in range(runs):
        record = await LocalExecutor(services).start(plan, guide_path=str(GUIDE),
                                                     inputs={"scratch_dir": str(scratch)})
        assert record.outcome == "no_action", record.reason


def history_row(report: str, step: str) -> str:
    """The step's row of the report's "Against history" table."""
    section = report.split("## Against history", 1)[1].split("\n## ", 1)[0]
    return next(line for line in section.splitlines() if line.startswith(f"| `{step}` |"))


def slow_du(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A `du` first on PATH that sleeps, then runs the real one."""
    bin_dir = tmp_path / "slowbin"
    bin_dir.mkdir()
    real = next(p for p in ("/usr/bin/du", "/bin/du") if Path(p).exists())
    du = bin_dir / "du"
    du.write_text(f"#!/bin/sh\nsleep {SLOW_S}\nexec {real} \"$@\"\n")
    du.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")


# -- the statistics ----------------------------------------------------------------------------


def test_history_quantiles_are_numpy_type_8_and_need_min_samples() -> None:
    rng = np.random.default_rng(7)
    durations = list(rng.lognormal(mean=-3, sigma=0.4, size=200))
    hist = StepHistory.of(durations)
    want = np.quantile(durations, [0.5, 0.99], method="median_unbiased")
    assert (hist.n, hist.p50_s, hist.p99_s) == (200, float(want[0]), float(want[1]))
    assert hist.threshold_s == pytest.approx(float(want[1]) + SLACK_S)
    assert hist.beyond(float(want[1]) + SLACK_S + 0.001)
    assert not hist.beyond(float(want[1]))
    few = StepHistory.of(durations[:MIN_SAMPLES - 1])
    assert (few.n, few.p99_s, few.enough, few.beyond(1e9)) == (MIN_SAMPLES - 1, None, False,
                                                                False)
    assert "n too small" in few.describe()
    # with 20-32 samples type 8's p99 is the largest one seen, never above it
    small = StepHistory.of(durations[:MIN_SAMPLES])
    assert small.p99_s == pytest.approx(max(durations[:MIN_SAMPLES]))


def test_a_same_distribution_step_is_rarely_flagged() -> None:
    """The false-flag rate of a step that is not slow at all: drawn from its own history's
    distribution (lognormal), how often does it pass p99 + slack? Near 1/(n+1) at n=20 (the
    p99 is the max), about 1% at n=500; the slack makes it lower for fast steps."""
    rng = np.random.default_rng(11)
    rates = {}
    for n in (MIN_SAMPLES, 500):
        hits = 0
        trials = 2000
        for _ in range(trials):
            hist = StepHistory.of(list(rng.lognormal(-1.0, 0.5, size=n)))
            hits += hist.beyond(float(rng.lognormal(-1.0, 0.5)))
        rates[n] = hits / trials
    assert rates[MIN_SAMPLES] < 0.06
    assert rates[500] < 0.015


# -- the store's history query -----------------------------------------------------------------


async def test_step_durations_come_from_finished_runs_of_the_same_guide_before_the_run(
        store: Store, plan: Plan, scratch: Path, tmp_path: Path) -> None:
    services = services_of(store, tmp_path)
    await seed(store, plan, services, scratch, 3)
    durations = await store.step_durations(plan.id)
    assert len(durations["size"]) == 3 and len(durations["old"]) == 3
    assert all(d > 0 for d in durations["size"])
    runs = await store.list_runs(limit=10)
    oldest = min(r.created_at for r in runs)
    assert await store.step_durations(plan.id, before=oldest) == {}
    assert len((await store.step_durations(plan.id, runs=2))["size"]) == 2
    assert await store.step_durations("another-guide") == {}
    # a dry run's stand-ins did not run: not history (its read-only steps did, and count)
    await LocalExecutor(services).start(
        plan, guide_path=str(GUIDE), inputs={"scratch_dir": str(scratch)},
        options=RunOptions(dry_run=True))
    assert len((await store.step_durations(plan.id))["size"]) == 4
    # a replay's reused steps were served from the record in 0 s, not run: not history either
    original = (await store.list_runs(limit=1))[0]
    prepared = await prepare(store, original.run_id, from_step="if-directory-within-budget",
                             sets=parse_sets([]))
    replayed = await LocalExecutor(services).start(
        prepared.plan, guide_path=prepared.guide_path, inputs=prepared.inputs,
        options=RunOptions(dry_run=True, replay=prepared.replay))
    assert "size" in prepared.replay.reuse and replayed.status != "running"
    assert len((await store.step_durations(plan.id))["size"]) == 4


# -- flagged live, on the local executor --------------------------------------------------------


async def test_a_slow_step_is_flagged_while_it_runs_counted_and_marked_in_the_report(
        store: Store, plan: Plan, scratch: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    services = services_of(store, tmp_path)
    await seed(store, plan, services, scratch, MIN_SAMPLES + 2)
    before = counted(plan.id, "shell")
    slow_du(tmp_path, monkeypatch)
    seen: list[tuple[float, Update]] = []
    executor = LocalExecutor(services, observer=lambda u: seen.append((time.monotonic(), u)))
    record = await executor.start(plan, guide_path=str(GUIDE),
                                  inputs={"scratch_dir": str(scratch)})
    assert record.outcome == "no_action"
    kinds = [(u.kind, u.step_id) for _, u in seen]
    flag_at = kinds.index(("step_straggler", "size"))
    done_at = kinds.index(("step_finished", "size"))
    assert flag_at < done_at  # flagged while it was still working
    flag = seen[flag_at][1]
    assert "beyond its p99" in flag.summary and f"n={MIN_SAMPLES + 2}" in flag.summary
    # flagged at its threshold, well before the slow step ended
    assert flag.duration_s is not None and flag.duration_s < SLOW_S / 2
    assert seen[done_at][0] - seen[flag_at][0] > SLOW_S / 3

    assert counted(plan.id, "shell") - before >= 1
    events = await store.events(record.run_id)
    notes = flagged(events)
    assert "size" in notes and notes["size"].attempt == 1
    note_seq = next(e.seq for e in events if e.type == NOTE
                    and e.data["step"] == "size")
    finish_seq = next(e.seq for e in events if e.type == "step_succeeded"
                      and e.step_id == "size")
    assert note_seq < finish_seq  # recorded before the step reported

    view = build_view(record, plan, events, await store.memory(record.run_id))
    view.history = await load_baseline(store, plan.id, before=record.created_at)
    report = render_markdown(view)
    assert "## Against history" in report
    size_line = history_row(report, "size")
    assert "**STRAGGLER** (flagged live at" in size_line
    assert f"| {MIN_SAMPLES + 2} |" in size_line
    start_line = history_row(report, "start")
    assert "STRAGGLER" not in start_line


async def test_too_little_history_flags_nothing_and_the_report_says_n_too_small(
        store: Store, plan: Plan, scratch: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    services = services_of(store, tmp_path)
    await seed(store, plan, services, scratch, 5)
    before = counted(plan.id, "shell")
    slow_du(tmp_path, monkeypatch)
    seen: list[Update] = []
    record = await LocalExecutor(services, observer=seen.append).start(
        plan, guide_path=str(GUIDE), inputs={"scratch_dir": str(scratch)})
    assert record.outcome == "no_action"
    assert [u for u in seen if u.kind == "step_straggler"] == []
    assert counted(plan.id, "shell") == before
    events = await store.events(record.run_id)
    assert flagged(events) == {}
    view = build_view(record, plan, events, await store.memory(record.run_id))
    view.history = await load_baseline(store, plan.id, before=record.created_at)
    size_line = history_row(render_markdown(view), "size")
    assert "n too small" in size_line and "| 5 |" in size_line
    assert "STRAGGLER" not in render_markdown(view)


# -- flagged live, on workers (DistributedRunner, in this process, no broker) ----------------


class ListDispatcher:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, int]] = []

    async def dispatch(self, *, run_id: str, step_id: str, attempt: int, delay_s: float,
                       queue: str | None) -> None:
        self.sent.append((run_id, step_id, attempt))

    async def flush(self) -> None:
        pass


async def test_a_worker_flags_a_slow_step_and_a_store_viewer_sees_it_while_it_runs(
        store: Store, plan: Plan, scratch: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    services = services_of(store, tmp_path)
    await seed(store, plan, services, scratch, MIN_SAMPLES)
    before = counted(plan.id, "shell")
    slow_du(tmp_path, monkeypatch)
    dispatcher = ListDispatcher()
    worker = DistributedRunner(services, dispatcher=dispatcher, owner="w1")
    run_id = f"strag-{uuid.uuid4().hex[:6]}"
    await worker.start(plan, guide_path=str(GUIDE), run_id=run_id,
                       inputs={"scratch_dir": str(scratch)})

    async def work() -> None:
        while dispatcher.sent:
            batch, dispatcher.sent[:] = dispatcher.sent[:], []
            await asyncio.gather(*(worker.execute(*task) for task in batch))

    # the viewer: serve's stream, reading only the store, as for any run on workers
    stream: list[tuple[str, dict[str, Any]]] = []

    async def watch() -> None:
        import json

        async for chunk in run_events(store, run_id, interval_s=0.05,
                                      disconnected=_never, max_s=60):
            for block in chunk.split("\n\n"):
                lines = dict(line.split(": ", 1) for line in block.splitlines()
                             if ": " in line and not line.startswith(":"))
                if "event" in lines:
                    stream.append((lines["event"], json.loads(lines["data"])))

    viewer = asyncio.create_task(watch())
    await work()
    await asyncio.wait_for(viewer, 30)
    names = [(name, data.get("id") or data.get("step"), data.get("status"))
             for name, data in stream]
    flag_at = next(i for i, (n, s, _) in enumerate(names) if n == "straggler" and s == "size")
    done_at = next(i for i, n in enumerate(names) if n == ("step", "size", "succeeded"))
    assert flag_at < done_at  # the stream said so while the step still worked
    data = stream[flag_at][1]
    assert data["n"] == MIN_SAMPLES and data["p99_s"] < data["elapsed_s"] < SLOW_S
    assert counted(plan.id, "shell") - before >= 1
    assert (await store.get_run(run_id)).outcome == "no_action"


async def _never() -> bool:
    return False


# -- mendflow serve: the run JSON while it runs, /metrics, the report -------------------------


async def test_serve_shows_the_straggler_in_the_run_json_metrics_and_report(
        store: Store, plan: Plan, scratch: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.serve.app import ServeConfig, create_app, load_routes
    from engine.serve.auth import parse_tokens
    from tests.serve.conftest import TOKENS, VIEWER_TOKEN, bearer, serving, write_guides

    services = services_of(store, tmp_path)
    await seed(store, plan, services, scratch, MIN_SAMPLES)
    slow_du(tmp_path, monkeypatch)
    registry = services.registry
    router = load_routes(write_guides(tmp_path / "guides"), known_plugins=set(registry.names()))
    config = ServeConfig(guides=tmp_path / "guides", tokens=parse_tokens(TOKENS))
    app = create_app(config, services, router, LocalExecutor)

    def scrape_value(text: str) -> float:
        for line in text.splitlines():
            if line.startswith("mendflow_step_stragglers_total{") \
                    and f'guide="{plan.id}"' in line and 'plugin="shell"' in line:
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    async with serving(app, store) as client:
        auth = bearer(VIEWER_TOKEN)
        before = scrape_value((await client.get("/metrics")).text)
        run_id = f"strag-{uuid.uuid4().hex[:6]}"
        running = asyncio.create_task(LocalExecutor(services).start(
            plan, guide_path=str(GUIDE), run_id=run_id, inputs={"scratch_dir": str(scratch)}))
        live: dict[str, Any] | None = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not running.done():
            got = await client.get(f"/api/v1/runs/{run_id}", headers=auth)
            if got.status_code == 200:
                size = next(s for s in got.json()["steps"] if s["id"] == "size")
                if size["straggler"]:
                    live = {"run": got.json()["status"], **size}
                    break
            await asyncio.sleep(0.05)
        await running
        assert live is not None, "never flagged while running"
        # the run went on and the step had not finished (no duration yet; the JSON's status
        # comes from the last state snapshot, which may predate the step's start)
        assert live["run"] == "running" and live["duration_s"] is None
        assert live["flagged"]["step"] == "size"
        assert live["history"]["n"] == MIN_SAMPLES and live["history"]["enough"]
        after = scrape_value((await client.get("/metrics")).text)
        assert after - before >= 1
        report = (await client.get(f"/api/v1/runs/{run_id}/report", headers=auth)).text
        assert "**STRAGGLER**" in history_row(report, "size")
        done = (await client.get(f"/api/v1/runs/{run_id}", headers=auth)).json()
        assert next(s for s in done["steps"] if s["id"] == "size")["straggler"] is True


def test_a_straggler_note_round_trips() -> None:
    flag = Straggler(step="s", attempt=2, elapsed_s=1.5, n=30, p50_s=0.1, p99_s=0.4,
                     plugin="shell")
    assert Straggler.from_json(flag.to_json()) == flag
    assert Straggler.from_json({"step": "s"}) is None
    assert Baseline("g").of("missing") == StepHistory(n=0)


# -- `mendflow run`'s live view ----------------------------------------------------------------


async def test_mendflow_run_prints_the_straggler_while_the_step_works(
        plan: Plan, scratch: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    data = tmp_path / "data"
    data.mkdir()
    lite = SqliteStore(data / "mendflow.sqlite3")
    await lite.open()
    try:
        await seed(lite, plan, services_of(lite, data), scratch, MIN_SAMPLES)
    finally:
        await lite.close()
    slow_du(tmp_path, monkeypatch)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "engine.cli", "run", str(GUIDE), "--input",
        f"scratch_dir={scratch}", env={**os.environ, "MENDFLOW_DATA_DIR": str(data)},
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        cwd=str(ROOT))
    assert proc.stdout is not None
    lines: list[tuple[float, str]] = []
    async for raw in proc.stdout:
        lines.append((time.monotonic(), raw.decode(errors="replace").rstrip()))
    assert await proc.wait() == 0, "\n".join(line for _, line in lines)
    flag = next((at, line) for at, line in lines if line.startswith("! size straggler:"))
    done = next((at, line) for at, line in lines if line.startswith("✔ size succeeded"))
    assert f"n={MIN_SAMPLES}" in flag[1] and "beyond its p99" in flag[1]
    assert done[0] - flag[0] > SLOW_S / 3  # printed while `size` still worked
    env = {**os.environ, "MENDFLOW_DATA_DIR": str(data), "COLUMNS": "200"}

    def mendflow(*args: str) -> str:
        got = subprocess.run([sys.executable, "-m", "engine.cli", *args], env=env, text=True,
                             capture_output=True, timeout=120, cwd=str(ROOT), check=True)
        return got.stdout

    run_id = next(w for w in mendflow("runs").split() if w.startswith("20"))
    assert "straggler: p99" in mendflow("show", run_id)
    assert "**STRAGGLER** (flagged live at" in history_row(mendflow("report", run_id), "size")


async def test_a_step_that_began_before_its_history_loaded_is_timed_from_its_start(
        plan: Plan, tmp_path: Path) -> None:
    """The run does not wait for its history: a step already working when it arrives gets
    its timer then, at its threshold counted from when its work began."""
    from engine.runtime.steps import StepRunner

    lite = SqliteStore(tmp_path / "runs.sqlite3")
    await lite.open()
    try:
        runner = StepRunner(services_of(lite, tmp_path))
        flags: list[tuple[float, Straggler]] = []
        runner.on_straggler = lambda run_id, flag: flags.append((time.monotonic(), flag))
        history = StepHistory(n=40, p50_s=0.1, p99_s=0.3)
        loading: asyncio.Future[Baseline] = asyncio.get_running_loop().create_future()
        runner.baselines["r1"] = loading
        step = plan.step("size")
        began = time.monotonic()
        with runner._watch(plan, "r1", step, 1):
            await asyncio.sleep(0.2)
            loading.set_result(Baseline(plan.id, {"size": history}))
            await asyncio.sleep(0.5)
        assert len(flags) == 1
        at, flag = flags[0]
        assert 0.3 + SLACK_S <= at - began < 0.3 + SLACK_S + 0.15
        assert (flag.step, flag.n, flag.p99_s) == ("size", 40, 0.3)
        # a step that ends before its threshold is never flagged
        with runner._watch(plan, "r1", step, 2):
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.4)
        assert len(flags) == 1
    finally:
        await lite.close()


def test_the_live_table_marks_a_straggler_while_it_runs_and_after(plan: Plan) -> None:
    from rich.console import Console

    from engine.cli.live import _LiveView

    view = _LiveView(plan, interactive=True)
    said = "straggler: working 0.30 s, beyond its p99 0.21 s (p50 0.14 s, n=22)"
    view(Update("step_started", "r1", step_id="size", attempt=1))
    view(Update("step_straggler", "r1", step_id="size", attempt=1, summary=said,
                duration_s=0.3))

    def shown() -> str:
        console = Console(width=200, record=True)
        console.print(view.table())
        return next(line for line in console.export_text().splitlines() if " size " in line)

    assert said in shown()
    view(Update("step_finished", "r1", step_id="size", attempt=1, status="succeeded",
                summary="12 /scratch", duration_s=2.6))
    line = shown()
    assert "2.60!" in line and "[straggler] 12 /scratch" in line
