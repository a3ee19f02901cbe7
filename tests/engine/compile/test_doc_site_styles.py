"""Guide styles neither corpus has, written the way documentation sites and wikis write them
(tests/fixtures/styles): MkDocs and Docusaurus admonitions, `<details>` blocks, "Only if"
guards, fences indented under lettered sub-steps, and output that itself reads as commands."""

from __future__ import annotations

import pytest

from engine.compile.explain import explain, unaccounted
from engine.guide import parse_guide
from engine.plan import StepKind
from tests.support.compiling import STYLES as FIXTURES
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

# -- output that reads as commands -------------------------------------------------------------


def test_a_listing_announced_as_output_never_runs_even_when_every_line_is_a_command():
    # "The output looks like this:" over a script's text: what `cat` printed, not steps
    plan = compile_text("## Diagnose\n\nShow the cleanup script:\n\n```\n"
                        "cat /usr/local/bin/cleanup.sh\n```\n\nThe output looks like this:\n\n"
                        "```\n#!/bin/bash\nrm -rf /var/cache/app/*\nsystemctl restart app\n```\n\n"
                        "Show it again with `cat /etc/cron.d/cleanup`. Example output:\n\n"
                        "```\nfind /var/log -mtime +7 -delete\n```\n")
    assert pipelines(plan) == [[["cat", "/usr/local/bin/cleanup.sh"]],
                               [["cat", "/etc/cron.d/cleanup"]]]
    assert {i.reason for i in plan.ignored if i.kind == "code"} == {"sample output"}


def test_an_output_block_that_opens_with_its_command_still_runs_that_command():
    plan = compile_text("Output:\n\n```\ngitlab-patronictl list\n+--------+--------+\n"
                        "| Member | Role   |\n+--------+--------+\n```\n")
    assert pipelines(plan) == [[["gitlab-patronictl", "list"]]]


def test_a_details_block_whose_summary_says_output_holds_output():
    plan = compile_text("## Clean up\n\n<details>\n<summary>Example output of du</summary>\n\n"
                        "```\n12G\t/var/lib/docker/overlay2\n"
                        "rm -rf /var/lib/docker/overlay2\n```\n\n"
                        "</details>\n\n<details><summary>Prune images</summary>\n\n```\n"
                        "docker image prune -f\n```\n</details>\n")
    assert pipelines(plan) == [[["docker", "image", "prune", "-f"]]]
    assert [i.reason for i in plan.ignored if i.kind == "code"] == ["sample output"]


# -- guards ------------------------------------------------------------------------------------


def test_only_if_and_only_when_guard_what_they_say():
    plan = compile_text("## Fix\n\n1. Restart the app: `sudo systemctl restart app`\n"
                        "2. Only if the app still fails to start, clear its cache:\n\n"
                        "   ```bash\n   sudo rm -rf /var/cache/app\n   ```\n\n"
                        "3. Only when running on the old cluster, reload HAProxy: "
                        "`sudo systemctl reload haproxy`\n")
    clear = step_running(plan, ["sudo", "rm", "-rf", "/var/cache/app"])
    reload_ = step_running(plan, ["sudo", "systemctl", "reload", "haproxy"])
    assert guards_of(plan, clear) == ["Only if the app still fails to start"]
    assert guards_of(plan, reload_) == ["Only when running on the old cluster"]
    assert gated(plan, clear) and gated(plan, reload_)


def test_a_bold_note_label_before_only_when_keeps_the_guard():
    plan = compile_file("tasklist-admonitions.md")
    reload_ = step_running(plan, ["sudo", "systemctl", "reload", "haproxy"])
    assert guards_of(plan, reload_) == ["Only when running on the old cluster"]
    assert gated(plan, reload_)
    # The prohibition is never run, the ticked box is recorded as done by someone else
    assert not any("FLUSHALL" in str(s.params) for s in runs(plan))
    assert any(i.text.startswith("[x] Request a new certificate") for i in plan.ignored)


