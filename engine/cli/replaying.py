"""`mendflow replay`: run a finished run again from one of its steps, with an intervention,
and say whether the outcome changed (`engine.runtime.intervene`)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.text import Text

from engine.cli._app import _settings, app, err, out
from engine.cli.live import _LiveView
from engine.cli.runs import (
    _answers,
    _drive,
    _exit_for,
    _llm_judge,
    _llm_spent,
    _print_end,
    _run_async,
    _run_options,
    _run_plan,
    _with_store,
)

if TYPE_CHECKING:
    from engine.runtime.intervene import Prepared, Sets
    from engine.runtime.services import Executor
    from engine.settings import Settings
    from engine.store.base import RunRecord, Store


@app.command()
def replay(
    run_id: Annotated[str, typer.Argument(help="The run to replay (it must have ended or "
                                          "been interrupted).")],
    from_step: Annotated[str, typer.Option("--from", help="STEP: replay from this step; the "
                                           "steps that finished before it are reused, not "
                                           "run again.")],
    set_: Annotated[list[str], typer.Option("--set", help="The intervention: inputs.NAME=VALUE "
                                            "(checked as --input is), or "
                                            "steps.STEP.output=@FILE (a JSON object: the step "
                                            "is served with it, not run).")] = [],  # noqa: B006
    guide: Annotated[Optional[Path], typer.Option(help="An edited guide to replay with (its "
                                                  "steps keep their ids).")] = None,
    from_record: Annotated[bool, typer.Option(
        "--from-record", help="Read-only steps from STEP on are served from the run's record "
        "when their parameters render as they did then.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Run only read-only steps.")
                       ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Approve every gated step.")] = False,
    approve: Annotated[list[str], typer.Option("--approve", help="STEP: approve this gate.")
                       ] = [],  # noqa: B006
    answer: Annotated[list[str], typer.Option("--answer", help="DECISION=yes|no, or "
                                              "MANUAL=done; never approves.")] = [],  # noqa: B006
    executor: Annotated[Optional[str], typer.Option(
        help="local or celery; default: the executor the run replayed used.")] = None,
) -> None:
    """Replay a run from a step with an intervention: a new run starts from the recorded
    memory as it was just before STEP, with the change applied; the verdict (did the outcome
    change, and which step's result first differs) is printed and stored with both runs.

    Approvals are never replayed: a mutating step from STEP on asks for its approval as in
    any run (--yes, --approve, the policy, or a person). Exit codes as for `run`, for the
    replay's outcome; 2 for a bad --set, --from or --guide."""
    from engine.runtime.intervene import parse_sets

    settings = _settings()
    sets = parse_sets(set_)
    plan = _run_plan(guide, settings, plugins_elsewhere=(executor or "local") != "local") \
        if guide is not None else None
    prepared = asyncio.run(_with_store(settings, lambda s: _prepare(
        s, settings, run_id, from_step=from_step, sets=sets, plan=plan,
        guide_path=guide.as_posix() if guide is not None else None,
        from_record=from_record)))
    name = executor or prepared.original.options.executor
    answers = _answers(settings, prepared.plan, answer=answer, approve=approve, yes=yes)
    judge = answers.fallback = _llm_judge(settings)
    for line in prepared.describe():
        err.print(Text(line), highlight=False)
    options = _run_options(settings, answers, executor=name, dry_run=dry_run).model_copy(
        update={"replay": prepared.replay})
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    from engine.runtime.executor import new_run_id

    new_id = new_run_id()

    async def runner(run_with: Executor) -> RunRecord:
        return await run_with.start(prepared.plan, guide_path=prepared.guide_path,
                                    inputs=prepared.inputs, alert=prepared.alert,
                                    options=options, run_id=new_id)

    view = _LiveView(prepared.plan, interactive=interactive)
    view.run_id = new_id
    record = _run_async(_drive(settings, prepared.plan, runner=runner, view=view,
                               answers=answers, executor_name=name,
                               llm_spent=_llm_spent(judge)), view)
    _print_end(record, settings)
    verdict = asyncio.run(_with_store(settings, lambda s: _conclude(s, record.run_id)))
    if verdict is not None:
        out.print(Text(f"verdict: {verdict}"), highlight=False)
    raise typer.Exit(_exit_for(record))


async def _prepare(store: Store, settings: Settings, run_id: str, *, from_step: str,
                   sets: Sets, **kw: Any) -> Prepared:
    from engine.plugins import default_registry
    from engine.runtime.intervene import prepare
    from engine.runtime.services import build_services

    services = build_services(settings, store, default_registry())
    return await prepare(store, run_id, from_step=from_step, sets=sets,
                         redact=services.redact, **kw)


async def _conclude(store: Store, run_id: str) -> str | None:
    from engine.runtime.intervene import conclude

    found = await conclude(store, run_id)
    return found.line() if found is not None else None
