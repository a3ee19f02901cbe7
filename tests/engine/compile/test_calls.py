"""Linked guides: a call step compiles the guide it links to into the calling plan.

Guides in tests/fixtures/guides/calls: `parent.md` calls `backup.md` mapping one input from
the link and passing one through; `links.md` links to every kind of thing that is not a guide;
`self.md`, `ping.md` / `pong.md` and `via-ping.md` are cycles, direct and not.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.compile import compile_path
from engine.compile.lint import lint_path
from engine.errors import ValidationError
from engine.plan import Plan, StepKind

GUIDES = Path(__file__).parents[2] / "fixtures" / "guides" / "calls"
PLUGINS = {"shell", "bash", "prometheus", "sql", "http", "logs"}


def compile_(name: str, where: Path = GUIDES) -> Plan:
    return compile_path(where / name, known_plugins=PLUGINS)


def test_a_link_maps_inputs_from_its_query_and_passes_same_named_inputs_through():
    plan = compile_("parent.md")
    call = plan.step("backup")
    assert call.kind == StepKind.CALL
    assert call.params["inputs"] == {"label": "nightly-{{inputs.cluster}}",
                                     "cluster": "{{ inputs.cluster }}"}
    child = plan.calls[call.call or ""]
    assert child.title == "Take a backup"
    assert [i.name for i in child.inputs] == ["cluster", "label"]
    assert [s.id for s in child.steps if s.kind == StepKind.COMMAND] == ["say", "nodes"]


def test_the_child_plan_travels_in_the_plan_file_and_its_hash():
    plan = compile_("parent.md")
    again = Plan.from_json(plan.to_json())
    assert again == plan and again.content_hash() == plan.content_hash()
    assert json.loads(plan.to_json())["calls"]["backup"]["title"] == "Take a backup"
    # a plan that calls nothing has the JSON it had before calls existed
    assert "calls" not in json.loads(plan.calls["backup"].to_json())


def test_editing_the_linked_guide_changes_the_calling_plan(tmp_path: Path):
    for name in ("parent.md", "backup.md"):
        shutil.copy(GUIDES / name, tmp_path / name)
    before = compile_("parent.md", tmp_path)
    child = tmp_path / "backup.md"
    child.write_text(child.read_text().replace("echo 3", "echo 4"))
    after = compile_("parent.md", tmp_path)
    assert before.content_hash() != after.content_hash()
    assert after.calls["backup"].step("nodes").params["pipeline"] == [["echo", "4"]]


def test_a_link_passing_an_input_the_child_does_not_declare_is_refused_at_its_line():
    with pytest.raises(ValidationError) as caught:
        compile_("wrong-input.md")
    err = caught.value
    assert (Path(err.location.file or "").name, err.location.line) == ("wrong-input.md", 5)
    assert "input 'colour'" in err.message and "it takes: cluster, label" in err.message


def test_links_to_what_is_not_a_guide_stay_manual_steps():
    plan = compile_("links.md")
    kinds = {s.title: s.kind for s in plan.steps}
    assert plan.step("backup").kind == StepKind.CALL
    assert list(plan.calls) == ["backup"]
    manual = [s for s in plan.steps if s.kind == StepKind.MANUAL]
    # a URL, an image, a file that is not there, and prose that runs nothing
    assert len(manual) == 4, kinds
    assert all(s.call is None and not s.params for s in manual)
    assert any("architecture notes" in s.title for s in manual)


def test_lint_warns_of_a_link_to_a_missing_guide_and_only_of_that():
    found = [(f.rule, f.line, f.severity) for f in lint_path(GUIDES / "links.md")
             if f.rule in ("MF001", "MF207")]
    assert found == [("MF207", 8, "warning")]


def test_a_guide_calling_itself_is_refused_naming_the_link():
    with pytest.raises(ValidationError) as caught:
        compile_("self.md")
    err = caught.value
    assert err.location.line == 11
    assert err.message.startswith("guide cycle: ")
    assert "self.md:11 -> " in err.message and "\n" not in str(err)


def test_guides_calling_each_other_are_refused_with_the_chain_and_lines():
    with pytest.raises(ValidationError) as caught:
        compile_("ping.md")
    err = caught.value
    assert (Path(err.location.file or "").name, err.location.line) == ("ping.md", 11)
    chain = err.message.split(": a guide cannot")[0].removeprefix("guide cycle: ")
    assert [Path(part).name for part in chain.split(" -> ")] == [
        "ping.md:11", "pong.md:11", "ping.md"]


def test_a_guide_that_reaches_a_cycle_says_which_guide_does_not_compile():
    with pytest.raises(ValidationError) as caught:
        compile_("via-ping.md")
    err = caught.value
    assert (Path(err.location.file or "").name, err.location.line) == ("via-ping.md", 5)
    assert "ping.md does not compile" in err.message and "guide cycle" in err.message


@pytest.mark.parametrize("name, line", [("self.md", 11), ("ping.md", 11), ("pong.md", 11)])
def test_lint_reports_the_cycle_first_at_the_line_compile_refuses(name: str, line: int):
    findings = lint_path(GUIDES / name)
    first = findings[0]
    assert (first.rule, first.severity, first.line) == ("MF001", "error", line)
    assert "guide cycle" in first.message


def test_the_schema_says_what_calls_holds_and_a_model_is_not_shown_it():
    from engine.plan import plan_json_schema

    full = plan_json_schema()
    assert full["properties"]["calls"]["additionalProperties"] == {"$ref": "#/$defs/Plan"}
    assert "calls" not in plan_json_schema(calls=False)["properties"]
    assert "Plan" not in plan_json_schema(calls=False)["$defs"]


def test_a_plan_file_is_checked_down_to_the_plans_it_calls(tmp_path: Path):
    from engine.compile import check_plan

    data = json.loads(compile_("parent.md").to_json())
    for step in data["calls"]["backup"]["steps"]:
        if step["id"] == "say":  # a hand edit: a change with no approval, inside the child
            step.update(mutating=True, params={"pipeline": [["rm", "-rf", "/srv/backups"]]})
    problems = check_plan(Plan.model_validate(data), known_plugins=PLUGINS)
    assert [(Path(p.file or "").name, p.step) for p in problems] == [("backup.md", "say")]
    assert "no approval" in problems[0].message
    # a call whose guide the plan does not hold (a plan compiled before calls were bundled)
    data = json.loads(compile_("parent.md").to_json())
    del data["calls"]
    problems = check_plan(Plan.model_validate(data), known_plugins=PLUGINS)
    assert [(p.step, "not compiled into the plan" in p.message) for p in problems] == [
        ("backup", True)]


def test_a_link_to_a_section_of_the_guide_itself_is_no_call():
    # "Follow [X](this-guide.md#section)" points at a part of this guide (written with its own
    # file name, as rendered docs do): a reference, not a run of the guide inside itself
    plan = compile_("own-section.md")
    assert not [s for s in plan.steps if s.kind == "call"] and not plan.calls
    assert {"echo start", "echo mount"} <= {" ".join(s.params["pipeline"][0])
                                            for s in plan.steps if s.plugin == "shell"}
