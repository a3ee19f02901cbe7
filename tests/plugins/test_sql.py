"""The sql plugin against a real PostgreSQL (a schema per test) and real SQLite files."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from engine.errors import PluginError, StepFailed
from engine.plugins import StepContext, parse_params
from plugins.sql import SqlPlugin, named_to_positional, sqlite_path

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
PASSWORD = "planted-Pw0rd!"
INJECTIONS = ["'; DROP TABLE requests; --", "1 OR 1=1", "api' OR '1'='1"]


def ctx(url: str, *, kind: str = "postgresql", dry_run: bool = False,
        deadline_s: float = 20.0) -> StepContext:
    return StepContext(run_id="r1", step_id="q", attempt=1, idempotency_key="k",
                       deadline_s=deadline_s, dry_run=dry_run,
                       data_source={"type": kind, "url": url, "secrets": {}})


async def run(url: str, *, kind: str = "postgresql", dry_run: bool = False, **params):
    plugin = SqlPlugin()
    return await plugin.run(params=parse_params(SqlPlugin, params),
                            ctx=ctx(url, kind=kind, dry_run=dry_run))


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
    result = await run(PG_URL, query=f"SELECT * FROM {pg}.requests ORDER BY id", keep=2)
    out = result.outputs
    assert out["row_count"] == 4 and out["truncated"] is False and out["value"] is None
    assert out["rows"] == [{"id": 1, "service": "api", "latency_ms": 120.0},
                           {"id": 2, "service": "api", "latency_ms": 950.0}]
    assert out["stats"]["latency_ms"]["max"] == 950
    assert out["stats"]["service"]["top"][0] == {"value": "api", "count": 3}
    lines = result.artifacts["rows"].splitlines()
    assert [json.loads(line)["id"] for line in lines] == [1, 2, 3, 4]


async def test_a_single_cell_is_the_value(pg) -> None:
    result = await run(PG_URL, query=f"SELECT count(*) FROM {pg}.requests "
                       "WHERE service = $1 AND latency_ms > $2", args=["api", 500])
    assert result.outputs["value"] == 2


async def test_rendered_text_args_are_bound_with_the_declared_type(pg) -> None:
    # Templates render to text; "500" must compare as a number, not fail or concatenate
    result = await run(PG_URL, query=f"SELECT count(*) FROM {pg}.requests WHERE id > $1",
                       args=["2"])
    assert result.outputs["value"] == 2


async def test_named_args_map_to_positional_parameters(pg) -> None:
    result = await run(PG_URL, query=f"SELECT count(*)::int FROM {pg}.requests "
                       "WHERE service = :service AND latency_ms > :slow AND service <> ':x'",
                       args={"service": "api", "slow": 500})
    assert result.outputs["value"] == 2


@pytest.mark.parametrize("attack", INJECTIONS)
async def test_injection_through_args_stays_a_value(pg, attack: str) -> None:
    result = await run(PG_URL, query=f"SELECT count(*) FROM {pg}.requests WHERE service = $1",
                       args=[attack])
    assert result.outputs["value"] == 0
    with pytest.raises(PluginError, match=r"argument \$1 .* is not a valid int4"):
        await run(PG_URL, query=f"SELECT count(*) FROM {pg}.requests WHERE id = $1",
                  args=[attack])
    assert await count_rows(pg) == 4


async def test_several_statements_are_refused(pg) -> None:
    with pytest.raises(StepFailed, match="multiple commands"):
        await run(PG_URL, query=f"SELECT 1; DROP TABLE {pg}.requests")
    assert await count_rows(pg) == 4


async def test_a_write_in_a_read_only_step_fails_and_changes_nothing(pg) -> None:
    with pytest.raises(StepFailed) as err:
        await run(PG_URL, query=f"DELETE FROM {pg}.requests WHERE id = $1", args=[1])
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
        await run(PG_URL, query="SELECT pg_sleep(10)", timeout_s=0.5)
    assert err.value.retryable is True


async def test_rows_beyond_max_rows_are_not_fetched() -> None:
    result = await run(PG_URL, query="SELECT g FROM generate_series(1, 1000000) g",
                       max_rows=1000)
    out = result.outputs
    assert out["truncated"] is True and out["row_count"] == 1000
    assert out["stats"]["g"]["max"] == 1000
    assert len(result.artifacts["rows"].splitlines()) == 1000


async def test_syntax_errors_are_not_retried() -> None:
    with pytest.raises(StepFailed, match="syntax error") as err:
        await run(PG_URL, query="SELEC 1")
    assert err.value.retryable is False


async def test_unreachable_server_names_the_masked_url() -> None:
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/test"
    with pytest.raises(StepFailed) as err:
        await run(url, query="SELECT 1")
    assert "postgresql://postgres:***@127.0.0.1:1/test" in str(err.value)
    assert PASSWORD not in str(err.value)
    assert err.value.retryable is True


async def test_the_password_never_reaches_outputs_errors_or_artifacts(pg) -> None:
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:5432/test"  # trust auth accepts it
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
