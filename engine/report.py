"""What a run did, for people: a timeline of its steps and a Markdown report.

Owns turning a stored run (record, plan, events, memory) into a `RunView` (per-step rows with
timings, what each found, the critical path) and rendering that view as Markdown. It reads no
store itself (callers pass what they loaded) and prints nothing (the CLI does).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from engine import scheduler as sched
from engine import stragglers, templating
from engine.errors import MendflowError
from engine.findings import Finding, findings
from engine.plan import Plan
from engine.printable import visible
from engine.runtime.memory import Memory
from engine.runtime.replay import check_memory, replay
from engine.store.base import (
    EventRecord,
    LlmUsage,
    MemoryEntry,
    Question,
    RunCause,
    RunRecord,
)
from engine.stragglers import Baseline, Straggler

FINISH_EVENTS = frozenset({"step_succeeded", "step_failed", "step_timed_out", "approval"})
"""The scheduler event types that end an attempt of a step."""


@dataclass
class StepRow:
    step_id: str
    title: str
    kind: str
    status: str
    attempts: int = 0
    queued_at: datetime | None = None  # the scheduler started it (it may wait for a slot)
    started_at: datetime | None = None  # its work began
    finished_at: datetime | None = None
    duration_s: float | None = None  # its work, retries summed; the wait is apart
    waited_s: float = 0.0  # waiting for a concurrency slot
    last_work_s: float | None = None  # its last finished attempt's work (history is per attempt)
    summary: str = ""
    error: str | None = None
    note: str | None = None  # the scheduler's (why it was cancelled, retried, taken as done)
    line: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    # In a replay (`mendflow replay`): how the step's result was served instead of run
    # (`reused`, `from_record`, `set`, with the run it came from); None: it ran.
    replayed: str | None = None


@dataclass
class RunView:
    record: RunRecord
    plan: Plan
    rows: list[StepRow]
    critical_path: list[str]
    critical_path_s: float
    started_at: datetime
    finished_at: datetime | None
    findings: list[Finding] = field(default_factory=list)
    conclusion: str | None = None  # the end step's words, rendered from memory
    driver: str | None = None  # for a run still marked running: who drives it, if anyone
    llm_usage: list[LlmUsage] = field(default_factory=list)  # what it spent on LLMs
    why: str | None = None  # the run's reason, the end step's title filled in from memory
    # The child run each call step started (its last attempt's), by the call step's id.
    children: dict[str, RunView] = field(default_factory=dict)
    answers: list[Question] = field(default_factory=list)  # asked through the API: the audit
    # Each step's history in earlier runs of the guide (`engine.stragglers.load_baseline`,
    # set by the caller; None: not loaded, and the report says nothing of it).
    history: Baseline | None = None
    flagged: dict[str, Straggler] = field(default_factory=dict)  # flagged live, by step

    def straggler(self, row: StepRow) -> bool:
        """Flagged while it ran, or its last attempt's work ended past its p99."""
        if row.step_id in self.flagged:
            return True
        return self.history is not None and self.history.of(row.step_id).beyond(
            row.last_work_s)
    # Replay verdicts noted on the run (as a replay, or as a run replayed): one line each.
    replays: list[str] = field(default_factory=list)
    # What other runs taught (`engine.learn.record.run_lessons`, filled by whoever reads the
    # store): by failed step, "seen N times since DATE; last fixed by ..."; the root cause.
    recurring: dict[str, str] = field(default_factory=dict)
    cause: RunCause | None = None

    @property
    def makespan_s(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


def build_view(record: RunRecord, plan: Plan, events: list[EventRecord],
               memory: list[MemoryEntry]) -> RunView:
    """The run as `show`, `report`, the API and the web UI show it. A history cut short (a
    step's result in memory, the events that finish it gone) is a StoreError, as it is to
    `resume`: shown as it reads, its change would look as if it never ran. The caller reads
    `memory` before `events` (memory is written with the events of the finish it records):
    read after, a step finishing in between would make a live run look cut short."""
    check_memory(record, replay(plan, record, [ev for ev in events if ev.seq > record.state_seq]),
                 memory)
    state = sched.RunState.from_json_dict(record.state) if record.state else None
    outputs = {e.key.split(".", 1)[1]: e.value for e in memory if e.key.startswith("steps.")}
    rows: dict[str, StepRow] = {}
    for step in plan.steps:
        st = state.steps.get(step.id) if state else None
        rows[step.id] = StepRow(
            step_id=step.id, title=step.title, kind=str(step.kind),
            status=str(st.status) if st else "pending", attempts=st.attempt if st else 0,
            error=st.error if st else None, note=st.note if st else None,
            line=str(step.source),
            outputs=outputs.get(step.id) or {},
        )
    for ev in events:
        row = rows.get(ev.step_id or "")
        if row is None:
            continue
        if ev.type == "step_started":
            if row.queued_at is None:
                row.queued_at = ev.at
        elif ev.type in FINISH_EVENTS:
            row.finished_at = ev.at
            work = ev.data.get("duration_s")
            if work is not None:
                row.duration_s = (row.duration_s or 0.0) + float(work)
                row.last_work_s = float(work)
            row.waited_s += float(ev.data.get("waited_s") or 0.0)
            if row.started_at is None:  # the first attempt's work began after its wait
                row.started_at = (row.queued_at + timedelta(seconds=row.waited_s)
                                  if row.queued_at else ev.at - timedelta(seconds=work or 0))
            row.summary = str(ev.data.get("summary") or row.summary)
            error = (ev.data.get("event") or {}).get("error")
            if error:
                row.error = str(error)
            served = ev.data.get("replayed")
            row.replayed = (f"{served.get('how')} from run {served.get('run')}"
                            if isinstance(served, Mapping) else None)
    for row in rows.values():
        if row.started_at is None and row.queued_at is not None and row.status in _RUNNING:
            row.started_at = row.queued_at
    path, length = ran_critical_path(plan, rows)
    finished = record.updated_at if record.status != "running" else None
    mem = run_memory(record, memory).view()
    found = findings(plan, state, mem) if state else []
    return RunView(record=record, plan=plan, rows=list(rows.values()), critical_path=path,
                   critical_path_s=length, started_at=record.created_at, finished_at=finished,
                   findings=found, replays=replay_lines(record, events),
                   conclusion=conclusion(plan, state.end_step if state else None, mem),
                   why=filled_reason(plan, record.reason, state.end_step if state else None,
                                     mem),
                   flagged=stragglers.flagged(events))


def replay_lines(record: RunRecord, events: list[EventRecord]) -> list[str]:
    """What a replay replays and its intervention, and every replay verdict noted on the
    run (`engine.runtime.intervene`), one line each."""
    out: list[str] = []
    of = record.options.replay
    if of is not None:
        out.append(f"replay of run {of.run_id} from step {of.from_step}; intervention: "
                   + ("; ".join(of.interventions) or "none")
                   + f"; reused: {', '.join(of.reuse) or 'none'}")
    for ev in events:
        if ev.type != "replay_verdict":
            continue
        d = ev.data
        head = (f"outcome changed: {d.get('outcome_from')} -> {d.get('outcome_to')}"
                if d.get("changed") else f"outcome unchanged: {d.get('outcome_to')}")
        first = (f"first step whose result differs: {d.get('first_step')} ({d.get('what')})"
                 if d.get("first_step") else "no step's result differs")
        other = d.get("replay_run") if d.get("replay_run") != record.run_id else None
        out.append((f"replayed as run {other}: " if other else "verdict: ")
                   + f"{head}; {first}")
    return out


def filled_reason(plan: Plan, reason: str | None, end_step: str | None,
                  view: Mapping[str, Any]) -> str | None:
    """The run's reason ("reached end step 'x' (TITLE) ...") with a templated TITLE rendered
    from memory, as the conclusion is: never `{{ steps.x.rows[0].name }}` to a reader."""
    if not reason or not end_step:
        return reason
    try:
        title = plan.step(end_step).title
    except Exception:  # noqa: BLE001 - a plan without that step: the reason as recorded
        return reason
    if not title or not templating.is_template(title) or title not in reason:
        return reason
    try:
        shown = " ".join(templating.render(title, view).split())
    except MendflowError:
        return reason
    return reason.replace(title, shown, 1)


def conclusion(plan: Plan, end_step: str | None, view: Mapping[str, Any]) -> str | None:
    """The end step's own words with what the run found filled in, when the guide wrote them
    as a template (`{{ steps.scenarios.rows[0].scenario_name }} fails at ...`); rendered in
    the sandbox, values already redacted. None when the end step says nothing templated;
    its template as written when a value it names is missing."""
    if not end_step:
        return None
    try:
        step = plan.step(end_step)
    except Exception:  # noqa: BLE001 - a plan without that step: nothing to render
        return None
    text = step.text or step.title
    if not templating.is_template(text):
        return None
    try:
        return " ".join(templating.render(text, view).split())
    except MendflowError:
        return " ".join(text.split())


_RUNNING = frozenset({"running", "in_doubt"})


def ran_critical_path(plan: Plan, rows: dict[str, StepRow]) -> tuple[list[str], float]:
    """The chain of steps that really held the run up: from the step that finished last, back
    through the predecessor (along the plan's edges, among steps that ran) that finished last
    before it started, to a step with none. Its length is wall time, first start to last end.
    Steps that never ran are never on it."""
    ran = {sid: r for sid, r in rows.items() if r.started_at and r.finished_at}
    if not ran:
        return [], 0.0
    preds: dict[str, list[str]] = {sid: [] for sid in ran}
    for e in plan.edges:
        if e.source in ran and e.target in ran:
            preds[e.target].append(e.source)
    node = max(ran, key=lambda sid: (ran[sid].finished_at, sid))
    path = [node]
    while True:
        begun = ran[node].queued_at or ran[node].started_at
        before = [p for p in preds[node] if p not in path
                  and ran[p].finished_at <= begun + timedelta(milliseconds=5)]  # type: ignore
        if not before:
            break
        node = max(before, key=lambda sid: (ran[sid].finished_at, sid))
        path.append(node)
    path.reverse()
    first, last = ran[path[0]], ran[path[-1]]
    return path, (last.finished_at - first.started_at).total_seconds()  # type: ignore


def run_memory(record: RunRecord, memory: list[MemoryEntry]) -> Memory:
    return Memory.restore(record.context, memory)


def findings_lines(found: list[Finding]) -> list[str]:
    """One line per finding, the one the run ended on first."""
    ordered = sorted(found, key=lambda f: not f.taken)
    return [f"{f.line()} -> {f.conclusion}" for f in ordered]


CAUSE_NAMES = {"guide_defect": "guide defect", "environment": "environment",
               "engine": "engine", "operator": "operator", "incident": "the incident"}


def cause_lines(cause: RunCause | None) -> list[str]:
    """The root cause as report lines: the class and summary, then each piece of evidence."""
    if cause is None:
        return []
    out = [f"- **Root cause:** {CAUSE_NAMES.get(cause.cause, cause.cause)}: "
           f"{as_text(cause.summary)}"]
    for e in cause.evidence:
        where = f"`{e.step_id}` (line {e.line}): " if e.step_id else ""
        out.append(f"  - {where}{as_text(_one_line(e.message, 200))}")
    return out


def render_markdown(view: RunView, *, graph: str | None = None) -> str:
    r = view.record
    out: list[str] = [f"# Run {r.run_id}: {r.title or view.plan.title}", ""]
    outcome = r.outcome or "none"
    out += [
        f"- **Outcome:** {outcome} ({r.status})",
        f"- **Why:** {as_text(view.why or r.reason or '-')}",
        *([f"- **Conclusion:** {as_text(view.conclusion)}"] if view.conclusion else []),
        *(["- **Found:**", *(f"  - {as_text(line)}" for line in findings_lines(view.findings))]
          if view.findings else []),
        *cause_lines(view.cause),
        f"- **Guide:** `{r.guide_path}` (plan `{r.plan_hash[:12]}`, {view.plan.compiler})",
        f"- **Started:** {r.created_at.isoformat(timespec='seconds')}",
    ]
    if view.makespan_s is not None:
        out.append(f"- **Took:** {view.makespan_s:.2f} s "
                   f"(critical path {view.critical_path_s:.2f} s)")
    if r.options.dry_run:
        out.append("- **Dry run:** only read-only steps ran; nothing was changed")
    out += [f"- **Replay:** {line}" for line in view.replays]
    out += [f"- **LLM:** {line}" for line in llm_lines(view.llm_usage)]
    inputs = r.context.get("inputs") or {}
    if inputs:
        out.append("- **Inputs:** " + ", ".join(code_span(f"{k}={v}")
                                                for k, v in sorted(inputs.items())))
    labels = (r.context.get("alert") or {}).get("labels") or {}
    if labels:
        shown = sorted(labels.items())[:MAX_LABELS_SHOWN]
        more = len(labels) - len(shown)
        out.append("- **Alert:** " + ", ".join(code_span(f"{k}={v}") for k, v in shown)
                   + (f" and {more} more label(s), kept in the run's context" if more else ""))
    out += ["", "## What each step found", ""]
    ran = [row for row in view.rows if row.status not in ("pending", "skipped")]
    for row in ran:
        mark = {"succeeded": "ok", "failed": "FAILED", "cancelled": "cancelled"}.get(
            row.status, row.status)
        if row.status == "cancelled" and (row.note or "").startswith(sched.CUT_OFF):
            mark = f"cancelled, {sched.CUT_OFF}"  # a change stopped mid-way: not "not run"
        out.append(f"### `{row.step_id}`: {row.title} ({mark})")
        out.append("")
        out.append(f"Guide line {row.line}; {row.kind}; attempts: {row.attempts}."
                   + (f" Not run: {row.replayed}." if row.replayed else ""))
        if row.summary:
            out += ["", f"> {as_text(_one_line(row.summary, 300))}"]
        if row.error and row.status == "failed":
            out += ["", f"Error: {as_text(_one_line(row.error, 300))}"]
        if row.step_id in view.recurring:
            out += ["", f"Known failure: {as_text(_one_line(view.recurring[row.step_id], 300))}"]
        child = view.children.get(row.step_id)
        if child is not None:  # a linked guide's run: its steps, nested under the call
            out += ["", *child_lines(child)]
        else:
            found = _found(row.outputs)
            if found:
                fence = code_fence(found)
                out += ["", f"{fence}text", found, fence]
        out.append("")
    skipped = [row.step_id for row in view.rows if row.status == "skipped"]
    if skipped:
        out += ["Skipped (their conditions did not hold): "
                + ", ".join(f"`{s}`" for s in skipped), ""]
    out += ["## Timeline", "",
            "| step | status | start (s) | waited (s) | duration (s) | attempts |",
            "|---|---|---:|---:|---:|---:|"]
    timed = sorted((row for row in ran if row.started_at),
                   key=lambda row: (row.started_at, row.step_id))
    for row in timed:
        start = (row.started_at - view.started_at).total_seconds()  # type: ignore[operator]
        dur = f"{row.duration_s:.3f}" if row.duration_s is not None else "-"
        out.append(f"| `{row.step_id}` | {row.status} | {start:.3f} | {row.waited_s:.3f} | {dur} "
                   f"| {row.attempts} |")
    if timed:
        out += ["", "```mermaid", "gantt", "  dateFormat x", "  axisFormat %M:%S"]
        for row in timed:
            start_ms = int(row.started_at.timestamp() * 1000)  # type: ignore[union-attr]
            dur_ms = max(1, int((row.duration_s or 0) * 1000))
            out.append(f"  {row.step_id} : {start_ms}, {dur_ms}ms")
        out.append("```")
    if view.history is not None and timed:
        out += ["", *history_lines(view, timed)]
    if view.answers:
        out += ["", "## Answers given through the API", ""]
        out += [answer_line(q) for q in view.answers]
    if view.critical_path:
        out += ["", "## Critical path", "",
                " -> ".join(f"`{s}`" for s in view.critical_path)
                + f" ({view.critical_path_s:.2f} s)"]
    if graph:
        out += ["", "## Plan", "", "```mermaid", graph.rstrip(), "```"]
    return visible("\n".join(out).rstrip() + "\n")  # no value writes a terminal escape


def history_lines(view: RunView, rows: list[StepRow]) -> list[str]:
    """Each step's work against its own history (same guide, same step, earlier finished
    runs): p50, p99 and how many samples; stragglers marked, too little history said."""
    assert view.history is not None
    out = ["## Against history", "",
           f"Each step's last attempt against its successful attempts in earlier runs of "
           f"this guide (p99 needs n >= {stragglers.MIN_SAMPLES}).", "",
           "| step | duration (s) | p50 (s) | p99 (s) | n | |",
           "|---|---:|---:|---:|---:|---|"]
    for row in rows:
        hist = view.history.of(row.step_id)
        dur = f"{row.last_work_s:.3f}" if row.last_work_s is not None else "-"
        flag = view.flagged.get(row.step_id)
        if view.straggler(row):
            mark = ("**STRAGGLER** (flagged live at "
                    f"{flag.elapsed_s:.2f} s)" if flag else "**STRAGGLER**")
        elif not hist.enough:
            mark = "n too small"
        else:
            mark = "ok"
        p50 = f"{hist.p50_s:.3f}" if hist.p50_s is not None else "-"
        p99 = f"{hist.p99_s:.3f}" if hist.p99_s is not None else "-"
        if flag is not None and not hist.enough:  # flagged on the history of its run's start
            p50, p99 = f"{flag.p50_s:.3f}", f"{flag.p99_s:.3f}"
        out.append(f"| `{row.step_id}` | {dur} | {p50} | {p99} | {hist.n} | {mark} |")
    return out


def child_lines(view: RunView, *, depth: int = 0) -> list[str]:
    """A call step's child run as a nested Markdown list: the run, then each step it ran with
    what it found, and the runs its own call steps started, indented under them."""
    r = view.record
    pad = "  " * depth
    lines = [f"{pad}- Child run `{r.run_id}` ({r.title or view.plan.title}, "
             f"`{r.guide_path}`): {r.outcome or '-'} ({r.status}); "
             f"`mendflow report {r.run_id}` for its own report"]
    for row in view.rows:
        if row.status in ("pending", "skipped"):
            continue
        said = row.error if row.status == "failed" and row.error else (
            small_values(row.outputs) or row.summary)
        lines.append(f"{pad}  - `{row.step_id}` ({row.status}): {row.title}"
                     + (f": {as_text(_one_line(said, 200))}" if said else ""))
        if row.step_id in view.children:
            lines += child_lines(view.children[row.step_id], depth=depth + 2)
    return lines


def answer_line(q: Question) -> str:
    """Who answered a run's question, what, when and from where; or that it still waits."""
    if q.yes is None or q.answered_at is None:
        return f"- `{q.step_id}` ({q.kind}): waiting since {q.asked_at.isoformat('T', 'seconds')}"
    said = {"approve": ("approved", "denied"), "manual": ("done", "not done"),
            "judge": ("yes", "no")}[q.kind][0 if q.yes else 1]
    return (f"- `{q.step_id}` ({q.kind}): {said} by {q.by} at "
            f"{q.answered_at.isoformat('T', 'seconds')} from {q.source}")


def llm_lines(usage: list[LlmUsage]) -> list[str]:
    """One line per (purpose, model) a run spent LLM calls on, and the total cost when there
    are several and every price is known."""
    lines = [u.describe() for u in usage]
    costs = [u.cost_usd for u in usage]
    if len(usage) > 1:
        known = None if None in costs else sum(c for c in costs if c is not None)
        lines.append("total: " + ("cost unknown (a model's price is not known)"
                                  if known is None else f"~${known:.4f}"))
    return lines


def small_values(outputs: Mapping[str, Any], *, lines: int = 3) -> str:
    """What a step found, as values, when it is small enough to read in one line: one row of
    a query (`scenario=checkout, completion=53.7`), a few lines of output. '' otherwise, and
    the step's summary is shown instead."""
    rows = outputs.get("rows")
    if isinstance(rows, list):
        if len(rows) == 1 and isinstance(rows[0], Mapping):
            return ", ".join(f"{k}={v}" for k, v in rows[0].items())
        if len(rows) == 1 and isinstance(rows[0], list):
            return ", ".join(str(v) for v in rows[0])
        return ""
    text = outputs.get("stdout")
    if isinstance(text, str) and text.strip():
        found = [ln.strip() for ln in text.splitlines() if ln.strip()]
        return " ⏎ ".join(found) if len(found) <= lines else ""
    return ""


MAX_LABELS_SHOWN = 50
"""An alert's labels the report lists (an alert is a few dozen at most; one with 10,000 made
a report of 110 KB, one line of it): the rest are counted."""


def code_span(text: str, limit: int = 200) -> str:
    """`text` as one Markdown code span that shows it as the text it is: a label or an input
    is written by whoever controls a metric, and a backtick or a line break in it would end
    the span and put its own Markdown (a link, an image, a heading) into the report. Control
    characters are written as escapes, the text is cut at `limit`, and the span's fence is
    longer than any run of backticks inside."""
    shown = "".join(repr(c)[1:-1] if unicodedata.category(c) in ("Cc", "Cf") else c
                    for c in str(text))
    if len(shown) > limit:
        shown = shown[: limit - 1] + "…"
    fence = "`" * (max((len(run) for run in re.findall(r"`+", shown)), default=0) + 1)
    pad = " " if shown[:1] in ("`", " ") or shown[-1:] in ("`", " ") else ""
    return f"{fence}{pad}{shown}{pad}{fence}"


_LINKING = re.compile(r"(\\*)(\[|<(?=[A-Za-z]))")
_BLOCK_MARKS = frozenset("#>-+*=|`~")


def as_text(text: str) -> str:
    """A value written into the report's Markdown (a step's summary, error or output line, a
    conclusion or reason filled in from memory) so that it stays the text it is: a step's output
    is written by whatever the step read (a log line, a web page, an alert's label), and its
    `[text](url)`, `![](url)` or `<https://...>` would be a link or an image in the report, its
    leading `#` or `>` a heading or a quote of its own. Each `[` and an autolink's `<` are
    escaped (with the backslashes before them), and a leading block mark; they render as
    themselves; a line break is a space (no line of its own)."""
    escaped = _LINKING.sub(lambda m: "\\" * (2 * len(m[1]) + 1) + m[2], " ".join(text.split()))
    return "\\" + escaped if escaped[:1] in _BLOCK_MARKS else escaped


def code_fence(text: str) -> str:
    """A fence for `text` as a code block that no line of it can close: longer than any run of
    backticks in it (a step's output holding a line of ``` would end the block, and the rest
    of the output would be the report's own Markdown: a forged `**Outcome:**`, a link)."""
    return "`" * max(3, max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)


def _one_line(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _found(outputs: dict[str, Any], *, limit: int = 1200) -> str:
    if not outputs:
        return ""
    if "stdout" in outputs:
        text = str(outputs.get("stdout") or "").rstrip()
        if not text and outputs.get("stderr"):
            text = str(outputs["stderr"]).rstrip()
    else:
        shown = {k: v for k, v in outputs.items() if k != "artifacts"}
        text = json.dumps(shown, indent=2, sort_keys=True, default=str)
    if len(text) > limit:
        text = text[:limit] + "\n… (full output in the run's artifacts)"
    return text
