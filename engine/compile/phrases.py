"""The guide's words that shape control flow: sections, guards, jumps, escalation.

This module owns the phrase rules, all deterministic and offline: which headings hold actions
(Diagnosis, Mitigation) and which are only context (Meaning, Impact, Notes), which sentences
guard what follows ("If ...", "When ...", "Otherwise ..."), which are jumps ("skip to
[Mitigation](#mitigation)", "go to step 4"), which send the run to a person ("open a support
case"), and the few conditions whose expression can be derived from the data ("if the output
is empty"). Anything else is a judgment: a condition with no expression.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, TypeVar

from engine.compile.prefilter import folds_to_ascii, needed_words
from engine.effects.names import KNOWN_CLIS
from engine.errors import MendflowError
from engine.templating import WORD, references

T = TypeVar("T")

SectionClass = Literal["info", "diag", "mit", "step", "cleanup"]


class _Caseless:
    """A case-insensitive pattern whose only question is whether it occurs, asked of every
    item and paragraph: on ASCII text (nearly all of it), the lower-cased text is searched
    with the pattern compiled without IGNORECASE, several times faster and the same answer
    (ASCII case-folds only A-Z to a-z, positions and word boundaries kept, and the pattern
    names no upper-case letter; Unicode text is searched as before)."""

    def __init__(self, rx: re.Pattern[str]) -> None:
        # (a group that turns case back on, `(?-i:[a-z]+)`, would match upper case folded; a
        # letter that folds to an ASCII one, `ſ` to "s", would no longer match it)
        if not rx.flags & re.I or re.search(r"[A-Z]", re.sub(r"\\.", "", rx.pattern)) or \
                "(?-i" in rx.pattern or any(map(folds_to_ascii, rx.pattern)):
            raise ValueError(f"not a lower-case IGNORECASE pattern: {rx.pattern[:40]}")
        self.rx = rx
        self.lower = re.compile(rx.pattern, rx.flags & ~re.I)
        self.words = needed_words(rx)

    def occurs(self, text: str) -> bool:
        if text.isascii():
            low = text.lower()
            if self.words is not None and not any(word in low for word in self.words):
                return False  # (most texts: none of the words any of its phrasings needs)
            return self.lower.search(low) is not None
        return self.rx.search(text) is not None

def may_hold(text: str, *words: str) -> bool:
    """Whether `text`, read without case, may hold one of `words` (lower-case): a cheap
    prefilter before a costly caseless pattern. ASCII text folds case only in A-Z, so it holds
    a word only if its lower-cased form does; other text is always passed on to be read."""
    if not text.isascii():
        return True
    low = text.lower()
    return any(word in low for word in words)


# Only an explicit "always" makes a clean-up section: a plain "Cleanup" heading in a how-to is
# the procedure's last step, and must keep its approval gates.
_CLEANUP = re.compile(r"^(?:always|finally)\b|\(always\)|\balways runs?\b", re.I)

_INFO = re.compile(
    r"^(?:meaning|impact|overview|introduction|symptoms?|see also|further reading|glossary|faq|"
    r"changelog|prerequisites?|table of contents|toc|alert details?|useful links|"
    # "Possible causes" lists what may be wrong; what to check or do comes under its own heading
    r"(?:(?:possible|likely|common|potential|probable|known)\s+(?:root\s+)?)?causes?"
    r"(?=\s*(?:$|[:(]))|"
    # "What is Redis?" describes; "What is causing Redis to slow down?" asks what to check
    r"what is(?!\s+(?:causing|wrong|happening|slowing|using|consuming|blocking)\b))\b"
    # A noun that names what a section describes ("Services", "Monitoring & alerting",
    # "Links:") only when it is the heading's subject, not the first word of a phrase about
    # something else ("Service account required", "Logging into the node", "Context deadline
    # exceeded", "about.gitlab.com is down").
    r"|^(?:notes?|background|summary|context|about|description|references?|related|resources|"
    r"links|history|architecture|contents|alert|severity|dashboards?|metrics?|contacts?|"
    r"owners?|ownership|escalation|services?|monitoring|logging|documentation|docs)"
    r"\s*(?:$|[:&,(/]|-\s|(?:and|or)\b)",
    re.I)
_SYMPTOM_TITLE = re.compile(r"^\W*symptoms?\s*:", re.I)
_DIAG = re.compile(r"\b(?:diagnos\w*|troubleshoot\w*|investigat\w*|debug\w*|triage|"
                   r"identify\w*|verif\w*|check\w*|inspect\w*|how to check)\b", re.I)
_MIT = re.compile(r"\b(?:mitigat\w*|resolution|resolv\w*|remediat\w*|fix\w*|recover\w*|"
                  r"workaround\w*|solution\w*|repair\w*|restor\w*|how to fix)\b", re.I)


# A regulated procedure's heading number with no dot after it ("## 6 Rollback", "## 1 Purpose"):
# the words after it are the title (a number, a space, a capital)
_BARE_HEADING_NUMBER = re.compile(r"^\s*[0-9]{1,2}[ \t]+(?=[A-Z])")


def _heading_words(heading: str) -> str:
    return _BARE_HEADING_NUMBER.sub("", _strip_enumerator(heading), count=1).strip()


def section_class(heading: str) -> SectionClass:
    text = _heading_words(heading).lower()
    if _CLEANUP.search(text):
        return "cleanup"
    if _INFO.match(text) and not (_SYMPTOM_TITLE.match(text) and symptom_of(text)):
        return "info"
    if _SYMPTOM_TITLE.match(text) and symptom_of(text):
        # "### Symptom: connections refused" names one case, its section what to do in it
        # ("## Symptoms" alone describes the alert, for a reader)
        return "diag" if _DIAG.search(text) else "mit"
    if _MIT.search(text) and not (_CHECKS_A_THING.match(text) and not _AND_FIX.search(text)):
        return "mit"
    if _DIAG.search(text):
        return "diag"
    return "step"


# "Check the replica's recovery process", "Inspect the restore job": a heading that opens with
# a check names what it looks at, however that thing is called; it fixes nothing ("Check and
# fix the config" does)
_CHECKS_A_THING = re.compile(r"^(?:check|inspect|verify|investigate|diagnose|debug|look at|"
                             r"find|identify)\b")
_AND_FIX = re.compile(r"\b(?:and|then|&)\s+(?:fix|repair|restor|recover|resolv|mitigat|"
                      r"remediat|work\s?around)", re.I)


# A step's number written in the paragraph itself, as no list: an outline's "1.2" / "2.3.1." or a
# roman "iv." / "(ii)" (a document exported from a word processor, a plant's procedure).
_OUTLINE_NUMBER = r"[0-9]{1,2}(?:\.[0-9]{1,2})+\.?"
_ROMAN_NUMBER = r"\(?(?i:xi{0,3}|xiv|xv|i{1,3}|iv|vi{0,3}|ix)[.)]"
_ENUM = re.compile(rf"^\s*(?:{_OUTLINE_NUMBER}|{_ROMAN_NUMBER}|"
                   r"\(?[0-9]{1,2}[.)]|\(?[a-hA-H][.)]|"
                   r"step \d+(?:\s*[-\u2013\u2014:.)])?|"
                   # an incident timeline's time label, "T+0", "T+5m —", "[T+15 min]:"
                   r"\[?T\s?[+-]\s?\d{1,3}\s?(?:s|secs?|m|mins?|minutes?|h|hrs?|hours?)?\]?"
                   r"(?:\s*[:\u2013\u2014-])?)\s+", re.I)
_LABELS = r"(?:note|important|tip|warning|caution|attention|info)"
# An admonition's label before its words: "Note: ...", GitHub's "[!NOTE] ...", or the bare
# label a bold "**Note**" line leaves when the next sentence opens a guard ("Note If ...").
_NOTE = re.compile(rf"^(?:\[!{_LABELS}\]\s*|{_LABELS}\s*[:\u2013\u2014-]\s*|"
                   r"(?-i:Note|Important|Tip|Warning|Caution|Attention|Info|NOTE|IMPORTANT|TIP|WARNING|"
                   r"CAUTION)\s+(?=(?-i:If|When|Unless|Should|Otherwise|Only (?:if|when))\b))",
                   re.I)
# Who does it, before what to do: a checklist's or a chat's owner ("**Ops**: if the answers
# differ, flush the cache", "IC (@maria): when ...", "@net-oncall: if ..."): a role of up to three
# words or a handle, a name in brackets, then a colon; the condition after it is the item's
# (it guarded nothing, and the flush ran whatever the answers were).
_OWNER = re.compile(r"^(?:\[[ xX]\]\s*(?:[A-Z][\w&/.-]{0,20}(?: [A-Z][\w&/.-]{0,20})?|@[\w.-]+)|"
                    r"@[\w.-]+|[A-Z]{2,5}|[A-Z][\w&/.-]{0,20}(?=\s*\(@))"
                    r"(?:\s*\(@?[\w.\- ]{1,30}\))?\s*:\s+"
                    r"(?=(?i:(?:only\s+)?(?:if|when|unless|in case))\b)")
# (in a runbook's own language too: Polish and Czech "Krok 3", German "Schritt 3", Spanish,
# Portuguese and Italian "Paso/Passo 3", French "Étape 3", Dutch "Stap 3", Swedish "Steg 3",
# Russian "Шаг 3", Japanese "手順 3" / "ステップ 3", Hebrew "שלב 3", Arabic "الخطوة 3": what
# "przejdź do kroku 3" goes to)
_STEP_HEADING = re.compile(r"^[\s\u200e\u200f]*(?:step|krok|schritt|paso|passo|\u00e9tape|etape|"
                           r"stap|steg|\u0448\u0430\u0433|\u624b\u9806|\u30b9\u30c6\u30c3\u30d7|"
                           r"\u05e9\u05dc\u05d1|\u0627\u0644\u062e\u0637\u0648\u0629)"
                           r"\s*(\d{1,3})\b", re.I)


def step_number(heading: str) -> int | None:
    """N of a TSG's "Step N - Check ..." heading."""
    m = _STEP_HEADING.match(heading.replace("**", ""))
    return int(m.group(1)) if m else None


_STEP_LABEL = re.compile(r"^\s*step\s+(\d{1,3})\s*[:.)\u2013\u2014-](?!\d)", re.I)


# "**Step C — Check the partitions**": a paragraph that opens a step lettered A, B, C, ...
_STEP_LETTER = re.compile(r"^\s*step\s+(?-i:[A-Z])\s*[:.)\u2013\u2014-]", re.I)


def lettered_step(text: str) -> bool:
    """Whether a paragraph opens a step lettered A, B, C, ... ("**Step C — Check the
    partitions**"): a place a jump names by its title ("go to Step C"), as a heading is."""
    return _STEP_LETTER.match(text.replace("**", "")) is not None


def step_label(text: str) -> int | None:
    """N of a paragraph that opens with a "Step N:" label ("**Step 3:** Check the endpoint")."""
    m = _STEP_LABEL.match(text.replace("**", ""))
    return int(m.group(1)) if m else None


_HASH_NUMBER = re.compile(r"^\s*#(\d{1,3})[:.)]?\s+(?=\w)")


_NUMBERED_PARAGRAPH = re.compile(rf"^\s*(?:{_OUTLINE_NUMBER}|{_ROMAN_NUMBER})\s+(?=\S)")


def opens_a_step(text: str) -> bool:
    """Whether a paragraph opens with its own step's number: "Step 3) Restart pgbouncer:",
    "**Step 4:** ...", "#4 Check again ...", an outline's "2.3 Restart ..." or a roman
    "iv. Restart ..." (a numbered step written as a paragraph)."""
    plain = text.replace("**", "").replace("__", "")
    return step_label(plain) is not None or _HASH_NUMBER.match(plain) is not None or \
        _NUMBERED_PARAGRAPH.match(plain) is not None


def step_number_prefix(text: str) -> str:
    """A numbered paragraph's number with the blank after it ("Step 2: ", "iv. ", "2.3 "), or
    ""."""
    for rx in (_STEP_LABEL, _HASH_NUMBER, _NUMBERED_PARAGRAPH):
        m = rx.match(text)
        if m is not None:
            return text[:m.end()] + re.match(r"\s*", text[m.end():]).group(0)  # type: ignore[union-attr]
    return ""


_ONCE_LEAD = re.compile(r"^(?:once|as soon as|after)\s[^,;:]{3,120},\s+(?=\S)", re.I)


def numbered_step(text: str) -> bool:
    """Whether a paragraph is a numbered step a person does ("Step 1: Press the e-stop.",
    "i. Stop the conveyor from the HMI."), not one that introduces what follows it ("1.1
    Check the master:" over its block) nor a heading-like label ("Step 2: Overview")."""
    if not opens_a_step(text):
        return False
    plain = text.replace("**", "").replace("__", "").strip()
    words = _HASH_NUMBER.sub("", _STEP_LABEL.sub("", _NUMBERED_PARAGRAPH.sub("", plain, count=1),
                                                 count=1), count=1).strip(" *_")
    words = _after_place(words)
    # "Step 5. Once S1F14 comes back, request ONLINE-REMOTE from MES": when to do it, then what
    # (it was context for a reader, and the person's step was lost)
    words = _ONCE_LEAD.sub("", words, count=1)
    return not words.endswith(":") and len(words.split()) >= 3 and \
        (_INSTRUCTION.match(words) is not None or _IMPERATIVE_SHAPE.match(words) is not None)


# Where a person stands, before what they do there: "On the SP2 pendant, open ...", "At the
# HMI, press Reset", "From the cell PC, ..."
_AT_A_PLACE = re.compile(r"^(?:on|at|from|in) (?:the |your |each |a )?[^,.:;!?]{1,40},\s+(?=\S)",
                         re.I)


def _after_place(words: str) -> str:
    m = _AT_A_PLACE.match(words)
    if m is None:
        return words
    rest = words[m.end():]
    return rest[:1].upper() + rest[1:]


# a paragraph's bold label before its words: "**LOTO required.** Lock out ...", "**Important:**"
_BOLD_LABEL = re.compile(r"^(\*\*|__)[^*_\n]{1,40}?\1\s*(?=\S)")
# words that point at other text or warn, not a deed: "See the FAQ.", "Avoid restarting ...",
# "Follow the steps below."
_NOT_A_DEED = re.compile(r"^(?:see|refer|consult|read|visit|follow|use|consider|review|learn|"
                         r"avoid|note|keep|bear|check out|look at|feel free)\b", re.I)
_POINTS_ON = re.compile(r"\b(?:following|below|these steps|the steps|as follows)\b", re.I)


# At the machine itself: "On the teach pendant, ...", "At the HMI, ...", "On the operator panel"
_AT_THE_MACHINE = re.compile(r"^(?:on|at|from) (?:the |your |each )?(?:[\w'\u2019-]+ ){0,3}?"
                             r"(?:(?:teach |programming |smart ?)?pendant|flexpendant|hmi|"
                             r"(?:operator |control |touch )?panel|touch ?screen|cabinet|"
                             r"controller|robot|cell|machine|conveyor|press|gate|fence|door|"
                             r"station|keypad|plc|drive|agv|amr),\s", re.I)
# Isolating a machine's energy before reaching in: lock-out / tag-out
_LOCK_OUT = re.compile(r"\b(?:lock(?:-| )?out|tag(?:-| )?out|loto|padlock|apply your (?:personal )?"
                       r"lock|(?:remove|take off) your (?:personal )?lock)\b", re.I)


def acts_alone(text: str) -> bool:
    """Whether a paragraph is a person's step at the machine on its own: it opens by telling
    the reader what to do there ("On the programming pendant, select {ALARM HISTORY} and note
    the alarm code.") or to lock the machine out ("**LOTO required.** Lock out the conveyor's
    isolator Q7 before you reach into the belt."), and does not introduce what follows, ask,
    warn, or only point at other text."""
    plain = _BOLD_LABEL.sub("", text.strip(), count=1).replace("**", "").replace("__", "")
    plain = _DECORATION.sub("", plain.strip(), count=1).strip()
    said = _sentences(plain)
    if len(said) > 1 and len(said[0].split()) <= 3 and not _imperative(said[0]):
        said = said[1:]  # a label ("LOTO required.", the bold gone)
    if not said or plain.rstrip(" *_").endswith((":", "?")) or _POINTS_ON.search(plain):
        return False
    first = _after_place(said[0])
    return len(first.split()) >= 3 and not _NOT_A_DEED.match(first) and \
        guard_of(first) is None and \
        (_imperative(first) or _AT_THE_CONTROLS.match(first) is not None) and \
        (_AT_THE_MACHINE.match(said[0]) is not None or _LOCK_OUT.search(first) is not None)


# "Before moving the robot by hand, make sure the gripper holds no part.": what a person
# confirms before a step of the guide
_CHECKS_BEFORE = re.compile(r"^\W*before [^,.:;]{3,80},\s+(?:make sure|ensure|verify|check|"
                            r"confirm)\b[^:]*$", re.I)


def checks_before(text: str) -> bool:
    """Whether a paragraph is a precondition a person confirms ("Before moving the robot by
    hand, make sure the gripper holds no part."), not one that introduces what follows."""
    plain = text.replace("**", "").replace("__", "").strip()
    return _CHECKS_BEFORE.match(plain) is not None and len(_sentences(plain)) == 1


# Standing by the machine's stop while it moves: "Watch the robot the whole time. Press the
# E-stop if it moves anywhere but home.", "Keep your hand on the emergency stop."
_STOP_AT_HAND = re.compile(r"\b(?:e-?stop|emergency[- ]stop|stop button|enabling (?:device|"
                           r"switch)|dead-?man(?:'s)? (?:switch|button))\b", re.I)
_STAND_BY = re.compile(r"^(?:watch|keep|stay|stand|be ready|observe|hold)\b", re.I)


def stands_by(text: str) -> bool:
    """Whether a paragraph tells the person at the machine to watch it, hand on its stop,
    while the step before moves it."""
    plain = _DECORATION.sub("", text.replace("**", "").replace("__", "").strip(), count=1)
    return _STOP_AT_HAND.search(plain) is not None and _STAND_BY.match(plain) is not None


# what a hand does at the controls: "select {ALARM HISTORY}", "press [RESET]", "tap Jogging"
_AT_THE_CONTROLS = re.compile(r"^(?:select|press|push|tap|touch|turn|hold|jog|note|navigate|"
                              r"acknowledge|switch|toggle|enter|choose|put|pull)\b", re.I)


# A verb the lists above do not know, before its object: "Press the e-stop", "Re-home the
# robot", "Power off the cell" (not "Share means to provide ...", a definition).
_IMPERATIVE_SHAPE = re.compile(r"^[A-Z][a-z]+(?:-[a-z]+)?\s+(?:the|a|an|all|each|every|any|"
                               r"your|its|it|this|that|these|those|them|up|down|out|off|on|"
                               r"back|in|over)\b")


def _strip_enumerator(text: str) -> str:
    # a task list's box ("- [ ] If usage is above 90%, prune ...") marks a to-do, as a number
    # does a step: the words after it are the item's (its guard was hidden behind the box)
    return _ENUM.sub("", _CHECKBOX.sub("", text.lstrip(), count=1), count=1)


# -- guards ------------------------------------------------------------------------------

# "Only if/when ...": the author's stricter guard ("Only when on the old cluster, reload X").
# A team's runbook in German, Spanish or French opens its guards with its own words: "Wenn
# die Platte voll ist:" / "Andernfalls ...", "Si el disco está lleno," / "De lo contrario ...",
# "Si le disque est plein," / "Sinon ...", and in Portuguese, Italian and Dutch "Se a thread
# estiver parada:" / "Caso contr\u00e1rio ...", "Se il disco \u00e8 pieno:" / "Altrimenti ...",
# "Als de schijf vol is:" / "Anders ...", in Russian "Если есть неактивный слот," / "Иначе
# ..." / "В противном случае ...", in Korean "만약 파드가 ... 상태라면," / "그렇지 않으면 ...",
# in Polish "Jeśli kolejka nie ma konsumentów:" / "W przeciwnym razie ...", in Turkish "Eğer
# `/var/log` 10 GB'den büyükse," / "Aksi halde ...", in Indonesian "Jika log berisi X," / "Jika
# tidak, ...", in Swedish "Om fördröjningen växer," / "Annars ..." (not Dutch "Om X te doen,":
# a purpose), in Vietnamese "Nếu bộ nhớ vượt quá 90%," / "Nếu không, ...", in Czech "Pokud je OST
# zaplněn nad 95 %," / "Jinak ..." / "V opačném případě ...", and right to left in Hebrew
# "אם השירות לא רץ," / "אחרת, ..." and Arabic "إذا كانت الخدمة متوقفة،" / "وإلا ...".
# ("Se n\u00e3o ..." is "if not ...", a guard of its own.)
_IF_WORDS = (r"wenn|falls|sofern|si|cuando|en caso de que|lorsque|quand|au cas o\u00f9|"
             r"se|caso|quando|qualora|nel caso in cui|als|indien|wanneer|ingeval|"
             r"если|когда|в случае если|만약|만일|"
             r"je\u015bli|je\u017celi|gdy|w przypadku gdy|o ile|"
             r"e\u011fer|\u015fayet|jika|apabila|bila|kalau|bilamana|"
             r"om(?![^,:;]*\bte\b)|ifall|n\u1ebfu|tr\u01b0\u1eddng h\u1ee3p|"
             r"pokud|jestli\u017ee|jestli|v p\u0159\u00edpad\u011b, \u017ee|"
             r"\u05d0\u05dd|\u05db\u05d0\u05e9\u05e8|\u0625\u0630\u0627|\u0627\u0630\u0627|"
             r"\u0641\u064a \u062d\u0627\u0644")
_ELSE_WORDS = (r"andernfalls|ansonsten|sonst|falls nicht|wenn nicht|de lo contrario|si no|"
               r"en caso contrario|sino|sinon|dans le cas contraire|caso contr\u00e1rio|"
               r"sen\u00e3o|do contr\u00e1rio|altrimenti|in caso contrario|anders|zo niet|"
               r"indien niet|in het andere geval|иначе|в противном случае|если нет|"
               r"если это не так|그렇지 않으면|그렇지 않은 경우|아니면|그 외의 경우|"
               r"w przeciwnym (?:razie|wypadku|przypadku)|je\u015bli nie|je\u017celi nie|"
               r"inaczej|aksi (?:halde|takdirde)|de\u011filse|"
               r"(?:jika|kalau|apabila|bila) tidak|selain itu|sebaliknya|"
               r"annars|om inte|i annat fall|n\u1ebfu kh\u00f4ng|ng\u01b0\u1ee3c l\u1ea1i|"
               r"jinak|v opa\u010dn\u00e9m p\u0159\u00edpad\u011b|pokud ne|jestli\u017ee ne|"
               r"\u05d0\u05d7\u05e8\u05ea|\u05d0\u05dd \u05dc\u05d0|\u0648\u0625\u0644\u0627|"
               r"\u0648\u0627\u0644\u0627|\u062e\u0644\u0627\u0641 \u0630\u0644\u0643")
# Chinese and Japanese write no space after the word: "如果磁盘已满：" / "否则，...",
# "もし使用率が 90% を超えている場合：" / "それ以外の場合は、..."
_CJK_IF = r"如果|假如|倘若|若是|要是|万一|もし|万が一"
_CJK_ELSE = r"否则|不然|要不然|それ以外|そうでない場合|そうでなければ"
# A condition's other English openers: "Provided that the reload succeeded, ...", "As long as
# the pick keeps failing, ...", "In the event of data loss, ..." (not "Provided by X, ...").
_PROVISO = (r"(?:provided|providing)(?: that)?(?!\s+(?:by|in|with|for|as|to|on|at|from|here|"
            r"below|above)\b)|(?:as|so) long as|in the event(?: that| of)?")
# "Any other code: call maintenance", "Anything else, escalate", "In all other cases, ...": the
# rest of the cases the sentences before named, as "Otherwise" is
_REST_START = (r"(?:for |in )?(?:any|all) other(?: [\w`-]+){0,2}\s*[:,]|anything else\s*[:,]|"
               r"in (?:all|any) other cases?\b")
_REST_OPENS = re.compile(_REST_START, re.I)
# "After the third failed attempt, abort and call maintenance", "After two unsuccessful
# retries, ...": a retry's bound, the case where the retries ran out (it was a person's step, and
# the run went on to resume production with the jam still there)
_RETRIES_OUT = (r"after (?:the )?(?:\w+|\d+(?:st|nd|rd|th)?) (?:failed|unsuccessful) "
                r"(?:attempts?|tries|try|retries|retry|resets?|restarts?)")
_GUARD_START = re.compile(r"^(?:(?:(?:only )?(?:if|when|in case)|whenever|in the case|unless|"
                          rf"should|otherwise|else|if not|if so|for the case|{_PROVISO}|"
                          rf"{_RETRIES_OUT}|"
                          rf"{_ELSE_WORDS}|"
                          rf"{_IF_WORDS})\b(?!-)|{_REST_START}|{_CJK_ELSE}|{_CJK_IF})", re.I)
_ELSE_START = re.compile(r"^(?:(?:otherwise|else|if not|if this is not the case|if that does not|"
                         rf"{_ELSE_WORDS})\b(?!-)|{_REST_START}|{_CJK_ELSE})", re.I)


