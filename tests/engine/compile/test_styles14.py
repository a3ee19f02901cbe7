"""Runbook styles the earlier sweeps did not try: a GitBook export's `{% hint %}` and
`{% tabs %}`, a ZFS pool, Istio's 503s, BIND with `nsupdate`, HAProxy behind nginx, AWS SSM, a
KUKA cell's lettered sections, Icinga's check plugins, IIS in PowerShell remoting, a Consul guide
converted from RST (tests/fixtures/styles14 holds the guides tried). Each test is one rule a
guide author would recognise."""

from __future__ import annotations

from pathlib import Path

from engine.effects import classify
from engine.plan import StepKind
from tests.support.compiling import (
    assert_gated_and_accounted,
    compile_text,
    gated,
    guards_of,
    manual_scripts,
    pipelines,
    runs,
)

STYLES14 = Path(__file__).resolve().parents[2] / "fixtures" / "styles14"


# -- a program the compiler does not know, with its options ---------------------------------------

def test_an_unknown_program_with_options_in_an_untagged_block_is_a_command():
    # an indented block holding `/usr/lib/nagios/plugins/check_nrpe -H web-1 -c check_disk_var`
    # and a fence holding `icingacli monitoring acknowledge --host ...` were "sample output":
    # the re-check and the acknowledgement vanished from the plan
    plan = compile_text(
        "## Check\n\nRe-run the check from the satellite:\n\n"
        "    /usr/lib/nagios/plugins/check_nrpe -H web-1 -c check_disk_var\n\n"
        "Acknowledge the alert:\n\n"
        "```\nicingacli monitoring acknowledge --host web-1 --service disk --comment \"ok\"\n"
        "```\n\nTell the PLC to resume:\n\n```\n"
        "opcua-client write -e opc.tcp://plc-cell4:4840 -n \"ns=3;s=Resume\" -t Boolean -v true\n"
        "```\n")
    argvs = [p[0][0] for p in pipelines(plan)] + [m.split()[0] for m in manual_scripts(plan)]
    assert argvs == ["/usr/lib/nagios/plugins/check_nrpe", "icingacli", "opcua-client"]
    # words with an option in them are still no command, nor is a program's printed row
    plan = compile_text("## Check\n\nRun `zpool status`.\n\n```\nuse --dry-run first\n"
                        "tank   ONLINE   0   0   0\n```\n")
    assert pipelines(plan) == [[["zpool", "status"]]] and not any(manual_scripts(plan))


# -- PowerShell remoting's prompt -----------------------------------------------------------------

PSSESSION = """## Check

```powershell
PS C:\\> Enter-PSSession -ComputerName WEB-IIS-01
[WEB-IIS-01]: PS C:\\> Import-Module WebAdministration
[WEB-IIS-01]: PS C:\\> Get-WebAppPoolState -Name PortalPool

Value
-----
Stopped
```
"""


def test_lines_at_a_remote_sessions_prompt_are_typed_on_that_machine():
    # `[WEB-IIS-01]: PS C:\\> Get-WebAppPoolState -Name PortalPool` was the output of
    # `Enter-PSSession`: the plan kept only the line that opened the session
    plan = compile_text(PSSESSION)
    assert runs(plan) == []
    assert manual_scripts(plan) == ["Enter-PSSession -ComputerName WEB-IIS-01\n"
                                    "Import-Module WebAdministration\n"
                                    "Get-WebAppPoolState -Name PortalPool"]


# -- a lettered section ---------------------------------------------------------------------------

LETTERED = """# Cell 4 recovery

## A. Find out why it stopped

1. Read the fault code: `opcua-client read -e opc.tcp://plc-cell4:4840 -n "ns=3;s=FaultCode"`

   If `FaultCode` is `0`, the stop was a manual E-STOP → go to B.
   If `FaultCode` is 31 (gripper vacuum lost) → go to C.
   Any other code: call maintenance and stop here.

## B. Reset and re-home

1. Press the blue **Reset** button.

## C. Gripper vacuum lost

1. Check the suction cups for damage.
"""


