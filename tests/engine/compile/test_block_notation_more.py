"""Two notations the block reader misread: a quoted `Header: value` inside a command is not
`Key: value` output, and `% ` (zsh, csh) is a prompt before a known tool."""

from __future__ import annotations

from engine.plan import Plan, StepKind
from tests.support.compiling import compile_text


def argvs(plan: Plan) -> list[list[str]]:
    return [s.params["pipeline"][0] for s in plan.steps
            if s.kind == StepKind.COMMAND and s.plugin == "shell"]


def test_a_header_in_quotes_does_not_make_a_command_output() -> None:
    plan = compile_text("# Mirrors\n\n## Diagnosis\n\nFetch a page from each mirror:\n\n"
                        "```bash\n# Primary mirror\n"
                        "curl -H 'Backend-Override: mirrorS3' https://www.example.org/\n\n"
                        "# Secondary mirror\n"
                        "curl -H 'Backend-Override: mirrorGCS' https://www.example.org/\n```\n")
    assert argvs(plan) == [["curl", "-H", "Backend-Override: mirrorS3", "https://www.example.org/"],
                           ["curl", "-H", "Backend-Override: mirrorGCS", "https://www.example.org/"]]


def test_key_value_output_is_still_output() -> None:
    plan = compile_text("# T\n\n## Diagnosis\n\n```bash\nkubectl describe pod web-0\n"
                        "Status: Running\nNode: worker-1\n```\n")
    assert argvs(plan) == [["kubectl", "describe", "pod", "web-0"]]


def test_a_percent_prompt_marks_the_command_and_not_its_output() -> None:
    plan = compile_text("# Ingress\n\n## Diagnosis\n\nNote the restart count in the example "
                        "output below.\n\n```\n% kubectl get pods -n ingress -l app=nginx\n"
                        "NAME                 READY   STATUS    RESTARTS   AGE\n"
                        "nginx-7f9c-cjd9b     1/1     Running   0          24h\n```\n")
    assert argvs(plan) == [["kubectl", "get", "pods", "-n", "ingress", "-l", "app=nginx"]]


def test_curl_progress_is_not_a_percent_prompt() -> None:
    plan = compile_text("# T\n\n## Diagnosis\n\n```console\n$ curl -O https://example.org/x\n"
                        "  % Total    % Received % Xferd  Average Speed   Time\n"
                        "100  1256  100  1256    0     0   5000      0 --:--:--\n```\n")
    assert [a[0] for a in argvs(plan)] == ["curl"]


def test_a_named_heading_keeps_its_name_when_a_paragraph_introduces_its_block() -> None:
    plan = compile_text("# T\n\n## Dump the runs {#dump}\n\nRead the last day of runs:\n\n"
                        "```bash\nkubectl get jobs -A\n```\n")
    assert [s.id for s in plan.steps if s.kind == StepKind.COMMAND] == ["dump"]


def test_an_sql_block_with_the_table_its_statement_printed_runs_the_statement() -> None:
    plan = compile_text("# T\n\n## Diagnosis\n\nFind the contended keys:\n\n```sql\n"
                        "SELECT contending_key, count(*)\nFROM crdb_internal.contention_events\n"
                        "GROUP BY contending_key ORDER BY count(*) DESC;\n\n"
                        "  contending_key | count\n-----------------+--------\n"
                        "  \\xf67f8a12     |  4756\n```\n")
    [query] = [s for s in plan.steps if s.kind == StepKind.QUERY]
    assert query.plugin == "sql" and query.params["query"].rstrip().endswith("DESC;")
    assert "4756" not in query.params["query"]


def test_an_untagged_promql_query_with_comment_lines_is_a_query() -> None:
    plan = compile_text("# T\n\n## Diagnosis\n\nRun the following instant query:\n\n```\n(\n"
                        "  sum by(user) "
                        "(cortex_ingester_memory_series{namespace=\"<namespace>\"})\n"
                        ")\n> 200000\n# Uncomment to see one shard only:\n"
                        "# and count by(user) (cortex_ingester_active_series{pod=\"x\"})\n```\n")
    [query] = [s for s in plan.steps if s.kind == StepKind.QUERY]
    assert query.plugin == "prometheus" and "namespace" in [i.name for i in plan.inputs]


