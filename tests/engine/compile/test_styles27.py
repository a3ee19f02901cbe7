"""On-call, network and shop-floor guides in styles the earlier sweeps did not try: a Japanese
and a Polish runbook, Arista EOS and Cisco NX-OS consoles, a Velero restore whose steps are
level-4 headings with "Expected:" and "If not:", a Zabbix guide with a Symptom/Check/Fix
table under YAML front matter, a justfile-driven certificate rotation with "(optional)"
steps, a PX4 drone preflight in MAVProxy, an OctoPrint print farm's jam with G-code, an
AutoStore port fault, a Franka cobot's reflex stop, a macOS launchctl fleet and Windows
`sc`/`netsh` in cmd blocks (tests/fixtures/styles27 holds the guides tried). Each test is one
rule a guide author would recognise."""

from __future__ import annotations

from pathlib import Path

from engine.plan import Plan, Step, StepKind
from tests.support.compiling import (
    assert_gated_and_accounted,
    case_side,
    compile_text,
    gated,
    guards_of,
    outcomes_after,
    reachable,
    running,
    runs,
)

STYLES27 = Path(__file__).resolve().parents[2] / "fixtures" / "styles27"


def test_each_styles27_guide_compiles_gated_and_accounted_for():
    assert_gated_and_accounted(folder=STYLES27, at_least=12)


def _persons_steps(plan: Plan) -> list[Step]:
    return [s for s in plan.steps if s.kind == StepKind.MANUAL]


# -- a task runner's recipes ----------------------------------------------------------------------

def test_a_task_runners_recipe_in_a_plain_block_is_a_command():
    # "3. Rotate:" over an untagged block "just rotate-certs": every recipe of the justfile
    # guide was dropped as sample output, and the rotation was a person's step with no script
    for line, words in (("just rotate-certs", ("just", "rotate-certs")),
                        ("just expiring 14", ("just", "expiring")),
                        ("make clean-cache", ("make", "clean-cache")),
                        ("task db:migrate", ("task", "db:migrate"))):
        plan = compile_text(f"## Fix\n\n1. Rotate:\n\n   ```\n   {line}\n   ```\n")
        step = running(plan, *words)
        assert gated(plan, step.id), line  # a recipe may change anything
    # (advice in a block stays no command)
    plan = compile_text("## Fix\n\n1. Rotate:\n\n   ```\n   make sure the disk is free\n   ```\n")
    assert not runs(plan)


# -- a machine's own program ----------------------------------------------------------------------

def test_g_code_or_a_robots_program_is_a_persons_step_at_its_terminal():
    # "Send G-code from the OctoPrint terminal to heat and retract:" over ```gcode `M104 S230`
    # ...: dropped as sample output, so the heat-and-retract was nowhere in the plan
    for tag in ("gcode", "", "krl"):
        body = "PTP HOME Vel=10%" if tag == "krl" else "M104 S230\nG91\nG1 E-30 F300 ; retract"
        plan = compile_text(f"## Fix\n\n1. Read: `ls /srv`\n2. Heat and retract:\n\n"
                            f"   ```{tag}\n" + "".join(f"   {ln}\n" for ln in body.split("\n")) +
                            "   ```\n")
        (person,) = _persons_steps(plan)
        assert str(person.params["script"]).startswith(body.split("\n")[0]), tag
        assert person.id in reachable(plan, running(plan, "ls").id), tag


# -- a switch's console ---------------------------------------------------------------------------

