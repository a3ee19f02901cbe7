"""Procedures and cases written as bullets, and conditions said on their own: a robot cell's
"Before you start" bullets, a case list whose cases name a state in code, a flow table's
empty outcome cells, a note that is nothing but "Only if ...", a paragraph whose last sentence
("However, if ...:") opens the list after it. Each test is one rule a guide author would
recognise, and each failed on the code before it."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

from engine.plan import StepKind
from tests.support.compiling import compile_text, gated, guards_of, runs, step_running

COMPILE = Path(__file__).resolve().parents[3] / "engine" / "compile"


# -- a procedure in bullets --------------------------------------------------------------------

CELL = """# Gripper fault (alarm G-102)

## Before you start

* Put the cell in **T1 (manual reduced speed)** on the teach pendant.
* Make sure nobody is inside the fence.

## Recovery

```console
$ mosquitto_pub -h cell-4.local -t cell4/gripper/cmd -m '{"op":"home"}'
```
"""


def test_a_list_of_instructions_is_a_persons_steps_in_order():
    # the two bullets were ignored as "prose: nothing to run or decide": the gripper was
    # re-homed without anyone confirming the cell was in T1 or the fence empty
    plan = compile_text(CELL)
    manual = [s for s in plan.steps if s.kind == StepKind.MANUAL]
    assert [s.title for s in manual] == ["Put the cell in T1 (manual reduced speed) on the "
                                         "teach pendant", "Make sure nobody is inside the fence"]
    home = step_running(plan, ["mosquitto_pub", "-h", "cell-4.local", "-t", "cell4/gripper/cmd",
                               "-m", '{"op":"home"}'])
    assert gated(plan, home)
    # in that order, before the approval of the first change
    order = [s.id for s in plan.steps]
    assert order.index(manual[1].id) < order.index(home)
    assert plan.entry == manual[0].id
    assert any(e.source == manual[0].id and e.target == manual[1].id for e in plan.edges)


def test_preparing_is_no_diagnosis_to_end_on():
    # with the preparation a person's steps, the recovery was put behind "The diagnosis found
    # a cause that the mitigation addresses" (else `no_action`): nothing had been looked at
    plan = compile_text(CELL)
    assert len([s for s in plan.steps if s.kind == StepKind.MANUAL]) == 2
    assert not [s for s in plan.steps if s.kind == StepKind.DECIDE]
    assert {s.outcome.value for s in plan.steps if s.kind == StepKind.END} == {"resolved",
                                                                             "escalate"}


def test_a_note_among_instructions_stays_a_note_and_options_are_no_steps():
    plan = compile_text("# G\n\n## Review\n\n- Check out the abuse dashboard.\n"
                        "- Review the abuse reports in Kibana.\n"
                        "- Keep in mind that this alert is open-ended.\n\n"
                        "## Fix\n\nRun `sudo systemctl restart app`.\n")
    manual = [s.title for s in plan.steps if s.kind == StepKind.MANUAL]
    assert manual == ["Check out the abuse dashboard", "Review the abuse reports in Kibana"]
    # a list of things that are so, or of choices, is no procedure
    for text in ("- The pods restart on their own.\n- After the scale up, the series drop.\n",
                 "You can either:\n\n- Restart the consumers by hand.\n"
                 "- Scale the consumers out by hand.\n",
                 "- Is it a redirect or a caching policy?\n- Is it a bulk allow of IPs?\n"):
        plan = compile_text(f"# G\n\n## Steps\n\n{text}\n## Fix\n\nRun `sudo systemctl "
                            "restart app`.\n")
        assert not [s for s in plan.steps if s.kind == StepKind.MANUAL], text


# -- case lists --------------------------------------------------------------------------------

PODS = """# Payments

## Triage

1. Look at the pods:

   ```
   kubectl -n payments get pods -o wide
   ```

   - All pods `Running` and ready → {first}
   - Pods in `CrashLoopBackOff` → restart it: `kubectl -n payments rollout restart deploy/api`
   - Pods `Pending` → page the platform on-call.

