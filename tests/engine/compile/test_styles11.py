"""Runbook styles neither corpus has: network device CLIs (Cisco IOS `router#`, Junos
`user@host>`), Notion/Confluence exports, Oracle/MongoDB/Cassandra consoles, HashiCorp and
cloud CLIs, systemd and Windows Server guides (tests/fixtures/styles11 holds the guides tried).
Each test is one rule a guide author would recognise."""

from __future__ import annotations

from pathlib import Path

from engine.compile.explain import explain, unaccounted
from engine.guide import parse_guide
from engine.plan import Plan, StepKind
from tests.support.compiling import (
    compile_text,
    gated,
    guards_of,
    manual_scripts,
    runs,
    step_running,
)

STYLES11 = Path(__file__).resolve().parents[2] / "fixtures" / "styles11"


def _argvs(plan: Plan) -> list[list[str]]:
    return [list(s.params["pipeline"][0]) for s in runs(plan)]


# -- a network device's CLI ------------------------------------------------------------------

ROUTER = """# BGP session down

## Check

On the edge router:

```
edge-rtr-01#show ip bgp summary | include 203.0.113.1
203.0.113.1     4 64500   0       0        0    0    0 00:04:12 Idle
```

## Fix

1. Bounce the interface:

   ```
   edge-rtr-01#configure terminal
   edge-rtr-01(config)#interface GigabitEthernet0/0/1
   edge-rtr-01(config-if)# shutdown
   edge-rtr-01(config-if)# no shutdown
   ```

2. On the Juniper side, roll back the last commit:

   ```
   ops@mx-core-01> configure
   [edit]
   ops@mx-core-01# rollback 1
   ops@mx-core-01# commit confirmed 5
   ```
"""


def test_lines_typed_at_a_network_device_prompt_are_a_persons_step_in_its_console():
    # `edge-rtr-01#show ...` was dropped as sample output (the person's step said "Bounce the
    # interface:" without the commands); Junos's `ops@mx-core-01# rollback 1` ran here as a
    # shell's `rollback 1`
    plan = compile_text(ROUTER)
    assert _argvs(plan) == []
    scripts = manual_scripts(plan)
    assert "show ip bgp summary | include 203.0.113.1" in scripts
    assert any("interface GigabitEthernet0/0/1" in s and "no shutdown" in s for s in scripts)
    assert any("rollback 1" in s and "commit confirmed 5" in s for s in scripts)
    text = ROUTER
    assert not unaccounted(text, explain(parse_guide(text, path="g.md"), plan, text))


    # a root prompt naming a machine, with no device in its block, stays a shell's: that
    # machine's, a person's step there (not the device console's)
    plan = compile_text("## Check\n\n```\nroot@db-02# systemctl status postgresql\n```\n")
    assert _argvs(plan) == []
    assert manual_scripts(plan) == ["# on db-02 (at its prompt: root@db-02#)\n"
                                    "systemctl status postgresql"]


def test_a_routers_command_line_without_its_prompt_is_a_persons_step_at_the_device():
    # "Save the configuration: `copy running-config startup-config`" ran here as `copy`; an
    # untagged block opening with `configure terminal` was dropped as sample output, and
    # `show interfaces Gi0/1 status` was sent to the SQL plugin as a query
    plan = compile_text("## Fix\n\nBounce the interface on the switch:\n\n```\n"
                        "configure terminal\ninterface GigabitEthernet0/1\nshutdown\n"
                        "no shutdown\nend\n```\n\nCheck it:\n\n```\n"
                        "show interfaces GigabitEthernet0/1 status\n```\n\n"
                        "Save the configuration: `copy running-config startup-config`\n\n"
                        "```junos\nset protocols bgp group transit neighbor 198.51.100.1\n```\n")
    assert runs(plan) == [] and not [s for s in plan.steps if s.kind == StepKind.QUERY]
    scripts = manual_scripts(plan)
    assert any(s.startswith("configure terminal") and "no shutdown" in s for s in scripts)
    assert "show interfaces GigabitEthernet0/1 status" in scripts
    assert "set protocols bgp group transit neighbor 198.51.100.1" in scripts
    assert any("copy running-config startup-config" in s.text for s in plan.steps
               if s.kind == StepKind.MANUAL)
    # MySQL's SHOW stays a query
    plan = compile_text("## Check\n\n```sql\nSHOW PROCESSLIST;\n```\n")
    assert [s.kind for s in plan.steps if s.kind == StepKind.QUERY] == [StepKind.QUERY]


