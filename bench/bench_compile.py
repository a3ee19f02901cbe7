"""Compile every shipped guide (guides/**/*.md) and the development corpus; print throughput.

A plain script: `.venv/bin/python bench/bench_compile.py [--repeat N]`. It prints the median
of N repetitions (total seconds and guides per second) and, as a ratio measured in the same
run, how much of the time validation takes. The target is under 10 s for everything on a
2-core machine. Nothing here is asserted: timing belongs in bench/, not in tests.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from engine.compile import CompilerBug, compile_many
from engine.compile.structural import compile_structural
from engine.errors import MendflowError
from engine.guide import load_guide

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path("/work/shared/corpus")
PLUGINS = {"shell", "prometheus", "sql", "http", "logs"}


def guide_paths() -> list[Path]:
    paths = sorted((ROOT / "guides").rglob("*.md")) if (ROOT / "guides").is_dir() else []
    if CORPUS.is_dir():
        paths += sorted(CORPUS.rglob("*.md"))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    paths = guide_paths()
    if not paths:
        print("no guides found (guides/ and the corpus are both absent)")
        return
    totals, compile_only = [], []
    for _ in range(args.repeat):
        start = time.perf_counter()
        results = compile_many(paths, known_plugins=PLUGINS)
        totals.append(time.perf_counter() - start)
        start = time.perf_counter()
        for p in paths:
            try:
                compile_structural(load_guide(p))
            except MendflowError:
                pass
        compile_only.append(time.perf_counter() - start)
    ok = sum(r.ok for r in results)
    bugs = sum(isinstance(r.error, CompilerBug) for r in results)
    total = statistics.median(totals)
    share = 1 - statistics.median(compile_only) / total if total else 0.0
    print(f"guides: {len(paths)}  compiled: {ok}  failed (located): {len(paths) - ok - bugs}  "
          f"compiler bugs: {bugs}")
    print(f"median of {args.repeat}: {total:.2f} s total, {len(paths) / total:.0f} guides/s "
          f"(target: < 10 s total)")
    print(f"validation share of the time: {share:.0%}")


if __name__ == "__main__":
    main()
