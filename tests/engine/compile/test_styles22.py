"""On-call guides in styles the earlier sweeps did not try: a Nomad/Consul operator guide, an
IIS guide in `cmd` and PowerShell, a cloud CLI guide with JMESPath queries, a Salt "Run on each
node:" runbook, a GitHub issue template's checklist, a Q:/A: FAQ, heredocs and continuations, a
"symptom → cause → fix" guide, `<details>` folds, definition lists with 1.1/a) sub-steps, an
Azure TSG's Symptom | Check | Action table (tests/fixtures/styles22 holds the guides tried).
Each test is one rule a guide author would recognise."""

from __future__ import annotations

from pathlib import Path

from engine.plan import StepKind
from tests.support.compiling import (
    assert_gated_and_accounted,
    compile_text,
    gated,
    reachable,
    running,
    successors,
)

STYLES22 = Path(__file__).resolve().parents[2] / "fixtures" / "styles22"


def test_each_styles22_guide_compiles_gated_and_accounted_for():
    assert_gated_and_accounted(folder=STYLES22, at_least=10)


# -- a case that jumps to the very next section owns it -------------------------------------------

def test_a_case_that_jumps_to_the_next_section_does_not_run_it_when_it_does_not_hold():
    # "If the errors come back, go to step 3." right above "## 3. Replace the disk": the
    # decision's "otherwise" fell into step 3 as well, and took offline a disk whose errors
    # had cleared; now the section is the case's, and the run goes on after it
    plan = compile_text(
        "## 2. Clear\n\n```bash\nzpool clear tank sdc\n```\n\n"
        "Watch `zpool status tank` for an hour. If the errors come back, go to step 3.\n\n"
        "## 3. Replace the disk\n\n1. Take the disk offline: `zpool offline tank sdc`\n\n"
        "## 4. Finish\n\n```bash\nzpool status -x\n```\n")
    offline = running(plan, "zpool", "offline")
    finish = running(plan, "zpool", "status", "-x")
    (guard,) = [s for s in plan.steps if s.title == "If the errors come back"]
    jumped = [e.target for e in plan.edges if e.source == guard.id and e.kind == "jump"]
    (other,) = [e.target for e in plan.edges if e.source == guard.id and e.kind == "else"]
    assert jumped == ["approve-" + offline.id] and gated(plan, offline.id)
    assert offline.id not in reachable(plan, other)
    assert plan.step(other).outcome == "escalate"
    assert finish.id in successors(plan, offline.id)
    # a heading the guide jumps to past other steps is still read on into by them
    plan = compile_text(
        "## 2. Clear\n\nIf the errors come back, go to step 3.\n\n```bash\nzpool status tank\n"
        "```\n\n## 3. Replace the disk\n\n1. Take the disk offline: `zpool offline tank sdc`\n")
    status = running(plan, "zpool", "status", "tank")
    assert running(plan, "zpool", "offline").id in successors(plan, status.id)


# -- a table's action cell that says there is nothing to do -------------------------------------

def test_an_action_cell_saying_none_ends_the_run_with_nothing_to_do():
    # "| Node healthy again | `kubectl get nodes` | None |": a person's step "None", then the
    # run went on into the next section's reimage
    for cell in ("None", "No action", "N/A", "\u2014"):
        plan = compile_text(
            "## Triage\n\n| Symptom | Check | Action |\n|---|---|---|\n"
            "| Disk pressure | `kubectl get node n1 -o wide` | Drain it: "
            "`kubectl drain n1 --ignore-daemonsets` |\n"
            f"| Node healthy again | `kubectl get nodes` | {cell} |\n\n"
            "## Reimage\n\n```bash\naz vmss reimage -g rg -n vmss --instance-ids 3\n```\n")
        (case,) = [s for s in plan.steps if s.title == "Node healthy again"]
        (taken,) = [e.target for e in plan.edges if e.source == case.id and e.kind == "branch"]
        assert plan.step(taken).kind == StepKind.END and plan.step(taken).outcome == "no_action"
        assert not [s for s in plan.steps if s.kind == StepKind.MANUAL]
    # a cell that says what to do is still the person's step
    plan = compile_text(
        "## Triage\n\n| Symptom | Check | Action |\n|---|---|---|\n"
        "| Node healthy again | `kubectl get nodes` | Uncordon it in the portal |\n")
    assert [s.title for s in plan.steps if s.kind == StepKind.MANUAL] == \
        ["Uncordon it in the portal"]


# -- a case's finding, then what to do about it in a sentence of its own --------------------------

