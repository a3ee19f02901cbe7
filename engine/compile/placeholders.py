"""Placeholders a guide writes in its commands and queries, in the notations TSGs use.

This module owns recognising `{x}`, `{{x}}`, `'{x}'`, `{words naming a value}` and `YOUR_X` as
values the reader fills in (`<X>`, `$X` and `${X}` are `engine.compile.shellwords`' and
`engine.compile.queries`' job). It only finds them: `engine.compile.scope` makes each one a
declared plan input, typed by `engine.values`, and the value is always passed as an argv word
or a bound SQL parameter, never spliced into a shell or SQL string.

What is not a placeholder: `{.metadata.name}` and `{range ...}{end}` (kubectl JSONPath), `{}`
(find -exec), `{a,b}` and `{1..3}` (brace expansion), `{ print $1 }` and `{print NR}` (awk),
`{ cmd; }` (a shell group), `{{ .Status }}` (Go templates) and `{{ inputs.x }}` (Mendflow's
own templates).
"""

from __future__ import annotations

import re

# One identifier in braces; not part of a JSONPath or Go/Jinja template with dots or spaces,
# nor a tool's own format directive after `%` (curl's `-w '%{http_code}'`, an RPM `%{version}`,
# an Apache log's `%{Referer}i`): the command's words, never a value to fill in
_BRACED = re.compile(r"(?<![{$%\w])\{\{(?P<double>[A-Za-z_][A-Za-z0-9_]*)\}\}(?![}\w])|"
                     r"(?<![{$%\w])\{(?P<single>[A-Za-z_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)\}"
                     r"(?![}\w])")
# Words in braces, as prose names a value: `{node IP or hostname}`, `{replication user}`
_PROSE_BRACED = re.compile(r"(?<![{$%\w])\{(?P<prose>[A-Za-z][\w-]*(?: [A-Za-z0-9][\w-]*){1,7})\}"
                           r"(?![}\w])")
# ... but not an awk program (`awk '{print NR}'`) nor a shell group (`{ cmd; }`)
_PROGRAM_WORDS = frozenset({"print", "printf", "next", "nextfile", "exit", "getline",
                            "delete", "return", "if", "for", "while", "do", "echo"})
_YOUR = re.compile(r"\bYOUR_[A-Z0-9_]*[A-Z0-9]\b")
# What is left to fill in in a command's literal words, where no input can take it (quoted, in
# a script string): `https://<cluster>/`, `admin:<password>`, `<index-name>`, a bare `...`,
# `[flags]`, `--join=[cluster host]`, `https://DASHBOARDS_ENDPOINT/`. `<title>` alone (an HTML
# tag a grep looks for) and `task[slug]` (rake's arguments) are the command's own.
_UNFILLED = re.compile(
    r"(?:(?<=://)|(?<=[@:/=]))<[A-Za-z][\w .-]*>"            # <x> in a URL, user:<x>, k=<x>
    r"|<[A-Za-z][\w.]*[-_ ][\w .-]*>"                          # <index-name>, <pod name>
    r"|<[A-Z][A-Z0-9_]*>|<[a-z]+[A-Z][A-Za-z0-9]*>"            # <NAMESPACE>, <containerId>
    r"|\[[A-Z]{2,}[A-Z0-9]*(?:[-_][A-Z0-9]+)+\]"                # [SA-NAME]@[PROJECT-ID]
    r"|(?:^|(?<=[\s=:]))\[[A-Za-z][A-Za-z -]*\](?=$|[\s:])"   # [flags], =[cluster host]:
    r"|(?:^|(?<=\s))(?:\.\.\.|…)(?=$|\s)"                      # a bare ...
    r"|://[A-Z][A-Z0-9]*_[A-Z0-9_]*(?=[/:]|$)")                # https://SOME_ENDPOINT/
_JSONPATH = re.compile(r"\{\s*(?:\.|range\b|end\b|@|\$)|\{\{\s*\.")
_RESERVED = frozenset({"end", "range", "if", "else", "with", "define", "template", "block"})
# ClickHouse macros: the server fills them in (`ON CLUSTER '{cluster}'`, `'/tables/{shard}'`)
_SERVER_MACROS = frozenset({"cluster", "shard", "replica", "layer", "uuid", "database", "table"})
# What PostgreSQL itself writes in angle brackets: `pg_stat_activity.query` of an idle session
# (`WHERE query != '<IDLE>'`, before 9.2) or of another user's. A value the query compares
# with, never one a reader fills in.
SERVER_TEXT = re.compile(r"<(?:IDLE|insufficient privilege|command string not enabled)>")
_WHOLE_LITERAL = re.compile(r"'\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)\}'")


def find(text: str) -> list[tuple[int, int, str]]:
    """(start, end, name) of each placeholder in `text`, in order."""
    if "{" not in text and "YOUR_" not in text:
        return []
    if _JSONPATH.search(text):
        return []  # a JSONPath or Go template: its braces are the tool's, not the reader's
    out: list[tuple[int, int, str]] = []
    for m in _BRACED.finditer(text):
        name = m.group("double") or m.group("single")
        if name.lower() not in _RESERVED and name.lower() not in _SERVER_MACROS:
            out.append((m.start(), m.end(), name))
    out.extend((m.start(), m.end(), m.group("prose")) for m in _PROSE_BRACED.finditer(text)
               if m.group("prose").split()[0].lower() not in _PROGRAM_WORDS)
    out.extend((m.start(), m.end(), m.group(0)) for m in _YOUR.finditer(text))
    return sorted(out)


# "Replace `POD_NAME` with the pod from step 1", "where `NAMESPACE` is the team's namespace",
# "Substitute `CLUSTER_ID` ...": the guide names a word in its commands as a value to fill in.
_NAMED = re.compile(r"\b(?:replace|substitute|swap)\s+`(?P<a>[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|"
                    r"[A-Z]{3,}[0-9]*)`|\bwhere\s+`(?P<b>[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|"
                    r"[A-Z]{3,}[0-9]*)`\s+(?:is|are|stands for|means)\b", re.I)


def named(text: str) -> set[str]:
    """The upper-case words a guide's prose says to replace in its commands: placeholders,
    though nothing in the command itself marks them (`kubectl delete pod POD_NAME`)."""
    return {m.group("a") or m.group("b") for m in _NAMED.finditer(text)
            if (m.group("a") or m.group("b")).isupper()}


def unfilled(text: str) -> str | None:
    """The first value left to fill in in a command word's literal text (Mendflow's own
    `{{ ... }}` templates taken out), or None."""
    m = _UNFILLED.search(re.sub(r"\{\{.*?\}\}", "\x00", text))
    return m.group(0) if m else None


def normalize_sql(text: str) -> str:
    """SQL with each `'{name}'` literal written `'<name>'`, the form `engine.compile.queries`
    binds as a parameter. Only a whole literal is a value: `{x}` inside a longer string or
    as a name may be the server's own macro, and is left as written."""
    if "'{" not in text:
        return text
    return _WHOLE_LITERAL.sub(
        lambda m: m.group(0) if m.group("name").lower() in _SERVER_MACROS
        else f"'<{m.group('name')}>'", text)


def split(text: str) -> list[tuple[bool, str]]:
    """`text` cut into (is_placeholder, piece): literal pieces and placeholder names."""
    found = find(text)
    if not found:
        return [(False, text)]
    out: list[tuple[bool, str]] = []
    at = 0
    for start, end, name in found:
        if start > at:
            out.append((False, text[at:start]))
        out.append((True, name))
        at = end
    if at < len(text):
        out.append((False, text[at:]))
    return out
