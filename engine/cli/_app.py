"""The command's shared parts: the Typer app, the consoles, settings, exit codes.

Exit codes: 0 the run ended resolved / mitigated / no_action (or the command succeeded);
1 the run failed, or lint found errors; 2 bad input (guide, plan, flags); 3 the run ended
with `escalate`, or the store failed; 130 interrupted (the run stays resumable).
"""

from __future__ import annotations

import sys

from collections.abc import Iterable

import typer
from rich.console import Console, ConsoleOptions, RenderableType
from rich.markup import escape
from rich.segment import Segment

from engine.errors import InputError, MendflowError
from engine.printable import visible
from engine.settings import Settings, load_settings

app = typer.Typer(
    name="mendflow",
    help="Compile troubleshooting guides into execution plans, and run them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
class _Console(Console):
    """A console on which no value can write a terminal escape: every segment of text is
    passed through `engine.printable.visible`; rich's own styling and cursor control (kept
    apart from the text, in styles and control segments) are untouched."""

    def render(self, renderable: RenderableType,
               options: ConsoleOptions | None = None) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            if segment.control is None and segment.text:
                text = visible(segment.text)
                if text is not segment.text:
                    segment = Segment(text, segment.style)
            yield segment


out = _Console(width=None if sys.stdout.isatty() else 120)
err = _Console(stderr=True, width=None if sys.stderr.isatty() else 120)

OUTCOME_EXIT = {"resolved": 0, "mitigated": 0, "no_action": 0, "escalate": 3}
STATUS_STYLE = {
    "pending": ("·", "dim"), "running": ("▶", "cyan"), "waiting": ("…", "yellow"),
    "succeeded": ("✔", "green"), "failed": ("✘", "red"), "skipped": ("-", "dim"),
    "cancelled": ("■", "yellow"),
}


def main() -> None:
    try:
        app()
    except MendflowError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise SystemExit(exc.exit_code) from None


def _settings() -> Settings:
    try:
        return load_settings()
    except Exception as exc:  # pydantic-settings validation of MENDFLOW_* values
        raise InputError(f"bad MENDFLOW_* setting: {exc}") from None
