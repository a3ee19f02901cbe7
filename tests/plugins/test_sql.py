"""The sql plugin against a real PostgreSQL (a schema per test) and real SQLite files.

Read-only steps log in as a reader role (`READER_URL`, created here and granted
pg_read_all_data); the superuser `postgres` is what an ungated step must refuse, and what a
gated write (and the fixtures) use.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from engine.datasources import Redactor
from engine.errors import PluginError, StepFailed
from engine.plugins import StepContext, parse_params
from plugins._table import RESULT_ARTIFACT, read_table
from plugins.sql import SqlPlugin, named_to_positional, sqlite_path

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
READER = "mendflow_test_reader"
READER_URL = f"postgresql://{READER}@127.0.0.1:5432/test"
PASSWORD = "planted-Pw0rd!"
INJECTIONS = ["'; DROP TABLE requests; --", "1 OR 1=1", "api' OR '1'='1"]


def ctx(url: str, *, kind: str = "postgresql", dry_run: bool = False,
        deadline_s: float = 20.0, mutating: bool = False,
        secrets: Redactor | None = None) -> StepContext:
    return StepContext(run_id="r1", step_id="q", attempt=1, idempotency_key="k",
                       deadline_s=deadline_s, dry_run=dry_run, mutating=mutating,
                       data_source={"name": "db", "type": kind, "url": url, "secrets": {}},
                       secrets=secrets or Redactor())


async def run(url: str, *, kind: str = "postgresql", dry_run: bool = False,
              mutating: bool | None = None, secrets: Redactor | None = None, **params):
    # A write (read_only: false) is what the compiler sets on gated steps: mutating by default
    gated = mutating if mutating is not None else params.get("read_only") is False
    plugin = SqlPlugin()
    return await plugin.run(params=parse_params(SqlPlugin, params),
                            ctx=ctx(url, kind=kind, dry_run=dry_run, mutating=gated,
                                    secrets=secrets))


async def create_reader() -> None:
    conn = await asyncpg.connect(PG_URL, timeout=5)
    try:
        await conn.execute(f"CREATE ROLE {READER} LOGIN IN ROLE pg_read_all_data")
    except (asyncpg.exceptions.DuplicateObjectError, asyncpg.exceptions.UniqueViolationError):
        pass  # made by an earlier session (or a parallel one)
    finally:
        await conn.close()


@pytest.fixture(scope="module", autouse=True)
def reader_role() -> None:
    """A login that may read every table and nothing more (no superuser, no signals)."""
    asyncio.run(create_reader())


# -- PostgreSQL -------------------------------------------------------------------------------


@pytest.fixture
async def pg() -> AsyncIterator[str]:
    """A fresh schema holding `requests`; yields the schema name."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        conn = await asyncpg.connect(PG_URL, timeout=5)
    except OSError as exc:
        pytest.fail(f"PostgreSQL at {PG_URL} is required for these tests: {exc}")
    await conn.execute(f"CREATE SCHEMA {schema}")
    await conn.execute(f"CREATE TABLE {schema}.requests "
                       "(id int PRIMARY KEY, service text, latency_ms float8)")
    await conn.executemany(f"INSERT INTO {schema}.requests VALUES ($1, $2, $3)",
                           [(1, "api", 120.0), (2, "api", 950.0), (3, "db", 40.0),
                            (4, "api", 700.0)])
    yield schema
    await conn.execute(f"DROP SCHEMA {schema} CASCADE")
    await conn.close()


async def count_rows(schema: str) -> int:
    conn = await asyncpg.connect(PG_URL)
    try:
        return await conn.fetchval(f"SELECT count(*) FROM {schema}.requests")
    finally:
        await conn.close()


async def test_rows_are_summarized_with_a_preview_and_an_artifact(pg) -> None:
    result = await run(READER_URL, query=f"SELECT * FROM {pg}.requests ORDER BY id", keep=2)
    out = result.outputs
    assert out["row_count"] == 4 and out["truncated"] is False and out["value"] is None
    assert out["rows"] == [{"id": 1, "service": "api", "latency_ms": 120.0},
                           {"id": 2, "service": "api", "latency_ms": 950.0}]
    assert out["stats"]["latency_ms"]["max"] == 950
    assert out["stats"]["service"]["top"][0] == {"value": "api", "count": 3}
    lines = result.artifacts["rows"].splitlines()
    assert [json.loads(line)["id"] for line in lines] == [1, 2, 3, 4]