def test_a_docusaurus_admonition_keeps_the_guard_its_body_opens_with():
    plan = compile_text(":::warning\nIf the agent is busy, stop it first: "
                        "`sudo systemctl stop agent`\n:::\n\n:::tip Clear the cache\n"
                        "```bash\ndocker builder prune -f\n```\n:::\n")
    stop = step_running(plan, ["sudo", "systemctl", "stop", "agent"])
    assert guards_of(plan, stop) == ["If the agent is busy"]
    prune = step_running(plan, ["docker", "builder", "prune", "-f"])
    assert gated(plan, prune) and gated(plan, stop)


def test_a_mkdocs_admonition_body_is_the_guides_words_not_a_code_block():
    # Indented four spaces under `!!! warning`, CommonMark alone reads the body as code: the
    # guard was dropped as "sample output" and the command under it ran unguarded.
    plan = compile_text("## Fix\n\n1. Stop it: `sudo systemctl stop x`\n\n!!! warning\n\n"
                        "    If the replica is lagging, run `redis-cli -h replica info "
                        "replication` and wait.\n\n2. Start it: `sudo systemctl start x`\n")
    check = step_running(plan, ["redis-cli", "-h", "replica", "info", "replication"])
    assert guards_of(plan, check) == ["If the replica is lagging"]
    assert not [i for i in plan.ignored if i.kind == "code"]


def test_a_mkdocs_page_keeps_its_admonition_guard_and_never_runs_its_sample_output():
    plan = compile_file("tabs-details.md")
    stop = step_running(plan, ["gitlab-runner", "stop"])
    assert guards_of(plan, stop) == ["If a job is still running on the agent"]
    assert not any(s.params.get("pipeline") == [["rm", "-rf", "/var/lib/docker/overlay2"]]
                   for s in runs(plan))
    busy = step_running(plan, ["docker", "ps", "--filter", "label=ci-job"])
    assert guards_of(plan, busy) == ["If the agent is still running a job"]


# -- fences ------------------------------------------------------------------------------------


def test_a_fence_indented_under_a_lettered_sub_step_is_still_a_tagged_block():
    # "b." is no list marker: the fence six spaces in is an indented block holding the fence
    plan = compile_text("**Step 2:** Stop the consumers.\n\n   b. Wait until no member is left:\n\n"
                        "      ```bash\n      kafka-consumer-groups.sh --bootstrap-server "
                        "kafka:9092 --describe --group orders --members\n      ```\n")
    assert pipelines(plan) == [[["kafka-consumer-groups.sh", "--bootstrap-server", "kafka:9092",
                                 "--describe", "--group", "orders", "--members"]]]
    assert not plan.ignored


def test_a_lettered_step_guide_keeps_every_command():
    plan = compile_file("bold-step-lettered.md")
    assert len(runs(plan)) == 6 and not [i for i in plan.ignored if i.kind == "code"]


def test_a_condition_written_as_a_label_guards_the_steps_under_it():
    # "**When the unit is masked**" on its own line, or an admonition titled with it: the
    # unmask runs only when the unit is masked (it ran whatever the answer)
    for text in ("## Fix\n\n1. Stop it: `sudo systemctl stop x`\n\n**When the unit is masked**\n\n"
                 "Unmask it first:\n\n```bash\nsudo systemctl unmask x\n```\n",
                 "## Fix\n\n1. Stop it: `sudo systemctl stop x`\n\n"
                 "    !!! note \"When the unit is masked\"\n        Unmask it first:\n\n"
                 "        ```bash\n        sudo systemctl unmask x\n        ```\n\n"
                 "2. Start it: `sudo systemctl start x`\n"):
        plan = compile_text(text)
        unmask = step_running(plan, ["sudo", "systemctl", "unmask", "x"])
        assert guards_of(plan, unmask) == ["When the unit is masked"], text
        assert gated(plan, unmask)
        assert not any(s.kind == StepKind.MANUAL for s in plan.steps)


def test_every_style_guide_compiles_with_each_change_gated_and_each_line_accounted_for():
    for path in sorted(FIXTURES.glob("*.md")):
        text = path.read_text()
        plan = compile_file(path.name)
        assert all(gated(plan, s.id) for s in runs(plan) if s.mutating), path.name
        assert not unaccounted(text, explain(parse_guide(text, path=str(path)), plan, text))


# -- Windows command lines ---------------------------------------------------------------------


