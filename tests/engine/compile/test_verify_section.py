"""A runbook's "## Verify" section checks the fix, and a check of an expected word needs that
word. Three defects, one path: under "## Triage / ## Mitigate / ## Verify" the bare "Verify"
was read as a diagnosis and moved before the fix (it checked a service not yet restarted, and
nothing checked it after); its item "`systemctl is-active nginx` returns `active`." (the
heading's verb left out) was a person's step; and the check "the output holds `active`" was a
test of text, so `inactive` passed it: healthy on a failed check."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest

from engine.plan import Plan, StepKind
from tests.support.compiling import compile_text
from tests.support.running import run_locally


def _after(plan: Plan, first: str, then: str) -> bool:
    """Whether the step running `then` can only come after the one running `first`."""
    g = nx.DiGraph()
    g.add_edges_from((e.source, e.target) for e in plan.edges)
    ids = {s.text: s.id for s in plan.steps}
    return nx.has_path(g, ids[first], ids[then]) and not nx.has_path(g, ids[then], ids[first])


RUNBOOK = """# Nginx down

## Triage

Check the service: `systemctl status nginx --no-pager`

## Mitigate

Restart it: `sudo systemctl restart nginx`

## Verify

- `{check}` returns `active`.
- `kubectl -n web get pods -l app=nginx` shows every pod `Running`.
"""


def test_a_verify_section_after_the_fix_runs_after_it() -> None:
    plan = compile_text(RUNBOOK.format(check="systemctl is-active nginx"))
    assert _after(plan, "sudo systemctl restart nginx", "systemctl is-active nginx")


def test_a_check_under_verify_runs_with_the_output_it_must_show() -> None:
    plan = compile_text(RUNBOOK.format(check="systemctl is-active nginx"))
    check = next(s for s in plan.steps if s.text == "systemctl is-active nginx")
    assert check.kind == StepKind.COMMAND
    conditions = [e.condition.text for e in plan.edges
                  if e.source.startswith("if-") and e.condition is not None]
    assert "If the output does not contain `active`" in conditions
    # "shows every pod `Running`" is no test of its output (one pod Running holds the word):
    # a person's step
    pods = next(s for s in plan.steps if "app=nginx" in s.text)
    assert pods.kind == StepKind.MANUAL


def test_an_expected_word_is_not_found_inside_another(tmp_path: Path) -> None:
    # `echo inactive` stands for `systemctl is-active` on a stopped service
    plan = compile_text("""# Service check

## Verify

- `echo inactive` returns `active`.
""")
    record = run_locally(plan, tmp_path)
    assert record.outcome == "escalate", record


def test_an_expected_word_that_is_there_passes(tmp_path: Path) -> None:
    plan = compile_text("""# Service check

## Verify

- `echo active` returns `active`.
""")
    record = run_locally(plan, tmp_path)
    assert record.outcome != "escalate", record


@pytest.mark.parametrize("sentence", [
    "- [ ] `kubectl rollout status deploy/gw -n gw --timeout=120s` succeeds",
    "`nginx -t` should exit 0.", "Ensure `helm lint ./chart` passes.",
    "Make sure that `sshd -t` exits cleanly."])
def test_a_check_that_a_command_succeeds_runs_it(sentence: str):
    # "- [ ] `kubectl rollout status ... --timeout=120s` succeeds" under "## Post-checks" was a
    # person's step: the run waited on someone to type the check it could run itself
    plan = compile_text(f"## Post-checks\n\n{sentence}\n")
    (check,) = [s for s in plan.steps if s.kind == StepKind.COMMAND]
    assert not check.mutating and check.text in sentence
    assert not [s for s in plan.steps if s.kind == StepKind.MANUAL]


def test_a_change_said_to_succeed_is_not_run_and_no_statement_of_two_commands_is_a_check():
    for sentence in ("`kubectl rollout restart deploy/gw` succeeds.",
                     "`kubectl get pods` works, but `kubectl logs -f x` does not."):
        plan = compile_text(f"## Post-checks\n\n{sentence}\n")
        assert not [s for s in plan.steps if s.kind == StepKind.COMMAND], sentence


STATED = """# Payments 5xx after deploy

## Triage

- Check the last deploy: `helm history payments -n pay --max 3`

## Mitigate

Roll back to the previous release:

```bash
helm rollback payments 0 -n pay
```

## Verify

- `kubectl rollout status deploy/payments -n pay --timeout=5m` succeeds.
- The error rate is back under 1%.

Watch the dashboard for ten minutes and confirm:

- Request rate is handled without new errors
- No new pod restarts or OOMKills
"""


def test_what_the_fix_should_bring_about_is_checked_after_it() -> None:
    """"The error rate is back under 1%." under "## Verify" was ignored as prose, and so was
    the list after "... and confirm:": the run ended resolved whatever the dashboard showed.
    Each is now a check (a person's or the model's judgment); if it does not hold, the fix did
    not take and the run hands over."""
    plan = compile_text(STATED)
    checks = {s.id: s.text for s in plan.steps if s.kind == StepKind.DECIDE
              and s.text.startswith("If not as expected (")}
    assert sorted(checks.values()) == [
        "If not as expected (No new pod restarts or OOMKills)",
        "If not as expected (Request rate is handled without new errors)",
        "If not as expected (The error rate is back under 1%)"]
    ends = {s.id: s for s in plan.steps if s.kind == StepKind.END}
    for sid in checks:
        branch = next(e for e in plan.edges if e.source == sid and e.kind == "branch")
        assert ends[branch.target].outcome.value == "escalate"
    assert _after(plan, "helm rollback payments 0 -n pay",
                  "If not as expected (The error rate is back under 1%)")
    assert not [i for i in plan.ignored if i.kind == "item"]


def test_a_note_in_a_verify_section_is_no_check() -> None:
    plan = compile_text(STATED.replace("- The error rate is back under 1%.\n",
                                       "- Dashboards can lag by a minute.\n"))
    assert not any("Dashboards" in (s.text or "") for s in plan.steps
                   if s.kind == StepKind.DECIDE)
