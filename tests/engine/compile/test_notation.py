"""Commands in every notation: prompts, transcripts, console blocks, untagged blocks, output
after "Example output:", database consoles and query languages Mendflow cannot run. Each test is
one rule a guide author would recognise, on a small guide written here."""

from __future__ import annotations

from engine.compile import compile_guide
from engine.guide import parse_guide
from engine.plan import Plan, StepKind

PLUGINS = {"shell", "bash", "prometheus", "sql", "http", "logs"}


def compile_text(body: str) -> Plan:
    text = "# T\n\n## Diagnosis\n\n" + body
    return compile_guide(parse_guide(text, path="guide.md"), known_plugins=PLUGINS)


def runs(plan: Plan) -> list[list[str]]:
    """The argv of each shell stage, in plan order."""
    return [stage for s in plan.steps if s.plugin == "shell" for stage in s.params["pipeline"]]


def manual_scripts(plan: Plan) -> list[str]:
    return [s.params["script"] for s in plan.steps
            if s.kind == StepKind.MANUAL and "script" in s.params]


def queries(plan: Plan) -> list[tuple[str, str]]:
    return [(s.plugin, s.params.get("query", "")) for s in plan.steps
            if s.kind == StepKind.QUERY]


def test_a_console_block_without_prompts_is_read_as_commands():
    plan = compile_text("```console\nkubectl get pods -n web\nsystemctl status nginx\n```\n")
    assert runs(plan) == [["kubectl", "get", "pods", "-n", "web"],
                          ["systemctl", "status", "nginx"]]


def test_a_console_block_without_prompts_leaves_its_output_lines():
    plan = compile_text("```console\nceph osd lspools\n1 .mgr\n2 replicapool\n```\n\n"
                        "```console\nkubectl get pods\nNAME    READY   STATUS\nweb-1   1/1"
                        "     Running\n```\n")
    assert runs(plan) == [["ceph", "osd", "lspools"], ["kubectl", "get", "pods"]]


def test_a_root_prompt_is_told_from_a_comment_by_what_follows():
    plan = compile_text("```bash\n# cat /sys/fs/cgroup/cpu/cpu.shares\n2\n\n"
                        "# cat /sys/fs/cgroup/cpu/cpu.cfs_period_us\n100000\n```\n\n"
                        "```bash\n# Check the service\nsystemctl status nginx\n```\n")
    assert runs(plan) == [["cat", "/sys/fs/cgroup/cpu/cpu.shares"],
                          ["cat", "/sys/fs/cgroup/cpu/cpu.cfs_period_us"],
                          ["systemctl", "status", "nginx"]]


def test_commented_out_commands_in_a_script_are_not_root_prompts():
    plan = compile_text("```bash\n# kubectl delete pod web-1\nkubectl get pods\n```\n")
    assert runs(plan) == [["kubectl", "get", "pods"]]


def test_only_the_prompted_lines_of_a_transcript_run():
    plan = compile_text("```\nuser@aptly:~$ aptly repo show gitlab-utils\nName: gitlab-utils\n"
                        "Number of packages: 1\n\n[root@db-1 ~]# df -h /var\n"
                        "Filesystem  Size  Used Avail Use% Mounted on\n/dev/sda1  100G  97G"
                        "  3G  97% /var\nsh-5.1# uptime\n 10:00:01 up 3 days\n```\n")
    # (the lines at a named machine's prompt are a person's there, their output in no step)
    assert runs(plan) == [["uptime"]]
    assert manual_scripts(plan) == [
        "# on aptly (at its prompt: user@aptly$)\naptly repo show gitlab-utils\n"
        "# on db-1 (at its prompt: [root@db-1 ~]#)\ndf -h /var"]


def test_a_transcript_command_left_unprompted_at_its_start_still_runs():
    plan = compile_text("```\nssh db-1.example.com\n\n$ sudo gitlab-ctl status\nrun: "
                        "postgresql: (pid 1) 10s\n```\n")
    # The unprompted opener is a command, and the prompted line runs in the session it opened
    assert runs(plan) == [["ssh", "db-1.example.com", "--", "sudo gitlab-ctl status"]]


def test_database_console_lines_are_manual_steps_never_shell():
    plan = compile_text("```\n$ sudo pgb-console\n\npgbouncer=# show pools;\n database | user\n"
                        "----------+------\n gitlab   | gitlab\n\nmysql> SHOW PROCESSLIST;\n```\n")
    assert ["show", "pools;"] not in runs(plan)
    assert any("show pools;" in s and "SHOW PROCESSLIST;" in s for s in manual_scripts(plan))


def test_an_untagged_block_of_commands_runs():
    plan = compile_text("Check the wraparound:\n\n```\nsudo supervisorctl status\n"
                        "/opt/gitlab/embedded/bin/redis-cli info\n```\n")
    assert runs(plan) == [["sudo", "supervisorctl", "status"],
                          ["/opt/gitlab/embedded/bin/redis-cli", "info"]]


