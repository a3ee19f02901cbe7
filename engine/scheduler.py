"""The pure scheduler: (plan, run state, event) -> (new run state, actions for the executor).

This module owns the rules of what may run when: join semantics (see `engine.plan`), skip
propagation, retries with deterministic backoff, failure and error paths, the end of a run,
cancellation and resumption after a crash. It does no I/O, reads no clock and draws no random
numbers (backoff jitter is a hash of the run seed); the executor (`engine.runtime`) does the
work and reports back with events, and the store persists `RunState.to_json_dict()`.

How the executor talks to it
----------------------------
- `apply(plan, state, Start())` starts a pending run; every later report is an event
  (`StepSucceeded`, `StepFailed`, `StepTimedOut`, `Approval`, `Cancel`).
- Each `StartStep(step, attempt, delay_s)` is already reflected in the returned state: the step
  is RUNNING with that attempt, or WAITING (a retry whose backoff `delay_s` has not elapsed).
  There is no "retry started" event: the next report for the pending attempt is accepted
  whether the step is WAITING or RUNNING.
- Reports for another attempt, for a step that is not RUNNING/WAITING, or for a finished run
  are ignored (same state, no actions), so at-least-once delivery is safe.
- `resume(plan, state)` re-issues the in-flight work after a crash. Before it, an executor
  asks `in_doubt_after_crash` which in-flight steps must not simply run again (a gated step
  whose effect may have happened, unless its plugin repeats it safely) and applies the
  `StepInDoubt` events it returns: such a step is IN_DOUBT, which is not in flight (nothing
  restarts it) yet keeps the run from ending, until a person's `InDoubtAnswer` re-runs it
  (a new attempt), or says it is done or failed.

Cost: an event costs O(degree of its step), not O(plan). A `PlanIndex` (incoming/outgoing
edges per step) is built once per plan and cached; `RunState.steps`/`.edges` are `FrozenMap`s,
persistent maps that share structure between versions, so an update copies one short path of
32-slot tuples (two for 1,000 steps) instead of the whole dict; `bench/bench_scheduler.py`
measures it. Each state also carries, off the record, per-step join counters
(undecided and taken incoming edges); a state read back from JSON rebuilds them once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from engine._frozenmap import FrozenMap
from engine.errors import ConditionError, InputError, PlanError, StoreError
from engine.plan import Edge, OnError, Outcome, Plan, Step, StepKind

STATE_VERSION = 2
"""Bump when a state written by this version cannot be read by the previous one.
2: a step may be `in_doubt`. A version-1 state is read as it is (it has no such step)."""

_READABLE_VERSIONS = (1, STATE_VERSION)

class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"  # a retry is scheduled; its backoff has not elapsed yet
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    # Was in flight when its runner or worker died; its effect may or may not have happened.
    # Not restarted: it waits for a person's InDoubtAnswer, and keeps the run from ending.
    IN_DOUBT = "in_doubt"


_IN_FLIGHT = (StepStatus.RUNNING, StepStatus.WAITING)
_ACTIVE = (*_IN_FLIGHT, StepStatus.IN_DOUBT)  # what keeps a running run from ending
_HEALTHY = (Outcome.NO_ACTION, Outcome.RESOLVED)  # endings that say all is well
_DONE_WELL = (*_HEALTHY, Outcome.MITIGATED)  # endings that say what was done worked

DRY_RUN = "dry run"
"""The note (and, for an approval or a person's step, who answered) of a step a dry run did
not run: a change, its approval, a person's action."""
_NOT_RUN = (DRY_RUN, f"approved by {DRY_RUN}")


@dataclass(frozen=True, slots=True)
class StepState:
    status: StepStatus = StepStatus.PENDING
    attempt: int = 0  # the attempt running, or about to run when WAITING; 0 before the first
    error: str | None = None
    note: str | None = None


_PENDING = StepState()
_STATUS_BY_TEXT = {status.value: status for status in StepStatus}
_TEXT_BY_STATUS = {status: status.value for status in StepStatus}

RunStatus = Literal["pending", "running", "succeeded", "failed", "cancelled"]


@dataclass(frozen=True, slots=True)
class _Joins:
    """Derived, never persisted: per-step (undecided, taken) incoming edges and steps in flight."""

    counts: FrozenMap[str, tuple[int, int]]
    active: int
    doubted: int = 0  # of the active steps, those IN_DOUBT


@dataclass(frozen=True)
class RunState:
    """One run's scheduling state. Plain dicts given for `steps`/`edges` become `FrozenMap`s."""

    status: RunStatus = "pending"
    seed: str = ""  # the run id; seeds backoff jitter
    outcome: str | None = None  # the Outcome of the end step reached
    end_step: str | None = None
    reason: str | None = None  # one sentence: why the run ended as it did
    steps: Mapping[str, StepState] = field(default_factory=FrozenMap)
    edges: Mapping[int, bool | None] = field(default_factory=FrozenMap)  # index in plan.edges
    # While the plan's clean-up steps run: the ending they are running for
    # (status, outcome, end_step, reason), which the run takes when the last one is done.
    closing: tuple[str, str | None, str | None, str | None] | None = None
    _joins: _Joins | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.steps, FrozenMap):
            object.__setattr__(self, "steps", FrozenMap(self.steps.items()))
        if not isinstance(self.edges, FrozenMap):
            object.__setattr__(self, "edges", FrozenMap(sorted(self.edges.items())))

    @property
    def finished(self) -> bool:
        return self.status in ("succeeded", "failed", "cancelled")

    def in_flight(self) -> list[tuple[str, StepState]]:
        """Steps RUNNING or WAITING, in plan order."""
        return [(sid, st) for sid, st in self.steps.items() if st.status in _IN_FLIGHT]

    def in_doubt(self) -> list[tuple[str, StepState]]:
        """Steps IN_DOUBT (waiting for a person to say re-run, done or failed), in plan order."""
        return [(sid, st) for sid, st in self.steps.items()
                if st.status == StepStatus.IN_DOUBT]

    def to_json_dict(self) -> dict[str, Any]:
        steps: dict[str, dict[str, Any]] = {}
        text = _TEXT_BY_STATUS
        for sid, st in self.steps.items():
            entry: dict[str, Any] = {"status": text[st.status], "attempt": st.attempt}
            if st.error is not None:
                entry["error"] = st.error
            if st.note is not None:
                entry["note"] = st.note
            steps[sid] = entry
        return {
            "version": STATE_VERSION, "status": self.status, "seed": self.seed,
            "outcome": self.outcome, "end_step": self.end_step, "reason": self.reason,
            "steps": steps, "edges": {str(i): v for i, v in self.edges.items()},
            "closing": list(self.closing) if self.closing is not None else None,
        }

    @classmethod
    def from_json_dict(cls, d: Mapping[str, Any]) -> RunState:
        """A state `to_json_dict` wrote; one that is not (a store edited by hand: an unknown
        status, a value of the wrong type) is a StoreError saying so."""
        try:
            return cls._from_json_dict(d)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            said = f"{type(exc).__name__}: {exc}".splitlines()[0]
            raise StoreError(f"a run state in the store cannot be read ({said})",
                             hint="Was the store edited by hand? Restore it from a backup") \
                from exc

    @classmethod
    def _from_json_dict(cls, d: Mapping[str, Any]) -> RunState:
        version = d.get("version", STATE_VERSION)
        if version not in _READABLE_VERSIONS:
            raise PlanError(f"run state has version {version!r}; this Mendflow reads "
                            f"{STATE_VERSION}", hint="Finish the run with the Mendflow that "
                            "started it")
        shared: dict[tuple[str, int], StepState] = {}  # most steps look alike: share them
        values: list[StepState] = []
        for entry in d.get("steps", {}).values():
            status, attempt = entry.get("status", "pending"), int(entry.get("attempt", 0))
            error, note = entry.get("error"), entry.get("note")
            if error is None and note is None:
                st = shared.get((status, attempt))
                if st is None:
                    st = shared[status, attempt] = StepState(_STATUS_BY_TEXT[status], attempt)
            else:
                st = StepState(_STATUS_BY_TEXT[status], attempt, error, note)
            values.append(st)
        steps = FrozenMap.from_lists(list(d.get("steps", {})), values)
        edge_items = sorted((int(i), v) for i, v in d.get("edges", {}).items())
        edges = FrozenMap.from_lists([i for i, _ in edge_items], [v for _, v in edge_items])
        closing = d.get("closing")
        return cls(status=d.get("status", "pending"), seed=d.get("seed", ""),
                   outcome=d.get("outcome"), end_step=d.get("end_step"),
                   reason=d.get("reason"), steps=steps, edges=edges,
                   closing=tuple(closing) if closing else None)


