"""Guide styles the earlier style passes had no fixture for (tests/fixtures/styles): lettered
sub-steps written on the lines under a numbered item, a "**Checkpoint:**" as an item's second
paragraph, Markdown definition lists (`Term` over `: what to do`), an Azure DevOps wiki TSG
with a `::: mermaid` diagram, an on-call runbook's decision matrix and T+0 / T+5m
timeline, and runbooks in Chinese or Japanese (如果/否则, もし/それ以外, full-width "：")."""

from __future__ import annotations

from engine.compile.explain import explain
from engine.guide import parse_guide
from engine.plan import StepKind
from tests.support.compiling import STYLES as FIXTURES
from tests.support.compiling import (
    assert_gated_and_accounted,
    compile_text,
    ends_with,
    gated,
    guards_of,
    manual_scripts,
    pipelines,
    runs,
    step_running,
)
from tests.support.compiling import compile_style as compile_file

NEW = ("lettered-continuation.md", "definition-list.md", "azure-wiki-mermaid.md",
       "timed-steps.md", "chinese-runbook.md", "cache-purge.md")


def _manual(plan, start: str):
    (step,) = [s for s in plan.steps if s.kind == StepKind.MANUAL and
               (s.text or "").startswith(start)]
    return step


# -- lettered sub-steps on an item's lines ----------------------------------------------------


def test_lettered_lines_under_an_item_are_its_sub_steps_in_order():
    # "1. Clear the drive faults" / "   a) reset: `ros2 service call ...`" / "   b) wait 30
    # seconds ..." / "   c) check: `ros2 topic echo ...`": one sentence, a person's step
    # holding both commands
    plan = compile_file("lettered-continuation.md")
    reset = step_running(plan, ["ros2", "service", "call", "/cell4/arm/reset_faults",
                                "std_srvs/srv/Trigger"])
    check = step_running(plan, ["ros2", "topic", "echo", "/cell4/arm/state", "--once"])
    wait = _manual(plan, "wait 30 seconds")
    ids = [s.id for s in plan.steps]
    assert ids.index(reset) < ids.index(wait.id) < ids.index(check)
    assert gated(plan, reset)
    assert not any("ros2" in script for script in manual_scripts(plan))
    enable = step_running(plan, ["ros2", "service", "call", "/cell4/line/enable",
                                 "std_srvs/srv/Trigger"])
    hmi = _manual(plan, "confirm on the HMI")
    assert ids.index(enable) < ids.index(hmi.id)


def test_lettered_lines_must_run_from_a_under_an_item():
    # two lines under an item are sub-steps; a lone "a)" line or a run from "b)" is the
    # item's words, and "a) ... b) ..." in a paragraph (no item) is left as it was
    plan = compile_text("## Fix\n\n1. Restart the service\n   a) stop: `systemctl stop app`\n"
                        "   b) start: `systemctl start app`\n")
    assert pipelines(plan) == [[["systemctl", "stop", "app"]], [["systemctl", "start", "app"]]]
    for text in ("## Fix\n\n1. Restart the service\n   b) stop: `systemctl stop app`\n"
                 "   c) start: `systemctl start app`\n",
                 "## Fix\n\nRestart the service\n   a) stop: `systemctl stop app`\n"
                 "   b) start: `systemctl start app`\n"):
        els = parse_guide(text, path="guide.md").elements
        assert sum(e.kind == "list_item" for e in els) <= 1, text


def test_a_lower_case_title_before_a_colon_asks_to_run_the_command():
    # "a) restart: `armctl restart --axis all`": the sub-step's title, lower case as the
    # letter's line reads; it was a person's step
    plan = compile_text("## Fix\n\n1. restart: `armctl restart --axis all`\n")
    assert pipelines(plan) == [[["armctl", "restart", "--axis", "all"]]]


# -- an item's checkpoint paragraph ------------------------------------------------------------


