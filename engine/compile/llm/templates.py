"""Query templates with typed parameters: each step's params rendered with sample values.

The LLM turns a guide's code block into a Jinja2 template whose varying values (namespace, host,
time range) are declared plan inputs with a type, a default, and whether they are required.
This module checks such a template the way it will run: it renders every string in the step's
params in the sandbox (`engine.templating`) from sample memory (each input's default,
or a sample of its type; "1" for anything an earlier step writes), then validates the result
with the target plugin's own `Params` model (`engine.plugins.parse_params`). A template that
does not render, or renders to parameters the plugin refuses, is a `Problem` for the repair
loop. It does not check which names exist (the validator does) or where a command came from
(`engine.compile.llm.grounding`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, TypedDict

from engine import values
from engine.compile.validate import Problem
from engine.errors import MendflowError
from engine.plan import InputSpec, Plan, Step
from engine.plugins import Registry, default_registry, parse_params
from engine.templating import references, render_value, strings_in

SAMPLE_BY_TYPE: dict[str, Any] = {"name": "sample", "string": "sample", "integer": 1,
                                  "number": 1.5, "boolean": True, "path": "/tmp/sample",
                                  "duration": "5m", "regex": "sample", "text": "sample text",
                                  "url": "http://127.0.0.1/sample"}
_SAMPLE_RESULT = "1"  # parses as text, a number, and a line
# An input written into PromQL through `promql('duration')` (or 'offset', 'number') stands for
# a duration (a number), whatever its declared type: its sample is one, so that a `name` input
# used as a range (`[{{ inputs.rate_interval | promql('duration') }}]`) renders.
_PROMQL_USE = re.compile(r"inputs\.(\w+)\)?\s*\|\s*promql\(\s*['\"](\w+)['\"]")
SAMPLE_BY_PROMQL_KIND: dict[str, Any] = {"duration": "5m", "offset": "5m", "number": 1}


def sample_memory(plan: Plan, step: Step) -> dict[str, Any]:
    """Memory in which every name `step`'s params read has a plausible value."""
    memory: dict[str, Any] = {"inputs": {}, "vars": {}, "steps": {},
                              "alert": {"labels": {}, "annotations": {}}, "run": {"id": "r1"}}
    for spec in plan.inputs:
        memory["inputs"][spec.name] = sample_value(spec)
    for text in strings_in(step.params):
        for name, kind in _PROMQL_USE.findall(text):
            used = next((i for i in plan.inputs if i.name == name), None)
            if used is not None and used.default is None and kind in SAMPLE_BY_PROMQL_KIND \
                    and _fits_type(used, SAMPLE_BY_PROMQL_KIND[kind]):
                memory["inputs"][name] = SAMPLE_BY_PROMQL_KIND[kind]
        try:
            refs = references(text)
        except MendflowError:
            continue  # the validator reports the syntax error
        for ref in refs:
            parts = ref.split(".")
            if parts[0] not in ("vars", "steps", "alert") or len(parts) < 2:
                continue
            node = memory
            for key in parts[:-1]:
                nxt = node.get(key)
                if not isinstance(nxt, dict):
                    nxt = node[key] = {}
                node = nxt
            node.setdefault(parts[-1], _SAMPLE_RESULT)
    return memory


def sample_value(spec: InputSpec) -> Any:
    if spec.default is not None:
        return spec.default
    return spec.choices[0] if spec.type == "enum" else SAMPLE_BY_TYPE[spec.type]


def check_templates(plan: Plan, *, registry: Registry | None = None) -> list[Problem]:
    return list(_check(plan, registry or default_registry()))


class _Where(TypedDict):
    file: str | None
    line: int
    step: str


def _check(plan: Plan, registry: Registry) -> Iterator[Problem]:
    file = plan.source.path
    for spec in plan.inputs:
        if not spec.required and spec.default is None:
            yield Problem("input", f"input {spec.name!r} is optional but has no default",
                          "Give it a default, or make it required", file=file)
        if spec.default is not None and not _fits(spec):
            yield Problem("input", f"input {spec.name!r} default {spec.default!r} is not a "
                          f"{spec.type}", "Make the default match the declared type", file=file)
    for s in plan.steps:
        if s.plugin is None or s.plugin not in registry:
            continue  # no plugin, or an unknown one: the validator says so
        where: _Where = {"file": file, "line": s.source.start, "step": s.id}
        try:
            rendered = render_value(s.params, sample_memory(plan, s))
        except MendflowError as exc:
            yield Problem("template", f"params do not render with sample values: "
                          f"{exc.message}", "Fix the template; declare each parameter it "
                          "uses as an input", **where)
            continue
        try:
            parse_params(registry.get(s.plugin), rendered, step=s.id)
        except MendflowError as exc:
            yield Problem("params", f"{exc.message} (after rendering with sample values)",
                          f"Give the {s.plugin} plugin the parameters its schema declares",
                          **where)


def _fits(spec: InputSpec) -> bool:
    return _fits_type(spec, spec.default)


def _fits_type(spec: InputSpec, value: Any) -> bool:
    try:
        values.check(spec.type, value, choices=spec.choices)
    except values.ValueRejected:
        return False
    return True