# -- events and actions ----------------------------------------------------------------------


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Start(_Message):
    type: Literal["start"] = "start"


class StepSucceeded(_Message):
    type: Literal["step_succeeded"] = "step_succeeded"
    step: str
    attempt: int
    branches: dict[int, bool] = Field(default_factory=dict,
                                      description="Value of every conditional outgoing edge.")
    note: str | None = None


class StepFailed(_Message):
    type: Literal["step_failed"] = "step_failed"
    step: str
    attempt: int
    error: str
    retryable: bool = True
    branches: dict[int, bool] = Field(default_factory=dict)


class StepTimedOut(_Message):
    """A retryable failure with the error 'timed out after N s'."""

    type: Literal["step_timed_out"] = "step_timed_out"
    step: str
    attempt: int
    timeout_s: float = 0
    branches: dict[int, bool] = Field(default_factory=dict)


class Approval(_Message):
    """The answer for an `approve` or `manual` step: granted succeeds, denied fails for good."""

    type: Literal["approval"] = "approval"
    step: str
    attempt: int
    granted: bool
    by: str = ""
    branches: dict[int, bool] = Field(default_factory=dict)


class Cancel(_Message):
    type: Literal["cancel"] = "cancel"
    reason: str = "cancelled by user"


class StepInDoubt(_Message):
    """The attempt was in flight when whatever ran it died, and must not simply run again:
    the step becomes IN_DOUBT until a person answers (`InDoubtAnswer`)."""

    type: Literal["step_in_doubt"] = "step_in_doubt"
    step: str
    attempt: int
    reason: str


InDoubtDecision = Literal["rerun", "done", "failed"]


class InDoubtAnswer(_Message):
    """A person's answer for an IN_DOUBT step: run it again (a new attempt), or take it as
    done or failed without running it. Its conditional edges are not taken on done/failed:
    what it would have found is unknown."""

    type: Literal["in_doubt_answer"] = "in_doubt_answer"
    step: str
    attempt: int
    decision: InDoubtDecision
    by: str = ""


Event = Annotated[Start | StepSucceeded | StepFailed | StepTimedOut | Approval | Cancel
                  | StepInDoubt | InDoubtAnswer, Field(discriminator="type")]
_EVENTS: TypeAdapter[Event] = TypeAdapter(Event)


