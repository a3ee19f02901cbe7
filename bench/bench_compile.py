"""Compile the shipped guides and the corpus (throughput), then time hostile guides (growth).

A plain script: `.venv/bin/python bench/bench_compile.py [--repeat N] [--only NAME]`.

1. Throughput: every shipped guide (guides/**/*.md) and the development corpora (../shared/corpus
   and ../shared/corpus2 beside the repository; under CI=true a missing one fails), compiled; the
   median of N repetitions (total seconds, guides per second) and the share validation takes.
   Target: under 10 s for everything on a 2-core machine.
2. Hostile guides, the shapes that once took quadratic time (issue 10: a 4,000-item list took
   over 10 s, a 1 MB command line 13-37 s, lint 243 s on a 20,000-item list): a 1 MB guide
   made of corpus runbooks, a 20,000-item numbered list (of prose steps, and of steps that
   each run a command), 5,000 lines under an unclosed
   heredoc, quote and `for`, one 1 MB command line. For each: the median seconds to parse
   (`parse_guide`), compile (structure + validation, on the parsed guide) and lint, and the
   ratio of parse + compile + lint to a floor measured in the same run: markdown-it's own
   parse of the same text (with the garbage collector paused, as ours runs), which no
   compiler of Markdown can beat. Target: compile and lint
   each under 2 s (the floor itself is about 1 s for 1 MB on this machine).

Nothing here is asserted: timing belongs in bench/, not in tests (the tests assert growth).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from markdown_it import MarkdownIt

from engine.compile import CompilerBug, compile_guide, compile_many
from engine.compile.lint import lint_guide
from engine.compile.structural import compile_structural
from engine.errors import MendflowError
from engine.guide import collector_paused, load_guide, parse_guide
from engine.plugins import default_registry

ROOT = Path(__file__).resolve().parents[1]
# the development corpora live beside the repository (or where MENDFLOW_SHARED_DIR says)
SHARED = Path(os.environ.get("MENDFLOW_SHARED_DIR") or ROOT.parent / "shared")
CORPORA = (SHARED / "corpus", SHARED / "corpus2")
CORPUS = CORPORA[0]
# The plugins this install has, as `mendflow compile` knows them: a fixed list without `bash`
# made 92 corpus guides stop at validation ("unknown plugin 'bash'") and flattered the rate.
PLUGINS = default_registry().names()
MB = 1_000_000


def guide_paths() -> list[Path]:
    paths = sorted((ROOT / "guides").rglob("*.md")) if (ROOT / "guides").is_dir() else []
    for corpus in CORPORA:
        if corpus.is_dir():
            paths += sorted(corpus.rglob("*.md"))
        elif os.environ.get("CI", "").lower() == "true":
            raise SystemExit(f"{corpus} is absent: under CI the bench needs both corpora")
        else:
            print(f"({corpus} is absent: not timed)")
    return paths


# -- hostile guides ---------------------------------------------------------------------------

HEAD = "# Hostile guide\n\n## Diagnosis\n\n"


def corpus_megabyte() -> str:
    """Runbooks of the corpus that compile on their own, front matter dropped, joined to 1 MB."""
    parts: list[str] = []
    size = 0
    for path in sorted(CORPUS.rglob("*.md")) if CORPUS.is_dir() else []:
        try:
            guide = load_guide(path)
            compile_structural(guide)
        except MendflowError:
            continue
        body = "\n".join(path.read_text(encoding="utf-8").split("\n")[guide.front_lines:])
        parts.append(body)
        size += len(body.encode())
        if size >= MB:
            break
    return "\n\n".join(parts) if size >= MB else ""


def numbered_list(n: int) -> str:
    return HEAD + "".join(f"{i + 1}. Check that the service number {i} answers\n"
                          for i in range(n))


def command_list(n: int) -> str:
    return HEAD + "".join(f"{i + 1}. Check the pods of ns{i}: `kubectl get pods -n ns{i}`\n"
                          for i in range(n))


def under(opening: str, n: int) -> str:
    return HEAD + f"```bash\n{opening}\n" + "".join(f"  echo line {i}\n" for i in range(n)) + \
        "```\n"


def command_line(size: int) -> str:
    return HEAD + "```bash\nkubectl get pods -l " + "a" * size + "\n```\n"


CASES: dict[str, Callable[[], str]] = {
    "1 MB of corpus runbooks": corpus_megabyte,
    "20,000-item numbered list": lambda: numbered_list(20_000),
    "20,000 items, a command each": lambda: command_list(20_000),
    "5,000 lines, open heredoc": lambda: under("cat <<EOF", 5_000),
    "5,000 lines, open quote": lambda: under('echo "start', 5_000),
    "5,000 lines, open for": lambda: under("for x in a b; do", 5_000),
    "1 MB command line": lambda: command_line(MB),
}


def median_seconds(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _paused(parse: Callable[[str], object], text: str) -> object:
    with collector_paused():  # as parse_guide, compile and lint run: a fair floor
        return parse(text)


def hostile(repeat: int, only: str | None) -> None:
    markdown = MarkdownIt("commonmark", {"html": True}).enable("table")
    print(f"\n{'case':28s} {'size':>8s} {'floor':>7s} {'parse':>7s} {'compile':>8s} "
          f"{'lint':>7s} {'ratio':>6s}  result")
    for name, make in CASES.items():
        if only and only.lower() not in name.lower():
            continue
        text = make()
        if not text:
            print(f"{name:28s} (the corpus is absent)")
            continue
        guide = parse_guide(text, path="hostile.md")

        def compile_once() -> str:
            try:
                return f"{len(compile_guide(guide, known_plugins=PLUGINS).steps)} steps"
            except MendflowError as exc:
                return f"refused at line {exc.location.line}"

        floor = median_seconds(lambda: _paused(markdown.parse, text), repeat)
        parse = median_seconds(lambda: parse_guide(text, path="hostile.md"), repeat)
        compiled = median_seconds(compile_once, repeat)
        lint = median_seconds(lambda: lint_guide(guide), repeat)
        ratio = (parse + compiled + lint) / floor if floor else float("nan")
        print(f"{name:28s} {len(text.encode()) / MB:6.2f}MB {floor:6.2f}s {parse:6.2f}s "
              f"{compiled:7.2f}s {lint:6.2f}s {ratio:5.1f}x  {compile_once()}")
    print("(medians; ratio: parse + compile + lint over markdown-it's parse of the same text; "
          "target: compile and lint each < 2 s)")


def throughput(repeat: int) -> None:
    paths = guide_paths()
    if not paths:
        print("no guides found (guides/ and the corpus are both absent)")
        return
    totals, compile_only = [], []
    for _ in range(repeat):
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
    print(f"median of {repeat}: {total:.2f} s total, {len(paths) / total:.0f} guides/s "
          f"(target: < 10 s total)")
    print(f"validation share of the time: {share:.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", help="run only the hostile cases whose name contains this")
    args = parser.parse_args()
    if not args.only:
        throughput(args.repeat)
    hostile(args.repeat, args.only)


if __name__ == "__main__":
    main()
