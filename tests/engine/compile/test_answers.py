"""Answers to a question the guide asks, and cases that introduce an item's block.

"Is the consumer pod running?" over "- If yes → Step 3" / "- If no → Step 2" is one decision:
the question is its condition, "yes" its branch and "no" its other side. "If so, ..." and "If
not, ..." answer the question before them the same way. Before, each answer was a question of
its own ("If yes → Step 3?"), asked without the question it answers, and the "no" side a second
question after the first.

"2. Look at the depth. If it is above 1000, scale the workers:" over a block: the block is what
that case does, and "Otherwise, escalate." under it the other side. Before, the scale ran
whatever the depth (then "Otherwise?" was asked), and in "2. If it is above 1000, scale the
workers:" the escalation ran after the scale while the other side ended resolved.
"""

from __future__ import annotations

from engine.compile.explain import explain
from engine.guide import parse_guide
from engine.plan import Plan, StepKind
from tests.support.compiling import compile_text

ANSWERS = """# Queue backlog

## Step 1: Check the consumer

Is the consumer pod running?

- If yes → Step 3
- If no → Step 2

## Step 2: Start the consumer

```bash
kubectl scale deploy/consumer --replicas=1
```

## Step 3: Check the backlog

```bash
kubectl exec deploy/consumer -- queuectl depth
```
"""


def _decides(plan: Plan) -> list[str]:
    return [s.title for s in plan.steps if s.kind == StepKind.DECIDE]


def _edges(plan: Plan, source: str) -> dict[str, str]:
    """target -> condition text of the edges leaving `source`."""
    return {e.target: e.condition.text if e.condition else "" for e in plan.edges
            if e.source == source}


def _command(plan: Plan, word: str):
    return next(s for s in plan.steps if s.kind == StepKind.COMMAND and
                word in " ".join(s.params["pipeline"][0]))


def _gate(plan: Plan, step_id: str) -> str:
    return next(e.source for e in plan.edges if e.target == step_id and
                plan.step(e.source).kind == StepKind.APPROVE)


def test_if_yes_and_if_no_items_answer_the_question_above_them():
    plan = compile_text(ANSWERS)
    assert _decides(plan) == ["Is the consumer pod running?"]
    decide = next(s.id for s in plan.steps if s.kind == StepKind.DECIDE)
    start, check = _command(plan, "scale"), _command(plan, "exec")
    assert _edges(plan, decide) == {
        _gate(plan, check.id): "Is the consumer pod running?",
        _gate(plan, start.id): "Otherwise (no: Is the consumer pod running?)"}
    # each answer's section is that answer's: starting the consumer does not go on to Step 3
    assert _gate(plan, check.id) not in _edges(plan, start.id)


def test_the_no_answer_is_explained_as_the_decisions_other_side():
    plan = compile_text(ANSWERS)
    rows = {r.start: r.became for r in explain(parse_guide(ANSWERS, path="g.md"), plan)}
    assert rows[8] == "the other side (no) of if-consumer-pod (decide)"
    assert not [i for i in plan.ignored if i.span.start == 8]


def test_if_so_and_if_not_answer_the_question_before_them():
    plan = compile_text("# Workers\n\n## Diagnosis\n\nCheck the depth with `rabbitmqctl "
                        "list_queues name messages`.\n\nIs the backlog still growing? If so, "
                        "go to [Scale](#scale). If not, escalate to the messaging team.\n\n"
                        "## Scale\n\n```bash\nkubectl scale deploy/worker --replicas=6\n```\n")
    asked = "Is the backlog still growing?"
    assert _decides(plan) == [asked]
    decide = next(s.id for s in plan.steps if s.kind == StepKind.DECIDE)
    out = _edges(plan, decide)
    assert out[_gate(plan, _command(plan, "scale").id)] == asked
    (end, said), = [(t, c) for t, c in out.items() if plan.step(t).kind == StepKind.END]
    assert said == f"Otherwise (no: {asked})" and plan.step(end).outcome.value == "escalate"


def test_if_no_with_words_after_it_is_a_condition_not_an_answer():
    plan = compile_text("# W\n\n## Diagnosis\n\nIs the worker up?\n\nIf no errors are shown "
                        "in its log, restart it with `systemctl restart worker`.\n")
    assert "If no errors are shown in its log" in _decides(plan)


LOOK_THEN_CASE = """# Workers

## Diagnosis

1. Check the queue depth:

   ```bash
   rabbitmqctl list_queues name messages
   ```

2. {item}:

   ```bash
   kubectl scale deploy/worker --replicas=6
   ```

   {otherwise}, escalate to the messaging team.
"""


def _case_plan(item: str, otherwise: str = "Otherwise") -> tuple[Plan, str, str]:
    plan = compile_text(LOOK_THEN_CASE.format(item=item, otherwise=otherwise))
    scale = _command(plan, "scale")
    return plan, scale.id, _gate(plan, scale.id)


def test_a_later_sentences_case_guards_the_items_block():
    plan, scale, gate = _case_plan("Look at the depth. If it is above 1000, scale the workers")
    decide = next(s.id for s in plan.steps if s.title == "If it is above 1000")
    out = _edges(plan, decide)
    assert out[gate] == "If it is above 1000"  # the scale runs in that case only
    (end, said), = [(t, c) for t, c in out.items() if t != gate]
    assert plan.step(end).outcome.value == "escalate" and said.startswith("Otherwise")
    assert plan.step(gate).title == "Approve: Scale the workers"
    # nothing runs the scale but the case
    assert [e.source for e in plan.edges if e.target == gate] == [decide]
    assert not [d for d in _decides(plan) if d.startswith("Otherwise")]


