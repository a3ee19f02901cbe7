"""Running one step: the part of execution that the local and the distributed executor share.

Owns what happens between "start step S, attempt N" and the report of how it went: rendering
its parameters from memory (sandboxed), validating them against the plugin's schema, running
the plugin under its timeout, containing whatever the plugin does wrong, storing its
artifacts, evaluating its bindings and the conditions on its outgoing edges, and asking people
the questions approve, manual and judgment steps need. It returns a `StepReport`: the
scheduler event plus the memory entries to commit with it.

It does not decide what runs when (`engine.scheduler`), persist transitions or start other
steps (the executors), and never lets an exception escape for a step that failed: a failed
step is a report, not a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Container, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import ValidationError as PydanticValidationError

from engine import effects, logs, metrics, placement, templating
from engine import scheduler as sched
from engine.datasources import RedactingLogger, Redactor
from engine.errors import (
    ConditionError,
    MendflowError,
    PluginError,
    StepFailed,
    TemplateError,
)
from engine.interaction import Answers, Interaction, in_doubt_hint
from engine.plan import Edge, Plan, Step, StepKind
from engine.plugins import MAX_SUMMARY_CHARS, Plugin, StepContext, StepResult, parse_params
from engine.runtime.children import ChildCalls
from engine.runtime.limits import Limit, LocalSlots, Slots
from engine.runtime.memory import Memory
from engine.runtime.services import Redact, Services
from engine.store.base import ArtifactRef, MemoryEntry
from engine.stragglers import NOTE as STRAGGLER_NOTE
from engine.stragglers import Baseline, StepHistory, Straggler

log = logging.getLogger("mendflow.steps")

MAY_HAVE_ACTED = "; it changes the world and may have done so, so it is not tried again by itself"
"""Said of a change cut off after it may have acted (an error that says its effect is
unknown, an answer that says so): it is never retried by itself, whatever its `retries`."""
MAY_HAVE_ACTED_CLEANUP = ("; it changes the world and may have done so; a clean-up step, "
                          "written to be repeated, it is tried again within its retries")
"""The same said of a clean-up step, which the scheduler tries until it works or its budget
ends (stop the motion, open the gripper: what leaves the world safe is made to be repeated)."""


def _may_have_acted(plan: Plan, step: Step) -> str:
    return MAY_HAVE_ACTED_CLEANUP if step.id in plan.cleanup else MAY_HAVE_ACTED


def _unknown_effect_waits(plan: Plan, step: Step, report: StepReport) -> StepReport:
    """A change whose effect is unknown (it timed out, or was cut off after it may have
    acted) whose error path goes on to act (another way of making the same change, or the
    approval gate before it: "if the restart fails, kill the process") is in doubt, not
    failed: a person says whether it acted before the run goes on (`--mark-failed` takes
    the error path, `--mark-done` the way on, `--rerun` tries it again). Taken at once,
    both ways might have acted, the second on top of the first still at work. An error
    path that acts on nothing (an escalation, a read) is taken as before; a clean-up step
    is tried again within its retries, as it always is."""
    event = report.event
    if not sched.changes(plan, step) or step.id in plan.cleanup:
        return report
    if isinstance(event, sched.StepTimedOut):
        what = f"timed out after {event.timeout_s:g} s"
    elif isinstance(event, sched.StepFailed) and not event.retryable and \
            MAY_HAVE_ACTED in event.error:
        what = f"failed ({event.error.replace(MAY_HAVE_ACTED, '')})"
    else:
        return report
    then = sched.acts_after_failure(plan, step.id, event.branches)
    if then is None:
        return report
    reason = (f"step '{step.id}' {what}; what it did is unknown, and its error path goes on "
              f"to '{then}', which acts: not taken unless a person says so "
              f"({in_doubt_hint(step.id)})")
    return StepReport(sched.StepInDoubt(step=step.id, attempt=event.attempt, reason=reason),
                      memory=report.memory, data={**report.data, "summary": reason})


_UNWATCHED = contextlib.nullcontext()



@dataclass
class StepReport:
    """How a step went: the scheduler event, the memory to commit with it, and notes for
    people (`summary`, `duration_s`) that go into the event record."""

    event: sched.Event
    memory: list[MemoryEntry] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


class Served(Protocol):
    """Serves steps of a replay (`engine.runtime.intervene`) from the record of the run it
    replays: a report for a step it serves, None for one that runs as usual."""

    async def serve(self, runner: StepRunner, plan: Plan, step: Step, attempt: int,
                    memory: Memory) -> StepReport | None: ...


class StepRunner:
    def __init__(
        self,
        services: Services,
        *,
        interaction: Interaction | None = None,
        slots: Slots | None = None,
    ) -> None:
        self.store = services.store
        self.registry = services.registry
        self.settings = settings = services.settings
        self.interaction = interaction or Answers()
        self.datasources = datasources = services.datasources
        self.redact: Redact = services.redact
        # What plugins redact with before they cut text: every data source's secrets.
        self.secrets = datasources.redactor() if datasources is not None else Redactor()
        self._global = asyncio.Semaphore(settings.max_concurrency)
        # Per plugin and per data source: in this process (LocalSlots), or across every
        # worker sharing the store (StoreSlots, on Celery).
        self.slots: Slots = slots or LocalSlots()
        # Told (run id, step id, waiting) when a step queues for a concurrency slot and when
        # it gets one, so that a person sees the wait rather than a step that seems slow.
        self.on_wait: Callable[[str, str, bool], None] | None = None
        # Runs a call step's linked guide as a child run; set by the executor that owns this
        # runner (it knows how to drive a run), None where linked guides cannot run.
        self.calls: ChildCalls | None = None
        self._loggers: dict[str, RedactingLogger] = {}
        # Each run's step histories, loaded once when its driver (or this worker) took it
        # up (`engine.stragglers.load_baseline`), by run id: a step with enough history gets
        # a timer that flags it as a straggler if it works past its p99.
        # A future while it loads: the run's first steps do not wait for it (a step that
        # began before it came gets its timer then, from when its work began).
        self.baselines: dict[str, Baseline | asyncio.Future[Baseline]] = {}
        # Told (run id, straggler) when a step is flagged (the local executor's observer).
        self.on_straggler: Callable[[str, Straggler], None] | None = None
        self._notes: set[asyncio.Task[None]] = set()  # straggler notes being written
        # A replay's recorded results (`engine.runtime.intervene`); None for any other run.
        self.replay: Served | None = None

    async def run(self, plan: Plan, run_id: str, step: Step, attempt: int, memory: Memory,
                  *, dry_run: bool = False) -> StepReport:
        """Run one attempt of one step; every failure becomes a report, never an exception
        (cancellation excepted)."""
        with logs.bound(run_id=run_id, step_id=step.id):
            report = await self._run_measured(plan, run_id, step, attempt, memory, dry_run)
            log.info("step %s attempt %d of run %s: %s in %.3fs", step.id, attempt, run_id,
                     report.event.type, report.data.get("duration_s") or 0.0)
        return report

    async def _run_measured(self, plan: Plan, run_id: str, step: Step, attempt: int,
                            memory: Memory, dry_run: bool) -> StepReport:
        started = time.monotonic()
        try:
            report = await self._run_step(plan, run_id, step, attempt, memory, dry_run)
        except MendflowError as exc:
            error, retryable = str(exc), bool(getattr(exc, "retryable", False))
            if step.mutating and getattr(exc, "effect_unknown", False):
                error += _may_have_acted(plan, step)
                retryable = False
            report = StepReport(sched.StepFailed(
                step=step.id, attempt=attempt, error=self.redact(error), retryable=retryable,
            ))
        except asyncio.CancelledError as exc:
            if _stopped_from_outside():  # its executor stops it: no report is wanted
                raise
            # Cancelled from within (a plugin's own future, a linked guide's run that lost
            # its lease): no one else reports for it, and its run would wait forever.
            report = self._unreported(plan, step, attempt, exc)
        except Exception as exc:  # a plugin bug must not kill the run
            RedactingLogger(log, self.secrets).exception("step %s raised", step.id)
            error = f"{type(exc).__name__}: {exc}"
            # A change that raised may have acted before it did (a request sent, its answer
            # unreadable): its outcome is unknown, so it is never tried again by itself.
            if step.mutating:
                error += _may_have_acted(plan, step)
            report = StepReport(sched.StepFailed(
                step=step.id, attempt=attempt, error=self.redact(error),
                retryable=not step.mutating,
            ))
        report = _unknown_effect_waits(plan, step, await self._decide_failure(
            plan, step, memory, report))
        # A step's time is its work; the wait for a concurrency slot is shown apart.
        waited = float(report.data.get("waited_s") or 0.0)
        report.data.setdefault("duration_s", round(time.monotonic() - started - waited, 6))
        if isinstance(report.event, sched.StepFailed):
            report.data.setdefault("summary", report.event.error)
        metrics.step_done(step.plugin, str(step.kind), _result(report.event),
                          float(report.data["duration_s"]))
        if "waited_s" in report.data:  # a plugin step that queued for its slots
            metrics.waited(step.plugin, "slot", waited)
        if self._notes:  # a straggler's note lands before its step's report (and its loop)
            await asyncio.wait(set(self._notes), timeout=5.0)
        return report

    def _unreported(self, plan: Plan, step: Step, attempt: int,
                    exc: asyncio.CancelledError) -> StepReport:
        """The report of a step whose work was cancelled from within: a failure, whose
        effect is unknown for a change (it may have acted before it stopped)."""
        why = str(exc.args[0]) if exc.args else "cancelled"
        error = f"stopped before it reported ({why})"
        if step.mutating:
            error += _may_have_acted(plan, step)
        return StepReport(sched.StepFailed(step=step.id, attempt=attempt,
                                           error=self.redact(error),
                                           retryable=not step.mutating))

    async def _decide_failure(self, plan: Plan, step: Step, memory: Memory,
                              report: StepReport) -> StepReport:
        """A failure (an error, a timeout) that is final, with the conditions on the edges it
        takes decided as a success's are ("on failure, if the error says X, ..."; with
        `on_error: continue`, the success edges): a plan may guard them, and the scheduler
        cannot go on without their values. A failure tried again decides nothing yet."""
        event = report.event
        if not isinstance(event, sched.StepFailed | sched.StepTimedOut) or event.branches:
            return report
        retried = event.retryable if isinstance(event, sched.StepFailed) else not step.mutating
        if retried and event.attempt < step.retry.attempts:
            return report
        if not any(e.condition is not None for _, e in sched.plan_index(plan).outgoing[step.id]):
            return report
        error = event.error if isinstance(event, sched.StepFailed) else \
            f"timed out after {event.timeout_s:g} s"
        outputs = {"error": error}
        view = dict(memory.view())
        view["steps"] = {**view["steps"], step.id: outputs}
        try:
            branches = await self._branches(plan, step, "failure", view, outputs)
        except MendflowError as exc:  # undecidable: the run stops on it, saying why
            log.warning("step %s: cannot decide its failure edges: %s", step.id, exc.message)
            return report
        report.event = event.model_copy(update={"branches": branches})
        return report

    async def _run_step(self, plan: Plan, run_id: str, step: Step, attempt: int,
                        memory: Memory, dry_run: bool) -> StepReport:
        if self.replay is not None:
            served = await self.replay.serve(self, plan, step, attempt, memory)
            if served is not None:
                return served
        kind = step.kind
        if kind == StepKind.APPROVE:
            return await self._approve(plan, step, attempt, memory, dry_run)
        if kind == StepKind.MANUAL:
            return await self._manual(plan, step, attempt, memory, dry_run)
        if kind == StepKind.DECIDE:
            return await self._finish(plan, step, attempt, memory, StepResult(summary="decided"))
        if kind == StepKind.CALL:
            return await self._call(plan, run_id, step, attempt, memory, dry_run)
        if not step.plugin:
            return await self._finish(plan, step, attempt, memory, StepResult(summary="no-op"))

        plugin_cls = self.registry.get(step.plugin)
        view = memory.view()
        try:
            params = _render_params(plugin_cls, step.params, view)
        except TemplateError as exc:
            raise StepFailed(f"cannot render parameters: {exc.message}", retryable=False,
                             step=step.id, hint=exc.hint) from None
        # Only a value put in by a template can be refused (the guide's own words are its own).
        refused = placement.rendered_problem(step.plugin, step.params, params, view) \
            if _templated(step.params) else None
        if refused:
            raise StepFailed(f"refused to run: {refused}", retryable=False, step=step.id,
                             hint="Check the input or the step that produced the value")
        parsed = parse_params(plugin_cls, params, step=step.id)
        plugin = self.registry.instance(step.plugin)
        verdict = _effect(plugin_cls, step, parsed)
        if not step.mutating and not verdict.read:
            # The plan says this step only reads, but what it would really do is not on the
            # read-only list (a hand-edited plan, or a value that changed the command).
            raise StepFailed(
                f"refused: `{_describe(plugin, parsed, params)}` is not on the read-only list "
                f"({verdict.reason}); a step that changes the world needs an approval gate "
                "in the plan", retryable=False, step=step.id,
                hint="Mark the step mutating behind an approve step, or make it a read")
        if step.mutating and not dry_run:
            unapproved = self._unapproved(plan, step, memory, _describe(plugin, parsed, params))
            if unapproved:
                raise StepFailed(unapproved, retryable=False, step=step.id,
                                 hint="Run it again to be asked about what it would run now")
        if dry_run and (step.mutating or not verdict.read):
            would = _describe(plugin, parsed, params)
            result = StepResult(outputs={"dry_run": True, "would_run": would},
                                summary=f"dry run: would run {would}")
            return await self._finish(plan, step, attempt, memory, result, note=sched.DRY_RUN)

        key = f"{run_id}:{step.id}:{attempt}"
        timeout = step.timeout_s or self.settings.default_timeout_s
        ctx = StepContext(
            run_id=run_id, step_id=step.id, attempt=attempt, idempotency_key=key,
            deadline_s=timeout, dry_run=dry_run, data_source=self._data_source(step, params),
            logger=self._logger(step.plugin),
            output_cap_bytes=self.settings.output_cap_bytes, secrets=self.secrets,
            mutating=step.mutating, result_cap_rows=self.settings.result_cap_rows,
            result_cap_bytes=self.settings.result_cap_bytes,
            results=view["steps"],
            read_artifact=self._artifact_reader(run_id, view["steps"]),
        )
        queued = time.monotonic()
        shown = False

        def waiting(now: bool) -> None:
            nonlocal shown
            if self.on_wait and now != shown:
                shown = now
                self.on_wait(run_id, step.id, now)

        if self._global.locked():
            waiting(True)
        async with self._global, self.slots.hold(self._limits(step.plugin, ctx.data_source),
                                                 holder=key, ttl_s=timeout, waiting=waiting):
            waiting(False)
            waited = {"waited_s": round(time.monotonic() - queued, 6)}
            try:
                with metrics.step_running(step.plugin), self._watch(plan, run_id, step,
                                                                   attempt):
                    async with asyncio.timeout(timeout):
                        result = await plugin.run(params=parsed, ctx=ctx)
            except TimeoutError:
                return StepReport(sched.StepTimedOut(step=step.id, attempt=attempt,
                                                   timeout_s=timeout),
                                data={"summary": f"timed out after {timeout:g} s", **waited})
        if not isinstance(result, StepResult):
            raise PluginError(f"plugin {step.plugin!r} returned {type(result).__name__}, "
                              "not a StepResult", step=step.id)
        artifacts = {}
        for name, data in result.artifacts.items():
            data = _redact_bytes(self.redact, data)
            ref = await self.store.put_artifact(run_id, step.id, attempt, name, data)
            artifacts[name] = ref.model_dump(mode="json")
        report = await self._finish(plan, step, attempt, memory, result, artifacts=artifacts)
        report.data.update(waited)
        return report

    def _watch(self, plan: Plan, run_id: str, step: Step,
               attempt: int) -> contextlib.AbstractContextManager[None]:
        """While the step works: a timer at its straggler threshold, if its history has one;
        when it fires (the step still working), the step is flagged."""
        baseline = self.baselines.get(run_id)
        if isinstance(baseline, asyncio.Future) and baseline.done():
            failed = baseline.cancelled() or baseline.exception() is not None
            baseline = None if failed else baseline.result()
        if baseline is None or (isinstance(baseline, Baseline)
                                and baseline.of(step.id).threshold_s is None):
            return _UNWATCHED  # no history to flag it by (the common case)
        return self._timed(plan, run_id, step, attempt, baseline)

    @contextlib.contextmanager
    def _timed(self, plan: Plan, run_id: str, step: Step, attempt: int,
               baseline: Baseline | asyncio.Future[Baseline]) -> Iterator[None]:
        """`_watch` for a step with a history (`baseline`), or whose history is loading."""
        loop = asyncio.get_running_loop()
        began = loop.time()
        timer: asyncio.TimerHandle | None = None
        working = True

        def arm(loaded: Baseline) -> None:
            nonlocal timer
            history = loaded.of(step.id)
            threshold = history.threshold_s
            if working and threshold is not None:
                timer = loop.call_at(began + threshold, self._flag, plan.id, run_id, step,
                                     attempt, history, began)

        def loaded(future: asyncio.Future[Baseline]) -> None:
            if not future.cancelled() and future.exception() is None:
                arm(future.result())

        if isinstance(baseline, Baseline):
            arm(baseline)
        else:  # still loading: armed when it comes, from when the work began
            baseline.add_done_callback(loaded)
        try:
            yield
        finally:
            working = False
            if timer is not None:
                timer.cancel()
            if isinstance(baseline, asyncio.Future):
                baseline.remove_done_callback(loaded)

    def _flag(self, plan_id: str, run_id: str, step: Step, attempt: int, history: StepHistory,
              began: float) -> None:
        """A step passed its p99 while working: count it, say so, note it in the run."""
        assert history.p50_s is not None and history.p99_s is not None
        elapsed = asyncio.get_running_loop().time() - began
        flag = Straggler(step=step.id, attempt=attempt, elapsed_s=elapsed, n=history.n,
                         p50_s=history.p50_s, p99_s=history.p99_s, plugin=step.plugin or "")
        metrics.straggler(plan_id, step.plugin)
        log.warning("run %s: step %s is a %s", run_id, step.id, flag.describe())
        if self.on_straggler is not None:
            self.on_straggler(run_id, flag)
        note = asyncio.create_task(self._note(run_id, flag), name=f"straggler:{step.id}")
        self._notes.add(note)
        note.add_done_callback(self._notes.discard)

    async def _note(self, run_id: str, flag: Straggler) -> None:
        try:
            await self.store.add_note(run_id, STRAGGLER_NOTE, flag.to_json())
        except MendflowError as exc:  # the flag was counted and shown; only its record is lost
            log.warning("run %s: straggler %s not recorded: %s", run_id, flag.step,
                        exc.message)

    async def _finish(self, plan: Plan, step: Step, attempt: int, memory: Memory,
                      result: StepResult, *, note: str | None = None,
                      artifacts: dict[str, Any] | None = None) -> StepReport:
        """Write what the step found, evaluate its bindings and branches, and report."""
        outputs = self.redact(dict(result.outputs))
        if artifacts:
            outputs["artifacts"] = artifacts
        if step.retry.attempts > 1:  # `steps.x.attempt`: which try of a retried step this was
            outputs.setdefault("attempt", attempt)
        entries = [memory.entry(f"steps.{step.id}", outputs, step_id=step.id, attempt=attempt)]
        if step.binds and result.ok:
            scope = {**memory.view(), "result": outputs}
            for key, expr in sorted(step.binds.items()):
                value = _evaluate_value(expr, scope, step)
                entries.append(memory.entry(key, self.redact(value), step_id=step.id,
                                            attempt=attempt))
        # Conditions see this step's outputs as if already in memory. Building that view
        # copies every step's outputs: only a step with conditions on its edges pays for it.
        judged: list[dict[str, Any]] = []
        branches: dict[int, bool] = {}
        if note == sched.DRY_RUN:
            # What a step that did not run would have found is unknown: follow no branch on it.
            branches = {i: False for i, e in sched.plan_index(plan).outgoing[step.id]
                        if e.condition is not None}
        elif _conditional(plan, step):
            view = dict(memory.view())
            view["steps"] = {**view["steps"], step.id: outputs}
            view["vars"] = {**view["vars"], **{e.key.split(".", 1)[1]: e.value
                                              for e in entries if e.key.startswith("vars.")}}
            branches = await self._branches(plan, step, "success" if result.ok else "failure",
                                            view, outputs, judged)
        summary = self.redact(result.summary or result.error or "")
        if step.kind == StepKind.DECIDE and branches:
            edges = sched.plan_index(plan).outgoing[step.id]
            said = [f"{'yes' if branches[i] else 'no'}: {e.condition.text}"
                    for i, e in edges if i in branches and e.kind == "branch" and e.condition]
            summary = "; ".join(said) or summary
        data: dict[str, Any] = {"summary": summary}
        if judged:
            data["judgments"] = self.redact(judged)
            data["summary"] = "; ".join(
                f"{'yes' if j['yes'] else 'no'} ({j['by']}"
                + (f": {j['rationale']}" if j["rationale"] else "") + f"): {j['condition']}"
                for j in judged) + (f" | {summary}" if summary else "")
        if result.ok:
            event: sched.Event = sched.StepSucceeded(step=step.id, attempt=attempt,
                                                     branches=branches, note=note)
        else:
            # the answer: it may have acted (a linked guide holding a change: it stopped for
            # a person, a change of it in doubt)
            unknown = sched.changes(plan, step) and result.effect_unknown
            error = (result.error or "step failed") + (_may_have_acted(plan, step) if unknown
                                                       else "")
            event = sched.StepFailed(step=step.id, attempt=attempt, branches=branches,
                                     error=self.redact(error), retryable=not unknown)
        return StepReport(event, memory=entries, data=data)

    async def served(self, plan: Plan, step: Step, attempt: int, memory: Memory, *,
                     outputs: Mapping[str, Any], ok: bool, error: str | None,
                     approval_by: str | None, judged: Callable[[Edge], bool | None],
                     summary: str, note: str, data: Mapping[str, Any]) -> StepReport:
        """A step's report made from a result it did not run for (a replay serves it from a
        record, or with outputs an intervention set): its memory and bindings written as
        `_finish` writes them, the conditions with an expression decided again on this run's
        memory, a judgment taken as `judged` says (not asked again; None: no); the event
        is an approval for an approval step (`approval_by`), else success, or a failure that
        is not retried."""
        outputs = self.redact(dict(outputs))
        entries = [memory.entry(f"steps.{step.id}", outputs, step_id=step.id, attempt=attempt)]
        if step.binds and ok:
            scope = {**memory.view(), "result": outputs}
            for key, expr in sorted(step.binds.items()):
                entries.append(memory.entry(key, self.redact(_evaluate_value(expr, scope, step)),
                                            step_id=step.id, attempt=attempt))
        view = dict(memory.view())
        view["steps"] = {**view["steps"], step.id: outputs}
        view["vars"] = {**view["vars"], **{e.key.split(".", 1)[1]: e.value
                                          for e in entries if e.key.startswith("vars.")}}
        on = "success" if ok else "failure"
        branches: dict[int, bool] = {}
        for index, edge in sched.plan_index(plan).outgoing[step.id]:
            if edge.condition is None:
                continue
            if edge.on != on and not (on == "failure" and step.on_error == "continue"):
                continue
            if edge.condition.expr is None:
                branches[index] = bool(judged(edge))
                continue
            try:
                whole = await self._whole_output(edge.condition.expr, view)
                branches[index] = templating.evaluate(edge.condition.expr, whole)
            except ConditionError as exc:
                raise ConditionError(f"cannot decide {edge.condition.text!r}: {exc.message}",
                                     step=step.id, hint=exc.hint) from None
        event: sched.Event
        if approval_by is not None:
            event = sched.Approval(step=step.id, attempt=attempt, granted=ok, by=approval_by,
                                   branches=branches)
        elif ok:
            event = sched.StepSucceeded(step=step.id, attempt=attempt, branches=branches,
                                        note=note)
        else:
            event = sched.StepFailed(step=step.id, attempt=attempt, branches=branches,
                                     error=self.redact(error or "step failed"), retryable=False)
        return StepReport(event, memory=entries,
                          data={"summary": self.redact(summary), "duration_s": 0.0,
                                **self.redact(dict(data))})

    async def _branches(self, plan: Plan, step: Step, on: str, view: Mapping[str, Any],
                        outputs: Mapping[str, Any],
                        judged: list[dict[str, Any]] | None = None) -> dict[int, bool]:
        """Decide the conditions on the step's outgoing edges; judgments (no expression) are
        put to the Interaction, and who answered, and why, is appended to `judged`."""
        decided: dict[int, bool] = {}
        questions: list[tuple[int, Edge]] = []
        for index, edge in sched.plan_index(plan).outgoing[step.id]:
            if edge.condition is None:
                continue
            if edge.on != on and not (on == "failure" and step.on_error == "continue"):
                continue
            if edge.condition.expr is not None:
                try:
                    whole = await self._whole_output(edge.condition.expr, view)
                    decided[index] = templating.evaluate(edge.condition.expr, whole)
                except ConditionError as exc:
                    raise ConditionError(
                        f"cannot decide {edge.condition.text!r}: {exc.message}",
                        step=step.id, hint=exc.hint,
                    ) from None
            else:
                questions.append((index, edge))
        if not questions:
            return decided
        # One question per decision: each If is asked once; its Otherwise is the answer's
        # opposite (it holds when no If does), never a second question that could say yes
        # to both branches or no to both.
        asked = [(i, e) for i, e in questions if e.kind != "else"] or questions[:1]
        evidence = _decision_evidence(plan, step, view, outputs)
        for index, edge in asked:
            answer = await self.interaction.judge(step=step, edge=edge, evidence=evidence)
            decided[index] = answer.yes
            if judged is not None:
                assert edge.condition is not None  # questions hold conditioned edges only
                judged.append({"target": edge.target, "condition": edge.condition.text,
                               "yes": answer.yes, "by": answer.by,
                               "rationale": getattr(answer, "rationale", ""),
                               "evidence": evidence[:1000]})
        said_yes = any(decided[i] for i, _ in asked)
        for index, edge in questions:
            if index not in decided:
                decided[index] = not said_yes
        return decided

    async def _call(self, plan: Plan, run_id: str, step: Step, attempt: int, memory: Memory,
                    dry_run: bool) -> StepReport:
        """A linked guide, run as a child run (`engine.runtime.children`). It holds no
        concurrency slot (its own steps take theirs) and has no default timeout (each of its
        steps has one); a timeout the plan sets for the call bounds the whole child."""
        if self.calls is None:
            raise StepFailed(f"this runner cannot run the linked guide {step.call!r}",
                             retryable=False, step=step.id,
                             hint="Run the plan with `mendflow run` (local or celery)")
        try:
            async with asyncio.timeout(step.timeout_s):
                result = await self.calls.run(plan, run_id, step, attempt, memory,
                                              dry_run=dry_run)
        except TimeoutError:
            return StepReport(sched.StepTimedOut(step=step.id, attempt=attempt,
                                                 timeout_s=step.timeout_s or 0.0),
                              data={"summary": f"the linked guide's run timed out after "
                                               f"{step.timeout_s:g} s"})
        report = await self._finish(plan, step, attempt, memory, result)
        report.data["child_run"] = result.outputs.get("run_id")
        return report

    async def _approve(self, plan: Plan, step: Step, attempt: int, memory: Memory,
                       dry_run: bool) -> StepReport:
        shown = self._gated_actions(plan, step, memory)
        action = "; ".join(text for _, text, _ in shown) or step.title
        # what each gated step was shown to run: all the approval is for
        approved = {sid: self.redact(text) for sid, text, rendered in shown if rendered}
        if dry_run:
            return await self._answered(plan, step, attempt, memory, True, sched.DRY_RUN,
                                        f"dry run: would ask to approve: {action}",
                                        approved=approved)
        commands = [text for _, text, rendered in shown if rendered] \
            if all(rendered for _, _, rendered in shown) else []
        answer = await self.interaction.approve(step=step, action=action, commands=commands)
        verdict = "approved" if answer.yes else "denied"
        return await self._answered(plan, step, attempt, memory, answer.yes, answer.by,
                                    f"{verdict} by {answer.by}: {action}", approved=approved)

    async def _manual(self, plan: Plan, step: Step, attempt: int, memory: Memory,
                      dry_run: bool) -> StepReport:
        instructions = step.text or step.title
        script = step.params.get("script")
        if isinstance(script, str):
            with contextlib.suppress(TemplateError):
                script = templating.render(script, memory.view())
            instructions = f"{instructions}\n{script}"
        if dry_run:
            return await self._answered(plan, step, attempt, memory, True, sched.DRY_RUN,
                                        "dry run: a person would do this by hand")
        answer = await self.interaction.confirm_manual(step=step, instructions=instructions)
        return await self._answered(plan, step, attempt, memory, answer.yes, answer.by,
                                    ("done" if answer.yes else "not done") + f" ({answer.by})")

    async def _answered(self, plan: Plan, step: Step, attempt: int, memory: Memory,
                        granted: bool, by: str, summary: str,
                        approved: Mapping[str, str] | None = None) -> StepReport:
        """A person's answer, with the conditions on the step's edges decided as usual;
        `approved`: what each gated step was shown to run (kept: `_unapproved`)."""
        outputs: dict[str, Any] = {"granted": granted, "by": by}
        if approved:
            outputs["approved"] = dict(approved)
        entries = [memory.entry(f"steps.{step.id}", outputs, step_id=step.id, attempt=attempt)]
        view = dict(memory.view())
        view["steps"] = {**view["steps"], step.id: outputs}
        branches = await self._branches(plan, step, "success" if granted else "failure", view,
                                        outputs)
        return StepReport(sched.Approval(step=step.id, attempt=attempt, granted=granted, by=by,
                                         branches=branches),
                          memory=entries, data={"summary": summary})

    def _gated_actions(self, plan: Plan, gate: Step, memory: Memory
                       ) -> list[tuple[str, str, bool]]:
        """What each step after an approval gate will do, rendered for the person to judge:
        (its id, the text, whether that is the command it renders to now)."""
        shown = []
        for _, edge in sched.plan_index(plan).outgoing[gate.id]:
            if edge.on != "success":
                continue
            target = sched.plan_index(plan).steps[edge.target]
            text, rendered = target.title, False
            if target.plugin:
                try:
                    plugin = self.registry.instance(target.plugin)
                    params = _render_params(type(plugin), target.params, memory.view())
                    parsed = parse_params(type(plugin), params, step=target.id)
                    text, rendered = _describe(plugin, parsed, params), True
                except MendflowError as exc:
                    text = f"{target.title} (cannot render yet: {exc.message})"
            shown.append((target.id, text, rendered))
        return shown

    def _unapproved(self, plan: Plan, step: Step, memory: Memory, now: str) -> str | None:
        """Why `step` may not run `now` (what it renders to as it starts): an approval gate
        before it was given for another command (a value it reads changed since)."""
        index = sched.plan_index(plan)
        said = self.redact(now)
        for i in index.incoming[step.id]:
            gate = index.steps[plan.edges[i].source]
            if gate.kind != StepKind.APPROVE or plan.edges[i].on != "success":
                continue
            answer = memory.view()["steps"].get(gate.id)
            approved = answer.get("approved") if isinstance(answer, Mapping) else None
            shown = approved.get(step.id) if isinstance(approved, Mapping) else None
            if isinstance(shown, str) and shown != said:
                return (f"refused: the approval '{gate.id}' was given for `{shown}`, and the "
                        f"step would now run `{said}`; a value it reads changed after the "
                        "approval")
        return None

    async def _whole_output(self, expr: str, view: Mapping[str, Any]) -> Mapping[str, Any]:
        """`view`, with the whole output of each step whose `stdout` or `lines` `expr` reads
        and memory keeps only the start of (its first 4,000 characters, 200 lines), or whose
        `stderr` it reads and memory keeps only the end of: "If the output contains `ERROR`"
        read only that start, and an ERROR past it was never seen ("otherwise, no action is
        needed"). The whole is the step's artifact; one cut at the capture cap is not the
        whole, and the condition cannot be decided on it."""
        try:
            reads = templating.references(expr, expression=True)
        except MendflowError:
            return view
        steps = view.get("steps")
        wanted = {(ref.split(".")[1], "stderr" if ref.split(".")[2] == "stderr" else "stdout")
                  for ref in reads if ref.count(".") >= 2 and ref.startswith("steps.") and
                  ref.split(".")[2] in ("stdout", "lines", "stderr")}
        if not wanted or not isinstance(steps, Mapping):
            return view
        whole: dict[str, Any] = {}
        for sid, stream in sorted(wanted):
            outputs = whole.get(sid) or steps.get(sid)
            if not isinstance(outputs, Mapping) or not _kept_in_part(outputs, stream):
                continue
            text = await self._stream_artifact(sid, outputs, stream)
            whole[sid] = {**outputs, "stderr": text} if stream == "stderr" else \
                {**outputs, "stdout": text, "lines": text.splitlines()}
        if not whole:
            return view
        return {**view, "steps": {**steps, **whole}}

    async def _stream_artifact(self, sid: str, outputs: Mapping[str, Any],
                               stream: str = "stdout") -> str:
        refs = outputs.get("artifacts")
        ref = refs.get(stream) if isinstance(refs, Mapping) else None
        data: bytes | None = None
        if isinstance(ref, Mapping):
            try:
                parsed = ArtifactRef.model_validate(dict(ref))
            except PydanticValidationError:
                parsed = None
            if parsed is not None and parsed.step_id == sid:
                data = await self.store.get_artifact(parsed)
        total = outputs.get(f"{stream}_bytes")
        if data is None or (outputs.get("truncated") and isinstance(total, int)
                            and total > len(data)):
            kept = f"the first {len(data):,} bytes" if data is not None else "its start"
            of = f" of {total:,}" if isinstance(total, int) else ""
            raise ConditionError(
                f"it reads the output of step '{sid}', of which only {kept}{of} were kept: "
                "the rest was never read", step=sid,
                hint="Narrow the command's output (grep, tail), or raise "
                     "MENDFLOW_OUTPUT_CAP_BYTES")
        return str(self.redact(data.decode("utf-8", errors="replace")))

    def _artifact_reader(self, run_id: str, results: Mapping[str, Any]
                         ) -> Callable[[str, str], Awaitable[bytes | None]]:
        """`ctx.read_artifact`: an artifact an earlier step of this run stored, found by the
        reference memory keeps for it (`steps.<id>.artifacts.<name>`); None when none."""

        async def read(step_id: str, name: str) -> bytes | None:
            outputs = results.get(step_id)
            refs = outputs.get("artifacts") if isinstance(outputs, Mapping) else None
            ref = refs.get(name) if isinstance(refs, Mapping) else None
            if not isinstance(ref, Mapping):
                return None
            try:
                parsed = ArtifactRef.model_validate(dict(ref))
            except PydanticValidationError:
                return None
            if parsed.run_id != run_id or parsed.step_id != step_id:
                return None  # only this run's own results, as memory recorded them
            return await self.store.get_artifact(parsed)

        return read

    def _limits(self, plugin: str, source: Mapping[str, Any] | None) -> tuple[Limit, ...]:
        """The limits a step of `plugin` against data source `source` is under: its plugin's
        (`plugin_concurrency`; unset: none of its own) and its data source's (`concurrency = 4`
        in its table of mendflow.toml)."""
        limits = []
        if self.settings.plugin_concurrency:
            limits.append(Limit(f"plugin:{plugin}", self.settings.plugin_concurrency))
        name = source.get("name") if source else None
        size = self.datasources.limit(name) if self.datasources is not None else None
        if size:
            limits.append(Limit(f"source:{name}", size))
        return tuple(limits)

    def _logger(self, plugin: str) -> RedactingLogger:
        """The logger a plugin's steps get (one per plugin: it holds nothing of a step)."""
        logger = self._loggers.get(plugin)
        if logger is None:
            logger = self._loggers[plugin] = RedactingLogger(
                logging.getLogger(f"mendflow.plugin.{plugin}"), self.secrets)
        return logger

    def _data_source(self, step: Step, params: Mapping[str, Any]) -> Mapping[str, Any] | None:
        if self.datasources is None or not step.plugin:
            return None
        name = params.get("source") if isinstance(params, Mapping) else None
        return self.datasources.resolve_for_plugin(name, step.plugin)