2. Check the logs: `kubectl -n payments logs deploy/api --tail=50`
"""


def test_a_case_naming_a_state_in_code_guards_what_it_says_to_do():
    # "Pods in `CrashLoopBackOff` → restart ..." was no case: the restart was offered whenever
    # the pods were not all Running, Pending pods included
    for first in ("go to step 2.", "nothing to do.", "continue."):
        plan = compile_text(PODS.format(first=first))
        restart = step_running(plan, ["kubectl", "-n", "payments", "rollout", "restart",
                                      "deploy/api"])
        assert guards_of(plan, restart) == ["Pods in `CrashLoopBackOff`"], first


def test_a_case_that_goes_on_asks_nobody_anything():
    # "All pods `Running` → continue." was a person's step titled "continue"
    plan = compile_text(PODS.format(first="continue."))
    assert not [s for s in plan.steps if s.kind == StepKind.MANUAL]
    assert [s.title for s in plan.steps if s.kind == StepKind.DECIDE] == [
        "Pods in `CrashLoopBackOff`", "Pods `Pending`"]
    logs = step_running(plan, ["kubectl", "-n", "payments", "logs", "deploy/api", "--tail=50"])
    assert logs in {s.id for s in runs(plan)}


# -- flow tables -------------------------------------------------------------------------------

def test_an_empty_or_dash_outcome_cell_goes_on():
    # a second `_GOES_ON` pattern (for "continue with the steps below") shadowed the flow
    # table's: an empty, "-" or "n/a" cell was a person's step titled "" / "-" / "n/a"
    plan = compile_text("# Cell\n\n## Procedure\n\n| Step | Action | If OK | If not OK |\n"
                        "|---|---|---|---|\n"
                        "| 1 | Check the PLC: `ping -c 1 plc-1` |  | Escalate to controls |\n"
                        "| 2 | Check the robot: `ping -c 1 robot-1` | - | Escalate to robotics |\n"
                        "| 3 | Check the camera: `ping -c 1 cam-1` | n/a | Escalate to vision |\n")
    assert not [s for s in plan.steps if s.kind == StepKind.MANUAL]
    assert len(runs(plan)) == 3


def test_no_module_of_the_compiler_names_a_thing_twice():
    # the shadowed pattern above (and `_LABEL_WORD`, `_ACTION_COLUMN` before it): a second
    # module-level definition silently replaces the first for every rule that used it
    for path in sorted(COMPILE.rglob("*.py")):
        names: Counter[str] = Counter()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names[node.name] += 1
            elif isinstance(node, ast.Assign):
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names[node.target.id] += 1
        twice = [n for n, k in names.items() if k > 1 and n != "__all__"]
        assert not twice, f"{path.name} defines {twice} more than once"


# -- a condition said on its own ---------------------------------------------------------------

ONLY_IF = """# Payments

## Mitigate

{note}

Enable the cached fallback:

    curl -X POST https://flags.internal/api/flags/fallback -d '{{"enabled": true}}'

## Resolve

Close the incident.
"""


def test_a_sentence_that_is_only_a_condition_guards_what_follows():
    # "Only if the burn is above 10x." (as a sentence, or as the whole of a quoted warning)
    # was a person's "then act" step, and the fallback was switched on whatever the burn
    for note in ("Only if the error budget burn is above 10x.",
                 "> ⚠️ Only if the error budget burn is above 10x.",
                 "> **Only if** the error budget burn is above 10x."):
        plan = compile_text(ONLY_IF.format(note=note))
        (flag,) = runs(plan)
        assert gated(plan, flag.id)
        assert guards_of(plan, flag.id) == ["Only if the error budget burn is above 10x"], note
        assert not [s for s in plan.steps if s.kind == StepKind.MANUAL and
                    s.title.startswith("Only")]


def test_the_last_sentence_that_opens_a_list_is_its_condition():
    # "Unless you see huge numbers, ... can be ignored. However, if the issue persists, follow
    # the steps:" put the steps under "Unless you see huge numbers": the other way round
    plan = compile_text(
        "# Replication alerts\n\n## Diagnosis\n\nUnless you are seeing huge numbers, these "
        "alerts can be ignored. They are often temporary. However, if the issue persists or "
        "grows, follow these steps:\n\n"
        "- Check the replication status in `system.replicas`.\n"
        "- Examine the server logs for errors.\n")
    checks = [s for s in plan.steps if s.kind == StepKind.MANUAL]
    assert [s.title for s in checks] == ["Check the replication status in `system.replicas`",
                                         "Examine the server logs for errors"]
    assert guards_of(plan, checks[0].id) == ["if the issue persists or grows"]


# -- where a jump lands ------------------------------------------------------------------------

CELL_SECTIONS = """# Gripper fault

## Recovery

### 1 · Read the alarm

```console
$ mosquitto_sub -h cell-4.local -t 'cell4/alarms/#' -C 5 -v
```

If `jaw_mm` is below 5, the jaw is jammed: {jump}.

### 2 · Re-home

```console
$ mosquitto_pub -h cell-4.local -t cell4/gripper/cmd -m home
```

### 3 · Clear a jam