def test_an_untagged_block_of_windows_command_lines_is_a_persons_step_not_output():
    plan = compile_text("## Fix\n\nStop IIS:\n\n```\nnet stop w3svc\ntaskkill /F /IM w3wp.exe\n"
                        "reg add HKLM\\SOFTWARE\\Shop /v Debug /t REG_DWORD /d 1 /f\n```\n")
    assert runs(plan) == [] and not plan.ignored
    (script,) = manual_scripts(plan)
    assert "net stop w3svc" in script and "reg add" in script


def test_a_cmdlet_or_windows_command_in_a_shell_block_or_a_sentence_is_shown_never_dropped():
    plan = compile_text("## Fix\n\n```bash\nRestart-Service -Name W3SVC\nkubectl get pods\n```\n\n"
                        "Run `Get-Service W3SVC` then `iisreset /restart`.\n")
    assert pipelines(plan) == [[["kubectl", "get", "pods"]]]
    shown = [s for s in plan.steps if s.kind == StepKind.MANUAL]
    assert any("Restart-Service -Name W3SVC" in str(s.params.get("script")) for s in shown)
    assert any("Get-Service W3SVC" in s.text and "iisreset" in s.text for s in shown)


# -- commands the guide says to type on another machine ----------------------------------------


def test_a_block_the_guide_says_to_run_on_another_machine_is_a_persons_step_there():
    plan = compile_text("## Fix\n\nOn the database host, run:\n\n```bash\n"
                        "sudo systemctl restart postgresql\n```\n\nLog in to the worker node and "
                        "check the kubelet:\n\n```\n$ systemctl status kubelet\n```\n\n"
                        "From your laptop, run:\n\n```bash\nkubectl get pods -A\n```\n\n"
                        "On each broker, list the partitions:\n\n```bash\nkubectl -n kafka get "
                        "pods\n```\n\nSSH into the node:\n\n```bash\nssh node-1\n"
                        "sudo systemctl restart kubelet\n```\n")
    # Only what reaches its machine itself runs: kubectl from anywhere, ssh to the node
    assert pipelines(plan) == [[["kubectl", "get", "pods", "-A"]], [["kubectl", "-n", "kafka",
                                                                     "get", "pods"]],
                               [["ssh", "node-1", "--", "sudo systemctl restart kubelet"]]]
    assert manual_scripts(plan) == ["sudo systemctl restart postgresql",
                                    "systemctl status kubelet"]


@pytest.mark.parametrize("words", ["Login to the sentry.gitlab.net, and check the processes:",
                                   "SSH to `db-2.prod.internal` and run:",
                                   "Log in to web1.example.com:"])
def test_a_machine_named_by_its_address_is_another_machine(words: str):
    # "Login to the sentry.gitlab.net, and check that the processes are running:" over `sudo
    # supervisorctl status`: the check ran on the machine running the plan, and its answer
    # (about some other host's processes) was the run's evidence
    plan = compile_text(f"## Checks\n\n{words}\n\n```\nsudo supervisorctl status\n```\n")
    assert pipelines(plan) == []
    assert manual_scripts(plan) == ["sudo supervisorctl status"]
    # a thing to log in to that is no address is not a machine
    plan = compile_text("## Checks\n\nLog in to the dashboard and check the processes:\n\n"
                        "```\nsudo supervisorctl status\n```\n")
    assert pipelines(plan) == [[["sudo", "supervisorctl", "status"]]]



def test_a_rollback_section_runs_only_when_a_person_decides_to_roll_back():
    # Read as the procedure's next steps, the plan undid the deploy it had just made
    for heading in ("## Rollback", "### Roll back the change", "## Backout plan"):
        plan = compile_text("# Deploy hotfix\n\n## Procedure\n\n1. Deploy: `./deploy.sh 2.4.1`\n"
                            "2. Check: `curl -s localhost/health`\n\n"
                            f"{heading}\n\n1. Purge the CDN: `./scripts/purge.sh --all`\n")
        purge = step_running(plan, ["./scripts/purge.sh", "--all"])
        assert guards_of(plan, purge) == [heading.lstrip("# ")], heading
        assert gated(plan, purge)
    plan = compile_file("ansible-make-rollback.md")
    redeploy = step_running(plan, ["make", "deploy", "ENV=prod", "VERSION=2.4.0"])
    assert guards_of(plan, redeploy) == ["If the smoke test fails"]
    (decide,) = [s for s in plan.steps if s.kind == StepKind.DECIDE and s.text == "Rollback"]
    assert any(e.target == decide.id for e in plan.edges)