# -- helpers ---------------------------------------------------------------------------------

def _stopped_from_outside() -> bool:
    """Whether the task running this step was asked to stop (`Task.cancel`: its executor
    cancelled the step, the run, or the process is stopping), rather than a CancelledError
    raised from within the step's work."""
    task = asyncio.current_task()
    return task is None or task.cancelling() > 0


def _kept_in_part(outputs: Mapping[str, Any], stream: str = "stdout") -> bool:
    """Whether memory holds only part of a step's stdout (its start, or of its lines) or
    stderr (its end)."""
    if stream == "stderr":
        stderr, total = outputs.get("stderr"), outputs.get("stderr_bytes")
        return isinstance(stderr, str) and isinstance(total, int) and \
            total > len(stderr.encode())
    stdout, lines, count = outputs.get("stdout"), outputs.get("lines"), outputs.get("line_count")
    return isinstance(stdout, str) and (len(stdout) >= MAX_SUMMARY_CHARS or (
        isinstance(lines, list) and isinstance(count, int) and count > len(lines)))


def _conditional(plan: Plan, step: Step) -> bool:
    """Whether any edge out of `step` has a condition (only then is a view of memory read)."""
    return any(edge.condition is not None for _, edge in sched.plan_index(plan).outgoing[step.id])


def _templated(params: dict[str, Any]) -> bool:
    """Whether any string in a step's params is a template."""
    return any(templating.is_template(text) for text in templating.strings_in(params))


