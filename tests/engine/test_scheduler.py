"""The pure scheduler: each join/retry/end rule by example, then properties on random DAGs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import scheduler as s
from engine.errors import ConditionError, InputError, PlanError
from engine.plan import Condition, Edge, Plan, Retry, SourceInfo, Span, Step
from engine.scheduler import (
    Approval,
    Cancel,
    CancelStep,
    RunState,
    Start,
    StartStep,
    StepFailed,
    StepStatus,
    StepSucceeded,
    StepTimedOut,
)

# -- building plans --------------------------------------------------------------------------


def step(sid: str, kind: str = "command", line: int = 1, **kw: Any) -> Step:
    return Step(id=sid, title=sid.title(), kind=kind, source=Span(start=line, end=line), **kw)


def end(sid: str, outcome: str = "resolved") -> Step:
    return step(sid, "end", outcome=outcome)


def edge(source: str, target: str, cond: str | None = None, on: str = "success",
         kind: str = "next") -> Edge:
    condition = Condition(text=cond, expr=None) if cond else None
    return Edge(source=source, target=target, condition=condition, on=on, kind=kind)


def plan(steps: list[Step], edges: list[Edge], entry: str | None = None) -> Plan:
    return Plan(id="p", title="P", compiler="test/1",
                source=SourceInfo(path="guides/p.md", sha256="0" * 64),
                entry=entry or steps[0].id, steps=steps, edges=edges)


def chain(n: int) -> Plan:
    steps = [step(f"s{i}") for i in range(n - 1)] + [end(f"s{n - 1}")]
    return plan(steps, [edge(f"s{i}", f"s{i + 1}") for i in range(n - 1)])


class Run:
    """Feeds events to the scheduler and keeps the latest state, like an executor would."""

    def __init__(self, p: Plan, seed: str = "run-1") -> None:
        self.plan = p
        self.state = s.initial_state(p, seed=seed)

    def send(self, event: Any) -> list[Any]:
        self.state, actions = s.apply(self.plan, self.state, event)
        return actions

    def ok(self, sid: str, attempt: int = 1, **branches: bool) -> list[Any]:
        return self.send(StepSucceeded(step=sid, attempt=attempt,
                                       branches=self._branches(sid, branches)))

    def fail(self, sid: str, attempt: int = 1, error: str = "boom", retryable: bool = False,
             **branches: bool) -> list[Any]:
        return self.send(StepFailed(step=sid, attempt=attempt, error=error, retryable=retryable,
                                    branches=self._branches(sid, branches)))

    def _branches(self, sid: str, by_target: dict[str, bool]) -> dict[int, bool]:
        return {i: by_target[e.target] for i, e in enumerate(self.plan.edges)
                if e.source == sid and e.target in by_target}

    def status(self, sid: str) -> StepStatus:
        return self.state.steps[sid].status


def starts(actions: list[Any]) -> list[tuple[str, int]]:
    return [(a.step, a.attempt) for a in actions if isinstance(a, StartStep)]


def cancels(actions: list[Any]) -> list[tuple[str, int]]:
    return [(a.step, a.attempt) for a in actions if isinstance(a, CancelStep)]


# -- joins and branches ----------------------------------------------------------------------


def test_start_runs_the_entry_step_once():
    run = Run(plan([step("a"), end("z")], [edge("a", "z")]))
    assert starts(run.send(Start())) == [("a", 1)]
    assert run.state.status == "running"
    assert run.send(Start()) == []  # a duplicated Start starts nothing again


def test_diamond_join_waits_for_both_branches():
    run = Run(plan([step("a"), step("b"), step("c"), step("d"), end("z")],
                   [edge("a", "b"), edge("a", "c"), edge("b", "d"), edge("c", "d"),
                    edge("d", "z")]))
    run.send(Start())
    assert starts(run.ok("a")) == [("b", 1), ("c", 1)]
    assert run.ok("c") == []  # d still waits for b
    assert run.status("d") == StepStatus.PENDING
    assert starts(run.ok("b")) == [("d", 1)]
    assert run.ok("d") == []
    assert (run.state.status, run.state.outcome, run.state.end_step) == (
        "succeeded", "resolved", "z")
    assert "'z'" in run.state.reason


def test_if_else_skips_the_branch_not_taken_and_its_successors():
    # Given: a decides; 'then' leads to t1 -> t2, 'else' to e1; both meet at join.
    run = Run(plan([step("a", "decide"), step("t1"), step("t2"), step("e1"), step("join"),
                    end("z")],
                   [edge("a", "t1", "disk is full", kind="branch"),
                    edge("a", "e1", "otherwise", kind="else"),
                    edge("t1", "t2"), edge("t2", "join"), edge("e1", "join"),
                    edge("join", "z")]))
    run.send(Start())
    # When: the condition of the 'else' edge is false
    assert starts(run.ok("a", t1=True, e1=False)) == [("t1", 1)]
    # Then: e1 is skipped, and the join still runs once the taken branch finishes
    assert run.status("e1") == StepStatus.SKIPPED
    run.ok("t1")
    assert starts(run.ok("t2")) == [("join", 1)]


def test_skip_propagates_to_a_step_whose_every_input_was_skipped():
    run = Run(plan([step("a", "decide"), step("b"), step("c"), step("d"), end("z"), end("y")],
                   [edge("a", "b", "x"), edge("b", "c"), edge("c", "d"), edge("d", "y"),
                    edge("a", "z", "not x")]))
    run.send(Start())
    run.ok("a", b=False, z=True)
    assert [run.status(x) for x in "bcdy"] == [StepStatus.SKIPPED] * 4
    assert run.state.end_step == "z"


def test_missing_branch_value_is_a_condition_error_naming_the_step_and_line():
    p = plan([step("a", "decide", line=7), step("b"), end("z")],
             [edge("a", "b", "pods are crashing"), edge("b", "z")])
    run = Run(p)
    run.send(Start())
    before = run.state
    with pytest.raises(ConditionError) as err:
        run.send(StepSucceeded(step="a", attempt=1))
    assert err.value.location.step == "a" and err.value.location.line == 7
    assert "pods are crashing" in str(err.value)
    assert run.state is before


def test_jump_skips_the_steps_in_between():
    run = Run(plan([step("a", "decide"), step("b"), step("c"), end("z", "no_action")],
                   [edge("a", "z", "nothing to do", kind="jump"),
                    edge("a", "b", "otherwise", kind="else"), edge("b", "c"),
                    edge("c", "z")]))
    run.send(Start())
    assert run.ok("a", z=True, b=False) == []
    assert [run.status(x) for x in "bc"] == [StepStatus.SKIPPED] * 2
    assert (run.state.status, run.state.outcome) == ("succeeded", "no_action")


def test_steps_nothing_leads_to_are_skipped_at_start():
    run = Run(plan([step("a"), step("orphan"), step("after"), end("z")],
                   [edge("a", "z"), edge("orphan", "after")]))
    run.send(Start())
    assert run.status("orphan") == run.status("after") == StepStatus.SKIPPED


def test_an_end_entry_ends_the_run_at_start():
    run = Run(plan([end("z", "no_action")], []))
    assert run.send(Start()) == []
    assert (run.state.status, run.state.outcome) == ("succeeded", "no_action")


# -- failures ----------------------------------------------------------------------------------


def test_failure_edge_runs_the_error_path_and_skips_the_success_path():
    run = Run(plan([step("a"), step("ok"), step("recover"), end("z"), end("esc", "escalate")],
                   [edge("a", "ok"), edge("a", "recover", on="failure", kind="error"),
                    edge("ok", "z"), edge("recover", "esc")]))
    run.send(Start())
    assert starts(run.fail("a")) == [("recover", 1)]
    assert run.status("ok") == StepStatus.SKIPPED
    assert run.state.steps["a"] == s.StepState(StepStatus.FAILED, 1, "boom", None)
    run.ok("recover")
    assert run.state.outcome == "escalate"


def test_failure_without_error_path_fails_the_run_and_cancels_what_runs():
    run = Run(plan([step("a"), step("b", mutating=True), step("c"), end("z")],
                   [edge("a", "b"), edge("a", "c"), edge("b", "z"), edge("c", "z")]))
    run.send(Start())
    run.ok("a")
    actions = run.fail("b", error="exit status 2")
    assert cancels(actions) == [("c", 1)] and starts(actions) == []
    assert run.state.status == "failed"
    assert "'b'" in run.state.reason and "exit status 2" in run.state.reason
    assert run.status("c") == StepStatus.CANCELLED
    assert run.ok("c") == []  # its late report changes nothing


def test_conditional_failure_edge_not_taken_fails_the_run():
    run = Run(plan([step("a", mutating=True), step("fix"), end("z")],
                   [edge("a", "z"), edge("a", "fix", "disk full", on="failure")]))
    run.send(Start())
    run.fail("a", fix=False)
    assert run.state.status == "failed"


def test_on_error_continue_takes_the_success_edges_and_records_the_failure():
    run = Run(plan([step("a", on_error="continue"), step("b"), end("z")],
                   [edge("a", "b"), edge("b", "z")]))
    run.send(Start())
    assert starts(run.fail("a", error="flaky")) == [("b", 1)]
    assert run.state.steps["a"].status == StepStatus.FAILED
    assert run.state.steps["a"].error == "flaky"


def test_run_fails_when_no_end_step_can_be_reached():
    run = Run(plan([step("a", "decide"), step("b"), end("z")],
                   [edge("a", "b", "x"), edge("b", "z")]))
    run.send(Start())
    run.ok("a", b=False)
    assert run.state.status == "failed"
    assert run.state.reason.startswith("no end step was reached")


# -- outcome integrity: never healthy on failed evidence -----------------------------------------


@pytest.mark.parametrize("outcome", ["resolved", "no_action", "escalate"])
def test_a_failed_check_with_no_error_path_ends_inconclusive_never_healthy(outcome: str):
    # Given a read-only check whose failure the guide gave no path for
    run = Run(plan([step("check"), end("z", outcome)], [edge("check", "z")]))
    run.send(Start())
    # When it fails
    run.fail("check", error="cat: /var/log/app.log: No such file or directory")
    # Then the run draws no conclusion, and says what failed and why
    assert (run.state.status, run.state.outcome) == ("succeeded", "inconclusive")
    assert "'check' failed" in run.state.reason and "No such file" in run.state.reason
    assert run.state.end_step is None


@pytest.mark.parametrize("outcome", ["resolved", "no_action"])
def test_a_healthy_ending_reached_past_a_failed_check_is_inconclusive(outcome: str):
    # Given "If this fails, skip to step 3": check a's failure path goes on to check c
    run = Run(plan([step("a"), step("b"), step("c"), end("z", outcome)],
                   [edge("a", "b"), edge("a", "c", on="failure"), edge("b", "c"),
                    edge("c", "z")]))
    run.send(Start())
    # When a fails and the run goes on without it to a healthy ending
    assert starts(run.fail("a", error="exit status 2")) == [("c", 1)]
    run.ok("c")
    # Then it concludes nothing: what a would have found is missing
    assert (run.state.status, run.state.outcome) == ("succeeded", "inconclusive")
    assert "'a' failed (exit status 2)" in run.state.reason and "'z'" in run.state.reason


def test_a_failure_the_guide_concludes_on_or_lets_happen_keeps_its_ending():
    # "If this fails, the feature is off: no action is needed" (the failure edge ends there)
    run = Run(plan([step("a"), end("ok", "no_action"), end("z", "resolved")],
                   [edge("a", "z"), edge("a", "ok", on="failure")]))
    run.send(Start())
    run.fail("a")
    assert (run.state.status, run.state.outcome) == ("succeeded", "no_action")
    # "This may fail; that is fine" (on_error: continue): never evidence
    run = Run(plan([step("a", on_error="continue"), step("b"), end("z", "no_action")],
                   [edge("a", "b"), edge("b", "z")]))
    run.send(Start())
    run.fail("a")
    run.ok("b")
    assert (run.state.status, run.state.outcome) == ("succeeded", "no_action")
    # a failed change routed to an escalation is not a healthy claim at all
    run = Run(plan([step("fix", mutating=True), end("esc", "escalate")],
                   [edge("fix", "esc", on="failure")]))
    run.send(Start())
    run.fail("fix")
    assert run.state.outcome == "escalate"


def test_a_decision_that_reads_a_failed_step_is_inconclusive_not_a_guess():
    # Given a check the guide lets fail (on_error: continue) and a decision over its output
    run = Run(plan([step("disk", on_error="continue"), step("d", "decide"),
                    end("fine", "no_action"), end("full", "escalate")],
                   [edge("disk", "d"),
                    Edge(source="d", target="full", kind="branch", condition=Condition(
                        text="If the disk is full", expr="steps.disk.stdout | numbers | max > 90")),
                    Edge(source="d", target="fine", kind="else", condition=Condition(
                        text="Otherwise", expr="not (steps.disk.stdout | numbers | max > 90)"))]))
    run.send(Start())
    run.fail("disk", error="df: cannot read table of mounted file systems")
    # When the decision decides (any way: the numbers it read are an error's)
    run.ok("d", full=False, fine=True)
    # Then no end is reached: the run is inconclusive, naming the step it read
    assert run.state.outcome == "inconclusive"
    assert "reads step 'disk', which failed" in run.state.reason


def test_a_decision_that_tests_a_steps_exit_status_handles_its_failure_itself():
    # "where systemd does not run, the check fails and is left out": the guide's condition
    # reads the exit status, so the failure is the guide's to judge
    run = Run(plan([step("svc", on_error="continue"), step("d", "decide"),
                    end("fine", "no_action"), end("bad", "escalate")],
                   [edge("svc", "d"),
                    Edge(source="d", target="bad", kind="branch", condition=Condition(
                        text="If a service failed",
                        expr="steps.svc.exit_code == 0 and steps.svc.line_count > 0")),
                    Edge(source="d", target="fine", kind="else", condition=Condition(
                        text="Otherwise", expr=None))]))
    run.send(Start())
    run.fail("svc", error="System has not been booted with systemd")
    run.ok("d", bad=False, fine=True)
    assert (run.state.outcome, run.state.end_step) == ("no_action", "fine")


def test_a_failed_change_with_no_error_path_fails_the_run():
    run = Run(plan([step("fix", mutating=True), end("z")], [edge("fix", "z")]))
    run.send(Start())
    run.fail("fix", error="exit 1")
    assert (run.state.status, run.state.outcome) == ("failed", None)


# -- retries -----------------------------------------------------------------------------------


RETRY = Retry(attempts=3, backoff_s=2.0, max_backoff_s=60.0, jitter=False)


def test_retryable_failure_waits_with_exponential_backoff_then_fails_for_good():
    run = Run(plan([step("a", retry=RETRY), end("z")], [edge("a", "z")]))
    run.send(Start())
    assert run.fail("a", 1, retryable=True) == [StartStep(step="a", attempt=2, delay_s=2.0)]
    assert run.state.steps["a"].status == StepStatus.WAITING
    assert run.state.steps["a"].attempt == 2
    # The executor reports the waited attempt without a separate "started" event.
    assert run.send(StepTimedOut(step="a", attempt=2, timeout_s=5)) == [
        StartStep(step="a", attempt=3, delay_s=4.0)]
    assert run.state.steps["a"].error == "timed out after 5 s"
    run.fail("a", 3, error="still broken", retryable=True)
    assert (run.state.status, run.state.outcome) == ("succeeded", "inconclusive")
    assert "after 3 attempts" in run.state.reason and "still broken" in run.state.reason


def test_a_retry_can_succeed():
    run = Run(plan([step("a", retry=RETRY), end("z")], [edge("a", "z")]))
    run.send(Start())
    run.fail("a", 1, retryable=True)
    run.ok("a", 2)
    assert run.state.status == "succeeded"
    assert run.state.steps["a"].attempt == 2


def test_non_retryable_failure_is_not_retried():
    run = Run(plan([step("a", retry=RETRY), end("z")], [edge("a", "z")]))
    run.send(Start())
    assert run.fail("a", 1, retryable=False) == []
    assert run.state.outcome == "inconclusive"


def test_backoff_is_capped_and_jitter_is_deterministic_per_seed():
    capped = Retry(attempts=10, backoff_s=1.0, max_backoff_s=5.0, jitter=False)
    p = plan([step("a", retry=capped), step("b", retry=Retry(attempts=10)), end("z")],
             [edge("a", "z"), edge("b", "z")])
    assert [s.backoff_delay(p, "a", n, seed="r") for n in (1, 2, 3, 4)] == [1, 2, 4, 5]
    jittered = [s.backoff_delay(p, "b", 3, seed=f"run-{i}") for i in range(20)]
    assert all(2.0 <= d <= 4.0 for d in jittered)  # backoff 1 s * 2**2, scaled into [1/2, 1]
    assert len(set(jittered)) > 10  # runs spread out
    assert s.backoff_delay(p, "b", 3, seed="run-1") == jittered[1]  # the same on replay


# -- approvals -------------------------------------------------------------------------------


def test_approval_granted_succeeds_and_denied_fails_for_good():
    gate = plan([step("gate", "approve", retry=RETRY), step("act"), end("z")],
                [edge("gate", "act"), edge("act", "z")])
    run = Run(gate)
    run.send(Start())
    assert starts(run.send(Approval(step="gate", attempt=1, granted=True, by="ana"))) == [
        ("act", 1)]
    assert run.state.steps["gate"].note == "approved by ana"
    run = Run(gate)
    run.send(Start())
    assert run.send(Approval(step="gate", attempt=1, granted=False, by="ana")) == []
    assert run.state.status == "failed" and "denied by ana" in run.state.reason


def test_approval_for_a_command_step_is_refused():
    run = Run(plan([step("a"), end("z")], [edge("a", "z")]))
    run.send(Start())
    with pytest.raises(InputError):
        run.send(Approval(step="a", attempt=1, granted=True))


def test_event_for_a_step_not_in_the_plan_is_refused():
    run = Run(plan([step("a"), end("z")], [edge("a", "z")]))
    run.send(Start())
    with pytest.raises(InputError):
        run.ok("nope")


# -- ending, cancelling, at-least-once delivery --------------------------------------------------


def test_reaching_an_end_cancels_steps_still_running():
    run = Run(plan([step("a"), step("slow"), step("fast"), end("z"), end("y")],
                   [edge("a", "slow"), edge("a", "fast"), edge("fast", "z"), edge("slow", "y")]))
    run.send(Start())
    run.ok("a")
    actions = run.ok("fast")
    assert actions == [CancelStep(step="slow", attempt=1)]
    assert run.state.end_step == "z"
    assert run.ok("slow") == []  # the cancelled step's late success does not reach y
    assert run.state.end_step == "z"


def test_cancel_stops_in_flight_steps_and_ignores_later_events():
    run = Run(plan([step("a"), step("b", retry=RETRY), step("c"), end("z")],
                   [edge("a", "b"), edge("a", "c"), edge("b", "z"), edge("c", "z")]))
    run.send(Start())
    run.ok("a")
    run.fail("b", 1, retryable=True)  # b now WAITING for attempt 2
    actions = run.send(Cancel(reason="operator took over"))
    assert cancels(actions) == [("b", 2), ("c", 1)]
    assert (run.state.status, run.state.reason) == ("cancelled", "operator took over")
    assert run.ok("c") == [] and run.send(Start()) == []


def test_stale_and_duplicate_events_change_nothing():
    run = Run(plan([step("a", retry=RETRY), step("b"), end("z")],
                   [edge("a", "b"), edge("b", "z")]))
    run.send(Start())
    run.fail("a", 1, retryable=True)
    before = run.state
    assert run.ok("a", 1) == []  # stale: attempt 1 already failed
    assert run.ok("a", 3) == []  # from the future
    assert run.ok("b") == []  # b never started
    assert run.state is before
    run.ok("a", 2)
    after = run.state
    assert run.ok("a", 2) == [] and run.state is after  # duplicated delivery


def test_resume_restarts_running_steps_with_the_same_attempt():
    run = Run(plan([step("a"), step("b"), step("c", retry=RETRY), end("z")],
                   [edge("a", "b"), edge("a", "c"), edge("b", "z"), edge("c", "z")]),
              seed="r9")
    run.send(Start())
    run.ok("a")
    run.fail("c", 1, retryable=True)
    # Given: the process dies; the state comes back from the store
    saved = RunState.from_json_dict(json.loads(json.dumps(run.state.to_json_dict())))
    # Then: b restarts at once with attempt 1, c waits again before its attempt 2
    assert s.resume(run.plan, saved) == [StartStep(step="b", attempt=1),
                                         StartStep(step="c", attempt=2, delay_s=2.0)]
    assert s.resume(run.plan, s.initial_state(run.plan)) == []


def test_state_json_round_trip_continues_the_run_identically():
    p = plan([step("a", "decide"), step("b", retry=RETRY), step("c"), end("z")],
             [edge("a", "b", "x"), edge("a", "c", "y"), edge("b", "z"), edge("c", "z")])
    run = Run(p, seed="seed-7")
    run.send(Start())
    run.ok("a", b=True, c=False)
    run.fail("b", 1, retryable=True)
    text = json.dumps(run.state.to_json_dict())
    restored = RunState.from_json_dict(json.loads(text))
    assert restored == run.state and json.dumps(restored.to_json_dict()) == text
    event = StepSucceeded(step="b", attempt=2)
    assert s.apply(p, restored, event) == s.apply(p, run.state, event)


def test_state_from_another_version_is_refused():
    with pytest.raises(PlanError):
        RunState.from_json_dict({"version": 99})


@pytest.mark.parametrize("event", [
    Start(), StepSucceeded(step="a", attempt=2, branches={3: True}, note="n"),
    StepFailed(step="a", attempt=1, error="e", retryable=False, branches={0: False}),
    StepTimedOut(step="a", attempt=1, timeout_s=2.5),
    Approval(step="a", attempt=1, granted=False, by="bob"), Cancel(reason="r"),
    s.StepInDoubt(step="a", attempt=1, reason="r"),
    s.InDoubtAnswer(step="a", attempt=1, decision="rerun", by="--rerun"),
])
def test_events_round_trip_through_json(event):
    assert s.event_from_dict(json.loads(json.dumps(event.model_dump(mode="json")))) == event


# -- big plans ------------------------------------------------------------------------------


def test_a_failure_at_the_head_of_a_1000_step_chain_skips_the_rest_in_one_event():
    p = plan([step("s0"), end("esc", "escalate")]
             + [step(f"s{i}") for i in range(1, 999)] + [end("done")],
             [edge("s0", "esc", on="failure")] + [edge(f"s{i}", f"s{i + 1}") for i in range(998)]
             + [edge("s998", "done")])
    run = Run(p)
    run.send(Start())
    run.fail("s0")
    assert run.state.outcome == "escalate"
    assert all(run.status(f"s{i}") == StepStatus.SKIPPED for i in range(1, 999))


def test_a_1000_step_chain_runs_to_its_end():
    run = Run(chain(1000))
    actions = run.send(Start())
    while actions:
        (sid, attempt), = starts(actions)
        actions = run.ok(sid, attempt)
    assert run.state.end_step == "s999"
    assert sum(st.status == StepStatus.SUCCEEDED for st in run.state.steps.values()) == 1000


def test_critical_path_follows_the_slowest_branch():
    p = plan([step("a"), step("b"), step("c"), step("d"), end("z")],
             [edge("a", "b"), edge("a", "c"), edge("b", "d"), edge("c", "d"), edge("d", "z")])
    assert s.critical_path(p, {"a": 1, "b": 5, "c": 2, "d": 1}) == (["a", "b", "d", "z"], 7)
    assert s.critical_path(p, {"a": 1, "b": 1, "c": 9}) == (["a", "c", "d", "z"], 10)


def test_frozen_map_updates_leave_the_original_untouched():
    # 3,000 keys: three trie levels
    base = s.FrozenMap((f"k{i}", i) for i in range(3000))
    changed = base.set_many({"k0": -1, "k1500": -2, "k2999": -3})
    assert (base["k0"], base["k1500"], base["k2999"]) == (0, 1500, 2999)
    assert (changed["k0"], changed["k1500"], changed["k2999"]) == (-1, -2, -3)
    assert dict(changed.items()) == {**{f"k{i}": i for i in range(3000)},
                                     "k0": -1, "k1500": -2, "k2999": -3}
    rebuilt = base.set_many({f"k{i}": 0 for i in range(2000)})  # the bulk path
    assert list(rebuilt.values())[1999:2001] == [0, 2000] and base["k1999"] == 1999
    with pytest.raises(KeyError):
        base.set_many({"new": 1})


# -- properties on random DAGs --------------------------------------------------------------


@st.composite
def random_plans(draw: Any) -> Plan:
    n = draw(st.integers(2, 12))
    steps: list[Step] = []
    for i in range(n):
        sid = f"s{i}"
        if i == n - 1 or (i > 0 and draw(st.integers(0, 5)) == 0):
            steps.append(end(sid, draw(st.sampled_from(["resolved", "escalate"]))))
            continue
        steps.append(step(
            sid, draw(st.sampled_from(["command", "command", "approve"])),
            retry=Retry(attempts=draw(st.integers(1, 3)),
                        backoff_s=draw(st.sampled_from([0.0, 1.0]))),
            on_error=draw(st.sampled_from(["fail", "fail", "continue"])),
        ))
    edges: list[Edge] = []
    for j in range(1, n):
        # mostly connected, sometimes an orphan; edges from nearby steps make longer runs
        low = max(0, j - 4)
        sources = draw(st.lists(st.integers(low, j - 1), min_size=int(draw(st.integers(0, 9)) > 0),
                                max_size=3, unique=True))
        for i in sources:
            if steps[i].kind == "end":
                continue
            conditional = draw(st.integers(0, 2)) == 0
            edges.append(edge(f"s{i}", f"s{j}", "c" if conditional else None,
                              on=draw(st.sampled_from(["success"] * 3 + ["failure"]))))
    return plan(steps, edges)


def expected_edge(p: Plan, state: RunState, i: int, branches: dict[int, bool]) -> bool:
    e = p.edges[i]
    src = state.steps[e.source]
    if src.status == StepStatus.SKIPPED:
        return False
    as_success = src.status == StepStatus.SUCCEEDED or p.step(e.source).on_error == "continue"
    if e.on != ("success" if as_success else "failure"):
        return False
    return e.condition is None or branches[i]


def check_consistent(p: Plan, state: RunState, final_branches: dict[str, dict[int, bool]]):
    finished = (StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.SKIPPED)
    for i, value in state.edges.items():
        if value is not None:
            src = p.edges[i].source
            assert state.steps[src].status in finished
            assert value == expected_edge(p, state, i, final_branches.get(src, {}))
    if state.status != "running":
        return
    assert state.in_flight() or state.in_doubt(), "a running run has something in flight"
    for i, e in enumerate(p.edges):
        if state.steps[e.source].status in finished:
            assert state.edges[i] is not None, f"edge {i} from finished {e.source} undecided"
    for st_ in p.steps:
        incoming = [state.edges[i] for i, _ in p.incoming(st_.id)]
        status = state.steps[st_.id].status
        if st_.id == p.entry:
            continue
        if any(v is None for v in incoming):
            assert status == StepStatus.PENDING, f"{st_.id} left pending before its inputs"
        elif any(incoming):
            assert status != StepStatus.PENDING, f"{st_.id} ready but not started"
        else:
            assert status == StepStatus.SKIPPED, f"{st_.id} should have been skipped"


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(p=random_plans(), data=st.data())
def test_random_runs_obey_the_join_rules_and_terminate(p: Plan, data: st.DataObject):
    state = s.initial_state(p, seed="prop")
    in_flight: dict[str, int] = {}  # what the executor believes runs, from the actions alone
    doubted: dict[str, int] = {}  # put in doubt by a crash, not answered yet
    reruns: set[tuple[str, int]] = set()  # attempts started because a person said "rerun"
    started: set[tuple[str, int]] = set()
    sent: list[Any] = []  # events that were applied
    final_branches: dict[str, dict[int, bool]] = {}

    def feed(event: Any) -> bool:
        """Apply `event`, check every invariant, and say whether it was ignored."""
        nonlocal state
        was_running = state.status == "running"
        if data.draw(st.booleans(), label="through json first"):
            restored = RunState.from_json_dict(json.loads(json.dumps(state.to_json_dict())))
            assert restored == state
            assert {a.step: a.attempt for a in s.resume(p, restored)} == (
                in_flight if state.status == "running" else {})
            assert s.apply(p, restored, event) == s.apply(p, state, event)
            state = restored
        new, actions = s.apply(p, state, event)
        if not was_running and not isinstance(event, Start):
            assert new is state and actions == []
        rerun = (isinstance(event, s.InDoubtAnswer) and event.decision == "rerun"
                 and doubted.get(event.step) == event.attempt)
        for a in actions:
            if isinstance(a, StartStep):
                assert new.status == "running", "nothing starts once the run has ended"
                assert (a.step, a.attempt) not in started, "started twice"
                assert p.step(a.step).kind != "end", "end steps need no executor"
                assert a.step not in doubted or (rerun and a.step == event.step), \
                    "a step in doubt starts again only when a person says so"
                if rerun and a.step == event.step:
                    assert a.attempt == event.attempt + 1 and a.delay_s == 0
                    reruns.add((a.step, a.attempt))
                    del doubted[a.step]
                elif a.attempt > 1 and (a.step, a.attempt - 1) not in reruns:
                    assert a.attempt <= p.step(a.step).retry.attempts
                    assert a.delay_s == s.backoff_delay(p, a.step, a.attempt - 1, seed="prop")
                started.add((a.step, a.attempt))
                for i, _ in p.incoming(a.step):
                    assert new.edges[i] is not None, "started before its inputs were decided"
                assert a.step == p.entry or any(new.edges[i] for i, _ in p.incoming(a.step))
                in_flight[a.step] = a.attempt
            else:
                assert in_flight.pop(a.step) == a.attempt
        if isinstance(event, s.StepInDoubt) and new is not state:
            assert in_flight.pop(event.step) == event.attempt
            doubted[event.step] = event.attempt
        if (isinstance(event, s.InDoubtAnswer) and event.decision != "rerun"
                and new is not state):
            assert doubted.pop(event.step) == event.attempt
        if new.status != "running":
            assert all(new.steps[sid].status == StepStatus.CANCELLED for sid in doubted)
            doubted.clear()
        if hasattr(event, "step") and new.steps[event.step].status in (
                StepStatus.SUCCEEDED, StepStatus.FAILED):
            final_branches.setdefault(event.step, getattr(event, "branches", None) or {
                i: False for i, e in p.outgoing(event.step) if e.condition is not None})
            if (new.steps[event.step].status == StepStatus.FAILED
                    and p.step(event.step).on_error == "fail"
                    and not any(new.edges[i] for i, e in p.outgoing(event.step))):
                # a failure with no error path ends the run: failed for a change, and
                # inconclusive (no conclusion drawn) for evidence
                if s._is_evidence(p.step(event.step)):
                    assert (new.status, new.outcome) == ("succeeded", "inconclusive")
                else:
                    assert new.status == "failed", "a failed change with no error path"
                assert f"'{event.step}'" in new.reason
            if in_flight.get(event.step) == event.attempt:
                del in_flight[event.step]
        assert {sid: st_.attempt for sid, st_ in new.in_flight()} == in_flight
        assert {sid: st_.attempt for sid, st_ in new.in_doubt()} == doubted
        assert s.stalled_on_doubt(p, new) == (new.status == "running" and bool(doubted)
                                              and not in_flight)
        check_consistent(p, new, final_branches)
        ignored = new is state and not actions
        if not ignored:  # once applied, an event is stale forever: safe to deliver again
            sent.append(event)
        state = new
        return ignored

    feed(Start())
    crashes = 0
    for _ in range(100):
        if not in_flight and not doubted:
            break
        if crashes < 2 and in_flight and data.draw(st.integers(0, 9), label="crash?") == 0:
            crashes += 1
            # The executor died: the steps it may not repeat unasked are put in doubt, and
            # resuming restarts only the others.
            gated = data.draw(st.sets(st.sampled_from(sorted(in_flight))), label="gated")
            doubts = s.in_doubt_after_crash(p, state, repeatable=lambda x: x.id not in gated,
                                            reason="{step} was running when its runner died")
            assert {d.step for d in doubts} == gated
            for d in doubts:
                feed(d)
            assert {a.step for a in s.resume(p, state)}.isdisjoint(gated)
            continue
        if doubted and (not in_flight or data.draw(st.booleans(), label="answer?")):
            sid = data.draw(st.sampled_from(sorted(doubted)), label="step answered")
            decision = data.draw(st.sampled_from(["rerun", "done", "failed"]))
            feed(s.InDoubtAnswer(step=sid, attempt=doubted[sid], decision=decision, by="t"))
            continue
        sid = data.draw(st.sampled_from(sorted(in_flight)), label="step reporting")
        attempt = in_flight[sid]
        branches = {i: data.draw(st.booleans(), label=f"edge {i}")
                    for i, e in p.outgoing(sid) if e.condition is not None}
        kind = data.draw(st.sampled_from(["ok"] * 6 + ["fail", "fatal", "timeout", "stale",
                                                       "replay", "cancel"]), label="report")
        if kind == "ok" and p.step(sid).kind == "approve":
            feed(Approval(step=sid, attempt=attempt, granted=True, branches=branches))
        elif kind == "ok":
            feed(StepSucceeded(step=sid, attempt=attempt, branches=branches))
        elif kind in ("fail", "fatal"):
            feed(StepFailed(step=sid, attempt=attempt, error="x", retryable=kind == "fail",
                            branches=branches))
        elif kind == "timeout":
            feed(StepTimedOut(step=sid, attempt=attempt, timeout_s=1, branches=branches))
        elif kind == "stale":
            assert feed(StepSucceeded(step=sid, branches=branches,
                                      attempt=attempt + data.draw(st.sampled_from([-1, 1]))))
        elif kind == "replay":
            assert feed(data.draw(st.sampled_from(sent), label="replayed event"))
        elif kind == "cancel" and data.draw(st.integers(0, 4)) == 0:
            feed(Cancel())

    assert not in_flight and not doubted, "the run did not finish in 100 reports"
    assert state.status in ("succeeded", "failed", "cancelled")
    if state.status == "succeeded" and state.outcome == "inconclusive":
        assert state.end_step is None  # no ending the guide wrote was reached
    elif state.status == "succeeded":
        assert p.step(state.end_step).kind == "end"
        assert state.outcome == p.step(state.end_step).outcome
    # After the end, nothing more starts, whatever arrives.
    for event in sent:
        assert s.apply(p, state, event) == (state, [])


# -- clean-up: the steps that always run --------------------------------------------------------


def _with_cleanup() -> Plan:
    steps = [step("move"), step("grip"), end("done"), step("stop"), step("release")]
    p = plan(steps, [edge("move", "grip"), edge("grip", "done")])
    return p.model_copy(update={"cleanup": ["stop", "release"]})


def _starts(actions: list[Any]) -> list[str]:
    return [a.step for a in actions if isinstance(a, StartStep)]


def test_clean_up_runs_in_order_after_the_end_and_the_run_keeps_its_outcome() -> None:
    run = Run(_with_cleanup())
    assert _starts(run.send(Start())) == ["move"]  # clean-up steps are not orphans to skip
    run.ok("move")
    assert _starts(run.ok("grip")) == ["stop"]
    assert run.state.status == "running"  # still running: the clean-up is part of the run
    assert _starts(run.ok("stop")) == ["release"]
    run.ok("release")
    assert (run.state.status, run.state.outcome) == ("succeeded", "resolved")
    assert run.state.reason.endswith("clean-up done")


def test_a_cancel_stops_the_work_but_not_the_clean_up() -> None:
    run = Run(_with_cleanup())
    run.send(Start())
    actions = run.send(Cancel(reason="operator pressed stop"))
    assert [a.step for a in actions if isinstance(a, CancelStep)] == ["move"]
    assert _starts(actions) == ["stop"]
    # A second cancel, or the cancelled step's late report, changes nothing
    assert run.send(Cancel()) == [] and run.ok("move") == []
    run.fail("stop", error="already stopped")  # a failing clean-up step does not stop the rest
    assert run.status("release") == StepStatus.RUNNING
    run.ok("release")
    # the world may not be safe: the run fails, saying so, and what it was before
    assert (run.state.status, run.state.outcome) == ("failed", None)
    assert run.state.reason.startswith("clean-up failed at stop (already stopped): what it "
                                       "makes safe may NOT be safe")
    assert "Before the clean-up: cancelled: operator pressed stop" in run.state.reason


def test_a_failing_clean_up_is_retried_within_its_budget_whatever_the_failure() -> None:
    plan_ = _with_cleanup()
    stop = plan_.step("stop").model_copy(update={"retry": RETRY, "mutating": True})
    plan_ = plan_.model_copy(update={"steps": [stop if s.id == "stop" else s
                                               for s in plan_.steps]})
    run = Run(plan_)
    run.send(Start())
    run.ok("move")
    run.ok("grip")
    assert run.send(StepTimedOut(step="stop", attempt=1, timeout_s=5)) == [
        StartStep(step="stop", attempt=2, delay_s=2.0)]
    assert run.fail("stop", 2, error="the cell did not answer", retryable=False) == [
        StartStep(step="stop", attempt=3, delay_s=4.0)]
    run.ok("stop", 3)
    run.ok("release")
    assert run.state.status == "succeeded" and run.state.reason.endswith("clean-up done")


def test_a_failure_without_error_path_still_cleans_up_and_resume_restarts_it() -> None:
    run = Run(_with_cleanup())
    run.send(Start())
    assert _starts(run.fail("move", error="jammed")) == ["stop"]
    # After a crash mid-clean-up, the state read back restarts the clean-up step in flight
    again = RunState.from_json_dict(json.loads(json.dumps(run.state.to_json_dict())))
    assert [(a.step, a.attempt) for a in s.resume(run.plan, again)] == [("stop", 1)]
    run.state = again
    run.ok("stop")
    run.ok("release")
    assert run.state.outcome == "inconclusive" and "jammed" in run.state.reason


# -- steps in doubt after a crash ------------------------------------------------------------------


def _parallel() -> Plan:
    """a -> (gated b, read-only c) -> d (end)."""
    p = plan([step("a"), step("b", mutating=True), step("c"), end("d")],
             [edge("a", "b"), edge("a", "c"), edge("b", "d"), edge("c", "d")])
    return p


def _crashed(p: Plan) -> Run:
    run = Run(p)
    run.send(Start())
    run.ok("a")  # b and c are in flight when the executor dies
    doubts = s.in_doubt_after_crash(p, run.state, repeatable=lambda x: not x.mutating,
                                    reason="step '{step}' was running when its runner died")
    assert [(d.step, d.attempt) for d in doubts] == [("b", 1)]
    assert doubts[0].reason == "step 'b' was running when its runner died"
    for d in doubts:
        run.send(d)
    return run


def test_a_gated_step_in_flight_at_a_crash_is_in_doubt_and_never_restarted() -> None:
    run = _crashed(_parallel())
    assert run.status("b") == StepStatus.IN_DOUBT
    assert [(a.step, a.attempt) for a in s.resume(run.plan, run.state)] == [("c", 1)]
    # The read-only step finishing does not end the run: the join waits on the doubt
    assert run.ok("c") == [] and run.state.status == "running"
    assert run.state.in_doubt() == [("b", s.StepState(StepStatus.IN_DOUBT, 1, None,
                                                       "step 'b' was running when its runner "
                                                       "died"))]
    assert s.resume(run.plan, run.state) == []
    # A late report of the dead attempt is ignored
    assert run.ok("b") == [] and run.status("b") == StepStatus.IN_DOUBT


def test_in_doubt_answers_rerun_done_and_failed() -> None:
    run = _crashed(_parallel())
    assert run.send(s.InDoubtAnswer(step="b", attempt=1, decision="rerun", by="--rerun")) == [
        StartStep(step="b", attempt=2)]
    assert run.send(s.InDoubtAnswer(step="b", attempt=1, decision="done")) == []  # answered
    run.ok("c")
    run.ok("b", attempt=2)
    assert (run.state.status, run.state.end_step) == ("succeeded", "d")

    done = _crashed(_parallel())
    done.send(s.InDoubtAnswer(step="b", attempt=1, decision="done", by="--mark-done"))
    assert done.status("b") == StepStatus.SUCCEEDED
    assert done.state.steps["b"].note == "taken as done by --mark-done; not run again"
    done.ok("c")
    assert done.state.status == "succeeded"

    failed = _crashed(_parallel())
    failed.send(s.InDoubtAnswer(step="b", attempt=1, decision="failed", by="--mark-failed"))
    assert failed.state.status == "failed" and "'b' failed" in failed.state.reason
    assert failed.status("c") == StepStatus.CANCELLED


def test_a_step_in_doubt_is_cancelled_when_the_run_ends_elsewhere() -> None:
    p = plan([step("a"), step("b", mutating=True), end("quick")],
             [edge("a", "b"), edge("a", "quick", "over?")])
    run = Run(p)
    run.send(Start())
    run.ok("a", quick=False)
    run.send(s.StepInDoubt(step="b", attempt=1, reason="died"))
    run.send(Cancel(reason="stop"))
    assert run.state.status == "cancelled" and run.status("b") == StepStatus.CANCELLED


def test_state_with_a_step_in_doubt_round_trips_and_version_1_states_still_read() -> None:
    run = _crashed(_parallel())
    data = json.loads(json.dumps(run.state.to_json_dict()))
    assert data["version"] == 2 and data["steps"]["b"]["status"] == "in_doubt"
    assert RunState.from_json_dict(data) == run.state
    old = Run(_parallel())
    old.send(Start())
    v1 = {**old.state.to_json_dict(), "version": 1}
    assert RunState.from_json_dict(v1) == old.state


def test_a_change_that_timed_out_is_not_retried_whatever_its_budget():
    run = Run(plan([step("fix", mutating=True, retry=RETRY), end("z")], [edge("fix", "z")]))
    run.send(Start())
    assert run.send(StepTimedOut(step="fix", attempt=1, timeout_s=5)) == []
    assert run.state.steps["fix"].attempt == 1
    assert "not tried again by itself" in run.state.steps["fix"].error
    assert run.state.status == "failed"