def test_go_to_b_lands_on_the_section_lettered_b():
    # "→ go to B" under sections lettered "## A.", "## B.", "## C." was no jump: the E-STOP
    # case went on into the fault code 31 case, whose arrow took "Any other code: call
    # maintenance and stop here" as its own ending (the vacuum fault escalated, any other code
    # re-homed the robot)
    plan = compile_text(LETTERED)
    reset = next(s for s in plan.steps if s.text.startswith("Press the blue"))
    cups = next(s for s in plan.steps if s.text.startswith("Check the suction cups"))
    assert any("`FaultCode` is `0`" in g for g in guards_of(plan, reset.id))
    assert any("31" in g for g in guards_of(plan, cups.id))
    other = [plan.step(e.target) for s in plan.steps if s.kind == StepKind.DECIDE
             for _, e in plan.outgoing(s.id) if e.condition and "31" not in e.condition.text
             and plan.step(e.target).kind == StepKind.END]
    assert [s.outcome for s in other] == ["escalate"]
    assert "Any other code" in other[0].text


# -- a program's own `> ` prompt ------------------------------------------------------------------

NSUPDATE = """## Emergency: add a record by hand

```
$ nsupdate -k /etc/bind/keys/ddns.key
> server ns1.corp.example
> update add web-7.corp.example. 300 A 10.20.4.17
> send
> quit
```
"""


def test_lines_at_the_prompt_of_the_program_a_transcript_started_are_typed_into_it():
    # `$ nsupdate -k key`, then `> update add ...` and `> send`: the approval offered
    # `nsupdate -k /etc/bind/keys/ddns.key` alone (the record it adds hidden, and nothing
    # typed into it: it waited on its input)
    plan = compile_text(NSUPDATE)
    assert runs(plan) == []
    assert manual_scripts(plan) == ["nsupdate -k /etc/bind/keys/ddns.key\n"
                                    "> server ns1.corp.example\n"
                                    "> update add web-7.corp.example. 300 A 10.20.4.17\n"
                                    "> send\n> quit"]
    # a heredoc's `> ` lines are the shell's own continuation, read as before
    plan = compile_text("## Fix\n\n```\n$ cat <<EOF | sudo tee /etc/motd\n> maintenance\n"
                        "> EOF\n```\n")
    assert manual_scripts(plan) == ["cat <<EOF | sudo tee /etc/motd\n> maintenance\n> EOF"]


# -- a program the compiler does not know, beside one it runs -------------------------------------

def test_an_unknown_command_the_sentence_asks_for_beside_a_run_one_is_a_persons_step():
    # "If it is not running, start it with `sudo systemctl start named` and re-check with
    # `rndc status`.": the start ran, and `rndc status` was in no step at all
    plan = compile_text("## Fix\n\nIf it is not running, start it with `sudo systemctl start "
                        "named` and re-check with `rndc status`.\n")
    (start,) = runs(plan)
    assert start.params["pipeline"] == [["sudo", "systemctl", "start", "named"]]
    (check,) = [s for s in plan.steps if s.kind == StepKind.MANUAL]
    assert "`rndc status`" in check.text
    assert [e.target for _, e in plan.outgoing(start.id) if e.on == "success"] == [check.id]
    # nor is a span in a sentence of its own, whose step the sentence already is
    plan = compile_text("## Fix\n\nWait 30 s and check again with `show servers state`. If "
                        "the server is still down, drain it: `sudo systemctl stop app`.\n")
    assert len([s for s in plan.steps if s.kind == StepKind.MANUAL]) == 1
    # nor a message to look for ("look for `no free executors` in `journalctl -u runner`")
    plan = compile_text("## Fix\n\nRestart it with `sudo systemctl restart runner` and look for "
                        "`no free executors` in `journalctl -u runner`.\n")
    assert not [s for s in plan.steps if s.kind == StepKind.MANUAL]
    # a name in code is no command ("the `named` unit", "the `corp.example` zone")
    plan = compile_text("## Fix\n\nRestart it with `sudo systemctl restart named` and check "
                        "the `corp.example zone` in the log.\n")
    assert not [s for s in plan.steps if s.kind == StepKind.MANUAL]


