"""What runs teach, through `mendflow serve`: the run JSON carries the root cause and the
failures other runs had too ("seen N times since ...; last fixed by ..."), and so do the UI's
run page and the report."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from engine.compile import compile_path
from engine.plugins import default_registry
from engine.runtime.executor import LocalExecutor
from engine.runtime.services import answers_for, build_services
from engine.settings import Settings
from engine.store.base import RunOptions, RunRecord

from .conftest import VIEWER_TOKEN, bearer
from .test_ui import login

CLEANUP = Path(__file__).resolve().parents[2] / "guides" / "sre" / "scratch-dir-cleanup.md"


async def test_the_run_json_page_and_report_show_the_cause_and_the_known_failure(
        client: httpx.AsyncClient, tmp_path: Path) -> None:
    store = client.store  # type: ignore[attr-defined]
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    services = build_services(Settings(data_dir=tmp_path / "data"), store, default_registry())
    plan = compile_path(CLEANUP)
    inputs = {"scratch_dir": str(scratch), "max_size_mb": "1"}

    async def run(options: RunOptions) -> RunRecord:
        (scratch / "old.bin").write_bytes(b"x" * 2_000_000)
        os.utime(scratch / "old.bin", (1_700_000_000, 1_700_000_000))
        executor = LocalExecutor(services, interaction=answers_for(options))
        return await executor.start(plan, guide_path=str(CLEANUP), inputs=inputs,
                                    options=options)

    first = await run(RunOptions())  # no one to approve the delete: escalate
    fixed = await run(RunOptions(assume_yes=True))
    again = await run(RunOptions())
    assert (first.outcome, fixed.outcome, again.outcome) == ("escalate", "mitigated", "escalate")

    got = await client.get(f"/api/v1/runs/{again.run_id}", headers=bearer(VIEWER_TOKEN))
    assert got.status_code == 200, got.text
    run = got.json()
    assert run["cause"]["cause"] == "operator"
    assert run["cause"]["evidence"][0]["step_id"].startswith("approve-")
    (known,) = run["recurring"]
    assert known["step"] == run["cause"]["evidence"][0]["step_id"] and known["count"] == 1
    assert known["note"].startswith("seen 1 time since ")
    assert f"last fixed by run {fixed.run_id} (approved every gate (--yes))" in known["note"]
    healthy = (await client.get(f"/api/v1/runs/{fixed.run_id}",
                                headers=bearer(VIEWER_TOKEN))).json()
    assert (healthy["cause"], healthy["recurring"]) == (None, [])

    report = await client.get(f"/api/v1/runs/{again.run_id}/report",
                              headers=bearer(VIEWER_TOKEN))
    assert "- **Root cause:** operator: a question no one answered" in report.text
    assert "Known failure: seen 1 time since" in report.text

    await login(client, VIEWER_TOKEN)
    page = await client.get(f"/ui/runs/{again.run_id}")
    assert page.status_code == 200
    assert 'data-cause="operator"' in page.text and "Root cause" in page.text
    assert f"last fixed by run {fixed.run_id}" in page.text
