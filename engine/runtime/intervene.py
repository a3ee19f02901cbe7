"""Replay a run from one of its steps with an intervention, and say whether the outcome
changed (`mendflow replay`, `POST /api/v1/runs/{id}/replay`): intervention-driven debugging,
a verdict rather than a guess.

A replay is a new run of the same plan (or of an edited guide's) that starts from the
recorded memory of the run it replays as it was just before the step it replays from:

- the steps that had finished before that step started (and are not downstream of it) are
  not run again: each is served from the record (its outputs, bindings and ending, its
  judgments and approvals as recorded; conditions with an expression decided again on the
  replay's memory, which the intervention may have changed) and marked `reused` in its
  event. Not reused: a step the edited guide changed, and an approval or manual step that
  gates a step that is not reused (a change is never made on an old approval);
- the step replayed from, and every step after it, really runs, under the same rules as any
  run (a mutating step needs its approval); with `from_record`, a read-only step whose
  parameters render exactly as they did in the record is served from it instead;
- the intervention: inputs set anew (`inputs.X=V`, typed and checked as `mendflow run
  --input` checks them, since the run's context is built the same way), a step's outputs
  set (`steps.S.output=@FILE`: S is served with them, not run), an edited guide.

The serving happens in the step runner (`StepRunner.replay`, set by both executors from the
run's `RunOptions.replay`), so a replay runs on the local executor and on Celery workers
alike. When the replay ends, `conclude` compares it with the run it replays and stores the
`Verdict` as a note (`replay_verdict`) on both: the outcome before and after, and the first
step (in the guide's order) whose result differs, and how.

Not the scheduler-state replay of `engine.runtime.replay`, which rebuilds one run's state.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from engine import files, values
from engine import scheduler as sched
from engine.errors import InputError, TemplateError
from engine.plan import Edge, Plan, Step, StepKind
from engine.runtime.memory import MAX_VALUE_BYTES, Memory, build_context
from engine.runtime.replay import check_memory
from engine.runtime.replay import replay as replay_state
from engine.runtime.steps import StepReport, StepRunner, _render_params
from engine.store.base import (
    EventRecord,
    MemoryEntry,
    ReplayOf,
    RunRecord,
    Store,
)

FINISH_EVENTS = frozenset({"step_succeeded", "step_failed", "step_timed_out", "approval"})
VERDICT_NOTE = "replay_verdict"
"""The type of the note that holds a replay's verdict, on the replay and on the run replayed."""

SET_HINT = "Write --set inputs.NAME=VALUE or --set steps.STEP.output=@FILE (a JSON object)"
_COMPARED = ("kind", "plugin", "params", "binds", "mutating", "call", "on_error")
"""What of a step an edited guide must leave as it was for its recorded result to be reused."""


# -- the intervention ----------------------------------------------------------------------


@dataclass(frozen=True)
class Sets:
    """What `--set` changes: inputs (raw text, checked when the run's context is built) and
    the outputs of steps."""

    inputs: dict[str, str]
    outputs: dict[str, dict[str, Any]]


def parse_sets(pairs: Sequence[str], *, base: Path | None = None,
               files: bool = True) -> Sets:
    """`inputs.NAME=VALUE` and `steps.STEP.output=@FILE` (or an inline JSON object), each a
    one-line InputError when malformed. Values are data: nothing here is run or rendered.
    `files=False` (the API): a step's outputs are given inline, no file is read."""
    inputs: dict[str, str] = {}
    outputs: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        target, sep, value = pair.partition("=")
        target = target.strip()
        if not sep or not target:
            raise InputError(f"bad --set {values.shown(pair)}", hint=SET_HINT)
        parts = target.split(".")
        if len(parts) == 2 and parts[0] == "inputs" and parts[1]:
            if parts[1] in inputs:
                raise InputError(f"--set {values.shown(target)} given twice", hint=SET_HINT)
            inputs[parts[1]] = value
        elif len(parts) == 3 and parts[0] == "steps" and parts[2] == "output" and parts[1]:
            if parts[1] in outputs:
                raise InputError(f"--set {values.shown(target)} given twice", hint=SET_HINT)
            if value.startswith("@") and not files:
                raise InputError(f"--set {values.shown(target)}: no file is read here",
                                 hint="Give the step's outputs as a JSON object")
            outputs[parts[1]] = _outputs(target, value, base)
        else:
            raise InputError(f"--set can change inputs.NAME or steps.STEP.output, not "
                             f"{values.shown(target)}", hint=SET_HINT)
    return Sets(inputs, outputs)


