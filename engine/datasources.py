"""Named data sources (Prometheus servers, databases) and the redaction of their secrets.

Sources are declared in the config file (`mendflow.toml`, `Settings.config_file`):

    [datasources.requests_db]
    type = "postgresql"
    url = "postgresql://mendflow@127.0.0.1:5432/test"
    password_env = "REQUESTS_DB_PASSWORD"   # credentials come from the environment

and from `MENDFLOW_DATASOURCE_<NAME>_URL`, `_TYPE`, `_PASSWORD` and `_TOKEN`, which override the
file or declare a source of their own. An HTTP API (or a Prometheus behind a proxy) that wants
a token says so:

    [datasources.status_api]
    type = "http"
    url = "https://status.internal/api"
    token_env = "STATUS_API_TOKEN"   # sent as `Authorization: Bearer <token>`
    auth = "bearer"                  # optional: bearer with a token, basic with a password

The environment is read once, by `load_datasources`, called at the edge (the CLI); everything
else receives a `DataSources` value.

A `DataSource` never shows its secrets: `public()` masks them, `connect_info()` is what a
plugin gets, and `Redactor` scrubs every secret, and every form it travels in (URL-encoded,
JSON-escaped, base64, the whole Basic or Bearer header value), out of memory, errors, logs and
artifacts.

What this module does not own: connecting to anything (the plugins), reading settings
(`engine.settings`).
"""

from __future__ import annotations

import array
import base64
import bisect
import codecs
import contextlib
import functools
import html
import json
import logging
import re
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar
from urllib.parse import quote, quote_plus, unquote, urlsplit, urlunsplit

from engine.config import as_tables, read_config
from engine.errors import ConfigError
from engine.settings import Settings

ENV_PREFIX = "MENDFLOW_DATASOURCE_"
MASK = "***"

PLUGIN_TYPES: dict[str, tuple[str, ...]] = {
    "prometheus": ("prometheus",),
    "sql": ("postgresql", "sqlite"),
}
"""The source types each query plugin can talk to (for `resolve_for_plugin`)."""

AUTH_SCHEMES = ("basic", "bearer")
_SCHEME_TYPES = {"postgresql": "postgresql", "postgres": "postgresql", "sqlite": "sqlite"}
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


