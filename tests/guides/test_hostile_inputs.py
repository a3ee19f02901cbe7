"""Canary: the shipped guides, run with hostile values for every input, change nothing on disk.

An alert's labels are written by whoever controls a metric. Each shipped SRE guide is run
(dry run, and for real without approval) with every input set, in turn, to values that were
options, shell syntax, PromQL, path escapes or terminal escapes; the working directory is a
canary of old and new files. Nothing may change, and every refusal is a one-line error.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from pathlib import Path

import pytest

from engine.compile import compile_path
from engine.errors import MendflowError
from engine.interaction import Answers
from engine.plugins import default_registry
from engine.runtime.executor import LocalExecutor
from engine.runtime.services import Services
from engine.settings import Settings
from engine.store import open_store
from engine.store.base import RunOptions

from .test_shipped_guides import ROOT, mendflow

GUIDES = sorted((ROOT / "guides" / "sre").glob("*.md"))

HOSTILE = [
    "-delete", "--files0-from=/etc/passwd", "-oProxyCommand=touch PWN", "--output=PWN",
    "-fprint PWN", "x; touch PWN", "$(touch PWN)", "`touch PWN`", "PWN\n-delete",
    "../../../../etc", "x&admin=true#", "0+up", "0/0", ".+", "(a|a)*c", 'a"} or vector(1)',
    "\x1b]0;owned\x07\x1b[2J", "1e999", "nan", "",
]


def _canary(root: Path) -> Path:
    canary = root / "canary"
    canary.mkdir()
    for i in range(3):
        (canary / f"old-{i}.log").write_bytes(os.urandom(2048))
        month_ago = time.time() - 30 * 86400
        os.utime(canary / f"old-{i}.log", (month_ago, month_ago))
    (canary / "new.log").write_text("recent\n")
    return canary


def _fingerprint(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.stem)
def test_hostile_values_for_every_input_change_nothing(guide: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    plan = compile_path(guide)
    canary = _canary(tmp_path)
    before = _fingerprint(canary)
    monkeypatch.chdir(canary)  # relative paths and `find .` would land here
    outcomes: list[str] = []

    async def go() -> None:
        store = open_store(tmp_path / "store.sqlite3")
        await store.open()
        try:
            for spec in plan.inputs:
                for value in HOSTILE:
                    for dry_run in (True, False):
                        ex = LocalExecutor(Services(store=store, registry=default_registry(),
                                                    settings=Settings(
                                                        data_dir=tmp_path / "data",
                                                        default_timeout_s=5)),
                                           interaction=Answers())
                        inputs = {s.name: str(s.default) if s.default is not None else
                                  str(canary) for s in plan.inputs}
                        inputs[spec.name] = value
                        try:
                            record = await ex.start(plan, guide_path=str(guide),
                                                    inputs=inputs,
                                                    options=RunOptions(dry_run=dry_run))
                            outcomes.append(f"{spec.name}={value!r}: {record.status}")
                        except MendflowError as exc:
                            assert "\n" not in str(exc) and "\x1b" not in str(exc)
                            outcomes.append(f"{spec.name}={value!r}: refused")
        finally:
            await store.close()

    asyncio.run(go())
    assert _fingerprint(canary) == before, outcomes
    assert not list(tmp_path.rglob("PWN")), outcomes
    # every value that would be read as an option was refused before any step (shell syntax
    # may be a valid path: it then stays one literal argument, and the canary shows it)
    for line in outcomes:
        if any(f"={bad}" in line for bad in ("'-delete", "'--files0", "'-oProxy", "'--output",
                                              "'-fprint")):
            assert line.endswith("refused"), line


CLEANUP = ROOT / "guides" / "sre" / "scratch-dir-cleanup.md"


def _cleanup_on_alert(tmp_path: Path, payload: str) -> tuple[int, str, str]:
    """`mendflow run` of the shipped cleanup, dry, on an alert file holding `payload`: its
    exit code, what it said (stdout and stderr) and its stdout."""
    alert = tmp_path / "alert.json"
    alert.write_text(payload)
    proc = mendflow(tmp_path / "data", "run", str(CLEANUP), "--alert", str(alert), "--dry-run")
    return proc.returncode, proc.stdout + proc.stderr, proc.stdout


def _labels(**labels: str) -> str:
    return json.dumps({"labels": {"alertname": "ScratchDirectoryFull", **labels}})


def test_a_hostile_alert_label_is_refused_before_any_step_by_the_cli(tmp_path: Path) -> None:
    canary = _canary(tmp_path)
    before = _fingerprint(canary)
    code, said, _ = _cleanup_on_alert(tmp_path, _labels(scratch_dir="-delete"))
    assert code == 2, said
    assert "input scratch_dir='-delete' (from the alert's label scratch_dir)" in said
    assert "starts with '-'" in said and "Traceback" not in said
    assert _fingerprint(canary) == before


@pytest.mark.parametrize("where", ["/etc", "/var/tmp/../../etc", "LINK"])
def test_an_alert_cannot_point_the_shipped_cleanup_outside_its_roots(
        tmp_path: Path, where: str) -> None:
    # The label is a well-formed path; the guide's roots say where its deletion may act, and
    # a link under a root to somewhere else resolves outside it.
    if where == "LINK":
        (tmp_path / "link").symlink_to("/etc")
        where = str(tmp_path / "link")
    code, said, _ = _cleanup_on_alert(tmp_path, _labels(scratch_dir=where))
    assert code == 2, said
    assert "it resolves to '/etc', outside '/tmp' and '/var/tmp' and '/srv/scratch'" in said
    assert "Traceback" not in said


@pytest.mark.parametrize(("payload", "said"), [
    # the first value was the option, the last one a name: which counts depends on the reader
    ('{"labels": {"alertname": "ScratchDirectoryFull", "scratch_dir": "-delete", '
     '"scratch_dir": "/var/tmp/scratch"}}', "the key 'scratch_dir' twice"),
    ('{"alerts": [{"labels": {"scratch_dir": "/var/tmp/scratch"}}], '
     '"alerts": [{"labels": {"scratch_dir": "-delete"}}]}', "the key 'alerts' twice"),
    ('{"labels": {"alertname": "ScratchDirectoryFull", "older_than_days": NaN}}',
     "NaN is not a JSON value"),
])
def test_an_alert_file_that_is_not_strict_json_is_refused_by_the_cli(
        tmp_path: Path, payload: str, said: str) -> None:
    code, out, stdout = _cleanup_on_alert(tmp_path, payload)
    assert code == 2, out
    assert said in out and "Traceback" not in out
    assert not (tmp_path / "data" / "mendflow.sqlite3").exists() or "run " not in stdout
