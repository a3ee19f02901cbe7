"""Linked guides as child runs: what a `call` step does, on any executor.

A call step ("Follow [the etcd backup](etcd-backup.md)") runs the linked guide's plan, compiled
into the caller's (`Plan.calls`, `engine.compile.calls`), as a run of its own: its own record
in the store, naming the run and step that started it (`RunRecord.parent_run_id`,
`parent_step`), its own events, memory and lease. The process that runs the call step drives
the child to its end on a local executor (the driver it is given) and reports:

- outputs, at `steps.<call>`: `run_id`, `status`, `outcome`, `reason`, `findings` (what the
  child's steps found, one short line each, in the order they finished) and `vars` (what its
  steps bound), so conditions read `steps.<call>.outcome`;
- success when the child ends `resolved`, `mitigated` or `no_action`; a child that fails, is
  cancelled, stops interrupted or ends `escalate` / `inconclusive` fails the call step (its
  outputs still written): the caller's failure edges, or `on_error: continue`, decide what
  happens next, and with neither the caller fails too. Unless the guide branches on it: when
  a condition of the caller reads the call's `outcome` or `status` ("If the backup did not
  resolve (`steps.backup.outcome != "resolved"`)"), the call step succeeds when the child
  concluded (escalate included), and that condition decides. A child that concluded nothing
  (`inconclusive`, failed, cancelled) still fails the call step unless a condition names
  that ending (`steps.backup.outcome == "inconclusive"`) or is true for every ending but
  the healthy ones (`!= "resolved"`): "If the check escalated" is no question about a check
  whose evidence failed, and its other branch would go on, healthy, past that evidence.

The child's id is the caller's, the step's and, after the first, the attempt's
(`RUN.STEP`, `RUN.STEP.2`): a call step run again after its runner or worker died finds its
child. A finished child is not run again (its outcome is reported); an unfinished one is
resumed, never restarted, so none of its steps' effects repeats. A call step tried again after
its child ended badly (`retries=1`) starts the guide anew only when no earlier attempt's child
started a change: else it fails, saying which, and a person decides. If the dead process's lease on
the child has not lapsed yet (it died on another host), this waits for it.

On Celery the worker that executes the call step drives the child itself (no task per child
step): no worker slot waits on work that needs another slot, so a pool full of call steps
cannot deadlock. Its claim on the call step is renewed while it does (`engine.runtime.
distributed`). The child's inputs are the link's mapping (templates over the caller's memory,
rendered now) and the caller's alert; it runs with the caller's run options (policy, judge,
dry run) and the answers and approvals given for it (`CALL/STEP`, `engine.interaction`): what
was said of the caller's own steps answers none of the child's. When the caller's executor
cancels the call step (`STEP_CANCELLED`: the run was cancelled, or ended while the call ran),
the child is cancelled and its clean-up steps run; any other stop (Ctrl-C) leaves it
interrupted and resumable.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from engine import templating
from engine.errors import MendflowError, RunNotFound, StepFailed, TemplateError
from engine.interaction import addressed_to
from engine.plan import Outcome, Plan, Step
from engine.plugins import StepResult
from engine.runtime.driving import LEASE_TTL_S
from engine.runtime.memory import Memory
from engine.store.base import LeaseHeld, RunOptions, RunRecord, Store

FINE = frozenset({Outcome.RESOLVED, Outcome.MITIGATED, Outcome.NO_ACTION})
"""Child outcomes after which the call step succeeded."""

STEP_CANCELLED = "mendflow: the scheduler cancelled this step"
"""The message an executor cancels a step's task with when the run cancels the step (the run
was cancelled, or ended while the step ran): a child run the step drives is then cancelled,
its clean-up run. Any other cancellation (Ctrl-C, a lost lease) leaves the child interrupted,
resumable, as it leaves the caller."""

CANCEL_WAIT_S = 120.0
"""How long a cancelled call step waits for its child's cancel (its clean-up steps) to end."""

FINDINGS_KEPT = 20
FINDING_CHARS = 300


class ChildDriver(Protocol):
    """Drives one run to its end in this process (`engine.runtime.executor.LocalExecutor`)."""

    async def start(self, plan: Plan, *, guide_path: str, inputs: Mapping[str, str] | None = ...,
                    alert: Mapping[str, Any] | None = ..., options: RunOptions | None = ...,
                    run_id: str | None = ..., parent: tuple[str, str] | None = ...
                    ) -> RunRecord: ...

    async def resume(self, run_id: str) -> RunRecord: ...

    def cancel(self, reason: str = ...) -> bool: ...


def child_run_id(run_id: str, step_id: str, attempt: int) -> str:
    return f"{run_id}.{step_id}" if attempt <= 1 else f"{run_id}.{step_id}.{attempt}"


