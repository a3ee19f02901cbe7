"""Runbook styles the earlier sweeps did not try: an ABB IRC5 cell over Robot Web Services,
a Universal Robots cell over its Dashboard Server, an intranet page of HTML headings, MkDocs
Material tabs and admonitions, a Docusaurus caution over a command, Hugo shortcodes, Jekyll's
Liquid tags, a notebook exported by nbconvert, a French runbook, hand-overs to another team
(tests/fixtures/styles16 holds the guides tried). Each test is one rule a guide author would
recognise."""

from __future__ import annotations

from pathlib import Path

from engine.plan import StepKind
from tests.support.compiling import (
    assert_gated_and_accounted,
    compile_text,
    gated,
    guards_of,
    runs,
)

STYLES16 = Path(__file__).resolve().parents[2] / "fixtures" / "styles16"


def _running(plan, *words: str):  # noqa: ANN001, ANN202
    """The one command step whose pipeline's text holds all of `words`."""
    (step,) = [s for s in runs(plan)
               if all(w in " ".join(" ".join(a) for a in s.params["pipeline"]) for w in words)]
    return step


def test_each_styles16_guide_compiles_gated_and_accounted_for():
    assert_gated_and_accounted(folder=STYLES16, at_least=10)


# -- a numbered heading ---------------------------------------------------------------------------

def test_a_numbered_headings_words_name_its_steps():
    # "## 1. Check the webhook queue": the title of its steps was "1" (the number read as a
    # sentence of its own), so `--explain`, the approvals and the report said "Approve: 1"
    plan = compile_text("# Webhooks\n\n## 1. Check the webhook queue\n\n```bash\n"
                        "kubectl -n p get pods\n```\n\n## 2. Restart the workers\n\n```bash\n"
                        "kubectl -n p rollout restart deploy/w\n```\n")
    assert _running(plan, "get pods").title == "1. Check the webhook queue"
    restart = _running(plan, "rollout restart")
    assert restart.title == "2. Restart the workers"
    assert plan.step(next(e.source for _, e in plan.incoming(restart.id))).title == \
        "Approve: 2. Restart the workers"
