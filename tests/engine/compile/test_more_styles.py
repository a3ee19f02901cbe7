"""More guide styles neither corpus has (tests/fixtures/styles): on-call runbooks in PagerDuty's
Triage / Investigate / Remediate shape, Azure TSGs with mitigation tables, Setext headings and
`~~~` fences, steps written as a table, HTML `<pre>` blocks and Hugo shortcodes, "run `x` on all
nodes", checklists, and a robot cell's recovery playbook with its "Abort if" conditions."""

from __future__ import annotations

import pytest

from engine.plan import Plan, StepKind
from tests.support.compiling import compile_style as compile_file
from tests.support.compiling import (
    compile_text,
    gated,
    guards_of,
    manual_scripts,
    pipelines,
    runs,
    step_running,
)


def ignored_code(plan: Plan) -> list[str]:
    return [i.reason for i in plan.ignored if i.kind == "code"]


# -- output that reads as a command ------------------------------------------------------------


def test_the_header_of_an_announced_output_table_is_not_its_command():
    # `ip        heap.percent name` over its rows: `ip` is a tool, so the header ran (gated)
    plan = compile_text("## Check\n\n1. Which nodes are in the cluster:\n\n   ~~~sh\n"
                        "   curl -s localhost:9200/_cat/nodes?v\n   ~~~\n\n"
                        "   The output looks like:\n\n   ~~~\n   ip        heap.percent name\n"
                        "   10.0.1.4  41           es-data-1\n   ~~~\n")
    assert pipelines(plan) == [[["curl", "-s", "localhost:9200/_cat/nodes?v"]]]
    assert ignored_code(plan) == ["sample output"]
    # a transcript announced as output still runs the command it opens with
    plan = compile_text("Output:\n\n```\nkubectl get pods -n web\nNAME     READY   STATUS\n"
                        "web-1    1/1     Running\n```\n")
    assert pipelines(plan) == [[["kubectl", "get", "pods", "-n", "web"]]]


def test_an_untagged_block_that_opens_with_a_log_line_is_output_even_where_a_command_follows():
    # The logs a command printed, pasted under "Example:": the `kubectl delete` in them ran
    plan = compile_text("## Investigate\n\nRead the errors:\n\n"
                        "    kubectl -n s logs deploy/orders --since=15m | grep -i error\n\n"
                        "Example:\n\n    ERROR CommitFailedException: offset commit failed\n"
                        "    kubectl -n s delete pod orders-7d9c\n")
    assert pipelines(plan) == [[["kubectl", "-n", "s", "logs", "deploy/orders", "--since=15m"],
                                ["grep", "-i", "error"]]]
    assert ignored_code(plan) == ["sample output"]


# -- HTML --------------------------------------------------------------------------------------


def test_an_html_pre_block_is_a_code_block_not_html_left_unread():
    # `<pre><code>` (wikis, Confluence exports): its commands were "HTML, not read", lost
    plan = compile_text("## Clean up\n\n<pre><code>sudo journalctl --vacuum-size=500M\n"
                        "sudo apt-get clean\n</code></pre>\n\n<pre>\n$ df -h /var\n"
                        "Filesystem      Size  Used Avail Use% Mounted on\n"
                        "/dev/sda3        20G   19G  1.0G  95% /var\n</pre>\n\n"
                        "<pre><code class=\"language-bash\">kubectl get pods | grep -v Running "
                        "&amp;&amp; echo done\n</code></pre>\n")
    assert pipelines(plan) == [[["sudo", "journalctl", "--vacuum-size=500M"]],
                               [["sudo", "apt-get", "clean"]], [["df", "-h", "/var"]],
                               [["kubectl", "get", "pods"], ["grep", "-v", "Running"]],
                               [["echo", "done"]]]
    assert all(gated(plan, s.id) for s in runs(plan) if s.mutating)
    assert not plan.ignored


# -- conditions written after their instruction ------------------------------------------------


