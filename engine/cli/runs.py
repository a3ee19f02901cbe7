"""Commands that run plans and look at runs: run, resume, worker, runs, show, report."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional, TypeVar

import typer
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from engine import values
from engine.cli._app import (
    OUTCOME_EXIT,
    STATUS_STYLE,
    _settings,
    app,
    err,
    make_data_dir,
    out,
    write_out,
)
from engine.cli.guides import _fresh_llm_plan, _llm_setup, _load_plan
from engine.cli.live import _LiveView, _TerminalPrompt
from engine.errors import ExitCode, InputError, MendflowError
from engine.files import DuplicateKey, NotJsonConstant, loads_strict, read_bytes
from engine.settings import Settings

T = TypeVar("T")

if TYPE_CHECKING:
    from engine.compile.llm import LlmJudge
    from engine.compile.llm.judge import Decision
    from engine.compile.llm.provider import Usage
    from engine.interaction import Answers, Interaction
    from engine.plan import Plan
    from engine.report import RunView
    from engine.store.base import Lease

    Spent = Callable[[], list[tuple[str, Usage]]]
    """What this process spent on LLMs for a run, as (purpose, usage) pairs, read late."""
    from engine.runtime.executor import Observer
    from engine.runtime.services import Executor, ExecutorFactory
    from engine.store.base import RunOptions, RunRecord, Store

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
    """An Alertmanager alert (or a webhook payload holding one), as a JSON object read
    strictly (`loads_strict`: a key twice, `NaN`). Labels and annotations are checked when the
    run's context is built."""
    if path is None:
        return None
    hint = "Pass an Alertmanager alert or webhook payload"
    try:
        data = loads_strict(read_bytes(path).decode("utf-8"))
    except FileNotFoundError:
        raise InputError("no such alert file", file=str(path)) from None
    except IsADirectoryError:
        raise InputError("the alert file is a directory, not a file", file=str(path),
                         hint=hint) from None
    except OSError as exc:  # unreadable: permissions, a device, an I/O error
        raise InputError(f"cannot read the alert file: {exc.strerror or exc}", file=str(path),
                         hint=hint) from None
    except NotJsonConstant as exc:
        raise InputError(f"alert is not JSON: {exc} is not a JSON value", file=str(path),
                         hint=hint) from None
    except DuplicateKey as exc:
        raise InputError(f"the alert's JSON has the key {exc.key[:60]!r} twice in one "
                         "object: which value counts would depend on the reader",
                         file=str(path), hint=hint) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"alert is not UTF-8 JSON (byte {exc.start})", file=str(path),
                         hint=hint) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"alert is not JSON: {exc.msg}", file=str(path), line=exc.lineno,
                         hint=hint) from None
    if isinstance(data, dict) and "alerts" in data:
        alerts = data["alerts"]
        if not isinstance(alerts, list) or not alerts:
            raise InputError("the webhook payload's `alerts` must be a non-empty list",
                             file=str(path), hint="Pass an Alertmanager webhook payload")
        if len(alerts) > 1:  # never the first alone: the others would go unseen
            raise InputError(f"the webhook payload holds {len(alerts)} alerts, and a run "
                             "takes one", file=str(path),
                             hint=f"Pass one alert (jq '.alerts[0]' {shlex.quote(str(path))} "
                             "> alert.json), or send the payload to `mendflow serve`, which "
                             "runs each")
        data = alerts[0]  # an Alertmanager webhook with one alert
    if not isinstance(data, dict):
        raise InputError("alert must be a JSON object with labels and annotations",
                         file=str(path))
    if "labels" not in data:  # another tool's event (PagerDuty's `event`, a Grafana panel)
        raise InputError("the alert has no `labels`: it is not an Alertmanager alert",
                         file=str(path), hint="Pass an Alertmanager alert or webhook payload "
                         "(labels, annotations), or pass its values as --input NAME=VALUE")
    return data


