"""Guide styles from documentation sites and team wikis no earlier fixture had
(tests/fixtures/styles): an admonition or bold label titled "Only if ...", MDX `<CodeBlock>`
components, numbered steps whose label ends with their condition ("**Step 2: Restart the
consumer if ...**", "### 3) Purge X if ..."), and debugger sessions (`(gdb) bt`)."""

from __future__ import annotations

from engine.plan import StepKind
from tests.support.compiling import (
    assert_gated_and_accounted,
    compile_text,
    gated,
    guards_of,
    manual_scripts,
    pipelines,
    runs,
    step_running,
)
from tests.support.compiling import compile_style as compile_file

NEW = ("mkdocs-only-if.md", "mdx-codeblock.md", "step-labels-if.md", "debugger-sessions.md",
       "change-verify-rollback.md", "windows-tagged-bash.md", "numbered-headings-jump.md")


# -- "Only if" as a label ------------------------------------------------------------------------


def test_an_admonition_titled_only_if_guards_its_body():
    # `!!! danger "Only if the lag keeps growing"` over its body: the title was "a condition
    # with nothing to guard" and the restart under it ran whatever the lag did
    plan = compile_file("mkdocs-only-if.md")
    restart = step_running(plan, ["kubectl", "-n", "orders", "rollout", "restart",
                                  "deployment/orders-consumer"])
    assert guards_of(plan, restart) == ["Only if the lag keeps growing"]
    assert gated(plan, restart)
    assert not [i for i in plan.ignored if i.kind == "guard"]


def test_a_bold_only_when_label_guards_the_block_below_it():
    plan = compile_file("mkdocs-only-if.md")
    scale = step_running(plan, ["kubectl", "-n", "orders", "scale",
                                "deployment/orders-consumer", "--replicas=6"])
    assert guards_of(plan, scale) == ["Only when the consumers were restarted twice already"]
    for label in ("**Only if the disk is still full**", "Only when the disk is still full"):
        plan = compile_text(f"## Fix\n\nCheck: `df -h /var`\n\n{label}\n\nClean the cache:\n\n"
                            "```bash\nsudo rm -rf /var/cache/app\n```\n")
        clean = step_running(plan, ["sudo", "rm", "-rf", "/var/cache/app"])
        assert guards_of(plan, clean) == [label.strip("*")], label
        assert gated(plan, clean)


def test_a_mkdocs_page_keeps_its_other_guards_tabs_and_fences_with_attributes():
    plan = compile_file("mkdocs-only-if.md")
    members = step_running(plan, ["kafka-consumer-groups.sh", "--bootstrap-server",
                                  "kafka:9092", "--describe", "--group", "orders", "--members"])
    assert guards_of(plan, members) == ["If the group is rebalancing"]
    assert guards_of(plan, step_running(plan, ["sudo", "apt-get", "install", "-y", "kcat"])) \
        == ["Ubuntu"]
    assert guards_of(plan, step_running(plan, ["sudo", "dnf", "install", "-y", "kcat"])) \
        == ["RHEL"]


# -- MDX code components -------------------------------------------------------------------------


def test_an_mdx_codeblock_component_is_a_code_block_in_its_language():
    # `<CodeBlock language="bash">` was "HTML, not read": the check it held was lost
    plan = compile_file("mdx-codeblock.md")
    assert [["redis-cli", "-h", "redis.internal", "config", "get", "maxmemory"]] in \
        pipelines(plan)
    raise_ = step_running(plan, ["redis-cli", "-h", "redis.internal", "config", "set",
                                 "maxmemory", "6gb"])
    assert guards_of(plan, raise_) == ["If `used_memory` is above `maxmemory`"]
    assert gated(plan, raise_)
    assert not any("FLUSHALL" in str(s.params) for s in runs(plan))


def test_a_codeblock_given_its_language_by_class_name_or_a_template_string():
    plan = compile_text("## Fix\n\n<CodeBlock className=\"language-shell\">\nsystemctl status "
                        "redis\n</CodeBlock>\n\n<CodeBlock language=\"bash\" title=\"x.sh\">\n"
                        "{`sudo systemctl restart redis`}\n</CodeBlock>\n")
    assert pipelines(plan) == [[["systemctl", "status", "redis"]],
                               [["sudo", "systemctl", "restart", "redis"]]]
    restart = step_running(plan, ["sudo", "systemctl", "restart", "redis"])
    assert gated(plan, restart)


