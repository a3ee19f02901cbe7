"""Guide styles the earlier style passes had no fixture for (tests/fixtures/styles): decision
trees answered "**Yes** → ... **No** → ...", `make`/`just` targets and `kubectx` named in
prose, commands pasted from a chat or a terminal into a quote at a `$ ` prompt, runbooks
written in German, Spanish or French, Runme notebooks, FAQ runbooks, and deeply nested
sub-steps."""

from __future__ import annotations

from engine.plan import StepKind
from tests.support.compiling import (
    assert_gated_and_accounted,
    assert_if_otherwise_guard_their_blocks,
    compile_text,
    gated,
    guards_of,
    manual_scripts,
    pipelines,
    runs,
    step_running,
)
from tests.support.compiling import compile_style as compile_file

NEW = ("runme-notebook.md", "check-table-decision-tree.md", "faq-runbook.md",
       "nested-substeps.md", "german-runbook.md", "chat-blockquote-make.md", "spanish-runbook.md")


# -- decision trees ------------------------------------------------------------------------------


def test_yes_and_no_after_a_question_are_its_two_branches():
    # "Is the lag still growing? **Yes** → run `scale`. **No** → go to Scale down.": the scale
    # ran whatever the answer, and the jump to Scale down was taken on "Yes"
    plan = compile_file("check-table-decision-tree.md")
    up = step_running(plan, ["kubectl", "-n", "billing", "scale", "deploy/billing-writer",
                             "--replicas=8"])
    assert guards_of(plan, up) == ["Is the lag still growing after five minutes?"]
    assert gated(plan, up)
    down = step_running(plan, ["kubectl", "-n", "billing", "scale", "deploy/billing-writer",
                               "--replicas=4"])
    assert "Otherwise (no: Is the lag still growing after five minutes?)" in \
        guards_of(plan, down)
    assert not any(g.startswith("Is the lag") for g in guards_of(plan, down))


def test_yes_and_no_items_under_a_question_item_branch_on_it():
    # "- Are any pods in CrashLoopBackOff?" over "- **Yes** → `kubectl rollout restart ...`":
    # the restart was a person's step joined after the item before it, the question lost
    plan = compile_file("check-table-decision-tree.md")
    restart = step_running(plan, ["kubectl", "-n", "billing", "rollout", "restart",
                                  "deploy/billing-writer"])
    assert guards_of(plan, restart) == ["Are any consumer pods in `CrashLoopBackOff`?"]
    assert gated(plan, restart)
    plan = compile_text("## Fix\n\n- Is the disk full?\n  - Yes: `sudo journalctl --vacuum-size=1G`"
                        "\n  - No: `df -h /`\n")
    vacuum = step_running(plan, ["sudo", "journalctl", "--vacuum-size=1G"])
    assert guards_of(plan, vacuum) == ["Is the disk full?"]
    assert guards_of(plan, step_running(plan, ["df", "-h", "/"])) == \
        ["Otherwise (no: Is the disk full?)"]


def test_a_question_with_no_answers_guards_nothing():
    plan = compile_text("## Check\n\nIs the pod running? Run `kubectl get pods -n web`.\n")
    assert guards_of(plan, step_running(plan, ["kubectl", "get", "pods", "-n", "web"])) == []


# -- FAQ runbooks ---------------------------------------------------------------------------------


def test_an_faq_question_guards_its_answer_up_to_the_next_question():
    # "**Q:** Jobs stuck in pending?" / "**A:** Check the runner pods": the questions were
    # context, so every answer ran one after another, and the next question's answer sat in
    # the "Otherwise" of an If the answer before it opened
    plan = compile_file("faq-runbook.md")
    pods = step_running(plan, ["kubectl", "-n", "ci", "get", "pods", "-l", "app=gitlab-runner"])
    assert guards_of(plan, pods) == ["Jobs are stuck in `pending` and no runner picks them up?"]
    nodes = step_running(plan, ["kubectl", "-n", "ci", "describe", "nodes", "-l", "pool=ci"])
    assert guards_of(plan, nodes) == ["Pods stuck `Pending` with `Insufficient cpu`?"]
    resize = [s.id for s in runs(plan) if "resize" in str(s.params)]
    assert guards_of(plan, resize[0]) == ["If the pool is at its max size"]
    plan = compile_text("## Fix\n\nQ: Disk full?\nA: Clean it:\n\n```bash\nsudo rm -rf /tmp/x\n"
                        "```\n\n## Next\n\nRun `uptime`.\n")
    assert guards_of(plan, step_running(plan, ["sudo", "rm", "-rf", "/tmp/x"])) == \
        ["Disk full?"]
    assert "Disk full?" not in guards_of(plan, step_running(plan, ["uptime"]))
    plan = compile_text("## Fix\n\nQ: Disk I/O errors in dmesg?\nA: Check it: `dmesg -T`\n")
    assert guards_of(plan, step_running(plan, ["dmesg", "-T"])) == \
        ["Disk I/O errors in dmesg?"]