@dataclass(frozen=True)
class Guard:
    text: str  # the condition in the guide's words
    is_else: bool = False
    ends: str | None = None  # "Abort if ...": the outcome its branch ends the run with
    alternative: bool = False  # "Alternatively, ...:": another way; it holds only what it
    # introduces (what follows is for either way)
    no_to: str | None = None  # a "No" answer's question ("- **No** → ..."), by `answer_guard`
    words: str = ""  # the guide's own words when `text` is not them (an answer's: "If so, ...")


# "Skip this step if the robot is already homed.": the step's own words are for the other case
_SKIP_IF = re.compile(r"^skip (?:this|the following) (?:step|item)(?: entirely)? (?:if|when) ",
                      re.I)
# "Only continue if ...", "Proceed only when ...": the same stop, said the other way round
_ONLY_GO_ON_IF = re.compile(r"^(?:only )?(?:continue|proceed|go on|carry on)(?: only)? "
                            r"(?:if|when) ", re.I)


# "Abort if ...", "Stop if ...", "Do not continue if/unless ...": the condition comes after the
# instruction, and its branch ends the run there, handed to a person (a robot cell's or a
# maintenance playbook's safety conditions). The condition runs to the sentence's end, its
# "or ..." included.
_ABORT_IF = re.compile(r"^(?:abort|stop(?: here| now| the (?:procedure|run|recovery|work))?|"
                       r"halt|(?:do not|don't|never) (?:continue|proceed|go on))"
                       r"(?: (?:immediately|at once))?,? (?:if|unless)\b", re.I)


# Emoji and symbols an author puts before a step's words ("⚠️ If the disk is full", "👉 When
# ..."): decoration, not words; the guard is what follows them.
_DECORATION = re.compile(r"^[^\w\s`(\[\-*\"'<>{]+\s*")


# Another way to do what the step before did: "Alternatively, delete the pods:", "Or, in one
# go:", "Another option is to use an overlay mount:" (introducing its block or list).
# (Not "Instead, ...": after "Do not use `KEYS`", "Instead use:" is the way, not another.)
_ALTERNATIVE = re.compile(r"^(?:alternatively|or(?:,?\s+alternatively)?|as an alternative|"
                          r"another (?:option|way) is to)\b,?\s*(?P<way>\S.*)$", re.I | re.S)


# "Exit code 2 means drift", "A return code of 1 means ...", "`rc=3` means ...": a case of the
# command's exit code, its finding, then after a dash or a colon what to do
_EXIT_CODE_MEANS = re.compile(r"^(?:an?\s+|the\s+)?(?:exit|return|status)\s+(?:code|status)"
                              r"(?:\s+of)?\s+`?\d{1,3}`?\s+means\b", re.I)
_MEANS_THEN = re.compile(r"\s*(?:[:;\u2013\u2014]|\s-\s)\s*")


# A step marked optional before its words: "(optional) Post the report", "Optional: ...",
# "[Optional] ..."
_OPTIONAL_STEP = re.compile(r"^(?:\(optional\)|\[optional\]|optional\s*[:\u2013\u2014-])\s*",
                            re.I)


def guard_of(text: str, *, fallback: bool = False) -> Guard | None:
    """The guard a sentence, list item or heading opens with, if any.

    "If you cannot resolve the issue, escalate" is the guide's ending, not a guard; but a
    condition the author made checkable (`If the disk is full (`expr`), escalate`) is a guard
    whose branch ends the run. With `fallback`, the guide's ending is a guard too: a step of a
    list ("3. If it still fails after two retries, escalate to controls") decides there.
    """
    guard, ending_only = _guard_of(text)
    return None if ending_only and not fallback else guard


# a clause whose last word ends in Turkish's conditional suffix (-sa/-se, "ise"), in a sentence
# written in Turkish (its dotless ı, ğ, ş or İ)
_TURKISH_IF = re.compile(r"^(?=[^\n]*[\u0131\u011f\u015f\u0130])(?P<c>[^,.;:\n]{3,160}?"
                         r"\w(?:y?s[ae]|ise))\s*,\s+(?=\S)")
# Japanese says "if" at the clause's end too: "ディスクが解放されない場合、..." (in the case
# that the disk is not freed), "使用率が 80% 未満なら対応完了" (if usage is under 80%), with
# or without "もし" before it; an aside in brackets may follow the clause. Not "この場合" / "そ
# の場合" (in this / that case: the case the sentence before named), nor "...しなければならない"
# (must).
_JAPANESE_IF = re.compile(r"^(?=[^\n]*[\u3040-\u30ff])(?!(?:\u3053\u306e|\u305d\u306e|"
                          r"\u3042\u306e|\u3069\u306e|\u591a\u304f\u306e)\u5834\u5408)"
                          r"(?P<c>[^,.;:\n]{2,160}?(?:\u5834\u5408(?:\u306b)?(?:\u306f)?|"
                          r"\u306a\u3089(?:\u3070)?(?![\u306a\u3044\u305a])))"
                          r"(?:\s*\([^()\n]*\))?\s*(?:,\s*)?(?=\S)")
_ACTION_LABEL = r"(?:action|then|do|remedy|fix|response|what to do)\s*:"
_CONDITION_LABEL = r"(?:condition|trigger|if)\s*:\s+"
_CONDITION_ACTION = re.compile(rf"^(?P<c>{_CONDITION_LABEL}[^\n]+?)\s*"
                               rf"(?:\n\s*|\s+(?={_ACTION_LABEL})){_ACTION_LABEL}", re.I)
_CONDITION_LINE = re.compile(rf"^{_CONDITION_LABEL}\S", re.I)
_ACTION_LINE = re.compile(rf"^{_ACTION_LABEL}\s*\S", re.I)


def labelled_condition(sentence: str, following: str) -> Guard | None:
    """The guard of a "Condition: the queue is above 500." line that a sentence labelled
    "Action: restart the consumer:" follows (a pair, as plant and ITSM guides write them)."""
    plain = sentence.replace("**", "").replace("__", "").strip()
    if _CONDITION_LINE.match(plain) and \
            _ACTION_LINE.match(following.replace("**", "").replace("__", "").strip()):
        return Guard(text=plain.rstrip(" ."))
    return None


_IF_HEADING = re.compile(r"^(?:if|in case)\s+\S", re.I)


def if_heading(heading: str) -> bool:
    """Whether a section's heading is a condition ("## If site search is unavailable", "## In
    case the backlog keeps growing"): its steps are for that case, whatever the heading's
    level. ("## When to block" and "## When does ETL run" name a topic, not a case.)"""
    text = _DECORATION.sub("", _strip_enumerator(heading.replace("**", "")).strip())
    return _IF_HEADING.match(text) is not None


# "Only do this when the trace shows X.", "Run these steps only if ...", "Follow the steps below
# only when ...": a caution over a procedure, which scopes the steps after it (it was a note)
_DO_THIS = re.compile(r"^(?:only\s+)?(?:do|run|perform|follow|use|apply)\s+(?:this|these(?:\s+"
                      r"steps)?|the\s+(?:steps\s+)?(?:below|following)|the\s+following(?:\s+"
                      r"steps)?)\s+(?=(?:only\s+)?(?:if|when)\b)", re.I)


# "Run the command above only if the archive is already in S3.", "Only run the above when ...",
# "The commands above are only needed if ...": a condition said after the block it is for
_ABOVE_ONLY_IF = re.compile(
    r"^(?:(?:only\s+)?(?:run|do|execute|use|apply)\s+(?:the\s+(?:command|commands|step|block|"
    r"script)\s+above|the\s+above(?:\s+(?:command|commands|step|block|script))?|the\s+previous"
    r"\s+(?:command|commands|step|block)|that(?:\s+(?:command|step))?)|(?:the\s+)?(?:command|"
    r"commands|step|block)\s+above\s+(?:is|are)|the\s+above(?:\s+(?:command|commands|step|"
    r"block))?\s+(?:is|are))\s+(?:only\s+)?(?:(?:needed|required|necessary|safe)\s+)?"
    r"(?:only\s+)?(?P<g>(?:if|when)\s+[^`;]{3,200}?)[.!]?$", re.I)


def guard_of_above(text: str) -> Guard | None:
    """The condition a sentence puts on the block before it ("Run the command above only if
    the archive has already been shipped to S3."), if it says one."""
    t = _DECORATION.sub("", _NOTE.sub("", text.replace("**", "").replace("__", "").strip(),
                                      count=1), count=1)
    m = _ABOVE_ONLY_IF.match(t)
    if m is None:
        return None
    g = m.group("g")
    return Guard(text=g[0].upper() + g[1:])


# "When this fires" (MkDocs' `!!! info "When this fires"`), "When this alert fires, it
# indicates ...": the alert the guide is for, which holds whenever it runs (it was a decision,
# and a person's step "When this fires"); "when the alert fires again" is a case.
_THIS_FIRES = re.compile(r"^(?:when|whenever|once)\s+this\s+(?:alert\s+|alarm\s+|page\s+|"
                         r"monitor\s+|rule\s+)?(?:fires|is firing|triggers|is triggered|"
                         r"goes off|pages)\b(?!\s+again)", re.I)


# A list item's text is read for its guard two or three times (without and with `fallback`,
# then by the linter): the reading is done once per text. A Guard is frozen, so sharing it is
# safe; the cache is small, so it holds one guide's recent texts, not every guide's.
@functools.lru_cache(maxsize=1024)
def _guard_of(text: str) -> tuple[Guard | None, bool]:
    """`guard_of`'s reading of `text`, and whether it is a guard only with `fallback`."""
    t = _OWNER.sub("", text.replace("**", "").replace("__", "").strip(), count=1)
    t = _strip_enumerator(t).strip()
    t = _DECORATION.sub("", t, count=1)
    t = _NOTE.sub("", t, count=1)
    if _ABORT_IF.match(t):
        return Guard(text=_abort_clause(t), ends="escalate"), False
    if (skip := _SKIP_IF.match(t)) is not None:
        # "Skip this step if the robot is already homed. Home the robot:": the step is for the
        # other case (the condition was dropped, and the step ran whatever held)
        return Guard(text=f"Unless {_clause(t[skip.end():])}"), False
    if (only := _ONLY_GO_ON_IF.match(t)) is not None:
        # "Only continue if the gripper is empty.": when it is not, the run stops there for a
        # person (it was a person's step, and the robot was homed whatever the gripper held)
        return Guard(text=f"Unless {_abort_clause(t[only.end():])}", ends="escalate"), False
    if _THIS_FIRES.match(t):
        return None, False  # "When this fires": the guide's trigger, true whenever it runs
    if (optional := _OPTIONAL_STEP.match(t)) is not None and t[optional.end():].strip():
        # "2. (optional) Dry-run the rotation:": whether to do it is a person's choice, as a
        # command's `# optional` comment says (a declined gate escalated the run, where the
        # author meant the step be skipped and the rest go on); "Optional: In case the
        # database should only be recovered to a point in time, ..." says when
        said, ending_only = _guard_of(t[optional.end():])
        return (said, ending_only) if said is not None else \
            (Guard(text=optional.group(0).strip()), False)
    if (qualified := _QUALIFIED_ANSWER.match(t)) is not None:
        # an FAQ's answer that says when: "Yes, if the count is zero on every other broker:",
        # "No, unless the controller log shows ...:" over what to do then (the condition was
        # lost, and the restart ran whatever the count)
        clause = _clause(t[qualified.end():])
        clause = re.sub(r"^unless\b", "If", clause, flags=re.I)
        return Guard(text=clause[:1].upper() + clause[1:]), False
    if (asked := _ASKED.match(t)) is not None and not _answered(t[asked.end():]) and \
            (outcome_of(t[asked.end():]) or jumps_in(t[asked.end():], [])):
        return Guard(text=asked.group("q")), False  # "Still high after 15 minutes? Escalate."
    if (ending := conditional_ending(t)) is not None:
        return ending, False
    if t.rstrip(" *_").endswith(":") and (alt := _ALTERNATIVE.match(t)) is not None:
        # "Alternatively, delete the pods and let the ReplicaSet recreate them:": another way
        # to the same end, taken when a person (or the model) chooses it; both ran in turn
        way = alt.group("way").rstrip(" :*_")
        return Guard(text=f"Alternatively: {way}" if way else "Alternatively",
                     alternative=True), False
    if (this := _DO_THIS.match(t)) is not None and _GUARD_START.match(t[this.end():]):
        return Guard(text=_clause(t)), False  # "Only do this when the trace shows X."
    if (turkish := _TURKISH_IF.match(t)) is not None:
        # "Disk kullanımı hâlâ %90'ın üzerindeyse, ... olayı yükselt.": Turkish says "if" with
        # the word's ending (-sa/-se), "Eğer" before it optional (the escalation was context)
        return Guard(text=turkish.group("c")), False
    if (japanese := _JAPANESE_IF.match(t)) is not None and not _GUARD_START.match(t):
        # "ディスクが解放されない場合、アプリを再起動する。": the restart is for that case (the
        # sentence was context, and the app restarted whatever the disk)
        return Guard(text=japanese.group("c")), False
    if (means := _EXIT_CODE_MEANS.match(t)) is not None:
        # "Exit code 0 means no drift — you are done. Exit code 2 means drift: post the plan
        # for review.": each a case of the command's exit code, what follows the dash or the
        # colon what to do in it (the sentences were context, and the apply ran either way)
        finding = _MEANS_THEN.split(t[means.end():], maxsplit=1)
        if len(finding) == 2 and finding[1].strip(" ."):
            return Guard(text=(t[:means.end()] + finding[0]).rstrip(" .")), False
    if (labelled := _CONDITION_ACTION.match(t)) is not None:
        # "Condition: the queue is above 500." over "Action: restart the consumer:": a
        # labelled pair, the condition's line its guard (it was dropped, and the restart
        # ran whatever the queue held)
        return Guard(text=labelled.group("c").rstrip(" .")), False
    if not _GUARD_START.match(t):
        return _trailing_guard(t, label=_ENUM.match(text.replace("**", "").replace(
            "__", "").strip()) is not None), False
    else_if = re.match(r"(?:otherwise|else)\s*,?\s*(?=if\b)", t, re.I)
    clause = f"{t[:else_if.end()]}{_clause(t[else_if.end():])}" if else_if else _clause(t)
    ending_only = is_escalation(t) and is_fallback(clause) and explicit_expr(clause) is None
    cjk = re.match(rf"(?:{_CJK_ELSE})[^,:;]{{0,6}}(?=[,:;])", t)
    if cjk is not None:  # "否则, 检查日志目录": the word, "それ以外の場合は": the phrase
        clause = cjk.group(0)
    return Guard(text=clause, is_else=bool(_ELSE_START.match(t))), ending_only


# An ending with its condition after it ("No further action is required if the lag is below
# 10 seconds.", "This alert can be safely ignored if the node is being drained.", "Escalate to
# the DBA unless the lag recovers within 5 minutes."; not "when": "Close the incident when the
# alert resolves" tells when, not whether) or a condition that opens with "Once"
# and ends the run ("Once the replica catches up, the incident is resolved."): a guard whose
# branch ends the run. Before, the first kind guarded the command before it (the item's
# paragraphs read as one sentence), and the second was lost.
_ENDING_THEN_IF = re.compile(r"^(?P<then>[^`]{3,160}?),?\s+(?P<g>(?:only )?(?:if|unless)\s"
                             r"[^`;]{3,200}?)[.!]?$", re.I)
_ONCE_THEN_ENDING = re.compile(r"^(?P<g>once\s[^`,;]{3,160}),\s*(?P<then>[^`]{3,160}?)[.!]?$",
                               re.I)


_QUALIFIED_ANSWER = re.compile(r"^(?:yes\b[\s,:;\u2014\u2013-]*(?:but\s+)?(?:only\s+)?"
                               r"(?=(?:if|when)\s)|(?:no|not)\b[\s,:;\u2014\u2013-]*"
                               r"(?=unless\s))", re.I)


def conditional_ending(text: str) -> Guard | None:
    """The guard of a sentence whose consequence is the run's ending and whose condition
    follows it, or opens with "Once" (see above); None for any other sentence."""
    for rx in (_ENDING_THEN_IF, _ONCE_THEN_ENDING):
        m = rx.match(text.strip())
        if m is None or _WHETHER.search(m.group("then")) or \
                m.group("then").rstrip(" *_").endswith(":"):
            continue  # ("**Escalation:** If the lag keeps rising, page X": a label, no ending)
        outcome = outcome_of(m.group("then"))
        if outcome is not None and _GUARD_START.match(m.group("then")) is None:
            return Guard(text=m.group("g").strip(), ends=outcome)
    return None


# A decision tree's answers: "Is the queue growing? **Yes** → run `x`. **No** → go to
# [Scale down](#scale-down).", or each answer an item under the question: the question is the
# condition, its "Yes" the branch and its "No" the other side.
# "If yes → Step 3", "If not, escalate." and "If so, go to step 4." answer it too.
_ANSWER = re.compile(r"^[\W_]*(?:(?:and|or|but)\s+)?(?:(?P<if>if)\s+(?P<so>so|not)\b[*_\s]*,|"
                     r"(?:(?P<if2>if)\s+)?"
                     r"(?P<a>yes|no)\b[*_\s]*(?:\u2192|\u21d2|->|=>|:|\u2013|\u2014|-|"
                     r"(?(if2),|(?!))))\s*", re.I)


# A question, then what to do when its answer is yes: "Still high after 15 minutes? Escalate.",
# "Lag still growing? Go to step 4."
_ASKED = re.compile(r"^(?P<q>[^?.!:;`]{3,120}\?)\s+(?=\S)")


def _answered(text: str) -> bool:
    """Whether a sentence of `text` answers a question ("Yes: go to 2. No: go to 5."): what
    follows the question is its answers, maybe after the check that answers it."""
    return any(_ANSWER.match(text[a:b]) for a, b in sentence_offsets(text))


def answers(text: str) -> bool:
    """Whether a paragraph opens with an answer to a question before it ("**Yes** → ...",
    "\u2705 Yes: ...", "No - escalate")."""
    return _ANSWER.match(text.replace("**", "").replace("__", "")) is not None


def question_of(text: str) -> str | None:
    """The question a sentence or item asks ("Is the lag still growing?"), if it asks one."""
    t = _strip_enumerator(text.replace("**", "").replace("__", "")).strip()
    return t if t.endswith("?") and "\n" not in t else None


_LEAD_QUESTION = re.compile(r"^(?P<q>[^?.!:\n`]{3,200}\?)\s+\S")


def lead_question(text: str) -> str | None:
    """The question an item asks, whole or as its first sentence before the check that
    answers it ("Is the API responding? Check with `curl ...`.")."""
    t = _strip_enumerator(text.replace("**", "").replace("__", "")).strip()
    if (whole := question_of(t)) is not None:
        return whole
    m = _LEAD_QUESTION.match(t)
    return m.group("q") if m else None


# "check whether a new block was downloaded today", "Find out if the pump runs": a question put
# as a check, which the answers after it ("if yes, ...", "if no, ...") answer
_CHECK_WHETHER = re.compile(r"^(?:then\s+)?(?:check|see|find out|verify|confirm|determine|ask)\s+"
                            r"(?:whether|if)\s+(?P<q>[^?!\n]{3,160}?)[.?!]?$", re.I)


def whether_asked(text: str) -> str | None:
    """The question a check put as "check whether X" asks ("Whether X?"), if it is one."""
    t = _strip_enumerator(text.replace("**", "").replace("__", "")).strip()
    m = _CHECK_WHETHER.match(t)
    return f"Whether {m.group('q').strip()}?" if m else None


def answer_guard(text: str, question: str | None) -> Guard | None:
    """The guard of an answer to `question` ("**Yes** → ...", "No: ..."), if `text` is one."""
    if question is None:
        return None
    m = _ANSWER.match(text.replace("**", "").replace("__", ""))
    if m is None:
        return None
    said = " ".join(text.split())
    if (m.group("a") or m.group("so")).lower() in ("yes", "so"):
        return Guard(text=question, words=said)
    return Guard(text=f"Otherwise (no: {question})", is_else=True, no_to=question, words=said)


_LOOKS = re.compile(r"^(?:then\s+)?(?:check|verify|look|see|confirm|inspect|run|test|find out|"
                    r"query|examine|review|compare|list|show|view|open|read|watch|determine|"
                    r"ask|answer|use)\b", re.I)
def looks(text: str) -> bool:
    """Whether `text` says to look at something ("Check the depth", "Look at the output"):
    words about finding out, not about what to do."""
    return _LOOKS.match(text.strip()) is not None


_WH = re.compile(r"^\W*(?:what|which|who|whom|whose|why|how|where|when)\b", re.I)


def asked_before_doing(sentence: str, after: str, *, answered_later: bool) -> str | None:
    """The question a sentence asks when the next one (`after`) acts on its yes ("Kernel panic
    or `Out of memory` in the output? Reboot it:", "Still crash-looping? Roll back:"): the
    condition of that action. Not a question the guide answers later (`answered_later`: "Is
    the API up? Check it with `curl`. Yes: ..."), one the next sentence says how to find out,
    nor a what/why question."""
    asked = question_of(sentence.strip())
    if asked is None or answered_later:
        return None
    said = _strip_enumerator(after.replace("**", "").replace("__", "")).strip()
    if _WH.match(asked) or _imperative(asked.lstrip("*_ ")) or not _imperative(said) or \
            said.rstrip().endswith("?") or _LOOKS.match(said) or guard_of(said) is not None:
        return None  # ("Ensure the port is right?" asks nothing; "Or a set of IPs?" neither)
    return asked.replace("**", "").strip()


# An answer with a case of its own: "If no, and the primary is reachable, restart it", "**No**
# → but the disk is full: clean it" (the case after the answer's "and"/"but", to its comma)
_ANSWER_AND = re.compile(r"^(?:and|but)\s+(?:only\s+)?(?:if\s+|when\s+)?"
                         r"(?P<c>[^,:;.?!\u2192\u21d2]{3,120}?)\s*(?:,|:|\u2192|\u21d2|->|=>)\s*(?=\S)",
                         re.I)


def answer_case(text: str) -> tuple[str, str] | None:
    """The case an answer adds to its question's and what it says to do then ("If no, and the
    primary is reachable, restart it": "the primary is reachable", "restart it"), or None when
    it only answers."""
    rest = without_answer(text).strip()
    m = _ANSWER_AND.match(rest)
    return (m.group("c").strip(), rest[m.end():]) if m else None


def without_answer(text: str) -> str:
    """An answer's words without its "Yes →": what it says to do."""
    return _ANSWER.sub("", text.replace("**", "").replace("__", ""), count=1)


# An FAQ runbook: "**Q:** Pods stuck `Pending`?" then "**A:** Run ...": each question is a case,
# and its answer (to the next question or heading) is what to do in it, never in the others.
_FAQ_QUESTION = re.compile(r"^[\W_]*(?:q|question)\s*\d{0,3}\s*[:.)][*_\s]*(?P<q>.+?)"
                           r"(?:\s+[*_]*a(?:nswer)?\s*[:.)]|$)", re.I | re.S)


def faq_question(text: str) -> str | None:
    """The question an FAQ entry opens with ("Q: The cache volume is full?"), if it is one."""
    m = _FAQ_QUESTION.match(text.replace("**", "").replace("__", ""))
    if m is None:
        return None
    q = m.group("q").strip()
    end = q.find("?")
    return q[:end + 1] if end >= 0 else q.rstrip(" .:")


_QUESTION_CASE = re.compile(r"\b(?:if|when|whenever|in case|once)\s+[^?]{3,}\?", re.I)


def question_case(question: str) -> bool:
    """Whether a how/what question names the case its answer is for: "What if one partition
    lags?", "What do I do when the disk fills up?" (not "How do I know if X?": whether)."""
    for m in _QUESTION_CASE.finditer(question):
        if not _WHETHER.search(question[:m.start()]):
            return True
    return False


# A known-problems list: "**Symptom:** Lag grows on one partition. **Cause:** ... **Action:**
# Roll back ...": each symptom is a case, and what follows it (to the next symptom or
# heading) is what to do in it. "Problem:" / "Issue:" open one only when a cause or an action
# label follows in the same paragraph, and so do a controls integrator's "Fault: F101 Gripper
# vacuum low / Cause: ... / Remedy: ..." (and "Alarm:", "Error:") triples.
_SYMPTOM = re.compile(r"^[\W_]*(?:(?P<sym>symptoms?)|problem|issue|fault|alarm|error)"
                      r"\s*[:.)][*_\s]*(?P<s>.+?)"
                      r"(?:\s+[*_]*(?P<label>(?:root )?cause|actions?|fix|resolution|solution|"
                      r"workaround|remedy|mitigation)\s*[:.][\s\S]*|$)", re.I | re.S)


# A section titled by the alarm or fault code it clears: a robot controller's "SRVO-050
# Collision Detect alarm", "MOTN-017 Limit error", an ABB event "50057 Joint not synchronized",
# "Alarm 2010: ...", "Error E1234 ...", "Fault code F0001".
_CODE_LABEL = r"(?i:alarm|error|fault|event|code|dtc)(?:\s+(?i:code))?"
_CODE_TITLE = re.compile(rf"^[\W_]*(?:{_CODE_LABEL}\s*(?:(?i:no)\.?\s*)?#?:?\s*)?"
                         r"(?:[A-Z]{2,6}-\d{2,5}|[A-Z]{1,3}\d{3,5}|\d{5}|0x[0-9A-Fa-f]{4,8})\b(?!-\d)|"
                         rf"^[\W_]*{_CODE_LABEL}\s*#?:?\s*\d{{2,6}}\b")


