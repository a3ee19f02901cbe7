"""Trust, session 11: what runs unattended, and what it may take as evidence.

1. An environment prefix that only selects a configuration, a locale or an output format
   (`ETCDCTL_API=3 etcdctl endpoint health`, `LANG=C df -h`) with a value the guide wrote
   leaves the command its own verdict; before, every `NAME=value cmd` was a change, and a
   read behind one always waited for an approval. Any other variable, or a value that
   expands, still can change what the program runs.
3. A command that fails in an `a && b` list inside a loop (`for f in A B; do cat $f && echo;
   done`) fails the step: bash's ERR trap does not fire there and the loop's status is its
   last pass's, so a log that could not be read left the step ok and "Otherwise, no action is
   needed" ended the run healthy. A test's or grep's "no" is still an answer, and a list with
   `||` (a branch for the failure) or in a condition is the guide's own handling.
4. `curl -L URL` (and wget, which follows redirects by default) where a value gives the URL
   (an alert's label) went wherever the server it names redirected it, unattended: the
   table now judges it a change, gated with the reason; `--max-redirs 0`
   (`--max-redirect=0`), no `-L`, or a URL the guide wrote out still reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.compile import compile_guide
from engine.effects import step_verdict
from engine.guide import parse_guide
from engine.plan import StepKind
from engine.store.base import RunRecord
from tests.support.compiling import compile_text, gated
from tests.support.running import run_locally

# -- 1. environment prefixes ---------------------------------------------------------------

SETTINGS = [
    "ETCDCTL_API=3 etcdctl endpoint health",
    "KUBECONFIG=/etc/kubernetes/admin.conf kubectl get nodes",
    "LANG=C df -h",
    "LC_ALL=C.UTF-8 TZ=UTC date",
    "PAGER=cat git log -1",
    "AWS_PROFILE='prod' aws ec2 describe-instances",
]
CHANGES = [
    "LD_PRELOAD=/tmp/x.so df -h",
    "PATH=/tmp/bin:/usr/bin df -h",
    "BASH_ENV=/tmp/x df -h",
    "GIT_SSH_COMMAND='touch /tmp/canary' git log -1",
    "KUBE_EDITOR=/tmp/x kubectl get nodes",
    "PAGER=less git log -1",
    "KUBECONFIG=$(ls /tmp/*.conf | head -1) kubectl get nodes",
    "KUBECONFIG=~/x.conf kubectl get nodes",
    "LANG=C kubectl delete pod web-0",
    "PGOPTIONS='-c default_transaction_read_only=off' psql -c 'select 1'",
]


def _step_of(line: str):
    plan = compile_text(f"## Check\n\n```bash\n{line}\n```\n")
    (step,) = [s for s in plan.steps if s.kind == StepKind.COMMAND]
    return plan, step


@pytest.mark.parametrize("line", SETTINGS)
def test_a_setting_before_a_read_leaves_it_a_read(line: str) -> None:
    plan, step = _step_of(line)
    assert step.params["script"] == line
    assert not step.mutating and not gated(plan, step.id)
    # the runtime asks the same table just before the step runs
    assert step_verdict("bash", step.params, plan_params=step.params).read


@pytest.mark.parametrize("line", CHANGES)
def test_any_other_prefix_or_value_stays_a_change(line: str) -> None:
    plan, step = _step_of(line)
    assert step.mutating and gated(plan, step.id)
    assert not step_verdict("bash", {"script": line}).read


def test_a_shell_steps_environment_follows_the_same_rule() -> None:
    reading = {"pipeline": [["df", "-h"]], "env": {"LANG": "C"}}
    assert step_verdict("shell", reading, plan_params=reading).read
    # a value from a template (an alert's label) is not one the guide wrote out
    rendered = {"pipeline": [["df", "-h"]], "env": {"LANG": "C"}}
    planned = {"pipeline": [["df", "-h"]], "env": {"LANG": "{{ inputs.lang }}"}}
    assert not step_verdict("shell", rendered, plan_params=planned).read
    preload = {"pipeline": [["df", "-h"]], "env": {"LD_PRELOAD": "/tmp/x.so"}}
    assert not step_verdict("shell", preload, plan_params=preload).read


# -- 3. a failure inside a loop's `&&` list ------------------------------------------------

LOOP_GUIDE = """# Errors on the API