def event_from_dict(d: Mapping[str, Any]) -> Event:
    """Read back an event persisted with `.model_dump()`."""
    return _EVENTS.validate_python(dict(d))


class StartStep(_Message):
    type: Literal["start_step"] = "start_step"
    step: str
    attempt: int
    delay_s: float = 0.0


class CancelStep(_Message):
    type: Literal["cancel_step"] = "cancel_step"
    step: str
    attempt: int


Action = Annotated[StartStep | CancelStep, Field(discriminator="type")]


# -- the plan index --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PlanIndex:
    """What `apply` needs to look up in O(1): steps, and edges in and out of each step."""

    steps: Mapping[str, Step]
    outgoing: Mapping[str, tuple[tuple[int, Edge], ...]]
    incoming: Mapping[str, tuple[int, ...]]
    targets: tuple[str, ...]  # the target of each edge, by index
    orphans: tuple[str, ...]  # steps other than the entry with no incoming edge: never reached
    cleanup: tuple[str, ...]  # the plan's clean-up steps, in order
    initial: RunState
    reads: Mapping[int, frozenset[str]]  # edge index -> steps its condition expression reads
    # (without testing their exit status); `reads_any`: every step it reads, status included
    reads_any: Mapping[int, frozenset[str]]

    @classmethod
    def build(cls, plan: Plan) -> PlanIndex:
        steps = {s.id: s for s in plan.steps}
        if plan.entry not in steps:
            raise PlanError(f"entry step '{plan.entry}' is not a step of the plan",
                            file=plan.source.path, hint="Recompile the guide")
        outgoing: dict[str, list[tuple[int, Edge]]] = {sid: [] for sid in steps}
        incoming: dict[str, list[int]] = {sid: [] for sid in steps}
        for i, edge in enumerate(plan.edges):
            for end in (edge.source, edge.target):
                if end not in steps:
                    raise PlanError(f"edge {i} ({edge.source} -> {edge.target}) names unknown "
                                    f"step '{end}'", file=plan.source.path,
                                    hint="Recompile the guide")
            outgoing[edge.source].append((i, edge))
            incoming[edge.target].append(i)
        counts = FrozenMap((sid, (len(incoming[sid]), 0)) for sid in steps)
        initial = RunState(
            steps=FrozenMap((sid, _PENDING) for sid in steps),
            edges=FrozenMap((i, None) for i in range(len(plan.edges))),
            _joins=_Joins(counts, 0),
        )
        return cls(
            steps=steps,
            outgoing={sid: tuple(out) for sid, out in outgoing.items()},
            incoming={sid: tuple(inc) for sid, inc in incoming.items()},
            targets=tuple(e.target for e in plan.edges),
            orphans=tuple(sid for sid in steps if not incoming[sid] and sid != plan.entry
                          and sid not in plan.cleanup),
            cleanup=tuple(sid for sid in plan.cleanup if sid in steps),
            initial=initial,
            reads=_condition_reads(plan, steps),
            reads_any=_condition_reads(plan, steps, status_too=True),
        )

    def joins_of(self, state: RunState) -> _Joins:
        """Rebuild the join counters of a state read back from JSON: O(plan), once."""
        if state._joins is not None:
            return state._joins
        undecided = dict.fromkeys(self.incoming, 0)
        taken = dict.fromkeys(self.incoming, 0)
        for i, value in state.edges.items():
            target = self.targets[i]
            if value is None:
                undecided[target] += 1
            elif value:
                taken[target] += 1
        counts = [(undecided[sid], taken[sid]) for sid in self.incoming]
        # RunState.__post_init__ keeps its steps and edges as FrozenMaps
        steps = cast("FrozenMap[str, StepState]", state.steps)
        statuses = [st.status for st in steps.values_in_order()]
        active = sum(1 for status in statuses if status in _ACTIVE)
        doubted = sum(1 for status in statuses if status == StepStatus.IN_DOUBT)
        return _Joins(FrozenMap.from_lists(list(self.incoming), counts), active, doubted)


_INDEX_CACHE: dict[int, tuple[Plan, PlanIndex]] = {}
_INDEX_CACHE_SIZE = 32


def _condition_reads(plan: Plan, steps: Mapping[str, Step], *, status_too: bool = False
                     ) -> dict[int, frozenset[str]]:
    """For each edge whose condition has an expression, the steps whose output it reads
    without testing their exit status (with `status_too`: every step it reads)."""
    from engine.templating import references  # pure: parses, never renders

    reads: dict[int, frozenset[str]] = {}
    for i, edge in enumerate(plan.edges):
        if edge.condition is None or edge.condition.expr is None:
            continue
        try:
            paths = references(edge.condition.expr, expression=True)
        except ConditionError:
            continue  # the step that decides it reports the syntax error
        read = {p.split(".")[1] for p in paths
                if p.startswith("steps.") and p.split(".")[1] in steps}
        # A condition that tests a step's exit status handles its failure itself
        # (`steps.x.exit_code == 0 and ...`): it is not misled by a failed step's output.
        handled = set() if status_too else {
            p.split(".")[1] for p in paths
            if p.count(".") >= 2 and p.split(".")[2] in _STATUS_FIELDS}
        if read - handled:
            reads[i] = frozenset(read - handled)
    return reads


_STATUS_FIELDS = frozenset({"exit_code", "pipestatus", "ok", "error", "failed"})


