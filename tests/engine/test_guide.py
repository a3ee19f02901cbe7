"""Reading guides: front matter is checked as a person wrote it, and every fault is one located
line that says what to write instead (never a traceback, never a silently wrong plan)."""

from __future__ import annotations

import pytest

from engine.errors import GuideError
from engine.guide import parse_guide

BODY = "# T\n\n## Diagnosis\n\n1. Check the pods:\n\n   ```bash\n   kubectl get pods\n   ```\n"


def front_error(front: str, fence: str = "---") -> GuideError:
    with pytest.raises(GuideError) as info:
        parse_guide(f"{fence}\n{front}\n{fence}\n{BODY}", path="g.md")
    err = info.value
    assert err.location.file == "g.md" and err.location.line is not None, str(err)
    assert "\n" not in str(err), f"not one line: {err!s}"
    assert err.hint, str(err)
    return err


@pytest.mark.parametrize("name", ["a b", "1abc", "a-b", "", "ns.name", "é"])
def test_an_input_name_that_is_not_an_identifier_is_a_located_error_saying_what_to_write(name):
    # Given an input whose name cannot be written as {{ inputs.NAME }} (the fuzzer's 'a b')
    err = front_error(f"title: T\ninputs:\n  - name: x\n  - name: '{name}'\n    type: string")
    # Then the error points at that input's line and says what a name may hold
    assert err.location.line == 5
    assert "name" in err.message and "letters, digits" in str(err)


def test_two_inputs_with_one_name_are_a_located_error():
    err = front_error("inputs:\n  - name: ns\n  - name: pod\n  - name: ns\n    default: x")
    assert err.location.line == 5
    assert "'ns'" in err.message and "twice" in err.message


@pytest.mark.parametrize(("kind", "default"), [
    ("integer", "abc"), ("integer", "1.5"), ("integer", "true"), ("number", "fast"),
    ("boolean", "3"), ("boolean", "maybe"),
])
def test_a_default_of_the_wrong_type_is_a_located_error(kind, default):
    err = front_error(f"inputs:\n  - name: x\n    type: {kind}\n    default: {default}")
    assert err.location.line in (3, 4, 5)
    assert kind in err.message and "default" in err.message


@pytest.mark.parametrize(("kind", "default", "value"), [
    ("integer", "90", 90), ("number", "0.5", 0.5), ("number", "3", 3), ("boolean", "false", False),
    ("string", "web", "web"),
])
def test_a_default_of_the_right_type_is_kept(kind, default, value):
    guide = parse_guide(f"---\ninputs:\n  - name: x\n    type: {kind}\n    default: {default}\n"
                        f"---\n{BODY}", path="g.md")
    assert guide.front.inputs[0].default == value


def test_an_unknown_input_type_is_a_located_error_listing_the_types():
    err = front_error("inputs:\n  - name: x\n    type: int")
    assert err.location.line == 4
    assert "integer" in str(err)


def test_an_input_written_as_a_bare_word_is_a_located_error():
    err = front_error("title: T\ninputs: [ns, {name: pod}]")
    assert err.location.line == 3


@pytest.mark.parametrize("fence, front", [
    ("---", "x: " + "[" * 3000),
    ("---", "x: " + "[" * 3000 + "]" * 3000),
    ("---", "x: " + "{a: " * 2000 + "}" * 2000),
    ("+++", "x = " + "[" * 3000 + "]" * 3000),
    ("+++", "x = " + "{a = " * 2000 + "}" * 2000),
])
def test_front_matter_nested_too_deep_is_a_located_error_not_a_recursion_crash(fence, front):
    err = front_error(front, fence)
    assert "deep" in err.message


def test_yaml_aliases_are_refused_they_can_expand_exponentially():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{b}: &{b} [{', '.join(['*' + a] * 9)}]\n" for a, b in zip("abcdefg", "bcdefgh"))
    err = front_error(bomb)
    assert "alias" in err.message and err.location.line == 3


def test_a_control_character_in_front_matter_is_a_located_error():
    """A terminal colour code pasted into the front matter (`\x1b[31m`): PyYAML's reader
    refuses it as it is built, before the parse that turned its errors into the guide's; it
    was a "compiler bug" (found by the fuzz test)."""
    err = front_error("\x1b[31mid: cable-routing\ntitle: T")
    assert "control character" in err.message and err.location.line == 2


def test_a_non_string_key_is_a_located_error():
    err = front_error("title: T\nweight:\n  1: 2")
    assert err.location.line == 4 and "key" in err.message


def test_dates_stay_the_text_the_author_wrote():
    guide = parse_guide(f"---\nid: 2024-01-31\ndate: 2024-01-31T10:00:00Z\n---\n{BODY}",
                        path="g.md")
    assert guide.id == "2024-01-31"


def test_load_yaml_locates_errors_from_the_line_the_text_starts_on():
    from engine.guide import load_yaml

    with pytest.raises(GuideError) as info:
        load_yaml("a: 1\nb: [*x]\n", file="g.md", line=10)
    assert info.value.location.line == 11


@pytest.mark.parametrize("text", ["# T {#Disk}\n\nx\n", "1. Check {#Disk_Usage}:\n"])
def test_a_step_name_keeps_its_anchor_and_names_the_step_in_lower_case(text):
    guide = parse_guide(text, path="g.md")
    named = [e for e in guide.elements if e.name]
    assert named and named[0].name == named[0].name.lower()
    assert named[0].anchor is None or named[0].anchor.lower() == named[0].name


def test_a_step_name_that_cannot_be_a_step_id_is_a_located_error():
    with pytest.raises(GuideError) as info:
        parse_guide("# T\n\n1. Check the disk {#_disk}\n", path="g.md")
    assert info.value.location.line == 3
    assert "{#_disk}" in str(info.value)
