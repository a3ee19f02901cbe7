"""A list of cases written "condition: what to do" is the guide's decision on what the step
before it found:

    - `Use%` below 80: no action needed.
    - `Use%` between 80 and 95: clean the WAL archive.
    - `Use%` above 95: escalate to the DBA on-call.

It was one person's step holding the whole list, its escalation the whole run's last word and
"below 80: no action needed" lost (a healthy disk went on to the Mitigation's delete). Each
case is now a decision: a comparison (or a state value in code, "- `Pending`: ...") before the
colon, an ending, an instruction or a jump after it; "Anything else: ..." is the rest. Every
case reads what the step before the list found (the next case read the output of the case
before it). A glossary ("- `Use%`: the share of the disk in use") is no list of cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.plan import Plan, StepKind
from tests.support.compiling import compile_text
from tests.support.running import run_locally

DISK = """# Disk pressure on a database host

## Diagnosis

1. Check disk usage:

   ```bash
   df -h /var/lib/postgresql
   ```

2. Look at the result:

   - `Use%` below 80: no action needed.
   - `Use%` between 80 and 95: clean the WAL archive.
   - `Use%` above 95: escalate to the DBA on-call.

## Mitigation

Remove archived WAL older than seven days:

```bash
find /var/lib/postgresql/archive -mtime +7 -delete
```
"""


def _decide(plan: Plan, text: str) -> str:
    return next(s.id for s in plan.steps if s.kind == StepKind.DECIDE and s.title == text)


def _branch_targets(plan: Plan, source: str) -> dict[str, str]:
    """Where a decision goes: its branch ("then") and else edges, by kind."""
    return {e.kind: e.target for e in plan.edges if e.source == source}


def _outcome(plan: Plan, step_id: str) -> str | None:
    step = next(s for s in plan.steps if s.id == step_id)
    return step.outcome.value if step.kind == StepKind.END and step.outcome else None


def test_each_case_before_a_colon_is_a_decision_with_its_own_ending() -> None:
    plan = compile_text(DISK)
    low = _decide(plan, "`Use%` below 80")
    mid = _decide(plan, "`Use%` between 80 and 95")
    high = _decide(plan, "`Use%` above 95")
    assert _outcome(plan, _branch_targets(plan, low)["branch"]) == "no_action"
    assert _outcome(plan, _branch_targets(plan, high)["branch"]) == "escalate"
    clean = _branch_targets(plan, mid)["branch"]
    step = next(s for s in plan.steps if s.id == clean)
    assert step.kind == StepKind.MANUAL and "clean the WAL archive" in step.text
    # the cases are asked in turn, each on the other side of the one before
    assert _branch_targets(plan, low)["else"] == mid
    assert _branch_targets(plan, mid)["else"] == high


def test_if_cases_of_one_list_read_the_same_step() -> None:
    """The same for cases written "If ...": the third case read the second case's describe."""
    plan = compile_text(PHASES.format(check="kubectl get pod -n shop web-0 -o name").replace(
        "- `Pending`: check", "- If the phase is `Pending`, check").replace(
        "- `CrashLoopBackOff`: go to step 2.", "- If the phase is `CrashLoopBackOff`, go to "
        "step 2."))
    check = next(s.id for s in plan.steps if s.kind == StepKind.COMMAND and "-o name" in s.text)
    crash = _decide(plan, "If the phase is `CrashLoopBackOff`")
    jump = next(e for e in plan.edges if e.source == crash and e.kind == "jump")
    assert jump.condition is not None
    assert jump.condition.expr == f'"CrashLoopBackOff" in steps["{check}"].stdout'


PHASES = """# Pod not ready

## Steps

### 1. Check the pod phase

```bash
{check}
```

Depending on the phase:

- `Running`: nothing to do, the alert has cleared.
- `Pending`: check the events with `kubectl describe pod -n shop web-0`.
- `CrashLoopBackOff`: go to step 2.
- Anything else: escalate to the platform team.

### 2. Restart the pod

```bash
kubectl delete pod -n shop web-0
```
"""