# -- reading verbs of the clouds' and meshes' clients ---------------------------------------------

def test_aws_get_and_wait_and_istioctls_endpoints_of_a_cluster_only_read():
    # `aws ec2 get-console-output`, `aws ssm get-command-invocation`, `aws ec2 wait
    # instance-stopped` and `istioctl proxy-config endpoints ... --cluster "outbound|..."`
    # waited for an approval, as if they changed something
    for line in (["aws", "ec2", "get-console-output", "--instance-id", "i-1", "--latest"],
                 ["aws", "ssm", "get-command-invocation", "--command-id", "c", "--instance-id",
                  "i-1"],
                 ["aws", "ec2", "wait", "instance-stopped", "--instance-ids", "i-1"],
                 ["istioctl", "proxy-config", "endpoints", "deploy/web", "-n", "shop",
                  "--cluster", "outbound|8080||checkout.shop.svc.cluster.local"]):
        assert classify(line).read, line
    # one that hands out a credential is no reading
    for line in (["aws", "ecr", "get-login-password"],
                 ["aws", "secretsmanager", "get-secret-value", "--secret-id", "db"],
                 ["aws", "ssm", "get-parameter", "--name", "db", "--with-decryption"],
                 ["aws", "sts", "get-session-token"]):
        assert not classify(line).read, line


# -- "(see Fix A)" after a case's instruction -----------------------------------------------------

SEE_FIX = """# 503s

## Triage

Run `istioctl proxy-status`.

If any row says `STALE`, restart that pod (see Fix A). If only some endpoints are unhealthy,
read the outlier settings — see **Fix B** below.

## Fix A — stale proxy

```sh
kubectl -n shop rollout restart deploy/web
```

## Fix B

```sh
kubectl -n shop get destinationrule checkout -o yaml
```
"""


def test_see_a_later_section_after_a_cases_instruction_goes_there():
    # "If any row says `STALE`, restart that pod (see Fix A)." was a person's step with those
    # words, and the run went on as if nothing were stale; "(step 3)" and "— see **X** below"
    # the same
    plan = compile_text(SEE_FIX)

    def lands(case: str) -> str:  # the step a case goes to, past the heading's own question
        (target,) = [e.target for s in plan.steps for _, e in plan.outgoing(s.id)
                     if e.condition and e.condition.text.startswith(case)]
        while plan.step(target).kind in (StepKind.DECIDE, StepKind.APPROVE):
            target = next(e.target for _, e in plan.outgoing(target)
                          if e.condition is None or not e.condition.text.startswith("Otherwise")
                          if plan.step(e.target).kind != StepKind.END)
        return target

    assert plan.step(lands("If any row says `STALE`")).params["pipeline"] == [
        ["kubectl", "-n", "shop", "rollout", "restart", "deploy/web"]]
    assert plan.step(lands("If only some endpoints")).params["pipeline"] == [
        ["kubectl", "-n", "shop", "get", "destinationrule", "checkout", "-o", "yaml"]]
    assert not [s for s in plan.steps if s.kind == StepKind.MANUAL]
    # a step before this one is no place to go ("(see step 1)": where a value came from)
    plan = compile_text("## 1. Check\n\nRun `istioctl proxy-status`.\n\n## 2. Fix\n\nIf a row "
                        "says `STALE`, restart the pod you found (see step 1).\n")
    (check,) = runs(plan)
    assert plan.entry == check.id and not list(plan.incoming(check.id))


# -- a monitoring check plugin --------------------------------------------------------------------