class ChildCalls:
    """What a `StepRunner` does with a call step: start or resume the child, report it."""

    def __init__(self, store: Store, driver: Callable[[str], ChildDriver], *,
                 lease_wait_s: float = 3 * LEASE_TTL_S) -> None:
        self.store = store
        self.driver = driver  # for the child of a call step (its id): answered as its own
        self.lease_wait_s = lease_wait_s

    async def run(self, plan: Plan, run_id: str, step: Step, attempt: int, memory: Memory,
                  *, dry_run: bool) -> StepResult:
        child_plan = plan.calls.get(step.call or "")
        if child_plan is None:
            raise StepFailed(f"the plan holds no compiled guide {step.call!r} for this call",
                             retryable=False, step=step.id,
                             hint="Recompile the calling guide with this Mendflow")
        child_id = child_run_id(run_id, step.id, attempt)
        try:
            record: RunRecord | None = await self.store.get_run(child_id)
        except RunNotFound:
            record = None
        if record is None:
            await self._no_change_made_before(plan, run_id, step, attempt)
            inputs = _inputs(step, memory)
            alert = memory.view().get("alert")
            guide = child_plan.source.path
            # the caller's policy, judge and the answers and approvals given for this call's
            # guide (`CALL/STEP`): a later `mendflow resume` of the child alone acts as its
            # caller would
            saved = (await self.store.get_run(run_id)).options
            options = saved.model_copy(update={
                "dry_run": dry_run, "replay": None,
                "answers": addressed_to(saved.answers, step.id),
                "approvals": tuple(addressed_to(dict.fromkeys(saved.approvals), step.id))})
            try:
                record = await self._drive(step.id, lambda d: d.start(
                    child_plan, guide_path=guide, inputs=inputs, alert=alert, options=options,
                    run_id=child_id, parent=(run_id, step.id)))
            except MendflowError as exc:
                if isinstance(exc, StepFailed):
                    raise
                raise StepFailed(f"the linked guide's run cannot start: {exc.message}",
                                 retryable=False, step=step.id, hint=exc.hint) from None
        elif record.status in ("running", "interrupted"):
            record = await self._drive(step.id, lambda d: d.resume(child_id))
        return await self._report(record, decided_by_guide=_decides(plan, step, record))

    async def _no_change_made_before(self, plan: Plan, run_id: str, step: Step,
                                     attempt: int) -> None:
        """A call step tried again starts its guide anew (`RUN.STEP.2`): refused when an
        earlier attempt's child (or a child of it) started a change, which would be made
        again; a person decides (retries=1 on "Follow [the flush](flush.md)" flushed twice)."""
        for earlier in range(1, attempt):
            changed = await self._change_started(plan.calls.get(step.call or ""),
                                                 child_run_id(run_id, step.id, earlier))
            if changed is not None:
                raise StepFailed(
                    f"the linked guide's run {changed[0]} started a change ({changed[1]}) "
                    f"before it ended: it is not run again by itself, its changes would be "
                    f"made twice", retryable=False, step=step.id,
                    hint=f"See what it did (`mendflow show {changed[0]}`), then run the "
                         f"linked guide yourself if it should run again")

    async def _change_started(self, plan: Plan | None, run_id: str
                              ) -> tuple[str, str] | None:
        """(run id, step id) of a mutating step `run_id` (or a child run of it) started."""
        if plan is None:
            return None
        try:
            events = await self.store.events(run_id)
        except RunNotFound:  # that attempt never started its child
            return None
        mutating = {s.id for s in plan.steps if s.mutating}
        started = next((ev.step_id for ev in events
                        if ev.type == "step_started" and ev.step_id in mutating), None)
        if started is not None:
            return run_id, started
        for child in await self.store.child_runs(run_id):
            found = await self._change_started(plan.calls.get(
                _called(plan, child.parent_step or "")), child.run_id)
            if found is not None:
                return found
        return None

    async def _drive(self, call: str, go: Callable[[ChildDriver], Awaitable[RunRecord]]
                     ) -> RunRecord:
        """Drive the child of call step `call`; while a dead driver's lease on it has not
        lapsed, wait for it."""
        deadline = time.monotonic() + self.lease_wait_s
        while True:
            driver = self.driver(call)
            task = asyncio.ensure_future(go(driver))
            try:
                return await asyncio.shield(task)
            except LeaseHeld:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(min(1.0, LEASE_TTL_S / 10))
            except asyncio.CancelledError as exc:
                await _stop(task, driver, cancel=STEP_CANCELLED in exc.args)
                raise

    async def _report(self, record: RunRecord, *, decided_by_guide: bool) -> StepResult:
        findings = await self._findings(record)
        bound = {e.key.split(".", 1)[1]: e.value for e in await self.store.memory(record.run_id)
                 if e.key.startswith("vars.")}
        outputs = {"run_id": record.run_id, "status": record.status, "outcome": record.outcome,
                   "reason": record.reason or "", "findings": findings, "vars": bound}
        ended = record.outcome or record.status
        summary = f"child run {record.run_id} ({record.title}): {ended}"
        if record.status == "succeeded" and record.outcome in FINE or decided_by_guide:
            return StepResult(outputs=outputs, summary=summary)
        why = f"the linked guide's run {record.run_id} ended {ended}"
        if record.reason:
            why += f": {record.reason}"
        # Stopped for a person (a change of it in doubt): what it did is not known yet, as
        # of a change cut off; its caller does not take its error path unasked either.
        return StepResult(ok=False, outputs=outputs, summary=summary, error=why,
                          effect_unknown=record.status == "interrupted")

    async def _findings(self, record: RunRecord) -> list[dict[str, str]]:
        """What each of the child's steps found, as its last report said, in finishing order."""
        said: dict[str, str] = {}
        for ev in await self.store.events(record.run_id):
            summary = ev.data.get("summary")
            if ev.step_id and isinstance(summary, str) and summary:
                said.pop(ev.step_id, None)
                said[ev.step_id] = summary[:FINDING_CHARS]
        kept = list(said.items())[-FINDINGS_KEPT:]
        return [{"step": sid, "summary": text} for sid, text in kept]


