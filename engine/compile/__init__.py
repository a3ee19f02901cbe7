"""Guides -> validated plans: the public entry points of the compilers.

`compile_guide` runs the structural compiler (`engine.compile.structural`) and validation
(`engine.compile.validate`); `compile_many` compiles a batch where one bad file never stops the
rest. Every failure is a `MendflowError` with a location; an unexpected exception inside the
compiler is reported as `CompilerBug` (a `PlanError`) naming the guide, never as a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from engine.compile.calls import Frame, bundle_calls
from engine.compile.credentials import without_credentials
from engine.compile.graph import to_dot, to_mermaid
from engine.compile.stepsettings import apply_step_settings
from engine.compile.structural import COMPILER, compile_structural
from engine.compile.validate import Problem, check_plan, parallel_groups, validate_plan
from engine.errors import GuideError, MendflowError, PlanError
from engine.files import markdown_under
from engine.guide import Guide, collector_paused, load_guide
from engine.plan import Plan

__all__ = [
    "COMPILER", "CompileResult", "CompilerBug", "Problem", "check_plan", "compile_guide",
    "compile_many", "compile_path", "parallel_groups", "to_dot", "to_mermaid", "validate_plan",
]


class CompilerBug(PlanError):
    """The compiler failed on a guide in a way it should not: a bug to report, with the file."""


def compile_guide(guide: Guide, *, known_plugins: set[str] | None = None) -> Plan:
    """Compile and validate; raises the first problem as `ValidationError`. The guides its
    call steps link to are compiled into the plan (`engine.compile.calls`)."""
    return _compile(guide, known_plugins, ())


def _compile(guide: Guide, known_plugins: set[str] | None, stack: tuple[Frame, ...]) -> Plan:
    def child(path: str, chain: tuple[Frame, ...]) -> Plan:
        return _compile(load_guide(path), known_plugins, chain)

    try:
        with collector_paused():
            plan = bundle_calls(apply_step_settings(compile_structural(guide), guide), guide,
                                stack=stack, compile_child=child)
            return validate_plan(without_credentials(plan, guide), known_plugins=known_plugins)
    except MendflowError:
        raise
    except Exception as exc:  # translate at the boundary: a located report, not a traceback
        raise _bug(exc, guide.path) from exc


def _bug(exc: Exception, path: str) -> CompilerBug:
    first = str(exc).splitlines()[0] if str(exc) else ""
    return CompilerBug(f"the compiler failed: {type(exc).__name__}: {first}", file=path, line=1,
                       hint="Please report this guide as a compiler bug")


def compile_path(path: str | Path, **kw: object) -> Plan:
    with collector_paused():
        return compile_guide(load_guide(path), **kw)  # type: ignore[arg-type]


@dataclass(frozen=True)
class CompileResult:
    path: str
    plan: Plan | None = None
    error: MendflowError | None = None

    @property
    def ok(self) -> bool:
        return self.plan is not None


def compile_many(paths: Iterable[str | Path], *,
                 known_plugins: set[str] | None = None) -> list[CompileResult]:
    """Compile each guide (a directory means every *.md under it, sorted); one result each."""
    results: list[CompileResult] = []
    for path in _expand(paths):
        try:
            plan = compile_path(path, known_plugins=known_plugins)
        except MendflowError as exc:
            results.append(CompileResult(path.as_posix(), error=exc))
        except Exception as exc:  # load_guide's own bugs: still one result, never a traceback
            results.append(CompileResult(path.as_posix(), error=_bug(exc, path.as_posix())))
        else:
            results.append(CompileResult(path.as_posix(), plan=plan))
    return results


def _expand(paths: Iterable[str | Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        out.extend(markdown_under(p, error=GuideError) if p.is_dir() else [p])
    return out
