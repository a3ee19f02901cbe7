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

import asyncpg
import pytest

from engine.errors import StoreError
from engine.store import open_store
from engine.store.base import ArtifactRef, Store
from engine.store.postgres import SCHEMA_VERSION, PostgresStore, mask_password
from tests.engine.store.contract import StoreContract, make_plan, make_run

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


async def test_stalled_runs_lists_only_idle_running_runs(schema: str) -> None:
    async with PostgresStore(URL, schema=schema) as store:
        idle, busy, done = make_run("idle"), make_run("busy"), make_run("done")
        for run in (idle, busy, done):
            await store.create_run(run)
        await store.commit("done", expected_version=0, state=None, status="succeeded")
        await asyncio.sleep(0.3)
        await store.commit("busy", expected_version=0, state=None, status="running")
        assert [r.run_id for r in await store.stalled_runs(idle_s=0.2)] == ["idle"]
