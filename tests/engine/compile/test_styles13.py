"""Runbook styles the earlier sweeps did not try: an OpenStack guide in bold numbered titles, a
Slurm GPU node's "Step 1 —" labels, a ROS 1 AGV, Loki's logcli, ClickHouse's `:)` console,
Redis Cluster, a Ceph "**1. Symptoms**" guide, a Postfix relay's one-line steps
(tests/fixtures/styles13 holds the guides tried). Each test is one rule a guide author would
recognise."""

from __future__ import annotations

from pathlib import Path

from engine.compile.explain import explain
from engine.guide import parse_guide
from engine.plan import StepKind
from tests.support.compiling import (
    assert_gated_and_accounted,
    compile_text,
    gated,
    guards_of,
    manual_scripts,
    runs,
)

STYLES13 = Path(__file__).resolve().parents[2] / "fixtures" / "styles13"


# -- "go to step 5" and a bold numbered title ---------------------------------------------------

BOLD_TITLES = """# Instance in ERROR

## Diagnosis

**1. Find the host**

```bash
openstack server show web-1 -c OS-EXT-SRV-ATTR:host -f value
```

**2. Check the compute service**

```bash
openstack compute service list --service nova-compute
```

If the `State` column reads `down`, go to step 4.

## Resolution

**3. Hard-reboot**

```bash
openstack server reboot --hard web-1
```

**4. Evacuate**

```bash
nova evacuate web-1
```
"""


def test_go_to_step_n_lands_on_a_bold_title_numbered_n():
    # a guide whose steps are titled by bold numbered lines ("**4. Evacuate**"), not headings:
    # "go to step 4" failed the compile ("this list has 0 steps")
    plan = compile_text(BOLD_TITLES)
    evacuate = next(s for s in runs(plan) if s.params["pipeline"][0][0] == "nova")
    (approve,) = [e.source for _, e in plan.incoming(evacuate.id)]
    assert "If the `State` column reads `down`" in guards_of(plan, approve)
    # a bold line that is no title (a full stop) is no step 4
    text = BOLD_TITLES.replace("**4. Evacuate**", "**4. Evacuate.** Then wait.")
    try:
        compile_text(text)
    except Exception as e:  # noqa: BLE001
        assert "step 4" in str(e)
    else:
        raise AssertionError("a bold sentence is no step title")


# -- ssh to the machine a session is already on ------------------------------------------------

SSH_AGAIN = """# GPU node drained

## Triage

Step 2 — **Look at the GPUs on the node.**

```console
$ ssh gpu-a07
[admin@gpu-a07 ~]$ nvidia-smi -L
```

Step 3 — **Run the short DCGM diagnostic:**

```bash
ssh gpu-a07 dcgmi diag -r 1
```
"""


def test_ssh_to_the_sessions_own_machine_is_typed_where_the_session_was_opened():
    # the session opened by `$ ssh gpu-a07` went on into the next block, and `ssh gpu-a07
    # dcgmi diag -r 1` ran as `ssh gpu-a07 -- 'ssh gpu-a07 dcgmi diag -r 1'`: ssh inside ssh
    plan = compile_text(SSH_AGAIN)
    assert [s.params["pipeline"] for s in runs(plan)] == [
        [["ssh", "gpu-a07", "--", "nvidia-smi -L"]],
        [["ssh", "gpu-a07", "dcgmi", "diag", "-r", "1"]]]
    # a line for another machine still runs in the session (a jump host's ssh)
    plan = compile_text(SSH_AGAIN.replace("ssh gpu-a07 dcgmi", "ssh gpu-b01 dcgmi"))
    assert runs(plan)[-1].params["pipeline"] == [
        ["ssh", "gpu-a07", "--", "ssh gpu-b01 dcgmi diag -r 1"]]


# -- clickhouse-client's `:)` prompt -------------------------------------------------------------

