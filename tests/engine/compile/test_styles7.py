"""Guide styles the earlier style passes had no fixture for (tests/fixtures/styles): MyST
(Sphinx's Markdown) directives, AsciiDoc listings and reStructuredText directives pasted into
Markdown, runbooks in Russian or Korean ("Если ... / Иначе", "만약 ... / 그렇지 않으면"), a
robot controller's alarm-code guide and a decision tree written as numbered bold questions."""

from __future__ import annotations

from engine.compile.explain import explain
from engine.guide import parse_guide
from engine.plan import StepKind
from tests.support.compiling import STYLES as FIXTURES
from tests.support.compiling import (
    assert_gated_and_accounted,
    assert_if_otherwise_guard_their_blocks,
    compile_text,
    ends_with,
    gated,
    guards_of,
    pipelines,
    runs,
    step_running,
)
from tests.support.compiling import compile_style as compile_file

NEW = ("myst-sphinx.md", "asciidoc-listing.md", "russian-runbook.md", "korean-runbook.md",
       "bold-questions.md", "fanuc-alarm.md", "sphinx-rst-pasted.md")


# -- Russian and Korean ----------------------------------------------------------------------


def test_russian_and_korean_if_and_otherwise_guard_their_blocks():
    for cond, other in (("Если диск заполнен:", "Иначе перезапустите под:"),
                        ("Когда диск заполнен:", "В противном случае перезапустите под:"),
                        ("만약 디스크가 가득 찼다면:", "그렇지 않으면 파드를 재시작합니다:")):
        assert_if_otherwise_guard_their_blocks(cond, other)


def test_a_russian_runbook_keeps_its_guards_and_escalates():
    # "Если есть неактивный слот, удалите его:" / "Иначе очистите старые логи:": the slot drop
    # and the log clean-up ran one after the other, and "..., эскалируйте на команду" was
    # prose: the run ended resolved with the disk still full
    plan = compile_file("russian-runbook.md")
    drop = [s.id for s in runs(plan) if "pg_drop_replication_slot" in str(s.params)][0]
    clean = [s.id for s in runs(plan) if "-delete" in str(s.params)][0]
    assert guards_of(plan, drop) == ["Если есть неактивный слот"]
    assert len(guards_of(plan, clean)) == 1 and guards_of(plan, clean)[0].startswith("Иначе")
    (end,) = [e for e in ends_with(plan, "escalate") if "эскалируйте" in (e.text or "")]
    assert guards_of(plan, end.id) == ["Если диск всё ещё заполнен больше чем на 90%"]
    assert "В противном случае" not in (end.text or "")  # the next sentence is its own


def test_a_korean_runbook_keeps_its_guards_and_escalates():
    plan = compile_file("korean-runbook.md")
    undo = step_running(plan, ["kubectl", "-n", "payment", "rollout", "undo",
                               "deploy/payment-api"])
    scale = step_running(plan, ["kubectl", "-n", "payment", "scale", "deploy/payment-api",
                                "--replicas=8"])
    assert guards_of(plan, undo) == ["만약 파드가 `CrashLoopBackOff` 상태라면"]
    (other,) = guards_of(plan, scale)
    assert other.startswith("그렇지 않으면")
    (end,) = [e for e in ends_with(plan, "escalate") if "에스컬레이션" in (e.text or "")]
    assert guards_of(plan, end.id) == ["만약 10분 후에도 지연이 계속되면"]
    assert "인시던트를 종료" not in (end.text or "")


def test_escalate_in_the_runbooks_language_ends_the_run_escalated():
    for sentence in ("Wenn der Fehler bleibt, an das DB-Team eskalieren.",
                     "Если ошибка повторяется, эскалируйте дежурному.",
                     "もしエラーが続く場合は、DBチームにエスカレーションする。"):
        plan = compile_text(f"## Fix\n\nRestart it: `systemctl restart app`\n\n{sentence}\n")
        assert any(guards_of(plan, e.id) for e in ends_with(plan, "escalate")), sentence


# -- AsciiDoc listings -----------------------------------------------------------------------


