"""Rules MF1xx, clarity and precision: vague thresholds, pronoun subjects, passive
instructions, checks that say neither how nor what to look for."""

from __future__ import annotations

import re
from collections.abc import Iterator

from engine.compile.lint.base import (
    Context,
    _clip,
    is_step,
    rule,
    sentences,
)
from engine.compile.phrases import may_hold
from engine.guide import Element

# -- 1. clarity and precision ---------------------------------------------------------------

_VAGUE = re.compile(
    r"\b(high(er)?|low(er)?|too (many|much|few|long|high|low|slow)|a lot of|lots of|large|huge"
    r"|slow(ly)?|recently|excessive(ly)?|elevated|significant(ly)?)\b", re.I)
_DECISION = re.compile(r"\W*(?:if|when|whenever|unless|once)\b(.*?)(?:,|\bthen\b|:|$)", re.I)
"""The condition clause of a decision sentence: 'If <clause>, do ...'."""


def _may_decide(text: str) -> bool:
    """Whether a sentence of `text` may open as `_DECISION` does (holds one of its words)."""
    return may_hold(text, "if", "when", "unless", "once")


@rule(("MF101", "clarity", "warning",
        "A condition uses a vague quantity ('high', 'too many', 'slow') with no number."))
def vague_threshold(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    for el in ctx.elements:
        if not is_step(ctx, el) or not _may_decide(el.text):
            continue
        for sent in sentences(el.text):
            cond = _DECISION.match(sent)
            if not cond or re.search(r"\d|`|\balert\b", cond.group(1), re.I):
                continue
            m = _VAGUE.search(cond.group(1))
            if m:
                word = m.group(0)
                yield ("MF101", el, f"condition uses '{word}' with no threshold: "
                       f"\"{_clip(sent)}\"",
                       f"Say the number that counts as '{word}' (e.g. 'above 90% for 5m', "
                       f"'more than 3 restarts in 10m') so the decision is the same for everyone")
                break


_PRONOUN_SUBJECT = re.compile(
    r"^(It|They|This|That|These|Those)\s+(should|must|needs? to|has to|have to)\b")


@rule(("MF102", "clarity", "info", "A step's subject is a pronoun ('It should be ...')."))
def pronoun_subject(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    for el in ctx.elements:
        if el.kind == "list_item" and is_step(ctx, el):
            m = _PRONOUN_SUBJECT.match(el.text)
            if m:
                yield ("MF102", el, f"step starts with the pronoun '{m.group(1)}': "
                       f"\"{_clip(el.text)}\"",
                       f"Name the thing instead of '{m.group(1)}' (e.g. 'The virt-handler pod "
                       f"should ...'): a step may be read on its own")


_PASSIVE = re.compile(
    r"\b(should|must|needs? to|has to|have to) be (checked|verified|validated|investigated"
    r"|reviewed|inspected|examined|monitored|restarted|fixed|resolved|looked at|analy[sz]ed"
    r"|confirmed|adjusted|increased|cleaned up|removed|deleted|updated)\b(?![^.]*\bby\b)", re.I)


@rule(("MF103", "clarity", "warning",
        "Passive instruction ('should be checked') with no actor and no how."))
def passive_instruction(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    for el in ctx.elements:
        if not is_step(ctx, el) or el.inline_code or el.links or ctx.has_body(el):
            continue
        m = _PASSIVE.search(el.text)
        if m:
            yield ("MF103", el, f"'{m.group(0)}' says neither who does it nor how",
                   f"Write it as an instruction with the command or tool, e.g. 'Run `...` and "
                   f"check that ...' instead of '{m.group(0)}'")


_CHECK_VERB = re.compile(r"^(check|verify|inspect|investigate|review|examine|look at|look into"
                         r"|confirm|validate)\b", re.I)
_WHAT_OR_HOW = re.compile(
    r"\b(for|whether|if|that|to see|to ensure|to make sure|to confirm|is|are|has|have|shows?"
    r"|contains?|match(es)?|equals?|should|must|using|via|with|in|on|from|at|by)\b", re.I)


@rule(("MF104", "clarity", "warning",
        "A 'check X' step gives no command, no query and nothing to look for."))
def bare_check(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    for el in ctx.elements:
        if not is_step(ctx, el) or el.inline_code or el.links or ctx.has_body(el):
            continue
        text = el.text.strip()
        m = _CHECK_VERB.match(text)
        if not m or text.endswith(":") or _WHAT_OR_HOW.search(text[m.end():]):
            continue
        yield ("MF104", el, f"\"{_clip(text)}\" gives no command, query or thing to look for",
               "Add the command or query in a code block and say what a bad result looks "
               "like, e.g. 'Run `kubectl get pods -n ...` and look for pods not Ready'")
