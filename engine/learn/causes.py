"""Why a run failed: its failed attempts read from its events, and the root-cause class of a
run that ended failed, inconclusive or escalate, with the steps and messages that show it.

The classes (`CauseClass`):

- `guide_defect`: the guide cannot work as written: a command not found, a syntax or usage
  error, a query on a table or column that is not there, a missing input, a condition on data
  the guide never gathered, or no step left to run (no path for what the run found);
- `environment`: the world did not let a correct guide work: a data source unreachable, a
  connection refused, permission denied, a timeout, a resource exhausted;
- `engine`: a bug of Mendflow or of a plugin: a traceback, an exception a plugin raised, a
  task rejected, a run that failed with no step failing (an invariant broken);
- `operator`: a person's part: an approval denied or unanswered, a question with no answer,
  the run cancelled, a step in doubt taken as failed;
- `incident`: nothing failed: the guide concluded escalate (or inconclusive) on its evidence.

When failures of several classes are present the first of engine, guide defect,
environment, operator wins: an engine bug or a broken guide explains what follows it, and a
denial is only the cause when nothing else went wrong. An error no rule recognises is taken
as environment, and says so.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from engine.learn.signatures import mask_credentials
from engine.plan import Plan, StepKind
from engine.store.base import CauseClass, CauseEvidence, EventRecord, RunCause, RunRecord

PRIORITY: tuple[CauseClass, ...] = ("engine", "guide_defect", "environment", "operator")

_ENV_EXCEPTIONS = (r"ConnectionRefusedError|ConnectionResetError|ConnectionAbortedError|"
                   r"ConnectionError|TimeoutError|PermissionError|BrokenPipeError|gaierror|"
                   r"OSError|socket\.timeout|ClientConnectorError|ServerDisconnectedError")

# (class, label, pattern): the first rule whose pattern a message matches names its class.
_RAW_RULES: tuple[tuple[CauseClass, str, str], ...] = (
    ("engine", "a traceback", r"Traceback \(most recent call last\)"),
    ("engine", "an invariant broken", r"\binvariant\b|internal error|a task was rejected"),
    ("operator", "an approval denied", r"\bapproval denied\b|\bdenied by\b"),
    ("operator", "a question no one answered",
     r"approval needed|Run interactively, or pass|needs an answer|no answer|unanswered"),
    ("operator", "a step in doubt taken as failed", r"taken as failed"),
    ("operator", "the run cancelled", r"\bcancell?ed by\b"),
    ("guide_defect", "a command not found",
     r"command not found|exit 127\b|exited with status 127\b"),
    ("guide_defect", "a syntax error",
     r"syntax error|parse error|bad substitution|unexpected (?:token|EOF|end of)|"
     r"unterminated|unexpected character"),
    ("guide_defect", "a usage error",
     r"\busage:|Try '[^']*--help'|unknown option|invalid option|unrecognized option|illegal option|"
     r"unknown (?:flag|command|shorthand)|no such option|invalid argument|"
     r"wrong number of arguments|missing operand"),
    ("guide_defect", "a query on what is not there",
     r"(?:column|relation|table|function|schema|metric) .{0,80}does not exist|"
     r"no such (?:table|column|function)|undefined (?:column|table|function)|"
     r"invalid input syntax"),
    ("guide_defect", "a missing input", r"missing (?:required )?input"),
    ("guide_defect", "a condition on data never gathered",
     r"is undefined|undefined variable|has no attribute|UndefinedError"),
    ("environment", "a data source unreachable",
     r"connection refused|(?:could not|cannot|can't|unable to|failed to) connect|"
     r"connect(?:ion)? (?:failed|reset|error)|connect call failed|errno 111|"
     r"unreachable|no route to host|name or service not known|name resolution|"
     r"could not resolve|nodename nor servname|getaddrinfo|connection closed|"
     r"server closed the connection|\b50[234]\b|service unavailable|bad gateway|"
     + _ENV_EXCEPTIONS),
    ("environment", "permission denied",
     r"permission denied|access denied|not permitted|authentication failed|"
     r"password authentication|forbidden|unauthori[sz]ed|\b40[13]\b"),
    ("environment", "a timeout", r"timed out|timeout|deadline exceeded"),
    ("environment", "a resource exhausted",
     r"no space left|out of memory|cannot allocate|too many open files|"
     r"resource temporarily unavailable|disk quota|\boom\b|killed"),
    ("guide_defect", "a file the guide names that is not there",
     r"no such file or directory"),
    ("engine", "an exception a plugin raised",
     r"(?-i:^(?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception)\b)"),
)
_RULES: tuple[tuple[CauseClass, str, re.Pattern[str]], ...] = tuple(
    (cls, label, re.compile(pattern, re.IGNORECASE)) for cls, label, pattern in _RAW_RULES)


def classify_message(message: str) -> tuple[CauseClass, str] | None:
    """The class and label of one error message; None when no rule recognises it."""
    for cls, label, pattern in _RULES:
        if pattern.search(message):
            return cls, label
    return None


class FailedAttempt(NamedTuple):
    """A failed attempt of a step, as the run's events tell it."""

    step_id: str
    attempt: int
    message: str
    event: EventRecord


def failed_attempts(events: Sequence[EventRecord]) -> list[FailedAttempt]:
    """Every failed attempt the events record (errors as written: redacted already), in
    order: failures, timeouts, denied approvals, steps in doubt taken as failed."""
    out: list[FailedAttempt] = []
    for ev in events:
        raw = ev.data.get("event")
        if not isinstance(raw, dict) or ev.step_id is None or ev.attempt is None:
            continue
        kind = raw.get("type")
        if kind == "step_failed":
            message = str(raw.get("error") or "step failed")
        elif kind == "step_timed_out":
            message = f"timed out after {float(raw.get('timeout_s') or 0):g} s"
        elif kind == "approval" and not raw.get("granted"):
            by = str(raw.get("by") or "")
            message = "approval denied" + (f" by {by}" if by else "")
        elif kind == "in_doubt_answer" and raw.get("decision") == "failed":
            by = str(raw.get("by") or "")
            message = "its outcome was unknown; taken as failed" + (f" by {by}" if by else "")
        else:
            continue
        out.append(FailedAttempt(ev.step_id, ev.attempt, message, ev))
    return out