def test_an_untagged_block_of_prose_or_output_does_not_run():
    plan = compile_text("```\nThe node is healthy when all pods are running.\n"
                        "tpm_rng                16384  0\n/dev/sda1  97%  /data\n```\n")
    assert runs(plan) == []


def test_a_block_after_example_output_is_output():
    plan = compile_text("Example output:\n\n```\nweb-1234  2/2  Running\n```\n\n"
                        "The output should look like:\n\n```console\nnginx.service - A web server\n"
                        "   Active: active (running)\n```\n")
    assert runs(plan) == [] and manual_scripts(plan) == []


def test_an_output_block_that_opens_with_its_command_runs_only_that_command():
    plan = compile_text("Output:\n\n```\ngitlab-patronictl list\n+--------+--------+\n"
                        "| Member | Role   |\n+--------+--------+\n```\n")
    assert runs(plan) == [["gitlab-patronictl", "list"]]


def test_a_block_after_a_paragraph_that_says_to_run_it_is_not_output():
    plan = compile_text("Watch the output from the logs by running:\n\n```bash\nkubectl logs "
                        "deploy/web --tail 50\n```\n")
    assert runs(plan) == [["kubectl", "logs", "deploy/web", "--tail", "50"]]


def test_a_shell_block_leaves_its_log_and_table_lines():
    plan = compile_text("```bash\nkubectl logs web-1\n2023-04-05T23:56:53.363Z ERROR failed\n"
                        "level=error msg=\"boom\"\n```\n")
    assert runs(plan) == [["kubectl", "logs", "web-1"]]


def test_untagged_promql_and_sql_are_queries():
    plan = compile_text("```\nsum by (job) (rate(http_requests_total{code=~\"5..\"}[5m]))\n```\n\n"
                        "```\nSELECT pid, state FROM pg_stat_activity WHERE state = 'active';\n"
                        "```\n")
    assert [p for p, _ in queries(plan)] == ["prometheus", "sql"]


def test_untagged_sql_that_writes_is_shown_to_a_person():
    plan = compile_text("```\nDROP INDEX index_blah_old;\n```\n")
    assert runs(plan) == [] and queries(plan) == []
    assert manual_scripts(plan) == ["DROP INDEX index_blah_old;"]


def test_metric_samples_are_output_not_queries():
    plan = compile_text("```\nsidekiq_queue_size{name=\"default\"} 0\n"
                        "sidekiq_queue_size{name=\"mailers\"} 12\n```\n")
    assert queries(plan) == [] and runs(plan) == []


def test_query_languages_without_a_plugin_are_manual_never_dropped():
    plan = compile_text("```logql\n{app=\"web\"} |= \"error\"\n```\n\n```kql\n"
                        "Heartbeat | take 10\n```\n")
    assert manual_scripts(plan) == ["{app=\"web\"} |= \"error\"", "Heartbeat | take 10"]


def test_a_shell_function_is_one_manual_step_not_its_body_lines():
    plan = compile_text("```bash\nfunction collect() {\n  rm -f /tmp/out\n  date\n}\ncollect\n"
                        "```\n")
    assert ["rm", "-f", "/tmp/out"] not in runs(plan)
    assert any(s.startswith("function collect() {") for s in manual_scripts(plan))


def test_a_block_that_opens_with_a_gt_prompt_uses_it():
    plan = compile_text("```bash\n> gpg --card-edit\nReader ...: Yubico\n\ngpg/card> admin\n"
                        "Admin commands are allowed\n```\n")
    # `admin` is typed into gpg's own console: the command that opens it waits for a
    # person, so both are a person's step (engine.compile.blocks._asking)
    assert runs(plan) == []
    assert manual_scripts(plan) == ["gpg --card-edit\nadmin"]


def test_a_prompt_after_a_working_directory_is_stripped():
    plan = compile_text("```\nchef-repo $ knife node show web-1\n```\n")
    assert runs(plan) == [["knife", "node", "show", "web-1"]]


def test_sql_in_an_untagged_block_is_a_query_not_a_shell_line():
    plan = compile_text("```\nselect indexdef from pg_indexes where indexname = 'ix';\n```\n")
    assert runs(plan) == [] and [p for p, _ in queries(plan)] == ["sql"]


def test_untagged_logql_is_shown_to_a_person():
    plan = compile_text("```\n{cluster=\"prod\",container=\"compactor\"} |= \"skipped\"\n```\n")
    assert queries(plan) == [] and manual_scripts(plan) == [
        "{cluster=\"prod\",container=\"compactor\"} |= \"skipped\""]


def test_a_psql_table_under_a_separator_is_output():
    plan = compile_text("```\nid | name | status\n---+------+--------\n3  | main | ok\n"
                        "(1 row)\n```\n")
    assert runs(plan) == [] and queries(plan) == []


