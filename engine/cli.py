"""The `mendflow` command: the only module that imports typer and rich.

Owns argument parsing, reading settings once, the live view of a run, terminal prompts, and
turning errors and outcomes into exit codes. It holds no engine logic: each command calls the
engine's public functions and prints what they return.

Exit codes: 0 the run ended resolved / mitigated / no_action (or the command succeeded);
1 the run failed, or lint found errors; 2 bad input (guide, plan, flags); 3 the run ended
with `escalate`, or the store failed; 130 interrupted (the run stays resumable).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.prompt import Confirm
from rich.table import Table
from rich.text import Text

from engine.errors import InputError, MendflowError
from engine.settings import Settings, load_settings

app = typer.Typer(
    name="mendflow",
    help="Compile troubleshooting guides into execution plans, and run them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 120)

OUTCOME_EXIT = {"resolved": 0, "mitigated": 0, "no_action": 0, "escalate": 3}
STATUS_STYLE = {
    "pending": ("·", "dim"), "running": ("▶", "cyan"), "waiting": ("…", "yellow"),
    "succeeded": ("✔", "green"), "failed": ("✘", "red"), "skipped": ("-", "dim"),
    "cancelled": ("■", "yellow"),
}


def main() -> None:
    try:
        app()
    except MendflowError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise SystemExit(exc.exit_code) from None


def _settings() -> Settings:
    try:
        return load_settings()
    except Exception as exc:  # pydantic-settings validation of MENDFLOW_* values
        raise InputError(f"bad MENDFLOW_* setting: {exc}") from None


# -- compile, lint, graph, schema ----------------------------------------------------------------


def _guide_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += sorted(x for x in p.rglob("*.md") if x.name.lower() != "readme.md")
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
) -> None:
    """Compile guides into plans (GUIDE.plan.json beside each guide, or in --out)."""
    from engine.compile import compile_many

    files = _guide_files(guides)
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
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(res.plan.to_json(), encoding="utf-8")
        n = len(res.plan.steps)
        out.print(f"[green]✔[/green] {res.path} -> {target} ({n} steps)", highlight=False)
    if len(results) > 1:
        out.print(f"{len(results) - failed} compiled, {failed} failed")
    if failed:
        raise typer.Exit(2)


def _llm_setup(settings: Settings) -> tuple[Any, Any, Any]:
    """(spec, chat model, compile cache) for MENDFLOW_LLM; a clear error if unusable."""
    from engine.compile.cache import PlanCache
    from engine.compile.llm import chat_model_from_settings

    spec, model = chat_model_from_settings(settings.llm)
    return spec, model, PlanCache(settings.data_dir / "plans")


def _fresh_llm_plan(guide: Any, spec: Any, model: Any) -> Any:
    from engine.compile.llm import LlmOptions, compile_with_llm

    result = compile_with_llm(guide, model=model, model_label=spec.label,
                              options=LlmOptions(context_tokens=spec.context_tokens))
    for note in result.notes:
        err.print(f"[yellow]note:[/yellow] {escape(note)}", highlight=False)
    err.print(f"{guide.path}: {spec.label}, {result.attempts} attempt(s), "
              f"{result.usage.describe()}", highlight=False)
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
        choice = choose_plan(guide, structural=lambda b=base: b, cache=cache,
                             compiler=compiler_name(spec.label),
                             fresh=lambda g=guide: _fresh_llm_plan(g, spec, model))
        if choice.origin == "structural":
            failed += 1
            err.print(f"[red]✘[/red] {path}: {escape(choice.note)}", highlight=False,
                      soft_wrap=True)
            continue
        if stdout:
            sys.stdout.write(choice.plan.to_json())
            continue
        target = llm_plan_path(path, out_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(choice.plan.to_json(), encoding="utf-8")
        out.print(f"[green]✔[/green] {path} -> {target} ({len(choice.plan.steps)} steps; "
                  f"{escape(choice.describe())})", highlight=False)
    if failed:
        raise typer.Exit(2)


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
    for path in _guide_files(guides):
        found = linter.lint_path(path)
        if model is not None:
            found += _llm_lint(path, found, spec, model)
        findings += found
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


def _llm_lint(path: Path, found: list[Any], spec: Any, model: Any) -> list[Any]:
    from engine.compile.llm import LlmError, llm_findings
    from engine.guide import load_guide

    try:
        return llm_findings(load_guide(path), found, model=model, label=spec.label)
    except MendflowError as exc:  # GuideError is already a finding; LlmError: say, go on
        if isinstance(exc, LlmError):
            err.print(f"[yellow]no LLM suggestions for {path}:[/yellow] {escape(str(exc))}",
                      highlight=False)
        return []


@app.command(name="eval")
def eval_(
    corpus: Annotated[list[Path], typer.Argument(help="Guides or folders of guides.")],
    format: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
) -> None:
    """Score the structural compiler's plans against what each guide's syntax proves."""
    from engine.compile.eval import evaluate, table_rows, to_json, totals_lines

    if format not in ("table", "json"):
        raise InputError(f"unknown --format {format!r}", hint="Use table or json")
    report = evaluate(corpus)
    if format == "json":
        sys.stdout.write(to_json(report))
        return
    rows = table_rows(report)
    table = Table(*rows[0], show_lines=False)
    for row in rows[1:]:
        table.add_row(*(Text(c) for c in row))
    out.print(table)
    for line in totals_lines(report):
        out.print(line, highlight=False, markup=False)


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
        output.write_bytes(data)
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


def _load_plan(path: Path):  # noqa: ANN202 - Plan, imported lazily
    from engine.plan import Plan

    if path.suffix == ".json":
        if not path.exists():
            raise InputError("no such plan file", file=str(path))
        return Plan.load(path)
    from engine.compile import compile_path

    return compile_path(path)


# -- run, resume, runs, show, report -------------------------------------------------------------


def _parse_inputs(pairs: list[str]) -> dict[str, str]:
    inputs: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"bad --input {pair!r}", hint="Write --input NAME=VALUE")
        inputs[key.strip()] = value
    return inputs


def _load_alert(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("no such alert file", file=str(path)) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"alert is not JSON: {exc.msg}", file=str(path), line=exc.lineno,
                         hint="Pass an Alertmanager alert or webhook payload") from None
    if isinstance(data, dict) and isinstance(data.get("alerts"), list) and data["alerts"]:
        data = data["alerts"][0]  # an Alertmanager webhook: take its first alert
    if not isinstance(data, dict):
        raise InputError("alert must be a JSON object with labels and annotations",
                         file=str(path))
    return data


class _LiveView:
    """Steps with status, duration and what each found, redrawn as the run goes."""

    def __init__(self, plan: Any, *, interactive: bool) -> None:
        self.plan = plan
        self.rows: dict[str, dict[str, Any]] = {
            s.id: {"status": "pending", "duration": None, "summary": "", "attempt": 0}
            for s in plan.steps
        }
        self.interactive = interactive
        self.live: Live | None = None

    def table(self) -> Table:
        table = Table(title=self.plan.title, expand=True, show_edge=False)
        table.add_column("", width=1)
        table.add_column("step", no_wrap=True)
        table.add_column("s", justify="right", width=7)
        table.add_column("found", overflow="ellipsis", no_wrap=True, ratio=1)
        for step in self.plan.steps:
            row = self.rows[step.id]
            icon, style = STATUS_STYLE.get(row["status"], ("?", ""))
            dur = f"{row['duration']:.2f}" if row["duration"] is not None else ""
            table.add_row(Text(icon, style=style), Text(step.id, style=style), dur,
                          Text(" ".join(str(row["summary"]).split())[:200]))
        return table

    def __call__(self, update: Any) -> None:
        if update.state is not None:
            for sid, st in update.state.steps.items():
                if sid in self.rows:
                    self.rows[sid]["status"] = str(st.status)
        if update.kind == "step_started" and update.step_id in self.rows:
            self.rows[update.step_id]["status"] = "running"
        if update.kind == "step_finished" and update.step_id in self.rows:
            row = self.rows[update.step_id]
            row["duration"] = update.duration_s
            row["summary"] = update.summary
            if not self.interactive:
                icon, _ = STATUS_STYLE.get(row["status"], ("?", ""))
                dur = f"{update.duration_s:.2f}s" if update.duration_s is not None else ""
                out.print(f"{icon} {update.step_id} {row['status']} {dur} "
                          f"{' '.join(str(update.summary).split())[:160]}", highlight=False,
                          markup=False)
        if self.live is not None:
            self.live.update(self.table())

    def pause(self) -> None:
        if self.live is not None:
            self.live.stop()

    def resume(self) -> None:
        if self.live is not None:
            self.live.start()


class _TerminalPrompt:
    """Asks a person at the terminal; the live view pauses while it asks."""

    def __init__(self, view: _LiveView) -> None:
        self.view = view

    async def _ask(self, question: str, detail: str) -> bool:
        from engine.runtime.interaction import Answer  # noqa: F401 - documents the return

        self.view.pause()
        try:
            out.print(detail, highlight=False, markup=False)
            return await asyncio.to_thread(Confirm.ask, question, console=out)
        finally:
            self.view.resume()

    async def approve(self, *, step: Any, action: str) -> Any:
        from engine.runtime.interaction import Answer

        ok = await self._ask(f"[bold]Approve[/bold] {step.id}?", f"\nAbout to run: {action}")
        return Answer(ok, "terminal")

    async def confirm_manual(self, *, step: Any, instructions: str) -> Any:
        from engine.runtime.interaction import Answer

        ok = await self._ask(f"Done with [bold]{step.id}[/bold]?",
                             f"\nDo this by hand: {instructions}")
        return Answer(ok, "terminal")

    async def judge(self, *, step: Any, edge: Any, evidence: str) -> Any:
        from engine.runtime.interaction import Answer

        text = edge.condition.text if edge.condition else edge.target
        ok = await self._ask(f"Is it so? [bold]{text}[/bold]",
                             f"\n{step.id} found:\n{evidence[:1500]}")
        return Answer(ok, "terminal")


def _build_executor(settings: Settings, store: Any, *, observer: Any, interaction: Any,
                    executor: str = "local") -> Any:
    from engine.plugins import default_registry
    from engine.runtime.executor import LocalExecutor

    datasources, redact = _datasources(settings)
    cls: Any = LocalExecutor if executor == "local" else _executor_class(executor)
    return cls(store=store, registry=default_registry(), settings=settings,
               interaction=interaction, observer=observer, datasources=datasources,
               redact=redact)


def _executor_class(name: str) -> Any:
    """Another executor, from the `mendflow.executors` entry points (celery: worker/)."""
    from importlib.metadata import entry_points

    found = {ep.name: ep for ep in entry_points(group="mendflow.executors")}
    if name not in found:
        raise InputError(f"unknown --executor {name!r} (installed: local"
                         f"{''.join(', ' + n for n in sorted(found))})",
                         hint="Use local, or install the package that provides it")
    return found[name].load()


def _datasources(settings: Settings) -> tuple[Any, Any]:
    """Data sources from mendflow.toml and the environment, and a redactor of their secrets."""
    try:
        from engine.datasources import load_datasources
    except ImportError:  # data sources arrive with the query plugins
        return None, None
    import os

    sources = load_datasources(settings, environ=os.environ)
    redactor = sources.redactor()
    return sources, redactor.redact_obj


def _open_store(settings: Settings) -> Any:
    from engine.store import open_store

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return open_store(settings.database_url or settings.store_path)


def _exit_for(record: Any) -> int:
    if record.status == "succeeded":
        return OUTCOME_EXIT.get(record.outcome or "", 0)
    if record.status in ("cancelled", "interrupted"):
        return 130
    return 1


def _print_end(record: Any) -> None:
    colour = "green" if _exit_for(record) == 0 else "red" if record.status == "failed" else "yellow"
    outcome = record.outcome or record.status
    out.print(f"\n[{colour}]{outcome}[/{colour}] {escape(record.reason or '')}", highlight=False)
    out.print(f"run {record.run_id}: `mendflow show {record.run_id}` · "
              f"`mendflow report {record.run_id}`", highlight=False, markup=False)


async def _drive(settings: Settings, plan: Any, *, runner: Any, interactive: bool,
                 answers: Any, executor_name: str = "local") -> Any:
    view = _LiveView(plan, interactive=interactive)
    if interactive:
        prompt = _TerminalPrompt(view)
        if hasattr(answers.fallback, "judge") and hasattr(answers.fallback, "fallback"):
            answers.fallback.fallback = prompt  # the LLM judge asks a person when unsure
        else:
            answers.fallback = prompt
    store = _open_store(settings)
    await store.open()
    try:
        executor = _build_executor(settings, store, observer=view, interaction=answers,
                                   executor=executor_name)
        _on_ctrl_c(plan, executor, view)
        if interactive:
            with Live(view.table(), console=out, refresh_per_second=8, transient=False) as live:
                view.live = live
                return await runner(executor)
        return await runner(executor)
    finally:
        await store.close()


@app.command()
def run(
    guide: Annotated[Path, typer.Argument(help="A guide (.md) or a compiled plan (.json).")],
    input: Annotated[list[str], typer.Option("--input", "-i", help="NAME=VALUE")] = [],  # noqa: B006
    alert: Annotated[Optional[Path], typer.Option(help="Alert JSON (labels, annotations).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Run only read-only steps.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Approve every gated step.")] = False,
    answer: Annotated[list[str], typer.Option("--answer", help="STEP=yes|no")] = [],  # noqa: B006
    executor: Annotated[str, typer.Option(help="local, or celery (steps run on workers; "
                                          "needs MENDFLOW_DATABASE_URL and BROKER_URL).")
                        ] = "local",
) -> None:
    """Run a guide: compile it, run its steps (independent ones in parallel), report."""
    from engine.runtime.interaction import Answers, load_auto_approve, parse_answers

    settings = _settings()
    plan = _run_plan(guide, settings)
    inputs = _parse_inputs(input)
    alert_data = _load_alert(alert)
    answers = Answers(answers=parse_answers(answer), assume_yes=yes,
                      auto_approve=load_auto_approve(settings.config_file),
                      fallback=_llm_judge(settings))
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    if not interactive:
        mode = " (dry run)" if dry_run else ""
        out.print(f"{plan.title}{mode}: {len(plan.steps)} steps", highlight=False)

    async def runner(executor: Any) -> Any:
        return await executor.start(plan, guide_path=guide.as_posix(), inputs=inputs,
                                    alert=alert_data, dry_run=dry_run)

    record = _run_async(_drive(settings, plan, runner=runner, interactive=interactive,
                               answers=answers, executor_name=executor))
    _print_end(record)
    raise typer.Exit(_exit_for(record))


def _run_plan(guide: Path, settings: Settings) -> Any:
    """A reviewed or cached LLM plan whose guide hash matches, a fresh one, or the structural
    plan; says which runs."""
    if guide.suffix == ".json":
        return _load_plan(guide)
    from engine.compile import compile_guide
    from engine.compile.cache import choose_plan
    from engine.guide import load_guide

    loaded = load_guide(guide)
    kw: dict[str, Any] = {}
    if settings.llm:
        from engine.compile.llm import LlmError, compiler_name

        try:
            spec, model, cache = _llm_setup(settings)
        except LlmError as exc:
            err.print(f"[yellow]LLM unavailable, the structural plan runs:[/yellow] "
                      f"{escape(str(exc))}", highlight=False)
        else:
            kw = {"cache": cache, "compiler": compiler_name(spec.label),
                  "fresh": lambda: _fresh_llm_plan(loaded, spec, model)}
    choice = choose_plan(loaded, structural=lambda: compile_guide(loaded), **kw)
    err.print(f"plan: {escape(choice.describe())}", highlight=False)
    return choice.plan


def _llm_judge(settings: Settings) -> Any:
    """With MENDFLOW_LLM, judgment conditions go to the model first (a person if unsure)."""
    if not settings.llm:
        return None
    from engine.compile.llm import LlmError, LlmJudge, chat_model_from_settings

    try:
        spec, model = chat_model_from_settings(settings.llm)
    except LlmError:
        return None  # already said when the plan was chosen

    def said(d: Any) -> None:
        verdict = {True: "yes", False: "no", None: "undecided, asking a person"}[d.holds]
        err.print(f"[cyan]judged[/cyan] {d.step} -> {d.target}: {escape(d.condition)}: "
                  f"{verdict} ({d.by}: {escape(d.rationale)})", highlight=False)

    return LlmJudge(model, spec.label, on_decision=said)


@app.command()
def resume(
    run_id: Annotated[str, typer.Argument(help="The run to continue.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Approve every gated step.")] = False,
    answer: Annotated[list[str], typer.Option("--answer", help="STEP=yes|no")] = [],  # noqa: B006
) -> None:
    """Continue a run that was interrupted or killed; finished steps are not run again."""
    from engine.runtime.interaction import Answers, load_auto_approve, parse_answers

    settings = _settings()
    plan = asyncio.run(_with_store(settings, lambda s: _plan_of(s, run_id)))
    answers = Answers(answers=parse_answers(answer), assume_yes=yes,
                      auto_approve=load_auto_approve(settings.config_file))
    interactive = sys.stdin.isatty() and sys.stdout.isatty()

    async def runner(executor: Any) -> Any:
        return await executor.resume(run_id)

    record = _run_async(_drive(settings, plan, runner=runner, interactive=interactive,
                               answers=answers))
    _print_end(record)
    raise typer.Exit(_exit_for(record))


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(help="Processes running steps at once.")] = 2,
    queues: Annotated[Optional[str], typer.Option(help="q1,q2: the queues to take steps "
                                                  "from (default: the default queue).")] = None,
    loglevel: Annotated[str, typer.Option(help="Celery log level.")] = "INFO",
) -> None:
    """Run a Celery worker that executes steps of runs started with --executor celery."""
    import os

    settings = _settings()
    if not settings.database_url:
        raise InputError("a worker needs the shared store: MENDFLOW_DATABASE_URL is not set",
                         hint="Set it to postgresql://user:password@host:5432/db")
    argv = [sys.executable, "-m", "celery", "-A", "worker.app", "worker",
            f"--concurrency={concurrency}", f"--loglevel={loglevel}"]
    if queues:
        argv.append(f"--queues={queues}")
    sys.stdout.flush()
    os.execvp(argv[0], argv)


def _on_ctrl_c(plan: Any, executor: Any, view: Any) -> None:
    """First Ctrl-C: a plan with clean-up steps is cancelled, so they run (a robot cell is
    left safe); any other plan stops at once and stays resumable. Second Ctrl-C: stop now."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    pressed = 0

    def handler() -> None:
        nonlocal pressed
        pressed += 1
        cancel = getattr(executor, "cancel", None)
        if pressed == 1 and plan.cleanup and cancel is not None:
            view.pause()
            err.print("\n[yellow]cancelling[/yellow]: running the clean-up steps "
                      f"({', '.join(plan.cleanup)}); Ctrl-C again to stop at once")
            view.resume()
            cancel("cancelled by the user (Ctrl-C)")
        elif main is not None:
            main.cancel()

    with contextlib.suppress(NotImplementedError, RuntimeError):  # no signals off the main thread
        loop.add_signal_handler(signal.SIGINT, handler)


