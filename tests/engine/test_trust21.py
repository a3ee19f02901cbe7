r"""Trust, session 21: a number that was no number, a detector that saw nothing, a history cut
short.

1. A condition's `int` and `float` (Jinja2's) read anything that is not a number as 0: "If the
   disk is full (`steps.x.stdout | int > 90`), escalate. Otherwise, no action is needed" ended
   the run `no_action` when the check printed nothing, `91%`, an error message (exit 0), or a
   query's NULL. Such a value is an error now: the step that decides fails and the run is
   `inconclusive`, saying which value; `int(0)` says what it means where the guide means it.
2. A detector that watched fewer samples than its window (an empty recording, a stream that
   ended at once) reported "no alarm", and "If the detector did not fire, the part is in"
   ended the run `resolved` on nothing watched. With no alarm over too little data the detect
   step fails (the run is `inconclusive`), saying how many samples against which window; an
   alarm within them is still an alarm.
3. A history cut short (the events after the last state snapshot gone: a truncated events
   table, a restore that lost its tail) was replayed as it was: a run killed after an
   approval and the change it let through had finished resumed with the approval pending, and
   `resume --yes` approved and made the change again. The run's memory is written in the
   commit that records a step's finish: a step whose result memory holds while the history
   read back has not finished it means events are missing, and the run is not resumed (one
   line, exit 5); nothing runs again.
4. A run's stored plan edited between a kill and the resume (a step's command changed in the
   store) was resumed as it now read: the operator's `auto_approve` policy, given for the plan
   the run started with, passed the edited command, and it ran. A stored plan whose data does
   not hash to the name the run knows it by is refused (one line, exit 5).
5. An `http` step that changes the world (a POST behind an approval, `{#restart retries=3}`)
   whose server took the request and dropped the connection before answering (a proxy's
   reset, a server restarting itself) was retried as if nothing had been sent: only a timeout
   counted as sent, and the POST went out three times. A request cut off after it was sent
   (the connection lost while writing it or reading the answer) leaves its effect unknown: a
   change is not tried again by itself.
6. A dry run that did not run a change concluded as if it had: "Flush the cache; if the errors
   stopped, the incident is resolved" ended `resolved` (exit 0) on errors that had stopped
   by themselves, the flush never made. A good ending (`resolved`, `mitigated`,
   `no_action`) reached after a step the dry run did not run (a change, its approval, a
   person's action) is `inconclusive`, naming that step.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from engine.compile import compile_guide
from engine.errors import ConditionError
from engine.guide import parse_guide
from engine.store.base import RunRecord
from engine.templating import evaluate
from tests.support.killed import (
    CHANGE_THEN_WAIT,
    assert_one_line_error,
    killed_run,
    mendflow,
    restart_over_http,
)
from tests.support.running import run_locally

# -- 1. a number that is no number ---------------------------------------------------------------

DISK_GUIDE = """# Disk

## Diagnosis

1. Read the root file system's usage {{#usage}}:

   ```bash
   cat {usage}
   ```

2. If the disk is full (`steps.usage.stdout | {conv} > 90`), escalate to the storage team.

3. Otherwise, no action is needed.
"""


@pytest.mark.parametrize("printed", ["", "N/A\n", "91%\n", "No resources found in x namespace.\n",
                                     "<html><body>502 Bad Gateway</body></html>\n"])
@pytest.mark.parametrize("conv", ["int", "float"])
def test_a_number_read_from_what_is_no_number_concludes_nothing(tmp_path: Path, printed: str,
                                                                 conv: str) -> None:
    # Given a check whose output is not a number (empty, a unit, an error message at exit 0)
    usage = tmp_path / "usage"
    usage.write_text(printed)
    plan = compile_guide(parse_guide(DISK_GUIDE.format(usage=usage, conv=conv), path="g.md"))
    # When the guide compares it with a threshold
    record = run_locally(plan, tmp_path)
    # Then the run draws no conclusion (before: 0 > 90 was false, and it ended no_action)
    assert record.outcome == "inconclusive", (printed, record.outcome, record.reason)
    assert "is not a number" in (record.reason or ""), record.reason


def test_a_number_still_decides(tmp_path: Path) -> None:
    usage = tmp_path / "usage"
    plan = compile_guide(parse_guide(DISK_GUIDE.format(usage=usage, conv="int"), path="g.md"))
    usage.write_text("95\n")
    assert run_locally(plan, tmp_path).outcome == "escalate"
    usage.write_text(" 40\n")
    assert run_locally(plan, tmp_path).outcome == "no_action"


@pytest.mark.parametrize("expr", ["x | int > 90", "x | float > 90", "n | float < 5",
                                  "n | int == 0"])
def test_int_and_float_of_what_is_no_number_is_an_error(expr: str) -> None:
    with pytest.raises(ConditionError, match="is not a number"):
        evaluate(expr, {"x": "", "n": None})


@pytest.mark.parametrize(("expr", "value"), [
    ("x | int(0) > 90", False), ("n | float(100) > 90", True), ("'42.7' | int == 42", True),
    ("'0x1f' | int(0, 16) == 31", True), ("true | int == 1", True), ("' 7\n' | float == 7", True),
])
def test_int_and_float_with_a_default_or_a_number_decide(expr: str, value: bool) -> None:
    assert evaluate(expr, {"x": "", "n": None}) is value


# -- 2. a detector that saw too little ----------------------------------------------------------

DETECT_GUIDE = """# Press

