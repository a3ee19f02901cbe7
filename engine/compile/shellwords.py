"""Shell command lines from runbooks -> argv pipelines, without ever running a shell.

This module owns tokenising one logical command line the way a reader of a runbook means it:
quotes, `$VAR` / `${VAR}` references, `<PLACEHOLDER>` words (a placeholder, not a redirection),
pipes (`|`, pipeline stages), sequences (`&&`, `;`, separate commands), and assignments
(`export X=$(cmd)`, `X=value`). Anything that only a real shell can do (loops, heredocs,
redirections, `||`, backgrounding, command substitution inside an argument, globs, subshells)
is reported as unsupported, with the reason, so the compiler can turn it into a `manual` step.

It does not decide what a command does (`engine.effects`) nor how a word becomes a
template (`engine.compile.structural`).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field, replace

_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PLACEHOLDER = re.compile(r"<([A-Za-z][^<>|;&\n]{0,80}?)>")
_ASSIGN = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)
_STOP = frozenset(" \t\n\\'\"$`<>|&;()*")
_PLAIN = re.compile(r"(?:[^ \t\n\\'\"$`<>|&;()*{]|\{(?!\{))+")
_DOUBLE_QUOTED_STOP = re.compile(r'["\\$`]|\{\{')
# `{{ pod }}`, `{{ inputs.pod }}`, `{{ vars.NS }}`: a value written the Jinja/Helm/Ansible
# way; one placeholder, whatever blanks it holds (they never split the word). Prometheus'
# `{{ $labels.pod }}` (an alert rule's template) is the alert's label `pod`.
_TEMPLATE = re.compile(r"\{\{-?\s*(?:(?P<root>inputs|vars|\$labels)\.)?"
                       r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*-?\}\}")
# `{{ .Status }}`, `{{ (index .Host.IDMappings 0) }}`, `{{ json . }}`: a Go template, the
# tool's own (podman, docker, helm, kubectl go-template); its `.` names a field of the data
_GO_TEMPLATE = re.compile(r"\{\{-?\s*(?:\.|(?:range|end|if|else|with|template|define|block|"
                          r"index|printf|print|json|len|not|and|or|eq|ne)\b|"
                          r"[^{}]*?[\s(]\.(?:[A-Za-z]|\s|-?\}\}))")
_KEYWORDS = frozenset({"for", "while", "until", "if", "then", "else", "elif", "fi", "do", "done",
                       "case", "esac", "function", "select", "{", "}", "[[", "]]"})


@dataclass(frozen=True)
class Word:
    """One argv element as fragments: ("lit", text), ("var", NAME) or ("ph", placeholder)."""

    parts: tuple[tuple[str, str], ...]
    _text: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:  # asked several times per word: keywords, assignments, verbs
        object.__setattr__(self, "_text", "".join(
            text if kind == "lit" else f"${{{text}}}" if kind == "var" else f"<{text}>"
            for kind, text in self.parts))

    def plain(self) -> str:
        return self._text

    @property
    def is_literal(self) -> bool:
        return all(kind == "lit" for kind, _ in self.parts)


Stage = tuple[Word, ...]


@dataclass(frozen=True)
class Pipeline:
    """argv stages connected stdout -> stdin."""

    stages: tuple[Stage, ...]

    def argv0(self) -> list[str]:
        return [w.plain() for w in self.stages[0]]


@dataclass
class Parsed:
    """What one command line means: pipelines run one after the other, or a reason it cannot."""

    pipelines: list[Pipeline] = field(default_factory=list)
    unsupported: str | None = None
    bind: str | None = None  # `X=$(cmd)`: the variable the (single) pipeline's stdout sets
    assign: tuple[str, str] | None = None  # `export X=value`: name and raw value


class _Unsupported(Exception):
    pass


def parse_line(line: str) -> Parsed:
    """Parse one logical command line (continuations already joined)."""
    # A line is asked about several times while it is compiled (does it open a session, is it
    # a console, then its step): it is split once. Each caller gets its own Parsed.
    found = _parsed(line)
    return replace(found, pipelines=list(found.pipelines))


@functools.lru_cache(maxsize=1024)
def _parsed(line: str) -> Parsed:
    text = line.strip()
    if not text:
        return Parsed()
    assign = _ASSIGN.match(text)
    value = _uncommented(assign.group(2)) if assign else ""  # `Z=$(cmd)  # the zone`
    # (`{{ host }}` is one placeholder, whatever blanks it holds: `X=https://{{ host }}:8200`)
    if assign and (not re.search(r"\s", _TEMPLATE.sub("x", _strip_quoted(value)).strip()) or
                   _PLACEHOLDER.fullmatch(value.strip())):
        return _assignment(assign.group(1), value.strip(), text)
    try:
        pipelines = _split(text)
    except _Unsupported as exc:
        return Parsed(unsupported=str(exc))
    return Parsed(pipelines=pipelines)


def _uncommented(value: str) -> str:
    """The value without a trailing `# comment` (a `#` after a blank, outside quotes and
    `$(...)`): the author's note on the line, not part of what it sets."""
    i, depth, quote = 0, 0, ""
    while i < len(value):
        c = value[i]
        if quote:
            if c == quote:
                quote = ""
        elif c in "'\"`":
            quote = c
        elif value.startswith("$(", i):
            depth += 1
            i += 1
        elif c == ")" and depth:
            depth -= 1
        elif c == "#" and not depth and i and value[i - 1] in " \t":
            return value[:i].rstrip()
        i += 1
    return value


