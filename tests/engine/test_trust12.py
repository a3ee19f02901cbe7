"""Trust, session 12: hostile and careless inputs nobody had tried.

1. JSON nested deeper than Python's reader recurses (`[[[[...` of a few kilobytes) raised a
   RecursionError, which no reader's `except json.JSONDecodeError` caught: `run --alert`, a
   plan file, `policy --history`, a calibration, was an internal error with exit 1, and
   serve's intake answered HTTP 500. Every JSON reader now refuses a document nested more
   than `engine.files.MAX_DEPTH` levels as bad JSON, with its line: exit 2, HTTP 400.
2. `run --alert DIR` (a folder, or a file that cannot be read) was an internal error: it is
   a one-line error naming the file, exit 2, as every other file a command reads.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine import files
from tests.engine.test_bad_files import PEG, TRIAGE, assert_one_line_bad_input, mendflow, write

# -- 1. JSON nested too deep ---------------------------------------------------------------------

DEEP = ("[" * 5000 + "]" * 5000).encode()


def test_a_document_deeper_than_the_bound_is_bad_json_at_its_bracket() -> None:
    fine = "[" * files.MAX_DEPTH + "]" * files.MAX_DEPTH
    assert files.loads(fine) is not None
    with pytest.raises(json.JSONDecodeError) as caught:
        files.loads('{"a":\n' + "[" * (files.MAX_DEPTH + 1) + "]" * (files.MAX_DEPTH + 1) + "}")
    assert caught.value.lineno == 2 and "levels deep" in caught.value.msg
    with pytest.raises(json.JSONDecodeError):
        files.loads_strict(DEEP)
    # brackets inside a string are text, not nesting (an escaped quote does not end it)
    text = json.dumps({"labels": {"summary": '\\"' + "[{" * 500}})
    assert files.loads(text) == json.loads(text)
    assert files.loads_strict(text.encode()) == json.loads(text)


@pytest.mark.parametrize("where", ["alert", "alert-label", "plan", "history", "calibration",
                                   "calibration-combine"])
def test_json_nested_too_deep_is_bad_input_not_an_internal_error(where: str,
                                                                   tmp_path: Path) -> None:
    deep = DEEP
    if where == "alert-label":
        deep = b'{"labels": {"node": ' + DEEP + b"}}"
    path = write(tmp_path, "deep.plan.json" if where == "plan" else "deep.json", deep)
    args = {
        "alert": ("run", str(TRIAGE), "--alert", str(path), "--dry-run"),
        "alert-label": ("run", str(TRIAGE), "--alert", str(path), "--dry-run"),
        "plan": ("run", str(path), "--dry-run"),
        "history": ("policy", str(PEG), "--history", str(path)),
        "calibration": ("detector", "evaluate", str(tmp_path), "--calibration", str(path)),
        "calibration-combine": ("detector", "combine", str(path), str(path), "-o",
                                str(tmp_path / "c.json")),
    }[where]
    proc = mendflow(*args, tmp=tmp_path)
    assert_one_line_bad_input(proc)
    assert "levels deep" in proc.stderr


# -- 2. a folder or an unreadable file as the alert -------------------------------------------


@pytest.mark.parametrize("kind", ["folder", "unreadable"])
def test_an_alert_path_that_is_not_a_readable_file(kind: str, tmp_path: Path) -> None:
    alert = tmp_path / "alert.json"
    if kind == "folder":
        alert.mkdir()
    else:  # root reads any mode: a file whose every read fails
        alert = Path("/proc/self/mem")
    proc = mendflow("run", str(TRIAGE), "--alert", str(alert), "--dry-run", tmp=tmp_path)
    assert_one_line_bad_input(proc)
    assert str(alert) in proc.stderr
