"""A run never concludes "healthy" from a pipeline whose first stage failed: `curl URL | grep
error` that finds nothing because curl could not connect is no evidence. Before, the step's
status was its last stage's (grep's 1: "nothing matched", an answer), the output was empty,
and "If nothing is returned, no action is needed" ended the run `no_action`."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from engine.compile import compile_guide
from engine.guide import parse_guide
from engine.plugins import default_registry
from engine.runtime.executor import LocalExecutor
from engine.runtime.services import Services
from engine.settings import Settings
from engine.store import open_store
from engine.store.base import RunRecord

GUIDE = """# Errors on the API

## Diagnosis

1. Look for errors in the API's log:

   ```
   {feed} | grep -i error
   ```

   If nothing is returned, no action is needed. Otherwise, escalate to the API team.
"""


def _run(tmp_path: Path, feed: str) -> RunRecord:
    plan = compile_guide(parse_guide(GUIDE.format(feed=feed), path="g.md"))

    async def go() -> RunRecord:
        store = open_store(tmp_path / "s.sqlite3")
        await store.open()
        try:
            ex = LocalExecutor(Services(store=store, registry=default_registry(),
                                        settings=Settings(data_dir=tmp_path)))
            return await ex.start(plan, guide_path="g.md")
        finally:
            await store.close()
    return asyncio.run(go())


def test_a_log_that_could_not_be_read_is_no_evidence_of_health(tmp_path: Path) -> None:
    record = _run(tmp_path, f"cat {tmp_path / 'no-such-api.log'}")
    assert record.outcome != "no_action", record.reason
    assert record.outcome == "inconclusive"
    assert "stage 1 of 2) exited with status 1" in (record.reason or "")


@pytest.mark.parametrize("lines, outcome", [("all good", "no_action"),
                                            ("ERROR upstream reset", "escalate")])
def test_a_log_that_was_read_still_decides(tmp_path: Path, lines: str, outcome: str) -> None:
    log = tmp_path / "api.log"
    log.write_text(f"{lines}\n")
    record = _run(tmp_path, f"cat {log}")
    assert record.outcome == outcome, record.reason
