"""Guide styles the earlier style passes had no test for: a terminal pasted from oh-my-zsh
(`➜  ~ docker ...`), programs a person types a protocol or a console's language into with no
prompt shown (`telnet cache-1 11211` then `stats`, `mongosh URI` then `rs.stepDown(60)`,
`zkCli.sh -server X` then `deleteall ...`, `mysql -u root -p` then `KILL 42;`), a Rails console
opened on a host reached over ssh, a block "from your laptop" after one, and a cloud CLI's
shell opened after `sudo su - postgres`."""

from __future__ import annotations

from engine.compile.explain import explain, unaccounted
from engine.guide import parse_guide
from engine.plan import StepKind
from tests.support.compiling import (
    compile_text,
    gated,
    guards_of,
    manual_scripts,
    runs,
    step_running,
)

# -- oh-my-zsh's prompt ------------------------------------------------------------------------

ZSH = ("# Build agent disk full\n\nCheck usage:\n\n```shell\n❯ df -h /var/lib/docker\n"
       "Filesystem      Size  Used Avail Use% Mounted on\n"
       "/dev/nvme1n1    200G  196G  4.0G  98% /var/lib/docker\n```\n\n"
       "If use is above 90%:\n\n```shell\n➜  ~ docker system prune -af\n"
       "➜  agent git:(main) ✗ sudo systemctl restart buildkite-agent\n```\n")


def test_an_oh_my_zsh_prompts_directory_is_not_the_command():
    # `➜  ~ docker system prune -af` ran `~ docker system prune -af` in bash: "~: Is a
    # directory", the clean-up never happened (and `agent git:(main) ✗` likewise)
    plan = compile_text(ZSH)
    prune = step_running(plan, ["docker", "system", "prune", "-af"])
    restart = step_running(plan, ["sudo", "systemctl", "restart", "buildkite-agent"])
    assert guards_of(plan, prune) == ["If use is above 90%"]
    assert gated(plan, prune) and gated(plan, restart)
    assert not [s for s in runs(plan) if "script" in s.params]


def test_an_arrow_before_a_command_is_still_only_a_prompt():
    plan = compile_text("## Check\n\n```shell\n➜ kubectl -n web get pods\n```\n")
    step_running(plan, ["kubectl", "-n", "web", "get", "pods"])


# -- lines typed into a program the block started ------------------------------------------

MEMCACHED = ("# Memcached evictions\n\n## Mitigation\n\nFlush the cache by hand:\n\n"
             "```bash\ntelnet cache-1 11211\nstats\nflush_all\nquit\n```\n\n"
             "Check the port answers: `nc -zv cache-1 11211`\n")


def test_lines_typed_into_a_telnet_session_are_a_persons_step_with_the_connection():
    # `stats` and `flush_all` were read as prose and dropped: the person's step said only
    # `telnet cache-1 11211`, and the flush was lost
    text = MEMCACHED
    plan = compile_text(text)
    assert "telnet cache-1 11211\nstats\nflush_all\nquit" in manual_scripts(plan)
    step_running(plan, ["nc", "-zv", "cache-1", "11211"])  # a probe, no session
    assert not unaccounted(text, explain(parse_guide(text, path="guide.md"), plan, text))


def test_a_tls_handshake_typed_into_s_client_is_not_run_half():
    # `openssl s_client` ran on its own (reading nothing) and `EHLO`/`QUIT` were dropped
    plan = compile_text("## Check SMTP\n\n```\nopenssl s_client -connect mail:465 -quiet\n"
                        "EHLO probe.example.com\nQUIT\n```\n")
    assert not runs(plan)
    assert manual_scripts(plan) == ["openssl s_client -connect mail:465 -quiet\n"
                                    "EHLO probe.example.com\nQUIT"]


