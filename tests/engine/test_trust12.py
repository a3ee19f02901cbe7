"""Trust, session 12: hostile and careless inputs nobody had tried.

1. JSON nested deeper than Python's reader recurses (`[[[[...` of a few kilobytes) raised a
   RecursionError, which no reader's `except json.JSONDecodeError` caught: `run --alert`, a
   plan file, `policy --history`, a calibration, was an internal error with exit 1, and
   serve's intake answered HTTP 500. Every JSON reader now refuses a document nested more
   than `engine.files.MAX_DEPTH` levels as bad JSON, with its line: exit 2, HTTP 400.
2. `run --alert DIR` (a folder, or a file that cannot be read) was an internal error: it is
   a one-line error naming the file, exit 2, as every other file a command reads.
3. A secret whose characters other than letters and digits a tool escaped one by one, the
   rest left as they were (Go's JSON writes `&` as `\\u0026`, PHP's `/` as `\\/`, `set -x`
   a `'` as `'\\''`), was left readable: every form the redactor knew was the whole secret
   written one way, and between two escapes each piece was shorter than half the secret.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine import files
from engine.datasources import MASK, Redactor
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


# -- 3. a secret with some of its characters escaped ----------------------------------------------


def _go_json(s: str) -> str:  # encoding/json: HTML-safe
    return json.dumps(s)[1:-1].replace("&", "\\u0026").replace("<", "\\u003c") \
        .replace(">", "\\u003e")


ESCAPED = [  # (the secret, what a tool prints of it, the tool)
    ("Kx9&mQ2<vL7>pR4wZt", _go_json("Kx9&mQ2<vL7>pR4wZt"), "docker inspect: Go's JSON"),
    ("Kx9/mQ2vL7pR4/wZt8", json.dumps("Kx9/mQ2vL7pR4/wZt8")[1:-1].replace("/", "\\/"),
     "PHP's json_encode"),
    ("Kx9'mQ2vL7pR4'wZt8", "'Kx9'\\''mQ2vL7pR4'\\''wZt8'", "bash set -x, set"),
    ("Kx9'mQ2vL7pR4'wZt8", "'Kx9''mQ2vL7pR4''wZt8'", "YAML single quotes, SQL"),
    ('Kx9"mQ2vL7pR4"wZt8', '"Kx9""mQ2vL7pR4""wZt8"', "CSV, psql --csv"),
    ('Kx9"mQ2vL7$R4wZt8', '"Kx9\\"mQ2vL7\\$R4wZt8"', "declare -p, export -p"),
    ("Kx9 mQ2vL7pR4 wZt8", "Kx9\\x20mQ2vL7pR4\\x20wZt8", "systemd's escapes"),
    ("Kx9:mQ2vL7pR4@wZt8", "postgres://u:Kx9:mQ2vL7pR4%40wZt8@db/x", "a URL's userinfo"),
    ("Kx9:mQ2vL7pR4@wZt8", "Kx9%3amQ2vL7pR4%40wZt8", "lower-case percent-encoding"),
    ("Kx9 mQ2&vL7pR4wZt8", "pw=Kx9+mQ2%26vL7pR4wZt8", "a form body"),
    ("Kx9<mQ2vL7pR4>wZt8", "Kx9&lt;mQ2vL7pR4>wZt8", "a template escaping only <"),
]


@pytest.mark.parametrize("secret, shown, tool", ESCAPED, ids=[t for _, _, t in ESCAPED])
def test_a_secret_escaped_a_character_at_a_time_is_masked_whole(secret: str, shown: str,
                                                               tool: str) -> None:
    redactor = Redactor([secret])
    said = redactor.redact(f"env: {shown} (end)")
    letters = [secret[i:i + 3] for i in range(len(secret) - 2) if secret[i:i + 3].isalnum()]
    assert not [p for p in letters if p in said], said
    assert MASK in said and said.endswith(" (end)"), said
    assert not [p for p in letters if p.encode() in redactor.redact_bytes(shown.encode())]


def test_a_run_of_quotes_in_a_secret_keeps_the_search_fast() -> None:
    # a quote doubled (`''`) inside a run of quotes could be read in ever more ways
    import time
    redactor = Redactor(["a" + "'" * 40 + "b", "x" + "\\" * 40 + "y", "'\"" * 20])
    started = time.monotonic()
    for text in ("a" + "'" * 20_000, "x" + "\\" * 20_000, "'\"" * 10_000, "'\\''" * 5_000):
        redactor.redact(text)
    assert time.monotonic() - started < 2
    assert redactor.redact("a" + "'" * 40 + "b") == MASK
