"""On-call runbooks in SRE and TSG styles the earlier sweeps did not try: an Opsgenie
Triage / Mitigate / Verify / Follow-up runbook, a Google-SRE playbook entry with bold lead-ins,
ad-hoc Ansible, an Azure TSG with KQL, PowerShell and `cmd`, a GitHub wiki with "### 1)" and
"### 1." headings, reStructuredText converted to Markdown, a Confluence "Step | Action |
Expected result" table, lettered cases under a numbered item, arrow chains, FAQ answers, a
retry loop, and a triage followed by a last resort (tests/fixtures/styles24 holds the guides
tried). Each test is one rule a guide author would recognise."""

from __future__ import annotations

from pathlib import Path

from engine.plan import StepKind
from tests.support.compiling import (
    assert_gated_and_accounted,
    case_side,
    compile_text,
    gated,
    guards_of,
    reachable,
    running,
)

STYLES24 = Path(__file__).resolve().parents[2] / "fixtures" / "styles24"


def test_each_styles24_guide_compiles_gated_and_accounted_for():
    assert_gated_and_accounted(folder=STYLES24, at_least=10)


def _ends(plan):
    return {s.id: s.outcome for s in plan.steps if s.kind == StepKind.END}


def _step_titled(plan, start):
    (step,) = [s for s in plan.steps if s.title.startswith(start)]
    return step


# -- a case's section is the guide's last ---------------------------------------------------------

def test_a_case_that_goes_to_the_last_section_leaves_the_fix_a_way_to_the_ending():
    # "- If no rollout happened, go to **Follow-up**." under Triage, and "## Follow-up" last
    # with two bullets: the fix's path was held back from running into a case's section and
    # had nowhere to go, and the guide failed to compile ("the tree ends every path")
    plan = compile_text(
        "## Triage\n\n1. Look at the last deploy:\n\n"
        "   ```bash\n   kubectl -n web rollout history deploy/web\n   ```\n\n"
        "   - If a rollout finished in the last 30 minutes, go to **Mitigate**.\n"
        "   - If no rollout happened, go to **Follow-up**.\n\n"
        "## Mitigate\n\n1. Roll back:\n\n"
        "   ```bash\n   kubectl -n web rollout undo deploy/web\n   ```\n\n"
        "## Verify\n\n1. If the error rate is still above 1%, escalate to the web lead.\n\n"
        "## Follow-up\n\n- Open a ticket for the owning team.\n"
        "- Close the alert once the graph is flat.\n")
    undo = running(plan, "rollout", "undo")
    assert gated(plan, undo.id)
    reached = reachable(plan, undo.id)
    outcomes = {_ends(plan)[s] for s in reached if s in _ends(plan)}
    assert "resolved" in outcomes and "escalate" in outcomes


# -- a stop, and what the sentence says around it -------------------------------------------------

_REROUTE = ("3. Reroute:\n\n```bash\ncurl -s -XPOST localhost:9200/_cluster/reroute\n```\n")


def _shards_guide(said):
    return ("## Fix\n\n1. Check:\n\n```bash\ncurl -s localhost:9200/_cat/shards\n```\n\n"
            f"2. {said}\n\n{_REROUTE}")


def test_a_finding_before_a_stop_says_why_and_the_case_ends_there():
    # "2. If there are no unassigned shards, the cluster is recovering by itself: stop here.":
    # the finding was taken for a person's step, and the run went on into the reroute
    for said in ("If there are no unassigned shards, the cluster is recovering by itself: "
                 "stop here.",
                 "If there are no unassigned shards, the cluster heals on its own; stop here."):
        plan = compile_text(_shards_guide(said))
        taken = case_side(plan, "If there are no unassigned shards")
        assert _ends(plan).get(taken) == "resolved", said
        assert running(plan, "reroute").id not in reachable(plan, taken), said