def names_a_code(title: str) -> bool:
    """Whether a heading opens with the alarm or fault code its section clears."""
    t = title.replace("**", "").replace("__", "").replace("`", "")
    m = _CODE_TITLE.match(t)
    return m is not None and not re.match(r"^\W*\d{1,2}[.)]\s", t)


_QUOTED_MESSAGE = re.compile(r'^\s*(?:`[^`\n]{2,120}`|"[^"\n]{2,120}"|'
                             r'\u201c[^\u201d\n]{2,120}\u201d)\s*$')


def names_a_message(title: str) -> bool:
    """Whether a heading is nothing but an error message or state, quoted or in code
    ("### `ImagePullBackOff`", "### `Error: UPGRADE FAILED: another operation is in
    progress`"), not a command ("### `kubectl rollout restart deploy/web`")."""
    t = title.replace("**", "").replace("__", "").strip()
    if _QUOTED_MESSAGE.match(t) is None:
        return False
    inner = t.strip("`\"\u201c\u201d ")
    first = inner.split()[0].lower() if inner else ""
    if first in KNOWN_CLIS or first.startswith(("/", "./", "-", "$")):
        return False
    # a message (words, or quoted) or a state's name (`OOMKilled`, `CrashLoopBackOff`); a
    # lower-case name (`sidekiq`, `transaction_statistics`) titles a topic, not a case
    return " " in inner or not t.startswith("`") or \
        re.fullmatch(r"[A-Za-z][A-Za-z0-9_]+", inner) is not None and \
        sum(c.isupper() for c in inner) >= 2


def symptom_of(text: str) -> str | None:
    """The symptom a known-problem entry opens with ("Symptom: Lag grows on every partition."),
    if it is one."""
    m = _SYMPTOM.match(text.replace("**", "").replace("__", ""))
    if m is None or not (m.group("sym") or m.group("label")):
        return None
    return m.group("s").strip().rstrip(" .:")


# A section titled by the case it is for: "## Scenario A: no consumers attached", "### Case 2 -
# the disk alarm is set", "## Situation: replica lag only" (not "Case-insensitive search",
# "Case study").
_SCENARIO = re.compile(r"^[\W_]*(?:scenario|case|situation)(?:\s+(?:[A-Za-z]|\d{1,2}))?"
                       r"(?:\s*[:.)]|\s+[-\u2013\u2014])\s*(?P<s>\w.{2,})$", re.I)


def scenario_of(heading: str) -> str | None:
    """The case a "Scenario A: ..." / "Case 2 - ..." heading names (its whole title), if so."""
    plain = heading.replace("**", "").replace("__", "").strip()
    return plain if _SCENARIO.match(plain) else None


# One of several ways the guide offers, for a person to choose: "## Option A: ChatOps command",
# "### Method 2 - Reclaim space from snapshots", "Workaround 1: pin the old image." (not a lone
# "## Solution", which is the way, nor "Option B" with nothing after it).
_OPTION = re.compile(r"^[\W_]*(?:option|solution|workaround|method|alternative|approach|fix)"
                     r"\s+(?:[A-Za-z]|\d{1,2})(?:\s*[:.)]|\s+[-\u2013\u2014])\s*(?P<s>\w.*)$",
                     re.I | re.S)


def option_of(text: str) -> str | None:
    """The way an "Option A: ..." / "Method 2 - ..." heading or paragraph offers (its label and
    first sentence: "Option A: the challenge failed because of DNS"), if it offers one."""
    plain = text.replace("**", "").replace("__", "").strip()
    m = _OPTION.match(plain)
    if m is None:
        return None
    rest = _sentences(m.group("s"))
    return (plain[:m.start("s")] + (rest[0] if rest else m.group("s"))).strip().rstrip(" .:")


# What comes after a guide's options, for whichever was taken: "In both cases, confirm ...",
# "Either way, ...", "Whichever option you chose, ...", "Regardless of the option, ..."
_AFTER_OPTIONS = re.compile(r"^\W*(?:in (?:both|either|all|any) cases?|either way|whichever|"
                            r"regardless|in any event|no matter which)\b", re.I)


def after_options(text: str) -> bool:
    """Whether a paragraph is for whichever of the options before it was taken."""
    return _AFTER_OPTIONS.match(text.replace("**", "").replace("__", "")) is not None


_MEMORY_ROOTS = frozenset({"steps", "inputs", "vars", "alert"})


def explicit_expr(clause: str) -> str | None:
    """An inline-code span that is an expression over run memory, written by the author:
    "If the disk is full (`steps.disk.stdout | numbers | max > 90`)"."""
    for code in re.findall(r"`([^`]{3,400})`", clause):
        try:
            refs = references(code, expression=True)
        except (MendflowError, RecursionError):  # not an expression (or too deep to be one)
            continue
        roots = {r.split(".", 1)[0] for r in refs}
        if roots and roots <= _MEMORY_ROOTS:
            expr: str = code.strip()
            return expr
    return None


# Handing over to a person on the floor: "call maintenance", "notify the shift supervisor",
# "get a technician", "inform the cell engineer" (a robot cell's or a plant's escalation).
_CALL_A_PERSON = (# (every form opens with one of these verbs: looked at first, it spares the ten
                  # looks behind at each other place of every text)
                  r"(?=(?:call|phone|contact|notify|summon|page|inform|alert|get|fetch|radio) )"
                  r"(?:(?<=^)|(?<=[,;:.!] )|(?<=\band )|(?<=\bthen )|(?<=\bplease )|(?<=\bor )|"
                  # "after the second failure call the vision integrator"
                  r"(?<=\bfailure )|(?<=\bfailures )|(?<=\battempt )|(?<=\battempts ))"
                  # the maker's after-sales service, by its name: "call Yaskawa service",
                  # "contact KUKA Service" (not "call the payment service", "call its REST
                  # service": an API call)
                  r"(?:(?:call|phone|contact|notify|summon) (?!(?:the|an?|your|our|this|that|"
                  r"its|their|each|every|any|some|web|rest|http|grpc|soap|api|backend|remote|"
                  r"system|windows|systemd|local|micro|sub)\b)[\w-]+ service\b"
                  r"(?! (?:endpoint|api|url|method|function|account|principal|mesh|worker|with)"
                  r"\b)|"
                  r"(?:call|phone|contact|page|notify|inform|alert|summon|get|fetch|radio) "
                  r"(?:the |an? |your )?(?:[\w/&-]+ ){0,3}?(?:maintenance|technicians?|"
                  r"electricians?|engineers?|engineering|supervisors?|shift (?:lead|leader|"
                  r"manager)|team lead|foreman|on-?call|vendor|specialists?|safety officer|"
                  # the cell's builder and the plant's IT: "call the integrator", "inform
                  # IT-Service", "phone the service hotline", "contact the help desk"
                  r"integrators?|it[- ]service|(?:service )?hotline|help ?desk|service ?desk)\b"
                  r"(?! (?:logs?|mode|window|script|api|dashboard)\b))")

# Asking another team in its channel or queue: "reach out in #help-db", "raise a P2 with the
# storage team", "ask for help in #sre", "file a ticket with the network team" (not "unable to
# reach out to the endpoint", nor "post in #deploys that ...": telling is not handing over).
_ASK_A_TEAM = (r"(?<!\bto )reach out (?:to|in|on)\b|"
               # (what kind it is may come first: "open a hardware ticket with the vendor")
               r"(?:raise|open|file|create|log) (?:a |an )?(?:[a-z][\w-]* ){0,2}?"
               r"(?:p[0-4]|sev-?[0-4]|s[0-4]|"
               r"ticket|incident|issue|bug|case)\b(?= (?:with|for|against|to) (?:the |an? )?"
               r"(?:[\w/&-]+ ){0,3}(?:team|on-?call|support|sre|owners?|vendor|squad)\b| "
               r"(?:in|on) #)|"
               r"ask (?:for help |for advice )?(?:in|on) #[\w-]+")

# Declaring an urgent incident hands it over to the incident process: "open a P1", "raise a
# SEV-1", "declare a major incident" (a team named or not).
_DECLARE = (r"(?:open|raise|declare|file|create|start) (?:a |an )?(?:new )?(?:p[0-2]|sev-?[0-2]|"
            r"severity[- ][0-2])\b|declare (?:a |an )?(?:major )?incident\b|"
            r"(?:open|start|raise) (?:a |an )?major incident\b")

# "Escalate" in a runbook's own language: German "eskalieren", Russian "эскалируйте", Polish
# "eskaluj", Spanish "escalar al equipo", Portuguese "escale para a equipe", Italian "scalare al
# team" (to a team or a person: "escala a 5 réplicas" scales), and
# (no word boundary in the script) Japanese "エスカレーション", Korean "에스컬레이션합니다".
_ESCALATE_WORD = (r"eskalier\w*|eskalation|эскалир\w*|эскалаци\w*|eskaluj\w*|eskalacj\w*|"
                  # Turkish "olayı yükselt", "eskale et"; Indonesian "eskalasi ke tim
                  # platform", "hubungi tim web" (tell the web team)
                  r"eskale et\w*|olay\w* y\u00fckselt\w*|eskalasi\w*|"
                  # Swedish "eskalera till plattformsteamet", Vietnamese "liên hệ đội nền
                  # tảng" (contact the platform team)
                  # Hebrew "הסלימו לצוות ה-Backend", Arabic "صعّد إلى فريق الدعم"
                  r"\u05d4\u05e1\u05dc[\u05d9\u05de]\w*|\u05dc\u05d4\u05e1\u05dc\u05d9\u05dd|"
                  r"\u0635\u0639[\u0651]?\u062f\w*|\u062a\u0635\u0639\u064a\u062f|"
                  r"eskalera\w*|li\u00ean h\u1ec7 (?:\u0111\u1ed9i|nh\u00f3m|b\u1ed9 ph\u1eadn)\b|"
                  r"hubungi (?:tim|on-?call|dba|sre|vendor|pihak|penanggung jawab)\b|"
                  r"e?sc[aá]l\w* (?:a|al|a la|a los|ao|à|aos|para(?: a| o| os| as)?) "
                  r"(?:[\w-]+ ){0,2}?(?:equipo|equipe|time|team|guardia|plant[aã]o|soporte|"
                  r"suporte|supporto|on-?call|sre|dba|responsable|respons[aá]vel|reperibile|"
                  r"integrador|integratore|mantenimiento|manutenzione|manuten[cç][aã]o)\b|"
                  # French, Spanish, Italian and Portuguese hand over by telling: "prévenez
                  # l'équipe système", "avise al mantenimiento", "contattare il team
                  # piattaforma", "chame a equipe de plantão"
                  r"(?:pr[ée]venez|pr[ée]venir|informez|informer|contactez|contacter|appelez|"
                  r"appeler|alertez|alerter|avise|avisa|avisar|avisen|llame|llama|llamar|"
                  r"contacte|contacta|contactar|informe|informa|informar|contattare|contatta|"
                  r"contattate|avvisare|avvisa|avvisate|chiamare|chiama|chiamate|informare|chame|"
                  r"chamar|acione|acionar) (?:con |a |ao )?(?:l['\u2019]|le |la |les |el |al |"
                  r"los |il |lo |gli |i |o |a |os |as )(?:[\w'\u2019-]+ ){0,2}?"
                  r"(?:[ée]quipe|astreinte|support|responsable|dba|sre|exploitation|equipo|"
                  r"mantenimiento|integrador|soporte|guardia|supervisor|t[ée]cnico|team|"
                  r"manutenzione|reparto|supporto|reperibile|integratore|responsabile|"
                  r"plant[aã]o|suporte|manuten[cç][aã]o)\b")
_ESCALATE_CJK = r"エスカレ|에스컬레이션"

# Where the on-call records how the run ended: a clause of its own ("...; mark the change as
# mitigated", "The alert has cleared on its own. Close the incident as no action."), naming the
# record or not
_CLOSING = r"(?:^|[,:;.!]\s*|\band\s+|\bthen\s+)"
_RECORD = r"(?:(?:the|this) (?:incident|alert|page|ticket|icm|issue|change) |it )?"

_OUTCOMES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("escalate", re.compile(rf"{_ESCALATE_CJK}|\b(?:escalat\w*|{_ESCALATE_WORD}|"
                            rf"hand (?:it )?over to|page (?:the|an?) |{_CALL_A_PERSON}|"
                            # "tag it red and hand it to the fleet maintenance team": the thing
                            # itself handed on (it was a person's step, and the run resolved)
                            r"hand (?:(?:it|them|the [\w-]+) )?(?:over |off )?to "
                            r"(?:the |your |an? )?(?:[\w/&-]+ ){0,3}(?:team|on-?call|"
                            r"engineers?|technicians?|maintenance|department|vendor|"
                            r"manufacturer|supervisor)\b|"
                            rf"{_ASK_A_TEAM}|{_DECLARE}|"
                            # "stop here and page storage on-call", "call the DBA on-call"
                            r"(?:page|call) (?:the |an? )?(?:[\w/&-]+ ){0,3}on-?call\b|"
                            # "page storage-oncall", "page @dba-oncall": the rota's handle
                            r"page @?[\w/&.-]+-on-?call\b|"
                            r"contact (?:the |your )?(?:on-?call|owner|support|team)|"
                            r"open (?:a )?(?:support )?(?:case|ticket)|"
                            # sending the machine back to its maker: "open an RMA with
                            # Boston Dynamics support", "raise an RMA"
                            r"(?:open|raise|file|request|start) (?:a |an )?rma\b|"
                            r"(?:transfer|reassign|route|hand (?:it )?off) (?:the |this |your )?"
                            r"(?:icm|incident|ticket|case|page|alert)s? to|"
                            r"engage (?:the )?(?:[\w/&-]+ ){0,4}(?:team|on-?call|support|sre)\b|"
                            # a plant's hand-over: "Call the line supervisor.", "lock out the
                            # cell and open a maintenance ticket" (and `_CALL_A_PERSON`)
                            r"open (?:a |an )?(?:maintenance|service|repair) (?:ticket|request|"
                            r"case|work order)\b|"
                            # "the image tag is wrong: stop and tell the release team": the run
                            # stops, handed on (it was a person's step, and the restart ran)
                            r"(?:^|[,;:.\u2013\u2014]\s*)stop(?: here| now| there)?,? and "
                            r"(?:then )?(?:inform|notify|tell|alert|call|phone|contact|page|ping|"
                            r"message) (?:the |your |an? )?(?!(?:it|this|that|them|user)\b)\w)",
                            re.I)),
    ("no_action", re.compile(r"\bno (?:further )?action (?:is )?(?:needed|required)\b|"
                             # "nessuna azione necessaria", "no hace falta hacer nada", "aucune
                             # action n'est nécessaire", "keine Aktion erforderlich"
                             r"\bnessuna (?:ulteriore )?azione (?:è )?(?:necessaria|richiesta)|"
                             r"\bno (?:hace falta|es necesario) hacer nada|\bninguna acci[oó]n "
                             r"(?:es )?(?:necesaria|requerida)|\baucune action (?:n'est )?"
                             r"(?:n[ée]cessaire|requise)|\bkeine (?:weitere )?(?:aktion|"
                             r"ma[ßs]nahme) (?:ist )?(?:n[öo]tig|erforderlich|notwendig)|"
                             r"\bnenhuma a[çc][ãa]o (?:[ée] )?necess[áa]ria|"
                             r"\bnothing (?:else |more )?(?:needs to be done|needs doing|to do|"
                             r"to be done)\b|"
                             # "Otherwise, do nothing.", "Option 1: Do nothing." (not "ILM will
                             # do nothing", "do nothing until the backup ends")
                             r"(?:^|[,:;]\s*|\bthen\s+)do nothing(?=\s*(?:[.!(]|$))|"
                             # "This alert can be safely ignored (if ...)", "you can ignore it"
                             r"\b(?:alert|page|warning|it) (?:can|may) (?:be )?(?:safely )?"
                             r"ignored\b|\b(?:can|may) safely (?:be )?ignored?\b|"
                             r"\bsafe to ignore\b|"
                             # "..., stop here: the alert is a false positive"
                             r"\b(?:is|was|as) (?:a |likely a |probably a )?false "
                             r"(?:positive|alarm)\b|"
                             # "Close the incident as no action.", "resolve it as no-action"
                             rf"{_CLOSING}(?:close|resolve|mark) {_RECORD}as (?:a )?no[- ]action\b|"
                             # "this was planned: close as \"no fault found\"" (a service
                             # desk's closure code for nothing wrong)
                             rf"{_CLOSING}(?:close|resolve|mark) {_RECORD}as [\"'\u201c]?"
                             r"(?:no fault found|nff|not a fault|no issue found)\b",
                             re.I)),
    ("mitigated", re.compile(r"\b(?:is|are|has been) (?:now )?mitigated\b|"
                             r"[:;,]\s*mitigated\W*$|"
                             # "..., the account is healthy: mitigate the incident"
                             r"(?:^|[,:;]\s*|\band\s+|\bthen\s+)mitigate (?:the|this) "
                             r"(?:incident|alert|page|ticket|icm)\b|"
                             # "the failover is done; mark the change as mitigated"
                             rf"{_CLOSING}mark {_RECORD}(?:as )?mitigated\b", re.I)),
    ("escalate", re.compile(r"\b(?:is|was) (?:likely |probably )?the root cause\b|"
                            r"\bpotential (?:resolution|fix|mitigation)\b", re.I)),
    # "..., resolve the incident" / "close the page": the on-call's word for ending it resolved
    ("resolved", re.compile(r"\b(?:is|are|has been) (?:now )?resolved\b|"
                            r"(?:^|[:;,])\s*resolved\W*$|"
                            # what the work was, and that it is done, nothing else: "Otherwise
                            # the rotation is complete." (not "Wait until the resync is
                            # complete": a wait; not "When the copy is complete, ...": a case)
                            r"^(?:(?:the|this|that|your|our) )?[\w-]+(?: [\w-]+)? (?:is|has "
                            r"been) (?:now )?(?:complete|completed|finished|done)\W*$|"
                            # in a runbook's own language: Polish "incydent rozwiązany",
                            # Japanese "対応完了" (the response is complete), "解決済み"
                            r"\b(?:incydent|problem|alert) (?:jest |zosta\u0142 )?"
                            r"rozwi\u0105zany\b|\u5bfe\u5fdc\u5b8c\u4e86|\u89e3\u6c7a\u6e08|"
                            r"\u5fa9\u65e7\u5b8c\u4e86|"
                            # Hebrew "הבעיה נפתרה" (the problem is solved), Arabic "تم حل
                            # المشكلة"
                            r"(?:\u05d4\u05d1\u05e2\u05d9\u05d4|\u05d4\u05ea\u05e7\u05dc\u05d4|"
                            r"\u05d4\u05d0\u05d9\u05e8\u05d5\u05e2) \u05e0\u05e4\u05ea\u05e8\w*|"
                            r"\u062a\u0645 \u062d\u0644 \u0627\u0644\u0645\u0634\u0643\u0644\u0629|"
                            rf"{_CLOSING}(?:resolve|close) (?:the|this) "
                            r"(?:incident|alert|page|ticket|icm)\b|"
                            # a change's Method of Procedure ends "close the change as
                            # successful" (not "... as failed", nor "as rolled back")
                            rf"{_CLOSING}close (?:the|this) change(?: request| ticket)? (?:as )?"
                            r"(?:successful|successfully|completed?|implemented)\b|"
                            # "Otherwise mark the alert resolved.", "Mark it as resolved."
                            r"(?:^|[,:;]\s*|\band\s+|\bthen\s+)mark (?:(?:the|this) (?:incident|"
                            r"alert|page|ticket|icm|issue) |it )?(?:as )?resolved\b|"
                            # a plant's word for it: "When the cycle counter increases, resume
                            # production.", "otherwise put the cell back in production"
                            r"(?:^|[,:;]\s*|\band\s+|\bthen\s+)(?:resume (?:normal )?production|"
                            r"(?:put|return|hand|release) (?:the (?:cell|line|machine|robot|"
                            r"station|aisle|conveyor) |it )?(?:back )?(?:in|into|to) production)"
                            r"\b|"
                            # said of the thing itself: "The cell is back in production."
                            r"(?:^|(?<=[.!] ))(?:the |this |your )?(?:[\w-]+ ){1,2}(?:is|are) "
                            r"(?:now )?back "
                            r"(?:in|into) (?:production|service)\W*$", re.I)),
)


_OUTCOMES_SAID = tuple((outcome, _Caseless(rx)) for outcome, rx in _OUTCOMES)


# A sentence that is nothing but how the run stands, on its own after a section's steps: "The
# issue is mitigated.", "This is the root cause.", "This is a potential resolution.", "No further
# action is needed." (not "... as soon as the issue is resolved", a clause of another sentence)
_SAID_ENDINGS = (
    ("resolved", re.compile(r"^(?:(?:the|this|that|your) (?:issue|incident|problem|outage|"
                            r"alert|page)|it) (?:is|has been|should (?:now )?be) (?:now )?"
                            r"(?:resolved|fixed)\W*$", re.I)),
    ("mitigated", re.compile(r"^(?:(?:the|this|that|your) (?:issue|incident|problem|outage|"
                             r"alert|page|impact)|it) (?:is|has been|should (?:now )?be) "
                             r"(?:now )?mitigated\W*$", re.I)),
    ("escalate", re.compile(r"^(?:this|that|it) (?:is|was) (?:likely |probably |most likely )?"
                            r"(?:the root cause|a potential (?:resolution|fix|mitigation))\b",
                            re.I)),
    ("no_action", re.compile(r"^no (?:further |other )?action is (?:needed|required)\W*$|"
                             r"^nothing (?:else |more )?needs to be done\W*$", re.I)),
)


def said_ending(sentence: str) -> str | None:
    """The outcome a sentence states and nothing else ("The issue is mitigated."), if so."""
    said = sentence.strip().strip("*_").strip()
    return next((outcome for outcome, rx in _SAID_ENDINGS if rx.search(said)), None)


# A ticket for work after the run ("open a ticket to rebuild the old primary"), not to a team
_FOLLOW_UP_TICKET = re.compile(r"\bopen (?:a )?(?:support )?(?:case|ticket) to "
                               r"(?!(?:the|an?|your|our|their)\b)(?-i:[a-z]+)\b", re.I)


# asked of one text by several readers (a third of the calls repeat one): read once
@functools.lru_cache(maxsize=1024)
def outcome_of(text: str) -> str | None:
    """The outcome a guarded instruction ends the run with ("..., escalate", "no action is
    needed", "the issue is mitigated"), if it says one. A ticket for later work beside the
    outcome the guide names hands nothing over ("mark the change as mitigated and open a
    ticket to rebuild the old primary": mitigated); alone, the work is left to others."""
    if _FOLLOW_UP_TICKET.search(text) and \
            (named := outcome_of(_FOLLOW_UP_TICKET.sub("", text))) is not None:
        return named
    return next((outcome for outcome, said in _OUTCOMES_SAID if said.occurs(text)), None)


def done_before_ending(text: str) -> str:
    """What a case says to do in the sentences before the one that ends the run ("switch
    Single Block off. The cell is back in production." -> "switch Single Block off"), or ""
    (a finding before it, "this is expected. No action needed.", is no step, nor is a stop)."""
    offsets = sentence_offsets(text)
    ends_at = next((k for k, (a, b) in enumerate(offsets) if outcome_of(text[a:b])), 0)
    if ends_at == 0:
        return ""
    before = text[:offsets[ends_at][0]].strip()
    if before.endswith(":") or _STOP_HERE.search(before) or \
            any(re.fullmatch(r"(?i)\W*stop\W*", before[a:b]) for a, b in sentence_offsets(before)):
        return ""  # ("reset the cell:" over its blocks; "STOP. Do not apply. Open a ticket")
    before = before.rstrip(" .")
    return before if is_instruction_only(before) and not only_why(before) else ""


_LEAD_IN = re.compile(r"(?:^|[:;]\s+)(?=(?:(?:Only )?(?:If|When|In case)|Otherwise)\b)")
# after a semicolon, a clause of its own in lower case too, when it says what to do or how the
# run ends: "Then continue below; if it reads `ok`, nothing needs doing." ("...; if you edit it
# in place, the label isn't updated" only describes)
_SEMICOLON_IF = re.compile(r";\s+(?=if\s)")
# a connective before a sentence's guard: "However, if ...", "But if ...", "And when ..."
_CONNECTIVE = re.compile(r"^(?:however|but|and|also|still|yet|in addition|additionally)\b,?\s+"
                         r"(?=(?:only\s+)?(?:if|when|in case|unless)\b)", re.I)


def guard_in(sentence: str, *, fallback: bool = False) -> Guard | None:
    """A guard that opens a sentence or follows its lead-in ("Check the labels: If ...");
    `fallback` as for `guard_of`."""
    direct = guard_of(sentence, fallback=fallback)
    if direct is not None:
        return direct
    m = _CONNECTIVE.match(sentence)
    if m is not None:  # "However, if the issue persists, follow the steps below:"
        return guard_of(sentence[m.end():], fallback=fallback)
    m = _LEAD_IN.search(sentence)
    if m is not None:
        return guard_of(sentence[m.end():], fallback=fallback)
    m = _SEMICOLON_IF.search(sentence)
    if m is None:
        return None
    clause = sentence[m.end():]
    then = clause.split(",", 1)[1] if "," in clause else ""
    if outcome_of(then) is None and not stops_here(then):
        return None
    return guard_of(clause[0].upper() + clause[1:], fallback=fallback)