def test_a_finding_then_a_short_instruction_is_the_cases_step():
    # "If the end date is in the past, the rotation did not land. Re-issue it.": the condition
    # had "nothing to guard", and the re-issue below ran whatever the date
    check = ("## Look\n\n```bash\nkubectl -n web get secret web-tls -o jsonpath='{.data.tls\\.crt}'"
             " | base64 -d | openssl x509 -noout -enddate\n```\n\n")
    plan = compile_text(check + "If the end date is in the past, the rotation did not land. "
                        "Ask the cert owner to re-issue it.\n\n## Verify\n\n```bash\n"
                        "kubectl get certificate -n web\n```\n")
    (guard,) = [s for s in plan.steps if s.title == "If the end date is in the past"]
    (taken,) = [e.target for e in plan.edges if e.source == guard.id and e.kind == "branch"]
    assert plan.step(taken).kind == StepKind.MANUAL
    assert plan.step(taken).title == "Ask the cert owner to re-issue it"
    assert not [i for i in plan.ignored if i.kind == "guard"]
    # a pointer to more reading, or a description, is no step of the case's
    for after in ("See the cert-manager docs for details.",
                  "Removing the secret forces the issuer to start over."):
        plan = compile_text(check + "If the end date is in the past, the rotation did not "
                            f"land. {after}\n")
        assert not [s for s in plan.steps if s.kind in (StepKind.MANUAL, StepKind.DECIDE)]


def test_a_cases_instruction_that_names_the_next_section_goes_there():
    # "If the end date is in the past, re-issue it." right above "## Re-issue": a person's step
    # "re-issue it", then the run fell into the section's change whatever the date
    check = ("## Look\n\n```bash\nopenssl x509 -in /etc/ssl/web.pem -noout -enddate\n```\n\n")
    fix = ("## Re-issue\n\n```bash\nkubectl cert-manager renew web-tls -n web\n```\n\n"
           "## Verify\n\n```bash\nkubectl get certificate -n web\n```\n")
    for said in ("If the end date is in the past, re-issue it.",
                 "If the end date is in the past, the rotation did not land. Re-issue it."):
        plan = compile_text(check + said + "\n\n" + fix)
        renew = running(plan, "cert-manager", "renew")
        (guard,) = [s for s in plan.steps if s.title == "If the end date is in the past"]
        assert [e.target for e in plan.edges if e.source == guard.id and e.kind == "jump"] == \
            ["approve-" + renew.id]
        (other,) = [e.target for e in plan.edges if e.source == guard.id and e.kind == "else"]
        assert renew.id not in reachable(plan, other) and gated(plan, renew.id)
        assert not [s for s in plan.steps if s.kind == StepKind.MANUAL]
    # an instruction that is not the next section's stays a person's step before it
    plan = compile_text(check + "If the end date is in the past, renew it by hand.\n\n" + fix)
    assert [s.title for s in plan.steps if s.kind == StepKind.MANUAL] == ["renew it by hand"]


# -- remote execution and cloud reads that change nothing ----------------------------------------

def test_salts_reading_functions_run_without_approval_and_its_changes_wait():
    # "sudo salt 'osd-*' cmd.run 'chronyc tracking | grep ...'" and "state.apply chrony
    # test=True" (a dry run) each waited for an approval, as the restart did
    plan = compile_text(
        "## Check\n\n```bash\nsudo salt 'osd-*' cmd.run 'chronyc tracking | grep \"System time\"'"
        "\nsalt -C 'G@roles:ceph-osd' state.apply chrony test=True\nsalt '*' test.ping\n"
        "salt-call grains.get osrelease\n```\n\n## Fix\n\n```bash\n"
        "salt 'osd-*' cmd.run 'chronyc makestep'\nsalt 'osd-*' service.restart chronyd\n"
        "salt -C 'G@roles:ceph-osd' state.apply chrony\nsalt '*' pillar.items\n```\n")
    for words in (("chronyc", "tracking"), ("test=True",), ("test.ping",), ("grains.get",)):
        assert not gated(plan, running(plan, *words).id), words
    for words in (("makestep",), ("service.restart",), ("pillar.items",)):
        assert gated(plan, running(plan, *words).id), words
    (apply,) = [s for s in plan.steps if s.kind == StepKind.COMMAND and
                s.params["pipeline"][0][-1] == "chrony"]
    assert gated(plan, apply.id)


def test_the_time_daemons_reports_read_and_its_clock_steps_change():
    plan = compile_text("## Check\n\n```bash\nchronyc tracking\nchronyc sources -v\n"
                        "timedatectl status\n```\n\n## Fix\n\n```bash\nsudo chronyc makestep\n"
                        "timedatectl set-ntp true\n```\n")
    for words in (("tracking",), ("sources", "-v"), ("timedatectl", "status")):
        assert not gated(plan, running(plan, *words).id), words
    for words in (("makestep",), ("set-ntp",)):
        assert gated(plan, running(plan, *words).id), words