async def _stop(task: asyncio.Future[RunRecord], driver: ChildDriver, *, cancel: bool) -> None:
    """The call step was cancelled: cancel the child (its clean-up runs, it ends `cancelled`)
    when the run cancelled the step, else stop it at once (it stays resumable)."""
    if task.done():
        return
    if cancel and driver.cancel("the run that called it cancelled the call"):
        try:
            await asyncio.wait_for(asyncio.shield(task), CANCEL_WAIT_S)
            return
        except (asyncio.CancelledError, TimeoutError):
            pass  # stopped again, or the clean-up hangs: stop it at once
        except Exception:  # noqa: BLE001 - its own failure is in its record
            return
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _decides(plan: Plan, step: Step, record: RunRecord) -> bool:
    """Whether the caller's own conditions decide what follows the child's end: they read
    how it ended, and it concluded (`resolved`, `mitigated`, `no_action`, `escalate`) or a
    condition names the ending it had. A child that concluded nothing (`inconclusive`: its
    evidence failed; failed, cancelled) is no answer to "did it escalate?": the guide asked
    about the endings it knew, and taking the other branch would go on, healthy, past the
    evidence that failed."""
    conditions = _branches_on(plan, step)
    if not conditions:
        return False
    if record.status == "succeeded" and record.outcome in CONCLUDED:
        return True
    ended = record.outcome or record.status
    named = re.compile(rf"""["']{re.escape(ended)}["']""")
    return any(named.search(expr) or _not_healthy(expr) for expr in conditions)


_LITERAL = re.compile(r"""["']([^"']*)["']""")


def _not_healthy(expr: str) -> bool:
    """`steps.backup.outcome != "resolved"`, `... not in ["resolved", "mitigated"]`: a
    condition true for every ending but healthy ones, so the guide's branch for them is taken
    by an ending that concluded nothing too."""
    said = _LITERAL.findall(expr)
    return ("!=" in expr or " not in " in expr) and bool(said) and \
        all(word in FINE for word in said)


CONCLUDED = FINE | {Outcome.ESCALATE}
"""Child outcomes a caller's condition on them can decide on."""


def _branches_on(plan: Plan, step: Step) -> list[str]:
    """The conditions anywhere in the plan that read how the call's child run ended."""
    wanted = {f"steps.{step.id}.outcome", f"steps.{step.id}.status"}
    found = []
    for edge in plan.edges:
        expr = edge.condition.expr if edge.condition else None
        if expr and f"steps.{step.id}" in expr:
            try:
                if wanted & templating.references(expr, expression=True):
                    found.append(expr)
            except MendflowError:
                continue
    return found


def _inputs(step: Step, memory: Memory) -> dict[str, str]:
    """The link's input mapping, each template rendered over the caller's memory."""
    mapping = step.params.get("inputs") or {}
    if not isinstance(mapping, Mapping):
        raise StepFailed("the call step's inputs are not a mapping", retryable=False,
                         step=step.id, hint="Recompile the calling guide")
    view = memory.view()
    out: dict[str, str] = {}
    for name, template in mapping.items():
        try:
            value = templating.render(str(template), view)
        except TemplateError as exc:
            raise StepFailed(f"cannot render the linked guide's input {name!r}: {exc.message}",
                             retryable=False, step=step.id, hint=exc.hint) from None
        out[str(name)] = str(value)
    return out


def _called(plan: Plan, step_id: str) -> str:
    """The guide a call step of `plan` links to ("" when `step_id` is none of its calls)."""
    step = next((s for s in plan.steps if s.id == step_id), None)
    return (step.call or "") if step is not None else ""