## Diagnosis

1. Watch the press {{#watch}}:

   ```detect
   detector: threshold
   source: {source}
   threshold: 5
   window: 10
   ```

2. If the detector fired (`steps.watch.alarm`), escalate to the cell's owner.

3. Otherwise, the press went well: no action is needed.
"""

CHANNELS = ["fx", "fy", "fz", "tx", "ty", "tz"]


def _recording(path: Path, forces: list[float]) -> Path:
    header = {"mendflow_run": 1, "channels": CHANNELS, "label": None}
    rows = [[i * 0.02, f, 0, 0, 0, 0, 0] for i, f in enumerate(forces)]
    path.write_text("\n".join(json.dumps(r) for r in [header, *rows]) + "\n")
    return path


@pytest.mark.parametrize("samples", [0, 1, 9])
def test_no_alarm_over_too_little_data_concludes_nothing(tmp_path: Path, samples: int) -> None:
    # Given a recording shorter than the detector's window (none of it over the threshold)
    source = _recording(tmp_path / "attempt.jsonl", [0.1] * samples)
    plan = compile_guide(parse_guide(DETECT_GUIDE.format(source=source), path="g.md"),
                         known_plugins={"threshold"})
    # When the guide concludes on the detector's silence
    record = run_locally(plan, tmp_path)
    # Then nothing is concluded (before: no alarm, and the run ended no_action)
    assert record.outcome == "inconclusive", (record.outcome, record.reason)
    assert "too little data" in (record.reason or "")
    assert f"{samples} sample(s), fewer than its window of 10" in (record.reason or "")


def test_enough_data_or_an_alarm_still_concludes(tmp_path: Path) -> None:
    source = tmp_path / "attempt.jsonl"
    plan = compile_guide(parse_guide(DETECT_GUIDE.format(source=source), path="g.md"),
                         known_plugins={"threshold"})
    _recording(source, [0.1] * 10)
    assert run_locally(plan, tmp_path).outcome == "no_action"
    _recording(source, [0.1, 0.1, 90.0])  # fired within fewer samples than its window
    assert run_locally(plan, tmp_path).outcome == "escalate"


def test_the_detector_says_how_little_it_saw(tmp_path: Path) -> None:
    from engine.errors import StepFailed
    from engine.plugins import parse_params
    from tests.plugins.detectors.helpers import REGISTRY, ctx

    source = _recording(tmp_path / "attempt.jsonl", [])
    params = parse_params(REGISTRY.get("threshold"), {"source": str(source), "threshold": 5,
                                                      "window": 25}, step="watch")
    with pytest.raises(StepFailed, match="too little data: 0 sample"):
        asyncio.run(REGISTRY.instance("threshold").run(params=params, ctx=ctx()))


# -- 3. a history cut short -----------------------------------------------------------------------



def test_a_history_cut_short_is_refused_and_the_change_not_made_again(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    # Given a run killed (SIGKILL) after its approved change was made and recorded
    db, run_id, env = killed_run(tmp_path, CHANGE_THEN_WAIT.format(ledger=ledger), "settle",
                                  "--yes")
    assert ledger.read_text() == "restarted\n"
    # and its events after the last snapshot lost (the approval and the change among them)
    with sqlite3.connect(db) as conn:
        cut = conn.execute("DELETE FROM events WHERE seq > (SELECT state_seq FROM snapshots)")
        assert cut.rowcount >= 3
    conn.close()
    # When it is resumed, approvals given
    resumed = mendflow(env, "resume", run_id, "--yes")
    # Then it is refused in one line, exit 5, and the change is not made again
    assert ledger.read_text() == "restarted\n", resumed.stdout + resumed.stderr
    assert_one_line_error(resumed, 5, "events that say so are missing")


# -- 4. a stored plan edited ----------------------------------------------------------------------

WAIT_THEN_CHANGE = """# Restart

## Mitigation

1. Let the queue drain {{#drain}}:

   ```bash
   sleep 5
   ```

2. Record the restart {{#record}}:

   ```bash
   echo restarted >> {ledger}
   ```
"""


def test_a_stored_plan_edited_between_kill_and_resume_is_refused(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    policy = tmp_path / "mendflow.toml"
    policy.write_text('[policy]\nauto_approve = ["*"]\n')
    # Given a run the operator's policy lets change the world, killed before the change
    db, run_id, env = killed_run(tmp_path, WAIT_THEN_CHANGE.format(ledger=ledger), "drain",
                                  env={"MENDFLOW_CONFIG_FILE": str(policy)})
    # and its stored plan edited: the change is another command now
    with sqlite3.connect(db) as conn:
        edited = conn.execute("UPDATE plans SET json = replace(json, 'echo restarted', "
                              "'echo WIPED')")
        assert edited.rowcount == 1
    conn.close()
    # When it is resumed
    resumed = mendflow(env, "resume", run_id)
    # Then it is refused in one line, exit 5: the policy approved the plan it was given, not
    # this one (before: the edited command ran, approved by the policy)
    assert not ledger.exists(), ledger.read_text()
    assert_one_line_error(resumed, 5, "was changed since it was saved")
    assert mendflow(env, "show", run_id).returncode == 5


# -- 5. a change whose connection dropped after it was sent ---------------------------------------



async def _hang_up_server(received: list[bytes]) -> asyncio.Server:
    """Takes each request whole, then closes the connection without an answer."""
    async def take(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        received.append(head + await reader.readexactly(length))
        writer.close()
    return await asyncio.start_server(take, "127.0.0.1", 0)


def test_a_change_whose_answer_was_lost_after_it_was_sent_is_not_sent_again(
        tmp_path: Path) -> None:
    # Given a gated POST, retried up to three times, whose server hangs up once it has it
    received, record = restart_over_http(tmp_path, _hang_up_server)
    # Then it was sent once (before: three times), and the run says its outcome is unknown
    assert len(received) == 1, [r.split(b"\r\n", 1)[0] for r in received]
    assert received[0].startswith(b"POST /restart")
    restart = record.state["steps"]["restart"]
    assert restart["status"] == "failed" and restart["attempt"] == 1, restart
    assert "may have done so" in restart["error"], restart
    assert record.outcome not in ("resolved", "no_action"), record.reason


# -- 6. a dry run's conclusion after a change it did not make --------------------------------------

FLUSH_THEN_CHECK = """# Cache

## Mitigation

1. Flush the cache {{#flush}}:

   ```bash
   echo flushed >> {ledger}
   ```

2. Count the errors since {{#errors}}:

   ```bash
   cat {errors}
   ```

3. If the errors stopped (`steps.errors.stdout | trim == "0"`), the incident is resolved.

4. Otherwise, escalate to the cache's owner.
"""


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_dry_run_concludes_nothing_after_a_change_it_did_not_make(tmp_path: Path,
                                                                     dry_run: bool) -> None:
    from engine.interaction import Answers
    from engine.plugins import default_registry
    from engine.runtime.executor import LocalExecutor
    from engine.runtime.services import Services
    from engine.settings import Settings
    from engine.store import open_store
    from engine.store.base import RunOptions

    ledger, errors = tmp_path / "ledger", tmp_path / "errors"
    errors.write_text("0\n")  # the errors had stopped by themselves
    plan = compile_guide(parse_guide(FLUSH_THEN_CHECK.format(ledger=ledger, errors=errors),
                                     path="g.md"))

    async def go() -> RunRecord:
        store = open_store(tmp_path / "s.sqlite3")
        await store.open()
        try:
            executor = LocalExecutor(Services(store=store, registry=default_registry(),
                                              settings=Settings(data_dir=tmp_path)),
                                     interaction=Answers(assume_yes=True))
            return await executor.start(plan, guide_path="g.md",
                                        options=RunOptions(dry_run=dry_run))
        finally:
            await store.close()

    record = asyncio.run(go())
    if dry_run:
        # Then the dry run draws no conclusion, and says which step it did not run
        assert not ledger.exists()
        assert record.outcome == "inconclusive", (record.outcome, record.reason)
        assert "the dry run did not run step 'flush'" in (record.reason or ""), record.reason
    else:  # the real run made the change, and concludes on it
        assert ledger.read_text() == "flushed\n"
        assert record.outcome == "resolved", record.reason
