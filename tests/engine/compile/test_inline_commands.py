"""Inline commands in prose (issue 11): which ones a guide asks to run, which it only mentions.

Rules, each as a guide author would say it:
- the command is the item or the sentence ("* `kubectl get svc`", "1. On all nodes, `x`",
  "Reload patroni: `x`"): run it;
- the clause holding it opens with an imperative ("Restart teleport on the server: `x`",
  "Follow the logs (`journalctl -u x`)", "... and then check the report `x`", "To convert the
  timestamp, use `x`", "You can restart it with `x`"), or a word before it says to run it
  ("by running", "invoke", "with the command"): run it;
- a checklist label with its command in brackets ("- Disk space (`df -hT`)"): run it;
- a mention stays a mention: a question, a negation, an example or a comparison ("commands like
  `git clone`", "such as", "e.g.", "would", "instead of"), a condition still open ("When you use
  `x`"), the command as a thing or a subject ("the `git pack-objects` processes", "`git fsck`
  will ..."), or commands after "Example:" / "run either:";
- two alternatives ("`a` or `b`") are a person's choice.
What runs and would change something waits for an approval; what does not run is kept in a
manual step holding the text, never dropped.
"""

from __future__ import annotations

from engine.compile import compile_guide
from engine.compile.explain import explain, unaccounted
from engine.guide import parse_guide
from engine.plan import Plan, Step, StepKind
from tests.support.compiling import commands_by_argv, step_running


def compile_text(text: str) -> Plan:
    return compile_guide(parse_guide(text, path="guide.md"))


def holding(plan: Plan, command: str) -> list[Step]:
    """Steps that hold the command (a decision's words may quote it: not a step that runs)."""
    return [s for s in plan.steps if s.kind not in (StepKind.END, StepKind.APPROVE,
                                                    StepKind.DECIDE) and
            (command in s.text or command in str(s.params.get("script", "")))]


def runs(plan: Plan, command: str) -> bool:
    return any(s.kind == StepKind.COMMAND and s.text == command for s in plan.steps)


def kept_not_run(plan: Plan, command: str) -> bool:
    found = holding(plan, command)
    return bool(found) and all(s.kind == StepKind.MANUAL for s in found)


def gated(plan: Plan, command: str) -> bool:
    [step] = [s for s in plan.steps if s.kind == StepKind.COMMAND and s.text == command]
    return step.mutating and any(e.source == f"approve-{step.id}" and e.target == step.id
                                 for e in plan.edges)


def test_an_item_that_is_only_a_command_runs():
    plan = compile_text("# T\n\n## Steps\n\n* `kubectl get svc -n monitoring`\n"
                        "* [ ] `kubectl get nodes`\n")
    assert runs(plan, "kubectl get svc -n monitoring")
    assert runs(plan, "kubectl get nodes")


def test_a_command_said_to_be_typed_on_another_machine_is_a_persons_there():
    # "On all nodes, `x`" asks for x on those nodes: run here, it would act on (or report) the
    # machine running the plan, the approver shown the command, not where it lands
    plan = compile_text("# T\n\n## Fix\n\n1. On all nodes, `sudo gitlab-ctl reconfigure`\n"
                        "1. On the consul server `consul leave` - this leaves the cluster\n"
                        "1. From your laptop, `kubectl get nodes`\n")
    assert not runs(plan, "sudo gitlab-ctl reconfigure") and not runs(plan, "consul leave")
    texts = [s.text for s in plan.steps if s.kind == StepKind.MANUAL]
    assert any("sudo gitlab-ctl reconfigure" in t for t in texts)
    assert any("consul leave" in t for t in texts)
    # a place that is yours, or a tool that reaches its target from anywhere, still runs
    assert runs(plan, "kubectl get nodes")


def test_a_command_after_the_colon_that_ends_an_instruction_runs():
    plan = compile_text("# T\n\n## Diagnosis\n\n- Restart teleport on the server: "
                        "`sudo systemctl restart teleport`\n- Get container id from PID: "
                        "`cat /proc/1234/cgroup`\n\nThere, invoke: `sudo gitlab-ctl stop sidekiq`"
                        "\n")
    assert runs(plan, "sudo systemctl restart teleport")
    assert gated(plan, "sudo systemctl restart teleport")
    assert runs(plan, "cat /proc/1234/cgroup")
    assert runs(plan, "sudo gitlab-ctl stop sidekiq")


