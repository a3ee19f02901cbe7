"""Typed values: what an input may hold, checked before any step runs.

An input's value comes from whoever starts the run: an operator's `--input`, or an alert's
label, which anyone who can make a metric carry a label can write. So every input has a type,
and a value that does not fit its type fails the run before any step, with the input, the
value (escaped) and the rule it broke:

    name      a token: letters, digits and `. _ : / @ -`, not starting with `-`, no `..` path
              segment (a service, namespace, pod, host:port, version). `string` is the same
              type, by its old name.
    path      a file system path: no control characters, not starting with `-`, normalised
              (`a/./b/../c` -> `a/c`); confined under the input's `roots` when it declares any,
              and then absolute (a relative one is read from wherever the step runs).
    integer   a whole number;  number: a finite number;  boolean: true/false, yes/no, 1/0.
    duration  a Prometheus-style duration: `30s`, `5m`, `1h30m`, `7d` (ASCII digits: a
              fullwidth `５m` is kept as written, and Prometheus or a command cannot read it).
    enum      one of the input's `choices`.
    regex     a regular expression that compiles with RE2 (linear time, no backreferences).
    url       an http(s) URL with a host, no credentials, no spaces or control characters, no
              backslash (parsers disagree on the host it names: `https://a.org\\b.com`), an
              ASCII host (an IDN host in its punycode `xn--` form: a look-alike shows).
    text      free text (printable; tabs and newlines allowed). Only ever passed as data: a SQL
              bound value, an HTTP body or query field. Never an argv word, script text,
              PromQL, a path or a URL segment (`engine.placement` enforces where).

What this module does not own: where a value may be put into a step (the placement rules),
or how templates render (`engine.templating`).
"""

from __future__ import annotations

import math
import os
import posixpath
import re
import unicodedata
from typing import Any, Final, Literal
from urllib.parse import urlsplit

InputType = Literal["name", "string", "path", "integer", "number", "boolean", "duration",
                    "enum", "regex", "url", "text"]

TYPES: Final[tuple[str, ...]] = ("name", "string", "path", "integer", "number", "boolean",
                                 "duration", "enum", "regex", "url", "text")

MAX_LENGTH: Final = {"name": 253, "path": 4096, "url": 2048, "regex": 1024, "text": 16384,
                     "duration": 32, "enum": 253}

_NAME = re.compile(r"[A-Za-z0-9._:/@-]+")
_DURATION = re.compile(r"(?:[0-9]+(?:ms|s|m|h|d|w|y))+")  # ASCII digits: `\d` takes `５`, `٥`
_TRUE = frozenset({"true", "yes", "1", "on"})
_FALSE = frozenset({"false", "no", "0", "off"})


class ValueRejected(ValueError):
    """A value that does not fit its type; `rule` says which rule it broke, in a few words."""

    def __init__(self, rule: str) -> None:
        super().__init__(rule)
        self.rule = rule


def shown(value: Any, limit: int = 60) -> str:
    """A value as it can be printed safely: escaped (no control character survives), cut."""
    text = repr(value) if isinstance(value, str) else repr(str(value))
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def control_characters(text: str, *, allow: str = "") -> list[str]:
    """The control and format characters in `text` (C0, DEL, C1, bidi overrides...)."""
    return [c for c in text if c not in allow and unicodedata.category(c) in ("Cc", "Cf")]


def check(type_: str, raw: Any, *, choices: tuple[str, ...] | list[str] = (),
          roots: tuple[str, ...] | list[str] = ()) -> Any:
    """`raw` converted to `type_`, or ValueRejected saying which rule it broke."""
    if type_ == "integer":
        return _integer(raw)
    if type_ == "number":
        return _number(raw)
    if type_ == "boolean":
        return _boolean(raw)
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise ValueRejected(f"a {type(raw).__name__} is not a {type_}")
    text = str(raw)
    limit = MAX_LENGTH.get("name" if type_ == "string" else type_)
    if limit is not None and len(text) > limit:
        raise ValueRejected(f"it is {len(text)} characters long; at most {limit} are allowed")
    if type_ == "text":
        bad = control_characters(text, allow="\t\n")
        if bad:
            raise ValueRejected(f"it contains the control character {shown(bad[0])}")
        return text
    if not text:
        raise ValueRejected("it is empty")
    bad = control_characters(text)
    if bad:
        raise ValueRejected(f"it contains the control character {shown(bad[0])}")
    if text.startswith("-") and type_ in ("name", "string", "path", "enum", "url", "duration"):
        raise ValueRejected("it starts with '-', so a command would read it as an option")
    if type_ in ("name", "string"):
        if not _NAME.fullmatch(text):
            bad_chars = sorted({c for c in text if not _NAME.fullmatch(c)})
            raise ValueRejected("only letters, digits and . _ : / @ - are allowed; it contains "
                                + ", ".join(shown(c) for c in bad_chars[:5]))
        if ".." in text.split("/"):
            raise ValueRejected("it has a '..' path segment, which climbs out of the folder a "
                                "command puts it in; a path input (with roots) takes paths")
        return text
    if type_ == "path":
        return _path(text, roots)
    if type_ == "duration":
        if not _DURATION.fullmatch(text):
            raise ValueRejected("a duration is a number and a unit (ms, s, m, h, d, w, y), "
                                "such as 30s, 5m or 1h30m")
        return text
    if type_ == "enum":
        if text not in choices:
            raise ValueRejected("it is not one of " + ", ".join(choices))
        return text
    if type_ == "regex":
        return _regex(text)
    if type_ == "url":
        return _url(text)
    raise ValueRejected(f"{type_!r} is not an input type (one of {', '.join(TYPES)})")