def _check_alert(plan: Plan, alert: dict[str, Any], path: Path) -> None:
    """An alert this guide is for, and still firing: a run acts on what the alert says, so one
    that resolved, or one for another failure than the guide's triggers name, is refused
    before anything runs (`mendflow serve` records both and starts nothing)."""
    labels = alert.get("labels")
    quiet = _not_firing(alert)
    if quiet:
        raise InputError(f"the alert {quiet}: a run acts on a firing alert", file=str(path),
                         hint="To look into it anyway, run without --alert and pass its "
                         "labels as --input NAME=VALUE")
    if not plan.triggers or not isinstance(labels, dict) or \
            not all(isinstance(v, str) for v in labels.values()):
        return  # labels of the wrong shape: the run's context refuses them, saying which
    if not any(trigger.matches(labels) for trigger in plan.triggers):
        name = labels.get("alertname") or "(no alertname)"
        wanted = "; ".join(t.describe() for t in plan.triggers)
        raise InputError(f"the alert {values.shown(name)} is not one this guide is for "
                         f"(its triggers: {wanted})", file=str(path),
                         hint="Pass an alert its triggers match, or run the guide written for "
                         "this alert (`mendflow serve` routes each alert to its guide)")


def _not_firing(alert: dict[str, Any]) -> str | None:
    """Why an alert is not firing, in the words of the API it came from, or None: a webhook's
    `status: resolved`, Alertmanager's API `status: {state: suppressed}` (a person silenced or
    an inhibition rule muted it), Prometheus' API `state: pending` (not yet for its `for:`)."""
    status, state = alert.get("status"), alert.get("state")
    if status == "resolved":
        return "has resolved (status: resolved)"
    if isinstance(status, dict) and status.get("state") == "suppressed":
        by = "silenced" if status.get("silencedBy") else "inhibited" \
            if status.get("inhibitedBy") else "suppressed"
        return f"is {by} in Alertmanager (status.state: suppressed)"
    if state in ("pending", "inactive"):
        return f"has not fired (state: {state})"
    return None


def _build_executor(settings: Settings, store: Store, *, observer: Observer,
                    interaction: Interaction, executor: str = "local") -> Executor:
    from engine.plugins import default_registry
    from engine.runtime.services import build_services

    services = build_services(settings, store, default_registry())
    return executor_factory(executor)(services, interaction=interaction, observer=observer)


def executor_factory(name: str) -> ExecutorFactory:
    """The executor called `name`: local, or one from the `mendflow.executors` entry points
    (celery: worker/). `resume` uses the one the run's options name."""
    from importlib.metadata import entry_points

    from engine.runtime.executor import LocalExecutor

    if name == "local":
        return LocalExecutor
    found = {ep.name: ep for ep in entry_points(group="mendflow.executors")}
    if name not in found:
        raise InputError(f"unknown --executor {name!r} (installed: local"
                         f"{''.join(', ' + n for n in sorted(found))})",
                         hint="Use local, or install the package that provides it")
    factory: ExecutorFactory = found[name].load()
    return factory


def _run_options(settings: Settings, answers: Answers, *, executor: str,
                 dry_run: bool) -> RunOptions:
    """How this run is to be driven, saved with it: a worker anywhere (or a later `resume`)
    answers, approves and judges as this command would. The judge travels as its
    provider:model (`MENDFLOW_LLM`); each process's environment holds the endpoint and key."""
    from engine.store.base import RunOptions

    return RunOptions(executor=executor, dry_run=dry_run, answers=dict(answers.answers),
                      assume_yes=answers.assume_yes, approvals=tuple(answers.approvals),
                      auto_approve=tuple(answers.auto_approve),
                      judge=settings.llm if answers.fallback is not None else None)


def _open_store(settings: Settings) -> Store:
    from engine.store import open_store

    make_data_dir(settings)
    return open_store(settings.database_url or settings.store_path)


def _exit_for(record: RunRecord) -> int:
    if record.status == "succeeded":
        return int(OUTCOME_EXIT.get(record.outcome or "", ExitCode.OK))
    if record.status in ("cancelled", "interrupted"):
        return int(ExitCode.INTERRUPTED)
    return int(ExitCode.FAILED)


def _print_end(record: RunRecord, settings: Settings) -> None:
    colour = "green" if _exit_for(record) == 0 else "red" if record.status == "failed" else "yellow"
    outcome = record.outcome or record.status
    view = asyncio.run(_with_store(settings, lambda s: _view_of(s, record.run_id)))
    why = view.why or record.reason or ""
    out.print(f"\n[{colour}]{outcome}[/{colour}] {escape(why)}", highlight=False)
    _print_findings(view)
    _print_lessons(view)  # the root cause, and failures other runs had (and their fixes)
    out.print(f"run {record.run_id}: `mendflow show {record.run_id}` · "
              f"`mendflow report {record.run_id}`", highlight=False, markup=False)