def test_abort_if_is_a_condition_whose_branch_ends_the_run():
    # A robot cell's safety conditions were "context for a reader": the recovery went on
    # with a person inside the fence, and re-homing went on to the pick after HOMING_FAILED
    plan = compile_file("robot-cell.md")
    ends = {e.condition.text: plan.step(e.target) for e in plan.edges
            if e.condition is not None and e.kind == "branch"}
    for said in ("Abort if a person is inside the cell fence, or the E-stop is not reset",
                 "Abort if the gripper reset fails twice", "Abort if any axis reports "
                 "`HOMING_FAILED`"):
        assert ends[said].kind == StepKind.END and ends[said].outcome == "escalate", said
    plan = compile_text("## Fix\n\n1. Drain it: `kubectl drain node-1 --ignore-daemonsets`\n"
                        "2. Do not continue if any pod is stuck in Terminating; page the "
                        "storage on-call.\n3. Reboot it: `ssh node-1 sudo reboot`\n")
    (branch,) = [e for e in plan.edges if e.condition is not None and e.kind == "branch"]
    assert branch.condition.text == "Do not continue if any pod is stuck in Terminating"
    assert plan.step(branch.target).kind == StepKind.END


# -- commands typed on another machine ---------------------------------------------------------


def test_a_command_whose_machine_is_named_after_it_is_a_persons_step_there():
    # "Run `x` on all nodes.": the place follows the command; it ran (gated) right here
    plan = compile_file("nodes-brokers.md")
    for said in ("sudo rm -rf /tmp/kafka-logs-old", "sudo systemctl restart node-exporter",
                 "sudo systemctl restart zookeeper", "kafka-topics.sh --bootstrap-server "
                 "localhost:9092 --describe --under-replicated-partitions` on any broker"):
        assert any(s.kind == StepKind.MANUAL and said in s.text for s in plan.steps), said
    ran = [s.text for s in runs(plan)]
    assert not any("rm -rf" in r or "node-exporter" in r or "zookeeper" in r for r in ran)
    # a tool that reaches the other machine itself still runs from here
    plan = compile_text("## Fix\n\nRun `kubectl -n kafka get pods` on each broker's "
                        "namespace.\n\nRun `sudo systemctl restart nginx` on this host.\n\n"
                        "Run `chef-client` on all the nodes: `ansible all -m command -a "
                        "chef-client`\n")
    assert pipelines(plan) == [[["kubectl", "-n", "kafka", "get", "pods"]],
                               [["sudo", "systemctl", "restart", "nginx"]],
                               [["ansible", "all", "-m", "command", "-a", "chef-client"]]]


# -- Azure TSGs --------------------------------------------------------------------------------


def test_the_azure_cli_is_a_command_and_its_show_and_list_verbs_only_read():
    # `az` was no known tool: a mitigation table's `az storage account failover --yes` was
    # "context for a reader" (lost), and `az storage account show` was gated as a change
    plan = compile_file("azure-tsg.md")
    show = step_running(plan, ["az", "storage", "account", "show", "--name", "stingestprod",
                               "--resource-group", "rg-ingest", "--query", "sku"])
    assert not plan.step(show).mutating and not gated(plan, show)
    failover = step_running(plan, ["az", "storage", "account", "failover", "--name",
                                   "stingestprod", "--yes"])
    assert plan.step(failover).mutating and gated(plan, failover)
    plan = compile_text("## Fix\n\nFail over: `az storage account failover --name st --yes`\n\n"
                        "```azurecli\naz monitor metrics list --resource r1\n"
                        "az vm restart --name vm1 --resource-group rg\n```\n")
    (failover, listing, restart) = runs(plan)
    assert failover.text == "az storage account failover --name st --yes"
    assert all(s.mutating and gated(plan, s.id) for s in (failover, restart))
    assert not listing.mutating


