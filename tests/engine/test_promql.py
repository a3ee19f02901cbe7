"""PromQL templates: each value gets the filter for where it sits, or no value may sit there."""

from __future__ import annotations

import pytest

from engine import promql, templating
from engine.errors import TemplateError


def render(template: str, value: object) -> str:
    return templating.render(promql.guard(template), {"inputs": {"v": value}})


@pytest.mark.parametrize("template, value, expected", [
    ('up{job="{{ inputs.v }}"}', 'a"b\\c\nd', 'up{job="a\\"b\\\\c\\nd"}'),
    ("up{job='{{ inputs.v }}'}", "it's", "up{job='it\\'s'}"),
    ("up{job=`{{ inputs.v }}`}", 'a"b\\c', 'up{job=`a"b\\c`}'),
    ('up{job=~"api-{{ inputs.v }}.*"}', ".+", 'up{job=~"api-\\\\.\\\\+.*"}'),
    ("up{job!~`{{ inputs.v }}`}", "a|b", "up{job!~`a\\|b`}"),
    ("rate(x[{{ inputs.v }}])", "1h30m", "rate(x[1h30m])"),
    ("max_over_time(x[1h:{{ inputs.v }}])", "5m", "max_over_time(x[1h:5m])"),
    ("x offset {{ inputs.v }}", "-5m", "x offset -5m"),
    ("topk({{ inputs.v }}, x)", 3, "topk(3, x)"),
    ("x > {{ inputs.v }}", "-0.5", "x > (-0.5)"),
    ("x @ {{ inputs.v }}", "1700000000", "x @ 1700000000"),
])
def test_each_position_writes_the_value_its_own_way(template, value, expected):
    assert render(template, value) == expected


@pytest.mark.parametrize("template", [
    'up{job="{{ inputs.v | promql }}"}',             # a plan compiled before positions
    "up{job=\"{{ (inputs.v) | promql('label') }}\"}",  # already guarded
    "up{job=\"{{ (inputs.v) | promql('number') }}\"}",  # the wrong position: replaced
])
def test_guarding_is_idempotent_and_the_position_decides(template):
    guarded = promql.guard(template)
    assert guarded == "up{job=\"{{ (inputs.v) | promql('label') }}\"}"
    assert promql.guard(guarded) == guarded


def test_literal_braces_written_for_jinja_stay_literal():
    # What the compiler writes for `{` before a value, and for a Go template in a string
    template = ("up{{ '{' }}job=\"{{ inputs.v }}\", x=\"{{ '{{' }} $labels.y }}\"}")
    assert render(template, "a") == 'up{job="a", x="{{ $labels.y }}"}'


@pytest.mark.parametrize("template, why", [
    ('{{ inputs.v }}{job="a"}', "metric or function name"),
    ("sum without ({{ inputs.v }}) (x)", "label list"),
    ('count_values("{{ inputs.v }}", x)', "not a label matcher"),
    ("x # {{ inputs.v }}", "comment"),
    ('x{ {{ inputs.v }}="a"}', "label name"),
    ("{% if inputs.v %}up{% endif %}", "statements"),
])
def test_a_value_where_none_may_sit_is_refused(template, why):
    with pytest.raises(TemplateError, match=why):
        promql.guard(template)


def test_a_raw_string_cannot_hold_a_backtick():
    with pytest.raises(TemplateError, match="backtick"):
        render("up{job=`{{ inputs.v }}`}", "a` or vector(1) #")


def test_the_filter_without_a_position_refuses():
    with pytest.raises(TemplateError, match="needs the value's position"):
        templating.render("{{ inputs.v | promql }}", {"inputs": {"v": "x"}})


@pytest.mark.parametrize(("query", "problem"), [
    ('sum(rate(x_total{job="{{ inputs.job }}"}[{{ inputs.window }}])) by (pod) '
     '> {{ inputs.limit }}', None),  # each value written as a sample of its position
    ('up{job=~"{{ inputs.job }}"} offset {{ inputs.ago }}', None),
    ("sum(rate(x_total[5m]) by (", "unclosed left parenthesis"),
    ("rate(x_total[5m]) offset 1h", "offset modifier"),  # Prometheus refuses it too
    ("rate(x[2m])\n``\nIf it is over 90%, drain.", "unexpected character"),
])
def test_a_query_is_parsed_as_prometheus_reads_it(query: str, problem: str | None) -> None:
    found = promql.syntax_problem(query)
    assert found == problem if problem is None else problem in (found or "")