def test_a_sysv_service_script_is_a_command_in_any_block() -> None:
    # `/etc/init.d/x start` names a program outside the bin folders: it was read as output
    for fence in ("```bash", "```"):
        plan = compile_text(f"# T\n\n## Mitigation\n\nStart the server:\n\n{fence}\n"
                            "/etc/init.d/clickhouse-server start\n```\n")
        [step] = [s for s in plan.steps if s.kind == StepKind.COMMAND]
        assert step.params["pipeline"] == [["/etc/init.d/clickhouse-server", "start"]]
        assert step.mutating  # a service start is gated like `systemctl start`


def test_a_wrapper_with_an_option_value_and_a_quoted_command_is_a_command() -> None:
    # `watch -n 30 'cmd'` was read as output (30 is not a command) and dropped; it never
    # ends, so it is a person's step
    plan = compile_text("# T\n\n## Diagnosis\n\nWatch the cluster:\n\n```\n"
                        "watch -n 30 'patronictl list'\n```\n")
    assert [s.params.get("script") for s in plan.steps if s.kind == StepKind.MANUAL] == \
        ["watch -n 30 'patronictl list'"]
    # `timeout 30s cmd` runs cmd
    plan = compile_text("# T\n\n## Diagnosis\n\n```\ntimeout 30s kubectl get pods -A\n```\n")
    assert argvs(plan) == [["timeout", "30s", "kubectl", "get", "pods", "-A"]]


def test_a_prompt_before_a_query_is_not_part_of_the_query() -> None:
    # `$ expr` in a promql block: Prometheus was sent "$ kmp_mac_collisions > 1"
    plan = compile_text("# T\n\n## Diagnosis\n\n```promql\n$ kmp_mac_collisions > 1\n```\n")
    [query] = [s for s in plan.steps if s.kind == StepKind.QUERY]
    assert query.params["query"] == "kmp_mac_collisions > 1"


def test_a_shell_line_in_a_query_block_makes_it_a_transcript_for_a_person() -> None:
    # `$ cat schema.sql` then the file's SQL: the shell line was sent to the database
    plan = compile_text("# T\n\n## Mitigation\n\n```sql\n$ cat /home/ubuntu/schema.sql\n"
                        "SELECT name FROM system.databases;\n```\n")
    assert not [s for s in plan.steps if s.kind in (StepKind.QUERY, StepKind.COMMAND)]
    assert [s.params.get("script") for s in plan.steps if s.kind == StepKind.MANUAL] == \
        ["$ cat /home/ubuntu/schema.sql\nSELECT name FROM system.databases;"]


def test_a_prompted_query_whose_metric_starts_like_a_tool_is_still_the_query() -> None:
    plan = compile_text("# T\n\n## Diagnosis\n\n```promql\n"
                        "$ kubevirt_vm_rbd_volume_without_rxbounce == 1\n```\n")
    [query] = [s for s in plan.steps if s.kind == StepKind.QUERY]
    assert query.params["query"] == "kubevirt_vm_rbd_volume_without_rxbounce == 1"


def test_the_lines_after_a_login_run_here_again() -> None:
    # a login is a person's step; it opens no shell, so the push after it runs (gated)
    plan = compile_text("# T\n\n## Mitigation\n\n```bash\ndocker login\n"
                        "docker push registry.example/app:debug\n```\n")
    assert argvs(plan) == [["docker", "push", "registry.example/app:debug"]]
    assert [s.params.get("script") for s in plan.steps if s.kind == StepKind.MANUAL] == \
        ["docker login"]


def test_an_untagged_sql_statement_alone_is_a_persons_not_sample_output() -> None:
    # `ALTER DEFAULT PRIVILEGES ... GRANT ...;` in an untagged block was ignored as sample
    # output: a grant the guide tells the DBA to make was nowhere in the plan.
    plan = compile_text("# Grants\n\n## Mitigation\n\nRun this in the psql console:\n\n```\n"
                        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO "
                        "analytics;\n```\n\nThen raise the timeout:\n\n```\n"
                        "set statement_timeout to '1h';\n```\n")
    scripts = [s.params.get("script") for s in plan.steps if s.kind == StepKind.MANUAL]
    assert scripts == ["ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO "
                       "analytics;", "set statement_timeout to '1h';"]
    assert not plan.ignored


def test_option_lines_are_not_sql_comments() -> None:
    # `--format csv` lines start like an SQL comment; with no statement they are no SQL
    plan = compile_text("# T\n\n## Diagnosis\n\nThe flags:\n\n```\n--format csv\n"
                        "--csv-separator ','\n```\n")
    assert not [s for s in plan.steps if s.kind == StepKind.MANUAL and s.params.get("script")]
