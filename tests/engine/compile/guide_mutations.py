"""Hypothesis strategies for hostile guides: real runbooks, mutated the way fuzzing found bugs.

A mutated guide starts from a seed (a shipped guide, a test fixture, or a runbook of the
development corpora under ../shared when they are present) and goes through a few edits:
a fragment of guide syntax spliced in (fences, heredocs, open quotes, loops, `{#names}`, jumps,
plugin blocks, templates), a slice deleted or repeated many times, lines shuffled, or the front
matter replaced by one drawn from valid and invalid keys and values (input names that are not
identifiers, wrong types, duplicates). `assert_located` is the property every entry point must
keep: return, or raise a `MendflowError` that names the guide file and a line.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from hypothesis import strategies as st

from engine.errors import MendflowError
from tests.support import corpora

ROOT = Path(__file__).resolve().parents[3]
CORPORA = corpora.CORPORA


def seed_paths() -> list[Path]:
    """Shipped guides and fixtures always; the corpora's runbooks when they are present."""
    paths = sorted((ROOT / "guides").rglob("*.md")) + sorted(
        (ROOT / "tests" / "fixtures" / "guides").rglob("*.md"))
    for corpus in CORPORA:
        if corpus.is_dir():
            paths += sorted(p for p in corpus.rglob("*") if p.suffix in (".md", ".mdx", ".erb"))
    return [p for p in paths if p.name != "README.md" or p.parent != ROOT / "guides"]


FRAGMENTS = [
    "\n```bash\n", "\n```\n", "\n~~~\n", "\n````sql\n", "```promql\n", "\n```detect\n",
    "\n```http\nmethod: POST\nurl: x\n```\n", "\n```mendflow:sql\nDELETE FROM t\n```\n",
    "\n```opcua\n- a\n```\n", "\n```detect\ndetector: [1]\n```\n", "cat <<EOF\n", "<<-'END'\n",
    "EOF\n", "echo \"", "'", "\"", "`", "for x in a b; do\n", "done\n", "while true; do\n",
    "if [ -f x ]; then\n", "fi\n", "case $x in\n", "\\\n", " | ", " && ", " || ", ";", "$(",
    ")", "${", "}", "${X:-y}", "$1", "<PLACEHOLDER>", "<a b>", "<<", ">", "export X=$(kubectl "
    "get pods)\n", "export NS=<namespace>\n", "{#step}", "{#Step_A}", "{#a}", "{#-}", "{{", "}}",
    "{%", "{#", "{{ steps.x.stdout }}", "`{{ inputs.a b }}`", "\n# ", "\n## Diagnosis\n",
    "\n## Mitigation\n", "\n## Always\n", "\n### If the pod is Pending\n", "\n1. ", "\n2. ",
    "\n- ", "\n   - ", "\n> ", "\n    ", "\n\t", "If the output is empty, ",
    "If the disk is full (`steps.x.stdout | int > 90`), escalate. Otherwise, no action is "
    "needed.", "Otherwise, ", "Otherwise, if (`inputs.a == 1`), ", "skip to step 99. ",
    "go to step 0. ", "skip the next 3 steps. ", "Skip to [Mitigation](#mitigation). ",
    "go to [x](#nowhere). ", "Follow [the other guide](other-guide.md). ",
    "Run `kubectl get pods -n $NS`. ", "Run `kubectl delete pod x`. ", "escalate to the owner. ",
    "<!-- ", " -->", "<details>", "\n| a | b |\n|---|---|\n| `x` | y |\n", "\r\n", "\r",
    "\u00a0", "\u200b", "\ufeff", "é", "𝔘", "\x00", "\x1b[31m", "---\n", "+++\n",
    "[link](", "](#)", "![img](x.png)", "**", "__", "*", "1) ", "Step 3: ",
]

_IDENT = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,10}\Z")
_ODD_TEXT = st.sampled_from(["a b", "", " ", "1abc", "a-b", "a.b", "$x", "{{x}}", "-rf", "é",
                             "inputs", "a\nb", "x" * 300])
_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                    st.floats(allow_nan=True), _ODD_TEXT, _IDENT,
                    st.dates(), st.binary(max_size=4))
_VALUE = st.recursive(_SCALAR, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(_IDENT, inner, max_size=3)), max_leaves=6)

_VALID_INPUT = st.fixed_dictionaries({"name": _IDENT}, optional={
    "type": st.sampled_from(["string", "integer", "number", "boolean"]),
    "default": st.one_of(_IDENT, st.integers(0, 100)), "description": _IDENT})