async def test_a_single_cell_is_the_value(pg) -> None:
    result = await run(READER_URL, query=f"SELECT count(*) FROM {pg}.requests "
                       "WHERE service = $1 AND latency_ms > $2", args=["api", 500])
    assert result.outputs["value"] == 2


async def test_rendered_text_args_are_bound_with_the_declared_type(pg) -> None:
    # Templates render to text; "500" must compare as a number, not fail or concatenate
    result = await run(READER_URL, query=f"SELECT count(*) FROM {pg}.requests WHERE id > $1",
                       args=["2"])
    assert result.outputs["value"] == 2


async def test_named_args_map_to_positional_parameters(pg) -> None:
    result = await run(READER_URL, query=f"SELECT count(*)::int FROM {pg}.requests "
                       "WHERE service = :service AND latency_ms > :slow AND service <> ':x'",
                       args={"service": "api", "slow": 500})
    assert result.outputs["value"] == 2


@pytest.mark.parametrize("attack", INJECTIONS)
async def test_injection_through_args_stays_a_value(pg, attack: str) -> None:
    result = await run(READER_URL, query=f"SELECT count(*) FROM {pg}.requests WHERE service = $1",
                       args=[attack])
    assert result.outputs["value"] == 0
    with pytest.raises(PluginError, match=r"argument \$1 .* is not a valid int4"):
        await run(READER_URL, query=f"SELECT count(*) FROM {pg}.requests WHERE id = $1",
                  args=[attack])
    assert await count_rows(pg) == 4


async def test_several_statements_are_refused(pg) -> None:
    with pytest.raises(StepFailed, match="multiple commands"):
        await run(READER_URL, query=f"SELECT 1; DROP TABLE {pg}.requests")
    assert await count_rows(pg) == 4


async def test_a_write_in_a_read_only_step_fails_and_changes_nothing(pg) -> None:
    with pytest.raises(StepFailed) as err:
        await run(READER_URL, query=f"DELETE FROM {pg}.requests WHERE id = $1", args=[1])
    assert "tried to write in a read-only step" in err.value.message
    assert err.value.retryable is False
    assert await count_rows(pg) == 4


async def test_a_write_step_reports_affected_rows(pg) -> None:
    result = await run(PG_URL, query=f"DELETE FROM {pg}.requests WHERE service = $1",
                       args=["api"], read_only=False)
    assert result.outputs["status"] == "DELETE 3" and result.outputs["affected_rows"] == 3
    assert await count_rows(pg) == 1


async def test_dry_run_does_not_execute_a_write(pg) -> None:
    result = await run(PG_URL, dry_run=True, query=f"DELETE FROM {pg}.requests",
                       read_only=False)
    assert result.outputs["executed"] is False
    assert await count_rows(pg) == 4


async def test_statement_timeout_stops_a_slow_query() -> None:
    with pytest.raises(StepFailed, match="statement timeout of 0.5s") as err:
        await run(READER_URL, query="SELECT pg_sleep(10)", timeout_s=0.5)
    assert err.value.retryable is True


async def test_rows_beyond_max_rows_are_not_fetched() -> None:
    result = await run(READER_URL, query="SELECT g FROM generate_series(1, 1000000) g",
                       max_rows=1000)
    out = result.outputs
    assert out["truncated"] is True and out["row_count"] == 1000
    assert out["stats"]["g"]["max"] == 1000
    assert len(result.artifacts["rows"].splitlines()) == 1000


async def test_syntax_errors_are_not_retried() -> None:
    with pytest.raises(StepFailed, match="syntax error") as err:
        await run(READER_URL, query="SELEC 1")
    assert err.value.retryable is False


async def test_unreachable_server_names_the_masked_url() -> None:
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/test"
    with pytest.raises(StepFailed) as err:
        await run(url, query="SELECT 1")
    assert "postgresql://postgres:***@127.0.0.1:1/test" in str(err.value)
    assert PASSWORD not in str(err.value)
    assert err.value.retryable is True


