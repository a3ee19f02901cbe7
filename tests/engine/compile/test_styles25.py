"""On-call and plant guides in styles the earlier sweeps did not try: NetApp ONTAP's
`cluster1::>` console, an ESXi host's `[root@esx07:~]` shell beside PowerCLI, a Vault unseal, an
Elasticsearch guide of curl and jq pipelines, Patroni with `\\` continuations at a host prompt, a
ServiceNow KB export, a Rundeck job page, `wevtutil` in `cmd`, a GitHub Actions runner, runbooks
in Turkish and Indonesian, a Boston Dynamics Spot fault, a numbered e-mail, a SECS/GEM etch tool
and a Chef converge (tests/fixtures/styles25 holds the guides tried). Each test is one rule a
guide author would recognise."""

from __future__ import annotations

from pathlib import Path

from engine.plan import StepKind
from tests.support.compiling import (
    assert_gated_and_accounted,
    case_side,
    compile_text,
    gated,
    guards_of,
    outcomes_after,
    reachable,
    running,
)

STYLES25 = Path(__file__).resolve().parents[2] / "fixtures" / "styles25"


def test_each_styles25_guide_compiles_gated_and_accounted_for():
    assert_gated_and_accounted(folder=STYLES25, at_least=10)


def _assert_case_ends(guide, guard_start, outcome, not_after):
    """The case `guard_start` of `guide` ends with `outcome`, never running `not_after`."""
    plan = compile_text(guide)
    taken = case_side(plan, guard_start)
    assert outcomes_after(plan, taken) == {outcome}
    assert running(plan, not_after).id not in reachable(plan, taken)


# -- an ESXi host's shell -------------------------------------------------------------------------

def test_an_esxi_shell_prompt_is_a_prompt_and_its_commands_are_not_output():
    # "[root@esx07:~] /etc/init.d/hostd restart" under "When hostd is not running, restart it":
    # the bracketed prompt has no `#` or `$`, so the block was ignored as sample output and the
    # restart was nowhere in the plan
    # (typed at esx07's own prompt, no session leading there: a person's step on esx07,
    # never this machine's `/etc/init.d/hostd restart`)
    plan = compile_text("## Fix\n\nRestart the management agents:\n\n```\n"
                        "[root@esx07:~] /etc/init.d/hostd restart\n"
                        "[root@esx07:~] /etc/init.d/vpxa restart\n```\n")
    assert not [s for s in plan.steps if s.kind == StepKind.COMMAND]
    (script,) = [str(s.params.get("script")) for s in plan.steps if s.kind == StepKind.MANUAL]
    assert script.splitlines() == ["# on esx07 (at its prompt: [root@esx07:~])",
                                   "/etc/init.d/hostd restart", "/etc/init.d/vpxa restart"]


def test_commands_at_an_esxi_prompt_after_ssh_are_typed_on_that_host():
    # `$ ssh root@esx07` then `[root@esx07:~] esxcli ...`: the esxcli lines were output of the
    # ssh line, and only the login was a person's step
    plan = compile_text("## Check\n\n```\n$ ssh root@esx07.corp.local\n"
                        "[root@esx07:~] /etc/init.d/hostd status\n```\n")
    status = running(plan, "/etc/init.d/hostd", "status")
    assert status.params["pipeline"][0][:2] == ["ssh", "root@esx07.corp.local"]
    assert gated(plan, status.id)


# -- guards and endings in Turkish and Indonesian -------------------------------------------------

def test_a_turkish_guard_and_its_otherwise_guard_their_blocks():
    # "Eğer `/var/log` 10 GB'den büyükse, ... sil:" / "Aksi halde ...": no guard was read, so
    # the deletion ran whatever the size
    plan = compile_text("## Adım 2\n\nEğer `/var/log` 10 GB'den büyükse, eski günlükleri sil:\n\n"
                        "```bash\nsudo find /var/log -name '*.gz' -mtime +7 -delete\n```\n\n"
                        "Aksi halde journal boyutunu küçült:\n\n"
                        "```bash\nsudo journalctl --vacuum-size=500M\n```\n")
    find = running(plan, "find", "/var/log")
    vacuum = running(plan, "journalctl")
    assert guards_of(plan, find.id) == ["Eğer `/var/log` 10 GB'den büyükse"]
    assert len(guards_of(plan, vacuum.id)) == 1
    assert guards_of(plan, vacuum.id) != guards_of(plan, find.id)