def mask_url(url: str) -> str:
    """The URL with its password (if any) replaced by `***`: safe to print."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))


def _with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    if not password or parts.password is not None or not parts.netloc:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{quote(password, safe='')}@{host}"))


@dataclass(frozen=True, slots=True)
class DataSource:
    """One configured source. `secrets` holds values never to be shown: `password` (for the
    URL's user: a database login, or HTTP Basic auth) and `token` (HTTP Bearer auth)."""

    name: str
    type: str
    url: str
    secrets: dict[str, str] = field(default_factory=dict)
    origin: str = ""  # where it was declared, for error messages
    concurrency: int | None = None  # steps at once against this source; None: no own limit

    @property
    def auth(self) -> str | None:
        """How an HTTP client authenticates: "bearer" (a token), "basic" (user and password in
        the URL), or None."""
        if self.secrets.get("token"):
            return "bearer"
        if self.secrets.get("password") or urlsplit(self.url).password:
            return "basic"
        return None

    def public(self) -> dict[str, Any]:
        """What may be printed or stored: no secrets, the URL password masked."""
        return {"name": self.name, "type": self.type, "url": mask_url(self.url)}

    def connect_info(self) -> dict[str, Any]:
        """What a plugin needs to connect: the URL with its password, and the secrets."""
        info = {
            "name": self.name,
            "type": self.type,
            "url": _with_password(self.url, self.secrets.get("password", "")),
            "public_url": mask_url(self.url),
            "secrets": dict(self.secrets),
            "auth": self.auth,
        }
        if self.secrets.get("token"):
            info["token"] = self.secrets["token"]
        return info

    def secret_values(self) -> list[str]:
        """Every secret, and `user:password` (what a Basic auth header encodes)."""
        values = [v for v in self.secrets.values() if v]
        parts = urlsplit(self.url)
        if parts.password:
            values.append(unquote(parts.password))
        password = self.secrets.get("password") or unquote(parts.password or "")
        if password:
            values.append(f"{unquote(parts.username or '')}:{password}")
        return values


class Redactor:
    """Replaces every secret, and every form it travels in, with `***`.

    The forms: the secret itself; URL-encoded (`quote`, `quote_plus`); JSON- and repr-escaped;
    base64 (standard and URL-safe, padded or not, and the run of characters that encode the
    secret wherever it sits inside a longer base64 text, e.g. the password in
    `base64(user:password)`); and the whole `Basic <base64>` / `Bearer <token>` header values.
    Each character that is not a letter or digit may also be written in any of those escapes
    on its own, the rest as it is, as tools escape only what their format needs: Go's JSON
    (`\\u0026` for `&`, `<`, `>`), PHP's (`\\/`), `set -x` and `set` (`'\\''` for `'`),
    YAML's single quotes (`''`), CSV (`""`), `declare -p` (`\\$`), systemd (`\\x20`),
    RFC 3986 userinfo (`:` left, `@` as `%40`), a form (`+` for a space).
    A data source declares `user:password` as one of its secrets so that its Basic header is
    known whole. Also hex, its bytes together or apart (`xxd -p`, a hex dump's `53 33` or
    `5333 6372`, `53:33`, `\\x53\\x33`), every byte percent-encoded (`%53%33`), every character
    `\\u`-escaped, HTML-escaped (`&amp;`, `&quot;`: a web page echoing it), the hex and
    base64 of its UTF-16 (what Windows and PowerShell's `-EncodedCommand` carry; big-endian
    too: Java, `iconv -t UTF-16BE`), and the secret in upper or lower case (`tr a-z A-Z`, a
    tool that shouts). Every character or byte escaped: HTML character references (`&#112;`,
    `&#x70;`, or only the characters not letters or digits), `\\U00000070`, octal (`\\160`,
    `od -b`), and the secret as `printf %q`, Python's bytes repr and `od -c` show it; and its
    base32 (`base32`, a TOTP seed), whole or inside a longer base32 text; URL-encoded twice
    (a URL in another's query); its bytes as decimal numbers (Go's `[90 113]`, `[90, 113]`,
    JSON's `[90,113]`); an ASCII secret as UTF-16 text read as UTF-8 (a NUL beside each
    character: `cat` of a file Windows wrote); base64 inside base64 (a Kubernetes Secret's
    `.dockerconfigjson`, whose `auth` is base64 of `user:password`; `base64` run twice), the
    run that encodes the inner base64 wherever it sits in the outer. Each form is the
    whole secret written out, in one prefix tree with the rest: nothing shorter is looked for,
    so escapes and base32 of other text are left alone, and the search stays linear.

    Wrapped across lines: every form, and every piece (below), is also looked for in the text
    with its line breaks, and the spaces or tabs after each, taken out: `base64` (76 columns,
    or `-w N`), `openssl base64` (64), `xxd -p` (60), `base32`, CRLF lines, a PEM block, a
    YAML `|` block or a pretty-printer's indented continuation lines. What is found across a
    break (`PIECE_MIN` characters or more: `12\n34` is a table's as often as a secret's) is
    masked on each line it sits on (`***` a line: the lines stay lines); one more
    search of the text, as linear as the first. So is what shows nothing between two
    characters: a terminal's control sequence (`grep --color=always` wraps every match in
    colour codes, cutting a secret into pieces shorter than any masked alone), a zero-width
    or direction-control character; each visible piece is masked. Hex dumps (`hexdump -C`,
    `xxd`, `od -t x1`, with or without offsets and an ASCII column) are read back to their
    bytes, which are searched the same way, and each line's part of what is found is masked
    in its hex and in its ASCII column; so are `od -c`'s characters, and dumps of numbers in
    another form (`_NUMBER_CELLS`: `xxd -i`'s C array, `xxd -b`'s bits, od's decimal bytes,
    plain `od`'s octal words, `od -d`'s decimal ones). Not covered: a wrap that adds text at
    the break (a log prefix on each line, `\\` before it).

    In part: any piece of a secret at least `piece_min(len)` characters long (half the secret,
    and never under `PIECE_MIN`), wherever it sits (`S3cr3t-P...` from a tool that shows the
    start of a password), is masked with as much of the secret as surrounds it.

    Redact first, cut after: text cut before redaction can leave part of a secret at the cut.
    Where the cut is not ours (a capture cap, a line-length limit), `redact_cut` also masks
    the start or end of a secret, in any of its forms, left at the cut (`PARTIAL_MIN`
    characters or more), on one line or wrapped across the last or first lines.

    Calling the redactor is `redact_obj`, so it can be handed to the executor as a function.
    Every non-empty secret is redacted, however short: a leak costs more than a mangled log.
    """

    PARTIAL_MIN = 4
    """The shortest piece of a secret, left at a cut, that `redact_cut` masks."""
    PIECE_MIN = 6
    """The shortest piece of a secret masked anywhere in a text (for a secret longer than it)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets: tuple[str, ...] = tuple(sorted({s for s in secrets if s}))
        forms: set[str] = set()
        for secret in self.secrets:
            forms |= _forms(secret)
        self._forms = sorted(forms, key=len, reverse=True)  # longest first: no leftovers
        whole = _alternation(tuple(self._forms))
        self._pattern = re.compile(whole) if forms else None
        self._bytes_pattern = re.compile(whole.encode()) if forms else None
        # Pieces are found by anchors: short runs of each secret, spaced so that every piece
        # of piece_min(len) characters holds one whole; a hit grows into the piece around it.
        anchors: dict[str, list[tuple[str, int]]] = {}
        for secret in self.secrets:
            size = self.piece_min(len(secret))
            if size >= len(secret):
                continue
            width = self.PIECE_MIN - 1
            for at in sorted({*range(0, len(secret) - width + 1, size - width + 1),
                              len(secret) - width}):
                anchors.setdefault(secret[at:at + width], []).append((secret, at))
        self._pieces = _Pieces(anchors, self.piece_min) if anchors else None
        mixed = _mixed_escapes(self.secrets)
        self._mixed = re.compile(mixed) if mixed else None
        self._bytes_mixed = re.compile(mixed.encode()) if mixed else None
        self._byte_pieces = _Pieces(
            {a.encode(): [(sec.encode(), len(sec[:at].encode())) for sec, at in where]
             for a, where in anchors.items()},
            self.piece_min) if anchors else None

    @classmethod
    def piece_min(cls, length: int) -> int:
        """The shortest piece of a secret of `length` characters masked on its own."""
        return max(cls.PIECE_MIN, -(-length // 2))

    def __bool__(self) -> bool:
        return bool(self.secrets)

    def with_secrets(self, more: Iterable[str]) -> Redactor:
        """This redactor and `more` (a plugin's own credentials: a header it sends)."""
        extra = [s for s in more if s]
        return Redactor([*self.secrets, *extra]) if extra else self

    def redact(self, text: str) -> str:
        if self._pattern is None:
            return text
        if self._bytes_pattern is not None and _DUMP_HINT.search(text) is not None:
            text = _masked(text, _dump_spans(text, self._bytes_pattern, self._byte_pieces), MASK)
        if self._bytes_pattern is not None and _NUMBERS_HINT.search(text) is not None:
            text = _masked(text, _number_spans(text, self._bytes_pattern, self._byte_pieces),
                           MASK)
        text = _unwrap(text, self._pattern, self._pieces, _BREAK, MASK)
        text = self._pattern.sub(MASK, text)
        if self._mixed is not None:  # after the whole forms: `Bearer x` is masked whole
            text = self._mixed.sub(MASK, text)
        return self._pieces.mask(text, MASK) if self._pieces is not None else text

    def redact_cut(self, text: str, *, start: bool = False, end: bool = True) -> str:
        """Redact `text`, which was cut (before this redactor saw it) at its start and/or end:
        the tail or head of a secret left at a cut is masked too."""
        if not self._forms:
            return text
        # The edges are looked at before redaction too: a whole form found inside a cut one
        # (the secret inside its `printf %q`, a base64 text inside its padding) would leave
        # the rest of the cut form unmasked. What is taken off is a cut in its own right.
        text = self._mask_wrapped_edges(text, start=start, end=end)
        head = tail = ""
        if end and (size := _edge(text, self._forms, self.PARTIAL_MIN, at_end=True)):
            text, tail = text[:-size], MASK
        if start and (size := _edge(text, self._forms, self.PARTIAL_MIN, at_end=False)):
            text, head = text[size:], MASK
        text = self.redact(text)
        if end or tail:
            text = _mask_edge(text, self._forms, self.PARTIAL_MIN, at_end=True)
        if start or head:
            text = _mask_edge(text, self._forms, self.PARTIAL_MIN, at_end=False)
        if not text and (head or tail):
            return MASK
        if text.startswith(MASK):
            head = ""
        if text.endswith(MASK):
            tail = ""
        return head + text + tail

    def _mask_wrapped_edges(self, text: str, *, start: bool, end: bool) -> str:
        """`text` with the start or end of a form wrapped across lines (`base64`'s 76
        columns), or cut just after a line break or inside a line's indentation, masked on
        each line it sits on."""
        if _CUT_BREAK.search(text) is None:
            return text
        unwrapped = _Unwrapped(text, _CUT_BREAK)
        joined, spans = unwrapped.joined, []
        for at_end in (True, False):
            if not (end if at_end else start):
                continue
            size = _edge(joined, self._forms, self.PARTIAL_MIN, at_end=at_end)
            if not size:
                continue
            across = unwrapped.pieces(len(joined) - size, len(joined)) if at_end else \
                unwrapped.pieces(0, size)
            reach = len(text) - across[0][0] if at_end else across[-1][1]
            if reach > _edge(text, self._forms, self.PARTIAL_MIN, at_end=at_end):
                spans += across  # more than the text's own edge holds: across its lines
        return _masked(text, spans, MASK)

    def redact_bytes(self, data: bytes) -> bytes:
        if self._bytes_pattern is None:
            return data
        data = _unwrap(data, self._bytes_pattern, self._byte_pieces, _BYTE_BREAK, MASK.encode())
        data = self._bytes_pattern.sub(MASK.encode(), data)
        if self._bytes_mixed is not None:
            data = self._bytes_mixed.sub(MASK.encode(), data)
        return self._byte_pieces.mask(data, MASK.encode()) if self._byte_pieces else data

    def redact_obj(self, value: Any) -> Any:
        """Redact strings anywhere in a JSON-like value (keys too); other values pass through."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, bytes):
            return self.redact_bytes(value)
        if isinstance(value, Mapping):
            return {self.redact_obj(k): self.redact_obj(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.redact_obj(v) for v in value)
        return value

    __call__ = redact_obj


_NAMED = {"&": ("&amp;",), "<": ("&lt;",), ">": ("&gt;",), '"': ("&quot;", '""'),
          "'": ("&apos;", "''", "'\\''", "'\"'\"'"), " ": ("+",)}
"""A character's escapes that are not a code: HTML's names, a quote doubled (YAML, SQL,
CSV), a single quote closed, escaped and opened again (bash's `set -x`, `set`), a form's `+`."""


def _char_escapes(ch: str, *, in_run: bool = False) -> list[str]:
    """The ways one character is written by a tool that escapes it alone: itself, after a
    backslash, as `\\u`/`\\U` code, `&#` reference, and its UTF-8 bytes as `%HH`, `\\xHH` and
    octal `\\NNN` (hex in either case) and quoted-printable's `=HH` (a mail's body: MIME
    writes each byte of `=` and of what is not ASCII so), and its names (`_NAMED`).
    `in_run` (the secret has the same character beside it): itself, or a way without it,
    only; a quote doubled in a run of quotes can be read in ever more ways as the run grows,
    and the search would no longer be as fast as for the secret itself."""
    code, raw = ord(ch), ch.encode()
    ways = {ch, "\\" + ch, f"&#{code};", f"&#x{code:x};", f"&#x{code:X};", f"&#X{code:X};",
            f"\\U{code:08x}", f"\\U{code:08X}", "".join(f"\\{b:03o}" for b in raw),
            *_NAMED.get(ch, ())}
    if code <= 0xFFFF:
        ways |= {f"\\u{code:04x}", f"\\u{code:04X}"}
    for hexed in ("{:02x}", "{:02X}"):
        ways |= {"".join("%" + hexed.format(b) for b in raw),
                 "".join("\\x" + hexed.format(b) for b in raw)}
    ways.add("".join(f"={b:02X}" for b in raw))  # quoted-printable: a mail's body (`=3D`)
    if in_run:
        ways = {w for w in ways if w == ch or ch not in w}
    return sorted(ways, key=len, reverse=True)


@functools.lru_cache(maxsize=64)
def _mixed_escapes(secrets: tuple[str, ...]) -> str:
    """A pattern matching each secret that has a character other than an ASCII letter or
    digit, with each such character written in any of its escapes (`_char_escapes`) and the rest as
    it is ('' when no secret has one). Its letters and digits are plain text, so a search
    fails at the first that differs: as fast as for the secret itself."""
    out = []
    for secret in secrets:
        if secret.isascii() and secret.isalnum():
            continue  # its forms are the forms of the whole: none mixes
        groups = []
        for at, ch in enumerate(secret):
            if ch.isascii() and ch.isalnum():  # (`é` is escaped alone: `=C3=A9`, `%C3%A9`)
                groups.append(re.escape(ch))
                continue
            ways = _char_escapes(ch, in_run=ch in (secret[at - 1:at], secret[at + 1:at + 2]))
            groups.append("(?:" + "|".join(map(re.escape, ways)) + ")")
        out.append("".join(groups))
    return "|".join(sorted(out, key=len, reverse=True))


@functools.lru_cache(maxsize=64)
def _alternation(forms: tuple[str, ...]) -> str:
    """A pattern matching any of `forms`, the longest where several start alike, written as a
    tree of their common beginnings: at each character of a text the search follows the one
    branch that starts like it, instead of trying every form (a secret has dozens). Kept for
    the redactor a plugin builds again at each step (`with_secrets`)."""
    tree: dict[str | None, Any] = {}
    for form in forms:
        node = tree
        for ch in form:
            node = node.setdefault(ch, {})
        node[None] = {}
    return _branches(tree)


def _branches(node: dict[str | None, Any]) -> str:
    branches = []
    for ch in sorted(k for k in node if k is not None):
        run, child = [ch], node[ch]
        while len(child) == 1 and None not in child:  # a run with no fork: plain text
            (nxt, child), = child.items()
            run.append(nxt)
        branches.append(re.escape("".join(run)) + _branches(child))
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 and None not in node else \
        "(?:" + "|".join(branches) + ")"
    return body + "?" if None in node else body  # greedy: a longer form first


_T = TypeVar("_T", str, bytes)


class _Pieces(Generic[_T]):
    """Masks each piece of a secret in a text (str or bytes): found by its anchors (short runs
    of the secret), grown to as much of the secret as surrounds it, masked when that is at
    least `piece_min(len(secret))` long."""

    def __init__(self, anchors: Mapping[_T, list[tuple[_T, int]]],
                 piece_min: Callable[[int], int]) -> None:
        self.anchors: Mapping[_T, list[tuple[_T, int]]] = anchors
        self.piece_min = piece_min
        first = next(iter(anchors))
        bar = b"|" if isinstance(first, bytes) else "|"
        self.pattern: re.Pattern[_T] = re.compile(bar.join(map(re.escape, sorted(anchors))))

    def mask(self, text: _T, mask: _T) -> _T:
        return _masked(text, list(self.spans(text)), mask)

    def spans(self, text: _T) -> Iterator[tuple[int, int]]:
        """Where each piece is in `text`, in order, none overlapping."""
        done = pos = 0
        while (m := self.pattern.search(text, pos)) is not None:
            hit, anchor = m.start(), m.group()
            start = end = hit
            for secret, at in self.anchors[anchor]:
                i, j = hit, at  # grow left, then right, while the text goes on as the secret
                while i > done and j > 0 and text[i - 1] == secret[j - 1]:
                    i, j = i - 1, j - 1
                k, q = hit + len(anchor), at + len(anchor)
                while k < len(text) and q < len(secret) and text[k] == secret[q]:
                    k, q = k + 1, q + 1
                if k - i >= self.piece_min(len(secret)) and k - i > end - start:
                    start, end = i, k
            if end > start:
                yield start, end
                done = pos = end
            else:
                pos = hit + 1  # anchors may overlap: look again one further on


def _masked(text: _T, spans: list[tuple[int, int]], mask: _T) -> _T:
    """`text` with each of `spans` (overlapping or not, in any order) replaced by `mask`;
    spans that overlap or touch are masked as one."""
    if not spans:
        return text
    out: list[_T] = []
    done = 0
    for start, end in sorted(spans):
        if end <= done:
            continue
        if start > done or not out:
            out += (text[done:start], mask)
        done = end
    out.append(text[done:])
    return text[:0].join(out)


# What shows nothing between two characters: a terminal's control sequence (`grep --color`
# wraps each match in `ESC[01;31mESC[K` ... `ESC[mESC[K`, splitting a secret into pieces too
# short to mask; a colour, a cursor move, a window title), a zero-width or direction-control
# character. A secret is looked for with them taken out, as across a line break.
_INVISIBLE = (r"\x1b\[[0-?]{0,64}[ -/]{0,8}[@-~]|\x1b\][^\x07\x1b]{0,256}(?:\x07|\x1b\\)|"
              r"\x1b[()*+][0-9A-Za-z]|\x1b[=>78]")
_INVISIBLE_CHARS = "\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
_BREAK = re.compile(rf"\r?\n[ \t]*|{_INVISIBLE}|[{_INVISIBLE_CHARS}]")
_BYTE_BREAK = re.compile(rb"\r?\n[ \t]*|" + _INVISIBLE.encode() + rb"|\xc2\xad|"
                         rb"\xe2\x80[\x8b-\x8f\xaa-\xae]|\xe2\x81[\xa0-\xa4\xa6-\xa9]|\xef\xbb\xbf")
_CUT_BREAK = re.compile(r"\A[ \t]+|\r?\n[ \t]*")  # and a cut inside the first line's indentation
"""A line break and the indentation after it: where `base64` (76 columns, or `-w N`),
`openssl base64` (64), `xxd -p` (60), `base32`, a PEM block or a YAML `|` block of a
Kubernetes Secret's data wraps a long encoded value."""


class _Unwrapped(Generic[_T]):
    """A text with its line breaks, and the indentation after each, taken out (`joined`), and
    the way back from a run of `joined` to the pieces of the text it comes from, one a line."""

    def __init__(self, text: _T, breaks: re.Pattern[_T]) -> None:
        self.lines: list[tuple[int, int]] = []  # the spans of `text` kept, in order
        self.starts: list[int] = []  # where each starts in `joined`
        at = size = 0
        for m in breaks.finditer(text):
            if m.start() > at:
                self.lines.append((at, m.start()))
                self.starts.append(size)
                size += m.start() - at
            at = m.end()
        if at < len(text):
            self.lines.append((at, len(text)))
            self.starts.append(size)
        self.joined: _T = text[:0].join(text[s:e] for s, e in self.lines)

    def pieces(self, start: int, end: int) -> list[tuple[int, int]]:
        """The spans of the text that `joined[start:end]` comes from, one for each line."""
        out = []
        k = bisect.bisect_right(self.starts, start) - 1
        while k < len(self.lines) and self.starts[k] < end:
            first, last = self.lines[k]
            out.append((first + max(0, start - self.starts[k]),
                        min(last, first + end - self.starts[k])))
            k += 1
        return out


def _unwrap(text: _T, pattern: re.Pattern[_T], pieces: _Pieces[_T] | None,
            breaks: re.Pattern[_T], mask: _T) -> _T:
    """`text` with every form of a secret, or piece of one, that a line break (and the
    indentation after it) splits masked, each line's part of it on its own: the text is
    searched once with its breaks taken out, as the redactor searches any text, and what is
    found across a break is mapped back to the lines it sits on. What one line holds whole is
    left to the search of the text itself, and so is a run across a break shorter than
    `PIECE_MIN`: a short secret (`1234`) split by a break is as often two lines' ordinary
    ends and starts (`...12\n34...` in a table of numbers), while every encoding of it is long
    enough."""
    if breaks.search(text) is None:
        return text
    unwrapped = _Unwrapped(text, breaks)
    if len(unwrapped.lines) < 2:
        return text
    found = [m.span() for m in pattern.finditer(unwrapped.joined)]
    if pieces is not None:
        found += pieces.spans(unwrapped.joined)
    spans: list[tuple[int, int]] = []
    for start, end in found:
        across = unwrapped.pieces(start, end)
        if len(across) > 1 and end - start >= Redactor.PIECE_MIN:
            spans += across
    return _masked(text, spans, mask)


_CHAR_CELL = r"(?: {3}[!-~]| {2}\\[0abfnrtv]| [0-7]{3}|  \*\*| {4})"
"""A cell of `od -c`: a character, its escape or its octal byte, four columns wide."""
_DUMP_HINT = re.compile(
    r"^(?:[ \t]*(?:[0-9a-fA-F]{6,16}:?[ \t]+)?[0-9a-fA-F]{2,8}[ \t]+[0-9a-fA-F]{2}"
    rf"|[0-7]{{7,16}}{_CHAR_CELL}|(?: {{3}}[!-~]| {{2}}\\[0abfnrtv]| [0-7]{{3}}){{4}})", re.M)
"""A line that may be a dump's: what `_dump_spans` reads only where one is."""
_CHAR_CELLS = re.compile(rf"(?P<off>[0-7]{{7,16}})?(?P<cells>{_CHAR_CELL}{{2,}})")
_ESCAPES = {"0": 0, "a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11}
_OFFSET = re.compile(r"[ \t]*(?P<off>[0-9a-fA-F]{6,16})(?P<colon>:)?(?=[ \t])")
_HEX_CELLS = re.compile(r"(?:[ \t]+(?:[0-9a-fA-F]{2}){1,8})+[ \t]*")
_HEX_CELL = re.compile(r"[0-9a-fA-F]+")
_WORD_CELL = re.compile(r"[0-9a-fA-F]{3}")


class _DumpLine(NamedTuple):
    """A hex dump's line: its hex cells (`cells`, at `at` in the text), their bytes, and where
    its ASCII column starts (one character a byte), if it has one."""

    at: int
    cells: str
    size: int
    ascii_at: int | None
    chars: bool = False
    """`od -c`'s cells (four columns a byte), not hex."""

    def data(self, *, swapped: bool = False) -> bytes:
        """The bytes the line shows; `swapped`, each cell's bytes reversed: the order in
        memory of a dump of little-endian words (`od -x`, plain `hexdump`, `xxd -e`)."""
        if swapped:
            return b"".join(bytes.fromhex(m.group())[::-1]
                            for m in _HEX_CELL.finditer(self.cells))
        if not self.chars:
            return bytes.fromhex(self.cells)
        out = bytearray()
        for k in range(0, len(self.cells), 4):
            cell = self.cells[k:k + 4].strip() or " "
            out.append(int(cell, 8) if len(cell) == 3 else _ESCAPES[cell[1]]
                       if cell[0] == "\\" and len(cell) == 2 else 0 if cell == "**"
                       else ord(cell))
        return bytes(out)

    @property
    def words(self) -> bool:
        """Whether a cell shows more than one byte (a word, whose bytes may be swapped)."""
        return not self.chars and _WORD_CELL.search(self.cells) is not None

    def spans(self, first: int, end: int, *, swapped: bool = False) -> list[tuple[int, int]]:
        """Where bytes `first` to `end` of this line are shown in the text (`swapped`: read
        as `data(swapped=True)` reads them, each cell whose bytes are among them, whole)."""
        if self.chars:
            return [(self.at + 4 * first + 1, self.at + 4 * end)]
        cells = [(self.at + m.start(), self.at + m.end()) for m in _HEX_CELL.finditer(self.cells)]
        at = [(start + i, start, end) for start, end in cells for i in range(0, end - start, 2)]
        spans = [(at[first][1], at[end - 1][2]) if swapped else (at[first][0], at[end - 1][0] + 2)]
        if self.ascii_at is not None:
            spans.append((self.ascii_at + first, self.ascii_at + end))
        return spans


def _dump_line(line: str, at: int) -> _DumpLine | None:
    """`line` (at `at` in the text) read as a hex dump's line, or None if it is not one. The
    shapes: `hexdump -C` (offset, bytes apart, `|ascii|`), `xxd` (offset with a colon, groups
    of bytes, two spaces, the ascii), `od -t x1` (offset, bytes) and `od -An -t x1` or a
    `hexdump -e` format (bytes only), words of 2 to 8 bytes (`od -x`, `hexdump`, `xxd -e`),
    and `od -c` (a character, its escape or octal byte, four columns each)."""
    chars = _CHAR_CELLS.fullmatch(line)
    if chars is not None and (chars.group("off") or len(chars.group("cells")) >= 16) and \
            not chars.group("cells").isspace():
        cells = chars.group("cells")
        return _DumpLine(at + chars.start("cells"), cells, len(cells) // 4, None, chars=True)
    head = _OFFSET.match(line)
    start = head.end() if head else 0
    cells = line[start:] if head else " " + line  # (each cell follows a space or a tab)
    start -= 0 if head else 1
    ascii_at = ascii_len = None
    if cells.endswith("|") and " |" in cells:  # hexdump -C
        bar = cells.index(" |")
        ascii_at, cells = start + bar + 2, cells[:bar]
        ascii_len = len(line) - 1 - ascii_at
    elif head and head.group("colon") and "  " in cells.lstrip(" "):  # xxd: two spaces end them
        gap = cells.index("  ", len(cells) - len(cells.lstrip(" ")))
        ascii_at, cells = start + gap + 2, cells[:gap]
        ascii_len = len(line) - ascii_at
    if _HEX_CELLS.fullmatch(cells) is None:
        return None
    size = (len(cells) - cells.count(" ") - cells.count("\t")) // 2
    if size < (2 if head else 4) or ascii_len not in (None, size):
        return None  # (too few to be a dump's; the ascii column shows one character a byte)
    if not head and len(cells.split(None, 2)) < 2:
        return None  # one number alone: the offset a dump ends with (`000493e0`), or a count
    return _DumpLine(at + start, cells, size, None if ascii_at is None else at + ascii_at)


def _dump_spans(text: str, pattern: re.Pattern[bytes],
                pieces: _Pieces[bytes] | None) -> list[tuple[int, int]]:
    """Where the hex dumps in `text` (`hexdump -C`, `xxd`, `od -t x1`) show a secret, or a piece
    of one, in any of its forms: the bytes of each run of dump lines are read back and searched
    as the redactor searches any bytes, and each line's part of what is found (its hex cells,
    and its ASCII column's characters) is masked. A dump's line shows 16 bytes: a secret
    longer than that is spread over lines, in pieces each too short to be masked on its own,
    and in hex that none of its forms matches across the offsets between them. A dump of
    words (`od -x`, plain `hexdump`, `od -t x4`, `xxd -e`) shows each word's bytes in the
    order of the machine that printed it, which the dump does not say: its bytes are read
    both as shown and swapped, and a word holding a secret's byte is masked whole."""
    runs: list[list[_DumpLine]] = [[]]
    at = 0
    for text_line in text.splitlines(keepends=True):
        bare = text_line.rstrip("\r\n")
        read = _dump_line(bare, at) if bare else None
        if read is not None:
            runs[-1].append(read)
        elif runs[-1]:
            runs.append([])
        at += len(text_line)
    spans: list[tuple[int, int]] = []
    for run in runs:
        for swapped in (False, True) if any(line.words for line in run) else (False,):
            stream = b"".join([line.data(swapped=swapped) for line in run])
            found = [m.span() for m in pattern.finditer(stream)]
            if pieces is not None:
                found += pieces.spans(stream)
            first = 0
            for line in run if found else ():
                for start, end in found:
                    a, b = max(start, first) - first, min(end, first + line.size) - first
                    if a < b:
                        spans += line.spans(a, b, swapped=swapped)
                first += line.size
    return spans


# Dumps whose cells are numbers in another form than hex bytes: xxd -i's C array (`0x53,
# 0x75,`), xxd -b's bits, od's decimal bytes (`-t d1`, `-t u1`), and words of two bytes in octal
# (plain `od`, `hexdump -o`) or decimal (`od -d`, `hexdump -d`): a cell's pattern, its base, how
# many bytes a cell shows, and the smallest and largest number a cell may hold.
_NUMBER_CELLS = ((r"0x([0-9a-fA-F]{2}),?", 16, 1, 0, 255), (r"([01]{8})", 2, 1, 0, 255),
                 (r"(-?[0-9]{1,3})", 10, 1, -128, 255), (r"([0-7]{6})", 8, 2, 0, 65535),
                 (r"(-?[0-9]{1,5})", 10, 2, -32768, 65535))
_NUMBER_OFFSET = re.compile(r"[ \t]*[0-9a-fA-F]{7,16}:?(?=[ \t])")
_NUMBERS_HINT = re.compile(r"^[ \t]*(?:[0-9a-fA-F]{7,16}:?[ \t]+)?(?:0x[0-9a-fA-F]{2},|-?[0-9]+"
                           r"[ \t]+-?[0-9]+)", re.M)
"""A line that may be such a dump's: what `_number_spans` reads only where one is."""


class _NumberLine(NamedTuple):
    """A dump of numbers' line: its cells (`block`, at `at` in the text), their numbers, and
    where its ASCII column starts, if it has one."""

    at: int
    block: str
    numbers: list[int]
    ascii_at: int | None


def _number_spans(text: str, pattern: re.Pattern[bytes],
                  pieces: _Pieces[bytes] | None) -> list[tuple[int, int]]:
    """Where the dumps of numbers in `text` (`_NUMBER_CELLS`) show a secret, or a piece of
    one: as `_dump_spans` reads hex dumps, each run of lines read as one kind of dump is read
    back to its bytes (words both as shown and swapped) and searched; each cell holding a
    byte of what is found, and the byte's character in an ASCII column, is masked."""
    spans: list[tuple[int, int]] = []
    lines, at = [], 0
    for text_line in text.splitlines(keepends=True):
        lines.append((at, text_line.rstrip("\r\n")))
        at += len(text_line)
    for cell, base, unit, low, high in _NUMBER_CELLS:
        cells = re.compile(rf"(?:[ \t,]*{cell}(?=[ \t,]|$))+", re.M)
        if cells.search(text) is None:
            continue
        one = re.compile(cell)
        runs: list[list[_NumberLine]] = [[]]
        for at, line in lines:
            read = _number_line(line, at, (cells, one, base, low, high),
                                continuing=bool(runs[-1]))
            if read is not None:
                runs[-1].append(read)
            elif runs[-1]:
                runs.append([])
        for run in runs:
            shown = array.array("B" if unit == 1 else "H",
                                [n % (1 << 8 * unit) for line in run for n in line.numbers])
            order = sys.byteorder  # (each word's bytes as shown, then swapped)
            for wanted in ("big", "little") if unit > 1 else (order,):
                if wanted != order:
                    shown.byteswap()
                    order = wanted
                stream = shown.tobytes()
                found = [m.span() for m in pattern.finditer(stream)]
                if pieces is not None:
                    found += pieces.spans(stream)
                if found:
                    where = [(line.at + m.start(1), line.at + m.end(1)) for line in run
                             for m in one.finditer(line.block)]
                    for start, end in found:
                        spans += where[start // unit:-(-end // unit)]
                        spans += _ascii_spans(run, start, end) if unit == 1 else []
    return spans


def _number_line(line: str, at: int,
                 kind: tuple[re.Pattern[str], re.Pattern[str], int, int, int], *,
                 continuing: bool) -> _NumberLine | None:
    """`line` (at `at`) read as a dump of numbers of `kind` (its cells, one cell, their base and
    range), or None. A line alone shows two cells after an offset, or four after its indent;
    the last line of a run, one."""
    cells, one, base, low, high = kind
    head = _NUMBER_OFFSET.match(line)
    if head is None and line[:1] not in (" ", "\t"):  # (`od -An`, xxd -i: indented)
        return None
    block = cells.match(line, head.end() if head else 0)
    if block is None:
        return None
    numbers = [int(n, base) for n in one.findall(block.group())]
    if len(numbers) < (1 if continuing and head else 2 if head else 4) or \
            min(numbers) < low or max(numbers) > high:
        return None
    rest = line[block.end():]
    ascii_at = None
    if rest.startswith("  ") and rest.strip() and len(rest) - 2 >= len(numbers) and \
            not rest[:len(rest) - len(numbers)].strip():  # xxd -b (its last line padded)
        ascii_at = at + len(line) - len(numbers)
    elif rest.strip().startswith(">") and rest.strip().endswith("<"):  # od -t d1z
        ascii_at = at + block.end() + rest.index(">") + 1
    elif rest.strip():
        return None
    return _NumberLine(at + block.start(), block.group(), numbers, ascii_at)


def _ascii_spans(run: list[_NumberLine], start: int, end: int) -> list[tuple[int, int]]:
    """The characters of bytes `start` to `end` in the ASCII columns of a run of lines of
    single-byte cells (xxd -b, od -t d1z)."""
    spans, first = [], 0
    for line in run:
        a, b = max(start, first) - first, min(end, first + len(line.numbers)) - first
        if line.ascii_at is not None and a < b:
            spans.append((line.ascii_at + a, line.ascii_at + b))
        first += len(line.numbers)
    return spans


class RedactingLogger(logging.LoggerAdapter[logging.Logger]):
    """A logger whose records are redacted before any handler sees them: the message is
    formatted with its arguments, redacted, and logged with none (exception text included)."""

    def __init__(self, logger: logging.Logger, redactor: Redactor) -> None:
        super().__init__(logger, {})
        self.redactor = redactor

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if not self.isEnabledFor(level):
            return
        text = str(msg) % args if args else str(msg)
        exc_info = kwargs.pop("exc_info", None)
        if exc_info:
            info = exc_info if isinstance(exc_info, tuple) else sys.exc_info()
            if isinstance(exc_info, BaseException):
                info = (type(exc_info), exc_info, exc_info.__traceback__)
            text += "\n" + "".join(traceback.format_exception(*info))
        kwargs.setdefault("stacklevel", 2)
        self.logger.log(level, self.redactor.redact(text), **kwargs)


def _hex_dumps(raw: bytes) -> set[str]:
    """The hex of `raw` as dumps and escapes print it, in lower and upper case: together
    (`xxd -p`), a byte apart (`hexdump -C`, `od`: `53 33`; openssl: `53:33`), in xxd's groups of
    two bytes (either alignment: `5333 6372`, `53 3363 72`), `\\x`-escaped (C, bash
    `$'...'`), as `0x53 0x33` and as a C array's `0x53, 0x33` (`xxd -i`), or `53,33`. Plain
    text, not patterns: the search over a long output stays as fast as for the secret itself."""
    forms: set[str] = set()
    for digits in (raw.hex(), raw.hex().upper()):
        pairs = [digits[i:i + 2] for i in range(0, len(digits), 2)]
        forms |= {digits, " ".join(pairs), ":".join(pairs), "".join(f"\\x{p}" for p in pairs),
                  " ".join(f"0x{p}" for p in pairs), ",".join(pairs),
                  *(sep.join(f"0x{p}" for p in pairs) for sep in (", ", ","))}
        for first in (2, 1):  # xxd groups: the secret starting a group, or inside one
            groups = ["".join(pairs[:first])] + ["".join(pairs[i:i + 2])
                                                  for i in range(first, len(pairs), 2)]
            forms.add(" ".join(groups))
    return forms


def _forms(secret: str) -> set[str]:
    """Every text in which `secret` is known to travel."""
    raw = secret.encode()
    forms = {secret, secret.upper(), secret.lower(), quote(secret, safe=""), quote(secret),
             quote_plus(secret),
             json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1],
             repr(secret)[1:-1], f"Bearer {secret}", html.escape(secret),
             html.escape(secret, quote=False), *_hex_dumps(raw),
             "".join(f"%{b:02X}" for b in raw), "".join(f"%{b:02x}" for b in raw),
             "".join(f"\\u{ord(c):04x}" for c in secret),
             "".join(f"\\u{ord(c):04X}" for c in secret)}
    forms |= _escape_forms(secret)
    forms |= _base32_forms(raw)
    # URL-encoded twice: a URL carried in another's query (`?next=`, a redirect_uri)
    forms |= {quote(quote(secret, safe=""), safe=""), quote(quote(secret)),
              quote_plus(quote_plus(secret))}
    if len(raw) >= 4:  # its bytes as numbers: Go's `[90 113 55]`, `[90, 113]`, JSON's `[90,113]`
        forms |= {sep.join(str(b) for b in raw) for sep in (" ", ", ", ",")}
    for wide in (secret.encode("utf-16-le"), secret.encode("utf-16-be")):
        forms |= {wide.hex(), wide.hex().upper()}
        forms |= _base64_forms(wide)
        if secret.isascii():  # UTF-16 text read as UTF-8 (`cat` of a Windows file): a NUL a
            forms.add(wide.decode())  # character, either side of it by the byte order
    once = _base64_forms(raw)
    forms |= once
    # base64 of the secret as a URL or a JSON text carries it: a Kubernetes Secret's
    # DATABASE_URL (`postgresql://app:Zq7%2Fpl%40nt@db/app`), a config.json holding it
    for carried in _carried_forms(secret) - {secret}:
        forms |= {f for f in _base64_forms(carried.encode()) if not f.startswith("Basic ")}
    # base64 inside base64: a Kubernetes Secret's data holding a text that holds it in base64
    # (a .dockerconfigjson's `auth`, a kubeconfig's token file), `base64` run twice
    for inner in once - {f for f in once if f.startswith("Basic ")}:
        forms |= {f for f in _base64_forms(inner.encode())
                  if len(f) >= _NESTED_MIN and not f.startswith("Basic ")}
    if len(secret) >= Redactor.PIECE_MIN:
        forms |= _rewritten_forms(secret)
    return {f for f in forms if f}


_SUB_DELIMS = "!$&'()*+,;="
"""What RFC 3986 lets a URL's userinfo hold unescaped (with `:` in the password)."""


def _carried_forms(secret: str) -> set[str]:
    """The secret as a URL or a JSON text carries it, escaped all through: percent-encoded
    (`quote`, with `/` left or not; a form's `quote_plus`; a URL's userinfo, its sub-delims
    left, `:` left or not: SQLAlchemy's), JSON-escaped (PHP's `\\/` too)."""
    escaped = json.dumps(secret)[1:-1]
    return {quote(secret, safe=""), quote(secret), quote_plus(secret),
            quote(secret, safe=_SUB_DELIMS), quote(secret, safe=_SUB_DELIMS + ":"),
            escaped, escaped.replace("/", "\\/")}


def _rewritten_forms(secret: str) -> set[str]:
    """The whole secret as tools rewrite it without a key: reversed (`rev`), rot13 (`tr
    A-Za-z N-ZA-Mn-za-m`), spaced out (`sed 's/./& /g'`, a screen reader's spelling), base85 and
    ascii85 (`basenc --z85`, Python's b85encode, PDF streams), the base64 of its hex (`xxd -p |
    base64`). Only for a secret of PIECE_MIN characters or more: these forms of a short one
    are too often another text."""
    raw = secret.encode()
    forms = {secret[::-1], codecs.encode(secret, "rot13"), " ".join(secret),
             base64.b85encode(raw).decode(), base64.a85encode(raw).decode()}
    forms |= {codecs.encode(f, "rot13") for f in (secret[::-1],)}
    for hexed in (raw.hex(), raw.hex().upper()):
        forms |= {f for f in _base64_forms(hexed.encode()) if not f.startswith("Basic ")}
    return forms


_NESTED_MIN = 8
"""The shortest run of base64 of a secret's base64 looked for (shorter is any text's)."""


_SHELL_SPECIALS = frozenset(" \t\n'\"\\|&;()<>!{}*[?]^$`,")
"""What bash's `printf %q` puts a backslash before (and `#`, `~` at the start)."""
_C_NAMED = {7: "a", 8: "b", 9: "t", 10: "n", 11: "v", 12: "f", 13: "r"}


def _escape_forms(secret: str) -> set[str]:
    """The secret with every character or byte escaped: HTML character references (`&#112;`,
    `&#x70;`), `\\U00000070`, octal (`\\160\\141`: a C string, `printf '\\160'`; `od -b`'s
    `160 141`); and as `printf %q` (a backslash before a shell special, or `$'...'` with the
    bytes not printable in octal), Python's bytes repr (`p\\xc3\\xa9`) and `od -c`
    (`p 303 251   s`) show it."""
    raw = secret.encode()
    codes = [ord(c) for c in secret]
    forms = {"".join(f"&#{c};" for c in codes), "".join(f"&#x{c:x};" for c in codes),
             "".join(f"&#x{c:X};" for c in codes), "".join(f"&#X{c:X};" for c in codes),
             "".join(f"\\U{c:08x}" for c in codes), "".join(f"\\U{c:08X}" for c in codes),
             "".join(f"\\{b:03o}" for b in raw), " ".join(f"{b:03o}" for b in raw),
             repr(raw)[2:-1], ascii(secret)[1:-1]}
    for ref in ("&#{};", "&#x{:x};"):  # only what is not a letter or digit referenced (PHP, Go)
        forms.add("".join(c if c.isalnum() else ref.format(ord(c)) for c in secret))
    for entities in ({"'": "&#39;", '"': "&#34;"}, {"'": "&#039;", '"': "&quot;"}):
        forms.add("".join(entities.get(c) or html.escape(c) for c in secret))
    quoted = "".join(f"\\{c}" if c in _SHELL_SPECIALS else c for c in secret)
    forms.add("\\" + quoted if secret[0] in "#~" else quoted)
    forms |= {_ansi_c(raw, octal_from=128), _ansi_c(codes, octal_from=sys.maxunicode + 1)}
    forms.add("".join(map(_od_c, raw)).lstrip())
    return forms


def _ansi_c(units: Iterable[int], *, octal_from: int) -> str:
    """Bytes or characters as bash's `$'...'` quoting shows them: named escapes, `\\'`, `\\\\`,
    octal below space and from `octal_from` on (every byte not ASCII in the C locale; none in
    a UTF-8 one, where a character that is not ASCII is shown as itself)."""
    def one(code: int) -> str:
        if code in _C_NAMED or code == 27:
            return "\\" + _C_NAMED.get(code, "E")
        if code < 32 or code == 127 or octal_from <= code:
            return f"\\{code:03o}"
        return "\\" + chr(code) if chr(code) in "'\\" else chr(code)
    return "".join(map(one, units))


def _od_c(byte: int) -> str:
    """One byte as `od -c` shows it: a field of four, a printable character, a named escape
    or octal."""
    shown = ("\\" + _C_NAMED[byte] if byte in _C_NAMED else "\\0" if byte == 0 else
             chr(byte) if 32 <= byte < 127 else f"{byte:03o}")
    return shown.rjust(4)


def _base32_forms(raw: bytes) -> set[str]:
    """The base32 of `raw` (`base32`, a TOTP seed), whole (padded or not, in upper or lower
    case), and the run of characters that encode it inside a longer base32 text."""
    whole = base64.b32encode(raw).decode()
    forms = {whole, whole.rstrip("=")}
    for offset in range(5):  # the secret after 0 to 4 other bytes of a base32 text
        encoded = base64.b32encode(bytes(offset) + raw).decode().rstrip("=")
        core = encoded[-(-8 * offset // 5):(8 * (offset + len(raw))) // 5]
        if len(core) >= Redactor.PARTIAL_MIN:
            forms.add(core)
    return forms | {whole.lower(), whole.rstrip("=").lower()}


def _base64_forms(raw: bytes) -> set[str]:
    """The base64 of `raw`, whole, and the run of characters that encode it inside a longer
    base64 text."""
    forms: set[str] = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        whole = encode(raw).decode()
        forms |= {whole, whole.rstrip("="), f"Basic {whole}"}
        for offset in range(3):  # the secret after 0, 1 or 2 other bytes of a base64 text
            encoded = encode(bytes(offset) + raw).decode().rstrip("=")
            first = -(-8 * offset // 6)  # the first character that encodes only the secret
            last = (8 * (offset + len(raw))) // 6  # past the last such character
            core = encoded[first:last]
            if len(core) >= Redactor.PARTIAL_MIN:
                forms.add(core)
    return forms


def _edge(text: str, forms: list[str], shortest: int, *, at_end: bool) -> int:
    """The length of the longest proper piece of a form at one edge of `text` (a cut
    secret), or 0."""
    cut = 0
    for form in forms:
        for size in range(min(len(form) - 1, len(text)), max(shortest, cut + 1) - 1, -1):
            piece = form[:size] if at_end else form[-size:]
            if text.endswith(piece) if at_end else text.startswith(piece):
                cut = size
                break
    return cut


def _mask_edge(text: str, forms: list[str], shortest: int, *, at_end: bool) -> str:
    """`text` with the longest proper piece of a form at one edge (a cut secret) masked."""
    cut = _edge(text, forms, shortest, at_end=at_end)
    if not cut:
        return text
    return text[:-cut] + MASK if at_end else MASK + text[cut:]


class DataSources:
    """The configured data sources, by name."""

    def __init__(self, sources: Iterable[DataSource] = (), *, config_file: Path | str = "",
                 problems: Mapping[str, str] | None = None,
                 environment: Iterable[str] = ()) -> None:
        self._sources = {s.name: s for s in sources}
        self._environment = tuple(environment)  # the runner's own secrets (its environment)
        self.config_file = str(config_file)
        self._problems = dict(problems or {})  # name -> why it cannot be used (missing env)

    def __iter__(self) -> Iterator[DataSource]:
        return iter(self._sources.values())

    def __len__(self) -> int:
        return len(self._sources)

    def names(self) -> list[str]:
        return sorted(self._sources)

    def resolve(self, name: str | None, type: str | Iterable[str]) -> DataSource:
        """The source called `name`, or the only source of `type` when `name` is None."""
        types = (type,) if isinstance(type, str) else tuple(type)
        wanted = " or ".join(types)
        source: DataSource | None
        if name is None:
            candidates = [s for s in self._sources.values() if s.type in types]
            if len(candidates) != 1:
                found = ", ".join(s.name for s in candidates)
                problem = (f"no {wanted} data source is configured" if not candidates else
                           f"several {wanted} data sources are configured ({found})")
                raise ConfigError(f"{problem} in {self._where()}",
                                  hint="Name one with the step's `source` parameter"
                                  if candidates else self._how_to_add(wanted))
            source = candidates[0]
        else:
            source = self._sources.get(name)
            if source is None:
                known = ", ".join(self.names()) or "none"
                raise ConfigError(f"unknown data source {name!r} in {self._where()} "
                                  f"(known: {known})", hint=self._how_to_add(wanted, name))
            if source.type not in types:
                raise ConfigError(f"data source {name!r} is {source.type}, not {wanted}",
                                  hint="Point the step at a source of the right type")
        if source.name in self._problems:
            raise ConfigError(f"data source {source.name!r}: {self._problems[source.name]}",
                              hint="Export the variable before running")
        return source

    def resolve_for_plugin(self, name: str | None, plugin: str) -> dict[str, Any] | None:
        """What the executor passes as `ctx.data_source` for a step of `plugin`.

        None when the plugin uses no data source and the step names none.
        """
        types = PLUGIN_TYPES.get(plugin)
        if types is None:
            if name is None:
                return None
            if name not in self._sources and "://" in name:
                return None  # an address the plugin reads itself (opcua://cell, a stream URL)
            source = self._sources.get(name)
            types = (source.type,) if source else ("any",)
        return self.resolve(name, types).connect_info()

    def limit(self, name: str | None) -> int | None:
        """How many steps may use the data source `name` at once (`concurrency` in its
        table of mendflow.toml); None when it sets no limit of its own."""
        source = self._sources.get(name or "")
        return source.concurrency if source else None

    def redactor(self) -> Redactor:
        return Redactor([*(v for s in self._sources.values() for v in s.secret_values()),
                         *self._environment])

    def public(self) -> list[dict[str, Any]]:
        return [self._sources[n].public() for n in self.names()]

    def _where(self) -> str:
        return self.config_file or "the configuration"

    def _how_to_add(self, wanted: str, name: str | None = None) -> str:
        key = name or "<name>"
        return (f"Add a [datasources.{key}] table "
                f"(type = \"{wanted.split(' or ')[0]}\", url = ...) "
                f"to {self._where()}, or set {ENV_PREFIX}{_env_key(key)}_URL")


def _env_key(name: str) -> str:
    return name.upper().replace("-", "_")


def load_datasources(settings: Settings, environ: Mapping[str, str]) -> DataSources:
    """Read the config file and the environment once; called by the CLI and the worker."""
    path = Path(settings.config_file)
    tables = as_tables(read_config(path, required=settings.config_required))
    declared: dict[str, dict[str, Any]] = {}
    for name, table in tables.items():
        if not _NAME.match(name):
            raise ConfigError(f"[datasources.{name}] needs a simple name", file=str(path),
                              hint="Use letters, digits, '_' and '-'")
        declared[name] = {**table, "origin": str(path)}

    by_env_key = {_env_key(n): n for n in declared}
    for var, value in environ.items():
        if not var.startswith(ENV_PREFIX):
            continue
        rest = var[len(ENV_PREFIX):]
        for suffix in ("_URL", "_TYPE", "_PASSWORD", "_TOKEN"):
            if rest.endswith(suffix) and len(rest) > len(suffix):
                key = rest[: -len(suffix)]
                name = by_env_key.get(key) or key.lower()
                by_env_key.setdefault(key, name)
                entry = declared.setdefault(name, {"origin": var})
                entry[suffix[1:].lower()] = value
                break

    sources, problems = [], {}
    for name, entry in sorted(declared.items()):
        url = entry.get("url")
        if not url:
            raise ConfigError(f"data source {name!r} ({entry['origin']}) has no url",
                              hint=f"Set url in {path} or {ENV_PREFIX}{_env_key(name)}_URL")
        try:  # (the error leaves the url out: it may hold a password)
            urlsplit(str(url)).port  # noqa: B018 - raises ValueError on a port that is no number
        except ValueError:
            raise ConfigError(f"data source {name!r} ({entry['origin']}): its url cannot be "
                              "read as a URL", hint="Write scheme://host:port/path: a host in "
                              "[brackets] closes them, a port is a number up to 65535") from None
        kind = entry.get("type") or _SCHEME_TYPES.get(urlsplit(url).scheme)
        if not kind:
            raise ConfigError(f"data source {name!r} ({entry['origin']}) has no type",
                              hint="Set type = \"prometheus\", \"postgresql\" or \"sqlite\"")
        secrets: dict[str, str] = {}
        for secret in ("password", "token"):
            if secret in entry:
                secrets[secret] = entry[secret]
            elif entry.get(f"{secret}_env"):
                env = entry[f"{secret}_env"]
                if env in environ:
                    secrets[secret] = environ[env]
                else:
                    problems[name] = f"its {secret} variable {env} is not set"
        _check_auth(name, entry, path)
        sources.append(DataSource(name=name, type=str(kind), url=str(url), secrets=secrets,
                                  origin=str(entry["origin"]),
                                  concurrency=entry.get("concurrency")))
    return DataSources(sources, config_file=path, problems=problems,
                       environment=environment_secrets(environ))


# (AUTH as a word of the name: HTTP_AUTH, not GIT_AUTHOR_NAME)
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|API_?KEY|ACCESS_?KEY|"
                          r"PRIVATE_?KEY|CREDENTIAL|SESSION_?KEY|(?:^|_)AUTH(?:_|$)", re.I)
_NOT_A_SECRET = re.compile(r"(?:_FILE|_PATH|_SOCK|_DIR|_ENABLED|_TYPE|_MODE|_URL|_HOST|_ENDPOINT|"
                           r"_ADDR|_ADDRESS|_METHOD|_PROVIDER)$", re.I)
ENV_SECRET_MIN = 8
"""The shortest value of a secret-named variable taken as a secret (shorter: a flag, a name)."""


def environment_secrets(environ: Mapping[str, str]) -> list[str]:
    """The runner's own secrets in its environment, which every step inherits: `env`,
    `printenv` and `echo $X` are reads, so what they print is redacted. The value of a
    variable whose name says it is a secret (`MENDFLOW_API_TOKENS`' tokens, an LLM's API key,
    `AWS_SECRET_ACCESS_KEY`, `VAULT_TOKEN`, `PGPASSWORD`), and the password of any URL
    (`MENDFLOW_DATABASE_URL`); not a path (`..._FILE`, `SSH_AUTH_SOCK`) or a short flag."""
    found: set[str] = set()
    for name, value in environ.items():
        if not value:
            continue
        if "://" in value and "@" in value:
            with contextlib.suppress(ValueError):
                password = urlsplit(value).password
                if password:
                    found.add(unquote(password))
        if not _SECRET_NAME.search(name) or _NOT_A_SECRET.search(name) or \
                value.startswith(("/", "~", "./")) or len(value) < ENV_SECRET_MIN or \
                value.lower() in ("true", "false") or value.isdigit():
            continue
        found.add(value)
        # a list of tokens (`MENDFLOW_API_TOKENS=name:role:token,...`): each token alone
        found.update(token for part in value.split(",") if ":" in part
                     for token in [part.rsplit(":", 1)[1].strip()]
                     if len(token) >= ENV_SECRET_MIN)
    return sorted(found)


def _check_auth(name: str, entry: Mapping[str, Any], path: Path) -> None:
    """`auth`, when given, must name a scheme the source has the secret for."""
    auth = entry.get("auth")
    if auth is None:
        return
    needs = {"bearer": "token", "basic": "password"}.get(str(auth))
    if needs is None:
        raise ConfigError(f"{path}: [datasources.{name}] auth = {auth!r} is not one of "
                          f"{', '.join(AUTH_SCHEMES)}", hint='Write auth = "bearer" (a token) '
                          'or auth = "basic" (user and password)')
    if needs not in entry and not entry.get(f"{needs}_env"):
        raise ConfigError(f"{path}: [datasources.{name}] auth = {auth!r} needs a {needs}",
                          hint=f"Add {needs}_env = \"VARIABLE\" naming the environment "
                          f"variable that holds it")
    other = "password" if needs == "token" else "token"
    if other in entry or entry.get(f"{other}_env"):
        raise ConfigError(f"{path}: [datasources.{name}] auth = {auth!r} but a {other} is "
                          f"set too", hint=f"Remove {other}_env, or the auth line")