async def test_the_password_never_reaches_outputs_errors_or_artifacts(pg) -> None:
    url = f"postgresql://{READER}:{PASSWORD}@127.0.0.1:5432/test"  # trust auth accepts it
    result = await run(url, query=f"SELECT * FROM {pg}.requests")
    with pytest.raises(StepFailed) as err:
        await run(url, query=f"SELECT nope FROM {pg}.requests")
    seen = result.model_dump_json() + result.artifacts["rows"].decode() + str(err.value)
    assert result.outputs["row_count"] == 4
    assert PASSWORD not in seen


def test_a_templated_query_is_refused_with_advice() -> None:
    with pytest.raises(PluginError, match="put values in `args`"):
        parse_params(SqlPlugin, {"query": "SELECT * FROM t WHERE id = {{ inputs.id }}"})
    assert "query" in SqlPlugin.untemplated_params


def test_named_placeholders_skip_literals_casts_comments_and_dollar_quotes() -> None:
    query = ("SELECT ':a', $q$ :a $q$, x::text /* :a */ FROM t -- :a\n"
             "WHERE a = :a AND b = :b AND c = :a")
    text, args = named_to_positional(query, {"a": 1, "b": 2})
    assert text == ("SELECT ':a', $q$ :a $q$, x::text /* :a */ FROM t -- :a\n"
                    "WHERE a = $1 AND b = $2 AND c = $1")
    assert args == [1, 2]
    with pytest.raises(PluginError, match="never uses :c"):
        named_to_positional("SELECT :a", {"a": 1, "c": 2})
    with pytest.raises(PluginError, match="has no 'b'"):
        named_to_positional("SELECT :b", {"a": 1})


# -- SQLite -----------------------------------------------------------------------------------


@pytest.fixture
def sqlite_db(tmp_path: Path) -> str:
    path = tmp_path / "requests.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE requests (id INTEGER PRIMARY KEY, service TEXT, latency REAL)")
        conn.executemany("INSERT INTO requests VALUES (?, ?, ?)",
                         [(1, "api", 120.0), (2, "api", 950.0), (3, "db", 40.0)])
    conn.close()
    return f"sqlite:///{path}"


def sqlite_count(url: str) -> int:
    conn = sqlite3.connect(sqlite_path(url))
    try:
        return conn.execute("SELECT count(*) FROM requests").fetchone()[0]
    finally:
        conn.close()


async def test_sqlite_positional_and_named_args(sqlite_db: str) -> None:
    result = await run(sqlite_db, kind="sqlite",
                       query="SELECT count(*) FROM requests WHERE service = ?", args=["api"])
    assert result.outputs["value"] == 2
    result = await run(sqlite_db, kind="sqlite", query="SELECT id FROM requests WHERE "
                       "latency > :slow ORDER BY id", args={"slow": 100})
    assert result.outputs["rows"] == [{"id": 1}, {"id": 2}]


@pytest.mark.parametrize("attack", INJECTIONS)
async def test_sqlite_injection_through_args_stays_a_value(sqlite_db: str, attack: str) -> None:
    result = await run(sqlite_db, kind="sqlite",
                       query="SELECT count(*) FROM requests WHERE service = ? OR id = ?",
                       args=[attack, attack])
    assert result.outputs["value"] == 0
    assert sqlite_count(sqlite_db) == 3


async def test_sqlite_write_in_read_only_step_fails(sqlite_db: str) -> None:
    with pytest.raises(StepFailed, match="tried to write in a read-only step"):
        await run(sqlite_db, kind="sqlite", query="DELETE FROM requests")
    assert sqlite_count(sqlite_db) == 3
    result = await run(sqlite_db, kind="sqlite", query="DELETE FROM requests WHERE id = ?",
                       args=[1], read_only=False)
    assert result.outputs["affected_rows"] == 1
    assert sqlite_count(sqlite_db) == 2


async def test_sqlite_timeout_interrupts_a_runaway_query(sqlite_db: str) -> None:
    runaway = ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
               "SELECT count(*) FROM n")
    with pytest.raises(StepFailed, match="exceeded the timeout of 0.3s"):
        await run(sqlite_db, kind="sqlite", query=runaway, timeout_s=0.3)