def test_an_indonesian_guard_and_its_escalation_end_the_case():
    # "Jika masih 502, eskalasi ke tim platform.": no guard, no ending; the run ended resolved
    # whatever the check said
    plan = compile_text("## Langkah 1\n\n```bash\ncurl -sI https://toko.example.id\n```\n\n"
                        "Jika log berisi `connect() failed`, mulai ulang PHP-FPM:\n\n"
                        "```bash\nsudo systemctl restart php8.2-fpm\n```\n\n"
                        "Jika tidak, lanjutkan.\n\n"
                        "Jika masih 502, eskalasi ke tim platform.\n")
    restart = running(plan, "restart", "php8.2-fpm")
    assert guards_of(plan, restart.id) == ["Jika log berisi `connect() failed`"]
    assert "escalate" in outcomes_after(plan, case_side(plan, "Jika masih 502"))
    # "hubungi tim web" (tell the web team) hands the case over too
    plan = compile_text("## Langkah 4\n\n```bash\nsudo nginx -t\n```\n\n"
                        "Jika uji gagal, jangan reload; hubungi tim web.\n")
    assert outcomes_after(plan, case_side(plan, "Jika uji gagal")) == {"escalate"}


# -- "repeat step N" ------------------------------------------------------------------------------

def test_repeat_step_n_goes_back_to_that_step():
    # "4. If `sapstartsrv` is not running at all, run `x` first and repeat step 3.": the jump
    # back was lost, and the run went on to the check without starting the instance again
    plan = compile_text(
        "## Resolution\n\n1. Check the processes: `sapcontrol -nr 00 -function GetProcessList`\n"
        "2. If the dispatcher is stopped, start the instance: `sapcontrol -nr 00 -function "
        "Start`\n"
        "3. If `sapstartsrv` is not running at all, run `sapcontrol -nr 00 -function "
        "StartService PRD` first and repeat step 2.\n"
        "4. Escalate to SAP Basis if it is not GREEN.\n")
    service = running(plan, "StartService")
    (after,) = [e.target for e in plan.edges if e.source == service.id and e.on == "success"]
    assert plan.step(after).title == "Repeat from 'If the dispatcher is stopped'"


# -- a check made "with" a program ----------------------------------------------------------------

def test_confirm_with_a_program_runs_that_program():
    # "5. Confirm that all processes are GREEN with `sapcontrol -nr 00 -function
    # GetProcessList`.": a program no table knows, named after "with": the step was a person's
    # with no script, the check never made
    plan = compile_text("## Fix\n\n1. Start it: `sapcontrol -nr 00 -function Start`\n"
                        "2. Confirm that all processes are GREEN with `sapcontrol -nr 00 "
                        "-function GetProcessList`.\n"
                        "3. Then verify with `mytool status --all`.\n")
    for words in (("GetProcessList",), ("mytool", "status")):
        check = running(plan, *words)
        assert gated(plan, check.id)  # a program no table knows may change things


# -- endings ---------------------------------------------------------------------------------------

def test_call_them_after_naming_a_team_hands_the_incident_over():
    # "If AD DNS doesn't answer either, this is the Windows team's problem, call them (x4410)
    # and stop there.": "them" was not read as the team, and the case ended resolved
    _assert_case_ends("## Fix\n\n1. Check: `dig @10.20.0.10 git.corp.internal +short`\n"
                      "2. If AD DNS doesn't answer either, this is the Windows team's problem, "
                      "call them (x4410) and stop there.\n"
                      "3. Flush: `sudo unbound-control flush_zone corp.internal`\n",
                      "If AD DNS doesn't answer either", "escalate", "flush_zone")


