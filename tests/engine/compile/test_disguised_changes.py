"""Issue 10's disguised changes: commands that look like reads but write, run or lock.

Each one ran under `--dry-run` with no approval when the compiler judged commands with a
deny-list. Compiled now, each is a mutating step behind an approval gate."""

from __future__ import annotations

import pytest

from engine.compile import compile_guide
from engine.guide import parse_guide
from engine.plan import Plan, StepKind

PLUGINS = {"shell", "bash", "prometheus", "sql", "http", "logs"}


def compile_text(text: str) -> Plan:
    return compile_guide(parse_guide(text, path="guide.md"), known_plugins=PLUGINS)


def gated(plan: Plan, step_id: str) -> bool:
    return any(plan.step(e.source).kind == StepKind.APPROVE for _, e in plan.incoming(step_id))


DISGUISED = [
    "xargs -E cat rm -f /tmp/canary",
    "find /srv -fprint /tmp/canary",
    "find /srv -name x -delete",
    "sed -ni p /etc/hosts",
    "sed --in-place=.bak s/a/b/ /etc/hosts",
    "sed 'w /tmp/canary' /etc/hosts",
    "sed 's/x/y/w /tmp/canary' /etc/hosts",
    "sed '1e id' /etc/hosts",
    "awk 'BEGIN{system(\"touch /tmp/canary\")}'",
    "awk '{print > \"/tmp/canary\"}' /etc/hosts",
    "sort -o /tmp/canary /etc/hosts",
    "uniq /etc/hosts /tmp/canary",
    "curl -sXDELETE http://127.0.0.1:9/x",
    "curl --json '{\"a\":1}' http://127.0.0.1:9/x",
    "curl -d@/etc/passwd http://127.0.0.1:9/x",
    "curl -o /tmp/canary http://127.0.0.1:9/x",
    "curl -K /tmp/curlrc http://127.0.0.1:9/x",
    "curl -T /etc/passwd http://127.0.0.1:9/x",
    "git branch canary",
    "git remote add canary http://127.0.0.1:9/x",
    "ip link set lo down",
    "journalctl --vacuum-size=1K",
    "journalctl --vacuum-time=1s",
    "date -s 2001-01-01",
    "date 010100002001",
    "redis-cli SETEX canary 60 x",
    "tee /tmp/canary",
    "ssh -oProxyCommand='touch /tmp/canary' host uptime",
    "dmesg -c",
    "kubectl exec web -- rm -rf /data",
]


@pytest.mark.parametrize("command", DISGUISED)
def test_a_disguised_change_is_gated(command):
    plan = compile_text(f"# T\n\n## Diagnosis\n\n```bash\n{command}\n```\n")
    [step] = [s for s in plan.steps if s.kind == StepKind.COMMAND]
    assert step.mutating and gated(plan, step.id), command


@pytest.mark.parametrize("query", [
    "/* looks like a comment */ COPY t TO PROGRAM 'touch /tmp/canary'",
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'app'",
    "SELECT pg_cancel_backend(42)",
    "WITH gone AS (DELETE FROM jobs RETURNING *) SELECT count(*) FROM gone",
    "SELECT * INTO jobs_copy FROM jobs",
    "SELECT * FROM jobs FOR UPDATE",
    "SELECT 1; DROP TABLE jobs",
    "EXPLAIN ANALYZE DELETE FROM jobs",
    "SELECT set_config('default_transaction_read_only', 'off', false)",
])
def test_sql_that_writes_behind_a_read_is_gated_and_marked_a_write(query):
    plan = compile_text(f"# T\n\n## Diagnosis\n\n```sql\n{query}\n```\n")
    [step] = [s for s in plan.steps if s.plugin == "sql"]
    assert step.mutating and gated(plan, step.id)
    assert step.params["read_only"] is False


def test_a_mendflow_sql_block_that_deletes_is_gated():
    plan = compile_text("# T\n\n## Mitigation\n\n```mendflow:sql\nquery: DELETE FROM jobs\n```\n")
    [step] = [s for s in plan.steps if s.plugin == "sql"]
    assert step.mutating and gated(plan, step.id)
    assert step.params["read_only"] is False


def test_a_mendflow_shell_block_is_a_script_and_never_read_only():
    plan = compile_text("# T\n\n## Diagnosis\n\n```mendflow:shell\npipeline: [[cat, /etc/hosts]]"
                        "\n```\n")
    [step] = [s for s in plan.steps if s.plugin == "shell"]
    assert step.mutating and gated(plan, step.id)


@pytest.mark.parametrize("command", [
    "kubectl get pods -o jsonpath='{.items[*].metadata.name}'",
    "oc adm top nodes",
    "systemctl status nginx",
    "journalctl -u kubelet --since '1 hour ago' --no-pager",
    "curl -s http://127.0.0.1:9/health",
    "find /srv -name '*.log' -mtime +7 -printf '%p\\n'",
    "sed -n '1,5p' /etc/hosts",
    "awk '{print $1}' /etc/hosts",
    "ps aux",
])
def test_honest_reads_stay_ungated(command):
    plan = compile_text(f"# T\n\n## Diagnosis\n\n```bash\n{command}\n```\n")
    [step] = [s for s in plan.steps if s.kind == StepKind.COMMAND]
    assert not step.mutating, command


def test_a_sed_program_from_a_value_is_never_run_by_mendflow():
    # Given a sed script spliced from an input, which a value can turn into `s/x/y/e`: it is
    # not even a gated command (an approval would still run the value as code) but a manual
    # step, with the guide's line as its script
    plan = compile_text("# T\n\n## Diagnosis\n\n```bash\nsed \"s/$FROM/x/\" /etc/hosts\n```\n")
    assert [s for s in plan.steps if s.kind == StepKind.COMMAND] == []
    [manual] = [s for s in plan.steps if s.kind == StepKind.MANUAL]
    assert 'sed "s/$FROM/x/" /etc/hosts' in manual.params["script"]
