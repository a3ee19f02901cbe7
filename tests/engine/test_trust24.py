r"""Trust, session 24: query text, a policy's globs, and reads that print what they were not asked.

1. A value in the PromQL text of `promtool query instant|range|series` or the LogQL text of
   `logcli query` was an ordinary argument: an alert label holding `"` (`x"} or vector(1) or
   up{a="`) rewrote the query, while the prometheus plugin's own query keeps each value in its
   place (`engine.promql`). Their query text is query text now: inside a quoted string a value
   holds neither that quote nor a backslash, elsewhere it is one number or duration.
"""

from __future__ import annotations

import pytest

from engine.placement import rendered_problem

# -- 1. a value in promtool's or logcli's query text ----------------------------------------------

_URL = "http://prom:9090"


def _query_problem(template: list[str], values: dict[str, str]) -> str | None:
    rendered = list(template)
    for name, value in values.items():
        rendered = [w.replace("{{ inputs.%s }}" % name, value) for w in rendered]
    return rendered_problem("shell", {"pipeline": [template]}, {"pipeline": [rendered]},
                            {"inputs": values})


_QUERY_LINES = [
    ["promtool", "query", "instant", _URL, "{q}"],
    ["promtool", "query", "range", "--start=now-1h", "--step", "1m", _URL, "{q}"],
    ["promtool", "query", "series", "--match", "{q}", _URL],
    ["logcli", "query", "--limit", "100", "{q}"], ["logcli", "query", "{q}", "--since=1h"],
    ["logcli", "instant-query", "{q}"],
]


@pytest.mark.parametrize("argv", _QUERY_LINES)
@pytest.mark.parametrize(("value", "refused"), [
    ('x"} or vector(1) or up{a="', True), ("x\\", True), ("node-7", False),
    ("10.0.0.1:9100", False),
])
def test_a_value_in_promql_or_logql_text_stays_in_its_string(argv: list[str], value: str,
                                                             refused: bool) -> None:
    template = [w.replace("{q}", 'up{instance="{{ inputs.v }}"}') for w in argv]
    problem = _query_problem(template, {"v": value})
    assert (problem is not None) == refused, problem
    assert problem is None or "\n" not in problem


@pytest.mark.parametrize(("value", "refused"), [
    ("0 or vector(1)", True), ("up", True), ("0.9", False), ("5m", False),
])
def test_a_value_outside_a_querys_strings_is_one_number_or_duration(value: str,
                                                                   refused: bool) -> None:
    template = ["promtool", "query", "instant", _URL, "rate(x[5m]) > {{ inputs.v }}"]
    problem = _query_problem(template, {"v": value})
    assert (problem is not None) == refused, problem


def test_promtools_url_and_flags_are_not_query_text() -> None:
    template = ["promtool", "query", "instant", "--time={{ inputs.t }}", _URL, "up"]
    assert _query_problem(template, {"t": "2026-12-05T10:00:00Z"}) is None