def test_a_console_without_prompts_holds_its_lines_and_ends_with_its_block():
    # `rs.stepDown(60)` was dropped, and the next block's `zkCli.sh` and `ls /brokers/ids`
    # were typed into mongosh's session (`deleteall` dropped); `ls` ran here after the fix of
    # the first half, on the operator's own disk
    plan = compile_text("# Mongo primary\n\n## Fix\n\nStep the primary down:\n\n"
                        "```bash\nmongosh mongodb://db-1:27017\nrs.status()\nrs.stepDown(60)\n"
                        "```\n\nDrop the stale broker id:\n\n"
                        "```\nzkCli.sh -server zk-1:2181\nls /brokers/ids\n"
                        "deleteall /brokers/ids/3\n```\n\n"
                        "Restart the API so it reconnects:\n\n```bash\n"
                        "sudo systemctl restart api\n```\n")
    assert manual_scripts(plan) == [
        "mongosh mongodb://db-1:27017\nrs.status()\nrs.stepDown(60)",
        "zkCli.sh -server zk-1:2181\nls /brokers/ids\ndeleteall /brokers/ids/3"]
    assert [s.params["pipeline"] for s in runs(plan)] == [
        [["sudo", "systemctl", "restart", "api"]]]


def test_a_zookeeper_shell_given_its_command_runs_it():
    plan = compile_text("## Check\n\n```bash\nzookeeper-shell zk-1:2181 ls /brokers/ids\n```\n")
    step_running(plan, ["zookeeper-shell", "zk-1:2181", "ls", "/brokers/ids"])


def test_a_console_that_asks_for_a_password_keeps_every_statement():
    # `KILL 42;` (no SELECT/SHOW shape) was dropped from the person's step
    plan = compile_text("# MySQL\n\n## Fix\n\n```bash\nmysql -u root -p\nSHOW PROCESSLIST;\n"
                        "KILL 42;\n```\n\nThen restart the app:\n\n```bash\n"
                        "sudo systemctl restart app\n```\n")
    assert manual_scripts(plan) == ["mysql -u root -p\nSHOW PROCESSLIST;\nKILL 42;"]
    restart = step_running(plan, ["sudo", "systemctl", "restart", "app"])
    assert gated(plan, restart)


# -- a console opened on a host reached over ssh, then back on the laptop --------------------

RAILS = ("# Stuck Sidekiq jobs\n\n## Mitigation\n\nOpen a Rails console on a worker host:\n\n"
         "```\n$ ssh deploy@worker-3\n"
         "deploy@worker-3:~$ cd /srv/app/current && bundle exec rails c -e production\n"
         "irb(main):001:0> Sidekiq::Queue.new(\"mailers\").size\n=> 48213\n"
         "irb(main):002:0> Sidekiq::Queue.new(\"mailers\").clear\n```\n\n"
         "Then check from your laptop:\n\n```bash\ncurl -s https://app.example.com/health\n"
         "```\n")


def test_a_console_opened_in_an_ssh_session_is_typed_there_in_order():
    # the `rails c` line was a step of its own after the console's lines, and on this machine
    plan = compile_text(RAILS)
    (console,) = [s for s in manual_scripts(plan) if "rails c" in s]
    assert console.split("\n") == [
        "ssh deploy@worker-3", "cd /srv/app/current && bundle exec rails c -e production",
        'Sidekiq::Queue.new("mailers").size', 'Sidekiq::Queue.new("mailers").clear']


def test_a_block_from_your_laptop_runs_here_not_in_the_session_before_it():
    # the health check was a person's step "ssh deploy@worker-3 / curl ..."
    plan = compile_text(RAILS)
    check = step_running(plan, ["curl", "-s", "https://app.example.com/health"])
    assert not gated(plan, check)
    assert len(manual_scripts(plan)) == 1


def test_a_block_on_the_host_still_runs_in_the_session():
    plan = compile_text("## Fix\n\n```bash\nssh web-1\n```\n\nThen restart it:\n\n```bash\n"
                        "sudo systemctl restart nginx\n```\n")
    step_running(plan, ["ssh", "web-1", "--", "sudo systemctl restart nginx"])


# -- a cloud CLI's shell after another session -------------------------------------------------


