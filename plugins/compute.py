"""The `compute` plugin: SQL over what earlier steps of the run found, with DuckDB.

    - id: rates
      plugin: compute
      params:
        query: |
          SELECT scenario, avg(CASE WHEN status = 'completed' THEN 1 ELSE 0 END) AS rate
          FROM steps.dump_runs GROUP BY scenario ORDER BY rate
        tables: {dump_runs: dump_runs}     # optional: table name -> step id (default: same)

Each earlier step is a table `steps.<name>`: a query step's whole result (its `rows.parquet`
artifact: sql, prometheus, compute), or a shell step's output as one column `line` (its whole
stdout artifact, else the `lines` memory keeps). A guide writes a compute step as a ```sql
block that reads only `steps.<name>` tables (guides/README.md).

It only reads, and reaches nothing but those tables: the query must be one SELECT (or WITH)
statement; the DuckDB connection is in memory, with external access off (no files, no
network, no ATTACH/COPY/INSTALL), no extension loaded or installed, no Python object scans,
its configuration locked before the query runs; it is interrupted at the step's deadline.
Values reach the query only as bound parameters (`args`, as the sql plugin's).

Outputs are the sql plugin's (`plugins._rows`): the summary, `rows`, `value`, `truncated`,
and the result kept whole as `rows.parquet`, so a later compute step can read it; `inputs_cut`
names the tables that were themselves cut results.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Mapping
from typing import Any, ClassVar

import duckdb
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.effects.sql import sql_problem
from engine.errors import PluginError, StepFailed
from engine.plan import STEP_ID_PATTERN
from engine.plugins import PluginBase, StepContext, StepResult
from engine.sqltext import steps_read
from plugins._rows import RowCollector
from plugins._sqltext import named_to_positional
from plugins._table import RESULT_ARTIFACT, lines_table, read_table

_READS = frozenset({"select", "with"})
MEMORY_LIMIT = "512MB"
_CONFIG: dict[str, str | int | float | list[str]] = {
    "enable_external_access": False,
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "allow_community_extensions": False,
    "python_enable_replacements": False,
    "memory_limit": MEMORY_LIMIT,
    "threads": 2,
}


class ComputeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, description="One SELECT (or WITH) over steps.<name>.")
    tables: dict[str, str] = Field(default_factory=dict, description="Table name -> the step "
                                   "whose result it is (default: the step of that name).")
    args: list[Any] | dict[str, Any] = Field(default_factory=list,
                                             description="Bound values: a list ($1) or a "
                                             "mapping (:name).")
    timeout_s: float | None = Field(default=None, gt=0, description="Query time limit.")
    max_rows: int | None = Field(default=None, ge=1, le=1_000_000,
                                 description="Result rows kept at most; unset: the setting.")
    keep: int = Field(default=5, ge=0, le=50, description="Rows shown in memory.")

    @field_validator("query")
    @classmethod
    def _one_read(cls, query: str) -> str:
        if "{{" in query or "{%" in query:
            raise ValueError("the query must be fixed text, not a template: put values in "
                             "`args` and refer to them as $1 or :name")
        problem = sql_problem(query, starts=_READS)
        if problem:
            raise ValueError(f"a compute step runs one SELECT (or WITH) statement: {problem}")
        return query

    @field_validator("tables")
    @classmethod
    def _step_ids(cls, tables: dict[str, str]) -> dict[str, str]:
        for name, step in tables.items():
            if not re.match(STEP_ID_PATTERN, step):
                raise ValueError(f"table {name!r} names {step!r}, which is not a step id")
        return tables


class ComputePlugin(PluginBase):
    name: ClassVar[str] = "compute"
    Params: ClassVar[type[BaseModel]] = ComputeParams
    read_only: ClassVar[bool] = True
    idempotent: ClassVar[bool] = True
    untemplated_params: ClassVar[frozenset[str]] = frozenset({"query", "tables"})

    def describe(self, *, params: ComputeParams) -> str:
        return "compute: " + " ".join(params.query.split())[:200]

    async def run(self, *, params: ComputeParams, ctx: StepContext) -> StepResult:
        reads = steps_read(params.query, params.tables)
        if not reads:
            raise PluginError("the compute query reads no earlier step",
                              hint="Read earlier results as steps.<step id>, e.g. "
                              "SELECT count(*) FROM steps.dump_runs")
        tables: dict[str, pa.Table] = {}
        cut: list[str] = []
        for name, step_id in reads.items():
            tables[name] = await _table_of(name, step_id, ctx)
            outputs = ctx.results.get(step_id)
            if isinstance(outputs, Mapping) and (outputs.get("truncated") or outputs.get("cut")):
                cut.append(name)
        query, args = params.query, params.args
        if isinstance(args, Mapping):
            query, args = named_to_positional(query, args)
        timeout = min(params.timeout_s or ctx.deadline_s, ctx.deadline_s)
        collector = await _run(tables, query, list(args), params, timeout=timeout, ctx=ctx)
        result = collector.result()
        if cut:
            result.outputs["inputs_cut"] = cut
        return result


async def _table_of(name: str, step_id: str, ctx: StepContext) -> pa.Table:
    """The table `steps.<name>`: the result step `step_id` kept, as a table."""
    outputs = ctx.results.get(step_id)
    if not isinstance(outputs, Mapping):
        raise StepFailed(f"steps.{name}: step {step_id} has no result in this run (it did not "
                         "run, or was skipped, on the way here)", retryable=False,
                         hint="Read only steps that run before this one on every path")
    read = ctx.read_artifact
    data = await read(step_id, RESULT_ARTIFACT) if read is not None else None
    if data is not None:
        try:
            return read_table(data)
        except ValueError as exc:
            raise StepFailed(f"steps.{name}: the result step {step_id} kept is not a readable "
                             f"table ({exc})", retryable=False) from None
    stdout = await read(step_id, "stdout") if read is not None else None
    if stdout is not None:
        return lines_table(stdout.decode("utf-8", errors="replace").splitlines())
    if isinstance(outputs.get("lines"), list):
        return lines_table(outputs["lines"])
    raise StepFailed(f"steps.{name}: step {step_id} kept no table to compute over",
                     retryable=False, hint="A compute step reads the results of query steps "
                     "(sql, prometheus, compute) and the output lines of shell steps")


async def _run(tables: dict[str, pa.Table], query: str, args: list[Any], params: ComputeParams,
               *, timeout: float, ctx: StepContext) -> RowCollector:
    try:
        conn = duckdb.connect(":memory:", config=dict(_CONFIG))
    except duckdb.Error as exc:
        raise PluginError(f"cannot start DuckDB: {_reason(exc, ctx)}") from None
    work = asyncio.ensure_future(asyncio.to_thread(_execute, conn, tables, query, args, params,
                                                   ctx))
    try:
        return await asyncio.wait_for(asyncio.shield(work), timeout)
    except TimeoutError:
        _interrupt(conn)
        with contextlib.suppress(Exception):
            await work
        raise StepFailed(f"the compute query did not finish within {timeout:g}s",
                         retryable=False, hint="Raise timeout_s, or make the query cheaper") \
            from None
    except asyncio.CancelledError:  # the step's deadline, or the run was cancelled
        _interrupt(conn)
        raise


def _interrupt(conn: Any) -> None:
    with contextlib.suppress(Exception):
        conn.interrupt()


def _execute(conn: Any, tables: dict[str, pa.Table], query: str, args: list[Any],
             params: ComputeParams, ctx: StepContext) -> RowCollector:
    """In a worker thread: load the tables, lock the connection, run the query."""
    try:
        conn.execute("CREATE SCHEMA steps")
        for name, table in tables.items():
            conn.register("_mendflow_input", table)
            conn.execute(f"CREATE TABLE steps.{_ident(name)} AS SELECT * FROM _mendflow_input")
            conn.unregister("_mendflow_input")
        conn.execute("SET lock_configuration = true")
        cursor = conn.execute(query, args)
        columns = [d[0] for d in cursor.description or []]
        collector = RowCollector(columns, max_rows=params.max_rows, keep=params.keep, ctx=ctx)
        while batch := cursor.fetchmany(500):
            if not all(collector.add(row) for row in batch):
                break
        return collector
    except duckdb.InterruptException:
        raise StepFailed("the compute query was interrupted at its deadline",
                         retryable=False) from None
    except duckdb.OutOfMemoryException as exc:
        raise StepFailed(f"the compute query needs more than {MEMORY_LIMIT}: "
                         f"{_reason(exc, ctx)}", retryable=False,
                         hint="Aggregate earlier, or read fewer rows") from None
    except duckdb.PermissionException as exc:
        raise StepFailed(f"refused: {_reason(exc, ctx)} (a compute step reads earlier "
                         "steps' results only)", retryable=False,
                         hint="Read steps.<name> tables; files, network and extensions are "
                         "off") from None
    except duckdb.Error as exc:
        raise StepFailed(f"compute query error: {_reason(exc, ctx)}", retryable=False,
                         hint="Fix the query (DuckDB SQL over steps.<name> tables)") from None
    finally:
        with contextlib.suppress(Exception):
            conn.close()


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _reason(exc: BaseException, ctx: StepContext) -> str:
    """The first line of an error (redacted, then cut)."""
    text = ctx.redact(str(exc)).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
