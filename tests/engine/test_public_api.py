"""The engine's public surface is pinned: a change to it is a decision, not an accident."""

from __future__ import annotations

import subprocess
import sys

import engine

EXPECTED = {
    "Answers", "Cancelled", "Condition", "ConditionError", "ConfigError", "Edge", "Guide",
    "GuideError", "InputError", "LocalExecutor", "MendflowError", "Outcome", "Plan", "PlanError",
    "PluginError", "Redactor", "Registry", "RunNotFound", "RunRecord", "SCHEMA_VERSION",
    "SchemaVersionError", "Settings", "Step", "StepContext", "StepFailed", "StepKind",
    "StepResult", "Store", "StoreError", "TemplateError", "ValidationError", "check_plan",
    "compile_guide", "compile_many", "compile_path", "default_registry", "lint_guide",
    "lint_path", "load_datasources", "load_guide", "load_settings", "open_store",
    "parse_guide", "plan_json_schema", "to_dot", "to_mermaid", "validate_plan",
}


def test_all_is_pinned() -> None:
    assert set(engine.__all__) == EXPECTED


def test_every_public_name_resolves() -> None:
    for name in engine.__all__:
        assert getattr(engine, name) is not None, name


def test_importing_errors_does_not_load_the_compiler_or_jinja() -> None:
    code = ("import sys, engine.errors; "
            "print(any(m in sys.modules for m in ('jinja2', 'networkx', 'markdown_it')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
