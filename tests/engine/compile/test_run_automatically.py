"""Commands a guide means to run that stayed a person's step only because the compiler did not
know the tool's non-interactive form.

From a seeded sample of 150 gold command lines the corpus plans kept as manual steps (issue 11),
the ones a machine may run unattended, each with a one-shot form the session reader did not use:

- `cockroach sql [flags]` opened as a console, then statements typed at it: each statement runs
  as `cockroach sql [flags] -e STATEMENT` (as psql's `-c`); `cockroach sql` with `-u`/`-d` and
  no `-e` is an interactive shell (its short flags were unknown, so the shell ran as a gated
  "command");
- `cqlsh HOST` then CQL: `cqlsh HOST -e STATEMENT`; `sqlite3 FILE` then SQL: `sqlite3 FILE SQL`
  (neither is on the read-only list: both wait for approval);
- `psql [flags] <<EOF` / `mysql <<EOF` ... `EOF`: the statements the console reads from its input,
  one step each in the console's one-shot form;
- `redis-cli -h H` then `INFO memory`, `CONFIG GET maxmemory`: redis commands written in upper
  case, as redis's documentation writes them, are typed at the console (they were read as
  sample output and dropped without a word).

A shell prompt after a console ends it: `$ python3` then `>>> ...` is a person's interpreter,
not a gated command.

What still needs a person stays one: a statement that changes the session's state (`BEGIN`),
a value spliced into a statement (`$PID`), a console that asks for a password; and every write
waits for approval."""

from __future__ import annotations

from engine.compile.sessions import opens_session
from engine.effects import classify
from tests.support.compiling import compile_text, gated, manual_scripts, pipelines, runs


def guide(block: str, tag: str = "shell") -> str:
    return f"# Slow database\n\n## Diagnosis\n\nLook at the database:\n\n```{tag}\n{block}\n```\n"


# -- cockroach sql ---------------------------------------------------------------------------

def test_statements_typed_at_cockroach_sql_run_with_e() -> None:
    plan = compile_text(guide("cockroach sql --insecure --host=localhost:26257\n"
                              "SHOW RANGES FROM TABLE t;\n"
                              "SELECT count(*) FROM crdb_internal.ranges;"))
    assert pipelines(plan) == [
        [["cockroach", "sql", "--insecure", "--host=localhost:26257", "-e",
          "SHOW RANGES FROM TABLE t;"]],
        [["cockroach", "sql", "--insecure", "--host=localhost:26257", "-e",
          "SELECT count(*) FROM crdb_internal.ranges;"]]]
    assert not any(s.mutating or gated(plan, s.id) for s in runs(plan))
    assert not manual_scripts(plan)


def test_a_change_typed_at_cockroach_sql_is_gated() -> None:
    plan = compile_text(guide("cockroach sql --insecure\n"
                              "ALTER RANGE default CONFIGURE ZONE USING num_replicas=1;"))
    step = runs(plan)[0]
    assert step.params["pipeline"][0][-2:] == [
        "-e", "ALTER RANGE default CONFIGURE ZONE USING num_replicas=1;"]
    assert step.mutating and gated(plan, step.id)


def test_only_cockroach_sql_without_e_opens_a_console() -> None:
    assert opens_session("cockroach sql --insecure --host=db1")
    assert not opens_session("cockroach sql --insecure -e 'SHOW DATABASES'")
    assert not opens_session("cockroach node status --insecure")
    assert not opens_session("cockroach start --insecure --store=/data")


def test_a_cockroach_sql_shell_with_user_and_database_is_a_persons() -> None:
    # `-u demo -d defaultdb` and no `-e`: an interactive SQL shell, never a run step
    argv = ["cockroach", "sql", "--certs-dir=/c", "-u", "demo", "-d", "defaultdb"]
    assert classify(argv).effect == "interactive"
    assert classify([*argv, "-e", "SELECT 1"]).effect == "read"
    plan = compile_text(guide(" ".join(argv)))
    assert not runs(plan)
    assert manual_scripts(plan) == [" ".join(argv)]


# -- cqlsh, sqlite3 ---------------------------------------------------------------------------

def test_cql_typed_at_cqlsh_runs_with_e_after_approval() -> None:
    plan = compile_text(guide("cqlsh 10.0.0.1\nSELECT peer FROM system.peers;"))
    assert pipelines(plan) == [[["cqlsh", "10.0.0.1", "-e", "SELECT peer FROM system.peers;"]]]
    # one reading statement in -e: read-only, as mysql -e (test_styles11)
    assert not gated(plan, runs(plan)[0].id)


def test_sql_typed_at_sqlite3_runs_after_the_database_file() -> None:
    plan = compile_text(guide("sqlite3 /var/lib/grafana/grafana.db\n"
                              "select count(*) from alert;"))
    assert pipelines(plan) == [[["sqlite3", "/var/lib/grafana/grafana.db",
                                 "select count(*) from alert;"]]]
    assert gated(plan, runs(plan)[0].id)