def test_an_az_get_that_only_prints_reads_and_get_credentials_does_not():
    # "az vmss get-instance-view ... --query statuses[].displayStatus" in a Tip waited for an
    # approval, as a reimage does
    plan = compile_text(
        "## Check\n\n```bash\naz vmss get-instance-view -g rg -n vmss --instance-id 3 "
        "--query \"statuses[].displayStatus\"\naz aks get-upgrades -g rg -n aks -o table\n"
        "az aks get-credentials -g rg -n aks --overwrite-existing\n```\n")
    assert not gated(plan, running(plan, "get-instance-view").id)
    assert not gated(plan, running(plan, "get-upgrades").id)
    assert gated(plan, running(plan, "get-credentials").id)  # it writes the kubeconfig


# -- a failure case that forbids the step after the check ----------------------------------------

def test_if_the_check_fails_do_not_reload_is_the_checks_failure_before_the_reload():
    # "sudo haproxy -c -f ..." and "sudo systemctl reload haproxy" in one block, then "If the
    # check fails, do not reload; escalate to the network team.": the reload's own failure,
    # after it had run; a failed check ended the run with no word of the escalation
    plan = compile_text(
        "## Reload\n\n```bash\nsudo haproxy -c -f /etc/haproxy/haproxy.cfg\n"
        "sudo systemctl reload haproxy\n```\n\n"
        "If the check fails, do not reload; escalate to the network team.\n\n"
        "## Verify\n\n```bash\ncurl -s http://localhost:8404/stats\n```\n")
    check = running(plan, "haproxy", "-c")
    reload_ = running(plan, "systemctl", "reload")
    (failed,) = [e.target for e in plan.edges if e.source == check.id and e.kind == "branch"
                 and e.on == "failure"]
    assert plan.step(failed).outcome == "escalate" and "network team" in plan.step(failed).text
    assert reload_.id in successors(plan, check.id) and gated(plan, reload_.id)
    assert not [e for e in plan.edges if e.source == reload_.id and e.kind == "branch"]
    # a failure case that forbids nothing is still the last step's own
    plan = compile_text(
        "## Reload\n\n```bash\nsudo haproxy -c -f /etc/haproxy/haproxy.cfg\n"
        "sudo systemctl reload haproxy\n```\n\n"
        "If it fails, escalate to the network team.\n")
    reload_ = running(plan, "systemctl", "reload")
    assert [e.on for e in plan.edges if e.source == reload_.id and e.kind == "branch"] == \
        ["failure"]


# -- a case inside a fold ends with the fold -----------------------------------------------------

def test_a_case_said_inside_a_details_fold_guards_only_what_the_fold_holds():
    # "If `api-3` flapped, put it in maintenance:" inside "<details><summary>Step 2 ...": the
    # case went on over the next fold's config check and reload, skipped when it had not
    plan = compile_text(
        "# HAProxy\n\n<details>\n<summary>Step 2 - Take a bad server out</summary>\n\n"
        "If `api-3` went DOWN/UP more than 5 times in 10 minutes, put it in maintenance:\n\n"
        "```bash\necho \"set server be_api/api-3 state maint\" | sudo socat stdio "
        "/run/haproxy/admin.sock\n```\n\n</details>\n\n<details>\n<summary>Step 3 - Check and "
        "reload</summary>\n\n```bash\nsudo haproxy -c -f /etc/haproxy/haproxy.cfg\n```\n\n"
        "</details>\n")
    maint = running(plan, "state", "maint")
    check = running(plan, "haproxy", "-c")
    (guard,) = [s for s in plan.steps if s.kind == StepKind.DECIDE]
    (other,) = [e.target for e in plan.edges if e.source == guard.id and e.kind == "else"]
    assert other == check.id and check.id in successors(plan, maint.id)
    assert gated(plan, maint.id)


# -- output that only looked like a ClickHouse statement -----------------------------------------

def test_a_line_that_opens_with_system_is_output_unless_it_names_a_system_statement():
    # "System time     : 0.000312 seconds fast of NTP time" under "Example:" was read as SQL
    # (ClickHouse's `SYSTEM ...`) and shown to a person as a step of its own
    plan = compile_text("## Check\n\n```bash\nchronyc tracking\n```\n\nExample:\n\n```\n"
                        "System time     : 0.000312 seconds fast of NTP time\n```\n")
    assert [s.kind for s in plan.steps if s.kind != StepKind.END] == [StepKind.COMMAND]
    assert [i.reason for i in plan.ignored] == ["sample output"]
    # ClickHouse's own statement is still one
    plan = compile_text("## Fix\n\n```\nSYSTEM SYNC REPLICA events.clicks;\n```\n")
    assert [s.kind for s in plan.steps if s.kind != StepKind.END] == [StepKind.MANUAL]