def test_a_stop_with_something_to_do_before_it_keeps_that_step():
    # a clause that says to do something is still a person's step before the stop
    plan = compile_text(_shards_guide(
        "If the queue is empty, restart the consumer by hand and stop here."))
    taken = case_side(plan, "If the queue is empty")
    assert plan.step(taken).kind == StepKind.MANUAL
    assert running(plan, "reroute").id not in reachable(plan, taken)
    assert "resolved" in {_ends(plan).get(s) for s in reachable(plan, taken)}
    # (in a paragraph too, and "- resolve the alert" after the finding is such a clause)
    plan = compile_text("## Check\n\n```bash\ncurl -s https://x/health\n```\n\n"
                        "If `Sealed` is `false`, the alert is stale - resolve the alert and stop "
                        "here.\n\n```bash\nkubectl -n v delete pod vault-0\n```\n")
    taken = case_side(plan, "If `Sealed` is `false`")
    assert "resolved" in {_ends(plan).get(s) for s in reachable(plan, taken)}


def test_stop_here_and_watch_it_ends_the_run():
    # "..., the cluster is recovering: stop here and watch it.": nothing more to do but wait
    for said in ("If there are no unassigned shards, stop here and watch it.",
                 "If there are no unassigned shards, the cluster is recovering: stop here and "
                 "let it recover."):
        plan = compile_text(_shards_guide(said))
        taken = case_side(plan, "If there are no unassigned shards")
        assert _ends(plan).get(taken) == "resolved", said


def test_stop_and_tell_a_team_hands_the_incident_over():
    # "c) If the pod is `ImagePullBackOff`, the image tag is wrong: stop and tell the release
    # team.": a person's step, and the run went on to restart the deployment
    for said in ("If the pod is `ImagePullBackOff`, the image tag is wrong: stop and tell the "
                 "release team.",
                 "If the pod is `ImagePullBackOff`, stop and notify the release team."):
        plan = compile_text(_shards_guide(said))
        taken = case_side(plan, "If the pod is `ImagePullBackOff`")
        assert _ends(plan).get(taken) == "escalate", said
        assert running(plan, "reroute").id not in reachable(plan, taken), said


# -- lettered cases under a numbered step ---------------------------------------------------------

LETTERED = """# Pod not starting

1. Find the pod's status:

   ```bash
   kubectl -n shop get pod -l app=cart -o wide
   ```

2. Act on the status:

   {a} If the pod is `Pending`, describe it and look at the events:

      ```bash
      kubectl -n shop describe pod -l app=cart
      ```

   {b} If the pod is `CrashLoopBackOff`, read the previous container's logs:

      ```bash
      kubectl -n shop logs -l app=cart --previous --tail=100
      ```

   {c} If the pod is `ImagePullBackOff`, the image tag is wrong: escalate to the release team.

3. Once the cause is fixed, restart the deployment:

   ```bash
   kubectl -n shop rollout restart deploy/cart
   ```
"""


def test_lettered_cases_apart_with_their_blocks_are_sibling_cases():
    # "a) If the pod is `Pending`, ..." over its block, a blank line, "b) If the pod is
    # `CrashLoopBackOff`, ..." over its block: the first case's paragraph was the item's
    # words, and the other cases were asked only inside it (a crash-looping pod, not Pending,
    # went straight to the restart, its logs never read)
    for marks in (("a)", "b)", "c)"), ("a.", "b.", "c."), ("(a)", "(b)", "(c)")):
        plan = compile_text(LETTERED.format(a=marks[0], b=marks[1], c=marks[2]))
        logs = running(plan, "logs")
        describe = running(plan, "describe")
        assert guards_of(plan, describe.id) == ["If the pod is `Pending`"], marks
        assert guards_of(plan, logs.id) == ["If the pod is `CrashLoopBackOff`"], marks
        # not Pending: the next case is asked (it went to the restart)
        (pending,) = [s for s in plan.steps if s.kind == StepKind.DECIDE and
                      s.title == "If the pod is `Pending`"]
        (other,) = [e.target for e in plan.edges if e.source == pending.id and e.condition and
                    e.condition.text.startswith("Otherwise")]
        assert plan.step(other).title == "If the pod is `CrashLoopBackOff`", marks
        assert describe.id not in reachable(plan, other), marks
        pulled = case_side(plan, "If the pod is `ImagePullBackOff`")
        assert _ends(plan).get(pulled) == "escalate", marks