def test_run_before_a_program_with_options_runs_it_even_when_no_table_knows_it():
    # "Run `crontab -l -u app`." was context for a reader: the asked-for check was lost
    plan = compile_text("## Check the cron job\n\nRun `crontab -l -u app`.\n\n**Output:**\n\n"
                        "```\nsystemctl restart app\n```\n")
    assert pipelines(plan) == [[["crontab", "-l", "-u", "app"]]]
    assert [i.reason for i in plan.ignored if i.kind == "code"] == ["sample output"]


def test_content_tabs_are_alternatives_a_person_chooses_not_steps_in_a_row():
    # MkDocs `=== "Linux"` tabs and Docusaurus <TabItem>s: both ran, one after the other
    plan = compile_file("tabs-details.md")
    assert guards_of(plan, step_running(plan, ["df", "-h", "/var/lib/docker"])) == ["Linux"]
    assert guards_of(plan, step_running(plan, ["df", "-h", "/"])) == ["macOS"]
    plan = compile_text("## Fix\n\n<Tabs>\n<TabItem value=\"helm\" label=\"Helm\">\n\n```bash\n"
                        "helm upgrade app ./chart --set replicas=3\n```\n\n</TabItem>\n"
                        "<TabItem value=\"kubectl\">\n\n```bash\nkubectl scale deploy/app "
                        "--replicas=3\n```\n\n</TabItem>\n</Tabs>\n\nThen check `kubectl get "
                        "pods`.\n")
    helm = step_running(plan, ["helm", "upgrade", "app", "./chart", "--set", "replicas=3"])
    scale = step_running(plan, ["kubectl", "scale", "deploy/app", "--replicas=3"])
    assert guards_of(plan, helm) == ["Helm"] and guards_of(plan, scale) == ["kubectl"]
    assert gated(plan, helm) and gated(plan, scale)
    assert guards_of(plan, step_running(plan, ["kubectl", "get", "pods"])) != ["kubectl"]


def test_a_jump_to_a_bold_step_label_resolves_instead_of_failing_the_guide():
    # Notebook style: "**Step 3:**" paragraphs. "skip to Step 3" failed the whole compile
    # ("jump to step 3, but this list has 0 steps")
    plan = compile_text("# T\n\n**Step 1:** Check the pods: `kubectl get pods -n web`\n\n"
                        "If all pods are Running, skip to Step 3.\n\n**Step 2:** Restart: "
                        "`kubectl rollout restart deploy/web -n web`\n\n**Step 3:** Check the "
                        "endpoint: `curl -s https://web.example.com/health`\n")
    check = step_running(plan, ["curl", "-s", "https://web.example.com/health"])
    restart = step_running(plan, ["kubectl", "rollout", "restart", "deploy/web", "-n", "web"])
    (jump,) = [e for e in plan.edges if e.kind == "jump"]
    assert jump.target == check and jump.condition is not None
    assert jump.condition.text == "If all pods are Running"
    assert gated(plan, restart)


def test_step_n_under_a_bullet_list_is_the_step_n_heading_not_the_nth_bullet():
    # The second bullet itself was taken for "step 2": the guide failed as a loop
    plan = compile_text("# T\n\n## Fix\n\n- Check: `kubectl get pods`\n- If pods are pending, "
                        "continue with step 2.\n- Otherwise restart: `kubectl rollout restart "
                        "deploy/x`\n\n## Step 2\n\n`kubectl get svc`\n")
    (jump,) = [e for e in plan.edges if e.kind == "jump"]
    assert jump.target == step_running(plan, ["kubectl", "get", "svc"])


