"""Plan validation: each rule has a plan that breaks it, and a located, actionable problem."""

from __future__ import annotations

import pytest

from engine.compile import check_plan, parallel_groups, to_dot, to_mermaid, validate_plan
from engine.errors import ValidationError
from engine.plan import Condition, Edge, InputSpec, Plan, SourceInfo, Span, Step

PLUGINS = {"shell", "bash", "prometheus"}


def step(sid: str, kind: str = "command", line: int = 1, **kw) -> Step:
    if kind in ("command", "query"):
        kw.setdefault("plugin", "shell")
    if kind == "end":
        kw.setdefault("outcome", "resolved")
    return Step(id=sid, title=sid, kind=kind, source=Span(start=line, end=line), **kw)


def plan(steps: list[Step], edges: list[tuple], **kw) -> Plan:
    return Plan(id="p", title="P", compiler="test", source=SourceInfo(path="g.md", sha256="0"),
                entry=kw.pop("entry", steps[0].id), steps=steps,
                edges=[Edge(source=e[0], target=e[1], **(e[2] if len(e) > 2 else {}))
                       for e in edges], **kw)


def good() -> Plan:
    return plan([step("a", line=3), step("b", line=5), step("end", "end", line=9)],
                [("a", "b"), ("b", "end")])


def rules(p: Plan) -> list[str]:
    return [pr.rule for pr in check_plan(p, known_plugins=PLUGINS)]


def test_a_good_plan_has_no_problems():
    assert check_plan(good(), known_plugins=PLUGINS) == []
    assert validate_plan(good(), known_plugins=PLUGINS) == good()


def test_cycle_is_reported_at_the_jump_that_closes_it():
    p = plan([step("a", line=3), step("b", line=5), step("end", "end")],
             [("a", "b"), ("b", "a", {"kind": "jump"}), ("b", "end")])
    [problem] = check_plan(p, known_plugins=PLUGINS)
    assert (problem.rule, problem.step, problem.line, problem.file) == ("cycle", "b", 5, "g.md")


def test_dangling_edge():
    p = plan([step("a"), step("end", "end")], [("a", "end"), ("a", "#mitigaton", {"kind": "jump"})])
    assert rules(p) == ["dangling-edge"]
    assert "#mitigaton" in str(check_plan(p, known_plugins=PLUGINS)[0])


def test_unreachable_step_and_second_entry():
    p = plan([step("a"), step("b"), step("end", "end")], [("a", "end"), ("b", "end")])
    assert rules(p) == ["unreachable"]


def test_entry_with_incoming_edge():
    p = plan([step("a"), step("b"), step("end", "end")], [("a", "b"), ("b", "end")], entry="b")
    assert "entry" in rules(p) and "unreachable" in rules(p)


def test_missing_entry():
    assert rules(plan([step("a"), step("end", "end")], [("a", "end")], entry="zz")) == ["entry"]


def test_path_that_does_not_end_in_an_end_step():
    p = plan([step("a"), step("b", line=4), step("end", "end")], [("a", "b"), ("a", "end")])
    [problem] = check_plan(p, known_plugins=PLUGINS)
    assert (problem.rule, problem.step, problem.line) == ("dead-end", "b", 4)


def test_end_step_needs_an_outcome_and_no_outgoing_edges():
    p = plan([step("a"), step("end", "end", outcome=None), step("end2", "end")],
             [("a", "end"), ("end", "end2")])
    assert rules(p) == ["end-outcome", "end-outgoing"]


def test_outcome_only_on_end_steps():
    p = plan([step("a", outcome="resolved"), step("end", "end")], [("a", "end")])
    assert rules(p) == ["outcome"]


def test_unknown_plugin_and_missing_plugin():
    p = plan([step("a", plugin="nosuch"), step("b", "query", plugin=None), step("end", "end")],
             [("a", "b"), ("b", "end")])
    assert rules(p) == ["plugin", "plugin"]


def test_undeclared_input_is_reported():
    p = plan([step("a", params={"pipeline": [["ls", "{{ inputs.ns }}"]]}), step("end", "end")],
             [("a", "end")])
    [problem] = check_plan(p, known_plugins=PLUGINS)
    assert problem.rule == "undefined" and "inputs.ns" in problem.message
    declared = p.model_copy(update={"inputs": [InputSpec(name="ns")]})
    assert check_plan(declared, known_plugins=PLUGINS) == []