def test_a_cloud_shell_opened_after_sudo_su_is_its_own_session():
    # `gcloud compute ssh` (and the SSM session after it) were nested in `sudo su - postgres`:
    # the person's steps told them to open every earlier session first
    plan = compile_text("# Sessions\n\n## Fix\n\nBecome postgres:\n\n```bash\n"
                        "sudo su - postgres\npg_ctl status -D /var/lib/pgsql/data\n```\n\n"
                        "Get on the VM:\n\n```bash\ngcloud compute ssh web-1 --zone "
                        "europe-west1-b\nsudo systemctl restart nginx\n```\n\n"
                        "Open an SSM session:\n\n```bash\naws ssm start-session --target "
                        "i-0abc123\nsudo systemctl restart amazon-cloudwatch-agent\n```\n")
    step_running(plan, ["sudo", "-u", "postgres", "pg_ctl", "status", "-D",
                        "/var/lib/pgsql/data"])
    assert manual_scripts(plan) == [
        "gcloud compute ssh web-1 --zone europe-west1-b\nsudo systemctl restart nginx",
        "aws ssm start-session --target i-0abc123\n"
        "sudo systemctl restart amazon-cloudwatch-agent"]
    assert not [s for s in plan.steps if s.kind == StepKind.COMMAND and
                "nginx" in str(s.params)]


def test_a_console_opened_after_sudo_i_is_still_typed_in_it():
    plan = compile_text("## Fix\n\n```bash\nsudo -i\nmongosh\nrs.status()\n```\n")
    assert manual_scripts(plan) == ["sudo -i\nmongosh\nrs.status()"]


# -- escalation in Spanish, Portuguese, Italian ------------------------------------------------

SPANISH = ("---\ntitulo: Cola de pedidos\n---\n\n# Cola de pedidos atascada\n\n## Diagnóstico\n\n"
           "Ejecuta: `kubectl -n tienda get pods -l app=pedidos`\n\n## Mitigación\n\n"
           "Si algún pod está en `CrashLoopBackOff`, reinícialo:\n\n```bash\n"
           "kubectl -n tienda rollout restart deploy/pedidos\n```\n\n"
           "En caso contrario, escala al equipo de plataforma.\n")


def _escalations(plan) -> list:
    return [s for s in plan.steps if s.kind == StepKind.END and s.outcome is not None and
            s.outcome.value == "escalate" and s.title != "Escalate to a person"]


def test_a_spanish_otherwise_escalation_ends_the_run_escalated():
    # "escala al equipo de plataforma" was a person's step, and the run then ended `resolved`
    plan = compile_text(SPANISH)
    (esc,) = _escalations(plan)
    assert guards_of(plan, esc.id) == ["En caso contrario"]
    assert not [s for s in plan.steps if s.kind == StepKind.MANUAL]


def test_portuguese_and_italian_escalations_to_a_team_end_the_run():
    for said in ("Se o problema continuar, escale para a equipe de banco de dados.",
                 "Se il problema persiste, scalare al team di piattaforma.",
                 "Si nada de esto funciona, escalar a la guardia de SRE."):
        plan = compile_text("## Fix\n\n```bash\nsudo systemctl restart app\n```\n\n" + said + "\n")
        assert len(_escalations(plan)) == 1, said


def test_scaling_in_spanish_is_not_an_escalation():
    plan = compile_text("## Mitigación\n\nEscala el deployment a 5 réplicas: "
                        "`kubectl -n tienda scale deploy/pedidos --replicas=5`\n")
    scale = step_running(plan, ["kubectl", "-n", "tienda", "scale", "deploy/pedidos",
                                "--replicas=5"])
    assert gated(plan, scale) and not _escalations(plan)


# -- a robot cell's recovery playbook ----------------------------------------------------------

CELL = ("# Cell 4 pick failure\n\n## Recovery\n\n"
        "1. Read the gripper state: `robotctl cell4 gripper status`\n"
        "2. If the gripper reports a jam, abort the cycle and retry the pick:\n"
        "   - `robotctl cell4 cycle abort`\n"
        "   - `robotctl cell4 pick retry --slot 12`\n"
        "3. Otherwise restart the cell's agent with `sudo systemctl restart cell4-agent`\n")