def test_state_values_are_read_from_the_step_before_the_list() -> None:
    plan = compile_text(PHASES.format(
        check="kubectl get pod -n shop web-0 -o jsonpath='{.status.phase}'"))
    check = next(s.id for s in plan.steps if s.kind == StepKind.COMMAND and
                 "jsonpath" in s.text)
    exprs = {e.condition.text: e.condition.expr for e in plan.edges
             if e.kind in ("branch", "jump") and e.condition is not None}
    for value in ("Running", "Pending", "CrashLoopBackOff"):
        # every case reads the phase, never the describe the `Pending` case ran
        assert exprs[f"`{value}`"] == f'"{value}" in steps["{check}"].stdout'


def test_the_rest_case_and_a_jump_from_a_bullet_land_where_the_author_meant() -> None:
    plan = compile_text(PHASES.format(
        check="kubectl get pod -n shop web-0 -o jsonpath='{.status.phase}'"))
    crash = _decide(plan, "`CrashLoopBackOff`")
    out = {e.kind: e for e in plan.edges if e.source == crash}
    # "go to step 2" is the "### 2. Restart the pod" heading (its second bullet was taken)
    target = next(s for s in plan.steps if s.id == out["jump"].target)
    assert target.kind == StepKind.APPROVE and "delete pod" in (target.text or "") + str(
        target.params)
    assert out["else"].condition is not None and out["else"].condition.text == "Anything else"
    assert _outcome(plan, out["else"].target) == "escalate"


@pytest.mark.parametrize("phase,outcome", [("Running", "no_action"), ("Unknown", "escalate")])
def test_a_run_takes_the_case_its_check_printed(tmp_path: Path, phase: str,
                                                outcome: str) -> None:
    plan = compile_text(PHASES.format(check=f"echo {phase}"))
    record = run_locally(plan, tmp_path)
    assert (record.status, record.outcome) == ("succeeded", outcome), record.reason


def test_a_glossary_is_no_list_of_cases() -> None:
    plan = compile_text(DISK.replace(
        "   - `Use%` below 80: no action needed.\n"
        "   - `Use%` between 80 and 95: clean the WAL archive.\n"
        "   - `Use%` above 95: escalate to the DBA on-call.\n",
        "   - `Use%`: the share of the disk in use.\n"
        "   - `Avail`: what is left for new files.\n"))
    assert not [s for s in plan.steps if s.kind == StepKind.DECIDE and "Use%" in s.text]


def test_cases_need_a_list_of_them() -> None:
    """One "Lag above 1000: restart the consumers." alone is a step's words, not a case list
    (a label and its text, "Step 1: restart it", never were)."""
    plan = compile_text(DISK.replace(
        "   - `Use%` below 80: no action needed.\n"
        "   - `Use%` between 80 and 95: clean the WAL archive.\n"
        "   - `Use%` above 95: escalate to the DBA on-call.\n",
        "   - `Use%` above 95: escalate to the DBA on-call.\n"
        "   - Note: the archive is on the same disk.\n"))
    assert not [s for s in plan.steps if s.kind == StepKind.DECIDE and "Use%" in s.text]


SYMPTOMS = """# Login failures

## Troubleshooting

| Symptom | Cause | Resolution |
|---|---|---|
| Users get 401 on every request | Signing key rotated | Restart the auth service (new keys) |
| Only SSO users fail | IdP certificate expired | Escalate to the identity team |
| None of the above | Unknown | Escalate to the platform on-call |
"""


