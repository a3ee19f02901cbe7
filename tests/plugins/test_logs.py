"""The logs plugin over real files: formats, time windows, gzip, huge files, the journal."""

from __future__ import annotations

import asyncio
import gzip
import os
import shutil
import tempfile
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest

from engine.errors import PluginError, StepFailed
from engine.plugins import Registry, StepContext, parse_params
from engine.runtime.services import Services
from plugins._logtime import line_time, parse_when
from plugins.logs import LogsPlugin

NOW = datetime.now(UTC)


@pytest.fixture(autouse=True)
def _now() -> None:
    """Each test's log lines are written relative to its own start: a module-level time goes
    stale in a long session, and `since: 15m` windows then miss the lines they should catch."""
    global NOW
    NOW = datetime.now(UTC)


def ctx(deadline_s: float = 30.0) -> StepContext:
    return StepContext(run_id="r1", step_id="s1", attempt=1, idempotency_key="k",
                       deadline_s=deadline_s, dry_run=True)


async def run(params: dict, deadline_s: float = 30.0):
    # The files these tests write live under the temporary directory: the step's root
    params = {"roots": [tempfile.gettempdir()], **params}
    return await LogsPlugin().run(params=parse_params(LogsPlugin, params), ctx=ctx(deadline_s))


def iso(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture
def app_log(tmp_path):
    """An application log with a stack trace whose continuation lines carry no timestamp."""
    path = tmp_path / "app.log"
    path.write_text(
        f"{iso(60)} INFO started\n"
        f"{iso(50)} ERROR db timeout\n"
        f"Traceback (most recent call last):\n"
        f"  ConnectionError: db unreachable\n"
        f"{iso(10)} ERROR db timeout again\n"
        f"  ConnectionError: still unreachable\n"
        f"{iso(1)} INFO recovered\n")
    return path


async def test_counts_matches_and_keeps_the_last_lines(app_log):
    res = await run({"paths": [str(app_log)], "pattern": "ERROR|ConnectionError"})
    assert res.outputs["count"] == 4
    assert res.outputs["count_by_file"] == {str(app_log): 4}
    assert res.outputs["last_lines"][-1] == "  ConnectionError: still unreachable"
    assert datetime.fromisoformat(res.outputs["first_at"]) == NOW - timedelta(minutes=50)
    assert datetime.fromisoformat(res.outputs["last_at"]) == NOW - timedelta(minutes=10)
    assert res.ok


async def test_max_lines_keeps_the_newest(app_log):
    res = await run({"paths": [str(app_log)], "max_lines": 2})
    assert res.outputs["count"] == 7
    assert res.outputs["last_lines"] == ["  ConnectionError: still unreachable",
                                         f"{iso(1)} INFO recovered"]


async def test_since_duration_and_inherited_timestamps(app_log):
    # The continuation line 'still unreachable' has no time: it inherits 10 minutes ago
    res = await run({"paths": [str(app_log)], "pattern": "Connection", "since": "15m"})
    assert res.outputs["count"] == 1
    assert res.outputs["last_lines"] == ["  ConnectionError: still unreachable"]


async def test_since_until_iso_window(app_log):
    res = await run({"paths": [str(app_log)], "since": iso(55), "until": iso(5)})
    lines = res.outputs["last_lines"]
    assert [ln.split(" ", 1)[-1].strip() for ln in lines] == [
        "ERROR db timeout", "(most recent call last):", "ConnectionError: db unreachable",
        "ERROR db timeout again", "ConnectionError: still unreachable"]


async def test_syslog_and_common_log_formats(tmp_path):
    old, recent = NOW - timedelta(hours=3), NOW - timedelta(minutes=2)
    syslog = tmp_path / "syslog"
    syslog.write_text(
        old.astimezone().strftime("%b %e %H:%M:%S") + " host kernel: oom-killer invoked\n" +
        recent.astimezone().strftime("%b %e %H:%M:%S") + " host kernel: oom-killer invoked\n")
    access = tmp_path / "access.log"
    clf = "%d/%b/%Y:%H:%M:%S +0000"
    access.write_text(
        f'10.0.0.1 - - [{old.strftime(clf)}] "GET / HTTP/1.1" 502 0\n'
        f'10.0.0.1 - - [{recent.strftime(clf)}] "GET / HTTP/1.1" 502 0\n'
        f'10.0.0.1 - - [{recent.strftime(clf)}] "GET / HTTP/1.1" 200 0\n')
    res = await run({"paths": [str(tmp_path / "*")], "pattern": r"oom|\" 502 ",
                     "since": "1h"})
    assert res.outputs["count_by_file"] == {str(syslog): 1, str(access): 1}


async def test_gzipped_rotations_are_read_oldest_first(tmp_path):
    rotated = tmp_path / "app.log.1.gz"
    with gzip.open(rotated, "wt") as f:
        f.write(f"{iso(120)} ERROR old one\n")
    current = tmp_path / "app.log"
    current.write_text(f"{iso(1)} ERROR new one\n")
    os.utime(rotated, (NOW.timestamp() - 3600, NOW.timestamp() - 3600))
    res = await run({"paths": [str(tmp_path / "app.log*")], "pattern": "ERROR"})
    assert res.outputs["count"] == 2
    assert res.outputs["last_lines"][-1].endswith("new one")
    assert res.outputs["files"] == [str(rotated), str(current)]


async def test_ignore_case(app_log):
    res = await run({"paths": [str(app_log)], "pattern": "DB TIMEOUT", "ignore_case": True})
    assert res.outputs["count"] == 2
    res = await run({"paths": [str(app_log)], "pattern": "DB TIMEOUT"})
    assert res.outputs["count"] == 0


async def test_no_matching_file_is_a_clear_failure(tmp_path):
    with pytest.raises(StepFailed, match="no log file matches"):
        await run({"paths": [str(tmp_path / "nothing*.log")]})


async def test_corrupt_gzip_is_reported_and_others_still_read(tmp_path, app_log):
    (tmp_path / "bad.gz").write_bytes(b"not gzip at all")
    res = await run({"paths": [str(tmp_path / "*")], "pattern": "recovered"})
    assert res.outputs["count"] == 1
    assert res.outputs["unreadable"][0].startswith(str(tmp_path / "bad.gz"))


async def test_nothing_found_while_a_file_could_not_be_read_is_no_evidence(tmp_path, app_log):
    """"No timeouts" from the files read says nothing of the one that could not be: the step
    fails naming it (it ended with a count of 0 before, and "no errors" read as healthy)."""
    (tmp_path / "bad.gz").write_bytes(b"not gzip at all")
    with pytest.raises(StepFailed, match=r"no line matched in the 1 log files read, but 1 "
                                         r"could not be read: .*bad\.gz"):
        await run({"paths": [str(tmp_path / "*")], "pattern": "no such words here"})


@pytest.mark.parametrize("pattern, message", [
    ("(unclosed", "not valid RE2 syntax"),
    ("x" * 1001, "at most 1000"),
    (r"(a)\1", "no backreferences or lookaround"),
    (r"(?=a)b", "not valid RE2 syntax"),
])
def test_bad_or_dangerous_patterns_are_rejected_at_validation(pattern, message):
    with pytest.raises(PluginError, match="pattern") as err:
        parse_params(LogsPlugin, {"paths": ["/x"], "pattern": pattern})
    assert message in str(err.value)


@pytest.mark.parametrize("bad", [{"paths": ["/x"], "since": "yesterday"}, {}])
def test_bad_window_or_no_source_is_rejected(bad):
    with pytest.raises(PluginError):
        parse_params(LogsPlugin, bad)


@pytest.fixture
def big_log(tmp_path):
    """~50 MB of log, with one 10 MB line that has no newline until its end."""
    path = tmp_path / "big.log"
    line = f"{iso(30)} INFO request served in 12ms by worker-7 ok\n".encode()
    with open(path, "wb") as f:
        block = line * 10_000
        f.writelines(block for _ in range(40_000_000 // len(block)))
        f.write(b"x" * 10_000_000 + b" ERROR needle\n")
        f.write(f"{iso(1)} ERROR needle again\n".encode())
    assert path.stat().st_size > 45_000_000
    return path


@pytest.mark.slow
async def test_fifty_megabyte_file_streams_in_bounded_memory(big_log):
    tracemalloc.start()
    try:
        # (tracemalloc slows every allocation several-fold: a deadline for memory, not speed)
        res = await run({"paths": [str(big_log)], "pattern": "needle|worker-7 ok",
                         "max_lines": 5}, deadline_s=180)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert res.outputs["count"] > 500_000
    assert res.outputs["last_lines"][-1].endswith("ERROR needle again")
    assert peak < 4 * 1024 * 1024


async def test_journal_missing_is_a_clear_failure(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no journalctl on this PATH
    with pytest.raises(StepFailed, match="journal not available here") as err:
        await run({"journal_unit": "nginx.service", "since": "15m"})
    assert err.value.retryable is False


async def test_journal_is_read_through_journalctl_argv(monkeypatch, tmp_path):
    # Given a stand-in journalctl that prints short-iso lines and records its argv
    fake = tmp_path / "journalctl"
    record = tmp_path / "argv"
    fake.write_text("#!/bin/sh\n"
                    f'printf "%s\\n" "$@" > {record}\n'
                    f"echo '{iso(3)[:19]}+0000 host nginx[12]: upstream timed out'\n"
                    f"echo '{iso(2)[:19]}+0000 host nginx[12]: reload ok'\n"
                    "echo '-- No entries --'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    res = await run({"journal_unit": "nginx; rm -rf /", "pattern": "timed out",
                     "since": "15m"})
    assert res.outputs["count_by_file"] == {"journal:nginx; rm -rf /": 1}
    argv = record.read_text().splitlines()
    assert argv[:4] == ["--unit=nginx; rm -rf /", "-o", "short-iso", "--no-pager"]
    assert argv[4] == "--since" and argv[5].startswith("@")


@pytest.mark.skipif(shutil.which("journalctl") is None, reason="needs journalctl")
async def test_real_journalctl_answers_or_says_why_not():
    # a unit the journal never heard of: its silence is no evidence (test_trust16)
    with pytest.raises(StepFailed, match="journal not available here|no entries at all"):
        await run({"journal_unit": "mendflow-test-nonexistent.service", "since": "1m"})


def test_line_time_formats():
    now = datetime(2024, 11, 26, 12, 0, tzinfo=UTC)
    utc = UTC
    assert line_time("2024-11-26T01:31:54.5Z x", now=now) == \
        datetime(2024, 11, 26, 1, 31, 54, 500000, tzinfo=utc)
    assert line_time("[app] 2024-11-26 01:31:54,123+01:00 x", now=now) == \
        datetime(2024, 11, 26, 0, 31, 54, 123000, tzinfo=utc)
    assert line_time('1.2.3.4 - - [26/Nov/2024:01:31:54 +0000] "GET /"', now=now) == \
        datetime(2024, 11, 26, 1, 31, 54, tzinfo=utc)
    dec = line_time("Dec 31 23:59:59 host x", now=now.astimezone())
    assert dec is not None and dec.year == 2023  # not a year in the future
    assert line_time("2024-13-45T99:00:00 not a date", now=now) is None
    assert line_time("plain line", now=now) is None


def test_parse_when():
    now = datetime(2024, 11, 26, 12, 0, tzinfo=UTC)
    assert parse_when("15m", now=now) == now - timedelta(minutes=15)
    assert parse_when("1d", now=now) == now - timedelta(days=1)
    assert parse_when("2024-11-26T01:00:00Z", now=now) == \
        datetime(2024, 11, 26, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="duration"):
        parse_when("soon", now=now)


def test_read_only_and_registered():
    assert LogsPlugin.read_only
    assert Registry(extra={"logs": LogsPlugin}, discover=False).get("logs") is LogsPlugin


# -- where files may be read ------------------------------------------------------------------


@pytest.fixture
def confined_tree(tmp_path):
    """logs/app.log inside the root; secret.txt beside it, outside; a symlink leading out."""
    root = tmp_path / "logs"
    root.mkdir()
    (root / "app.log").write_text(f"{iso(1)} ERROR inside\n")
    (tmp_path / "secret.txt").write_text("ERROR outside: the private file\n")
    (root / "leak.log").symlink_to(tmp_path / "secret.txt")
    return root


@pytest.mark.parametrize("path", ["{root}/../secret.txt", "{root}/../../{name}/secret.txt",
                                  "{root}/leak.log", "{root}/*.log"])
async def test_a_path_that_resolves_outside_the_roots_is_refused(confined_tree, path):
    pattern = path.format(root=confined_tree, name=confined_tree.parent.name)
    with pytest.raises(StepFailed, match="outside the step's roots") as err:
        await LogsPlugin().run(params=parse_params(LogsPlugin, {
            "paths": [pattern], "roots": [str(confined_tree)]}), ctx=ctx())
    assert "\n" not in str(err.value)
    assert str(confined_tree) in str(err.value)


async def test_a_file_under_the_root_is_read(confined_tree):
    res = await LogsPlugin().run(params=parse_params(LogsPlugin, {
        "paths": [f"{confined_tree}/app.log"], "roots": [str(confined_tree)]}), ctx=ctx())
    assert res.outputs["count"] == 1


async def test_the_default_root_is_var_log(tmp_path):
    (tmp_path / "x.log").write_text("line\n")
    params = parse_params(LogsPlugin, {"paths": [str(tmp_path / "x.log")]})
    assert params.roots == ["/var/log"]
    with pytest.raises(StepFailed, match=r"outside the step's roots \(/var/log\)"):
        await LogsPlugin().run(params=params, ctx=ctx())


def test_roots_are_fixed_text():
    assert "roots" in LogsPlugin.untemplated_params
    with pytest.raises(PluginError, match="fixed text"):
        parse_params(LogsPlugin, {"paths": ["/x"], "roots": ["{{ inputs.dir }}"]})


# -- a pattern from an alert label cannot stall the run ---------------------------------------


@pytest.fixture
def pathological_log(tmp_path):
    # Lines that make a backtracking engine explode on (a|a)*c: 2^40 ways to fail per line
    path = tmp_path / "aaa.log"
    path.write_text(("a" * 40 + "\n") * 2000)
    return path


async def test_a_catastrophic_regex_runs_in_linear_time(pathological_log):
    res = await run({"paths": [str(pathological_log)], "pattern": "(a|a)*c"}, deadline_s=5)
    assert res.outputs["count"] == 0


async def test_a_slow_scan_never_blocks_a_parallel_step_and_times_out_at_its_deadline(
        tmp_path):
    # Given a logs step over a big file with a 1 s deadline, beside a healthy 0.5 s step
    from engine.runtime.executor import LocalExecutor
    from engine.settings import Settings
    from engine.store import open_store
    from plugins.shell import ShellPlugin
    from tests.engine.runtime.conftest import edge, end, plan, sh, step

    big = tmp_path / "big.log"
    with open(big, "wb") as f:
        f.writelines([("a" * 30 + " " + "b" * 30 + "\n").encode() * 100_000] * 20)
    logs = step("scan", kind="query", plugin="logs", timeout_s=1.0, params={
        "paths": [str(big)], "roots": [str(tmp_path)], "pattern": "(a|a)*c|(b|b)*d"})
    healthy = sh("healthy", "sleep", "0.5", timeout_s=2.0)
    p = plan([sh("start", "true"), logs, healthy, end("done")],
             [edge("start", "scan"), edge("start", "healthy"), edge("scan", "done"),
              edge("healthy", "done")])
    store = open_store(tmp_path / "store.sqlite3")
    await store.open()
    try:
        ex = LocalExecutor(Services(
            store=store, settings=Settings(data_dir=tmp_path),
            registry=Registry(discover=False, extra={"shell": ShellPlugin,
                                                     "logs": LogsPlugin})))
        # When both run at once
        started = asyncio.get_running_loop().time()
        record = await ex.start(p, guide_path="t.md")
        elapsed = asyncio.get_running_loop().time() - started
    finally:
        await store.close()
    steps = record.state["steps"]
    # Then the healthy step succeeded, the scan stopped at its deadline and said so
    assert steps["healthy"]["status"] == "succeeded"
    assert steps["scan"]["status"] in ("timed_out", "failed")
    assert elapsed < 4, elapsed


@pytest.mark.parametrize("pattern, ignore_case", [
    ("^ERROR", False), ("timeout$", False), ("", False), ("DB.*Timeout", True),
    ("caf\u00e9", True), (r"\bworker-\d+\b", False), ("x*", False),
])
def test_the_fast_match_agrees_with_re2_search(pattern, ignore_case):
    from plugins.logs import _matcher, compile_pattern

    regex = compile_pattern(pattern, ignore_case=ignore_case)
    fast = _matcher(regex)
    for line in ["ERROR db timeout", "an ERROR", "db TIMEOUT", "CAF\u00c9 ok", "worker-7 ok",
                 "", "\xff\xfe not utf-8"]:
        raw = line.encode("utf-8", errors="surrogateescape") if "\xff" not in line \
            else b"\xff\xfe not utf-8"
        assert fast(raw) == (regex.search(raw) is not None), (pattern, line)