def test_commands_listed_under_an_instruction_are_its_steps_whatever_the_tool():
    # the two sub-items were neither run nor in any step: the cell's tool is not a known one,
    # and a bare code item was taken for a name
    plan = compile_text(CELL)
    abort = step_running(plan, ["robotctl", "cell4", "cycle", "abort"])
    retry = step_running(plan, ["robotctl", "cell4", "pick", "retry", "--slot", "12"])
    assert guards_of(plan, abort) == ["If the gripper reports a jam"]
    assert gated(plan, abort) and gated(plan, retry)
    assert [e.target for e in plan.edges if e.source == abort and e.on == "success"] == \
        [f"approve-{retry}"]


def test_an_otherwise_without_a_comma_runs_the_command_it_asks_for():
    # "Otherwise restart the cell's agent with `x`": the "otherwise" hid the instruction, so
    # the item was a person's step with no script, and the restart never ran
    plan = compile_text(CELL)
    resume = step_running(plan, ["sudo", "systemctl", "restart", "cell4-agent"])
    (decide,) = [s.id for s in plan.steps if s.kind == StepKind.DECIDE]
    assert [e.source for e in plan.edges if e.target == f"approve-{resume}"] == [decide]
    assert gated(plan, resume)
    assert not [s for s in plan.steps if s.kind == StepKind.MANUAL]


def test_an_otherwise_sentence_about_a_command_still_does_not_run_it():
    plan = compile_text("## Fix\n\nIf the lock is stale, remove it: `rm /var/lock/app.lock`\n\n"
                        "Otherwise `app --check` would report the lock as held.\n")
    assert [s.params["pipeline"] for s in runs(plan)] == [[["rm", "/var/lock/app.lock"]]]


def test_codes_listed_under_a_label_are_not_commands():
    plan = compile_text("## Diagnosis\n\nCommon errors in the log:\n\n"
                        "- `connection reset by peer`\n- `upstream timed out`\n")
    assert not runs(plan)


# -- macOS zsh's `user@host dir %` prompt ------------------------------------------------------

BASTION = ("# Node pressure\n\n## Fix\n\n```console\nadmin@bastion ~ % ssh node-7\n"
           "[admin@node-7 ~]$ sudo crictl ps -a | grep Exited\n"
           "[admin@node-7 ~]$ sudo crictl rmp -a\n[admin@node-7 ~]$ exit\n"
           "admin@bastion ops % kubectl uncordon node-7\n```\n")


def test_a_zsh_prompt_with_its_directory_is_a_prompt_and_the_session_is_kept():
    # `ssh node-7` and `kubectl uncordon` were read as output, so crictl ran on the bastion
    plan = compile_text(BASTION)
    ps = step_running(plan, ["ssh", "node-7", "--", "sudo crictl ps -a | grep Exited"])
    rmp = step_running(plan, ["ssh", "node-7", "--", "sudo crictl rmp -a"])
    uncordon = step_running(plan, ["kubectl", "uncordon", "node-7"])
    assert not gated(plan, ps) and gated(plan, rmp) and gated(plan, uncordon)
    assert not [s for s in runs(plan) if s.params["pipeline"][0][0] == "sudo"]


# -- a notebook exported to Markdown -----------------------------------------------------------

NOTEBOOK = ("# Slow queries\n\nIn [1]:\n\n```python\n!kubectl -n db get pods\n```\n\n"
            "In [2]:\n\n```python\n%%bash\npsql -h db-1 -c \"select pid, query from "
            "pg_stat_activity where state <> 'idle'\"\n```\n\n"
            "If a query has been running for over an hour, cancel it:\n\n```python\n"
            "!psql -h db-1 -c \"select pg_cancel_backend(4242)\"\n```\n")


def test_a_notebooks_shell_cells_run_as_shell_lines():
    # `!cmd` and `%%bash` cells were Python scripts for a person: nothing ran, and the
    # cancel was not gated (a person's step)
    plan = compile_text(NOTEBOOK)
    pods = step_running(plan, ["kubectl", "-n", "db", "get", "pods"])
    step_running(plan, ["psql", "-h", "db-1", "-c",
                        "select pid, query from pg_stat_activity where state <> 'idle'"])
    cancel = step_running(plan, ["psql", "-h", "db-1", "-c", "select pg_cancel_backend(4242)"])
    assert not gated(plan, pods) and gated(plan, cancel)
    assert guards_of(plan, cancel) == ["If a query has been running for over an hour"]
    assert plan.step(cancel).source.start == 19


