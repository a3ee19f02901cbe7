"""The `sql` query plugin: one fixed SQL statement with bound arguments, on PostgreSQL or SQLite.

    - id: slow_requests
      plugin: sql
      params:
        source: requests_db
        query: SELECT count(*) FROM requests WHERE service = $1 AND latency_ms > $2
        args: ["{{ inputs.service }}", 500]

The query text is fixed: it may not be a template, and values reach the database only as bound
parameters ($1.. for PostgreSQL, ? or :name for SQLite; named args on PostgreSQL are mapped
to $n). Rows are capped at `max_rows`, and the statement has a deadline (`statement_timeout`,
or SQLite's progress handler).

Read-only is enforced by the database, whatever the text says. A step runs its statement with
effects only when the plan marks it `read_only: false` AND the step is mutating (it ran behind
an approval gate: `ctx.mutating`); every other step:
- PostgreSQL: a READ ONLY transaction, on a login that cannot act beyond the database. A READ
  ONLY transaction alone still lets a superuser (or a member of pg_execute_server_program or
  pg_signal_backend) run `COPY ... TO PROGRAM` and `pg_terminate_backend`, and `SET ROLE`
  cannot take that back: `set_config('role', ...)` restores the login's rights inside the
  same statement. So the plugin asks the database which of those rights the login can act
  with, and refuses to run an ungated statement on such a login. Left to a plain login: ending
  its OWN other sessions (`pg_terminate_backend` of a session of the same role); give
  Mendflow a login of its own. Nor does a READ ONLY transaction hold every function: before
  PostgreSQL 17 the large-object functions (lo_create, lowrite, lo_put, lo_unlink) write in
  one, and pg_notify, advisory locks and set_config act in one; the read-only table
  (`engine.effects.sql`) refuses those by name before an ungated step runs.
- SQLite: a read-only open, `query_only`, and an authorizer that allows reading and nothing
  else (no ATTACH, which would create a file; no VACUUM INTO, no PRAGMA that sets anything).

Outputs: the summary of `engine.summaries.summarize_rows`, `truncated`, `rows` (the first few
rows as dicts) and `value` (the cell, when the result is one row of one column); every row
fetched goes to the artifacts `rows` (JSON lines) and `rows.parquet` (the table a compute step
reads), up to `max_rows` and the settings `result_cap_rows`/`_bytes` (`plugins._rows`).

This is the plugin's only asyncpg/sqlite3 importer; it translates their exceptions into
`StepFailed`/`PluginError` and never shows a URL with its password.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

import asyncpg
from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.datasources import mask_url
from engine.errors import PluginError, StepFailed
from engine.plugins import PluginBase, StepContext, StepResult
from plugins._rows import RowCollector
from plugins._sqltext import named_to_positional

__all__ = ["SqlParams", "SqlPlugin", "named_to_positional", "sqlite_path"]

CONNECT_TIMEOUT_S = 10.0
_GATED_HINT = ("A write or any other effect needs a gated step: mark the step mutating (an "
               "approval gate in front of it) with read_only: false; otherwise fix the query")
_LOST_HINT = ("The connection was lost after the statement may have reached the server: "
              "check whether it took effect before running a write again")
_PG_ROLES_BEYOND_THE_DATABASE = ("pg_execute_server_program", "pg_signal_backend",
                                 "pg_write_server_files")
"""Roles whose rights a READ ONLY transaction does not take away: running programs, ending
other sessions, writing server files."""
_PG_POWERFUL_LOGIN = (
    "SELECT rolname, rolsuper FROM pg_roles "
    "WHERE (rolsuper OR rolname = ANY($1::text[])) AND pg_has_role(session_user, oid, 'MEMBER') "
    "ORDER BY NOT rolsuper, rolname")


class SqlParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, description="Fixed SQL text; values go in `args`.")
    args: list[Any] | dict[str, Any] = Field(default_factory=list,
                                             description="Bound values: a list ($1, ?) or a "
                                             "mapping (:name).")
    source: str | None = Field(default=None, description="Data source name (resolved upstream).")
    timeout_s: float | None = Field(default=None, gt=0, description="Statement timeout.")
    max_rows: int | None = Field(default=None, ge=1, le=1_000_000, description="Rows fetched "
                                 "at most; unset: the setting result_cap_rows.")
    read_only: bool = Field(default=True, description="Refuse writes and every other effect "
                            "(default); false only on a mutating (gated) step.")
    keep: int = Field(default=5, ge=0, le=50, description="Rows shown in memory.")

    @field_validator("query")
    @classmethod
    def _fixed_text(cls, query: str) -> str:
        if "{{" in query or "{%" in query:
            raise ValueError("the SQL query must be fixed text, not a template: put values in "
                             "`args` and refer to them as $1, $2 (PostgreSQL) or ?, :name (SQLite)")
        return query


class SqlPlugin(PluginBase):
    name: ClassVar[str] = "sql"
    Params: ClassVar[type[BaseModel]] = SqlParams
    read_only: ClassVar[bool] = True
    untemplated_params: ClassVar[frozenset[str]] = frozenset({"query"})
    """Parameters the executor must pass through unrendered (so the check above can see them)."""

    async def run(self, *, params: SqlParams, ctx: StepContext) -> StepResult:
        source = ctx.data_source
        if not source or not source.get("url"):
            raise PluginError("the sql step has no data source",
                              hint="Configure a [datasources.<name>] of type postgresql or "
                              "sqlite, or name one with `source`")
        kind, url = str(source.get("type", "")), str(source["url"])
        if not params.read_only and not ctx.mutating:
            raise PluginError(f"step {ctx.step_id} asks to write (read_only: false) but is not "
                              "gated: a statement with effects runs only on a mutating step, "
                              "behind an approval", hint=_GATED_HINT)
        if ctx.dry_run and not params.read_only:
            return StepResult(outputs={"dry_run": True, "executed": False},
                              summary="dry run: write statement not executed")
        timeout = min(params.timeout_s or ctx.deadline_s, ctx.deadline_s)
        if kind == "postgresql" or urlsplit(url).scheme in ("postgresql", "postgres"):
            collector = await _run_postgres(params, url, timeout=timeout, ctx=ctx)
        elif kind == "sqlite" or url.startswith("sqlite:"):
            collector = await asyncio.to_thread(_run_sqlite, params, url, timeout=timeout,
                                                ctx=ctx)
        else:
            raise PluginError(f"the sql plugin cannot query a {kind or 'untyped'} data source",
                              hint="Use a postgresql or sqlite source")
        return collector.result()


def _clip(value: Any, ctx: StepContext) -> str:
    text = ctx.redact(repr(value))
    return text if len(text) <= 80 else text[:77] + "..."


# -- PostgreSQL -------------------------------------------------------------------------------


async def _run_postgres(params: SqlParams, url: str, *, timeout: float,
                        ctx: StepContext) -> RowCollector:
    shown = mask_url(url)
    query, args = params.query, params.args
    if isinstance(args, Mapping):
        query, args = named_to_positional(query, args)

    def reason(exc: BaseException) -> str:
        return _reason(exc, ctx)

    try:
        conn = await asyncpg.connect(dsn=url, timeout=min(CONNECT_TIMEOUT_S, timeout))
    except (OSError, asyncio.TimeoutError) as exc:
        raise StepFailed(f"cannot connect to {shown}: {reason(exc) or 'timed out'}",
                         retryable=True, hint="Check the data source url and that the "
                         "database is up") from None
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise StepFailed(f"cannot connect to {shown}: {reason(exc)}", retryable=False,
                         hint="Check the data source user, password and database") from None
    try:
        # The statement timeout is server-side; the client deadline is a backstop a bit later.
        async with asyncio.timeout(timeout + 2):
            return await _pg_execute(conn, params, query, list(args), timeout=timeout, ctx=ctx)
    except TimeoutError:
        raise StepFailed(f"query on {shown} did not finish within {timeout:g}s", retryable=True,
                         effect_unknown=True,
                         hint="Raise timeout_s, or make the query cheaper") from None
    except asyncpg.exceptions.QueryCanceledError:
        raise StepFailed(f"query exceeded the statement timeout of {timeout:g}s", retryable=True,
                         hint="Raise timeout_s, or make the query cheaper") from None
    except asyncpg.exceptions.ReadOnlySQLTransactionError as exc:
        raise StepFailed(f"refused by the database: the statement tried to write in a "
                         f"read-only step ({reason(exc)})", retryable=False,
                         hint=_GATED_HINT) from None
    except asyncpg.exceptions.InsufficientPrivilegeError as exc:
        raise StepFailed(f"refused by the database: {reason(exc)} (a read-only step runs with "
                         f"the data source login's rights only)" if params.read_only else
                         f"refused by the database: {reason(exc)}", retryable=False,
                         hint=_GATED_HINT if params.read_only else
                         "Grant the data source login the right, or do this by hand") from None
    except asyncpg.PostgresError as exc:
        state = getattr(exc, "sqlstate", "") or ""
        transient = state[:2] in ("08", "40", "53", "57") and state != "57014"
        lost = _answer_lost(state)
        raise StepFailed(f"SQL error [{state}]: {reason(exc)}", retryable=transient,
                         effect_unknown=lost,
                         hint=_LOST_HINT if lost else
                         ctx.redact(getattr(exc, "hint", None) or "Fix the query")) from None
    except (asyncpg.InterfaceError, OSError) as exc:
        raise StepFailed(f"lost {shown}: {reason(exc)}", retryable=True,
                         effect_unknown=True, hint=_LOST_HINT) from None
    finally:
        await _close(conn)


def _answer_lost(sqlstate: str) -> bool:
    """Whether an error says the connection was lost (class 08), the server shut down under
    the session (57P01..), or the statement's completion is unknown (40003): the statement,
    its COMMIT among them, may have reached the server and taken effect, so a write whose
    answer was lost is not sent again by itself (`StepFailed.effect_unknown`). A refused
    statement, a serialization failure or a deadlock rolled back: nothing was done."""
    return sqlstate.startswith(("08", "57P0")) or sqlstate == "40003"


async def _close(conn: Any) -> None:
    """Close politely; a connection stuck mid-query (client deadline) is cut off."""
    try:
        await asyncio.wait_for(conn.close(), timeout=1.0)
    except (asyncio.TimeoutError, asyncpg.InterfaceError, OSError):
        pass
    if not conn.is_closed():
        conn.terminate()


async def _pg_execute(conn: Any, params: SqlParams, query: str, args: list[Any], *,
                      timeout: float, ctx: StepContext) -> RowCollector:
    async with conn.transaction(readonly=params.read_only):
        if params.read_only:
            await _refuse_a_login_beyond_the_database(conn, ctx)
        await conn.execute("SELECT set_config('statement_timeout', $1, true)",
                           str(max(1, int(timeout * 1000))))
        try:
            statement = await conn.prepare(query)
        except asyncpg.exceptions.PostgresSyntaxError as exc:
            raise StepFailed(f"SQL syntax error: {_reason(exc, ctx)}", retryable=False,
                             hint="Fix the query") from None
        args = _coerce_args(statement.get_parameters(), args, ctx)
        attributes = statement.get_attributes()
        collector = RowCollector([a.name for a in attributes], max_rows=params.max_rows,
                                 keep=params.keep, ctx=ctx)
        if not attributes:
            await statement.fetch(*args)
            collector.status = statement.get_statusmsg()
            collector.affected = _affected(collector.status)
            return collector
        prefetch = min(collector.max_rows + 1, 500)
        async for record in statement.cursor(*args, prefetch=prefetch):
            if not collector.add(tuple(record)):
                break
        return collector


async def _refuse_a_login_beyond_the_database(conn: Any, ctx: StepContext) -> None:
    """Refuse an ungated statement on a login that a READ ONLY transaction cannot hold in:
    one that is (or may become) a superuser, or may act as a role that runs programs, ends
    other sessions or writes server files. Asked of the database, so roles granted through
    other roles count."""
    rows = await conn.fetch(_PG_POWERFUL_LOGIN, list(_PG_ROLES_BEYOND_THE_DATABASE))
    if not rows:
        return
    login = await conn.fetchval("SELECT session_user")
    supers = [r["rolname"] for r in rows if r["rolsuper"]]
    rights = ("is a superuser" if login in supers else
              f"may act as the superuser {supers[0]}" if supers else
              "may act as " + ", ".join(r["rolname"] for r in rows))
    source = (ctx.data_source or {}).get("name") or "the data source"
    raise StepFailed(
        f"refused: {source} logs in as {login}, which {rights}; PostgreSQL lets such a login "
        "run programs (COPY ... TO PROGRAM) and end other sessions even in a read-only "
        "transaction, so this read-only step does not run on it", retryable=False,
        hint="Point the data source at a login without those rights, e.g. CREATE ROLE "
        "mendflow_reader LOGIN IN ROLE pg_read_all_data; a write needs a gated step "
        "(mutating, read_only: false)")


def _affected(status: str | None) -> int | None:
    last = (status or "").rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else None


_PG_COERCE: dict[str, Callable[[str], Any]] = {
    **dict.fromkeys(("int2", "int4", "int8", "oid"), int),
    **dict.fromkeys(("float4", "float8"), float),
    "numeric": decimal.Decimal,
    "bool": lambda s: {"true": True, "t": True, "1": True, "yes": True, "on": True,
                       "false": False, "f": False, "0": False, "no": False,
                       "off": False}[s.lower()],
    "date": dt.date.fromisoformat,
    "timestamp": lambda s: dt.datetime.fromisoformat(s).replace(tzinfo=None),
    "timestamptz": lambda s: _aware(dt.datetime.fromisoformat(s.replace("Z", "+00:00"))),
    "uuid": uuid.UUID,
}


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _coerce_args(types: Sequence[Any], args: list[Any], ctx: StepContext) -> list[Any]:
    """Rendered templates are text; turn text into the type each $n is declared as.

    The value stays a bound parameter whatever happens: text that is not a valid number, say,
    is refused here rather than reaching the query.
    """
    if len(types) != len(args):
        raise PluginError(f"the query has {len(types)} parameter(s) ($1..) but args has "
                          f"{len(args)} value(s)", hint="Give one arg per $n")
    out = []
    for n, (kind, value) in enumerate(zip(types, args, strict=True), start=1):
        convert = _PG_COERCE.get(kind.name)
        if isinstance(value, str) and convert is not None:
            try:
                value = convert(value.strip())
            except (ValueError, KeyError, decimal.InvalidOperation):
                raise PluginError(f"argument ${n} ({_clip(value, ctx)}) is not a valid "
                                  f"{kind.name}",
                                  hint="Check the value the template rendered") from None
        elif kind.name in ("json", "jsonb") and not isinstance(value, str):
            value = json.dumps(value)
        elif kind.name in ("text", "varchar", "bpchar", "name") and isinstance(value, int | float):
            value = str(value)
        out.append(value)
    return out


def _reason(exc: BaseException, ctx: StepContext) -> str:
    """The first line of an error, redacted before it is cut to 300 characters."""
    text = ctx.redact(str(exc)).strip()
    return text.splitlines()[0][:300] if text else ""


# -- SQLite -----------------------------------------------------------------------------------


def sqlite_path(url: str) -> str:
    """`sqlite:////abs/path.db` -> /abs/path.db; `sqlite:///rel.db` -> rel.db; a bare path."""
    if not url.startswith("sqlite:"):
        return url
    rest = url[len("sqlite:"):]
    if rest.startswith("//"):
        rest = rest[2:]
        rest = rest[1:] if rest.startswith("/") else rest
    return unquote(rest.split("?", 1)[0])


_SQLITE_READS = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION,
                           getattr(sqlite3, "SQLITE_RECURSIVE", 33)})
_SQLITE_READ_PRAGMAS = frozenset({"table_info", "table_xinfo", "table_list", "index_list",
                                  "index_info", "index_xinfo", "foreign_key_list"})
"""Pragmas that only describe the schema; any other pragma (which may set something) is
refused in a read-only step."""


def _sqlite_read_only(action: int, arg1: str | None, arg2: str | None, _db: str | None,
                      _trigger: str | None) -> int:
    """SQLite's authorizer for a read-only step: reading yes, anything else no (ATTACH would
    create a file, VACUUM INTO would write one, PRAGMA query_only = OFF would undo the rest)."""
    if action in _SQLITE_READS:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() in _SQLITE_READ_PRAGMAS:
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def _run_sqlite(params: SqlParams, url: str, *, timeout: float, ctx: StepContext) -> RowCollector:
    """Runs in a worker thread: the connection is created, used and closed here."""
    path = sqlite_path(url)
    deadline = time.monotonic() + timeout
    mode = "ro" if params.read_only else "rw"
    uri = f"{Path(path).absolute().as_uri()}?mode={mode}"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=min(timeout, 5.0))
    except sqlite3.Error as exc:
        raise StepFailed(f"cannot open SQLite database {path}: {ctx.redact(str(exc))}",
                         retryable=False,
                         hint="Check the data source path; it must exist") from None
    try:
        if params.read_only:
            conn.execute("PRAGMA query_only = ON")
            conn.set_authorizer(_sqlite_read_only)
        conn.set_progress_handler(lambda: time.monotonic() > deadline, 1000)
        args = params.args if isinstance(params.args, Mapping) else tuple(params.args)
        cursor = conn.execute(params.query, args)
        if cursor.description is None:
            collector = RowCollector([], max_rows=params.max_rows, keep=params.keep, ctx=ctx)
            collector.affected = cursor.rowcount if cursor.rowcount >= 0 else None
            collector.status = f"{params.query.split(None, 1)[0].upper()} {collector.affected}"
        else:
            collector = RowCollector([d[0] for d in cursor.description],
                                     max_rows=params.max_rows, keep=params.keep, ctx=ctx)
            while batch := cursor.fetchmany(500):
                if not all(collector.add(row) for row in batch):
                    break
        if not params.read_only:
            conn.commit()
        return collector
    except sqlite3.Error as exc:
        text = ctx.redact(str(exc))
        if text == "interrupted":
            raise StepFailed(f"query exceeded the timeout of {timeout:g}s", retryable=True,
                             hint="Raise timeout_s, or make the query cheaper") from None
        if params.read_only and ("readonly" in text or "read-only" in text
                                 or "not authorized" in text or "authorization denied" in text):
            raise StepFailed(f"refused by the database: the statement tried to write "
                             f"in a read-only step ({text[:300]})", retryable=False,
                             hint=_GATED_HINT) from None
        if "locked" in text or "busy" in text:
            raise StepFailed(f"SQLite database {path} is busy: {text[:300]}",
                             retryable=True) from None
        raise StepFailed(f"SQL error: {text[:300]}", retryable=False,
                         hint="Fix the query") from None
    finally:
        conn.close()
