"""Reading SQL text without parsing it: where a quoted literal or a dollar-quoted body ends.

Shared by the compiler (which turns placeholders into bound parameters) and the sql plugin
(which turns `:name` parameters into the driver's `$n`): both must skip what sits inside
quotes exactly alike, or a `:p1` inside a string would be bound by one and not the other.
`tables_read` says which tables a query names, so that the compiler can tell a query over
earlier steps' results (`FROM steps.dump_runs`: a compute step) from a database query, and
validation can check that those steps run first. It does not classify SQL (`engine.effects.sql`
does).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


def quoted_end(text: str, start: int, quote: str) -> int:
    """Index just past the literal that opens with `quote` at `start` (`''` is an escaped
    quote); the end of the text if it never closes."""
    i = start + 1
    while i < len(text):
        if text[i] == quote:
            if text[i + 1:i + 2] == quote:
                i += 2
                continue
            return i + 1
        i += 1
    return len(text)


def dollar_tag_end(text: str, start: int) -> int | None:
    """End of a `$tag$` opener at `start`, or None when `$` starts no dollar quote (`$1`)."""
    j = start + 1
    while j < len(text) and (text[j].isalnum() or text[j] == "_"):
        j += 1
    if j < len(text) and text[j] == "$" and not text[start + 1:j].isdigit():
        return j + 1
    return None


# -- tables a query reads ---------------------------------------------------------------------

_ENDS_FROM = frozenset("""where group having order limit window qualify union intersect except
select offset fetch returning values set""".split())
_SKIP_IN_FROM = frozenset({"lateral", "only"})


@dataclass(frozen=True)
class TablesRead:
    """The tables a query names where a table goes (after FROM, JOIN, or a comma of a FROM
    list): `steps` the names of `steps.<name>` (earlier steps' results, for a compute step),
    `others` every other table (CTE names and table functions such as `generate_series(..)`
    are not tables)."""

    steps: tuple[str, ...]
    others: tuple[str, ...]


def tables_read(text: str) -> TablesRead:
    """What `text` reads, from its tokens: literals, comments, dollar-quoted bodies and
    `{{ templates }}` are skipped; a quoted name is taken as written, a bare one lower-cased.
    Linear in the text."""
    tokens = _tokens(text)
    steps: dict[str, None] = {}
    others: dict[str, None] = {}
    ctes: set[str] = set()
    in_from = [False]
    expect = False
    k, n = 0, len(tokens)
    while k < n:
        kind, tok = tokens[k]
        word = tok.lower() if kind == "word" else None
        if kind == "word" and k + 1 < n and _cte_at(tokens, k):
            ctes.add(tok.lower())
        if tok == "(" and kind == "punct":
            in_from.append(False)
            expect = False
        elif tok == ")" and kind == "punct":
            if len(in_from) > 1:
                in_from.pop()
            expect = False
        elif word in ("from", "join"):
            in_from[-1] = True
            expect = True
        elif word in _ENDS_FROM:
            in_from[-1] = False
            expect = False
        elif tok == "," and kind == "punct":
            expect = in_from[-1]
        elif expect and word in _SKIP_IN_FROM:
            pass
        elif expect and kind in ("word", "quoted"):
            parts = [tok.lower() if kind == "word" else tok]
            while k + 2 < n and tokens[k + 1] == ("punct", ".") and \
                    tokens[k + 2][0] in ("word", "quoted"):
                k += 2
                parts.append(tokens[k][1].lower() if tokens[k][0] == "word" else tokens[k][1])
            called = k + 1 < n and tokens[k + 1] == ("punct", "(")
            if not called:
                if len(parts) == 2 and parts[0] == "steps":
                    steps[parts[1]] = None
                else:
                    others[".".join(parts)] = None
            expect = False
        else:
            expect = False
        k += 1
    return TablesRead(tuple(steps), tuple(t for t in others if t not in ctes))


def _cte_at(tokens: list[tuple[str, str]], k: int) -> bool:
    """Whether the word at `k` names a CTE: after WITH (RECURSIVE) or a comma, followed by an
    optional column list, AS, an optional [NOT] MATERIALIZED and a parenthesis."""
    before = tokens[k - 1] if k else ("", "")
    if not (before[0] == "word" and before[1].lower() in ("with", "recursive")
            or before == ("punct", ",")):
        return False
    j = k + 1
    if j < len(tokens) and tokens[j] == ("punct", "("):
        depth = 0
        while j < len(tokens):
            if tokens[j] == ("punct", "("):
                depth += 1
            elif tokens[j] == ("punct", ")"):
                depth -= 1
                if depth == 0:
                    break
            j += 1
        j += 1
    if not (j < len(tokens) and tokens[j][0] == "word" and tokens[j][1].lower() == "as"):
        return False
    j += 1
    while j < len(tokens) and tokens[j][0] == "word" and \
            tokens[j][1].lower() in ("not", "materialized"):
        j += 1
    return j < len(tokens) and tokens[j] == ("punct", "(")


def _tokens(text: str) -> list[tuple[str, str]]:
    """(kind, text): `word`, `quoted` (a "name", unescaped), `punct` (one character), and
    `value` for a literal or a template; comments are dropped."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch == "'":
            i = quoted_end(text, i, "'")
            out.append(("value", "'"))
        elif ch == '"':
            end = quoted_end(text, i, '"')
            out.append(("quoted", text[i + 1:end - 1].replace('""', '"')))
            i = end
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif text.startswith(("{{", "{%"), i):
            end = text.find("}}" if text[i + 1] == "{" else "%}", i + 2)
            i = n if end < 0 else end + 2
            out.append(("value", "{{"))
        elif ch == "$" and (tag_end := dollar_tag_end(text, i)) is not None:
            close = text.find(text[i:tag_end], tag_end)
            i = n if close < 0 else close + tag_end - i
            out.append(("value", "$$"))
        elif ch.isalpha() or ch == "_":
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] in "_$"):
                j += 1
            out.append(("word", text[i:j]))
            i = j
        elif ch.isdigit():
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] in "._"):
                j += 1
            out.append(("value", text[i:j]))
            i = j
        else:
            out.append(("punct", ch))
            i += 1
    return out


def steps_read(query: str, tables: Mapping[str, Any] | None = None) -> dict[str, str]:
    """What a compute step reads: table name -> step id, for each `steps.<name>` its query
    names (the id is the name, unless `tables` maps the name to another step) and each entry
    of `tables`."""
    aliases = {str(k): str(v) for k, v in (tables or {}).items()}
    read = {name: aliases.get(name, name) for name in tables_read(query).steps}
    return {**aliases, **read}
