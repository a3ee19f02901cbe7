"""The pure commit of a batch of reports (`engine.runtime.commit`), which the local executor's
loop and every worker use to advance a run: what a batch writes, what it starts, what it
leaves alone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from engine import scheduler as sched
from engine.plan import Edge, Plan, Retry, SourceInfo, Span, Step
from engine.runtime.commit import (
    Commit,
    Report,
    claimable,
    commit_reports,
    end_run,
    local_snapshot_every,
    resume_run,
    shared_snapshot_every,
    start_run,
)
from engine.store.base import MemoryEntry
from engine.store.base import Report as Parked

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def step(sid: str, kind: str = "command", **kw: Any) -> Step:
    return Step(id=sid, title=sid, kind=kind, source=Span(start=1, end=1), **kw)


def make_plan(steps: list[Step], edges: list[tuple[str, str]], **kw: Any) -> Plan:
    return Plan(id="p", title="P", compiler="test/1",
                source=SourceInfo(path="p.md", sha256="0" * 64), entry=steps[0].id,
                steps=steps, edges=[Edge(source=a, target=b) for a, b in edges], **kw)


def fan() -> Plan:
    """start -> (a, b) -> join -> done; `stop` is its clean-up."""
    steps = [step("start"), step("a"), step("b"), step("join"),
             step("done", "end", outcome="resolved"), step("stop")]
    return make_plan(steps, [("start", "a"), ("start", "b"), ("a", "join"), ("b", "join"),
                             ("join", "done")], cleanup=["stop"])


def started(plan: Plan) -> sched.RunState:
    """`plan` started and its entry step done: its successors are in flight."""
    state, _ = sched.apply(plan, sched.initial_state(plan, seed="r"), sched.Start())
    state, _ = sched.apply(plan, state, sched.StepSucceeded(step=plan.entry, attempt=1))
    return state


def ok(sid: str, attempt: int = 1, **notes: Any) -> Report:
    memory = [MemoryEntry(key=f"steps.{sid}", value={"n": 1}, step_id=sid, attempt=attempt,
                          at=AT)]
    return Report.of(sched.StepSucceeded(step=sid, attempt=attempt), {"summary": "ok", **notes},
                     memory)


def kinds(commit: Commit) -> list[tuple[str, str | None]]:
    return [(row[0], row[1]) for row in commit.events]


def test_a_batch_of_two_reports_is_one_commit_of_both_and_what_they_start() -> None:
    plan = fan()
    # Given a and b in flight, when both report in one batch
    change = commit_reports(plan, started(plan), [ok("a"), ok("b")])
    # Then one commit holds each report's row, the join it started, and both reports' memory
    assert change is not None and change.applied == 2
    assert kinds(change) == [("step_succeeded", "a"), ("step_succeeded", "b"),
                             ("step_started", "join")]
    assert change.events[0][3] == {"event": {"type": "step_succeeded", "step": "a",
                                             "attempt": 1, "branches": {}, "note": None},
                                   "summary": "ok"}
    assert [m.key for m in change.memory] == ["steps.a", "steps.b"]
    assert [(a.step, a.attempt) for a in change.started] == [("join", 1)]
    assert (change.status, change.outcome, change.snapshot) == ("running", None, False)
    # And the state is the one the reports give applied one at a time
    one_by_one = started(plan)
    for report in (ok("a"), ok("b")):
        one_by_one, _ = sched.apply(plan, one_by_one, report.event)
    assert change.state.to_json_dict() == one_by_one.to_json_dict()
    assert change.store_args() == {"state": None, "status": "running", "outcome": None,
                                   "reason": None, "events": change.events,
                                   "memory": change.memory}


def test_each_report_is_followed_by_the_steps_it_started() -> None:
    plan = make_plan([step("s0"), step("s1"), step("s2"), step("done", "end", outcome="resolved")],
                     [("s0", "s1"), ("s1", "s2"), ("s2", "done")])
    state, _ = sched.apply(plan, sched.initial_state(plan), sched.Start())
    change = commit_reports(plan, state, [ok("s0"), ok("s1"), ok("s2")])
    assert change is not None
    # The rows are those three commits of one report each would have written, in order
    assert kinds(change) == [("step_succeeded", "s0"), ("step_started", "s1"),
                             ("step_succeeded", "s1"), ("step_started", "s2"),
                             ("step_succeeded", "s2")]
    # And the run ended with the last: its state is snapshotted
    assert (change.status, change.outcome, change.snapshot) == ("succeeded", "resolved", True)


def test_a_failed_report_fails_the_run_and_cancels_what_still_runs() -> None:
    plan = fan()
    failed = Report.of(sched.StepFailed(step="a", attempt=1, error="disk on fire",
                                        retryable=False), {"summary": "failed"})
    change = commit_reports(plan, started(plan), [failed])
    assert change is not None
    assert kinds(change) == [("step_failed", "a"), ("step_started", "stop")]
    assert [(type(a).__name__, a.step) for a in change.actions] == [
        ("CancelStep", "b"), ("StartStep", "stop")]
    assert change.status == "running"  # until the clean-up is done
    assert "disk on fire" in (change.state.reason or "")


def test_a_retryable_failure_starts_the_next_attempt_after_its_backoff() -> None:
    plan = make_plan([step("s0", retry=Retry(attempts=3)),
                      step("done", "end", outcome="resolved")], [("s0", "done")])
    state, _ = sched.apply(plan, sched.initial_state(plan, seed="r"), sched.Start())
    change = commit_reports(plan, state, [Report.of(sched.StepFailed(
        step="s0", attempt=1, error="flaky", retryable=True))])
    assert change is not None
    [again] = change.started
    assert (again.step, again.attempt) == ("s0", 2) and again.delay_s > 0
    assert change.events[-1] == ("step_started", "s0", 2, {"delay_s": again.delay_s})
    # A worker does not claim a step that is due later for itself
    assert claimable(plan, change, width=4, may_run=lambda s: True) == []


def test_a_stale_or_duplicate_report_leaves_no_trace() -> None:
    plan = fan()
    state = started(plan)
    # A report delivered twice in one batch counts once: one row, its memory once
    change = commit_reports(plan, state, [ok("a"), ok("a", worker="w2")])
    assert change is not None and change.applied == 1
    assert kinds(change) == [("step_succeeded", "a")]
    assert len(change.memory) == 1 and "worker" not in change.events[0][3]
    # Delivered again after that commit, or for an attempt that is not the step's, it is
    # nothing to write
    assert commit_reports(plan, change.state, [ok("a")]) is None
    assert commit_reports(plan, state, [ok("b", attempt=2)]) is None
    # Nor is any report once the run is over
    over = commit_reports(plan, state, [Report.of(sched.StepFailed(
        step="a", attempt=1, error="x", retryable=False)), ok("b")])
    assert over is not None
    assert kinds(over) == [("step_failed", "a"), ("step_started", "stop")]
    assert over.memory == []  # b was cancelled: its late report's memory is not kept


def test_a_cancel_stops_what_runs_and_starts_the_clean_up() -> None:
    plan = fan()
    cancel = Report.of(sched.Cancel(reason="operator said stop"), {"by": "cli"})
    change = commit_reports(plan, started(plan), [cancel, ok("a")])
    assert change is not None and change.applied == 1  # a's report came after the cancel
    assert change.events[0] == ("cancel", None, None, {
        "event": {"type": "cancel", "reason": "operator said stop"}, "by": "cli"})
    assert kinds(change) == [("cancel", None), ("step_started", "stop")]
    assert sorted(a.step for a in change.actions if isinstance(a, sched.CancelStep)) == \
        ["a", "b"]
    assert change.status == "running"
    # The clean-up done, the run ends cancelled
    done = commit_reports(plan, change.state, [ok("stop")])
    assert done is not None and done.snapshot
    assert done.status == "cancelled" and "operator said stop" in (done.reason or "")
    # A second cancel while cleaning up is ignored
    assert commit_reports(plan, change.state, [cancel]) is None


def test_a_step_started_and_cancelled_in_one_batch_is_never_started() -> None:
    # a -> x, and b failing for good ends the run: x, started by a's report, is cancelled by
    # b's in the same batch
    plan = make_plan([step("start"), step("a"), step("b"), step("x"),
                      step("done", "end", outcome="resolved")],
                     [("start", "a"), ("start", "b"), ("a", "x"), ("x", "done"),
                      ("b", "done")])
    failed = Report.of(sched.StepFailed(step="b", attempt=1, error="no", retryable=False))
    change = commit_reports(plan, started(plan), [ok("a"), failed])
    assert change is not None
    assert kinds(change) == [("step_succeeded", "a"), ("step_failed", "b")]
    assert change.started == []
    assert [(type(a).__name__, a.step) for a in change.actions] == [("CancelStep", "x")]
    assert (change.status, change.outcome, change.snapshot) == ("succeeded", "inconclusive",
                                                                True)


def test_the_snapshot_comes_when_enough_reports_passed_since_the_last() -> None:
    plan = fan()
    state = started(plan)
    assert not commit_reports(plan, state, [ok("a")], since_snapshot=2,
                              snapshot_every=4).snapshot  # type: ignore[union-attr]
    assert commit_reports(plan, state, [ok("a")], since_snapshot=3,
                          snapshot_every=4).snapshot  # type: ignore[union-attr]
    big = make_plan([step(f"s{i}") for i in range(400)] + [step("done", "end", outcome="resolved")],
                    [(f"s{i}", f"s{i + 1}") for i in range(399)] + [("s399", "done")])
    assert (local_snapshot_every(big), shared_snapshot_every(big)) == (100, 25)
    assert (local_snapshot_every(plan), shared_snapshot_every(plan)) == (64, 0)


def test_a_parked_report_is_committed_as_it_was_written() -> None:
    plan = fan()
    written = ok("a", worker="w1")
    row = written.row()
    parked = Parked(step_id="a", attempt=1, type=row[0], data=row[3],
                    memory=list(written.memory))
    again = Report.parked(parked)
    assert again is not None and again.row() == row and again.memory == written.memory
    change = commit_reports(plan, started(plan), [again])
    assert change is not None and change.events[0] == row
    assert Report.parked(parked._replace(data={"summary": "no event"})) is None


def test_a_report_is_redacted_before_it_is_committed() -> None:
    report = Report.of(sched.StepSucceeded(step="a", attempt=1), {"summary": "token=hunter2"},
                       redact=lambda d: {k: (v.replace("hunter2", "***") if isinstance(v, str)
                                             else v) for k, v in d.items()})
    assert report.row()[3]["summary"] == "token=***"


def test_a_worker_claims_the_started_steps_its_queue_serves_up_to_its_width() -> None:
    plan = make_plan([step("s"), step("p1"), step("p2", queue="gpu"), step("p3"),
                      step("done", "end", outcome="resolved")],
                     [("s", "p1"), ("s", "p2"), ("s", "p3"), ("p1", "done"), ("p2", "done"),
                      ("p3", "done")])
    state, _ = sched.apply(plan, sched.initial_state(plan), sched.Start())
    change = commit_reports(plan, state, [ok("s")])
    assert change is not None
    asked: list[str] = []

    def default_queue(s: Step) -> bool:
        asked.append(s.id)
        return s.queue is None

    assert [a.step for a in claimable(plan, change, width=1, may_run=default_queue)] == ["p1"]
    assert asked == ["p1"]  # asked no further than needed
    assert [a.step for a in claimable(plan, change, width=5, may_run=default_queue)] == [
        "p1", "p3"]


# -- the commits that are not a batch of step reports ------------------------------------------


def test_a_runs_first_commit_is_its_start_snapshotted_with_what_it_starts() -> None:
    plan = fan()
    change = start_run(plan, sched.initial_state(plan, seed="r"), redact=lambda d: {**d, "r": 1})
    assert kinds(change) == [("start", None), ("step_started", "start")]
    assert change.events[0][3] == {"event": {"type": "start"}, "r": 1}  # redacted as reports
    assert [(a.step, a.attempt) for a in change.started] == [("start", 1)]
    assert (change.status, change.snapshot) == ("running", True)


def test_a_resumed_run_restarts_what_was_in_flight_after_its_doubts_and_answers() -> None:
    plan = fan()
    state = started(plan)  # a and b in flight when the driver died
    doubt = Report.of(sched.StepInDoubt(step="a", attempt=1, reason="lost"), {"summary": "?"})
    # With no answer for a: the doubt is written, nothing starts, the run stops interrupted
    stopped = resume_run(plan, state, [doubt], waiting="a is in doubt")
    assert kinds(stopped) == [("resumed", None), ("step_in_doubt", "a"), ("interrupted", None)]
    assert (stopped.status, stopped.reason, stopped.actions, stopped.snapshot) == \
        ("interrupted", "a is in doubt", [], True)
    # Answered "rerun": b starts again with its attempt, a with a new one, each once
    answer = Report.of(sched.InDoubtAnswer(step="a", attempt=1, decision="rerun", by="ops"))
    change = resume_run(plan, state, [doubt, answer])
    assert kinds(change) == [("resumed", None), ("step_in_doubt", "a"),
                             ("in_doubt_answer", "a"), ("step_started", "a"),
                             ("step_started", "b")]
    assert sorted((a.step, a.attempt) for a in change.started) == [("a", 2), ("b", 1)]
    assert (change.status, change.applied, change.snapshot) == ("running", 2, True)


def test_a_run_ended_outside_the_scheduler_says_why_in_one_row() -> None:
    state = started(fan())
    change = end_run(state, "failed", "no step left to run")
    assert change.events == [("failed", None, None, {"reason": "no step left to run"})]
    assert (change.status, change.reason, change.actions, change.snapshot) == \
        ("failed", "no step left to run", [], True)
    assert change.store_args()["state"] == state.to_json_dict()