async def _drive(settings: Settings, plan: Plan, *,
                 runner: Callable[[Executor], Awaitable[RunRecord]], view: _LiveView,
                 answers: Answers, executor_name: str = "local",
                 llm_spent: Spent | None = None) -> RunRecord:
    interactive = view.interactive
    if interactive:
        prompt = _TerminalPrompt(view)
        from engine.compile.llm import LlmJudge

        if isinstance(answers.fallback, LlmJudge):  # the judge asks a person when unsure
            answers.fallback.fallback = prompt
        else:
            answers.fallback = prompt
    store = _open_store(settings)
    await store.open()
    try:
        # Failures other runs of the guide had: the live view names one as it recurs.
        view.known = {s.signature: s for s in await store.signatures(guide=plan.id,
                                                                        limit=1000)}
        executor = _build_executor(settings, store, observer=view, interaction=answers,
                                   executor=executor_name)
        _on_ctrl_c(plan, executor, view)
        if interactive:
            with Live(view.table(), console=out, refresh_per_second=8, transient=False) as live:
                view.live = live
                return await runner(executor)
        return await runner(executor)
    finally:
        try:
            if llm_spent is not None and view.run_id:  # interrupted runs' spending included
                await _save_llm_usage(store, view.run_id, llm_spent())
        except MendflowError as exc:  # never hides the run's own error, nor fails a run
            err.print(f"[yellow]LLM use not stored:[/yellow] {escape(str(exc))}",
                      highlight=False)
        finally:
            await store.close()


def _llm_spent(judge: LlmJudge | None, compiled: Sequence[Usage] = ()) -> Spent:
    """What this process spent on LLMs for the run, as (purpose, Usage) pairs, read late."""
    return lambda: [*(("compile", u) for u in compiled),
                    *([("judge", judge.usage)] if judge is not None else [])]


async def _save_llm_usage(store: Store, run_id: str, spent: list[tuple[str, Usage]]) -> None:
    from engine.store import LlmUsage

    for purpose, usage in spent:
        if usage.calls:
            await store.add_llm_usage(run_id, LlmUsage(
                purpose=purpose, model=usage.model, calls=usage.calls,
                input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                cost_usd=usage.cost_usd))


@app.command()
def run(
    guide: Annotated[Path, typer.Argument(help="A guide (.md) or a compiled plan (.json).")],
    input: Annotated[list[str], typer.Option("--input", "-i", help="NAME=VALUE")] = [],  # noqa: B006
    alert: Annotated[Optional[Path], typer.Option(help="Alert JSON (labels, annotations).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Run only read-only steps.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Approve every gated step.")] = False,
    approve: Annotated[list[str], typer.Option("--approve", help="STEP: approve this gate.")
                       ] = [],  # noqa: B006
    answer: Annotated[list[str], typer.Option("--answer", help="DECISION=yes|no, or "
                                              "MANUAL=done; never approves.")] = [],  # noqa: B006
    executor: Annotated[str, typer.Option(help="local, or celery (steps run on workers; "
                                          "needs MENDFLOW_DATABASE_URL and BROKER_URL).")
                        ] = "local",
) -> None:
    """Run a guide: compile it, run its steps (independent ones in parallel), report."""
    settings = _settings()
    compiled: list[Usage] = []
    plan = _run_plan(guide, settings, plugins_elsewhere=executor != "local", spent=compiled)
    inputs = _parse_inputs(input)
    alert_data = _load_alert(alert)
    if alert is not None and alert_data is not None:
        _check_alert(plan, alert_data, alert)
    answers = _answers(settings, plan, answer=answer, approve=approve, yes=yes)
    judge = answers.fallback = _llm_judge(settings)
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    if not interactive:
        mode = " (dry run)" if dry_run else ""
        out.print(f"{plan.title}{mode}: {len(plan.steps)} steps", highlight=False)

    options = _run_options(settings, answers, executor=executor, dry_run=dry_run)

    async def runner(run_with: Executor) -> RunRecord:
        return await run_with.start(plan, guide_path=guide.as_posix(), inputs=inputs,
                                    alert=alert_data, options=options)

    view = _LiveView(plan, interactive=interactive)
    record = _run_async(_drive(settings, plan, runner=runner, view=view, answers=answers,
                               executor_name=executor, llm_spent=_llm_spent(judge, compiled)),
                        view)
    _print_judge_usage(judge)
    _print_end(record, settings)
    raise typer.Exit(_exit_for(record))