CLICKHOUSE = """# Replica read-only

## 4. Restart the replica

```
ch-events-2 :) SELECT table, queue_size FROM system.replicas
            :-] WHERE is_readonly;

┌─table──┬─queue_size─┐
│ clicks │       4211 │
└────────┴────────────┘

ch-events-2 :) SYSTEM RESTART REPLICA events.clicks;
```
"""


def test_a_statement_at_clickhouse_clients_prompt_is_typed_into_the_console():
    # `ch-events-2 :) SYSTEM RESTART REPLICA events.clicks;` was sample output: the guide's
    # fix vanished from the plan with the query before it
    plan = compile_text(CLICKHOUSE)
    assert manual_scripts(plan) == [
        "SELECT table, queue_size FROM system.replicas\nWHERE is_readonly;\n"
        "SYSTEM RESTART REPLICA events.clicks;"]
    # with the console's opener in the block, each statement runs as its one-shot form
    plan = compile_text(CLICKHOUSE.replace("```\nch-events-2 :) SELECT",
                                           "```\n$ clickhouse-client -h ch-events-2\n"
                                           "ch-events-2 :) SELECT"))
    restart = runs(plan)[-1]
    assert restart.params["pipeline"] == [["clickhouse-client", "-h", "ch-events-2", "--query",
                                           "SYSTEM RESTART REPLICA events.clicks;"]]
    assert gated(plan, restart.id)


# -- a case and its arrow, ending the run -------------------------------------------------------

ARROW_CASES = """# Checkout errors

## Diagnosis

1. Look at the most recent errors:

   ```bash
   logcli query --since=15m --limit=50 '{app="checkout"} |= "level=error"'
   ```

   - Lines say `payment gateway timeout` → this is the PSP, not us. Escalate to the payments
     team in #payments-oncall.
   - Anything else → carry on with step 2.

2. Restart the noisy pod: `kubectl -n shop delete pod checkout-0`
"""


def test_an_arrow_case_whose_words_show_the_output_ends_the_run_as_its_arrow_says():
    # "Lines say `payment gateway timeout` → ... Escalate to the payments team": the case
    # showed the output in a code span, so it was no case; its escalation became the failure
    # ending and the run restarted the pod on a PSP outage
    plan = compile_text(ARROW_CASES)
    ends = [(e.condition.text if e.condition else None, plan.step(e.target).outcome)
            for e in plan.edges if plan.step(e.target).kind == StepKind.END and e.on == "success"
            and e.condition is not None]
    assert ("Lines say `payment gateway timeout`", "escalate") in ends
    (restart,) = runs(plan)[1:]
    assert guards_of(plan, restart.id) == ["Otherwise (not: Lines say `payment gateway timeout`)"]


def test_an_arrow_case_in_a_paragraph_under_a_check_ends_the_run():
    # "No rows → nothing is stuck; close the alert." was context for a reader: the run went
    # on to restart a healthy replica
    plan = compile_text("# Replicas\n\n## 1. Look\n\n```bash\nclickhouse-client --query "
                        "'SELECT table FROM system.replicas WHERE is_readonly'\n```\n\n"
                        "No rows → nothing is stuck, no action is needed.\n\n## 2. Restart\n\n"
                        "Run `systemctl restart clickhouse-server`.\n")
    (decide,) = [s for s in plan.steps if s.kind == StepKind.DECIDE]
    cases = {e.condition.text: plan.step(e.target) for _, e in plan.outgoing(decide.id)}
    assert cases["No rows"].outcome == "no_action"
    # an arrow that names a menu path, or has a command after it, is no case
    plan = compile_text("## Fix\n\nSettings → Network → close the alert.\n\n"
                        "Errors → run `systemctl restart app`, then close the alert.\n")
    assert not [s for s in plan.steps if s.kind == StepKind.DECIDE and "Errors" in s.text]


# -- when to stop a stream is no condition ------------------------------------------------------