def _render_params(plugin_cls: type[Plugin], params: Mapping[str, Any],
                   view: Mapping[str, Any]) -> dict[str, Any]:
    """Render every template in a step's params, except those the plugin takes verbatim
    (`untemplated_params`, e.g. SQL text, whose values travel as bound parameters). A param
    the plugin guards (`template_guards`, e.g. a PromQL query) is rewritten by its guard
    first, so that every value in it is escaped for where it sits, whoever wrote the plan."""
    verbatim: Container[str] = plugin_cls.untemplated_params
    guards = plugin_cls.template_guards
    return {k: v if k in verbatim else templating.render_value(
                guards[k](v) if k in guards and isinstance(v, str) else v, view)
            for k, v in params.items()}


def _effect(plugin_cls: type[Plugin], step: Step, parsed: Any) -> effects.Verdict:
    """What the step will really do, by the read-only table, from its rendered parameters."""
    return effects.step_verdict(step.plugin, parsed.model_dump(),
                                declared_read_only=plugin_cls.read_only,
                                fields=plugin_cls.Params.model_fields.keys(),
                                plan_params=step.params)


def _describe(plugin: Plugin, parsed: Any, params: Mapping[str, Any]) -> str:
    try:
        return str(plugin.describe(params=parsed))
    except Exception:  # describing must never fail a step
        return f"{plugin.name} {dict(params)}"


