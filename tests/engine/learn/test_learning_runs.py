"""Learning from real failing runs of the shipped guides, run as a user runs them.

Each scenario runs a shipped guide (or a copy with one line broken, as an author might) with
the real `mendflow` command or the local executor, and checks what the store kept when the
run ended: the failure signatures (repeats grouped, with their count and the run that fixed
them and what changed), the run's root-cause class with the step, line and message that show
it, and where `show`, `runs --why`, `failures`, `report` and `lint` say so. A secret in an
error never reaches a signature, a cause or anything the commands print.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import asyncpg
import pytest

from demo.prometheus import (
    MISSING_REASON,
    openmetrics_document,
    prometheus_available,
    rising_counter,
    running_prometheus,
)
from engine.compile import compile_path
from engine.interaction import Answer, Answers
from engine.learn.record import learn_from_run
from engine.plan import Step
from engine.plugins import Registry, StepContext, StepResult
from engine.runtime.executor import LocalExecutor
from engine.runtime.services import build_services
from engine.settings import Settings
from engine.store import open_store
from engine.store.base import RunCause, SignatureStats
from plugins.shell import ShellParams, ShellPlugin

ROOT = Path(__file__).resolve().parents[3]
CLEANUP = ROOT / "guides" / "sre" / "scratch-dir-cleanup.md"
WEB = ROOT / "guides" / "sre" / "web-5xx-after-deploy.md"
PG_URL = os.environ.get("MENDFLOW_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
SECRET = "Sup3r-S3cret-Pa55word"


def mendflow(data: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine.cli", *args],
                          env={**os.environ, "MENDFLOW_DATA_DIR": str(data), **env}, text=True,
                          capture_output=True, timeout=120, stdin=subprocess.DEVNULL)


def broken_copy(source: Path, target: Path, old: str, new: str) -> tuple[Path, int]:
    """`source` with the first `old` replaced by `new` (an author's mistake), and its line."""
    text = source.read_text(encoding="utf-8")
    assert old in text
    target.write_text(text.replace(old, new, 1), encoding="utf-8")
    line = text[:text.index(old)].count("\n") + 1
    return target, line


def last_run_id(data: Path) -> str:
    with sqlite3.connect(data / "mendflow.sqlite3") as db:
        return str(db.execute("SELECT run_id FROM runs ORDER BY created_at DESC LIMIT 1")
                   .fetchone()[0])


async def _read(data: Path) -> tuple[list[SignatureStats], list[RunCause]]:
    store = open_store(data / "mendflow.sqlite3")
    await store.open()
    try:
        return await store.signatures(), await store.run_causes()
    finally:
        await store.close()


def lessons(data: Path) -> tuple[list[SignatureStats], list[RunCause]]:
    return asyncio.run(_read(data))


def dump(data: Path) -> str:
    """Everything the store holds, as text."""
    with sqlite3.connect(data / "mendflow.sqlite3") as db:
        return "\n".join(line for line in db.iterdump())


# -- a guide defect: repeats are one signature, fixed by the corrected guide -------------------


def test_a_broken_command_is_a_guide_defect_its_repeats_one_signature_and_the_fix_known(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    broken, line = broken_copy(CLEANUP, tmp_path / "scratch-dir-cleanup.md",
                               'du -sm "$SCRATCH_DIR"', 'du --no-such-flag -sm "$SCRATCH_DIR"')
    dirs = [tmp_path / name for name in ("scratch-a", "scratch-b", "scratch-c")]
    for d in dirs:
        d.mkdir()
    # Twice broken, on two directories (different paths in the error: one signature)
    for d in dirs[:2]:
        proc = mendflow(data, "run", str(broken), "-i", f"scratch_dir={d}", "--yes")
        assert proc.returncode == 3, proc.stdout + proc.stderr  # escalate: it could not measure
    sigs, causes = lessons(data)
    assert len(sigs) == 1
    assert (sigs[0].count, sigs[0].runs, sigs[0].steps) == (2, 2, ["scratch-dir-cleanup/size"])
    assert "<path>" in sigs[0].pattern and str(dirs[0]) not in sigs[0].pattern
    assert [c.cause for c in causes] == ["guide_defect", "guide_defect"]
    assert causes[0].evidence[0].step_id == "size" and causes[0].evidence[0].line == line
    assert "--help" in causes[0].evidence[0].message
    # The shipped guide, corrected, on another directory: the failure is fixed, and how
    fixed = mendflow(data, "run", str(CLEANUP), "-i", f"scratch_dir={dirs[2]}", "--yes")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    fixed_run = last_run_id(data)
    sigs, _ = lessons(data)
    assert len(sigs) == 1 and {f.fixed_run_id for f in sigs[0].fixes} == {fixed_run}
    changes = sigs[0].fixes[0].changes
    assert any(c.startswith("input scratch_dir:") for c in changes), changes
    assert any(c.startswith("guide changed (plan ") for c in changes), changes
    # A third broken run: `show` and the report say it is known, and what fixed it
    again = mendflow(data, "run", str(broken), "-i", f"scratch_dir={dirs[0]}", "--yes")
    assert again.returncode == 3
    run_id = last_run_id(data)
    show = mendflow(data, "show", run_id)
    assert show.returncode == 0, show.stderr
    text = " ".join(show.stdout.split())
    assert "root cause: guide defect: a usage error at step size" in text
    assert "known failure at size: seen 2 times since" in text
    assert f"last fixed by run {fixed_run} (input scratch_dir:" in text
    report = mendflow(data, "report", run_id)
    assert "- **Root cause:** guide defect: a usage error at step size" in report.stdout
    assert f"`size` (line {line})" in report.stdout
    assert "Known failure: seen 2 times since" in report.stdout
    # `failures` lists the one signature, for the guide and overall; `runs --why` the causes
    listed = json.loads(mendflow(data, "failures", "--guide", "scratch-dir-cleanup",
                                 "--format", "json").stdout)
    assert [(s["count"], s["runs"]) for s in listed] == [(3, 3)]
    assert listed[0]["fixes"][0]["fixed_run_id"] == fixed_run
    assert json.loads(mendflow(data, "failures", "--guide", "no-such-guide", "--format",
                               "json").stdout) == []
    table = mendflow(data, "failures")
    assert table.returncode == 0 and sigs[0].signature in table.stdout
    why = json.loads(mendflow(data, "runs", "--why", "--format", "json").stdout)
    assert [(r["run_id"] == fixed_run, (r["cause"] or {}).get("cause")) for r in why] == [
        (False, "guide_defect"), (True, None), (False, "guide_defect"), (False, "guide_defect")]
    cells = re.sub(r"[│┃]", " ", mendflow(data, "runs", "--why").stdout)
    assert "guide defect: a usage error at step size" in " ".join(cells.split())
    # `lint` points at the line that failed most (info: it does not fail the lint)
    lint = mendflow(data, "lint", str(broken), "--format", "json")
    history = [f for f in json.loads(lint.stdout) if f["rule"] == "MF601"]
    assert [(f["line"], f["step"], f["severity"]) for f in history] == [(line, "size", "info")]
    assert "3 past runs" in history[0]["message"]
    # no store, no history: lint says nothing of runs and creates none
    bare = mendflow(tmp_path / "elsewhere", "lint", str(broken), "--format", "json")
    assert not [f for f in json.loads(bare.stdout) if f["rule"] == "MF601"]
    assert not (tmp_path / "elsewhere" / "mendflow.sqlite3").exists()


# -- a secret in an error ------------------------------------------------------------------------


def test_a_secret_in_an_error_is_in_no_signature_cause_or_output(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = tmp_path / "mendflow.toml"
    config.write_text('[datasources.vault_db]\ntype = "postgresql"\n'
                      'url = "postgresql://app@127.0.0.1:9/app"\npassword_env = "MF_TEST_PW"\n')
    env = {"MENDFLOW_CONFIG_FILE": str(config), "MF_TEST_PW": SECRET}
    missing = tmp_path / f"{SECRET}-dir"  # never made: du's error names it
    for _ in range(2):
        proc = mendflow(data, "run", str(CLEANUP), "-i", f"scratch_dir={missing}", **env)
        assert proc.returncode == 4, proc.stdout + proc.stderr  # inconclusive: du failed
    sigs, causes = lessons(data)
    assert len(sigs) == 1 and sigs[0].count == 2
    assert "***" in sigs[0].example and causes[0].evidence
    assert SECRET not in dump(data)
    for args in (["failures", "--format", "json"], ["runs", "--why", "--format", "json"],
                 ["show", last_run_id(data)], ["report", last_run_id(data)]):
        shown = mendflow(data, *args, **env)
        assert shown.returncode == 0 and SECRET not in shown.stdout + shown.stderr


# -- environment: the data sources are unreachable ----------------------------------------------


def test_unreachable_data_sources_are_the_environment(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = tmp_path / "mendflow.toml"
    config.write_text('[datasources.metrics]\ntype = "prometheus"\nurl = "http://127.0.0.1:9"\n\n'
                      '[datasources.requests_db]\ntype = "postgresql"\n'
                      'url = "postgresql://app@127.0.0.1:9/requests"\n'
                      'password_env = "MF_TEST_PW"\n')
    proc = mendflow(data, "run", str(WEB), "-i", "service=checkout",
                    MENDFLOW_CONFIG_FILE=str(config), MF_TEST_PW=SECRET)
    record_id = last_run_id(data)
    assert proc.returncode != 0
    _, causes = lessons(data)
    assert [(c.run_id, c.cause) for c in causes] == [(record_id, "environment")]
    assert "unreachable" in causes[0].summary
    checks = {"error_ratio", "ratio_by_version", "errors_by_endpoint", "new_version"}
    assert causes[0].evidence and {e.step_id for e in causes[0].evidence} <= checks
    assert all("unreachable" in e.message or "connect" in e.message.lower()
               for e in causes[0].evidence)
    assert SECRET not in dump(data)


# -- a broken query on a real Prometheus and PostgreSQL ------------------------------------------


def _postgres_reachable() -> bool:
    async def probe() -> None:
        conn = await asyncpg.connect(PG_URL, timeout=3)
        await conn.close()
    try:
        asyncio.run(probe())
        return True
    except Exception:  # noqa: BLE001 - any failure means: no server to test against
        return False


@pytest.mark.slow
@pytest.mark.skipif(not prometheus_available(), reason=MISSING_REASON)
@pytest.mark.skipif(not _postgres_reachable(), reason=f"no PostgreSQL at {PG_URL}")
def test_a_broken_sql_query_is_a_guide_defect_on_real_sources(tmp_path: Path) -> None:
    data = tmp_path / "data"
    broken, line = broken_copy(WEB, tmp_path / "web.md", "   SELECT version, path,",
                               "   SELEC version, path,")
    # the service's requests, 5xx on its new version: the queries find what they look for
    # (a metric with no series is no evidence, and the run would stop there, at Prometheus)
    samples = [line for version, code, rate in (("v1", "200", 10), ("v2", "200", 5),
                                                ("v2", "500", 2))
               for line in rising_counter("http_requests_total", {
                   "service": "checkout", "version": version, "code": code}, per_second=rate)]
    requests = openmetrics_document({"http_requests": ("counter", samples)})
    with running_prometheus(tmp_path / "prometheus", openmetrics=requests) as prometheus:
        config = tmp_path / "mendflow.toml"
        config.write_text(f'[datasources.metrics]\ntype = "prometheus"\n'
                          f'url = "{prometheus.url}"\n\n[datasources.requests_db]\n'
                          f'type = "postgresql"\nurl = "{PG_URL}"\n')
        for _ in range(2):  # the broken query is not read-only SQL: it needs its approval
            proc = mendflow(data, "run", str(broken), "-i", "service=checkout", "--yes",
                            MENDFLOW_CONFIG_FILE=str(config))
            assert proc.returncode == 3, proc.stdout + proc.stderr
    sigs, causes = lessons(data)
    assert [c.cause for c in causes] == ["guide_defect", "guide_defect"]
    evidence = causes[0].evidence[0]
    assert evidence.step_id == "errors_by_endpoint"
    assert evidence.line is not None and line - 2 <= evidence.line <= line  # its SQL block
    assert 'syntax error at or near "SELEC"' in evidence.message
    assert [(s.count, s.steps) for s in sigs] == [(2, ["web-5xx-after-deploy/errors_by_endpoint"])]
    assert sigs[0].pattern == 'SQL syntax error: syntax error at or near "<q>". Fix the query'


# -- the operator and the engine, on the local executor in this process -------------------------


class Denier(Answers):
    """A person who denies every approval."""

    async def approve(self, *, step: Step, action: str, commands: Sequence[str] = ()) -> Answer:
        return Answer(yes=False, by="alice")


class FaultyShell(ShellPlugin):
    """The shell plugin with a bug injected: it raises on `find`."""

    name: ClassVar[str] = "shell"

    async def run(self, *, params: ShellParams, ctx: StepContext) -> StepResult:
        if params.pipeline and params.pipeline[0][0] == "find":
            raise RuntimeError("injected fault: list index out of range")
        return await super().run(params=params, ctx=ctx)


async def _run_cleanup(tmp_path: Path, scratch: Path, *, interaction: Any = None,
                       extra: dict[str, type[Any]] | None = None,
                       store_name: str = "store.sqlite3") -> tuple[Any, Any]:
    store = open_store(tmp_path / store_name)
    await store.open()
    services = build_services(Settings(data_dir=tmp_path), store, Registry(extra=extra))
    executor = LocalExecutor(services, interaction=interaction or Answers())
    plan = compile_path(CLEANUP)
    record = await executor.start(plan, guide_path=str(CLEANUP),
                                  inputs={"scratch_dir": str(scratch), "max_size_mb": "1"})
    return store, record


def _scratch(tmp_path: Path) -> Path:
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    (scratch / "old.bin").write_bytes(os.urandom(2_000_000))
    month_ago = 1_700_000_000
    os.utime(scratch / "old.bin", (month_ago, month_ago))
    return scratch


async def test_a_denied_approval_is_the_operators(tmp_path: Path) -> None:
    scratch = _scratch(tmp_path)
    store, record = await _run_cleanup(tmp_path, scratch, interaction=Denier())
    try:
        assert (record.status, record.outcome) == ("succeeded", "escalate")
        assert (scratch / "old.bin").exists()
        (cause,) = await store.run_causes()
        assert cause.cause == "operator" and "approval denied" in cause.summary
        assert cause.evidence[0].message == "approval denied by alice"
        assert cause.evidence[0].step_id.startswith("approve-")
        (sig,) = await store.signatures()
        assert sig.pattern == "approval denied"  # who denied is not part of it
        # learning again from the same run changes nothing (a redelivered end)
        await learn_from_run(store, record.run_id)
        assert [(s.count, s.runs) for s in await store.signatures()] == [(1, 1)]
    finally:
        await store.close()


async def test_an_injected_engine_fault_is_the_engines(tmp_path: Path) -> None:
    scratch = _scratch(tmp_path)
    store, record = await _run_cleanup(tmp_path, scratch, extra={"shell": FaultyShell})
    try:
        assert record.outcome != "mitigated"
        (cause,) = await store.run_causes()
        assert cause.cause == "engine", cause
        assert cause.evidence[0].step_id == "old"
        assert cause.evidence[0].message == "RuntimeError: injected fault: list index out of range"
        (sig,) = await store.signatures()
        assert sig.pattern == "RuntimeError: injected fault: list index out of range"
        assert sig.count >= 1 and sig.steps == ["scratch-dir-cleanup/old"]
    finally:
        await store.close()