def plan_index(plan: Plan) -> PlanIndex:
    """The index of `plan`, built once and kept in a small cache (keyed by identity)."""
    hit = _INDEX_CACHE.get(id(plan))
    if hit is not None and hit[0] is plan:
        return hit[1]
    index = PlanIndex.build(plan)
    while len(_INDEX_CACHE) >= _INDEX_CACHE_SIZE:
        _INDEX_CACHE.pop(next(iter(_INDEX_CACHE)))
    _INDEX_CACHE[id(plan)] = (plan, index)
    return index


# -- the rules -------------------------------------------------------------------------------


def _is_evidence(step: Step) -> bool:
    """A step that finds something out (a read-only query, command or detector, or a decision
    over what they found): when it fails, the run cannot conclude; when a change fails, the
    run has failed."""
    if step.kind == StepKind.DECIDE:
        return True
    return step.kind in (StepKind.QUERY, StepKind.COMMAND, StepKind.DETECT) and \
        not step.mutating


def changes(plan: Plan, step: Step) -> bool:
    """Whether `step` changes the world (`_changes`): a change, or a call step whose linked
    guide holds one."""
    return _changes(plan, step)


def _finds_out(plan: Plan, step: Step) -> bool:
    """Whether `step` finds something out for a healthy ending to rest on: a check
    (`_is_evidence`), or a call step whose linked guide (and every guide it calls) changes
    nothing: a diagnosis written as its own guide. When such a call fails (its guide's check
    failed, so it concluded nothing), what it would have found is as missing as a failed
    check's; a caller that goes on past it must not conclude all is well."""
    return _is_evidence(step) or step.kind == StepKind.CALL and not _changes(plan, step) \
        and step.call in plan.calls


def _changes(plan: Plan, step: Step) -> bool:
    """Whether `step` changes the world: it is a change, or a call step whose linked guide (or
    a guide it calls) holds one."""
    if step.mutating:
        return True
    called = plan.calls.get(step.call or "") if step.kind == StepKind.CALL else None
    return called is not None and any(_changes(called, s) for s in called.steps)


CUT_OFF = "stopped while it ran: what it did is unknown"
"""The note of a change the run's ending stopped mid-way (the run cancelled, or ended on
another branch): cancelled, it did not simply not run; it may have acted, in part or in
whole (a worker's report of it, arriving after the ending, is ignored). The report says so,
not "cancelled" alone, which reads as not run."""


def acts_after_failure(plan: Plan, sid: str, branches: Mapping[int, bool]) -> str | None:
    """The first step that acts (a change, a call step whose linked guide holds one, or the
    approval gate before one) on the path that a final failure of `sid` (its conditions on
    the edges it takes decided as `branches` says) would take the run along; None when that
    path acts on nothing (an escalation, a read). A change whose effect is unknown (it timed
    out, or was cut off after it may have acted) must not be followed by another way of
    doing the same thing until a person says what the first did: both might have acted."""
    index = plan_index(plan)
    on = "success" if index.steps[sid].on_error == OnError.CONTINUE else "failure"
    todo = [e.target for i, e in index.outgoing[sid]
            if e.on == on and (e.condition is None or branches.get(i))]
    seen: set[str] = set()
    while todo:  # O(plan), only when a change's effect is unknown
        target = todo.pop(0)
        if target in seen:
            continue
        seen.add(target)
        step = index.steps[target]
        if step.kind == StepKind.APPROVE or _changes(plan, step):
            return target
        todo += [e.target for _, e in index.outgoing[target]]
    return None


def initial_state(plan: Plan, *, seed: str = "") -> RunState:
    init = plan_index(plan).initial
    return RunState(seed=seed, steps=init.steps, edges=init.edges, _joins=init._joins)


def apply(plan: Plan, state: RunState, event: Event, *,
          index: PlanIndex | None = None) -> tuple[RunState, list[StartStep | CancelStep]]:
    """Apply one event; return the new state and what the executor must start or cancel."""
    index = index or plan_index(plan)
    if state.finished:
        return state, []
    if isinstance(event, Start):
        if state.status != "pending":
            return state, []
        txn = _Txn(plan, index, state)
        txn.status = "running"
        txn.skip(index.orphans)
        txn.launch([plan.entry])
        return txn.commit()
    if isinstance(event, Cancel):
        if state.closing is not None:
            return state, []  # the clean-up is what a cancel waits for: it is not cancelled
        txn = _Txn(plan, index, state)
        txn.end("cancelled", event.reason)
        return txn.commit()

    sid = event.step
    if sid not in index.steps:
        raise InputError(f"event {event.type} names step '{sid}', which is not in plan "
                         f"'{plan.id}'", step=sid, hint="Resume the run with the plan it "
                         "was started with")
    current = state.steps[sid]
    if current.attempt != event.attempt:
        return state, []  # stale or duplicate: at-least-once delivery
    if isinstance(event, InDoubtAnswer):
        if current.status != StepStatus.IN_DOUBT:
            return state, []  # answered already, or never in doubt
        txn = _Txn(plan, index, state)
        txn.answered(sid, event)
        return txn.commit()
    if current.status not in _IN_FLIGHT:
        return state, []  # stale or duplicate: at-least-once delivery
    txn = _Txn(plan, index, state)
    if isinstance(event, StepInDoubt):
        txn.put(sid, StepState(StepStatus.IN_DOUBT, event.attempt, current.error, event.reason))
        return txn.commit()
    if sid in index.cleanup:
        ok = isinstance(event, StepSucceeded) or (isinstance(event, Approval) and event.granted)
        error = None if ok else getattr(event, "error", None) or (
            f"timed out after {event.timeout_s:g} s" if isinstance(event, StepTimedOut)
            else "denied")
        txn.cleaned(sid, event.attempt, error, getattr(event, "retryable", True))
        return txn.commit()
    if isinstance(event, StepSucceeded):
        txn.succeed(sid, event.attempt, event.branches, event.note)
    elif isinstance(event, StepFailed):
        txn.fail(sid, event.attempt, event.error, event.retryable, event.branches)
    elif isinstance(event, StepTimedOut):
        if index.steps[sid].mutating:  # it may have changed the world: its effect is unknown
            txn.fail(sid, event.attempt, f"timed out after {event.timeout_s:g} s; it changes "
                     "the world and may have done so, so it is not tried again by itself",
                     False, event.branches)
        else:
            txn.fail(sid, event.attempt, f"timed out after {event.timeout_s:g} s", True,
                     event.branches)
    elif isinstance(event, Approval):
        kind = index.steps[sid].kind
        if kind not in (StepKind.APPROVE, StepKind.MANUAL):
            raise InputError(f"an approval was given for step '{sid}', a {kind} step",
                             step=sid, hint="Only approve and manual steps take approvals")
        who = f" by {event.by}" if event.by else ""
        if event.granted:
            txn.succeed(sid, event.attempt, event.branches, f"approved{who}")
        else:
            txn.fail(sid, event.attempt, f"denied{who}", False, event.branches)
    else:  # pragma: no cover - the Event union is closed
        raise TypeError(f"unknown event {event!r}")
    return txn.commit()


