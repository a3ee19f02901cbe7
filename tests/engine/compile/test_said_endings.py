"""How a TSG says where a path ends and where a case goes, in words the earlier rules missed:
a paragraph that only says how the run stands ("The issue is mitigated."), a case whose
instruction points at its step in brackets ("roll it back (Step 7)"), and a jump into a
"Roll back" section that only cases lead to."""

from __future__ import annotations

from engine.compile import phrases
from engine.plan import StepKind
from tests.support.compiling import compile_text, step_running, successors

TSG = """# TSG: Ingestion latency high in region {region}

## Step 1 - Check the queue backlog

```bash
rabbitmqctl list_queues name messages
```

If any queue holds more than a million messages, go to Step 3.

## Step 2 - Check recent deployments

```bash
kubectl -n ingest rollout history deployment/consumer
```

If a revision rolled out in the window, roll it back (Step 4).

## Step 3 - Drain the backlog

```bash
kubectl -n ingest scale deployment/consumer --replicas=20
```

The issue is mitigated.

## Step 4 - Roll back

```bash
kubectl -n ingest rollout undo deployment/consumer
```

This is a potential resolution. Watch the latency for 30 minutes.
"""


def test_a_step_in_brackets_after_a_cases_instruction_is_where_the_case_goes() -> None:
    plan = compile_text(TSG)
    case = next(s for s in plan.steps if s.title.startswith("If a revision rolled out"))
    undo = step_running(plan, ["kubectl", "-n", "ingest", "rollout", "undo",
                               "deployment/consumer"])
    # before: a person's step "then roll it back (Step 4)", and on into the drain
    assert [e.kind for e in plan.edges if e.source == case.id and e.kind == "jump"] == ["jump"]
    assert undo in successors(plan, case.id)
    assert not any("roll it back" in (s.title or "").lower() for s in plan.steps
                   if s.kind == StepKind.MANUAL)


def test_a_jump_into_a_roll_back_section_runs_it_without_asking_again() -> None:
    plan = compile_text(TSG)
    # the case decided: no second question "Step 4 - Roll back?", whose "no" ended resolved
    assert not [s for s in plan.steps if s.kind == StepKind.DECIDE and "Roll back" in s.title]


def test_the_issue_is_mitigated_ends_the_path_before_a_section_only_jumps_reach() -> None:
    plan = compile_text(TSG)
    drain = step_running(plan, ["kubectl", "-n", "ingest", "scale", "deployment/consumer",
                                "--replicas=20"])
    (after,) = successors(plan, drain)
    assert plan.step(after).outcome == "mitigated"  # not on into the roll-back


def test_a_potential_resolution_ends_handed_over_after_the_words_that_follow_it() -> None:
    plan = compile_text(TSG)
    undo = step_running(plan, ["kubectl", "-n", "ingest", "rollout", "undo",
                               "deployment/consumer"])
    (watch,) = successors(plan, undo)
    assert plan.step(watch).kind == StepKind.MANUAL
    assert "Watch the latency" in plan.step(watch).title
    (end,) = successors(plan, watch)
    assert plan.step(end).outcome == "escalate"


SEQUENTIAL = """# Restart the app

## Restart

```bash
systemctl restart app
```

The issue is mitigated.

## Verify

```bash
systemctl status app
```
"""


def test_a_said_ending_that_would_strand_the_next_section_is_a_readers_note() -> None:
    plan = compile_text(SEQUENTIAL)
    restart = step_running(plan, ["systemctl", "restart", "app"])
    status = step_running(plan, ["systemctl", "status", "app"])
    assert successors(plan, restart) == [status]  # nothing else leads to Verify


def test_only_a_sentence_that_is_nothing_but_the_outcome_says_it() -> None:
    assert phrases.said_ending("The issue is mitigated.") == "mitigated"
    assert phrases.said_ending("This is the root cause: the pool is full.") == "escalate"
    assert phrases.said_ending("No further action is needed.") == "no_action"
    assert phrases.said_ending(
        "This annotation should be removed as soon as the issue is resolved.") is None
    assert phrases.said_ending("Email alerts have nothing to do with Alertmanager.") is None


BOLD_STEPS = """# [TSG] Storage account 503s

**Step 1:** Confirm the alert is still active.

```
az monitor metrics list --resource acct-7 --metric Availability --interval PT5M
```

**Step 2:** Check whether the 503s come from throttling.

```kusto
FrontEndLogs
| where AccountName == "acct-7"
| summarize count() by HttpStatus, ErrorCode
```

- If `ErrorCode` is `ServerBusy`, go to step 4.
- If the result is empty, the account is healthy: mitigate the incident as a false alarm.

**Step 3:** Collect a network trace.

```
az network watcher packet-capture create -g rg-7 --vm vm-7 -n trace503
```

Escalate to the XStore network team with the trace.

**Step 4:** Raise the account's scalability target.

> **Warning:** only do this with the customer's consent.

```
az storage account update -n acct-7 --set properties.targets=high
```
"""


def test_a_condition_after_a_persons_query_is_theirs_to_judge_not_an_older_steps_output() -> None:
    plan = compile_text(BOLD_STEPS)
    empty = next(s for s in plan.steps if s.title.startswith("If the result is empty"))
    # before: `steps["step-1-..."].stdout | trim == ""`, the az metrics reading, which says
    # nothing of the Kusto query a person runs: the run could end healthy on it
    assert {e.condition.expr for e in plan.edges if e.source == empty.id} == {None}