# -- a second-level heading that is a condition ------------------------------------------------

def test_a_second_level_if_heading_guards_its_section():
    # "## If the backlog keeps growing" was read as a plain section (its scale-up ran in every
    # case) and its condition recorded as "nothing to guard"; a third-level one guarded
    plan = compile_text("# Payment queue backlog\n\n## Fix\n\nRestart the consumers: `kubectl -n "
                        "payments rollout restart deploy/consumer`\n\n"
                        "## If the backlog keeps growing\n\nScale the consumers up:\n\n"
                        "```bash\nkubectl -n payments scale deploy/consumer --replicas=12\n```\n\n"
                        "## When to page the payments team\n\nPage them for refunds.\n\n"
                        "```bash\nkubectl -n payments get pods\n```\n")
    scale = step_running(plan, ["kubectl", "-n", "payments", "scale", "deploy/consumer",
                                "--replicas=12"])
    assert guards_of(plan, scale) == ["If the backlog keeps growing"]
    assert gated(plan, scale)
    restart = step_running(plan, ["kubectl", "-n", "payments", "rollout", "restart",
                                  "deploy/consumer"])
    assert guards_of(plan, restart) == []
    # "## When to page ..." names a topic: its check follows the scale-up and the other case
    check = step_running(plan, ["kubectl", "-n", "payments", "get", "pods"])
    assert {e.source for _, e in plan.incoming(check)} >= {scale}


# -- a check written as a statement -------------------------------------------------------------

def test_a_command_that_prints_a_value_is_a_check_with_that_expectation():
    # "`systemctl is-active x` prints `active`." was a person's step, while "Verify: `x`
    # prints `active`" ran the check; a change stated that way is still only shown
    plan = compile_text("# Worker failed\n\n## Verify\n\n"
                        "`systemctl is-active ingest-worker.service` prints `active`.\n\n"
                        "`curl -s localhost:8080/healthz` should return `ok`.\n\n"
                        "`kubectl -n web delete pod web-0` prints `pod \"web-0\" deleted`.\n")
    assert _argvs(plan) == [["systemctl", "is-active", "ingest-worker.service"],
                            ["curl", "-s", "localhost:8080/healthz"]]
    decisions = [s.text for s in plan.steps if s.kind == StepKind.DECIDE]
    assert any("`active`" in d for d in decisions) and any("`ok`" in d for d in decisions)
    manual = [s.text for s in plan.steps if s.kind == StepKind.MANUAL]
    assert any("kubectl -n web delete pod web-0" in t for t in manual)


# -- a command someone else runs ----------------------------------------------------------------

def test_a_command_the_guide_asks_someone_else_to_run_is_their_step():
    # "Ask the DBA to run `x`" and "the key holders must each run `vault operator unseal`"
    # ran here (gated, but as the plan's own step, on this machine, without their access)
    plan = compile_text("# Vault sealed\n\n## Fix\n\n"
                        "Ask the DBA to run `sudo systemctl restart postgresql`.\n\n"
                        "Three key holders must each run `vault operator unseal` and enter "
                        "their key share.\n\n"
                        "Have the storage team run this on the array:\n\n"
                        "```bash\nsudo multipath -r\n```\n\n"
                        "Have a look at the logs and run `sudo systemctl restart nginx`.\n\n"
                        "Then check it: `systemctl status postgresql`\n")
    assert _argvs(plan) == [["sudo", "systemctl", "restart", "nginx"],
                            ["systemctl", "status", "postgresql"]]
    manual = [s.text for s in plan.steps if s.kind == StepKind.MANUAL]
    assert any("Ask the DBA" in t for t in manual)
    assert any("vault operator unseal" in t for t in manual)
    assert "sudo multipath -r" in manual_scripts(plan)


# -- a hand-over that is another action's precondition -------------------------------------------

FSMO = ("# AD replication\n\n## Fix\n\nRestart the service: `sudo systemctl restart netlogon`\n\n"
        "> **Warning**\n> Do not seize FSMO roles unless DC01 is permanently lost. {first}\n\n"
        "If replication still fails after the restart, escalate to the identity team.\n")