def _run_async(coro: Any) -> Any:
    try:
        return asyncio.run(coro)
    except (KeyboardInterrupt, asyncio.CancelledError):
        err.print("\n[yellow]interrupted[/yellow]: the run is resumable with `mendflow resume`")
        raise typer.Exit(130) from None


async def _with_store(settings: Settings, fn: Any) -> Any:
    store = _open_store(settings)
    await store.open()
    try:
        return await fn(store)
    finally:
        await store.close()


async def _plan_of(store: Any, run_id: str) -> Any:
    record = await store.get_run(run_id)
    return await store.load_plan(record.plan_hash)


async def _view_of(store: Any, run_id: str) -> Any:
    from engine.report import build_view

    record = await store.get_run(run_id)
    plan = await store.load_plan(record.plan_hash)
    return build_view(record, plan, await store.events(run_id), await store.memory(run_id))


detector_app = typer.Typer(help="Failure detectors: calibrate, combine, evaluate.",
                            no_args_is_help=True)
app.add_typer(detector_app, name="detector")


@detector_app.command("calibrate")
def detector_calibrate(
    runs: Annotated[Path, typer.Argument(help="Folder of recorded runs (JSON lines).")],
    detector: Annotated[str, typer.Option(help="Detector plugin, e.g. ft_jam_slip.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Calibration file to write.")],
    alpha: Annotated[float, typer.Option(help="False-alarm rate to guarantee.")] = 0.1,
    window: Annotated[int, typer.Option(help="Steps summed by the window.")] = 25,
    method: Annotated[str, typer.Option(help="max or band")] = "max",
    params: Annotated[Optional[str], typer.Option(help="Detector params as JSON.")] = None,
    fit_fraction: Annotated[float, typer.Option(help="Share of runs that fit the "
                                                     "score model/band.")] = 0.5,
    seed: Annotated[int, typer.Option(help="Split seed.")] = 0,
) -> None:
    """Calibrate a detector's alarm threshold on successful runs (split conformal)."""
    from engine.detect.commands import calibrate_cmd

    try:
        parsed = json.loads(params) if params else None
    except json.JSONDecodeError as exc:
        raise InputError(f"--params is not JSON: {exc.msg}",
                         hint='Write --params \'{"k": 1}\'') from None
    out.parent.mkdir(parents=True, exist_ok=True)
    out_text = calibrate_cmd(runs, detector=detector, out=out, alpha=alpha, window=window,
                             method=method, params=parsed, fit_fraction=fit_fraction, seed=seed)
    _say(out_text)