def test_a_switch_prompt_before_a_routers_command_is_the_switchs_alone_in_a_block():
    # "If the interface is clean ..., clear it:" over `leaf-3# clear ip bgp neighbor 10.0.0.1
    # soft` alone: read as a root shell's prompt, and `clear ...` ran in this machine's shell
    for line in ("leaf-3# clear ip bgp neighbor 10.0.0.1 soft", "sw1# write memory",
                 "n9k-agg-1# copy running-config startup-config"):
        plan = compile_text(f"## Fix\n\n1. Read: `ls /srv`\n2. Reset it:\n\n   ```\n   {line}\n"
                            "   ```\n")
        assert [" ".join(s.params["pipeline"][0]) for s in runs(plan)] == ["ls /srv"], line
        (person,) = _persons_steps(plan)
        assert str(person.params["script"]) == line.split("# ", 1)[1], line
    # (a root prompt before a shell command stays the shell's)
    plan = compile_text("## Fix\n\n1. Clear:\n\n   ```\n   web-1# clear\n   ```\n")
    assert running(plan, "clear") and not _persons_steps(plan)


def test_a_config_mode_prompt_naming_its_interface_is_the_devices():
    # Arista's `leaf-3(config-if-Et49/1)# shutdown`: the interface's slash hid the prompt, and
    # the person's script lost `shutdown` and `no shutdown`, keeping `configure terminal`
    plan = compile_text("## Fix\n\n1. Bounce it:\n\n   ```\n   leaf-3# configure terminal\n"
                        "   leaf-3(config)# interface Ethernet49/1\n"
                        "   leaf-3(config-if-Et49/1)# shutdown\n"
                        "   leaf-3(config-if-Et49/1)# no shutdown\n   ```\n")
    (person,) = _persons_steps(plan)
    assert str(person.params["script"]).split("\n") == \
        ["configure terminal", "interface Ethernet49/1", "shutdown", "no shutdown"]


def test_a_switchs_show_of_its_port_channels_and_peers_is_typed_at_the_switch():
    # "4. Check again with `show vpc brief`.": run in this machine's shell (gated, and failing:
    # no shell has `show`), where the guide's blocks were typed at the Nexus's prompt
    for code in ("show vpc brief", "show mlag detail", "show port-channel summary",
                 "show vrrp brief"):
        plan = compile_text(f"## Fix\n\n1. Read: `ls /srv`\n2. Check again with `{code}`.\n")
        assert [" ".join(s.params["pipeline"][0]) for s in runs(plan)] == ["ls /srv"], code
        (person,) = _persons_steps(plan)
        assert person.id in reachable(plan, running(plan, "ls").id), code


# -- endings said shortly -------------------------------------------------------------------------

def test_an_ending_said_in_a_word_or_as_the_work_done_ends_the_run_resolved():
    # "If it prints, resolved.", "Otherwise the rotation is complete.", Polish "Jeśli opóźnienie
    # spadło poniżej 60 s, incydent rozwiązany.", Japanese "..., 対応完了。": a person's step
    # with nothing to do, and the run went on past it to the next question
    for said in ("If it prints, resolved.", "If the date is new, the rotation is complete.",
                 "Jeśli opóźnienie spadło poniżej 60 s, incydent rozwiązany.",
                 "もし使用率が 80% 未満なら、対応完了。"):
        plan = compile_text(f"## Verify\n\n```bash\ndf -h /var\n```\n\n{said}\n\n"
                            "If it is still above 90%, escalate to the infra on-call.\n")
        assert not _persons_steps(plan), said
        assert outcomes_after(plan, case_side(plan, said[:9])) == {"resolved"}, said
    # (a wait for the work is no ending)
    plan = compile_text("## Fix\n\n1. Read: `ls /srv`\n2. Wait until the resync is complete.\n"
                        "3. Restart: `sudo systemctl restart app`\n")
    assert gated(plan, running(plan, "restart").id)
    assert running(plan, "restart").id in reachable(plan, running(plan, "ls").id)


# -- guards in Japanese ---------------------------------------------------------------------------

