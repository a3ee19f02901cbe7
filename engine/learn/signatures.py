"""A failed step's error -> its signature: the same text for the same failure, whatever ids,
hosts, numbers, paths, times or quoted values it names.

`normalise` replaces, in this order (earlier ones would be broken up by later ones):
credentials left in the text (`password=...`, `Bearer ...`: the redactor masks the secrets it
knows, this masks what it could not know), URLs, e-mail addresses, timestamps and dates, UUIDs,
IP addresses, paths, quoted values, host names, hex values and ids, and numbers; then it folds
whitespace and cuts the text. `signature` is a short stable hash of that text.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import re
from typing import NamedTuple

MAX_PATTERN = 300
"""Characters of a normalised error kept: two errors that differ only past this are one."""

MAX_MESSAGE = 500
"""Characters of an example error kept with a signature (after masking credentials)."""

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*"
_TLDS = ("com", "net", "org", "io", "dev", "local", "internal", "lan", "svc", "cluster",
         "example", "test", "corp", "cloud", "localdomain", "intra", "home", "arpa")

# (pattern, replacement), applied in order.
_CREDENTIALS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{6,}"), r"\1 <secret>"),
    (re.compile(r"(?i)\b(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|"
                r"authorization|auth)\b(\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;&]+)"),
     r"\1\2<secret>"),
    (re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@'\"`<>]*):[^@\s/'\"`<>]+@"),
     r"\1:<secret>@"),
)
"""Credentials the redactor could not know (it masks the data sources' own secrets)."""

_RULES: tuple[tuple[re.Pattern[str], str], ...] = _CREDENTIALS + (
    (re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^\s'\"`<>]+"), r"\1<url>"),
    (re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), "<email>"),
    # timestamps: ISO 8601 and RFC 3339, syslog's "Dec  2 21:54:24", epoch-free clocks
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"
                r"(?:Z|[+-]\d{2}:?\d{2}|\s?UTC)?"), "<time>"),
    (re.compile(rf"\b{_MONTH}\s+\d{{1,2}}(?:,?\s+\d{{4}})?\s+\d{{2}}:\d{{2}}(?::\d{{2}})?"),
     "<time>"),
    (re.compile(r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b"), "<time>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b"), "<date>"),
    (re.compile(r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"),
     "<uuid>"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b"), "<ip>"),
    (re.compile(r"(?i)(?<![\w:])\[?(?=[\w:]*\d)(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}\]?"
                r"(?::\d{1,5})?(?![\w:])"), "<ip>"),
    # paths: absolute, home- or dot-relative, Windows
    (re.compile(r"(?<![\w./<>-])(?:~|\.{1,2})?(?:/[\w.@%+~,=-]+)+/?"), "<path>"),
    (re.compile(r"\b[A-Za-z]:\\[^\s'\"]*"), "<path>"),
    # quoted values: the quotes stay, so `relation "x" does not exist` stays recognisable
    (re.compile(r"\"[^\"\n]{0,200}\""), "\"<q>\""),
    (re.compile(r"'[^'\n]{0,200}'"), "'<q>'"),
    (re.compile(r"`[^`\n]{0,200}`"), "`<q>`"),
    (re.compile(r"“[^”\n]{0,200}”"), "“<q>”"),
    # host names: with a port, with a known top-level label, or localhost
    (re.compile(r"(?i)\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z][a-z0-9-]*:\d{1,5}\b"),
     "<host>"),
    (re.compile(r"(?i)\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:" + "|".join(_TLDS)
                + r")\b"), "<host>"),
    (re.compile(r"(?i)\blocalhost(?::\d{1,5})?\b"), "<host>"),
    # versions, 0x..., ids (tokens mixing letters with 3+ digits), long hex runs
    (re.compile(r"\bv\d+(?:\.\d+)+\b"), "v<n>"),
    (re.compile(r"(?i)\b0x[0-9a-f]+\b"), "<hex>"),
    (re.compile(r"\b(?=[\w-]*[A-Za-z])(?=(?:[\w-]*\d){3})[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+)+\b"),
     "<id>"),
    (re.compile(r"\b(?=[A-Za-z]*\d)(?=\d*[A-Za-z])(?=(?:[A-Za-z]*\d){3})[A-Za-z0-9]{6,}\b"),
     "<id>"),
    (re.compile(r"(?i)\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{6,}\b"), "<hex>"),
    (re.compile(r"(?<![\w.])(?<![A-Za-z]-)[-+]?\d+(?:[.,]\d+)*(?:[eE][-+]?\d+)?"), "<n>"),
)
_SPACE = re.compile(r"\s+")
# `<id>` and `<n>` joined by `-`, `.` or `_`: one value (a run id, a version, a range)
_JOINED = re.compile(r"<(?:n|id|hex)>(?:[-._]<(?:n|id|hex)>)+")


_KEEP = frozenset({"x86_64", "aarch64", "i386", "i686", "sha256", "sha512", "sha384",
                   "sha224", "base64", "int128", "uint64", "float64", "float32"})
"""Names that look like ids but say what kind of thing failed: kept as they are."""


def _sub(pattern: re.Pattern[str], replacement: str, text: str) -> str:
    if "<id>" not in replacement and "<hex>" not in replacement:
        return pattern.sub(replacement, text)
    return pattern.sub(lambda m: m.group() if m.group().lower() in _KEEP else replacement,
                       text)


def normalise(error: str) -> str:
    """The error with what varies from one occurrence to the next abstracted (`<n>`, `<id>`,
    `<hex>`, `<uuid>`, `<ip>`, `<host>`, `<path>`, `<time>`, `<date>`, `<url>`, `<email>`,
    `"<q>"`, `<secret>`), whitespace folded, cut to `MAX_PATTERN` characters."""
    text = error
    for pattern, replacement in _RULES:
        text = _sub(pattern, replacement, text)
    text = _JOINED.sub(lambda m: "<n>" if set(m.group()) <= set("<n>-._") else "<id>", text)
    text = _SPACE.sub(" ", text).strip()
    return text[:MAX_PATTERN]


def mask_credentials(message: str) -> str:
    """`message` with credentials the redactor could not know masked (only that rule of
    `normalise`), folded onto one line and cut to `MAX_MESSAGE`: an example kept beside its
    signature."""
    text = message
    for pattern, replacement in _CREDENTIALS:
        text = pattern.sub(replacement, text)
    return _SPACE.sub(" ", text).strip()[:MAX_MESSAGE]


class Signature(NamedTuple):
    id: str  # 12 hex characters of the pattern's SHA-256
    pattern: str


def signature(error: str) -> Signature:
    """The signature of an error (already redacted): its normalised text and that text's id."""
    pattern = normalise(error)
    return Signature(hashlib.sha256(pattern.encode()).hexdigest()[:12], pattern)


def of_failure(message: str) -> Signature:
    """The signature a failed attempt with this (redacted) `message` is kept under: any
    credential the redactor could not know masked, and a denial's without who denied."""
    masked = mask_credentials(message)
    return signature("approval denied" if masked.startswith("approval denied") else masked)