def test_a_details_block_whose_summary_is_a_condition_guards_everything_in_it():
    plan = compile_text("## Fix\n\n<details><summary>Only if the pod is stuck</summary>\n\n"
                        "Force the deletion:\n\n`kubectl delete pod x --force`\n\n```bash\n"
                        "kubectl delete pvc data-x\n```\n</details>\n\nThen run `kubectl get "
                        "pods`.\n\n<Tabs>\n<TabItem value=\"helm\" label=\"Helm\">\n\n```bash\n"
                        "helm rollback app\n```\n\n</TabItem>\n<TabItem value=\"kubectl\">\n\n"
                        "```bash\nkubectl rollout undo deploy/app\n```\n\n</TabItem>\n</Tabs>\n")
    for argv in (["kubectl", "delete", "pod", "x", "--force"],
                 ["kubectl", "delete", "pvc", "data-x"]):
        step = step_running(plan, argv)
        assert gated(plan, step)
    assert guards_of(plan, step_running(plan, ["kubectl", "delete", "pod", "x", "--force"])) \
        == ["Only if the pod is stuck"]
    # the pvc deletion is in the same branch: it follows the pod's, and only it
    pvc = f"approve-{step_running(plan, ['kubectl', 'delete', 'pvc', 'data-x'])}"
    assert [e.source for _, e in plan.incoming(pvc) if e.on == "success"] == [
        step_running(plan, ["kubectl", "delete", "pod", "x", "--force"])]
    undo = step_running(plan, ["kubectl", "rollout", "undo", "deploy/app"])
    assert guards_of(plan, undo) == ["kubectl"]


def test_a_prompt_behind_a_virtualenv_or_conda_name_is_still_a_prompt():
    # "(venv) ops@bastion:~$ cmd" read as output: the command was lost without a record
    plan = compile_text("## Check\n\n```console\n(venv) ops@bastion:~$ ansible-playbook -i prod "
                        "site.yml --check\nPLAY [all] ****\nok: [web-1]\n(base) $ conda list\n"
                        "# packages in environment\n```\n")
    assert pipelines(plan) == [[["ansible-playbook", "-i", "prod", "site.yml", "--check"]],
                               [["conda", "list"]]]


def test_a_symptom_table_runs_its_read_only_checks_then_decides_on_its_rows():
    # "| Symptom | Check | Action |": the checks were a person's, like the actions; then the
    # actions were only the words of a person's step holding the table. Now the checks run
    # first, and each row's action is that symptom's, behind its approval
    plan = compile_file("sre-symptom-table.md")
    ran = pipelines(plan)
    assert [["kubectl", "-n", "checkout", "get", "pods", "-o", "wide"]] in ran
    assert [["kubectl", "-n", "checkout", "top", "pods"]] in ran
    cordon = step_running(plan, ["kubectl", "cordon", "-l",
                                 "topology.kubernetes.io/zone=us-east1-b"])
    assert gated(plan, cordon)
    assert guards_of(plan, cordon) == ["Latency high in one zone only"]
    pooler = step_running(plan, ["kubectl", "-n", "checkout", "rollout", "restart",
                                 "deploy/pgbouncer"])
    assert guards_of(plan, pooler) == ["Errors from the database"]
    assert not [s for s in plan.steps if s.kind == StepKind.MANUAL and
                s.text.startswith("Symptom")]


def test_statements_typed_into_a_console_an_untagged_block_opens_are_kept():
    # `sudo -u postgres psql` then `SELECT ...;`: the statement was dropped as prose, and
    # a person was shown only the console's opener and `exit`
    plan = compile_text("## Check\n\n```\nsudo -u postgres psql\n"
                        "SELECT slot_name FROM pg_replication_slots;\n\\q\n```\n")
    assert pipelines(plan) == [[["sudo", "-u", "postgres", "psql", "-c",
                                 "SELECT slot_name FROM pg_replication_slots;"]]]
    plan = compile_file("heredoc-sessions.md")
    (primary,) = [s for s in manual_scripts(plan) if "db-primary" in s]
    assert "SELECT slot_name, active, restart_lsn FROM pg_replication_slots;" in primary
    plan = compile_text("## Fix\n\n```\nsudo gitlab-psql\n"
                        "DELETE FROM ci_builds WHERE id = 5;\n```\n")
    (delete,) = runs(plan)
    assert delete.mutating and gated(plan, delete.id)