# -- a list of cases, one of which goes to the section after it ----------------------------------

CASES = """## Check

```bash
mysql -h db-replica-2 -u monitor -e "SHOW REPLICA STATUS\\G"
```

## Decide

- {first}: go to *Skip the duplicate*.
- {second}: the replica cannot reach the primary; escalate to the network on-call.
- Both `Yes` and lag falling: no action needed, it is catching up.

## Skip the duplicate

```bash
mysql -h db-replica-2 -e "STOP REPLICA SQL_THREAD; SET GLOBAL sql_replica_skip_counter = 1"
```
"""


def test_a_list_of_cases_whose_first_goes_to_the_next_section_owns_it():
    # "- Error 1062: go to *Skip the duplicate*." then two cases that end the run: when none
    # held the run fell into skipping a transaction (and "Skip" in the section's title read
    # as "skip to", so the section was no case's at all)
    plan = compile_text(CASES.format(first="Error **1062** (duplicate key)",
                                     second="IO thread stopped"))
    skip = running(plan, "sql_replica_skip_counter")
    (last,) = [s for s in plan.steps if s.title == "Both `Yes` and lag falling"]
    (other,) = [e.target for e in plan.edges if e.source == last.id and e.kind == "else"]
    assert plan.step(other).outcome == "escalate"
    assert skip.id not in reachable(plan, other) and gated(plan, skip.id)
    (first,) = [s for s in plan.steps if s.title.startswith("Error 1062")]
    assert [e.target for e in plan.edges if e.source == first.id and e.kind == "jump"] == \
        ["approve-" + skip.id]


def test_a_case_named_by_a_field_and_its_value_in_code_is_a_case():
    # "- `Replica_IO_Running: No`: ... escalate to the network on-call.": the colon in the
    # code span cut the case short; the list was no list of cases, its escalation the else of
    # a trailing question and "Both `Yes` ...: no action needed" ignored as prose
    plan = compile_text(CASES.format(first="`Replica_SQL_Running: No` with error **1062** "
                                           "(duplicate key)",
                                     second="`Replica_IO_Running: No`"))
    (io,) = [s for s in plan.steps if s.title == "`Replica_IO_Running: No`"]
    (taken,) = [e.target for e in plan.edges if e.source == io.id and e.kind == "branch"]
    assert plan.step(taken).outcome == "escalate" and "network" in plan.step(taken).text
    (caught_up,) = [s for s in plan.steps if s.title == "Both `Yes` and lag falling"]
    (taken,) = [e.target for e in plan.edges if e.source == caught_up.id and e.kind == "branch"]
    assert plan.step(taken).outcome == "no_action"
    assert not plan.ignored


def test_a_consumer_groups_reset_as_a_dry_run_reads_and_its_execute_waits():
    # "kafka-consumer-groups.sh ... --reset-offsets --to-latest ... --dry-run" (it prints the
    # offsets a reset would set) waited for an approval, as the reset with --execute does
    plan = compile_text(
        "## Reset\n\n```bash\nkafka-consumer-groups.sh --bootstrap-server k:9092 --group billing "
        "--topic t --reset-offsets --to-latest --dry-run\nkafka-consumer-groups.sh "
        "--bootstrap-server k:9092 --group billing --topic t --reset-offsets --to-latest "
        "--execute\n```\n")
    assert not gated(plan, running(plan, "--dry-run").id)
    assert gated(plan, running(plan, "--execute").id)


def test_haproxys_show_commands_over_its_socket_read_and_its_set_commands_wait():
    # "echo \"show servers state be_api\" | sudo socat stdio /run/haproxy/admin.sock" waited
    # for an approval, as the "set server ... state maint" does
    plan = compile_text(
        "## Look\n\n```bash\necho \"show servers state be_api\" | sudo socat stdio "
        "/run/haproxy/admin.sock\necho \"show stat\" | sudo socat stdio /run/haproxy/admin.sock"
        " | cut -d, -f1,2,18,19\n```\n\n## Drain\n\n```bash\necho \"set server be_api/api-3 "
        "state maint\" | sudo socat stdio /run/haproxy/admin.sock\n```\n")
    assert not gated(plan, running(plan, "show servers state be_api").id)
    assert not gated(plan, running(plan, "show stat").id)
    assert gated(plan, running(plan, "state maint").id)
