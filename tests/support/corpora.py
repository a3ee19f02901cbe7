"""Where the shared corpora of real guides are: `../shared` beside the repository root.

`corpus` (runbooks in this project's style) and `corpus2` (guides from 20 repositories in other
styles) are development data, not shipped. A test that needs one is skipped when it is absent,
except under CI (`CI=true`), where a missing corpus is a failure: a green CI run must mean the
corpora were checked.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Beside the repository; a checkout elsewhere (a CI clone) names them in MENDFLOW_SHARED_DIR.
SHARED = Path(os.environ.get("MENDFLOW_SHARED_DIR") or ROOT.parent / "shared")
CORPUS = SHARED / "corpus"
CORPUS2 = SHARED / "corpus2"
CORPORA = (CORPUS, CORPUS2)
FIDELITY = SHARED / "fidelity"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def needs(*paths: Path) -> pytest.MarkDecorator:
    """Skip when a path is missing, outside CI; under CI the test runs and `require` fails it."""
    missing = [p for p in paths if not p.exists()]
    return pytest.mark.skipif(bool(missing) and not in_ci(),
                              reason=f"{', '.join(map(str, missing))} absent (set CI=true to fail)")


def require(path: Path) -> Path:
    """`path`, or a failure (under CI) / a skip (elsewhere) saying it is missing."""
    if not path.exists():
        (pytest.fail if in_ci() else pytest.skip)(f"{path} is absent: the shared corpora live "
                                                   "in ../shared beside the repository")
    return path


def guides(corpus: Path) -> list[Path]:
    """The corpus's guides, README.md files left out (`mendflow compile DIR` skips them)."""
    return sorted(p for p in require(corpus).rglob("*.md") if p.name.lower() != "readme.md")
