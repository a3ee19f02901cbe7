"""Guide styles the earlier style passes had no fixture for (tests/fixtures/styles): decision
trees answered "**Yes** → ... **No** → ...", FAQ runbooks, and runbooks written in German,
Spanish or French."""

from __future__ import annotations

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
    runs,
    step_running,
)

NEW = ("check-table-decision-tree.md", "faq-runbook.md", "german-runbook.md")


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


def test_an_faq_how_to_question_is_not_a_case():
    plan = compile_file("faq-runbook.md")
    (report,) = [s.id for s in runs(plan) if "gitlab-rails" in str(s.params)]
    assert gated(plan, report)
    assert not any(g.startswith("How do I") for g in guards_of(plan, report))
    plan = compile_text("## Fix\n\nQ: Do we keep old indexes?\nA: Yes, list them:\n\n"
                        "```bash\ncurl -s localhost:9200/_cat/indices\n```\n")
    assert guards_of(plan, step_running(plan, ["curl", "-s", "localhost:9200/_cat/indices"])) \
        == []


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
        plan = compile_text(f"## Fix\n\n{cond}\n\n```bash\nsudo rm -rf /var/cache/app\n```\n\n"
                            f"{other}\n\n```bash\nkubectl -n web delete pod web-0\n```\n")
        clean = step_running(plan, ["sudo", "rm", "-rf", "/var/cache/app"])
        delete = step_running(plan, ["kubectl", "-n", "web", "delete", "pod", "web-0"])
        assert guards_of(plan, clean) == [cond.rstrip(" :")], cond
        assert len(guards_of(plan, delete)) == 1 and guards_of(plan, delete) != \
            guards_of(plan, clean), other


def test_english_words_that_start_like_foreign_guards_are_not_guards():
    plan = compile_text("## Fix\n\nSince the deploy, restart it:\n\n```bash\n"
                        "kubectl -n web rollout restart deploy/web\n```\n\n"
                        "Sonstige Hinweise stehen im Wiki.\n")
    restart = step_running(plan, ["kubectl", "-n", "web", "rollout", "restart", "deploy/web"])
    assert guards_of(plan, restart) == []


# -- every new style, whole ----------------------------------------------------------------------


def test_every_new_style_gates_its_changes_and_accounts_for_every_line():
    for name in NEW:
        path = FIXTURES / name
        text = path.read_text()
        plan = compile_file(name)
        assert all(gated(plan, s.id) for s in runs(plan) if s.mutating), name
        assert not unaccounted(text, explain(parse_guide(text, path=str(path)), plan, text)), name


def test_sample_output_in_the_new_styles_is_never_run():
    for name, sample in (("check-table-decision-tree.md", "LOG-END-OFFSET"),):
        plan = compile_file(name)
        assert not any(sample in str(s.params) for s in runs(plan)), name
        assert not any(sample in script for script in manual_scripts(plan)), name
    assert all(s.kind != StepKind.COMMAND or s.params.get("pipeline") for s in
               compile_file("faq-runbook.md").steps if s.kind == StepKind.COMMAND and
               "script" not in s.params)