def test_a_nagios_check_plugin_only_checks():
    # `/usr/lib/nagios/plugins/check_disk -w 10% -c 5% -p /var` waited for an approval: a
    # program given by its path is unknown, but a `check_*` in the plugins' directory only
    # looks and prints its status
    plan = compile_text("## Check\n\n```\n/usr/lib/nagios/plugins/check_disk -w 10% -c 5% -p "
                        "/var\n/usr/lib/nagios/plugins/check_nrpe -H web-1 -c check_load\n```\n")
    assert [s.mutating for s in runs(plan)] == [False, False]
    # check_by_ssh runs whatever command it is given; a check_* elsewhere is anyone's script
    assert not classify(["/usr/lib/nagios/plugins/check_by_ssh", "-H", "web-1", "-C",
                         "sudo systemctl restart app"]).read
    assert not classify(["/opt/tools/check_and_fix", "-w", "1"]).read


# -- what a failure prints, then what to do about it ----------------------------------------------

NGINX = """## nginx config

Test the config and reload:

```bash
sudo nginx -t && sudo systemctl reload nginx
```

If `nginx -t` fails, it prints the file and line, e.g.

```
nginx: [emerg] unknown directive "proxy_passs" in /etc/nginx/sites-enabled/app.conf:14
nginx: configuration file /etc/nginx/nginx.conf test failed
```

Revert the last change (`sudo git -C /etc/nginx checkout -- sites-enabled/`) and run the test
again.
"""


def test_what_to_do_after_the_output_a_failure_prints_is_for_that_failure():
    # "If `nginx -t` fails, it prints the file and line, e.g." over the output it prints was a
    # condition "with nothing to guard": the revert after the output ran after every reload
    plan = compile_text(NGINX)
    revert = next(s for s in runs(plan) if "checkout" in s.params["pipeline"][0])
    assert gated(plan, revert.id)
    assert guards_of(plan, revert.id) == ["If `nginx -t` fails"]


# -- GitBook's tabs -------------------------------------------------------------------------------

GITBOOK_TABS = """## Check the seal status

{% tabs %}
{% tab title="CLI" %}
```bash
vault status
```
{% endtab %}

{% tab title="HTTP" %}
```bash
curl -s https://vault-1:8200/v1/sys/seal-status
```
{% endtab %}
{% endtabs %}

Then check the peers:

```bash
vault operator raft list-peers
```
"""


def test_gitbooks_tabs_are_alternatives_for_a_person_to_choose():
    # a GitBook export's `{% tab title="CLI" %}` ... `{% endtab %}` was words for a reader: both
    # ways ran, one after the other
    plan = compile_text(GITBOOK_TABS)
    status, curl, peers = runs(plan)
    assert guards_of(plan, status.id) == ["CLI"] and guards_of(plan, curl.id) == ["HTTP"]
    # (as Hugo's `{{< tab "CLI" >}}` is read)
    assert curl.id in {e.source for _, e in plan.incoming(peers.id)}


# -- GitBook's code wrapper -----------------------------------------------------------------------

def test_the_words_over_a_gitbook_code_wrapper_introduce_its_block():
    # "Ask the DBA to run, on the primary:" over `{% code title="restart.sh" %}` and the block:
    # the tag was taken for the block's introduction, and the restart ran here
    plan = compile_text('## Fix\n\nAsk the DBA to run, on the primary:\n\n'
                        '{% code title="restart.sh" %}\n```bash\nsudo systemctl restart '
                        'postgresql\n```\n{% endcode %}\n')
    assert runs(plan) == []
    assert manual_scripts(plan) == ["sudo systemctl restart postgresql"]


# -- a key holder's unseal ------------------------------------------------------------------------

def test_vault_operator_unseal_without_a_key_is_a_key_holders_step():
    # `vault operator unseal` asks for a key, hidden, at its prompt: it was gated and run here
    verdict = classify(["vault", "operator", "unseal"])
    assert verdict.effect == "interactive"
    plan = compile_text("## Unseal\n\n```bash\nvault operator unseal\n```\n")
    assert runs(plan) == [] and manual_scripts(plan) == ["vault operator unseal"]


# -- a finding, then "Otherwise" ------------------------------------------------------------------

