"""Markdown guide -> `Guide`: pure data in which every element keeps its source lines.

This module owns reading a guide (bytes, front matter, the Markdown syntax tree) and nothing
else: it does not decide what is a step or a command (`engine.compile.structural` does), and it
does not judge quality (`engine.compile.lint`). The syntax tree comes from markdown-it-py
(CommonMark plus GFM tables); no line-regex parsing stands in for it.

A guide is a flat list of `Element`s in document order. Nesting is kept by indices:
`Element.parent` is the list item (or blockquote) that contains an element, and
`Element.section` is the heading it sits under. Lines are 1-based and absolute in the file,
front matter included.
"""

from __future__ import annotations

import gc
import hashlib
import re
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from html import unescape
from pathlib import Path
from typing import Any, Literal

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.admon import admon_plugin
from mdit_py_plugins.container import container_plugin
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from engine import files
from engine.errors import GuideError
from engine.markup import as_markdown, outside_fences
from engine.markup import slugify as slugify  # (re-exported: where it was)
from engine.plan import InputSpec, Span, Trigger
from engine.policy import PolicySettings
from engine.stepsettings import StepSettings, parse_tag_settings
from engine.values import InputType, infer, spec_problem

MAX_GUIDE_BYTES = 2 * 1024 * 1024
"""Larger guides are refused: no person writes a 2 MB runbook, and none should run one."""

ElementKind = Literal["heading", "paragraph", "list_item", "code", "table", "html", "quote"]


class Link(BaseModel):
    model_config = ConfigDict(frozen=True)
    text: str
    href: str


class Element(BaseModel):
    model_config = ConfigDict(frozen=True)

    index: int
    kind: ElementKind
    span: Span
    text: str = Field(description="Plain text (inline code kept verbatim); code for `code`.")
    level: int = Field(default=0, description="Heading level 1-6.")
    anchor: str | None = Field(default=None, description="Heading slug, GitHub style.")
    name: str | None = Field(default=None, description="Author's `{#name}` for this step, in "
                             "lower case: the step's id.")
    settings: StepSettings | None = Field(
        default=None, description="`{#name timeout=2m retries=1 backoff=5s}`: the step's own.")
    lang: str | None = Field(default=None, description="Fenced code info string's first word.")
    fenced: bool = False
    depth: int = Field(default=0, description="List nesting depth; 1 for a top-level item.")
    ordered: bool = False
    number: int | None = Field(default=None, description="Position in its list, 1-based.")
    parent: int | None = Field(default=None, description="Containing list item or quote.")
    section: int | None = Field(default=None, description="Heading this element sits under.")
    inline_code: list[str] = Field(default_factory=list)
    links: list[Link] = Field(default_factory=list)
    command_cells: list[str] = Field(
        default_factory=list, description="A table's code in the cells under a 'Command' "
        "(or 'Check') header (\"Command | What it tells you\", \"Symptom | Check | Action\"): "
        "commands the author lists to run.")
    cells: list[list[str]] = Field(
        default_factory=list, description="A table's rows, header first: each cell's plain "
        "text (inline code kept in backticks).")
    term: bool = Field(default=False, description="A definition list's term (`Pod stuck "
                       "Pending` over `: Check ...` lines): the case its definitions, the "
                       "paragraphs after it, are for.")
    source_lines: list[tuple[int, str]] = Field(
        default_factory=list, description="A paragraph's (a list item's: its leading "
        "paragraphs') lines as written, each with its line number: the line breaks `text` "
        "joins, for commands pasted there without a fence.")


_INPUT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class GuideInput(BaseModel):
    """An input as written in front matter: `inputs: [{name: ns, type: string, default: x}]`.

    Its name is what templates read (`{{ inputs.NAME }}`), and its default must fit its type:
    a value a run could never be given is a mistake to report at the guide's line."""

    model_config = ConfigDict(extra="forbid")
    name: str
    type: InputType | None = None  # None: inferred from the default (engine.values.infer)
    default: str | int | float | bool | None = None
    description: str = ""
    choices: list[str] = Field(default_factory=list)
    roots: list[str] = Field(default_factory=list)

    @property
    def resolved_type(self) -> InputType:
        if self.type is not None:
            return self.type
        return "enum" if self.choices else infer(self.default)

    @field_validator("name")
    @classmethod
    def _a_name_templates_can_read(cls, name: str) -> str:
        if not _INPUT_NAME.fullmatch(name):
            raise PydanticCustomError("input_name", "{value} is not an input name", {
                "value": repr(name), "hint": "Use letters, digits and _, starting with a letter "
                f"or _ (templates read it as {{{{ inputs.NAME }}}}), e.g. '{_name_like(name)}'"})
        return name

    def to_spec(self) -> InputSpec:
        return InputSpec(
            name=self.name, type=self.resolved_type, default=self.default,
            required=self.default is None, description=self.description,
            choices=self.choices, roots=self.roots,
        )

    @model_validator(mode="after")
    def _consistent(self) -> GuideInput:
        problem = spec_problem(self.name, self.resolved_type, self.default, self.choices,
                               self.roots)
        if problem:
            raise ValueError(problem)
        return self