# The condition written after the instruction: "Run `x` if the site still returns 503.",
# "Restart the app only if the queue is full: `x`". Not "to see if" / "check if" (whether),
# nor "even if" / "as if".
_TRAILING_IF = re.compile(r"(?<![`\w])(?P<g>(?:only )?(?:if|when|unless)\s[^`:;.!?]*?)"
                          r"(?=\s*(?::\s*`|[.;!:]?\s*$))", re.I)
# the rest after a condition that closes the words introducing the command ("Disable the agent
# while you investigate, if it keeps reverting your fix: `x`", "... (only if Y):" over a block)
_CLOSES_INTRO = re.compile(r"\)?\s*:\s*(?:`|$)")
# "..., if any:", "(if needed):": an aside, no case the plan can ask
_ASIDE_ONLY = re.compile(r"(?:only )?if (?:any|needed|necessary|required|applicable|possible|"
                         r"present|desired|wanted|you (?:like|want|wish|prefer))\W*$", re.I)
_WHETHER = re.compile(r"\b(?:see|check|checks|verify|determine|know|tell|find out|test|ask|"
                      r"confirm|sure|whether|even|as|wonder)\s*$", re.I)


# "Test the config and reload only if the test passes:", "Validate it, and apply only when the
# check succeeds": the condition is the outcome of the test the same instruction runs first
# (`nginx -t && systemctl reload nginx`), not a question asked before either
_ITS_OWN_TEST = re.compile(r"(?:only\s+)?(?:if|when)\s+(?:the\s+|that\s+|this\s+|its\s+)?"
                           r"(?:config(?:uration)?\s+)?(?:test|check|dry[- ]?run|validation|it)\s+"
                           r"(?:passes|passed|succeeds|succeeded|works|is\s+(?:ok|clean|"
                           r"successful)|returns\s+0)\s*$", re.I)
_TESTS_FIRST = re.compile(r"\b(?:test|check|validate|verify|dry[- ]?run|lint)\b[^.;:]*"
                          r"(?:\band\b|,)", re.I)


# "(Ctrl-C when done)", "press q when finished", "when you are done": when a person stops the
# stream or the screen the command opened, not whether it runs
_STOP_KEY = re.compile(r"(?:\bctrl\s*[-+]?\s*[a-z]|\^[A-Z]|\bpress\s+[`'\"]?\w[`'\"]?)\s*$", re.I)
_WHEN_DONE = re.compile(r"when\s+(?:you(?:'re|\s+are|\s+have)\s+|it(?:'s|\s+is|\s+has)\s+)?"
                        r"(?:done|finished|through|satisfied|seen\s+enough|completed?)\b", re.I)
_WATCH = re.compile(r"^\W*(?:watch|follow|tail|monitor|observe|keep an eye on)\b", re.I)


# "and roll back if the last deploy is recent:" (the paragraph goes on from the one before
# it), "Then restart it if ...": the instruction after the word that carries it on
_CONTINUES = re.compile(r"^\s*(?:and(?:,?\s+then)?|then|also|next|finally|afterwards)[,\s]+",
                        re.I)


def _opens_its_own(before: str, g: str, rest: str) -> bool:
    """Whether a condition `g` after the words `before` (and before `rest`) starts a sentence
    or clause of its own ("X. If Y", "X: if Y", "..., if Y, do Z"), not the instruction's. A
    condition after a comma or in parentheses that closes the words introducing the command
    is the instruction's ("Disable the agent while you investigate, if it keeps reverting
    your fix: `x`", "Block the top IP (only if one IP has more than 1,000 failures):"); an
    aside ("..., if any:", "(if needed)") is not."""
    last = before.rstrip()[-1:]
    if not last or last in ".:;":
        return True
    if last not in ",(":
        return False
    if not _CLOSES_INTRO.match(rest) or _ASIDE_ONLY.match(g):
        return True
    return "," in g if last == "," else not g.lower().startswith("only")


def _trailing_guard(t: str, *, label: bool = False) -> Guard | None:
    """The guard of an instruction that names its command before its condition ("Run `x` if
    Y", "Restart X only if Y: `x`"): the commands run only when Y holds (they ran always).
    So does one that introduces the block below it ("Restart the consumer if none is
    attached:") or a numbered step's label ("**Step 3: Restart the consumer if none is
    attached**", "### 3. Purge the queue if it is full"): its steps run only when Y holds."""
    bare = t.rstrip(" *_")
    t = t[lead.end():] if (lead := _CONTINUES.match(t)) is not None else t
    if not ("`" in t or bare.endswith(":") or label and not bare.endswith((".", "!", "?"))) \
            or not (_RUN_VERB.match(t) or _MACHINE_VERB.match(t)):
        return None
    first = sentence_offsets(t)
    t = t[first[0][0]:first[0][1]] if first else t  # the instruction's own sentence
    masked = re.sub(r"`[^`]*`", lambda m: "`" + "x" * (len(m.group(0)) - 2) + "`", t)
    for m in _TRAILING_IF.finditer(masked):
        before = masked[:m.start()]
        if "`" in masked[m.end():] and not masked[m.end():].lstrip().startswith(":"):
            continue  # a command still follows, not through a colon: not this form
        if _WHETHER.search(before) or _opens_its_own(before, m.group("g"), masked[m.end():]):
            continue  # ("..., if X" or "X: If Y" opens a guard of its own)
        g = t[m.start("g"):m.end("g")].strip()
        if before.rstrip()[-1] == "(":
            # "Block the top IP (only if one IP has more than 1,000 failures):": the aside is
            # the step's condition (it was dropped, and the block ran whatever the count)
            g = g.removesuffix(")").strip()
        if m.group("g")[0].isupper():
            continue  # "Run `x` If Y ...": a sentence of its own (a list item's next paragraph)
        if _ABORT_BEFORE.search(before):
            continue  # "Check `x` Abort if Y": the item's next paragraph, a stop of its own
        if _STOP_KEY.search(before) or _WHEN_DONE.match(m.group("g")) and _WATCH.match(t):
            continue  # "Watch it: `rostopic echo /cmd_vel` (Ctrl-C when done)": when to stop
        if _ITS_OWN_TEST.match(m.group("g")) and _TESTS_FIRST.search(before):
            continue  # "Test it and reload only if the test passes:": the `&&` of its block
        return Guard(text=g)
    return None


def _abort_clause(text: str) -> str:
    """"Abort if A, or B. Call X." -> "Abort if A, or B": to the sentence's end, a dash, a
    semicolon or ", and/then" outside code spans (its other commas belong to the condition)."""
    masked = re.sub(r"`[^`]*`", lambda m: "x" * len(m.group(0)), text)
    m = re.search(r"[.!?](?:\s|$)|\s[\u2013\u2014]\s|\s-\s|[;:]|,\s+(?:and|then)\s", masked)
    return text[:m.start()].strip() if m else text.strip()


# the rest of a list of values in code, up to the clause's end: " `Fault` or `Estop`, ..."
_VALUES_LEFT = re.compile(r"\s*`[^`]+`(?:\s*,\s*`[^`]+`)*\s*,?\s*(?:or|and)\s+`[^`]+`"
                          r"\s*(?:[,:;.]|$)")


def _clause(text: str) -> str:
    """The condition part: up to the first comma or colon outside code spans, or the sentence."""
    code = False
    parens = 0
    for i, c in enumerate(text):
        if c == "`":
            code = not code
        elif code:
            continue
        elif c == "(":
            parens += 1
        elif c == ")":
            parens = max(0, parens - 1)
        elif not parens and c in ",:;\u060c\u061b" and i > 2 and not (  # (Arabic's "،", "؛")
                c == "," and text[:i].endswith("`") and _VALUES_LEFT.match(text, i + 1)):
            # ("If it shows `Error`, `Fault` or `Estop`, ...": a list of values, one case)
            return text[:i].strip()
        elif not parens and c == "." and (i + 1 == len(text) or text[i + 1] == " "):
            return text[:i].strip()
        elif not parens and c == " " and text.startswith(" then ", i) and i > 2:
            return text[:i].strip()
    return text.strip()


Expr = tuple[Literal["expr", "failure", "success"], str | None]
# "If it exits non-zero", "returns a non-zero exit code", "if `$?` is non-zero": the command's
# status; "If register 101 is non-zero" or "the count is nonzero" are values it showed
_NONZERO_EXIT = re.compile(
    r"\b(?:exits?|exited|returns?|returned|ends?|ended|fails?)\s+(?:with\s+)?(?:an?\s+)?"
    r"non-?zero\b|\bnon-?zero\s+(?:exit|return|status|rc)\b|"
    r"(?:\b(?:exit|return)\s+(?:code|status|value)|\brc|\$\?`?)\s+(?:is|was)\s+(?:a\s+)?non-?zero\b")


def derive_condition(clause: str, step: str | None) -> Expr:
    """What a guard means over the previous step's result, if that can be derived.

    Returns ("failure", None) for "if the command fails" (an error edge), ("expr", e) for a
    derived Jinja2 expression over `steps.<step>` or the author's own expression, or
    ("expr", None) for a judgment.
    """
    written = explicit_expr(clause)
    if written is not None:
        return ("expr", written)
    t = clause.lower()
    if step is None:
        return ("expr", None)
    if (unless := re.match(r"\s*(?:only\s+)?unless\b", t)) is not None:
        # "Unless it shows `Idle`, ...": the case where it does not (read as "if", the branch
        # was taken exactly when it should not be)
        kind, expr = derive_condition("if" + clause[unless.end():], step)
        return ("expr", negate(expr) if kind == "expr" else None)
    if re.search(r"\b(command|query|check|script|request|call|it|this|that|step)\s+"
                 r"(fails|failed|returns an error|errors)\b|"
                 r"\bexits? with an error\b", t) or _NONZERO_EXIT.search(t):
        return ("failure", None)
    out = f"(steps[{json.dumps(step)}].stdout | trim)"
    # (an aside in brackets describes the case, it is no test of the output: "Alarm is
    # SRVO-062 BZAL (the pulse coder backup battery is empty)" was read as "prints nothing")
    t = re.sub(r"\([^()`]*\)", " ", t)
    negative = re.search(r"\b(not empty|isn't empty|is non-?empty|returns (?:any|some|a|an)\b|"
                         r"lists (?:any|some)|shows (?:any|some)|there (?:are|is) (?:any|some)\b"
                         r"(?! (?:no|not)))", t)
    empty = re.search(r"\b(output is empty|is empty|returns nothing|returns no\b|no output|"
                      r"nothing is returned|does not return anything|doesn't return anything|"
                      r"returns an empty|shows nothing|prints nothing|no results?)\b", t)
    if negative and "not empty" in negative.group(0) or negative and not empty:
        return ("expr", f'{out} != ""')
    if empty:
        return ("expr", f'{out} == ""')
    code = re.findall(r"`([^`]{1,80})`", clause)
    contains = re.search(r"\b(contains?|shows?|includes?|displays?|lists?|returns?|prints?|"
                         r"(?:output|status|value|phase|result) is)\b", t) or \
        re.fullmatch(r"`[^`]+`", clause.strip())  # a case that is a value: "- `Pending`: ..."
    if code and contains and not re.search(r"\b(label|annotation|alert)\b", t):
        negated = re.search(r"\b(not|n't|no)\b", t[: contains.end() + 1])
        op = "not in" if negated else "in"
        if _OR_WORDS.search(clause):
            return ("expr", None)  # "`0` or negative": more than the values it names
        joins = {re.sub(r"[\s,]+", " ", j).strip() for j in _BETWEEN_CODE.findall(clause)}
        if len(code) > 1 and (joins - {"", "or"} or negated and "" in joins and len(code) > 2
                              or negated and not joins <= {"", "or"}):
            return ("expr", None)  # not one list of values either of which holds
        # "If it shows `Error`, `Fault` or `Estop`": any of them (only the first was read);
        # "does not show `READY` or `IDLE`": none of them
        terms = [_holds(c, op, negated is not None, step) for c in code]
        return ("expr", terms[0] if len(terms) == 1 else
                (" and " if negated else " or ").join(f"({e})" for e in terms))
    said = _PRINTS_NUMBER.search(t)
    if said and not code:  # "If it prints 0", "If the count is 0"
        op = "not in" if re.search(r"\b(not|n't)\b", said.group(0)) else "in"
        return ("expr", f"{_number(said.group(1))} {op} {_numbers_of(step)}")
    return ("expr", None)


# what joins a value in code to words, or one value to the next: "`0` or negative", "`Error`,
# `Fault` or `Estop`"
_OR_WORDS = re.compile(r"`\s*,?\s*(?:or|and|nor)\s+(?!`)\w")
_BETWEEN_CODE = re.compile(r"`[^`]+`([^`]*?)(?=`[^`]+`)")


def _holds(value: str, op: str, negated: bool, step: str) -> str:
    """The output holds (or, `op` "not in", lacks) one value the guide quoted."""
    if _NUMBER_WORD.fullmatch(value):
        return f"{_number(value)} {op} {_numbers_of(step)}"
    if negated and WORD.fullmatch(value):
        # what the output must hold is that word: `systemctl is-active` printing
        # "inactive" does not hold "active" (as text it did, and the check passed)
        return f"{json.dumps(value)} {op} (steps[{json.dumps(step)}].stdout | words)"
    return f"{json.dumps(value)} {op} steps[{json.dumps(step)}].stdout"


def _numbers_of(step: str) -> str:
    return f"(steps[{json.dumps(step)}].stdout | numbers)"


# A number the output should hold: compared with the numbers in it, never as text inside it
# ("0" is in "150", and `200` in a header's "Content-Length: 12004").
_NUMBER_WORD = re.compile(r"[-+]?\d+(?:\.\d+)?%?")
_PRINTS_NUMBER = re.compile(
    r"^(?:if|when|unless)\s+(?:it|this|that|the (?:output|result|count|command|query|number))\s+"
    r"(?:(?:does not|doesn't|is not|isn't)\s+)?"
    r"(?:prints?|returns?|outputs?|shows?|is|equals?|reads?)\s+(?:exactly\s+)?"
    r"([-+]?\d+(?:\.\d+)?)$")


def _number(word: str) -> str:
    """`word` as a number literal for an expression (`90%` -> 90)."""
    value = word.rstrip("%")
    return str(float(value)) if "." in value else str(int(value))


def negate(expr: str | None) -> str | None:
    return None if expr is None else f"not ({expr})"


_MAY_FAIL = re.compile(
    r"\b(?:may|might|can|could|is allowed to|is expected to) fail\b|"
    r"\b(?:a |its |any )?failure (?:here )?is (?:expected|harmless|fine|ok)\b|"
    r"\bignore (?:any |the )?(?:errors?|failures?)\b|"
    r"\b(?:command|check|query) fails\b[^.]{0,40}\b(?:left out|ignored|skipped|harmless)\b",
    re.I)


def may_fail(text: str) -> bool:
    """The guide lets a check fail and go on: "(may fail)", "this can fail", "ignore errors"."""
    return bool(_MAY_FAIL.search(text))


# "Repeat steps 1-2 until ...", "Retry the pick", "Wait 5 minutes", "Wait until the pods are
# Ready": an instruction to a person even as a paragraph of its own.
_REPEAT_OR_WAIT = re.compile(
    r"^(?:then\s+|now\s+)?(?:repeat|retry|wait(?:\s+(?:for|until|till|about|up to|at least|"
    r"a (?:few|couple|minute|moment|while)|another|\d+(?:\s*[a-z]+)?|"
    r"(?:one|two|three|four|five|ten|fifteen|thirty)\s+(?:seconds?|minutes?|hours?))))\b", re.I)


def _undecorated(text: str) -> str:
    """A paragraph's words without its bold and its leading decoration."""
    return _DECORATION.sub("", text.replace("**", "").replace("__", "").strip(), count=1)


def repeats_or_waits(text: str) -> bool:
    """Whether a paragraph tells the reader to repeat steps or to wait."""
    return _REPEAT_OR_WAIT.match(_undecorated(text)) is not None


# "Run the first curl again", "Re-run the tests": the check an earlier step made, made again
# (not "Re-run the check from the satellite:" over the block that does it)
_RUN_AGAIN = re.compile(
    r"^(?:then\s+|now\s+)?(?:re-?run\s+(?:the|it|this|that|these|those|step|steps|both|all)\b|"
    r"run\s+(?:the|it|this|that|these|those|step|steps|both|all)\b[^.;:!?`]{0,60}?\bagain\b)"
    r"(?![^:]*:\s*$)", re.I)


def runs_again(text: str) -> bool:
    """Whether a paragraph tells the reader to run again what an earlier step ran."""
    return _RUN_AGAIN.match(_undecorated(text)) is not None


# "**Checkpoint:** the served certificate expires in 2027.", "Expected result: every axis
# reports HOMED.": what a person confirms before going on, not context for a reader.
_CHECKPOINT = re.compile(r"^(?:checkpoint|expected (?:result|outcome|state)|hold point|"
                         # a cell's "Operator confirmation: the door is closed", "Safety
                         # check: ...", "Precondition: ..."
                         r"(?:operator |safety )?confirmation|safety check|pre-?conditions?|"
                         # "Before you start: the AGV must be in manual mode and the area
                         # clear" (what must hold, not "Before you start: read X")
                         r"before (?:you )?(?:start|begin)(?:ning)?(?=\s*[:\u2013\u2014-]\s*"
                         r"(?:the|all|every|nobody|no one|no |make sure|ensure|check|"
                         r"confirm)\b))\s*"
                         r"[:\u2013\u2014-]\s*\S", re.I)


def is_checkpoint(text: str) -> bool:
    """Whether a paragraph states a checkpoint a person confirms ("Checkpoint: ...")."""
    plain = _DECORATION.sub("", text.replace("**", "").replace("__", "").strip(), count=1)
    return _CHECKPOINT.match(plain) is not None and not plain.rstrip(" *_").endswith(":")


# -- jumps -------------------------------------------------------------------------------

# ("... first and repeat step 3", "then redo from step 2": a jump back said with the step alone)
_JUMP = re.compile(
    r"\b(?:(?:skip(?:ping)?|go(?:ing)?(?: back)?|jump|proceed|continue|move(?: on)?|return|turn)"
    r"\s+(?:directly\s+|straight\s+|ahead\s+)?(?:on\s+)?(?:to|with|at)\s+"
    r"|(?:repeat|redo|re-?run|re-?do)\s+(?:(?:it\s+)?from\s+)?(?=step\s+\d+\b(?!\.\d)))"
    r"(?:the\s+)?(?P<target>\[[^\]]+\]\([^)]*\)|step\s+\d+|\S+(?:\s+\S+)?)", re.I)
# "Lag growing for 15 minutes → step 3", "Every partition => [Restart](#restart)": an option's
# arrow points where to go (only at a step or a link: "Settings → Network" is a menu path).
_ARROWS = r"\u2192|\u21d2|->|=>"
_ARROW_JUMP = re.compile(r"(?:" + _ARROWS + r")\s*(?:(?:go|skip|jump|continue|proceed)\s+"
                         r"(?:to|with)\s+)?(?:the\s+)?(?P<target>step\s+\d+\b|\[[^\]]+\]\(#[^)]*\))",
                         re.I)
# "go to B", "continue with section C below": a section lettered so (a capital alone, not "A/B"
# nor "A record")
_LETTERED = re.compile(r"(?:(?:[Ss]ection|[Pp]art|[Ss]tage|[Pp]hase)\s+)?([A-Z])(?=[.;,:)]|\s*$|"
                       r"\s+(?:and|then|if|or|below|above|otherwise|unless|first)\b)")
# "Go to step 3" in a runbook's own language: Polish "przejdź do kroku 3", Czech "pokračujte
# krokem 3", German "weiter mit Schritt 3", Spanish "vaya al paso 3", French "passez à
# l'étape 3", Portuguese "vá para o passo 3", Italian "passa al passo 3", Dutch "ga naar stap
# 3", Swedish "gå till steg 3", Russian "перейдите к шагу 3", Japanese "手順 3 に進む", Hebrew
# "עברו לשלב 3", Arabic "انتقل إلى الخطوة 3"
_STEP_JUMP_SAID = re.compile(
    r"(?:\b(?:przejd\u017a|przejdz|wr\u00f3\u0107|kontynuuj)\s+(?:do|od)\s+kroku"
    r"|\b(?:pokra\u010dujte|pokra\u010duj)\s+krokem|\b(?:p\u0159ejd\u011bte|vra\u0165te se)\s+"
    r"(?:na|ke?)\s+krok(?:u)?"
    r"|\b(?:weiter|fahren sie|gehen sie|springen sie)\s+(?:fort\s+)?(?:mit|zu|bei)\s+Schritt"
    r"|\b(?:vaya|ir|pase|pasar|contin\u00fae|continuar|salte|saltar|vuelva|volver)\s+"
    r"(?:al|con el|hasta el)\s+paso"
    r"|\b(?:passez|allez|continuez|revenez|passer|aller)\s+(?:directement\s+)?"
    r"(?:\u00e0|a|au)\s+(?:l['\u2019]\s*)?\u00e9tape"
    r"|\b(?:v\u00e1|ir|pule|siga|avance|volte|continue)\s+(?:para|ao|at\u00e9)\s+(?:o\s+)?passo"
    r"|\b(?:vai|passa|passare|andare|prosegui|torna)\s+(?:al|allo)\s+passo"
    r"|\b(?:ga|spring)\s+(?:verder\s+)?(?:naar|met)\s+stap"
    r"|\b(?:g\u00e5|hoppa)\s+(?:vidare\s+)?till\s+steg"
    r"|(?:перейдите|переходите|вернитесь)\s+к\s+шагу"
    r"|(?:\u05e2\u05d1\u05e8\u05d5|\u05e2\u05d1\u05d5\u05e8|\u05d4\u05de\u05e9\u05d9\u05db\u05d5|"
    r"\u05d4\u05de\u05e9\u05da|\u05d7\u05d6\u05e8\u05d5|\u05d7\u05d6\u05d5\u05e8)\s+\u05dc\u05e9\u05dc\u05d1"
    r"|(?:\u0627\u0646\u062a\u0642\u0644|\u0627\u0646\u062a\u0642\u0644\u0648\u0627|\u0627\u0630\u0647\u0628|"
    r"\u0627\u0631\u062c\u0639)\s+(?:\u0625\u0644\u0649|\u0627\u0644\u0649)\s+\u0627\u0644\u062e\u0637\u0648\u0629)"
    r"\s+(?P<n>\d{1,3})\b(?!\.\d)"
    r"|(?:\u624b\u9806|\u30b9\u30c6\u30c3\u30d7)\s*(?P<ja>\d{1,3})\s*"
    r"(?:\u306b|\u3078)\s*(?:\u9032|\u623b|\u79fb)", re.I)
_MAY_POINT = re.compile(_ARROWS)  # what every `_ARROW_JUMP` opens with
_SKIP_NEXT = re.compile(r"\bskip\s+the\s+next\s+(?P<n>\d+\s+|two\s+|three\s+)?steps?\b", re.I)
_LINK = re.compile(r"\[(?P<text>[^\]]+)\]\((?P<href>[^)]*)\)")


@dataclass(frozen=True)
class JumpRef:
    kind: Literal["anchor", "step", "skip", "heading", "title", "id"]
    # anchor without '#', step number, number of steps to skip, the words a heading starts
    # with, or a heading's whole title ("title": "go to Recovery", "see the Post-checks section");
    # "id": "ELEMENT:STEP", a row of a flow table (a step the outline already named)
    value: str
    sentence: str
    # named by "(see ...)" after a case's instruction: only a later place
    see: bool = False


# what comes between a case's finding and what to do about it: "the motor is blocked: put the
# tugger on the stands", "the cup is worn or the hose leaks: replace the cup"
_FINDING_THEN = re.compile(r"^[^:;]*?\b(?:is|are|was|were|has|have|means?|indicates?)\b"
                           r"[^:;]*[:;]\s+(?=\S)")


def said_before_jump(text: str) -> str:
    """What a case's words say to do before they jump ("replace the suction cup and go to
    step 4" -> "replace the suction cup"; "the e-stop chain is open: find the pressed e-stop
    and pull it out. Then continue with step 2." -> "find the pressed e-stop and pull it
    out"), or "" when they only jump or only say what the case means. A link in the words is
    its text ("note the ID of the [hot node](...)")."""
    plain = text.replace("**", "").replace("__", "").strip()
    m = _JUMP.search(plain) or _ARROW_JUMP.search(plain)
    if m is None:
        return ""
    before = _LINK.sub(lambda k: k.group("text"), plain[:m.start()])
    before = re.sub(r"(?:[\s,;:.\u2013\u2014]|\b(?:and|then|so)\b)+$", "", before,
                    flags=re.I).strip()
    before = _FINDING_THEN.sub("", before, count=1)
    return before if len(before.split()) >= 2 and _imperative(before[:1].upper() + before[1:]) \
        else ""