def test_an_faq_how_to_question_is_not_a_case():
    plan = compile_file("faq-runbook.md")
    (report,) = [s.id for s in runs(plan) if "gitlab-rails" in str(s.params)]
    assert gated(plan, report)
    assert not any(g.startswith("How do I") for g in guards_of(plan, report))
    plan = compile_text("## Fix\n\nQ: Do we keep old indexes?\nA: Yes, list them:\n\n"
                        "```bash\ncurl -s localhost:9200/_cat/indices\n```\n")
    assert guards_of(plan, step_running(plan, ["curl", "-s", "localhost:9200/_cat/indices"])) \
        == []


# -- task runners and context switches named in prose --------------------------------------------


def test_make_and_just_targets_in_a_sentence_are_gated_commands():
    # "Run `make drain NODE=worker-14` from the repo root": the sentence was context for a
    # reader, the drain silently lost
    plan = compile_file("chat-blockquote-make.md")
    for argv in (["make", "drain", "NODE=worker-14"], ["just", "patch-kernel", "worker-14"],
                 ["just", "reboot", "worker-14"], ["make", "uncordon", "NODE=worker-14"]):
        assert gated(plan, step_running(plan, argv)), argv


def test_kubectx_named_in_a_sentence_is_kept_and_gated():
    plan = compile_file("runme-notebook.md")
    assert gated(plan, step_running(plan, ["kubectx", "prod-eu-1"]))


# -- commands pasted at a prompt without a fence -------------------------------------------------


def test_prompted_lines_in_a_quote_run_and_their_output_does_not():
    # "> first check nothing is pinned to the node:" / "> $ kubectl get pods ..." / "> NAMESPACE
    # ...": the whole quote was context for a reader
    plan = compile_file("chat-blockquote-make.md")
    assert [["kubectl", "get", "pods", "-A", "--field-selector", "spec.nodeName=worker-14", "-o",
             "wide"]] in pipelines(plan)
    assert [["kubectl", "get", "pdb", "-A"]] in pipelines(plan)
    assert not any("NAMESPACE" in str(s.params) or "api-7d9f8" in str(s.params)
                   for s in plan.steps)
    plan = compile_text("## Fix\n\n> from the thread:\n> $ sudo systemctl restart nginx\n> done\n")
    restart = step_running(plan, ["sudo", "systemctl", "restart", "nginx"])
    assert gated(plan, restart)


def test_a_dollar_amount_in_prose_is_not_a_prompt():
    plan = compile_text("## Cost\n\nThe cluster costs\n$ 400 a month.\n")
    assert runs(plan) == []


def test_commands_under_an_item_indented_too_little_for_a_block_are_one():
    # "4. Recreate it and clear the flags." over lines indented 6 spaces (3 under the item's
    # text: a paragraph, not a code block): one person's step whose text ran the lines
    # together, so the `# raw mode ...` comment swallowed the commands after it
    plan = compile_file("nested-substeps.md")
    add = step_running(plan, ["ceph", "orch", "daemon", "add", "osd", "storage-07:/dev/sdf",
                              "--method", "raw"])
    unset = step_running(plan, ["ceph", "osd", "unset", "noout"])
    assert gated(plan, add) and gated(plan, unset)
    assert not any("ceph orch" in s for s in manual_scripts(plan))
    assert not any(s.kind == StepKind.MANUAL and "ceph orch" in (s.text or "") for s in plan.steps)


def test_prose_lines_that_start_with_a_tool_name_are_not_a_block():
    plan = compile_text("## Fix\n\n1. Look at the service first.\n   service discovery may lag,"
                        " so wait:\n   make sure the page loads.\n")
    assert runs(plan) == []
    plan = compile_text("## Fix\n\nThe cache fills up.\nfind the largest files first.\n")
    assert runs(plan) == []