async def test_sqlite_row_cap(sqlite_db: str) -> None:
    query = ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n LIMIT 100000) "
             "SELECT i FROM n")
    result = await run(sqlite_db, kind="sqlite", query=query, max_rows=250)
    assert result.outputs["truncated"] is True and result.outputs["row_count"] == 250


async def test_sqlite_missing_file_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    with pytest.raises(StepFailed, match="cannot open SQLite database"):
        await run(f"sqlite:///{missing}", kind="sqlite", query="SELECT 1")
    assert not missing.exists()


def test_sqlite_urls() -> None:
    assert sqlite_path("sqlite:////abs/x.db") == "/abs/x.db"
    assert sqlite_path("sqlite:///rel.db") == "rel.db"
    assert sqlite_path("/plain/path.db") == "/plain/path.db"


# -- effects are refused by the database, whatever the text -----------------------------------

PROGRAM_ATTACKS = ["COPY (SELECT 1) TO PROGRAM 'touch {canary}'",
                   "/* a comment first */ COPY (SELECT 1) TO PROGRAM 'touch {canary}'",
                   "-- a comment line\nCOPY (SELECT 1) TO PROGRAM 'touch {canary}'"]
TERMINATE_ATTACKS = ["SELECT pg_terminate_backend({pid})",
                     "/* x */ SELECT pg_terminate_backend({pid})",
                     # SET ROLE cannot hold a superuser login: set_config takes the rights back
                     "SELECT set_config('role', 'postgres', true), pg_terminate_backend({pid})"]


@pytest.fixture
def canary() -> str:
    # The server runs as the postgres OS user: a path it can write if the attack gets through
    path = f"/tmp/mendflow-canary-{uuid.uuid4().hex[:8]}"
    yield path
    if os.path.exists(path):
        os.unlink(path)


async def other_session(url: str = PG_URL) -> asyncpg.Connection:
    return await asyncpg.connect(url)


async def alive(conn: asyncpg.Connection) -> bool:
    await asyncio.sleep(0.2)
    try:
        return await conn.fetchval("SELECT 1") == 1
    except (asyncpg.InterfaceError, asyncpg.PostgresError, OSError):
        return False


@pytest.mark.parametrize("attack", PROGRAM_ATTACKS)
@pytest.mark.parametrize("url", [PG_URL, READER_URL], ids=["superuser", "reader"])
async def test_copy_to_program_fails_in_a_read_only_step(attack, url, canary) -> None:
    # Given an ungated step whose text (after a comment) runs an OS command on the server
    with pytest.raises(StepFailed, match="refused") as err:
        await run(url, query=attack.format(canary=canary))
    # Then it is refused, says why and what a write needs, and the command never ran
    assert not os.path.exists(canary)
    assert "gated step" in str(err.value)
    assert err.value.retryable is False


@pytest.mark.parametrize("attack", TERMINATE_ATTACKS)
@pytest.mark.parametrize("url", [PG_URL, READER_URL], ids=["superuser", "reader"])
async def test_terminating_another_session_fails_in_a_read_only_step(attack, url) -> None:
    victim = await other_session()
    try:
        pid = await victim.fetchval("SELECT pg_backend_pid()")
        with pytest.raises(StepFailed, match="refused"):
            await run(url, query=attack.format(pid=pid))
        assert await alive(victim)
    finally:
        await victim.close()


async def test_a_superuser_login_is_refused_before_the_statement_runs(pg) -> None:
    with pytest.raises(StepFailed) as err:
        await run(PG_URL, query=f"SELECT count(*) FROM {pg}.requests")
    text = str(err.value)
    assert "logs in as postgres, which is a superuser" in text
    assert "CREATE ROLE mendflow_reader LOGIN IN ROLE pg_read_all_data" in text


