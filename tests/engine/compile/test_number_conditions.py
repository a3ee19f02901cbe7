"""A number a guide says the output should show is compared with the numbers in the output,
never looked for as text inside it: "If it returns `0`, no action is needed" read `"0" in
stdout` before, so a count of 150 (which holds a "0") ended the run `no_action`, and a
`200` was found in "Content-Length: 12004". A bare number ("If it prints 0", "If the count is
0") is read the same way; before, it was a question for a person."""

from __future__ import annotations

import pytest

from engine.compile.phrases import derive_condition
from engine.templating import evaluate


def _holds(condition: str, stdout: str) -> bool:
    kind, expr = derive_condition(condition, "count")
    assert kind == "expr" and expr is not None, condition
    return evaluate(expr, {"steps": {"count": {"stdout": stdout}}})


@pytest.mark.parametrize("condition", [
    "If it returns `0`", "If the output is `0`", "If it prints `0`", "If it prints 0",
    "If the count is 0", "If the command returns 0",
])
def test_zero_is_the_number_zero(condition):
    assert _holds(condition, "0\n")
    assert _holds(condition, "errors: 0\n")
    assert not _holds(condition, "150\n")
    assert not _holds(condition, "10.5\n")


def test_a_status_code_is_not_found_inside_a_longer_number():
    condition = "If the health check does not return `200`"
    assert not _holds(condition, "HTTP/1.1 200 OK\nContent-Length: 12004\n")
    assert _holds(condition, "HTTP/1.1 503 Service Unavailable\nContent-Length: 12004\n")


def test_a_negated_bare_number():
    assert _holds("If it does not print 0", "3\n")
    assert not _holds("If it does not print 0", "0\n")


@pytest.mark.parametrize("condition", [
    "If it returns 1 or more", "If the disk usage is 90", "If it prints more than 100",
])
def test_a_number_that_is_not_the_whole_answer_stays_a_judgment(condition):
    assert derive_condition(condition, "count") == ("expr", None)


def test_words_are_still_looked_for_in_the_text():
    assert _holds("If the status is `Running`", "web-0   1/1   Running   0   5m\n")