def test_a_symptom_table_without_commands_is_a_decision_too() -> None:
    """Its every action tells a person what to do: each row is a case (it was the whole
    guide's one "follow it by hand" step, and the run ended `no_action` whatever the row)."""
    plan = compile_text(SYMPTOMS)
    first = _decide(plan, "Users get 401 on every request")
    sso = _decide(plan, "Only SSO users fail")
    fix = next(s for s in plan.steps if s.id == _branch_targets(plan, first)["branch"])
    assert fix.kind == StepKind.MANUAL and "Restart the auth service" in fix.text
    assert _branch_targets(plan, first)["else"] == sso
    assert _outcome(plan, _branch_targets(plan, sso)["branch"]) == "escalate"
    assert _outcome(plan, _branch_targets(plan, sso)["else"]) == "escalate"


def test_a_table_saying_what_the_system_does_is_no_decision() -> None:
    plan = compile_text(SYMPTOMS.replace("Restart the auth service (new keys)",
                                         "The service reloads its keys within a minute")
                        .replace("Escalate to the identity team", "SSO logins are refused"))
    assert not [s for s in plan.steps if s.kind == StepKind.DECIDE]


LAG = """# Consumer lag

## Diagnosis

1. Check the lag: `kafka-consumer-groups --bootstrap-server localhost:9092 --describe --group o`
2. Read the LAG column:
   - LAG under 1000 → no action needed.
   - LAG growing → restart the consumers with `kubectl rollout restart deploy/consumer -n shop`.
   - LAG above 100000 → escalate to the data team.
"""


def test_cases_after_an_arrow_guard_their_action() -> None:
    """"LAG growing → restart the consumers with `x`" is that case's: the restart ran (after
    its approval) whenever the lag was not under 1000, above 100000 included."""
    plan = compile_text(LAG)
    growing = _decide(plan, "LAG growing")
    assert _branch_targets(plan, growing)["branch"].startswith("approve-")
    assert _outcome(plan, _branch_targets(plan, _decide(plan, "LAG above 100000"))["branch"]) \
        == "escalate"


TREE = """# API latency

## Triage

- Is the API responding? Check with `curl -sf http://localhost:8080/healthz`.
  - Yes: check the database latency with `psql -h db -c 'select 1'`.
    - Slow (over 100 ms): escalate to the DBA on-call.
    - Fast: the issue is in the API; go to Mitigation.
  - No: restart the API with `sudo systemctl restart api`.

## Mitigation

Scale the API: `kubectl scale deploy/api --replicas=6 -n api`
"""


def test_a_question_before_its_check_is_answered_by_its_yes_and_no_items() -> None:
    """"Is the API responding? Check with `curl ...`." over "Yes: ..." / "No: restart ...":
    the restart is the No answer's (it ran whenever the database was not fast, its question
    lost because the item did not end with "?")."""
    plan = compile_text(TREE)
    asked = _decide(plan, "Is the API responding?")
    no = _branch_targets(plan, asked)["else"]
    assert no.startswith("approve-") and "restart" in next(
        s.text for s in plan.steps if s.id == no)


def test_a_short_label_beside_a_compared_case_is_a_case() -> None:
    """"Fast:" beside "Slow (over 100 ms):" is the other case (the slow case's escalation was
    the whole run's last word, after the scale-up)."""
    plan = compile_text(TREE)
    slow = _decide(plan, "Slow (over 100 ms)")
    assert _outcome(plan, _branch_targets(plan, slow)["branch"]) == "escalate"
    assert _branch_targets(plan, slow)["else"] == _decide(plan, "Fast")


def test_labels_are_no_cases() -> None:
    plan = compile_text(DISK.replace(
        "   - `Use%` between 80 and 95: clean the WAL archive.\n",
        "   - Note: check the archive size first.\n"))
    assert not [s for s in plan.steps if s.kind == StepKind.DECIDE and s.text == "Note"]


