"""`mendflow run --executor celery`: start a run on the workers and follow it from the store.

Loaded by the CLI through the `mendflow.executors` entry point (`celery =
"worker.executor:CeleryExecutor"`), so the engine never imports Celery. An
`engine.runtime.services.Executor` built like `engine.runtime.executor.LocalExecutor` (from the
process's `Services`); the difference is that the steps run on workers: this process only
creates the run, dispatches its entry step, and polls the store until the run ends (it may be
killed meanwhile: the run goes on).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from engine import scheduler as sched
from engine.errors import ConfigError
from engine.interaction import Answers, Interaction
from engine.plan import Plan
from engine.runtime.distributed import DistributedRunner, follow
from engine.runtime.executor import Observer, Update, new_run_id
from engine.runtime.services import Services
from engine.store.base import RunOptions, RunRecord
from engine.stragglers import Straggler

if TYPE_CHECKING:
    from worker.dispatch import CeleryDispatcher

_FINISHED = {"step_succeeded": "succeeded", "step_failed": "failed",
             "step_timed_out": "failed", "approval": "succeeded"}


class CeleryExecutor:
    def __init__(self, services: Services, *, interaction: Interaction | None = None,
                 observer: Observer | None = None, poll_s: float = 0.25) -> None:
        if not services.settings.database_url:
            raise ConfigError("the Celery executor needs the shared PostgreSQL store",
                              hint="Set MENDFLOW_DATABASE_URL (and MENDFLOW_BROKER_URL)")
        self.services = services
        self.store = services.store
        self.interaction = interaction
        self.observer: Observer = observer or (lambda update: None)
        self.poll_s = poll_s
        self._following: str | None = None  # the run `cancel` reaches
        self._cancelling: asyncio.Task[None] | None = None

    def _runner(self) -> tuple[DistributedRunner, CeleryDispatcher]:
        from worker import app as worker_app  # reads MENDFLOW_* once, builds the Celery app
        from worker.dispatch import CeleryDispatcher, check_broker

        check_broker(worker_app.settings.broker)
        dispatcher = CeleryDispatcher(worker_app.step,
                                      default_queue=worker_app.settings.default_queue)
        return DistributedRunner(self.services, dispatcher=dispatcher), dispatcher

    async def start(self, plan: Plan, *, guide_path: str,
                    inputs: Mapping[str, str] | None = None,
                    alert: Mapping[str, Any] | None = None,
                    options: RunOptions | None = None,
                    run_id: str | None = None) -> RunRecord:
        """Start the run on the workers with its options (the starter's answers, approval
        policy and judge travel with the run), then follow it from the store."""
        runner, dispatcher = self._runner()
        try:
            record = await runner.start(plan, guide_path=guide_path,
                                        run_id=run_id or new_run_id(), inputs=inputs,
                                        alert=alert, options=options)
        finally:
            dispatcher.close()
        return await self._follow(record.run_id)

    def cancel(self, reason: str = "cancelled by the user") -> bool:
        """Cancel the run this process follows: the cancel is committed to the store (the
        workers stop its steps in flight within a poll, start no more of it, and run the
        plan's clean-up steps), and following goes on until the run ends. False when it
        follows none."""
        if self._following is None or self._cancelling is not None:
            return self._cancelling is not None
        self._cancelling = asyncio.get_running_loop().create_task(
            self._cancel(self._following, reason))
        return True

    async def _cancel(self, run_id: str, reason: str) -> None:
        runner, dispatcher = self._runner()
        try:
            await runner.cancel(run_id, reason)
        finally:
            dispatcher.close()

    async def resume(self, run_id: str) -> RunRecord:
        """Workers drive the run; resuming it from here means answering for its steps in
        doubt (`--rerun`, `--mark-done`, `--mark-failed`, or the terminal), then following
        it. With a question unanswered the run stays `interrupted`, as it was."""
        runner, dispatcher = self._runner()
        try:
            said = self.interaction or Answers()
            record = await runner.settle_in_doubt(
                run_id, said, policy_now=said.policy_now if isinstance(said, Answers) else None)
        finally:
            dispatcher.close()
        if record.status != "running":
            self.observer(Update("run_finished", run_id, status=record.status, record=record))
            return record
        return await self._follow(run_id)

    async def _follow(self, run_id: str) -> RunRecord:
        def on_event(ev: Any, state: sched.RunState) -> None:
            if ev.type == "step_started":
                self.observer(Update("step_started", run_id, step_id=ev.step_id,
                                     attempt=ev.attempt, state=state))
            elif (flag := Straggler.from_event(ev)) is not None:  # a worker flagged it
                self.observer(Update("step_straggler", run_id, step_id=flag.step,
                                     attempt=flag.attempt, summary=flag.describe(),
                                     duration_s=flag.elapsed_s, state=state))
            elif ev.type in _FINISHED and ev.step_id:
                st = state.steps.get(ev.step_id)
                self.observer(Update(
                    "step_finished", run_id, step_id=ev.step_id, attempt=ev.attempt,
                    status=str(st.status) if st else _FINISHED[ev.type],
                    summary=str(ev.data.get("summary", "")),
                    duration_s=ev.data.get("duration_s"), state=state,
                    error=(ev.data.get("event") or {}).get("error")))

        self._following = run_id
        try:
            record = await follow(self.store, run_id, poll_s=self.poll_s, on_event=on_event)
        finally:
            self._following = None
        self.observer(Update("run_finished", run_id, status=record.status, record=record))
        return record
