"""The words a pattern's every match holds: a cheap test before a costly search.

The compiler asks a few large caseless patterns (an escalation in forty phrasings, the run's
outcomes) of every item and paragraph; each search tries every alternative at every position
of the text, though most texts hold none of the words any alternative needs. `needed_words`
reads the pattern's syntax tree once and names a set of words such that any text the pattern
matches holds at least one of them: where a text holds none, the answer is no, unasked.

The claim is only made where it is certain (a part it cannot read, such as a character class or
an optional group, makes no claim), and only for ASCII text folded to lower case, the only text
`phrases._Caseless` asks it of: a pattern's letter that folds to an ASCII one under IGNORECASE
(`ſ` to `s`, the Kelvin sign to `k`) is no word, and one that cannot match ASCII text at all
(a Chinese phrasing's characters) rules its alternative out."""

from __future__ import annotations

import re
from re import _constants as C  # type: ignore[attr-defined]  # the parser `re` itself uses
from re import _parser as _sre_parse  # type: ignore[attr-defined]
from typing import Any

Words = frozenset[str] | None  # None: no claim; empty: cannot match ASCII text

_ASCII = [chr(i) for i in range(128)]


# A word shorter than this is in most texts (`if`, `log`, ` and `): asking for it costs more
# than the search it would spare.
_TELLING = 4


def needed_words(rx: re.Pattern[str]) -> Words:
    """Lower-case words one of which occurs in any ASCII text, folded to lower case, that
    `rx` (a lower-case IGNORECASE pattern) matches; None where no such set is certain, or
    where some of its words are too short to tell texts apart."""
    words = _sequence(list(_sre_parse.parse(rx.pattern, rx.flags)))
    if not words:
        return words
    if any(len(w.strip()) < _TELLING for w in words):
        return None
    # a word holding another is found only where that one is: asking it adds nothing
    return frozenset(w for w in words if not any(o != w and o in w for o in words))


def _sequence(items: list[tuple[Any, Any]]) -> Words:
    claims: list[frozenset[str]] = []
    run: list[str] = []
    for op, av in items:
        char = _ascii_literal(op, av)
        if char is not None:
            run.append(char)
            continue
        if run and op is C.BRANCH and (leads := _leads(av[1])) is not None:
            # `(?:reboot|reset)` is parsed as "re" then "boot" or "set": the words are whole
            claims.append(frozenset("".join(run) + lead for lead in leads))
        if run:
            claims.append(frozenset({"".join(run)}))
            run = []
        words = _item(op, av)
        if words is not None:
            claims.append(words)
    if run:
        claims.append(frozenset({"".join(run)}))
    if not claims:
        return None
    if any(not words for words in claims):
        return frozenset()
    # the most telling: the shortest of its words longest, then the fewest words
    return max(claims, key=lambda words: (min(map(len, words)), -len(words)))


def _leads(branches: list[Any]) -> list[str] | None:
    """Each branch's opening literal letters (none is ""), if every branch's are certain."""
    leads = []
    for branch in branches:
        lead = []
        for op, av in branch:
            char = _ascii_literal(op, av)
            if char is None:
                break
            lead.append(char)
        leads.append("".join(lead))
    return leads


def folds_to_ascii(char: str) -> bool:
    """Whether a letter beyond ASCII matches an ASCII one under IGNORECASE (`ſ`, `ı`, the
    Kelvin sign)."""
    return not char.isascii() and any(re.fullmatch(re.escape(char), a, re.I) for a in _ASCII)


def _ascii_literal(op: Any, av: Any) -> str | None:
    if op is C.LITERAL and av < 128:
        return chr(av).lower()
    return None


def _item(op: Any, av: Any) -> Words:
    if op is C.LITERAL:  # a letter beyond ASCII
        return None if folds_to_ascii(chr(av)) else frozenset()
    if op is C.SUBPATTERN:
        return _sequence(list(av[-1]))
    if op is C.ATOMIC_GROUP:
        return _sequence(list(av))
    if op in (C.MAX_REPEAT, C.MIN_REPEAT, getattr(C, "POSSESSIVE_REPEAT", None)):
        low, _, body = av
        return _sequence(list(body)) if low >= 1 else None
    if op is C.ASSERT:  # what a lookaround needs is in the text too
        return _sequence(list(av[1]))
    if op is C.BRANCH:
        union: set[str] = set()
        for branch in av[1]:
            words = _sequence(list(branch))
            if words is None:
                return None
            union |= words
        return frozenset(union)
    return None
