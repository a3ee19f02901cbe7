"""The `mendflow` command: the only package that imports typer and rich.

Owns argument parsing, reading settings once, the live view of a run, terminal prompts, and
turning errors and outcomes into exit codes. It holds no engine logic: each command calls the
engine's public functions and prints what they return. One module per group of commands:
`guides` (compile, lint, eval, graph, schema, plugins), `runs` (run, resume, worker, runs,
show, report), `replaying` (replay), `robot` (detector, policy), `serve` (the alert-driven
service); `live` draws a run as it goes.
"""

from __future__ import annotations

from engine.cli._app import app, main

# Each module registers its commands, in the order `mendflow --help` lists them: not sorted.
# isort: off
from engine.cli import guides  # noqa: F401
from engine.cli import runs  # noqa: F401
from engine.cli import replaying  # noqa: F401
from engine.cli import robot  # noqa: F401
from engine.cli import serve  # noqa: F401
# isort: on

__all__ = ["app", "main"]
