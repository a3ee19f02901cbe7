"""No value writes a raw terminal escape: not the live view, `show`, `report`, nor an error."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from rich.table import Table

from engine.cli._app import _Console
from engine.printable import visible

ESCAPES = "\x1b]0;owned\x07\x1b[2J\x1b[31m\u202eevil\x08\x9b"


def test_visible_escapes_controls_and_bidi_but_keeps_lines_and_tabs() -> None:
    assert visible("ok\tline\nnext") == "ok\tline\nnext"
    shown = visible(ESCAPES)
    assert shown == "\\x1b]0;owned\\x07\\x1b[2J\\x1b[31m\\u202eevil\\x08\\x9b"
    assert shown.isprintable()


def test_the_console_shows_escapes_in_tables_and_text_but_keeps_its_own_styles() -> None:
    buffer = io.StringIO()
    console = _Console(file=buffer, force_terminal=True, width=200)
    table = Table("step", "found")
    table.add_row("s", ESCAPES)
    console.print(table)
    console.print(f"[red]error:[/red] {ESCAPES}")
    text = buffer.getvalue()
    assert "\x1b]" not in text and "\x1b[2J" not in text and "\x07" not in text
    assert "\u202e" not in text and "\x9b" not in text
    assert "\\x1b]0;owned" in text
    assert "\x1b[31m" in text  # rich's own colour for [red]


def test_run_show_and_report_print_no_raw_escape(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    out.write_text(ESCAPES + "\n")
    plan = {
        "schema_version": 1, "id": "esc", "title": "Escapes", "compiler": "test/1",
        "source": {"path": "esc.md", "sha256": "0" * 64}, "entry": "cat",
        "steps": [{"id": "cat", "title": "cat", "kind": "command", "plugin": "shell",
                   "params": {"pipeline": [["cat", str(out)]]}, "source": {"start": 1, "end": 1}},
                  {"id": "ok", "title": "ok", "kind": "end", "outcome": "resolved",
                   "source": {"start": 1, "end": 1}}],
        "edges": [{"source": "cat", "target": "ok"}],
    }
    plan_file = tmp_path / "esc.plan.json"
    plan_file.write_text(json.dumps(plan))
    env = {**os.environ, "MENDFLOW_DATA_DIR": str(tmp_path / "data")}

    def mendflow(*args: str) -> str:
        proc = subprocess.run([sys.executable, "-m", "engine.cli", *args], env=env, text=True,
                              capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        return proc.stdout + proc.stderr

    said = mendflow("run", str(plan_file))
    run_id = said.split("mendflow show ")[1].split("`")[0]
    for text in (said, mendflow("show", run_id), mendflow("report", run_id)):
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text, text
        assert "\\x1b]0;owned" in text