def test_stop_here_and_page_the_on_call_ends_the_branch():
    # "c. If `ceph -s` shows PGs `inactive`, stop here and page storage on-call.": a person's
    # step, after which the removal ran on
    plan = compile_file("nested-substeps.md")
    ends = [s for s in plan.steps if s.kind == StepKind.END and
            "stop here and page storage on-call" in (s.text or "")]
    assert len(ends) == 1 and ends[0].outcome is not None and ends[0].outcome.value == "escalate"
    # (straight from the case, or after the person's step showing `ceph -s`, which is not
    # known to only read: the sub-steps a., b., c. are steps of their own)
    into = [e.source for _, e in plan.incoming(ends[0].id)]
    guarded = guards_of(plan, ends[0].id) or [g for s in into for g in guards_of(plan, s)]
    assert guarded == ["If `ceph -s` shows PGs `inactive`"]


# -- runbooks in other languages -----------------------------------------------------------------


def test_a_german_runbook_keeps_its_if_and_otherwise():
    # "Wenn die Platte voll ist:" / "Andernfalls die Replik neu starten:": both changes ran
    # one after the other, no guard
    plan = compile_file("german-runbook.md")
    clean = step_running(plan, ["kubectl", "-n", "datenbank", "exec", "pg-replica-2", "--",
                                "find", "/var/lib/postgresql/archive", "-mtime", "+3",
                                "-delete"])
    assert guards_of(plan, clean) == ["Wenn die Platte voll ist"]
    delete = step_running(plan, ["kubectl", "-n", "datenbank", "delete", "pod", "pg-replica-2"])
    assert guards_of(plan, delete) == ["Andernfalls die Replik neu starten"]
    assert gated(plan, clean) and gated(plan, delete)
    rebuild = [s.id for s in runs(plan) if "pg_basebackup" in str(s.params)]
    assert guards_of(plan, rebuild[0]) == ["Falls der Verzug danach weiter steigt"]


def test_spanish_and_french_if_and_otherwise_guard_their_blocks():
    for cond, other in (("Si el disco está lleno:", "De lo contrario, reinicia el pod:"),
                        ("Si le disque est plein :", "Sinon, redémarrez le pod :")):
        assert_if_otherwise_guard_their_blocks(cond, other)


def test_a_spanish_runbook_keeps_its_si_de_lo_contrario_and_cuando():
    plan = compile_file("spanish-runbook.md")
    restart = step_running(plan, ["kubectl", "-n", "pedidos", "rollout", "restart",
                                  "deployment/pedidos-worker"])
    scale = step_running(plan, ["kubectl", "-n", "pedidos", "scale", "deployment/pedidos-worker",
                                "--replicas=10"])
    purge = step_running(plan, ["kubectl", "-n", "mensajeria", "exec", "rabbitmq-0", "--",
                                "rabbitmqctl", "purge_queue", "pedidos.retry"])
    assert guards_of(plan, restart) == ["Si la cola no tiene consumidores"]
    assert guards_of(plan, scale) == ["De lo contrario"]
    assert guards_of(plan, purge) == ["Cuando la cola supere el millón de mensajes"]
    assert gated(plan, restart) and gated(plan, scale) and gated(plan, purge)


def test_english_words_that_start_like_foreign_guards_are_not_guards():
    plan = compile_text("## Fix\n\nSince the deploy, restart it:\n\n```bash\n"
                        "kubectl -n web rollout restart deploy/web\n```\n\n"
                        "Sonstige Hinweise stehen im Wiki.\n")
    restart = step_running(plan, ["kubectl", "-n", "web", "rollout", "restart", "deploy/web"])
    assert guards_of(plan, restart) == []


# -- every new style, whole ----------------------------------------------------------------------


def test_every_new_style_gates_its_changes_and_accounts_for_every_line():
    assert_gated_and_accounted(NEW)


def test_sample_output_in_the_new_styles_is_never_run():
    for name, sample in (("runme-notebook.md", "goroutine"), ("nested-substeps.md", "HEALTH_OK"),
                         ("check-table-decision-tree.md", "LOG-END-OFFSET")):
        plan = compile_file(name)
        assert not any(sample in str(s.params) for s in runs(plan)), name
        assert not any(sample in script for script in manual_scripts(plan)), name
    assert all(s.kind != StepKind.COMMAND or s.params.get("pipeline") for s in
               compile_file("faq-runbook.md").steps if s.kind == StepKind.COMMAND and
               "script" not in s.params)