## Diagnosis

1. Look for errors in the API's logs:

   ```
   {line}
   ```

   If the output contains `ERROR`, escalate to the API team. Otherwise, no action is needed.
"""


def _run_loop(tmp_path: Path, line: str) -> RunRecord:
    (tmp_path / "ok.log").write_text("all good\n")
    text = line.format(missing=tmp_path / "missing.log", ok=tmp_path / "ok.log")
    plan = compile_guide(parse_guide(LOOP_GUIDE.format(line=text), path="g.md"))
    assert [s.plugin for s in plan.steps if s.kind == StepKind.COMMAND] == ["bash"]
    return run_locally(plan, tmp_path)


@pytest.mark.parametrize("line", [
    'for f in {missing} {ok}; do cat $f && echo "-- $f"; done',
    "printf '%s\\n' {missing} {ok} | while read -r f; do cat $f && echo \"-- $f\"; done",
    'for f in {missing} {ok}; do cat $f && wc -l $f && echo; done',
])
def test_a_log_a_loop_could_not_read_is_no_evidence_of_health(tmp_path: Path,
                                                               line: str) -> None:
    record = _run_loop(tmp_path, line)
    assert record.outcome != "no_action", record.reason
    assert record.outcome == "inconclusive"
    assert "`cat $f` exited with status 1 inside" in (record.reason or "")


@pytest.mark.parametrize("line", [
    "for f in {missing} {ok}; do test -f $f && cat $f; done",
    "for f in {ok} {ok}; do cat $f | grep -q ERROR && echo $f; done; echo checked",
    "for f in {missing} {ok}; do cat $f 2>/dev/null && echo read || echo skipped; done",
    "for f in {missing} {ok}; do (cat $f && echo read) || echo skipped; done",
    "for f in {missing} {ok}; do if cat $f && true; then echo; fi; done",
])
def test_an_answer_or_the_guides_own_handling_still_decides(tmp_path: Path, line: str) -> None:
    record = _run_loop(tmp_path, line)
    assert record.outcome == "no_action", record.reason


# -- 4. a redirect followed from a URL a value gives ---------------------------------------

@pytest.mark.parametrize(("line", "reads"), [
    ("curl -sL https://grafana.example.com/d/<dashboard_uid>", False),
    ("curl -fsS --location https://<host>/healthz", False),
    ("wget -qO- https://<host>/metrics", False),
    ("curl -sL --max-redirs 0 https://<host>/healthz", True),
    ("wget -qO- --max-redirect=0 https://<host>/metrics", True),
    ("curl -s https://grafana.example.com/d/<dashboard_uid>", True),
    ("curl -sL https://grafana.example.com/api/health", True),
])
def test_a_redirect_is_followed_only_from_a_url_the_guide_wrote(line: str, reads: bool) -> None:
    plan, step = _step_of(line)
    assert step.plugin == "shell"
    assert step.mutating is not reads and gated(plan, step.id) is not reads
    verdict = step_verdict("shell", step.params, plan_params=step.params)
    assert verdict.read is reads
    if not reads:
        assert "follows redirects from a URL a value gives" in verdict.reason


def test_the_runtime_judges_the_rendered_url_by_the_plans_template() -> None:
    planned = {"pipeline": [["curl", "-sL", "{{ inputs.url }}"]]}
    rendered = {"pipeline": [["curl", "-sL", "https://grafana.example.com/"]]}
    assert not step_verdict("shell", rendered, plan_params=planned).read
    assert not step_verdict("bash", {"script": 'curl -sL "$URL"',
                                     "args": {"URL": "{{ inputs.url }}"}}).read