def test_a_hand_over_before_another_action_is_no_ending():
    # "Escalate to the identity team first" (before seizing roles) became the run's ending,
    # and the guide's real one ("If replication still fails ..., escalate") was recorded as
    # a condition with nothing to guard
    for first in ("Escalate to the identity team first.",
                  "Page the identity team before seizing them."):
        plan = compile_text(FSMO.format(first=first))
        ends = [s.text for s in plan.steps if s.kind == StepKind.END and
                str(s.outcome) == "escalate" and "identity" in s.text]
        assert ends == ["If replication still fails after the restart, escalate to the "
                        "identity team."], first
    # the hand-over itself stays one
    plan = compile_text(FSMO.format(first="Escalate to the identity team."))
    assert any(s.kind == StepKind.END and "Escalate to the identity team" in s.text
               for s in plan.steps)


# -- the read-only table: Nomad and Cassandra's nodetool ----------------------------------------

def test_nomad_and_nodetool_reports_run_unattended_and_their_changes_wait():
    # every `nomad job status` / `nodetool status` waited for an approval like a change
    plan = compile_text("# Jobs pending\n\n## Diagnose\n\n```shell-session\n"
                        "$ nomad job status -short payments\n$ nomad alloc logs -stderr 8f2c1a9e\n"
                        "$ nodetool status orders\n$ nodetool listpendinghints\n```\n\n"
                        "## Fix\n\n```shell-session\n$ nomad job restart -yes payments\n"
                        "$ nodetool repair -pr orders\n```\n\n"
                        "Follow the logs: `nomad alloc logs -f 8f2c1a9e`\n")
    reads = {("nomad", "job", "status", "-short", "payments"),
             ("nomad", "alloc", "logs", "-stderr", "8f2c1a9e"), ("nodetool", "status", "orders"),
             ("nodetool", "listpendinghints")}
    for s in runs(plan):
        argv = tuple(s.params["pipeline"][0])
        assert (argv in reads) == (not s.mutating and not gated(plan, s.id)), argv
    assert {tuple(a) for a in _argvs(plan)} >= reads | {
        ("nomad", "job", "restart", "-yes", "payments"), ("nodetool", "repair", "-pr", "orders")}
    assert ["nomad", "alloc", "logs", "-f", "8f2c1a9e"] not in _argvs(plan)


# -- Windows Server's own tools ------------------------------------------------------------------

def test_windows_server_directory_and_policy_tools_are_a_persons_step_on_windows():
    # `repadmin /syncall`, `gpupdate /force`, `dcdiag /s:DC02` ran in this machine's shell (a
    # Linux runner), as `ipconfig /registerdns` or `net stop netlogon` never did
    plan = compile_text("# AD replication\n\n## Fix\n\n"
                        "| Step | Action | Expected result |\n|---|---|---|\n"
                        "| 1 | `repadmin /syncall DC02 /AdeP` | no errors |\n\n"
                        "Force a policy refresh: `gpupdate /force`\n\n"
                        "```\ndcdiag /s:DC02 /v\n```\n")
    assert _argvs(plan) == []
    shown = " ".join(s.text + str(s.params.get("script", "")) for s in plan.steps
                     if s.kind == StepKind.MANUAL)
    for line in ("repadmin /syncall DC02 /AdeP", "gpupdate /force", "dcdiag /s:DC02 /v"):
        assert line in shown, line


# -- "on that host" --------------------------------------------------------------------------------

def test_commands_for_that_host_the_guide_named_are_a_persons_step_there():
    # "If a member is `(not reachable/healthy)`, restart mongod on that host:" ran the restart
    # on this machine (the condition's code span hid the place; "that host" was no place)
    for intro in ("If a member is `(not reachable/healthy)`, restart mongod on that host:",
                  "Restart mongod on that failed member:"):
        plan = compile_text("# No primary\n\n## Recover\n\n"
                            "Check the members: `mongosh --quiet --eval 'rs.status().ok'`\n\n"
                            f"{intro}\n\n```\n$ sudo systemctl restart mongod\n```\n")
        assert ["sudo", "systemctl", "restart", "mongod"] not in _argvs(plan), intro
        assert "sudo systemctl restart mongod" in manual_scripts(plan), intro
    # "on the host" alone is the reader's own machine in container guides: it still runs
    plan = compile_text("## Fix\n\nRestart docker on the host:\n\n"
                        "```\n$ sudo systemctl restart docker\n```\n")
    assert _argvs(plan) == [["sudo", "systemctl", "restart", "docker"]]


# -- mongosh's and zkCli's prompts ----------------------------------------------------------------

