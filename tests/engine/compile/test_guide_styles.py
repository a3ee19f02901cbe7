"""Guide styles neither corpus has, each a guide written for it (tests/fixtures/guides/compile):
a PagerDuty-style "Command | What it tells you" table, option bullets after a question
("**Every partition** → ... Go to [X](#x)") and "Verify: `cmd` returns `X`"."""

from __future__ import annotations

from pathlib import Path

from engine.compile import compile_guide
from engine.guide import parse_guide
from engine.plan import Plan, StepKind

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "guides" / "compile"
PLUGINS = {"shell", "bash", "prometheus", "sql", "http", "logs"}


def compile_file(name: str) -> Plan:
    path = FIXTURES / name
    return compile_guide(parse_guide(path.read_text(), path=str(path)), known_plugins=PLUGINS)


def argv_of(plan: Plan) -> dict[str, str]:
    """Each command step's command line, by step id."""
    return {s.id: " ".join(" ".join(stage) for stage in s.params["pipeline"])
            for s in plan.steps if s.kind == StepKind.COMMAND and "pipeline" in s.params}


def test_a_command_column_runs_its_read_only_checks_and_only_shows_the_rest():
    plan = compile_file("command-table.md")
    runs = argv_of(plan)
    assert "kubectl get pods -n orders -l app=consumer" in runs.values()
    # (kafka-consumer-groups --describe is on the read-only list: it reads, so it runs)
    assert any(c.startswith("kafka-consumer-groups") for c in runs.values())
    # No deletion runs from a table ...
    assert not any("delete" in c for c in runs.values())
    assert not [s for s in plan.steps if s.kind == StepKind.APPROVE]
    # ... but it is kept, in a person's step, with the table's words
    (shown,) = [s for s in plan.steps if s.kind == StepKind.MANUAL]
    assert "kubectl delete pod" in shown.text
    # nor does a program the read-only list does not know
    text = "# T\n\n## Triage\n\n| Command | What |\n|---|---|\n| `lagctl --group orders` | Lag |\n"
    plan = compile_guide(parse_guide(text, path="t.md"), known_plugins=PLUGINS)
    assert not argv_of(plan) and [s.kind for s in plan.steps if s.kind == StepKind.MANUAL]
    # The other table, with no "Command" header, runs nothing
    assert not any("orders-lag" in c for c in runs.values())


def test_an_option_after_a_question_decides_by_its_case_not_by_its_jump():
    plan = compile_file("case-options.md")
    decides = {s.title: s for s in plan.steps if s.kind == StepKind.DECIDE}
    assert "Every partition" in decides and "Only some partitions" in decides
    assert not any(t.startswith("Go to") for t in decides)
    jumps = {(e.source, e.target) for e in plan.edges if e.kind == "jump"}
    restart = next(s.id for s in plan.steps if "rollout restart" in argv_of(plan).get(s.id, ""))
    approve = next(e.source for e in plan.edges if e.target == restart)
    assert (decides["Every partition"].id, approve) in jumps


def test_verify_returns_runs_the_check_and_a_wrong_output_escalates():
    plan = compile_file("case-options.md")
    runs = argv_of(plan)
    (check,) = [sid for sid, c in runs.items() if "rollout status" in c]
    assert not [e for e in plan.edges if e.target == check and
                plan.step(e.source).kind == StepKind.APPROVE]  # read-only: no gate
    (branch,) = [e for e in plan.edges if e.kind == "branch" and
                 e.condition is not None and e.condition.expr is not None and
                 f'steps["{check}"]' in e.condition.expr]
    assert branch.condition is not None
    assert branch.condition.expr == \
        f'"successfully rolled out" not in steps["{check}"].stdout'
    end = plan.step(branch.target)
    assert end.kind == StepKind.END and end.outcome is not None and \
        end.outcome.value == "escalate"
    assert not [s for s in plan.steps if s.kind == StepKind.MANUAL and "Verify" in s.text]


def test_verify_in_a_sub_bullet_of_an_ordered_list_runs_too():
    plan = compile_file("ordered-sub-bullets.md")
    runs = argv_of(plan)
    (check,) = [sid for sid, c in runs.items() if c.startswith("curl -sI")]
    assert any(e.condition is not None and e.condition.expr ==
               f'200 not in (steps["{check}"].stdout | numbers)' for e in plan.edges)


def test_stop_here_because_the_alert_is_a_false_positive_ends_with_no_action():
    plan = compile_file("ordered-sub-bullets.md")
    decide = next(s for s in plan.steps if s.kind == StepKind.DECIDE and
                  s.title.startswith("If the date is more than 14 days away"))
    (branch,) = [e for e in plan.edges if e.source == decide.id and e.kind == "branch"]
    end = plan.step(branch.target)
    assert end.kind == StepKind.END and end.outcome is not None and \
        end.outcome.value == "no_action"


def test_otherwise_without_a_comma_ends_the_run_as_it_says():
    # "If it returns `NotFound`, the lease is stale; go to step 3. Otherwise the incident is
    # resolved.": the other side ends resolved, it does not go on to delete the lease
    plan = compile_file("env-placeholders.md")
    decide = next(s for s in plan.steps if s.kind == StepKind.DECIDE and "NotFound" in s.title
                  and s.title.startswith("If it returns"))
    (other,) = [e for e in plan.edges if e.source == decide.id and e.kind == "else"]
    end = plan.step(other.target)
    assert end.kind == StepKind.END and end.outcome is not None and \
        end.outcome.value == "resolved"
    approve = next(s for s in plan.steps if s.kind == StepKind.APPROVE)
    assert {e.source for e in plan.edges if e.target == approve.id} == {decide.id}


def test_a_terse_arrow_item_with_an_ending_is_a_decision_not_ignored_prose():
    # "- fsync p99 > 10ms -> disk slow, escalate storage." in a terse SRE runbook
    plan = compile_file("terse-arrows.md")
    decide = next(s for s in plan.steps if s.kind == StepKind.DECIDE and
                  s.title == "fsync p99 > 10ms")
    (branch,) = [e for e in plan.edges if e.source == decide.id and e.kind == "branch"]
    end = plan.step(branch.target)
    assert end.kind == StepKind.END and end.outcome is not None and \
        end.outcome.value == "escalate" and "escalate storage" in end.title
