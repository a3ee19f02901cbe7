"""The command's shared parts: the Typer app, the consoles, settings, exit codes.

Exit codes (`engine.errors.ExitCode`, one meaning each): 0 the run ended resolved, mitigated or
no_action (or the command did what it was asked); 1 a step or the engine failed, or lint found
errors; 2 bad input or usage; 3 the run ended `escalate`; 4 the run was inconclusive (its
evidence failed); 5 infrastructure unavailable (the store, the broker); 130 interrupted or
cancelled (the run stays resumable).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.console import Console, ConsoleOptions, RenderableType
from rich.markup import escape
from rich.segment import Segment

from engine.errors import ConfigError, ExitCode, InputError, MendflowError
from engine.printable import visible
from engine.settings import Settings, describe_invalid, load_settings

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

OUTCOME_EXIT = {"resolved": ExitCode.OK, "mitigated": ExitCode.OK, "no_action": ExitCode.OK,
                "escalate": ExitCode.ESCALATE, "inconclusive": ExitCode.INCONCLUSIVE}
STATUS_STYLE = {
    "pending": ("·", "dim"), "queued": ("⧗", "yellow"), "running": ("▶", "cyan"),
    "waiting": ("…", "yellow"),
    "succeeded": ("✔", "green"), "failed": ("✘", "red"), "skipped": ("-", "dim"),
    "cancelled": ("■", "yellow"),
}


def main() -> None:
    try:
        app()
    except MendflowError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise SystemExit(int(exc.exit_code)) from None
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # an engine bug: one line, and the traceback on request
        if os.environ.get("MENDFLOW_DEBUG"):
            raise
        err.print(f"[red]internal error:[/red] {escape(type(exc).__name__)}: "
                  f"{escape(str(exc))}. This is a Mendflow bug: please report it (set "
                  "MENDFLOW_DEBUG=1 for the traceback)", highlight=False, soft_wrap=True)
        raise SystemExit(int(ExitCode.FAILED)) from None


def _settings() -> Settings:
    try:
        return load_settings()
    except ValidationError as exc:  # pydantic-settings validation of MENDFLOW_* values
        raise InputError(f"bad setting: {describe_invalid(exc)}") from None


def write_out(path: Path, data: str | bytes, *, parents: bool = False) -> None:
    """Write a file the user named (`--out`, `-o`): a path that cannot be written (no such
    folder, no permission, a folder in the way) is bad input, said in one line, not an engine
    bug. `parents`: create its missing folders first (an output folder the user named)."""
    if parents:
        ensure_folder(path)
    try:
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot write it ({exc.strerror or exc})",
                         hint="Pass a path in a folder this user can write") from None


def ensure_folder(path: Path) -> None:
    """The folder a file the user named goes in, created if missing; one line when it cannot be."""
    why = _mkdir(path.parent)
    if why is not None:
        raise InputError(f"{path}: cannot create its folder ({why})",
                         hint="Pass a path in a folder this user can write")


def make_data_dir(settings: Settings) -> None:
    """The data folder the store lives in, created on first use; one line when it cannot be."""
    why = _mkdir(settings.data_dir)
    if why is not None:
        raise ConfigError(f"MENDFLOW_DATA_DIR {settings.data_dir}: cannot create it ({why})",
                          hint="Point MENDFLOW_DATA_DIR at a folder this user can write")


def _mkdir(folder: Path) -> str | None:
    """Create `folder` and its parents if missing; why it could not be, or None."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None
