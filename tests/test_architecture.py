"""The shape of the house, asserted so it cannot drift (see ../shared/STYLE.md).

Dependencies point one way (worker -> plugins -> engine), and each third-party library lives
behind the one module that translates its errors.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "plugins", "worker")

# library -> the only modules (path prefixes) allowed to import it
ONLY_IMPORTERS = {
    # runbook templating of step parameters; the web UI's HTML pages, apart (autoescaped)
    "jinja2": ("engine/templating.py", "engine/serve/pages.py"),
    "networkx": ("engine/compile/validate.py",),
    "typer": ("engine/cli/",),
    "rich": ("engine/cli/",),
    "langgraph": ("engine/compile/llm",),
    # the VLM judge detector talks to a multimodal chat model itself (images, not plans)
    "langchain_core": ("engine/compile/llm", "plugins/detectors/vlm_judge.py"),
    "langchain_openai": ("engine/compile/llm",),
    "langchain_anthropic": ("engine/compile/llm",),
    "langchain_ollama": ("engine/compile/llm",),
    "asyncpg": ("engine/store/postgres.py", "plugins/sql.py"),
    "celery": ("worker/",),
    "asyncua": ("plugins/robot/ua.py",),
    "aiomqtt": ("plugins/robot/mqtt.py",),
    "matplotlib": ("bench/",),
    "tree_sitter": ("engine/effects/bash.py",),
    "tree_sitter_bash": ("engine/effects/bash.py",),
    "duckdb": ("plugins/compute.py",),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_each_library_has_one_importer() -> None:
    offenders = []
    for path in _sources():
        rel = path.relative_to(ROOT).as_posix()
        for lib in _imports(path) & set(ONLY_IMPORTERS):
            if not rel.startswith(ONLY_IMPORTERS[lib]):
                offenders.append(f"{rel} imports {lib}")
    assert offenders == []


def test_engine_imports_neither_plugins_nor_worker() -> None:
    offenders = [
        f"{p.relative_to(ROOT)} imports {lib}"
        for p in sorted((ROOT / "engine").rglob("*.py"))
        for lib in _imports(p) & {"plugins", "worker"}
    ]
    assert offenders == []


def test_the_compiler_does_not_import_the_runtime() -> None:
    """compile/ turns guides into plans; what both need (templating, placement, questions)
    lives beside them in engine/, so a compiler change cannot reach into a running step."""
    offenders = [f"{path.relative_to(ROOT)} imports {mod}"
                 for path in sorted((ROOT / "engine" / "compile").rglob("*.py"))
                 for mod in _modules(path) if mod.startswith("engine.runtime")]
    assert offenders == []


def _modules(path: Path) -> set[str]:
    """The modules a file imports when it runs (imports for the type checker only are left
    out: they never execute)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and \
                node.test.id == "TYPE_CHECKING":
            node.body = []
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def test_plugins_do_not_import_worker() -> None:
    offenders = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "plugins").rglob("*.py"))
                 if "worker" in _imports(p)]
    assert offenders == []


def test_import_linter_layers_contract() -> None:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    if not Path(exe).exists():
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    proc = subprocess.run([exe, "--config", str(ROOT / "pyproject.toml")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_no_import_cycles_even_through_imports_inside_functions() -> None:
    """An import inside a function hides a cycle from Python, not from a reader: modules that
    need each other's names share a third module instead (`engine/compile/llm/results.py`,
    `plugins/robot/stream.py`)."""
    modules = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
               for p in _sources()}
    graph = {name: {m for m in _modules(path) if m in modules and m != name}
             for name, path in modules.items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    # a package's __init__ re-exporting its own modules is not a cycle a reader trips on
    real = [c for c in cycles if not any(b.startswith(a + ".") for a, b in zip(c, c[1:]))]
    assert real == []
