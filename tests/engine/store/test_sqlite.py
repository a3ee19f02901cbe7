"""The SQLite store: the store contract, plus what only an embedded file store can get wrong."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import sys
import textwrap
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from engine.errors import ConfigError, StoreError
from engine.store import SqliteStore, open_store
from engine.store.base import ArtifactRef, MemoryEntry, Store
from engine.store.sqlite import (
    _SELECT_STOPPED_RUNS,
    CHECKPOINT_EVERY,
    MIGRATIONS,
    SCHEMA_VERSION,
    WAL_LIMIT_FRAMES,
)
from tests.engine.store.contract import (
    T0,
    StoreContract,
    commit_with_retry,
    make_plan,
    make_run,
)

REPO = Path(__file__).resolve().parents[3]


class TestSqliteStoreContract(StoreContract):
    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[SqliteStore]:
        async with SqliteStore(tmp_path / "mendflow.sqlite3") as store:
            yield store

    @pytest.fixture
    async def peer_store(self, store: SqliteStore) -> AsyncIterator[SqliteStore]:
        async with SqliteStore(store.path, artifacts_dir=store.artifacts_dir) as peer:
            yield peer

    async def tamper_with_artifact(self, store: Store, ref: ArtifactRef) -> None:
        assert isinstance(store, SqliteStore)
        path = store.artifacts_dir / ref.run_id / ref.step_id / str(ref.attempt) / ref.name
        path.write_bytes(path.read_bytes().replace(b"real", b"fake"))


# -- files ---------------------------------------------------------------------------------


async def test_artifacts_are_files_beside_the_store(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "db" / "m.sqlite3") as store:
        run = make_run("r1")
        await store.create_run(run)
        await store.put_artifact("r1", "check", 2, "stdout.txt", b"hello")
    assert (tmp_path / "db" / "artifacts" / "r1" / "check" / "2" / "stdout.txt").read_bytes() \
        == b"hello"
    # no temporary file is left behind by the atomic write
    assert [p.name for p in (tmp_path / "db" / "artifacts" / "r1" / "check" / "2").iterdir()] \
        == ["stdout.txt"]


async def test_reopened_store_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite3"
    plan = make_plan()
    entry = MemoryEntry(key="vars.X", value={"a": [1.5]}, step_id="check", attempt=1, at=T0)
    async with SqliteStore(path) as store:
        plan_hash = await store.save_plan(plan)
        await store.create_run(make_run("r1", plan_hash=plan_hash))
        await store.commit("r1", expected_version=0, state={"s": 1},
                           status="interrupted", reason="worker died",
                           events=[("started", None, None, {"k": "ü"})], memory=[entry])
        committed = await store.get_run("r1")
        ref = await store.put_artifact("r1", "check", 1, "out", b"bytes")
        assert await store.claim_step("r1", "clean", 1, "worker-a")

    async with SqliteStore(path) as again:
        assert await again.get_run("r1") == committed
        assert await again.load_plan(plan_hash) == plan
        assert [e.data for e in await again.events("r1")] == [{"k": "ü"}]
        assert await again.memory("r1") == [entry]
        assert await again.get_artifact(ref) == b"bytes"
        assert not await again.claim_step("r1", "clean", 1, "worker-b")


async def test_closed_store_says_so(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "m.sqlite3")
    with pytest.raises(StoreError, match="not open"):
        await store.list_runs()
    await store.open()
    await store.close()
    await store.close()  # closing twice is harmless
    with pytest.raises(StoreError, match="not open"):
        await store.get_run("x")


# -- schema and migrations -----------------------------------------------------------------


def _schema(path: Path) -> tuple[int, list[tuple[str, str]]]:
    with sqlite3.connect(path) as conn:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        objects = conn.execute("SELECT type, name FROM sqlite_master ORDER BY name").fetchall()
    return version, objects


async def test_migrations_are_applied_once_and_reopening_changes_nothing(
        tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite3"
    async with SqliteStore(path) as store:
        await store.create_run(make_run("r1"))
    first = _schema(path)
    assert first[0] == SCHEMA_VERSION
    assert ("table", "runs") in first[1]
    async with SqliteStore(path):
        pass
    assert _schema(path) == first


async def test_a_store_from_before_child_runs_is_migrated_and_keeps_its_runs(
        tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:  # the schema as migration 6 left it, with a run
        for statements in MIGRATIONS[:6]:
            for statement in statements:
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 6")
        conn.execute("INSERT INTO runs (run_id, plan_id, plan_hash, guide_path, title, status, "
                     "created_at, updated_at, version, state, context, options) VALUES ('old', "
                     "'p', 'h', 'g.md', 't', 'succeeded', ?, ?, 3, '{}', '{}', '{}')",
                     (T0.isoformat(), T0.isoformat()))
    async with SqliteStore(path) as store:
        old = await store.get_run("old")
        assert (old.status, old.version, old.parent_run_id, old.parent_step) == \
            ("succeeded", 3, None, None)
        await store.create_run(make_run("old.call").model_copy(
            update={"parent_run_id": "old", "parent_step": "call"}))
        assert [r.run_id for r in await store.child_runs("old")] == ["old.call"]
    assert _schema(path)[0] == SCHEMA_VERSION  # every migration applied, whatever their number


async def test_a_store_from_before_migration_10_keeps_its_events_and_memory_in_order(
        tmp_path: Path) -> None:
    """Migration 10 rebuilds events and memory (one b-tree each, no AUTOINCREMENT): what a
    run wrote before keeps its order, and what it writes after comes after it."""
    path = tmp_path / "nine.sqlite3"
    at = T0.isoformat()
    with sqlite3.connect(path) as conn:  # the schema as migration 9 left it, two runs in it
        for statements in MIGRATIONS[:9]:
            for statement in statements:
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 9")
        for run_id in ("a", "b"):
            conn.execute("INSERT INTO runs (run_id, plan_id, plan_hash, guide_path, title, "
                         "status, created_at, updated_at, version, state, context, options) "
                         "VALUES (?, 'p', 'h', 'g.md', 't', 'running', ?, ?, 2, '{}', '{}', "
                         "'{}')", (run_id, at, at))
        for seq, run_id, key in ((1, "a", "x"), (1, "b", "x"), (2, "a", "y"), (2, "b", "y"),
                                 (3, "a", "x")):
            conn.execute("INSERT INTO events (run_id, seq, at, type, step_id, attempt, data) "
                         "VALUES (?, ?, ?, 'note', NULL, NULL, ?)",
                         (run_id, seq, at, json.dumps({"key": key})))
            conn.execute("INSERT INTO memory (run_id, key, value, step_id, attempt, at) "
                         "VALUES (?, ?, ?, 's', 1, ?)", (run_id, key, json.dumps(seq), at))
    async with SqliteStore(path) as store:
        assert [(e.seq, e.data) for e in await store.events("a")] == \
            [(1, {"key": "x"}), (2, {"key": "y"}), (3, {"key": "x"})]
        assert [(m.key, m.value) for m in await store.memory("a")] == \
            [("x", 1), ("y", 2), ("x", 3)]
        entry = MemoryEntry(key="y", value=4, step_id="s", attempt=2, at=T0)
        assert await store.commit("a", expected_version=2, state=None, status="running",
                                  events=[("note", None, None, {"key": "y"})],
                                  memory=[entry, entry.model_copy(update={"key": "z"})]) == 3
        assert [(m.key, m.value) for m in await store.memory("a")] == \
            [("x", 1), ("y", 2), ("x", 3), ("y", 4), ("z", 4)]
        assert [e.seq for e in await store.events("a")] == [1, 2, 3, 4]
        assert [(m.key, m.value) for m in await store.memory("b")] == [("x", 1), ("y", 2)]
    version, objects = _schema(path)
    assert version == SCHEMA_VERSION
    assert ("table", "sqlite_sequence") in objects  # alerts still count up
    with sqlite3.connect(path) as conn:
        tables = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
        indexes = {name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN "
            "('events', 'memory')")}
    assert tables["events"].endswith("WITHOUT ROWID")
    assert tables["memory"].endswith("WITHOUT ROWID")
    assert "AUTOINCREMENT" not in tables["memory"]
    assert not indexes  # each is its own primary key's b-tree: nothing else to write


async def test_stores_opening_a_new_file_at_once_migrate_it_once(tmp_path: Path) -> None:
    stores = [SqliteStore(tmp_path / "m.sqlite3") for _ in range(4)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        await stores[0].create_run(make_run("r1"))
        assert [r.run_id for r in await stores[3].list_runs()] == ["r1"]
    finally:
        await asyncio.gather(*(s.close() for s in stores))
    assert _schema(tmp_path / "m.sqlite3")[0] == SCHEMA_VERSION


async def test_stopped_runs_are_found_on_an_index_in_a_store_migrated_from_before_it(
        tmp_path: Path) -> None:
    """Every `serve` asks for the runs stopped since its last look, every second: an index
    on the stopped top-level runs' update time answers it, not a scan of every run (and a
    sort of those that match), in a store made before the index too."""
    path = tmp_path / "twelve.sqlite3"
    at = T0.isoformat()
    with sqlite3.connect(path) as conn:  # the schema as migration 12 left it, with runs
        for statements in MIGRATIONS[:12]:
            for statement in statements:
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 12")
        for run_id, status in (("ended", "succeeded"), ("going", "running")):
            conn.execute("INSERT INTO runs (run_id, plan_id, plan_hash, guide_path, title, "
                         "status, created_at, updated_at, version, state, context, options) "
                         "VALUES (?, 'p', 'h', 'g.md', 't', ?, ?, ?, 1, '{}', '{}', '{}')",
                         (run_id, status, at, at))
    async with SqliteStore(path) as store:
        assert [r.run_id for r in await store.stopped_runs(since=T0)] == ["ended"]
    assert _schema(path)[0] == SCHEMA_VERSION
    with sqlite3.connect(path) as conn:
        plan = " | ".join(row[3] for row in conn.execute(
            "EXPLAIN QUERY PLAN " + _SELECT_STOPPED_RUNS, (at, 100)))
    assert "USING INDEX runs_stopped" in plan, plan
    assert "SCAN runs" not in plan and "TEMP B-TREE" not in plan, plan


async def test_a_store_from_before_migration_14_keeps_its_snapshots_out_of_the_run_rows(
        tmp_path: Path) -> None:
    """Migration 14 moves each run's state snapshot to a row of its own (a commit rewrites
    the run's row, and should not copy the snapshot each time): a run keeps its snapshot and
    the seq it was taken at, and a commit after the migration snapshots there."""
    path = tmp_path / "thirteen.sqlite3"
    at = T0.isoformat()
    with sqlite3.connect(path) as conn:  # the schema as migration 13 left it, with a run
        for statements in MIGRATIONS[:13]:
            for statement in statements:
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 13")
        conn.execute("INSERT INTO runs (run_id, plan_id, plan_hash, guide_path, title, "
                     "status, created_at, updated_at, version, state, context, options, "
                     "state_seq) VALUES ('a', 'p', 'h', 'g.md', 't', 'running', ?, ?, 2, "
                     "'{\"s\": 1}', '{}', '{}', 1)", (at, at))
        conn.execute("INSERT INTO events (run_id, seq, at, type, step_id, attempt, data) "
                     "VALUES ('a', 1, ?, 'note', NULL, NULL, '{}')", (at,))
    async with SqliteStore(path) as store:
        old = await store.get_run("a")
        assert (old.state, old.state_seq, old.version) == ({"s": 1}, 1, 2)
        assert await store.commit("a", expected_version=2, state={"s": 2}, status="running",
                                  events=[("note", None, None, {}), ("note", None, None, {})]
                                  ) == 3
        new = await store.get_run("a")
        assert (new.state, new.state_seq, new.version) == ({"s": 2}, 3, 3)
    assert _schema(path)[0] == SCHEMA_VERSION
    with sqlite3.connect(path) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
    assert "state" not in columns and "state_seq" not in columns


async def test_store_written_by_a_newer_mendflow_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite3"
    async with SqliteStore(path):
        pass
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="Upgrade Mendflow"):
        await SqliteStore(path).open()


async def test_another_apps_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE runs (id INTEGER)")
    with pytest.raises(StoreError, match="not a Mendflow store"):
        await SqliteStore(path).open()
    assert _schema(path) == (0, [("table", "runs")])


# -- corruption ----------------------------------------------------------------------------


def _random_bytes(path: Path) -> None:
    path.write_bytes(bytes((i * 7919 + 13) % 256 for i in range(8192)))


def _text(path: Path) -> None:
    path.write_text("this is my shopping list\n")


def _full_store(path: Path) -> bytes:
    async def fill() -> None:
        async with SqliteStore(path) as store:
            for i in range(200):
                await store.create_run(make_run(f"r{i}").model_copy(
                    update={"state": {"pad": "x" * 400}}))
    asyncio.run(fill())  # closing the last connection folds the WAL into the main file
    return path.read_bytes()


def _truncated(path: Path) -> None:
    data = _full_store(path)
    path.write_bytes(data[: len(data) // 3])


async def _first_read(path: Path) -> None:
    async with SqliteStore(path) as store:
        await store.list_runs(limit=1000)


def _assert_says_what_to_do(err: StoreError, path: Path) -> None:
    message = str(err)
    assert str(path) in message
    assert "aside" in message and "lost" in message
    assert isinstance(err.__cause__, sqlite3.DatabaseError)  # translated, not leaked


@pytest.mark.parametrize("damage", [_random_bytes, _text, _truncated])
def test_corrupted_file_is_a_store_error_that_says_what_to_do(tmp_path: Path, damage) -> None:
    path = tmp_path / "m.sqlite3"
    damage(path)
    with pytest.raises(StoreError) as caught:
        asyncio.run(_first_read(path))
    _assert_says_what_to_do(caught.value, path)


def test_damage_found_after_opening_is_a_store_error_too(tmp_path: Path) -> None:
    # Given a store whose header is intact but whose later pages are garbage...
    path = tmp_path / "m.sqlite3"
    data = bytearray(_full_store(path))
    middle = len(data) // 2
    data[middle:middle + 40960] = bytes((i * 31 + 7) % 256 for i in range(40960))
    path.write_bytes(bytes(data))

    async def open_then_read() -> None:
        async with SqliteStore(path) as store:  # opening reads only the first pages
            await store.get_run("r0")
            await store.list_runs(limit=1000)  # ...reading every run hits the damage

    with pytest.raises(StoreError) as caught:
        asyncio.run(open_then_read())
    _assert_says_what_to_do(caught.value, path)


def test_a_hand_edited_record_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite3"
    _full_store(path)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE snapshots SET state = '{not json' WHERE run_id = 'r1'")
    conn.close()
    with pytest.raises(StoreError, match="cannot read"):
        asyncio.run(_first_read(path))


async def test_unwritable_location_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match="cannot create the store directory"):
        await SqliteStore(blocker / "sub" / "m.sqlite3").open()


# -- other processes -----------------------------------------------------------------------


async def _python(code: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", textwrap.dedent(code), cwd=REPO,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.slow
async def test_another_process_reads_and_writes_while_this_one_has_it_open(
        tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite3"
    async with SqliteStore(path) as store:
        await store.create_run(make_run("r1"))
        await store.commit("r1", expected_version=0, state={}, status="running",
                           events=[("started", None, None, {})])
        # Given this process keeps the store open, when `mendflow runs` runs elsewhere...
        code, out, err = await _python(f"""
            import asyncio, json
            from engine.store import SqliteStore
            async def main():
                async with SqliteStore({str(path)!r}) as store:
                    runs = await store.list_runs()
                    print(json.dumps([[r.run_id, r.version] for r in runs]))
                    await store.commit("r1", expected_version=1, state={{}}, status="running",
                                       events=[("from-the-other-process", None, None, {{}})])
            asyncio.run(main())
        """)
        assert code == 0, err
        assert json.loads(out) == [["r1", 1]]
        # ...then its writes are visible here too.
        assert (await store.get_run("r1")).version == 2
        assert [e.type for e in await store.events("r1")] == ["started",
                                                              "from-the-other-process"]


@pytest.mark.slow
async def test_commit_survives_the_process_being_killed(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite3"
    code, _, err = await _python(f"""
        import asyncio, os, signal
        from datetime import UTC, datetime
        from engine.store import RunRecord, SqliteStore
        async def main():
            store = SqliteStore({str(path)!r})
            await store.open()
            now = datetime.now(UTC)
            await store.create_run(RunRecord(run_id="r1", plan_id="p", plan_hash="h",
                                             guide_path="g.md", created_at=now, updated_at=now))
            await store.commit("r1", expected_version=0, state={{"x": 1}}, status="running")
            os.kill(os.getpid(), signal.SIGKILL)  # no close, no checkpoint
        asyncio.run(main())
    """)
    assert code == -signal.SIGKILL, err
    async with SqliteStore(path) as store:
        run = await store.get_run("r1")
    assert (run.version, run.state) == (1, {"x": 1})


# -- open_store ----------------------------------------------------------------------------


@pytest.mark.parametrize("target, expected", [
    ("sqlite:////abs/dir/m.sqlite3", Path("/abs/dir/m.sqlite3")),
    ("sqlite:///rel/m.sqlite3", Path("rel/m.sqlite3")),
    ("/abs/dir/m.sqlite3", Path("/abs/dir/m.sqlite3")),
    (Path("/abs/dir/m.sqlite3"), Path("/abs/dir/m.sqlite3")),
])
def test_open_store_gives_sqlite_with_artifacts_beside_it(target, expected: Path) -> None:
    store = open_store(target)
    assert isinstance(store, SqliteStore)
    assert store.path == expected
    assert store.artifacts_dir == expected.parent / "artifacts"


def test_open_store_takes_an_artifacts_dir(tmp_path: Path) -> None:
    store = open_store(tmp_path / "m.sqlite3", artifacts_dir=tmp_path / "blobs")
    assert isinstance(store, SqliteStore)
    assert store.artifacts_dir == tmp_path / "blobs"


async def test_open_store_result_is_usable(tmp_path: Path) -> None:
    async with open_store(f"sqlite:///{tmp_path}/m.sqlite3") as store:  # type: ignore[attr-defined]
        await store.create_run(make_run("r1"))
        assert [r.run_id for r in await store.list_runs()] == ["r1"]
    assert (tmp_path / "m.sqlite3").exists()


@pytest.mark.parametrize("url", ["postgresql://u@db/mendflow", "postgres://db/x",
                                 "postgresql+asyncpg://db/x"])
def test_postgresql_urls_choose_the_postgresql_store(url: str) -> None:
    from engine.store.postgres import PostgresStore

    assert isinstance(open_store(url), PostgresStore)  # not opened: nothing is contacted


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite:///:memory:",
                                 "redis://localhost"])
def test_store_url_without_a_usable_file_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError):
        open_store(url)


async def test_naive_datetimes_are_taken_as_utc(tmp_path: Path) -> None:
    naive = T0.replace(tzinfo=None)
    async with SqliteStore(tmp_path / "m.sqlite3") as store:
        await store.create_run(make_run("r1", created_at=naive))
        assert (await store.get_run("r1")).created_at == T0


async def test_writers_on_many_connections_do_not_trip_over_locks(tmp_path: Path) -> None:
    # Given several handles (as several processes would have) committing to one run at once,
    # then none of them sees "database is locked": writers queue for the lock instead.
    stores = [SqliteStore(tmp_path / "m.sqlite3") for _ in range(6)]
    for s in stores:
        await s.open()
    try:
        await stores[0].create_run(make_run("r1"))
        await asyncio.gather(*(
            commit_with_retry(stores[i % len(stores)], "r1",
                              events=[("tick", None, None, {"i": i})], memory=[])
            for i in range(60)))
        assert (await stores[0].get_run("r1")).version == 60
    finally:
        for s in stores:
            await s.close()


# -- commits on the loop -------------------------------------------------------------------


async def test_a_commit_waits_for_a_write_lock_held_elsewhere_without_blocking_the_loop(
        tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "m.sqlite3") as store:
        await store.create_run(make_run("r1"))
        # Given another connection (another process, say) holding the write lock
        other = sqlite3.connect(tmp_path / "m.sqlite3", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        ticker = asyncio.create_task(tick())
        # When a commit is made meanwhile, it waits for the lock (on the store's thread)
        commit = asyncio.create_task(store.commit("r1", expected_version=0, state=None,
                                                  status="running", events=[("x", None,
                                                                             None, {})]))
        await asyncio.sleep(0.3)
        assert not commit.done()
        assert ticks >= 10  # and the event loop went on meanwhile
        other.execute("COMMIT")
        # Then it lands once the lock is free
        assert await asyncio.wait_for(commit, 10) == 1
        ticker.cancel()
        other.close()
        assert [e.type for e in await store.events("r1")] == ["x"]


async def test_the_store_checkpoints_its_log_itself_and_keeps_it_bounded(
        tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite3"
    async with SqliteStore(path) as store:
        await store.create_run(make_run("r1"))
        # Given commits back to back, so that no checkpoint ever finds the log quiet (each of
        # these writes three pages: about 12,000 in all, three times the limit)
        for version in range(4000):
            await store.commit("r1", expected_version=version, state=None, status="running",
                               events=[("x", None, None, {"n": version})])
        if store._checkpoint is not None:  # the last checkpoint begun is done
            await asyncio.wrap_future(store._checkpoint)
        # Then the log was restarted on the way: it holds the commits since, not all of them
        peer = sqlite3.connect(path, isolation_level=None)
        busy, frames, copied = peer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        peer.close()
        assert busy == 0 and frames < 2 * WAL_LIMIT_FRAMES, frames


async def test_a_write_on_the_store_thread_leaves_the_log_to_the_checkpoints(
        tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite3"
    async with SqliteStore(path) as store:
        await store.create_run(make_run("r1"))
        # Given a log past SQLite's default checkpoint size (1,000 pages) but not past ours,
        # from fewer commits than lie between two checkpoints of the store's
        bulky = {"text": "x" * 16_000}
        for version in range(CHECKPOINT_EVERY - 50):
            await store.commit("r1", expected_version=version, state=None, status="running",
                               events=[("x", None, None, bulky)])
        copied = path.stat().st_size
        # When a write is made on the store's thread (taking a lease, as a run's driver does)
        await store.take_lease("r1", holder="a", host="h", pid=1, ttl_s=30)
        # Then it did not stop to checkpoint the log in line (nothing was copied into the file)
        assert path.stat().st_size == copied


async def test_commits_go_on_while_the_store_thread_checkpoints(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite3"
    async with SqliteStore(path) as store:
        await store.create_run(make_run("r1"))
        # Given the store's thread busy for a while (as with a checkpoint syncing the disk)
        release = threading.Event()
        busy = asyncio.ensure_future(store._run(lambda: release.wait(30)))
        try:
            # When more commits are made than lie between two checkpoints
            for version in range(CHECKPOINT_EVERY + 50):
                await asyncio.wait_for(store.commit(
                    "r1", expected_version=version, state=None, status="running",
                    events=[("x", None, None, {"n": version})]), 10)
            # Then none of them waited for the thread (nor for the checkpoint)
            assert not busy.done()
        finally:
            release.set()
            await busy
        assert (await store.get_run("r1")).version == CHECKPOINT_EVERY + 50


async def test_the_store_answers_while_a_checkpoint_is_under_way(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "m.sqlite3") as store:
        await store.create_run(make_run("r1"))
        # Given a checkpoint under way for a while (syncing the disk, on its own thread)
        release = threading.Event()
        assert store._checkpointer is not None
        syncing = store._checkpointer.submit(release.wait, 30)
        try:
            # Then the store's other calls, reads and writes, do not wait for it
            assert (await asyncio.wait_for(store.get_run("r1"), 5)).run_id == "r1"
            await asyncio.wait_for(store.take_lease("r1", holder="a", host="h", pid=1,
                                                    ttl_s=30), 5)
        finally:
            release.set()
            await asyncio.wrap_future(syncing)