def test_sub_steps_on_the_lines_under_an_item_stay_as_they_were():
    # a letter that opens a paragraph outside any list is no sub-step
    plan = compile_text("## Fix\n\nRestart it:\n\n```bash\nsudo systemctl restart app\n```\n\n"
                        "a) the service comes back.\n\nb) the queue drains.\n")
    assert not any(s.title.startswith(("The service comes back", "the service comes back"))
                   for s in plan.steps)


# -- a command the condition reads ----------------------------------------------------------------

def test_a_command_that_a_condition_reads_is_no_step_of_its_own():
    # "2. If `ceph health` shows PGs `inactive`, stop here and page storage on-call.": the
    # command is what the condition reads; it was a person's step "show `ceph health`" of its
    # own before the case's ending
    guide = ("## Fix\n\n1. Mark it out:\n\n   ```bash\n   ceph osd out osd.17\n   ```\n\n"
             "2. If `{cmd}` shows PGs `inactive`, stop here and page storage on-call.\n\n"
             "3. Purge it:\n\n   ```bash\n   ceph osd purge 17 --yes-i-really-mean-it\n   ```\n")
    plan = compile_text(guide.format(cmd="ceph health"))
    taken = case_side(plan, "If `ceph health` shows PGs `inactive`")
    assert _ends(plan).get(taken) == "escalate"
    # one not known to only read stays in a person's sight ("If `kill -TTIN` fails, ...")
    plan = compile_text(guide.format(cmd="kill -TTIN 4242"))
    taken = case_side(plan, "If `kill -TTIN 4242` shows PGs `inactive`")
    assert plan.step(taken).kind == StepKind.MANUAL
    # and a paragraph's "When `zpool status` shows X, turn the LED off with `y`": the LED
    # command is the case's, `zpool status` no step
    plan = compile_text(
        "## Finish\n\nWhen `zpool status tank` shows `0 errors`, turn the LED off with "
        "`sudo ledctl locate_off=/dev/sdb`.\n")
    assert not [s for s in plan.steps if s.kind == StepKind.MANUAL and "zpool" in
                str(s.params.get("script", "")) + s.title]
    # a command the sentence asks to use is still a person's ("If you see `False` you can get
    # more info using `kubectl describe certificate`")
    plan = compile_text(
        "## Check\n\n```bash\nkubectl get certificate\n```\n\nIf you see one with ready status "
        "`False` you can get more info using `kubectl describe certificate`.\n")
    assert any("kubectl describe certificate" in s.text for s in plan.steps
               if s.kind in (StepKind.MANUAL, StepKind.COMMAND))


# -- reStructuredText literal blocks --------------------------------------------------------------

def test_a_four_letter_word_piped_into_a_tool_is_a_command_line():
    # "Check each server's mode::" over an indented `echo srvr | nc zk-1 2181 | grep Mode`
    # (an RST literal block, converted): taken for sample output, the checks were lost
    plan = compile_text("## Check\n\nCheck each server's mode::\n\n"
                        "    echo srvr | nc zk-1 2181 | grep Mode\n"
                        "    echo srvr | nc zk-2 2181 | grep Mode\n\nThen restart.\n")
    checks = [s for s in plan.steps if s.kind == StepKind.COMMAND]
    assert [s.params["pipeline"][0][:2] for s in checks] == [["echo", "srvr"]] * 2
    assert all(gated(plan, s.id) for s in checks)  # (what `nc` sends is not known read-only)
    # output that only names such words stays output
    plan = compile_text("## Check\n\nThe log shows:\n\n    echo is not a command here\n")
    assert not [s for s in plan.steps if s.kind == StepKind.COMMAND]


def test_a_guard_that_takes_the_whole_sentence_titles_its_step_by_it():
    # "If no server says ``leader`` the ensemble has no quorum." (no comma): the guard took
    # every word and the person's step under it had no title
    plan = compile_text("## Check\n\n```bash\nsystemctl status zookeeper\n```\n\n"
                        "If no server says `leader` the ensemble has no quorum.\n\n"
                        "## Restart\n\n```bash\nsudo systemctl restart zookeeper\n```\n")
    assert all(s.title.strip() for s in plan.steps)