@detector_app.command("combine")
def detector_combine(
    first: Annotated[Path, typer.Argument(help="First calibration.")],
    second: Annotated[Path, typer.Argument(help="Second calibration.")],
    rule: Annotated[str, typer.Option(help="and (fewer false alarms) or or")] = "and",
    out: Annotated[Path, typer.Option("--out", "-o", help="Combined file to write.")] = Path(
        "combined.json"),
) -> None:
    """Combine two calibrated indicators with AND or OR."""
    from engine.detect.commands import combine_cmd

    _say(combine_cmd(first, second, rule=rule, out=out))


@detector_app.command("evaluate")
def detector_evaluate(
    runs: Annotated[Path, typer.Argument(help="Folder of labelled recorded runs.")],
    calibration: Annotated[Path, typer.Option(help="Calibration file.")],
) -> None:
    """TPR, TNR, balanced accuracy, F1 and detection time of a calibrated detector."""
    from engine.detect.commands import evaluate_cmd

    _say(evaluate_cmd(runs, calibration=calibration))


@app.command()
def policy(
    guide: Annotated[Path, typer.Argument(help="The robot playbook the history is for.")],
    history: Annotated[Path, typer.Option(help="Attempts recorded with the detector "
                                               "watching (JSON lines).")],
    reset: Annotated[float, typer.Option(help="Seconds to reset the cell.")] = 1.0,
) -> None:
    """Should an alarm abort the attempt? Estimates, both expected makespans, the decision."""
    from engine.policy import policy_report

    if not history.exists():
        raise InputError("no such history file", file=str(history),
                         hint="Record attempts as JSON lines: success, duration_s, alarm_s")
    _say(policy_report(history, reset_s=reset, title=guide.stem))