def test_when_to_stop_a_stream_is_not_a_condition_on_its_command():
    # "Watch it move: `rostopic echo /cmd_vel` (Ctrl-C when done)." guarded the person's step
    # by the decision "when done)", asked of someone before the stream was ever watched
    for sentence in ("Watch it move: `rostopic echo /cmd_vel` (Ctrl-C when done).",
                     "Tail the log with `journalctl -fu app` (press q when finished).",
                     "Follow the log with `journalctl -fu app` when you are done."):
        plan = compile_text(f"## Fix\n\nRun `systemctl restart app`.\n\n{sentence}\n")
        assert not [s for s in plan.steps if s.kind == StepKind.DECIDE], sentence
        assert len(manual_scripts(plan)) == 1, sentence
    # a condition after its command still guards it
    plan = compile_text("## Fix\n\nRun `systemctl restart app` when the site returns 503.\n")
    assert guards_of(plan, runs(plan)[0].id) == ["when the site returns 503"]


# -- an action, then "stop here" -------------------------------------------------------------------

def test_what_a_guard_says_to_do_before_it_stops_the_run_is_a_persons_step():
    # "When the battery is under 20 %, send the AGV to charge instead and stop here." ended
    # the run, and nobody was asked to send the AGV to charge
    plan = compile_text("## 2. Read the battery\n\nRun `rostopic echo -n 1 /battery`.\n\n"
                        "When the battery is under 20 %, send the AGV to charge instead and "
                        "stop here.\n\n## 3. Clear the costmaps\n\n"
                        "Run `rosservice call /move_base/clear_costmaps '{}'`.\n")
    (charge,) = [s for s in plan.steps if s.kind == StepKind.MANUAL]
    assert charge.title.startswith("send the AGV to charge")
    assert guards_of(plan, charge.id) == ["When the battery is under 20 %"]
    (after,) = [plan.step(e.target) for _, e in plan.outgoing(charge.id)]
    assert after.kind == StepKind.END
    # a bare "stop here" is still only the ending
    plan = compile_text("## Check\n\nRun `rostopic echo -n 1 /battery`.\n\n"
                        "If the battery is full, stop here.\n")
    assert not [s for s in plan.steps if s.kind == StepKind.MANUAL]


def test_what_an_output_means_and_what_to_do_then_is_a_persons_step_under_that_case():
    # "`data: True` on the bumper means it is still pressed: free it by hand before anything
    # else." was context for a reader: the AGV's costmaps were cleared and a goal sent with
    # the bumper still pressed
    plan = compile_text("## 2. Read the bumper\n\n```bash\nrostopic echo -n 1 /bumper/state\n"
                        "```\n\n`data: True` on the bumper means it is still pressed: free it by "
                        "hand before anything else.\n\n## 3. Resend the goal\n\n"
                        "Run `rosservice call /move_base/clear_costmaps '{}'`.\n")
    (free,) = [s for s in plan.steps if s.kind == StepKind.MANUAL]
    assert guards_of(plan, free.id) == ["`data: True` on the bumper"]
    # "This usually means ..." points back at what came before: no case; nor is what a case
    # means without anything to do
    for prose in ("This usually means that the certs expired: see https://x.example/1.",
                  "`data: True` means the bumper is pressed: the drive is then disabled."):
        plan = compile_text(f"## Check\n\nRun `rostopic echo -n 1 /bumper/state`.\n\n{prose}\n")
        assert not [s for s in plan.steps if s.kind in (StepKind.MANUAL, StepKind.DECIDE)], prose


# -- a rollback after the procedure's last ending ------------------------------------------------

ROLLBACK_AFTER_END = """# Ceph nearfull

## Resolution

1. Lower the weight: `ceph osd reweight osd.17 0.90`
2. If `ceph health` prints `HEALTH_OK`, you are done. Otherwise escalate to the storage team.

## Rollback

Put the weight back:

```bash
ceph osd reweight osd.17 1.0
```
"""