def test_a_case_that_says_mitigate_the_incident_as_a_false_alarm_ends_the_run() -> None:
    plan = compile_text(BOLD_STEPS)
    empty = next(s for s in plan.steps if s.title.startswith("If the result is empty"))
    (then,) = [e.target for e in plan.edges if e.source == empty.id and e.kind == "branch"]
    assert plan.step(then).outcome == "no_action"  # it was a guard with nothing to guard
    assert phrases.outcome_of("the account is healthy: mitigate the incident") == "mitigated"


def test_an_escalation_before_a_step_that_a_case_jumps_to_ends_its_path() -> None:
    plan = compile_text(BOLD_STEPS)
    trace = step_running(plan, ["az", "network", "watcher", "packet-capture", "create", "-g",
                                "rg-7", "--vm", "vm-7", "-n", "trace503"])
    (after,) = successors(plan, trace)
    assert plan.step(after).outcome == "escalate"  # not on into raising the target
    assert "XStore network team" in plan.step(after).title


def test_a_note_between_a_steps_title_and_its_command_leaves_the_title_to_the_command() -> None:
    plan = compile_text(BOLD_STEPS)
    raise_ = step_running(plan, ["az", "storage", "account", "update", "-n", "acct-7", "--set",
                                 "properties.targets=high"])
    assert plan.step(raise_).title.startswith("Step 4: Raise")
    # before: a person's step "Step 4: Raise ..." and then the command too: the same work twice
    assert not [s for s in plan.steps if s.kind == StepKind.MANUAL and "Raise" in s.title]


def test_an_escalation_that_titles_a_steps_commands_does_not_end_the_path_before_them() -> None:
    text = BOLD_STEPS.replace("**Step 4:** Raise the account's scalability target.",
                              "**Step 4:** Open a ticket with the storage team:")
    plan = compile_text(text)
    raise_ = step_running(plan, ["az", "storage", "account", "update", "-n", "acct-7", "--set",
                                 "properties.targets=high"])
    assert raise_ in {e.target for e in plan.edges} | {
        e2.target for e in plan.edges for e2 in plan.edges if e.target == e2.source}


OTHERWISE_UNDER_BLOCK = """# Queue stuck

## Diagnosis

1. Check the queue: `rabbitmqctl list_queues name messages`
2. If the queue holds more than 1000 messages, restart the consumer:

   ```bash
   systemctl restart consumer
   ```

   Otherwise, go to step 4.
3. Check the consumer log: `journalctl -u consumer -n 50`
4. Check the broker: `rabbitmqctl status`
"""


def test_an_otherwise_under_an_items_block_is_the_other_side_of_the_items_question() -> None:
    plan = compile_text(OTHERWISE_UNDER_BLOCK)
    (case,) = [s for s in plan.steps if s.kind == StepKind.DECIDE]
    # before: a second question "Otherwise" asked after the restart had run, its jump to
    # step 4 taken (or not) by whoever answered it
    assert case.title.startswith("If the queue holds more than 1000")
    broker = step_running(plan, ["rabbitmqctl", "status"])
    assert [e.target for e in plan.edges if e.source == case.id and e.kind == "jump"] == \
        [broker]
    restart = step_running(plan, ["systemctl", "restart", "consumer"])
    log = step_running(plan, ["journalctl", "-u", "consumer", "-n", "50"])
    assert log in successors(plan, restart)


ELSE_ESCALATES = """# Disk

## Mitigation

Check the inodes: `df -i /var`

If the inodes are exhausted:

1. Remove old sessions: `find /var/lib/php/sessions -mtime +2 -delete`

Else:

1. Escalate to the storage team.
"""


def test_a_lists_last_step_that_hands_over_ends_its_branch_escalated() -> None:
    plan = compile_text(ELSE_ESCALATES)
    case = next(s for s in plan.steps if s.title.startswith("If the inodes are exhausted"))
    (other,) = [e.target for e in plan.edges if e.source == case.id and e.kind == "else"]
    # before: a person's step "Escalate to the storage team." (and one of "Else:" before it),
    # then the run ended `resolved`
    assert plan.step(other).outcome == "escalate"
    assert "storage team" in plan.step(other).title
    assert not [s for s in plan.steps if s.kind == StepKind.MANUAL]


def test_a_hand_over_step_the_procedure_goes_on_after_stays_a_persons_step() -> None:
    text = ("# Disk\n\n## Mitigation\n\n1. Remove old sessions: `find /var/lib/php/sessions "
            "-mtime +2 -delete`\n2. Escalate to the storage team.\n\n## Verify\n\n"
            "Check again: `df -i /var`\n")
    plan = compile_text(text)
    hand = next(s for s in plan.steps if s.title.startswith("Escalate to the storage team"))
    assert hand.kind == StepKind.MANUAL  # the Verify section after it still runs
    assert successors(plan, hand.id)


JUMP_TO_ESCALATION = """# Web down

## Step 1: Check the container

Run `docker ps --filter name=web`.

Is the container at its autoscale maximum? If yes → Step 3. If no → Step 2.

## Step 2: Restart

```bash
docker restart web
```

The issue is mitigated.

## Step 3: Escalate

Escalate to the web team.
"""


def test_a_jump_to_a_step_that_only_escalates_ends_escalated_not_resolved() -> None:
    plan = compile_text(JUMP_TO_ESCALATION)
    asked = "Is the container at its autoscale maximum?"  # its "If yes" is the question
    yes = next(s for s in plan.steps if s.title == asked)
    (landing,) = [e.target for e in plan.edges if e.source == yes.id and e.kind == "jump"
                  and e.condition is not None and e.condition.text == asked]
    # before: the jump went past the escalation to the guide's `resolved` ending
    assert plan.step(landing).outcome == "escalate"
    assert "web team" in plan.step(landing).title
    restart = step_running(plan, ["docker", "restart", "web"])
    assert [plan.step(s).outcome for s in successors(plan, restart)] == ["mitigated"]
