"""Commands about guides and plans: compile, lint, eval, graph, schema, plugins."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from engine.cli._app import _settings, app, err, out, write_out
from engine.errors import ExitCode, InputError, MendflowError
from engine.files import markdown_under
from engine.settings import Settings

if TYPE_CHECKING:
    from engine.plan import Plan

# -- compile, lint, graph, schema ----------------------------------------------------------------


def _guide_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += [x for x in markdown_under(p, error=InputError)
                      if x.name.lower() != "readme.md"]
        else:
            files.append(p)
    return files


@app.command()
def compile(
    guides: Annotated[list[Path], typer.Argument(help="Guide files or folders of guides.")],
    out_dir: Annotated[Optional[Path], typer.Option("--out", "-o",
                                                    help="Write plans to this folder.")] = None,
    stdout: Annotated[bool, typer.Option("--stdout", help="Print the plan JSON.")] = False,
    llm: Annotated[bool, typer.Option("--llm", help="Refine each plan with the LLM "
                                      "(MENDFLOW_LLM); writes GUIDE.llm.plan.json.")] = False,
    explain: Annotated[bool, typer.Option("--explain", help="Print, line range by line range, "
                                          "what each part of the guide became and why.")] = False,
) -> None:
    """Compile guides into plans (GUIDE.plan.json beside each guide, or in --out)."""
    from engine.compile import compile_many

    files = _guide_files(guides)
    if explain:
        _explain(files)
        return
    if llm:
        _compile_llm(files, out_dir, stdout)
        return
    results = compile_many(files)
    failed = 0
    for res in results:
        if res.plan is None:
            failed += 1
            err.print(f"[red]✘[/red] {escape(str(res.error))}", highlight=False, soft_wrap=True)
            continue
        if stdout:
            sys.stdout.write(res.plan.to_json())
            continue
        target = _plan_path(Path(res.path), out_dir)
        write_out(target, res.plan.to_json(), parents=True)
        n = len(res.plan.steps)
        out.print(f"[green]✔[/green] {res.path} -> {target} ({n} steps)", highlight=False)
    if len(results) > 1:
        out.print(f"{len(results) - failed} compiled, {failed} failed")
    if failed:
        raise typer.Exit(int(ExitCode.BAD_INPUT))


@contextlib.contextmanager
def _progress(what: str) -> Iterator[Callable[[int, int, Path], None] | None]:
    """A progress bar on stderr for a long walk over guides (`done/total guide`), gone when
    it ends; nothing when stderr is not a terminal (CI logs, pipes)."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(TextColumn(f"{what} {{task.fields[guide]}}"), BarColumn(),
                  MofNCompleteColumn(), console=err, transient=True) as bar:
        task = bar.add_task(what, total=None, guide="")

        def tell(done: int, total: int, guide: Path) -> None:
            bar.update(task, completed=done, total=total, guide=guide.name[:40])
        yield tell


