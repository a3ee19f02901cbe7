"""Where a value may go: never the program, never program text, text only as data, and no
rendered argv word that starts with `-` unless the guide wrote the `-`."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.compile import compile_guide
from engine.errors import PlanError, ValidationError
from engine.guide import parse_guide
from engine.placement import argv_sinks, problems, rendered_problem
from engine.runtime.services import Services

from .conftest import edge, end, plan, sh, step

V = "{{ inputs.v }}"


@pytest.mark.parametrize(("argv", "code_at"), [
    ([V, "-l"], 0),                                         # the value picks the program
    (["sed", "-n", f"s/{V}/x/p", "f"], 2),                  # sed program
    (["sed", "-e", f"/{V}/d", "f"], 2),                     # sed -e program
    (["sed", "-ne", f"/{V}/p", "f"], 2),                    # bundled -n -e
    (["sed", "--expression=/x/d", "-i", V], None),          # the file operand is data
    (["awk", f"/{V}/ {{print}}", "f"], 1),                   # awk program
    (["awk", "-F", ":", f"$1 == {V}", "f"], 3),             # after an option value
    (["awk", "-v", f"x={V}", "$1 == x", "f"], None),        # -v passes a value as data
    (["bash", "-c", f"echo {V}"], 2),                       # shell program
    (["sh", "-ec", f"ls {V}"], 2),                          # bundled -e -c
    (["python3", "-c", f"print({V})"], 2),
    (["perl", "-ne", f"print if /{V}/"], 2),
    (["sudo", "-u", "root", "sh", "-c", V], 5),             # through a wrapper
    (["timeout", "5", "bash", "-c", V], 4),
    (["env", "A=1", "sh", "-c", V], 4),
    (["xargs", "-I", "{}", "sh", "-c", V], 5),
    (["ssh", "-p", "22", "host", "ls", V], 5),              # ssh's remote command: a shell's
    (["ssh", V, "uptime"], None),                           # the host is an argument
    (["watch", "-n", "5", "kubectl", "get", V], 5),         # watch runs `sh -c`
    (["kubectl", "exec", "pod", "--", "sh", "-c", V], 6),
    (["find", "/x", "-exec", "sh", "-c", V, ";"], 5),
    (["jq", f".items[] | select(.name == \"{V}\")"], 1),    # a jq filter
    (["jq", "--arg", "n", V, ".items[] | select(.name == $n)"], None),
    (["grep", "-F", V, "/var/log/syslog"], None),
    (["kubectl", "get", "pods", "-n", V], None),
])
def test_a_value_is_code_only_where_the_tool_reads_code(argv: list[str],
                                                        code_at: int | None) -> None:
    sinks = argv_sinks(argv)
    coded = [i for i, (w, s) in enumerate(zip(argv, sinks)) if s in ("program", "script")
             and "inputs.v" in w]
    assert coded == ([code_at] if code_at is not None else [])


def _plan(*argv: str, type_: str = "name"):
    return plan([sh("s", *argv), end("ok")], [edge("s", "ok")],
                inputs=[{"name": "v", "type": type_}])


def test_free_text_is_never_an_argv_word_but_may_be_data() -> None:
    assert [m.message for m in problems(_plan("grep", "-F", V, "f", type_="text"))] == [
        "input 'v' is text but pipeline[0][2] is a command-line argument"]
    sql = plan([step("q", kind="query", plugin="sql",
                     params={"query": "SELECT 1 WHERE a = :p1", "args": {"p1": V}}),
                end("ok")], [edge("q", "ok")], inputs=[{"name": "v", "type": "text"}])
    assert problems(sql) == []


def test_no_value_of_any_type_becomes_program_text() -> None:
    found = problems(_plan("sed", "-n", f"/{V}/p", "f", type_="integer"))
    assert [m.where for m in found] == ["pipeline[0][2]"]
    assert "must never become code" in found[0].message


@pytest.mark.parametrize(("template", "value", "refused"), [
    (V, "-delete", True),
    (V, "--output=/tmp/x", True),
    ("{{ vars.NS }}", "-A", True),                          # bound values are checked too
    ("--namespace={{ inputs.v }}", "--namespace=-x", False),  # the guide wrote the dash
    (V, "web-1", False),
    (V, "a\x1b[2Jb", True),
    (V, "a\nb", True),
    ("-literal", "-literal", False),                        # not a template: the guide's word
])
def test_a_rendered_argv_word_is_refused_if_it_would_be_an_option_or_has_controls(
        template: str, value: str, refused: bool) -> None:
    problem = rendered_problem("shell", {"pipeline": [["find", template]]},
                               {"pipeline": [["find", value]]})
    assert (problem is not None) == refused


def test_the_sinks_come_from_the_templates_not_from_rendered_values() -> None:
    # Given a value `--` that, read as rendered, would make `sh -c` look like data
    templates = {"pipeline": [["kubectl", "exec", "p", V, "sh", "-c", "id"]]}
    rendered = {"pipeline": [["kubectl", "exec", "p", "--", "sh", "-c", "id"]]}
    assert "starts with '-'" in (rendered_problem("shell", templates, rendered) or "")


def test_a_misplaced_value_fails_the_run_before_any_step(tmp_path: Path) -> None:
    import asyncio

    from engine.plugins import default_registry
    from engine.runtime.executor import LocalExecutor
    from engine.settings import Settings
    from engine.store import open_store

    marker = tmp_path / "ran"
    p = plan([sh("first", "touch", str(marker)), sh("s", "grep", "-F", V, "f"), end("ok")],
             [edge("first", "s"), edge("s", "ok")], inputs=[{"name": "v", "type": "text"}])

    async def go() -> None:
        store = open_store(tmp_path / "s.sqlite3")
        await store.open()
        try:
            ex = LocalExecutor(Services(store=store, registry=default_registry(),
                                        settings=Settings(data_dir=tmp_path)))
            with pytest.raises(PlanError, match="is text but"):
                await ex.start(p, guide_path="t.md", inputs={"v": "anything"})
            assert await store.list_runs() == []
        finally:
            await store.close()

    asyncio.run(go())
    assert not marker.exists()


def test_the_compiler_makes_a_value_in_program_text_a_manual_step() -> None:
    guide = parse_guide("# T\n\n## Diagnosis\n\n1. Find the lines:\n\n   ```bash\n"
                        "   sed -n \"/$PATTERN/p\" /var/log/app.log\n   ```\n", path="g.md")
    plan_ = compile_guide(guide)
    kinds = {s.kind for s in plan_.steps if s.source.start == 8 and s.kind != "end"}
    assert kinds == {"manual"}


def test_the_validator_reports_a_misplaced_value_with_the_line() -> None:
    from engine.compile import validate_plan

    with pytest.raises(ValidationError, match="must never become code") as info:
        validate_plan(_plan("bash", "-c", V), known_plugins={"shell"})
    assert info.value.location.step == "s"


@pytest.mark.parametrize(("value", "refused"), [
    ("42", False), ("web-1", False), ("v2.1", False),
    ("../../admin", True), ("x/y", True), ("x?admin=true", True), ("x#frag", True),
    ("evil.com@", True), ("%2e%2e", True),
])
def test_a_value_in_a_url_the_guide_wrote_stays_in_its_place(value: str, refused: bool) -> None:
    template = "https://api.example/v1/items/{{ inputs.id }}?verbose=1"
    rendered = template.replace("{{ inputs.id }}", value)
    problem = rendered_problem("shell", {"pipeline": [["curl", "-s", template]]},
                               {"pipeline": [["curl", "-s", rendered]]},
                               {"inputs": {"id": value}})
    assert (problem is not None) == refused, problem


# -- a value in the SQL text of a database client ----------------------------------------------

@pytest.mark.parametrize(("argv", "sql_at"), [
    (["psql", "-h", "db", "-c", f"SELECT 1 WHERE x = '{V}'"], 4),
    (["psql", f"--command=SELECT '{V}'"], 1),
    (["mysql", "-N", "-e", f"SELECT '{V}'"], 3),
    (["kubectl", "exec", "pg-0", "--", "psql", "-c", f"SELECT '{V}'"], 6),
    (["sqlite3", "/var/db.sqlite", f"SELECT '{V}'"], 2),
    (["clickhouse-client", "--query", f"SELECT '{V}'"], 2),
    (["psql", "-d", V, "-c", "SELECT 1"], 4),                   # the database is an argument
])
def test_a_database_clients_sql_text_is_its_own_sink(argv: list[str], sql_at: int | None) -> None:
    sinks = argv_sinks(argv)
    assert [i for i, s in enumerate(sinks) if s == "sql"] == ([sql_at] if sql_at else [])


@pytest.mark.parametrize(("template", "value", "refused"), [
    ("SELECT * FROM t WHERE ns = '{{ inputs.v }}'", "payments-1", False),
    ("SELECT * FROM t WHERE ns = '{{ inputs.v }}'", "/var/log/a b.log", False),
    ("SELECT * FROM t WHERE ns = '{{ inputs.v }}'", "x' OR '1'='1", True),
    ("SELECT * FROM t WHERE ns = '{{ inputs.v }}'", "x\\", True),   # ends a MySQL literal
    # a URL-typed value with no space that pulls another table into the result
    ("SELECT * FROM t WHERE u = '{{ inputs.v }}'",
     "http://a/'||(SELECT/**/passwd/**/FROM/**/pg_shadow/**/LIMIT/**/1)||'", True),
    ('SELECT * FROM "{{ inputs.v }}"', 'x"; DROP TABLE t; --', True),
    ("SELECT * FROM t WHERE id = {{ inputs.v }}", "42", False),
    ("SELECT * FROM t WHERE id = {{ inputs.v }}", "1)or(1=1", True),
    ("SELECT * FROM t WHERE id = {{ inputs.v }}", "1 OR 1=1", True),
    ("SELECT * FROM t WHERE id = {{ inputs.v }}", "1--", True),
    ("SELECT 'it''s' || '{{ inputs.v }}', {{ inputs.v }}", "ok", False),
])
def test_a_value_in_sql_text_stays_in_its_place(template: str, value: str,
                                                refused: bool) -> None:
    # Given a value (any type that can hold a quote: path, regex, url, an earlier output)
    rendered = template.replace("{{ inputs.v }}", value)
    problem = rendered_problem("shell", {"pipeline": [["psql", "-c", template]]},
                               {"pipeline": [["psql", "-c", rendered]]},
                               {"inputs": {"v": value}})
    assert (problem is not None) == refused, problem