def test_a_table_of_conditions_and_actions_is_a_decision_row_after_row():
    # "| Condition | Mitigation |": the first row whose condition holds is taken, "Anything
    # else" is what is left; the whole table was one person's step, its commands never run
    plan = compile_file("azure-tsg.md")
    failover = step_running(plan, ["az", "storage", "account", "failover", "--name",
                                   "stingestprod", "--yes"])
    scale = step_running(plan, ["az", "aks", "scale", "--resource-group", "rg-ingest",
                                "--name", "aks-ingest", "--node-count", "3"])
    assert guards_of(plan, failover) == ["Throttling on a single account"]
    assert guards_of(plan, scale) == ["Throttling across accounts"]
    (single,) = [s for s in plan.steps if s.text == "Throttling on a single account"]
    (across,) = [s for s in plan.steps if s.text == "Throttling across accounts"]
    assert [e.target for e in plan.edges if e.source == single.id and e.kind == "else"] == \
        [across.id]
    (rest,) = [e.target for e in plan.edges if e.source == across.id and e.kind == "else"]
    assert plan.step(rest).outcome == "escalate"  # "Engage the Azure Storage support team"
    # a table of what the system does in each case describes, it asks nothing of a person
    plan = compile_text("## Details\n\n| Scenario | Action |\n|---|---|\n| A copy is missing. "
                        "| Longhorn syncs it from a healthy copy. |\n| All copies are gone. | "
                        "Longhorn cannot recover the file. |\n\nRun `kubectl get nodes`.\n")
    assert not [s for s in plan.steps if s.kind in (StepKind.DECIDE, StepKind.MANUAL)]
    # a table with a column of checks is a symptom table: its checks run first, then its
    # rows decide (the fix was only shown, in a person's step holding the table)
    plan = compile_text("## Triage\n\n| Symptom | Check | Fix |\n|---|---|---|\n"
                        "| Pods crash | `kubectl get pods -n web` | "
                        "`kubectl delete pod -n web x` |\n")
    assert [s.text for s in runs(plan)] == ["kubectl get pods -n web",
                                            "kubectl delete pod -n web x"]
    delete = step_running(plan, ["kubectl", "delete", "pod", "-n", "web", "x"])
    assert gated(plan, delete) and guards_of(plan, delete) == ["Pods crash"]


@pytest.mark.parametrize("case", ["If you see", "When you see", "What you observe",
                                  "Observation", "Error message", "Signs"])
def test_a_decision_tables_case_column_may_say_what_you_see(case: str):
    # "| If you see | Then |" was one person's step holding the whole table: its rollback was
    # never offered, and its "none of the above: escalate" row was lost (the run ended resolved)
    plan = compile_text(f"## Mitigation\n\n| {case} | Then |\n|---|---|\n"
                        "| a deploy in the last hour | roll it back: `helm rollback web -n web` |\n"
                        "| none of the above | escalate to #web-oncall |\n")
    rollback = step_running(plan, ["helm", "rollback", "web", "-n", "web"])
    assert gated(plan, rollback)
    assert guards_of(plan, rollback) == ["a deploy in the last hour"]
    (decide,) = [s for s in plan.steps if s.kind == StepKind.DECIDE]
    (rest,) = [e.target for e in plan.edges if e.source == decide.id and e.kind == "else"]
    assert plan.step(rest).outcome == "escalate"


def test_a_checks_table_titles_each_step_with_its_row_and_what_it_expects():
    # "| Check | Command | Expected |": every step was titled "Quick checks" and the Expected
    # column was nowhere in the plan: the report could not say what healthy looks like
    plan = compile_text("## Quick checks\n\n| Check | Command | Expected |\n|---|---|---|\n"
                        "| Proxy pods ready | `kubectl get pods -n edge` | all `Running` |\n"
                        "| Recent deploys | `helm history edge -n edge` | |\n")
    assert [s.title for s in runs(plan)] == ["Proxy pods ready (expected all `Running`)",
                                            "Recent deploys"]
    # a table with no name for its rows keeps the section's title
    plan = compile_text("## Quick checks\n\n| Command |\n|---|\n| `kubectl get pods` |\n")
    assert [s.title for s in runs(plan)] == ["Quick checks"]