def test_a_japanese_case_said_at_the_clauses_end_guards_its_block():
    # "ディスクが解放されない場合（削除済みファイルをプロセスが掴んでいる）、アプリを再起動する。":
    # Japanese says "if" with 場合 / なら at the clause's end, もし optional; the sentence was
    # context, and the app restarted whatever the disk showed
    for said, guard in (("ディスクが解放されない場合（削除済みファイルをプロセスが掴んでいる）、"
                         "アプリを再起動する。", "ディスクが解放されない場合"),
                        ("ログが 10GB を超えているなら、アプリを再起動する。",
                         "ログが 10GB を超えているなら")):
        plan = compile_text(f"## 3. 再起動\n\n```bash\ndf -h /var\n```\n\n{said}\n\n"
                            "```bash\nsudo systemctl restart app\n```\n")
        restart = running(plan, "restart", "app")
        assert guards_of(plan, restart.id) == [guard], said
        assert gated(plan, restart.id), said
    # ("この場合" is the case the sentence before named; "...なければならない" is "must")
    for said in ("この場合、アプリを再起動する。", "アプリを再起動しなければならない。"):
        plan = compile_text(f"## 3. 再起動\n\n```bash\ndf -h /var\n```\n\n{said}\n\n"
                            "```bash\nsudo systemctl restart app\n```\n")
        assert guards_of(plan, running(plan, "restart", "app").id) == [], said


# -- jumps in a runbook's own language ------------------------------------------------------------

def test_go_to_step_n_in_a_runbooks_own_language_jumps_there():
    # "W przeciwnym razie przejdź do kroku 3.", "それ以外の場合は手順 3 に進む。": the other
    # case was a person's step "go to step 3" with nothing to do
    for heading, other in (("Krok", "W przeciwnym razie przejdź do kroku 3."),
                           ("Schritt", "Andernfalls weiter mit Schritt 3."),
                           ("手順", "それ以外の場合は手順 3 に進む。")):
        plan = compile_text(f"## {heading} 1\n\n```bash\ndf -h\n```\n\n## {heading} 2\n\n"
                            "If the disk is full, remove the old logs:\n\n```bash\n"
                            "sudo rm -rf /var/log/app/old\n```\n\n"
                            f"{other}\n\n## {heading} 3\n\n```bash\nuptime\n```\n")
        assert not _persons_steps(plan), other
        (decide,) = [s for s in plan.steps if s.kind == StepKind.DECIDE]
        other_side = [e.target for e in plan.edges if e.source == decide.id and e.condition
                      and e.condition.text.startswith(other[:8])]
        assert other_side == [running(plan, "uptime").id], other


# -- handing the thing itself on ------------------------------------------------------------------

def test_handing_the_machine_to_a_team_hands_the_case_over():
    # "If the preflight still fails after the reboot, ground the vehicle, tag it red and hand it
    # to the fleet maintenance team.": a person's step, and the run went on to the restart and
    # ended resolved
    for said in ("ground the vehicle, tag it red and hand it to the fleet maintenance team.",
                 "hand the printer over to the hardware technicians."):
        plan = compile_text("## Fix\n\n1. Read: `ls /srv`\n"
                            f"2. If the preflight still fails after the reboot, {said}\n"
                            "3. Restart: `sudo systemctl restart app`\n")
        taken = case_side(plan, "If the preflight still fails")
        assert outcomes_after(plan, taken) == {"escalate"}, said
        assert running(plan, "restart").id not in reachable(plan, taken), said
    # (back to production is no hand-over)
    plan = compile_text("## Fix\n\n1. Read: `ls /srv`\n2. If the cycle runs, hand it back to "
                        "production.\n")
    assert outcomes_after(plan, case_side(plan, "If the cycle runs")) == {"resolved"}


# -- lines typed after logging in -----------------------------------------------------------------

