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
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from engine.errors import RunNotFound, StoreError
from engine.store import open_store
from engine.store.base import (
    ArtifactRef,
    EventRecord,
    MemoryEntry,
    NextClaim,
    RunRecord,
    StaleState,
    Store,
)
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


async def test_stalled_runs_leave_child_runs_to_the_process_driving_them(schema: str) -> None:
    # A linked guide's child run is driven by the worker running its call step, with no task
    # of its own on the broker: a sweeper dispatching its steps would run them twice.
    async with PostgresStore(URL, schema=schema) as store:
        await store.create_run(make_run("parent"))
        await store.create_run(make_run("parent.call").model_copy(
            update={"parent_run_id": "parent", "parent_step": "call"}))
        await asyncio.sleep(0.3)
        assert [r.run_id for r in await store.stalled_runs(idle_s=0.2)] == ["parent"]


# -- the worker's fast path: begin_step, the one-statement commit, commit_locked -------------


def _event(seq_type: str, step: str = "check") -> tuple[str, str, int, dict[str, object]]:
    return (seq_type, step, 1, {"n": 1.0})


async def test_begin_step_claims_counts_the_start_and_reads_the_run(schema: str) -> None:
    async with PostgresStore(URL, schema=schema) as store:
        run = make_run()
        await store.create_run(run)
        entry = MemoryEntry(key="steps.check", value={"free": 1.0}, step_id="check", attempt=1,
                            at=datetime.now(UTC))
        await store.commit(run.run_id, expected_version=0, state=None, status="running",
                           events=[_event("step_started")], memory=[entry])
        # When a worker begins a step
        got = await store.begin_step(run.run_id, "check", 1, "w1", lease_s=30,
                                     marker_owner="w1/a", max_starts=2)
        # Then it holds the claim, its start is the first, and it read the run as committed
        assert (got.claimed, got.starts) == (True, 1)
        assert got.record.version == 1 and got.record.context == run.context
        assert [(e.seq, e.type, e.data) for e in got.events] == [
            (1, "step_started", {"n": 1.0})]
        assert [(m.key, m.value) for m in got.memory] == [("steps.check", {"free": 1.0})]
        assert got.memory[0].at == entry.at
        # And a second worker is refused the claim, counts nothing and gets no memory
        other = await store.begin_step(run.run_id, "check", 1, "w2", lease_s=30,
                                       marker_owner="w2/a", max_starts=2)
        assert (other.claimed, other.starts, other.memory) == (False, None, [])
        # And once every marker is taken, the next start is one past the limit (poison)
        assert await store.claim_step(run.run_id, "check#run2", 1, "someone")
        again = await store.begin_step(run.run_id, "check", 1, "w1", lease_s=30,
                                       marker_owner="w1/b", max_starts=2)
        assert (again.claimed, again.starts) == (True, 3)


async def test_begin_step_counts_starts_up_to_the_poison_limit(schema: str) -> None:
    async with PostgresStore(URL, schema=schema) as store:
        run = make_run()
        await store.create_run(run)
        starts = []
        for n in range(4):  # each worker died with the claim: its lease lapsed (0 s)
            got = await store.begin_step(run.run_id, "check", 1, f"w{n}", lease_s=0,
                                         marker_owner=f"w{n}/m", max_starts=2)
            assert got.claimed
            starts.append(got.starts)
        assert starts == [1, 2, 3, 3]  # max_starts + 1 once every marker is taken
        # A claim without a lease is never taken over
        other = await store.begin_step(run.run_id, "other", 1, "a", lease_s=None,
                                       marker_owner="a/m", max_starts=2)
        late = await store.begin_step(run.run_id, "other", 1, "b", lease_s=None,
                                      marker_owner="b/m", max_starts=2)
        assert (other.claimed, late.claimed) == (True, False)


async def test_begin_step_for_an_unknown_run_claims_nothing(schema: str) -> None:
    async with PostgresStore(URL, schema=schema) as store:
        with pytest.raises(RunNotFound):
            await store.begin_step("nope", "check", 1, "w", lease_s=1, marker_owner="w/m",
                                   max_starts=2)


async def test_commit_locked_serialises_writers_without_lost_updates(schema: str) -> None:
    async with PostgresStore(URL, schema=schema, max_size=8) as store, \
            PostgresStore(URL, schema=schema, max_size=8) as peer:
        run = make_run()
        await store.create_run(run)
        seen_versions: list[int] = []

        def add_one(step: str) -> Any:
            def decide(record: RunRecord, events: list[EventRecord]) -> dict[str, Any]:
                # the events past the snapshot are always all of them: none is missed
                assert len(events) == record.version
                seen_versions.append(record.version)
                return {"state": None, "status": "running", "events": [_event("e", step)]}
            return decide

        # When 24 writers on two pools apply an event to the same run at once
        versions = await asyncio.gather(*(
            (store if i % 2 else peer).commit_locked(run.run_id, add_one(f"s{i}"))
            for i in range(24)))
        # Then each committed once, in turn, and every event is there in order
        assert sorted(versions) == list(range(1, 25))
        events = await store.events(run.run_id)
        assert [e.seq for e in events] == list(range(1, 25))
        assert sorted(e.step_id for e in events) == sorted(f"s{i}" for i in range(24))
        # And a decision to write nothing writes nothing
        assert await store.commit_locked(run.run_id, lambda record, events: None) is None
        assert (await store.get_run(run.run_id)).version == 24
        with pytest.raises(RunNotFound):
            await store.commit_locked("nope", lambda record, events: None)