def _say(text: str) -> None:
    out.print(text, highlight=False, markup=False, soft_wrap=True)


@app.command()
def runs(limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20) -> None:
    """List recent runs."""
    settings = _settings()
    records = asyncio.run(_with_store(settings, lambda s: s.list_runs(limit=limit)))
    table = Table()
    table.add_column("run", no_wrap=True)
    for name in ("guide", "status", "outcome", "started", "why"):
        table.add_column(name)
    for r in records:
        table.add_row(r.run_id, r.plan_id, r.status, r.outcome or "",
                      r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                      Text((r.reason or "")[:60]))
    out.print(table)


@app.command()
def show(run_id: Annotated[str, typer.Argument(help="The run to show.")]) -> None:
    """Show a run: steps, what they found, timings, the critical path, the outcome and why."""
    settings = _settings()
    view = asyncio.run(_with_store(settings, lambda s: _view_of(s, run_id)))
    r = view.record
    out.print(f"[bold]{r.title}[/bold]  run {r.run_id}", highlight=False)
    out.print(f"outcome: {r.outcome or '-'} ({r.status})  why: {escape(r.reason or '-')}",
              highlight=False)
    if view.makespan_s is not None:
        out.print(f"took {view.makespan_s:.2f} s; critical path {view.critical_path_s:.2f} s: "
                  + " -> ".join(view.critical_path), highlight=False)
    table = Table("", "step", "kind", "line", "tries", "s", "found", expand=True)
    for row in view.rows:
        icon, style = STATUS_STYLE.get(row.status, ("?", ""))
        dur = f"{row.duration_s:.2f}" if row.duration_s is not None else ""
        found = row.error if row.status == "failed" and row.error else row.summary
        table.add_row(Text(icon, style=style), row.step_id, row.kind, row.line,
                      str(row.attempts or ""), dur, Text(" ".join(str(found).split())[:120]))
    out.print(table)


@app.command()
def report(
    run_id: Annotated[str, typer.Argument(help="The run to report on.")],
    output: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write to a file.")] = None,
) -> None:
    """Write a Markdown report of a run, with a timeline of its steps."""
    from engine.compile.graph import to_mermaid
    from engine.report import render_markdown

    settings = _settings()
    view = asyncio.run(_with_store(settings, lambda s: _view_of(s, run_id)))
    text = render_markdown(view, graph=to_mermaid(view.plan))
    if output:
        output.write_text(text, encoding="utf-8")
        out.print(f"wrote {output}")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