def test_an_items_checkpoint_paragraph_is_its_own_persons_step_after_the_action():
    # "2. Home the arm: `ros2 action send_goal ...`" + "Expected result: the arm stands ...":
    # one text, the command inside a person's step
    plan = compile_file("lettered-continuation.md")
    home = [s.id for s in runs(plan) if "send_goal" in str(s.params)]
    assert len(home) == 1 and gated(plan, home[0])
    ids = [s.id for s in plan.steps]
    result = _manual(plan, "Expected result: the arm stands")
    check = step_running(plan, ["ros2", "topic", "echo", "/cell4/arm/state", "--once"])
    ready = _manual(plan, "Checkpoint: every axis reports")
    assert ids.index(check) < ids.index(ready.id) < ids.index(home[0]) < ids.index(result.id)
    plan = compile_text("## Fix\n\n1. Drain the node: `kubectl drain node-3`\n\n"
                        "   **Checkpoint:** the node shows SchedulingDisabled.\n")
    assert pipelines(plan) == [[["kubectl", "drain", "node-3"]]]
    assert [s.text for s in plan.steps if s.kind == StepKind.MANUAL] == \
        ["Checkpoint: the node shows SchedulingDisabled."]


# -- definition lists --------------------------------------------------------------------------


def test_a_definition_lists_term_guards_its_definitions():
    # "Pod stuck in Pending" / ": Look at the scheduler's events: `kubectl ...`": one
    # paragraph, every definition's command run whatever the pod's state
    plan = compile_file("definition-list.md")
    describe = step_running(plan, ["kubectl", "-n", "web", "describe", "pod", "web-0"])
    resize = step_running(plan, ["gcloud", "container", "clusters", "resize", "web",
                                 "--node-pool", "default", "--num-nodes", "4"])
    image = [s.id for s in runs(plan) if "jsonpath" in str(s.params)][0]
    logs = step_running(plan, ["kubectl", "-n", "web", "logs", "web-0", "--previous"])
    delete = step_running(plan, ["kubectl", "-n", "web", "delete", "pod", "web-0"])
    assert guards_of(plan, describe) == ["Pod stuck in Pending"]
    assert guards_of(plan, image) == ["ImagePullBackOff"]
    assert guards_of(plan, logs) == ["CrashLoopBackOff"]  # (a blank line under its term)
    ids = [s.id for s in plan.steps]
    assert ids.index(describe) < ids.index(resize) and ids.index(logs) < ids.index(delete)
    assert gated(plan, resize) and gated(plan, delete)


def test_definition_lines_need_a_term_line_over_them():
    # a paragraph opening with ": " after a heading, or after a sentence with code, is not a
    # definition
    for text in ("## Fix\n\n: Restart it: `systemctl restart app`\n",
                 "## Fix\n\nRun `uptime` first.\n: Restart it: `systemctl restart app`\n"):
        els = parse_guide(text, path="guide.md").elements
        assert not any(e.term for e in els), text


# -- Azure DevOps wiki -------------------------------------------------------------------------


def test_an_azure_devops_mermaid_block_is_an_illustration():
    # "::: mermaid" ... ":::": a quote of prose, its boxes read as sentences
    plan = compile_file("azure-wiki-mermaid.md")
    text = (FIXTURES / "azure-wiki-mermaid.md").read_text()
    rows = explain(parse_guide(text, path="azure-wiki-mermaid.md"), plan, text)
    assert any("5-10" in str(r) and "illustration" in str(r) for r in rows)
    assert not any("Disabled" in str(s.params) or "-->" in (s.text or "") for s in plan.steps)
    assert len(runs(plan)) == 2


# -- an incident timeline ----------------------------------------------------------------------


def test_a_timeline_label_is_not_the_steps_words():
    # "**T+5m** — If the lag still grows, restart ...": the time label hid the "If"
    plan = compile_file("timed-steps.md")
    restarts = [s.id for s in runs(plan) if s.params["pipeline"] == [[
        "kubectl", "-n", "stream", "rollout", "restart", "deploy/billing-consumer"]]]
    assert guards_of(plan, restarts[-1]) == ["If the lag still grows"]
    assert any(guards_of(plan, e.id) == ["If the lag is still above 10k"]
               for e in ends_with(plan, "escalate"))