def test_sqlite3_without_one_database_file_stays_a_persons() -> None:
    # no file: the statement would be read as the database's name
    plan = compile_text(guide("sqlite3\nselect 1;"))
    assert not runs(plan)
    plan = compile_text(guide("sqlite3 -cmd '.read x.sql' app.db\nselect 1;"))
    assert not runs(plan)


# -- a console fed by a heredoc ---------------------------------------------------------------

def test_statements_fed_to_psql_by_a_heredoc_run_one_each() -> None:
    plan = compile_text(guide("psql -h db.example.com -U monitor <<EOF\n"
                              "select state, count(*) from pg_stat_activity group by 1;\n"
                              "select count(*)\n  from pg_locks where not granted;\n"
                              "EOF"))
    assert pipelines(plan) == [
        [["psql", "-h", "db.example.com", "-U", "monitor", "-c",
          "select state, count(*) from pg_stat_activity group by 1;"]],
        [["psql", "-h", "db.example.com", "-U", "monitor", "-c",
          "select count(*)\n  from pg_locks where not granted;"]]]
    assert not any(s.mutating or gated(plan, s.id) for s in runs(plan))
    assert runs(plan)[0].text == ("psql -h db.example.com -U monitor\n"
                                  "select state, count(*) from pg_stat_activity group by 1;")


def test_a_quoted_heredoc_to_mysql_runs_with_e() -> None:
    plan = compile_text(guide("mysql -h db2 <<'SQL'\nSHOW PROCESSLIST;\nSQL"))
    assert pipelines(plan) == [[["mysql", "-h", "db2", "-e", "SHOW PROCESSLIST;"]]]


def test_a_write_fed_by_a_heredoc_is_gated() -> None:
    plan = compile_text(guide("psql -h db <<EOF\n"
                              "select pg_cancel_backend(pid) from pg_stat_activity "
                              "where state = 'active';\nEOF"))
    step = runs(plan)[0]
    assert step.mutating and gated(plan, step.id)


def test_a_heredoc_that_needs_its_session_or_a_value_stays_a_persons() -> None:
    for body in ("BEGIN;\nselect 1;", "select * from pg_stat_activity where pid = $PID;"):
        plan = compile_text(guide(f"psql <<EOF\n{body}\nEOF"))
        assert not runs(plan), body
        assert manual_scripts(plan) == [f"psql <<EOF\n{body}\nEOF"]


def test_a_heredoc_to_a_console_that_asks_for_a_password_stays_a_persons() -> None:
    plan = compile_text(guide("mysql -u root -p <<EOF\nSHOW PROCESSLIST;\nEOF"))
    assert not runs(plan)


# -- redis commands written in upper case --------------------------------------------------------

def test_upper_case_redis_commands_typed_at_redis_cli_run() -> None:
    plan = compile_text(guide("redis-cli -h cache1 -p 6380\n"
                              "INFO memory\n"
                              "SLOWLOG GET 10\n"
                              "CONFIG SET maxmemory 2gb"))
    head = ["redis-cli", "-h", "cache1", "-p", "6380"]
    assert pipelines(plan) == [[[*head, "INFO", "memory"]], [[*head, "SLOWLOG", "GET", "10"]],
                               [[*head, "CONFIG", "SET", "maxmemory", "2gb"]]]
    info, slowlog, config = runs(plan)
    assert not info.mutating and not gated(plan, info.id)
    assert not gated(plan, slowlog.id)
    assert config.mutating and gated(plan, config.id)


def test_what_redis_printed_still_does_not_run() -> None:
    plan = compile_text(guide("redis-cli -h cache1\nINFO memory\n# Memory\n"
                              "used_memory:1024\nOK"))
    assert pipelines(plan) == [[["redis-cli", "-h", "cache1", "INFO", "memory"]]]


def test_upper_case_words_after_a_shell_command_are_not_redis_commands() -> None:
    plan = compile_text(guide("kubectl get pods\nGET ready"))
    assert pipelines(plan) == [[["kubectl", "get", "pods"]]]


# -- a console is over at the shell's prompt ---------------------------------------------------

def test_an_interpreter_after_a_console_stays_a_persons() -> None:
    # `$ python3` then `>>> ...` after a psql console: the prompt says the console is over, and
    # the interpreter the person types into is theirs (it ran as a gated "command" before)
    plan = compile_text("# S\n\n## Diagnosis\n\nLook:\n\n```\n$ psql -h db\n"
                        "db=# select count(*) from jobs;\n```\n\n```\n$ python3\n"
                        ">>> import ssl; print(ssl.OPENSSL_VERSION)\n```\n")
    assert pipelines(plan) == [[["psql", "-h", "db", "-c", "select count(*) from jobs;"]]]
    assert "python3\nimport ssl; print(ssl.OPENSSL_VERSION)" in manual_scripts(plan)