def _answers(settings: Settings, plan: Plan, *, answer: list[str], approve: list[str],
             yes: bool) -> Answers:
    """The non-interactive answers, checked against the plan: an `--answer` that names no
    question, or an approval gate, is refused before anything runs."""
    from engine.interaction import (
        Answers,
        check_answer_keys,
        load_auto_approve,
        parse_answers,
    )

    given = parse_answers(answer)
    check_answer_keys(plan, given, approve)
    return Answers(answers=given, assume_yes=yes, approvals=tuple(approve),
                   auto_approve=load_auto_approve(settings.config_file,
                                                   required=settings.config_required))


def _run_plan(guide: Path, settings: Settings, *, plugins_elsewhere: bool = False,
              spent: list[Usage] | None = None) -> Plan:
    """A reviewed or cached LLM plan whose guide hash matches, a fresh one, or the structural
    plan; says which runs."""
    if guide.suffix == ".json":
        return _load_plan(guide, plugins_elsewhere=plugins_elsewhere)
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
                  "fresh": lambda: _fresh_llm_plan(loaded, spec, model, spent)}
    choice = choose_plan(loaded, structural=lambda: compile_guide(loaded), **kw)
    err.print(f"plan: {escape(choice.describe())}", highlight=False)
    return choice.plan


def _llm_judge(settings: Settings) -> LlmJudge | None:
    """With MENDFLOW_LLM, judgment conditions go to the model first (a person if unsure)."""
    if not settings.llm:
        return None
    from engine.compile.llm import LlmError, LlmJudge, chat_model_from_settings

    try:
        spec, model = chat_model_from_settings(settings.llm, timeout_s=settings.llm_timeout_s,
                                               attempts=settings.llm_attempts,
                                               record_dir=settings.llm_record)
    except LlmError:
        return None  # already said when the plan was chosen
    broken_said: list[str] = []

    def said(d: Decision) -> None:
        if judge.broken and judge.broken in d.rationale:
            if not broken_said:  # the breaker opened: say it once, not per judgment
                broken_said.append(judge.broken)
                err.print(f"[yellow]judge:[/yellow] {escape(judge.broken)}", highlight=False)
            return
        verdict = {True: "yes", False: "no", None: "undecided, asking a person"}[d.holds]
        err.print(f"[cyan]judged[/cyan] {d.step}: {escape(d.condition)}: "
                  f"{verdict} ({d.by}: {escape(d.rationale)})", highlight=False)

    judge = LlmJudge(model, spec.label, on_decision=said,
                     min_confidence=settings.llm_min_confidence, budget_s=settings.llm_budget_s)
    return judge


def _print_judge_usage(judge: Interaction | None) -> None:
    from engine.compile.llm import LlmJudge

    if not isinstance(judge, LlmJudge):
        return
    if judge.usage.calls:
        err.print(f"judge: {judge.label}, {judge.usage.describe()}", highlight=False)