def test_var_must_be_bound_by_an_ancestor():
    binder = step("a", params={}, binds={"vars.NS": "result.stdout | trim"},
                  writes=["steps.a", "vars.NS"])
    reader = step("b", params={"pipeline": [["ls", "{{ vars.NS }}"]]})
    ok = plan([binder, reader, step("end", "end")], [("a", "b"), ("b", "end")])
    assert check_plan(ok, known_plugins=PLUGINS) == []
    # Given the binder runs after the reader instead
    bad = plan([reader, binder, step("end", "end")], [("b", "a"), ("a", "end")])
    assert rules(bad) == ["undefined"]


def test_condition_may_read_only_ancestor_steps_and_must_parse():
    steps = [step("a"), step("d", "decide"), step("b"), step("end", "end")]
    ok = plan(steps, [("a", "d"), ("d", "b", {"condition": Condition(
        text="if empty", expr='steps["a"].stdout == ""')}), ("b", "end")])
    assert check_plan(ok, known_plugins=PLUGINS) == []
    bad = plan(steps, [("a", "d"), ("d", "b", {"condition": Condition(
        text="if empty", expr='steps["b"].stdout == ""')}), ("b", "end")])
    assert rules(bad) == ["undefined"]
    broken = plan(steps, [("a", "d"), ("d", "b", {"condition": Condition(
        text="x", expr="steps[")}), ("b", "end")])
    assert rules(broken) == ["condition"]


def test_alert_and_run_are_always_readable_and_unknown_roots_are_not():
    p = plan([step("a", params={"pipeline": [["ls", "{{ alert.labels.pod }}", "{{ run.id }}"]]}),
              step("end", "end")], [("a", "end")])
    assert check_plan(p, known_plugins=PLUGINS) == []
    bad = plan([step("a", params={"pipeline": [["ls", "{{ secrets.x }}"]]}), step("end", "end")],
               [("a", "end")])
    assert rules(bad) == ["undefined"]


def test_binds_must_match_writes():
    p = plan([step("a", binds={"vars.X": "result.stdout"}, writes=["steps.a", "vars.Y"]),
              step("end", "end")], [("a", "end")])
    assert rules(p) == ["binds", "binds"]


def test_mutating_step_needs_an_approval_with_a_denial_path():
    bare = plan([step("a", mutating=True), step("end", "end")], [("a", "end")])
    assert rules(bare) == ["approval"]
    no_denial = plan([step("ok", "approve"), step("a", mutating=True), step("end", "end")],
                     [("ok", "a"), ("a", "end")])
    assert rules(no_denial) == ["approval"]
    gated = plan([step("ok", "approve"), step("a", mutating=True), step("end", "end"),
                  step("esc", "end", outcome="escalate")],
                 [("ok", "a"), ("ok", "esc", {"on": "failure", "kind": "error"}), ("a", "end")])
    assert check_plan(gated, known_plugins=PLUGINS) == []


def test_validate_plan_raises_the_first_problem_located():
    p = plan([step("a"), step("b", line=7), step("end", "end")], [("a", "b"), ("a", "end")])
    with pytest.raises(ValidationError) as exc:
        validate_plan(p, known_plugins=PLUGINS)
    assert str(exc.value).startswith("g.md:7 [step b]: ")


def test_parallel_groups_are_unconditional_fan_outs_not_branches():
    fan = plan([step("a"), step("b"), step("c"), step("end", "end")],
               [("a", "b"), ("a", "c"), ("b", "end"), ("c", "end")])
    assert parallel_groups(fan) == [["b", "c"]]
    branch = plan([step("d", "decide"), step("b"), step("c"), step("end", "end")],
                  [("d", "b", {"condition": Condition(text="if x"), "kind": "branch"}),
                   ("d", "c", {"condition": Condition(text="otherwise"), "kind": "else"}),
                   ("b", "end"), ("c", "end")])
    assert parallel_groups(branch) == []


def test_graphs_draw_every_step_and_edge():
    p = good()
    mermaid = to_mermaid(p)
    assert mermaid.startswith("flowchart TD") and mermaid.count("-->") == 2
    dot = to_dot(p)
    assert dot.count("->") == 2 and '"end" [shape=oval' in dot
