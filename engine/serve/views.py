"""What `mendflow serve`'s API shows beyond the store's records: a plan as a graph (with a run's
step statuses), a run's report as HTML, and each guide's lint status.

The HTML report is the Markdown report rendered by markdown-it with raw HTML off: every value
in it (an alert's label, a step's output) is text, never markup, and a link may only be
http(s) or relative (markdown-it refuses `javascript:` and `data:` links). The page is served
with a Content-Security-Policy that allows no script at all.
"""

from __future__ import annotations

import asyncio
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.plan import Plan

REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:"

_STYLE = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
line-height:1.45}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem}
pre,code{background:#f4f4f4}pre{padding:.5rem;overflow-x:auto}"""


def graph(plan: Plan, statuses: dict[str, str] | None = None) -> dict[str, Any]:
    """The plan's steps and edges, in plan order; with `statuses`, each step's status in a
    run (a step the run has not reached: `pending`). Also Mermaid text, for a quick drawing."""
    from engine.compile.graph import to_mermaid

    nodes = [{"id": s.id, "title": s.title, "kind": str(s.kind), "plugin": s.plugin,
              "mutating": s.mutating,
              **({"status": statuses.get(s.id, "pending")} if statuses is not None else {})}
             for s in plan.steps]
    edges = [{"source": e.source, "target": e.target, "kind": e.kind, "on": e.on,
              "condition": e.condition.text if e.condition else None,
              "judged": bool(e.condition and e.condition.is_judgment)}
             for e in plan.edges]
    return {"plan": plan.id, "title": plan.title, "nodes": nodes, "edges": edges,
            "mermaid": to_mermaid(plan)}


def report_html(markdown: str, title: str) -> str:
    """The Markdown report as a page of its own; nothing in it is markup it did not write."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n"
            f"<body>\n{body}</body></html>\n")


@dataclass
class LintStatus:
    """Each guide's lint findings, linted once per version of its file (by mtime and size):
    guides are read when the server starts, but a file may be fixed while it serves."""

    _seen: dict[Path, tuple[tuple[int, int], dict[str, Any]]] = field(default_factory=dict)

    async def of(self, path: Path) -> dict[str, Any]:
        try:
            stat = path.stat()
        except OSError as exc:
            return {"status": "unreadable", "errors": 1, "warnings": 0,
                    "findings": [{"rule": "MF000", "severity": "error",
                                  "message": f"cannot read the guide: {exc.strerror}"}]}
        version = (stat.st_mtime_ns, stat.st_size)
        seen = self._seen.get(path)
        if seen is not None and seen[0] == version:
            return seen[1]
        status = await asyncio.to_thread(_lint, path)
        self._seen[path] = (version, status)
        return status


def _lint(path: Path) -> dict[str, Any]:
    from engine.compile import lint as linter

    found = linter.lint_path(path)
    errors = sum(1 for f in found if f.severity == "error")
    warnings = sum(1 for f in found if f.severity == "warning")
    return {"status": "error" if errors else "warning" if warnings else "clean",
            "errors": errors, "warnings": warnings,
            "findings": [f.model_dump(mode="json") for f in found]}