def test_an_escalation_sections_hand_off_is_the_runs_ending_when_nothing_worked():
    # "## Escalation / Transfer the ICM to X if none of the mitigations help": context for a
    # reader, so a run whose mitigations were all a person's ended "resolved" regardless
    plan = compile_file("azure-tsg.md")
    (decide,) = [s for s in plan.steps if s.kind == StepKind.DECIDE and
                 s.text == "The issue is resolved"]
    (otherwise,) = [e for e in plan.edges if e.source == decide.id and e.kind == "else"]
    end = plan.step(otherwise.target)
    assert end.kind == StepKind.END and end.outcome == "escalate"
    assert end.text.startswith("Transfer the ICM to Azure Storage/Triage")


# -- on-call runbooks --------------------------------------------------------------------------


def test_resolve_the_incident_ends_its_branch_resolved():
    # "If LAG is under 10000, resolve the incident": a person's step, then the run went on to
    # investigate and remediate an incident the guide had just closed
    plan = compile_file("pagerduty-triage.md")
    (branch,) = [e for e in plan.edges if e.condition is not None and e.kind == "branch"
                 and e.condition.text == "If LAG is under 10000 on every partition"]
    end = plan.step(branch.target)
    assert end.kind == StepKind.END and end.outcome == "resolved"


def test_an_unticked_task_list_box_is_a_persons_step():
    # "- [ ] Confirm the dashboard is green" was ignored as prose: the to-do was lost
    plan = compile_text("## After\n\n- [ ] Confirm the dashboard is green\n"
                        "- [ ] Reset the alert: `amtool silence expire abc123`\n"
                        "- [x] Announce the restart in #ops\n")
    (todo,) = [s for s in plan.steps if s.kind == StepKind.MANUAL]
    assert "Confirm the dashboard is green" in todo.text
    assert pipelines(plan) == [[["amtool", "silence", "expire", "abc123"]]]
    assert [i.text for i in plan.ignored] == ["[x] Announce the restart in #ops"]
    # and `--explain` says why: done already, not "prose"
    assert [i.reason for i in plan.ignored] == ["a ticked box: done already, nothing to do again"]


def test_a_ticked_box_is_done_already_in_a_numbered_list_and_under_escalation():
    # "2. [x] Page the DBA on-call" was a person's step (paging the DBA twice), and under
    # "## Escalation" the ticked page was the run's ending while the open to-do was ignored
    plan = compile_text("## Mitigation\n\n1. Restart it: `systemctl restart app`\n"
                        "2. [x] Page the DBA on-call\n")
    assert not [s for s in plan.steps if s.kind == StepKind.MANUAL]
    assert [i.reason for i in plan.ignored] == ["a ticked box: done already, nothing to do again"]
    plan = compile_text("## Mitigation\n\n1. Restart it: `systemctl restart app`\n\n"
                        "## Escalation\n\n- [x] Page the DBA on-call (done by the alert)\n"
                        "- [ ] Open an incident in #db\n")
    (end,) = [s for s in plan.steps if s.kind == StepKind.END and s.outcome == "escalate"
              and "incident" in s.text]
    assert "Page the DBA" not in end.text


# -- a procedure written as a table ------------------------------------------------------------


def test_a_table_of_numbered_steps_runs_its_rows_in_order_and_never_its_expected_output():
    # "Step | Action | Command | Expected": the read-only rows ran and the changing ones were
    # one person's step holding the whole table, before step 3 - the ingress restarted
    # before the certificate was ready
    plan = compile_file("step-table.md")
    order = [s for s in plan.steps if s.kind in (StepKind.COMMAND, StepKind.MANUAL)]
    assert [s.text for s in order][:5] == [
        "kubectl -n ingress get secret web-tls -o jsonpath='{.data.tls\\.crt}'",
        "cmctl renew web-tls -n ingress",
        "kubectl -n ingress wait certificate/web-tls --for=condition=Ready --timeout=5m",
        "kubectl -n ingress rollout restart deploy/ingress-nginx-controller",
        "Step 5: Tell #ops the rotation is done"]
    for s in order[:4]:
        assert not s.mutating or gated(plan, s.id), s.text
    assert order[1].mutating and order[3].mutating
    nxt = {e.source: e.target for e in plan.edges if e.kind == "next"}
    # (step 3's expected `... condition met` is checked before step 4: its "no" goes on)
    checked = {e.source: e.target for e in plan.edges
               if e.condition is not None and e.condition.text.startswith("Otherwise")}
    for a, b in zip(order[:4], order[1:5]):
        to = nxt[a.id]
        to = checked.get(to, to)
        assert to in (b.id, f"approve-{b.id}"), (a.text, b.text)
    assert not any("condition met" in s.text for s in runs(plan))
    # each row's step is titled by its own words, not the table's section ("Procedure")
    assert [s.title for s in order[:4]] == [
        "Check the current expiry", "Renew the certificate", "Wait for it to be ready",
        "Restart the ingress controller"]