def test_a_rollback_section_after_the_last_ending_is_offered_before_handing_over():
    # every path ended before "## Rollback", which had no way in: the guide did not compile
    plan = compile_text(ROLLBACK_AFTER_END)
    back = next(s for s in runs(plan) if s.params["pipeline"][0][-1] == "1.0")
    assert guards_of(plan, back.id) == ["Rollback"]
    (ask,) = [s for s in plan.steps if s.kind == StepKind.DECIDE and s.text == "Rollback"]
    # the escalation asks first; not rolling back hands over as the guide said
    into = [e.condition.text for _, e in plan.incoming(ask.id) if e.condition]
    assert into == ["Otherwise (not: If `ceph health` prints `HEALTH_OK`)"]
    other = [plan.step(e.target) for _, e in plan.outgoing(ask.id) if e.condition and
             e.condition.text.startswith("Otherwise")]
    assert [s.outcome for s in other] == ["escalate"]
    # the ending that is no escalation ("you are done", in a list item too) is not asked
    done = [e.target for e in plan.edges if e.condition and
            e.condition.text.startswith("If `ceph health`")]
    # (straight to the end: the `ceph health` the condition reads is no person's step)
    assert [plan.step(t).outcome for t in done] == ["resolved"]


def test_you_are_done_in_a_list_item_ends_the_run():
    # "2. If the queue is empty, you are done." was a person's step, and the run went on to
    # the next item's restart
    plan = compile_text("## Fix\n\n1. Flush the queue: `postqueue -f`\n"
                        "2. If the queue is empty, you are done.\n"
                        "3. Restart postfix: `systemctl restart postfix`\n")
    (ask,) = [s for s in plan.steps if s.kind == StepKind.DECIDE]
    (then,) = [plan.step(e.target) for _, e in plan.outgoing(ask.id)
               if e.condition and e.condition.text == "If the queue is empty"]
    after = [plan.step(e.target) for _, e in plan.outgoing(then.id)] if then.kind != \
        StepKind.END else [then]
    assert [s.outcome for s in after] == ["resolved"]


# -- bold section titles ------------------------------------------------------------------------

BOLD_SECTIONS = """# Ceph nearfull

**1. Symptoms**

- Writes slow down; restart the clients if they hang.

**2. Diagnosis**

    ceph osd df tree

**3. Resolution**

    ceph osd reweight osd.17 0.90

If `ceph health` prints `HEALTH_OK`, you are done. Otherwise escalate to the storage team.

**4. Rollback**

    ceph osd reweight osd.17 1.0
"""


def test_bold_lines_naming_a_runbooks_sections_are_its_headings():
    # a guide exported without headings: "**1. Symptoms**" ... "**4. Rollback**" were bold
    # paragraphs, the symptoms' words a step and the rollback unreachable (no compile)
    plan = compile_text(BOLD_SECTIONS)
    guide = parse_guide(BOLD_SECTIONS, path="g.md")
    assert [h.text for h in guide.headings()][1:] == ["1. Symptoms", "2. Diagnosis",
                                                      "3. Resolution", "4. Rollback"]
    back = next(s for s in runs(plan) if s.params["pipeline"][0][-1] == "1.0")
    assert guards_of(plan, back.id) == ["4. Rollback"]
    assert not [s for s in plan.steps if s.kind == StepKind.MANUAL and "restart the clients"
                in s.text]
    # a guide with its own `##` headings keeps a bold line as it is, and so does one bold line
    for text in (BOLD_SECTIONS.replace("**1. Symptoms**", "## Symptoms"),
                 "# X\n\n**Resolution**\n\nRun `systemctl restart app`.\n"):
        headings = [h.text for h in parse_guide(text, path="g.md").headings()]
        assert "3. Resolution" not in headings and "Resolution" not in headings, text