async def test_parked_reports_are_applied_once_by_one_applier_in_order(schema: str) -> None:
    async with PostgresStore(URL, schema=schema, max_size=8) as store, \
            PostgresStore(URL, schema=schema, max_size=8) as peer:
        run = make_run()
        await store.create_run(run)
        entry = MemoryEntry(key="steps.s0", value={"n": 1.0}, step_id="s0", attempt=1,
                            at=datetime.now(UTC))
        # Given a report committed by compare-and-set, and 12 that lost the race (version 0)
        assert await store.commit_or_park(run.run_id, expected_version=0, state=None,
                                          status="running",
                                          events=[_event("done", "first")]) == (
            1, frozenset(), frozenset())
        for i in range(12):
            version, _, _ = await (store if i % 2 else peer).commit_or_park(
                run.run_id, expected_version=0, state=None, status="running",
                events=[_event("done", f"s{i}"), _event("step_started", f"next{i}")],
                memory=[entry] if i == 0 else [])
            assert version is None  # parked, nothing written to the run
        # A second report for the same (run, step, attempt) is not parked twice
        assert await store.commit_or_park(run.run_id, expected_version=0, state=None,
                                          status="running",
                                          events=[_event("done", "s0")]) == (
            None, frozenset(), frozenset())
        assert await store.has_reports(run.run_id)
        applied: list[list[str]] = []

        def decide(record: RunRecord, events: list[EventRecord],
                   reports: list[Any]) -> dict[str, Any] | None:
            # every committed event, none missed: the first, and each report applied before
            assert len(events) == 1 + sum(len(batch) for batch in applied)
            applied.append([r.step_id for r in reports])
            return {"state": None, "status": "running", "memory": [
                        m for r in reports for m in r.memory],
                    "events": [(r.type, r.step_id, r.attempt, r.data) for r in reports]}

        # When several appliers on two pools try at once
        results = await asyncio.gather(*((store if i % 2 else peer).apply_reports(
            run.run_id, decide) for i in range(6)))
        while await store.has_reports(run.run_id):  # what an applier does after releasing
            results.append(await store.apply_reports(run.run_id, decide))
        # Then each report was applied once, in the order parked, the memory with it
        assert sorted(s for batch in applied for s in batch) == sorted(
            f"s{i}" for i in range(12))
        events = await store.events(run.run_id)
        assert [e.step_id for e in events] == ["first", *(f"s{i}" for i in range(12))]
        assert [(m.key, m.value, m.at) for m in await store.memory(run.run_id)] == [
            ("steps.s0", {"n": 1.0}, entry.at)]
        # And an applier that found none has nothing to write, and a busy lock is no error
        assert any(took for took, _ in results)
        assert await store.apply_reports(run.run_id, lambda *a: None) == (True, None)
        with pytest.raises(RunNotFound):
            await store.commit_or_park("nope", expected_version=0, state=None,
                                       status="running", events=[_event("done")])


async def test_a_commit_claims_the_steps_it_starts_for_its_writer_in_the_same_statement(
        schema: str) -> None:
    async with PostgresStore(URL, schema=schema) as store:
        run = make_run()
        await store.create_run(run)
        claims = [NextClaim("next", 1, "w1", 30.0, "w1/x"), NextClaim("also", 2, "w1", 30.0,
                                                                      "w1/x")]
        # A commit that lands claims the steps it starts, and counts their first start
        got = await store.commit_or_park(
            run.run_id, expected_version=0, state=None, status="running", claim=claims,
            events=[_event("done", "first"), _event("step_started", "next")])
        assert got == (1, {"next", "also"}, {"next", "also"})
        assert not await store.claim_step(run.run_id, "next", 1, "w2", lease_s=30)
        assert not await store.claim_step(run.run_id, "also", 2, "w2", lease_s=30)
        assert await store.claim_step(run.run_id, "next", 1, "w1", lease_s=30)  # its own
        got2 = await store.begin_step(run.run_id, "next", 1, "w2", lease_s=30,
                                      marker_owner="w2/y", max_starts=3)
        assert (got2.claimed, got2.starts) == (False, None)
        # A commit that loses the race parks its report and claims nothing
        other = [NextClaim("other", 1, "w1", 30.0, "w1/z")]
        got = await store.commit_or_park(
            run.run_id, expected_version=0, state=None, status="running", claim=other,
            events=[_event("done", "s1"), _event("step_started", "other")])
        assert got == (None, frozenset(), frozenset())
        assert await store.claim_step(run.run_id, "other", 1, "w2", lease_s=30)
        # A step someone holds already is not claimed again, nor its start counted (the commit
        # still lands)
        got = await store.commit_or_park(
            run.run_id, expected_version=1, state=None, status="running",
            claim=[NextClaim("other", 1, "w1", 30.0, "w1/q")], events=[_event("done", "s2")])
        assert got == (2, frozenset(), frozenset())
        assert await store.claim_step(run.run_id, "other#run1", 1, "w2")


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
