"""The words a caseless pattern's every match holds (engine.compile.prefilter): a claim made
only where it is certain, so that a text holding none of them is answered no unasked."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.compile import phrases
from engine.compile.prefilter import needed_words

ROOT = Path(__file__).resolve().parents[3]


def words(pattern: str) -> frozenset[str] | None:
    return needed_words(re.compile(pattern, re.I))


def test_a_literal_run_is_a_word_and_an_alternation_the_words_of_its_branches():
    assert words(r"\bno action (?:is )?needed\b") == {"no action "}
    assert words(r"\b(?:escalate|page the dba)\b") == {"escalate", "page the dba"}


def test_a_part_that_may_be_absent_or_is_a_class_makes_no_claim():
    assert words(r"(?:rollback)?[a-z]+ing") is None
    assert words(r"\brestart\w*|(?:undo)?\s") is None  # one branch claims nothing: none does


def test_the_most_telling_part_of_a_sequence_is_claimed():
    # "stop" and "on-call" are both needed; the longer tells more texts apart
    assert words(r"stop,? and (?:page|call) the on-call") == {" the on-call"}


def test_a_lookaround_needs_its_words_in_the_text_too():
    assert words(r"(?<=\bplease )(?:reboot|reset)") == {"please "}
    assert words(r"(?<!\bnot )(?:reboot|reset)") == {"reboot", "reset"}
    assert words(r"(?:reboot|reset)") == {"reboot", "reset"}  # (parsed as "re" then a branch)


def test_words_too_short_to_tell_texts_apart_are_no_claim():
    assert words(r"\b(?:if|when)\b") is None
    assert words(r"\b(?:log|raise) an? (?:p1|sev)") is None  # "log" is in "login", "catalog"


def test_a_letter_beyond_ascii_rules_its_branch_out_unless_it_folds_to_ascii():
    # a Chinese phrasing cannot match ASCII text: its branch claims nothing to look for
    assert words(r"升级|escalate") == {"escalate"}
    # the long s folds to "s" under IGNORECASE, and the Kelvin sign to "k": no claim of them
    assert words("\u017ftop here") == {"top here"}  # the letters after it are still needed
    assert words("\u017f|stop") is None and words("\u212a|kill") is None
    # and such a letter has no caseless twin: on the folded text, it would not match "s"
    with pytest.raises(ValueError):
        phrases._Caseless(re.compile("\u017ftop here", re.I))


CASELESS = [phrases._ESCALATES, phrases._GUARD_WORDS, *(c for _, c in phrases._OUTCOMES_SAID)]


def _texts() -> list[str]:
    out = []
    for path in sorted((ROOT / "tests" / "fixtures").rglob("*.md")) + sorted(
            (ROOT / "guides").rglob("*.md")):
        out += [p for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    return out


def test_each_caseless_pattern_answers_as_its_ignorecase_form_on_every_fixture_paragraph():
    texts = _texts()
    assert len(texts) > 1000
    for caseless in CASELESS:
        for text in texts:
            assert caseless.occurs(text) == (caseless.rx.search(text) is not None), text[:80]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(CASELESS), st.lists(st.sampled_from(
    ["escalate", "to the", "no action", "is needed", "the issue is", "mitigated", "resolved",
     "page", "on-call", "dba", "If", "otherwise", ",", ".", " ", "STOP", "and", "tell", "team",
     "this is the root cause", "Do nothing.", "close the incident", "production", "call",
     "maintenance", "open a ticket", "x"]), max_size=12))
def test_a_text_made_of_the_patterns_words_is_answered_as_the_pattern_does(caseless, parts):
    text = " ".join(parts)
    assert caseless.occurs(text) == (caseless.rx.search(text) is not None)
