"""On-call and lab guides in styles the earlier sweeps did not try: a CloudNativePG guide of
`kubectl cnpg` plugin commands, an Argo CD / Flux GitOps rollback, a Cloudflare purge through
its API with curl, a kdump guide typed at a bastion and a crashed host, an mdadm and storcli
disk swap, a Windows Failover Cluster guide in PowerShell, a Lustre runbook in Czech and a
Hamilton liquid handler's deck error (tests/fixtures/styles26 holds the guides tried). Each
test is one rule a guide author would recognise."""

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
)

STYLES26 = Path(__file__).resolve().parents[2] / "fixtures" / "styles26"


def test_each_styles26_guide_compiles_gated_and_accounted_for():
    assert_gated_and_accounted(folder=STYLES26, at_least=7)


def _the_persons_step(plan: Plan) -> Step:
    """The plan's one person's step."""
    (person,) = [s for s in plan.steps if s.kind == StepKind.MANUAL]
    return person


# -- guards in Czech -------------------------------------------------------------------------------

def test_a_czech_guard_and_its_otherwise_guard_their_blocks():
    # "Pokud je některý OST zaplněn nad 95 %, deaktivujte ho ...:" / "Jinak pokračujte krokem
    # 3.": no guard was read, so the OST was taken out of service whatever it held; and "Pokud
    # je OST stále nad 95 %, ... incident eskalujte." ended resolved
    plan = compile_text("## Krok 2\n\nPokud je některý OST zaplněn nad 95 %, deaktivujte ho:\n\n"
                        "```bash\nsudo lctl set_param osp.OST0007.max_create_count=0\n```\n\n"
                        "Jinak pokračujte krokem 3.\n\n## Krok 3\n\n```bash\nlfs df -h /lustre\n"
                        "```\n\nPokud je OST stále nad 95 %, kontaktujte tým HPC storage a "
                        "incident eskalujte.\n")
    deactivate = running(plan, "lctl", "set_param")
    assert guards_of(plan, deactivate.id) == ["Pokud je některý OST zaplněn nad 95 %"]
    assert outcomes_after(plan, case_side(plan, "Pokud je OST stále")) == {"escalate"}


# -- a check made with a program no table knows ---------------------------------------------------

def test_check_with_a_program_runs_it_whatever_its_arguments_look_like():
    # "After the swap the rebuild starts by itself; check with `storcli64 /c0 /e252 /s3 show
    # rebuild`.", "Then check with `kdumpctl status`.": a program no table knows, its words a
    # controller's `/c0` or a bare subcommand: context for a reader, the check nowhere
    for said, words in (("After the swap the rebuild starts by itself; check with "
                         "`storcli64 /c0 /e252 /s3 show rebuild`.", ("storcli64", "rebuild")),
                        ("Then check with `kdumpctl status`.", ("kdumpctl", "status"))):
        plan = compile_text(f"## Fix\n\n1. Read: `ls /var/crash`\n2. {said}\n")
        check = running(plan, *words)
        assert gated(plan, check.id), said  # a program no table knows may change things
        assert check.id in reachable(plan, running(plan, "ls").id), said


def test_copying_files_off_a_host_with_scp_or_rsync_is_a_command_and_gated():
    # "Copy the vmcore off the host before it is cleaned: `scp root@web-1:/var/crash/... .`":
    # the copy was a person's step's text only (scp and rsync were no tools the compiler knew)
    for said, words in (("Copy the vmcore off the host before it is cleaned: "
                         "`scp root@web-1:/var/crash/vmcore /srv/crash/`", ("scp", "vmcore")),
                        ("Keep the dumps: `rsync -a web-1:/var/crash/ /srv/crash/`",
                         ("rsync", "/srv/crash/"))):
        plan = compile_text(f"## Fix\n\n1. Read: `ls /var/crash`\n2. {said}\n")
        copy = running(plan, *words)
        assert gated(plan, copy.id), said  # it writes where it copies to


# -- endings --------------------------------------------------------------------------------------

