"""Query blocks -> step params: SQL with bound values, PromQL with guarded templates.

A guide's query may name a value it needs: `{{ inputs.service }}` (any expression over run
memory: inputs, alert, steps, vars, run), `$SERVICE` / `${SERVICE}`, or `<service name>`
(mapped to inputs, alert labels and bound vars like shell placeholders, `engine.compile.scope`).

- `sql`: the query text stays fixed. Each value becomes a named parameter `:p1`, `:p2`, ... and
  its template goes to `args` (`{"p1": "{{ inputs.service }}"}`), which the executor renders
  and the sql plugin binds. A placeholder that is a whole string literal (`'$SERVICE'`)
  replaces the literal; one inside a literal (`'%$NAME%'`) becomes a concatenation
  (`('%' || CAST(:p1 AS text) || '%')`); a typed literal (`interval '$WINDOW'`) becomes a
  cast of the bound text. Comments, quoted identifiers, dollar-quoted bodies, `$1` and
  `::type` are left alone. No rendered value ever reaches the SQL text.
- `promql`: PromQL has no bound parameters, so the text stays a template, but every value goes
  through the `promql` filter for where it sits (`engine.promql`): a label matcher's value
  (escaped as a string, and regex-quoted after `=~`/`!~`), a duration (`[...]`, `offset`) or a
  number. A value anywhere else (a metric or label name, another string, a comment) is a
  ValidationError naming the line. `<placeholder>` is read only inside quoted strings
  (outside them `<` and `>` are comparisons).

- a `sql` block that reads earlier steps' results (`FROM steps.dump_runs`) and nothing else is
  a compute step (`plugins.compute`, DuckDB over those results): one SELECT or WITH, values
  bound as for `sql`, `tables` naming the steps it reads.

What this module does not own: which blocks are queries (`engine.compile.blocks`), step ids
and wiring (`engine.compile.outline`, `engine.compile.wiring`), rendering (the executor).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, cast

from engine import promql
from engine.compile import placeholders
from engine.compile.scope import Scope
from engine.effects.sql import sql_problem
from engine.errors import MendflowError, ValidationError
from engine.sqltext import TablesRead, dollar_tag_end, quoted_end, tables_read
from engine.templating import ROOTS, literal, references

_ALERT_LABEL = re.compile(r"\$labels\.([A-Za-z_][A-Za-z0-9_]*)")
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_TEMPLATE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_PLACEHOLDER_IN_STRING = re.compile(r"<([A-Za-z][^<>'\"`\n]*)>")
_PLACEHOLDER_BARE = re.compile(r"<([A-Za-z][A-Za-z0-9_-]*)>")
_TYPED_LITERAL = re.compile(r"\b(interval|timestamptz|timestamp|date|time)\s*$", re.IGNORECASE)
_NAMED = re.compile(r"(?<!:):([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class QueryParams:
    params: dict[str, Any]
    uses: frozenset[str]  # vars the query reads (names of `vars.X`), for wiring
    plugin: str | None = None  # the plugin that runs it, when not the block's own (compute)


def query_params(plugin: str, text: str, scope: Scope, *, file: str | None = None,
                 line: int | None = None) -> QueryParams:
    """The step params of a query block; `file` and `line` (the block's) locate errors.

    A `sql` block whose tables are earlier steps' results (`FROM steps.dump_runs`) is a
    compute step (`plugin == "compute"`): SQL over those results, never a database query."""
    if plugin == "sql":
        read = tables_read(text)
        if read.steps:
            return _compute(text, read, scope, file=file, line=line)
        return _Sql(text, scope).params()
    if plugin == "prometheus":
        return _promql(text, scope, file=file, line=line)
    return QueryParams({"query": literal(text)}, frozenset())


# -- values ----------------------------------------------------------------------------------


def _memory_expr(expr: str) -> str | None:
    """`expr` stripped, when it is an expression over run memory; None otherwise."""
    expr = expr.strip()
    try:
        refs = references(expr, expression=True)
    except MendflowError:  # not Jinja (e.g. a Go template, `{{ $labels.x }}`)
        return None
    if not refs or any(r.split(".")[0] not in ROOTS for r in refs):
        return None
    return expr


def _uses(expr: str) -> set[str]:
    try:
        refs = references(expr, expression=True)
    except MendflowError:
        return set()
    return {r.split(".")[1] for r in refs if r.startswith("vars.") and "." in r}


def _next_value(text: str, i: int, scope: Scope, *,
                in_string: bool) -> tuple[int, str | None] | None:
    """A value reference starting at text[i]: (its end, the memory expression), or None.

    `{{ ... }}` over something other than run memory (a Go template) is (its end, None): text
    to keep as it is, not to look into.
    """
    if text.startswith("{{", i):
        m = _TEMPLATE.match(text, i)
        if m and (label := _ALERT_LABEL.fullmatch(m.group(1).strip())):
            # Prometheus' `{{ $labels.instance }}`: the alert's label, an input like `$instance`
            return m.end(), scope.placeholder(f"$labels.{label.group(1)}")
        if m:
            return m.end(), _memory_expr(m.group(1))
        return None
    if text[i] == "$":
        m = _VAR.match(text, i)
        if m:
            return m.end(), scope.var(m.group(1) or m.group(2))
        return None
    if text[i] == "<" and not (in_string and placeholders.SERVER_TEXT.match(text, i)):
        pattern = _PLACEHOLDER_IN_STRING if in_string else _PLACEHOLDER_BARE
        m = pattern.match(text, i)
        if m and (in_string or i == 0 or text[i - 1] in " \t\n(,="):
            return m.end(), scope.placeholder(m.group(1).strip())
    return None


# -- SQL -------------------------------------------------------------------------------------


class _Sql:
    def __init__(self, text: str, scope: Scope) -> None:
        self.text = text
        self.scope = scope
        self.taken = set(_NAMED.findall(text))
        self.args: dict[str, str] = {}
        self.by_expr: dict[str, str] = {}
        self.uses: set[str] = set()

    def params(self) -> QueryParams:
        query = self._rewrite()
        params: dict[str, Any] = {"query": query}
        if self.args:
            params["args"] = dict(self.args)
        return QueryParams(params, frozenset(self.uses))

    def _param(self, expr: str) -> str:
        if expr not in self.by_expr:
            n = len(self.by_expr) + 1
            while f"p{n}" in self.taken:
                n += 1
            name = f"p{n}"
            self.taken.add(name)
            self.by_expr[expr] = name
            self.args[name] = "{{ " + expr + " }}"
            self.uses |= _uses(expr)
        return ":" + self.by_expr[expr]

    def _rewrite(self) -> str:
        out: list[str]
        text, out, i, n = self.text, [], 0, len(self.text)
        while i < n:
            ch = text[i]
            if ch == "'":
                end = quoted_end(text, i, "'")
                out.append(self._literal(text[i + 1:end - 1] if text[end - 1:end] == "'"
                                         and end - 1 > i else None, text[i:end], out))
                i = end
            elif ch == '"':
                end = quoted_end(text, i, '"')
                out.append(text[i:end])
                i = end
            elif text.startswith("--", i):
                end = text.find("\n", i)
                end = n if end < 0 else end
                out.append(text[i:end])
                i = end
            elif text.startswith("/*", i):
                end = text.find("*/", i + 2)
                end = n if end < 0 else end + 2
                out.append(text[i:end])
                i = end
            elif ch == "$" and (tag_end := dollar_tag_end(text, i)) is not None:
                close = text.find(text[i:tag_end], tag_end)
                end = n if close < 0 else close + tag_end - i
                out.append(text[i:end])
                i = end
            elif (found := _next_value(text, i, self.scope, in_string=False)) is not None:
                end, expr = found
                out.append(text[i:end] if expr is None else self._param(expr))
                i = end
            else:
                out.append(ch)
                i += 1
        return "".join(out)

    def _literal(self, body: str | None, raw: str, out: list[str]) -> str:
        """A '...' literal: itself, a parameter, a cast, or a concatenation around values."""
        if body is None:
            return raw  # unterminated: leave it for the database to report
        pieces: list[tuple[bool, str]] = []
        start = i = 0
        while i < len(body):
            found = _next_value(body, i, self.scope, in_string=True)
            if found is None or found[1] is None:
                i = i + 1 if found is None else found[0]
                continue
            if i > start:
                pieces.append((False, body[start:i]))
            end, expr = found
            pieces.append((True, self._param(cast(str, expr))))  # not None: checked above
            start = i = end
        if not any(is_value for is_value, _ in pieces):
            return raw
        if start < len(body):
            pieces.append((False, body[start:]))
        if len(pieces) == 1:
            before = "".join(out)
            typed = _TYPED_LITERAL.search(before)
            if typed:  # interval '$WINDOW': the database parses the bound text as the type
                out[:] = [before[: typed.start()]]
                return f"CAST(CAST({pieces[0][1]} AS text) AS {typed.group(1)})"
            return pieces[0][1]
        # Each value is cast to text: `'%' || $1` alone leaves PostgreSQL unsure of $1's type.
        return "(" + " || ".join(f"CAST({p} AS text)" if is_value else f"'{p}'"
                                 for is_value, p in pieces) + ")"


# -- compute ---------------------------------------------------------------------------------


def _compute(text: str, read: TablesRead, scope: Scope, *, file: str | None,
             line: int | None) -> QueryParams:
    """A query over earlier steps' results: it reads nothing else, and only reads."""
    first = f"steps.{read.steps[0]}"
    if read.others:
        raise ValidationError(
            f"the sql block reads {first} (an earlier step's result) and the table "
            f"{read.others[0]} at once: a query over earlier steps reads nothing else",
            file=file, line=line, hint="Query the database in a step of its own, then read "
            "its result here as steps.<that step's name>")
    problem = sql_problem(text, starts=_COMPUTE_STARTS)
    if problem:
        raise ValidationError(f"the sql block reads {first}, so it computes over earlier "
                              f"results, and that is one SELECT (or WITH): {problem}",
                              file=file, line=line, hint="Write one SELECT over steps.<name>")
    query = _Sql(text, scope).params()
    params = {**query.params, "tables": {name: name for name in read.steps}}
    return QueryParams(params, query.uses, plugin="compute")


_COMPUTE_STARTS = frozenset({"select", "with"})


# -- PromQL ----------------------------------------------------------------------------------


def _promql(text: str, scope: Scope, *, file: str | None, line: int | None) -> QueryParams:
    """The query as a template whose every value goes through the `promql` filter for where it
    sits (`engine.promql`); a value where none may sit is a ValidationError."""
    uses: set[str] = set()

    def find(template: str, i: int, in_string: bool) -> promql.Found | None:
        found = _next_value(template, i, scope, in_string=in_string)
        if found is None:
            return None
        end, expr = found
        if expr is None:  # a Go template or other text that is not a value: kept as written
            return end, promql.Text("")
        uses.update(_uses(expr))
        return end, promql.Value(expr)

    try:
        pieces = promql.positions(text, find)
    except promql.PositionError as exc:
        where = text[:exc.offset].count("\n") + 1
        raise ValidationError(f"promql block, line {where} of the query: {exc.message}",
                              file=file, line=line, hint=exc.hint) from None
    out: list[str] = []
    for k, piece in enumerate(pieces):
        if piece.kind is not None:
            out.append("{{ (" + piece.text + ") | " + promql.filter_call(piece) + " }}")
            continue
        escaped = literal(piece.text)
        if escaped.endswith("{") and k + 1 < len(pieces):  # `{` + `{{ ...` would read as `{{{`
            escaped = escaped[:-1] + "{{ '{' }}"
        out.append(escaped)
    return QueryParams({"query": "".join(out)}, frozenset(uses))