def _outputs(target: str, value: str, base: Path | None) -> dict[str, Any]:
    where = f"--set {target}"
    if value.startswith("@"):
        path = Path(value[1:])
        if base is not None and not path.is_absolute():
            path = base / path
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise InputError(f"{where}: cannot read {values.shown(value[1:])}: "
                             f"{exc.strerror or exc}", hint=SET_HINT) from None
        where += f" ({values.shown(value[1:])})"
    else:
        raw = value.encode("utf-8", errors="surrogateescape")
    if len(raw) > MAX_VALUE_BYTES:
        raise InputError(f"{where}: {len(raw)} bytes, more than {MAX_VALUE_BYTES}",
                         hint="Set a step's outputs to what memory would hold of them")
    try:
        data = files.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{where}: not UTF-8", hint=SET_HINT) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: not JSON ({exc.msg}, line {exc.lineno})",
                         hint=SET_HINT) from None
    if not isinstance(data, dict):
        raise InputError(f"{where}: a step's outputs are a JSON object, not a "
                         f"{type(data).__name__}", hint=SET_HINT)
    return data


# -- what was recorded ------------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    """How a step of a run last ended: its event and row, its outputs, and when its attempt
    was started and finished (event seqs)."""

    step_id: str
    attempt: int
    event: sched.Event
    summary: str
    outputs: dict[str, Any] | None
    started_seq: int
    finished_seq: int

    @property
    def ok(self) -> bool:
        return isinstance(self.event, sched.StepSucceeded) or (
            isinstance(self.event, sched.Approval) and self.event.granted)

    @property
    def error(self) -> str | None:
        if isinstance(self.event, sched.StepFailed):
            return self.event.error
        if isinstance(self.event, sched.StepTimedOut):
            return f"timed out after {self.event.timeout_s:g} s"
        if isinstance(self.event, sched.Approval) and not self.event.granted:
            return f"denied by {self.event.by}" if self.event.by else "denied"
        return None


def recorded(events: Sequence[EventRecord], memory: Sequence[MemoryEntry],
             before: int | None = None) -> dict[str, Recorded]:
    """How each step last ended (before event seq `before`, when given), in finishing order."""
    started: dict[tuple[str, int], int] = {}
    last: dict[str, EventRecord] = {}
    for ev in events:
        if before is not None and ev.seq >= before:
            break
        if not ev.step_id or ev.attempt is None:
            continue
        if ev.type == "step_started":
            started.setdefault((ev.step_id, ev.attempt), ev.seq)
        elif ev.type in FINISH_EVENTS and isinstance(ev.data.get("event"), dict):
            last.pop(ev.step_id, None)
            last[ev.step_id] = ev
    written: dict[tuple[str, int], Any] = {}
    for entry in memory:  # oldest first: the last write of an attempt wins
        if entry.key == f"steps.{entry.step_id}":
            written[(entry.step_id, entry.attempt)] = entry.value
    out: dict[str, Recorded] = {}
    for sid, ev in last.items():
        attempt = int(ev.attempt or 0)
        value = written.get((sid, attempt))
        out[sid] = Recorded(
            step_id=sid, attempt=attempt, event=sched.event_from_dict(ev.data["event"]),
            summary=str(ev.data.get("summary") or ""),
            outputs=dict(value) if isinstance(value, Mapping) else None,
            started_seq=started.get((sid, attempt), 0), finished_seq=ev.seq)
    return out


def downstream(plan: Plan, step_id: str) -> set[str]:
    """Every step reachable from `step_id` by the plan's edges (itself excluded)."""
    out: set[str] = set()
    todo = [step_id]
    while todo:
        sid = todo.pop()
        for edge in plan.edges:
            if edge.source == sid and edge.target not in out and edge.target != step_id:
                out.add(edge.target)
                todo.append(edge.target)
    return out


