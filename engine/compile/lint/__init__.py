"""The guide linter's entry points: run every rule over a guide and report the findings.

This package owns running the rules (one module per category owns what they check), turning
a guide that cannot be parsed into a finding, ordering findings, and the text and JSON forms
`mendflow lint` prints. It never raises on a bad guide: a linter that crashes on the input it
exists to criticise is no help. It does not compile guides; a compiled `Plan` may be passed in
for the checks that need the step graph.
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.compile.lines import narrowest_steps
from engine.compile.lint import clarity, data, flow, queries, structure  # noqa: F401
from engine.compile.lint.base import CHECKS, RULES, Context, Finding, Rule
from engine.compile.lint.history import history_findings
from engine.errors import GuideError, MendflowError
from engine.guide import Element, Guide, collector_paused, load_guide
from engine.plan import Plan

__all__ = ["RULES", "Finding", "Rule", "exit_code", "format_json", "format_text",
           "history_findings", "lint_guide", "lint_path"]


def lint_guide(guide: Guide, *, plan: Plan | None = None) -> list[Finding]:
    """Every finding for `guide`, sorted by line then rule; with `plan`, steps are named."""
    with collector_paused():
        return _lint(guide, plan)


def _lint(guide: Guide, plan: Plan | None) -> list[Finding]:
    refused = None
    if plan is None:  # lint = compile: rules that read the plan read the one compile makes
        plan, refused = _compiled(guide)
    ctx = Context(guide=guide, plan=plan)
    step_at = _StepsByLine(plan)
    findings: list[Finding] = []
    for check in CHECKS:
        for rule_id, where, message, suggestion in check(ctx):
            line = where.span.start if isinstance(where, Element) else where
            rule = RULES[rule_id]
            findings.append(Finding(
                rule=rule_id, category=rule.category, severity=rule.severity, file=guide.path,
                line=line, message=message, suggestion=suggestion, step=step_at(line),
            ))
    # Lint = compile: what compile refuses comes first, at compile's line, with its fix.
    return ([refused] if refused else []) + sorted(set(findings), key=_order)


def _compiled(guide: Guide) -> tuple[Plan | None, Finding | None]:
    """The plan of `guide`, or the error compiling it stops at as an MF001 finding."""
    from engine.compile import compile_guide

    try:
        return compile_guide(guide), None
    except MendflowError as exc:
        where = exc.location
        return None, Finding(rule="MF001", category="structure", severity="error",
                             file=where.file or guide.path, line=where.line or 1,
                             message=f"the guide does not compile: {exc.message}",
                             suggestion=exc.hint or "Fix the guide so that it compiles",
                             step=where.step)


def lint_path(path: str | Path) -> list[Finding]:
    """Lint one guide file; a guide that cannot be read becomes one MF000 error finding."""
    try:
        guide = load_guide(path)
    except GuideError as exc:
        return [Finding(
            rule="MF000", category="structure", severity="error",
            file=exc.location.file or Path(path).as_posix(), line=exc.location.line or 1,
            message=exc.message, suggestion=exc.hint or "Fix the guide so it can be parsed",
        )]
    return lint_guide(guide)


def format_text(findings: list[Finding]) -> str:
    """One finding per two lines: `file:line: severity MF101 [clarity] message` + suggestion."""
    out = []
    for f in findings:
        step = f" [step {f.step}]" if f.step else ""
        out.append(f"{f.file}:{f.line}:{step} {f.severity} {f.rule} [{f.category}] {f.message}\n"
                   f"    suggestion: {f.suggestion}\n")
    return "".join(out)


def format_json(findings: list[Finding]) -> str:
    """A JSON array of findings; the same findings always give the same bytes."""
    rows = [f.model_dump(mode="json") for f in sorted(findings, key=_order)]
    return json.dumps(rows, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def exit_code(findings: list[Finding]) -> int:
    """1 if any finding is an error (the guide would not run as written), else 0."""
    return 1 if any(f.severity == "error" for f in findings) else 0


def _order(f: Finding) -> tuple[str, int, str, str]:
    return (f.file, f.line, f.rule, f.message)


class _StepsByLine:
    """The step a line belongs to: of the steps whose span holds it, the narrowest (then the
    first by id; `engine.compile.lines`)."""

    def __init__(self, plan: Plan | None) -> None:
        self.owner: dict[int, str] = {} if plan is None else {
            line: s.id for line, s in narrowest_steps(plan.steps).items()}

    def __call__(self, line: int) -> str | None:
        return self.owner.get(line)