def test_a_paragraph_that_is_only_a_command_after_a_lead_in_runs():
    plan = compile_text("# T\n\n## Export\n\nThis is completed simply via:\n\n"
                        "`gpg --armor --export ABC123`\n")
    assert runs(plan, "gpg --armor --export ABC123")


def test_an_imperative_clause_runs_its_command_in_brackets_or_after_and_then():
    plan = compile_text("# T\n\n## Steps\n\nFollow the patroni logs (`journalctl -u patroni`). "
                        "It takes hours.\n\nLet that run for 30 seconds and then check the "
                        "report `sudo perf report`\n")
    assert runs(plan, "journalctl -u patroni")
    assert runs(plan, "sudo perf report")


def test_a_purpose_or_a_modal_before_the_imperative_is_set_aside():
    plan = compile_text("# T\n\n## Diagnosis\n\nTo convert the timestamp, use "
                        "`date -d @1561019091`.\n\nYou can restart influxdb with "
                        "`sudo service influxdb restart`.\n")
    assert runs(plan, "date -d @1561019091")
    assert runs(plan, "sudo service influxdb restart")
    assert gated(plan, "sudo service influxdb restart")


def test_by_running_asks_for_the_command():
    plan = compile_text("# T\n\n## Diagnosis\n\nYou can check their health by running a "
                        "`kubectl describe pods -n web`:\n")
    assert runs(plan, "kubectl describe pods -n web")


def test_a_checklist_label_with_its_command_in_brackets_runs():
    plan = compile_text("# T\n\n## Diagnosis\n\nCheck:\n\n- Disk space (`df -hT`). If it is "
                        "full, escalate.\n- Recent logs (`sudo journalctl -n 100`)\n")
    assert runs(plan, "df -hT")
    assert runs(plan, "sudo journalctl -n 100")


def test_a_command_a_condition_still_holds_is_a_mention():
    plan = compile_text("# T\n\n## Notes on it\n\nThe code reloads the network twice when you "
                        "use `systemctl restart firewalld`.\n\nAfter running `perf record -a`, "
                        "you can make a flamegraph.\n")
    assert kept_not_run(plan, "systemctl restart firewalld")
    assert kept_not_run(plan, "perf record -a")


def test_comparisons_examples_and_hypotheses_are_mentions():
    plan = compile_text(
        "# T\n\n## Steps\n\n"
        "Porcelain commands like `git clone` and `git fetch` only output a summary.\n\n"
        "This snippet would guard against `gitlab-ctl reconfigure` being called.\n\n"
        "Instead of running commands such as `less dir1/a` or `rm dir1/a`, prefix them.\n\n"
        "Restart the application (e.g. `sudo gitlab-ctl restart puma`).\n")
    for command in ("git clone", "git fetch", "gitlab-ctl reconfigure", "less dir1/a",
                    "rm dir1/a", "sudo gitlab-ctl restart puma"):
        assert kept_not_run(plan, command), command


def test_a_negation_or_a_question_is_a_mention():
    plan = compile_text("# T\n\n## Diagnosis\n\nAvoid `kubectl delete workflow x`. It leaves "
                        "orphans.\n\n- Can you see the process in `ps aux | grep gitaly`?\n")
    assert kept_not_run(plan, "kubectl delete workflow x")
    assert kept_not_run(plan, "ps aux | grep gitaly")


def test_the_command_as_a_thing_or_a_subject_is_a_mention():
    plan = compile_text(
        "# T\n\n## Fix\n\n"
        "On the node, running `top -b` shows many `git pack-objects` processes.\n\n"
        "To reduce CPU pressure, kill some of the `git pack-objects` processes.\n\n"
        "Specifying `podman run` command-line options fails in a pod.\n\n"
        "`git fsck` will provide you with an outline of the damage.\n")
    for command in ("top -b", "git pack-objects", "podman run", "git fsck"):
        assert kept_not_run(plan, command), command


def test_text_to_replace_is_not_run():
    plan = compile_text("# T\n\n## Fix\n\nReplace `/bin/cat /proc/self/uid_map` with your "
                        "own command.\n")
    assert kept_not_run(plan, "/bin/cat /proc/self/uid_map")