def said_after_jump(text: str) -> str:
    """What a case's words hand over after they jump ("go to **Follow-up** and page the
    payments lead" -> "page the payments lead"), or "": it was lost, and only the jump kept."""
    plain = _LINK.sub(lambda k: k.group("text"), text.replace("**", "").replace("__", ""))
    m = _JUMP.search(plain)
    if m is None:
        return ""
    tail = re.search(r"\s(?:and|then)\s+(?:then\s+)?(?P<do>[^.;:]{3,160})",
                     plain[m.start("target"):])
    return tail.group("do").strip() if tail is not None and \
        _HANDS_OVER.search(tail.group("do")) is not None else ""


def finding_then(text: str) -> str:
    """What to do after a case's finding ("the motor is blocked: put the tugger on the jack
    stands and check the wheel by hand" -> "put the tugger on ..."), or ""."""
    plain = text.replace("**", "").replace("__", "").strip()
    m = _FINDING_THEN.match(plain)
    if m is None:
        return ""
    said = plain[m.end():]
    return said if len(said.split()) >= 3 and _imperative(said[:1].upper() + said[1:]) else ""


# "If a peer says `STALE`, restart that pod (see Fix A).", "... replace it (step 3).", "Stop and
# start the instance — see **Stop/start** below.": where the instruction is written
_SEE = re.compile(r"\(\s*(?:see\s+)?(?:the\s+)?(?P<unit>step|section)\s+(?P<n>\d{1,2})\s*\)|"
                  r"(?:\(\s*|[\u2014\u2013]\s*|\s-\s+|[;,]\s*)see\s+(?:the\s+)?"
                  r"(?P<title>[^()\u2014\u2013;]{1,80}?)\s*(?:section\s*)?(?:below\s*)?"
                  r"(?:\)|[.;]?\s*$)", re.I)


def jumps_in(text: str, links: list[tuple[str, str]], *, see: bool = False) -> list[JumpRef]:
    """Jumps in a piece of prose; `links` are its (text, href) pairs from the syntax tree.
    `see`: the prose is a case's, whose "(see X)" after its instruction goes to X."""
    found: list[JumpRef] = []
    if _JUMP.search(text) is None and not (may_hold(text, "skip") and _SKIP_NEXT.search(text)) \
            and not (_MAY_POINT.search(text) and _ARROW_JUMP.search(text)) and \
            not (see and _SEE.search(text)) and _STEP_JUMP_SAID.search(text) is None:
        return found  # no jump verb at all: no sentences to cut
    for sentence in _sentences(text):
        said_step = _STEP_JUMP_SAID.search(sentence)
        if said_step is not None:
            # "W przeciwnym razie przejdź do kroku 3.", "それ以外の場合は手順 3 に進む。": the
            # step numbered so (it was a person's step "go to step 3" with nothing to do)
            found.append(JumpRef("step", said_step.group("n") or said_step.group("ja"),
                                 sentence))
            continue
        skip = _SKIP_NEXT.search(sentence)
        if skip:
            n = (skip.group("n") or "1").strip()
            found.append(JumpRef("skip", {"two": "2", "three": "3"}.get(n, n), sentence))
            continue
        m = _JUMP.search(sentence) or _ARROW_JUMP.search(sentence)
        if not m and see and (said := _SEE.search(sentence)):
            if said.group("n") and said.group("unit").lower() == "step":
                # "roll it back (Step 7)": the step numbered 7, a "## Step 7 - ..." heading
                # or the list's 7th item
                found.append(JumpRef("step", said.group("n"), sentence, see=True))
            elif said.group("n"):
                found.append(JumpRef("heading", f"{said.group('n')}.", sentence, see=True))
            elif (title := _titled(said.group("title"))) and \
                    not _LINK.search(said.group("title")):
                found.append(JumpRef("title", title, sentence, see=True))
            continue
        if not m:
            continue
        target = m.group("target")
        if target.lower().startswith(("the steps below", "steps below", "the next", "next")):
            continue
        # "Yes: go to 4. No: go to 6." in a numbered decision tree: the item numbered so
        step = re.match(r"step\s+(\d+)", target, re.I) or \
            re.match(r"#?(\d{1,3})(?:(?=[;,:)]|\.(?!\d)|$)|"
                     r"(?=\s+(?:and|then|if|or|otherwise|unless)\b))", target, re.I)
        if step:
            found.append(JumpRef("step", step.group(1), sentence))
            continue
        section = re.match(r"(?:(?:section|part|stage|phase)\s+|\u00a7\s*)(\d{1,2})\b", target,
                           re.I)  # ("go to §3": the sign says section)
        if section:  # "go to section 3": the heading numbered "3." ("## 3. Re-home the axes")
            found.append(JumpRef("heading", f"{section.group(1)}.", sentence))
            continue
        lettered = _LETTERED.match(sentence, m.start("target"))
        if lettered:  # "→ go to B": the heading lettered "B." ("## B. Reset and re-home")
            found.append(JumpRef("heading", f"{lettered.group(1)}.", sentence))
            continue
        rest = sentence[m.start("target"):]
        href = next((h for t, h in links if t and rest.startswith(t)), None)
        if href is None and (link := _LINK.match(rest)):
            href = link.group("href")
        if href is not None:
            if href.startswith("#"):
                found.append(JumpRef("anchor", href[1:], sentence))
            continue  # a link to another page is a reference or a call, not a jump
        near = sentence[m.start("target"):m.start("target") + 40 + 80]
        linked = next((h for t, h in links if t and h.startswith("#") and
                       0 <= near.find(t) <= 40), None)
        if linked is not None:  # "proceed to check for a [popular key log](#a-popular-key)"
            found.append(JumpRef("anchor", linked[1:], sentence))
            continue
        words = re.sub(r"[^\w\s-]", "", target).strip()
        if words and words.split()[0].lower() in ("mitigation", "diagnosis", "resolution",
                                                   "remediation", "troubleshooting"):
            found.append(JumpRef("heading", words.split()[0], sentence))
        elif title := _titled(rest):
            found.append(JumpRef("title", title, sentence))
    return found


# What may follow a heading's title in a jump: "go to Recovery.", "continue with the Post-checks
# section below", "proceed to *Rollback* if it fails".
_TITLE_END = re.compile(r"\s*(?:[.;:!?,(\u2014]|-\s|\b(?:section|part|stage|phase|heading|"
                        r"below|above|and|if|when|unless|otherwise|then|to|for|in|of)\b|$)", re.I)


def _titled(rest: str) -> str | None:
    """What a jump names when it may name a heading by its title: "Recovery ..." in "go to
    Recovery." or "go to the *Recovery* section", made comparable with `title_key`. A title
    keeps its capital or its emphasis in prose ("go to the node" names no section); which
    heading, if any, has that title is `titled_heading`'s to say."""
    lead = rest.lstrip()[:1]
    if not lead or not (lead.isupper() or lead in "*_\"'`\u201c\u2018" or
                        _TITLE_NUMBER.match(rest)):  # "go to 3 · Clear a jam"
        return None
    return title_key(rest)


def titled_heading(named: str, titles: Iterable[tuple[str, T]]) -> T | None:
    """The heading whose title `named` (from `_titled`) starts with, followed by nothing or
    by the end of the name ("recovery section below"); the longest title wins."""
    best: tuple[int, T] | None = None
    for whole, heading in titles:
        # ("see Fix A" names "## Fix A — stale proxy" by its label)
        label = re.split(r"\s+[\u2014\u2013-]\s+|:\s", whole, maxsplit=1)[0]
        for title in {whole, label}:
            if title and named.startswith(title) and _TITLE_END.match(named[len(title):]) and \
                    (best is None or len(title) > best[0]):
                best = (len(title), heading)
    return best[1] if best is not None else None


def title_key(text: str) -> str:
    """A heading's title as a jump names it: no enumerator ("3.", "Step 2 -"), emphasis,
    quotes or case."""
    plain = re.sub(r"[*_`\"\u201c\u201d\u2018\u2019]", "",
                   _strip_enumerator(text.replace("**", "")))
    # a heading's own number before a dot or dash: "3 · Clear a jam", "2 - Re-home", "4 | Resume"
    plain = _TITLE_NUMBER.sub("", plain, count=1)
    return " ".join(plain.split()).strip(" :").lower()


@functools.lru_cache(maxsize=64)
def numbered_title(n: int) -> re.Pattern[str]:
    """A title numbered `n`: "3. Check the port", "3) ...", "3 - ...", "3: ...", "3 · ...",
    "Phase 3 — Resolve", and a regulated procedure's "6 Rollback" (its number, a space, then its
    title's capital: "proceed to section 6" landed nowhere, a person's step)."""
    return re.compile(rf"^\W*(?:(?:section|part|stage|phase)\s+)?{n}"
                      r"(?:[.)]|\s*[:\u00b7\u2022|\u2013\u2014-]\s|\s*$|[ \t]+(?-i:[A-Z]))(?!\d)",
                      re.I)


_TITLE_NUMBER = re.compile(r"^\s*[0-9]{1,2}\s*[\u00b7\u2022|:\u2013\u2014-]\s+")


_UNCONDITIONAL = re.compile(r"^\W*(?:then|now|next|afterwards|after that|finally)?[\s,]*"
                            r"(?:please\s+)?(?:proceed|go|continue|skip|jump|move on)\b"
                            r"(?![^.]*\b(?:for (?:more )?(?:details|information|reference)|"
                            r"if|when|unless|otherwise)\b)", re.I)


def is_unconditional_jump(sentence: str) -> bool:
    """"Proceed to Step 5." / "Then go to [Mitigation](#mitigation).": a jump the guide
    always takes, not a question; so is one after what to do first ("Re-seat the part by
    hand, then continue with Step 3")."""
    return bool(_UNCONDITIONAL.match(sentence.replace("**", ""))) or \
        action_before_jump(sentence) is not None


# "Re-seat the part by hand, then continue with Step 3": what to do, then where to go
_THEN_JUMP = re.compile(r"^(?P<lead>.+?)(?:,\s*(?:and\s+)?then|;\s*then|\s+and\s+then|,\s*and)\s+"
                        r"(?=(?:please\s+)?(?:proceed|go|continue|skip|jump|move on)\b)", re.I)
_CONDITIONAL = re.compile(r"\b(?:if|when|whenever|unless|otherwise|in case|whether|once|until|"
                          rf"{_PROVISO}|"
                          r"after)\b|\?", re.I)


# "Lock out the conveyor, clear the box by hand, then restart it with `x`": a person's hands,
# then the command
_THEN_COMMAND = re.compile(r"^(?P<lead>[^`]+?)(?:,\s*(?:and\s+)?then|;\s*then|\s+and\s+then)\s+"
                           r"(?=[^`]*`)", re.I)


def done_before_command(sentence: str, code: str) -> str:
    """What a sentence tells a person to do before the command `code` it then runs ("Jog the
    robot to home from the teach pendant, then `x`" -> "Jog the robot to home from the teach
    pendant"), or "" when it says nothing before it, or a condition."""
    at = sentence.find(f"`{code}`")
    m = _THEN_COMMAND.match(sentence[:at + 1].replace("**", "") if at >= 0 else "")
    if m is None:
        return ""
    lead = re.sub(r"^[\w ]{1,20}:\s+", "", m.group("lead")).strip(" ,;:")  # ("Remedy: ...")
    return lead if len(lead.split()) >= 2 and _imperative(lead[:1].upper() + lead[1:]) and \
        _CONDITIONAL.search(lead) is None else ""


# "Lock out the conveyor and clear the jam by hand, then restart it:", "Wait 15 minutes, then
# restart it:": what a person does, then the instruction that introduces a block (in one
# sentence or two: "Ask the DC technician to swap the disk. Then add the new disk:")
_THEN_BLOCK = re.compile(r"^(?P<lead>(?:[^`:]|`[^`]*`)+?)"
                         r"(?:,\s*(?:and\s+)?then|;\s*then|\s+and\s+then|[.!]\s+then)\s+[^`:]+:\s*$",
                         re.I)


# what only a person does before the block: wait ("Wait one minute", "Let the robot cool down
# for 15 minutes"), use their hands ("Lock out the conveyor and clear the jam by hand") or ask
# someone to ("Ask the DC technician to swap the disk"); not
# what the block may do itself ("Remove packages first, then install ...", "Retry the pick up
# to 3 times, then abort")
_PERSON_FIRST = re.compile(r"^(?:wait|pause)\b|^(?:ask|get)\s+(?:the|a|an|your|our|someone|"
                           r"somebody)\b[^,;]*?\bto\s+[a-z]|^let\b[^,]*\b(?:cool|settle|drain|recover|finish|"
                           r"catch up|stabili[sz]e)\b|\bby hand\b|\bmanually\b|\bphysically\b|"
                           rf"{_LOCK_OUT.pattern}", re.I)


def done_before_block(intro: str) -> str:
    """What the words introducing a block tell a person to do before its commands ("Wait 15
    minutes, then restart it:" -> "Wait 15 minutes"), or "" when they say nothing only a
    person does before it, or a condition."""
    m = _THEN_BLOCK.match(_strip_enumerator(intro.replace("**", "").replace("__", "")).strip())
    if m is None:
        return ""
    lead = _instruction_clause(m.group("lead")).strip(" ,;:")  # ("If the fault is X, ...")
    return lead if len(lead.split()) >= 2 and _imperative(lead[:1].upper() + lead[1:]) and \
        _PERSON_FIRST.search(lead) is not None and _CONDITIONAL.search(lead) is None else ""


# "If the state is `Held` (and ...)": a thing, and the one value in code it is said to have
_IS_VALUE = re.compile(r"^(?:if|when)\s+(?P<subject>[\w' .-]{2,40}?)\s+(?:is|reads|equals|"
                       r"shows)\s+(?P<value>`[^`]+`)(?:\s|[,:.]|$)", re.I)


def other_value(first: str, second: str) -> bool:
    """Whether two conditions give one thing two different values ("If the state is `Held`",
    "If the state is `Aborted`"): cases of which at most one holds."""
    a = _IS_VALUE.match(first.replace("**", "").replace("__", "").strip())
    b = _IS_VALUE.match(second.replace("**", "").replace("__", "").strip())
    return a is not None and b is not None and \
        a.group("subject").lower() == b.group("subject").lower() and \
        a.group("value") != b.group("value")


def action_before_jump(sentence: str) -> str | None:
    """The instruction a sentence gives before its unconditional jump ("Re-seat the part by
    hand" in "Re-seat the part by hand, then continue with Step 3"), if it has one and no
    condition."""
    plain = sentence.replace("**", "")
    m = _THEN_JUMP.match(plain)
    if m is None or _CONDITIONAL.search(m.group("lead")) or \
            not _UNCONDITIONAL.match(plain[m.end():]):
        return None
    return m.group("lead").strip()


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\[`*])")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


# -- escalation --------------------------------------------------------------------------

# Handing the incident itself to another team is escalating it ("Transfer the ICM to Azure
# Storage/Triage", "reassign the incident to", "engage the storage on-call").
_HAND_OFF = (r"(?:transfer|reassign|route|hand (?:it )?off|hand over) (?:the |this |your )?"
             r"(?:icm|incident|ticket|case|page|alert)s? to|"
             r"engage (?:the )?(?:[\w/&-]+ ){0,4}(?:team|on-?call|support|sre)")
_ESCALATE = re.compile(
    rf"{_ESCALATE_CJK}|\b(?:open (?:a )?(?:support )?(?:case|ticket)|contact (?:\w+ )?"
    r"(?:support|the on-?call|your|the team)|escalat\w+|page (?:the|an?) |"
    r"cannot resolve the issue|can't resolve|"
    rf"unable to resolve|file (?:a|an) (?:bug|issue)|{_ASK_A_TEAM}|{_ESCALATE_WORD}|{_HAND_OFF}|"
    rf"{_DECLARE}|hand (?:it )?over to|"
    # a plant's hand-over: "lock it out and open a maintenance work order"
    r"open (?:a |an )?(?:maintenance|service|repair) (?:ticket|request|case|work order)|"
    r"(?:open|raise|file|request|start) (?:a |an )?rma|"
    rf"{_CALL_A_PERSON})"
    r"\b", re.I)


# "If the queue is below 1000, the backlog drains on its own; stop here.", "..., you are done":
# what the guard's branch does is end the run (nothing else follows "stop" in its sentence).
# "... and terminate the procedure here" (an integrator's English), "end the runbook here";
# "stop here; the sweeper retries them" (why, after the stop: no step of its own)
_STOP_HERE = re.compile(r"(?:^|[,;:\u2013\u2014]\s*|\b(?:and|so|y|e|et|und)\s+)"
                        r"(?:you (?:can|may) |just )?"
                        r"(?:stop (?:here|now|there)|you(?: are|'re) done|we(?: are|'re) done|"
                        # the same in a runbook's own language: Spanish "deténgase aquí",
                        # Italian "fermarsi qui", French "arrêtez-vous ici", German "brechen
                        # Sie hier ab", Portuguese "pare aqui"
                        r"det[ée]ngase(?: aqu[ií])?|det[ée]nte aqu[ií]|det[ée]nganse aqu[ií]|"
                        r"fermarsi qui|fermati qui|fermatevi qui|arr[êe]tez(?:-vous)? ici|"
                        r"arr[êe]ter ici|brechen sie (?:hier|den vorgang|das verfahren) ab|"
                        r"hier abbrechen|pare aqui|parar aqui|"
                        r"(?:the )?(?:run|procedure|runbook) (?:ends|is (?:over|complete)) here|"
                        r"(?:terminate|end|finish|abort|quit) (?:the |this )?(?:procedure|"
                        r"runbook|troubleshooting|process|guide)(?: here| now| at this point)?|"
                        # "Post the failing test in #analytics-eng and stop.": "stop" with
                        # nothing after it is the reader's own (a pump's is "to stop")
                        r"stop(?=[\s.!]*$|,?\s+and\s+(?:do not|don't|never)\s))"
                        r"(?:[\s.!]*$|\s*[;:\u2013\u2014]\s+(?P<why>[^;:\n]+?)[\s.!]*$|"
                        # "stop here and watch it", "... and let it recover": nothing more to
                        # do but wait (it was a person's step, and the run went on)
                        r",?\s+and\s+(?:just\s+)?(?:watch|monitor|keep (?:an eye on|watching)|"
                        r"let (?:it|them|the \w+) (?:recover|finish|drain|catch up))\b"
                        r"[^;:\n]*?[\s.!]*$|"
                        # a pre-check's "stop and do not start the change", "stop here and do
                        # not proceed": what not to do after stopping (it was a person's step,
                        # and the run went on into the change)
                        r",?\s+and\s+(?:do not|don't|never)\s+(?:start|begin|proceed|continue|"
                        r"go on|carry on|make|apply|run)\b[^;:\n]*?[\s.!]*$)", re.I)


def stops_here(text: str) -> bool:
    """Whether a guard's consequent is to stop the run there ("stop here", "you are done");
    a clause after it ("stop here; the payouts are retried") says why, unless it says to do
    something more ("stop here; restart it" is no stop)."""
    m = _STOP_HERE.search(text.replace("**", "").replace("__", "").strip())
    return m is not None and (m.group("why") is None or not _imperative(m.group("why")))


def before_stopping(text: str) -> str:
    """What a consequent that stops the run says to do first ("send the AGV to charge instead
    and stop here" -> "send the AGV to charge instead"), or ""."""
    plain = text.replace("**", "").replace("__", "").strip()
    m = _STOP_HERE.search(plain)
    if m is None:
        return ""
    return re.sub(r"(?:[\s,;:\u2013\u2014]|\b(?:and|so|then)\b)+$", "", plain[:m.start()]).strip()


_CLAUSES = re.compile(r"[,;:.!?\u2013\u2014]\s+|\s+-\s+|\s+(?:and|so|then)\s+")


def only_why(text: str) -> bool:
    """Whether what a stop's sentence says before the stop is only why ("the cluster is
    recovering by itself: stop here"), no clause of it an instruction ("the alert is stale -
    resolve the alert and stop here", "the provider is down. Post in #billing and stop")."""
    plain = text.replace("**", "").replace("__", "").strip()
    return bool(plain) and not any(
        is_instruction_only(c) or _imperative(c[:1].upper() + c[1:])
        for c in _CLAUSES.split(plain) if c.strip())


# What a stop's sentence says to do first that hands the incident on: telling someone ("Inform
# IT-Service (Tel. 4711) and terminate the procedure here", "notify the line lead and stop")
# or going on in another runbook ("go to the [provider status runbook](status.md) and stop
# here", "follow the database playbook and stop"): the run ends handed over, not resolved.
_HANDS_OVER = re.compile(
    r"(?:^|[,;:.!?\u2013\u2014]\s*|\b(?:and|then|so)\s+)(?:please\s+)?(?:"
    r"(?:inform|notify|tell|alert|call|phone|ring|contact|page|ping|message|hand (?:it )?over to|"
    r"pass (?:it )?(?:on )?to|ask)\s+(?!(?:it|this|that|them)(?![\w-])|the (?:api|endpoint|"
    r"script|function|command|service|url)\b)\S|"
    r"(?:go (?:on )?to|follow|continue (?:with|in|from)|switch to|move (?:on )?to|proceed (?:with|"
    r"to)|refer to|use)\s+(?:the\s+|that\s+|an?\s+)?(?:\[)?(?:[\w/&'-]+\s+){0,4}?"
    r"(?:runbook|playbook|run ?book|sop|tsg|troubleshooting guide|procedure|guide|process)s?\b)",
    re.I)


# "this is the Windows team's problem, call them (x4410)": "them" is the team the sentence
# named (not "restart the pods, tell them apart")
_TELL_THE_NAMED = re.compile(r"\b(?:team|on-?call|support|vendor|owners?|help ?desk|lead|"
                             r"engineers?|admins?|dba)\b(?:'s)?[^.;]{0,80}?\b(?:inform|notify|"
                             r"tell|call|phone|ring|contact|page|ping|message)\s+them\b", re.I)


# "Post the failing test in #analytics-eng and stop.": the team that reads the channel takes it
_POSTS_TO_A_CHANNEL = re.compile(r"(?:^|[,;:.!?\u2013\u2014]\s*|\b(?:and|then|so)\s+)(?:please\s+)?"
                                 r"(?:post|share|report|raise|drop|put)\b[^.;:#]{0,60}?\s"
                                 r"(?:in|to|on|into)\s+#[\w-]+", re.I)


def stops_handed_over(consequent: str) -> bool:
    """Whether a consequent that stops the run hands the incident on first: to a person or
    team it tells, to another runbook, or to the channel it posts in ("post the failing test
    in #analytics-eng and stop"), unless the stop says why nothing more is needed ("post in
    #billing-incidents and stop here; the payouts are retried once the provider is back": an
    announcement, the run's work done)."""
    plain = consequent.replace("**", "").replace("__", "").strip()
    m = _STOP_HERE.search(plain)
    if m is None or m.group("why") is not None and _imperative(m.group("why")):
        return False
    before = before_stopping(plain)
    return hands_over(before) or m.group("why") is None and \
        _POSTS_TO_A_CHANNEL.search(before) is not None


def hands_over(text: str) -> bool:
    """Whether what a stop's sentence says to do before stopping hands the incident on: to a
    person or team it tells, or to another runbook ("inform IT-Service", "go to the provider
    status runbook")."""
    plain = text.replace("**", "").replace("__", "")
    return _HANDS_OVER.search(plain) is not None or _TELL_THE_NAMED.search(plain) is not None


# "If two members are down, do not continue. Restore from the snapshot instead, see [etcd
# disaster recovery](dr.md).": the guide's steps are not for that case, and what it says to
# do instead is for a person (the run went on into removing a member).
_GO_NO_FURTHER = re.compile(r"^\W*(?:do not|don't|never)\s+(?:continue|proceed|go on|go any "
                            r"further|go further)(?:\s+(?:with (?:this|these|the) (?:runbook|"
                            r"procedure|steps?|guide|playbook)|any further|here))?\s*(?:[.!;]|$)",
                            re.I)


def goes_no_further(text: str) -> bool:
    """Whether a guard's consequent opens by telling the reader not to go on ("do not
    continue", "don't proceed with this runbook")."""
    return _GO_NO_FURTHER.match(text.replace("**", "").replace("__", "").strip()) is not None


_ESCALATES = _Caseless(_ESCALATE)


# "Escalate to the identity team first.", "Page the DBA before restarting the primary.": a
# hand-over the sentence puts before another action is that action's precondition (a caution
# beside it), not the run's ending.
_BEFOREHAND = re.compile(r"(?:\b(?:first|beforehand)|\bbefore\s+(?:you\b|doing\b|any\b|\w+ing\b)"
                         r"[^.!?]*)[\s.!]*$", re.I)


def is_escalation(text: str) -> bool:
    """Whether a text hands the incident over ("Escalate to the DB team"): some sentence of
    it escalates, and not only as the precondition of another action ("... first")."""
    if not _ESCALATES.occurs(text):
        return False
    if not may_hold(text, "first", "before"):
        return True
    return any(_ESCALATES.occurs(s) and not _BEFOREHAND.search(s) for s in _sentences(text))


_FALLBACK = re.compile(
    r"\b(?:cannot|can't|can not|unable to|could not|couldn't|fail(?:s|ed)? to) (?:resolve|fix|"
    r"mitigate)|\b(?:does not|doesn't|did not|didn't|do not|don't) (?:resolve|fix|help|work|"
    r"solve|mitigate)|\b(?:issue|problem|alert|error)s? (?:still )?(?:persists?|remains?|"
    r"continues?)|\bstill (?:fail\w*|firing|occur\w*|happen\w*|see\w*|persist\w*)|"
    r"\bnone of (?:the|these|this)|\bnothing (?:above |else )?(?:works|helps)|"
    r"\bnot (?:resolved|fixed|mitigated)\b|\bin doubt\b|\bunsure\b|\bnot sure\b|"
    # Polish: "problem nadal występuje" (the problem still occurs), "nie pomaga" (does not help)
    r"\bnadal (?:wyst\u0119puje|jest|trwa)\b|\bnie pom(?:aga|og\u0142o)\b", re.I)


_PARALLEL = re.compile(
    r"\bsteps?\s+(?P<a>\d{1,3})\s*(?:-|\u2013|\u2014|to|through|thru|and)\s*(?:step\s+)?"
    r"(?P<b>\d{1,3})\b(?P<rest>[^.]{0,80}?)\b(?:in parallel|concurrently|simultaneously|"
    r"at the same time|independently|in any order)\b"
    r"|\b(?:in parallel|concurrently|simultaneously|at the same time)\b[^.]{0,40}?\bsteps?\s+"
    r"(?P<c>\d{1,3})\s*(?:-|\u2013|\u2014|to|through|thru|and)\s*(?:step\s+)?(?P<d>\d{1,3})\b",
    re.I)


def parallel_steps(text: str) -> list[tuple[int, int]]:
    """"Steps 2-10 can be executed in parallel", "run steps 3 to 5 concurrently": the ranges
    of step numbers the guide lets run at once."""
    out: list[tuple[int, int]] = []
    for m in _PARALLEL.finditer(text):
        a, b = (m.group("a"), m.group("b")) if m.group("a") else (m.group("c"), m.group("d"))
        if m.group("a") and re.search(r"\b(?:not|never|cannot|can't)\b", m.group("rest") or ""):
            continue  # "steps 2-4 must not run in parallel"
        lo, hi = int(a), int(b)
        if lo < hi:
            out.append((lo, hi))
    return out


def is_fallback(text: str) -> bool:
    """"If you cannot resolve the issue / if this does not help / if the issue persists":
    a condition over the whole procedure, not over one check."""
    return bool(_FALLBACK.search(text))


_DO = (r"add|address|adjust|allow|apply|ask|assign|avoid|back ?up|bump|call|cancel|change|check|"
       r"clean|clear|collect|compare|configure|confirm|consider|consult|contact|copy|cordon|"
       r"create|debug|decrease|delete|deploy|describe|disable|drain|drop|edit|enable|ensure|"
       r"escalate|evict|examine|execute|expand|export|file|find|fix|follow|force|gather|get|"
       r"grant|identify|increase|inspect|install|investigate|kill|launch|list|locate|log ?in|"
       r"look|make sure|manually|mark|migrate|modify|monitor|mount|move|notify|open|page|patch|"
       r"pause|perform|ping|please|post|prune|pull|purge|push|query|raise|re-?run|rebalance|"
       r"reboot|rebuild|recreate|reduce|refer|reinstall|reload|remove|rename|repair|replace|"
       r"report|request|reset|resize|restart|restore|resume|retry|revert|review|roll ?back|run|"
       r"scale|search|see|send|set|ssh|start|stop|switch|take|terminate|try|uncordon|unmount|"
       r"update|upgrade|use|validate|verify|wait|watch|wipe|work|"
       # a person's hands at a machine ("Close gate S4-G1 and acknowledge on the safety panel",
       # "Torque the bolts to 24 Nm"): verbs a plant's playbook opens with, often before a name
       # with no article ("close gate G2", "press RESET"). (Not "jog": "Jog the robot home, then
       # `curl ...`" is a hand on the pendant, the whole sentence a person's step.)
       r"close|press|acknowledge|twist|lock ?out|unlock|reseat|re-?seat|tighten|torque|"
       r"refill|reconnect|disconnect|unplug|plug in|power[- ]cycle|power (?:off|on|down|up)")
_INSTRUCTION = re.compile(
    rf"^(?:then\s+|and\s+|just\s+|simply\s+|first\s+|also\s+|immediately\s+)*(?:{_DO})\b|"
    r"^(?:you|we|the operator|an? (?:operator|admin\w*|engineer))\s+(?:\w+\s+)?(?:should|must|"
    r"can|could|need|needs|have to|has to|may want|might want|will (?:need|have)|are advised|"
    r"want)\b|\b(?:should|must|needs? to|has to|have to) be (?:\w+ed|done|run|rebuilt|"
    r"taken)\b|^(?:it|this|that) (?:is|'s) (?:recommended|advised|best|safe|necessary)\b|"
    r"\b(?:means?|indicates?|suggests?|is (?:likely|probably)|you (?:have hit|are hitting|"
    r"are affected|hit)|can (?:only )?be (?:only )?(?:a |an |the )?\w+ (?:failure|issue|"
    r"problem|cause))\b|^(?:no|nothing)\b|\broot cause\b|\bresolution\b", re.I)


def instructs(text: str) -> bool:
    """Whether a list item tells the reader what to do, in prose: it opens with a verb in the
    imperative ("Make sure nobody is inside the fence.", "Put the cell in T1 on the teach
    pendant.", "Notify the shift lead."), not a statement ("The pods restart", "No data is
    lost") nor a label over what follows ("Check these:")."""
    plain = _strip_enumerator(_DECORATION.sub("", text.replace("**", "").replace("__", "")
                                              .strip(), count=1)).strip(" *_")
    first = plain.split("\n", 1)[0]
    if first.rstrip().endswith((":", "?")) or len(first.split()) < 3 or \
            guard_of(first) is not None:
        return False
    return _imperative(first)


def opens_with_a_verb(text: str) -> bool:
    """Whether a list item opens with a verb the verb lists know ("stop pubsubbeat",
    "Restart nginx"), however short, and is no label over what follows ("Check these:")."""
    plain = _strip_enumerator(text.replace("**", "").replace("__", "").strip()).strip(" *_")
    first = plain.split("\n", 1)[0]
    return not first.rstrip().endswith((":", "?")) and guard_of(first) is None and \
        _INSTRUCTION_VERB.match(first[:1].upper() + first[1:]) is not None


def _imperative(plain: str) -> bool:
    """Whether words open with a verb in the imperative ("Reboot it", "Put the cell ...")."""
    return _INSTRUCTION_VERB.match(plain) is not None or \
        _IMPERATIVE_SHAPE.match(plain) is not None and _NOT_A_VERB.match(plain) is None


# words that open a sentence as "Press the ..." does but are no verb ("After the scale up, the
# series are expected to drop", "Once the pods restart", "During the window")
_NOT_A_VERB = re.compile(r"^(?:after|before|during|once|since|while|when|until|unless|upon|"
                         r"within|without|with|from|into|onto|over|under|above|below|behind|"
                         r"between|for|in|on|at|by|of|to|via|per|like|as|all|each|every|any|"
                         r"both|some|most|many|only|even|just|maybe|perhaps|usually|sometimes|"
                         r"often|here|there|then|now|so|thus|hence|this|that|these|those|it|"
                         r"its|their|our|your|my|no|not|nothing|none|because|although|though|"
                         r"if|whether|what|which|who|how|why|where|is|are|was|were|do|does|"
                         r"or|and|but|nor|yet|"
                         r"did|can|could|should|will|would|has|have|had|may|might|must|"
                         # a note, not a deed: "Keep in mind that ...", "Bear in mind ..."
                         r"(?:keep|bear) in mind|note that|remember that|be aware)\b",
                         re.I)
_INSTRUCTION_VERB = re.compile(rf"^(?:then\s+|first\s+|also\s+)?(?:{_DO})\b", re.I)
_OPTIONS = re.compile(r"\b(?:either|one of|any of|options?|alternatives?|alternatively|"
                      r"you (?:can|could|may|might)|choose|pick|ways? to|possible|potential)\b",
                      re.I)


def offers_options(intro: str) -> bool:
    """Whether the words before a list offer its items as choices ("You can either:",
    "Options:"), not as steps to take in turn."""
    return _OPTIONS.search(intro) is not None


_CUE = re.compile(r"\b(?:you|we)\s+(?:\w+\s+){0,2}(?:should|must|need|needs|have to|has to|"
                  r"can|could|will need|want to|may want|might want)\b|\b(?:most |very )?likely\b|"
                  r"\bprobably\b|\bit(?: is|'s) (?:possible|worth|best|better|recommended)\b", re.I)
_SUBJECT = re.compile(r"^(?:the|a|an|this|that|it|its|it's|they|there|these|those|their|some|"
                      r"all|each|any|both|one|such|his|her|our|other|another|only|every|most|"
                      r"many|several)\b|^[A-Z][\w.-]*\s+(?:will|would|can|cannot|can't|could|may|"
                      r"might|is|are|was|were|has|have|does|do|did|uses?|returns?|shows?|"
                      r"reports?|fails?|tries|attempts?|starts?|stops?|continues?)\b", re.I)


_FINDING = re.compile(
    r"^(?:then\s+)?(?:it|this|that|there|the\s+[\w./-]+(?:\s+[\w./-]+){0,3}|[A-Za-z][\w./-]*"
    r"(?:\s+[\w./-]+){0,2})\s+(?:is|are|isn't|aren't|is not|are not|was|were|has|have|hasn't|"
    r"haven't|does not|doesn't|do not|don't|cannot|can't|can only be|(?:may|might|must|could) "
    r"(?:be|have|not be)|means?|indicates?|shows?|suggests?)\b", re.I)
_HABIT = re.compile(r"\b(?:will|would|otherwise|automatically|by default|usually|typically|"
                    r"normally|always|each time|every time)\b", re.I)


def is_finding(consequent: str) -> bool:
    """"the service is down", "there may be problems with Sentinel", "the channel does not
    exist": what a check's result tells the reader, a conclusion the run should record; not
    what the system does by itself ("the operator will retry", "it is set to False otherwise")."""
    plain = re.sub(r"[*_`]", "", consequent).strip(" ,;:-")
    return bool(_FINDING.match(plain)) and not _HABIT.search(plain)