def test_lines_after_a_bare_ssh_in_a_plain_block_run_on_that_machine():
    # `ssh ops@as-controller-1`, then `asctl port status 12` and `asctl port errors 12 --last
    # 20`: a program no table knows was taken for what ssh printed, and the person's step held
    # the login alone
    plan = compile_text("## Steps\n\n1. Read the port status on the controller:\n\n   ```\n"
                        "   ssh ops@as-controller-1\n   Last login: Thu Dec  4 09:12:01 2026\n"
                        "   asctl port status 12\n   asctl port errors 12 --last 20\n"
                        "   ```\n")
    status = running(plan, "ssh", "as-controller-1", "status")
    errors = running(plan, "ssh", "as-controller-1", "errors")
    assert status.params["pipeline"][0][-1] == "asctl port status 12"  # the remote shell splits it
    assert errors.id in reachable(plan, status.id)
    assert not [s for s in runs(plan) if "Last" in " ".join(s.params["pipeline"][0])]
    assert not _persons_steps(plan)


# -- reads of a backup tool -----------------------------------------------------------------------

def test_velero_reads_run_and_its_restore_waits_for_approval():
    # "#### Step 1: List the backups" `velero backup get --selector app=billing`: every velero
    # line waited for a person, the lists and descriptions too
    plan = compile_text("## Restore\n\n```bash\nvelero backup get --selector app=billing\n"
                        "velero backup describe billing-daily --details\n"
                        "velero restore create r1 --from-backup billing-daily\n"
                        "velero restore logs r1\n```\n")
    for words in (("backup", "get"), ("backup", "describe"), ("restore", "logs")):
        assert not gated(plan, running(plan, "velero", *words).id), words
    assert gated(plan, running(plan, "velero", "create").id)
    plan = compile_text("## Restore\n\n```bash\nvelero backup download billing-daily\n```\n")
    assert gated(plan, running(plan, "velero", "download").id)  # it writes a file


# -- "Expected:" and "If not:" as paragraphs ------------------------------------------------------

def test_if_not_after_an_expected_paragraph_is_about_what_was_expected():
    # "#### Step 1: List the backups", its block, "Expected: at least one backup with status
    # `Completed` ...", "If not: no usable backup exists. Escalate ...": the question read
    # "If not" alone (a list's items said what was expected; a step's paragraphs did not)
    text = ("#### Step 1: List the backups\n\n```bash\nvelero backup get\n```\n\n"
            "Expected: at least one backup with status `Completed`.\n\n"
            "If not: no usable backup exists. Escalate to the platform team.\n\n"
            "#### Step 2: Restore\n\n```bash\nvelero restore create r1 --from-backup b1\n```\n")
    plan = compile_text(text)
    (decide,) = [s for s in plan.steps if s.kind == StepKind.DECIDE and
                 s.text.startswith("If not")]
    assert decide.text == "If not as expected (at least one backup with status `Completed`)"
    assert outcomes_after(plan, case_side(plan, "If not as expected")) == {"escalate"}
    from engine.compile.explain import explain
    from engine.guide import parse_guide
    said = "\n".join(str(row) for row in explain(parse_guide(text, path="g.md"), plan, text))
    assert "'Expected: at least one backup with status `Comple…': what should be seen" in said
    # (an "If not" with no expectation before it stays as written)
    plan = compile_text(text.replace("Expected: at least", "Look for at least"))
    assert [s.text for s in plan.steps if s.kind == StepKind.DECIDE and
            s.text.startswith("If not")] == ["If not"]


# -- reads of macOS launchd -----------------------------------------------------------------------

def test_launchctl_print_and_list_are_reads_and_kickstart_waits_for_approval():
    # "## Check the agent" `launchctl print gui/501/com.example.buildagent`: a macOS fleet
    # guide's every look at its agent waited for a person
    plan = compile_text("## Check\n\n```bash\nlaunchctl print gui/501/com.example.buildagent\n"
                        "launchctl list com.example.buildagent\n```\n\n## Restart\n\n```bash\n"
                        "launchctl kickstart -k gui/501/com.example.buildagent\n```\n")
    assert not gated(plan, running(plan, "launchctl", "print").id)
    assert not gated(plan, running(plan, "launchctl", "list").id)
    assert gated(plan, running(plan, "launchctl", "kickstart").id)