# -- a paragraph labelled "Rollback:" ------------------------------------------------------------

ROLLBACK_PARAGRAPH = """# Instance in ERROR

## Resolution

Reset the state and hard-reboot:

```bash
nova reset-state --active web-1
openstack server reboot --hard web-1
```

Rollback: if the reboot fails again, put the instance back in error with
`nova reset-state web-1`, and escalate to the compute team.

## Verify

Run `openstack server show web-1 -c status -f value`.
"""


def test_a_paragraph_labelled_rollback_is_for_when_a_person_rolls_back_then_hands_over():
    # its command was only words in the run's last escalation: no step ever held it
    plan = compile_text(ROLLBACK_PARAGRAPH)
    (back,) = [s for s in runs(plan) if s.params["pipeline"] == [["nova", "reset-state",
                                                                   "web-1"]]]
    assert gated(plan, back.id)
    assert guards_of(plan, back.id) == ["Rollback: if the reboot fails again"]
    assert {plan.step(e.target).outcome for _, e in plan.outgoing(back.id)} == {"escalate"}
    # the verification still follows the fix when nobody rolls back
    show = next(s for s in runs(plan) if s.params["pipeline"][0][1:3] == ["server", "show"])
    assert not gated(plan, show.id)
    # "Rollback: none" says there is no way back
    plan = compile_text(ROLLBACK_PARAGRAPH.replace("Rollback: if", "Rollback: none; if"))
    assert not [s for s in plan.steps if s.kind == StepKind.DECIDE and
                s.text.startswith("Rollback")]
    # an escalation sentence that names a command: the run's last word, and a person's step
    # holds the command (it was lost in the ending's words)
    plan = compile_text(ROLLBACK_PARAGRAPH.replace(
        "Rollback: if the reboot fails again, put", "Put"))
    assert manual_scripts(plan) == ["nova reset-state web-1"]
    assert not [s for s in runs(plan) if s.params["pipeline"] == [["nova", "reset-state",
                                                                   "web-1"]]]


def test_a_cloud_clients_command_runs_here_whatever_machine_its_step_names():
    # "**2. Check the compute service on that host**" made `openstack compute service list
    # --host cmp-0412` a person's step on the hypervisor: the client reaches the cloud's API
    # from anywhere, as gcloud and aws do
    plan = compile_text("## Diagnosis\n\nCheck the compute service on that host:\n\n"
                        "```bash\nopenstack compute service list --host cmp-0412\n```\n")
    assert [s.params["pipeline"] for s in runs(plan)] == [
        [["openstack", "compute", "service", "list", "--host", "cmp-0412"]]]


# -- the guides tried ----------------------------------------------------------------------------

def test_each_guide_tried_gates_its_changes_and_accounts_for_every_line():
    assert_gated_and_accounted(folder=STYLES13, at_least=8)


# -- "any host" is no particular machine ----------------------------------------------------------

def test_from_any_host_names_no_machine_of_its_own():
    # "From any host with `redis-cli` 7:" made the cluster check a person's step on another
    # machine; any host is this one too
    for intro in ("From any host with `redis-cli` 7:", "On any machine, run:"):
        plan = compile_text(f"## Check\n\n{intro}\n\n```shell\n"
                            "redis-cli --cluster check redis-s1:7000\n```\n")
        assert [s.params["pipeline"] for s in runs(plan)] == [
            [["redis-cli", "--cluster", "check", "redis-s1:7000"]]], intro
    # a member of something is a machine of its own
    plan = compile_text("## Check\n\nOn any host of the cluster, run:\n\n```shell\n"
                        "redis-cli --cluster check redis-s1:7000\n```\n")
    assert runs(plan) == []


# -- an ending in a clause after a semicolon ------------------------------------------------------