def test_a_python_cell_with_python_in_it_stays_a_persons_script():
    plan = compile_text("## Fix\n\n```python\nimport os\n!kubectl get pods\n```\n")
    assert not runs(plan) and manual_scripts(plan) == ["import os\n!kubectl get pods"]


# -- chat slash commands -----------------------------------------------------------------------


def test_a_chat_slash_command_is_a_persons_step_not_a_program():
    # "Acknowledge the page: `/pd ack`" ran `/pd` as a program at the file system's root
    plan = compile_text("## Mitigation\n\n1. Acknowledge the page: `/pd ack`\n"
                        "2. Check the rollout: `kubectl -n api rollout status deploy/api`\n")
    assert [s.params["pipeline"] for s in runs(plan)] == [
        [["kubectl", "-n", "api", "rollout", "status", "deploy/api"]]]
    assert [s for s in plan.steps if s.kind == StepKind.MANUAL and "/pd ack" in s.text]


def test_a_programs_full_path_is_still_a_command():
    plan = compile_text("## Fix\n\n1. Renew it: `/opt/certbot/bin/certbot renew`\n")
    step_running(plan, ["/opt/certbot/bin/certbot", "renew"])


# -- "If X:" / "Otherwise:" over an escalation, and a collapsed case that escalates -------------


def test_an_escalation_introduced_by_its_guard_ends_that_case():
    # "If the provider is down:" then "Escalate to #payments-oncall.": that case recorded a
    # finding and went on to "is the issue resolved?"; the escalation was the whole run's
    plan = compile_text("## Mitigation\n\nIf the provider is down:\n\n"
                        "Escalate to #payments-oncall.\n\nOtherwise:\n\n```bash\n"
                        "kubectl -n pay rollout restart deploy/webhooks\n```\n")
    (esc,) = _escalations(plan)
    assert guards_of(plan, esc.id) == ["If the provider is down"]
    restart = step_running(plan, ["kubectl", "-n", "pay", "rollout", "restart",
                                  "deploy/webhooks"])
    assert guards_of(plan, restart) == ["Otherwise"]
    assert not [s for s in plan.steps if s.kind == StepKind.DECIDE and
                s.title == "The issue is resolved"]


def test_an_otherwise_over_an_escalation_ends_the_other_case():
    plan = compile_text("## Mitigation\n\nIf the secret was rotated:\n\n```bash\n"
                        "kubectl -n pay rollout restart deploy/webhooks\n```\n\nOtherwise:\n\n"
                        "Check the provider status page and escalate to #payments-oncall.\n")
    (esc,) = _escalations(plan)
    assert guards_of(plan, esc.id) == ["Otherwise"]
    restart = step_running(plan, ["kubectl", "-n", "pay", "rollout", "restart",
                                  "deploy/webhooks"])
    assert [plan.step(e.target).kind for e in plan.edges
            if e.source == restart and e.on == "success"] == [StepKind.END]


def test_a_collapsed_otherwise_that_escalates_ends_its_case():
    # `<details><summary>Otherwise</summary>` holding "... escalate to #payments-oncall.":
    # both cases went on to "is the issue resolved?", the escalation the run's last word
    plan = compile_text("# Payment webhooks failing\n\n## Mitigation\n\n<details>\n"
                        "<summary>If the signing secret was rotated</summary>\n\n"
                        "Restart the webhooks:\n\n```bash\n"
                        "kubectl -n pay rollout restart deploy/webhooks\n```\n\n</details>\n\n"
                        "<details>\n<summary>Otherwise</summary>\n\n"
                        "Check the provider status page and escalate to #payments-oncall.\n\n"
                        "</details>\n")
    (esc,) = _escalations(plan)
    assert len(guards_of(plan, esc.id)) == 1 and guards_of(plan, esc.id)[0].startswith(
        "Otherwise")
    assert not [s for s in plan.steps if s.kind == StepKind.DECIDE and
                s.title == "The issue is resolved"]


def test_an_escalation_after_a_fallback_is_still_the_runs_last_word():
    plan = compile_text("## Mitigation\n\n```bash\nkubectl -n pay rollout restart "
                        "deploy/webhooks\n```\n\nIf this does not help:\n\n"
                        "Escalate to #payments-oncall.\n")
    assert [s for s in plan.steps if s.kind == StepKind.END and s.outcome is not None and
            s.outcome.value == "escalate"]