# -- a numbered step's label that ends with its condition ----------------------------------------


def test_a_bold_step_label_ending_with_if_guards_its_block():
    plan = compile_file("step-labels-if.md")
    restart = step_running(plan, ["sudo", "systemctl", "restart", "orders-consumer"])
    assert guards_of(plan, restart) == ["if no consumers are attached"]
    assert gated(plan, restart)
    # "**Step 1: Check the queue**" holds no condition: its check runs unguarded
    check = step_running(plan, ["rabbitmqctl", "list_queues", "name", "messages", "consumers"])
    assert guards_of(plan, check) == []


def test_a_numbered_heading_ending_with_if_guards_its_section():
    plan = compile_file("step-labels-if.md")
    purge = step_running(plan, ["rabbitmqctl", "purge_queue", "orders.dlq"])
    assert guards_of(plan, purge) == ["if it holds more than 10000 messages"]
    # the next heading is no part of the purge's branch: it runs whichever way it went
    status = step_running(plan, ["rabbitmq-diagnostics", "status"])
    assert "if it holds more than 10000 messages" not in guards_of(plan, status)
    # it reads (no gate of its own): it follows the purge, or the way round it
    assert purge in [e.source for _, e in plan.incoming(status) if e.condition is None]


def test_an_instruction_ending_with_if_and_a_colon_guards_the_block_it_introduces():
    plan = compile_file("step-labels-if.md")
    restart = step_running(plan, ["sudo", "systemctl", "restart", "rabbitmq-server"])
    assert guards_of(plan, restart) == ["only if it reports a memory alarm"]
    # a question of whether is no condition: "Check if the pod is up:" runs its check
    plan = compile_text("## Check\n\nCheck if the queue is empty:\n\n```bash\n"
                        "rabbitmqctl list_queues\n```\n")
    assert guards_of(plan, step_running(plan, ["rabbitmqctl", "list_queues"])) == []


# -- debugger sessions ---------------------------------------------------------------------------


def test_lines_typed_at_a_debuggers_prompt_stay_in_its_session_step():
    # `(gdb) bt full` was no prompt: read as gdb's output, the commands typed into it were lost
    plan = compile_file("debugger-sessions.md")
    (script,) = [s for s in manual_scripts(plan) if "gdb" in s]
    assert [ln for ln in script.split("\n")][1:] == ["bt full", "info threads",
                                                     "thread apply all bt"]
    assert not any("gdb" in p[0] for p in pipelines(plan))
    plan = compile_text("## Debug\n\n```\n(gdb) bt\n(gdb) info registers\n```\n")
    assert not runs(plan) and manual_scripts(plan) == ["bt\ninfo registers"]


def test_console_sessions_beside_the_debugger_keep_their_forms():
    plan = compile_file("debugger-sessions.md")
    assert [["redis-cli", "-h", "redis.internal", "INFO", "replication"]] in pipelines(plan)
    assert any("rs.status()" in s for s in manual_scripts(plan))


def test_every_new_style_guide_is_gated_and_accounted_for():
    assert_gated_and_accounted(NEW)


# -- Verification / Expected result / Rollback subsections ---------------------------------------


def test_a_rollback_subsection_ends_the_run_and_never_runs_on_the_main_path():
    # "### Rollback" under "## 1. Update the config": after undoing the change the run went
    # on to "## 2. Warm the cache" (for a config no longer there) and ended "resolved"
    plan = compile_file("change-verify-rollback.md")
    undo = step_running(plan, ["sudo", "cp", "/srv/nginx/upstream.old.conf",
                               "/etc/nginx/conf.d/upstream.conf"])
    assert guards_of(plan, undo) == ["Rollback"] and gated(plan, undo)
    (last,) = [s for s in runs(plan) if s.params.get("pipeline") == [
        ["sudo", "systemctl", "reload", "nginx"]] and s.source.start > plan.step(undo).source.start]
    (end,) = [plan.step(e.target) for e in plan.edges
              if e.source == last.id and e.on == "success"]
    assert end.kind == StepKind.END and end.outcome is not None and \
        end.outcome.value == "escalate"
    warm = step_running(plan, ["curl", "-s", "http://localhost/internal/warm"])
    assert guards_of(plan, warm) == ["Otherwise (not: Rollback)"]
    # the verification runs on the main path; its expected output is never run
    check = step_running(plan, ["curl", "-sf", "http://localhost/healthz"])
    assert guards_of(plan, check) == []
    assert [i.reason for i in plan.ignored if i.kind == "code"] == ["sample output"]


