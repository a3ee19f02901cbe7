"""A run never concludes "healthy" from a pipeline whose first stage failed: `curl URL | grep
error` that finds nothing because curl could not connect is no evidence. Before, the step's
status was its last stage's (grep's 1: "nothing matched", an answer), the output was empty,
and "If nothing is returned, no action is needed" ended the run `no_action`."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.compile import compile_guide
from engine.guide import parse_guide
from engine.store.base import RunRecord
from tests.support.running import run_locally

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
    return run_locally(plan, tmp_path)


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