def test_commands_after_example_or_either_are_kept_for_a_person():
    plan = compile_text("# T\n\n## Steps\n\n1. Check the ports. If the machines are pingable, "
                        "run either:\n   - `telnet db-1 26257`\n   - `nc db-1 26257`\n\n"
                        "Example:\n\n* `ceph status`\n* `ceph df`\n")
    for command in ("telnet db-1 26257", "nc db-1 26257", "ceph status", "ceph df"):
        assert kept_not_run(plan, command), command


def test_alternatives_in_a_command_item_are_not_both_run():
    plan = compile_text("# T\n\n## Steps\n\n* `kubectl top pods` or `kubectl get pods -o wide`\n")
    assert kept_not_run(plan, "kubectl top pods")
    assert kept_not_run(plan, "kubectl get pods -o wide")


def test_tools_prose_names_with_arguments_are_commands():
    plan = compile_text("# T\n\n## Diagnosis\n\n* `ceph osd tree`\n\n"
                        "## Fix\n\n- Increase the limit: `sysctl -w vm.max_map_count=262144`\n"
                        "- `dd if=/dev/zero of=/dev/sdb bs=1M` wipes the disk.\n")
    assert runs(plan, "ceph osd tree")
    assert gated(plan, "sysctl -w vm.max_map_count=262144")
    assert kept_not_run(plan, "dd if=/dev/zero of=/dev/sdb bs=1M")


def test_a_span_that_reads_as_words_is_kept_not_run():
    plan = compile_text("# T\n\n## Logs\n\nLook for these messages:\n\n"
                        "- `file write stall detected: %s`\n")
    assert not runs(plan, "file write stall detected: %s")


def test_a_describing_section_runs_only_read_only_inline_commands():
    plan = compile_text("# T\n\n## Overview\n\n- `kubectl get pods -n web`\n"
                        "- `kubectl delete pod web-1 -n web`\n\n## Diagnosis\n\n"
                        "Run `kubectl get nodes`.\n")
    assert runs(plan, "kubectl get pods -n web")
    assert kept_not_run(plan, "kubectl delete pod web-1 -n web")


def test_a_guarded_paragraph_keeps_the_commands_it_only_mentions():
    # The paragraph has a condition, and no one sentence of it runs `systemctl restart foo`:
    # the manual step holding its words still holds the command.
    plan = compile_text("# T\n\n## Fix\n\nRun `kubectl get pods -n web`.\n\n"
                        "The `systemctl restart foo` call is slow. If you do not want to wait, "
                        "delete the pod.\n")
    assert kept_not_run(plan, "systemctl restart foo")


def test_a_command_that_is_the_whole_consequent_of_a_condition_runs_under_it():
    plan = compile_text("# T\n\n## Steps\n\n* `curl -s localhost:9187/metrics`. If it hangs, "
                        "`sv restart postgres_exporter`\n")
    assert runs(plan, "curl -s localhost:9187/metrics")
    [step] = [s for s in plan.steps if s.text == "sv restart postgres_exporter"]
    assert step.kind == StepKind.COMMAND
    decides = {s.id for s in plan.steps if s.kind == StepKind.DECIDE}
    assert any(e.source in decides and e.target in (step.id, f"approve-{step.id}")
               for e in plan.edges)


def test_explain_accounts_for_every_line_of_inline_commands():
    text = ("# T\n\n## Fix\n\n1. Then, `sudo gitlab-ctl reconfigure`\n"
            "1. Tools like `git clone` are fine.\n\nThe `systemctl restart foo` call is slow. "
            "If you do not want to wait, delete the pod.\n")
    guide = parse_guide(text, path="guide.md")
    rows = explain(guide, compile_guide(guide), text)
    assert unaccounted(text, rows) == []
    said = {r.start: r.became for r in rows}
    assert "command" in said[5] and "approve" in said[5]
    assert "manual" in said[6]


def test_a_main_clause_that_asks_after_a_condition_without_a_comma_runs():
    plan = compile_text("# T\n\n## Fix\n\nOnce the settings have been applied you'll need to "
                        "run `sudo chef-client` again.\n\nWhen you run `kubectl get pods "
                        "-n web` it lists the pods.\n")
    assert gated(plan, "sudo chef-client")
    assert kept_not_run(plan, "kubectl get pods -n web")


def test_a_lead_in_s_condition_or_purpose_does_not_make_its_command_a_mention():
    plan = compile_text("# T\n\n## Fix\n\nSessions end at logout. To avoid this, use the "
                        "following command before logging out: `loginctl enable-linger`.\n")
    assert gated(plan, "loginctl enable-linger")


