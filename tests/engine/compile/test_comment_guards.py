"""A comment line in a block that says when the lines under it run ("# if a pod is in
CrashLoopBackOff, delete it:" over `kubectl delete pod ...`, then "# otherwise just restart
the deployment" over the restart) is a decision on that condition, up to the next comment or
blank line; "otherwise" is its other side. Both changes were offered in turn, each approval
showing the command without the condition it was meant for."""

from __future__ import annotations

from engine.plan import Plan, StepKind
from tests.support.compiling import compile_text

BLOCK = """# Pods crashing

## Mitigation

```bash
kubectl get pods -n web
# if a pod is in CrashLoopBackOff, delete it:
kubectl delete pod -n web web-0
# otherwise just restart the deployment
kubectl rollout restart deploy/web -n web

kubectl get deploy -n web
```
"""


def _approval_of(plan: Plan, verb: str) -> str:
    step = next(s for s in plan.steps if s.kind == StepKind.COMMAND and
                verb in s.params["pipeline"][0])
    return f"approve-{step.id}"


def test_a_guard_comment_decides_the_lines_under_it() -> None:
    plan = compile_text(BLOCK)
    decide = next(s for s in plan.steps if s.kind == StepKind.DECIDE)
    assert decide.text == "if a pod is in CrashLoopBackOff"
    out = {e.kind: e for e in plan.edges if e.source == decide.id}
    assert out["branch"].target == _approval_of(plan, "delete")
    assert out["else"].target == _approval_of(plan, "restart")
    # the line after the blank line is for either case
    last = next(s for s in plan.steps if s.kind == StepKind.COMMAND and
                s.params["pipeline"][0][:3] == ["kubectl", "get", "deploy"])
    changes = {_approval_of(plan, "delete")[len("approve-"):],
               _approval_of(plan, "restart")[len("approve-"):]}
    assert {e.target for e in plan.edges if e.source in changes and e.on == "success"} == \
        {last.id}


def test_a_plain_comment_guards_nothing() -> None:
    plan = compile_text(BLOCK.replace("# if a pod is in CrashLoopBackOff, delete it:",
                                      "# delete the stuck pod").replace(
        "# otherwise just restart the deployment", "# then restart the deployment"))
    assert not [s for s in plan.steps if s.kind == StepKind.DECIDE]