def _integer(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueRejected("a boolean is not an integer")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    text = str(raw).strip()
    if not re.fullmatch(r"[-+]?\d{1,18}", text):
        raise ValueRejected("an integer is digits, with an optional sign")
    return int(text)


def _number(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueRejected("a boolean is not a number")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValueRejected("a number is digits, with an optional sign, point and exponent") \
            from None
    if not math.isfinite(value):
        raise ValueRejected("a number must be finite (not nan or inf)")
    return value


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueRejected("a boolean is true or false (yes/no, 1/0, on/off)")


def _path(text: str, roots: tuple[str, ...] | list[str]) -> str:
    path = posixpath.normpath(text)
    if path.startswith("-"):
        raise ValueRejected("it starts with '-', so a command would read it as an option")
    if not roots:
        return path
    if not posixpath.isabs(path):  # checked from here, used from the folder the step runs in
        raise ValueRejected("a path confined under roots is written from / (a relative one "
                            "is read from whatever folder the step runs in, not from a root)")
    resolved = os.path.realpath(path)
    for root in roots:
        base = os.path.realpath(root)
        if resolved == base or resolved.startswith(base.rstrip("/") + "/"):
            return path
    raise ValueRejected(f"it resolves to {shown(resolved)}, outside "
                        + " and ".join(shown(r) for r in roots))


def _regex(text: str) -> str:
    import re2  # google-re2: linear-time matching, no catastrophic backtracking

    options = re2.Options()
    options.log_errors = False
    try:
        re2.compile(text, options=options)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise ValueRejected(f"RE2 cannot compile it ({reason}); backreferences and "
                            "lookarounds are not supported") from None
    return text


def _url(text: str) -> str:
    if any(c.isspace() for c in text):
        raise ValueRejected("a URL has no spaces")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as exc:
        raise ValueRejected(f"it is not a URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise ValueRejected("only http:// and https:// URLs are allowed")
    if not parts.hostname:
        raise ValueRejected("a URL needs a host")
    if parts.username is not None or parts.password is not None:
        raise ValueRejected("credentials do not belong in a URL value; configure them on a "
                            "data source")
    if "\\" in text:
        raise ValueRejected("a URL has no backslash: browsers read it as '/', Python as part "
                            "of the host, so the host it names depends on who reads it")
    if not parts.hostname.isascii():
        raise ValueRejected("its host is not ASCII; write an international host in its "
                            "punycode (xn--) form, where a look-alike letter shows")
    return text


def infer(default: Any) -> InputType:
    """The type of an input declared without one, from its default: a number or boolean as
    such; a string is a name, else a path (it has a `/`), else text. No default: a name."""
    if isinstance(default, bool):
        return "boolean"
    if isinstance(default, int):
        return "integer"
    if isinstance(default, float):
        return "number"
    if default is None:
        return "name"
    candidates: tuple[InputType, ...] = ("name", "path")
    for candidate in candidates:
        try:
            check(candidate, default)
        except ValueRejected:
            continue
        if candidate == "name" or "/" in str(default):
            return candidate
    return "text"


def spec_problem(name: str, type_: str, default: Any, choices: list[str] | tuple[str, ...],
                 roots: list[str] | tuple[str, ...]) -> str | None:
    """What is wrong with an input's declaration, in one sentence, or None."""
    if type_ == "enum" and not choices:
        return f"input {name!r} is an enum but lists no choices"
    if choices and type_ != "enum":
        return f"input {name!r} lists choices but is a {type_}, not an enum"
    if roots and type_ != "path":
        return f"input {name!r} lists roots but is a {type_}, not a path"
    if default is not None:
        try:
            check(type_, default, choices=choices, roots=())
        except ValueRejected as exc:
            return f"input {name!r}: default {shown(default)} is not a valid {type_}: {exc.rule}"
    return None


def type_hint(type_: str, *, choices: tuple[str, ...] | list[str] = (),
              roots: tuple[str, ...] | list[str] = ()) -> str:
    """What a valid value of `type_` looks like, for the error's hint."""
    examples = {
        "name": "a name such as web-1, kube-system or host:9100",
        "string": "a name such as web-1, kube-system or host:9100",
        "path": "a path such as /var/tmp/scratch" + (
            f" under {' or '.join(roots)}" if roots else ""),
        "integer": "a whole number such as 90", "number": "a number such as 0.05",
        "boolean": "true or false", "duration": "a duration such as 5m or 1h",
        "enum": "one of " + ", ".join(choices), "regex": "an RE2 regular expression",
        "url": "a URL such as https://example.org/path", "text": "printable text",
    }
    return examples.get(type_, type_)