def test_an_asciidoc_listing_is_a_fenced_block_and_its_literal_block_output():
    # "[source,bash]" over "----" ... "----": the "----" under the first command made it a
    # setext heading, so every command of the guide was a section title and nothing ran
    plan = compile_file("asciidoc-listing.md")
    argvs = [p[0] for p in pipelines(plan)]
    assert len(argvs) == 5 and all(a[0] == "curl" for a in argvs)
    put = [s.id for s in runs(plan) if "-XPUT" in s.params["pipeline"][0]][0]
    assert guards_of(plan, put) == ["If a node's disk is above the high watermark"]
    assert gated(plan, put)
    assert not any("health status index" in str(s.params) for s in plan.steps)
    headings = [e.text for e in parse_guide((FIXTURES / "asciidoc-listing.md").read_text(),
                                            path="x.md").elements if e.kind == "heading"]
    assert "Retry the allocation" in headings


def test_dashes_need_a_source_line_to_open_a_listing():
    # a Markdown guide's "----" rules stay rules, and "== x" stays prose in it
    text = "## Fix\n\nRun `uptime`.\n\n----\n\nsystemctl restart app\n\n----\n\n== Done\n"
    els = parse_guide(text, path="guide.md").elements
    assert not any(e.kind == "code" for e in els)
    assert not any(e.kind == "heading" and e.text == "Done" for e in els)


# -- reStructuredText directives pasted in -----------------------------------------------------


def test_an_rst_code_block_directive_is_a_fenced_block_of_its_language():
    # ".. code-block:: bash" over "   :linenos:" and its body indented three spaces: a
    # paragraph each, the `for pod in ...` loop and `kubectl top` one person's step holding
    # the directive's words
    plan = compile_file("sphinx-rst-pasted.md")
    (loop,) = [s for s in runs(plan) if "for pod in 0 1 2" in str(s.params)]
    assert gated(plan, loop.id)
    top = step_running(plan, ["kubectl", "-n", "cache", "top", "pods", "-l", "app=memcached"])
    limits = step_running(plan, ["kubectl", "-n", "cache", "set", "resources",
                                 "statefulset/memcached", "--limits=memory=4Gi"])
    assert guards_of(plan, limits) == ["If the pods are at their memory limit"]
    assert gated(plan, limits) and not gated(plan, top)
    assert not any(":linenos:" in str(s.params) or ".. " in (s.text or "")
                   for s in plan.steps)


def test_an_rst_admonition_is_prose_and_its_body_ends_at_the_text_after_it():
    text = ("## Fix\n\n.. warning::\n\n   If the disk is full, run `sudo journalctl "
            "--vacuum-size=1G`.\n\nRestart it: `systemctl restart app`\n")
    plan = compile_text(text)
    vacuum = step_running(plan, ["sudo", "journalctl", "--vacuum-size=1G"])
    assert guards_of(plan, vacuum) == ["If the disk is full"]
    restart = step_running(plan, ["systemctl", "restart", "app"])
    assert "If the disk is full" not in guards_of(plan, restart)


# -- MyST directives -------------------------------------------------------------------------


def test_a_myst_code_block_runs_its_commands_and_not_its_options():
    # "```{code-block} bash" over ":caption: queue length": a block of an unknown language,
    # its first command silently dropped
    plan = compile_file("myst-sphinx.md")
    assert [["celery", "-A", "app", "inspect", "active", "--timeout", "10"]] in pipelines(plan)
    assert not any(":caption:" in str(s.params) or ":linenos:" in str(s.params)
                   for s in plan.steps)


