"""The local executor: runs a plan on one asyncio event loop, persisting before acting.

Owns the impure half of running a plan: starting steps as the pure scheduler asks, bounding
concurrency (globally and per plugin), enforcing timeouts, containing plugin failures, asking
people questions, writing memory, and committing every transition to the store before acting
on it. The rules of what may run when live in `engine.scheduler`; this module never decides
them itself.

One coroutine, `_drive`, is the only writer of a run's state: step tasks report their results
on a queue, and `_drive` applies each to the scheduler, commits, and then starts or cancels
steps. A run killed at any point resumes from its last commit: steps that were in flight run
again with the same attempt number and idempotency key; completed steps never run again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from engine import scheduler as sched
from engine.errors import (
    ConditionError,
    MendflowError,
    PluginError,
    StepFailed,
    TemplateError,
)
from engine.plan import Edge, Plan, Step, StepKind
from engine.plugins import Registry, StepContext, StepResult, parse_params
from engine.runtime import templating
from engine.runtime.interaction import Answers, Interaction
from engine.runtime.memory import Memory, build_context
from engine.settings import Settings
from engine.store.base import MemoryEntry, RunRecord, StaleState, Store

log = logging.getLogger("mendflow.executor")

SNAPSHOT_EVERY = 64
"""Finished steps between state snapshots; resume replays at most this many events."""

Redact = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class Update:
    """What the executor tells an observer (the CLI's live view, a test)."""

    kind: str  # run_started | step_started | step_finished | run_finished
    run_id: str
    step_id: str | None = None
    attempt: int | None = None
    status: str | None = None
    summary: str = ""
    duration_s: float | None = None
    record: RunRecord | None = None
    state: sched.RunState | None = None


Observer = Callable[[Update], None]


@dataclass
class _Outcome:
    """A finished step task's report to the driver."""

    event: sched.Event
    memory: list[MemoryEntry] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


class LocalExecutor:
    def __init__(
        self,
        *,
        store: Store,
        registry: Registry,
        settings: Settings,
        interaction: Interaction | None = None,
        observer: Observer | None = None,
        datasources: Any | None = None,
        redact: Redact | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.settings = settings
        self.interaction = interaction or Answers()
        self.observer = observer or (lambda update: None)
        self.datasources = datasources
        self.redact: Redact = redact or (lambda value: value)
        self._global = asyncio.Semaphore(settings.max_concurrency)
        self._per_plugin: dict[str, asyncio.Semaphore] = {}

    # -- public ----------------------------------------------------------------------------

    async def start(
        self,
        plan: Plan,
        *,
        guide_path: str,
        inputs: Mapping[str, str] | None = None,
        alert: Mapping[str, Any] | None = None,
        dry_run: bool = False,
        run_id: str | None = None,
    ) -> RunRecord:
        """Create a run of `plan` and drive it to the end."""
        run_id = run_id or new_run_id()
        context = build_context(plan, run_id=run_id, inputs=inputs or {}, alert=alert)
        plan_hash = await self.store.save_plan(plan)
        now = datetime.now(UTC)
        state = sched.initial_state(plan, seed=run_id)
        record = RunRecord(
            run_id=run_id, plan_id=plan.id, plan_hash=plan_hash, guide_path=guide_path,
            title=plan.title, status="running", created_at=now, updated_at=now, version=0,
            state=state.to_json_dict(), context=self.redact(context),
            options={"dry_run": dry_run, "executor": "local"},
        )
        await self.store.create_run(record)
        return await self._drive(plan, record)

    async def resume(self, run_id: str) -> RunRecord:
        """Continue a run that was interrupted or killed, from its last committed state."""
        record = await self.store.get_run(run_id)
        if record.status not in ("running", "interrupted"):
            return record
        plan = await self.store.load_plan(record.plan_hash)
        return await self._drive(plan, record)

    # -- the driver: the only writer of run state ---------------------------------------------

    async def _drive(self, plan: Plan, record: RunRecord) -> RunRecord:
        run_id = record.run_id
        dry_run = bool(record.options.get("dry_run"))
        memory = Memory.restore(record.context, await self.store.memory(run_id))
        state = await self._current_state(plan, record)
        queue: asyncio.Queue[tuple[str, int, _Outcome]] = asyncio.Queue()
        tasks: dict[tuple[str, int], asyncio.Task[None]] = {}
        self.observer(Update("run_started", run_id, record=record, state=state))

        if state.status == "pending":
            start = sched.Start()
            state, actions = sched.apply(plan, state, start)
            first: list[Any] = [("start", None, None, {"event": start.model_dump(mode="json")})]
        else:
            actions = sched.resume(plan, state)
            first = [("resumed", None, None, {})]
        unsnapped = 0
        try:
            record = await self._commit(record, state, first + _started(actions), [],
                                        snapshot=True)
            self._launch(plan, record, state, actions, memory, tasks, queue, dry_run)
            while record.status == "running" and tasks:
                # Group commit: every report already waiting goes into one transaction.
                reports = [await queue.get()]
                while not queue.empty():
                    reports.append(queue.get_nowait())
                events: list[Any] = []
                entries: list[MemoryEntry] = []
                actions = []
                for step_id, attempt, outcome in reports:
                    task = tasks.pop((step_id, attempt), None)
                    if task is not None:
                        await asyncio.gather(task, return_exceptions=True)
                    state, more = sched.apply(plan, state, outcome.event)
                    actions = [a for a in actions if not _cancels(more, a)] + more
                    data = {"event": outcome.event.model_dump(mode="json"), **outcome.data}
                    events.append((outcome.event.type, step_id, attempt, self.redact(data)))
                    entries += outcome.memory
                unsnapped += len(reports)
                snapshot = unsnapped >= SNAPSHOT_EVERY or state.finished
                record = await self._commit(record, state, events + _started(actions),
                                            entries, snapshot=snapshot)
                if snapshot:
                    unsnapped = 0
                memory.apply(entries)
                for step_id, attempt, outcome in reports:
                    step_status = state.steps[step_id].status if step_id in state.steps else ""
                    self.observer(Update(
                        "step_finished", run_id, step_id=step_id, attempt=attempt,
                        status=str(step_status), summary=str(outcome.data.get("summary", "")),
                        duration_s=outcome.data.get("duration_s"), record=record, state=state,
                    ))
                self._launch(plan, record, state, actions, memory, tasks, queue, dry_run)
        except (asyncio.CancelledError, KeyboardInterrupt):
            # Ctrl-C: stop in-flight steps, keep the run resumable (state says they were running).
            await _cancel_all(tasks)
            with contextlib.suppress(Exception):
                record = await asyncio.shield(self._mark(
                    record, state, "interrupted", "interrupted by the user; resumable"))
            raise
        await _cancel_all(tasks)
        if record.status == "running":  # the scheduler ended nothing and nothing runs
            record = await self._mark(record, state, "failed",
                                      state.reason or "no step left to run")
        self.observer(Update("run_finished", run_id, status=record.status, record=record,
                             state=state))
        return record

    async def _current_state(self, plan: Plan, record: RunRecord) -> sched.RunState:
        """The snapshot, with the scheduler events committed after it replayed on top."""
        state = sched.RunState.from_json_dict(record.state)
        for ev in await self.store.events(record.run_id, after=record.state_seq):
            raw = ev.data.get("event")
            if isinstance(raw, dict):
                state, _ = sched.apply(plan, state, sched.event_from_dict(raw))
        return state

    def _launch(self, plan: Plan, record: RunRecord, state: sched.RunState,
                actions: list[Any], memory: Memory,
                tasks: dict[tuple[str, int], asyncio.Task[None]],
                queue: asyncio.Queue[tuple[str, int, _Outcome]], dry_run: bool) -> None:
        """Act on committed actions: cancel steps the scheduler stopped, start the ready ones."""
        for action in actions:
            if isinstance(action, sched.CancelStep):
                task = tasks.pop((action.step, action.attempt), None)
                if task is not None:
                    task.cancel()
            elif isinstance(action, sched.StartStep):
                step = sched.plan_index(plan).steps[action.step]
                self.observer(Update("step_started", record.run_id, step_id=action.step,
                                     attempt=action.attempt, state=state))
                tasks[(action.step, action.attempt)] = asyncio.create_task(
                    self._step_task(plan, record.run_id, step, action.attempt, action.delay_s,
                                    memory, queue, dry_run),
                    name=f"step:{action.step}:{action.attempt}",
                )

    async def _commit(self, record: RunRecord, state: sched.RunState,
                      events: list[tuple[str, str | None, int | None, dict[str, Any]]],
                      memory: list[MemoryEntry], *, snapshot: bool,
                      status: str | None = None, reason: str | None = None) -> RunRecord:
        """Persist a transition; returns the record as it now stands (state when snapshot)."""
        status = status or (state.status if state.status != "pending" else "running")
        reason = reason if reason is not None else state.reason
        state_json = state.to_json_dict() if snapshot else None
        try:
            version = await self.store.commit(
                record.run_id, expected_version=record.version, state=state_json,
                status=status, outcome=state.outcome, reason=reason,  # type: ignore[arg-type]
                events=events, memory=memory,
            )
        except StaleState:
            raise StaleState(
                f"run {record.run_id} was advanced by another process",
                hint="Only one process may drive a run; wait for it or stop it, then resume",
            ) from None
        update: dict[str, Any] = {"version": version, "status": status,
                                  "outcome": state.outcome, "reason": reason,
                                  "updated_at": datetime.now(UTC)}
        if state_json is not None:
            update["state"] = state_json
        return record.model_copy(update=update)

    async def _mark(self, record: RunRecord, state: sched.RunState, status: str,
                    reason: str) -> RunRecord:
        return await self._commit(record, state, [(status, None, None, {"reason": reason})],
                                  [], snapshot=True, status=status, reason=reason)

    # -- one step ----------------------------------------------------------------------------

    async def _step_task(self, plan: Plan, run_id: str, step: Step, attempt: int, delay_s: float,
                         memory: Memory, queue: asyncio.Queue[tuple[str, int, _Outcome]],
                         dry_run: bool) -> None:
        started = time.monotonic()
        try:
            if delay_s > 0:
                await asyncio.sleep(delay_s)
            outcome = await self._run_step(plan, run_id, step, attempt, memory, dry_run)
        except asyncio.CancelledError:
            raise
        except MendflowError as exc:
            outcome = _Outcome(sched.StepFailed(
                step=step.id, attempt=attempt, error=self.redact(str(exc)),
                retryable=bool(getattr(exc, "retryable", False)),
            ))
        except Exception as exc:  # a plugin bug must not kill the run
            log.exception("step %s raised", step.id)
            outcome = _Outcome(sched.StepFailed(
                step=step.id, attempt=attempt,
                error=self.redact(f"{type(exc).__name__}: {exc}"), retryable=True,
            ))
        outcome.data.setdefault("duration_s", round(time.monotonic() - started - delay_s, 6))
        await queue.put((step.id, attempt, outcome))

    async def _run_step(self, plan: Plan, run_id: str, step: Step, attempt: int,
                        memory: Memory, dry_run: bool) -> _Outcome:
        kind = step.kind
        if kind == StepKind.APPROVE:
            return await self._approve(plan, step, attempt, memory, dry_run)
        if kind == StepKind.MANUAL:
            return await self._manual(step, attempt, memory, dry_run)
        if kind == StepKind.DECIDE:
            return await self._finish(plan, step, attempt, memory, StepResult(summary="decided"))
        if kind == StepKind.CALL:
            raise StepFailed(
                f"calling another guide ({step.call}) is not supported by the local executor yet",
                retryable=False, step=step.id, hint=f"Run the guide {step.call} separately",
            )
        if not step.plugin:
            return await self._finish(plan, step, attempt, memory, StepResult(summary="no-op"))

        plugin_cls = self.registry.get(step.plugin)
        try:
            params = _render_params(plugin_cls, step.params, memory.view())
        except TemplateError as exc:
            raise StepFailed(f"cannot render parameters: {exc.message}", retryable=False,
                             step=step.id, hint=exc.hint) from None
        parsed = parse_params(plugin_cls, params, step=step.id)
        plugin = self.registry.instance(step.plugin)
        if dry_run and step.mutating:
            would = _describe(plugin, parsed, params)
            result = StepResult(outputs={"dry_run": True, "would_run": would},
                                summary=f"dry run: would run {would}")
            return await self._finish(plan, step, attempt, memory, result, note="dry run")

        # No per-step claim here: this process is the run's only driver, because every start
        # is committed compare-and-set first, and a second driver's commit fails (StaleState)
        # before it starts anything. Claims guard the distributed executor's redeliveries.
        key = f"{run_id}:{step.id}:{attempt}"
        timeout = step.timeout_s or self.settings.default_timeout_s
        ctx = StepContext(
            run_id=run_id, step_id=step.id, attempt=attempt, idempotency_key=key,
            deadline_s=timeout, dry_run=dry_run, data_source=self._data_source(step, params),
            logger=logging.getLogger(f"mendflow.plugin.{step.plugin}"),
            output_cap_bytes=self.settings.output_cap_bytes,
        )
        sem = self._per_plugin.setdefault(step.plugin,
                                          asyncio.Semaphore(self.settings.plugin_concurrency))
        async with self._global, sem:
            try:
                async with asyncio.timeout(timeout):
                    result = await plugin.run(params=parsed, ctx=ctx)
            except TimeoutError:
                return _Outcome(sched.StepTimedOut(step=step.id, attempt=attempt,
                                                   timeout_s=timeout),
                                data={"summary": f"timed out after {timeout:g} s"})
        if not isinstance(result, StepResult):
            raise PluginError(f"plugin {step.plugin!r} returned {type(result).__name__}, "
                              "not a StepResult", step=step.id)
        artifacts = {}
        for name, data in result.artifacts.items():
            data = _redact_bytes(self.redact, data)
            ref = await self.store.put_artifact(run_id, step.id, attempt, name, data)
            artifacts[name] = ref.model_dump(mode="json")
        return await self._finish(plan, step, attempt, memory, result, artifacts=artifacts)

    async def _finish(self, plan: Plan, step: Step, attempt: int, memory: Memory,
                      result: StepResult, *, note: str | None = None,
                      artifacts: dict[str, Any] | None = None) -> _Outcome:
        """Write what the step found, evaluate its bindings and branches, and report."""
        outputs = self.redact(dict(result.outputs))
        if artifacts:
            outputs["artifacts"] = artifacts
        entries = [memory.entry(f"steps.{step.id}", outputs, step_id=step.id, attempt=attempt)]
        scope = {**memory.view(), "result": outputs}
        for key, expr in sorted(step.binds.items()):
            if result.ok:
                value = _evaluate_value(expr, scope, step)
                entries.append(memory.entry(key, self.redact(value), step_id=step.id,
                                            attempt=attempt))
        # Conditions see this step's outputs as if already in memory.
        view = dict(memory.view())
        view["steps"] = {**view["steps"], step.id: outputs}
        view["vars"] = {**view["vars"], **{e.key.split(".", 1)[1]: e.value for e in entries
                                          if e.key.startswith("vars.")}}
        on = "success" if result.ok else "failure"
        if note == "dry run":
            # What a step that did not run would have found is unknown: follow no branch on it.
            branches = {i: False for i, e in sched.plan_index(plan).outgoing[step.id]
                        if e.condition is not None}
        else:
            branches = await self._branches(plan, step, on, view, outputs)
        summary = self.redact(result.summary or result.error or "")
        data = {"summary": summary}
        if result.ok:
            event: sched.Event = sched.StepSucceeded(step=step.id, attempt=attempt,
                                                     branches=branches, note=note)
        else:
            event = sched.StepFailed(step=step.id, attempt=attempt, branches=branches,
                                     error=self.redact(result.error or "step failed"),
                                     retryable=True)
        return _Outcome(event, memory=entries, data=data)

    async def _branches(self, plan: Plan, step: Step, on: str, view: Mapping[str, Any],
                        outputs: Mapping[str, Any]) -> dict[int, bool]:
        decided: dict[int, bool] = {}
        for index, edge in sched.plan_index(plan).outgoing[step.id]:
            if edge.condition is None:
                continue
            if edge.on != on and not (on == "failure" and step.on_error == "continue"):
                continue
            if edge.condition.expr is not None:
                try:
                    decided[index] = templating.evaluate(edge.condition.expr, view)
                except ConditionError as exc:
                    raise ConditionError(
                        f"cannot decide {edge.condition.text!r}: {exc.message}",
                        step=step.id, hint=exc.hint,
                    ) from None
            else:
                answer = await self.interaction.judge(step=step, edge=edge,
                                                      evidence=_evidence(outputs))
                decided[index] = answer.yes
        return decided

    async def _approve(self, plan: Plan, step: Step, attempt: int, memory: Memory,
                       dry_run: bool) -> _Outcome:
        action = self._gated_action(plan, step, memory)
        if dry_run:
            return _Outcome(sched.Approval(step=step.id, attempt=attempt, granted=True,
                                           by="dry run"),
                            data={"summary": f"dry run: would ask to approve: {action}"})
        answer = await self.interaction.approve(step=step, action=action)
        verdict = "approved" if answer.yes else "denied"
        return _Outcome(sched.Approval(step=step.id, attempt=attempt, granted=answer.yes,
                                       by=answer.by),
                        data={"summary": f"{verdict} by {answer.by}: {action}"})

    async def _manual(self, step: Step, attempt: int, memory: Memory,
                      dry_run: bool) -> _Outcome:
        instructions = step.text or step.title
        script = step.params.get("script")
        if isinstance(script, str):
            with contextlib.suppress(TemplateError):
                script = templating.render(script, memory.view())
            instructions = f"{instructions}\n{script}"
        if dry_run:
            return _Outcome(sched.Approval(step=step.id, attempt=attempt, granted=True,
                                           by="dry run"),
                            data={"summary": "dry run: a person would do this by hand"})
        answer = await self.interaction.confirm_manual(step=step, instructions=instructions)
        return _Outcome(sched.Approval(step=step.id, attempt=attempt, granted=answer.yes,
                                       by=answer.by),
                        data={"summary": ("done" if answer.yes else "not done")
                              + f" ({answer.by})"})

    def _gated_action(self, plan: Plan, gate: Step, memory: Memory) -> str:
        """Render what the step(s) after an approval gate will do, for the person to judge."""
        parts = []
        for _, edge in sched.plan_index(plan).outgoing[gate.id]:
            if edge.on != "success":
                continue
            target = sched.plan_index(plan).steps[edge.target]
            text = target.title
            if target.plugin:
                try:
                    plugin = self.registry.instance(target.plugin)
                    params = _render_params(type(plugin), target.params, memory.view())
                    parsed = parse_params(type(plugin), params, step=target.id)
                    text = _describe(plugin, parsed, params)
                except MendflowError as exc:
                    text = f"{target.title} (cannot render yet: {exc.message})"
            parts.append(text)
        return "; ".join(parts) or gate.title

    def _data_source(self, step: Step, params: Mapping[str, Any]) -> Mapping[str, Any] | None:
        if self.datasources is None or not step.plugin:
            return None
        name = params.get("source") if isinstance(params, Mapping) else None
        resolve = getattr(self.datasources, "resolve_for_plugin", None)
        if resolve is None:
            return None
        return resolve(name, step.plugin)


# -- helpers ---------------------------------------------------------------------------------


def _render_params(plugin_cls: type, params: Mapping[str, Any],
                   view: Mapping[str, Any]) -> dict[str, Any]:
    """Render every template in a step's params, except those the plugin takes verbatim
    (`untemplated_params`, e.g. SQL text, whose values travel as bound parameters)."""
    verbatim = getattr(plugin_cls, "untemplated_params", frozenset())
    return {k: v if k in verbatim else templating.render_value(v, view)
            for k, v in params.items()}


def _cancels(later: list[Any], action: Any) -> bool:
    """Whether a later action cancels an earlier StartStep of the same batch."""
    return isinstance(action, sched.StartStep) and any(
        isinstance(c, sched.CancelStep) and (c.step, c.attempt) == (action.step, action.attempt)
        for c in later)


def _started(actions: list[Any]) -> list[tuple[str, str | None, int | None, dict[str, Any]]]:
    return [("step_started", a.step, a.attempt, {"delay_s": a.delay_s})
            for a in actions if isinstance(a, sched.StartStep)]


def new_run_id() -> str:
    """Sortable, unique, short: UTC time plus randomness."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


async def _cancel_all(tasks: dict[tuple[str, int], asyncio.Task[None]]) -> None:
    for task in tasks.values():
        task.cancel()
    if tasks:
        await asyncio.gather(*tasks.values(), return_exceptions=True)
    tasks.clear()


def _describe(plugin: Any, parsed: Any, params: Mapping[str, Any]) -> str:
    describe = getattr(plugin, "describe", None)
    if describe is not None:
        try:
            return str(describe(params=parsed))
        except Exception:  # describing must never fail a step
            pass
    return f"{getattr(plugin, 'name', 'plugin')} {dict(params)}"


def _evaluate_value(expr: str, scope: Mapping[str, Any], step: Step) -> Any:
    try:
        return templating.render("{{ " + expr + " }}", scope)
    except TemplateError as exc:
        raise StepFailed(f"cannot bind a value with {expr!r}: {exc.message}", retryable=False,
                         step=step.id) from None


def _evidence(outputs: Mapping[str, Any]) -> str:
    for key in ("stdout", "summary", "value"):
        if key in outputs and outputs[key] not in (None, ""):
            return str(outputs[key])[:2000]
    return str(dict(outputs))[:2000]


def _redact_bytes(redact: Redact, data: bytes) -> bytes:
    text = data.decode("utf-8", errors="surrogateescape")
    cleaned = redact(text)
    if cleaned == text:
        return data
    return str(cleaned).encode("utf-8", errors="surrogateescape")