def test_a_collapsed_rollback_ends_the_run_too():
    plan = compile_file("change-verify-rollback.md")
    restart = step_running(plan, ["sudo", "systemctl", "restart", "nginx"])
    assert guards_of(plan, restart) == ["Rolling back"] and gated(plan, restart)
    (end,) = [plan.step(e.target) for e in plan.edges
              if e.source == restart and e.on == "success"]
    assert end.kind == StepKind.END and end.outcome is not None and \
        end.outcome.value == "escalate"


def test_a_console_is_over_once_a_line_is_typed_at_the_shell_again():
    # `$ python3` after the sqlite3 block: its `>>>` line was put in the sqlite3 session
    plan = compile_file("debugger-sessions.md")
    assert "sqlite3 /var/lib/worker/state.db\n.tables\nPRAGMA integrity_check;" in \
        manual_scripts(plan)
    assert "python3\nimport ssl; print(ssl.OPENSSL_VERSION)" in manual_scripts(plan)
    plan = compile_text("## S\n\n```\n$ sqlite3 /var/lib/app/state.db\nsqlite> .tables\n```\n\n"
                        "Then list the folder:\n\n```\n$ ls -la /var/lib/app\n```\n")
    assert pipelines(plan) == [[["ls", "-la", "/var/lib/app"]]]


# -- Windows prompts in a block tagged for a POSIX shell -----------------------------------------


def test_a_windows_prompt_in_a_bash_tagged_block_is_a_persons_step_not_output():
    # `C:\> ipconfig /flushdns` in a ```bash block was "sample output": the step was lost
    plan = compile_file("windows-tagged-bash.md")
    scripts = manual_scripts(plan)
    assert "ipconfig /flushdns\nipconfig /all" in scripts
    assert any("Restart-Service -Name BuildAgent" in s for s in scripts)
    assert pipelines(plan) == [[["dig", "+short", "artifacts.internal"]]]
    assert not [i for i in plan.ignored if i.kind == "code"]


# -- jumps to steps written as numbered headings -------------------------------------------------


def test_go_to_step_n_lands_on_the_heading_numbered_n():
    # "### 3) Check the port": "go to step 3" failed the guide ("no heading is 'Step 3'")
    plan = compile_file("numbered-headings-jump.md")
    port = step_running(plan, ["ss", "-ltnp"])
    logs = step_running(plan, ["journalctl", "-u", "app", "-n", "50"])
    jumps = {(e.condition.text if e.condition else "", e.target) for e in plan.edges
             if e.kind == "jump"}
    assert jumps == {("If the service is active", port), ("If it does not stay up", logs)}
    for mark in (".", ")"):
        plan = compile_text(f"## Fix\n\n### 1{mark} Check\n\nIf it is up, go to step 2.\n\n"
                            f"### 2{mark} Ports\n\n```bash\nss -ltnp\n```\n")
        assert step_running(plan, ["ss", "-ltnp"]) in {e.target for e in plan.edges
                                                        if e.kind == "jump"}, mark


def test_go_to_step_n_lands_on_a_heading_numbered_with_a_dash_or_a_colon():
    # "### 3 — Restart the consumers": "go to step 3" failed the guide ("this list has 0 steps")
    for mark in (" -", " \u2014", " \u2013", ":"):
        plan = compile_text(f"## Fix\n\n### 1{mark} Check\n\nIf it is up, go to step 3.\n\n"
                            f"### 2{mark} Logs\n\n```bash\njournalctl -u app -n 5\n```\n\n"
                            f"### 3{mark} Ports\n\n```bash\nss -ltnp\n```\n")
        assert step_running(plan, ["ss", "-ltnp"]) in {e.target for e in plan.edges
                                                        if e.kind == "jump"}, mark
    # a range is not a step's number: "### 3-4 ..." is no heading numbered 3
    plan = compile_text("## Fix\n\n### 1. Check\n\nIf it is up, go to step 3.\n\n"
                        "### 3-4 Ports\n\n```bash\nss -ltnp\n```\n\n### 3. Logs\n\n"
                        "```bash\njournalctl -u app -n 5\n```\n")
    assert step_running(plan, ["journalctl", "-u", "app", "-n", "5"]) in {
        e.target for e in plan.edges if e.kind == "jump"}
