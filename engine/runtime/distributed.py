"""Distributed execution: many worker processes drive runs together, with no coordinator.

Owns the engine side of running plans on a task queue: starting a run, executing one step
delivered as a task (ids only), advancing the run when that step finishes, sweeping for runs
whose next task was lost, and following a run from the outside. It imports no queue library:
tasks leave through a `Dispatcher`, which `worker/` implements with Celery.

How a run moves
---------------
Starting a run creates its record, applies `Start`, commits, and only then dispatches the
entry step. A worker that receives `(run_id, step_id, attempt)`:

1. claims the step (`Store.claim_step`, lease = step timeout + grace, renewed while it works),
   counts the start, and reads the run and its state (snapshot + events after `state_seq`,
   `engine.runtime.replay`) and memory. A task for a step that is no longer in flight with that
   attempt is a duplicate: nothing (claiming it first is harmless: attempt numbers only grow,
   so a finished attempt never runs again). A claim held by someone else is a live owner, or a
   dead one whose lease has not lapsed: the task is re-dispatched for when the lease would
   have lapsed, and does nothing now;
2. runs it (`engine.runtime.steps.StepRunner`, idempotency key `run:step:attempt`);
3. advances the run: applies the step's event to the state it read and commits with
   compare-and-set. Only after the commit does it dispatch the steps that became ready.

If another step of the run committed meanwhile, the same transaction parks the step's report
instead (`commit_or_park`: its event row and memory, keyed by run, step and
attempt, so a report is parked once), and the worker then tries to become the run's applier
(`apply_reports`): under the run's lock it takes every parked report,
applies them one after another to the state as it then is, and commits them together (a group
commit: siblings finishing together no longer queue on the row lock one commit each); then it
dispatches what they started and looks for parked reports again, until none is left. A worker
that finds the applier's lock busy just returns: its report was committed before it looked,
so the applier, which looks again after releasing the lock, sees it. The reconciler applies
reports left parked by an applier that died. Replay is unchanged: the group commit writes
each report's event row followed by the steps it started, as one commit each would have.

Steps one task runs together on its event loop (a fan-out it continued) do not race each
other that way: their reports meet in the task (`_Batch`). The first to finish commits at
once; those that finish while a commit is in flight are committed as one after it, against
the run as it left it, so the compare-and-set holds and nothing is parked (a 20-step fan-out's
makespan: 1.13-1.16x its critical path with parking, 1.08x so; bench/bench_celery.py).

Step 1 is one transaction (`SharedStore.begin_step`) and the commit another: the store must be
a `SharedStore` (PostgreSQL, or SQLite for workers on one host). What a batch of reports
commits is decided by the pure `engine.runtime.commit`, as in the local executor. Other
events than a step's report (a run's `Start`, a cancel) that lose the race are applied under
the run's lock (`SharedStore.commit_locked`). Plans are immutable and kept by hash in each
process, as is each run's plan hash.

Every worker is the same; the process that started a run may exit. The store is the source of
truth and the broker a doorbell: a task lost between a commit and its dispatch (a worker killed
there, a broker restarted without persistence) is found by `reconcile`, which every worker runs
now and then: a `running` run no one committed to for `idle_s` gets its in-flight steps
dispatched again (a compare-and-set "touch" first, so one sweeper wins). Re-dispatching is
always safe: duplicates do nothing.

Poison steps. Each time a worker starts executing an attempt it counts the start in the store
(a permanent claim on a numbered marker, `step#runN`); a step whose worker died mid-run
`max_deliveries` times is not run again but reported failed (retryable: the scheduler's retry
budget decides what happens next, then the error path).

Steps in doubt. A start counted twice means an earlier execution of the attempt began and its
worker died (or lost its claim) before reporting: its effect may have happened. A read-only
step, or a gated one whose plugin is idempotent for its key, runs again. Any other gated step
is not run: the worker reports it in doubt (`StepInDoubt`), and once nothing else of the run
is in flight the run stops `interrupted`, its reason naming the flags of `mendflow resume`
that answer for it; `settle_in_doubt` applies those answers and dispatches what they start.

Cancelled steps (a run ended while others were in flight) are stopped on their workers: a
worker running a step reads every `STOP_POLL_S` whether the run still runs it, and cancels it
as the local driver does (`_unless_stopped`); a change so stopped is noted as having done
what is unknown (`engine.scheduler.CUT_OFF`). A report that arrives anyway is ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from engine import logs, metrics
from engine import scheduler as sched
from engine.errors import RunNotFound, StoreError
from engine.interaction import Interaction, NeedsAnswer
from engine.learn.record import learn_safely
from engine.plan import Plan, Step
from engine.runtime.children import STEP_CANCELLED
from engine.runtime.commit import (
    Commit,
    Report,
    claimable,
    commit_reports,
    shared_snapshot_every,
)
from engine.runtime.driving import in_doubt_reason, reap_leftovers, repeatable
from engine.runtime.executor import child_calls
from engine.runtime.intervene import RecordServer
from engine.runtime.limits import StoreSlots
from engine.runtime.memory import Memory, build_context
from engine.runtime.replay import checked_state, replay
from engine.runtime.services import Redact, Services, answers_for, judge_for
from engine.runtime.steps import StepReport, StepRunner
from engine.store.base import (
    LlmUsage,
    MemoryEntry,
    NextClaim,
    RunOptions,
    RunRecord,
    SharedStore,
    StaleState,
    Store,
)
from engine.store.base import Report as Parked
from engine.stragglers import Baseline, load_baseline

if TYPE_CHECKING:
    from engine.compile.llm import LlmJudge

log = logging.getLogger("mendflow.distributed")

MAX_COMMIT_TRIES = 200
"""Compare-and-set retries before an advance gives up (each lost race means another step of
the run committed first, so this bounds contention, not time)."""


STOP_POLL_S = 0.5
"""How often a worker running a step reads whether the run still runs it (`_unless_stopped`):
a cancelled step, a change among them, goes on at most this long, plus the read."""

RUN_PLANS_KEPT = 10_000
"""Runs whose plan hash a process remembers (a run never changes plan): with it known, a task
needs no read before its claim, whose lease depends on the step."""
BASELINES_KEPT = 1_000
"""Runs whose step histories a worker keeps (each is O(the plan's steps))."""
BASELINE_FRESH_S = 10.0
"""How long a guide's step history, once loaded, serves the runs of that guide created after
the run it was loaded for (a straggler's p99 does not move in seconds)."""


class Dispatcher(Protocol):
    """Sends one step of one run to a worker. Implemented by `worker/` (Celery)."""

    async def dispatch(self, *, run_id: str, step_id: str, attempt: int, delay_s: float,
                       queue: str | None) -> None: ...

    async def flush(self) -> None:
        """Send now what `dispatch` was given and holds back (a task's outbox): its worker
        goes on running a step itself, and the others must not wait for that."""
        ...


@dataclass(frozen=True, slots=True)
class Continuation:
    """How far a worker goes on with a run's steps itself. After a step, the commit that
    makes successors ready claims up to `width` of them for this worker, which runs them at
    once, together on its event loop (no broker hop; a chain costs one commit per step), and
    publishes only the others. It stops, publishing everything, after `max_steps` steps so
    continued, or once a step would start `max_s` seconds after the task began: one run must
    not hold a worker while other runs' tasks wait in its queue."""

    max_steps: int = 100
    max_s: float = 2.0
    width: int = 1


class Outcome(StrEnum):
    RAN = "ran"  # the step ran and the run advanced
    DUPLICATE = "duplicate"  # the step is finished or superseded: nothing to do
    DEFERRED = "deferred"  # someone holds the claim: checked again when its lease lapses
    RUN_OVER = "run_over"  # the run has ended
    IN_DOUBT = "in_doubt"  # an earlier execution died mid-step: not run again unasked
    REJECTED = "rejected"  # unknown run, plan or step: recorded, never retried


@dataclass(frozen=True, slots=True)
class TaskResult:
    outcome: Outcome
    detail: str = ""


@dataclass(frozen=True, slots=True)
class _Begun:
    """What a worker knows before it runs a step; None: not read yet (ask the store)."""

    record: RunRecord
    state: sched.RunState
    replayed: int
    claimed: bool
    starts: int | None
    memory: list[MemoryEntry] | None

    def _with_memory(self, memory: list[MemoryEntry] | None) -> _Begun:
        return _Begun(self.record, self.state, self.replayed, self.claimed, self.starts,
                      memory)


class _Next(NamedTuple):
    """A step a commit started and claimed for this worker: it runs it next (continuation)."""

    step: str
    attempt: int
    begun: _Begun


_Seen = tuple[RunRecord, sched.RunState, int]
"""A run as read or committed: its record, its state, the events past its snapshot."""


def _after(committed: RunRecord, change: Commit, replayed: int) -> _Seen:
    """The run as `change` committed it, for the next commit against it."""
    return committed, change.state, 0 if change.snapshot else replayed + len(change.events)


@dataclass(slots=True)
class _Batch:
    """Group commit of one task's steps: a worker that runs several steps of a run at once on
    its event loop (a fan-out it continued) commits their reports together when they meet.
    The first report to finish commits alone, at once; the reports that finish while a commit
    is in flight wait for it and are then committed as one (against the run as that commit
    left it, so no compare-and-set is lost to a sibling), not one commit each, parked and
    applied again one after another. Whichever step's call leads commits for all."""

    waiting: list[tuple[StepReport, _Seen, Callable[[Step], bool] | None,
                        asyncio.Future[list[_Next]]]] = field(default_factory=list)
    busy: bool = False
    latest: _Seen | None = None  # the run as this task's last commit left it

    async def commit(self, runner: DistributedRunner, plan: Plan, run_id: str,
                     report: StepReport, seen: _Seen,
                     keep: Callable[[Step], bool] | None) -> list[_Next]:
        done: asyncio.Future[list[_Next]] = asyncio.get_running_loop().create_future()
        self.waiting.append((report, seen, keep, done))
        if self.busy:
            return await done
        self.busy = True
        try:
            while self.waiting:
                group, self.waiting = self.waiting, []
                try:
                    await self._commit(runner, plan, run_id, group)
                except Exception as exc:  # theirs to raise (each one's step fails as alone)
                    for *_, fut in group:
                        if not fut.done():
                            fut.set_exception(exc)
        except BaseException:  # cancelled while committing: so is every step waiting on it
            for *_, fut in [*group, *self.waiting]:
                fut.cancel()
            self.waiting = []
            raise
        finally:
            self.busy = False
        return await done

    def _newest(self, seen: _Seen) -> _Seen:
        latest = self.latest
        return latest if latest is not None and latest[0].version > seen[0].version else seen

    async def _commit(self, runner: DistributedRunner, plan: Plan, run_id: str,
                      group: list[tuple[StepReport, _Seen, Callable[[Step], bool] | None,
                                        asyncio.Future[list[_Next]]]]) -> None:
        if len(group) == 1:  # alone: it may continue with what it starts
            report, seen, keep, fut = group[0]
            _, nexts, after = await runner._advance(
                plan, run_id, report.event, memory=report.memory, data=report.data,
                seen=self._newest(seen), keep=keep)
            self.latest = after or self.latest
            fut.set_result(nexts)
            return
        newest = self._newest(max((g[1] for g in group), key=lambda s: s[0].version))
        self.latest = await runner._advance_many(plan, run_id, [g[0] for g in group],
                                                 newest) or self.latest
        for *_, fut in group:
            fut.set_result([])


class DistributedRunner:
    """The engine side of one worker process (or of the process that starts runs)."""

    def __init__(
        self,
        services: Services,
        *,
        dispatcher: Dispatcher,
        owner: str | None = None,
        max_deliveries: int = 3,
        lease_grace_s: float = 30.0,
        continuation: Continuation | None = None,
    ) -> None:
        store = services.store
        if not isinstance(store, SharedStore):
            raise StoreError(f"{store!r} cannot be shared by workers",
                             hint="Use an SQLite or a PostgreSQL store")
        self.services = services
        self.store: SharedStore = store
        self.registry = services.registry
        self.settings = services.settings
        self.dispatcher = dispatcher
        self.owner = owner or f"worker-{uuid.uuid4().hex[:12]}"
        self.max_deliveries = max_deliveries
        self.lease_grace_s = lease_grace_s
        self.redact: Redact = services.redact
        self.continuation = continuation or Continuation(max_steps=0, max_s=0.0)
        self._plans: dict[str, Plan] = {}
        self._run_plans: dict[str, str] = {}
        self._baselines: dict[str, asyncio.Future[Baseline]] = {}  # by run id
        # by guide: (loaded at, monotonic; the run it was loaded for began at; the history)
        self._plan_baselines: dict[str, tuple[float, datetime, asyncio.Future[Baseline]]] = {}
        self._replays: dict[str, RecordServer] = {}
        # Limits per plugin and per data source hold across every worker: kept in the store.
        self.slots = StoreSlots(services.store, grace_s=lease_grace_s)

    # -- starting a run ------------------------------------------------------------------------

    async def start(self, plan: Plan, *, guide_path: str, run_id: str,
                    inputs: Mapping[str, str] | None = None,
                    alert: Mapping[str, Any] | None = None,
                    options: RunOptions | None = None) -> RunRecord:
        """Create the run, commit its start, dispatch its entry step; return at once. The
        run's options (the starter's answers, approvals, approval policy and LLM judge:
        `MENDFLOW_LLM`'s provider:model, each worker's own environment holding the endpoint
        and key) are saved with it: a worker anywhere answers as the starter would."""
        context = build_context(plan, run_id=run_id, inputs=inputs or {}, alert=alert,
                                redact=self.redact)
        plan_hash = await self.store.save_plan(plan)
        self._plans[plan_hash] = plan
        now = datetime.now(UTC)
        record = RunRecord(
            run_id=run_id, plan_id=plan.id, plan_hash=plan_hash, guide_path=guide_path,
            title=plan.title, status="running", created_at=now, updated_at=now, version=0,
            state=sched.initial_state(plan, seed=run_id).to_json_dict(),
            context=self.redact(context),
            options=(options or RunOptions()).model_copy(update={"executor": "celery"}),
        )
        await self.store.create_run(record)
        metrics.run_started(plan.id)
        log.info("run %s of %s started", run_id, plan.id)
        initial = sched.RunState.from_json_dict(record.state)
        return await self.advance(plan, run_id, sched.Start(), seen=(record, initial, 0))

    async def cancel(self, run_id: str, reason: str = "cancelled by the user") -> RunRecord:
        """Cancel a running run: the scheduler stops its steps in flight (their reports, when
        their workers finish, are ignored) and starts the plan's clean-up steps, which workers
        run as any other; the run ends `cancelled`. A run already over is left as it is."""
        record = await self.store.get_run(run_id)
        if record.status != "running":
            return record
        plan = await self._plan(record.plan_hash)
        return await self.advance(plan, run_id, sched.Cancel(reason=reason))

    # -- one task ------------------------------------------------------------------------------

    async def execute(self, run_id: str, step_id: str, attempt: int, *,
                      here: Callable[[Step], bool] | None = None,
                      due: float | None = None) -> TaskResult:
        """`due`: when the task was due on the broker (its sender's wall clock, retry delay
        included), for the queue-wait metric; None: not measured."""
        with logs.bound(run_id=run_id, step_id=step_id):
            return await self._execute(run_id, step_id, attempt, here=here, due=due)

    async def _execute(self, run_id: str, step_id: str, attempt: int, *,
                       here: Callable[[Step], bool] | None,
                       due: float | None) -> TaskResult:
        """Run one delivered task. One execution of (run, step, attempt) at a time; after one
        died mid-step, a read-only or idempotent step runs again and a gated one is in doubt.

        `here` says which steps this worker may run itself (those routed to the queue the
        task came from): with it, the steps the task's commits start are continued here, within
        `self.continuation`'s bounds; without it, all are dispatched."""
        record: RunRecord | None = None
        plan_hash = self._run_plans.get(run_id)
        if plan_hash is None:
            try:
                record = await self.store.get_run(run_id)
            except RunNotFound:
                log.error("rejected task %s:%s:%s: no such run", run_id, step_id, attempt)
                return TaskResult(Outcome.REJECTED, f"no run {run_id!r}")
            plan_hash = record.plan_hash
        try:
            plan = await self._plan(plan_hash)
        except StoreError as exc:
            record = record or await self.store.get_run(run_id)
            reason = f"its plan {plan_hash[:12]} cannot be loaded: {exc.message}"
            await self._reject(record, step_id, attempt, reason,
                               end_run=record.status == "running")
            return TaskResult(Outcome.REJECTED, reason)
        index = sched.plan_index(plan)
        if step_id not in index.steps:
            record = record or await self.store.get_run(run_id)
            reason = f"plan {plan.id} ({plan_hash[:12]}) has no step {step_id!r}"
            await self._reject(record, step_id, attempt, reason, end_run=False)
            return TaskResult(Outcome.REJECTED, reason)
        self._remember_plan(run_id, plan_hash)
        step = index.steps[step_id]

        lease = self._lease(step)
        try:
            begun = await self._begin(plan, run_id, step_id, attempt, lease)
        except RunNotFound:
            log.error("rejected task %s:%s:%s: no such run", run_id, step_id, attempt)
            return TaskResult(Outcome.REJECTED, f"no run {run_id!r}")
        record = begun.record
        if record.status != "running":
            return TaskResult(Outcome.RUN_OVER, record.status)
        if not _pending(begun.state, step_id, attempt):
            return TaskResult(Outcome.DUPLICATE)
        if not begun.claimed:
            await self._send(run_id, step, attempt, lease)
            return TaskResult(Outcome.DEFERRED, f"claimed by another worker; again in {lease:g}s")
        if due is not None:  # the first delivery that runs it: how long it sat on the broker
            metrics.waited(step.plugin, "broker", time.time() - due)
        # Continuation: the steps this task's commits start, and that may run here, are run
        # here, each claimed in the commit that started it, within the bounds.
        deadline = time.monotonic() + self.continuation.max_s
        left = self.continuation.max_steps if here is not None else 0

        def keep(step: Step) -> bool:  # asked when a commit is made, not before its step
            nonlocal left
            if left <= 0 or here is None or time.monotonic() >= deadline or not here(step):
                return False
            left -= 1
            return True

        batch = _Batch()  # reports of this task's steps, committed together when they meet

        async def go(step: Step, attempt: int, begun: _Begun) -> tuple[TaskResult, int]:
            result, nexts = await self._run_claimed(plan, run_id, step, attempt,
                                                    self._lease(step), begun, keep, batch)
            more = await asyncio.gather(*(go(index.steps[n.step], n.attempt, n.begun)
                                          for n in nexts))
            return result, len(nexts) + sum(n for _, n in more)

        result, continued = await go(step, attempt, begun)
        if continued and result.outcome is Outcome.RAN:
            return TaskResult(Outcome.RAN, f"and {continued} more step(s) here")
        return result

    def _lease(self, step: Step) -> float:
        """A claim's lease on `step`: its timeout and the grace past it."""
        return (step.timeout_s or self.settings.default_timeout_s) + self.lease_grace_s

    async def _run_claimed(self, plan: Plan, run_id: str, step: Step, attempt: int,
                           lease: float, begun: _Begun, keep: Callable[[Step], bool] | None,
                           batch: _Batch | None = None) -> tuple[TaskResult, list[_Next]]:
        """Run a step this worker has claimed (`begun`) and commit its report; with `keep`,
        the steps that commit starts and `keep` accepts (up to the continuation's width) are
        claimed in it and returned, for this worker to run next, and only the others are
        dispatched. With `batch`, reports of the task's other steps that finish while one
        commits are committed together with it (`_Batch`)."""
        step_id, record = step.id, begun.record
        starts = begun.starts or await self._count_start(run_id, step_id, attempt)
        keep_claim = asyncio.create_task(self._renew(run_id, step_id, attempt, lease))
        try:
            if starts > 1:  # an execution died mid-step: end what it left running here
                await asyncio.to_thread(reap_leftovers, f"{run_id}:{step_id}:{attempt}")
            if starts > 1 and not repeatable(self.registry, step):
                reason = in_doubt_reason(step_id, lost="worker")
                log.warning("run %s: %s; asking a person instead of running it again",
                            run_id, reason)
                await self.advance(plan, run_id,
                                   sched.StepInDoubt(step=step_id, attempt=attempt,
                                                     reason=reason),
                                   data={"summary": reason, "worker": self.owner},
                                   seen=(record, begun.state, begun.replayed))
                return TaskResult(Outcome.IN_DOUBT, reason), []
            entries: list[MemoryEntry] | None = None
            if starts > self.max_deliveries:
                report = StepReport(sched.StepFailed(
                    step=step_id, attempt=attempt, retryable=True,
                    error=f"its worker was lost {starts - 1} times while running it "
                          f"(max_deliveries={self.max_deliveries}); not running it again"),
                    data={"summary": "poison step: workers kept dying on it"})
            else:
                entries = begun.memory
                if entries is None:
                    entries = await self.store.memory(run_id)
                memory = Memory.restore(record.context, entries)
                runner, judge = self._runner(record)
                runner.baselines[run_id] = self._baseline(plan, record)
                runner.replay = await self._replay(record)
                ran = await self._unless_stopped(
                    plan, run_id, step_id, attempt, record.version,
                    runner.run(plan, run_id, step, attempt, memory,
                               dry_run=record.options.dry_run))
                if ran is None:  # the run stopped it: its report would be ignored
                    return TaskResult(Outcome.RUN_OVER, "stopped: the run no longer runs it"), []
                report = ran
                if judge is not None:
                    await self._save_judge_usage(run_id, judge)
            report.data["worker"] = self.owner
            seen = (record, begun.state, begun.replayed)
            keep_next = keep if entries is not None else None
            if batch is None:
                _, nexts, _ = await self._advance(
                    plan, run_id, report.event, memory=report.memory, data=report.data,
                    seen=seen, keep=keep_next)
            else:
                nexts = await batch.commit(self, plan, run_id, report, seen, keep_next)
        finally:
            keep_claim.cancel()
        if nexts:
            assert entries is not None  # `keep` is only given with them
            # What this step began with, and its own findings, are the run's whole memory only
            # if its commit came right after that read. A sibling of a fan-out that committed
            # in between (this task's group commit) is not in it: the next step then reads
            # the memory from the store (a join had read a branch's result as missing).
            whole = all(n.begun.record.version == begun.record.version + 1 for n in nexts)
            memory_after = [*entries, *report.memory] if whole else None
            nexts = [n._replace(begun=n.begun._with_memory(memory_after)) for n in nexts]
        return TaskResult(Outcome.RAN), nexts

    async def _unless_stopped(self, plan: Plan, run_id: str, step_id: str, attempt: int,
                              version: int, work: Coroutine[Any, Any, StepReport]
                              ) -> StepReport | None:
        """`work` (the step), stopped as soon as the run no longer runs it: the run was
        cancelled, or ended (a sibling branch reached its end, a change failed), while it
        ran. The scheduler cancels such a step when it commits that, and the local driver
        stops its task at once; a worker went on running it to its end, a change acting for
        a run already over (or cleaning up) and its report ignored. The worker looks every
        `STOP_POLL_S` (a read of the run; its events replayed only when it moved on) and
        cancels the step as the local driver does (`STEP_CANCELLED`: a linked guide's run is
        cancelled too, its clean-up run). None when it was stopped."""
        task = asyncio.ensure_future(work)
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=STOP_POLL_S)
                if done:
                    return task.result()
                try:
                    record = await self.store.get_run(run_id)
                    if record.version == version:
                        continue
                    version = record.version
                    wanted = record.status == "running" and _pending(replay(
                        plan, record, await self.store.events(run_id, after=record.state_seq)),
                        step_id, attempt)
                except StoreError as exc:  # unread: it goes on, as before
                    log.warning("could not read run %s while its step %s ran: %s", run_id,
                                step_id, exc)
                    continue
                if not wanted:
                    log.warning("run %s no longer runs step %s (attempt %d): stopping it",
                                run_id, step_id, attempt)
                    task.cancel(STEP_CANCELLED)
                    await asyncio.gather(task, return_exceptions=True)
                    return None
        finally:
            if not task.done():  # this task itself was cancelled: so is the step
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    async def _begin(self, plan: Plan, run_id: str, step_id: str, attempt: int,
                     lease: float) -> _Begun:
        """Claim the step for this worker, then read the run; count the start when the claim
        was won (the count and memory may be left for the caller to read: None)."""
        got = await self.store.begin_step(run_id, step_id, attempt, self.owner, lease_s=lease,
                                          marker_owner=self._marker_owner(),
                                          max_starts=self.max_deliveries)
        return _Begun(got.record, replay(plan, got.record, got.events), len(got.events),
                      got.claimed, got.starts if got.claimed else None,
                      got.memory if got.claimed else None)

    # -- advancing a run -----------------------------------------------------------------------

    async def advance(self, plan: Plan, run_id: str, event: sched.Event, *,
                      memory: Sequence[MemoryEntry] = (), data: Mapping[str, Any] | None = None,
                      seen: tuple[RunRecord, sched.RunState, int] | None = None) -> RunRecord:
        """Apply `event` to the run's current state, commit, then dispatch the steps it started.

        `seen` is a read to try first (compare-and-set against its version). If it is stale, a
        step's report is parked for the run's applier (`commit_or_park`, `_apply_reports`;
        then the record returned is `seen`'s); another event, or any without `seen`, is
        applied under the run's lock (`commit_locked`)."""
        record, _, _ = await self._advance(plan, run_id, event, memory=memory, data=data,
                                           seen=seen)
        return record

    async def _advance(self, plan: Plan, run_id: str, event: sched.Event, *,
                       memory: Sequence[MemoryEntry] = (),
                       data: Mapping[str, Any] | None = None,
                       seen: tuple[RunRecord, sched.RunState, int] | None = None,
                       keep: Callable[[Step], bool] | None = None
                       ) -> tuple[RunRecord, list[_Next], _Seen | None]:
        """`advance`; with `keep`, the steps the commit starts that `keep` accepts (up to the
        continuation's width) are claimed for this worker in the same commit (continuation:
        not dispatched, returned to be run here). Only the first try, against `seen`,
        continues: a commit that lost the race to a sibling dispatches everything it starts,
        as before. Also returns the run as this call committed it (record, state, events past
        its snapshot) when it committed against `seen`; else None."""
        if seen is not None:
            record, state, replayed = seen
            if record.status != "running":
                return record, [], None
            change = self._transition(plan, state, replayed, event, memory, data)
            if change is None:
                return record, [], None  # a duplicate report: the scheduler ignored it
            if not isinstance(event, sched.Start | sched.Cancel):  # a step's report
                kept = self._successors(plan, change, keep)
                steps = sched.plan_index(plan).steps
                marker = self._marker_owner()
                claims = [NextClaim(a.step, a.attempt, self.owner, self._lease(steps[a.step]),
                                    marker) for a in kept]
                version, claimed, counted = await self.store.commit_or_park(
                    run_id, expected_version=record.version, claim=claims,
                    **change.store_args())
                if version is None:  # parked: a sibling committed since `seen` was read
                    await self._apply_reports(plan, run_id)
                    return record, [], None
                _ended(plan, run_id, change.status, change.outcome)
                await self._learn(run_id, change.status)
                committed = _committed(record, change, version)
                nexts = await self._hand_on(
                    plan, run_id, change, committed, replayed,
                    {a.step: 1 if a.step in counted else None
                     for a in kept if a.step in claimed})
                return committed, nexts, _after(committed, change, replayed)
            landed = await self._commit_seen(plan, run_id, record, change)
            if landed is not None:
                return landed, [], _after(landed, change, replayed)
        return await self._advance_locked(plan, run_id, event, memory, data), [], None

    async def _commit_seen(self, plan: Plan, run_id: str, record: RunRecord,
                           change: Commit) -> RunRecord | None:
        """Commit `change` against `record`'s version and dispatch what it starts; None (and
        nothing written) if the run moved on since `record` was read."""
        try:
            version = await self.store.commit(run_id, expected_version=record.version,
                                              **change.store_args())
        except StaleState:
            return None  # another step of the run committed since `seen` was read
        _ended(plan, run_id, change.status, change.outcome)
        await self._learn(run_id, change.status)
        await self._dispatch(plan, run_id, change.actions)
        return _committed(record, change, version)

    async def _advance_many(self, plan: Plan, run_id: str, reports: Sequence[StepReport],
                            seen: _Seen) -> _Seen | None:
        """Steps' reports that finished together, committed as one against `seen` (as
        separate commits would have written them; what they start is dispatched, none
        continued here); if the run moved on since `seen`, each is advanced on its own, under
        the run's lock. Returns the run as committed, or None when it was not (one commit)."""
        record, state, replayed = seen
        if record.status == "running":
            change = commit_reports(
                plan, state, [Report.of(r.event, r.data, r.memory, redact=self.redact)
                              for r in reports],
                since_snapshot=replayed, snapshot_every=shared_snapshot_every(plan))
            if change is None:
                return None  # every one a duplicate the scheduler ignored
            committed = await self._commit_seen(plan, run_id, record, change)
            if committed is not None:
                return _after(committed, change, replayed)
        for r in reports:
            await self._advance_locked(plan, run_id, r.event, r.memory, r.data)
        return None

    def _successors(self, plan: Plan, change: Commit,
                    keep: Callable[[Step], bool] | None) -> list[sched.StartStep]:
        """The steps a commit starts that this worker may run itself: those `keep` accepts
        (their queue is served here), up to the continuation's width; none without `keep`."""
        if keep is None:
            return []
        return claimable(plan, change, width=self.continuation.width, may_run=keep)

    async def _hand_on(self, plan: Plan, run_id: str, change: Commit,
                       committed: RunRecord, replayed: int,
                       starts: Mapping[str, int | None]) -> list[_Next]:
        """After a commit: dispatch what it started but the steps claimed for this worker
        (`starts`: their start counts, None where not counted yet), sent at once when this
        worker goes on (not when its task ends); return what it needs to run those (memory
        is added by the caller)."""
        kept = [a for a in change.actions
                if isinstance(a, sched.StartStep) and a.step in starts]
        await self._dispatch(plan, run_id, [a for a in change.actions if a not in kept])
        if not kept:
            return []
        await self.dispatcher.flush()
        replayed = 0 if change.snapshot else replayed + len(change.events)
        return [_Next(a.step, a.attempt, _Begun(committed, change.state, replayed, True,
                                                 starts[a.step], None)) for a in kept]

    async def _advance_locked(self, plan: Plan, run_id: str,
                              event: sched.Event,
                              memory: Sequence[MemoryEntry],
                              data: Mapping[str, Any] | None) -> RunRecord:
        """`advance` under the run's row lock: no race to lose, so no retry."""
        decided: dict[str, Any] = {}

        def decide(record: RunRecord, events: list[Any]) -> dict[str, Any] | None:
            decided.clear()  # called again if the connection broke: the last call counts
            decided["record"] = record
            if record.status != "running":
                return None
            state = replay(plan, record, events)
            change = self._transition(plan, state, len(events), event, memory, data)
            if change is None:
                return None
            decided["change"] = change
            return change.store_args()

        version = await self.store.commit_locked(run_id, decide)
        record: RunRecord = decided["record"]
        if version is None:
            return record
        change: Commit = decided["change"]
        _ended(plan, run_id, change.status, change.outcome)
        await self._learn(run_id, change.status)
        await self._dispatch(plan, run_id, change.actions)
        return _committed(record, change, version)

    async def _apply_reports(self, plan: Plan, run_id: str) -> bool:
        """Apply the run's parked reports, several per commit, unless another worker is doing
        so (it looks again after it is done, so a report parked before now is not stranded).
        Each commit's started steps are dispatched before looking again. Returns whether this
        call applied any."""
        applied = False
        decided: dict[str, Commit] = {}

        def decide(record: RunRecord, events: list[Any],
                   reports: list[Any]) -> dict[str, Any] | None:
            decided.clear()  # called again if the connection broke: the last call counts
            if record.status != "running" or not reports:
                return None  # an ended run ignores its reports (they are dropped)
            change = self._transitions(plan, record, events, reports)
            if change is None:
                return None
            decided["change"] = change
            return change.store_args()

        while True:
            took, version = await self.store.apply_reports(run_id, decide)
            if not took:
                return applied
            if version is not None:
                applied = True
                _ended(plan, run_id, decided["change"].status, decided["change"].outcome)
                await self._learn(run_id, decided["change"].status)
                await self._dispatch(plan, run_id, decided["change"].actions)
            if not await self.store.has_reports(run_id):
                return applied

    def _transitions(self, plan: Plan, record: RunRecord, events: list[Any],
                     reports: list[Parked]) -> Commit | None:
        """Parked `reports` applied one after another to the run's state (the snapshot and
        `events`): one commit with each report's event row followed by the steps it started,
        as separate commits would have written them. None if the scheduler ignored them all."""
        return commit_reports(plan, replay(plan, record, events),
                              [r for r in map(Report.parked, reports) if r is not None],
                              since_snapshot=len(events),
                              snapshot_every=shared_snapshot_every(plan))

    def _transition(self, plan: Plan, state: sched.RunState, replayed: int,
                    event: sched.Event, memory: Sequence[MemoryEntry],
                    data: Mapping[str, Any] | None) -> Commit | None:
        """`event` applied to `state` (the run as last committed, `replayed` events past its
        snapshot): the commit to make, or None when the scheduler ignores the event."""
        return commit_reports(plan, state, [Report.of(event, data, memory, redact=self.redact)],
                              since_snapshot=replayed,
                              snapshot_every=shared_snapshot_every(plan))

    # -- answers for steps in doubt --------------------------------------------------------

    async def settle_in_doubt(self, run_id: str, interaction: Interaction, *,
                              policy_now: tuple[str, ...] | None = None) -> RunRecord:
        """`mendflow resume` of a distributed run: ask `interaction` about every step in
        doubt and, when each has an answer, commit them and dispatch what they start (a
        re-run as a new attempt, or the steps after one taken as done). With any question
        unanswered nothing is written and the record is returned as it is.

        `policy_now`: the resuming operator's approval policy, saved with the run's options
        before anything starts, so that the workers approve a gate by policy only when both
        it and the policy saved at the start approve it, as the local driver does on resume
        (they read only the saved one: a policy tightened since held for no Celery run)."""
        for tries in range(1, MAX_COMMIT_TRIES + 1):
            record = await self.store.get_run(run_id)
            if record.status not in ("running", "interrupted"):
                return record
            plan = await self._plan(record.plan_hash)
            # a history cut short is refused here as the local executor's resume refuses it
            state, replayed = await checked_state(self.store, plan, record)
            steps = sched.plan_index(plan).steps
            answers: list[sched.InDoubtAnswer] = []
            for sid, st in state.in_doubt():
                try:
                    reply = await interaction.settle_in_doubt(
                        step=steps[sid], reason=st.note or in_doubt_reason(sid, lost="worker"))
                except NeedsAnswer:
                    return record
                answers.append(sched.InDoubtAnswer(step=sid, attempt=st.attempt,
                                                   decision=reply.decision, by=reply.by))
            if not answers:
                return record
            if policy_now is not None and record.options.policy_now != policy_now:
                await self.store.set_options(run_id, record.options.model_copy(
                    update={"policy_now": tuple(policy_now)}))
            change = commit_reports(
                plan, state, [Report.of(a, {"summary": f"{a.decision} ({a.by})"})
                              for a in answers],
                since_snapshot=replayed, snapshot_every=shared_snapshot_every(plan))
            if change is None:
                return record
            try:
                version = await self.store.commit(run_id, expected_version=record.version,
                                                  **change.store_args())
            except StaleState:
                await asyncio.sleep(random.uniform(0, 0.002 * min(tries, 10)))
                continue
            _ended(plan, run_id, change.status, change.outcome)
            await self._learn(run_id, change.status)
            await self._dispatch(plan, run_id, change.actions)
            return _committed(record, change, version)
        raise StoreError(f"run {run_id}: {MAX_COMMIT_TRIES} commits in a row lost the race",
                         hint="Too many writers on one run; try again")

    # -- finding lost work ---------------------------------------------------------------------

    async def reconcile(self, *, idle_s: float, limit: int = 100) -> int:
        """Dispatch again the in-flight steps of runs idle for `idle_s`; returns how many runs."""
        touched = 0
        for record in await self.store.stalled_runs(idle_s=idle_s, limit=limit):
            try:
                plan = await self._plan(record.plan_hash)
            except StoreError as exc:
                await self._reject(record, None, None, f"its plan cannot be loaded: "
                                   f"{exc.message}", end_run=True)
                continue
            if await self._apply_reports(plan, record.run_id):
                touched += 1  # a report was left parked (its applier died): now applied
                continue
            try:  # a history cut short would start its finished steps again
                state, _ = await checked_state(self.store, plan, record)
            except StoreError as exc:
                await self._set_aside(record, exc.message)
                continue
            if state.status == "pending":  # the starter died before committing Start
                await self.advance(plan, record.run_id, sched.Start())
                touched += 1
                continue
            actions = sched.resume(plan, state)
            try:  # the touch: one sweeper wins, and the run is not idle any more
                await self.store.commit(
                    record.run_id, expected_version=record.version, state=None,
                    status="running", outcome=record.outcome, reason=record.reason,
                    events=[("redispatched", None, None,
                             {"steps": [[a.step, a.attempt] for a in actions
                                        if isinstance(a, sched.StartStep)],
                              "by": self.owner})])
            except StaleState:
                continue  # it moved: not stalled after all
            log.warning("run %s was idle for %gs: dispatching %d in-flight steps again",
                        record.run_id, idle_s, len(actions))
            await self._dispatch(plan, record.run_id, actions)
            touched += 1
        return touched

    # -- helpers -------------------------------------------------------------------------------

    def _remember_plan(self, run_id: str, plan_hash: str) -> None:
        if run_id not in self._run_plans:
            if len(self._run_plans) >= RUN_PLANS_KEPT:
                del self._run_plans[next(iter(self._run_plans))]  # the oldest
            self._run_plans[run_id] = plan_hash

    def _baseline(self, plan: Plan, record: RunRecord) -> asyncio.Future[Baseline]:
        """The run's step histories, loaded (while its step starts: it does not wait) the
        first time this process runs one of its steps, and kept for its later ones
        (`engine.stragglers`)."""
        baseline = self._baselines.get(record.run_id)
        if baseline is None:
            # A guide's history loaded for a run is reused for the runs of the same guide
            # created within BASELINE_FRESH_S after that run (never for an older run: no run
            # sees history from after it began): 200 runs starting together read it once per
            # process, not 200 times (4,000 rows and 20 quantiles each).
            now = time.monotonic()
            shared = self._plan_baselines.get(plan.id)
            if (shared is not None and now - shared[0] < BASELINE_FRESH_S
                    and shared[1] <= record.created_at):
                baseline = shared[2]
            else:
                baseline = asyncio.ensure_future(load_baseline(self.store, plan.id,
                                                               before=record.created_at))
                if shared is None or now - shared[0] >= BASELINE_FRESH_S or (
                        record.created_at < shared[1]):  # keep the one more runs can use
                    self._plan_baselines[plan.id] = (now, record.created_at, baseline)
                while len(self._plan_baselines) > BASELINES_KEPT:
                    del self._plan_baselines[next(iter(self._plan_baselines))]
            if len(self._baselines) >= BASELINES_KEPT:
                del self._baselines[next(iter(self._baselines))]  # the oldest
            self._baselines[record.run_id] = baseline
        return baseline

    async def _plan(self, plan_hash: str) -> Plan:
        plan = self._plans.get(plan_hash)
        if plan is None:
            plan = self._plans[plan_hash] = await self.store.load_plan(plan_hash)
        return plan

    def _runner(self, record: RunRecord) -> tuple[StepRunner, LlmJudge | None]:
        """The step runner for a step of this run, and the run's judge in this process."""
        judge = judge_for(record.options.judge, self.settings)
        answers = answers_for(record.options, judge=judge, store=self.store,
                              run_id=record.run_id)
        runner = StepRunner(self.services, interaction=answers, slots=self.slots)
        # A call step's child run is driven here, in this worker (`engine.runtime.children`).
        runner.calls = child_calls(self.services, interaction=answers, slots=self.slots)
        return runner, judge

    async def _save_judge_usage(self, run_id: str, judge: LlmJudge) -> None:
        """Add what the judge spent on this step to the run's LLM use, as the starter does
        for a local run (`mendflow show` and the report print it). Never fails the step."""
        usage = judge.usage
        if not usage.calls:
            return
        try:
            await self.store.add_llm_usage(run_id, LlmUsage(
                purpose="judge", model=usage.model, calls=usage.calls,
                input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                cost_usd=usage.cost_usd))
        except StoreError as exc:
            log.warning("run %s: the judge's LLM use was not stored: %s", run_id, exc)

    async def _replay(self, record: RunRecord) -> RecordServer | None:
        """A replay's record server (`engine.runtime.intervene`), loaded once per run."""
        if record.options.replay is None:
            return None
        server = self._replays.get(record.run_id)
        if server is None:
            server = await RecordServer.load(self.store, record.options.replay)
            while len(self._replays) >= 16:
                del self._replays[next(iter(self._replays))]  # the oldest
            self._replays[record.run_id] = server
        return server

    def _marker_owner(self) -> str:
        """Who holds a start marker: this worker, and which of its executions."""
        return f"{self.owner}/{uuid.uuid4().hex[:8]}"

    async def _count_start(self, run_id: str, step_id: str, attempt: int) -> int:
        """Record that an execution of this attempt starts; return how many have (1-based)."""
        marker_owner = self._marker_owner()
        for n in range(1, self.max_deliveries + 1):
            if await self.store.claim_step(run_id, f"{step_id}#run{n}", attempt, marker_owner):
                return n
        return self.max_deliveries + 1

    async def _renew(self, run_id: str, step_id: str, attempt: int, lease: float) -> None:
        """Keep the claim while this worker is alive: a dead worker's lapses within `lease`."""
        while True:
            await asyncio.sleep(lease / 3)
            try:
                if not await self.store.claim_step(run_id, step_id, attempt, self.owner,
                                                   lease_s=lease):
                    log.error("lost the claim on %s:%s:%s", run_id, step_id, attempt)
                    return
            except StoreError as exc:
                log.warning("could not renew the claim on %s:%s:%s: %s", run_id, step_id,
                            attempt, exc)

    async def _dispatch(self, plan: Plan, run_id: str, actions: list[Any]) -> None:
        """Send every started step at once (a fan-out publishes back to back, not one after
        another's round trip); each failure is logged on its own."""
        steps = sched.plan_index(plan).steps
        await asyncio.gather(*(self._send(run_id, steps[a.step], a.attempt, a.delay_s)
                               for a in actions if isinstance(a, sched.StartStep)))

    async def _send(self, run_id: str, step: Step, attempt: int, delay_s: float) -> None:
        try:
            await self.dispatcher.dispatch(run_id=run_id, step_id=step.id, attempt=attempt,
                                           delay_s=delay_s, queue=step.queue)
        except Exception as exc:  # committed already: the reconciler sends it again later
            log.error("could not dispatch %s:%s:%s (%s); the reconciler will retry",
                      run_id, step.id, attempt, exc)

    async def _learn(self, run_id: str, status: str) -> None:
        """Once a commit of this worker's ended the run: keep what it teaches (the one
        commit that ends a run is made once, whichever worker makes it)."""
        if status != "running":
            await learn_safely(self.store, run_id)

    async def _set_aside(self, record: RunRecord, why: str) -> None:
        """Stop a run the reconciler cannot dispatch again (its history is cut short) for a
        person, once: left `running`, it was the oldest stalled run at every sweep, logged
        again each time, and a hundred of them kept every other stalled run from its turn."""
        log.error("run %s is not dispatched again: %s", record.run_id, why)
        with contextlib.suppress(StaleState):  # it moved: the next sweep looks again
            await self.store.commit(
                record.run_id, expected_version=record.version, state=None,
                status="interrupted", outcome=record.outcome,
                reason=f"not dispatched again: {why}",
                events=[("interrupted", None, None, {"reason": why})])

    async def _reject(self, record: RunRecord, step_id: str | None, attempt: int | None,
                      reason: str, *, end_run: bool) -> None:
        """Record a task that cannot be run; end the run if it can never progress."""
        log.error("rejected task %s:%s:%s: %s", record.run_id, step_id, attempt, reason)
        for _ in range(20):
            try:
                await self.store.commit(
                    record.run_id, expected_version=record.version, state=None,
                    status="failed" if end_run else record.status,
                    outcome=record.outcome,
                    reason=f"a task was rejected: {reason}" if end_run else record.reason,
                    events=[("task_rejected", step_id, attempt, {"reason": reason})])
                if end_run:
                    metrics.run_ended(record.plan_id, "failed", record.outcome)
                    await learn_safely(self.store, record.run_id)
                return
            except StaleState:
                record = await self.store.get_run(record.run_id)
                if record.status != "running" and end_run:
                    return


def _ended(plan: Plan, run_id: str, status: str, outcome: str | None) -> None:
    """Count a committed transition that ended its run (the one commit that does)."""
    if status != "running":
        metrics.run_ended(plan.id, status, outcome)
        log.info("run %s of %s ended %s (%s)", run_id, plan.id, status,
                 outcome or "no outcome")


def _committed(record: RunRecord, change: Commit, version: int) -> RunRecord:
    """The record as `change`'s commit at `version` left it (its snapshot aside)."""
    return record.model_copy(update={"version": version, "status": change.status,
                                     "outcome": change.outcome, "reason": change.reason})


def _pending(state: sched.RunState, step_id: str, attempt: int) -> bool:
    st = state.steps.get(step_id)
    return (st is not None and st.attempt == attempt
            and st.status in (sched.StepStatus.RUNNING, sched.StepStatus.WAITING))


async def follow(store: Store, run_id: str, *, poll_s: float = 0.25,
                 on_event: Callable[[Any, sched.RunState], None] | None = None) -> RunRecord:
    """Poll the store until the run ends; call `on_event(event_record, state)` for each new
    event, with the scheduler state as it stands after it. Returns the final record."""
    record = await store.get_run(run_id)
    plan = await store.load_plan(record.plan_hash)
    state = sched.RunState.from_json_dict(record.state)
    seen = record.state_seq
    while True:
        record = await store.get_run(run_id)  # first: the events it covers are committed
        for ev in await store.events(run_id, after=seen):
            seen = ev.seq
            raw = ev.data.get("event")
            if isinstance(raw, dict):
                state, _ = sched.apply(plan, state, sched.event_from_dict(raw))
            if on_event is not None:
                on_event(ev, state)
        if record.status != "running":
            return record
        await asyncio.sleep(poll_s)