1. Open the jaw by hand with the release lever.
"""


def test_a_jump_lands_on_a_heading_numbered_with_a_dot_or_dash():
    # "### 3 · Clear a jam": "go to **3 · Clear a jam**" and "go to **Clear a jam**" were a
    # person's "record the finding" step and the jammed gripper was re-homed; "go to step 3"
    # failed to compile ("this list has 0 steps")
    for jump in ("go to **3 · Clear a jam**", "go to **Clear a jam**", 'go to "Clear a jam"',
                 "go to section 3", "go to step 3", "go to **3 - Clear a jam**"):
        plan = compile_text(CELL_SECTIONS.format(jump=jump))
        (decide,) = [s for s in plan.steps if s.kind == StepKind.DECIDE]
        out = {e.kind: e.target for e in plan.edges if e.source == decide.id}
        assert plan.step(out["jump"]).title == "Open the jaw by hand with the release lever", jump
        assert plan.step(out["else"]).kind == StepKind.APPROVE, jump


PHASES = """# Kafka broker down

## Phase 1 — Detect

```bash
kafka-topics.sh --bootstrap-server kafka-0:9092 --describe --under-replicated-partitions
```

**Decision point:** are there under-replicated partitions?
- **No** → the broker went down cleanly; skip to Phase 3.
- **Yes** → continue with Phase 2.

## Phase 2 — Mitigate

```bash
kubectl -n kafka delete pod kafka-2
```

## Phase 3 — Resolve

Write the incident summary in the ticket.
"""


def test_answers_in_a_list_answer_the_question_before_it():
    # the bullets were not answers (the question is the paragraph before their list, not an
    # item they sit under): both jumps were lost and the broker pod deleted whatever the answer
    plan = compile_text(PHASES)
    jumps = {plan.step(e.source).title: plan.step(e.target).title
             for e in plan.edges if e.kind == "jump"}
    assert jumps == {
        "The answer is no: Decision point: are there under-replicated partitions?":
            "Phase 3 — Resolve",
        "Decision point: are there under-replicated partitions?": "Approve: Phase 2 — Mitigate"}


def test_what_is_normal_and_needs_nothing_ends_the_run_in_that_case():
    # "Lag under 60 s on every shard is normal, stop here." was context for a reader: the
    # reindex was offered whatever the lag
    for said in ("Lag under 60 s on every shard is normal, stop here.",
                 "Lag under 60 s on every shard is expected; nothing to do."):
        plan = compile_text("# Search lag\n\n## Diagnose\n\n```sh\ncurl -s http://search:9200/"
                            f"_cat/shards\n```\n\n{said}\n\n## Fix\n\nReindex: `curl -X POST "
                            "http://search:9200/idx/_reindex`\n")
        (case,) = [s for s in plan.steps if s.title == "Lag under 60 s on every shard"]
        ends = [plan.step(e.target) for e in plan.edges if e.source == case.id and
                e.kind == "branch"]
        assert [s.outcome.value for s in ends] == ["no_action"], said
    # what points back names no case ("This is expected.")
    plan = compile_text("# Lag\n\n## Diagnose\n\n```sh\ncurl -s http://search:9200/_cat/shards"
                        "\n```\n\nThis is expected, stop here.\n")
    assert not [s for s in plan.steps if s.kind == StepKind.DECIDE]


# -- a question, then what to do ---------------------------------------------------------------

CONSOLE = """# EC2 status check failed

## Look at the console output

```bash
aws ec2 get-console-output --instance-id i-0abc --latest --output text
```

Kernel panic or `Out of memory` in the output? Reboot it:

