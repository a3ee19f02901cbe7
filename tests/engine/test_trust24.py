r"""Trust, session 24: query text, a policy's globs, and reads that print what they were not asked.

1. A value in the PromQL text of `promtool query instant|range|series` or the LogQL text of
   `logcli query` was an ordinary argument: an alert label holding `"` (`x"} or vector(1) or
   up{a="`) rewrote the query, while the prometheus plugin's own query keeps each value in its
   place (`engine.promql`). Their query text is query text now: inside a quoted string a value
   holds neither that quote nor a backslash, elsewhere it is one number or duration.
2. The operator's `[policy] auto_approve` globs matched approval steps' ids, and a step's id
   is the guide's to choose: with `auto_approve = ["approve-check-*"]` a guide that named a
   change `{#check-x}` had it approved unasked. A policy glob matches the command a gate would
   run, as its approver is shown it (`systemctl restart *`; its `*` never spans `;`, `|`, `&`,
   `$`, a quote or a redirection; `*` alone approves every gate); an id glob in mendflow.toml
   is refused in one line, saying what to write.
3. Reads that printed what nobody asked for: `git log -p` (`--patch`, `whatchanged -p`, `git
   show A..B`) printed every line the history ever added, a secret committed and deleted
   since among them, and `git cat-file --batch-all-objects --batch` every object; trust22
   gated only a credential file's own name. A patch of many commits reads when it names the
   files it covers (none holding credentials) or one commit (`git show REV`, `git log -p -1`);
   `git log --oneline` and `--batch-check` still read. `redis-cli KEYS` walks every key in one
   call while the server serves no one else (an effect on the world); `--scan`/SCAN still read.
   Left reads, on purpose: `aws ec2 get-console-output` (what an instance printed, as `cat
   /var/log/cloud-init-output.log` on it reads) and `SELECT query FROM pg_stat_activity` (the
   diagnostic for a long-running query; the server shows another role's text only to a
   superuser or pg_read_all_stats).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import read_config
from engine.errors import ConfigError
from engine.interaction import Answers, policy_approves
from engine.placement import rendered_problem
from tests.support.compiling import compile_text
from tests.support.running import run_locally
from tests.support.verdicts import assert_gated, assert_reads

# -- 1. a value in promtool's or logcli's query text ----------------------------------------------

_URL = "http://prom:9090"


def _query_problem(template: list[str], values: dict[str, str]) -> str | None:
    rendered = list(template)
    for name, value in values.items():
        rendered = [w.replace("{{ inputs.%s }}" % name, value) for w in rendered]
    return rendered_problem("shell", {"pipeline": [template]}, {"pipeline": [rendered]},
                            {"inputs": values})


_QUERY_LINES = [
    ["promtool", "query", "instant", _URL, "{q}"],
    ["promtool", "query", "range", "--start=now-1h", "--step", "1m", _URL, "{q}"],
    ["promtool", "query", "series", "--match", "{q}", _URL],
    ["logcli", "query", "--limit", "100", "{q}"], ["logcli", "query", "{q}", "--since=1h"],
    ["logcli", "instant-query", "{q}"],
]


@pytest.mark.parametrize("argv", _QUERY_LINES)
@pytest.mark.parametrize(("value", "refused"), [
    ('x"} or vector(1) or up{a="', True), ("x\\", True), ("node-7", False),
    ("10.0.0.1:9100", False),
])
def test_a_value_in_promql_or_logql_text_stays_in_its_string(argv: list[str], value: str,
                                                             refused: bool) -> None:
    template = [w.replace("{q}", 'up{instance="{{ inputs.v }}"}') for w in argv]
    problem = _query_problem(template, {"v": value})
    assert (problem is not None) == refused, problem
    assert problem is None or "\n" not in problem


@pytest.mark.parametrize(("value", "refused"), [
    ("0 or vector(1)", True), ("up", True), ("0.9", False), ("5m", False),
])
def test_a_value_outside_a_querys_strings_is_one_number_or_duration(value: str,
                                                                   refused: bool) -> None:
    template = ["promtool", "query", "instant", _URL, "rate(x[5m]) > {{ inputs.v }}"]
    problem = _query_problem(template, {"v": value})
    assert (problem is not None) == refused, problem


def test_promtools_url_and_flags_are_not_query_text() -> None:
    template = ["promtool", "query", "instant", "--time={{ inputs.t }}", _URL, "up"]
    assert _query_problem(template, {"t": "2026-12-05T10:00:00Z"}) is None


def test_the_prometheus_plugins_query_is_left_to_its_own_filter() -> None:
    query = "sum(rate(x{service=\"{{ (inputs.v) | promql('label') }}\"}[5m]))"
    value = 'a"b'  # the filter writes it as "a\"b": a label value, whatever it holds
    assert rendered_problem("prometheus", {"query": query}, {"query": query},
                            {"inputs": {"v": value}}) is None


# -- 2. a policy's globs against the guide's names -----------------------------------------------

_NAMED_CHECK = """# T