def test_opening_an_rma_hands_the_machine_back_to_its_maker():
    # "4. If the fault is `Leg fault`, ... put Spot in its crate and open an RMA with Boston
    # Dynamics support.": a person's step, and the run went on to resume the mission, resolved
    plan = compile_text("## Recovery\n\n1. Read the faults: `python3 -m bosdyn.client "
                        "192.168.80.3 faults`\n"
                        "2. If the fault is `Leg fault`, do not power the motors again. Put Spot "
                        "in its crate and open an RMA with Boston Dynamics support.\n"
                        "3. Otherwise resume the mission from the tablet.\n")
    assert outcomes_after(plan, case_side(plan, "If the fault is `Leg fault`")) == \
        {"escalate"}


# -- a numbered step said with when to do it ------------------------------------------------------

def test_a_numbered_paragraph_that_says_when_first_is_a_persons_step():
    # "**Step 5.** Once S1F14 comes back with COMMACK=0, request ONLINE-REMOTE from MES and
    # release the held lots.": context for a reader, the lots never released
    plan = compile_text("## Procedure\n\n**Step 1.** Check the link:\n\n```bash\n"
                        "nc -vz etch07-eqp.fab2 5000\n```\n\n"
                        "**Step 2.** Once S1F14 comes back with COMMACK=0, request ONLINE-REMOTE "
                        "from MES and release the held lots.\n")
    (step,) = [s for s in plan.steps if s.kind == StepKind.MANUAL]
    assert step.title.startswith("Step 2. Once S1F14 comes back")
    assert step.id in reachable(plan, running(plan, "nc", "-vz").id)


# -- a session opened in one item, used in the next -----------------------------------------------

def test_a_command_in_the_item_after_a_login_is_that_items_step():
    # "1. Log in to the cluster management LIF: `ssh admin@cluster1-mgmt`", "2. Check the
    # volume: `cluster1::> volume show ...`": the volume show ran titled "Log in ...", and
    # "Check the volume" was a person's step with nothing to do
    plan = compile_text("## Diagnose\n\n1. Log in to the cluster:\n\n   ```\n"
                        "   ssh admin@cluster1-mgmt\n   ```\n\n"
                        "2. Check the volume:\n\n   ```\n"
                        "   cluster1::> volume show -vserver svm_app -volume vol_app01\n"
                        "   ```\n")
    show = running(plan, "volume", "show")
    assert show.title == "Check the volume"
    assert show.params["pipeline"][0][:2] == ["ssh", "admin@cluster1-mgmt"]
    assert gated(plan, show.id)
    assert not [s for s in plan.steps if s.kind == StepKind.MANUAL and
                s.title == "Check the volume"]


# -- a guarded inline command in an open session --------------------------------------------------

def test_a_guarded_inline_command_typed_in_a_session_stays_under_its_guard():
    # "If `_work` is over 90%, delete old workspaces: `sudo rm -rf .../_temp/*`." after a block
    # that opened `ssh runner-3`: the deletion (a person's step in that session) was put before
    # the question, done whatever the disk held
    plan = compile_text("## Disk\n\n```bash\nssh runner-3\ndf -h /opt/runner/_work\n```\n\n"
                        "If `_work` is over 90%, delete old workspaces: "
                        "`sudo rm -rf /opt/runner/_work/_temp/*`.\n")
    (rm,) = [s for s in plan.steps if "rm -rf" in str(s.params.get("script", "")) or
             "rm -rf" in " ".join(" ".join(a) for a in s.params.get("pipeline", []))]
    assert guards_of(plan, rm.id) == ["If `_work` is over 90%"]
    assert "ssh runner-3" in str(rm.params.get("script", rm.params.get("pipeline")))


def test_close_as_no_fault_found_ends_the_case_with_no_action():
    # "4. When event 1074 names a user or Windows Update, this was planned: close as \"no fault
    # found\".": a person's step, and the run went on into copying the dump and clearing the log
    _assert_case_ends("## Check\n\n1. Read the log: `wevtutil qe System /c:10 /rd:true /f:text`\n"
                      "2. When event 1074 names a user, this was planned: close as "
                      "\"no fault found\".\n"
                      "3. Clear the log: `sudo journalctl --rotate`\n",
                      "When event 1074 names a user", "no_action", "journalctl")


