"""A guide's options are ways for a person to choose, not steps to run one after another:
"## Option A: ChatOps command" / "## Option B: Database query", "### Method 2 - Reclaim space
from snapshots", and a paragraph "Option B: the issuer is misconfigured. Delete the failed
request:" over its block. Each option's steps run only when its case is chosen (a person or the
configured model judges it); before, every option ran in turn, the second's delete asked for
approval after the first had fixed the DNS. What follows "In both cases, ..." is for whichever
was taken. A lone "## Solution" is the guide's way, not an option."""

from __future__ import annotations

import networkx as nx
import pytest

from engine.plan import Plan, StepKind
from tests.support.compiling import compile_text


def _decides(plan: Plan) -> dict[str, str]:
    return {s.id: s.text for s in plan.steps if s.kind == StepKind.DECIDE}


def _command(plan: Plan, text: str) -> str:
    return next(s.id for s in plan.steps if s.kind == StepKind.COMMAND and s.text == text)


def _guarded_by(plan: Plan, step_id: str) -> set[str]:
    """The conditions a run must take the branch of to reach `step_id`: those whose branch
    edge, taken away, leaves the step unreachable from the start."""
    g = nx.DiGraph()
    g.add_edges_from((e.source, e.target) for e in plan.edges)
    starts = [n for n in g if g.in_degree(n) == 0]
    held = set()
    for e in plan.edges:
        if e.kind == "branch" and e.condition is not None:
            cut = g.copy()
            cut.remove_edge(e.source, e.target)
            if not any(nx.has_path(cut, s, step_id) for s in starts):
                held.add(e.condition.text)
    return held


OPTION_PARAGRAPHS = """# Certificate expiring

## Fix

Option A: the challenge failed because of DNS. Check the record:

```
dig +short _acme-challenge.example.com TXT
```

Option B: the issuer is misconfigured. Delete the failed request so that cert-manager retries:

```
kubectl delete certificaterequest web-tls-1 -n web
```

In both cases, confirm with `kubectl get certificate web-tls -n web` that it becomes Ready.
"""


def test_each_option_paragraph_holds_the_steps_up_to_the_next() -> None:
    plan = compile_text(OPTION_PARAGRAPHS)
    dig = _command(plan, "dig +short _acme-challenge.example.com TXT")
    delete = _command(plan, "kubectl delete certificaterequest web-tls-1 -n web")
    assert _guarded_by(plan, dig) == {"Option A: the challenge failed because of DNS"}
    assert _guarded_by(plan, delete) == {"Option B: the issuer is misconfigured"}


def test_what_follows_in_both_cases_is_for_either() -> None:
    plan = compile_text(OPTION_PARAGRAPHS)
    assert _guarded_by(plan, _command(plan, "kubectl get certificate web-tls -n web")) == set()


def test_option_headings_each_hold_their_section() -> None:
    plan = compile_text("""# Runner queue

## Find the pending jobs

### Option A: ChatOps command

Run `/chatops run ci pending` in Slack.

### Method 2 - Database query

```sql
SELECT count(*) FROM ci_builds WHERE status = 'pending';
```

## Afterwards

Check the queue again with `gitlab-ctl status`.
""")
    sql = next(s.id for s in plan.steps if s.kind == StepKind.QUERY)
    assert _guarded_by(plan, sql) == {"Method 2 - Database query"}
    assert _guarded_by(plan, _command(plan, "gitlab-ctl status")) == set()


def test_a_lone_solution_heading_is_the_way_not_an_option() -> None:
    plan = compile_text("""# Disk full

## Solution

```
journalctl --vacuum-size=500M
```

## Option B
""")
    assert _decides(plan) == {}


ALTERNATIVE = """## Mitigation

Restart the deployment:

```bash
kubectl rollout restart deploy/web -n web
```

{words}

```bash
kubectl delete pods -n web -l app=web
```

Then check the pods:

```bash
kubectl get pods -n web
```
"""


@pytest.mark.parametrize("words", [
    "Alternatively, delete the pods and let the ReplicaSet recreate them:",
    "Or delete the pods and let the ReplicaSet recreate them:",
    "Another option is to delete the pods and let the ReplicaSet recreate them:"])
def test_an_alternative_holds_only_what_it_introduces(words: str) -> None:
    # "Alternatively, delete the pods ...:" ran after the restart, each approved in turn (and
    # declining the second ended the run escalated); it is another way, taken when chosen,
    # and what follows it is for either way
    plan = compile_text(ALTERNATIVE.format(words=words))
    restart = _command(plan, "kubectl rollout restart deploy/web -n web")
    delete = _command(plan, "kubectl delete pods -n web -l app=web")
    check = _command(plan, "kubectl get pods -n web")
    assert _guarded_by(plan, restart) == set()
    (condition,) = _guarded_by(plan, delete)
    assert condition.startswith("Alternatively: ") and \
        condition.endswith("delete the pods and let the ReplicaSet recreate them")
    assert _guarded_by(plan, check) == set()


def test_instead_after_a_prohibition_is_the_way_not_an_alternative() -> None:
    plan = compile_text(ALTERNATIVE.format(
        words="Do not delete the pods one by one. Instead use:"))
    assert _guarded_by(plan, _command(plan, "kubectl delete pods -n web -l app=web")) == set()


def test_instead_opening_a_step_titles_the_way() -> None:
    """"Instead, lower the retention: `kafka-configs ... --alter ...`" after "Never run
    `kafka-topics --delete ...`" is the step to take (gated: it changes the topic). It was a
    person's step: "instead" read as a mention, as in "instead of `x`"."""
    plan = compile_text("# Kafka disk full\n\n## Mitigation\n\n"
                        "1. Never run `kafka-topics --delete --topic orders` to free space.\n"
                        "2. Instead, lower retention: `kafka-configs --bootstrap-server "
                        "localhost:9092 --alter --entity-type topics --entity-name orders "
                        "--add-config retention.ms=3600000`\n")
    (run,) = [s for s in plan.steps if s.kind == StepKind.COMMAND]
    assert run.params["pipeline"][0][:2] == ["kafka-configs", "--bootstrap-server"]
    assert any(s.id == f"approve-{run.id}" for s in plan.steps)