def _strip_quoted(value: str) -> str:
    """The value with quoted and `$(...)` parts removed, to see whether it is one word."""
    out, i, depth, quote = [], 0, 0, ""
    while i < len(value):
        c = value[i]
        if quote:
            if c == quote:
                quote = ""
        elif c in "'\"`":
            quote = c
        elif value.startswith("$(", i):
            depth += 1
            i += 1
        elif c == ")" and depth:
            depth -= 1
        elif not depth:
            out.append(c)
        i += 1
    return "".join(out)


def _assignment(name: str, value: str, text: str) -> Parsed:
    inner = _substitution(value)
    if inner is not None:
        try:
            pipelines = _split(inner)
        except _Unsupported as exc:
            return Parsed(unsupported=str(exc))
        if len(pipelines) != 1:
            return Parsed(unsupported="the substitution runs several commands")
        return Parsed(pipelines=pipelines, bind=name)
    if "$(" in value or "`" in value:
        return Parsed(unsupported="command substitution inside a value")
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return Parsed(assign=(name, value))


def _substitution(value: str) -> str | None:
    """`$(cmd)`, `"$(cmd)"` or `` `cmd` `` as the whole value -> cmd; else None."""
    v = value
    if len(v) >= 2 and v[0] == v[-1] == '"':
        v = v[1:-1]
    if v.startswith("`") and v.endswith("`") and v.count("`") == 2:
        return v[1:-1]
    if v.startswith("$(") and v.endswith(")") and _balanced_end(v) == len(v) - 1:
        return v[2:-1]
    return None


def _balanced_end(v: str) -> int:
    """Index of the `)` closing the `$(` at the start of v, honouring quotes; -1 if none."""
    depth, quote = 0, ""
    for i, c in enumerate(v):
        if quote:
            if c == quote:
                quote = ""
            continue
        if c in "'\"":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
    return -1


def _split(text: str) -> list[Pipeline]:
    """Tokenise into pipelines; raises _Unsupported for what needs a shell."""
    pipelines: list[Pipeline] = []
    stages: list[Stage] = []
    words: list[Word] = []
    parts: list[tuple[str, str]] = []
    in_word = False
    i, n = 0, len(text)

    def end_word() -> None:
        nonlocal parts, in_word
        if in_word:  # most words are one piece: nothing to merge
            words.append(Word(tuple(parts) if len(parts) == 1 else tuple(_merge(parts))))
        parts, in_word = [], False

    def end_stage() -> None:
        nonlocal words
        end_word()
        if not words:
            raise _Unsupported("an empty command in a pipeline")
        if words[0].plain() in _KEYWORDS:
            raise _Unsupported(f"shell control flow ('{words[0].plain()}')")
        if _ASSIGN.match(words[0].plain()) and words[0].is_literal:
            raise _Unsupported("an environment assignment before a command")
        stages.append(tuple(words))
        words = []

    def end_pipeline() -> None:
        nonlocal stages
        end_stage()
        pipelines.append(Pipeline(tuple(stages)))
        stages = []

    while i < n:
        c = text[i]
        if c == "{" and text.startswith("{{", i):
            if _GO_TEMPLATE.match(text, i):
                parts.append(("lit", "{{"))
                i += 2
            else:
                i = _template(text, i, parts)
            in_word = True
            continue
        if c not in _STOP and (in_word or not (c in "#~" or c.isdigit() and
                                               text[i + 1 : i + 2] == ">")):
            run = _PLAIN.match(text, i)  # ordinary characters, taken as one piece
            assert run is not None
            parts.append(("lit", run.group()))
            in_word = True
            i = run.end()
            continue
        if c in " \t\n":
            end_word()
            i += 1
            continue
        if c == "#" and not in_word:
            break  # a comment runs to the end of the line
        if c == "\\" and i + 1 < n:
            parts.append(("lit", text[i + 1]))
            in_word = True
            i += 2
            continue
        if c == "'":
            close = text.find("'", i + 1)
            if close < 0:
                raise _Unsupported("an unterminated quote")
            parts.append(("lit", text[i + 1 : close]))
            in_word = True
            i = close + 1
            continue
        if c == '"':
            i = _double_quoted(text, i + 1, parts)
            in_word = True
            continue
        if c == "$":
            i = _dollar(text, i, parts)
            in_word = True
            continue
        if c == "`":
            raise _Unsupported("command substitution (backticks)")
        if c == "<":
            m = _PLACEHOLDER.match(text, i)
            if m and not text.startswith("<<", i):
                parts.append(("ph", m.group(1).strip()))
                in_word = True
                i = m.end()
                continue
            raise _Unsupported("a heredoc" if text.startswith("<<", i) else "an input redirection")
        if c == ">" or (c.isdigit() and not in_word and text[i + 1 : i + 2] == ">"):
            raise _Unsupported("an output redirection")
        if c == "|":
            if text.startswith("||", i):
                raise _Unsupported("'||' (run on failure)")
            end_stage()
            i += 1
            continue
        if c == "&":
            if text.startswith("&&", i):
                end_pipeline()
                i += 2
                continue
            raise _Unsupported("'&' (background or redirection)")
        if c == ";":
            end_pipeline()
            i += 1
            continue
        if c in "()":
            raise _Unsupported("a subshell or function")
        if c == "*" or (c == "~" and not in_word):
            raise _Unsupported("a glob or '~' that only a shell expands")
        parts.append(("lit", c))
        in_word = True
        i += 1
    end_word()
    if words or stages:
        end_pipeline()
    return pipelines