def _name_like(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_") or "name"
    return f"_{name}" if name[0].isdigit() else name


class FrontMatter(BaseModel):
    """Mendflow's front matter keys; other keys (Hugo's `weight`, ...) are kept in `extra`."""

    model_config = ConfigDict(extra="allow")
    id: str | None = None
    title: str | None = None
    kind: Literal["sre", "robot"] = "sre"
    triggers: list[Trigger] = Field(default_factory=list)
    inputs: list[GuideInput] = Field(default_factory=list)
    owners: list[str] = Field(default_factory=list)
    defaults: dict[Literal["query", "command", "detect", "call"], StepSettings] = Field(
        default_factory=dict, description="Per step kind: `{detect: {timeout: 5m}}`.")
    policy: PolicySettings | None = Field(
        default=None, description="Robot playbooks: whether a detector's alarm aborts the "
        "attempt, decided from shadow-mode history (engine.policy).")

    @field_validator("inputs", mode="before")
    @classmethod
    def _named_by_key(cls, inputs: Any) -> Any:
        """`inputs: {cluster: prod-eu, replicas: {type: integer}}`, each input under its name
        (with its default, or its declaration), is the list `[{name: cluster, default:
        prod-eu}, {name: replicas, type: integer}]`; an input with no value is required."""
        if not isinstance(inputs, dict):
            return inputs
        return [{"name": str(name), **spec} if isinstance(spec, dict) and "name" not in spec
                else {"name": str(name)} if spec is None
                else {"name": str(name), "default": spec}
                for name, spec in inputs.items()]

    @field_validator("inputs")
    @classmethod
    def _one_declaration_each(cls, inputs: list[GuideInput]) -> list[GuideInput]:
        seen: set[str] = set()
        for i, spec in enumerate(inputs):
            if spec.name in seen:
                raise PydanticCustomError("input_twice", "input '{name}' is declared twice", {
                    "name": spec.name, "at": (i,), "hint": "Keep one declaration of each input"})
            seen.add(spec.name)
        return inputs


class Guide(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: str
    sha256: str
    front: FrontMatter
    front_lines: int = Field(description="Lines taken by front matter (0 if none).")
    elements: list[Element]
    line_count: int
    unclosed_fences: list[int] = Field(
        default_factory=list, description="Lines of code fences never closed: as CommonMark "
        "says, each runs to the end of its list item, quote or the guide (lint warns).")

    @property
    def id(self) -> str:
        if self.front.id:
            return self.front.id
        return slugify(Path(self.path).stem) or "guide"

    @property
    def title(self) -> str:
        if self.front.title:
            return self.front.title
        for el in self.elements:
            if el.kind == "heading":
                return el.text
        return Path(self.path).stem

    def headings(self) -> list[Element]:
        """The headings, in order (computed once: callers must not change the list)."""
        return self._headings

    def anchors(self) -> dict[str, Element]:
        return self._anchors

    def children(self, index: int) -> list[Element]:
        """Elements whose container is element `index` (a list item or quote)."""
        return self._children.get(index, [])

    @cached_property
    def _headings(self) -> list[Element]:
        return [e for e in self.elements if e.kind == "heading"]

    @cached_property
    def _anchors(self) -> dict[str, Element]:
        found = {e.anchor: e for e in self._headings if e.anchor}
        # "Mitigation 1 - hot key" is #mitigation-1---hot-key on GitHub but
        # #mitigation-1-hot-key on sites whose slugs collapse hyphens (Jekyll, Hugo, MkDocs).
        for anchor, el in list(found.items()):
            found.setdefault(re.sub(r"-{2,}", "-", anchor), el)
        return found

    @cached_property
    def _children(self) -> dict[int, list[Element]]:
        out: dict[int, list[Element]] = {}
        for e in self.elements:
            if e.parent is not None:
                out.setdefault(e.parent, []).append(e)
        return out

    def section_path(self, el: Element) -> list[Element]:
        """The chain of headings above `el`, outermost first."""
        chain: list[Element] = []
        idx = el.section
        while idx is not None:
            heading = self.elements[idx]
            chain.append(heading)
            idx = heading.section
        return list(reversed(chain))


# -- public entry points --------------------------------------------------------------------


def load_guide(path: str | Path) -> Guide:
    p = Path(path)
    try:
        data = files.read_bytes(p)
    except FileNotFoundError:
        raise GuideError("no such guide", file=str(p), hint="Check the path") from None
    except IsADirectoryError:
        raise GuideError(
            "is a directory, not a guide", file=str(p),
            hint="Pass a Markdown file, or use a command that takes a folder") from None
    except OSError as exc:
        raise GuideError(f"cannot read guide: {exc.strerror}", file=str(p)) from exc
    return parse_guide(data, path=p.as_posix())


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a guide is read, compiled or linted.

    Those allocate many small objects that live as long as the guide; the collector's passes
    over them find nothing to free and were 30% of the time on a 20,000-item list.
    Reference counting still frees what is dropped. Nested uses leave it to the outermost."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def parse_guide(data: bytes | str, *, path: str = "<guide>") -> Guide:
    with collector_paused():
        return _parse_guide(data, path)


def _parse_guide(data: bytes | str, path: str) -> Guide:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    text = _decode(raw, path)
    if not text.strip():
        raise GuideError("the guide is empty", file=path, line=1,
                         hint="Write the guide's steps in it, or pass the right file")
    front, front_lines, body = _split_front_matter(text, path)
    # A guide with nothing but front matter (a Hugo `_index.md` is front matter only) still
    # reads: it has no elements, its plan says there is nothing to do, and lint says it is empty.
    builder = _Builder(body, offset=front_lines, path=path)
    elements = builder.build()
    return Guide(
        path=path, sha256=hashlib.sha256(raw).hexdigest(), front=front, front_lines=front_lines,
        elements=elements, line_count=text.count("\n") + 1, unclosed_fences=builder.unclosed,
    )


_COMMAND_HEADER = re.compile(r"^\W*(?:commands?|command to run|cmd|run|query|queries|checks?|"
                             r"how to check|verify|verification|diagnos(?:e|is|tic))\W*$", re.I)


def _command_cells(tokens: list[Token]) -> list[str]:
    """The code of the cells under a header that names the column a command's ("Command",
    "Query"), row by row; nothing when no header does."""
    header: list[str] = []
    out: list[str] = []
    col = -1
    in_head = False
    for tok in tokens:
        if tok.type in ("thead_open", "thead_close"):
            in_head = tok.type == "thead_open"
        elif tok.type == "tr_open":
            col = -1
        elif tok.type in ("th_open", "td_open"):
            col += 1
        elif tok.type == "inline" and col >= 0:
            text, code, _ = _inline(tok)
            if in_head:
                header.append(text)
            elif col < len(header) and _COMMAND_HEADER.match(header[col]) and len(code) == 1 \
                    and text.strip() == f"`{code[0]}`":
                out.append(code[0])  # the cell is the command, nothing around it
    return out


# -- reading bytes and front matter ---------------------------------------------------------


def _decode(raw: bytes, path: str) -> str:
    if len(raw) > MAX_GUIDE_BYTES:
        raise GuideError(
            f"guide is {len(raw) / 1e6:.1f} MB; the limit is {MAX_GUIDE_BYTES / 1e6:.0f} MB",
            file=path, line=1, hint="Split it into several guides and link them",
        )
    if b"\x00" in raw[:8192]:
        raise GuideError("not a text file (it contains NUL bytes)", file=path, line=1,
                         hint="Guides are UTF-8 Markdown files")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise GuideError(f"not UTF-8 text (byte 0x{raw[exc.start]:02x})", file=path, line=line,
                         hint="Save the guide as UTF-8") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


_FENCES = {"---": "yaml", "+++": "toml"}


def _split_front_matter(text: str, path: str) -> tuple[FrontMatter, int, str]:
    lines = text.split("\n")
    marker = lines[0].strip() if lines else ""
    if marker not in _FENCES:
        return FrontMatter(), 0, text
    try:
        close = next(i for i in range(1, len(lines)) if lines[i].strip() == marker)
    except StopIteration:
        raise GuideError(f"front matter opened with '{marker}' is never closed", file=path, line=1,
                         hint=f"End the front matter with a line '{marker}'") from None
    raw = "\n".join(lines[1:close])
    data, node = _parse_front(raw, _FENCES[marker], path)
    try:
        front = FrontMatter.model_validate(data)
    except ValidationError as exc:
        raise _front_error(exc, raw, node, path) from None
    # Keep line numbers absolute: blank out the front matter instead of cutting it.
    body = "\n" * (close + 1) + "\n".join(lines[close + 1 :])
    return front, close + 1, body


def _front_error(exc: ValidationError, raw: str, node: yaml.Node | None,
                 path: str) -> GuideError:
    """The first thing wrong, at its own line: `inputs.1.name` points at that input's name."""
    err = exc.errors()[0]
    ctx = err.get("ctx") or {}
    loc = tuple(err["loc"]) + tuple(ctx.get("at", ()))
    where = ".".join(str(x) for x in loc)
    offset = _line_in_yaml(node, loc) if node is not None else _line_in_toml(raw, loc)
    return GuideError(f"front matter '{where}': {err['msg']}", file=path, line=2 + offset,
                      hint=ctx.get("hint") or "See guides/README.md for the front matter keys")


def _line_in_yaml(node: yaml.Node, loc: tuple[Any, ...]) -> int:
    """0-based line (within the front matter) of the deepest node `loc` reaches."""
    line = 0
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            found = next(((k, v) for k, v in node.value if k.value == str(key)), None)
            if found is None and isinstance(key, int) and 0 <= key < len(node.value):
                found = node.value[key]  # `inputs: {a: 1, b: x}` is read as a list
            if found is None:
                break
            line, node = found[0].start_mark.line, found[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and \
                0 <= key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line
        else:
            break
    return line


def _line_in_toml(raw: str, loc: tuple[Any, ...]) -> int:
    key = str(loc[0]) if loc else ""
    pattern = re.compile(rf"\s*\"?{re.escape(key)}\"?\s*=")
    return next((i for i, ln in enumerate(raw.split("\n")) if pattern.match(ln)), 0)


def _parse_front(raw: str, fmt: str, path: str) -> tuple[dict[str, Any], yaml.Node | None]:
    """The front matter's keys, and (for YAML) the node tree that says where each one is."""
    node: yaml.Node | None = None
    if fmt == "toml":
        try:
            data: Any = tomllib.loads(raw)
        except tomllib.TOMLDecodeError as exc:
            at = re.search(r"line (\d+)", str(exc))
            raise GuideError(f"malformed front matter: {str(exc).splitlines()[0]}", file=path,
                             line=1 + int(at.group(1)) if at else 1,
                             hint="Fix the TOML between the '+++' lines") from None
        except RecursionError:
            raise _too_deep(path) from None
        if _depth(data) > MAX_YAML_DEPTH:
            raise _too_deep(path)
    else:
        # Trailing blanks are invisible and other YAML readers (Hugo's) accept them: a tab
        # after a value is no reason to refuse a guide.
        raw = "\n".join(line.rstrip() for line in raw.split("\n"))
        data, node = _load_yaml(raw, file=path, line=2, what="malformed front matter",
                                hint="Fix the YAML between the '---' lines")
    if data is None:
        return {}, None
    if not isinstance(data, dict):
        raise GuideError("front matter must be a mapping of keys to values", file=path, line=2,
                         hint="Write it as 'key: value' lines")
    return data, node


def _too_deep(path: str) -> GuideError:
    return GuideError(f"malformed front matter: nested deeper than {MAX_YAML_DEPTH} levels",
                      file=path, line=2, hint="Front matter is a few flat keys; flatten it")


def _depth(value: Any) -> int:
    """How deeply lists and mappings nest in `value` (without recursing)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, level = todo.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, level)
            todo.extend((v, level + 1) for v in (item.values() if isinstance(item, dict)
                                                   else item))
    return deepest


# -- YAML as guides may write it -----------------------------------------------------------

MAX_YAML_DEPTH = 32
"""Front matter and plugin blocks are a few levels deep; deeper is a mistake or an attack."""

_TEXT_TAGS = {"tag:yaml.org,2002:str"}


class _Refused(yaml.MarkedYAMLError):
    def __init__(self, problem: str, mark: yaml.Mark | None, hint: str) -> None:
        super().__init__(problem=problem, problem_mark=mark)
        self.hint = hint


class _GuideYamlLoader(yaml.SafeLoader):
    """Plain data only: no aliases (a few lines of `*a` can expand to gigabytes), text keys,
    at most `MAX_YAML_DEPTH` levels (deeper overflows the parser's stack), dates kept as the
    text written, and no binary, set or ordered-map tags (a plan holds JSON values)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._level = 0

    def _next_mark(self) -> Any:
        """Where the next event starts (PyYAML's stubs leave `peek_event` unannotated)."""
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]
        return event.start_mark

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            raise _Refused("aliases (*name) are not allowed", self._next_mark(),
                           "Write the value out where it is used instead of an &anchor/*alias")
        self._level += 1
        try:
            if self._level > MAX_YAML_DEPTH:
                raise _Refused(f"nested deeper than {MAX_YAML_DEPTH} levels",
                               self._next_mark(), "Flatten the structure")
            return super().compose_node(parent, index)
        finally:
            self._level -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        for key, _ in node.value:
            if key.tag not in _TEXT_TAGS:
                raise _Refused(f"the key {key.value!r} is not text", key.start_mark,
                               f"Write the key in quotes: '{key.value}'")
        mapping: dict[Any, Any] = super().construct_mapping(node, deep)
        return mapping

    def _as_text(self, node: yaml.ScalarNode) -> str:
        return str(self.construct_scalar(node))

    def _refuse(self, node: yaml.Node) -> None:
        tag = node.tag.rsplit(":", 1)[-1]
        raise _Refused(f"the {tag} tag (!!{tag}) is not allowed", node.start_mark,
                       "Write plain text, numbers, lists and mappings")


_GuideYamlLoader.add_constructor("tag:yaml.org,2002:timestamp", _GuideYamlLoader._as_text)
for _tag in ("binary", "set", "omap", "pairs"):
    _GuideYamlLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _GuideYamlLoader._refuse)


def load_yaml(text: str, *, file: str, line: int, what: str = "invalid YAML",
              hint: str = "Write it as 'key: value' lines") -> Any:
    """YAML a guide holds (front matter, a plugin block's parameters) -> plain data.

    `line` is the file line `text` starts on; a fault raises `GuideError` at its own line,
    the message starting with `what`."""
    return _load_yaml(text, file=file, line=line, what=what, hint=hint)[0]


def _load_yaml(text: str, *, file: str, line: int, what: str,
               hint: str) -> tuple[Any, yaml.Node | None]:
    try:
        loader = _GuideYamlLoader(text)  # (its reader refuses control characters at once)
    except yaml.YAMLError as exc:
        raise GuideError(f"{what}: {getattr(exc, 'reason', None) or 'unreadable text'} "
                         f"(a control character such as a terminal colour code)", file=file,
                         line=line, hint="Remove the control characters from it") from None
    try:
        node = loader.get_single_node()
        return (loader.construct_document(node) if node is not None else None), node
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise GuideError(f"{what}: {problem}", file=file,
                         line=line + (mark.line if mark is not None else 0),
                         hint=exc.hint if isinstance(exc, _Refused) else hint) from None
    finally:
        loader.dispose()


# -- the syntax tree -> elements --------------------------------------------------------------


def _docusaurus_admonition(params: str, markup: str) -> bool:
    return _ADMONITION_PARAMS.match(params) is not None


_ADMONITION_PARAMS = re.compile(r"^\s*[A-Za-z][\w-]*(?:\[[^\]\n]*\])?(?:\s.*)?$")
# CommonMark plus GFM tables, and the admonitions documentation sites write: MkDocs'
# `!!! warning "Title"` / `??? note` (the body indented under it) and Docusaurus' (or pandoc's)
# `:::warning Title` ... `:::`. Each is read as a quote holding its title and its body, so the
# body's sentences and fenced commands are the guide's like any other (indented four spaces
# under `!!!`, CommonMark alone would take them for an indented code block).
_MD = MarkdownIt("commonmark", {"html": True}).enable("table").use(admon_plugin).use(
    container_plugin, name="admonition", validate=_docusaurus_admonition)
_NAME = re.compile(r"\{#([A-Za-z_][A-Za-z0-9_-]{0,63})((?:[ \t]+[^\s{}]+)*)[ \t]*\}")


def _take_name(text: str, *, path: str,
               line: int) -> tuple[str, str | None, StepSettings | None]:
    """`Check disk usage {#disk timeout=30s}:` -> ("Check disk usage:", "disk", timeout 30 s)
    (kramdown/pandoc style; `engine.stepsettings` says what may follow the name).

    The name becomes the step's id, so it is lower case (Hugo ids such as
    `{#l5d-identity-trustAnchors}` name a step `l5d-identity-trustanchors`)."""
    m = _NAME.search(text)
    if m is None:
        return text, None, None
    name = m.group(1)
    if name.startswith("_"):
        raise GuideError(f"the step name {{#{name}}} starts with '_'", file=path, line=line,
                         hint=f"Start it with a letter: {{#{name.lstrip('_') or 'step'}}}")
    settings = None
    if m.group(2).strip():
        try:
            settings = parse_tag_settings(m.group(2).split())
        except ValueError as exc:
            raise GuideError(f"in {{#{name}{m.group(2)}}}: {exc}", file=path, line=line,
                             hint=f"Write e.g. {{#{name} timeout=2m retries=1 backoff=5s}}") \
                from None
    return (text[: m.start()].rstrip() + text[m.end():]).strip(), name.lower(), settings


_FENCE_OPEN = re.compile(r"^\s*(`{3,}|~{3,})")
_ADMONITION_OPEN = re.compile(r"^( *)(:{3,})\s*[A-Za-z]")


def _outside_fences(body: str, opener: re.Pattern[str],
                    rewrite: Callable[[list[str], int, re.Match[str]], int]) -> str:
    """`body` with each line that `opener` matches outside a fenced block handed to `rewrite`
    (the lines, its index, the match), which edits the lines in place, line for line, and
    returns the index of the last line it took."""
    def visit(lines: list[str], i: int) -> int | None:
        m = opener.match(lines[i])
        return rewrite(lines, i, m) if m else None
    return "\n".join(outside_fences(body.split("\n"), visit))


def _dedent_admonitions(body: str) -> str:
    """Each `:::note` ... `:::` admonition whose body the author indented four spaces or more
    (as MkDocs wants it) with that indent taken off, line for line: the body is the guide's
    prose and blocks, not an indented code block (nor lazy lines of the `:::note` line)."""
    if ":::" not in body:
        return body
    def dedent(lines: list[str], i: int, m: re.Match[str]) -> int:
        if _ADMONITION_PARAMS.match(lines[i][m.end(2):]) is None:
            return i
        close = next((j for j in range(i + 1, len(lines)) if re.fullmatch(
            rf" {{{len(m.group(1))}}}:{{{len(m.group(2))},}}\s*", lines[j])), None)
        if close is None:
            return i
        inner = [x for x in lines[i + 1:close] if x.strip()]
        cut = min((len(x) - len(x.lstrip(" ")) for x in inner), default=0) - len(m.group(1))
        if cut >= 4:
            for j in range(i + 1, close):
                lines[j] = lines[j][cut:] if lines[j][:cut].isspace() else lines[j].lstrip(" ")
        return close
    return _outside_fences(body, _ADMONITION_OPEN, dedent)


_DIAGRAM_OPEN = re.compile(r"^( {0,3})(:{3,})[ \t]*(mermaid|plantuml)[ \t]*$", re.IGNORECASE)


_CHUNK = re.compile(r"^\{([A-Za-z][\w+-]*)(?:[\s,][^}]*)?\}\s*$")
_CHUNK_OPTION = re.compile(r"^\s*(?:#|--|//)\|\s")


def _diagram_containers(body: str) -> str:
    """Azure DevOps wiki's `::: mermaid` ... `:::` diagram written as the fenced block it is
    (```` ```mermaid ```` ... ```` ``` ````), line for line: an illustration, not a quote of
    prose whose arrows and boxes would be read as sentences."""
    if ":::" not in body:
        return body
    def fence(lines: list[str], i: int, m: re.Match[str]) -> int:
        close = next((j for j in range(i + 1, len(lines)) if re.fullmatch(
            r" {0,3}:{3,}[ \t]*", lines[j])), None)
        if close is None:
            return i
        tick = "`" * max(3, 1 + max((len(r) for x in lines[i + 1:close]
                                     for r in re.findall(r"`+", x)), default=0))
        lines[i] = f"{m.group(1)}{tick}{m.group(3).lower()}"
        lines[close] = f"{m.group(1)}{tick}"
        return close
    return _outside_fences(body, _DIAGRAM_OPEN, fence)


# MyST (Sphinx's Markdown): a directive is a fence whose info string is `{name} argument`,
# its `:key: value` options on its first lines. ```` ```{code-block} bash ```` is a bash block,
# ```` ```{warning} ```` and `:::{admonition} If the workers crash` are admonitions (the
# Docusaurus `:::warning` one, its title the argument), ```` ```{mermaid} ```` a diagram.
_MYST_OPEN = re.compile(r"^( *)(`{3,}|~{3,}|:{3,})[ \t]*\{([\w:-]+)\}[ \t]*(.*?)[ \t]*$")
_MYST_CODE = frozenset({"code-block", "code", "sourcecode", "code-cell"})
_MYST_ADMONITIONS = frozenset({"admonition", "attention", "caution", "danger", "error", "hint",
                               "important", "note", "seealso", "tip", "warning", "dropdown",
                               "versionadded", "versionchanged", "deprecated"})
_MYST_OPTION = re.compile(r"^ *:[\w-]+:(?:[ \t].*)?$")
# A line that may open a MyST directive, a Confluence code macro, a Hugo shortcode or a Liquid
# tag (the openers `_myst_directives` reads, each a line that starts so): one search of the
# whole guide, so that a guide with none is not walked line by line four times over.
_ANY_DIRECTIVE = re.compile(r"^ *(?:(?:`{3,}|~{3,}|:{3,})[ \t]*\{|<ac:structured-macro\b|"
                            r"\{\{[<%]|\{%)", re.M)


def _myst_directives(body: str) -> str:
    """Each MyST directive written as the Markdown it means, line for line: a code directive
    the fenced block of its language (its options blank), an admonition directive a
    `:::name title` ... `:::` admonition, a `{mermaid}` one a mermaid block. Other directives
    are left as they are."""
    if _ANY_DIRECTIVE.search(body) is None:  # no line opens one: nothing to read
        return body

    def rewrite(lines: list[str], i: int) -> int | None:
        m = _MYST_OPEN.match(lines[i])
        if not m or (name := m.group(3).lower()) not in (_MYST_CODE | _MYST_ADMONITIONS |
                                                           {"mermaid"}):
            return None
        indent, mark = m.group(1), m.group(2)
        close = next((j for j in range(i + 1, len(lines))
                      if lines[j].startswith(indent) and lines[j].strip() == mark), None)
        if close is None and mark[0] != ":":
            close = next((j for j in range(i + 1, len(lines)) if lines[j].startswith(
                indent) and re.fullmatch(rf"{re.escape(mark[0])}{{{len(mark)},}}",
                                         lines[j].strip())), None)
        if close is None:
            return i  # unclosed: left as it is, and not read as a fence's opener
        j = i + 1
        while j < close and _MYST_OPTION.match(lines[j]):
            lines[j] = ""
            j += 1
        if name in _MYST_ADMONITIONS:
            colons = ":" * max(3, len(mark))
            lines[i] = f"{indent}{colons}{name} {m.group(4)}".rstrip()
            lines[close] = f"{indent}{colons}"
            return i  # its body is the guide's prose and blocks
        lang = "mermaid" if name == "mermaid" else m.group(4).split()[0].lower() \
            if m.group(4) else ""
        fence_mark = mark if mark[0] != ":" else "```"
        lines[i] = f"{indent}{fence_mark}{lang}"
        lines[close] = f"{indent}{fence_mark}"
        return close
    return "\n".join(outside_fences(body.split("\n"),
                                    _liquid_tags(_hugo_shortcodes(_confluence_code(rewrite)))))


# Confluence's storage format, exported as is: a code macro `<ac:structured-macro
# ac:name="code">`, its `language` parameter, its text in `<ac:plain-text-body><![CDATA[...]]>`
_CONFLUENCE_OPEN = re.compile(
    r"""^( *)<ac:structured-macro\b[^>]*\bac:name=["'](?:code|noformat)["'][^>]*>"""
    r"""(?P<params>.*?)<ac:plain-text-body>\s*<!\[CDATA\[(?P<rest>.*)$""")
_CONFLUENCE_LANG = re.compile(r"""<ac:parameter\b[^>]*\bac:name=["']language["'][^>]*>"""
                              r"""\s*([\w+#-]+)\s*</ac:parameter>""")
_CONFLUENCE_CLOSE = re.compile(r"^(?P<said>.*?)\]\]>\s*</ac:plain-text-body>\s*"
                               r"</ac:structured-macro>[ \t]*$")


def _confluence_code(then: Callable[[list[str], int], int | None]
                     ) -> Callable[[list[str], int], int | None]:
    """`then` (a line rewriter for `outside_fences`), reading a Confluence code macro as the
    fenced block of its language when its text is on the lines between the macro's opening
    and closing, and as a code span when the macro is one line (its command was a person's
    step holding the section's raw XML, never run nor gated). Left as it is otherwise."""
    def rewrite(lines: list[str], i: int) -> int | None:
        m = _CONFLUENCE_OPEN.match(lines[i])
        if m is None:
            return then(lines, i)
        indent, rest = m.group(1), m.group("rest")
        lang = _CONFLUENCE_LANG.search(m.group("params"))
        tag = lang.group(1).lower() if lang else ""
        if (one := _CONFLUENCE_CLOSE.match(rest)) is not None:
            said = one.group("said").strip()
            if said and "`" not in said:
                lines[i] = f"{indent}`{said}`"
            return i
        close = next((j for j in range(i + 1, len(lines))
                      if _CONFLUENCE_CLOSE.match(lines[j])), None)
        if close is None or rest.strip() or lines[close].split("]]>")[0].strip():
            return i
        lines[i] = f"{indent}```{tag}"
        lines[close] = f"{indent}```"
        return close
    return rewrite


# Hugo's (and its themes') block shortcodes, each alone on its line: a code block
# (`{{< highlight bash "linenos=table" >}}`, kind's `{{< codeFromInline lang="bash" >}}`, Docsy's
# `{{< code lang="bash" >}}`) and an admonition (`{{< note >}}`, `{{% alert title="Warning" %}}`,
# `{{% notice warning %}}`, `{{< hint info >}}`), each closed by its `{{< /name >}}`.
_HUGO_OPEN = re.compile(r"^( *)\{\{([<%])\s*([\w-]+)\b(.*?)\s*[>%]\}\}[ \t]*$")
_HUGO_CODE = frozenset({"highlight", "code", "codefrominline", "codeblock", "code-block"})
_HUGO_ADMONITIONS = frozenset({"note", "warning", "tip", "caution", "info", "important",
                               "danger", "alert", "notice", "hint", "callout", "admonition",
                               "attention", "pageinfo"})
_HUGO_LANG = re.compile(r"""\b(?:lang|language)\s*=\s*["']?([\w+#-]+)""")
_HUGO_TITLE = re.compile(r"""\btitle\s*=\s*["']([^"']*)["']""")


def _hugo_shortcodes(then: Callable[[list[str], int], int | None]
                     ) -> Callable[[list[str], int], int | None]:
    """`then` (a line rewriter for `outside_fences`), reading Hugo's code shortcodes as the
    fenced block of their language and its admonition shortcodes as `:::name title` ... `:::`
    admonitions, line for line (a command in `{{< highlight bash >}}` was prose: a paragraph
    of "context for a reader", never run nor shown as a step)."""
    def rewrite(lines: list[str], i: int) -> int | None:
        m = _HUGO_OPEN.match(lines[i])
        if m is None or (name := m.group(3).lower()) not in _HUGO_CODE | _HUGO_ADMONITIONS:
            return then(lines, i)
        indent, args = m.group(1), m.group(4)
        closer = re.compile(rf"^ *\{{\{{[<%]\s*/\s*{re.escape(m.group(3))}\s*[>%]\}}\}}[ \t]*$")
        close = next((j for j in range(i + 1, len(lines)) if closer.match(lines[j])), None)
        if close is None:
            return i
        if name in _HUGO_ADMONITIONS:
            title = _HUGO_TITLE.search(args)
            words = title.group(1) if title else re.sub(r"[\"'=]|\b\w+=\S*", " ", args).strip()
            kind = name if name in ("note", "warning", "tip", "caution", "info", "important",
                                    "danger", "attention") else "note"
            lines[i] = f"{indent}:::{kind} {words}".rstrip()
            lines[close] = f"{indent}:::"
            return i  # its body is the guide's prose and blocks
        lang = _HUGO_LANG.search(args)
        first = args.split()[0].strip("\"'") if args.split() and "=" not in args.split()[0] \
            else ""
        lines[i] = f"{indent}```{(lang.group(1) if lang else first).lower()}"
        lines[close] = f"{indent}```"
        return close
    return rewrite


# Jekyll's (Liquid's) code block, each tag alone on its line: `{% highlight bash linenos %}` ...
# `{% endhighlight %}`; and `{% raw %}` ... `{% endraw %}`, whose lines are the guide's own.
_LIQUID_OPEN = re.compile(r"^( *)\{%-?\s*(highlight|raw)\b\s*([\w+#-]*)[^%]*?-?%\}[ \t]*$", re.I)


def _liquid_tags(then: Callable[[list[str], int], int | None]
                 ) -> Callable[[list[str], int], int | None]:
    """`then` (a line rewriter for `outside_fences`), reading Jekyll's `{% highlight lang %}`
    ... `{% endhighlight %}` as the fenced block of its language, line for line (its commands
    were prose: a person's step holding the whole section, a query to terminate backends and
    a service restart never run nor gated), and dropping the `{% raw %}` / `{% endraw %}` tags
    around lines that are the guide's own."""
    def rewrite(lines: list[str], i: int) -> int | None:
        m = _LIQUID_OPEN.match(lines[i])
        if m is None:
            return then(lines, i)
        tag = m.group(2).lower()
        closer = re.compile(rf"^ *\{{%-?\s*end{tag}\s*-?%\}}[ \t]*$", re.I)
        close = next((j for j in range(i + 1, len(lines)) if closer.match(lines[j])), None)
        if close is None:
            return then(lines, i)
        if tag == "raw":
            lines[i] = lines[close] = ""
            return i
        lines[i] = f"{m.group(1)}```{m.group(3).lower()}"
        lines[close] = f"{m.group(1)}```"
        return close
    return rewrite


_FOOTNOTE_DEF = re.compile(r"^\[\^([^\]\s]{1,40})\]:\s*(\S.*)$")
# `[^3]` in a line; at a line's start only when no `:` follows (`[^3]: ...` defines it), so
# "check which minions drift[^salt]:" refers to a note
_FOOTNOTE_REF = re.compile(r"(?<=.)\[\^([^\]\s]{1,40})\]|^\[\^([^\]\s]{1,40})\](?!:)")
_FOOTNOTE_MORE = re.compile(r"^ {2,}\S")  # a note's next line, indented under its first


def _footnotes(body: str) -> str:
    """Each footnote ("[^3]: `sudo systemctl restart app`") written at its one reference
    ("restart it[^3]." reads "restart it (`sudo systemctl restart app`)."), its own lines
    (the indented ones under its first too) left blank, line for line: the footnote is the
    step's command, in the step's place, and a note is read where it is referred to. Read
    as they stood, the steps were a person's ("restart it[^3]") and the notes at the end one
    block of commands or a person's step run in turn after the last step, whatever its
    conditions said. A footnote referenced twice or never is left as it is."""
    if "[^" not in body:  # no footnote (a cheap test first: most guides have none)
        return body
    lines = body.split("\n")
    defs: dict[str, tuple[int, int, str]] = {}  # label: (first line, last line, its text)
    uses: dict[str, int] = {}

    def find(ls: list[str], i: int) -> int | None:
        m = _FOOTNOTE_DEF.match(ls[i])
        if m is None:
            for r in _FOOTNOTE_REF.finditer(ls[i]):
                label = r.group(1) or r.group(2)
                uses[label] = uses.get(label, 0) + 1
            return None
        end = i
        while end + 1 < len(ls) and _FOOTNOTE_MORE.match(ls[end + 1]):
            end += 1
        # (its last stop dropped: "check it (a note.):" ended the sentence before the colon)
        text = " ".join([m.group(2).strip(), *(x.strip() for x in ls[i + 1:end + 1])])
        text = text[:-1] if text.endswith(".") and not text.endswith("..") else text
        defs[m.group(1)] = (i, end, text) if m.group(1) not in defs else (-1, -1, "")
        return end  # (twice defined: left alone)
    outside_fences(lines, find)
    moved = {k: v for k, v in defs.items() if v[0] >= 0 and uses.get(k) == 1}
    if not moved:
        return body
    at = {j for first, last, _ in moved.values() for j in range(first, last + 1)}

    def put(ls: list[str], i: int) -> int | None:
        if i in at:
            ls[i] = ""
        elif "[^" in ls[i] and not _FOOTNOTE_DEF.match(ls[i]):
            ls[i] = _FOOTNOTE_REF.sub(lambda r: f" ({moved[label][2]})" if (
                label := r.group(1) or r.group(2)) in moved else r.group(0), ls[i])
        return None
    return "\n".join(outside_fences(lines, put))


_ITEM_LINE = re.compile(r"^( {0,3})(?:\d{1,9}[.)]|[-*+])( {1,4})\S")
_LETTERED = re.compile(r"^ *(\(?)([a-z]|[ivx]{1,4})([.)]) +(\S.*)$")
_FIRST_LETTER = re.compile(r"^ +\(?[ai][.)] +\S", re.M)  # a run's first mark, indented
_ROMAN = ("i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x", "xi", "xii")


def _next_mark(first: str, n: int) -> str:
    """The n-th mark (from 0) of a run that starts at `first`: a, b, c, ... or i, ii, iii, ..."""
    if first == "i":
        return _ROMAN[n] if n < len(_ROMAN) else ""
    return chr(ord("a") + n)


def _lettered_substeps(body: str) -> str:
    """`1. Restart the arm` with `a) restart: `...``, `b) wait 2 minutes`, `c) check: ...` on
    the lines under it (no blank line between): each lettered line a sub-step of the item,
    written as the nested list it is (`1)`, `2)`, ... at the item's indent), line for line.
    Read as CommonMark they were one sentence, the commands inside a person's step. The
    letters must run a, b, c, ... from `a`, or the numerals i, ii, iii, ... from `i`, each
    mark written `a)`, `a.` or `(a)` alike along the run; a line under a sub-step that opens
    with no mark goes on with it ("i) If the disk is full, raise the watermark:" over the
    command). Lines elsewhere are left as they are."""
    if _FIRST_LETTER.search(body) is None:  # no indented `a)` / `(i)` line: nothing to read
        return body
    lines = body.split("\n")
    fence = ""
    item: int | None = None  # the content column of the list item whose lines these are
    apart = False  # a blank line since the item's line: only its own content goes on with it
    i = 0
    while i < len(lines):
        ln = lines[i]
        opener = _FENCE_OPEN.match(ln)
        indent = len(ln) - len(ln.lstrip(" "))
        if fence:
            if ln.strip().startswith(fence) and not ln.strip().strip(fence[0]):
                fence = ""
        elif opener:
            fence = opener.group(1)
            if item is None or indent < item:
                item = None
        elif not ln.strip():
            apart = True
        elif m := _ITEM_LINE.match(ln):
            item, apart = m.end(2), False
        elif item is not None and apart and indent < item:
            item = None  # the list is over
        elif item is not None and (lm := _LETTERED.match(ln)) and lm.group(2) in ("a", "i") \
                and indent and indent <= item + 3 and (not apart or indent >= item):
            at = indent
            run, j = [i], i + 1
            while j < len(lines):
                deep = len(lines[j]) - len(lines[j].lstrip(" "))
                if not lines[j].strip():
                    # "a) If the pod is Pending, describe it:", its block, a blank line, then
                    # "b) ...": the sub-steps may stand apart, each with its own block
                    j += 1
                    continue
                if (fo := _FENCE_OPEN.match(lines[j])) is not None:
                    if deep <= at:
                        break
                    j += 1  # a block under a sub-step: on past its closing fence
                    while j < len(lines) and not (lines[j].strip().startswith(fo.group(1)) and
                                                  not lines[j].strip().strip(fo.group(1)[0])):
                        j += 1
                    j += 1
                    continue
                nx = _LETTERED.match(lines[j])
                if nx is not None and (nx.group(1), nx.group(3)) == (lm.group(1), lm.group(3)) \
                        and deep == at and \
                        nx.group(2) == _next_mark(lm.group(2), len(run)):
                    run.append(j)
                elif deep <= at or _ITEM_LINE.match(lines[j]):
                    break  # neither the next mark nor a line under a sub-step
                j += 1
            if len(run) >= 2:
                for n, k in enumerate(run, 1):
                    text = _LETTERED.match(lines[k]).group(4)  # type: ignore[union-attr]
                    lines[k] = f"{' ' * item}{n}{lm.group(3)} {text}"
                i = run[0] - 1  # read again from the first: sub-steps of the sub-steps
                item = None
                i += 1
                continue
            item = None
        i += 1
    return "\n".join(lines)


# 1\ufe0f\u20e3 ... 9\ufe0f\u20e3 and \U0001f51f: keycap numbers, a chat-style runbook's step
# numbers ("1\ufe0f\u20e3 **Confirm the evictions**", "jump to 5\ufe0f\u20e3")
_KEYCAP = re.compile("(?:([1-9])\ufe0f?\u20e3|\U0001f51f)")
_KEYCAP_STEP = re.compile("^(\\s{0,3})(?:([1-9])\ufe0f?\u20e3|\U0001f51f)[ \t]*(?=\\S)")
# a case marked by a tick or a cross on a line of its own ("\u2705 not growing \u2192 nothing to
# do" over "\u274c growing \u2192 continue with 2\ufe0f\u20e3")
_MARKED_CASE = re.compile("^[\u2705\u274c\u2714\u2716]\ufe0f?[ \t]+\\S")


def _keycap_steps(body: str) -> str:
    """A guide that numbers its steps with keycap emoji (two or more lines opening with one):
    each such line "Step N: ...", each keycap elsewhere in its text "step N" ("jump to
    5\ufe0f\u20e3" reads "jump to step 5"), and two or more lines of one paragraph each opening
    with a tick or a cross the list of cases they are, line for line. Read as they stood, the
    numbers named no step: "jump to 5\ufe0f\u20e3" landed nowhere and its guard scoped the next
    step instead, and the cases of one paragraph were one condition whose jump ("\u274c
    growing \u2192 continue with 2\ufe0f\u20e3") was taken when the first held."""
    if "\u20e3" not in body and "\U0001f51f" not in body:
        return body
    lines = body.split("\n")
    opening: list[int] = []
    outside_fences(lines, lambda ls, i: opening.append(i) if _KEYCAP_STEP.match(ls[i]) else None)
    if len(opening) < 2:
        return body

    def number(m: re.Match[str]) -> str:
        return m.group(2) if m.group(2) else "10"

    def rewrite(ls: list[str], i: int) -> int | None:
        if i in opening:
            m = _KEYCAP_STEP.match(ls[i])
            assert m is not None
            ls[i] = f"{m.group(1)}Step {number(m)}: {ls[i][m.end():]}"
        parts = re.split(r"(`[^`]*`)", ls[i])  # never inside a code span
        ls[i] = "".join(p if p.startswith("`") else _KEYCAP.sub(
            lambda m: f"step {m.group(1) or '10'}", p) for p in parts)
        if _MARKED_CASE.match(ls[i]) and (
                i + 1 < len(ls) and _MARKED_CASE.match(ls[i + 1]) or
                i > 0 and _MARKED_CASE.match(ls[i - 1].removeprefix("- "))):
            ls[i] = f"- {ls[i]}"
        return None
    return "\n".join(outside_fences(lines, rewrite))


class _Builder:
    """Walks markdown-it's token stream once, keeping a stack of open containers."""

    def __init__(self, body: str, *, offset: int, path: str) -> None:
        body = as_markdown(_dedent_admonitions(_lettered_substeps(_diagram_containers(
            _myst_directives(_footnotes(_keycap_steps(body)))))))
        self.body = body
        self.lines = body.split("\n")
        self.path = path
        self.offset = offset  # front matter lines are blanked, so offset only matters for errors
        self.out: list[Element] = []
        self.section: int | None = None
        self.headings: list[tuple[int, int]] = []  # (level, element index)
        self.anchor_counts: dict[str, int] = {}
        self.unclosed: list[int] = []

    def build(self) -> list[Element]:
        tokens = _MD.parse(self.body)
        # containers: ("list", ordered, counter) or ("item", element index) or ("quote", idx)
        stack: list[list[Any]] = []
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            t = tok.type
            if t in ("bullet_list_open", "ordered_list_open"):
                stack.append(["list", t == "ordered_list_open", 0])
            elif t in ("bullet_list_close", "ordered_list_close"):
                stack.pop()
            elif t == "list_item_open":
                lst = next(c for c in reversed(stack) if c[0] == "list")
                lst[2] += 1
                depth = sum(1 for c in stack if c[0] == "list")
                text, code, links, end = self._item_lead(tokens, i + 1)
                text, name, settings = _take_name(text, path=self.path,
                                                  line=self._span(tok).start)
                lines: list[tuple[int, str]] = []
                for j in range(i + 1, end, 3):  # the leading paragraphs `text` joins
                    lines.extend(self._source_lines(tokens[j], tokens[j + 1]))
                idx = self._add(
                    "list_item", tok, text=text, inline_code=code, links=links, depth=depth,
                    ordered=lst[1], number=lst[2], parent=self._container(stack), name=name,
                    settings=settings,
                    source_lines=lines,
                )
                stack.append(["item", idx])
                i = end
                continue
            elif t == "list_item_close":
                stack.pop()
            elif t == "blockquote_open":
                idx = self._add("quote", tok, text="", parent=self._container(stack))
                stack.append(["quote", idx])
            elif t == "blockquote_close":
                stack.pop()
            elif t in ("admonition_open", "container_admonition_open"):
                idx = self._add("quote", tok, text="", parent=self._container(stack))
                stack.append(["quote", idx])
                if t == "container_admonition_open":  # `:::tip Clear the cache`: its title
                    m = re.match(r"\s*([\w-]+)(?:\[([^\]]*)\])?\s*(.*)", tok.info)
                    title = (m.group(2) or m.group(3) or m.group(1)) if m else tok.info
                    line = self._span(tok).start
                    self._add("paragraph", tok, text=title.strip(), parent=idx,
                              span=Span(start=line, end=line))
            elif t == "admonition_title_open":
                text, code, links = _inline(tokens[i + 1])
                self._add("paragraph", tok, text=text, inline_code=code, links=links,
                          parent=self._container(stack))
                i += 3
                continue
            elif t in ("admonition_close", "container_admonition_close"):
                self._close_admonition(stack.pop()[1])
            elif t == "heading_open":
                self._heading(tok, tokens[i + 1])
                i += 3
                continue
            elif t == "paragraph_open" and self._definitions(tok, tokens[i + 1], stack):
                i += 3
                continue
            elif t == "paragraph_open" and (grid := _grid_table(
                    self._source_lines(tok, tokens[i + 1]))) is not None:
                # a pandoc grid table (`+----+----+` borders): the table it shows
                parsed = _MD.parse(grid)
                self._table(tok, parsed[next(j for j, x in enumerate(parsed)
                                             if x.type == "table_open"):], stack)
                i += 3
                continue
            elif t == "paragraph_open":
                text, code, links = _inline(tokens[i + 1])
                lines = self._source_lines(tok, tokens[i + 1])
                self._add("paragraph", tok, text=_without_speaker(text, lines),
                          inline_code=code, links=links, parent=self._container(stack),
                          source_lines=lines)
                i += 3
                continue
            elif t in ("fence", "code_block"):
                self._code(tok, stack)
            elif t == "html_block":
                pre = _pre_block(tok.content)
                if pre is not None:  # `<pre><code>`: a code block written in HTML
                    lang, text, opener = pre
                    self._add("code", tok, text=text, lang=lang, fenced=opener,
                              parent=self._container(stack))
                else:
                    self._add("html", tok, text=tok.content.strip(),
                              parent=self._container(stack))
            elif t == "table_open":
                end = next(j for j in range(i, len(tokens)) if tokens[j].type == "table_close")
                self._table(tok, tokens[i:end], stack)
                i = end + 1
                continue
            i += 1
        return self.out

    # -- helpers ---------------------------------------------------------------------------

    def _container(self, stack: list[list[Any]]) -> int | None:
        for c in reversed(stack):
            if c[0] in ("item", "quote"):
                depth: int = c[1]
                return depth
        return None

    def _span(self, tok: Token) -> Span:
        start, end = tok.map if tok.map else (0, 1)
        # markdown-it's map end is exclusive and may include trailing blank lines
        while end - 1 > start and not self.lines[end - 1].strip():
            end -= 1
        return Span(start=start + 1, end=max(end, start + 1))

    def _table(self, tok: Token, tokens: list[Token], stack: list[Any]) -> None:
        """A table element from its tokens (`table_open` up to its close)."""
        cells = [_inline(x)[0] for x in tokens if x.type == "inline"]
        code = [c for x in tokens if x.type == "inline" for c in _inline(x)[1]]
        rows: list[list[str]] = []
        for x in tokens:
            if x.type == "table_close":
                break
            if x.type == "tr_open":
                rows.append([])
            elif x.type == "inline" and rows:
                rows[-1].append(_inline(x)[0])
        self._add("table", tok, text=" | ".join(cells), inline_code=code,
                  command_cells=_command_cells(tokens), cells=rows,
                  parent=self._container(stack))

    def _add(self, kind: ElementKind, tok: Token, **fields: Any) -> int:
        idx = len(self.out)
        span = fields.pop("span", None) or self._span(tok)
        self.out.append(Element(index=idx, kind=kind, span=span, section=self.section,
                                **fields))
        return idx

    def _close_admonition(self, idx: int) -> None:
        """A `:::` admonition's closing line is part of it."""
        el = self.out[idx]
        end = el.span.end
        while end < len(self.lines) and not self.lines[end].strip():
            end += 1
        if end < len(self.lines) and re.fullmatch(r"\s*:{3,}\s*", self.lines[end]):
            self.out[idx] = el.model_copy(update={"span": Span(start=el.span.start,
                                                               end=end + 1)})

    def _heading(self, tok: Token, inline: Token) -> None:
        level = int(tok.tag[1])
        text, code, links = _inline(inline)
        text, name, settings = _take_name(text, path=self.path, line=self._span(tok).start)
        base = name or slugify(text)
        n = self.anchor_counts.get(base, 0)
        self.anchor_counts[base] = n + 1
        anchor = base if n == 0 else f"{base}-{n}"
        while self.headings and self.headings[-1][0] >= level:
            self.headings.pop()
        self.section = self.headings[-1][1] if self.headings else None
        idx = self._add("heading", tok, text=text, level=level, anchor=anchor,
                        inline_code=code, links=links, name=name, settings=settings)
        self.headings.append((level, idx))
        self.section = idx

    def _code(self, tok: Token, stack: list[list[Any]]) -> None:
        fenced = tok.type == "fence"
        lang = tok.info.strip().split()[0].lower() if fenced and tok.info.strip() else None
        text = tok.content.rstrip("\n")
        if fenced and (chunk := _CHUNK.match(tok.info.strip())) is not None:
            # a Quarto / R Markdown chunk: ```{sql, connection=con}, ```{bash}, ```{r setup}:
            # its language is the first word in the braces, and its leading `#| label: x` /
            # `--| echo: false` lines are the chunk's options, no code (blank, line for line)
            lang = chunk.group(1).lower()
            lines = text.split("\n")
            k = 0
            while k < len(lines) and _CHUNK_OPTION.match(lines[k]):
                lines[k] = ""
                k += 1
            text = "\n".join(lines)
        if fenced:
            self._check_closed(tok)
        else:
            # A fence indented four spaces too deep (under "a. Stop the consumers:", a
            # paragraph, not a list item) is an indented block that holds the fence: the
            # author's fenced block, language tag and all.
            inner = _fence_inside(text)
            if inner is not None:
                lang, text = inner
                fenced = True
        self._add("code", tok, text=text, lang=lang, fenced=fenced,
                  parent=self._container(stack))

    def _check_closed(self, tok: Token) -> None:
        start, end = tok.map if tok.map else (0, 0)
        opener = _FENCE_OPEN.match(self.lines[start])
        closing = self.lines[end - 1].strip() if end - 1 > start else ""
        marker = opener.group(1) if opener else tok.markup
        if not (closing.startswith(marker[0] * len(marker)) and not closing.strip(marker[0])):
            self.unclosed.append(start + 1)

    def _source_lines(self, opener: Token, inline: Token) -> list[tuple[int, str]]:
        first = self._span(opener).start
        return [(first + k, line) for k, line in enumerate(inline.content.split("\n"))]

    def _definitions(self, opener: Token, inline: Token, stack: list[list[Any]]) -> bool:
        """A definition list (PHP Markdown Extra / pandoc): a term's line, then `: ` lines, each
        a definition (the lines after one without `: ` are its own). The term is a paragraph
        marked `term`, each definition a paragraph of its own words; CommonMark read them as
        one sentence. A `: ` paragraph right after a one-line paragraph (a blank line between,
        as pandoc allows) is that term's. False when the paragraph is not one."""
        lines = self._source_lines(opener, inline)
        starts = [k for k, (_, ln) in enumerate(lines) if _DEFINITION.match(ln)]
        parent = self._container(stack)
        prev = self.out[-1] if self.out else None
        if not starts or starts[0] > 1:
            return False
        if starts[0] == 0:  # `: definition` a blank line under its term
            if prev is None or prev.kind != "paragraph" or prev.parent != parent or \
                    len(prev.source_lines) != 1 or prev.span.end + 2 != lines[0][0] or \
                    _DEFINITION.match(prev.text) or prev.inline_code:
                return False
            if not prev.term:
                self.out[-1] = prev.model_copy(update={"term": True})
        else:
            line, term = lines[0]
            if "`" in term or not term.strip():
                return False
            self._piece(term.strip(), line, line, parent, term=True)
        for n, k in enumerate(starts):
            end = starts[n + 1] if n + 1 < len(starts) else len(lines)
            words = [_DEFINITION.sub("", lines[k][1], count=1)] + \
                [ln.strip() for _, ln in lines[k + 1:end]]
            self._piece("\n".join(words), lines[k][0], lines[end - 1][0], parent)
        return True

    def _piece(self, src: str, start: int, end: int, parent: int | None, *,
               term: bool = False) -> None:
        """A paragraph made of some of a paragraph's lines (`src`, on lines `start`-`end`)."""
        inline = _MD.parseInline(src)[0]
        text, code, links = _inline(inline)
        idx = len(self.out)
        self.out.append(Element(
            index=idx, kind="paragraph", span=Span(start=start, end=end), section=self.section,
            text=text, inline_code=code, links=links, parent=parent, term=term,
            source_lines=[(start + k, ln) for k, ln in enumerate(src.split("\n"))]))

    def _item_lead(self, tokens: list[Token], i: int) -> tuple[str, list[str], list[Link], int]:
        """Text of the item's leading paragraphs; returns where the rest of the item starts."""
        texts: list[str] = []
        code: list[str] = []
        links: list[Link] = []
        while i < len(tokens) and tokens[i].type == "paragraph_open":
            t, c, lk = _inline(tokens[i + 1])
            if texts and _CHECKPOINT_LEAD.match(t):  # its own paragraph: a check of its own
                break
            if texts and _CONTENT_TAB.match(t):
                # `=== "Talos"` under "2. Rejoin the node:": a tab of its own, one of the
                # item's alternatives (joined to the item's words, its first tab was no tab,
                # and both alternatives ran one after the other)
                break
            texts.append(t)
            code += c
            links += lk
            i += 3
        return _join_paragraphs(texts), code, links, i


# A chat thread pasted as the runbook: each message opens with its speaker and time on a line of
# their own ("**@maria.ops** 09:17", "Sam Lee  9:21 AM", "[09:30] @dev.sam"); the words are
# the message's, the header is who said it and when ("@maria.ops 09:17 if only one broker is
# missing, restart it:" was no condition, and the restart ran whatever the ISR showed)
_SPEAKER = r"(?:[*_]{0,2}@?[\w.-]+(?:[ \t][A-Z][\w.-]*){0,2}[*_]{0,2})"
_TIME = r"(?:\[?\d{1,2}:\d{2}(?::\d{2})?(?:[ \t]?[AaPp][Mm])?\]?)"
_SPEAKER_LINE = re.compile(rf"^\s*(?:{_SPEAKER}[ \t]+{_TIME}|{_TIME}[ \t]+{_SPEAKER})\s*$")


def _without_speaker(text: str, lines: list[tuple[int, str]]) -> str:
    """A paragraph's text without its chat header line (`_SPEAKER_LINE`), when words follow."""
    if len(lines) < 2 or _SPEAKER_LINE.match(lines[0][1]) is None:
        return text
    said = re.sub(r"[*_]", "", lines[0][1]).split()
    words = text.split()
    if [w.strip("*_") for w in words[:len(said)]] != said or len(words) <= len(said):
        return text
    return " ".join(words[len(said):])


# A pandoc grid table (a Word or Google document's table through pandoc): `+----+----+`
# borders, `| a  | b  |` lines, a `+====+====+` line under the header; a cell may run over
# several lines. It was a paragraph of context for a reader: its rows' cases and commands
# were never read as a table's (a "Symptom | Action" table ran every action in turn).
_GRID_BORDER = re.compile(r"^\s*\+(?:[-=:]{3,}\+)+\s*$")


def _grid_table(lines: list[tuple[int, str]]) -> str | None:
    """The pipe table a paragraph's lines show when they are a grid table, or None."""
    said = [ln.strip() for _, ln in lines]
    if len(said) < 3 or not _GRID_BORDER.match(said[0]) or not _GRID_BORDER.match(said[-1]) \
            or not all(_GRID_BORDER.match(ln) or (ln.startswith("|") and ln.endswith("|"))
                       for ln in said):
        return None
    cuts = [k for k, ch in enumerate(said[0]) if ch == "+"]
    rows: list[list[str]] = []  # the first heads it (under a `+===+` line or not)
    group: list[list[str]] = []
    for ln in said[1:]:
        if _GRID_BORDER.match(ln):
            if group:
                rows.append([" ".join(w for w in col if w) for col in zip(*group, strict=True)])
                group = []
            continue
        if len(ln) != len(said[0]) or any(ln[k] != "|" for k in cuts):
            return None  # a cell spanning columns, or lines out of line: not read
        group.append([ln[a + 1:b].strip() for a, b in zip(cuts, cuts[1:], strict=False)])
    if len(rows) < 2:
        return None

    def line(row: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in row) + " |"
    return "\n".join([line(rows[0]), "|" + "---|" * len(rows[0]), *map(line, rows[1:])])


def _join_paragraphs(texts: list[str]) -> str:
    """An item's leading paragraphs as one text: joined by a space, or by a newline where a
    paragraph ends with no stop and the next opens a sentence ("Check the lag: `x`" over "No
    further action is required if ..."): the newline is where that sentence begins
    (`phrases.sentence_offsets`), a stop the author wrote as a blank line."""
    out = texts[0] if texts else ""
    for t in texts[1:]:
        opens = _OPENS_SENTENCE.match(t) is not None
        out += ("\n" if opens and not out.rstrip(" *_").endswith(_STOPS) else " ") + t
    return out


_STOPS = (".", "!", "?", ":", ";", ",")
_OPENS_SENTENCE = re.compile(r"[\[*_`\"(]*[A-Z]")


# An item's later paragraph "**Checkpoint:** the node shows SchedulingDisabled": a check a
# person confirms after the item's action, not more words of the action
_CHECKPOINT_LEAD = re.compile(r"^\W{0,4}(?:checkpoint|expected (?:result|outcome|state)|"
                              r"hold point)[*_]{0,2}\s*[:\u2013\u2014-]", re.I)
_CONTENT_TAB = re.compile(r"^\s*===[+!]?\s+\"[^\"\n]{1,80}\"\s*$")  # MkDocs Material's tab
_DEFINITION = re.compile(r"^ {0,3}:[ \t]+(?=\S)")
_FENCE_LINE = re.compile(r"^(`{3,}|~{3,})\s*([^`\s]*)[^`]*$")


_PRE = re.compile(r"\s*<pre\b[^>]*>(?:\s*<code\b([^>]*)>)?(.*?)(?:</code>\s*)?</pre>\s*",
                  re.S | re.I)
# A documentation site's code component (Docusaurus/MDX `<CodeBlock language="bash"
# title="x">...</CodeBlock>`): a code block in the language it names
_JSX_CODE = re.compile(r"""\s*<CodeBlock\b(?=[^>]*?\b(?:language|lang)\s*=\s*["'{]?([\w+#-]+))?"""
                       r"""(?=[^>]*?\bclassName\s*=\s*["']language-([\w+#-]+))?[^>]*>"""
                       r"(.*?)</CodeBlock>\s*", re.S)
_PRE_LANG = re.compile(r"""class\s*=\s*["']?(?:[\w-]*\s)*?(?:language-|lang-)?([\w+#-]+)""",
                       re.I)


def _pre_block(html: str) -> tuple[str | None, str, bool] | None:
    """(language, text, whether the text starts on the line after the opening tag) of an HTML
    `<pre>` / `<pre><code class="language-bash">` block: a code block, read as a fence is
    (the tags inside it dropped, `&lt;` and `&amp;` decoded); else None."""
    m = _PRE.fullmatch(html)
    if m is None:
        jsx = _JSX_CODE.fullmatch(html)
        if jsx is None:
            return None
        # MDX's `<CodeBlock language="bash">`: its body as written, or as a JSX template
        # string (`{`redis-cli info`}`); the text is code, not HTML to decode
        body = re.sub(r"^\s*\{\s*`(.*)`\s*\}\s*$", r"\1", jsx.group(3), flags=re.S)
        opener = body.startswith(("\n", "\r\n"))
        lang = (jsx.group(1) or jsx.group(2) or "").lower() or None
        return lang, body.strip("\r\n").rstrip(), opener
    lang_m = _PRE_LANG.search(m.group(1) or "")
    body = unescape(re.sub(r"<[^>]+>", "", m.group(2)))
    opener = body.startswith(("\n", "\r\n"))
    return (lang_m.group(1).lower() if lang_m else None), body.strip("\r\n").rstrip(), opener


def _fence_inside(code: str) -> tuple[str | None, str] | None:
    """(language, body) of an indented code block that is one whole fenced block; else None."""
    lines = code.strip("\n").split("\n")
    if len(lines) < 2:
        return None
    opener = _FENCE_LINE.match(lines[0].strip())
    if opener is None:
        return None
    marker = opener.group(1)
    closer = lines[-1].strip()
    if not (closer.startswith(marker) and not closer.strip(marker[0])):
        return None
    if any(ln.strip().startswith(marker[0] * 3) for ln in lines[1:-1]):
        return None  # more than one block, or prose between fences
    indent = len(lines[0]) - len(lines[0].lstrip())
    body = [ln[indent:] if ln[:indent].isspace() else ln.lstrip() for ln in lines[1:-1]]
    return (opener.group(2).lower() or None), "\n".join(body)


# Chinese / Japanese full-width punctuation as the ASCII it stands for, outside code spans,
# so every rule that reads a colon, comma or full stop reads them too: "查看磁盘：`df -h`"
# reads as "...: `df -h`", "否则，检查" as "否则, 检查"
_FULL_WIDTH = {"\uff1a": ": ", "\uff0c": ", ", "\u3001": ", ", "\uff1b": "; ", "\u3002": ". ",
               "\uff08": " (", "\uff09": ") ", "\uff1f": "? ", "\uff01": "! "}
_FULL_WIDTH_RX = re.compile("[" + "".join(_FULL_WIDTH) + "]")


def _ascii_punctuation(text: str) -> str:
    """A text run's Chinese / Japanese full-width punctuation as ASCII ("查看：" -> "查看: ")."""
    if _FULL_WIDTH_RX.search(text) is None:
        return text
    return _FULL_WIDTH_RX.sub(lambda m: _FULL_WIDTH[m.group(0)], text)


# `<code>kubectl get pods</code>` (`<tt>` in older HTML): a code span, as the backticks would be
_HTML_CODE_OPEN = re.compile(r"<(code|tt)(?:\s[^>]*)?>", re.I)
_HTML_CODE_CLOSE = re.compile(r"</(?:code|tt|kbd)\s*>", re.I)
_HTML_KBD_OPEN = re.compile(r"<kbd(?:\s[^>]*)?>", re.I)


def _typed_kbd(children: list[Token], opener: Token) -> str | None:
    """The text of `<kbd>...</kbd>` when it is a line typed (words with an option, a path or
    an argument: `<kbd>kubectl get pods</kbd>`), not a key (`<kbd>Ctrl</kbd>`, `<kbd>Page
    Down</kbd>`): None for a key."""
    at = next(i for i, c in enumerate(children) if c is opener)
    text = []
    for c in children[at + 1:]:
        if c.type == "html_inline" and _HTML_CODE_CLOSE.fullmatch(c.content):
            break
        text.append(c.content or c.markup)
    else:
        return None
    typed = "".join(text).strip()
    words = typed.split()
    return typed if len(words) >= 2 and words[0][:1].islower() else None


# A command in typographic quotes: a Word or Google document (through pandoc) lost its code
# formatting, and autocorrect curled the quotes around it ('Run “redis-cli -h cache-0 ping” on
# the bastion.'): a code span, as backticks would be, when the quoted words are a line typed (a
# program's lower-case name, then an option, a path or a setting among its words). A quoted
# message (“connection refused”) stays words.
_SMART_QUOTED = re.compile("\u201c([^\u201c\u201d\n]{3,300})\u201d")


def _typed_line(said: str) -> bool:
    words = said.split()
    return len(words) >= 2 and re.fullmatch(r"(?:\.{0,2}/)?[a-z][\w.+/-]*", words[0]) is not None \
        and any(re.match(r"--?[A-Za-z]", w) or "/" in w or "=" in w for w in words[1:]) \
        and not said.rstrip().endswith((".", ",", ";", "!", "?"))


def _smart_quoted(text: str) -> list[tuple[str, bool]]:
    """`text` in pieces, each with whether it is a typed line in typographic quotes."""
    out: list[tuple[str, bool]] = []
    at = 0
    for m in _SMART_QUOTED.finditer(text):
        if _typed_line(m.group(1)):
            out.extend([(text[at:m.start()], False), (m.group(1).strip(), True)])
            at = m.end()
    out.append((text[at:], False))
    return [(piece, typed) for piece, typed in out if piece]


_HTML_BREAK = re.compile(r"<br\s*/?>", re.I)
_BLANKS = re.compile(r"[ \t]+")


def _inline(tok: Token) -> tuple[str, list[str], list[Link]]:
    """Plain text of an inline token (code spans kept with backticks), its code spans, links."""
    parts: list[str] = []
    code: list[str] = []
    links: list[Link] = []
    link_stack: list[tuple[str, int]] = []
    html_code: list[str] | None = None  # inside `<code>...</code>`: a code span written in HTML
    for child in tok.children or []:
        kind = child.type
        if html_code is not None:
            if kind == "html_inline" and _HTML_CODE_CLOSE.fullmatch(child.content):
                span = re.sub(r"\s+", " ", "".join(html_code)).strip()
                if span:
                    parts.append(f"`{span}`")
                    code.append(span)
                html_code = None
            elif kind in ("softbreak", "hardbreak"):
                html_code.append(" ")
            else:  # its text, and the marks markdown read in it (`*`, `_`) as written
                html_code.append(child.content or child.markup)
            continue
        if kind == "html_inline" and _HTML_CODE_OPEN.fullmatch(child.content):
            html_code = []
            continue
        if kind == "html_inline" and _HTML_KBD_OPEN.fullmatch(child.content):
            typed = _typed_kbd(tok.children or [], child)
            if typed is not None:  # `<kbd>kubectl get pods</kbd>`: a line typed, not a key
                html_code = []
                continue
        if kind == "text":
            for piece, quoted in _smart_quoted(_ascii_punctuation(child.content)):
                parts.append(f"`{piece}`" if quoted else piece)
                if quoted:
                    code.append(piece)
        elif kind == "code_inline":
            parts.append(f"`{child.content}`")
            code.append(child.content)
        elif kind in ("softbreak", "hardbreak") or kind == "html_inline" and \
                _HTML_BREAK.fullmatch(child.content):
            parts.append(" ")  # (a Word or Google Docs export breaks its lines with `<br>`)
        elif kind == "link_open":
            link_stack.append((str(child.attrs.get("href", "")), len(parts)))
        elif kind == "link_close" and link_stack:
            href, start = link_stack.pop()
            links.append(Link(text="".join(parts[start:]).strip(), href=href))
        elif kind == "image":
            parts.append(child.content)
        elif kind == "html_inline":
            continue
    return _BLANKS.sub(" ", "".join(parts)).strip(), code, links
