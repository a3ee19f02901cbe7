"""Root-cause classes from what a run recorded: each message rule, and the run-level choice
(priority, retries that fixed themselves, a run with no failure, a cancel)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.learn.causes import classify, classify_message, failed_attempts, needs_cause
from engine.plan import Plan, SourceInfo, Span, Step
from engine.store.base import EventRecord, RunRecord

T0 = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.mark.parametrize(("message", "cls"), [
    ("command not found: duu (is it installed and on PATH?)", "guide_defect"),
    ("exit 1: du: unrecognized option '--no-such-flag'", "guide_defect"),
    ("exit 2: usage: grep [OPTION]... PATTERNS [FILE]...", "guide_defect"),
    ("du -x /s exited with status 1: Try 'du --help' for more information.", "guide_defect"),
    ("duu /s exited with status 127: no output", "guide_defect"),
    ('syntax error at or near "SELEC"', "guide_defect"),
    ('relation "request_log" does not exist', "guide_defect"),
    ("bad_data: 1:5: parse error: unexpected character", "guide_defect"),
    ("condition 'steps.x.value > 1' is undefined over this memory", "guide_defect"),
    ("missing required input(s): service", "guide_defect"),
    ("could not connect to 127.0.0.1:9: Connect call failed", "environment"),
    ("cannot connect to postgresql://app@127.0.0.1:9/r: [Errno 111] refused?", "environment"),
    ("connection refused", "environment"),
    ("OSError: [Errno 113] No route to host", "environment"),
    ("exit 1: du: cannot read directory '/root': Permission denied", "environment"),
    ("timed out after 30 s", "environment"),
    ("write failed: No space left on device", "environment"),
    ("HTTP 503 Service Unavailable", "environment"),
    ("ZeroDivisionError: plugin bug", "engine"),
    ("Traceback (most recent call last):\n  File x", "engine"),
    ("approval denied by alice", "operator"),
    ("[step a]: approval needed before: rm x. Run interactively, or pass --approve a",
     "operator"),
    ("its outcome was unknown; taken as failed by bob", "operator"),
])
def test_each_message_rule(message: str, cls: str) -> None:
    found = classify_message(message)
    assert found is not None and found[0] == cls, found


def test_an_unknown_message_is_not_guessed() -> None:
    assert classify_message("exit 1: something odd") is None


def _plan() -> Plan:
    steps = [Step(id=i, title=i, kind="command", plugin="shell", source=Span(start=n, end=n))
             for n, i in ((3, "a"), (7, "b"))]
    steps.append(Step(id="done", title="Escalate to the owner", kind="end", outcome="escalate",
                      source=Span(start=9, end=9)))
    return Plan(id="g", title="g", compiler="t/1", entry="a", steps=steps, edges=[],
                source=SourceInfo(path="g.md", sha256="0" * 64))


def _record(status: str = "failed", outcome: str | None = None,
            steps: dict[str, Any] | None = None, **kw: Any) -> RunRecord:
    return RunRecord(run_id="r1", plan_id="g", plan_hash="h", guide_path="g.md", status=status,
                     outcome=outcome, created_at=T0, updated_at=T0 + timedelta(seconds=5),
                     state={"steps": steps or {}, "end_step": kw.pop("end_step", None)}, **kw)


def _ev(seq: int, step: str, attempt: int, event: dict[str, Any], **data: Any) -> EventRecord:
    kind = event["type"]
    return EventRecord(seq=seq, at=T0 + timedelta(seconds=seq), type=kind, step_id=step,
                       attempt=attempt, data={"event": {"step": step, "attempt": attempt,
                                                        **event}, **data})


def fail(seq: int, step: str, error: str, attempt: int = 1) -> EventRecord:
    return _ev(seq, step, attempt, {"type": "step_failed", "error": error})


def test_guide_defect_wins_over_environment_and_names_steps_and_lines() -> None:
    record = _record(steps={"a": {"status": "failed"}, "b": {"status": "failed"}})
    cause = classify(_plan(), record, [fail(1, "a", "connection refused"),
                                       fail(2, "b", "command not found: duu")])
    assert cause is not None and cause.cause == "guide_defect"
    assert [(e.step_id, e.line) for e in cause.evidence] == [("b", 7)]
    assert "command not found" in cause.summary and "b" in cause.summary


def test_a_failure_a_retry_fixed_is_not_the_cause() -> None:
    record = _record(steps={"a": {"status": "succeeded"}, "b": {"status": "failed"}})
    events = [fail(1, "a", "ZeroDivisionError: flaky"), fail(2, "b", "timed out after 5 s")]
    cause = classify(_plan(), record, events)
    assert cause is not None and cause.cause == "environment"
    assert [e.step_id for e in cause.evidence] == ["b"]


def test_an_unrecognised_error_is_taken_as_environment_and_says_so() -> None:
    record = _record(steps={"a": {"status": "failed"}})
    cause = classify(_plan(), record, [fail(1, "a", "exit 1: odd")])
    assert cause is not None and cause.cause == "environment"
    assert "no rule recognises" in cause.summary


def test_escalate_on_evidence_is_the_incident() -> None:
    record = _record(status="succeeded", outcome="escalate", end_step="done",
                     steps={"a": {"status": "succeeded"}})
    events = [_ev(1, "a", 1, {"type": "step_succeeded", "branches": {"0": True}},
                  summary="5xx ratio 0.31 above 0.02")]
    cause = classify(_plan(), record, events)
    assert cause is not None and cause.cause == "incident"
    assert cause.evidence[0].step_id == "done" and "Escalate" in cause.evidence[0].message
    assert cause.evidence[1].message == "5xx ratio 0.31 above 0.02"


def test_a_denial_and_a_cancel_are_the_operators() -> None:
    denied = _ev(1, "a", 1, {"type": "approval", "granted": False, "by": "alice"})
    assert failed_attempts([denied])[0].message == "approval denied by alice"
    record = _record(status="succeeded", outcome="escalate", steps={"a": {"status": "failed"}})
    cause = classify(_plan(), record, [denied])
    assert cause is not None and cause.cause == "operator"
    cancelled = classify(_plan(), _record(status="cancelled", reason="cancelled by the user"),
                         [])
    assert cancelled is not None and cancelled.cause == "operator"


def test_a_run_failing_with_no_step_failing_is_the_engines_or_the_guides() -> None:
    stuck = classify(_plan(), _record(reason="no step left to run"), [])
    assert stuck is not None and stuck.cause == "guide_defect"
    broken = classify(_plan(), _record(reason="state lost"), [])
    assert broken is not None and broken.cause == "engine"
    rejected = EventRecord(seq=1, at=T0, type="task_rejected", step_id="a", attempt=1,
                           data={"reason": "plan abc not found"})
    assert classify(_plan(), _record(), [rejected]).cause == "engine"  # type: ignore[union-attr]


def test_healthy_or_unfinished_runs_get_no_cause() -> None:
    for record in (_record(status="succeeded", outcome="resolved"), _record(status="running"),
                   _record(status="interrupted")):
        assert not needs_cause(record)
        assert classify(_plan(), record, [fail(1, "a", "connection refused")]) is None


def test_evidence_holds_no_credential() -> None:
    record = _record(steps={"a": {"status": "failed"}})
    cause = classify(_plan(), record, [fail(1, "a", "auth failed: password=hunter2secret")])
    assert cause is not None and "hunter2secret" not in cause.model_dump_json()
