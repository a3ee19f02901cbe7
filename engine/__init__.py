"""Mendflow's engine: guides -> plans -> runs. This module is its public surface.

Names are imported lazily (PEP 562), so `import engine.errors` does not pay for the compiler,
the templating sandbox or the store; `from engine import compile_path` does.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS: dict[str, str] = {
    # errors
    "MendflowError": "engine.errors", "GuideError": "engine.errors",
    "PlanError": "engine.errors", "ValidationError": "engine.errors",
    "SchemaVersionError": "engine.errors", "TemplateError": "engine.errors",
    "ConditionError": "engine.errors", "PluginError": "engine.errors",
    "StepFailed": "engine.errors", "StoreError": "engine.errors",
    "RunNotFound": "engine.errors", "ConfigError": "engine.errors",
    "InputError": "engine.errors", "Cancelled": "engine.errors",
    # settings
    "Settings": "engine.settings", "load_settings": "engine.settings",
    # guides and plans
    "Guide": "engine.guide", "load_guide": "engine.guide", "parse_guide": "engine.guide",
    "Plan": "engine.plan", "Step": "engine.plan", "Edge": "engine.plan",
    "Condition": "engine.plan", "StepKind": "engine.plan", "Outcome": "engine.plan",
    "SCHEMA_VERSION": "engine.plan", "plan_json_schema": "engine.plan",
    # compiling and checking
    "compile_guide": "engine.compile", "compile_path": "engine.compile",
    "compile_many": "engine.compile", "check_plan": "engine.compile",
    "validate_plan": "engine.compile", "to_mermaid": "engine.compile",
    "to_dot": "engine.compile", "lint_guide": "engine.compile.lint",
    "lint_path": "engine.compile.lint",
    # running
    "LocalExecutor": "engine.runtime.executor", "Answers": "engine.interaction",
    "open_store": "engine.store", "Store": "engine.store", "RunRecord": "engine.store",
    # plugins and data sources
    "Registry": "engine.plugins", "StepContext": "engine.plugins",
    "StepResult": "engine.plugins", "default_registry": "engine.plugins",
    "load_datasources": "engine.datasources", "Redactor": "engine.datasources",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