def test_a_phrase_that_is_not_a_place_does_not_make_the_command_the_sentence():
    plan = compile_text("# T\n\n## Trace\n\nIn addition to the normal output of `git clone -q x`"
                        ", we can see several interesting things.\n")
    assert kept_not_run(plan, "git clone -q x")


def test_remember_to_opens_an_instruction():
    plan = compile_text("# T\n\n## Apply\n\nRemember to run the chef-client in all the LBs\n"
                        "`knife ssh -C 1 role:lb 'sudo chef-client'`\n\nDon't forget to check "
                        "the pods: `kubectl get pods -n lb`\n")
    assert gated(plan, "knife ssh -C 1 role:lb 'sudo chef-client'")
    assert runs(plan, "kubectl get pods -n lb")


def test_a_command_with_doubled_spaces_is_judged_by_its_sentence():
    plan = compile_text("# T\n\n## Apply\n\nRun the chef-client on the LBs "
                        "`knife ssh role:lb  'sudo chef-client'`\n")
    assert [s.kind for s in holding(plan, "sudo chef-client")] == [StepKind.COMMAND]


def test_one_command_per_platform_is_a_choice_not_two_steps():
    plan = compile_text("# T\n\n## Fix\n\n* Unmount the volume. Linux: `sudo veracrypt -d "
                        "~/secrets`. macOS: `umount /Volumes/secrets`.\n")
    assert kept_not_run(plan, "sudo veracrypt -d ~/secrets")
    assert kept_not_run(plan, "umount /Volumes/secrets")


def test_a_command_named_before_the_block_that_shows_it_is_not_run_bare():
    plan = compile_text("# T\n\n## Fix\n\nCollect the core dump through `kubectl cp` as "
                        "follows:\n\n```sh\nkubectl cp db-1:/core ./core\n```\n")
    assert not runs(plan, "kubectl cp")
    assert runs(plan, "kubectl cp db-1:/core ./core")


def test_note_that_describes_a_command_it_does_not_run_it():
    plan = compile_text("# T\n\n## Fix\n\nNote that `gitlab-ctl reconfigure` restarts every "
                        "service.\n")
    assert kept_not_run(plan, "gitlab-ctl reconfigure")


def test_waiting_for_a_command_does_not_run_it_again():
    plan = compile_text("# T\n\n## Fix\n\nWait for `gitlab-rake db:migrate` to finish.\n")
    assert kept_not_run(plan, "gitlab-rake db:migrate")


def test_items_after_a_lead_in_that_gives_an_example_are_examples():
    plan = compile_text("# T\n\n## Mitigation\n\n"
                        "Delete the stuck pod in its namespace. For example,\n\n"
                        "* `kubectl -n web delete pod web-0`\n")
    assert not runs(plan, "kubectl -n web delete pod web-0")
    assert any("kubectl -n web delete pod web-0" in (s.params.get("script") or s.text)
               for s in plan.steps if s.kind == StepKind.MANUAL)


def test_run_a_script_the_tables_do_not_know_runs_it_gated():
    # Before: "Run `lag-report.sh ...`" was read as prose ("context for a reader"): a
    # command the guide asks for, lost. A script's file name is a program; unknown, so gated.
    # (kafka-topics.sh --describe, once the example here, is on the read-only list now)
    plan = compile_guide(parse_guide(
        "# T\n\n## Diagnosis\n\nRun `lag-report.sh --bootstrap-server localhost:9092 "
        "--describe`.\n\nPrior to running `deploy.sh --all`, read the notes.\n", path="g.md"),
        known_plugins={"shell", "bash"})
    runs = [s for s in plan.steps if s.kind == StepKind.COMMAND]
    assert [s.params["pipeline"][0][0] for s in runs] == ["lag-report.sh"]
    assert runs[0].mutating and any(s.kind == StepKind.APPROVE for s in plan.steps)