def resume(plan: Plan, state: RunState) -> list[StartStep | CancelStep]:
    """After a crash: start again what was in flight, with the same attempt numbers."""
    if state.status != "running":
        return []
    actions: list[StartStep | CancelStep] = []
    for sid, st in state.in_flight():
        delay = 0.0
        if st.status == StepStatus.WAITING:
            delay = backoff_delay(plan, sid, st.attempt - 1, seed=state.seed)
        actions.append(StartStep(step=sid, attempt=st.attempt, delay_s=delay))
    return actions


def in_doubt_after_crash(plan: Plan, state: RunState, *, repeatable: Callable[[Step], bool],
                         reason: str) -> list[StepInDoubt]:
    """After a crash, before `resume`: the events that put in doubt every in-flight step that
    must not simply run again, i.e. those for which `repeatable(step)` is False (the executor
    says: a gated step whose plugin does not repeat its effect safely). A WAITING step counts
    too: its backoff may have elapsed and its attempt begun. `reason` (one sentence) becomes
    the step's note; "{step}" in it is replaced by the step's id."""
    if state.status != "running":
        return []
    steps = plan_index(plan).steps
    return [StepInDoubt(step=sid, attempt=st.attempt, reason=reason.replace("{step}", sid))
            for sid, st in state.in_flight() if not repeatable(steps[sid])]


def stalled_on_doubt(plan: Plan, state: RunState) -> bool:
    """Whether the run can go no further until a person answers for its steps in doubt: it
    is running, and every active step is in doubt. O(1) on a state `apply` returned."""
    if state.status != "running":
        return False
    joins = plan_index(plan).joins_of(state)
    return joins.doubted > 0 and joins.active == joins.doubted


def backoff_delay(plan: Plan, step_id: str, attempt: int, *, seed: str) -> float:
    """Seconds to wait after `attempt` (1-based) of `step_id` failed, before the next one.

    `backoff_s * 2**(attempt-1)`, capped at `max_backoff_s`; with `jitter`, scaled into
    [1/2, 1] of that by a hash of (seed, step, attempt): spread out, yet the same on replay.
    """
    retry = plan_index(plan).steps[step_id].retry
    base = min(retry.backoff_s * 2.0 ** (max(attempt, 1) - 1), retry.max_backoff_s)
    if not retry.jitter or base == 0:
        return base
    digest = hashlib.blake2b(f"{seed}\0{step_id}\0{attempt}".encode(), digest_size=8).digest()
    fraction = int.from_bytes(digest, "big") / 2.0**64
    return base * (0.5 + 0.5 * fraction)


def critical_path(plan: Plan, durations: Mapping[str, float]) -> tuple[list[str], float]:
    """The longest path from the entry, weighting each step by `durations` (missing: 0)."""
    index = plan_index(plan)
    indegree = {sid: len(inc) for sid, inc in index.incoming.items()}
    order: list[str] = [sid for sid, d in indegree.items() if d == 0]
    for sid in order:  # Kahn's algorithm; `order` grows while we walk it
        for _, edge in index.outgoing[sid]:
            indegree[edge.target] -= 1
            if indegree[edge.target] == 0:
                order.append(edge.target)
    if len(order) != len(index.steps):
        raise PlanError("the plan has a cycle; no critical path", file=plan.source.path,
                        hint="Run `mendflow validate` on the guide")
    best: dict[str, tuple[float, str | None]] = {plan.entry: (durations.get(plan.entry, 0.0),
                                                              None)}
    for sid in order:
        if sid not in best:
            continue  # not reachable from the entry
        total = best[sid][0]
        for _, edge in index.outgoing[sid]:
            candidate = total + durations.get(edge.target, 0.0)
            if edge.target not in best or candidate > best[edge.target][0]:
                best[edge.target] = (candidate, sid)
    # On ties prefer the step latest in topological order, so zero-length tails are included.
    last = max(reversed([s for s in order if s in best]), key=lambda s: best[s][0])
    path: list[str] = []
    node: str | None = last
    while node is not None:
        path.append(node)
        node = best[node][1]
    return path[::-1], best[last][0]