@app.command()
def resume(
    run_id: Annotated[str, typer.Argument(help="The run to continue.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Approve every gated step.")] = False,
    approve: Annotated[list[str], typer.Option("--approve", help="STEP: approve this gate.")
                       ] = [],  # noqa: B006
    answer: Annotated[list[str], typer.Option("--answer", help="DECISION=yes|no, or "
                                              "MANUAL=done; never approves.")] = [],  # noqa: B006
    rerun: Annotated[list[str], typer.Option(
        "--rerun", help="STEP: a step in doubt (it was running when its runner or worker "
        "died) runs again.")] = [],  # noqa: B006
    mark_done: Annotated[list[str], typer.Option(
        "--mark-done", help="STEP: a step in doubt is taken as done; it does not run "
        "again.")] = [],  # noqa: B006
    mark_failed: Annotated[list[str], typer.Option(
        "--mark-failed", help="STEP: a step in doubt is taken as failed; it does not run "
        "again.")] = [],  # noqa: B006
) -> None:
    """Continue a run that was interrupted or killed; finished steps are not run again.

    Steps that were running when the run's process (or a worker) died run again if they are
    read-only or their plugin is idempotent. A gated step whose outcome is unknown is never
    run again unasked: it is asked about (interactively), or answered with --rerun,
    --mark-done or --mark-failed; `--yes` does not answer it. Exit 2 if another live process
    drives the run."""
    from engine.interaction import IN_DOUBT_FLAGS, addresses, parse_in_doubt

    settings = _settings()
    in_doubt = parse_in_doubt(rerun=rerun, done=mark_done, failed=mark_failed)
    record, plan = asyncio.run(_with_store(settings, lambda s: _run_and_plan(s, run_id)))
    # a linked guide's by its call step (`fix/restart`), as its child run is answered
    gated = set(addresses(plan, lambda _, step: step.mutating))
    for step_id, decision in in_doubt.items():
        if step_id not in gated:
            flag = IN_DOUBT_FLAGS[decision]
            known = ", ".join(sorted(gated)) or "this plan has none"
            raise InputError(f"{flag} {step_id}: plan {plan.id} has no gated step {step_id!r}",
                             hint=f"Only a gated step can be in doubt: {known}")
    answers = _answers(settings, plan, answer=answer, approve=approve, yes=yes)
    answers.in_doubt = in_doubt
    # a gate is approved by policy only as both the policy saved when the run started and the
    # policy now approve it: tightening it holds for runs already started, loosening it does
    # not widen what their starter agreed to
    answers.policy_now, answers.auto_approve = answers.auto_approve, record.options.auto_approve
    answers.fallback = _llm_judge(settings)  # the judge decides on resume as on run
    interactive = sys.stdin.isatty() and sys.stdout.isatty()

    async def runner(executor: Executor) -> RunRecord:
        return await executor.resume(run_id)

    view = _LiveView(plan, interactive=interactive)
    view.run_id = run_id
    record = _run_async(_drive(settings, plan, runner=runner, view=view, answers=answers,
                               executor_name=record.options.executor,
                               llm_spent=_llm_spent(answers.fallback)), view)
    _print_judge_usage(answers.fallback)
    _print_end(record, settings)
    if record.options.replay is not None:  # a replay resumed: its verdict once it ends
        from engine.runtime.intervene import conclude

        verdict = asyncio.run(_with_store(settings, lambda s: conclude(s, run_id)))
        if verdict is not None:
            out.print(Text(f"verdict: {verdict.line()}"), highlight=False)
    raise typer.Exit(_exit_for(record))


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(help="Processes running steps at once.")] = 2,
    queues: Annotated[Optional[str], typer.Option(help="q1,q2: the queues to take steps "
                                                  "from (default: the default queue).")] = None,
    loglevel: Annotated[str, typer.Option(help="Celery log level.")] = "INFO",
    metrics_port: Annotated[Optional[int], typer.Option(
        min=1, max=65535, help="Serve the worker's metrics (its pool processes summed) at "
        "http://0.0.0.0:PORT/metrics (MENDFLOW_WORKER_METRICS_PORT).")] = None,
    log_format: Annotated[Optional[str], typer.Option(
        help="text, or json: Mendflow's log lines as JSON objects with run_id and step_id "
             "(MENDFLOW_LOG_FORMAT).")] = None,
) -> None:
    """Run a Celery worker that executes steps of runs started with --executor celery."""
    import os

    settings = _settings()
    if not settings.database_url:
        raise InputError("a worker needs the shared store: MENDFLOW_DATABASE_URL is not set",
                         hint="Set it to postgresql://user:password@host:5432/db")
    if log_format is not None:
        from engine.logs import parse_format

        try:
            os.environ["MENDFLOW_LOG_FORMAT"] = parse_format(log_format)
        except ValueError as exc:
            raise InputError(f"--log-format: {exc}") from None
    if metrics_port is not None:
        os.environ["MENDFLOW_WORKER_METRICS_PORT"] = str(metrics_port)
    if os.environ.get("MENDFLOW_WORKER_METRICS_PORT"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir(
            os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
    argv = [sys.executable, "-m", "celery", "-A", "worker.app", "worker",
            f"--concurrency={concurrency}", f"--loglevel={loglevel}"]
    if queues:
        argv.append(f"--queues={queues}")
    sys.stdout.flush()
    os.execvp(argv[0], argv)


def _metrics_dir(given: str | None) -> str:
    """The folder a worker's processes write their metrics into, emptied of a previous
    worker's values (prometheus_client's multiprocess mode): PROMETHEUS_MULTIPROC_DIR if set,
    else a new temporary folder."""
    import tempfile

    if not given:
        return tempfile.mkdtemp(prefix="mendflow-metrics-")
    folder = Path(given)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.db"):
            old.unlink()
    except OSError as exc:
        raise InputError(f"PROMETHEUS_MULTIPROC_DIR {given}: {exc.strerror}",
                         hint="Point it at an empty folder this user can write") from None
    return str(folder)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _on_ctrl_c(plan: Plan, executor: Executor, view: _LiveView) -> None:
    """First Ctrl-C (or SIGTERM, SIGHUP: systemd, a container or a CI timeout stopping us): a
    plan with clean-up steps is cancelled, so they run (a robot cell is left safe); any other
    plan stops at once and stays resumable. Second signal: stop now. Either way the steps'
    processes are ended and the store says how the run stopped."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    pressed = 0

    def handler(sig: signal.Signals) -> None:
        nonlocal pressed
        pressed += 1
        what = "Ctrl-C" if sig == signal.SIGINT else sig.name
        if pressed == 1 and plan.cleanup:
            view.pause()
            err.print(f"\n[yellow]cancelling[/yellow] ({what}): running the clean-up steps "
                      f"({', '.join(plan.cleanup)}); Ctrl-C again to stop at once")
            view.resume()
            if executor.cancel(f"cancelled by the user ({what})"):
                return
        if main is not None:
            main.cancel()

    for sig in _STOP_SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, handler, sig)


def _run_async(coro: Any, view_of: _LiveView | None = None) -> Any:
    try:
        return asyncio.run(coro)
    except (KeyboardInterrupt, asyncio.CancelledError):
        run_id = view_of.run_id if view_of is not None else None
        if run_id:
            err.print(f"\n[yellow]interrupted[/yellow]: run {run_id} is resumable with "
                      f"`mendflow resume {run_id}`", highlight=False)
        else:
            err.print("\n[yellow]interrupted[/yellow]: the run is resumable with "
                      "`mendflow resume`")
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None


async def _with_store(settings: Settings, fn: Callable[[Store], Awaitable[T]]) -> T:
    store = _open_store(settings)
    await store.open()
    try:
        return await fn(store)
    finally:
        await store.close()


async def _run_and_plan(store: Store, run_id: str) -> tuple[RunRecord, Plan]:
    record = await store.get_run(run_id)
    return record, await store.load_plan(record.plan_hash)


async def _view_of(store: Store, run_id: str, *, depth: int = 0) -> RunView:
    from engine.learn.record import run_lessons
    from engine.report import build_view
    from engine.stragglers import load_baseline

    record = await store.get_run(run_id)
    plan = await store.load_plan(record.plan_hash)
    memory = await store.memory(run_id)  # first: see build_view
    events = await store.events(run_id)
    view = build_view(record, plan, events, memory)
    lessons = await run_lessons(store, record, plan, events)
    view.recurring, view.cause = lessons.recurring, lessons.cause
    view.llm_usage = await store.llm_usage(run_id)
    view.answers = await store.questions(run_id=run_id, pending=False)
    view.history = await load_baseline(store, record.plan_id, before=record.created_at)
    if record.status == "running":
        view.driver = _driver(await store.lease(run_id), run_id)
    if depth < _CHILD_DEPTH:  # the linked guides' runs, nested under their call steps
        for child in await store.child_runs(run_id):
            if child.parent_step:
                view.children[child.parent_step] = await _view_of(store, child.run_id,
                                                                  depth=depth + 1)
    return view


_CHILD_DEPTH = 8
"""How deep `show` and `report` nest child runs (compile refuses cycles; this bounds a store
edited by hand)."""


def _dead_here(lease: Lease) -> bool:
    """The lease's holder ran on this host and its process is gone (killed before its lease
    lapsed)."""
    import socket

    if lease.host != socket.gethostname():
        return False
    try:
        os.kill(lease.pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _driver(lease: tuple[Lease, bool] | None, run_id: str) -> str:
    """Whether anything still drives a run the store says is running."""
    if lease is not None and lease[1] and not _dead_here(lease[0]):
        return f"live: driven by {lease[0].describe()}"
    return (f"no process drives it (its driver stopped without ending it; steps shown running "
            f"were in flight then): `mendflow resume {run_id}` continues it")



def _print_findings(view: RunView) -> None:
    """The conclusion in the guide's words with its values, and every problem the guide's
    conditions prove on what the run found, not only the first."""
    from engine.report import findings_lines

    if view.conclusion:
        out.print(Text(f"conclusion: {view.conclusion}"), highlight=False)

    lines = findings_lines(view.findings)
    if not lines:
        return
    out.print(f"found {len(lines)} problem{'s' if len(lines) > 1 else ''}:", highlight=False)
    for line in lines:
        out.print(Text(f"  - {line}"), highlight=False)


def _print_lessons(view: RunView) -> None:
    """The run's root cause with its evidence, and its failures other runs had too."""
    from engine.report import CAUSE_NAMES

    cause = view.cause
    if cause is not None:
        out.print(Text(f"root cause: {CAUSE_NAMES.get(cause.cause, cause.cause)}: "
                       f"{cause.summary}"), highlight=False)
        for e in cause.evidence:
            where = f"{e.step_id} (line {e.line}): " if e.step_id else ""
            out.print(Text(f"  - {where}{' '.join(e.message.split())[:160]}"),
                      highlight=False)
    for step_id, note in view.recurring.items():
        out.print(Text(f"known failure at {step_id}: {note}"), highlight=False)


@app.command()
def runs(limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
         why: Annotated[bool, typer.Option(
             "--why", help="Each ended run's root cause (guide defect, environment, engine, "
             "operator, incident) and the step that shows it.")] = False,
         format: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
         ) -> None:
    """List recent runs."""
    if format not in ("table", "json"):
        raise InputError(f"unknown --format {format!r}", hint="Use table or json")
    _check_limit(limit)
    settings = _settings()
    records, causes = asyncio.run(_with_store(settings, lambda s: _runs_and_causes(
        s, limit=limit, why=why)))
    if format == "json":
        sys.stdout.write(json.dumps([
            {**r.model_dump(mode="json", include={"run_id", "plan_id", "guide_path", "status",
                                                  "outcome", "reason", "created_at"}),
             **({"cause": (causes[r.run_id].model_dump(mode="json")
                           if r.run_id in causes else None)} if why else {})}
            for r in records], indent=2) + "\n")
        return
    table = Table()
    table.add_column("run", no_wrap=True)
    # --why: the root cause takes the place of the run's reason
    for name in ("guide", "status", "outcome", "started", "root cause" if why else "why"):
        table.add_column(name, no_wrap=name in ("outcome", "started") or (
            why and name == "guide"))
    for r in records:
        outcome = (r.outcome or "") + (" (dry run)" if r.options.dry_run else "")
        table.add_row(r.run_id, r.plan_id, r.status, outcome,
                      r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                      Text(_cause_cell(causes.get(r.run_id)) if why else (r.reason or "")[:60]))
    out.print(table)


MAX_LIMIT = 1_000_000


def _check_limit(limit: int) -> None:
    """`--limit` is how many to list: 1 or more, and no more than a store's integers hold
    (20 digits was an internal error, an OverflowError from SQLite; -1 listed them all)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"--limit {limit} is not how many to list: give 1 to {MAX_LIMIT:,}",
                         hint="Write --limit 20")


def _cause_cell(cause: Any) -> str:
    if cause is None:
        return ""
    from engine.report import CAUSE_NAMES

    return f"{CAUSE_NAMES.get(cause.cause, cause.cause)}: {cause.summary}"[:100]


async def _runs_and_causes(store: Store, *, limit: int,
                           why: bool) -> tuple[list[RunRecord], dict[str, Any]]:
    """The newest runs and, with `why`, their root causes: kept when the run ended, or worked
    out now for a run that ended before they were kept."""
    from engine.learn.causes import classify, needs_cause

    records = await store.list_runs(limit=limit)
    if not why:
        return records, {}
    causes: dict[str, Any] = {c.run_id: c for c in await store.run_causes(
        run_ids=[r.run_id for r in records])}
    for r in records:
        if r.run_id not in causes and needs_cause(r):
            found = classify(await store.load_plan(r.plan_hash), r,
                             await store.events(r.run_id))
            if found is not None:
                causes[r.run_id] = found
    return records, causes


@app.command()
def failures(
    guide: Annotated[Optional[str], typer.Option(
        "--guide", "-g", help="Only this guide's (its id, or the path it ran from).")] = None,
    limit: Annotated[int, typer.Option(help="How many, most recently seen first.")] = 50,
    format: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
) -> None:
    """Failure signatures: failed steps' errors with their ids, hosts, numbers, paths and
    quoted values abstracted, how often and where each was seen, and what fixed it."""
    if format not in ("table", "json"):
        raise InputError(f"unknown --format {format!r}", hint="Use table or json")
    _check_limit(limit)
    settings = _settings()
    if guide is not None and Path(guide).is_file():
        guide = str(Path(guide))
    found = asyncio.run(_with_store(settings, lambda s: s.signatures(guide=guide,
                                                                        limit=limit)))
    if format == "json":
        sys.stdout.write(json.dumps([s.model_dump(mode="json") for s in found], indent=2)
                         + "\n")
        return
    if not found:
        out.print("no failures recorded" + (f" for {guide}" if guide else ""), highlight=False)
        return
    table = Table(expand=True)
    table.add_column("signature", no_wrap=True)
    table.add_column("seen", justify="right", no_wrap=True)
    table.add_column("first / last", no_wrap=True)
    table.add_column("where")
    table.add_column("error (normalised)")
    table.add_column("last fixed by")
    for s in found:
        table.add_row(s.signature, f"{s.count} ({s.runs} run{'s' if s.runs != 1 else ''})",
                      f"{s.first_seen:%Y-%m-%d %H:%M}\n{s.last_seen:%Y-%m-%d %H:%M}",
                      Text(", ".join(s.steps)), Text(s.pattern[:200]),
                      Text(s.fixes[0].describe() if s.fixes else "-"))
    out.print(table)


@app.command()
def show(run_id: Annotated[str, typer.Argument(help="The run to show.")]) -> None:
    """Show a run: steps, what they found, timings, the critical path, the outcome and why."""
    from engine.report import llm_lines

    settings = _settings()
    view = asyncio.run(_with_store(settings, lambda s: _view_of(s, run_id)))
    r = view.record
    out.print(f"[bold]{r.title}[/bold]  run {r.run_id}", highlight=False)
    dry = " (dry run: nothing was changed; not a real outcome)" if r.options.dry_run \
        else ""
    out.print(f"outcome: {r.outcome or '-'} ({r.status}){dry}  "
              f"why: {escape(view.why or r.reason or '-')}",
              highlight=False)
    _print_findings(view)
    for line in view.replays:
        out.print(Text(f"replay: {line}"), highlight=False)
    _print_lessons(view)
    for line in llm_lines(view.llm_usage):
        out.print(Text(f"LLM: {line}"), highlight=False)
    if view.driver:
        out.print(Text(f"run state: {view.driver}"), highlight=False)
    if view.makespan_s is not None:
        out.print(f"took {view.makespan_s:.2f} s; critical path {view.critical_path_s:.2f} s: "
                  + " -> ".join(view.critical_path), highlight=False)
    table = Table("", "step", "kind", "line", "tries", "s", "found", expand=True)
    _add_rows(table, view, depth=0)
    out.print(table)


def _add_rows(table: Table, view: RunView, *, depth: int) -> None:
    """The run's steps; under a call step, the steps of the child run it started, indented
    (its own id on a line of its own: `mendflow show CHILD` shows it alone)."""
    from engine.report import small_values

    pad = "  " * depth
    for row in view.rows:
        if depth and row.status in ("pending", "skipped"):
            continue
        icon, style = STATUS_STYLE.get(row.status, ("?", ""))
        dur = f"{row.duration_s:.2f}" if row.duration_s is not None else ""
        if row.waited_s >= 0.05:  # the wait for a concurrency slot, apart from the work
            dur += f" +{row.waited_s:.1f} wait"
        found = row.error if row.status == "failed" and row.error else (
            small_values(row.outputs) or row.summary)
        if view.straggler(row):  # past the p99 of its own history (engine.stragglers)
            hist = view.history.of(row.step_id) if view.history is not None else None
            p99 = (hist.p99_s if hist is not None and hist.p99_s is not None
                   else view.flagged[row.step_id].p99_s)
            dur += "!"
            style = "bold magenta"
            found = f"[straggler: p99 {p99:.2f} s] {found}"
        if row.replayed:  # a replay served it from a record instead of running it
            found = f"[{row.replayed}] {found}"
        table.add_row(Text(icon, style=style), Text(pad + row.step_id), row.kind, row.line,
                      str(row.attempts or ""), dur, Text(" ".join(str(found).split())[:120]))
        child = view.children.get(row.step_id)
        if child is not None:
            r = child.record
            table.add_row("", Text(f"{pad}  ↳ run {r.run_id}"), "run", "", "", "",
                          Text(f"{r.title}: {r.outcome or '-'} ({r.status})"))
            _add_rows(table, child, depth=depth + 1)


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
        write_out(output, text)
        out.print(f"wrote {output}")
    else:
        sys.stdout.write(text)