def is_instruction_only(consequent: str) -> bool:
    """An instruction proper (not a finding)."""
    plain = re.sub(r"[*_`]", "", consequent).strip(" ,;:-")
    return bool(_INSTRUCTION.search(plain) or _CUE.search(plain)) or \
        outcome_of(plain) is not None


def is_instruction(consequent: str) -> bool:
    """Whether what a guard says to do is an instruction or a finding ("delete the pod",
    "you should restart it", "this means the disk is full"), not a description of what
    happens ("the PVC will be Pending", "Ceph will use large packets"): a clause that opens
    with a subject other than "you" or "we" and gives no cue to act describes."""
    plain = re.sub(r"[*_`]", "", consequent).strip(" ,;:-")
    if not plain:
        return False
    if _INSTRUCTION.search(plain) or _CUE.search(plain) or outcome_of(plain) is not None or \
            is_finding(plain):
        return True
    first = plain.split()[0]
    if first[0].isupper() and re.fullmatch(rf"(?:{_DO})", first.lower()):
        return True
    return not _SUBJECT.match(plain)


_GUARD_WORD = re.compile(r"\b(?:if|when|whenever|in case|in the case|unless|should|otherwise|once|"
                         rf"else|for the case|{_PROVISO}|{_IF_WORDS}|{_ELSE_WORDS})\b|"
                         rf"{_CJK_IF}|{_CJK_ELSE}",
                         re.I)


_GUARD_HINTS = ("if", "when", "unless", "once", "should", "otherwise", "else", "case", "provid",
                "long as", "the event", "wenn",
                "falls", "sofern", "sonst", "andernfalls", "si", "cuando", "contrario",
                "lorsque", "quand",
                "au cas", "se", "caso", "quando", "qualora", "altrimenti", "als", "indien",
                "wanneer", "anders", "zo niet", "ingeval", "sen\u00e3o", "если", "когда",
                "в случае", "иначе", "противном", "만약", "만일", "그렇지", "아니면", "그 외의",
                "je\u015bli", "je\u017celi", "gdy", "przeciwnym", "inaczej", "o ile",
                "e\u011fer", "\u015fayet", "aksi ", "de\u011filse", "jika", "apabila", "bila",
                "kalau", "selain itu", "sebaliknya", "om", "ifall", "annars",
                "i annat fall", "n\u1ebfu", "pokud", "jestli", "jinak", "opa\u010dn\u00e9m",
                "v p\u0159\u00edpad\u011b", "tr\u01b0\u1eddng h\u1ee3p", "ng\u01b0\u1ee3c l\u1ea1i",
                "\u05d0\u05dd", "\u05db\u05d0\u05e9\u05e8", "\u05d0\u05d7\u05e8\u05ea",
                "\u0625\u0630\u0627", "\u0627\u0630\u0627", "\u0641\u064a \u062d\u0627\u0644",
                "\u0648\u0625\u0644\u0627", "\u0648\u0627\u0644\u0627", "\u062e\u0644\u0627\u0641",
                *_CJK_IF.split("|"), *_CJK_ELSE.split("|"))


# The hints as one scan of the text (testing them one by one was 80 scans of every paragraph
# and item, 9% of compiling a 20,000-item list): a hint occurs where any of them would.
_GUARD_WORDS = _Caseless(_GUARD_WORD)
_GUARD_HINT = re.compile("|".join(re.escape(w) for w in _GUARD_HINTS))


def may_guard(text: str) -> bool:
    """A cheap test before cutting `text` into sentences: does any guard word occur?"""
    return _GUARD_HINT.search(text.lower()) is not None and _GUARD_WORDS.occurs(text) or \
        _ALTERNATIVE.match(text.lstrip(" *_")) is not None or \
        _CONDITION_ACTION.match(text.replace("**", "").lstrip(" *_")) is not None or \
        _TURKISH_IF.match(text.lstrip(" *_")) is not None or \
        "means" in text and _EXIT_CODE_MEANS.search(text) is not None or \
        _JAPANESE_IF.match(text.lstrip(" *_")) is not None


_CODE_SPAN_TEXT = re.compile(r"`[^`]*`")

_ABBREV_END = re.compile(r"\b(?:e\.g|i\.e|etc|vs|approx|incl|no|fig|ex|cf)\.$", re.I)
_SENTENCE_AT = re.compile(r"(?<=[.!?])[\"')\]*_]*\s+(?=[\[*_`\"(]*[A-Z0-9\u0410-\u042f\u0401])|"
                          # an item's next paragraph, after one with no stop (`guide`)
                          r"[ \t]*\n\s*(?=[\[*_`\"(]*[A-Z\u0410-\u042f\u0401])|"
                          # a Chinese, Japanese or Korean sentence after one ("。" read as
                          # ". "; Korean has no capitals)
                          r"(?<=[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7a3][.!?])\s+"
                          r"(?=[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7a3])|"
                          # a Hebrew or Arabic sentence after one (no capitals either)
                          r"(?<=[.!?\u061f])\s+(?=[\u200e\u200f]?[\u05d0-\u05ea\u0620-\u064a])")


# "Abort if ...", "Stop if ...", "Do not continue unless ..." after a code span: a list item's
# next paragraph ("1. Home the axes: `cellctl axis home`" over "Abort if any axis reports
# `HOMING_FAILED`."), joined to the item's text with no stop between them: a sentence of its
# own, never the condition of the command before it. So is an answer on the line after the
# check that answers a question ("Check it: `x`" over "Yes: go to 2. No: go to 5.").
ABORT_AFTER_CODE = re.compile(r"(?<=`)\s+(?=(?:Abort|Stop|Halt|(?:Do not|Don't|Never) "
                               r"(?:continue|proceed|go on))\b|"
                               # ("\u2705 Yes \u2192 restart: `x`  \u274c No \u2192 escalate")
                               r"(?:[\u2190-\u2bff\U0001f000-\U0001faff]\ufe0f?\s*)?"
                               r"[*_]{0,2}(?:Yes|No)[*_]{0,2}\s*"
                               r"(?::|\u2192|\u21d2|->|=>|\u2013|\u2014))")
# A guard opened with no stop before it: an item's next paragraph or line, joined to the text
# before ("1. Count the errors: `grep -c error /var/log/app.log`" over "If it prints 0, no
# action is needed."). A capitalised "If", "When", "Unless" or "Otherwise" after a word or a
# code span never continues the sentence before it. A title's words are not a guard: "Restart
# If Needed" (so the word after "If" is in lower case, an acronym, a number or code), nor a
# section named after it ("Skip to If site search is unavailable").
_NAMES_A_TITLE = "".join(rf"(?<!\b{w})" for w in ("to", "see", "in", "under", "the", "section",
                                                  "at", "with", "read", "follow", "from", "of"))
GUARD_UNSTOPPED = re.compile(
    rf"(?<=[`\w)]){_NAMES_A_TITLE}\s+(?=(?:If|When|Unless)\s+(?:[a-z`\"'(\d]|[A-Z]{{2,}}\b)|"
    r"Otherwise\b|Else,)")
_UNSTOPPED_WORDS = re.compile(r"\s(?:If|When|Unless)\s|\sOtherwise\b|\sElse,")
_ABORT_BEFORE = re.compile(r"(?:\babort|\bstop|\bhalt|\b(?:do not|don't|never) (?:continue|"
                           r"proceed|go on))\s*$", re.I)


_MAY_END = re.compile(r"[.!?\n]")  # every form of `_SENTENCE_AT` follows one of these
_TICK_BLANK = re.compile(r"`\s")  # `ABORT_AFTER_CODE` starts after one