def _double_quoted(text: str, i: int, parts: list[tuple[str, str]]) -> int:
    n = len(text)
    while i < n:
        stop = _DOUBLE_QUOTED_STOP.search(text, i)
        if stop is None:
            break
        if stop.start() > i:
            parts.append(("lit", text[i : stop.start()]))
        i = stop.start()
        c = text[i]
        if c == '"':
            return i + 1
        if c == "\\" and i + 1 < n and text[i + 1] in '"\\$`':
            parts.append(("lit", text[i + 1]))
            i += 2
            continue
        if c == "$":
            i = _dollar(text, i, parts)
            continue
        if c == "`":
            raise _Unsupported("command substitution (backticks)")
        if c == "{":  # `{{`
            if _GO_TEMPLATE.match(text, i):
                parts.append(("lit", "{{"))
                i += 2
                continue
            i = _template(text, i, parts)
            continue
        parts.append(("lit", c))
        i += 1
    raise _Unsupported("an unterminated quote")


def _template(text: str, i: int, parts: list[tuple[str, str]]) -> int:
    """`{{ name }}` / `{{ inputs.name }}` -> a placeholder (the input `name`); `{{ vars.X }}`
    -> the value an earlier step bound, as `$X` is. Any other expression (`{{ steps.s.value }}`,
    `{{ x | default('a') }}`) is not one value the compiler can bind: a person's step."""
    m = _TEMPLATE.match(text, i)
    if m is None:
        raise _Unsupported("a template expression ({{ ... }}) that is not one input's name")
    root, name = m.group("root"), m.group("name")
    parts.append(("var", name) if root == "vars" else
                 ("ph", f"$labels.{name}" if root == "$labels" else name))
    return m.end()


def _dollar(text: str, i: int, parts: list[tuple[str, str]]) -> int:
    nxt = text[i + 1 : i + 2]
    if nxt == "(":
        raise _Unsupported("command substitution '$(...)' inside an argument")
    if nxt == "{":
        close = text.find("}", i + 2)
        name = text[i + 2 : close] if close > 0 else ""
        if not _VAR_NAME.fullmatch(name):
            raise _Unsupported("a parameter expansion only a shell understands")
        parts.append(("var", name))
        return close + 1
    m = _VAR_NAME.match(text, i + 1)
    if m:
        parts.append(("var", m.group(0)))
        return m.end()
    if nxt in ("'", '"'):
        # `$'-delete'` is `-delete` to bash (escapes decoded), `$"x"` a translated string: a
        # `$` and a quoted word here would be another argument than the guide's
        raise _Unsupported(f"a {nxt}-quoted string after '$' that only a shell decodes")
    if nxt and nxt in "0123456789?@*#$!-":
        raise _Unsupported(f"the special shell parameter '${nxt}'")
    parts.append(("lit", "$"))
    return i + 1


def _merge(parts: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Adjacent literal pieces as one (joined once: adding them one by one is quadratic)."""
    out: list[tuple[str, str]] = []
    run: list[str] = []
    for kind, text in parts:
        if kind == "lit":
            run.append(text)
            continue
        if run:
            out.append(("lit", "".join(run)))
            run = []
        out.append((kind, text))
    if run:
        out.append(("lit", "".join(run)))
    return out or [("lit", "")]
