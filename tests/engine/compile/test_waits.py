"""A paragraph that says to wait a number of seconds or minutes is a person's step in its
place, whatever the number: "Wait 30 seconds, then check the primary again." was context for a
reader (the pattern took one digit, so 5 minutes was a wait and 30 seconds was not), and the
run went straight on to check a failover that had not finished."""

from __future__ import annotations

import pytest

from engine.plan import StepKind
from tests.support.compiling import compile_text


@pytest.mark.parametrize("wait", ["Wait 30 seconds, then check the primary again.",
                                  "Wait 120s for the sentinels to agree.",
                                  "Wait 2-3 minutes before checking.",
                                  "Wait 5 minutes."])
def test_a_wait_of_any_length_is_a_persons_step_in_its_place(wait: str) -> None:
    plan = compile_text(f"""# Redis failover

## Fail over

```shell
kubectl -n cache exec redis-sentinel-0 -- redis-cli -p 26379 sentinel failover mymaster
```

{wait}

```shell
kubectl -n cache get pods -l app=redis
```
""")
    kinds = [(s.kind, s.text) for s in plan.steps if s.kind in (StepKind.COMMAND,
                                                                 StepKind.MANUAL)]
    assert [k for k, _ in kinds] == [StepKind.COMMAND, StepKind.MANUAL, StepKind.COMMAND]
    assert kinds[1][1] == wait


def test_a_sentence_about_waiting_is_not_a_step() -> None:
    plan = compile_text("""# Redis failover

## Fail over

Waiting 10 minutes for a failover is normal on a large data set.

```shell
kubectl -n cache get pods -l app=redis
```
""")
    assert [s.kind for s in plan.steps if s.kind in (StepKind.COMMAND, StepKind.MANUAL)] == \
        [StepKind.COMMAND]