# -- Hugo --------------------------------------------------------------------------------------


def test_hugo_tab_shortcodes_are_alternatives_a_person_chooses():
    # `{{< tab "Linux" >}}` ... `{{< tab "FreeBSD" >}}`: both tabs' commands ran in a row
    plan = compile_file("hugo-html-blockquote.md")
    for label, depth in (("Linux", "--max-depth=2"), ("FreeBSD", " -d 2 ")):
        (du,) = [s for s in runs(plan) if s.text.startswith("sudo du") and depth in s.text]
        assert guards_of(plan, du.id) == [label]
    plan = compile_text("## Restart\n\n{{< tabs >}}\n\n{{% tab name=\"systemd\" %}}\n\n```bash\n"
                        "sudo systemctl restart app\n```\n\n{{% /tab %}}\n\n"
                        "{{% tab name=\"Docker\" %}}\n\n```bash\ndocker restart app\n```\n\n"
                        "{{% /tab %}}\n\n{{< /tabs >}}\n\nThen check `curl -s localhost/health`.\n")
    systemd = step_running(plan, ["sudo", "systemctl", "restart", "app"])
    docker = step_running(plan, ["docker", "restart", "app"])
    assert guards_of(plan, systemd) == ["systemd"] and guards_of(plan, docker) == ["Docker"]
    assert gated(plan, systemd) and gated(plan, docker)
    assert guards_of(plan, step_running(plan, ["curl", "-s", "localhost/health"])) != ["Docker"]


def test_go_to_section_n_jumps_to_the_heading_numbered_n():
    # "If the fault is `A2xx` (axis), go to section 3.": a person's step, then the gripper
    # steps ran on for an axis fault
    plan = compile_file("robot-cell.md")
    (jump,) = [e for e in plan.edges if e.kind == "jump"]
    assert jump.condition is not None and jump.condition.text == "If the fault is `A2xx` (axis)"
    assert plan.step(jump.target).text.startswith("Approve before it runs: cellctl axis home")


# -- wiki exports ------------------------------------------------------------------------------


def test_a_collapsed_rollback_runs_only_when_a_person_decides_to_roll_back():
    # `<details><summary>Rollback</summary>`: the undo ran right after the fix it undoes
    plan = compile_file("confluence-export.md")
    restore = step_running(plan, ["sudo", "cp", "/etc/nginx/nginx.conf.bak",
                                  "/etc/nginx/nginx.conf"])
    assert guards_of(plan, restore) == ["Rollback"] and gated(plan, restore)


def test_a_step_written_as_a_command_and_expected_form_runs_its_command():
    # "**Command:** `x` **Expected:** `y`": a person's step, the check never ran
    plan = compile_text("## Check\n\n1. **Command:** `kubectl -n web get deploy web`\n"
                        "   **Expected:** `3/3`\n2. **Command:** `kubectl get nodes`\n")
    assert pipelines(plan) == [[["kubectl", "-n", "web", "get", "deploy", "web"]],
                               [["kubectl", "get", "nodes"]]]
    (check,) = [s for s in plan.steps if s.kind == StepKind.DECIDE]
    assert check.text == "If the output does not contain `3/3`"