def test_opening_a_ticket_of_a_kind_with_the_vendor_hands_the_case_over():
    # "5. If the backtrace shows a hardware error, open a hardware ticket with the vendor and
    # stop.": "hardware" between "a" and "ticket" hid the hand-over; a person's step, and the
    # case went on to the reboot, resolved
    plan = compile_text("## Fix\n\n1. Read: `ls /var/crash`\n"
                        "2. If the backtrace shows a hardware error, open a hardware ticket with "
                        "the vendor and stop.\n3. Reboot: `sudo reboot`\n")
    taken = case_side(plan, "If the backtrace shows a hardware error")
    assert outcomes_after(plan, taken) == {"escalate"}
    assert running(plan, "reboot").id not in reachable(plan, taken)


# -- what a person does before a block ------------------------------------------------------------

def test_asking_someone_to_act_before_then_and_a_block_is_a_persons_step():
    # "Ask the DC technician to swap the disk (slot label on the tray). Then copy the partition
    # table and add the new disk:": the swap was the add's title, and the add came right after
    # the failed disk was removed, with no disk in the slot
    plan = compile_text("## Fix\n\n1. Check: `cat /proc/mdstat`\n\n"
                        "Ask the DC technician to swap the disk (slot label on the tray). Then "
                        "copy the partition table and add the new disk:\n\n```\n"
                        "# mdadm --manage /dev/md0 --add /dev/sdb1\n```\n")
    add = running(plan, "mdadm", "--add")
    person = _the_persons_step(plan)
    assert person.title == "Ask the DC technician to swap the disk"
    assert add.id in reachable(plan, person.id)
    assert person.id in reachable(plan, running(plan, "cat").id)
    # (what the block does itself stays no person's step: "Remove packages first. Then ...:")
    plan = compile_text("## Fix\n\nRemove the packages first. Then install older versions:\n\n"
                        "```bash\nsudo yum erase clickhouse-server\n```\n")
    assert not [s for s in plan.steps if s.kind == StepKind.MANUAL]


# -- the other case of a step ---------------------------------------------------------------------

def test_what_an_items_otherwise_says_to_run_is_the_other_cases():
    # "5. If the backtrace shows a hardware error, call the vendor. Otherwise restart it:
    # `x`.": the restart ran in the hardware case, before the vendor was called, and the other
    # case ended resolved with nothing done
    for heading in ("Steps", "Fix"):
        plan = compile_text(f"## {heading}\n\n1. Read: `ls /var/crash`\n"
                            "2. If the backtrace shows a hardware error, call the vendor. "
                            "Otherwise restart it: `sudo systemctl restart kdump`.\n")
        restart = running(plan, "restart", "kdump")
        taken = case_side(plan, "If the backtrace shows a hardware error")
        assert restart.id not in reachable(plan, taken), heading
        assert guards_of(plan, restart.id) == \
            ["Otherwise restart it: `sudo systemctl restart kdump`."], heading
        assert gated(plan, restart.id), heading


def test_an_items_otherwise_in_a_list_of_steps_is_a_persons_step():
    # "Otherwise send the backtrace to the kernel team." under "## Steps": only a fix's or a
    # diagnosis' list kept it; here it was dropped, and that case ended resolved, nothing done
    plan = compile_text("## Steps\n\n1. Read: `ls /var/crash`\n"
                        "2. If the backtrace shows a hardware error, call the vendor. Otherwise "
                        "send the backtrace to the kernel team.\n")
    person = _the_persons_step(plan)
    assert person.title == "Otherwise send the backtrace to the kernel team"
    assert person.id in reachable(plan, running(plan, "ls").id)


# -- a check run again ----------------------------------------------------------------------------

def test_run_the_check_again_is_a_persons_step_before_the_question():
    # "Run the first curl again; `cf-cache-status` should be `MISS` or `EXPIRED`. If it is
    # still `HIT` ..., escalate.": the re-check was dropped, and the question was asked of the
    # purge's output, right after it
    plan = compile_text("## Check\n\n```bash\ncurl -sI https://static.example.com/app.js\n```\n\n"
                        "## Purge\n\n```bash\ncurl -s -X POST https://api.example.com/purge\n```\n\n"
                        "## Verify\n\nRun the first curl again; `cf-cache-status` should be "
                        "`MISS`. If it is still `HIT` after 10 minutes, escalate to #web-perf.\n")
    person = _the_persons_step(plan)
    assert person.title.startswith("Run the first curl again")
    assert person.id in reachable(plan, running(plan, "POST").id)
    assert case_side(plan, "If it is still `HIT`") in reachable(plan, person.id)
