"""PromQL templates: where a value may sit in a query, and how it is written there.

PromQL has no bound parameters, so a value is spliced into the query text. Which text is safe
depends on where the value sits, so this module reads the query around each value (strings,
comments, selector braces, range brackets, label lists) and gives it one of these positions:

- `label`: inside the quoted value of an `=` or `!=` label matcher (`{job="..."}`): any text,
  written as a PromQL string (backslash, quote and control characters escaped);
- `regex`: inside the quoted value of an `=~` or `!~` matcher: any text, quoted for the regex
  (like Go's `regexp.QuoteMeta`: `.+` matches the two characters `.+`), then as a string;
- `duration`: inside `[...]` (a range or a subquery): a duration such as `5m` or `1h30m`;
- `offset`: after `offset`: a duration, which may be negative;
- `number`: any other place in an expression (a comparison operand, `topk`'s k, a function's
  number argument, after `@`): a number, nothing else.

Every other place is refused: a metric, function or label name, a `by (...)` label list, a
string that is not a matcher value, a comment. So a value can change what a query matches,
never what the query is: `0+up`, `0/0`, `"} or vector(1)` and `.+` stay one number (refused)
or one literal label value.

`positions` is the reader, shared by the compiler (which finds `$VAR` and `<placeholder>` too)
and by `guard`, which the prometheus plugin applies to its query template before every render:
each `{{ value }}` is sent through the `promql` filter for its position, whatever plan the
template came from (structural, LLM, written by hand). The filter itself (`escape`) lives here
and is registered in `engine.templating`.

`syntax_problem` parses a query template as Prometheus would (`promql-parser`), each value
written as a sample of its position, so that lint can say a query will not parse before a run
finds out at 3 a.m.

What this module does not own: rendering (`engine.templating`), which blocks are
PromQL (`engine.compile.blocks`), or talking to Prometheus (the plugin).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from engine.errors import TemplateError

Kind = Literal["label", "regex", "duration", "offset", "number"]
KINDS: tuple[Kind, ...] = ("label", "regex", "duration", "offset", "number")
QUOTES = {'"': "double", "'": "single", "`": "raw"}

_GROUPING = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
_WORD = re.compile(r"[A-Za-z0-9_:]")  # in a name; `:` separates a subquery's durations
_NAME_CHAR = re.compile(r"[A-Za-z0-9_]")
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")
_DURATION = re.compile(r"(?:\d+(?:ms|s|m|h|d|w|y))+")
_REGEX_SPECIAL = frozenset("\\.+*?()|[]{}^$")


@dataclass(frozen=True)
class Value:
    """A value in the template: a memory expression (Jinja) to render."""

    expr: str


@dataclass(frozen=True)
class Text:
    """Template text that stands for `means` in the query (a Go template: nothing)."""

    means: str


Found = tuple[int, Value | Text]
Finder = Callable[[str, int, bool], Found | None]
"""(template, index, inside a string) -> (end, what starts there), or None for plain text."""


@dataclass(frozen=True)
class Piece:
    text: str  # the template text (a literal) or the expression (a value)
    kind: Kind | None = None  # None: literal text
    quote: str = '"'  # for label and regex values: the string's quote character


class PositionError(TemplateError):
    """A value sits where no value may (`offset` is its index in the template)."""

    def __init__(self, message: str, *, offset: int, hint: str) -> None:
        super().__init__(message, hint=hint)
        self.offset = offset


_HINT = ("Put a value only inside a label matcher's quoted value ({job=\"...\"}, =~ \"...\"), "
         "in a range [...], after offset, or where a number belongs; write the rest of the "
         "query as fixed text")


class _Reader:
    """The lexical state of a PromQL text, one character at a time."""

    def __init__(self) -> None:
        self.quote: str | None = None
        self.escaped = False
        self.matcher: Kind | None = None  # what the current string is the value of
        self.comment = False
        self.braces = 0
        self.brackets = 0
        self.parens: list[bool] = []  # True: a label list (by, without, on, ...)
        self.word = ""
        self.last = ""  # the last token: a word, or a run of operator characters
        self.ops = ""  # operator characters since the last word or string

    def feed(self, ch: str) -> None:
        if self.comment:
            self.comment = ch != "\n"
            return
        if self.quote is not None:
            if self.escaped:
                self.escaped = False
            elif ch == "\\" and self.quote != "`":
                self.escaped = True
            elif ch == self.quote:
                self.quote, self.matcher, self.last, self.ops = None, None, "string", ""
            return
        if _WORD.match(ch) and not (ch == ":" and self.brackets):
            self.word += ch
            self.ops = ""
            return
        self._end_word()
        if ch.isspace():
            return
        if ch == "#":
            self.comment = True
        elif ch in QUOTES:
            self.quote = ch
            self.matcher = self._matcher()
        elif ch == "{":
            self.braces += 1
        elif ch == "}":
            self.braces = max(0, self.braces - 1)
        elif ch == "[":
            self.brackets += 1
        elif ch == "]":
            self.brackets = max(0, self.brackets - 1)
        elif ch == "(":
            self.parens.append(self.last in _GROUPING)
        elif ch == ")":
            if self.parens:
                self.parens.pop()
        if ch not in QUOTES:
            self.ops += ch
            self.last = self.ops

    def _end_word(self) -> None:
        if self.word:
            self.last, self.word = self.word, ""

    def _matcher(self) -> Kind | None:
        if not self.braces:
            return None
        if self.ops.endswith(("=~", "!~")):
            return "regex"
        if self.ops.endswith("="):
            return "label"
        return None

    def position(self, text: str, start: int, end: int) -> Kind | str:
        """The kind of value that may sit at text[start:end], or why none may."""
        if self.comment:
            return "inside a comment"
        if self.quote is not None:
            if self.matcher is None:
                return "inside a string that is not a label matcher's value"
            return self.matcher
        if (self.word and not self.brackets) or (start and _NAME_CHAR.match(text[start - 1])) \
                or (end < len(text) and _NAME_CHAR.match(text[end])):
            return "inside a name (a metric, function or label name)"
        if self.braces:
            return "where a label name belongs"
        if self.brackets:
            return "duration"
        if self.parens and self.parens[-1]:
            return "in a label list (by, without, on, ignoring, group_left/right)"
        following = text[end:].lstrip()[:1]
        if following in ("{", "(", "["):
            return "where a metric or function name belongs"
        if self.last == "offset":
            return "offset"
        return "number"


def positions(template: str, find: Finder) -> list[Piece]:
    """The template as literal pieces and values, each value with its position kind.

    Raises PositionError for a value where none may sit."""
    reader = _Reader()
    pieces: list[Piece] = []
    literal_start = i = 0
    while i < len(template):
        found = find(template, i, reader.quote is not None)
        if found is None:
            reader.feed(template[i])
            i += 1
            continue
        end, what = found
        if isinstance(what, Text):
            for ch in what.means:
                reader.feed(ch)
            i = end
            continue
        kind = reader.position(template, i, end)
        if kind not in KINDS:
            raise PositionError(f"a value ({what.expr.strip()}) sits {kind} in the PromQL "
                                f"query; only a label value, a duration or a number may come "
                                f"from a value", offset=i, hint=_HINT)
        if i > literal_start:
            pieces.append(Piece(template[literal_start:i]))
        pieces.append(Piece(what.expr.strip(), kind, reader.quote or '"'))
        literal_start = i = end
    if literal_start < len(template):
        pieces.append(Piece(template[literal_start:]))
    return pieces


def filter_call(piece: Piece) -> str:
    """The `promql` filter call for a value piece: `promql('label')`, `promql('regex', 'raw')`."""
    quote = QUOTES[piece.quote]
    if piece.kind in ("label", "regex") and quote != "double":
        return f"promql('{piece.kind}', '{quote}')"
    return f"promql('{piece.kind}')"


# -- guarding a template at render time ------------------------------------------------------

_JINJA_VALUE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_JINJA_STRING = re.compile(r"\s*(?:'([^'\\]*)'|\"([^\"\\]*)\")\s*")
_FILTERED = re.compile(r"\s*\((.*)\)\s*\|\s*promql(?:\s*\([^()]*\))?\s*", re.DOTALL)
_TRAILING_FILTER = re.compile(r"(.*?)\s*\|\s*promql(?:\s*\([^()]*\))?\s*", re.DOTALL)


def _jinja(template: str, i: int, _in_string: bool) -> Found | None:
    if template.startswith(("{%", "{#"), i):
        raise TemplateError("a PromQL query template may hold {{ value }} expressions only, "
                            "not Jinja statements or comments", hint=_HINT)
    if not template.startswith("{{", i):
        return None
    m = _JINJA_VALUE.match(template, i)
    if m is None:
        raise TemplateError("an unclosed {{ in the PromQL query template", hint=_HINT)
    constant = _JINJA_STRING.fullmatch(m.group(1))
    if constant:  # `{{ '{{' }}`: literal text written so that Jinja leaves it alone
        return m.end(), Text(constant.group(1) if constant.group(1) is not None
                             else constant.group(2))
    return m.end(), Value(m.group(1))


def guard(template: str) -> str:
    """`template` with every `{{ value }}` sent through the `promql` filter for its position
    (a filter already there is replaced); PositionError where no value may sit."""
    if "{{" not in template and "{%" not in template and "{#" not in template:
        return template
    out: list[str] = []
    for piece in positions(template, _jinja):
        if piece.kind is None:
            out.append(piece.text)
            continue
        expr = piece.text
        m = _FILTERED.fullmatch(expr) or _TRAILING_FILTER.fullmatch(expr)
        if m:
            expr = m.group(1).strip()
        out.append("{{ (" + expr + ") | " + filter_call(piece) + " }}")
    return "".join(out)


# -- the filter: a value written for its position ---------------------------------------------


def escape(value: Any, kind: str | None = None, quote: str = "double") -> str:
    """`value` as PromQL text for a position (the `promql` template filter)."""
    if kind is None:
        raise TemplateError("promql: the filter needs the value's position: promql('label'), "
                            "'regex', 'duration', 'offset' or 'number'",
                            hint="Recompile the guide: the compiler picks the position")
    if isinstance(value, bool) or value is None or not isinstance(value, str | int | float):
        raise TemplateError(f"promql: {type(value).__name__} value {_show(value)} cannot be "
                            f"put into a PromQL query as a {kind}",
                            hint="Pass a plain string or number")
    text = str(value)
    if kind == "label":
        return _string(text, quote)
    if kind == "regex":
        return _string("".join("\\" + c if c in _REGEX_SPECIAL else c for c in text), quote)
    if kind in ("duration", "offset"):
        body = text[1:] if kind == "offset" and text.startswith("-") else text
        if not _DURATION.fullmatch(body):
            raise TemplateError(f"promql: refused to put {_show(text)} into a PromQL query "
                                f"where a duration belongs (e.g. 30s, 5m, 1h30m)",
                                hint="A duration from an input or alert label must be digits "
                                "and a unit (ms, s, m, h, d, w, y); check where it came from")
        return text
    if kind == "number":
        return _number(value, text)
    raise TemplateError(f"promql: unknown position {kind!r}", hint="Recompile the guide")


def _string(text: str, quote: str) -> str:
    if quote == "raw":
        if "`" in text:
            raise TemplateError(f"promql: refused to put {_show(text)} into a `raw` PromQL "
                                "string: it contains a backtick, which such a string cannot "
                                "hold", hint="Write the matcher with double quotes")
        return text
    mark = "'" if quote == "single" else '"'
    out = []
    for c in text:
        if c in ("\\", mark):
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        elif ord(c) < 0x20 or c == "\x7f":
            out.append(f"\\x{ord(c):02x}")
        else:
            out.append(c)
    return "".join(out)


def _number(value: Any, text: str) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        raise TemplateError(f"promql: refused to put {_show(value)} where a number belongs: "
                            "it is not finite", hint="Pass a finite number")
    if not _NUMBER.fullmatch(text):
        raise TemplateError(f"promql: refused to put {_show(text)} into a PromQL query where a "
                            "number belongs: only a number (like 5, 0.05, 1e3) can sit there",
                            hint="A threshold or count from an input or alert label must be a "
                            "plain number; check where it came from")
    return f"({text})" if text[0] in "+-" else text


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# -- syntax ----------------------------------------------------------------------------------

_SAMPLE: dict[str, Any] = {"label": "x", "regex": "x", "duration": "5m", "offset": "5m",
                           "number": 1}


def syntax_problem(template: str) -> str | None:
    """Why the PromQL query `template` does not parse, with each `{{ value }}` written as a
    sample of its position (`"x"`, `5m`, `1`), or None when it parses."""
    import promql_parser  # a compiled parser: imported where it is needed

    try:
        pieces = positions(template, _jinja) if "{{" in template else [Piece(template)]
    except TemplateError as exc:
        return exc.message
    text = "".join(p.text if p.kind is None else escape(_SAMPLE[p.kind], p.kind, QUOTES[p.quote])
                   for p in pieces)
    try:
        promql_parser.parse(text)
    except ValueError as exc:
        return str(exc)
    return None


# -- the metrics a query reads --------------------------------------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_METRIC = re.compile(r"(?<![A-Za-z0-9_:.])([A-Za-z_:][A-Za-z0-9_:]*)(?![A-Za-z0-9_:])(?!\s*\()")
_NOT_METRICS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "bool",
                          "offset", "and", "or", "unless", "inf", "nan", "atan2"})
# ALERTS holds only the alerts that fire: none is an answer, and then it has no series at all.
_SYNTHETIC = frozenset({"ALERTS", "ALERTS_FOR_STATE"})


def selected_metrics(query: str) -> frozenset[str]:
    """The metric names a query selects (`sum(rate(http_requests_total{code="500"}[5m]))`:
    http_requests_total), on which an empty result rests: if one has no series, the emptiness
    says nothing. (A query that falls back at its top, `... or vector(0)`, is never empty; one
    with the fallback inside, `(a or vector(0)) / b`, is empty when b is, and b is checked.
    `absent(x)` is empty only while x is there.) ALERTS is left out: it has series only while
    an alert fires. A selector with no name (`{__name__=~"..."}`) names nothing to check."""
    text = _STRING.sub('""', query)
    text = _RANGE.sub("[]", _LABEL_LIST.sub(" ", _MATCHERS.sub("{}", text)))
    return frozenset(m for m in _METRIC.findall(text)
                     if m.lower() not in _NOT_METRICS and m not in _SYNTHETIC)