def test_a_place_closing_a_blocks_introduction_is_where_its_commands_are_typed():
    # "If the receiver is stopped, restart Postgres on the replica:" over its block: the
    # restart ran (gated) on the machine running the plan
    plan = compile_file("indented-lists.md")
    assert "sudo systemctl restart postgresql@14-main" in manual_scripts(plan)
    assert not any("postgresql@14-main" in s.text for s in runs(plan))
    assert guards_of(plan, next(s.id for s in plan.steps if "postgresql@14-main" in s.text)) \
        == ["If the receiver is stopped"]


def test_a_block_that_reaches_the_named_machines_itself_runs_from_here():
    # "Then run chef-client on all the workers:" over `bundle exec knife ssh ...`: knife (or
    # ansible, pdsh) goes to the workers from here, so the block is no person's step there
    plan = compile_text("## Fix\n\nThen run chef-client on all the workers:\n\n```\n"
                        "bundle exec knife ssh -a ipaddress 'role:worker' 'sudo chef-client'\n"
                        "```\n\nRestart the exporter on all the nodes:\n\n```\n"
                        "sudo ansible all -b -m service -a 'name=node-exporter state=restarted'\n"
                        "```\n")
    assert [p[0][:4] for p in pipelines(plan)] == [["bundle", "exec", "knife", "ssh"],
                                                   ["sudo", "ansible", "all", "-b"]]
    assert all(s.kind != StepKind.MANUAL for s in plan.steps)


# -- chat-ops decoration -----------------------------------------------------------------------


def test_an_emoji_before_a_condition_does_not_hide_it():
    # "⚠️ If the disk on a node is above 90%, clean ...": the guard was dropped and the
    # deletion ran whatever the disk said
    plan = compile_file("opsgenie-emoji.md")
    clean = step_running(plan, ["kubectl", "-n", "checkout", "delete", "pod", "-l",
                                "app=image-gc"])
    assert guards_of(plan, clean) == ["If the disk on a node is above 90%"]
    ends = [e for e in plan.edges if e.condition is not None and
            e.condition.text == "When the error rate is still above 5% after two restarts"]
    assert [plan.step(e.target).outcome for e in ends if e.kind == "branch"] == ["escalate"]


def test_a_paragraph_that_says_to_repeat_steps_or_wait_is_a_persons_step():
    # "Repeat steps 1-2 until the error rate is below 1%." was context for a reader
    plan = compile_file("opsgenie-emoji.md")
    said = [s.text for s in plan.steps if s.kind == StepKind.MANUAL]
    assert "Wait 5 minutes, then look at the error rate again." in said
    assert "Repeat steps 1-2 of Remediate until the error rate is below 1%." in said
    plan = compile_text("## Fix\n\nRestart it: `sudo systemctl restart app`\n\nRepeated "
                        "restarts are a sign of a memory leak.\n\nWaiting is explained in "
                        "the FAQ.\n")
    assert not [s for s in plan.steps if s.kind == StepKind.MANUAL]


# -- values to fill in -------------------------------------------------------------------------


def test_a_word_the_guide_says_to_replace_is_a_value_to_fill_in():
    # "Replace `POD_NAME` below with the pod from step 1": the force-delete ran on a pod
    # literally named POD_NAME
    plan = compile_text("## Steps\n\n1. Find it: `kubectl -n web get pods`\n2. Replace "
                        "`POD_NAME` below with the pod from step 1 and delete it:\n\n"
                        "   ```bash\n   kubectl -n web delete pod POD_NAME --force\n   ```\n\n"
                        "3. Describe it, where `NODE` is its node: `kubectl describe node "
                        "NODE`\n")
    assert pipelines(plan)[1:] == [
        [["kubectl", "-n", "web", "delete", "pod", "{{ inputs.pod_name }}", "--force"]],
        [["kubectl", "describe", "node", "{{ inputs.node }}"]]]
    assert {"pod_name", "node"} <= {i.name for i in plan.inputs}