def test_lines_at_mongosh_and_zkcli_prompts_are_typed_into_that_console():
    # mongosh's `rs0 [direct: primary] admin> rs.stepDown(60)` and zkCli's `[zk: ...] ls /x`
    # were read as the opener's output: the person's step held only `mongosh URI`, and a
    # block of nothing but such lines was dropped as sample output
    plan = compile_text("## Fix\n\nStep down the primary:\n\n```\n$ mongosh \"mongodb://m-1:27017\"\n"
                        "rs0 [direct: primary] admin> rs.stepDown(60)\n```\n\n"
                        "List the brokers:\n\n```\n$ bin/zkCli.sh -server zk-1:2181\n"
                        "[zk: zk-1:2181(CONNECTED) 0] ls /brokers/ids\n[1, 2, 3]\n```\n\n"
                        "Count the connections:\n\n"
                        "```\nEnterprise rs0:PRIMARY> db.serverStatus().connections\n```\n")
    assert _argvs(plan) == []
    scripts = "\n".join(manual_scripts(plan))
    for typed in ("rs.stepDown(60)", "ls /brokers/ids", "db.serverStatus().connections"):
        assert typed in scripts, typed
    assert "[1, 2, 3]" not in scripts


# -- Ansible's ad-hoc command --------------------------------------------------------------------

def test_an_ansible_ad_hoc_check_runs_unattended_and_a_module_that_changes_waits():
    # every `ansible web -m ping` / `-m shell -a 'df -h'` waited for an approval like a change
    plan = compile_text("# 502s after deploy\n\n## Diagnose\n\n```bash\nansible web -m ping\n"
                        "ansible web -m shell -a 'systemctl is-active nginx app'\n"
                        "ansible web -b -m command -a 'tail -n 20 /var/log/nginx/error.log'\n"
                        "```\n\n## Fix\n\n```bash\n"
                        "ansible web -b -m service -a 'name=app state=restarted' --limit web-02\n"
                        "ansible web -b -a 'reboot'\nansible web -k -m ping\n```\n")
    verdicts = {" ".join(s.params["pipeline"][0]): (s.mutating, gated(plan, s.id))
                for s in runs(plan)}
    assert verdicts["ansible web -m ping"] == (False, False)
    assert verdicts["ansible web -m shell -a systemctl is-active nginx app"] == (False, False)
    assert verdicts["ansible web -b -m command -a tail -n 20 /var/log/nginx/error.log"] == \
        (False, False)
    assert verdicts["ansible web -b -m service -a name=app state=restarted --limit web-02"] == \
        (True, True)
    assert verdicts["ansible web -b -a reboot"] == (True, True)
    assert verdicts["ansible web -k -m ping"] == (True, True)


# -- the guides tried ------------------------------------------------------------------------------

def test_no_guide_tried_runs_a_device_line_and_each_gates_its_changes_and_accounts_for_all():
    # the Cisco/Junos guide ran `rollback 1`, `commit confirmed 5` and `copy running-config
    # startup-config` in this machine's shell
    device = {"rollback", "commit", "copy", "show", "configure"}
    guides = sorted(STYLES11.glob("*.md"))
    assert len(guides) >= 10
    for path in guides:
        text = path.read_text()
        guide = parse_guide(text, path=str(path))
        plan = compile_text(text)
        assert not [a for a in _argvs(plan) if a[0] in device], path.name
        assert all(gated(plan, s.id) for s in runs(plan) if s.mutating), path.name
        assert not unaccounted(text, explain(guide, plan, text)), path.name


# -- cqlsh -e ------------------------------------------------------------------------------------

def test_a_cqlsh_select_runs_unattended_and_other_statements_wait():
    # `cqlsh HOST -e "SELECT ..."` waited for an approval like a change (mysql -e and psql -c
    # are judged by their SQL)
    plan = compile_text("## Check\n\n```\n"
                        "$ cqlsh 10.0.1.11 -e \"SELECT count(*) FROM orders.t WHERE id = 42;\"\n"
                        "$ cqlsh 10.0.1.11 -e \"TRUNCATE orders.t;\"\n```\n")
    select, truncate = runs(plan)
    assert not select.mutating and not gated(plan, select.id)
    assert truncate.mutating and gated(plan, truncate.id)
    # a user without a password is asked for one: a person's step, never run unattended
    plan = compile_text("## Check\n\n```\n$ cqlsh 10.0.1.11 -u ops -e \"SELECT * FROM "
                        "system.peers;\"\n```\n")
    assert not [s for s in runs(plan) if not gated(plan, s.id)]