# -- where a list's steps are typed ---------------------------------------------------------------

def test_a_list_introduced_by_a_named_machine_is_typed_there():
    # "If Rundeck is down, do the same on `worker-01`:" over "2. ... restart the worker:" and
    # its block: the restart ran on the machine running the plan, not on worker-01
    plan = compile_text("## By hand\n\nIf Rundeck is down, do the same on `worker-01`:\n\n"
                        "1. Restart the worker:\n\n   ```bash\n"
                        "   sudo systemctl restart celery-worker@default\n   ```\n\n"
                        "2. Ping the workers:\n\n   ```bash\n"
                        "   celery -A proj inspect ping\n   ```\n")
    scripts = [str(s.params.get("script")) for s in plan.steps if s.kind == StepKind.MANUAL]
    assert "sudo systemctl restart celery-worker@default" in scripts
    assert "celery -A proj inspect ping" in scripts
    assert not [s for s in plan.steps if s.kind == StepKind.COMMAND]


def test_a_swedish_or_vietnamese_guard_and_escalation_are_read():
    # "Om fördröjningen är över 100 000 ..., starta om konsumenten:" / "Annars, ...", and
    # "Nếu bộ nhớ vượt quá 90%, ...:" / "Nếu không, ...": no guard was read, the restart and
    # the deletion ran whatever held, and "eskalera" / "liên hệ đội" ended resolved
    for cond, other, still in (
            ("Om fördröjningen växer, starta om konsumenten", "Annars, vänta 10 minuter.",
             "Om fördröjningen fortfarande växer, eskalera till plattformsteamet."),
            ("Nếu bộ nhớ vượt quá 90%, xóa các key", "Nếu không, chuyển sang bước 3.",
             "Nếu vẫn trên 90%, hãy liên hệ đội nền tảng.")):
        plan = compile_text(f"## Fix\n\n{cond}:\n\n```bash\n"
                            "kubectl -n orders rollout restart deploy/orders-consumer\n```\n\n"
                            f"{other}\n\n## Check\n\n```bash\nkubectl -n orders get pods\n```\n\n"
                            f"{still}\n")
        restart = running(plan, "rollout", "restart")
        assert guards_of(plan, restart.id) == [cond.split(",")[0]], cond
        assert outcomes_after(plan, case_side(plan, still.split(",")[0])) == {"escalate"}


def test_a_dutch_purpose_clause_is_no_swedish_guard():
    # "Om de schijf vrij te maken, voer uit:" is Dutch for "To free the disk, run:"
    plan = compile_text("## Fix\n\nOm de schijf vrij te maken, voer uit:\n\n```bash\n"
                        "sudo journalctl --vacuum-size=500M\n```\n")
    assert guards_of(plan, running(plan, "journalctl").id) == []


# -- a condition after the instruction, in an aside or after a comma ------------------------------

def test_a_condition_in_parentheses_or_after_a_comma_guards_the_command():
    # "**3. Block the top IP** (only if one IP has more than 1,000 failures):" over its block,
    # "5. Disable the agent while you investigate, if it keeps reverting your fix: `x`.": the
    # conditions were dropped, and the block and the disable ran whatever held
    plan = compile_text("## Fix\n\n**3. Block the top IP** (only if one IP has more than 1,000 "
                        "failures):\n\n```bash\nsudo nft add element inet filter blocklist x\n"
                        "```\n\n"
                        "5. Disable the agent while you investigate, if it keeps reverting your "
                        "fix: `sudo puppet agent --disable investigating`.\n")
    assert guards_of(plan, running(plan, "nft").id) == \
        ["only if one IP has more than 1,000 failures"]
    assert guards_of(plan, running(plan, "puppet", "--disable").id) == \
        ["if it keeps reverting your fix"]


def test_an_aside_or_a_condition_mid_sentence_guards_nothing():
    # "Check the logs of the previous container, if any:", "Inspect and, if necessary, clear
    # the image cache:": what the words do, whatever holds
    plan = compile_text("## Fix\n\nCheck the logs of the previous container, if any:\n\n"
                        "```bash\nkubectl -n db logs pxc-0 -c pxc --previous\n```\n\n"
                        "Inspect and, if necessary, clear the image cache:\n\n"
                        "```bash\nsudo crictl rmi --prune\n```\n")
    assert guards_of(plan, running(plan, "--previous").id) == []
    assert guards_of(plan, running(plan, "crictl").id) == []