_VALID_FRONT = st.fixed_dictionaries({}, optional={
    "id": _IDENT, "title": _IDENT, "kind": st.sampled_from(["sre", "robot"]),
    "triggers": st.lists(st.fixed_dictionaries({"alert": _IDENT}, optional={
        "labels": st.dictionaries(_IDENT, _IDENT, max_size=2)}), max_size=2),
    "inputs": st.lists(_VALID_INPUT, min_size=1, max_size=4),
    "owners": st.lists(_IDENT, max_size=2), "weight": st.integers(0, 9)})
_INPUT_FIELDS = ["name", "type", "default", "description", "bogus"]


@st.composite
def front_matter(draw: st.DrawFn) -> dict:
    """Valid front matter with at most one thing wrong: one bad field at a time finds more."""
    data = draw(_VALID_FRONT)
    fault = draw(st.sampled_from(["none", "key", "input", "input", "duplicate"]))
    if fault == "key":
        data[draw(st.sampled_from(sorted(_VALID_FRONT_KEYS)))] = draw(
            st.one_of(_ODD_TEXT, _VALUE))
    elif fault == "input":
        inputs = data.setdefault("inputs", [{"name": "ns"}])
        field = draw(st.sampled_from(_INPUT_FIELDS))
        bad = st.one_of(_ODD_TEXT, _VALUE, st.sampled_from(["path", "int", "enum"]))
        if draw(st.booleans()):
            inputs[draw(st.integers(0, len(inputs) - 1))][field] = draw(bad)
        else:
            inputs.append(draw(st.one_of(_VALUE, _ODD_TEXT)))
    elif fault == "duplicate":
        inputs = data.setdefault("inputs", [{"name": "ns"}])
        inputs.append(dict(inputs[0]))
    return data


_VALID_FRONT_KEYS = {"id", "title", "kind", "triggers", "inputs", "owners", "weight"}


def _toml(value: object) -> str | None:
    """An inline TOML value, or None for what TOML cannot say (null, odd keys)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        items = [_toml(v) for v in value]
        return None if None in items else "[" + ", ".join(items) + "]"  # type: ignore[arg-type]
    if isinstance(value, dict):
        pairs = [(k, _toml(v)) for k, v in value.items()]
        if any(not isinstance(k, str) or v is None for k, v in pairs):
            return None
        return "{" + ", ".join(f"{json.dumps(k)} = {v}" for k, v in pairs) + "}"
    return None


def _dump_front(data: dict, toml: bool) -> str:
    if toml:
        lines = [f"{json.dumps(k)} = {text}" for k, v in data.items()
                 if (text := _toml(v)) is not None]
        return "+++\n" + "\n".join(lines) + "\n+++\n"
    try:
        body = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    except yaml.YAMLError:
        body = "{}\n"
    return f"---\n{body}---\n"


def _without_front(text: str) -> str:
    for marker in ("---", "+++"):
        if text.startswith(marker + "\n"):
            close = text.find(f"\n{marker}\n", len(marker))
            if close > 0:
                return text[close + len(marker) + 2:]
    return text


@st.composite
def mutated_guides(draw: st.DrawFn, seeds: list[Path]) -> str:
    """A seed guide after one to four random edits."""
    path = draw(st.sampled_from(seeds))
    text = path.read_bytes().decode("utf-8", "replace")[:60_000]
    for _ in range(draw(st.integers(1, 4))):
        n = len(text)
        at = draw(st.integers(0, n))
        op = draw(st.sampled_from(["splice", "splice", "splice", "delete", "repeat",
                                   "front", "front", "lines", "truncate"]))
        if op == "splice":
            text = text[:at] + draw(st.sampled_from(FRAGMENTS)) + text[at:]
        elif op == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 400)):]
        elif op == "repeat":
            piece = text[at:at + draw(st.integers(1, 200))]
            text = text[:at] + piece * draw(st.integers(2, 60)) + text[at:]
        elif op == "front":
            front = _dump_front(draw(front_matter()), toml=draw(st.booleans()))
            text = front + _without_front(text)
        elif op == "lines":
            lines = text.split("\n")
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
        else:
            text = text[:at]
    return text


def assert_located(exc: BaseException, path: str) -> None:
    """A guide's fault must be a `MendflowError` naming the guide and a line, not a bug."""
    from engine.compile import CompilerBug

    if not isinstance(exc, MendflowError) or isinstance(exc, CompilerBug):
        raise AssertionError(f"not a located guide error: {type(exc).__name__}: {exc}") from exc
    where = exc.location
    assert where.file == path and where.line is not None and where.line >= 1, str(exc)
    assert "\n" not in str(exc), f"a multi-line error: {exc!s}"
