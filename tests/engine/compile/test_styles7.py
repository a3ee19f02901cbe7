"""Guide styles the earlier style passes had no fixture for (tests/fixtures/styles): MyST
(Sphinx's Markdown) directives, AsciiDoc listings pasted into Markdown, runbooks in Russian or
Korean ("Если ... / Иначе", "만약 ... / 그렇지 않으면"), a robot controller's alarm-code
guide and a decision tree written as numbered bold questions."""

from __future__ import annotations

from engine.compile.explain import explain
from engine.guide import parse_guide
from engine.plan import StepKind
from tests.support.compiling import STYLES as FIXTURES
from tests.support.compiling import (
    assert_gated_and_accounted,
    assert_if_otherwise_guard_their_blocks,
    compile_text,
    gated,
    guards_of,
    pipelines,
    runs,
    step_running,
)
from tests.support.compiling import compile_style as compile_file

NEW = ("myst-sphinx.md", "asciidoc-listing.md", "russian-runbook.md", "korean-runbook.md")


def _ends(plan, outcome: str) -> list:
    return [s for s in plan.steps if s.kind == StepKind.END and s.outcome is not None and
            s.outcome.value == outcome]


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
    (end,) = [e for e in _ends(plan, "escalate") if "эскалируйте" in (e.text or "")]
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
    (end,) = [e for e in _ends(plan, "escalate") if "에스컬레이션" in (e.text or "")]
    assert guards_of(plan, end.id) == ["만약 10분 후에도 지연이 계속되면"]
    assert "인시던트를 종료" not in (end.text or "")


def test_escalate_in_the_runbooks_language_ends_the_run_escalated():
    for sentence in ("Wenn der Fehler bleibt, an das DB-Team eskalieren.",
                     "Если ошибка повторяется, эскалируйте дежурному.",
                     "もしエラーが続く場合は、DBチームにエスカレーションする。"):
        plan = compile_text(f"## Fix\n\nRestart it: `systemctl restart app`\n\n{sentence}\n")
        assert any(guards_of(plan, e.id) for e in _ends(plan, "escalate")), sentence


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


# -- every new style, whole ------------------------------------------------------------------


def test_every_new_style_gates_its_changes_and_accounts_for_every_line():
    assert_gated_and_accounted(NEW)
