"""Parameterised query blocks: SQL values become bound args, PromQL values pass the `promql` filter.

The injection tests go all the way: the compiled step's params are rendered the way the
executor renders them, and the SQL is run by the real sql plugin on a real SQLite database.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from engine.compile import compile_guide
from engine.compile.queries import query_params
from engine.compile.scope import Scope
from engine.errors import TemplateError, ValidationError
from engine.guide import parse_guide
from engine.plan import Plan
from engine.plugins import StepContext
from engine.runtime.steps import _render_params
from plugins.prometheus import PrometheusPlugin
from plugins.sql import SqlPlugin

PLUGINS = {"shell", "bash", "prometheus", "sql", "http", "logs"}
FRONT = ("---\ninputs:\n  - name: service\n  - name: window\n    default: 1 hour\n---\n")
PROM_FRONT = ("---\ninputs:\n  - name: service\n  - name: window\n    type: duration\n"
              "    default: 5m\n---\n")
ATTACKS = ["x' OR '1'='1", "x'; DROP TABLE requests; --", "shop\"} or vector(1) #",
           "a b", "{{ 7 * 7 }}", "", "v1\n"]


def compile_text(text: str) -> Plan:
    return compile_guide(parse_guide(text, path="guide.md"), known_plugins=PLUGINS)


def query_step(plan: Plan, plugin: str):
    return next(s for s in plan.steps if s.plugin == plugin)


def sql_guide(query: str) -> Plan:
    return compile_text(f"{FRONT}# T\n\n## Diagnosis\n\n1. Count requests:\n\n   ```sql\n"
                        f"   {query}\n   ```\n")


def promql_guide(query: str) -> Plan:
    return compile_text(f"{PROM_FRONT}# T\n\n## Diagnosis\n\n1. Error rate in Prometheus:\n\n"
                        f"   ```promql\n   {query}\n   ```\n")


# -- SQL ---------------------------------------------------------------------------------------


def test_sql_templates_and_placeholders_become_named_parameters_in_fixed_text():
    plan = sql_guide("SELECT count(*) FROM requests WHERE service = '{{ inputs.service }}' "
                     "AND ts > now() - interval '$WINDOW' AND path = <path> AND host = $SERVICE")
    step = query_step(plan, "sql")
    assert step.params["query"] == (
        "SELECT count(*) FROM requests WHERE service = :p1 AND ts > now() - "
        "CAST(CAST(:p2 AS text) AS interval) AND path = :p3 AND host = :p1")
    assert step.params["args"] == {"p1": "{{ inputs.service }}", "p2": "{{ inputs.window }}",
                                   "p3": "{{ inputs.path }}"}
    assert {i.name for i in plan.inputs} == {"service", "window", "path"}


def test_sql_value_inside_a_literal_is_concatenated_not_formatted():
    text = query_params("sql", "SELECT * FROM t WHERE path LIKE '/api/$PREFIX%'", Scope())
    assert text.params["query"] == \
        "SELECT * FROM t WHERE path LIKE ('/api/' || CAST(:p1 AS text) || '%')"


@pytest.mark.parametrize("query", [
    "SELECT 1 -- where service = $SERVICE",
    "SELECT 1 /* {{ inputs.service }} */",
    'SELECT "$weird" FROM t',
    "SELECT $1::int",
    "SELECT $fn$ $SERVICE $fn$",
    "SELECT x::text FROM t WHERE a<b AND c>d",
    "SELECT 'it''s $5'",
])
def test_sql_leaves_comments_identifiers_dollar_quotes_and_casts_alone(query: str):
    compiled = query_params("sql", query, Scope())
    assert compiled.params == {"query": query}


def test_sql_existing_named_parameters_are_not_reused():
    compiled = query_params("sql", "SELECT :p1, '{{ inputs.a }}'", Scope())
    assert compiled.params["query"] == "SELECT :p1, :p2"
    assert compiled.params["args"] == {"p2": "{{ inputs.a }}"}


def test_sql_reading_a_bound_var_waits_for_it():
    text = ("# T\n\n## Diagnosis\n\n1. Find the tenant:\n\n   ```bash\n   export TENANT=$(cat "
            "/etc/tenant)\n   ```\n\n2. Count its jobs:\n\n   ```sql\n   SELECT count(*) FROM "
            "jobs WHERE tenant = $TENANT\n   ```\n")
    plan = compile_text(text)
    step = query_step(plan, "sql")
    assert step.params["args"] == {"p1": "{{ vars.TENANT }}"}
    binder = next(s for s in plan.steps if "vars.TENANT" in s.binds)
    assert any(e.source == binder.id and e.target == step.id for e in plan.edges)


@pytest.mark.parametrize("attack", ATTACKS)
def test_sql_injection_through_an_input_or_alert_label_never_changes_the_query(
        attack: str, tmp_path: Path):
    # Given a guide whose query names the service from an input and the host from the alert
    plan = sql_guide("SELECT count(*) FROM requests WHERE service = '$SERVICE' "
                     "AND host = '<host label from the alert>'")
    step = query_step(plan, "sql")
    db = tmp_path / "r.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE requests (service TEXT, host TEXT)")
        conn.executemany("INSERT INTO requests VALUES (?, ?)", [("shop", "a"), ("shop", "b")])
    # (the alert's host label fills the input `host`; inputs are rendered here unchecked, to
    # show the plugin itself is safe whatever string reaches it)
    memory = {"inputs": {"service": attack, "window": "1 hour", "host": attack},
              "alert": {"labels": {"host": attack}}}
    # When the executor renders the params and the sql plugin runs them
    params = _render_params(SqlPlugin, step.params, memory)
    result = asyncio.run(SqlPlugin().run(params=SqlPlugin.Params(**params), ctx=StepContext(
        run_id="r", step_id=step.id, attempt=1, idempotency_key="k", deadline_s=5,
        data_source={"type": "sqlite", "url": f"sqlite:///{db}"})))
    # Then the text is the compiled text, the attack is one bound value, and it matches nothing
    assert params["query"] == step.params["query"]
    assert attack not in params["query"] or attack == ""
    assert params["args"] == {"p1": attack, "p2": attack}
    assert result.outputs["value"] == 0
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM requests").fetchone() == (2,)


# -- PromQL ------------------------------------------------------------------------------------


def test_promql_values_go_through_the_promql_filter_for_their_position():
    plan = promql_guide('sum(rate(http_requests_total{service="$SERVICE", '
                        'instance=~"<value of instance label from the alert>"}[{{ inputs.window '
                        '| default("5m") }}])) > $THRESHOLD')
    step = query_step(plan, "prometheus")
    assert step.params["query"] == (
        'sum(rate(http_requests_total{service="{{ (inputs.service) | promql(\'label\') }}", '
        'instance=~"{{ (inputs.instance) | promql(\'regex\') }}"}'
        '[{{ (inputs.window | default("5m")) | promql(\'duration\') }}])) > '
        '{{ (inputs.threshold) | promql(\'number\') }}')


@pytest.mark.parametrize("query, where", [
    ('$METRIC{job="api"}', "metric or function name"),
    ("sum by ($LABEL) (up)", "label list"),
    ('label_replace(up, "dst", "$VALUE", "src", "(.*)")', "not a label matcher"),
    ("http_{{ inputs.service }}_total", "inside a name"),
    ('up{ {{ inputs.service }}="x"}', "label name"),
    ('up # {{ inputs.service }}', "comment"),
])
def test_a_promql_value_where_none_may_sit_is_a_located_compile_error(query, where):
    with pytest.raises(ValidationError, match=where) as err:
        promql_guide(query)
    assert err.value.location.file == "guide.md" and err.value.location.line == 14


@pytest.mark.parametrize("query", [
    'rate(x{a="$1"}[5m])',                 # label_replace-style $1 is not a variable
    'up{job=~"api|web"} < 1 and up > 0',   # comparisons are not placeholders
    'count(x{a="{{ .Labels.x }}"})',       # a Go template is not run memory
])
def test_promql_text_without_memory_values_renders_to_itself(query: str):
    compiled = query_params("prometheus", query, Scope())
    params = _render_params(PrometheusPlugin, compiled.params, {})
    assert params["query"] == query


@pytest.mark.parametrize("value", ["shop-web", "host-1.example:9100", "v2.1.0", "15m",
                                   "0.05", "team/a@b", "50%", 7])
def test_promql_safe_values_pass(value):
    plan = promql_guide('up{service="{{ inputs.service }}"}')
    params = _render_params(PrometheusPlugin, query_step(plan, "prometheus").params,
                            {"inputs": {"service": value}})
    assert params["query"] == f'up{{service="{value}"}}'


@pytest.mark.parametrize("attack", ATTACKS + ['a"', "a\\", "x}", "a,b", "(1)"])
def test_promql_an_alert_label_in_a_matcher_is_one_escaped_label_value(attack):
    plan = promql_guide('up{instance="<instance label from the alert>"}')
    step = query_step(plan, "prometheus")
    params = _render_params(PrometheusPlugin, step.params,
                            {"inputs": {"instance": attack}})
    escaped = attack.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    assert params["query"] == f'up{{instance="{escaped}"}}'


@pytest.mark.parametrize("attack", [None, True, ["a"], {"a": 1}])
def test_promql_a_value_that_is_not_text_or_a_number_is_refused(attack):
    plan = promql_guide('up{instance="<instance label from the alert>"}')
    step = query_step(plan, "prometheus")
    with pytest.raises(TemplateError, match="promql: .*cannot be put"):
        _render_params(PrometheusPlugin, step.params, {"inputs": {"instance": attack}})


@pytest.mark.parametrize("attack", ["0+up", "0/0", "1 or vector(1)", "5m", "Inf", "", "1e3)"])
def test_promql_a_threshold_is_a_number_and_nothing_else(attack):
    plan = promql_guide("rate(errors_total[5m]) > $THRESHOLD")
    step = query_step(plan, "prometheus")
    with pytest.raises(TemplateError, match="where a number belongs"):
        _render_params(PrometheusPlugin, step.params, {"inputs": {"threshold": attack}})


# -- what the server writes in angle brackets -------------------------------------------------

IDLE = ("SELECT pid, query FROM pg_stat_activity\n"
        "WHERE query != '<IDLE>' AND query != '<insufficient privilege>' AND state != 'idle';")


@pytest.mark.parametrize("tag", ["sql", ""])
def test_text_postgres_writes_in_angle_brackets_is_compared_with_not_asked_for(tag: str):
    # `'<IDLE>'` is what pg_stat_activity shows for an idle session: the query runs as written
    # (untagged, it was a person's step; tagged, the run asked for an input named "idle")
    plan = compile_text(f"# T\n\n## Active queries\n\n```{tag}\n{IDLE}\n```\n")
    step = query_step(plan, "sql")
    assert step.params == {"query": IDLE}
    assert plan.inputs == []


def test_a_hole_in_an_untagged_query_is_still_a_persons_beside_server_text():
    plan = compile_text("# T\n\n## Active queries\n\n```\nSELECT pid FROM pg_stat_activity "
                        "WHERE query != '<IDLE>' AND usename = '<user name>';\n```\n")
    assert [s.kind.value for s in plan.steps][0] == "manual"


def test_server_text_matches_the_rows_it_names(tmp_path: Path):
    # The literal reaches the database: the idle session's row is left out
    db = tmp_path / "pg.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE pg_stat_activity (pid int, query text, state text)")
        con.executemany("INSERT INTO pg_stat_activity VALUES (?, ?, ?)",
                        [(1, "<IDLE>", "active"), (2, "select 1", "active")])
    step = query_step(compile_text(f"# T\n\n## Active\n\n```sql\n{IDLE}\n```\n"), "sql")
    result = asyncio.run(SqlPlugin().run(params=SqlPlugin.Params(**step.params), ctx=StepContext(
        run_id="r", step_id=step.id, attempt=1, idempotency_key="k", deadline_s=5,
        data_source={"type": "sqlite", "url": f"sqlite:///{db}"})))
    assert result.outputs["rows"] == [{"pid": 2, "query": "select 1"}]