def test_an_ending_after_a_semicolon_is_its_own_cases_ending():
    # "Does `cluster_state` read `fail`? Then continue below; if it reads `ok`, the alert was a
    # flap and nothing needs doing." was context for a reader: a flapping alert ran the fix
    plan = compile_text("## Check\n\nRun `redis-cli -h redis-s1 -p 7000 CLUSTER INFO`.\n\n"
                        "Does `cluster_state` read `fail`? Then continue below; if it reads "
                        "`ok`, the alert was a flap and nothing needs doing.\n\n## Fix\n\n"
                        "Run `redis-cli --cluster fix redis-s1:7000`.\n")
    ask = next(s for s in plan.steps if s.kind == StepKind.DECIDE and "ok" in s.text)
    cases = {e.condition.text: plan.step(e.target) for _, e in plan.outgoing(ask.id)}
    assert cases["If it reads `ok`"].outcome == "no_action"
    # a clause that only describes stays context
    plan = compile_text("## Check\n\nRun `redis-cli -h redis-s1 -p 7000 CLUSTER INFO`.\n\n"
                        "Copy the query first; if you edit it in place, the label is not "
                        "updated.\n")
    assert not [s for s in plan.steps if s.kind == StepKind.DECIDE]


# -- "Expected result:" over a block ---------------------------------------------------------------

def test_a_block_after_expected_result_is_sample_output():
    # the server's YAML after "Expected result:" was "configuration"; and a printed command
    # line in it would have run
    text = ("## Diagnosis\n\n```bash\nopenstack server show web-1 -f yaml\n```\n\n"
            "Expected result:\n\n```\nstatus: ERROR\nfault:\n  message: lost\n```\n\n"
            "**Expected result:**\n\n```\nsudo systemctl restart nova-compute\n```\n")
    plan = compile_text(text)
    assert len(runs(plan)) == 1 and manual_scripts(plan) == []
    lines = explain(parse_guide(text, path="g.md"), plan, text)
    assert sum("sample output" in row.became for row in lines) == 2, [str(r) for r in lines]


# -- a wait before the question ----------------------------------------------------------------

def test_a_wait_before_a_question_in_the_same_paragraph_is_a_persons_step():
    # "Wait two minutes and run the query from step 1 again. Should the count still climb,
    # escalate ..." lost the wait: the question was asked right after the restart
    plan = compile_text("## Fix\n\n1. Restart the noisy pod:\n\n   ```bash\n"
                        "   kubectl -n shop delete pod web-0\n   ```\n\n"
                        "   Wait two minutes and run the query from step 1 again. Should the "
                        "count still climb, escalate to the checkout team lead.\n")
    (wait,) = [s for s in plan.steps if s.kind == StepKind.MANUAL]
    assert wait.text.startswith("Wait two minutes")
    (ask,) = [plan.step(e.target) for _, e in plan.outgoing(wait.id)]
    assert ask.kind == StepKind.DECIDE and ask.text == "Should the count still climb"


# -- what must hold before starting ----------------------------------------------------------------

def test_what_must_hold_before_you_start_is_a_persons_checkpoint():
    # "**Before you start:** the AGV must be in manual mode and the area around it clear." was
    # context for a reader: the run sent the AGV a goal without anyone confirming it
    plan = compile_text("# AGV 12\n\n**Before you start:** the AGV must be in manual mode (key "
                        "switch on the panel) and the area around it clear.\n\n## Clear\n\n"
                        "Run `rosservice call /move_base/clear_costmaps '{}'`.\n")
    (check,) = [s for s in plan.steps if s.kind == StepKind.MANUAL]
    assert "manual mode" in check.text
    assert plan.entry == check.id or any(e.target == check.id for e in plan.edges)
    # what to read first is no checkpoint
    plan = compile_text("# AGV 12\n\nBefore you start: read the safety manual.\n\n## Clear\n\n"
                        "Run `rosservice call /move_base/clear_costmaps '{}'`.\n")
    assert not [s for s in plan.steps if s.kind == StepKind.MANUAL]