def test_a_case_naming_the_step_a_case_before_it_ran_reads_that_step() -> None:
    """"- If the describe shows `Insufficient cpu`, ..." after "- If the phase is `Pending`,
    describe it: `kubectl describe ...`" is about the describe, not the phase."""
    plan = compile_text(PHASES.format(check="kubectl get pod -n shop web-0 -o name").replace(
        "- `Pending`: check the events with `kubectl describe pod -n shop web-0`.",
        "- If the phase is `Pending`, describe it: `kubectl describe pod -n shop web-0`.").replace(
        "- `CrashLoopBackOff`: go to step 2.",
        "- If the describe shows `Insufficient cpu`, go to step 2."))
    describe = next(s.id for s in plan.steps if s.kind == StepKind.COMMAND and
                    "describe" in s.text)
    cpu = _decide(plan, "If the describe shows `Insufficient cpu`")
    jump = next(e for e in plan.edges if e.source == cpu and e.kind == "jump")
    assert jump.condition is not None
    assert jump.condition.expr == f'"Insufficient cpu" in steps["{describe}"].stdout'


def test_yes_and_no_headings_under_a_question_heading_are_its_answers() -> None:
    """"### Is the kubelet running?" over "#### Yes" and "#### No": both sections ran in turn
    (the kubelet was started whatever the answer)."""
    plan = compile_text("# Node NotReady\n\n## Diagnosis\n\n### Is the kubelet running?\n\n"
                        "Check it: `systemctl is-active kubelet`\n\n#### Yes\n\nCheck the node "
                        "conditions: `kubectl describe node worker-3`\n\n#### No\n\nStart it:\n\n"
                        "```bash\nsudo systemctl start kubelet\n```\n")
    asked = _decide(plan, "Is the kubelet running?")
    out = _branch_targets(plan, asked)
    assert "describe" in next(s.text for s in plan.steps if s.id == out["branch"])
    assert out["else"].startswith("approve-")


ERRORS = """# Deploy failures

## Common errors

### `ImagePullBackOff`

Check the image name and the pull secret:

```bash
kubectl describe pod -n web -l app=web
```

### `Error: UPGRADE FAILED: another operation is in progress`

Roll back the stuck release:

```bash
helm rollback web -n web
```

### `OOMKilled`

Raise the memory limit:

```bash
kubectl set resources deploy/web -n web --limits=memory=1Gi
```
"""


def test_sections_titled_by_the_error_they_clear_are_cases() -> None:
    """Each "### `ImagePullBackOff`" section is for when that error is seen: all three ran in
    turn, the roll-back and the memory raise offered whatever the error was."""
    plan = compile_text(ERRORS)
    for title, runs in (("`ImagePullBackOff`", "describe"),
                        ("`Error: UPGRADE FAILED: another operation is in progress`",
                         "rollback"), ("`OOMKilled`", "set resources")):
        branch = _branch_targets(plan, _decide(plan, title))["branch"]
        step = next(s for s in plan.steps if s.id == branch)
        assert runs in (step.text or ""), (title, step.text)


def test_sections_titled_by_a_name_in_code_are_topics() -> None:
    plan = compile_text(ERRORS.replace("### `ImagePullBackOff`", "### `sidekiq`").replace(
        "### `OOMKilled`", "### `transaction_statistics`"))
    assert not {"`sidekiq`", "`transaction_statistics`"} & {
        s.text for s in plan.steps if s.kind == StepKind.DECIDE}


def test_a_fix_after_its_check_is_for_the_sections_problem() -> None:
    """"### High memory" over "**Check:** `free -m`" then "**Fix:** `sudo systemctl restart
    app`": every section's fix was offered in turn, whatever its check showed."""
    plan = compile_text("# App host\n\n## Troubleshooting\n\n### High memory\n\n**Check:** "
                        "`free -m`\n\n**Fix:** `sudo systemctl restart app`\n\n### Disk full\n\n"
                        "**Check:** `df -h /var`\n\n**Fix:** `sudo journalctl "
                        "--vacuum-size=500M`\n")
    for case, verb in (("High memory", "restart"), ("Disk full", "--vacuum-size=500M")):
        branch = _branch_targets(plan, _decide(plan, case))["branch"]
        assert branch.startswith("approve-")
        step = next(s for s in plan.steps if s.id == branch.removeprefix("approve-"))
        assert verb in step.params["pipeline"][0]
