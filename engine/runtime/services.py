"""The seams of the run core: what every executor is given, and what every executor offers.

`Services` is built once at the edge (the CLI, a Celery worker process) and handed to whatever
runs steps: the embedded `LocalExecutor`, the `StepRunner` under it and under every worker, the
`DistributedRunner` of a worker or of the process that starts a Celery run. How a particular
run is to be driven (executor, dry run, the starter's answers and policy, the judge) is not a
service: it is the run's `RunOptions`, saved with the run (`engine.store.base`).

`Executor` is what the CLI (and anything else that starts runs) drives: `local`, or one that a
package installs under the `mendflow.executors` entry point (`celery`, from `worker/`). A run
is resumed on the executor its options name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from engine.datasources import DataSources
from engine.interaction import Answers, Interaction
from engine.plan import Plan
from engine.plugins import Registry
from engine.settings import Settings
from engine.store.base import RunOptions, RunRecord, Store

if TYPE_CHECKING:
    from engine.compile.llm import LlmJudge

log = logging.getLogger("mendflow.services")

Redact = Callable[[Any], Any]
"""Masks every data source's secrets in a value (strings, and the strings inside mappings and
lists), before it reaches the store, a log or a report."""


def _unredacted(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Services:
    store: Store
    registry: Registry
    settings: Settings
    datasources: DataSources | None = None
    redact: Redact = field(default=_unredacted)


class Executor(Protocol):
    """Starts runs and drives them to their end (or hands them to workers and follows them)."""

    async def start(self, plan: Plan, *, guide_path: str,
                    inputs: Mapping[str, str] | None = None,
                    alert: Mapping[str, Any] | None = None,
                    options: RunOptions | None = None,
                    run_id: str | None = None) -> RunRecord: ...

    async def resume(self, run_id: str) -> RunRecord: ...

    def cancel(self, reason: str = "cancelled by the user") -> bool:
        """Cancel the run being driven, its clean-up steps run; False when this executor
        cannot (the run then stops at once, resumable)."""
        ...


class ExecutorFactory(Protocol):
    def __call__(self, services: Services, *, interaction: Interaction | None = None,
                 observer: Callable[[Any], None] | None = None) -> Executor: ...


def build_services(settings: Settings, store: Store, registry: Registry) -> Services:
    """The services of one process: the data sources of mendflow.toml and the environment,
    and a redactor of their secrets (ConfigError, one line, for a bad data source table)."""
    import os

    from engine.datasources import load_datasources

    sources = load_datasources(settings, environ=os.environ)
    return Services(store=store, registry=registry, settings=settings, datasources=sources,
                    redact=sources.redactor().redact_obj)


def answers_for(options: RunOptions, *, judge: Interaction | None = None,
                store: Store | None = None, run_id: str | None = None,
                policy_now: tuple[str, ...] | None = None) -> Answers:
    """The answers a run's options give: what a worker (or any driver with no terminal)
    answers with. What they do not say goes to the run's judge (for a judgment), then, when
    the options ask people (`ask_people`) and a store is given, to a person through the store
    (`engine.runtime.questions`); else it fails the step, saying which flag answers it.
    `policy_now`, on resume: the operator's approval policy now, which a gate must match as
    well as the saved one (the stricter wins); without it, the one saved by the run's last
    resume (`RunOptions.policy_now`: a worker answers as the resuming operator's policy
    said, as the local driver does)."""
    from engine.runtime.questions import StoreQuestions

    people = StoreQuestions(store, run_id) if options.ask_people and store is not None \
        and run_id is not None else None
    if judge is not None and people is not None:
        # imported only with a judge: the LLM libraries take a second or more to import, paid
        # by `mendflow serve`'s first alert otherwise (while every request in flight waits)
        from engine.compile.llm import LlmJudge

        if isinstance(judge, LlmJudge):
            judge.fallback = people  # unsure: a person decides
    return Answers(answers=dict(options.answers), assume_yes=options.assume_yes,
                   approvals=options.approvals, auto_approve=options.auto_approve,
                   policy_now=policy_now if policy_now is not None else options.policy_now,
                   fallback=judge or people)


def judge_for(spec: str | None, settings: Settings) -> LlmJudge | None:
    """The run's LLM judge (`provider:model`, as its options saved it) in this process, with
    this process's endpoint and key; None without one, or when this process cannot reach the
    model (said in the log): a person is asked then, as without a judge."""
    if not spec:
        return None
    from engine.compile.llm import LlmError, LlmJudge, chat_model_from_settings

    try:
        made, model = chat_model_from_settings(
            spec, timeout_s=settings.llm_timeout_s, attempts=settings.llm_attempts,
            record_dir=settings.llm_record)
    except LlmError as exc:
        log.warning("the run's judge %s is unusable here: %s", spec, exc)
        return None
    return LlmJudge(model, made.label, min_confidence=settings.llm_min_confidence,
                    budget_s=settings.llm_budget_s)
