"""A ```sql block over earlier steps' results (`FROM steps.<name>`) is a compute step.

It reads nothing but earlier steps, is one SELECT, runs after the steps it reads, and a read of
a step that does not exist or does not run before it is a located one-line error. A block that
names a database table (even one called `steps`) stays a database query."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.compile import compile_guide, compile_path
from engine.compile.validate import check_plan
from engine.errors import ValidationError
from engine.guide import parse_guide
from engine.plan import Edge, Plan, SourceInfo, Span, Step
from engine.sqltext import steps_read, tables_read

PLUGINS = {"shell", "bash", "prometheus", "sql", "http", "logs", "compute"}
TSG = Path(__file__).parents[2] / "fixtures" / "guides" / "tsg" / "flaky-scenarios.md"


def compile_text(text: str) -> Plan:
    return compile_guide(parse_guide(text, path="g.md"), known_plugins=PLUGINS)


def guide(second: str, *, bullets: bool = False) -> str:
    mark = "-" if bullets else "1."
    return (f"# T\n\n## Diagnosis\n\n{mark} Dump the runs {{#runs}}:\n\n"
            "   ```sql\n   SELECT scenario, status FROM scenario_runs\n   ```\n\n"
            f"{mark} Rate per scenario {{#rates}}:\n\n   ```sql\n   {second}\n   ```\n")


def test_a_query_over_an_earlier_step_is_a_compute_step_after_it():
    plan = compile_text(guide("SELECT scenario, count(*) AS n FROM steps.runs GROUP BY 1"))
    rates = plan.step("rates")
    assert (rates.kind, rates.plugin) == ("query", "compute")
    assert rates.params == {"query": "SELECT scenario, count(*) AS n FROM steps.runs "
                                     "GROUP BY 1", "tables": {"runs": "runs"}}
    assert plan.step("runs").plugin == "sql"
    assert any(e.source == "runs" and e.target == "rates" for e in plan.edges)


def test_independent_checks_fan_out_but_a_compute_step_waits_for_them():
    # bullets in a Diagnosis section are independent checks, run at once; not one that reads
    plan = compile_text(guide("SELECT count(*) FROM steps.runs", bullets=True))
    assert [e.source for e in plan.edges if e.target == "rates"] == ["runs"]


def test_values_in_a_compute_query_are_bound_like_sqls():
    plan = compile_text(guide("SELECT count(*) FROM steps.runs WHERE scenario = '$SCENARIO'"))
    params = plan.step("rates").params
    assert params["query"] == "SELECT count(*) FROM steps.runs WHERE scenario = :p1"
    assert params["args"] == {"p1": "{{ inputs.scenario }}"}


def test_a_quoted_step_name_reads_a_step_whose_id_has_dashes():
    text = ("# T\n\n## Step 1 - Dump\n\n```sql\nSELECT 1 AS x FROM scenario_runs\n```\n\n"
            "## Step 2 - Count\n\n```sql\nSELECT count(*) FROM steps.\"step-1-step-1-dump\"\n"
            "```\n")
    plan = compile_text(text)
    (compute,) = [s for s in plan.steps if s.plugin == "compute"]
    assert compute.params["tables"] == {"step-1-step-1-dump": "step-1-step-1-dump"}


@pytest.mark.parametrize(("second", "message"), [
    ("SELECT count(*) FROM steps.run",
     "g.md:13 [step rates]: the query reads steps.run, but no step is named 'run'"),
    ("SELECT count(*) FROM steps.rates",
     "g.md:13 [step rates]: the query reads steps.rates, which does not run before this step"),
    ("SELECT count(*) FROM steps.runs JOIN owners USING (scenario)",
     "g.md:13: the sql block reads steps.runs (an earlier step's result) and the table owners "
     "at once"),
    ("DELETE FROM steps.runs",
     "g.md:13: the sql block reads steps.runs, so it computes over earlier results, and that is "
     "one SELECT (or WITH): the SQL starts with DELETE, not SELECT or WITH"),
])
def test_a_bad_read_is_a_located_one_line_error(second: str, message: str):
    with pytest.raises(ValidationError) as err:
        compile_text(guide(second))
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_a_step_that_comes_later_is_not_read():
    text = ("# T\n\n## Diagnosis\n\n1. Count {#count}:\n\n   ```sql\n   SELECT count(*) FROM "
            "steps.later\n   ```\n\n2. Later {#later}:\n\n   ```sql\n   SELECT 1 AS x FROM t\n"
            "   ```\n")
    with pytest.raises(ValidationError, match=r"g.md:7 \[step count\]: the query reads "
                       r"steps.later, which does not run before this step"):
        compile_text(text)


def test_a_database_query_stays_one():
    # a table called steps, and steps.x as a column, are the database's
    plan = compile_text(guide("SELECT steps.name FROM steps WHERE steps.id = 3"))
    assert plan.step("rates").plugin == "sql"
    plan = compile_text(guide("SELECT a, steps.x FROM t1 JOIN steps ON t1.id = steps.id"))
    assert plan.step("rates").plugin == "sql"


def test_a_hand_written_plan_is_checked_too():
    span = Span(start=3, end=3)
    plan = Plan(id="p", title="p", compiler="hand", source=SourceInfo(path="p.md", sha256="0"),
                entry="c", steps=[
                    Step(id="c", title="c", kind="query", plugin="compute", source=span,
                         params={"query": "SELECT * FROM steps.x", "tables": {"x": "ghost"}}),
                    Step(id="done", title="done", kind="end", outcome="resolved", source=span)],
                edges=[Edge(source="c", target="done")])
    problems = [str(p) for p in check_plan(plan, known_plugins=PLUGINS)]
    assert problems == ["p.md:3 [step c]: the query reads steps.x (step ghost), but no step is "
                        "named 'ghost'. Name the step you read with {#name} at the end of its "
                        "heading or list item, or fix the name (`mendflow compile GUIDE "
                        "--stdout` shows the step ids)"]


def test_the_flaky_scenarios_tsg_compiles_to_a_dump_two_computations_and_a_decision():
    plan = compile_path(TSG, known_plugins=PLUGINS)
    assert [(s.id, s.plugin) for s in plan.steps if s.plugin] == [
        ("runs", "sql"), ("rates", "compute"), ("worst_step", "compute")]
    decide = next(s for s in plan.steps if s.kind == "decide")
    branch = next(e for e in plan.edges if e.source == decide.id and e.kind == "branch")
    assert branch.condition.expr == "steps.rates.rows[0].completion_rate < 0.8"
    assert plan.step(branch.target).outcome == "escalate"
    assert "{{ steps.worst_step.value }}" in plan.step(branch.target).title


@pytest.mark.parametrize(("query", "steps", "others"), [
    ("SELECT * FROM steps.a", ("a",), ()),
    ("SELECT * FROM steps.a x, steps.b AS y JOIN steps.c ON x.i = c.i", ("a", "b", "c"), ()),
    ('SELECT * FROM steps."step-2" LEFT JOIN (SELECT * FROM steps.b) q USING (i)',
     ("step-2", "b"), ()),
    ("WITH r AS (SELECT * FROM steps.a), s(x) AS (SELECT 1) SELECT * FROM r, s", ("a",), ()),
    ("SELECT * FROM generate_series(1, 3), steps.a", ("a",), ()),
    ("SELECT 'FROM steps.a' -- FROM steps.b\nFROM t /* JOIN steps.c */", (), ("t",)),
    ("SELECT * FROM t WHERE x IN (SELECT y FROM steps.a)", ("a",), ("t",)),
    ("SELECT {{ steps.a.value }} FROM public.t", (), ("public.t",)),
    ("SELECT * FROM Steps.Runs", ("runs",), ()),
])
def test_the_tables_a_query_reads(query: str, steps: tuple, others: tuple):
    assert tables_read(query).steps == steps and tables_read(query).others == others


def test_steps_read_maps_table_names_to_steps():
    assert steps_read("SELECT * FROM steps.runs, steps.x", {"runs": "step-1"}) == \
        {"runs": "step-1", "x": "x"}