def sentence_offsets(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`, code spans never split."""
    masked = _CODE_SPAN_TEXT.sub(lambda m: "x" * len(m.group(0)), text)
    ticked = _CODE_SPAN_TEXT.sub(lambda m: "`" + "x" * (len(m.group(0)) - 2) + "`", text)
    # Each pattern is tried only where what it needs occurs (each tries every place): a stop
    # or a line break, a code span's end before a blank, the unstopped forms' words. Most
    # items are one sentence ("Check the pods: `kubectl get pods`"), and were scanned 3 times.
    patterns = [(_SENTENCE_AT, masked)] if _MAY_END.search(masked) else []
    if "`" in text and _TICK_BLANK.search(text):  # (a blank after a tick in `ticked` is in text)
        patterns.append((ABORT_AFTER_CODE, ticked))
    if _UNSTOPPED_WORDS.search(text):
        patterns.append((GUARD_UNSTOPPED, ticked))
    cuts = sorted({(m.start(), m.end()) for pattern, where in patterns
                   for m in pattern.finditer(where)})
    out: list[tuple[int, int]] = []
    start = 0
    for cut, resume in cuts:  # where a sentence ends, and where the next begins
        if _ABBREV_END.search(masked[max(0, cut - 7):cut]):
            continue
        out.append((start, cut))
        start = resume
    if text[start:].strip():
        out.append((start, len(text)))
    if _OTHER_CASE_WORD.search(masked):
        out = [part for a, b in out for part in _other_case(text, masked, a, b)]
    return [(a, b) for a, b in out if text[a:b].strip()]


# "If usage is above 90%, prune the images; otherwise close the incident.", "Restart it if it
# hangs, else escalate": the other case, opened inside the guarded sentence after a comma or a
# semicolon, is a sentence of its own (its "otherwise" pairs with the If). It was the If's
# consequent: the prune ran and then escalated, and the other case went on to the next steps.
_OTHER_CASE_WORD = re.compile(r"[,;]\s+(?:otherwise|else|if not)\b", re.I)


def _other_case(text: str, masked: str, a: int, b: int) -> list[tuple[int, int]]:
    """The sentence text[a:b] cut before an "otherwise" that follows its own guard."""
    m = _OTHER_CASE_WORD.search(masked, a, b)
    if m is None:
        return [(a, b)]
    opened = guard_in(text[a:m.start()].strip())
    if opened is None or opened.is_else:
        return [(a, b)]
    resume = m.start() + 1 + (len(masked[m.start() + 1:m.end()]) -
                              len(masked[m.start() + 1:m.end()].lstrip()))
    return [(a, m.start()), (resume, b)]


# -- inline commands ---------------------------------------------------------------------

_IMPERATIVE_LINK = re.compile(r"^(?:follow|run|execute|use|see|refer to|consult|check|apply|"
                              r"perform|go through)\b", re.I)


def is_call_sentence(text: str) -> bool:
    return bool(_IMPERATIVE_LINK.match(_strip_enumerator(text.replace("**", "")).strip()))


_IMPERATIVE = re.compile(r"^(?:check|run|execute|use|look|review|inspect|verify|list|get|describe|"
                         r"view|find|confirm|query|restart|delete|remove|scale|try|see|examine|"
                         r"investigate|ensure|make sure|compare|test|watch|monitor|print|show|"
                         r"fetch|collect|gather|obtain|set|patch|edit|apply|drain|cordon)\b", re.I)

# What an instruction opens with, for an inline command: the verbs above and the guide's other
# imperatives (`_DO`), less those that never ask for a command ("avoid", "contact", "page").
_RUN_VERB = re.compile(
    rf"^(?:{_IMPERATIVE.pattern[4:-3]}|{_DO}|invoke|issue|do|reconfigure|converge|upload|download|"
    r"clone|record|dump|capture|flush|generate|import|extend|rotate|promote|trigger|open|enter|"
    r"type|convert|connect|attach|exec|tail|backup|back up|unmount|umount|uncordon|shut ?down|"
    r"determine|save|count|measure|load|unload|login|sign in|start up|"
    r"bring up|spin up|take down|re-?start|double-check|cross-check|figure out|sync|refresh|"
    r"rerun|retrieve|inspect|tear down|abort|block|unblock|ban|unban|quarantine)\b", re.I)
# what a robot or a machine is told to do, before the condition it is done on: "Home the robot
# unless it is already at home:" (not "jog": a hand on the pendant)
_MACHINE_VERB = re.compile(r"^(?:home|re-?home|park|dock|undock|calibrate|recalibrate|unlock)\b",
                           re.I)
# "See the manpage for `perf record`", "Wait for `x` to finish": no run asked.
_NOT_RUN_VERB = re.compile(r"^(?:avoid|ask|contact|escalate|notify|page|file|refer|consult|"
                           r"report|request|see|wait)\b", re.I)
# Verbs whose object is a command's text, not its run: "Replace `/bin/cat x` with ...".
_TEXT_VERB = re.compile(r"^(?:replace|substitute|prefix|prepend|append|wrap|change|rename|copy|"
                        r"paste|mention|search for|look for|grep for|add)\b\s*"
                        r"(?:(?:the|a|an)\b\s*)?$",
                        re.I)
_RUN_CUE = re.compile(r"(?:\b(?:run|execute|executing|invoke|invoking|issue|issuing|type|typing|"
                      r"(?:by|with|try|trying|consider|keep|start|then|and|first|also|simply|just) "
                      r"running)\s*(?:(?:the|a|an)\b\s*)?(?:command\s*)?|\b(?:run|execute|"
                      r"issue|invoke|type|enter) (?:this|the following|these)(?: commands?)?|"
                      r"\bby (?:checking|calling|using)|"
                      # a "**Command:** `x`" label: the step's command, as in a form
                      r"^\W*(?:command|cmd)\s*:)\W*$",
                      re.I)
# Weaker cues ("with", "via", "use"): an instruction's, not a description's ("This document
# describes how to use `gsutil signurl`").
_WEAK_CUE = re.compile(r"\b(?:via|using|with|command|by|use)\s*(?:(?:the|a|an)\b\s*)?"
                       r"(?:command\s*)?\W*$", re.I)
_DESCRIBED = re.compile(r"^(?:the|a|an|this|that|these|those|it|its|it's|they|there|each|"
                        r"every|some|any|all|[A-Z][\w.-]*\s+(?:is|are|was|were|has|have|does|"
                        r"do|will|would|can|may|uses?|runs?|calls?|describes?|shows?))\b", re.I)
# The command as a name: "the `git pack-objects` processes", "`kubectl drain` command marks".
_NAMED = re.compile(r"^\s*(?:process(?:es)?|commands?|output|binary|binaries|tool|utility|"
                    r"subcommand|invocations?|calls?|requests?|jobs?|flags?|options?|"
                    r"man ?page|manual|documentation|docs|syntax|line|lines|error|errors)\b",
                    re.I)
_INSIDE = re.compile(r"\b(?:when|whenever|if|after|before|while|once|since|because|although|"
                     r"unless|until|whether)\b[^,;:]*$", re.I)
# Words that make a command a mention: a negation, a comparison, an example, a hypothesis.
_MENTION = re.compile(r"(?:\b(?:not|never|no longer|cannot|avoid\w*|instead of|rather than|"
                      r"without|mistakenly|accidentally|would|such as|like|e\.g\.?|i\.e\.?|"
                      r"for example|for instance|similar to|equivalent|prefix(?:ed)?|wrap\w*|"
                      r"unlike|except|either|one of|example|alternatively|alternative|ex\.)"
                      r"(?!\w)|n't\b)", re.I)
# Someone else runs the command: "Ask the DBA to run `x`", "Have the network team run `x`",
# "the key holders must each run `x`": their step (on their machine, with their access), shown
# to the reader, never the plan's. (The reader is "you", "the on-call", "the operator".)
_OTHERS = (r"(?:\b(?:ask|have|get|tell|request)\s+(?!to\b)(?:(?!and\b|then\b|a\s+look\b)"
           r"[\w'-]+\s+){1,5}?(?:to\s+)?|\b(?:holders?|owners?|team|dbas?|admins?|administrators?|"
           r"engineers?|vendor|provider|support)\s+(?:(?:must|should|will|can|may|needs?\s+to|"
           r"has\s+to|have\s+to)\s+)?(?:each\s+|then\s+|also\s+)?)"
           r"(?:run|execute|type|issue|enter)s?\b")
_OTHERS_RUN = re.compile(_OTHERS + r"\s*$", re.I)
# ... over a block: "Ask the DBA to run:", "Have the storage team run this on the array:"
_OTHERS_RUN_BELOW = re.compile(_OTHERS + r"[^`.;!?]*:\s*$", re.I)


def others_run(intro: str) -> bool:
    """Whether the words over a block ask someone other than the reader to run it ("Ask the
    DBA to run:"): that person's step, holding the block."""
    last = _LAST_SENTENCE.sub("", intro.replace("**", "").replace("__", "")).strip()
    return _OTHERS_RUN_BELOW.search(last) is not None


# What makes the commands a lead-in introduces examples or choices, not steps ("Example:",
# "run either:", "Avoid the following:").
_MENTION_LEAD = re.compile(r"(?:\b(?:either|one of|such as|like|e\.g|i\.e|for example|"
                           r"for instance|examples?|alternatively|alternatives?|instead of|avoid|"
                           r"never|not|would|similar)\b|n't\b)", re.I)
_LAST_SENTENCE = re.compile(r"^.*[.!?]\s+", re.S)
_ASIDE = re.compile(r"\s*\([^()`]*\)")  # "you can execute (on any node)"
_MODAL = re.compile(r"^(?:you|we|one)(?:'ll\s+|\s+)(?:can|could|should|may|might|must|will|need to|"
                    r"needs to|have to|will need to|will have to|want to|may want to|might want "
                    r"to|'ll need to|'ll have to|are able to)\s+(?:(?:also|then|simply|just|"
                    r"now|first|still|even)\s+)?", re.I)
_LABELLED = re.compile(r"^[A-Za-z][\w/-]*(?:\s+[\w/-]+){0,4}\s*\(\s*(?:`[^`]*`\s*,?\s*)*$")
_SHOWN_BELOW = re.compile(r"^\s*(?:as follows|as (?:shown|described|seen) below|below|like so|"
                          r"like this)\b", re.I)
# "Linux: `a`. macOS: `b`.": one command per platform, a person's choice.
_PLATFORM = re.compile(r"^\W*(?:on\s+|for\s+)?(?:linux|mac\s?os(?:\s?x)?|os\s?x|mac|windows|"
                       r"ubuntu|debian|rhel|centos|fedora|alpine|freebsd)\W*:\W*$", re.I)
_MAIN = re.compile(r"\b(?:you|we)(?:'ll| will| must| should| need to| have to)\b", re.I)
_CHECKBOX = re.compile(r"^\[[ xX]\]\s*")
_LEAD_WORDS = re.compile(r"^(?:(?:then|next|now|first|second|third|finally|afterwards|after that|"
                         r"also|again|just|simply|please|lastly|optionally|manually|otherwise|"
                         r"remember to|be sure to|make sure to|(?:don't|do not) forget to|"
                         # an FAQ's answer: "Yes, if the count is zero on every broker:"
                         r"yes(?=\s*,)|no(?=\s*,))\b"
                         r"[\s,:]*)+",
                         re.I)
_PLACE = re.compile(r"^(?:(?:on|in|from|inside|within|at)\s+[^`,:;.]{1,80}?[,:]\s*|"
                    r"on\s+(?:the|all|each|every|any|that|this|your|a)\s+[^`,:;.]{1,60}?$)",
                    re.I)  # "On all nodes, ", "In GCE: ", "On the consul server `x`"
_PURPOSE = re.compile(r"^to\s+[^`,:;.]{1,100}?[,:]\s*", re.I)
_SUBORDINATE = re.compile(r"^(?:if|when|whenever|once|after|before|while|since|because|although|"
                          rf"as soon as|in case|unless|until|otherwise|else|{_PROVISO})\b", re.I)
_OPEN_CLAUSE = re.compile(r"^(?:(?:if|when|whenever|once|after|in case|unless|otherwise|else|"
                          rf"if not|if so|as soon as|{_PROVISO})\b|{_CJK_ELSE}|{_CJK_IF})"
                          r"[^`;:]*?(?:`[^`]*`[^`;:]*?)*?[,:]\s*"
                          r"(?:then\b[\s,]*)?", re.I)
_CODE_LIST = re.compile(r"^(?:`[^`]*`\s*(?:,|;|&&|\band\b|\bthen\b|->|\u2192)?\s*)*$", re.I)
_LEADS_ON = re.compile(r"^(?:$|\s*[.,;:!)(\u2013\u2014\u2192-]|\s+(?:to|and|then|on|in|from|"
                       r"inside|within|as|for|at|with|under|against|via|over|across|again|first|"
                       r"now|if|until|so|once|from)\b|"
                       # an item's next paragraph, "Expected output:" over the output shown
                       r"\s+(?:expected|example|sample|typical)\s+(?:output|result)s?\b)", re.I)
_COMMA = re.compile(r"^.*(?:[;(]|\band then\b|, then\b|\bthen\b|, and\b|, so\b|, but\b|"
                    r"^\W*instead,)\s*", re.I)  # ("Instead, lower the retention: `x`")


def _instruction_clause(before: str) -> str:
    """The clause a command sits in, with what opens it and asks nothing set aside: a
    condition ("If it hangs, "), a purpose ("To convert the timestamp, "), a place ("On all
    nodes, ", "In GCE: ") and linking words ("Then", "Next,")."""
    clause = _ASIDE.sub("", before).strip()
    for _ in range(4):  # each kind of opener once, in any order
        was = clause
        for rx in (_LEAD_WORDS, _OPEN_CLAUSE, _PURPOSE, _PLACE, _MODAL):
            clause = rx.sub("", clause, count=1).lstrip()
        if clause == was:
            break
    return clause


def asks_to_run(text: str, code: str, lead: str = "") -> bool:
    """Whether a sentence tells the reader to run an inline command (not just mentions it).

    It asks when the command is the sentence (or item): "`gitlab-ctl stop`", "On all nodes,
    `sudo gitlab-ctl reconfigure`", "Reload patroni: `sudo systemctl reload patroni`" (`lead`
    is the words the sentence follows when they end with ":"); when the clause holding it opens
    with an imperative ("Restart teleport: ...", "Follow the logs (`journalctl -u x`)", "... and
    then check the report `sudo perf report`"); or when a word before it says to run it ("with",
    "by running", "use", "invoke"). It does not when the sentence asks a question, negates,
    compares or gives an example ("commands like `git clone`", "would", "instead of", "e.g."),
    when a condition or "after ..." still holds it ("After running `perf record`, ..."), or when
    the command is the subject of what follows ("`git fsck` will provide ...")."""
    plain = _CHECKBOX.sub("", _strip_enumerator(text.replace("**", "").replace("__", "")).strip())
    plain = without_answer(plain)  # "**Yes** → `x`": the answer's action
    at = plain.find(f"`{code}`")
    if at < 0:
        return bool(_IMPERATIVE.match(plain))
    before, after = plain[:at], plain[at + len(code) + 2:]
    # "After the swap the rebuild starts by itself; check with `x`": a semicolon ends the
    # clause before it, whose opener ("After ...") holds nothing of the command's (words
    # after it: "...; `x` and `y` are commands" reads as it did)
    if (rest := before.rpartition(";")[2]).strip() and ";" in before:
        before = rest
    if plain.rstrip(" *_").endswith("?"):
        return False
    clause = _instruction_clause(before)
    main = _MAIN.search(clause) if _SUBORDINATE.match(clause) else None
    if main:  # "Once the settings are applied you'll need to run `x`": the main clause asks
        clause = _instruction_clause(clause[main.start():])
    if _MENTION.search(clause) or _SUBORDINATE.match(clause) or _INSIDE.search(clause) or \
            _OTHERS_RUN.search(clause):
        return False
    if _SHOWN_BELOW.match(after):
        return False  # "through `kubectl cp` as follows:": the block below is what runs
    named = _NAMED.match(after)
    if named and not (named.group(0).strip().lower().startswith("command") and
                      _RUN_CUE.search(clause)):
        return False  # "kill the `x` processes", but "run the `ceph status` command"
    if _CODE_LIST.match(clause):  # the command is the sentence, or one of a list of commands
        led = _LAST_SENTENCE.sub("", lead)
        return bool(_LEADS_ON.match(after) or _RUN_VERB.match(after.strip())) and \
            not _MENTION_LEAD.search(_instruction_clause(led)) and not _PLATFORM.match(led)
    if _LABELLED.match(clause) and re.match(r"\s*[),]", after):
        return True  # "- Disk space (`df -hT`)": a check named, the command to do it in brackets
    inner = _instruction_clause(_COMMA.sub("", clause, count=1))  # "(check `x`", "and then see"
    for part in (clause, inner):
        if _TEXT_VERB.match(part):
            return False
        if _RUN_VERB.match(part) and not _NOT_RUN_VERB.match(part):
            return True
    return bool(_RUN_CUE.search(clause)) or (bool(_WEAK_CUE.search(clause)) and
                                             not _DESCRIBED.match(clause)) or \
        (titled_step(clause) or inner != clause and titled_step(inner)) and \
        bool(_LEADS_ON.match(after))


# "~~Restart nginx: `systemctl restart nginx`~~ (no longer needed)": the author crossed it out
_STRUCK = re.compile(r"^\s*(?:\[[ xX]\]\s*)?~~(?P<struck>.+?)~~(?P<rest>.*)$", re.S)


def ticked(text: str) -> bool:
    """Whether a list item is a ticked task-list box ("[x] Page the DBA on-call (done by the
    alert)"): done already, by someone, not a step to do again nor the run's ending."""
    return _TICKED.match(text) is not None


_TICKED = re.compile(r"^\s*\[[xX]\]\s")


def struck_out(text: str) -> bool:
    """Whether a paragraph or item is crossed out (`~~...~~`): what it struck is not done, and
    what follows the strike is at most a note about it (no command of its own)."""
    m = _STRUCK.match(text)
    return m is not None and "`" not in m.group("rest") and \
        len(m.group("rest").strip(" .,;:()-\u2013\u2014")) <= 80


# A command's trailing comment that says when to run it: "# optional", "# if needed",
# "# do not run in prod", "# only on staging" (after a shouted "DANGER:" / "NOTE:" too)
_COMMENT_WHEN = re.compile(
    r"\s#+\s*(?:[A-Z]{2,12}\s*[:!-]\s*)?(?:(?P<opt>optional(?:ly)?|if (?:needed|necessary|required)"
    r"|only if needed)|(?:do not|don't|never) (?:run (?:this |it )?)?(?P<neg>(?:in|on|against) "
    r"[\w./-]+)|not (?P<not>(?:in|on|for) [\w./-]+)|(?P<only>only (?:in|on|for|against) "
    r"[\w./-]+))\s*[.!]?\s*$", re.I)


def comment_condition(line: str) -> str | None:
    """The condition a command line's trailing comment puts on it, in the comment's words
    ("not in prod", "only on staging", "optional (nginx -t)"), if it says one."""
    masked = re.sub(r"'[^']*'|\"[^\"]*\"", lambda m: "x" * len(m.group(0)), line)
    m = _COMMENT_WHEN.search(masked)
    if m is None or not line[:m.start()].strip():
        return None
    if m.group("opt"):
        return f"{line[m.start('opt'):m.end('opt')]} ({line[:m.start()].strip()})"
    if m.group("neg") or m.group("not"):
        where = "neg" if m.group("neg") else "not"
        return f"not {line[m.start(where):m.end(where)]}"
    return line[m.start("only"):m.end("only")]


def asks_for_list(lead: str) -> bool:
    """Whether words ending with ':' ask the reader to do what the list under them holds
    ("If the gripper reports a jam, abort the cycle and retry the pick:"), not name what it
    shows ("Common errors:", "The pods are:")."""
    last = _LAST_SENTENCE.sub("", lead.replace("**", "").replace("__", "")).strip()
    clause = _instruction_clause(last)
    return last.endswith(":") and titled_step(last) and _RUN_VERB.match(clause) is not None \
        and _NOT_RUN_VERB.match(clause) is None


def titled_step(lead: str) -> bool:
    """Whether words before a colon are a step's own title ("Renew the cert:"), not a label
    of something shown ("Example:", "Output:"). A step's number or an incident timeline's time
    label before it is no part of the title ("**T+1** — Check the power state:")."""
    clause = _instruction_clause(_strip_enumerator(lead))
    return _TITLED_STEP.match(clause) is not None and _LABEL_WORD.match(clause) is None and \
        _DESCRIBED.match(clause) is None


# "Renew the cert: `certbot renew`", "Re-seat the mount: `mount -o remount /srv`": a step's own
# few words ("Jog the robot to home at 10% speed:"), then a colon and its command (whatever the
# verb; a mutating one is gated). Not a label of something shown: "Example:", "Output:".
_TITLED_STEP = re.compile(r"^[^\W\d_][\w'-]*(?:\s+[\w'./%-]+){0,7}\s*:\s*$")
_LABEL_WORD = re.compile(
    r"^(?:e\.?g|i\.?e|examples?|for example|output|results?|expected|samples?|syntax|usage|"
    r"notes?|tips?|warning|caution|important|before|after|old|new|was|becomes|from|to|default|"
    r"defaults|format|response|error|errors|message|messages|logs?|reference|see also|docs?|"
    r"documentation|link|links|source|alias|aliases|shortcut|equivalent|or|and|versions?|"
    r"platforms?|linux|mac\s?os|windows|bad|good|wrong|right|correct|incorrect|don'?t|do not|"
    r"never|avoid|deprecated|old way|instead|alternatively|optional(?:ly)?|"
    # a case or a place, one of several ("For production:", "On Ubuntu:", "Staging:")
    r"for|on|in|at|with|without|within|from|under|via|by|if|when|unless|where|"
    r"prod(?:uction)?|staging|stage|dev(?:elopment)?|test(?:ing)?|qa|uat|local(?:ly)?)\b",
    re.I)


# "Verify: `kubectl rollout status deploy/x` returns `successfully rolled out`": a check the
# guide asks to run, with the output it must show.
_EXPECTS = re.compile(
    r"^\W*(?:step\s+\d{1,3}\s*[:.)-]\s*)?(?:verify|check|confirm|make sure|ensure|expect)"
    # "Verify: `x` ...", "Check that `x` ...", "Verify the cycle resumes: `x` shows `RUNNING`"
    r"(?:(?:\s+that)?\s*:?\s*|\s+[^`:.;]{1,60}?:\s*)"
    r"`(?P<cmd>[^`]+)`\s+(?:(?:should|must|will)\s+)?"
    r"(?:returns?|prints?|shows?|outputs?|reports?|says?|contains?|includes?|displays?|"
    r"lists?|gives?)\s+`(?P<want>[^`]+)`[\s.!]*$", re.I)


# A step written as a form: "**Command:** `sudo nginx -t` **Expected:** `test is successful`".
_FORM_EXPECTS = re.compile(
    r"^\W*(?:command|cmd)\s*:\s*`(?P<cmd>[^`]+)`[\s.;,]*(?:expected(?: (?:output|result))?|"
    r"result|output)\s*:\s*`(?P<want>[^`]+)`[\s.!]*$", re.I)


# "Expected: `Running`" on its own under the command it is about (German "Erwartet:", Spanish
# "Resultado esperado:", French "R\u00e9sultat attendu :"): what that command's output must hold.
_EXPECTED_VALUE = re.compile(
    r"^\W*(?:expected(?: (?:output|result|value))?|erwartet(?:e ausgabe)?|"
    r"resultado esperado|salida esperada|r\u00e9sultat attendu|attendu)\s*:\s*"
    r"`(?P<want>[^`\n]+)`[\s.!]*$", re.I)


# "- Expected: all pods `Running`." then "- If not: go to step 3.": the "If not" is about the
# expectation the item before it states.
_EXPECTATION = re.compile(r"^\W*(?:expected(?: (?:output|result|outcome|state|value))?|"
                          r"expect|success looks like)\s*[:\u2013\u2014-]\s*(?P<x>\S.*?)\s*$",
                          re.I | re.S)
_BARE_NEGATION = re.compile(r"^(?:if not|if it (?:does|is) not|if this is not the case|"
                            r"otherwise|else|if that fails|if it fails)$", re.I)


def expectation(text: str) -> str | None:
    """What an "Expected: ..." item or paragraph says should be seen, if it is one."""
    m = _EXPECTATION.match(text.replace("**", "").replace("__", "").strip())
    return m.group("x").rstrip(" .") if m else None


def expectation_in(text: str) -> str | None:
    """The last "Expected: ..." sentence or line of a text (an item's paragraphs), if any."""
    found = None
    for line in text.replace("**", "").replace("__", "").split("\n"):
        for sentence in _sentences(line):
            found = expectation(sentence) or found
    return found


def against_expectation(guard: Guard, expected: str) -> Guard:
    """A bare "If not" after "Expected: X" as the condition it means ("If not as expected: X");
    any other guard as it is."""
    if _BARE_NEGATION.match(guard.text.strip(" ,:")):
        return Guard(text=f"If not as expected ({expected})", ends=guard.ends)
    return guard


# "- The error rate is back under 1%.", "- All pods are `Running`.", "- No new alerts fire.":
# a statement of what the fix should have brought about (under a "## Verify" heading)
_STATE_CHECK = re.compile(
    r"\b(?:is|are|has|have|stays?|remains?|returns?|reports?|shows?)\b.{0,60}?\b(?:back|under|"
    r"below|above|over|healthy|green|normal|running|ready|cleared|recovered|resolved|stable|"
    r"gone|zero|empty|serving|reachable|available|within|up|synced|in sync|caught up)\b|"
    r"^\W*(?:no|none of the)\s+\w+(?:\s+\w+)?\s+(?:fires?|fire|are|is|appears?|remains?|shows?)\b|"
    r"\bno longer\b", re.I)


def states_a_check(text: str) -> bool:
    """Whether a sentence states what should hold, not what to do ("The error rate is back
    under 1%.", not "Restart the pod." nor "If X, ...")."""
    plain = _strip_enumerator(text.replace("**", "").replace("__", "")).strip()
    return bool(_STATE_CHECK.search(plain)) and not is_instruction_only(plain) and \
        not _GUARD_START.match(plain) and len(plain) <= 200


def expected_value(text: str) -> str | None:
    """The words the output of the command before must hold, when a paragraph says only that
    ("Expected: `Running`")."""
    m = _EXPECTED_VALUE.match(text.replace("**", "").replace("__", "").strip())
    return m.group("want") if m else None


def expected_output(text: str) -> tuple[str, str] | None:
    """A sentence that asks to run a command and says the output it must show: (the command,
    the words its output must hold). Not a question, and only the command's own output."""
    plain = _CHECKBOX.sub("", _strip_enumerator(text.replace("**", "").replace("__", "")).strip())
    m = _EXPECTS.match(plain) or _FORM_EXPECTS.match(plain)
    if m is None and len(sentences := _sentences(plain)) > 1:  # what follows is its own
        m = _EXPECTS.match(sentences[0]) or _FORM_EXPECTS.match(sentences[0])
    return (m.group("cmd"), m.group("want")) if m else None


# "`systemctl is-active worker` prints `active`.", "`curl -s :8080/healthz` should return
# `ok`.": the check written as a statement, the command its subject and its output the object.
_STATES_OUTPUT = re.compile(
    r"^[^\w`]*`(?P<cmd>[^`]+)`\s+(?:(?:should|must|will)\s+)?(?:returns?|prints?|shows?|"
    r"outputs?|reports?|says?|displays?)\s+`(?P<want>[^`]+)`[\s.!]*$", re.I)


def states_output(text: str) -> tuple[str, str] | None:
    """A sentence that is nothing but a command and the output it prints ("`systemctl
    is-active worker` prints `active`."): (the command, the words its output must hold). A
    check, when the command only reads (the caller's to tell); a change it describes is not
    asked for."""
    plain = _CHECKBOX.sub("", _strip_enumerator(text.replace("**", "").replace("__", "")).strip())
    m = _STATES_OUTPUT.match(plain)
    return (m.group("cmd"), m.group("want")) if m else None


# "`kubectl rollout status deploy/gw --timeout=120s` succeeds.", "`nginx -t` should exit 0.",
# "- [ ] `helm lint ./chart` passes": the check written as a statement whose verdict is the
# command's own status.
_STATES_SUCCESS = re.compile(
    r"^[^\w`]*(?:(?:verify|check|ensure|confirm|make sure)(?:\s+that)?\s+)?"
    r"`(?P<cmd>[^`]+)`\s+(?:(?:should|must|will)\s+)?(?:succeeds?|pass(?:es)?|works?|"
    r"exits?\s+(?:with\s+)?(?:0|zero|cleanly|successfully|without (?:an )?errors?)|"
    r"returns?\s+(?:0|zero|success(?:fully)?)|completes?\s+(?:successfully|without errors?))"
    r"[\s.!]*$", re.I)


def states_success(text: str) -> str | None:
    """The command of a sentence that is nothing but a command and that it succeeds ("`nginx
    -t` should exit 0.", "Ensure `helm lint ./chart` passes."): a check whose verdict is the
    command's status, when the command only reads (the caller's to tell); a change so
    described is not asked for."""
    plain = _CHECKBOX.sub("", _strip_enumerator(text.replace("**", "").replace("__", "")).strip())
    m = _STATES_SUCCESS.match(plain)
    return m.group("cmd") if m else None


# "**Every partition** → the consumers are stuck. Go to [Restart](#restart).": an answer to
# the question before the list, then what it means and where to go.
_CASE = re.compile(r"^\W*(?P<case>[^`\u2192\u21d2.!;:]{1,80}?)\s*(?:\u2192|\u21d2|->|=>)\s*\S")


def case_of(text: str, *, code: bool = False) -> str | None:
    """The case an option item opens with, before its arrow ("Every partition"), if any;
    with `code`, a case may name what the output shows in code spans ("Lines say `payment
    gateway timeout`", "`cluster_state:fail`")."""
    plain = _strip_enumerator(text.replace("**", "").replace("__", "")).strip()
    if not code:
        m = _CASE.match(plain)
        return m.group("case").strip() if m else None
    # (a span's own dots, colons and arrows are the output's, not the sentence's)
    masked = re.sub(r"`[^`\n]*`", lambda s: "\x00" * len(s.group()), plain)
    m = _CASE.match(masked)
    if m is None or not re.search(r"[^\W\x00]", m.group("case")):
        return None  # (a code span alone before the arrow is a command: "`x` -> check y")
    return plain[m.start("case"):m.end("case")].strip()


# "`data: True` on the bumper means it is still pressed: free it by hand before anything
# else.": what the output shows, what that means, then what to do about it
_MEANS = re.compile(r"^[^\w\x00]*(?P<case>[^.!?;:\u2192]{2,100}?)\s+means\s+(?:that\s+)?"
                    r"[^.!?;:]{1,120}?\s*[:;]\s+(?P<then>\S.*)$")
_POINTS_BACK = re.compile(r"(?:this|that|it|which|these|those|there)\b", re.I)


def means_case(text: str) -> tuple[str, str] | None:
    """(the case, what to do) of a sentence "X means Y: do Z", if `text` is one; a span's own
    punctuation is the output's."""
    plain = _strip_enumerator(text.replace("**", "").replace("__", "")).strip()
    masked = re.sub(r"`[^`\n]*`", lambda s: "\x00" * len(s.group()), plain)
    m = _MEANS.match(masked)
    if m is None or not re.search(r"[^\W\x00]", m.group("case")) or \
            _POINTS_BACK.match(m.group("case")):
        return None  # ("This usually means ...": what the heading said, no case of its own)
    return plain[m.start("case"):m.end("case")].strip(), plain[m.start("then"):].strip()


# "Lag under 60 s on every shard is normal, stop here.", "A queue under 100 is expected; no
# action needed.": what a check may show that needs nothing done, and that nothing
_NORMAL = re.compile(r"^[^\w\x00]*(?P<case>[^.!?;:\u2192]{3,100}?)\s+(?:is|are)\s+(?:(?:quite|"
                     r"perfectly|completely|entirely)\s+)?(?:normal|expected|fine|ok|okay|"
                     r"healthy|harmless|acceptable)\b[^.!?;:,]{0,40}[.,;:]\s+(?P<then>\S.*)$", re.I)


def normal_case(text: str) -> tuple[str, str] | None:
    """(the case, what follows) of a sentence "X is normal, stop here." that says a check's
    finding needs nothing done; the caller reads what follows for the ending. Not "This is
    expected" (no case of its own) nor "It is normal for ... to ...": what points back names
    nothing."""
    plain = _strip_enumerator(text.replace("**", "").replace("__", "")).strip()
    masked = re.sub(r"`[^`\n]*`", lambda s: "\x00" * len(s.group()), plain)
    m = _NORMAL.match(masked)
    if m is None or not re.search(r"[^\W\x00]", m.group("case")) or \
            _POINTS_BACK.match(m.group("case")):
        return None
    return plain[m.start("case"):m.end("case")].strip(), plain[m.start("then"):].strip()


# A case said before a colon or an arrow, one of a list of such cases ("- `Use%` below 80: no
# action needed.", "- Lag growing -> restart the consumers.", "- `CrashLoopBackOff`: check
# its logs."):
# the condition and what to do in it, as "If `Use%` is below 80, ..." says. The case compares
# or names a state (a glossary's "`Use%`: the share of the disk in use" names a term).
# (a case's decimal point is no sentence's end: "Score below 0.85: clean the lens")
# (a code span is one piece of the case, its colon no end of it: "`Replica_IO_Running: No`:
# escalate to the network on-call")
_COLON_CASE = re.compile(r"^(?P<case>(?:`[^`\n]{1,60}`|[^:.!?;\n\u2192\u21d2`]|(?<=\d)\.(?=\d))"
                         r"{1,80}?)\s*"
                         r"(?::|\u2192|\u21d2|->|=>)\s*(?P<said>\S.*)$", re.S)
_RELATION = re.compile(
    r"\b(?:below|above|under|over|between|less|more|greater|fewer|higher|lower|at (?:least|"
    r"most)|equals?|exceeds?|is|are|shows?|contains?|reports?|returns?|lists?|not|no|zero|"
    r"non-zero|nonzero|empty|missing|absent|present|exists?|fails?|failed|succeeds?|true|false|"
    r"up|down|still|within|outside|growing|rising|increasing|decreasing|falling|dropping|"
    r"climbing|stuck|high|low|full|slow|healthy|unhealthy|degraded|failing|stopped|pending)\b|"
    r"[<>=\u2264\u2265\u2260]", re.I)
# (a field and its value as the tool prints them is one state: `Replica_IO_Running: No`)
_STATE_VALUE = re.compile(r"`(?P<v>[A-Za-z0-9][\w.:/-]{0,40}(?:: [\w.-]{1,20})?)`"
                          r"(?:\s*(?:,|or|/)\s*`[^`]+`)*")


# "Anything else", "All other cases", "None of the above": the rest of a list's or a table's
# cases (a decision table's row, `outline._OTHERWISE_ROW`, and a case list's item)
REST_OF_CASES = (r"(?:anything|something) else|(?:all |any )?other(?: \w+)?|"
                 r"none of (?:the above|these)|otherwise|else|default|"
                 # "Otro código", "Altro codice", "Andere Codes", "Autre code", "Outro código"
                 r"(?:cualquier )?otros? \w+|(?:qualsiasi )?altr[oi] \w+|andere \w+|"
                 r"autres? \w+|outros? \w+")
_OTHER_CASE = re.compile(REST_OF_CASES, re.I)


_NOT_A_CASE = re.compile(r"(?:notes?|warning|caution|tip|important|example|e\.g\.?|impact|causes?|"
                         r"meaning|summary|description|why|what|how|owners?|team|severity|"
                         r"priority|see also|references?|docs?|links?|dashboards?|runbooks?|"
                         r"(?:step|option|method|phase|stage|part)\s+\w+)", re.I)


_GOES_ON = re.compile(r"^(?:please\s+)?(?:continue|proceed|go on|carry on|move on)\b(?:\s+"
                      r"(?:with|to)\s+(?:the\s+)?(?:next|following|remaining)?\s*(?:steps?|"
                      r"section)?(?:\s+(?:below|above))?)?\W*$", re.I)


def goes_on(consequent: str) -> bool:
    """"continue with the steps below", "carry on.": the guide's words for going on to what
    follows."""
    return bool(_GOES_ON.match(consequent))


def _names_a_state(case: str) -> bool:
    """"Pods in `CrashLoopBackOff`", "Pods `Pending`", "Cluster `HEALTH_WARN`": a short case
    naming what something is in by a state's name in code (capitalised, as states are
    printed: not a command's or a file's name)."""
    if case.count("`") != 2 or len(re.sub(r"\([^()]*\)", "", case).split()) > 6:
        return False  # (an aside in brackets is no part of it: "... 1062 (duplicate key)")
    value = _STATE_VALUE.search(case)
    return value is not None and value.group("v")[0].isupper() and \
        value.group("v").lower() not in KNOWN_CLIS


@functools.lru_cache(maxsize=1024)  # (a list's items are read again for its verdict)
def colon_case(text: str, *, loose: bool = False) -> Guard | None:
    """The case a list item opens with before its colon, when it reads as a condition (a
    comparison, or a state value in code: "`CrashLoopBackOff`") or is the rest ("Anything
    else: escalate.") and what follows tells what to do in it or where to go; the caller
    checks the item is one of a list of such cases."""
    plain = _strip_enumerator(text.replace("**", "").replace("__", "")).strip()
    m = _COLON_CASE.match(plain)
    if m is None or _GUARD_START.match(plain) and not _REST_OPENS.match(plain):
        return None  # ("Anything else: escalate." is the list's rest, its own case)
    case = m.group("case").strip()
    value = _STATE_VALUE.fullmatch(case)
    if _imperative(case) and "`" not in case and not _RELATION.search(case) and \
            not _OTHER_CASE.fullmatch(case):
        return None  # "Lock out the cell: put your padlock on ...": a step's label, no case
    if _OTHER_CASE.fullmatch(case):
        found = Guard(text=case, is_else=True)
    elif value and value.group("v").lower() not in KNOWN_CLIS or \
            _RELATION.search(re.sub(r"`[^`]*`", "", case)) and case.count("`") % 2 == 0 or \
            _names_a_state(case):
        found = Guard(text=case)
    elif loose and len(case.split()) <= 4 and "`" not in case and \
            not _NOT_A_CASE.fullmatch(case):
        found = Guard(text=case)  # "Fast", beside "Slow (over 100 ms)": a case by its list
    else:
        return None
    said = m.group("said")  # (read last: the costliest test)
    return found if tells_to_act(said) or jumps_in(said, []) or goes_on(said) else None


def tells_to_act(said: str) -> bool:
    """Whether what a case says is an instruction: one the verb lists know ("restart it"), or
    one shaped as an instruction with a verb they do not ("power-cycle it at breaker F12",
    "reseat the cable")."""
    plain = re.sub(r"[*_`]", "", said).strip(" ,;:-")
    return is_instruction_only(plain) or \
        _IMPERATIVE_SHAPE.match(plain[:1].upper() + plain[1:]) is not None and \
        _NOT_A_VERB.match(plain) is None


# "On the database host, run:", "Log in to the worker node and check ...:", "In the toolbox
# pod:": the commands are typed on another machine, which the sentence names but no command
# of the guide opens (`ssh host` would).
_ELSEWHERE = re.compile(
    r"^\W*(?:(?:then|next|now|first|finally),?\s+)?"
    r"(?:(?:on|from|inside|within|in)\s+|(?:log\s*in|login|ssh|connect|shell|exec)\s+(?:in)?to\s+)"
    r"(?:(?:any|one|each|all|some) of the|all the|the|each|every|all|a|an|any|that|this|its|"
    r"one)\s+(?:[\w`.'-]+\s+){0,3}?"
    r"(?:hosts?|nodes?|servers?|brokers?|replicas?|primary|secondary|leader|followers?|"
    r"machines?|vms?|instances?|bastion|box(?:es)?|workers?|masters?|members?|pods?|"
    r"containers?|toolbox)\b(?![-.`])|"
    # "Login to the sentry.gitlab.net, and check ...", "SSH to `db-2.prod.internal` and run:":
    # a machine named by its address
    r"^\W*(?:(?:then|next|now|first|finally),?\s+)?(?:log\s*in|login|ssh|connect)\s+(?:in)?to\s+"
    r"(?:the\s+)?`?[a-z][\w-]*(?:\.[a-z][\w-]*)+`?(?=[\s,:;]|\.?$)", re.I)
_HERE = re.compile(r"\b(?:local(?:ly)?|your (?:own )?(?:machine|computer|laptop|workstation)|"
                   r"workstation|laptop|with (?:access|kubectl|credentials)|that has access)\b|"
                   # "From any host with `redis-cli` 7:": no machine in particular, this one
                   # too ("on any host of the cluster" is one of its members)
                   r"\b(?:from|on)\s+any\s+(?:host|machine|server|box|computer)\b"
                   r"(?!\s+(?:in|of|from|that runs|running)\b)",
                   re.I)


_MACHINES = (r"(?:hosts?|nodes?|servers?|brokers?|replicas?|primary|secondary|leader|"
             r"followers?|machines?|vms?|instances?|bastion|box(?:es)?|workers?|masters?|"
             r"members?|containers?)")
_HOSTNAME = r"[a-z][\w.-]*\d[\w.-]*"
_NAMED_HOST = r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*-\d+[a-z]?(?:\.[a-z][\w-]*)*"
# The place said right after the command: "Run `x` on all nodes.", "`y` on every broker", "by
# running `z` on zk-1, zk-2 and zk-3", "on the patroni leader". Not "on the host" / "on the
# machine" alone: container guides mean the reader's own machine by it.
_ELSEWHERE_AFTER = re.compile(
    r"`[^`]+`[^`.;:]{0,30}?\b(?:on|from|inside)\s+(?:"
    r"(?:(?:any|one|each|all|some|both) of the|all the|each|every|all|any|both|one)\s+"
    rf"(?:[\w.'-]+\s+){{0,3}}?{_MACHINES}\b(?![-`]|\.\w)|"
    r"the\s+(?:[\w.'-]+\s+){0,3}?(?:hosts|nodes?|servers?|brokers?|replicas?|primary|secondary|"
    r"leader|followers?|vms?|bastion|workers?|masters?|members?)\b(?![-`]|\.\w)|"
    rf"(?:the )?(?:host|node|server|machine|broker|vm|instance)\s+`?{_HOSTNAME}`?|"
    # "Run `x` on pg-02.", "on `kafka-3.prod`": a machine by a name of its own, a word, a
    # hyphen and its number (not "on k8s", "on python3": a platform, no machine)
    rf"`?{_NAMED_HOST}`?(?=[\s,;:)]|\.?$|\.\s)|"
    rf"`?{_HOSTNAME}`?(?:\s*,\s*`?{_HOSTNAME}`?)*,?\s+(?:and|or)\s+`?{_HOSTNAME}`?\b)",
    re.I)


# The place closing the words that introduce a command or a block: "If the receiver is
# stopped, restart Postgres on the replica:" (then the block), "... on each broker: `x`".
_PLACE_END = re.compile(
    r"\b(?:on|from|inside)\s+(?:(?:any|one|each|all|some|both) of the|all the|each|every|all|"
    r"any|both|one|the)\s+(?:[\w.'-]+\s+){0,3}?(?:hosts|nodes?|servers?|brokers?|replicas?|"
    r"primary|secondary|leader|followers?|vms?|bastion|workers?|masters?|members?)\s*:?\s*$|"
    # "restart mongod on that host:": the machine the sentence before named, not this one
    rf"\b(?:on|from|inside)\s+that\s+(?:[\w.'-]+\s+){{0,2}}?{_MACHINES}\s*:?\s*$|"
    # "restart it on the replica host:", "on the database machine:": a host the words name
    # (the same, local or Docker host is the reader's)
    r"\b(?:on|from|inside)\s+the\s+(?!(?:same|local|current|own|docker|container|this)\b)"
    r"(?:[\w.'-]+\s+){1,3}?(?:host|machine|vm|instance|box)\s*:?\s*$",
    re.I)
# An aside closing the words before a block: "Restart the replica (on the replica host):" says
# where; "Run these on any cluster node (as root or the `rabbitmq` user):" is said of the words
# before it
_CLOSING_ASIDE = re.compile(r"\s*\(([^()]*)\)\s*:?\s*$")


# "Then, from your laptop:", "Back on your workstation, run:", "Locally:": the lines after
# it are typed on the reader's own machine, whatever session the guide had open.
_BACK_HERE = re.compile(
    r"\b(?:(?:from|on|in|at) your (?:own |local )?(?:machine|computer|laptop|workstation|"
    r"terminal)|back (?:on|at|in) (?:your|the) (?:own |local )?(?:machine|computer|laptop|"
    r"workstation|terminal|shell)|locally)\b", re.I)


def runs_here(text: str) -> bool:
    """Whether an instruction says its commands are typed on the reader's own machine ("From
    your laptop, check:", "Locally:")."""
    return _BACK_HERE.search(text.replace("**", "")) is not None


def runs_elsewhere(text: str, code: str | None = None) -> bool:
    """Whether an instruction says its commands are typed on another machine than the one
    running the plan ("On each Kafka broker:", "SSH into the node and run:"), not on yours.
    The place may follow the command ("Run `x` on all nodes", "on zk-1, zk-2 and zk-3"): then
    it is the place of `code` only if `code` comes before it ("Run `chef-client` on the nodes:
    `knife ssh ...`" - knife reaches them from here); or close the words that introduce it
    ("restart Postgres on the replica:" over its block)."""
    # (emphasis marks are dropped outside code spans only: `psql -c 'select * from t'` and
    # `rm /tmp/*.log` are the commands as typed, and `code` is found in the sentence as such)
    plain = "".join(piece if piece.startswith("`") else
                    re.sub(r"(?<!`)[*](?!`)|\b_|_\b", "", piece)
                    for piece in re.split(r"(`[^`\n]+`)", text))
    for a, b in sentence_offsets(plain):
        sentence = plain[a:b]
        if _HERE.search(sentence):
            continue
        if _ELSEWHERE.match(sentence):
            return True
        after = _ELSEWHERE_AFTER.search(sentence)
        if after is not None and code is None and \
                re.match(r"`[^`]+`\s", after.group(0)) is not None and \
                _in_condition(sentence, after.end()):
            after = None  # "If `nvidia-smi` on the node is clean, resume it:": where the
            # condition's command ran (a place after a command is that command's), not where
            # the lines after it are typed
        if after is not None and (code is None or 0 <= sentence.find(f"`{code}`") <= after.start()
                                  or f"`{code}`" in after.group(0)):
            return True
        at = sentence.find(f"`{code}`") if code is not None else -1
        head = sentence[:at] if at >= 0 else sentence
        aside = _CLOSING_ASIDE.search(head)
        if aside is not None:
            if _PLACE_END.search(aside.group(1).strip()):
                return True
            head = head[:aside.start()] + ":"
        # (a place after an earlier command is that command's; a condition's words before
        # the instruction are no command: "If a member is `DOWN`, restart it on that host:")
        lead = _instruction_clause(head)
        if "`" not in lead and _PLACE_END.search(lead.rstrip()):
            return True
        if _NAMED_PLACE_END.match(lead.rstrip()):
            return True
    return False


def _in_condition(sentence: str, end: int) -> bool:
    """Whether the words up to `end` of a sentence lie in the condition it opens with ("If
    `nvidia-smi` on the node is clean" of "..., resume it:")."""
    guard = guard_of(sentence)
    if guard is None or guard.is_else:
        return False
    at = sentence.find(guard.text)
    return at >= 0 and end <= at + len(guard.text)


# "If Rundeck is down, do the same on `worker-01`:", "Run these from pg-02:": a machine by a
# name of its own, closing the words that introduce what follows (the lines ran here)
_NAMED_PLACE_END = re.compile(rf"^[^`]*\b(?:on|from|inside)\s+(?:the\s+)?(?:{_MACHINES}\s+)?"
                              rf"`?{_NAMED_HOST}`?\s*:$", re.I)


# "## Rollback", "### Roll back the change", "## Backout plan": steps for when the change went
# wrong, not the procedure's next steps.
_ROLLBACK = re.compile(r"^(?:(?:application|emergency|manual)\s+)?(?:roll(?:ing)?[\s-]?back|"
                       r"revert(?:ing)?|undo(?:ing)?|back(?:ing)?[\s-]?out)\b"
                       r"(?!\s+(?:is|was|are|were|happens|works)\b)", re.I)


# "## Last resort", "### Break glass", "## Nuclear option": steps for when nothing above helped,
# taken only when a person says so
_LAST_RESORT = re.compile(r"^(?:as\s+a\s+|the\s+|a\s+)?(?:last[\s-]resort|"
                          r"break[\s-]?(?:the[\s-])?glass|nuclear option)\b", re.I)


def is_last_resort(heading: str) -> bool:
    """Whether a heading opens the steps to take only when nothing above helped."""
    return bool(_LAST_RESORT.match(_heading_words(heading.replace("**", ""))))


def is_rollback(heading: str) -> bool:
    """Whether a heading opens a section to follow only when the change must be undone."""
    return bool(_ROLLBACK.match(_heading_words(heading.replace("**", ""))))


# "Rollback: if the reboot fails again, put it back with `nova reset-state x`.": a paragraph
# labelled as the way back ("Rollback: none" / "n/a" says there is none)
_ROLLBACK_LABEL = re.compile(r"^\W*(?:rollback|roll back|to roll back|backout|back out|revert)"
                             r"\W*?\s*:\s*(?!(?:none|n/?a|not possible|no rollback|there is no)\b)"
                             r"(?P<rest>\S.*)$", re.I | re.S)


# "**Rollback:**", "To roll back:", "Backout plan:" on its own over the block that undoes the step
_ROLLBACK_TITLE = re.compile(r"^\W*(?:rollback|roll back|to roll back|backout|back out|to back "
                             r"out|undo|to undo)(?:\s+(?:plan|steps?|procedure|commands?))?"
                             r"\s*:\W*$", re.I)


def rollback_title(text: str) -> bool:
    """Whether a paragraph is nothing but the label of the way back over what follows it."""
    return bool(_ROLLBACK_TITLE.match(text.replace("**", "").replace("__", "").strip()))


def rollback_paragraph(text: str) -> str | None:
    """The decision a paragraph labelled "Rollback:" asks ("Rollback: if the reboot fails
    again"), if it is one."""
    m = _ROLLBACK_LABEL.match(text.replace("**", "").replace("__", "").strip())
    if m is None:
        return None
    clause = _clause(m.group("rest"))
    return f"Rollback: {clause}" if re.match(r"(?:if|when|once|unless|should)\b", clause, re.I) \
        else "Rollback"


# "## Verification", "## Post-checks", "## Validate the fix", "## Confirm recovery": checks of
# the fix, read after it ("## Verify the disk is failing" checks a cause: a diagnosis).
_VERIFICATION = re.compile(
    r"^(?:post[\s-]?(?:checks?|verification|validation|mitigation checks?|fix checks?)|"
    r"(?:verification|validation)(?:\s+(?:steps?|checks?))?|"
    r"(?:verify|validate|confirm|check)(?:\s+(?:the|that the))?\s+"
    r"(?:fix|recovery|mitigation|resolution|remediation|rollout|repair)\b(?:\s+(?:worked|"
    r"(?:has\s+)?succeeded|took effect))?|"
    r"(?:verify|validate|confirm|check)(?:\s+(?:that\s+)?(?:it|everything))\s+(?:worked|is\s+"
    r"(?:back|working|healthy|fixed))|after\s+(?:the\s+)?(?:fix|recovery|mitigation)|"
    # "## Verify" alone, after the fix ("## Triage", "## Mitigate", "## Verify")
    r"verify|validate|confirm)\s*:?$",
    re.I)


# A section of what must hold before the guide's steps: "## Preconditions", "Prerequisites",
# "Before you begin", "Requirements", "Assumptions"
_PRECONDITIONS = re.compile(r"^(?:pre-?conditions|prerequisites|pre-?reqs|requirements|"
                            r"assumptions|before you (?:begin|start))\W*$", re.I)
# a statement whose first word only looks like a verb: "Disk on `pg-02` has 500 GB free" (not
# "Lock out the cell: put your padlock on the disconnect")
_STATE_VERB = re.compile(r"^[^:;]*?\s(?:is|are|has|have|was|were|exists?|runs?|points?|"
                         r"supports?|holds?|contains?)\b", re.I)
# what to read first, not what must hold ("[Understand how the optimizer chooses plans](...)")
_READING = re.compile(r"^(?:understand|read|review|learn|familiari[sz]e|see|consult|study)\b",
                      re.I)
# what an author prefers, not what must hold ("A private cluster is preferred")
_PREFERRED = re.compile(r"\b(?:prefer(?:red|ed)?|recommended|optional(?:ly)?|nice to have|"
                        r"ideally|if possible)\b", re.I)


def is_preconditions(heading: str) -> bool:
    """Whether a heading opens what must hold before the guide's steps run."""
    return bool(_PRECONDITIONS.match(_strip_enumerator(heading.replace("**", "")).strip()))


def states_a_precondition(text: str) -> bool:
    """Whether a preconditions list item states what must hold ("PVC is in `Bound` state",
    "Access to the cluster with sufficient privileges"), not what to do ("Request a token"),
    a question, a case, nor a preference ("A private cluster is preferred")."""
    plain = _strip_enumerator(text.replace("**", "").replace("__", "")).strip()
    plain = re.sub(r"^\[[ xX]\]\s*", "", plain).lstrip("[*_ ")
    return bool(plain) and len(plain) <= 200 and not is_instruction_only(plain) and \
        (not _imperative(plain) or _STATE_VERB.match(plain) is not None) and \
        not _READING.match(plain) and not plain.rstrip().endswith("?") and \
        guard_of(plain) is None and not _GUARD_START.match(plain) and \
        not _PREFERRED.search(plain)


def is_verification(heading: str) -> bool:
    """Whether a heading opens the checks that a fix worked, read after the fix."""
    return bool(_VERIFICATION.match(_strip_enumerator(heading.replace("**", "")).strip()))


# Content tabs: MkDocs' `=== "Linux"` line over the tab's indented body, Docusaurus'
# `<TabItem value="linux" label="Linux">`. Each tab is an alternative (one platform, one tool).
_TAB = re.compile(r"^\s*===\+?\s+\"([^\"\n]{1,80})\"\s*$")
_TAB_ITEM = re.compile(r"<TabItem\b[^>]*?\blabel=[\"']([^\"'\n]{1,80})[\"']|"
                       r"<TabItem\b[^>]*?\bvalue=[\"']([^\"'\n]{1,80})[\"']")


# Hugo's `{{< tab "Linux" >}}` / `{{% tab name="Linux" %}}` (Docsy: `header="Linux"`), inside
# `{{< tabs >}}`: the same alternatives, written as shortcodes.
# GitBook's (Liquid's) `{% tab title="CLI" %}` inside `{% tabs %}` ... `{% endtabs %}`: the same.
_HUGO_TAB = re.compile(r"\{\{[<%]\s*tab\s+(?:(?:name|header|title|label)\s*=\s*)?"
                       r"[\"']([^\"'\n]{1,80})[\"'][^}]*?[%>]\}\}|"
                       r"\{%\s*tab\s+title\s*=\s*[\"']([^\"'\n]{1,80})[\"']\s*%\}", re.I)
_SHORTCODES_ONLY = re.compile(r"^\s*(?:(?:\{\{[<%].*?[%>]\}\}|\{%\s*(?:end)?tabs?\b.*?%\})\s*)+$",
                              re.S)


def tab_label(text: str) -> str | None:
    """The label of the content tab an element opens, if it opens one."""
    m = _TAB.match(text) or _TAB_ITEM.search(text) or _HUGO_TAB.search(text)
    return next((g.strip() for g in m.groups() if g), None) if m else None


_TEMPLATE_TAGS_ONLY = re.compile(r"^\s*(?:(?:\{%.*?%\}|\{\{[<%].*?[%>]\}\})\s*)+$", re.S)


def only_template_tags(text: str) -> bool:
    """Whether a paragraph is nothing but template tags (GitBook's `{% code title="x" %}`,
    Hugo's shortcodes): markup around what follows, no words of the guide's."""
    return _TEMPLATE_TAGS_ONLY.match(text) is not None


def only_shortcodes(text: str) -> bool:
    """Whether a paragraph is nothing but Hugo shortcodes (`{{< tabs >}} {{< tab "Linux" >}}`):
    markup that opens or closes a container, read like an HTML tag."""
    return _SHORTCODES_ONLY.match(text) is not None


_SUMMARY = re.compile(r"<summary>(.*?)</summary>", re.I | re.S)
_HTML_CLOSER = re.compile(r"</(?:details|TabItem)>|\{\{[<%]\s*/tabs?\s*[%>]\}\}|"
                          r"\{%\s*endtabs?\s*%\}", re.I)


def html_guard(text: str) -> Guard | None:
    """The guard an HTML container opens: a `<TabItem label="Helm">` or a Hugo
    `{{< tab "Linux" >}}` (one alternative), or a `<details>` whose `<summary>` is a condition
    ("If the pod is stuck in Terminating") or a rollback ("Rollback", as a "## Rollback"
    heading is)."""
    closers = list(_HTML_CLOSER.finditer(text))
    if closers:  # `</TabItem>` then `<TabItem label="kubectl">`: what opens after it
        text = text[closers[-1].end():]
    label = tab_label(text)
    if label is not None:  # one tab of a choice among them (see `outline._append`)
        return Guard(text=label, alternative=True)
    m = _SUMMARY.search(text)
    if m is None:
        return None
    summary = re.sub(r"<[^>]*>", "", m.group(1)).strip()
    if is_rollback(summary):  # a collapsed "Rollback": for when a person decides to roll back
        return Guard(text=summary)
    return guard_of(summary)


def fold_title(text: str) -> str | None:
    """The plain title of a `<details>` fold's `<summary>` ("<b>3. Defragment</b>" -> "3.
    Defragment"), or None: a guide whose every step is a fold numbers its steps there."""
    if not text.lstrip().lower().startswith("<details"):
        return None
    m = _SUMMARY.search(text)
    return re.sub(r"<[^>]*>", "", m.group(1)).strip() if m is not None else None


def closes_html_guard(text: str) -> bool:
    return bool(_HTML_CLOSER.search(text))
