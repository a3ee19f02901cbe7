"""The local executor: runs a plan on one asyncio event loop, persisting before acting.

Owns the impure half of running a plan: starting steps as the pure scheduler asks, bounding
concurrency (globally and per plugin), enforcing timeouts, containing plugin failures, asking
people questions, writing memory, and committing every transition to the store before acting
on it. The rules of what may run when live in `engine.scheduler`; this module never decides
them itself.

One coroutine, `_drive`, is the only writer of a run's state: step tasks report their results
on a queue, and `_drive` turns each batch of them into one commit (`engine.runtime.commit`, as
workers do), commits it, and then starts or cancels steps. Only one process drives a run at a
time: `_drive` runs under the run's lease (`engine.runtime.driving.drive_lease`), so a second
`resume` of a run being driven is refused with who drives it. A run killed at any point resumes
from its last commit: completed steps never run again; steps that were in flight run again with
the same attempt number and idempotency key if they may (read-only, or a plugin idempotent for
its key); a gated step that may not is in doubt, and only a person's answer
(`Interaction.settle_in_doubt`: re-run it, or take it as done or failed) lets the run go on;
with no answer the run stops `interrupted`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engine import logs, metrics
from engine import scheduler as sched
from engine.errors import MendflowError
from engine.interaction import Answers, Interaction, NeedsAnswer, for_call
from engine.learn.record import learn_safely
from engine.plan import Plan, Step, StepKind
from engine.runtime.children import STEP_CANCELLED, ChildCalls
from engine.runtime.commit import (
    Commit,
    Report,
    commit_reports,
    end_run,
    local_snapshot_every,
    resume_run,
    start_run,
)
from engine.runtime.driving import (
    LEASE_LOST,
    LEASE_TTL_S,
    LEASE_UNRENEWED,
    drive_lease,
    in_doubt_reason,
    interrupted_reason,
    reap_leftovers,
    repeatable,
)
from engine.runtime.intervene import server_for
from engine.runtime.limits import Slots
from engine.runtime.memory import Memory, build_context
from engine.runtime.replay import check_memory, current_state
from engine.runtime.services import Redact, Services
from engine.runtime.steps import StepReport, StepRunner
from engine.store.base import RunOptions, RunRecord, StaleState, Store
from engine.stragglers import load_baseline

log = logging.getLogger("mendflow.executor")

@dataclass(frozen=True, slots=True)
class Update:
    """What the executor tells an observer (the CLI's live view, a test)."""

    # run_started | step_started | step_waiting | step_working | step_straggler |
    # step_finished | run_finished
    kind: str
    run_id: str
    step_id: str | None = None
    attempt: int | None = None
    status: str | None = None
    summary: str = ""
    duration_s: float | None = None
    record: RunRecord | None = None
    state: sched.RunState | None = None
    error: str | None = None  # a failed attempt's message (redacted), as the store keeps it


Observer = Callable[[Update], None]


def _unobserved(update: Update) -> None:
    """The observer of a run no one watches (its updates are not even built)."""


class LocalExecutor:
    def __init__(
        self,
        services: Services,
        *,
        interaction: Interaction | None = None,
        observer: Observer | None = None,
        lease_ttl_s: float = LEASE_TTL_S,
    ) -> None:
        self.services = services
        self.store = services.store
        self.interaction: Interaction = interaction or Answers()
        self.lease_ttl_s = lease_ttl_s
        self.observer = observer or _unobserved
        self.redact: Redact = services.redact
        self.runner = StepRunner(services, interaction=self.interaction)
        self.runner.on_wait = lambda run_id, sid, waiting: self.observer(Update(
            "step_waiting" if waiting else "step_working", run_id, step_id=sid))
        self.runner.calls = child_calls(services, interaction=self.interaction,
                                        lease_ttl_s=lease_ttl_s)
        self.runner.on_straggler = lambda run_id, flag: self.observer(Update(
            "step_straggler", run_id, step_id=flag.step, attempt=flag.attempt,
            summary=flag.describe(), duration_s=flag.elapsed_s))
        self._queue: asyncio.Queue[tuple[str, int, StepReport]] | None = None  # while driving
        self._driving_over = False
        self._cancel_first: str | None = None  # a cancel asked before the run's queue was
        # Call steps the run cancelled, still cancelling their child runs (clean-up included):
        # the run is not over until they are.
        self._calls_stopping: list[asyncio.Task[None]] = []

    # -- public ----------------------------------------------------------------------------

    async def start(
        self,
        plan: Plan,
        *,
        guide_path: str,
        inputs: Mapping[str, str] | None = None,
        alert: Mapping[str, Any] | None = None,
        options: RunOptions | None = None,
        run_id: str | None = None,
        parent: tuple[str, str] | None = None,
    ) -> RunRecord:
        """Create a run of `plan` and drive it to the end. `options` are saved with the run
        (on this executor, whatever executor they name); `parent` is (run id, call step) for
        a linked guide's child run."""
        record = await self.create(plan, guide_path=guide_path, inputs=inputs, alert=alert,
                                   options=options, run_id=run_id, parent=parent)
        return await self._drive_once(plan, record)

    async def create(
        self,
        plan: Plan,
        *,
        guide_path: str,
        inputs: Mapping[str, str] | None = None,
        alert: Mapping[str, Any] | None = None,
        options: RunOptions | None = None,
        run_id: str | None = None,
        parent: tuple[str, str] | None = None,
        store: Store | None = None,
    ) -> RunRecord:
        """Write the run's row (`running`, nothing started), as `start` does first; `drive`
        (or `resume`) then drives it from its start. `mendflow serve` writes it when it takes
        the alert in, through `store` (the same store opened apart for its intake), and
        drives it when the intake lets it (`engine.serve.starts`)."""
        writer = store or self.store
        run_id = run_id or new_run_id()
        context = build_context(plan, run_id=run_id, inputs=inputs or {}, alert=alert,
                                redact=self.redact)
        plan_hash = await writer.save_plan(plan)
        now = datetime.now(UTC)
        state = sched.initial_state(plan, seed=run_id)
        record = RunRecord(
            run_id=run_id, plan_id=plan.id, plan_hash=plan_hash, guide_path=guide_path,
            title=plan.title, status="running", created_at=now, updated_at=now, version=0,
            state=state.to_json_dict(), context=self.redact(context),
            options=(options or RunOptions()).model_copy(update={"executor": "local"}),
            parent_run_id=parent[0] if parent else None,
            parent_step=parent[1] if parent else None,
        )
        await writer.create_run(record)
        metrics.run_started(plan.id)
        log.info("run %s of %s started", run_id, plan.id)
        return record

    async def drive(self, plan: Plan, record: RunRecord) -> RunRecord:
        """Drive a run that `create` wrote (as `resume` would, without reading it back)."""
        return await self._drive_once(plan, record)

    async def resume(self, run_id: str) -> RunRecord:
        """Continue a run that was interrupted or killed, from its last committed state."""
        record = await self.store.get_run(run_id)
        if record.status not in ("running", "interrupted"):
            return record
        plan = await self.store.load_plan(record.plan_hash)
        return await self._drive_once(plan, record)

    # -- the driver: the only writer of run state ---------------------------------------------

    async def _drive_once(self, plan: Plan, record: RunRecord) -> RunRecord:
        try:
            with logs.bound(run_id=record.run_id):
                return await self._drive_leased(plan, record)
        finally:
            self._queue = None  # cancel() only reaches a run being driven
            self._driving_over = True

    async def _drive_leased(self, plan: Plan, record: RunRecord) -> RunRecord:
        async with drive_lease(self.store, record.run_id, ttl_s=self.lease_ttl_s):
            record = await self.store.get_run(record.run_id)  # as its last driver left it
            if record.status not in ("running", "interrupted"):
                return record
            if record.version > 0:  # resuming: end what the last driver's steps left
                await asyncio.to_thread(reap_leftovers, f"{record.run_id}:")
            return await self._drive(plan, record)

    async def _drive(self, plan: Plan, record: RunRecord) -> RunRecord:
        # The steps' histories, once per run driven here (their straggler timers), loaded
        # while the first steps start: the run does not wait for them.
        loading = asyncio.ensure_future(load_baseline(self.store, plan.id,
                                                      before=record.created_at))
        self.runner.baselines[record.run_id] = loading
        try:
            return await self._drive_loaded(plan, record)
        finally:
            self.runner.baselines.pop(record.run_id, None)
            if not loading.done():
                loading.cancel()
            await asyncio.gather(loading, return_exceptions=True)

    async def _drive_loaded(self, plan: Plan, record: RunRecord) -> RunRecord:
        run_id = record.run_id
        dry_run = record.options.dry_run
        entries = await self.store.memory(run_id)
        memory = Memory.restore(record.context, entries)
        state, _ = await current_state(self.store, plan, record)
        check_memory(record, state, entries)  # a history cut short would run steps again
        # a replay's steps served from the record of the run it replays
        self.runner.replay = await server_for(self.store, record)
        queue: asyncio.Queue[tuple[str, int, StepReport]] = asyncio.Queue()
        self._queue = queue
        if self._cancel_first is not None:  # asked while the run waited to be driven
            queue.put_nowait(("", 0, StepReport(sched.Cancel(reason=self._cancel_first))))
        tasks: dict[tuple[str, int], asyncio.Task[None]] = {}
        self.observer(Update("run_started", run_id, record=record, state=state))

        if state.status == "pending":
            change = start_run(plan, state, redact=self.redact)
        else:
            change = await self._settle_in_doubt(plan, state)
            if change.status == "interrupted":  # a step in doubt has no answer: stop here
                record = await self._commit(record, change)
                _ended(plan, record)
                self.observer(Update("run_finished", run_id, status=record.status,
                                     record=record, state=change.state))
                return record
        unsnapped = 0
        snapshot_every = local_snapshot_every(plan)
        # The run as last committed: its version and status, the record itself rebuilt only
        # for an observer and at the end (a copy of it per step costs more than the scheduler).
        head = _Head(record)
        state = change.state
        try:
            await head.commit(self, change)
            self._launch(plan, run_id, state, change.actions, memory, tasks, queue, dry_run)
            while head.status == "running" and tasks:
                # Group commit: every report already waiting goes into one transaction.
                reports = [await queue.get()]
                while not queue.empty():
                    reports.append(queue.get_nowait())
                for step_id, attempt, _ in reports:
                    task = tasks.pop((step_id, attempt), None)
                    if task is not None and not task.done():  # it reported: it ends now
                        await asyncio.gather(task, return_exceptions=True)
                batch = commit_reports(
                    plan, state, [Report.of(outcome.event, outcome.data, outcome.memory,
                                            redact=self.redact) for _, _, outcome in reports],
                    since_snapshot=unsnapped, snapshot_every=snapshot_every)
                actions: list[Any] = []
                if batch is not None:  # else the scheduler ignored them all: nothing to write
                    state, actions = batch.state, batch.actions
                    unsnapped = 0 if batch.snapshot else unsnapped + batch.applied
                    await head.commit(self, batch)
                    memory.apply(batch.memory)
                if self.observer is not _unobserved:
                    record = head.record()
                    for step_id, attempt, outcome in reports:
                        if not step_id:
                            continue  # a cancel, not a step
                        step_status = state.steps[step_id].status \
                            if step_id in state.steps else ""
                        self.observer(Update(
                            "step_finished", run_id, step_id=step_id, attempt=attempt,
                            status=str(step_status),
                            summary=str(outcome.data.get("summary", "")),
                            duration_s=outcome.data.get("duration_s"), record=record,
                            state=state, error=getattr(outcome.event, "error", None),
                        ))
                self._launch(plan, run_id, state, actions, memory, tasks, queue, dry_run)
        except BaseException as exc:
            # Ctrl-C, or a commit that failed (the store unwritable): stop in-flight steps
            # first, whatever stopped the driver (a step left running would act for a run no
            # one drives, and its report would be lost), and keep the run resumable (state
            # says they were running).
            await _cancel_all(tasks)
            stopping, self._calls_stopping = self._calls_stopping, []
            for call in stopping:
                call.cancel()  # at once: the children stay resumable, as this run does
            await asyncio.gather(*stopping, return_exceptions=True)
            with contextlib.suppress(Exception):
                await asyncio.shield(head.commit(self, end_run(
                    state, "interrupted", str(self.redact(f"{_stopped_by(exc)}; resumable")))))
            raise
        record = head.record()
        await _cancel_all(tasks)
        stopping, self._calls_stopping = self._calls_stopping, []
        await asyncio.gather(*stopping, return_exceptions=True)
        if record.status == "running":  # the scheduler ended nothing and nothing runs
            record = await self._commit(record, end_run(state, "failed",
                                                        state.reason or "no step left to run"))
        _ended(plan, record)
        await learn_safely(self.store, run_id, plan=plan)
        self.observer(Update("run_finished", run_id, status=record.status, record=record,
                             state=state))
        return record

    async def _settle_in_doubt(self, plan: Plan, state: sched.RunState) -> Commit:
        """Before resuming: put in doubt the gated steps the dead runner left in flight that
        may not simply run again, and ask for an answer for every step in doubt. Returns the
        commit that resumes the run (`resume_run`); if any step in doubt is left unanswered,
        no answer is applied (nothing may start before all are answered) and the run stops
        `interrupted`, saying which."""
        doubts = sched.in_doubt_after_crash(
            plan, state, repeatable=lambda step: repeatable(self.services.registry, step),
            reason=in_doubt_reason("{step}", lost="runner"))
        reports = [Report.of(doubt, {"summary": doubt.reason}, redact=self.redact)
                   for doubt in doubts]
        doubted = state
        for doubt in doubts:
            doubted, _ = sched.apply(plan, doubted, doubt)
        answers: list[Report] = []
        waiting: list[tuple[str, str]] = []
        steps = sched.plan_index(plan).steps
        for sid, st in doubted.in_doubt():
            note = st.note or in_doubt_reason(sid, lost="runner")
            try:
                reply = await self.interaction.settle_in_doubt(step=steps[sid], reason=note)
            except NeedsAnswer:
                waiting.append((sid, note))
                continue
            answer = sched.InDoubtAnswer(step=sid, attempt=st.attempt, decision=reply.decision,
                                         by=reply.by)
            answers.append(Report.of(answer, {"summary": f"{answer.decision} ({answer.by})"},
                                     redact=self.redact))
        if waiting:
            return resume_run(plan, state, reports, waiting=interrupted_reason(waiting))
        return resume_run(plan, state, reports + answers)

    def cancel(self, reason: str = "cancelled by the user") -> bool:
        """Cancel the run being driven: steps in flight stop, the plan's clean-up steps run,
        and the run ends `cancelled`. Asked before the driving loop runs (a run `create`
        wrote, waiting to be driven; or one taking its lease and reading its state), the run
        is cancelled as soon as it does. Returns False once driving ended."""
        queue = self._queue
        if queue is None:
            if self._driving_over:
                return False
            self._cancel_first = reason
            return True
        queue.put_nowait(("", 0, StepReport(sched.Cancel(reason=reason))))
        return True

    def _launch(self, plan: Plan, run_id: str, state: sched.RunState,
                actions: list[Any], memory: Memory,
                tasks: dict[tuple[str, int], asyncio.Task[None]],
                queue: asyncio.Queue[tuple[str, int, StepReport]], dry_run: bool) -> None:
        """Act on committed actions: cancel steps the scheduler stopped, start the ready ones."""
        for action in actions:
            if isinstance(action, sched.CancelStep):
                task = tasks.pop((action.step, action.attempt), None)
                if task is not None:
                    task.cancel(STEP_CANCELLED)  # a child run it drives is cancelled too
                    if sched.plan_index(plan).steps[action.step].kind == StepKind.CALL:
                        self._calls_stopping.append(task)
            elif isinstance(action, sched.StartStep):
                step = sched.plan_index(plan).steps[action.step]
                if self.observer is not _unobserved:
                    self.observer(Update("step_started", run_id, step_id=action.step,
                                         attempt=action.attempt, state=state))
                tasks[(action.step, action.attempt)] = asyncio.create_task(
                    self._step_task(plan, run_id, step, action.attempt, action.delay_s,
                                    memory, queue, dry_run),
                    name=f"step:{action.step}:{action.attempt}",
                )

    async def _write(self, run_id: str, version: int,
                     change: Commit) -> tuple[int, dict[str, Any] | None]:
        """Persist a transition of the run at `version`; returns the run's new version and
        the state snapshot written (None if none was)."""
        args = change.store_args()
        try:
            return await self.store.commit(run_id, expected_version=version, **args), \
                args["state"]
        except StaleState:
            raise StaleState(
                f"run {run_id} was advanced by another process",
                hint="Only one process may drive a run; wait for it or stop it, then resume",
            ) from None

    async def _commit(self, record: RunRecord, change: Commit) -> RunRecord:
        """Persist a transition; returns the record as it now stands."""
        version, state = await self._write(record.run_id, record.version, change)
        return _committed(record, change, version, state)

    # -- one step ----------------------------------------------------------------------------

    async def _step_task(self, plan: Plan, run_id: str, step: Step, attempt: int,
                         delay_s: float, memory: Memory,
                         queue: asyncio.Queue[tuple[str, int, StepReport]],
                         dry_run: bool) -> None:
        if delay_s > 0:
            await asyncio.sleep(delay_s)
        report = await self.runner.run(plan, run_id, step, attempt, memory, dry_run=dry_run)
        queue.put_nowait((step.id, attempt, report))  # unbounded: never waits


# -- helpers ---------------------------------------------------------------------------------


class _Head:
    """The run as its driver last committed it: the record as read, and the last commit's
    version and change, from which the record as it now stands is built when asked."""

    __slots__ = ("_record", "version", "status", "_last", "_built")

    def __init__(self, record: RunRecord) -> None:
        self._record = self._built = record
        self.version, self.status = record.version, record.status
        self._last: Commit | None = None

    async def commit(self, executor: LocalExecutor, change: Commit) -> None:
        self.version, state = await executor._write(self._record.run_id, self.version, change)
        self.status, self._last = change.status, change
        if state is not None:  # the record keeps the last snapshot committed
            self._record = self._built = _committed(self._record, change, self.version, state)

    def record(self) -> RunRecord:
        last = self._last
        if last is not None and self._built.version != self.version:
            self._built = _committed(self._record, last, self.version, None)
        return self._built


def _committed(record: RunRecord, change: Commit, version: int,
               state: dict[str, Any] | None) -> RunRecord:
    """`record` as `change`'s commit at `version` left it (with `state`, the snapshot it
    wrote, if any)."""
    update: dict[str, Any] = {"version": version, "status": change.status,
                              "outcome": change.outcome, "reason": change.reason,
                              "updated_at": datetime.now(UTC)}
    if state is not None:
        update["state"] = state
    return record.model_copy(update=update)


def child_calls(services: Services, *, interaction: Interaction, slots: Slots | None = None,
                lease_ttl_s: float = LEASE_TTL_S) -> ChildCalls:
    """How a step runner runs linked guides: each child run on a local executor in this
    process, answered by what was said for it (`engine.interaction.for_call`), its steps
    taking the caller's concurrency slots (`slots`: the store's on a Celery worker). Used by
    the local executor and by workers."""

    def driver(call: str) -> LocalExecutor:
        answered = for_call(interaction, call)  # what was said for that call's guide
        executor = LocalExecutor(services, interaction=answered, lease_ttl_s=lease_ttl_s)
        if slots is not None:
            executor.runner.slots = slots
            executor.runner.calls = child_calls(services, interaction=answered,
                                                slots=slots, lease_ttl_s=lease_ttl_s)
        return executor

    return ChildCalls(services.store, driver)


def _ended(plan: Plan, record: RunRecord) -> None:
    metrics.run_ended(plan.id, record.status, record.outcome)
    log.info("run %s of %s ended %s (%s)", record.run_id, plan.id, record.status,
             record.outcome or "no outcome")


def _stopped_by(exc: BaseException) -> str:
    """Why a run's driver stopped, in a few words: the user, or what failed."""
    if isinstance(exc, asyncio.CancelledError) and exc.args in ((LEASE_LOST,),
                                                             (LEASE_UNRENEWED,)):
        return f"interrupted: {exc.args[0]}"
    if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt):
        return "interrupted by the user"
    said = exc.message if isinstance(exc, MendflowError) else f"{type(exc).__name__}: {exc}"
    return f"interrupted: {said}"


def new_run_id() -> str:
    """Sortable, unique, short: UTC time plus randomness."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


async def _cancel_all(tasks: dict[tuple[str, int], asyncio.Task[None]]) -> None:
    for task in tasks.values():
        task.cancel()
    if tasks:
        await asyncio.gather(*tasks.values(), return_exceptions=True)
    tasks.clear()


