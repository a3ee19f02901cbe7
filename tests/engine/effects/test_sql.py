"""SQL read-only only as one reading statement that calls no server-side effect function."""

from __future__ import annotations

import pytest

from engine.effects import sql_verdict


@pytest.mark.parametrize("query", [
    "SELECT 1", "select count(*) from jobs;", "-- why\nSELECT 1", "/* a /* nested */ b */ SELECT 1",
    "WITH x AS (SELECT 1) SELECT * FROM x", "SHOW work_mem", "EXPLAIN SELECT * FROM t",
    "VALUES (1), (2)", "TABLE jobs", "SELECT 'delete; drop table t' AS s",
    'SELECT "update", "into" FROM t', "SELECT $$;DELETE FROM t$$", "SELECT E'\\';DELETE'",
    "SELECT pg_sleep(1)", "SELECT comment, updated_at FROM notes",
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
])
def test_not_reads(query, said):
    verdict = sql_verdict(query)
    assert verdict.effect == "mutate" and said in verdict.reason


def test_read_only_false_is_a_write_whatever_the_text():
    assert not sql_verdict("SELECT 1", read_only=False).read
