"""Every real runbook in the development corpus compiles to a valid plan or fails located."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.compile import CompilerBug, compile_many, compile_path
from engine.errors import MendflowError

CORPUS = Path("/work/shared/corpus")
PLUGINS = {"shell", "prometheus", "sql", "http", "logs"}

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus folder {CORPUS} is absent")


@pytest.fixture(scope="module")
def results():
    paths = sorted(CORPUS.rglob("*.md"))
    assert len(paths) > 500
    return compile_many(paths, known_plugins=PLUGINS)


def test_every_runbook_compiles_or_fails_with_a_file_and_line(results):
    for r in results:
        if r.ok:
            continue
        assert isinstance(r.error, MendflowError), r.path
        assert not isinstance(r.error, CompilerBug), str(r.error)
        assert r.error.location.file and r.error.location.line is not None, str(r.error)


def test_a_healthy_share_compiles(results):
    ok = [r for r in results if r.ok]
    by_source: dict[str, list[bool]] = {}
    for r in results:
        by_source.setdefault(Path(r.path).relative_to(CORPUS).parts[0], []).append(r.ok)
    print(f"\ncompiled {len(ok)}/{len(results)}")
    for source, oks in sorted(by_source.items()):
        print(f"  {source}: {sum(oks)}/{len(oks)}")
    assert len(ok) / len(results) >= 0.9
    # and the plans do real work: most kubevirt runbooks run kubectl commands
    kubevirt = [r for r in ok if "kubevirt" in r.path]
    with_commands = [r for r in kubevirt if any(s.plugin == "shell" for s in r.plan.steps)]
    assert len(with_commands) / len(kubevirt) >= 0.8


def test_compilation_is_deterministic(results):
    for r in [r for r in results if r.ok][::7]:
        again = compile_path(r.path, known_plugins=PLUGINS)
        assert again.to_json() == r.plan.to_json(), r.path
