"""Guide prose and structure the earlier style passes had no test for: the other case opened
inside the guarded sentence ("If X, do A; otherwise close the incident"), ..."""

from __future__ import annotations

from engine.plan import Plan, StepKind
from tests.support.compiling import compile_text, gated, guards_of, step_running


def _after(plan: Plan, sid: str) -> list[tuple[str, str | None]]:
    """Where the run goes after a step: (target, condition's words) of each success edge."""
    return [(e.target, e.condition.text if e.condition else None)
            for e in plan.edges if e.source == sid and e.on == "success"]


def _outcome(plan: Plan, sid: str) -> str | None:
    step = plan.step(sid)
    return str(step.outcome) if step.kind == StepKind.END else None


# -- the other case inside the guarded sentence ------------------------------------------------

PRUNE = ("# Build agent disk\n\n## Mitigation\n\nCheck disk usage: `df -h /var/lib/docker`\n\n"
         "If usage is above 90%, prune images with `docker image prune -af`{sep} {other}.\n\n"
         "Restart the agent: `sudo systemctl restart buildkite-agent`\n")


def test_an_otherwise_after_a_comma_or_semicolon_is_the_other_case():
    # "If X, prune; otherwise close the incident": the other case went on to the restart (a
    # change the guide never asked for in it); with "otherwise escalate" the prune was
    # followed by the escalation and the other case restarted the agent
    for sep, other, outcome in ((";", "otherwise close the incident", "resolved"),
                                (",", "otherwise escalate to the build team", "escalate"),
                                (";", "else page the on-call", "escalate")):
        plan = compile_text(PRUNE.format(sep=sep, other=other))
        prune = step_running(plan, ["docker", "image", "prune", "-af"])
        restart = step_running(plan, ["sudo", "systemctl", "restart", "buildkite-agent"])
        assert guards_of(plan, prune) == ["If usage is above 90%"], other
        assert gated(plan, prune) and gated(plan, restart)
        (decide,) = [s.id for s in plan.steps if s.kind == StepKind.DECIDE]
        (other_case,) = [t for t, c in _after(plan, decide) if c and c.startswith(other[:5])]
        assert _outcome(plan, other_case) == outcome, other
        # after the prune the run goes on to the restart, not to the other case's ending
        assert [_outcome(plan, t) for t, _ in _after(plan, prune)] == [None]


def test_an_otherwise_inside_a_list_step_or_after_a_trailing_condition_is_the_other_case():
    plan = compile_text("## Mitigation\n\n1. Check the pod: `kubectl -n web get pod web-0`\n"
                        "2. If the pod is Pending, delete it with `kubectl -n web delete pod "
                        "web-0`; otherwise escalate to the platform team.\n"
                        "3. Restart the API: `kubectl -n web rollout restart deploy/api`\n")
    delete = step_running(plan, ["kubectl", "-n", "web", "delete", "pod", "web-0"])
    restart = step_running(plan, ["kubectl", "-n", "web", "rollout", "restart", "deploy/api"])
    (decide,) = [s.id for s in plan.steps if s.kind == StepKind.DECIDE]
    assert {_outcome(plan, t) for t, c in _after(plan, decide)} == {None, "escalate"}
    assert [_outcome(plan, t) for t, _ in _after(plan, delete)] == [None]
    assert guards_of(plan, restart) == []
    plan = compile_text("## Mitigation\n\nDelete the pod with `kubectl -n web delete pod web-0` "
                        "if it is Pending, else page the on-call.\n\n"
                        "Restart the API: `kubectl -n web rollout restart deploy/api`\n")
    delete = step_running(plan, ["kubectl", "-n", "web", "delete", "pod", "web-0"])
    assert guards_of(plan, delete) == ["if it is Pending"]


def test_an_otherwise_that_is_no_other_case_stays_in_its_sentence():
    # no guard before it: "otherwise" is the reason, not a case
    plan = compile_text("## Mitigation\n\nRestart the agent with `sudo systemctl restart "
                        "buildkite-agent`, otherwise the builds queue up.\n")
    restart = step_running(plan, ["sudo", "systemctl", "restart", "buildkite-agent"])
    assert guards_of(plan, restart) == []
    assert not [s for s in plan.steps if s.kind == StepKind.DECIDE]