def _evaluate_value(expr: str, scope: Mapping[str, Any], step: Step) -> Any:
    try:
        return templating.render("{{ " + expr + " }}", scope)
    except TemplateError as exc:
        raise StepFailed(f"cannot bind a value with {expr!r}: {exc.message}", retryable=False,
                         step=step.id) from None


def _decision_evidence(plan: Plan, step: Step, view: Mapping[str, Any],
                       outputs: Mapping[str, Any], *, limit: int = 2000) -> str:
    """What a person (or the judge) needs to answer a decision: what the steps it follows
    found (a decide step finds nothing itself), nearest first, each bounded; decide and
    approval steps on the way are looked through."""
    own = {k: v for k, v in outputs.items() if k not in ("granted", "by")}
    if own and step.kind != StepKind.DECIDE:
        return _evidence(own)
    index = sched.plan_index(plan)
    found: list[str] = []
    seen = {step.id}
    frontier = [step.id]
    steps_view = view.get("steps") or {}
    while frontier and sum(map(len, found)) < limit:
        nxt: list[str] = []
        for sid in frontier:
            for i in index.incoming[sid]:
                src = plan.edges[i].source
                if src in seen:
                    continue
                seen.add(src)
                out = steps_view.get(src)
                if index.steps[src].kind in (StepKind.DECIDE, StepKind.APPROVE) or not out:
                    nxt.append(src)
                    continue
                found.append(f"{src} ({index.steps[src].title}) found:\n{_evidence(out)}")
        frontier = nxt
    text = "\n\n".join(found) if found else "(no step before this question found anything)"
    return text[:limit]


def _evidence(outputs: Mapping[str, Any]) -> str:
    for key in ("stdout", "summary", "value"):
        if key in outputs and outputs[key] not in (None, ""):
            return str(outputs[key])[:2000]
    return str(dict(outputs))[:2000]


def _result(event: sched.Event) -> str:
    """A step event's result as a metric label: a few fixed words."""
    if isinstance(event, sched.StepSucceeded):
        return "succeeded"
    if isinstance(event, sched.StepTimedOut):
        return "timed_out"
    if isinstance(event, sched.Approval):
        return "granted" if event.granted else "denied"
    return "failed"


def _redact_bytes(redact: Redact, data: bytes) -> bytes:
    text = data.decode("utf-8", errors="surrogateescape")
    cleaned = redact(text)
    if cleaned == text:
        return data
    return str(cleaned).encode("utf-8", errors="surrogateescape")