```bash
aws ec2 reboot-instances --instance-ids i-0abc
```
"""


def test_a_question_then_what_to_do_guards_the_block():
    # the block was "sample output" ("... in the output? Reboot it:" read as an output cue:
    # the reboot was lost); then it ran whatever the console said
    plan = compile_text(CONSOLE)
    reboot = step_running(plan, ["aws", "ec2", "reboot-instances", "--instance-ids", "i-0abc"])
    assert gated(plan, reboot)
    assert guards_of(plan, reboot) == ["Kernel panic or `Out of memory` in the output?"]
    # reading what an instance printed needs no approval
    read = step_running(plan, ["aws", "ec2", "get-console-output", "--instance-id", "i-0abc",
                               "--latest", "--output", "text"])
    assert not gated(plan, read)


def test_a_question_answered_later_or_a_check_is_no_guard():
    for text in ("Is the API responding? Check it:\n\n```bash\ncurl -sf http://api/health\n```"
                 "\n\n- **Yes**: go on.\n- **No**: escalate.\n",
                 "What does the log say? Read it:\n\n```bash\njournalctl -u api -n 20\n```\n",
                 "Ensure you use the right port? Ensure TLS is on:\n\n```bash\ncurl -sf "
                 "https://api/health\n```\n"):
        plan = compile_text(f"# API\n\n## Check\n\n{text}")
        (check,) = runs(plan)
        assert not [g for g in guards_of(plan, check.id) if "?" in g], text


# -- one of the options ------------------------------------------------------------------------

def test_options_are_one_choice_not_each_in_turn():
    # "### Option A" then "### Option B": B's question was asked after A had run (and C's
    # after both); one is taken, then what follows them all
    plan = compile_text("# Redis memory full\n\n## Mitigate\n\nPick **one** of the options "
                        "below.\n\n### Option A: raise maxmemory\n\n```\nredis-cli -h r config "
                        "set maxmemory 6gb\n```\n\n### Option B: evict the session keys\n\n```\n"
                        "redis-cli -h r unlink session:1 session:2\n```\n\n## Verify\n\n```\n"
                        "redis-cli -h r info memory\n```\n")
    raise_ = step_running(plan, ["redis-cli", "-h", "r", "config", "set", "maxmemory", "6gb"])
    verify = step_running(plan, ["redis-cli", "-h", "r", "info", "memory"])
    after = {e.target for e in plan.edges if e.source == raise_ and e.on == "success"}
    assert after == {verify}
    (b,) = [s for s in plan.steps if s.title == "Option B: evict the session keys"]
    into_b = [e for e in plan.edges if e.target == b.id]
    assert [e.condition.text for e in into_b if e.condition] == [
        "Otherwise (not: Option A: raise maxmemory)"]


# -- a symptom matrix --------------------------------------------------------------------------

def test_a_matrix_with_checks_and_fixes_decides_after_its_checks():
    # "| Symptom | Likely cause | Check | Fix |": the checks ran, and the fixes (a rollout
    # restart, an undo) were only the words of a person's step holding the whole table
    plan = compile_text(
        "# Ingress 502s\n\n| Symptom | Likely cause | Check | Fix |\n|---|---|---|---|\n"
        "| 502 on every path | backend pods down | `kubectl -n web get pods` | "
        "`kubectl -n web rollout restart deploy/web` |\n"
        "| 502 after a deploy | new image crashing | `kubectl -n web logs deploy/web` | "
        "`kubectl -n web rollout undo deploy/web` |\n")
    restart = step_running(plan, ["kubectl", "-n", "web", "rollout", "restart", "deploy/web"])
    undo = step_running(plan, ["kubectl", "-n", "web", "rollout", "undo", "deploy/web"])
    assert gated(plan, restart) and gated(plan, undo)
    assert guards_of(plan, restart) == ["502 on every path (backend pods down)"]
    assert guards_of(plan, undo) == [
        "502 after a deploy (new image crashing)"]
    # both checks run before the first decision
    order = [s.id for s in plan.steps]
    (first,) = [s.id for s in plan.steps if s.title == "502 on every path (backend pods down)"]
    for argv in (["kubectl", "-n", "web", "get", "pods"],
                 ["kubectl", "-n", "web", "logs", "deploy/web"]):
        assert order.index(step_running(plan, argv)) < order.index(first)
    # a check column that changes something is no decision table (its fix is not a check)
    plan = compile_text(
        "# X\n\n| Symptom | Check | Fix |\n|---|---|---|\n| slow | `sudo systemctl restart a` "
        "| `sudo systemctl restart b` |\n")
    assert not [s for s in plan.steps if s.kind == StepKind.DECIDE]


def test_when_none_of_the_guides_last_cases_holds_a_person_takes_over():
    # the guide ends on its options (or a table of cases) and none held: the run ended
    # `resolved` with nothing done
    plan = compile_text("# Redis memory full\n\n## Mitigate\n\n### Option A: raise maxmemory\n\n"
                        "```\nredis-cli -h r config set maxmemory 6gb\n```\n\n"
                        "### Option B: evict the session keys\n\n```\nredis-cli -h r unlink "
                        "session:1\n```\n")
    (b,) = [s for s in plan.steps if s.title == "Option B: evict the session keys"]
    (other,) = [e.target for e in plan.edges if e.source == b.id and e.kind == "else"]
    assert plan.step(other).outcome.value == "escalate"
    plan = compile_text(
        "# Ingress 502s\n\n| Symptom | Check | Fix |\n|---|---|---|\n"
        "| 502 on every path | `kubectl -n web get pods` | "
        "`kubectl -n web rollout restart deploy/web` |\n")
    (case,) = [s for s in plan.steps if s.kind == StepKind.DECIDE]
    (other,) = [e.target for e in plan.edges if e.source == case.id and e.kind == "else"]
    assert plan.step(other).outcome.value == "escalate"
    # a table's "Anything else" row is its own answer; cases the guide goes on after are
    # followed by what comes next
    plan = compile_text(
        "# Ingress 502s\n\n## Triage\n\n| Symptom | Check | Fix |\n|---|---|---|\n"
        "| 502 on every path | `kubectl -n web get pods` | "
        "`kubectl -n web rollout restart deploy/web` |\n\n## Verify\n\n"
        "Run `curl -sf http://web/health`.\n")
    (case,) = [s for s in plan.steps if s.kind == StepKind.DECIDE]
    (other,) = [e.target for e in plan.edges if e.source == case.id and e.kind == "else"]
    assert plan.step(other).kind == StepKind.COMMAND
