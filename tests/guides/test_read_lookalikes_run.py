"""Canary: lines that look like reads but write, in a guide run with `--dry-run` and run for
real with no approval, leave the canary directory as it was.

Each line writes a file of the canary when it runs: wget's `-O` (opened, so truncated, even
with --spider), a here-string's command substitution, a quoted array subscript that bash
evaluates, and a number read from a file that bash evaluates as an expression. Judged
read-only, the dry run would have run them (the sandbox stops the write there, not the
judgement) and a real run would have run them without asking."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from .test_shipped_guides import last_run, mendflow


def _canary(root: Path) -> Path:
    canary = root / "canary"
    canary.mkdir()
    (canary / "keep.txt").write_text("keep me\n")
    # a number, as a step would read it; in an arithmetic expression it runs its subscript
    (canary / "count").write_text(f"a[$(touch${{IFS}}{canary}/arith)]\n")
    return canary


def _fingerprint(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _guide(tmp_path: Path, canary: Path) -> Path:
    lines = [
        f"wget -q --spider -O {canary}/keep.txt http://127.0.0.1:9/",
        f'grep -c x <<< "$(touch {canary}/herestring)"',
        f"for k in a; do test -v 'a[$(touch {canary}/subscript)]' && echo $k; done",
        f"for n in $(cat {canary}/count); do echo $((n + 1)); done",
    ]
    guide = tmp_path / "lookalikes.md"
    guide.write_text("# Look-alikes\n\n## Diagnosis\n\n" + "".join(
        f"{i}. Check:\n\n   ```bash\n   {line}\n   ```\n\n" for i, line in enumerate(lines, 1)))
    return guide


@pytest.mark.parametrize("dry", [True, False], ids=["dry-run", "unapproved"])
def test_read_lookalikes_change_nothing(tmp_path: Path, dry: bool) -> None:
    canary = _canary(tmp_path)
    before = _fingerprint(canary)
    guide = _guide(tmp_path, canary)
    proc = mendflow(tmp_path / "data", "run", str(guide), *(["--dry-run"] if dry else []))
    said = proc.stdout + proc.stderr
    assert "Traceback" not in said, said
    assert _fingerprint(canary) == before, said
    _, memory = last_run(tmp_path / "data")
    if dry:  # each was shown as what would run, not run
        would = [v["would_run"] for v in memory.values()
                 if isinstance(v, dict) and "would_run" in v]
        assert len(would) == 4, (would, said)
    else:  # each waited for an approval no one gave
        assert not any(isinstance(v, dict) and "exit_code" in v for v in memory.values()), said
