"""Plan steps judged by plugin: shell by its pipeline, sql by its text, http by its method,
actions by `call`, other plugins by what their class declares."""

from __future__ import annotations

from engine.effects import step_verdict


def test_shell_steps_by_their_rendered_pipeline_with_templated_words_marked():
    assert step_verdict("shell", {"pipeline": [["df", "-h"]]}).read
    assert not step_verdict("shell", {"pipeline": [["rm", "-rf", "x"]]}).read
    rendered = {"pipeline": [["sed", "-n", "1p;w /tmp/x", "f"]]}
    plan = {"pipeline": [["sed", "-n", "{{ inputs.expr }}", "f"]]}
    verdict = step_verdict("shell", rendered, plan_params=plan)
    assert verdict.effect == "mutate" and "comes from a value" in verdict.reason


def test_escaped_literal_braces_are_the_guides_text_not_a_value():
    # `sed 's/{{x}}/y/'` in a guide: the compiler escapes the braces so they render as written
    plan = {"pipeline": [["sed", "s/{{ '{{' }}x}}/y/", "f"]]}
    assert step_verdict("shell", {"pipeline": [["sed", "s/{{x}}/y/", "f"]]},
                        plan_params=plan).read


def test_a_shell_step_that_sets_the_environment_is_not_read_only():
    verdict = step_verdict("shell", {"pipeline": [["ls"]], "env": {"LD_PRELOAD": "/x.so"}})
    assert verdict.effect == "mutate" and "LD_PRELOAD" in verdict.reason


def test_sql_http_calls_and_declared_plugins():
    assert step_verdict("sql", {"query": "SELECT 1"}).read
    assert not step_verdict("sql", {"query": "DELETE FROM t"}).read
    assert not step_verdict("sql", {"query": "SELECT 1", "read_only": False}).read
    assert step_verdict("http", {"url": "http://x", "method": "GET"}).read
    assert not step_verdict("http", {"url": "http://x", "method": "DELETE"}).read
    assert not step_verdict("opcua", {"call": "Abort"}, fields={"call", "read"}).read
    assert step_verdict("opcua", {"read": ["State"]}, declared_read_only=False,
                        fields={"call", "read"}).read
    assert step_verdict("prometheus", {"query": "up"}, declared_read_only=True).read
    declared = step_verdict("robotarm", {"pose": 1}, declared_read_only=False)
    assert declared.effect == "mutate" and "declares" in declared.reason