def test_a_bulleted_escalation_is_the_runs_ending_when_the_issue_remains():
    # "- **T+15m** — Escalate to the streaming team." as a timeline's last bullet: ignored
    # as prose, the run ended resolved whatever happened
    plan = compile_text("## Timeline\n\n- **T+0** — Restart the consumer: "
                        "`systemctl restart consumer`\n"
                        "- **T+15m** — Escalate to the streaming team.\n")
    (end,) = ends_with(plan, "escalate")[-1:]
    assert "streaming team" in (end.text or "")
    # the other side of "The issue is resolved" (the else edge carries the guide's words)
    assert "The issue is resolved" in [plan.step(e.source).text
                                       for _, e in plan.incoming(end.id)]


# -- Chinese and Japanese ----------------------------------------------------------------------


def test_a_chinese_runbook_keeps_its_if_and_otherwise_and_its_titled_steps():
    # "如果日志目录占用超过 10G：" / "否则，重启订单服务...：": both blocks ran unguarded, and
    # "查看磁盘使用情况：`df -h /var`" (a full-width colon) was a person's step
    plan = compile_file("chinese-runbook.md")
    vacuum = step_running(plan, ["journalctl", "--vacuum-size=500M"])
    restart = step_running(plan, ["kubectl", "-n", "orders", "rollout", "restart",
                                  "deploy/order-api"])
    assert guards_of(plan, vacuum) == ["如果日志目录占用超过 10G"]
    assert guards_of(plan, restart) == ["否则"]
    df = step_running(plan, ["df", "-h", "/var"])
    ids = [s.id for s in plan.steps]
    assert ids.index(df) < ids.index(vacuum)
    assert not any("df -h" in script for script in manual_scripts(plan))


def test_japanese_if_and_otherwise_guard_their_steps():
    plan = compile_text("## 手順\n\n1. 使用量を確認する：`df -h /var`\n"
                        "2. もし使用率が 90% を超えている場合：\n\n"
                        "   ```bash\n   journalctl --vacuum-size=500M\n   ```\n\n"
                        "3. それ以外の場合は、ログを確認する：`du -sh /var/log`\n")
    vacuum = step_running(plan, ["journalctl", "--vacuum-size=500M"])
    logs = step_running(plan, ["du", "-sh", "/var/log"])
    assert guards_of(plan, vacuum) == ["もし使用率が 90% を超えている場合"]
    assert guards_of(plan, logs) == ["それ以外の場合は"]
    assert [["df", "-h", "/var"]] in pipelines(plan)


def test_a_code_span_keeps_its_full_width_punctuation():
    plan = compile_text("## 处理\n\n1. 写入：`echo 完成：ok`\n")
    assert pipelines(plan) == [[["echo", "完成：ok"]]]


# -- a command's trailing comment ----------------------------------------------------------------


def test_a_trailing_comment_that_says_when_to_run_a_command_guards_it():
    # "systemctl reload nginx  # do not run in prod", "nginx -t  # optional", "find ...
    # -delete  # DANGER: only on staging": each ran whatever its comment said (the script
    # step lost its comment), and declining the optional check's gate escalated the run
    plan = compile_file("cache-purge.md")
    check = step_running(plan, ["nginx", "-t"])
    reload = step_running(plan, ["systemctl", "reload", "nginx"])
    (purge,) = [s.id for s in runs(plan) if "-delete" in str(s.params)]
    health = step_running(plan, ["curl", "-sI", "https://localhost/healthz"])
    assert guards_of(plan, check) == ["optional (nginx -t)"]
    assert guards_of(plan, reload) == ["not in prod"]
    assert guards_of(plan, purge) == ["only on staging"]
    # the health check runs after the purge or without it
    assert any(e.source == purge and e.condition is None for _, e in plan.incoming(health))
    assert "Otherwise (not: only on staging)" in guards_of(plan, health)
    ids = [s.id for s in plan.steps]
    assert ids.index(check) < ids.index(reload) < ids.index(purge) < ids.index(health)


def test_a_comment_that_only_describes_a_command_guards_nothing():
    for line in ("systemctl reload nginx  # reloads the config",
                 "echo '# only on staging' > /etc/motd",
                 "systemctl reload nginx  # runs on every node"):
        plan = compile_text(f"## Fix\n\n```bash\n{line}\n```\n")
        assert all(guards_of(plan, s.id) == [] for s in runs(plan)), line


# -- every new style, whole ----------------------------------------------------------------------


def test_every_new_style_gates_its_changes_and_accounts_for_every_line():
    assert_gated_and_accounted(NEW)