def test_a_myst_admonition_titled_with_a_condition_guards_its_body():
    # ":::{admonition} If the workers crash on start" ... ":::": the rollback ran after every
    # restart
    plan = compile_file("myst-sphinx.md")
    logs = step_running(plan, ["kubectl", "-n", "jobs", "logs", "deploy/celery-worker",
                               "--tail=50"])
    rollback = step_running(plan, ["helm", "-n", "jobs", "rollback", "celery-worker"])
    assert guards_of(plan, logs) == ["If the workers crash on start"]
    ids = [s.id for s in plan.steps]
    assert ids.index(logs) < ids.index(rollback) and gated(plan, rollback)
    assert [plan.step(e.source).id for _, e in plan.incoming(rollback)] == \
        [f"approve-{rollback}"]
    assert [e.source for _, e in plan.incoming(f"approve-{rollback}")] == [logs]
    text = ("## Fix\n\n```{warning}\nIf the disk is full, run `sudo journalctl "
            "--vacuum-size=1G`.\n```\n")
    plan = compile_text(text)
    vacuum = step_running(plan, ["sudo", "journalctl", "--vacuum-size=1G"])
    assert guards_of(plan, vacuum) == ["If the disk is full"]


def test_a_myst_note_is_prose_not_sample_output():
    text = (FIXTURES / "myst-sphinx.md").read_text()
    plan = compile_file("myst-sphinx.md")
    rows = [str(r) for r in explain(parse_guide(text, path="myst-sphinx.md"), plan, text)]
    assert not any("sample output" in r for r in rows)


# -- a robot controller's alarm guide -----------------------------------------------------------


def test_sections_titled_by_alarm_codes_are_each_for_their_alarm():
    # "## SRVO-050 Collision Detect alarm" then "## SRVO-062 BZAL alarm": after a collision
    # the run replaced the batteries and remastered axis 3
    plan = compile_file("fanuc-alarm.md")
    alarms = step_running(plan, ["fanucctl", "alarms", "--cell", "7", "--active"])
    remaster = step_running(plan, ["fanucctl", "master", "--cell", "7", "--axis", "3",
                                   "--quick"])
    auto = step_running(plan, ["fanucctl", "mode", "auto", "--cell", "7"])
    assert guards_of(plan, alarms) == ["SRVO-050 Collision Detect alarm (G:1 A:2)"]
    (battery,) = [s for s in plan.steps if (s.text or "").startswith("Replace the batteries")]
    assert guards_of(plan, battery.id) == ["SRVO-062 BZAL alarm (G:1 A:3)"]
    assert gated(plan, remaster)
    # production restarts after either
    assert "Otherwise (not: SRVO-062 BZAL alarm (G:1 A:3))" in guards_of(plan, auto)


def test_one_coded_section_or_numbered_sections_are_not_cases():
    for first, second in (("## SRVO-050 Collision detect", "## Restart production"),
                          ("## 1. Make safe", "## 2. Reset")):
        plan = compile_text(f"# Cell\n\n{first}\n\nReset it: `fanucctl reset --cell 7`\n\n"
                            f"{second}\n\nRun it: `fanucctl mode auto --cell 7`\n")
        assert all(guards_of(plan, s.id) == [] for s in runs(plan)), first
    plan = compile_text("# Drive faults\n\n## Alarm 2010: overcurrent\n\nReset: `drivectl "
                        "reset --axis 1`\n\n## Alarm 2011: overvoltage\n\nCheck: `drivectl "
                        "bus --axis 1`\n")
    assert guards_of(plan, step_running(plan, ["drivectl", "bus", "--axis", "1"])) == \
        ["Alarm 2011: overvoltage"]


def test_a_steps_title_may_say_how_fast_or_how_much():
    # "Jog the robot to home at 10% speed: `fanucctl jog ...`": a person's step
    plan = compile_file("fanuc-alarm.md")
    jog = step_running(plan, ["fanucctl", "jog", "--cell", "7", "--to", "home",
                              "--override", "10"])
    assert gated(plan, jog)
    assert [["fanucctl", "cycle", "--cell", "7", "--override", "50", "--count", "1"]] in \
        pipelines(plan)


# -- "stop here" --------------------------------------------------------------------------------