def _same(a: Step, b: Step) -> bool:
    return all(getattr(a, name, None) == getattr(b, name, None) for name in _COMPARED)


def _edge_key(plan: Plan, edge: Edge) -> tuple[str, str, str, str]:
    return (edge.source, edge.target, edge.on, edge.condition.text if edge.condition else "")


# -- preparing a replay -----------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """A replay ready to start: the run replayed, the plan to run, its inputs and alert, and
    what is served from the record (`replay`, saved with the new run's options)."""

    original: RunRecord
    plan: Plan
    guide_path: str
    inputs: dict[str, str]
    alert: dict[str, Any] | None
    replay: ReplayOf
    again: tuple[str, ...]  # finished before the step, yet run again (changed, or a gate)

    def describe(self) -> list[str]:
        r = self.replay
        lines = [f"replay of run {r.run_id} from step {r.from_step}"
                 + (" (read-only steps served from the record when unchanged)"
                    if r.from_record else "")]
        lines.append("reused (not run again): " + (", ".join(r.reuse) or "none"))
        if self.again:
            lines.append("run again (changed by the guide, or a gate of a step that runs): "
                         + ", ".join(self.again))
        lines.append("intervention: " + ("; ".join(r.interventions) or "none"))
        return lines


def _as_given(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


async def prepare(store: Store, run_id: str, *, from_step: str, sets: Sets,
                  plan: Plan | None = None, guide_path: str | None = None,
                  from_record: bool = False,
                  redact: Callable[[Any], Any] = lambda v: v) -> Prepared:
    """Check the replay asked for and work out what it reuses; InputError (one line) for
    anything wrong with it, before anything is created or run."""
    original = await store.get_run(run_id)
    if original.status == "running":
        raise InputError(f"run {run_id} is still running",
                         hint="Replay a run that ended (or was interrupted); wait for it, or "
                              "cancel it")
    old_plan = await store.load_plan(original.plan_hash)
    new_plan = plan or old_plan
    events = await store.events(run_id)
    memory = await store.memory(run_id)
    # A replay reuses what the history says finished, and runs the rest again: a history
    # whose events lost a step's finish (its result still in memory) would make a finished
    # change run again. Read whole, every event from the first, as `resume` reads its tail.
    check_memory(original, replay_state(old_plan, original.model_copy(
        update={"state": sched.initial_state(old_plan, seed=run_id).to_json_dict()}), events),
        memory)
    ran = [sid for sid in dict.fromkeys(ev.step_id for ev in events
                                        if ev.type == "step_started" and ev.step_id)]
    if from_step not in ran:
        raise InputError(f"step {values.shown(from_step)} never ran in run {run_id}",
                         hint="Replay from a step it ran: " + (", ".join(ran) or "none"))
    new_steps = {s.id: s for s in new_plan.steps}
    if from_step not in new_steps:
        raise InputError(f"the edited guide has no step {values.shown(from_step)}",
                         hint="Keep the step's id ({#id}) in the edited guide")
    for sid in sets.outputs:
        if sid not in new_steps:
            raise InputError(f"--set steps.{values.shown(sid)}.output: plan {new_plan.id} has "
                             "no such step", hint="Steps: " + ", ".join(sorted(new_steps)))
    start = next(ev.seq for ev in events
                 if ev.type == "step_started" and ev.step_id == from_step)
    # The run as it was just before the step started: which steps had ended by then.
    before = replay_state(old_plan, original.model_copy(
        update={"state": sched.initial_state(old_plan, seed=run_id).to_json_dict()}),
        [ev for ev in events if ev.seq < start])
    ended = [sid for sid in recorded(events, memory, before=start)
             if before.steps[sid].status in (sched.StepStatus.SUCCEEDED,
                                             sched.StepStatus.FAILED)]
    after = downstream(new_plan, from_step) | {from_step}
    old_steps = {s.id: s for s in old_plan.steps}
    reuse = [sid for sid in ended if sid in new_steps and sid not in after
             and sid not in sets.outputs and _same(old_steps[sid], new_steps[sid])]
    gates = (StepKind.APPROVE, StepKind.MANUAL)
    reuse = [sid for sid in reuse if new_steps[sid].kind not in gates or all(
        e.target in reuse for e in new_plan.edges if e.source == sid and e.on == "success")]
    again = tuple(sid for sid in ended
                  if sid in new_steps and sid not in after and sid not in reuse
                  and sid not in sets.outputs)
    # The inputs: as the run had them, then as set; checked as `mendflow run --input` does.
    given = {k: v for k, v in ((k, _as_given(v)) for k, v in
                               dict(original.context.get("inputs") or {}).items())
             if v is not None and k in {spec.name for spec in new_plan.inputs}}
    given.update(sets.inputs)
    alert = original.context.get("alert") or None
    try:
        build_context(new_plan, run_id=f"{run_id}-replay", inputs=given, alert=alert)
    except InputError as exc:
        for name in sets.inputs:  # say which flag gave the value
            exc.message = exc.message.replace(f"(from --input {name})",
                                              f"(from --set inputs.{name})")
        raise
    told = [f"inputs.{k}={values.shown(redact(v))}" for k, v in sets.inputs.items()]
    told += [f"steps.{s}.output set ({len(o)} key{'s' if len(o) != 1 else ''})"
             for s, o in sets.outputs.items()]
    if plan is not None:
        told.append(f"guide edited ({guide_path or plan.source.path})")
    replay = ReplayOf(run_id=run_id, from_step=from_step, reuse=tuple(reuse),
                      outputs=redact(sets.outputs), from_record=from_record,
                      interventions=tuple(told))
    return Prepared(original=original, plan=new_plan,
                    guide_path=guide_path or original.guide_path, inputs=given,
                    alert=dict(alert) if alert else None, replay=replay, again=again)


# -- serving steps from the record (the step runner asks) ------------------------------------


class RecordServer:
    """What a replay's step runner serves instead of running (`StepRunner.replay`)."""

    def __init__(self, replay: ReplayOf, original: RunRecord, plan: Plan,
                 events: Sequence[EventRecord], memory: Sequence[MemoryEntry]) -> None:
        self.of = replay
        self.original = original
        self.plan = plan
        self.memory = list(memory)
        self.recorded = recorded(events, memory)
        self._finished: dict[tuple[str, int], int] = {
            (r.step_id, r.attempt): r.finished_seq for r in self.recorded.values()}
        for ev in events:
            if ev.type in FINISH_EVENTS and ev.step_id and ev.attempt is not None:
                self._finished.setdefault((ev.step_id, ev.attempt), ev.seq)

    @classmethod
    async def load(cls, store: Store, replay: ReplayOf) -> RecordServer:
        original = await store.get_run(replay.run_id)
        return cls(replay, original, await store.load_plan(original.plan_hash),
                   await store.events(replay.run_id), await store.memory(replay.run_id))

    async def serve(self, runner: StepRunner, plan: Plan, step: Step, attempt: int,
                    memory: Memory) -> StepReport | None:
        sid = step.id
        if sid in self.of.outputs:
            return await runner.served(
                plan, step, attempt, memory, outputs=self.of.outputs[sid], ok=True,
                error=None, approval_by=None, judged=lambda edge: None,
                summary=f"outputs set by the intervention (replay of {self.of.run_id})",
                note=f"outputs set by the intervention (replay of {self.of.run_id})",
                data={"replayed": {"how": "set", "run": self.of.run_id}})
        rec = self.recorded.get(sid)
        if rec is None:
            return None
        if sid in self.of.reuse:
            how = "reused"
        elif self.of.from_record and self._unchanged(runner, step, memory, rec):
            how = "from_record"
        else:
            return None
        judged = self._judgments(rec)
        approval = rec.event.by if isinstance(rec.event, sched.Approval) else None
        return await runner.served(
            plan, step, attempt, memory, outputs=rec.outputs or {}, ok=rec.ok,
            error=rec.error, approval_by=approval,
            judged=lambda edge: judged.get(_edge_key(plan, edge)),
            summary=rec.summary, note=f"{how} from run {self.of.run_id}",
            data={"replayed": {"how": how, "run": self.of.run_id, "attempt": rec.attempt}})

    def _judgments(self, rec: Recorded) -> dict[tuple[str, str, str, str], bool]:
        """The recorded decision of each conditional edge out of the step, by what the edge
        is (an edited guide numbers its edges anew)."""
        branches: Mapping[int, bool] = getattr(rec.event, "branches", {}) or {}
        edges = self.plan.edges
        return {_edge_key(self.plan, edges[i]): bool(v) for i, v in branches.items()
                if 0 <= i < len(edges)}

    def _unchanged(self, runner: StepRunner, step: Step, memory: Memory,
                   rec: Recorded) -> bool:
        """A read-only plugin step whose parameters render now exactly as they rendered
        when the recorded attempt started."""
        if step.mutating or not step.plugin or step.kind not in (
                StepKind.QUERY, StepKind.COMMAND, StepKind.DETECT):
            return False
        old = next((s for s in self.plan.steps if s.id == step.id), None)
        if old is None or old.plugin != step.plugin or not rec.started_seq:
            return False
        then = Memory.restore(self.original.context, [
            e for e in self.memory
            if self._finished.get((e.step_id, e.attempt), rec.started_seq) < rec.started_seq])
        try:
            plugin_cls = runner.registry.get(step.plugin)
            return bool(_render_params(plugin_cls, old.params, then.view())
                        == _render_params(plugin_cls, step.params, memory.view()))
        except (TemplateError, InputError):
            return False


async def server_for(store: Store, record: RunRecord) -> RecordServer | None:
    """The record server of a replay run; None for any other run."""
    if record.options.replay is None:
        return None
    return await RecordServer.load(store, record.options.replay)


# -- the verdict ------------------------------------------------------------------------------


class Verdict(BaseModel):
    """Whether the intervention changed the outcome, and where the replay first differs."""

    model_config = ConfigDict(frozen=True)

    original_run: str
    replay_run: str
    from_step: str
    interventions: tuple[str, ...] = ()
    outcome_from: str
    outcome_to: str
    changed: bool
    first_step: str | None = None
    what: str = ""
    dry_run: bool = False

    def line(self) -> str:
        if self.changed:
            head = f"outcome changed: {self.outcome_from} -> {self.outcome_to}"
        else:
            head = f"outcome unchanged: {self.outcome_to}"
        if self.dry_run:
            head += " (dry run)"
        if self.first_step is None:
            return head + "; no step's result differs"
        return head + f"; first step whose result differs: {self.first_step} ({self.what})"


@dataclass(frozen=True)
class _Result:
    seq: int
    status: str
    error: str | None
    outputs: dict[str, Any]
    took: tuple[str, ...] = ()  # the steps its conditions decided to go on to


def _results(plan: Plan, record: RunRecord, events: Sequence[EventRecord],
             memory: Sequence[MemoryEntry]) -> dict[str, _Result]:
    out: dict[str, _Result] = {}
    edges = plan.edges
    for sid, rec in recorded(events, memory).items():
        branches: Mapping[int, bool] = getattr(rec.event, "branches", {}) or {}
        took = tuple(sorted(edges[i].target for i, yes in branches.items()
                            if yes and 0 <= i < len(edges)))
        out[sid] = _Result(rec.finished_seq, "succeeded" if rec.ok else "failed", rec.error,
                           _comparable(rec.outputs or {}), took)
    end = (record.state or {}).get("end_step")
    if isinstance(end, str) and end not in out:
        out[end] = _Result(1 << 62, "reached", None, {})
    return out


def _comparable(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """A step's outputs without what differs from run to run whatever happened (the attempt
    number, the wall time it took; an artifact's reference, kept by its content's hash)."""
    out = {k: v for k, v in outputs.items() if k not in ("attempt", "duration_s", "artifacts")}
    refs = outputs.get("artifacts")
    if isinstance(refs, Mapping):
        out["artifacts"] = {name: ref.get("sha256") if isinstance(ref, Mapping) else ref
                            for name, ref in refs.items()}
    return out


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _difference(a: _Result, b: _Result) -> str | None:
    if a.status != b.status:
        why = f": {_short(b.error, 100)}" if b.error else (
            f" (was: {_short(a.error, 100)})" if a.error else "")
        return f"{a.status} -> {b.status}{why}"
    if a.error != b.error:
        return f"error {_short(a.error or '')} -> {_short(b.error or '')}"
    if a.took != b.took:
        return (f"went on to {', '.join(a.took) or 'nothing'} -> "
                f"{', '.join(b.took) or 'nothing'}")
    keys = [k for k in dict.fromkeys([*a.outputs, *b.outputs])
            if a.outputs.get(k) != b.outputs.get(k)]
    if keys:
        k = keys[0]
        more = f" (and {', '.join(keys[1:4])})" if len(keys) > 1 else ""
        return (f"output {k}: {_short(a.outputs.get(k, '(none)'))} -> "
                f"{_short(b.outputs.get(k, '(none)'))}{more}")
    return None


def verdict(original: RunRecord, original_plan: Plan, original_events: Sequence[EventRecord],
            original_memory: Sequence[MemoryEntry], new: RunRecord, new_plan: Plan,
            new_events: Sequence[EventRecord], new_memory: Sequence[MemoryEntry]) -> Verdict:
    """Compare a replay with the run it replays (both as stored)."""
    assert new.options.replay is not None
    before = _results(original_plan, original, original_events, original_memory)
    now = _results(new_plan, new, new_events, new_memory)
    # In the guide's order (parallel steps finish in any order: the verdict must not depend on
    # which came first), then, for what the plan does not list, in the order they finished.
    # A step whose result differs comes before one that ran in one run only: a step runs in
    # one only because something before it differs (another branch was taken; a failure ended
    # the original while the step was still running, and cut it short).
    order = {s.id: i for i, s in enumerate(new_plan.steps)}
    found: tuple[str, str] | None = None
    only: tuple[str, str] | None = None
    for sid, res in sorted(now.items(), key=lambda item: (order.get(item[0], len(order)),
                                                           item[1].seq)):
        was = before.get(sid)
        if was is None:
            only = only or (sid, f"ran only in the replay: {res.status}")
            continue
        diff = _difference(was, res)
        if diff:
            found = (sid, diff)
            break
    if found is None and only is None:
        order = {s.id: i for i, s in enumerate(original_plan.steps)}
        for sid, was in sorted(before.items(), key=lambda item: (
                order.get(item[0], len(order)), item[1].seq)):
            if sid not in now:
                only = (sid, f"ran only in run {original.run_id}: {was.status}")
                break
    first, what = found or only or (None, "")
    outcome_from = original.outcome or original.status
    outcome_to = new.outcome or new.status
    return Verdict(original_run=original.run_id, replay_run=new.run_id,
                   from_step=new.options.replay.from_step,
                   interventions=new.options.replay.interventions, outcome_from=outcome_from,
                   outcome_to=outcome_to, changed=outcome_from != outcome_to,
                   first_step=first, what=what, dry_run=new.options.dry_run)


def verdicts(events: Sequence[EventRecord]) -> list[Verdict]:
    """The replay verdicts noted on a run (as the replay, or as the run replayed)."""
    out = []
    for ev in events:
        if ev.type == VERDICT_NOTE:
            try:
                out.append(Verdict.model_validate(ev.data))
            except ValueError:
                continue
    return out


async def conclude(store: Store, replay_run: str) -> Verdict | None:
    """The verdict of a replay that ended, noted on it and on the run it replays (once per
    way it ended); None while it runs, or for a run that is no replay."""
    new = await store.get_run(replay_run)
    if new.options.replay is None or new.status == "running":
        return None
    new_events = await store.events(replay_run)
    noted = [v for v in verdicts(new_events) if v.replay_run == replay_run]
    if noted and noted[-1].outcome_to == (new.outcome or new.status):
        return noted[-1]  # noted already (an interrupted replay, resumed, is noted again)
    original = await store.get_run(new.options.replay.run_id)
    found = verdict(original, await store.load_plan(original.plan_hash),
                    await store.events(original.run_id), await store.memory(original.run_id),
                    new, await store.load_plan(new.plan_hash), new_events,
                    await store.memory(replay_run))
    data = found.model_dump(mode="json")
    await store.add_note(replay_run, VERDICT_NOTE, data)
    await store.add_note(original.run_id, VERDICT_NOTE, data)
    return found
