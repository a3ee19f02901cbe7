"""Fuzzing the compiler, the linter and the eval scorer with mutated real runbooks.

Every guide a person (or an attacker) can write must get an answer: a plan, findings, a
score, or one `MendflowError` naming the guide and a line. Anything else (a `CompilerBug`, a
pydantic or recursion error, a multi-line message) fails. The run is bounded for CI: a fixed
number of examples and a per-example deadline generous enough for a 2-core machine shared with
other work; `MENDFLOW_FUZZ_EXAMPLES=3600` explores as far as the issue's fuzzer did.
"""

from __future__ import annotations

import os
from datetime import timedelta

from hypothesis import HealthCheck, given, settings

from engine.compile import compile_guide
from engine.compile.eval import score_plan
from engine.compile.lint import lint_guide
from engine.guide import parse_guide
from tests.engine.compile.guide_mutations import assert_located, mutated_guides, seed_paths

PLUGINS = {"shell", "bash", "prometheus", "sql", "http", "logs", "opcua"}
EXAMPLES = int(os.environ.get("MENDFLOW_FUZZ_EXAMPLES", "150"))
SEEDS = seed_paths()


@settings(max_examples=EXAMPLES, deadline=timedelta(seconds=5), database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(text=mutated_guides(SEEDS))
def test_any_guide_compiles_lints_and_scores_or_fails_located(text: str) -> None:
    try:
        guide = parse_guide(text, path="fuzz.md")
    except Exception as exc:  # noqa: BLE001 - the property is about every exception
        assert_located(exc, "fuzz.md")
        return
    findings = lint_guide(guide)  # the linter never raises
    assert all(f.file == "fuzz.md" and f.line >= 1 for f in findings)
    try:
        plan = compile_guide(guide, known_plugins=PLUGINS)
    except Exception as exc:  # noqa: BLE001
        assert_located(exc, "fuzz.md")
        return
    lint_guide(guide, plan=plan)
    score = score_plan(guide, plan, known_plugins=PLUGINS)
    assert score.gates["valid"]
    plan.to_json()