# -- a Confluence "Step | Action | Expected result" table -----------------------------------------

STEP_ACTION = """## Procedure

| Step | Action | Expected result |
|---|---|---|
| 1 | Check the eviction counter: `echo stats \\| nc cache-01 11211 \\| grep evictions` | Stable |
| 2 | Check the memory: `free -m` | 4 GB |
| 3 | If evictions keep rising, restart the warm-up job: `sudo systemctl restart cache-warmer` \
| The job is active |
| 4 | Tell the #platform channel the cache is being warmed | — |
"""


def test_an_action_cell_with_its_words_then_its_command_is_a_step():
    # "| 2 | Check the memory: `free -m` | 4 GB |": each row's command is the row's step, in
    # the table's order; the whole table was one person's step "Procedure"
    plan = compile_text(STEP_ACTION)
    memory = running(plan, "free", "-m")
    assert memory.title == "Check the memory" and not gated(plan, memory.id)
    stats = running(plan, "nc", "cache-01")
    assert stats.params["pipeline"] == [["echo", "stats"], ["nc", "cache-01", "11211"],
                                        ["grep", "evictions"]]
    assert memory.id in reachable(plan, stats.id)
    # the row's case guards its command, which waits for an approval
    warm = running(plan, "restart", "cache-warmer")
    assert gated(plan, warm.id) and guards_of(plan, warm.id) == ["If evictions keep rising"]
    assert _step_titled(plan, "Tell the #platform channel").kind == StepKind.MANUAL


def test_a_decision_tables_action_cells_stay_cases():
    # "| # | Condition | Mitigation |" numbered too: each row is a case, not a step in turn
    plan = compile_text(
        "## Mitigation\n\n| # | Condition | Mitigation |\n|---|---|---|\n"
        "| 1 | Throttling on one account | Fail over: `az storage account failover --name a` |\n"
        "| 2 | Throttling on every account | Scale down: `az aks scale --name k --node-count 3` |"
        "\n")
    assert guards_of(plan, running(plan, "failover").id) == ["Throttling on one account"]


# -- an FAQ's qualified answers -------------------------------------------------------------------

def test_yes_if_and_no_unless_answers_guard_what_they_introduce():
    # "### Can I restart a broker?" over "Yes, if the under-replicated partition count is zero
    # on every other broker:" and the restart: the condition was lost, the restart ran
    # whatever the count (and "on every other broker" sent the check to a person)
    for answer, guard in (
            ("Yes, if the under-replicated count is zero on every other broker:",
             "If the under-replicated count is zero on every other broker"),
            ("Yes, but only if the under-replicated count is zero:",
             "If the under-replicated count is zero"),
            ("No, unless the controller log shows leaders piling on one broker:",
             "If the controller log shows leaders piling on one broker")):
        plan = compile_text(
            "### Can I restart a broker during business hours?\n\n"
            f"{answer}\n\n```bash\nkafka-topics.sh --bootstrap-server k:9092 --describe "
            "--under-replicated-partitions\n```\n\n```bash\nsudo systemctl restart kafka\n```\n")
        check = running(plan, "kafka-topics.sh")
        restart = running(plan, "systemctl", "restart")
        assert guards_of(plan, check.id) == [guard], answer
        assert restart.id in reachable(plan, check.id) and gated(plan, restart.id), answer
    # a plain "No." stays no condition
    plan = compile_text("### Should I delete the log directory?\n\nNo. Never. Escalate to the "
                        "streaming team.\n")
    assert not any(s.title.startswith("If ") for s in plan.steps)


# -- a jump and a hand-over in one case -----------------------------------------------------------