def test_a_question_then_if_so_guards_the_items_block():
    plan, scale, gate = _case_plan("Is there a backlog? If so, scale the workers", "If not")
    assert _decides(plan) == ["Is there a backlog?"]
    assert [e.source for e in plan.edges if e.target == gate] == \
        [next(s.id for s in plan.steps if s.kind == StepKind.DECIDE)]


def test_otherwise_under_an_items_block_is_the_other_side_not_what_follows_the_change():
    plan, scale, gate = _case_plan("If it is above 1000, scale the workers")
    after = [plan.step(t) for t in _edges(plan, scale)]
    assert [s.outcome.value for s in after if s.kind == StepKind.END and s.outcome and
            s.title != "Escalate to a person"] == ["resolved"]
    decide = next(s.id for s in plan.steps if s.kind == StepKind.DECIDE)
    ends = [plan.step(t) for t in _edges(plan, decide) if plan.step(t).kind == StepKind.END]
    assert [s.outcome.value for s in ends] == ["escalate"]
    assert not [i for i in plan.ignored if i.kind == "guard"]


def test_what_happens_in_a_case_or_a_case_in_parentheses_does_not_guard_the_block():
    for item in ("Watch the log. If the write fails, the process is terminated and this "
                 "message is written", "Confirm the password replicated (if you paste it "
                 "but it has not replicated yet, this error is shown)"):
        plan, scale, gate = _case_plan(item)
        assert not any(plan.step(e.source).kind == StepKind.DECIDE for e in plan.edges
                       if e.target == gate), item


NESTED = """# Node disk

## Steps

1. Check disk usage:

   ```bash
   df -h /var
   ```

2. Is `/var` more than 90% full?
   - If yes:

     ```bash
     journalctl --vacuum-size=500M
     ```

   - If not, go to step 3.

3. Confirm the node is Ready: `kubectl get node $NODE`.
"""


def test_a_block_under_a_bare_answer_is_titled_by_its_question():
    plan = compile_text(NESTED)
    vacuum = _command(plan, "journalctl")
    assert vacuum.title == "Is `/var` more than 90% full? (yes)"  # it was "If yes"
    assert plan.step(_gate(plan, vacuum.id)).title == \
        "Approve: Is `/var` more than 90% full? (yes)"


def test_an_answer_item_compiled_as_the_other_side_is_no_ignored_prose():
    plan = compile_text(NESTED)
    assert not [i for i in plan.ignored if i.span.start == 18]  # it was "prose: nothing to
    rows = {r.start: r.became for r in explain(parse_guide(NESTED, path="g.md"), plan)}
    assert rows[18].startswith("the other side (no) of ")  # run or decide"


# -- an answer with a case of its own ------------------------------------------------------------

COMPOUND = """# Replica lag

## Diagnosis

1. Is the replica connected to the primary? Run `psql -c "select * from pg_stat_wal_receiver"`.
   - If yes, go to step 3.
   - If no, and the primary is reachable, restart the replica: `sudo systemctl restart postgresql`
   - If no, and the primary is down, escalate to the DBA on-call.
2. Check the replica again: `psql -c "select pg_last_wal_replay_lsn()"`
3. Check the lag: `psql -c "select now() - pg_last_xact_replay_timestamp()"`
"""


def test_answers_with_cases_of_their_own_are_asked_on_their_answers_side():
    # "If no, and the primary is reachable, restart" / "If no, and the primary is down,
    # escalate": the restart ran on any no, and the second no was a question of its own
    # ("The answer is no: ...?") asked after the restart, ending escalated whatever the primary
    plan = compile_text(COMPOUND)
    asked = "Is the replica connected to the primary?"
    assert _decides(plan) == [asked, "If the primary is reachable", "If the primary is down"]
    (question,) = [s.id for s in plan.steps if s.kind == StepKind.DECIDE and s.title == asked]
    reachable, down = (next(s.id for s in plan.steps if s.title == t)
                       for t in ("If the primary is reachable", "If the primary is down"))
    assert _edges(plan, question)[reachable] == f"Otherwise (no: {asked})"
    restart = _command(plan, "restart").id
    assert _edges(plan, reachable) == {_gate(plan, restart): "If the primary is reachable",
                                       down: "Otherwise (not: If the primary is reachable)"}
    (ending,) = [e.target for e in plan.edges if e.source == down and e.kind == "branch"]
    assert plan.step(ending).kind == StepKind.END and plan.step(ending).outcome == "escalate"
    assert plan.step(ending).title == "Escalate to the DBA on-call"  # (not "And the primary ...")
    # neither case: the guide goes on with its next step
    assert _command(plan, "pg_last_wal_replay_lsn").id in _edges(plan, down)


def test_one_answer_with_a_case_guards_what_it_says_and_goes_on_otherwise():
    plan = compile_text(COMPOUND.replace(
        "   - If no, and the primary is down, escalate to the DBA on-call.\n", ""))
    reachable = next(s.id for s in plan.steps if s.title == "If the primary is reachable")
    restart = _command(plan, "restart").id
    edges = _edges(plan, reachable)
    assert edges[_gate(plan, restart)] == "If the primary is reachable"
    # (the diagnosis' next checks, read-only, start together)
    assert edges[_command(plan, "pg_last_wal_replay_lsn").id] == \
        "Otherwise (not: If the primary is reachable)"


def test_a_plain_answer_adds_no_case():
    plan = compile_text(COMPOUND.replace(", and the primary is reachable,", ",").replace(
        "   - If no, and the primary is down, escalate to the DBA on-call.\n", ""))
    assert _decides(plan) == ["Is the replica connected to the primary?"]