# -- a question, then its answers in the paragraphs under it -----------------------------------

EMOJI_TREE = ("# Ingress 5xx\n\n1️⃣ Check the ingress pods: `kubectl -n ingress get pods`\n\n"
              "2️⃣ Is one backend responsible?\n\n"
              "✅ Yes → restart it: `kubectl -n shop rollout restart deploy/cart`\n"
              "❌ No → escalate to #net-oncall.\n\n"
              "3️⃣ Confirm: `kubectl -n ingress logs deploy/ingress-nginx --tail=50`\n")


def test_answers_under_their_question_branch_on_it():
    # the answers were read without the question: the restart was lost (only the text of
    # the run's generic escalation held it), and "No" escalated only as the last word
    plan = compile_text(EMOJI_TREE)
    restart = step_running(plan, ["kubectl", "-n", "shop", "rollout", "restart", "deploy/cart"])
    assert guards_of(plan, restart) == ["Is one backend responsible?"]  # (2️⃣ its step number)
    assert gated(plan, restart)
    (esc,) = _escalations(plan)
    assert guards_of(plan, esc.id) == ["Otherwise (no: Is one backend responsible?)"]


def test_answers_each_in_a_paragraph_of_its_own_branch_on_the_question():
    # the restart ran whatever the answer
    plan = compile_text("## Fix\n\nIs one backend responsible?\n\n"
                        "**Yes** → restart it: `kubectl -n shop rollout restart deploy/cart`\n\n"
                        "**No** → escalate to #net-oncall.\n")
    restart = step_running(plan, ["kubectl", "-n", "shop", "rollout", "restart", "deploy/cart"])
    assert guards_of(plan, restart) == ["Is one backend responsible?"]
    (esc,) = _escalations(plan)
    assert guards_of(plan, esc.id) == ["Otherwise (no: Is one backend responsible?)"]


def test_a_paragraph_that_starts_with_no_after_a_question_in_prose_is_not_an_answer():
    plan = compile_text("## Fix\n\nWhy does this happen? The cache fills up.\n\n"
                        "Nothing else is needed. Restart it: `sudo systemctl restart app`\n")
    restart = step_running(plan, ["sudo", "systemctl", "restart", "app"])
    assert guards_of(plan, restart) == []


# -- "Expected: `X`" under the command it is about ---------------------------------------------


def test_an_expected_value_under_a_command_checks_its_output():
    # "Expected: `Running`" was context for a reader: the restart after it ran whatever the
    # pods' state
    plan = compile_text("## Check\n\nRun: `kubectl -n web get pods`\n\nExpected: `Running`\n\n"
                        "Restart it: `sudo systemctl restart app`\n")
    pods = step_running(plan, ["kubectl", "-n", "web", "get", "pods"])
    restart = step_running(plan, ["sudo", "systemctl", "restart", "app"])
    (check,) = [e.target for e in plan.edges if e.source == pods and e.on == "success"]
    assert plan.step(check).kind == StepKind.DECIDE and "`Running`" in plan.step(check).title
    assert guards_of(plan, restart) == ["Otherwise (not: If the output does not contain "
                                        "`Running`)"]


def test_an_expected_value_in_german_under_a_block_checks_its_output():
    plan = compile_text("## Prüfen\n\n```bash\ncurl -s -o /dev/null -w '%{http_code}' "
                        "https://api/health\n```\n\nErwartet: `200`\n")
    check = step_running(plan, ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                "https://api/health"])
    (after,) = [e.target for e in plan.edges if e.source == check and e.on == "success"]
    assert "`200`" in plan.step(after).title


def test_an_expected_value_after_a_change_or_in_words_stays_a_note():
    plan = compile_text("## Fix\n\nRestart it: `sudo systemctl restart app`\n\n"
                        "Expected: `active (running)`\n\nCheck: `systemctl is-active app`\n\n"
                        "Expected: every unit `active`.\n")
    assert not [s for s in plan.steps if s.kind == StepKind.DECIDE]
