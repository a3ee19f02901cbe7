"""`mendflow run --executor celery`: start a run on the workers and follow it from the store.

Loaded by the CLI through the `mendflow.executors` entry point (`celery =
"worker.executor:CeleryExecutor"`), so the engine never imports Celery. Same constructor and
`start`/`resume` as `engine.runtime.executor.LocalExecutor`; the difference is that the steps
run on workers: this process only creates the run, dispatches its entry step, and polls the
store until the run ends (it may be killed meanwhile: the run goes on).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine import scheduler as sched
from engine.errors import ConfigError
from engine.interaction import Answers
from engine.plan import Plan
from engine.plugins import Registry
from engine.runtime.distributed import DistributedRunner, follow
from engine.runtime.executor import Update, new_run_id
from engine.settings import Settings
from engine.store.base import RunRecord, Store

_FINISHED = {"step_succeeded": "succeeded", "step_failed": "failed",
             "step_timed_out": "failed", "approval": "succeeded"}


class CeleryExecutor:
    def __init__(self, *, store: Store, registry: Registry, settings: Settings,
                 interaction: Any | None = None, observer: Any | None = None,
                 datasources: Any | None = None, redact: Any | None = None,
                 poll_s: float = 0.25) -> None:
        if not settings.database_url:
            raise ConfigError("the Celery executor needs the shared PostgreSQL store",
                              hint="Set MENDFLOW_DATABASE_URL (and MENDFLOW_BROKER_URL)")
        self.store, self.registry, self.settings = store, registry, settings
        self.interaction = interaction
        self.observer = observer or (lambda update: None)
        self.redact = redact
        self.poll_s = poll_s

    def _runner(self) -> DistributedRunner:
        from worker import app as worker_app  # reads MENDFLOW_* once, builds the Celery app
        from worker.dispatch import CeleryDispatcher, check_broker

        check_broker(worker_app.settings.broker)
        dispatcher = CeleryDispatcher(worker_app.step,
                                      default_queue=worker_app.settings.default_queue)
        return DistributedRunner(store=self.store, registry=self.registry,
                                 settings=self.settings, dispatcher=dispatcher,
                                 redact=self.redact)

    def _judged(self) -> bool:
        """Whether the starter judges prose conditions with the LLM (`run` chains the judge in
        front of the person): then the workers do too, with the same model."""
        from engine.compile.llm import LlmJudge

        fallback = getattr(self.interaction, "fallback", None)
        return bool(self.settings.llm) and isinstance(fallback, LlmJudge)

    async def start(self, plan: Plan, *, guide_path: str,
                    inputs: Mapping[str, str] | None = None,
                    alert: Mapping[str, Any] | None = None, dry_run: bool = False,
                    run_id: str | None = None) -> RunRecord:
        runner = self._runner()
        try:
            record = await runner.start(
                plan, guide_path=guide_path, run_id=run_id or new_run_id(), inputs=inputs,
                alert=alert, dry_run=dry_run,
                answers=dict(getattr(self.interaction, "answers", {}) or {}),
                assume_yes=bool(getattr(self.interaction, "assume_yes", False)),
                approvals=tuple(getattr(self.interaction, "approvals", ()) or ()),
                auto_approve=tuple(getattr(self.interaction, "auto_approve", ()) or ()),
                judge=self.settings.llm if self._judged() else None)
        finally:
            runner.dispatcher.close()  # type: ignore[attr-defined]
        return await self._follow(record.run_id)

    async def resume(self, run_id: str) -> RunRecord:
        """Workers drive the run; resuming it from here means answering for its steps in
        doubt (`--rerun`, `--mark-done`, `--mark-failed`, or the terminal), then following
        it. With a question unanswered the run stays `interrupted`, as it was."""
        runner = self._runner()
        try:
            record = await runner.settle_in_doubt(run_id, self.interaction or Answers())
        finally:
            runner.dispatcher.close()  # type: ignore[attr-defined]
        if record.status != "running":
            self.observer(Update("run_finished", run_id, status=record.status, record=record))
            return record
        return await self._follow(run_id)

    async def _follow(self, run_id: str) -> RunRecord:
        def on_event(ev: Any, state: sched.RunState) -> None:
            if ev.type == "step_started":
                self.observer(Update("step_started", run_id, step_id=ev.step_id,
                                     attempt=ev.attempt, state=state))
            elif ev.type in _FINISHED and ev.step_id:
                st = state.steps.get(ev.step_id)
                self.observer(Update(
                    "step_finished", run_id, step_id=ev.step_id, attempt=ev.attempt,
                    status=str(st.status) if st else _FINISHED[ev.type],
                    summary=str(ev.data.get("summary", "")),
                    duration_s=ev.data.get("duration_s"), state=state))

        record = await follow(self.store, run_id, poll_s=self.poll_s, on_event=on_event)
        self.observer(Update("run_finished", run_id, status=record.status, record=record))
        return record