def _explain(files: list[Path]) -> None:
    """Each guide's parts and what they became; writes no plan."""
    from engine.compile import compile_guide
    from engine.compile.explain import explain, format_rows
    from engine.guide import load_guide

    failed = 0
    for path in files:
        try:
            guide = load_guide(path)
            plan = compile_guide(guide)
        except MendflowError as exc:
            failed += 1
            err.print(f"[red]✘[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
            continue
        sys.stdout.write(f"{guide.path}: {len(plan.steps)} steps, {len(plan.ignored)} parts "
                         f"ignored\n")
        text = path.read_text(encoding="utf-8", errors="replace")
        sys.stdout.write(format_rows(explain(guide, plan, text)))
    if failed:
        raise typer.Exit(int(ExitCode.BAD_INPUT))


def _llm_setup(settings: Settings) -> tuple[Any, Any, Any]:
    """(spec, chat model, compile cache) for MENDFLOW_LLM; a clear error if unusable."""
    from engine.compile.cache import PlanCache
    from engine.compile.llm import chat_model_from_settings

    spec, model = chat_model_from_settings(settings.llm, timeout_s=settings.llm_timeout_s,
                                           attempts=settings.llm_attempts,
                                           record_dir=settings.llm_record)
    return spec, model, PlanCache(settings.data_dir / "plans")


def _fresh_llm_plan(guide: Any, spec: Any, model: Any, spent: list[Any] | None = None) -> Any:
    """A fresh LLM plan; what it cost (failed attempts included) is said and, given `spent`,
    appended to it for the run's accounting."""
    from engine.compile.llm import LlmError, LlmOptions, compile_with_llm

    try:
        result = compile_with_llm(guide, model=model, model_label=spec.label,
                                  options=LlmOptions(context_tokens=spec.context_tokens))
    except LlmError as exc:
        if exc.usage is not None and exc.usage.calls:
            err.print(f"{guide.path}: {spec.label}, {exc.usage.describe()} (no plan)",
                      highlight=False)
            if spent is not None:
                spent.append(exc.usage)
        raise
    for note in result.notes:
        err.print(f"[yellow]note:[/yellow] {escape(note)}", highlight=False)
    err.print(f"{guide.path}: {spec.label}, {result.attempts} attempt(s), "
              f"{result.usage.describe()}", highlight=False)
    if spent is not None:
        spent.append(result.usage)
    return result.plan


def _compile_llm(files: list[Path], out_dir: Path | None, stdout: bool) -> None:
    from engine.compile import compile_guide
    from engine.compile.cache import choose_plan, llm_plan_path
    from engine.compile.llm import compiler_name
    from engine.guide import load_guide

    settings = _settings()
    spec, model, cache = _llm_setup(settings)
    failed = 0
    for path in files:
        try:
            guide = load_guide(path)
            base = compile_guide(guide)
        except MendflowError as exc:
            failed += 1
            err.print(f"[red]✘[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
            continue
        # choose_plan calls these before it returns: they see this iteration's guide and base
        choice = choose_plan(guide, structural=lambda: base, cache=cache,
                             compiler=compiler_name(spec.label),
                             fresh=lambda: _fresh_llm_plan(guide, spec, model))
        if choice.origin == "structural":
            failed += 1
            err.print(f"[red]✘[/red] {path}: {escape(choice.note)}", highlight=False,
                      soft_wrap=True)
            continue
        if stdout:
            sys.stdout.write(choice.plan.to_json())
            continue
        target = llm_plan_path(path, out_dir)
        write_out(target, choice.plan.to_json(), parents=True)
        out.print(f"[green]✔[/green] {path} -> {target} ({len(choice.plan.steps)} steps; "
                  f"{escape(choice.describe())})", highlight=False)
    if failed:
        raise typer.Exit(int(ExitCode.BAD_INPUT))


def _plan_path(guide: Path, out_dir: Path | None) -> Path:
    name = guide.with_suffix(".plan.json").name
    return (out_dir / name) if out_dir else guide.with_suffix(".plan.json")


@app.command()
def lint(
    guides: Annotated[list[Path], typer.Argument(help="Guide files or folders.")],
    format: Annotated[str, typer.Option("--format", "-f", help="text or json")] = "text",
    llm: Annotated[bool, typer.Option("--llm", help="Add the LLM's rewrite suggestions "
                                      "(MENDFLOW_LLM).")] = False,
) -> None:
    """Review guides: clarity, control flow, data flow, queries, structure."""
    from engine.compile import lint as linter

    findings = []
    spec = model = None
    if llm:
        spec, model, _ = _llm_setup(_settings())
    paths = list(_guide_files(guides))
    history = _defect_history(paths)
    for path in paths:
        found = linter.lint_path(path)
        if model is not None:
            found += _llm_lint(path, found, spec, model)
        findings += found + history.get(path, [])
    if format == "json":
        sys.stdout.write(linter.format_json(findings))
    elif format == "text":
        text = linter.format_text(findings)
        if text:
            out.print(text, highlight=False, markup=False)
        errors = sum(1 for f in findings if f.severity == "error")
        out.print(f"{len(findings)} findings, {errors} errors", highlight=False)
    else:
        raise InputError(f"unknown --format {format!r}", hint="Use text or json")
    raise typer.Exit(linter.exit_code(findings))


def _defect_history(paths: list[Path]) -> dict[Path, list[Any]]:
    """MF601 for each guide: the lines its past runs failed at as guide defects, from the
    store when there is one (none is created for this); {} when there is none or it cannot be
    read (said on stderr: lint goes on without it)."""
    import asyncio

    from engine.compile.lint import history_findings
    from engine.guide import load_guide
    from engine.store import open_store

    settings = _settings()
    if not settings.database_url and not settings.store_path.exists():
        return {}
    ids: dict[Path, str] = {}
    for path in paths:
        with contextlib.suppress(MendflowError):
            ids[path] = load_guide(path).id

    async def read() -> dict[Path, list[Any]]:
        store = open_store(settings.database_url or settings.store_path)
        await store.open()
        try:
            return {path: history_findings(str(path), await store.run_causes(
                guide=guide, cause="guide_defect")) for path, guide in ids.items()}
        finally:
            await store.close()

    try:
        return asyncio.run(read())
    except MendflowError as exc:
        err.print(f"[yellow]no run history for lint:[/yellow] {escape(str(exc))}",
                  highlight=False)
        return {}


def _llm_lint(path: Path, found: list[Any], spec: Any, model: Any) -> list[Any]:
    from engine.compile.llm import LlmError, Usage, llm_findings
    from engine.guide import load_guide

    usage = Usage(model=spec.label)
    try:
        return llm_findings(load_guide(path), found, model=model, label=spec.label,
                            usage=usage)
    except MendflowError as exc:  # GuideError is already a finding; LlmError: say, go on
        if isinstance(exc, LlmError):
            err.print(f"[yellow]no LLM suggestions for {path}:[/yellow] {escape(str(exc))}",
                      highlight=False)
        return []
    finally:
        if usage.calls:  # what the review cost, on stderr so --format json stays clean
            err.print(f"{path}: lint {spec.label}, {usage.describe()}", highlight=False)


@app.command(name="eval")
def eval_(
    corpus: Annotated[list[Path], typer.Argument(help="Guides or folders of guides.")],
    format: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
    llm: Annotated[bool, typer.Option("--llm", help="Score the LLM's plans (MENDFLOW_LLM) "
                                      "instead of the structural compiler's.")] = False,
) -> None:
    """Score the structural compiler's plans against the gold facts of each guide, by the
    reference scorer's definitions (kept, run automatically, queries run, ...), per source.

    With --llm, each guide is compiled by the configured model (MENDFLOW_LLM; the structural
    plan where it gives no acceptable one, listed on stderr) and scored by the same measures.
    Exit 2 if no model is configured; a provider failure (unreachable, timeout) stops the
    eval with its error."""
    from engine.compile.eval import EvalStopped, fidelity_report, fidelity_rows, llm_compiler

    if format not in ("table", "json"):
        raise InputError(f"unknown --format {format!r}", hint="Use table or json")
    for path in corpus:
        if not path.exists():
            raise InputError(f"{path}: no such file or folder",
                             hint="Pass guides (.md) or folders of guides")
    notes = None
    kw: dict[str, Any] = {}
    if llm:
        spec, model, _ = _llm_setup(_settings())  # exit 2, one line, without MENDFLOW_LLM
        kw["compile"], notes = llm_compiler(model, spec.label,
                                            context_tokens=spec.context_tokens)
    try:
        with _progress("scoring") as progress:
            report = fidelity_report(corpus, progress=progress, **kw)
    except EvalStopped as stop:
        raise stop.error from None
    report.llm = notes
    if format == "json":
        sys.stdout.write(report.to_json())
    else:
        rows = fidelity_rows(report)
        table = Table(*rows[0], show_lines=False, caption="ratios of gold facts; output run in "
                      "units, mutating lost as lost/all; --format json for every count")
        for row in rows[1:]:
            table.add_row(*(Text(c) for c in row))
        out.print(table)
    for guide, error in report.errors:
        err.print(f"[yellow]not compiled:[/yellow] {escape(error)}", highlight=False,
                  soft_wrap=True)
    if notes is not None:
        for guide, why in notes.fell_back:
            err.print(f"[yellow]structural plan scored:[/yellow] {escape(guide)}: "
                      f"{escape(why)}", highlight=False, soft_wrap=True)
        err.print(notes.describe(), highlight=False, soft_wrap=True)


@app.command()
def graph(
    guide: Annotated[Path, typer.Argument(help="A guide or a compiled plan (.json).")],
    format: Annotated[str, typer.Option("--format", "-f",
                                        help="mermaid, dot, svg or png")] = "mermaid",
    output: Annotated[Optional[Path], typer.Option("--out", "-o",
                                                   help="Write to a file.")] = None,
) -> None:
    """Draw a guide's plan: Mermaid or Graphviz DOT text, or an SVG/PNG picture."""
    from engine.compile.graph import render_graphviz, to_dot, to_mermaid

    if format not in ("mermaid", "dot", "svg", "png"):
        raise InputError(f"unknown --format {format!r}", hint="Use mermaid, dot, svg or png")
    plan = _load_plan(guide)
    if format == "mermaid":
        data = to_mermaid(plan).encode()
    elif format == "dot":
        data = to_dot(plan).encode()
    else:
        data = render_graphviz(to_dot(plan), format)
        if output is None and sys.stdout.isatty():
            raise InputError(f"a {format} picture would garble the terminal",
                             hint="Pass --out FILE")
    if output is not None:
        write_out(output, data)
        out.print(f"wrote {output}", highlight=False)
    else:
        sys.stdout.buffer.write(data)


@app.command()
def schema() -> None:
    """Print the plan's JSON Schema."""
    from engine.plan import plan_json_schema

    sys.stdout.write(json.dumps(plan_json_schema(), indent=2, sort_keys=True) + "\n")


@app.command()
def plugins() -> None:
    """List installed plugins and where they come from."""
    from engine.plugins import default_registry

    table = Table("plugin", "group", "from")
    for info in default_registry().info():
        table.add_row(info.name, info.group, info.origin)
    out.print(table)


def _load_plan(path: Path, *, plugins_elsewhere: bool = False) -> Plan:
    """A plan file or a guide, checked. With `plugins_elsewhere` (steps run on workers, whose
    plugins this process may not have), whether each plugin is known is the workers' call."""
    from engine.plan import Plan

    if path.suffix == ".json":
        if not path.exists():
            raise InputError("no such plan file", file=str(path))
        from engine.compile import validate_plan

        # A plan file may have been written by hand or by another tool: it meets the same
        # rules as a compiled one (every change behind an approval, no value where code goes)
        plan = Plan.load(path)
        known = {s.plugin for s in plan.steps if s.plugin} if plugins_elsewhere else None
        return validate_plan(plan, known_plugins=known)
    from engine.compile import compile_path

    return compile_path(path)