def test_go_to_a_section_and_page_someone_keeps_the_page():
    # "- If no rollout happened, go to **Follow-up** and page the payments lead.": only the
    # jump was kept, and nobody was paged
    for said in ("- If no rollout happened, go to **Follow-up** and page the payments lead.",
                 "If no rollout happened, go to [Follow-up](#follow-up) and tell the payments "
                 "lead."):
        plan = compile_text(
            "## Triage\n\n```bash\nkubectl -n web rollout history deploy/web\n```\n\n"
            f"{said}\n\n## Mitigate\n\n```bash\nkubectl -n web rollout undo deploy/web\n```\n\n"
            "## Follow-up\n\n1. Write the timeline in the incident doc.\n")
        taken = case_side(plan, "If no rollout happened")
        page = plan.step(taken)
        assert page.kind == StepKind.MANUAL and "payments lead" in page.title, said
        ticket = _step_titled(plan, "Write the timeline")
        assert ticket.id in reachable(plan, taken), said
        assert running(plan, "undo").id not in reachable(plan, taken), said


# -- the guide's hand-over ------------------------------------------------------------------------

def test_the_escalation_section_hands_over_not_a_warnings_instead():
    # "> [!WARNING] Do not reinstall the agent on domain controllers. Escalate to the identity
    # team instead." then "## Escalation" "Engage the Azure Compute support queue ...": the
    # warning's one case was the run's hand-over, the Escalation section ignored
    plan = compile_text(
        "## Fix\n\n```powershell\nRestart-Service -Name RdAgent\n```\n\n"
        "> [!WARNING]\n> Do not reinstall the agent on domain controllers. Escalate to the "
        "identity team instead.\n\n## Mitigation\n\nIf the agent still does not report, "
        "redeploy the VM:\n\n```bash\naz vm redeploy -g rg-app -n win-app-07\n```\n\n"
        "## Escalation\n\nEngage the Azure Compute support queue with the VM resource ID.\n")
    handed = [s for s in plan.steps if s.kind == StepKind.END and s.outcome == "escalate"
              and "Azure Compute support" in (s.text or "")]
    assert handed
    assert not [s for s in plan.steps if s.kind == StepKind.END and "identity team" in
                (s.text or "") and "Azure" not in (s.text or "")]


# -- a last resort --------------------------------------------------------------------------------

LAST_RESORT = """# MySQL too many connections

## Triage

1. List the threads: `mysql -u admin -e 'SHOW PROCESSLIST'`
2. If more than 200 threads sleep, kill the sleeping ones:

   ```bash
   pt-kill --match-command Sleep --busy-time 600 --kill --print
   ```

3. If the count drops below 100, the incident is mitigated.

## {heading}

1. Restart MySQL:

   ```bash
   sudo systemctl restart mysql
   ```

2. Tell #incidents that MySQL was restarted.
"""


def test_a_last_resort_section_is_entered_only_when_a_person_says_so():
    # "## Last resort" after the triage: the triage's last case fell straight into the
    # MySQL restart (its approval the only question, asked as of any step)
    for heading in ("Last resort", "As a last resort", "Break glass"):
        plan = compile_text(LAST_RESORT.format(heading=heading))
        restart = running(plan, "systemctl", "restart", "mysql")
        assert guards_of(plan, restart.id) == [f"{heading}: the steps above did not help"], \
            heading
        assert gated(plan, restart.id), heading
    # any other section is not asked
    plan = compile_text(LAST_RESORT.format(heading="Restart"))
    assert guards_of(plan, running(plan, "systemctl", "restart", "mysql").id) == \
        ["Otherwise (not: If the count drops below 100)"]


# -- a client that names its host -----------------------------------------------------------------

def test_a_client_that_names_its_host_runs_here_whatever_place_the_sentence_names():
    # "Check the replication state on the replica:" over `redis-cli -h redis-replica-2 info
    # replication`: the client reaches the replica itself; it was a person's step, typed there
    for line in ("redis-cli -h redis-replica-2 info replication",
                 "psql --host=pg-replica-1 -U monitor -c 'SELECT pg_is_in_recovery()'"):
        plan = compile_text(f"## Check\n\n1. Check the replication state on the replica:\n\n"
                            f"   ```bash\n   {line}\n   ```\n")
        assert [s.kind for s in plan.steps if s.source.start == 6 and
                s.kind != StepKind.END] == [StepKind.COMMAND], line
    # `-h localhost` is the machine the sentence names: typed there, a person's
    plan = compile_text("## Check\n\n1. Check the replication state on the replica:\n\n"
                        "   ```bash\n   redis-cli -h 127.0.0.1 info replication\n   ```\n")
    assert [s.kind for s in plan.steps if s.source.start == 6 and
            s.kind != StepKind.END] == [StepKind.MANUAL]