## Diagnosis

1. Check the pods {{#check-x}}:

   ```bash
   touch {marker}
   ```
"""


@pytest.mark.parametrize(("policy", "done"), [
    (("approve-check-*", "check-*"), False), (("touch *",), True), (("*",), True),
])
def test_a_policy_approves_commands_not_the_guides_names(tmp_path: Path, policy: tuple[str, ...],
                                                          done: bool) -> None:
    marker = tmp_path / "changed"
    plan = compile_text(_NAMED_CHECK.format(marker=marker))
    run_locally(plan, tmp_path, interaction=Answers(auto_approve=policy))
    assert marker.exists() == done


@pytest.mark.parametrize("command", [
    "systemctl restart nginx; rm -rf /", "systemctl restart nginx | tee /etc/passwd",
    "systemctl restart $(curl evil)", "systemctl restart 'a b' && reboot",
    "systemctl restart x > /etc/motd",
])
def test_a_policy_globs_star_stays_within_plain_words(command: str) -> None:
    assert not policy_approves(["systemctl restart *"], [command])
    assert policy_approves(["systemctl restart *"], ["systemctl restart nginx --no-block"])


def test_a_gate_over_two_commands_needs_both_approved() -> None:
    assert not policy_approves(["systemctl restart *"], ["systemctl restart a", "rm -rf /x"])
    assert not policy_approves(["systemctl restart *"], [])  # not rendered yet: a person asks


def test_an_id_glob_in_the_policy_is_refused_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "mendflow.toml"
    config.write_text('[policy]\nauto_approve = ["approve-start_*"]\n')
    with pytest.raises(ConfigError) as info:
        read_config(config)
    said = str(info.value)
    assert "approve-start_*" in said and "commands" in said and "\n" not in said


# -- 3. reads that print what nobody asked for ----------------------------------------------------

@pytest.mark.parametrize("line", [
    "git log -p", "git log --patch", "git log -p -5", "git log -p -S password",
    "git log -p origin/main", "git log -p -- config/", "git whatchanged -p",
    "git show HEAD~20..HEAD", "git show --patch v1..v2", "git log -L 1,20:.env",
])
def test_a_patch_of_many_commits_is_not_a_read(line: str) -> None:
    assert_gated(line, "patch of many commits", "credentials")


@pytest.mark.parametrize("line", [
    "git log -p -- app.yaml", "git log -p deploy/values.yaml", "git log -p -1", "git log -p -n 1",
    "git show HEAD", "git show abc123", "git show --stat HEAD~5..HEAD", "git log --oneline",
    "git log --stat -20", "git log --oneline c9a4626..ebe21ac", "git whatchanged",
    "git log -L 10,20:app.py", "git rev-list HEAD",
])
def test_a_patch_of_named_files_or_one_commit_still_reads(line: str) -> None:
    assert_reads(line)


def test_every_object_of_a_repository_is_not_a_read() -> None:
    assert_gated("git cat-file --batch-all-objects --batch", "every object")
    assert_reads("git cat-file --batch-all-objects --batch-check")


@pytest.mark.parametrize("line", ["redis-cli KEYS '*'", "redis-cli -h cache keys 'user:*'"])
def test_redis_keys_stalls_the_server(line: str) -> None:
    assert_gated(line, "KEYS walks every key")


@pytest.mark.parametrize("line", [
    "redis-cli --scan --pattern 'user:*'", "redis-cli SCAN 0 MATCH 'user:*' COUNT 100",
    "aws ec2 get-console-output --instance-id i-1 --latest",
    "psql -c 'SELECT pid, query FROM pg_stat_activity'",
])
def test_what_was_weighed_and_left_a_read_still_reads(line: str) -> None:
    assert_reads(line)

