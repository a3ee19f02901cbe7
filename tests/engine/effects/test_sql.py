"""SQL read-only only as one reading statement that calls no server-side effect function."""

from __future__ import annotations

import pytest

from engine.effects import sql_verdict
from engine.effects.classify import classify_pipeline
from engine.effects.sql import sql_problem


@pytest.mark.parametrize("query", [
    "SELECT 1", "select count(*) from jobs;", "-- why\nSELECT 1", "/* a /* nested */ b */ SELECT 1",
    "WITH x AS (SELECT 1) SELECT * FROM x", "SHOW work_mem", "EXPLAIN SELECT * FROM t",
    "VALUES (1), (2)", "TABLE jobs", "SELECT 'delete; drop table t' AS s",
    'SELECT "update", "into" FROM t', "SELECT $$;DELETE FROM t$$", "SELECT E'\\';DELETE'",
    "SELECT txid_current_if_assigned()", "SELECT comment, updated_at FROM notes",
    "SELECT * FROM pg_stat_activity WHERE state = 'active'",
])
def test_reads(query):
    assert sql_verdict(query).read, sql_verdict(query).reason


@pytest.mark.parametrize("query, said", [
    ("/* hi */ COPY t TO PROGRAM 'id'", "starts with COPY"),
    ("DELETE FROM t", "starts with DELETE"), ("SELECT 1; DELETE FROM t", "2 statements"),
    ("WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x", "DELETE"),
    ("SELECT * INTO t2 FROM t", "SELECT INTO creates a table"),
    ("SELECT * FROM t FOR UPDATE", "UPDATE"), ("SELECT * FROM t FOR KEY SHARE", "SHARE"),
    ("EXPLAIN ANALYZE SELECT 1", "EXPLAIN ANALYZE runs"),
    ("EXPLAIN (ANALYZE) DELETE FROM t", "ANALYZE"),
    ("SELECT pg_terminate_backend(123)", "pg_terminate_backend()"),
    ("SELECT pg_catalog.pg_cancel_backend(1)", "pg_cancel_backend()"),
    ('SELECT "pg_terminate_backend"(1)', "pg_terminate_backend()"),
    ("SELECT pg_reload_conf()", "pg_reload_conf()"),
    ("SELECT pg_read_file('/etc/passwd')", "pg_read_file()"),
    ("SELECT lo_import('/etc/passwd')", "lo_import()"),
    ("SELECT set_config('a', 'b', false)", "set_config()"),
    ("SELECT dblink_exec('x', 'DROP TABLE t')", "dblink_exec()"),
    ("SELECT nextval('s')", "nextval()"), ("SELECT 1 /* unterminated", "unterminated"),
    ('SELECT U&"\\0070g_terminate_backend"(1)', "Unicode-escaped"),
    ("SET statement_timeout = 0", "starts with SET"), ("", "no statement"),
    # `my_e` is a type name before a standard string, not the E of an escape string: the
    # backslash escapes nothing and the quote ends the string
    ("SELECT my_e'\\'; DELETE FROM t; --'", "2 statements"),
])
def test_not_reads(query, said):
    verdict = sql_verdict(query)
    assert verdict.effect == "mutate" and said in verdict.reason


def test_read_only_false_is_a_write_whatever_the_text():
    assert not sql_verdict("SELECT 1", read_only=False).read


# -- text that MySQL reads differently (a `mysql -e` step is judged by the same reading) -------

@pytest.mark.parametrize("query, said", [
    # MySQL's `--` starts a comment only before a space: `--1` is minus minus one
    ("SELECT 1 --1; DELETE FROM t", "2 statements"),
    # a backquoted name holds a quote that PostgreSQL would take for a string
    ("SELECT 1 AS `'`; DELETE FROM t; SELECT 1 AS `'`", "3 statements"),
    # MySQL's comments do not nest: the first */ ends it
    ("SELECT 1 /* /* */; DELETE FROM t; -- */", "2 statements"),
    # a versioned comment is code to MySQL
    ("SELECT 1 /*!50000 INTO OUTFILE '/tmp/x' */", "/*!"),
    ("SELECT 1 /*M! , sys_exec('id') */", "/*!"),
    # a $$ is a name to MySQL, not a quote
    ("SELECT $$;DELETE FROM t$$", "2 statements"),
])
def test_not_reads_as_mysql_reads_them(query, said):
    problem = sql_problem(query)
    assert problem is not None and said in problem, problem


def test_mysql_reading_is_not_applied_to_the_sql_plugins_postgresql_text():
    # Given a dollar-quoted body, which the sql plugin (PostgreSQL) reads as a string
    # Then it stays a read there, while a mysql -e step with the same text is refused
    assert sql_verdict("SELECT $$;DELETE FROM t$$").read
    assert not classify_pipeline([["mysql", "-e", "SELECT $$;DELETE FROM t$$"]]).read


@pytest.mark.parametrize("command", [
    ["mysql", "-e", "SELECT 1 --1; DELETE FROM t"],
    ["mysql", "-e", "SELECT 1 AS `'`; DELETE FROM t; SELECT 1 AS `'`"],
    ["mysql", "-e", "SELECT 1 /* /* */; DELETE FROM t; -- */"],
    ["mysql", "-e", "SELECT 1 /*!50000 INTO OUTFILE '/tmp/x' */"],
    ["mysql", "-e", "SELECT GET_LOCK('deploy', 100000)"],
    ["mysql", "-e", "SELECT LOAD_FILE('/etc/shadow')"],
    ["psql", "-c", "SELECT lowrite(lo_open(16400, 131072), 'x')"],
    ["psql", "-c", "SELECT pg_ls_dir('/')"],
])
def test_database_clients_with_hidden_effects_are_not_reads(command):
    assert not classify_pipeline([command]).read


@pytest.mark.parametrize("query", [
    "SELECT 1 -- a comment\n", "SELECT 1 # a comment", "SELECT `name` FROM t",
    "SELECT \"it's\" FROM t", "SELECT 1 /*+ MAX_EXECUTION_TIME(1000) */",
    "SELECT data #>> '{a,b}' FROM t",
])
def test_mysql_reads_that_stay_reads(query):
    assert sql_problem(query) is None, sql_problem(query)


@pytest.mark.parametrize("function", [
    "lowrite", "lo_truncate64", "pg_ls_dir", "pg_stat_file", "pg_ls_logdir", "pg_ls_waldir",
    "get_lock", "release_lock", "load_file", "sys_exec", "sys_eval",
    # index maintenance a table's owner may run, and PostgreSQL 15 runs in a READ ONLY one
    "brin_summarize_new_values", "brin_summarize_range", "brin_desummarize_range",
    "gin_clean_pending_list",
])
def test_more_functions_that_act_on_the_server(function):
    assert f"{function}()" in (sql_problem(f"SELECT {function.upper()}(1, 2)") or "")


@pytest.mark.parametrize("query", [
    "SELECT lo_create(0)", "SELECT lo_creat(-1)", "SELECT lo_from_bytea(0, 'x')",
    "SELECT lo_put(16400, 0, 'x')", "SELECT lowrite(lo_open(16400, 131072), 'x')",
    "SELECT lo_truncate(lo_open(16400, 131072), 0)",
    "SELECT lo_truncate64(lo_open(16400, 131072), 0)", "SELECT lo_unlink(16400)",
])
def test_large_object_writes_are_not_reads(query):
    # PostgreSQL before 17 runs each of these in a READ ONLY transaction (15.20 here wrote
    # and unlinked large objects): for the sql plugin the table is the only thing that says no
    assert not sql_verdict(query).read