def test_a_spaced_jinja_placeholder_standing_alone_is_one_value():
    # `{{ node_name }}` was cut into three words and run as written
    plan = compile_text("## Check\n\nDescribe the node: `kubectl describe node {{ node_name }}`"
                        "\n")
    assert pipelines(plan) == [[["kubectl", "describe", "node", "{{ inputs.node_name }}"]]]


def test_do_not_continue_unless_ends_the_run_and_stop_here_if_keeps_its_own_words():
    plan = compile_text("## Fix\n\n1. Check: `kubectl get pods -n db`\n2. Do not continue unless "
                        "the replica is healthy.\n3. Fail over: `kubectl -n db exec pg-0 -- "
                        "patronictl failover --force`\n\n> [!IMPORTANT]\n> Stop here if the "
                        "failover did not finish within 2 minutes, and page the DBA.\n\n"
                        "4. Restart: `kubectl -n web rollout restart deploy/app`\n")
    branches = {e.condition.text: plan.step(e.target) for e in plan.edges
                if e.kind == "branch" and e.condition is not None}
    assert set(branches) == {"Do not continue unless the replica is healthy",
                             "Stop here if the failover did not finish within 2 minutes"}
    assert all(s.kind == StepKind.END and s.outcome == "escalate" for s in branches.values())


def test_it_prints_and_sample_response_announce_output():
    # "It prints:" over an error then a command line in what it printed: the `rm` ran
    plan = compile_text("## Check\n\nRun `df -h /mnt/data`. It prints:\n\n```\n"
                        "df: /mnt/data: No such file or directory\nrm -rf /mnt/data/tmp\n```\n\n"
                        "Sample response:\n\n```\ncurl -s localhost:8080/health\n{\"ok\": false}\n"
                        "```\n\nIf you pushed images you will see a directory called `docker`."
                        "\n\n```\nls /tmp/registry\n```\n")
    assert pipelines(plan) == [[["df", "-h", "/mnt/data"]],
                               [["curl", "-s", "localhost:8080/health"]],
                               [["ls", "/tmp/registry"]]]
    assert ignored_code(plan) == ["sample output"]


def test_a_condition_written_after_its_command_guards_it():
    # "Run `x` if the site still returns 503.": the restart ran whatever the site returned
    plan = compile_text("## Fix\n\n1. Check: `curl -sI localhost`\n2. Run `sudo systemctl "
                        "restart nginx` if the site still returns 503.\n3. Restart the app only "
                        "if the queue is full: `sudo systemctl restart app`\n4. Run `kubectl get "
                        "pods` to see if the pod is ready.\n\nRun `sudo systemctl reload haproxy`"
                        " when the backend list changed.\n")
    assert guards_of(plan, step_running(plan, ["sudo", "systemctl", "restart", "nginx"])) == [
        "if the site still returns 503"]
    assert guards_of(plan, step_running(plan, ["sudo", "systemctl", "restart", "app"])) == [
        "only if the queue is full"]
    assert guards_of(plan, step_running(plan, ["sudo", "systemctl", "reload", "haproxy"])) == [
        "when the backend list changed"]
    assert not any(s.kind == StepKind.DECIDE and "pod is ready" in s.text for s in plan.steps)


def test_a_session_opened_in_a_sentence_is_one_persons_step_not_two():
    # "SSH to the primary with `ssh db-1`, then open `sudo gitlab-psql`": the session's script
    # held both lines, and a second step repeated the sentence for a person to do again
    plan = compile_text("## Fix\n\n1. SSH to the primary with `ssh db-1.example.com`, then "
                        "open `sudo gitlab-psql`.\n2. Run `kubectl get pods`.\n")
    (session,) = [s for s in plan.steps if s.kind == StepKind.MANUAL]
    assert session.params["script"] == "ssh db-1.example.com\nsudo gitlab-psql"
    # a line the session's script does not hold stays in a person's step ("`top -H` or ...")
    plan = compile_text("## Check\n\n1. Inspect: `virtctl console vm1` then `top -H` or "
                        "`pidstat -u 1`\n")
    assert any("top -H" in s.text for s in plan.steps if s.kind == StepKind.MANUAL)