def test_rabbitmq_tools_are_commands_read_or_gated_by_their_subcommand():
    """RabbitMQ's CLI tools in a sentence or an untagged block are commands (they were a
    person's reading): the listing and health checks run, a purge waits for its approval."""
    plan = compile_text(
        "# Backlog\n\n## Diagnosis\n\n1. Check the queues: `rabbitmqctl list_queues name "
        "messages consumers`\n2. Check for alarms:\n\n   ```\n   rabbitmq-diagnostics "
        "check_alarms\n   ```\n\n## Mitigation\n\n1. Purge the poison queue:\n\n   ```\n"
        "   rabbitmqctl purge_queue orders\n   ```\n")
    ran = commands_by_argv(plan)
    assert not ran[("rabbitmqctl", "list_queues", "name", "messages", "consumers")].mutating
    assert not ran[("rabbitmq-diagnostics", "check_alarms")].mutating
    purge = ran[("rabbitmqctl", "purge_queue", "orders")]
    assert purge.mutating and f"approve-{purge.id}" in {s.id for s in plan.steps}


def test_cluster_tools_in_prose_are_commands_read_or_gated_by_their_subcommand():
    """Patroni's, Linkerd's, iSCSI's and CockroachDB's tools in a sentence are commands (they
    were a person's reading): listings and checks run, a failover waits for its approval."""
    plan = compile_text(
        "# Replica lag\n\n## Diagnosis\n\n1. See the cluster: `sudo gitlab-patronictl list`\n"
        "2. Check the mesh: `linkerd check --proxy`\n3. List the iSCSI sessions: "
        "`iscsiadm -m session -P 3`\n4. Node health: `cockroach node status --insecure`\n\n"
        "## Mitigation\n\n1. Fail over: `sudo gitlab-patronictl failover --candidate db-2`\n")
    ran = commands_by_argv(plan)
    for argv in [("sudo", "gitlab-patronictl", "list"), ("linkerd", "check", "--proxy"),
                 ("iscsiadm", "-m", "session", "-P", "3"),
                 ("cockroach", "node", "status", "--insecure")]:
        assert not ran[argv].mutating, argv
    failover = ran[("sudo", "gitlab-patronictl", "failover", "--candidate", "db-2")]
    assert failover.mutating and f"approve-{failover.id}" in {s.id for s in plan.steps}


def test_run_names_a_program_no_table_knows_with_its_arguments() -> None:
    # "Run `rndc retransfer corp.example`.": was context for a reader; the transfer was
    # nowhere in the plan. An unknown program is gated.
    plan = compile_text("# DNS\n\n## Mitigation\n\nRun `rndc retransfer corp.example`.\n\n"
                        "Next, run `berks install` and commit.\n")
    assert gated(plan, "rndc retransfer corp.example")
    assert gated(plan, "berks install")


def test_a_program_no_table_knows_said_in_passing_is_not_run() -> None:
    plan = compile_text("# Vacuum\n\n## Mitigation\n\nRunning `frozen vacuum` on the entire "
                        "database can slow it down. If you run `info replication` on the "
                        "master, you see `role:master`.\n")
    assert not runs(plan, "frozen vacuum") and not runs(plan, "info replication")


def test_an_instruction_before_then_run_is_kept_as_a_persons_step() -> None:
    # "If it fails, try again with the `--retain` option, then run `kubectl get events -A`":
    # only the command was kept, and the retry was nowhere in the plan
    plan = compile_text("# T\n\n## Troubleshooting\n\nIf the cluster fails to create, try again "
                        "with the `--retain` option (preserving the failed container),\nthen run "
                        "`kubectl get events -A` to see the events.\n")
    events = step_running(plan, ["kubectl", "get", "events", "-A"])
    retry = next(s for s in plan.steps if s.title.startswith("try again with the `--retain`"))
    assert retry.kind == StepKind.MANUAL
    guard = next(s.id for s in plan.steps if s.title == "If the cluster fails to create")
    assert [e.target for e in plan.edges if e.source == guard and e.kind == "branch"] == \
        [retry.id]
    assert [e.target for e in plan.edges if e.source == retry.id] == [events]


def test_a_case_that_says_run_an_unknown_program_runs_it_behind_an_approval() -> None:
    # "Rollback: if step 3 fails, run `rabbitmq-queues shrink rabbit@node2`": ignored as a
    # condition with nothing to guard; the rollback was nowhere in the plan
    plan = compile_text("# Queue\n\n## Mitigation\n\n1. Grow: `rabbitmq-queues grow rabbit@n2 "
                        "all`\n\n**Rollback:** if step 1 fails, run `rabbitmq-queues shrink "
                        "rabbit@n2` and restart the consumers.\n")
    assert gated(plan, "rabbitmq-queues shrink rabbit@n2")