def test_a_guard_that_says_stop_here_ends_the_run():
    # "If the queue length is below 1000, the backlog drains on its own; stop here.": a
    # condition with nothing to guard, the restart after it ran whatever the queue's length
    plan = compile_file("myst-sphinx.md")
    (end,) = [e for e in ends_with(plan, "no_action") if "stop here" in (e.text or "")]
    assert guards_of(plan, end.id) == ["If the queue length is below 1000"]
    plan = compile_text("## Fix\n\nRestart it: `systemctl restart app`\n\nIf the site answers "
                        "again, you are done.\n\nRestart the database: `systemctl restart db`\n")
    (end,) = [e for e in ends_with(plan, "resolved") if "you are done" in (e.text or "")]
    assert guards_of(plan, end.id) == ["If the site answers again"]
    db = step_running(plan, ["systemctl", "restart", "db"])
    assert guards_of(plan, db) == ["Otherwise (not: If the site answers again)"]


def test_stop_here_and_something_else_is_not_the_runs_end():
    plan = compile_text("## Fix\n\nRestart it: `systemctl restart app`\n\nIf the site is down, "
                        "stop here and ask the DBA.\n")
    assert not any("stop here" in (e.text or "") for e in plan.steps if e.kind == StepKind.END)


# -- a decision tree of numbered bold questions ----------------------------------------------


def test_a_numbered_question_branches_on_its_answers_after_the_check_that_answers_it():
    # "**Is the queue draining now?**" / "Check again: `x`" / "Yes: the alert is resolved. No:
    # escalate ...": read as "a question, then what to do" ("Still high? Escalate."), the run
    # escalated when the answer was yes and ended resolved when it was no
    plan = compile_file("bold-questions.md")
    (resolved,) = [e for e in ends_with(plan, "resolved") if "Yes:" in (e.text or "")]
    (escalated,) = [e for e in ends_with(plan, "escalate") if "messaging" in (e.text or "")]
    assert guards_of(plan, resolved.id) == ["Is the queue draining now?"]
    assert guards_of(plan, escalated.id) == ["Otherwise (no: Is the queue draining now?)"]
    check = step_running(plan, ["rabbitmqctl", "list_queues", "-p", "orders", "name",
                                "messages"])
    ids = [s.id for s in plan.steps]
    assert ids.index(check) < ids.index(resolved.id)


def test_yes_and_no_go_to_a_number_jump_to_that_item():
    # "Yes: go to 2. No: go to 5.": people's steps, and every item ran one after another
    plan = compile_file("bold-questions.md")
    restart = step_running(plan, ["kubectl", "-n", "orders", "rollout", "restart",
                                  "deploy/order-consumer"])
    undo = step_running(plan, ["kubectl", "-n", "orders", "rollout", "undo",
                               "deploy/order-consumer"])
    assert "Otherwise (no: Are there consumers attached?)" in guards_of(plan, restart)
    assert guards_of(plan, undo) == ["Are the consumers erroring?"]
    drain = step_running(plan, ["rabbitmqctl", "list_queues", "-p", "orders", "name",
                                "messages"])
    assert "Otherwise (no: Is the queue growing?)" in guards_of(plan, drain)
    plan = compile_text("## Fix\n\n1. Is the disk full? Yes: go to 3. No: go to 2.\n"
                        "2. Check the app: `systemctl status app`\n"
                        "3. Clean up: `sudo journalctl --vacuum-size=1G`\n")
    vacuum = step_running(plan, ["sudo", "journalctl", "--vacuum-size=1G"])
    assert "Is the disk full?" in guards_of(plan, vacuum)


def test_a_number_with_words_after_it_is_not_a_jump():
    plan = compile_text("## Fix\n\n1. Scale it back: `kubectl scale deploy/app --replicas=3`"
                        ", then go to 3 replicas on the other cluster.\n"
                        "2. Check: `kubectl get pods`\n3. Done: `df -h /`\n")
    assert [["kubectl", "get", "pods"]] in pipelines(plan)
    ids = [s.id for s in plan.steps]
    pods = step_running(plan, ["kubectl", "get", "pods"])
    assert ids.index(pods) < ids.index(step_running(plan, ["df", "-h", "/"]))
    assert guards_of(plan, pods) == []


# -- every new style, whole ------------------------------------------------------------------


def test_every_new_style_gates_its_changes_and_accounts_for_every_line():
    assert_gated_and_accounted(NEW)
