"""Statements typed into a database console run with the console's one-shot form.

A guide that opens `sudo gitlab-psql` (or `psql -h H -U U db`, `mysql -u root`, `redis-cli -h
H`, `clickhouse-client`) and types `select ...;` at it means that statement to run in that
console. Each statement becomes one step running the opener's argv plus the tool's flag for
one statement: `-c STATEMENT` (psql), `-e STATEMENT` (mysql), `--query STATEMENT`
(clickhouse-client), the command's words (redis-cli). The read-only table judges the wrapped
argv: reads run ungated, writes wait for approval. What only a person can do in the console
(`\\! cmd`, a statement with a value to fill in, a change of the session's state such as
`BEGIN` or `\\c db`) stays a manual step, and the console's printed lines never run. Before,
every console session was one manual step."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.compiling import compile_text, gated, manual_scripts, pipelines, runs


def guide(block: str, tag: str = "") -> str:
    return f"# Slow database\n\n## Diagnosis\n\nLook at the database:\n\n```{tag}\n{block}\n```\n"


def test_a_read_typed_at_gitlab_psql_runs_ungated_with_c() -> None:
    plan = compile_text(guide("$ sudo gitlab-psql\n"
                              "gitlabhq_production=# select count(*) from ci_builds;\n"
                              " count\n-------\n    42\n(1 row)"))
    assert pipelines(plan) == [[["sudo", "gitlab-psql", "-c", "select count(*) from ci_builds;"]]]
    step = runs(plan)[0]
    assert not step.mutating and not gated(plan, step.id)
    # the step says what the guide wrote, from the opener on
    assert step.text == "sudo gitlab-psql\nselect count(*) from ci_builds;"
    assert step.source.start == 8 and step.source.end == 9


def test_an_update_typed_at_the_console_is_gated() -> None:
    plan = compile_text(guide("psql -h db -U app jobs\n"
                              "UPDATE jobs SET state = 'failed' WHERE id = 7;", "bash"))
    assert pipelines(plan) == [[["psql", "-h", "db", "-U", "app", "jobs", "-c",
                                 "UPDATE jobs SET state = 'failed' WHERE id = 7;"]]]
    step = runs(plan)[0]
    assert step.mutating and gated(plan, step.id)


def test_a_psql_describe_meta_command_runs() -> None:
    plan = compile_text(guide("$ sudo gitlab-psql\ngitlabhq_production=# \\d ci_builds"))
    assert pipelines(plan) == [[["sudo", "gitlab-psql", "-c", "\\d ci_builds"]]]
    assert not runs(plan)[0].mutating


def test_a_shell_escape_in_psql_is_a_persons() -> None:
    plan = compile_text(guide("$ sudo gitlab-psql\ngitlabhq_production=# \\! rm x\n"
                              "gitlabhq_production=# select 1;"))
    assert not runs(plan)  # `\\!` runs a program: a person's, and so is what follows it
    assert any("\\! rm x" in script for script in manual_scripts(plan))


def test_a_statement_with_a_value_to_fill_in_stays_manual() -> None:
    plan = compile_text(guide("$ sudo gitlab-psql\n"
                              "gitlabhq_production=# select pg_cancel_backend(<pid>);\n"
                              "gitlabhq_production=# select now();"))
    assert pipelines(plan) == [[["sudo", "gitlab-psql", "-c", "select now();"]]]
    assert any("select pg_cancel_backend(<pid>);" in script for script in manual_scripts(plan))


def test_a_redis_console_command_becomes_redis_cli_words() -> None:
    plan = compile_text(guide("$ redis-cli -h redis-01\n> slowlog get 10\n"
                              "1) 1) (integer) 14\n   2) (integer) 1700000000\n"
                              "> CONFIG SET slowlog-log-slower-than 1000\nOK"))
    assert pipelines(plan) == [
        [["redis-cli", "-h", "redis-01", "slowlog", "get", "10"]],
        [["redis-cli", "-h", "redis-01", "CONFIG", "SET", "slowlog-log-slower-than", "1000"]]]
    read, write = runs(plan)
    assert not gated(plan, read.id)
    assert write.mutating and gated(plan, write.id)


def test_redis_console_in_a_shell_block_without_prompts() -> None:
    plan = compile_text(guide("sudo gitlab-redis-cli\ninfo replication", "shell"))
    assert pipelines(plan) == [[["sudo", "gitlab-redis-cli", "info", "replication"]]]


def test_what_the_console_printed_never_runs() -> None:
    plan = compile_text(guide("$ mysql -u root\nmysql> show processlist;\n"
                              "+----+------+\n| Id | User |\n+----+------+\n| 5 | root |\n"
                              "1 row in set (0.00 sec)\nmysql> select 1;\n1\nOK"))
    assert pipelines(plan) == [[["mysql", "-u", "root", "-e", "show processlist;"]],
                               [["mysql", "-u", "root", "-e", "select 1;"]]]


def test_a_statement_spanning_lines_runs_as_one_statement() -> None:
    plan = compile_text(guide("$ sudo gitlab-psql\ngitlabhq_production=# select id, name\n"
                              "gitlabhq_production-# from namespaces\n"
                              "gitlabhq_production-# where id = 9;\n id | name\n(1 row)"))
    assert pipelines(plan) == [[["sudo", "gitlab-psql", "-c",
                                 "select id, name\nfrom namespaces\nwhere id = 9;"]]]


def test_an_unprompted_statement_spanning_lines_in_a_shell_block() -> None:
    plan = compile_text(guide("gitlab-psql -d template1\nselect slot_name,\n  active\n"
                              "from pg_replication_slots;\n\\dt", "shell"))
    assert pipelines(plan) == [
        [["gitlab-psql", "-d", "template1", "-c",
          "select slot_name,\n  active\nfrom pg_replication_slots;"]],
        [["gitlab-psql", "-d", "template1", "-c", "\\dt"]]]


def test_statements_on_one_line_run_in_one_psql_session() -> None:
    plan = compile_text(guide("# gitlab-psql -d template1\n"
                              "template1=# select * from pg_replication_slots ; "
                              "select pg_current_wal_lsn();", "shell"))
    assert pipelines(plan) == [[["gitlab-psql", "-d", "template1",
                                 "-c", "select * from pg_replication_slots ;",
                                 "-c", "select pg_current_wal_lsn();"]]]
    assert not runs(plan)[0].mutating


def test_a_change_of_the_sessions_state_hands_the_rest_to_a_person() -> None:
    plan = compile_text(guide("$ sudo gitlab-psql\ngitlabhq_production=# begin;\n"
                              "gitlabhq_production=# lock table x;\n"
                              "gitlabhq_production=# select count(*) from x;"))
    assert not runs(plan)  # each -c would be its own session: the lock would be gone
    assert manual_scripts(plan) == [
        "sudo gitlab-psql\nbegin;\nlock table x;\nselect count(*) from x;"]


def test_a_display_toggle_goes_with_the_statements_after_it() -> None:
    plan = compile_text(guide("$ sudo gitlab-psql\ngitlabhq_production=# \\x\n"
                              "gitlabhq_production=# select * from pg_stat_activity;"))
    assert pipelines(plan) == [[["sudo", "gitlab-psql", "-c", "\\x", "-c",
                                 "select * from pg_stat_activity;"]]]
    assert not runs(plan)[0].mutating


def test_a_console_opened_after_ssh_never_runs_here() -> None:
    plan = compile_text(guide("$ ssh patroni-01\n$ sudo gitlab-psql\n"
                              "gitlabhq_production=# select 1;"))
    # a statement cannot reach the host's console without text spliced into ssh's remote
    # shell: a person runs it there
    assert not runs(plan)
    assert any("ssh patroni-01" in s and "select 1;" in s for s in manual_scripts(plan))


def test_a_console_opened_in_a_pod_shell_runs_in_the_pod() -> None:
    plan = compile_text(guide("kubectl exec -it postgres-0 -n db -- bash\npsql -U postgres\n"
                              "select count(*) from pg_stat_activity;", "bash"))
    assert pipelines(plan) == [[["kubectl", "exec", "postgres-0", "-n", "db", "--", "psql",
                                 "-U", "postgres", "-c",
                                 "select count(*) from pg_stat_activity;"]]]


def test_a_console_opened_after_sudo_i_runs_with_sudo_and_leaves_no_step_behind() -> None:
    plan = compile_text(guide("sudo -i\ngitlab-psql\nselect 1;\nexit\nexit\nuptime", "bash"))
    assert pipelines(plan) == [[["sudo", "gitlab-psql", "-c", "select 1;"]], [["uptime"]]]
    assert runs(plan)[0].text == "sudo -i\ngitlab-psql\nselect 1;"
    assert not manual_scripts(plan)


def test_a_console_that_asks_for_a_password_is_a_persons() -> None:
    plan = compile_text(guide("$ mysql -u root -p\nEnter password:\nmysql> show processlist;"))
    assert not runs(plan)


def test_psql_alone_stays_a_manual_step() -> None:
    plan = compile_text(guide("sudo gitlab-psql", "bash"))
    assert not runs(plan)
    assert manual_scripts(plan) == ["sudo gitlab-psql"]


def test_clickhouse_client_statement_runs_with_query() -> None:
    plan = compile_text(guide("clickhouse-client\nSELECT count() FROM system.parts;", "bash"))
    assert pipelines(plan) == [[["clickhouse-client", "--query",
                                 "SELECT count() FROM system.parts;"]]]
    assert runs(plan)[0].mutating  # clickhouse-client is not on the read-only list


def test_after_quitting_the_console_lines_run_here() -> None:
    plan = compile_text(guide("psql -h db jobs\nselect 1;\n\\q\nuptime", "bash"))
    assert pipelines(plan) == [[["psql", "-h", "db", "jobs", "-c", "select 1;"]], [["uptime"]]]


def test_a_program_of_this_machine_after_the_console_is_never_typed_into_it() -> None:
    plan = compile_text("# Stats\n\n## Diagnosis\n\nOn a redis node run:\n\n```\n"
                        "/opt/gitlab/embedded/bin/redis-cli -p 26379\n```\n\n"
                        "Then find the node from your machine:\n\n```\n"
                        "knife ssh 'roles:redis' 'hostname'\n```\n")
    assert pipelines(plan) == [[["knife", "ssh", "roles:redis", "hostname"]]]


POSTGRES = "127.0.0.1"


def _postgres_up() -> bool:
    if shutil.which("psql") is None:
        return False
    probe = subprocess.run(["psql", "-h", POSTGRES, "-U", "postgres", "-d", "test", "-Atc",
                            "select 1"], capture_output=True, text=True, timeout=10, check=False)
    return probe.returncode == 0


@pytest.mark.skipif(not _postgres_up(), reason="no PostgreSQL at 127.0.0.1:5432 (database test)")
def test_a_compiled_psql_console_guide_runs_end_to_end(tmp_path: Path) -> None:
    """`mendflow run` runs the console's statement against the real database."""
    path = tmp_path / "slow.md"
    path.write_text(guide(f"$ psql -h {POSTGRES} -U postgres test\n"
                          "test=# select 'mendflow-' || 40 + 2 as answer;\n"
                          " answer\n(1 row)"), encoding="utf-8")
    repo = Path(__file__).resolve().parents[3]
    env = {**os.environ, "MENDFLOW_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(repo)}
    out = subprocess.run([sys.executable, "-m", "engine.cli", "run", str(path)], cwd=repo,
                         capture_output=True, text=True, timeout=120, env=env, check=False,
                         stdin=subprocess.DEVNULL)
    assert "mendflow-42" in out.stdout + out.stderr, out.stdout + out.stderr