# -- a playbook entry's bold lead-ins -------------------------------------------------------------

def _playbook(said):
    return ("**Diagnosis:** Look at the clusters:\n\n```bash\ngcloud bigtable clusters list "
            f"--instances=prod-events\n```\n\n{said}\n")


def test_paging_a_rotas_handle_hands_over():
    # "If the lag keeps rising after 30 minutes, page storage-oncall.": a person's step, and
    # the run ended resolved
    for said in ("If the lag keeps rising after 30 minutes, page storage-oncall.",
                 "If the lag keeps rising after 30 minutes, page @dba-on-call."):
        plan = compile_text(_playbook(said))
        taken = case_side(plan, "If the lag keeps rising after 30 minutes")
        assert _ends(plan).get(taken) == "escalate", said


def test_a_label_over_a_case_is_not_its_ending():
    # "**Escalation:** If the lag keeps rising after 30 minutes, page storage-oncall.": the
    # label was read as "Escalate if ...", and the case's condition held its action too
    plan = compile_text(_playbook(
        "**Escalation:** If the lag keeps rising after 30 minutes, page the storage on-call."))
    (decide,) = [s for s in plan.steps if s.kind == StepKind.DECIDE]
    assert decide.title == "If the lag keeps rising after 30 minutes"
    # an ending said before its condition still is one
    plan = compile_text(_playbook("Escalate to the storage team if the lag keeps rising."))
    taken = case_side(plan, "if the lag keeps rising")
    assert _ends(plan).get(taken) == "escalate"


# -- a case's section in prose --------------------------------------------------------------------

def test_an_if_headings_prose_is_that_cases_step():
    # "## If the quick path did not help" over "Take the agent offline.": the words were lost,
    # the condition left with nothing to guard, and the run ended as if the path had helped
    plan = compile_text("## Check\n\n```bash\ndf -h /var/lib/docker\n```\n\n"
                        "## If the quick path did not help\n\nTake the agent offline and drain "
                        "its queue by hand.\n")
    taken = case_side(plan, "If the quick path did not help")
    step = plan.step(taken)
    assert step.kind == StepKind.MANUAL and step.title.startswith("Take the agent offline")
    # a section that is no case keeps its prose as context
    plan = compile_text("## Check\n\n```bash\ndf -h /var/lib/docker\n```\n\n"
                        "## Background\n\nThe agents share one disk.\n")
    assert not [s for s in plan.steps if s.kind == StepKind.MANUAL]


# -- a password typed at the terminal -------------------------------------------------------------

def test_a_client_that_asks_for_its_password_is_a_persons_step():
    # "1. Connect as admin and list the threads: `mysql -u admin -p -e 'SHOW PROCESSLIST'`":
    # it ran as a read-only step, with no terminal to type the password at
    for line in ("mysql -u admin -p -e 'SHOW PROCESSLIST'",
                 "psql -h db-1 -U app -W -c 'SELECT 1'",
                 "sudo -u postgres psql --password -c 'SELECT 1'",
                 "redis-cli -h cache-1 --askpass INFO replication",
                 "pt-kill --user admin --ask-pass --match-command Sleep --print"):
        plan = compile_text(f"## Check\n\n1. List the threads: `{line}`\n"
                            "2. Count the sleeping ones.\n")
        (step,) = [s for s in plan.steps if s.title == "List the threads"]
        assert step.kind == StepKind.MANUAL, line
    # a password given on the line (or none asked) runs as before
    plan = compile_text("## Check\n\n1. List the threads: `mysql -u admin -e 'SHOW PROCESSLIST'`"
                        "\n2. Count the sleeping ones.\n")
    assert running(plan, "mysql").title == "List the threads"
