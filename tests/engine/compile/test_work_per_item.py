"""How much work the compiler and the linter do per list item: counted, never timed.

A list of 20,000 items, each running a command, took 7-12 s to compile and 8-10 s to lint
(`bench/bench_compile.py`, target 2 s): not quadratic, but each item was read several times
over for the same answer. These tests count the readings on a small list, so that a change
that reads each item twice again fails here, on any machine; the timing stays in the bench.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from engine import placement
from engine.compile import compile_guide, phrases, shellwords
from engine.compile.lint import flow, lint_guide
from engine.guide import parse_guide
from engine.plan import Plan

PLUGINS = {"shell", "bash", "prometheus", "sql", "http", "logs"}
N = 40


def command_list(n: int) -> str:
    """n numbered items, each asking to run a read-only command; unique words every call,
    so that no reading is remembered from another test."""
    tag = uuid.uuid4().hex[:8]
    return "# T\n\n## Diagnosis\n\n" + "".join(
        f"{i + 1}. Check the pods of ns{tag}{i}: `kubectl get pods -n ns{tag}{i}`\n"
        for i in range(n))


def counted(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[object]:
    calls: list[object] = []
    real: Callable[..., Any] = getattr(owner, name)

    def spy(*args: Any, **kw: Any) -> Any:
        calls.append(args[0] if args else None)
        return real(*args, **kw)

    monkeypatch.setattr(owner, name, spy)
    return calls


def compiled(text: str) -> Plan:
    return compile_guide(parse_guide(text, path="g.md"), known_plugins=PLUGINS)


def test_each_command_line_is_split_into_words_once(monkeypatch):
    # Given a list whose items each run a command that could open a session (`kubectl`)
    splits = counted(monkeypatch, shellwords, "_split")
    plan = compiled(command_list(N))
    # Then each line is split once: asking whether it opens a session reuses the split
    assert sum(s.plugin == "shell" for s in plan.steps) == N
    assert len(splits) == N


def test_each_item_is_read_for_its_guard_once(monkeypatch):
    # Given items that open with no guard word (read for a trailing "if" too)
    readings = counted(monkeypatch, phrases, "_trailing_guard")
    compiled(command_list(N))
    # Then each item's text is read once, though it is asked with and without the fallback
    assert len(readings) == N


def test_a_step_with_no_template_is_not_searched_for_misplaced_values(monkeypatch):
    # Given commands written out in full (no {{ }} anywhere)
    sinks = counted(monkeypatch, placement, "argv_sinks")
    compiled(command_list(N))
    # Then no word's sink is worked out: a literal word places no value anywhere
    assert sinks == []


def test_lint_reads_guards_for_missing_steps_only_where_a_condition_can_name_one(monkeypatch):
    # Given a list whose items hold commands but no `steps.x` / `inputs.x` code, and one
    # paragraph whose condition reads a step the guide does not have
    guide = parse_guide(command_list(N) + "\n\nIf `steps.nosuch.stdout == 'x'`, escalate.\n",
                        path="g.md")
    readings = counted(monkeypatch, flow, "guard_in")
    findings = lint_guide(guide)
    # Then only the paragraph that reads a step is read for its guard, and still reported
    assert len(readings) == 1
    assert [f.rule for f in findings if f.rule == "MF206"] == ["MF206"]


def test_a_list_of_cases_is_judged_once_not_once_per_case(monkeypatch):
    # Given a list of n cases written "condition: what to do" (4,000 took minutes: each case
    # judged the whole list again)
    tag = uuid.uuid4().hex[:8]
    text = "# T\n\n## Diagnosis\n\nCheck: `df -h`\n\n" + "".join(
        f"- Usage of v{tag}{i} above {i}%: escalate to team {i}.\n" for i in range(N))
    readings = counted(monkeypatch, phrases, "colon_case")
    compiled(text)
    # Then each case is read a bounded number of times (its own reading, and the list's
    # two, once), not once per case of its list
    assert len(readings) <= 4 * N


def test_a_tables_words_are_read_once_for_its_rows(monkeypatch):
    # Given a flow table of n rows, each a command step (each asked whether its words let it
    # fail, which read the whole table's text again: 2,000 rows took 40 s)
    tag = uuid.uuid4().hex[:8]
    text = "# T\n\n## Procedure\n\n| Step | Action | If OK | If not OK |\n|---|---|---|---|\n" + \
        "".join(f"| {i + 1} | Check `df -h /v{tag}{i}` | Continue | Escalate to team {i} |\n"
                for i in range(N))
    from engine.compile import wiring
    readings = counted(monkeypatch, wiring, "may_fail")
    compiled(text)
    # Then the table's words are read once, not once per row
    assert sum(1 for r in readings if isinstance(r, str) and "If not OK" in r) <= 1


@pytest.mark.parametrize("rx", [phrases._GUARD_WORD, phrases._ESCALATE,
                                *(rx for _, rx in phrases._OUTCOMES)],
                         ids=["guard", "escalate", *(o for o, _ in phrases._OUTCOMES)])
def test_a_caseless_pattern_answers_as_its_ignorecase_form(rx):
    twin = phrases._Caseless(rx)
    texts = ["IF the disk is full", "Otherwise, ESCALATE to the DBA team", "When", "whenever",
             "Escalation policy", "Contact SUPPORT", "iF", "ſe", "Если нет", "Page The On-Call",
             "the service answers", "Sonst: Eskalieren", "KIf", "If\u0130", "\u212aif", "",
             "No Action Is Needed.", "The issue IS MITIGATED", "Mark The Alert Resolved",
             "Stop, and Tell the release team", "Open a Support Ticket"]
    for text in texts:
        assert twin.occurs(text) == (rx.search(text) is not None), text


def test_a_pattern_naming_an_upper_case_letter_has_no_caseless_twin():
    with pytest.raises(ValueError):
        phrases._Caseless(re.compile(r"\bIf\b", re.I))
    twin = phrases._Caseless(re.compile(r"\Bif\b", re.I))  # an escape is not a letter
    assert twin.occurs("XIF") is True
    assert twin.occurs("IF") is False


def test_a_pattern_turning_case_back_on_has_no_caseless_twin():
    # `(?-i:[a-z]+)` refuses "Team": on the lower-cased text it would match "team"
    with pytest.raises(ValueError):
        phrases._Caseless(re.compile(r"\bopen a ticket to (?-i:[a-z]+)\b", re.I))