ENDINGS_EXPLAINED = frozenset({"inconclusive", "escalate"})
"""Outcomes whose runs are classified, besides runs that failed or were cancelled."""


def needs_cause(record: RunRecord) -> bool:
    """Whether the run ended in a way `classify` explains."""
    return record.status in ("failed", "cancelled") or (
        record.status == "succeeded" and record.outcome in ENDINGS_EXPLAINED)


def classify(plan: Plan, record: RunRecord, events: Sequence[EventRecord]) -> RunCause | None:
    """The root cause of an ended run that failed, was cancelled, or concluded inconclusive
    or escalate; None for any other run (still running, interrupted, or a healthy end)."""
    if not needs_cause(record):
        return None
    lines = {s.id: s.source.start for s in plan.steps}

    def cause(cls: CauseClass, summary: str, evidence: list[CauseEvidence]) -> RunCause:
        return RunCause(run_id=record.run_id, guide=record.plan_id, cause=cls,
                        summary=summary, evidence=evidence[:_EVIDENCE], at=record.updated_at)

    if record.status == "cancelled":
        return cause("operator", "the run was cancelled",
                     [CauseEvidence(message=record.reason or "cancelled")])
    rejected = [ev for ev in events if ev.type == "task_rejected"]
    if rejected:
        return cause("engine", "a task was rejected",
                     [CauseEvidence(step_id=ev.step_id, line=lines.get(ev.step_id or ""),
                                    message=mask_credentials(str(ev.data.get("reason") or "")))
                      for ev in rejected])
    failed = _final_failures(record, failed_attempts(events))
    found: dict[CauseClass, list[tuple[str, FailedAttempt]]] = {}
    unknown: list[FailedAttempt] = []
    for attempt in failed:
        known = classify_message(attempt.message)
        if known is None:
            unknown.append(attempt)
        else:
            found.setdefault(known[0], []).append((known[1], attempt))
    for cls in PRIORITY:
        if cls in found:
            shown = found[cls]
            labels = list(dict.fromkeys(label for label, _ in shown))
            steps = list(dict.fromkeys(a.step_id for _, a in shown))
            return cause(cls, f"{' and '.join(labels)} at step{'s' if len(steps) > 1 else ''} "
                         f"{', '.join(steps)}", [_evidence(a, lines) for _, a in shown])
    if unknown:
        steps = list(dict.fromkeys(a.step_id for a in unknown))
        return cause("environment", f"step{'s' if len(steps) > 1 else ''} {', '.join(steps)} "
                     "failed with an error no rule recognises (taken as environment)",
                     [_evidence(a, lines) for a in unknown])
    if record.status == "failed":
        reason = record.reason or ""
        if "no step left" in reason:
            return cause("guide_defect", "no step was left to run: the guide has no path for "
                         "what the run found", [CauseEvidence(message=reason)])
        return cause("engine", "the run failed with no step failing (an invariant broken)",
                     [CauseEvidence(message=reason or "failed")])
    return cause("incident", f"the guide concluded {record.outcome} on its evidence",
                 _decisions(plan, record, events, lines))


_EVIDENCE = 8
"""Pieces of evidence kept per run."""


def _final_failures(record: RunRecord, failed: list[FailedAttempt]) -> list[FailedAttempt]:
    """The failures that stood: of steps that ended failed (a failure a retry fixed did not
    end the run), or every one when the run's state does not say."""
    steps = (record.state or {}).get("steps")
    if not isinstance(steps, dict):
        return failed
    stood = [a for a in failed if _status(steps.get(a.step_id)) == "failed"]
    return stood or failed


def _status(entry: object) -> str | None:
    if isinstance(entry, dict):
        value = entry.get("status")
        return value if isinstance(value, str) else None
    if isinstance(entry, list | tuple) and entry:
        return str(entry[0])
    return None


def _evidence(attempt: FailedAttempt, lines: dict[str, int]) -> CauseEvidence:
    return CauseEvidence(step_id=attempt.step_id, line=lines.get(attempt.step_id),
                         message=mask_credentials(attempt.message)[:300])


def _decisions(plan: Plan, record: RunRecord, events: Sequence[EventRecord],
               lines: dict[str, int]) -> list[CauseEvidence]:
    """What the guide concluded on: the end step, then the decisions that led to it (the
    steps whose conditions held), latest first."""
    index = {s.id: s for s in plan.steps}
    end_step = (record.state or {}).get("end_step")
    out: list[CauseEvidence] = []
    if isinstance(end_step, str) and end_step in index:
        out.append(CauseEvidence(step_id=end_step, line=lines.get(end_step),
                                 message=f"{record.outcome}: {index[end_step].title}"))
    for ev in reversed(events):
        raw = ev.data.get("event")
        if (not isinstance(raw, dict) or raw.get("type") != "step_succeeded"
                or not any((raw.get("branches") or {}).values()) or ev.step_id not in index):
            continue
        step = index[ev.step_id]
        summary = str(ev.data.get("summary") or "")
        if step.kind == StepKind.DECIDE or summary:
            out.append(CauseEvidence(step_id=ev.step_id, line=lines.get(ev.step_id),
                                     message=" ".join((summary or step.title).split())[:300]))
    return out
