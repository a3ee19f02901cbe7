"""Templates and condition expressions over run memory: the only module that imports jinja2.

Every template and expression runs in Jinja2's `ImmutableSandboxedEnvironment` with
`StrictUndefined`: a template can read memory but not call into Python internals or mutate
anything, and a name nothing defines is an error, never an empty string. Rendered values are
always used as whole values (one argv element, one bound SQL parameter), never spliced into a
shell or SQL string by this module's callers. PromQL has no bound parameters: there a value is
spliced into the query text, and only through the `promql` filter (`engine.promql.escape`),
which writes it for its position: an escaped label value, a regex-quoted one, a validated
duration or number; the step fails on anything else.

What this module does not own: where memory comes from (`engine.runtime.memory`), or when a
template is rendered (the executor).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine import promql
from engine.errors import ConditionError, TemplateError

_ENV = ImmutableSandboxedEnvironment(
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
)

_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def _numbers(value: Any) -> list[float]:
    """Every number in a text, in order: `"/ 91%\n/var 40%" | numbers` -> [91.0, 40.0]."""
    return [float(m) for m in _NUMBER.findall(str(value))]


WORD = re.compile(r"\w+(?:[.-]\w+)*")
"""A word as the `words` filter reads it (dots and hyphens inside it kept)."""


def _words(value: Any) -> list[str]:
    """Every word of a text, dots and hyphens inside a word kept: `"inactive (dead)" | words`
    -> ["inactive", "dead"], so `"active" in (out | words)` is false where `"active" in out`
    is true."""
    return WORD.findall(str(value))


def _lines(value: Any) -> list[str]:
    """Non-empty lines of a text, stripped."""
    return [ln.strip() for ln in str(value).splitlines() if ln.strip()]


def _column(value: Any, n: int) -> list[str]:
    """The n-th whitespace-separated field of each line, as awk's `$n` (1 is the first, -1 the
    last); lines too short are left out: `df --output=pcent,target | column(1) | numbers`
    reads the percentages and never the digits of a mount path."""
    if not isinstance(n, int) or isinstance(n, bool) or n == 0:
        raise TemplateError(f"column({n!r}): give a field number, 1 for the first, -1 the last")
    items = str(value).splitlines() if isinstance(value, str) else [str(v) for v in value]
    fields = (line.split() for line in items)
    return [f[n - 1 if n > 0 else n] for f in fields if len(f) >= abs(n)]


def _matching(values: Any, pattern: str) -> list[str]:
    """Items (or lines) that match a regular expression: `stdout | matching('Killed process')`."""
    items = _lines(values) if isinstance(values, str) else [str(v) for v in values]
    rx = re.compile(pattern)
    return [v for v in items if rx.search(v)]


_UNSAID: Any = object()  # no default given: a value that is not a number is an error


def _int(value: Any, default: Any = _UNSAID, base: int = 10) -> Any:
    """Jinja2's `int`, except that a value that is not a number is an error, not 0: `"" |
    int > 90` (a check that printed nothing), `"91%" | int`, an error message, a NULL read as
    0 concluded "below the threshold". `int(0)` says what such a value means."""
    try:
        return int(value, base) if isinstance(value, str) else int(value)
    except (TypeError, ValueError, OverflowError):
        try:
            return int(float(value))  # "42.23" | int is 42, as Jinja2's
        except (TypeError, ValueError, OverflowError):
            if default is _UNSAID:
                raise ValueError(_not_a_number("int", value)) from None
            return default


def _float(value: Any, default: Any = _UNSAID) -> Any:
    """Jinja2's `float`, except that a value that is not a number is an error, not 0.0
    (`float(0)` says what it means)."""
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        if default is _UNSAID:
            raise ValueError(_not_a_number("float", value)) from None
        return default


def _not_a_number(name: str, value: Any) -> str:
    shown = repr(value if not isinstance(value, str) or len(value) <= 60 else value[:60] + "...")
    return (f"{name}: {shown} is not a number (a check that printed nothing, or an error "
            f"message, is no 0; write {name}(DEFAULT) to say what it means)")


# Small, pure, total helpers so conditions over command output stay one readable expression;
# `promql` is the one that refuses: the guard between memory and PromQL text, which writes a
# value for where it sits (`promql('label')`, 'regex', 'duration', 'offset', 'number'). `int`
# and `float` refuse too: Jinja2's read anything that is not a number as 0.
_ENV.filters.update(numbers=_numbers, words=_words, lines=_lines, column=_column,
                    matching=_matching, promql=promql.escape, int=_int, float=_float)

ROOTS = frozenset({"inputs", "alert", "steps", "vars", "run"})
"""Top-level names a template may read; see `engine.plan` for what each holds."""


def is_template(text: str) -> bool:
    return "{{" in text or "{%" in text or "{#" in text


def literal(text: str) -> str:
    """Escape `text` so that it renders to itself (kubectl go-templates contain `{{`)."""
    if not is_template(text):
        return text
    # Jinja has no escape character; split the delimiters so no `{{`, `{%` or `{#` survives.
    out: list[str] = []
    i = 0
    while i < len(text):
        pair = text[i : i + 2]
        if pair in ("{{", "{%", "{#"):
            out.append("{{ '" + pair + "' }}")
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


@lru_cache(maxsize=4096)
def _compile(template: str) -> jinja2.Template:
    try:
        return _ENV.from_string(template)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error: {exc.message}",
                            hint=f"Check the template {template!r}") from None


@lru_cache(maxsize=4096)
def _compile_expr(expr: str) -> Any:
    try:
        return _ENV.compile_expression(expr, undefined_to_none=False)
    except jinja2.TemplateSyntaxError as exc:
        raise ConditionError(f"condition syntax error: {exc.message}",
                             hint=f"Check the expression {expr!r}") from None


def check_template(template: str) -> None:
    """Raise TemplateError if `template` does not parse."""
    _compile(template)


def check_expression(expr: str) -> None:
    """Raise ConditionError if `expr` does not parse."""
    _compile_expr(expr)


def render(template: str, memory: Mapping[str, Any]) -> str:
    """Render one template string; undefined names and sandbox violations are TemplateErrors."""
    if not is_template(template):
        return template
    try:
        return _compile(template).render(memory)
    except jinja2.UndefinedError as exc:
        raise TemplateError(
            f"template refers to something not in memory: {exc.message}",
            hint="Make an earlier step write it, or declare it as an input") from None
    except jinja2.exceptions.SecurityError as exc:
        raise TemplateError(f"template blocked by the sandbox: {exc}") from None
    except TemplateError:
        raise
    except Exception as exc:  # a filter raising on a bad type, for example
        raise TemplateError(f"template failed: {type(exc).__name__}: {exc}") from None


def strings_in(value: Any) -> Iterator[str]:
    """Every string inside a JSON-like value (the templates of a step's params), in a stable
    order: dict keys sorted."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from strings_in(v)
    elif isinstance(value, dict):
        for k in sorted(value):
            yield from strings_in(value[k])


def render_value(value: Any, memory: Mapping[str, Any]) -> Any:
    """Render every string inside a JSON-like value (dicts, lists), leaving other types alone."""
    if isinstance(value, str):
        return render(value, memory)
    if isinstance(value, list):
        return [render_value(v, memory) for v in value]
    if isinstance(value, dict):
        return {k: render_value(v, memory) for k, v in value.items()}
    return value


def evaluate(expr: str, memory: Mapping[str, Any]) -> bool:
    """Evaluate a condition expression to a bool."""
    try:
        value = _compile_expr(expr)(**memory)
    except jinja2.UndefinedError as exc:
        raise ConditionError(f"condition refers to something not in memory: {exc.message}",
                             hint=f"Check the expression {expr!r}") from None
    except ConditionError:
        raise
    except Exception as exc:
        raise ConditionError(f"condition {expr!r} failed: {type(exc).__name__}: {exc}") from None
    if isinstance(value, jinja2.Undefined):
        raise ConditionError(f"condition {expr!r} is undefined over this memory")
    return bool(value)


def references(template_or_expr: str, *, expression: bool = False) -> set[str]:
    """Dotted memory paths a template (or expression) reads, e.g. {'steps.disk.stdout'}.

    Only attribute and constant-subscript chains from a root name are followed; a chain is cut
    where it stops being static (a filter, a call, a computed index).
    """
    if not expression and not is_template(template_or_expr):
        return set()
    found = _references(template_or_expr, expression)
    if isinstance(found, str):
        error = ConditionError if expression else TemplateError
        raise error(f"syntax error: {found}", hint=f"Check {template_or_expr!r}")
    return set(found)


# The compiler asks this of one text from several places (placement, validation, lint), and
# the parse is most of a guard's cost: each text is parsed once (a syntax error as its message).
@lru_cache(maxsize=4096)
def _references(template_or_expr: str, expression: bool) -> frozenset[str] | str:
    source = "{{ " + template_or_expr + " }}" if expression else template_or_expr
    try:
        # Jinja's own parser, as `Environment.parse` calls it, without the rewrite `parse`
        # makes of a syntax error's traceback for a template's author: that rewrite leaves a
        # reference cycle holding every frame above the parse (the whole guide being
        # compiled) for the cyclic collector to find
        ast = Parser(_ENV, source).parse()
    except jinja2.TemplateSyntaxError as exc:
        return str(exc.message)
    local_names = {n.name for n in ast.find_all(nodes.Name) if n.ctx in ("store", "param")}
    found: set[str] = set()
    for node in _outermost_chains(ast):
        path = _dotted(node)
        if path and path.split(".")[0] not in local_names:
            found.add(path)
    return frozenset(found)


def _outermost_chains(node: nodes.Node, parent_is_chain: bool = False) -> Iterator[nodes.Node]:
    is_chain = isinstance(node, (nodes.Getattr, nodes.Getitem, nodes.Name))
    if is_chain and not parent_is_chain and _dotted(node):
        yield node
    for child in node.iter_child_nodes():
        child_in_chain = is_chain and isinstance(node, (nodes.Getattr, nodes.Getitem)) and (
            child is getattr(node, "node", None)
        )
        yield from _outermost_chains(child, child_in_chain)


def _dotted(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Name):
        return node.name if node.ctx == "load" else None
    if isinstance(node, nodes.Getattr):
        base = _dotted(node.node)
        return f"{base}.{node.attr}" if base else None
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        base = _dotted(node.node)
        return f"{base}.{node.arg.value}" if base else None
    return None
