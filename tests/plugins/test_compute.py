"""The compute plugin: SQL with DuckDB over earlier steps' results, read-only, sandboxed, timed.

Earlier results are given as the runner gives them: `ctx.results` (memory's `steps.<id>`) and
`ctx.read_artifact` (the artifacts those steps stored), here from a dict.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from engine.datasources import Redactor
from engine.errors import PluginError, StepFailed
from engine.plugins import StepContext, parse_params
from plugins._rows import RowCollector
from plugins._table import RESULT_ARTIFACT, TableBuilder, read_table
from plugins.compute import ComputePlugin

RUNS = [("r1", "pick", "completed", None), ("r2", "pick", "completed", None),
        ("r3", "peg", "failed", "align"), ("r4", "peg", "failed", "align"),
        ("r5", "peg", "completed", None), ("r6", "peg", "failed", "insert")]


def table(columns: list[str], rows: list[tuple[Any, ...]]) -> bytes:
    builder = TableBuilder(columns, cap_rows=1000, cap_bytes=10**6)
    for row in rows:
        builder.add(row)
    return builder.parquet()


def context(steps: dict[str, dict[str, Any]], artifacts: dict[tuple[str, str], bytes], *,
            deadline_s: float = 10.0, secrets: Redactor | None = None) -> StepContext:
    async def read(step_id: str, name: str) -> bytes | None:
        return artifacts.get((step_id, name))

    return StepContext(run_id="r", step_id="c", attempt=1, idempotency_key="k",
                       deadline_s=deadline_s, results=steps, read_artifact=read,
                       secrets=secrets or Redactor())


def dump() -> StepContext:
    data = table(["run_id", "scenario", "status", "failed_step"], RUNS)
    return context({"runs": {"row_count": 6, "truncated": False}},
                   {("runs", RESULT_ARTIFACT): data})


async def compute(ctx: StepContext, **params: Any):
    return await ComputePlugin().run(params=parse_params(ComputePlugin, params), ctx=ctx)


async def test_an_aggregate_over_a_dump_is_a_result_like_a_queries() -> None:
    result = await compute(dump(), query="""
        SELECT scenario, avg(CASE WHEN status = 'completed' THEN 1.0 ELSE 0 END) AS rate
        FROM steps.runs GROUP BY scenario ORDER BY rate""")
    out = result.outputs
    assert out["row_count"] == 2 and out["columns"] == ["scenario", "rate"]
    assert out["rows"] == [{"scenario": "peg", "rate": 0.25}, {"scenario": "pick", "rate": 1}]
    assert out["stats"]["rate"]["min"] == 0.25 and out["truncated"] is False
    # kept whole like any query result, so that a later compute step can read it
    assert read_table(result.artifacts[RESULT_ARTIFACT]).num_rows == 2


async def test_one_cell_is_the_value_and_values_are_bound() -> None:
    result = await compute(dump(), query="SELECT failed_step FROM steps.runs WHERE scenario = "
                           ":s AND status = 'failed' GROUP BY 1 ORDER BY count(*) DESC LIMIT 1",
                           args={"s": "peg"})
    assert result.outputs["value"] == "align" and result.summary == "value align"


async def test_a_table_may_be_named_apart_from_its_step() -> None:
    ctx = dump()
    result = await compute(ctx, query="SELECT count(*) AS n FROM steps.dump",
                           tables={"dump": "runs"})
    assert result.outputs["value"] == 6


async def test_shell_output_is_a_table_of_lines() -> None:
    ctx = context({"ls": {"exit_code": 0, "lines": ["a.log", "b.txt"]}},
                  {("ls", "stdout"): b"a.log\nb.txt\nc.log\n"})
    result = await compute(ctx, query="SELECT count(*) FROM steps.ls WHERE line LIKE '%.log'")
    assert result.outputs["value"] == 2  # from the whole stdout, not the lines memory keeps
    only_memory = context({"ls": {"exit_code": 0, "lines": ["a.log", "b.txt"]}}, {})
    result = await compute(only_memory, query="SELECT count(*) FROM steps.ls")
    assert result.outputs["value"] == 2


async def test_a_cut_input_is_said() -> None:
    ctx = dump()
    ctx = dataclasses.replace(ctx, results={"runs": {"truncated": True}})
    result = await compute(ctx, query="SELECT count(*) FROM steps.runs")
    assert result.outputs["inputs_cut"] == ["runs"]


async def test_the_result_is_cut_at_the_setting_and_memory_says_so() -> None:
    ctx = dataclasses.replace(dump(), result_cap_rows=3)
    result = await compute(ctx, query="SELECT * FROM steps.runs")
    out = result.outputs
    assert out["truncated"] is True and out["row_count"] == 3
    assert out["cut"] == "kept the first 3 rows (result_cap_rows = 3)"
    assert read_table(result.artifacts[RESULT_ARTIFACT]).num_rows == 3


@pytest.mark.parametrize(("query", "why"), [
    ("SELECT * FROM read_csv('/etc/passwd')", "file system operations are disabled"),
    ("SELECT * FROM 'secret.parquet'", "file system operations are disabled"),
    ("SELECT * FROM read_text('/etc/hostname'), steps.runs", "disabled"),
])
async def test_nothing_but_the_earlier_results_can_be_read(query: str, why: str) -> None:
    # (the runs table is loaded, so that the query reaches DuckDB)
    with pytest.raises(StepFailed, match=why) as err:
        await compute(dump(), query=query, tables={"runs": "runs"})
    assert str(err.value).startswith("refused: ")


@pytest.mark.parametrize(("query", "why"), [
    ("COPY (SELECT 1) TO '/tmp/x.csv'", "not SELECT or WITH"),
    ("ATTACH '/tmp/a.db'", "not SELECT or WITH"),
    ("INSTALL httpfs", "not SELECT or WITH"),
    ("SET enable_external_access = true", "not SELECT or WITH"),
    ("SELECT 1; SELECT 2", "2 statements"),
    ("CREATE TABLE t AS SELECT * FROM steps.runs", "not SELECT or WITH"),
    ("SELECT * FROM steps.runs WHERE scenario = '{{ inputs.x }}'", "not a template"),
])
def test_anything_but_one_select_is_refused_before_it_runs(query: str, why: str) -> None:
    with pytest.raises(PluginError, match=why) as err:
        parse_params(ComputePlugin, {"query": query})
    assert "\n" not in str(err.value)


async def test_a_step_that_did_not_run_or_kept_no_table_is_a_located_failure() -> None:
    with pytest.raises(StepFailed, match="steps.nope: step nope has no result"):
        await compute(dump(), query="SELECT * FROM steps.nope")
    ctx = context({"ask": {"granted": True, "by": "alice"}}, {})
    with pytest.raises(StepFailed, match="step ask kept no table"):
        await compute(ctx, query="SELECT * FROM steps.ask")
    with pytest.raises(PluginError, match="reads no earlier step"):
        await compute(dump(), query="SELECT 1")


async def test_a_bad_query_is_one_line() -> None:
    with pytest.raises(StepFailed) as err:
        await compute(dump(), query="SELECT nope FROM steps.runs")
    assert "compute query error" in str(err.value) and "\n" not in err.value.message
    assert err.value.retryable is False


async def test_a_query_past_its_deadline_is_interrupted() -> None:
    ctx = dataclasses.replace(dump(), deadline_s=0.5)
    with pytest.raises(StepFailed, match="did not finish within 0.5s"):
        await compute(ctx, query="SELECT count(*) FROM range(1000000000000) a, steps.runs")


async def test_values_are_redacted_as_they_arrive() -> None:
    data = table(["note"], [("token=planted-S3cret",)])
    ctx = context({"notes": {}}, {("notes", RESULT_ARTIFACT): data},
                  secrets=Redactor(["planted-S3cret"]))
    result = await compute(ctx, query="SELECT note FROM steps.notes")
    assert "planted-S3cret" not in str(result.outputs)
    assert b"planted-S3cret" not in result.artifacts["rows"]


def test_mixed_column_types_are_kept_as_text() -> None:
    builder = TableBuilder(["v"], cap_rows=10, cap_bytes=10**6)
    for value in (1, "two", {"three": 3}, None):
        builder.add((value,))
    assert read_table(builder.parquet()).column("v").to_pylist() == \
        ["1", "two", '{"three": 3}', None]


def test_the_byte_cap_cuts_the_table() -> None:
    builder = TableBuilder(["v"], cap_rows=1000, cap_bytes=1024)
    kept = sum(builder.add(("x" * 100,)) for _ in range(50))
    assert kept < 50 and builder.cut is not None and "result_cap_bytes = 1024" in builder.cut


def test_row_collector_cap_name_says_which_bound_cut() -> None:
    ctx = StepContext(run_id="r", step_id="q", attempt=1, idempotency_key="k", deadline_s=1,
                      result_cap_rows=5)
    collector = RowCollector(["g"], max_rows=100, keep=2, ctx=ctx)
    assert collector.max_rows == 5 and collector.table.cap_rows_name == "result_cap_rows"
    collector = RowCollector(["g"], max_rows=3, keep=2, ctx=ctx)
    assert collector.max_rows == 3 and collector.table.cap_rows_name == "max_rows"