class _Txn:
    """The changes one event makes, applied to the persistent maps in one go at `commit`."""

    def __init__(self, plan: Plan, index: PlanIndex, state: RunState) -> None:
        self.plan, self.index, self.base = plan, index, state
        joins = index.joins_of(state)
        self.base_counts, self.active, self.doubted = joins.counts, joins.active, joins.doubted
        self.steps: dict[str, StepState] = {}
        self.edges: dict[int, bool] = {}
        self.counts: dict[str, tuple[int, int]] = {}
        self.status: RunStatus = state.status
        self.outcome, self.end_step, self.reason = state.outcome, state.end_step, state.reason
        self.closing = state.closing
        self.actions: list[StartStep | CancelStep] = []
        self.last: str | None = None  # the step whose report this is, for the reason

    def step(self, sid: str) -> StepState:
        st = self.steps.get(sid)
        return self.base.steps[sid] if st is None else st

    def put(self, sid: str, st: StepState) -> None:
        before = self.step(sid).status
        self.active += (st.status in _ACTIVE) - (before in _ACTIVE)
        self.doubted += (st.status == StepStatus.IN_DOUBT) - (before == StepStatus.IN_DOUBT)
        self.steps[sid] = st

    def answered(self, sid: str, answer: InDoubtAnswer) -> None:
        """A person's answer for an IN_DOUBT step (a clean-up step goes on with the clean-up)."""
        who = f" by {answer.by}" if answer.by else ""
        attempt = answer.attempt
        if answer.decision == "rerun":
            self.start(sid, attempt + 1, 0.0, note=f"run again as confirmed{who}")
            return
        unknown = {i: False for i, e in self.index.outgoing[sid] if e.condition is not None}
        if answer.decision == "done":
            if sid in self.index.cleanup:
                self.cleaned(sid, attempt, None, False)
            else:
                self.succeed(sid, attempt, unknown, f"taken as done{who}; not run again")
            return
        error = f"taken as failed{who}; its outcome was unknown"
        if sid in self.index.cleanup:
            self.cleaned(sid, attempt, error, False)
        else:
            self.fail(sid, attempt, error, False, unknown)

    # -- steps finishing ---------------------------------------------------------------------

    def succeed(self, sid: str, attempt: int, branches: Mapping[int, bool],
                note: str | None) -> None:
        self.last = sid
        self.put(sid, StepState(StepStatus.SUCCEEDED, attempt, None, note))
        unsound = self._reads_failed(sid, branches)
        if unsound:
            self.inconclusive(unsound)
            return
        self.launch(self.decide(sid, "success", branches))

    def _reads_failed(self, sid: str, branches: Mapping[int, bool]) -> str | None:
        """Why the conditions `sid` just decided cannot be trusted: one reads a step that
        failed (its output is an error, not evidence), or whose last attempt failed and which
        is being tried again on another branch (what it read is that failure, and what the
        retry finds is not known yet). None when they can."""
        for i, edge in self.index.outgoing[sid]:
            if i not in branches:
                continue
            # a step tried again: even its status is stale (the retry's is not known yet)
            for read in sorted(self.index.reads_any.get(i, ())):
                st = self.step(read)
                retrying = st.status in _IN_FLIGHT and st.error is not None
                failed = st.status == StepStatus.FAILED and read in self.index.reads.get(i, ())
                if failed or retrying:
                    why = f": {st.error}" if st.error else ""
                    text = edge.condition.text if edge.condition else ""
                    if retrying:
                        return (f"'{text}' ({sid}) reads step '{read}', whose last attempt "
                                f"failed{why} and which was still being tried again; nothing "
                                "can be concluded from it")
                    return (f"'{text}' ({sid}) reads step '{read}', which failed{why}; "
                            "nothing can be concluded from it")
        return None

    def inconclusive(self, reason: str) -> None:
        """End the run with the outcome `inconclusive`: the evidence a conclusion needs is
        missing, so no healthy (or any other) conclusion is drawn."""
        self.outcome = Outcome.INCONCLUSIVE.value
        self.end_step = None
        self.end("succeeded", f"inconclusive: {reason}")

    def fail(self, sid: str, attempt: int, error: str, retryable: bool,
             branches: Mapping[int, bool]) -> None:
        self.last = sid
        step = self.index.steps[sid]
        if retryable and attempt < step.retry.attempts:
            delay = backoff_delay(self.plan, sid, attempt, seed=self.base.seed)
            note = f"retry {attempt + 1} of {step.retry.attempts} after {delay:.3g} s"
            self.start(sid, attempt + 1, delay, error=error, note=note)
            return
        continued = step.on_error == OnError.CONTINUE
        undecided = self._undecided(sid, "success" if continued else "failure", branches)
        if undecided is not None:
            self.put(sid, StepState(StepStatus.FAILED, attempt, error, None))
            tries = f" after {attempt} attempts" if attempt > 1 else ""
            why = (f"step '{sid}' failed{tries}: {error}; where that leads ('{undecided}') "
                   "could not be decided")
            if _is_evidence(step):
                self.inconclusive(why)
            else:
                self.end("failed", why)
            return
        if continued:
            self.put(sid, StepState(StepStatus.FAILED, attempt, error, "continued (on_error)"))
            unsound = self._reads_failed(sid, branches)  # its own conditions read its failure
            if unsound:
                self.inconclusive(unsound)
                return
            self.launch(self.decide(sid, "success", branches))
            return
        self.put(sid, StepState(StepStatus.FAILED, attempt, error, None))
        ready = self.decide(sid, "failure", branches)
        if not any(self.edges.get(i) for i, _ in self.index.outgoing[sid]):
            tries = f" after {attempt} attempts" if attempt > 1 else ""
            if _is_evidence(step):
                self.inconclusive(f"step '{sid}' failed{tries}: {error}")
            else:
                self.end("failed", f"step '{sid}' failed{tries} and has no error path: {error}")
            return
        self.launch(ready)

    def _undecided(self, sid: str, on: str, branches: Mapping[int, bool]) -> str | None:
        """The text of a condition on `sid`'s `on` edges that has no value: the step's report
        could not decide it (a failure's conditions read output a failure does not have)."""
        for i, edge in self.index.outgoing[sid]:
            if edge.on == on and edge.condition is not None and i not in branches:
                return edge.condition.text
        return None

    def decide(self, sid: str, on: str, branches: Mapping[int, bool]) -> list[str]:
        """Decide `sid`'s outgoing edges as if it finished `on` success or failure; propagate
        skips iteratively. Returns the steps that became ready, in edge order."""
        ready: list[str] = []
        skipped: list[str] = []
        for i, edge in self.index.outgoing[sid]:
            if edge.on != on:
                taken = False
            elif edge.condition is None:
                taken = True
            elif i in branches:
                taken = bool(branches[i])
            else:
                step = self.index.steps[sid]
                raise ConditionError(
                    f"no value for the condition of edge {i} ({sid} -> {edge.target}: "
                    f"'{edge.condition.text}')", file=self.plan.source.path,
                    line=step.source.start, step=sid,
                    hint="The executor must pass every conditional outgoing edge in `branches`")
            self._settle(i, edge.target, taken, ready, skipped)
        self._propagate_skips(skipped, ready)
        return ready

    def skip(self, sids: Iterable[str]) -> None:
        skipped: list[str] = []
        for sid in sids:
            if self.step(sid).status == StepStatus.PENDING:
                self.put(sid, StepState(StepStatus.SKIPPED))
                skipped.append(sid)
        self._propagate_skips(skipped, [])

    def _propagate_skips(self, skipped: list[str], ready: list[str]) -> None:
        while skipped:  # a worklist, not recursion: 1,000-step chains skip fine
            sid = skipped.pop()
            for i, edge in self.index.outgoing[sid]:
                self._settle(i, edge.target, False, ready, skipped)

    def _settle(self, i: int, target: str, taken: bool, ready: list[str],
                skipped: list[str]) -> None:
        if i in self.edges or self.base.edges[i] is not None:
            return  # decided already (a duplicate report never gets this far; be safe anyway)
        self.edges[i] = taken
        counts = self.counts.get(target)
        undecided, n_taken = self.base_counts[target] if counts is None else counts
        undecided, n_taken = undecided - 1, n_taken + taken
        self.counts[target] = (undecided, n_taken)
        if undecided == 0 and self.step(target).status == StepStatus.PENDING:
            if n_taken:
                ready.append(target)
            else:
                self.put(target, StepState(StepStatus.SKIPPED))
                skipped.append(target)

    # -- steps starting, the run ending ------------------------------------------------------

    def launch(self, ready: list[str]) -> None:
        if self.status != "running":
            return
        for sid in ready:  # an end step wins over the other steps ready with it
            step = self.index.steps[sid]
            if step.kind == StepKind.END:
                self.put(sid, StepState(StepStatus.SUCCEEDED, 1, None, None))
                missing = self._evidence_lost(sid) if step.outcome in _HEALTHY else None
                if not missing and step.outcome in _DONE_WELL:
                    missing = self._not_done(sid) or self._change_cut_off()
                if missing:
                    self.inconclusive(f"reached end step '{sid}' ({step.title}), but {missing}")
                    return
                self.outcome = step.outcome.value if step.outcome else None
                self.end_step = sid
                outcome = f" with outcome '{self.outcome}'" if self.outcome else ""
                self.end("succeeded", f"reached end step '{sid}' ({step.title}){outcome}")
                return
        for sid in ready:
            self.start(sid, self.step(sid).attempt + 1, 0.0)

    def _evidence_lost(self, end: str) -> str | None:
        """Why a healthy ending (`end`) cannot be trusted: a check failed on the way and the
        run went on past it ("If this fails, skip to step 5"), so what it would have found is
        missing. A check whose failure leads straight to `end` is the guide's own conclusion
        ("If this fails, the feature is off: no action is needed"), and one the guide lets
        fail (`on_error: continue`: "this may fail; that is fine") was never evidence."""
        for sid in self.base.steps:  # O(plan), once per run
            st = self.step(sid)
            # a check on a parallel branch that failed and is being tried again: its evidence
            # so far is a failure, and the ending would cancel it
            retrying = st.status in _IN_FLIGHT and st.error is not None
            if st.status != StepStatus.FAILED and not retrying:
                continue
            step = self.index.steps[sid]
            if step.on_error == OnError.CONTINUE or not _finds_out(self.plan, step):
                continue
            if any(e.on == "failure" and e.target == end for _, e in self.index.outgoing[sid]):
                continue
            why = f" ({st.error})" if st.error else ""
            if retrying:
                return (f"step '{sid}' failed{why} and was still being tried again on another "
                        "branch; nothing healthy can be concluded")
            return (f"step '{sid}' failed{why} and the run went on without what it would have "
                    "found; nothing healthy can be concluded")
        return None

    def _not_done(self, end: str) -> str | None:
        """Why a good ending (`end`) cannot be trusted in a dry run: a step it did not run (a
        change, its approval, a person's action) came before it, and what the run concluded
        after it ("the errors stopped: resolved") rests on what that step would have done."""
        for notes in (_NOT_RUN[:1], _NOT_RUN[1:]):  # the change itself, else its approval
            for sid in self.base.steps:  # O(plan), once per run
                st = self.step(sid)
                if st.status == StepStatus.SUCCEEDED and st.note in notes:
                    step = self.index.steps[sid]
                    return (f"the dry run did not run step '{sid}' ({step.title}), and what "
                            "the run concluded after it rests on what it would have done")
        return None

    def _change_cut_off(self) -> str | None:
        """Why a good ending cannot be trusted: a change is still running on another branch
        (or waits to be tried again, or is in doubt), and the ending would cut it off, its
        effect unknown: what the run concluded does not account for what it did."""
        for sid in self.base.steps:  # O(plan), once per run
            st = self.step(sid)
            step = self.index.steps[sid]
            if st.status in _ACTIVE and _changes(self.plan, step) and \
                    sid not in self.index.cleanup:
                doing = "in doubt" if st.status == StepStatus.IN_DOUBT else "still running"
                return (f"change '{sid}' ({step.title}) was {doing} on another branch, and "
                        "the ending would cut it off: what it did is unknown")
        return None

    def start(self, sid: str, attempt: int, delay: float, *, error: str | None = None,
              note: str | None = None) -> None:
        status = StepStatus.WAITING if delay > 0 else StepStatus.RUNNING
        self.put(sid, StepState(status, attempt, error, note))
        self.actions.append(StartStep(step=sid, attempt=attempt, delay_s=delay))

    def end(self, status: RunStatus, reason: str) -> None:
        self.status, self.reason = status, reason
        if self.active:
            for sid, st in self.base.steps.items():  # O(plan), once per run
                st = self.steps.get(sid, st)
                if st.status in _ACTIVE:
                    note = reason
                    if st.status == StepStatus.RUNNING and sid not in self.index.cleanup and \
                            _changes(self.plan, self.index.steps[sid]):
                        note = f"{CUT_OFF}: {reason}"
                    self.put(sid, StepState(StepStatus.CANCELLED, st.attempt, st.error, note))
                    if st.status in _IN_FLIGHT:  # an IN_DOUBT step runs nowhere
                        self.actions.append(CancelStep(step=sid, attempt=st.attempt))
        if self.index.cleanup and self.closing is None:
            # Hold the ending; the clean-up runs first, whatever the ending is.
            self.closing = (self.status, self.outcome, self.end_step, self.reason)
            self.status = "running"
            self._next_cleanup()

    def cleaned(self, sid: str, attempt: int, error: str | None, retryable: bool) -> None:
        """A clean-up step finished: retry it within its budget, else go on to the next.

        Whatever the failure: clean-up is what leaves the world safe (stop the motion, open
        the gripper), written to be repeated, so it is tried until it works or its budget
        (`{#stop retries=5 backoff=2s}`) ends; a controller that froze may answer again."""
        self.last = sid
        step = self.index.steps[sid]
        if error is not None and attempt < step.retry.attempts:
            delay = backoff_delay(self.plan, sid, attempt, seed=self.base.seed)
            self.start(sid, attempt + 1, delay, error=error,
                       note=f"retry {attempt + 1} of {step.retry.attempts} after {delay:.3g} s")
            return
        status = StepStatus.SUCCEEDED if error is None else StepStatus.FAILED
        self.put(sid, StepState(status, attempt, error, "clean-up"))
        self._next_cleanup()

    def _next_cleanup(self) -> None:
        for sid in self.index.cleanup:
            if self.step(sid).status == StepStatus.PENDING:
                self.start(sid, 1, 0.0, note="clean-up")
                return
        assert self.closing is not None
        status, outcome, end_step, reason = self.closing
        failed = [sid for sid in self.index.cleanup
                  if self.step(sid).status == StepStatus.FAILED]
        if failed:
            # What the clean-up makes safe may not be: whatever the run concluded, it failed.
            last = self.step(failed[0])
            tries = f" after {last.attempt} tries" if last.attempt > 1 else ""
            self.status, self.outcome, self.end_step = "failed", None, None
            self.reason = (f"clean-up failed at {', '.join(failed)}{tries} ({last.error}): "
                           f"what it makes safe may NOT be safe; check it before anything "
                           f"else runs. Before the clean-up: {status}"
                           f"{f' ({outcome})' if outcome else ''}: {reason or ''}")
            return
        self.status, self.outcome, self.end_step = status, outcome, end_step  # type: ignore
        self.reason = (reason or "") + "; clean-up done"

    def commit(self) -> tuple[RunState, list[StartStep | CancelStep]]:
        if self.status == "running" and self.active == 0:
            after = f" after step '{self.last}' finished" if self.last else ""
            self.end("failed", f"no end step was reached: no step is left to run{after}")
        base = self.base
        # RunState.__post_init__ keeps its steps and edges as FrozenMaps
        steps = cast("FrozenMap[str, StepState]", base.steps)
        edges = cast("FrozenMap[int, bool | None]", base.edges)
        state = RunState(
            status=self.status, seed=base.seed, outcome=self.outcome, end_step=self.end_step,
            reason=self.reason, closing=self.closing, steps=steps.set_many(self.steps),
            edges=edges.set_many(self.edges),
            _joins=_Joins(self.base_counts.set_many(self.counts), self.active, self.doubted),
        )
        return state, self.actions
