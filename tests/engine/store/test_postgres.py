"""The PostgreSQL store: the store contract against a real server, plus what only a server
store can get wrong (migrations racing, a refused login, a restart under a pool).

Each test gets its own PostgreSQL schema in the `test` database (dropped afterwards), so
tests and concurrent sessions never see each other's rows. `MENDFLOW_TEST_DATABASE_URL`
overrides the server (default: the local one with trust auth).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from engine.errors import StoreError
from engine.store import open_store
from engine.store.base import (
    ArtifactRef,
    MemoryEntry,
    StaleState,
    Store,
)
from engine.store.postgres import (
    _SELECT_STOPPED_RUNS,
    SCHEMA_VERSION,
    PostgresStore,
    mask_password,
)
from tests.engine.store.contract import T0, StoreContract, make_plan, make_run

URL = os.environ.get("MENDFLOW_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def _drop(schema: str) -> None:
    conn = await asyncpg.connect(URL)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await conn.close()


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    name = f"mf_test_{uuid.uuid4().hex[:12]}"
    yield name
    await _drop(name)


class TestPostgresStoreContract(StoreContract):
    @pytest.fixture
    async def store(self, schema: str) -> AsyncIterator[PostgresStore]:
        async with PostgresStore(URL, schema=schema) as store:
            yield store

    @pytest.fixture
    async def peer_store(self, store: PostgresStore) -> AsyncIterator[PostgresStore]:
        async with PostgresStore(URL, schema=store.schema) as peer:
            yield peer

    async def tamper_with_artifact(self, store: Store, ref: ArtifactRef) -> None:
        assert isinstance(store, PostgresStore)
        conn = await asyncpg.connect(URL, server_settings={"search_path": store.schema})
        try:
            # same size, one word changed: only the hash can tell
            await conn.execute("UPDATE artifacts SET data = overlay(data PLACING "
                               "'fake'::bytea FROM 5) WHERE run_id = $1", ref.run_id)
        finally:
            await conn.close()


# -- opening ---------------------------------------------------------------------------------


def test_open_store_names_postgres_for_postgresql_urls() -> None:
    for url in ("postgresql://u@h/db", "postgres://u@h/db", "postgresql+asyncpg://u@h/db"):
        store = open_store(url)
        assert isinstance(store, PostgresStore)
        assert store.url.startswith(("postgresql://", "postgres://"))


def test_password_is_masked() -> None:
    assert mask_password("postgresql://bob:s3cret@db:5432/x") == "postgresql://bob:***@db:5432/x"
    assert mask_password("redis://:pw@h:6379/0") == "redis://:***@h:6379/0"
    assert mask_password("postgresql://bob@db/x") == "postgresql://bob@db/x"


async def test_refused_connection_names_the_url_without_its_password() -> None:
    # Given a port where nothing listens
    store = PostgresStore("postgresql://bob:s3cret@127.0.0.1:1/x", connect_timeout_s=2)
    with pytest.raises(StoreError) as caught:
        await store.open()
    text = str(caught.value)
    assert "127.0.0.1:1" in text and "***" in text and "s3cret" not in text
    assert "running" in text  # says what to check


async def test_failed_login_says_to_check_the_credentials() -> None:
    # Given a role the server does not know (trust auth here, so a wrong password cannot fail)
    parts = URL.split("://", 1)[1].split("@", 1)[1]
    store = PostgresStore(f"postgresql://no_such_role_{uuid.uuid4().hex[:6]}:pw@{parts}")
    with pytest.raises(StoreError) as caught:
        await store.open()
    text = str(caught.value)
    assert "refused the login" in text and "user and password" in text
    assert ":pw@" not in text and ":***@" in text


async def test_missing_database_says_to_create_it() -> None:
    store = PostgresStore(URL.rsplit("/", 1)[0] + f"/no_such_db_{uuid.uuid4().hex[:6]}")
    with pytest.raises(StoreError, match="Create the database"):
        await store.open()


async def test_stopped_runs_are_found_on_an_index(schema: str) -> None:
    """Every `serve` asks for the runs stopped since its last look, every second: among many
    runs, an index on the stopped top-level runs' update time answers it, not a scan of
    every run and a sort of those that match."""
    async with PostgresStore(URL, schema=schema):
        pass
    conn = await asyncpg.connect(URL, server_settings={"search_path": schema})
    try:
        # 20,000 runs, one in ten running and one in three a child run, one a second
        await conn.execute(
            "INSERT INTO runs (run_id, plan_id, plan_hash, guide_path, title, status, "
            "created_at, updated_at, version, state, context, options, parent_run_id) "
            "SELECT 'r' || i, 'p', 'h', 'g.md', 't', CASE WHEN i % 10 = 0 THEN 'running' "
            "ELSE 'succeeded' END, $1::timestamptz, $1::timestamptz + i * interval '1 second', "
            "1, '{}', '{}', '{}', CASE WHEN i % 3 = 0 THEN 'r0' END "
            "FROM generate_series(1, 20000) AS i", T0)
        await conn.execute("ANALYZE runs")
        plan = "\n".join(row[0] for row in await conn.fetch(
            "EXPLAIN " + _SELECT_STOPPED_RUNS, T0 + timedelta(seconds=19_900), 100))
    finally:
        await conn.close()
    assert "runs_stopped" in plan, plan
    assert "Seq Scan" not in plan and "Sort" not in plan, plan


async def test_two_processes_opening_at_once_migrate_once(schema: str) -> None:
    stores = [PostgresStore(URL, schema=schema) for _ in range(6)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        conn = await asyncpg.connect(URL, server_settings={"search_path": schema})
        try:
            rows = await conn.fetch("SELECT version FROM mendflow_migrations ORDER BY version")
        finally:
            await conn.close()
        assert [r["version"] for r in rows] == list(range(1, SCHEMA_VERSION + 1))
        run = make_run()
        await stores[0].create_run(run)
        assert (await stores[5].get_run(run.run_id)).run_id == run.run_id
    finally:
        await asyncio.gather(*(s.close() for s in stores))


async def test_pool_recovers_when_its_connections_are_killed(schema: str) -> None:
    # Given an open store whose server-side connections are all terminated (as a restart does)
    async with PostgresStore(URL, schema=schema, min_size=2, max_size=2) as store:
        plan_hash = await store.save_plan(make_plan())
        admin = await asyncpg.connect(URL)
        try:
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                "pid <> pg_backend_pid() AND query NOT ILIKE '%pg_stat_activity%' AND "
                "datname = current_database() AND application_name = '' AND "
                "backend_type = 'client backend' AND pid IN (SELECT pid FROM pg_stat_activity "
                "WHERE state = 'idle')")
        finally:
            await admin.close()
        assert killed >= 1
        # When it is used again, then the calls succeed on fresh connections
        for _ in range(4):
            assert (await store.load_plan(plan_hash)).id == "disk-full"


def _event(seq_type: str, step: str = "check") -> tuple[str, str, int, dict[str, object]]:
    return (seq_type, step, 1, {"n": 1.0})


async def test_commit_is_atomic_and_compare_and_set(schema: str) -> None:
    async with PostgresStore(URL, schema=schema) as store:
        run = make_run()
        await store.create_run(run)
        await store.commit(run.run_id, expected_version=0, state={"a": 1}, status="running",
                           events=[_event("x"), _event("y")])
        # A stale writer writes nothing, events and memory included
        entry = MemoryEntry(key="vars.X", value=1, step_id="check", attempt=1,
                            at=datetime.now(UTC))
        with pytest.raises(StaleState):
            await store.commit(run.run_id, expected_version=0, state=None, status="failed",
                               events=[_event("z")], memory=[entry])
        record = await store.get_run(run.run_id)
        assert (record.version, record.status, record.state_seq) == (1, "running", 2)
        assert [e.type for e in await store.events(run.run_id)] == ["x", "y"]
        assert await store.memory(run.run_id) == []
        # A value that is not JSON writes nothing either
        with pytest.raises(StoreError):
            await store.commit(run.run_id, expected_version=1, state=None, status="running",
                               events=[("bad", None, None, {"x": float("nan")})])
        assert (await store.get_run(run.run_id)).version == 1