async def test_a_login_granted_a_signalling_role_is_refused() -> None:
    # Given a login that may end other sessions through a role it was granted
    role = f"mendflow_test_signal_{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(PG_URL)
    await admin.execute(f"CREATE ROLE {role} LOGIN IN ROLE pg_read_all_data, pg_signal_backend")
    try:
        with pytest.raises(StepFailed, match=f"logs in as {role}, which may act as "
                                             "pg_signal_backend"):
            await run(f"postgresql://{role}@127.0.0.1:5432/test", query="SELECT 1")
    finally:
        await admin.execute(f"DROP ROLE {role}")
        await admin.close()


async def test_a_write_needs_a_gated_step(pg) -> None:
    # read_only: false on a step the plan does not mark mutating is refused before connecting
    with pytest.raises(PluginError, match="not gated") as err:
        await run(PG_URL, query=f"DELETE FROM {pg}.requests", read_only=False, mutating=False)
    assert "approval" in str(err.value)
    assert await count_rows(pg) == 4


async def test_sql_errors_are_redacted_before_they_are_cut(pg) -> None:
    # Given a secret that straddles the 300th character of the database's error message
    secret = "Zq9-planted-sql-secret-77"
    for before in range(270, 300, 3):
        literal = "x" * (before - len('invalid input syntax for type integer: "'))
        with pytest.raises(StepFailed) as err:
            await run(READER_URL, query=f"SELECT '{literal}{secret}'::int",
                      secrets=Redactor([secret]))
        text = str(err.value)
        # Then no piece of it of 4 characters or more is left at the cut
        assert not any(secret[i:i + 4] in text for i in range(len(secret) - 3)), text


async def test_row_values_are_redacted_before_they_are_clipped() -> None:
    secret = "Zq9-planted-row-secret-77"
    result = await run(READER_URL, query="SELECT repeat('y', 190) || $1 AS v", args=[secret],
                       secrets=Redactor([secret]))
    seen = json.dumps(result.outputs) + result.artifacts["rows"].decode()
    assert not any(secret[i:i + 4] in seen for i in range(len(secret) - 3))


async def test_sqlite_attach_cannot_create_a_file(sqlite_db: str, tmp_path: Path) -> None:
    for attack in (f"ATTACH '{tmp_path / 'new1.db'}' AS a",
                   f"ATTACH 'file:{tmp_path / 'new2.db'}?mode=rwc' AS b",
                   f"VACUUM INTO '{tmp_path / 'new3.db'}'",
                   "PRAGMA query_only = OFF"):
        with pytest.raises(StepFailed, match="refused by the database") as err:
            await run(sqlite_db, kind="sqlite", query=attack)
        assert "gated step" in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["requests.db"]
    # Reading the schema is still a read
    result = await run(sqlite_db, kind="sqlite", query="PRAGMA table_info(requests)")
    assert result.outputs["row_count"] == 3


# -- the whole result, as a table -------------------------------------------------------------


async def test_every_row_is_kept_as_a_table_for_compute_steps(pg) -> None:
    result = await run(READER_URL, query=f"SELECT * FROM {pg}.requests ORDER BY id", keep=1)
    rows = read_table(result.artifacts[RESULT_ARTIFACT]).to_pylist()
    assert [r["id"] for r in rows] == [1, 2, 3, 4] and rows[1]["latency_ms"] == 950.0
    assert result.outputs["rows"] == [{"id": 1, "service": "api", "latency_ms": 120.0}]


async def test_a_result_past_the_setting_is_cut_and_memory_says_where() -> None:
    small = dataclasses.replace(ctx(READER_URL), result_cap_rows=100)
    params = parse_params(SqlPlugin, {"query": "SELECT g FROM generate_series(1, 5000) g"})
    result = await SqlPlugin().run(params=params, ctx=small)
    out = result.outputs
    assert out["truncated"] is True and out["row_count"] == 100
    assert out["cut"] == "kept the first 100 rows (result_cap_rows = 100)"
    assert read_table(result.artifacts[RESULT_ARTIFACT]).num_rows == 100
    # a step's own max_rows below the setting is the bound it names
    params = parse_params(SqlPlugin, {"query": "SELECT g FROM generate_series(1, 5000) g",
                                      "max_rows": 10})
    result = await SqlPlugin().run(params=params, ctx=small)
    assert result.outputs["cut"] == "kept the first 10 rows (max_rows = 10)"