def test_otherwise_after_a_finding_is_the_other_side_of_that_findings_case():
    # "If the state is `Started`, the 503 comes from somewhere else (check the load balancer).
    # Otherwise look at why it stopped:" lost its first case (a finding, no instruction), and
    # "Otherwise look at why it stopped" was asked as a case of its own
    plan = compile_text("## Check\n\nRun `systemctl status app`.\n\nIf the state is `Started`, "
                        "the 503 comes from somewhere else. Otherwise look at why it stopped:\n\n"
                        "```bash\njournalctl -u app -n 50\n```\n")
    (ask,) = [s for s in plan.steps if s.kind == StepKind.DECIDE]
    assert ask.text == "If the state is `Started`"
    cases = {e.condition.text: plan.step(e.target) for _, e in plan.outgoing(ask.id)}
    assert cases["If the state is `Started`"].kind == StepKind.MANUAL
    assert cases["Otherwise look at why it stopped"].params["pipeline"] == [
        ["journalctl", "-u", "app", "-n", "50"]]


# -- "and you're done:" over a block --------------------------------------------------------------

def test_you_are_done_over_a_block_ends_the_case_after_the_block():
    # "If the check says OK now, it was a temporary spike. Acknowledge the alert with a comment
    # and you're done:" over the acknowledgement: the run went on to the clean-up after it
    plan = compile_text("## Check\n\nRun `df -h /var`.\n\nIf the check says OK now, it was a "
                        "spike. Acknowledge the alert and you're done:\n\n```\nicingacli "
                        "monitoring acknowledge --host web-1 --service disk\n```\n\n"
                        "## Free space\n\nRun `sudo journalctl --vacuum-size=500M`.\n")
    ack = next(s for s in runs(plan) if s.params["pipeline"][0][0] == "icingacli")
    assert guards_of(plan, ack.id) == ["If the check says OK now"]
    after = [plan.step(e.target) for _, e in plan.outgoing(ack.id) if e.on == "success"]
    assert [s.outcome for s in after] == ["no_action"]


# -- "only if the test passes": the block's own `&&` ----------------------------------------------

def test_reload_only_if_the_test_passes_is_the_blocks_own_and_and():
    # "Test it and reload only if the test passes:" over `sudo nginx -t && sudo systemctl
    # reload nginx` asked "only if the test passes" before the test ran (and, if no, skipped
    # both); the `&&` already holds the reload back until the test passed
    plan = compile_text("## nginx config\n\nSomeone may have pushed a broken config. Test it "
                        "and reload only if the test passes:\n\n```bash\nsudo nginx -t && sudo "
                        "systemctl reload nginx\n```\n")
    assert not [s for s in plan.steps if s.kind == StepKind.DECIDE]
    test, reload = runs(plan)
    assert plan.entry == test.id and gated(plan, reload.id)
    # a condition of its own still guards ("Reload only if the pool is drained:")
    plan = compile_text("## nginx config\n\nReload nginx only if the pool is drained:\n\n"
                        "```bash\nsudo systemctl reload nginx\n```\n")
    assert [s.text for s in plan.steps if s.kind == StepKind.DECIDE] == [
        "only if the pool is drained"]


# -- a `{{ host }}` placeholder in an assignment --------------------------------------------------

def test_an_assignment_with_a_spaced_template_placeholder_is_one_value():
    # `export VAULT_ADDR=https://{{ host }}:8200` was three words (the template's blanks split
    # it): a person's step showing `{{ '{{' }} host }}`, where `https://<host>:8200` set an input
    for value in ("https://{{ host }}:8200", "https://<host>:8200"):
        plan = compile_text(f"## Check\n\n```bash\nexport VAULT_ADDR={value}\nvault status\n```\n")
        assert manual_scripts(plan) == [] and pipelines(plan) == [[["vault", "status"]]], value
        assert [i.name for i in plan.inputs] == ["vault_addr"], value


# -- the guides tried -----------------------------------------------------------------------------

def test_each_guide_tried_gates_its_changes_and_accounts_for_every_line():
    assert_gated_and_accounted(folder=STYLES14, at_least=8)