def test_a_keyword_followed_by_prose_is_a_comment_not_a_root_prompt():
    plan = compile_text("```\nroot@web-1:~# cat /etc/idmapd.conf\n[General]\n"
                        "# set your own domain here, if it differs\nDomain = localdomain\n```\n")
    assert manual_scripts(plan) == ["# on web-1 (at its prompt: root@web-1#)\n"
                                    "cat /etc/idmapd.conf"]


def test_a_transcript_after_example_output_is_an_illustration_not_steps():
    plan = compile_text("Example output using version 1.4 (with e2fsprogs 1.46):\n\n```\n"
                        "-> kl exec -it node-1 bash\n\nnode-1:/ # fsck.ext4 /dev/sdb\n"
                        "fsck from util-linux 2.23.2\n```\n\n"
                        "For example, this is the output when running the agent:\n\n```bash\n"
                        "agent run app.js\nStarting agent on port 5000\n```\n")
    assert runs(plan) == [] and manual_scripts(plan) == []


def test_a_script_shown_by_cat_in_a_transcript_is_output():
    plan = compile_text("```shell\n$ cat collect.sh\n#!/bin/bash\n\necho \"Starting\"\n"
                        "rm -f /tmp/out\n```\n")
    assert runs(plan) == [["cat", "collect.sh"]]


def test_an_untagged_sql_statement_over_its_result_table_is_the_query():
    plan = compile_text("```\nselect relname\nfrom pg_class where oid = 1;\n\n relname\n"
                        "---------\n users\n(1 row)\n```\n\n```\nshow log_destination;\n"
                        " log_destination\n-----------------\n csvlog\n(1 row)\n\n"
                        "show logging_collector;"
                        "\n logging_collector\n-------------------\n on\n```\n")
    assert queries(plan) == [("sql", "select relname\nfrom pg_class where oid = 1;")]
    assert len(manual_scripts(plan)) == 1  # two statements and their results: a psql session


def test_a_shell_builtin_is_shown_to_a_person_not_run_as_a_program():
    plan = compile_text("```bash\nsource /srv/app/bin/activate\nalias k=kubectl\n"
                        "git clone https://example.com/x.git && export PATH=$PWD/x:$PATH\n```\n")
    assert runs(plan) == []
    assert manual_scripts(plan) == ["source /srv/app/bin/activate\nalias k=kubectl\n"
                                    "git clone https://example.com/x.git && "
                                    "export PATH=$PWD/x:$PATH"]


def test_free_text_that_would_become_an_argument_makes_the_line_manual():
    plan = compile_text("```bash\nNOTE=\"a dummy description\"\ncurl -sS -d \"$NOTE\" "
                        "https://example.com/v1/bundles\nkubectl get pods\n```\n")
    assert runs(plan) == [["kubectl", "get", "pods"]]
    assert manual_scripts(plan) == ['curl -sS -d "$NOTE" https://example.com/v1/bundles']


def test_the_continuation_of_a_line_that_is_not_a_command_does_not_run_alone():
    plan = compile_text("```\nk exec deploy/api -- \\\n  rake 'cache:clear[1]'\n```\n\n"
                        "```bash\nSome prose that is not a command \\\n  rm -rf /tmp/x\n```\n")
    assert runs(plan) == []


def test_untagged_sql_that_only_starts_with_a_read_is_still_a_write():
    plan = compile_text("```\nselect pg_stat_reset();\ndrop table if exists t;\n```\n")
    assert queries(plan) == [] and [s.kind for s in plan.steps if s.plugin == "sql"] == []
    assert manual_scripts(plan) == ["select pg_stat_reset();\ndrop table if exists t;"]


def test_a_root_prompt_before_a_tool_mendflow_does_not_know_is_still_a_prompt():
    # `# tool --option` / `# tool /path`: a command typed as root, whichever tool it is (these
    # were read as comments, the whole block ignored as sample output)
    plan = compile_text("```bash\n# nfsstat -m\n```\n\nThen checksum each file:\n\n"
                        "```\n# sha512sum /var/lib/longhorn/replicas/pvc-1/volume.meta\n"
                        "fcd1b3bb677f  /var/lib/longhorn/replicas/pvc-1/volume.meta\n```\n")
    assert runs(plan) == [["nfsstat", "-m"],
                          ["sha512sum", "/var/lib/longhorn/replicas/pvc-1/volume.meta"]]


def test_a_comment_about_an_option_or_a_link_is_not_a_root_prompt():
    plan = compile_text("```bash\n# see --help for details\n# see https://example.com/x\n"
                        "# Get the IP address of the share manager.\n```\n")
    assert runs(plan) == [] and manual_scripts(plan) == []


def test_an_open_quote_does_not_swallow_the_next_prompted_line():
    # A typographic quote (”) leaves a `"` open: the next prompt still starts a command
    plan = compile_text("```console\n# dnf install -y grubby\n"
                        "# kubectl annotate node n1 note=\u201dcgroup v1\"\n# reboot\n```\n")
    assert runs(plan)[0] == ["dnf", "install", "-y", "grubby"]
    assert runs(plan)[-1] == ["reboot"]
    assert all("reboot" not in script for script in manual_scripts(plan))