def test_a_condition_and_action_pair_guards_the_action():
    # "**Condition:** the queue is above 500." over "**Action:** restart the consumer:" and
    # its block: the condition was context, and the restart ran whatever the queue held
    for pair in ("Condition: the queue is above 500.\nAction: restart the consumer:",
                 "**Condition:** the queue is above 500.\n**Action:** restart the consumer:"):
        plan = compile_text(f"## Recovery\n\n{pair}\n\n```bash\n"
                            "kubectl -n q rollout restart deploy/consumer\n```\n")
        assert guards_of(plan, running(plan, "rollout", "restart").id) == \
            ["Condition: the queue is above 500"], pair


# -- what a person does before a block ------------------------------------------------------------

def test_a_wait_or_hands_on_work_before_a_block_is_a_persons_step():
    # "Wait 15 minutes, then restart it:", "Lock out the conveyor and clear the jam by hand,
    # then restart it:" over a block: the wait and the hands' work were dropped, and the
    # restart came right after the step before
    for said, first in (("Wait 15 minutes, then restart it:", "Wait 15 minutes"),
                        ("Lock out the conveyor and clear the jam by hand, then restart it:",
                         "Lock out the conveyor and clear the jam by hand")):
        plan = compile_text(f"## Fix\n\n1. Check: `curl -s http://x/health`\n2. {said}\n\n"
                            "   ```bash\n   sudo systemctl restart conveyor\n   ```\n")
        restart = running(plan, "restart", "conveyor")
        (person,) = [s for s in plan.steps if s.kind == StepKind.MANUAL]
        assert person.title == first, said
        assert restart.id in reachable(plan, person.id), said
        assert person.id in reachable(plan, running(plan, "curl").id), said


def test_what_the_block_does_itself_before_then_is_no_persons_step():
    # "Remove packages first, then install older versions:", "Retry the pick up to 3 times,
    # then abort:": the block does it (the retry stays the person's loop it was)
    for said, lead in (("Remove packages first, then install older versions:",
                        "Remove packages first"),
                       ("Retry the pick up to 3 times, then abort:",
                        "Retry the pick up to 3 times")):
        plan = compile_text(f"## Fix\n\n{said}\n\n```bash\nsudo yum erase clickhouse-server\n"
                            "```\n")
        assert not [s for s in plan.steps if s.title == lead], said


def test_a_turkish_condition_said_with_its_suffix_alone_is_a_guard():
    # "Disk kullanımı hâlâ %90'ın üzerindeyse, nöbetçi mühendisi ara ve olayı yükselt.":
    # Turkish puts "if" in the word's ending (-sa/-se), "Eğer" optional; the escalation was
    # context, and a person was asked whether the issue was resolved
    plan = compile_text("## Adım 4\n\n```bash\ndf -h /var\n```\n\n"
                        "Disk kullanımı hâlâ %90'ın üzerindeyse, nöbetçi mühendisi ara ve olayı "
                        "yükselt.\n\n## Adım 5\n\nGünlük dizini 10 GB'ı aşıyorsa, eski "
                        "günlükleri sil:\n\n```bash\nsudo find /var/log -name '*.gz' -mtime +7 "
                        "-delete\n```\n")
    assert outcomes_after(plan, case_side(plan, "Disk kullanımı hâlâ")) == {"escalate"}
    assert guards_of(plan, running(plan, "find").id) == ["Günlük dizini 10 GB'ı aşıyorsa"]
    # (German "Prüfen Sie die Adresse, dann ..." is no such clause: no Turkish letter in it)
    plan = compile_text("## Fix\n\nPrüfen Sie die Adresse, dann starten Sie neu:\n\n```bash\n"
                        "sudo systemctl restart app\n```\n")
    assert guards_of(plan, running(plan, "restart").id) == []
