"""The bash plugin runs a guide's shell line verbatim with real bash: values stay data, a
value that would split or glob is refused, and a dry run cannot write."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import PluginError, StepFailed
from engine.plugins import Registry, StepContext, parse_params
from plugins.bash import BashPlugin

HOSTILE = "x;touch${IFS}/tmp/mendflow-pwned;$(id)`id`"


def ctx(dry_run: bool = False) -> StepContext:
    return StepContext(run_id="r1", step_id="s1", attempt=1, idempotency_key="k",
                       deadline_s=10.0, dry_run=dry_run)


async def run(script: str, args: dict[str, str] | None = None, dry_run: bool = False):
    params = parse_params(BashPlugin, {"script": script, "args": args or {}})
    return await BashPlugin().run(params=params, ctx=ctx(dry_run))


async def test_the_line_runs_in_bash_with_its_substitutions_and_loops() -> None:
    res = await run("for i in $(seq 1 3); do echo n$i; done | wc -l")
    assert res.ok and res.outputs["stdout"].strip() == "3"
    assert res.outputs["argv"] == [["bash", "-c", "for i in $(seq 1 3); do echo n$i; done | wc -l"]]


async def test_a_hostile_value_is_data_never_code(tmp_path: Path) -> None:
    canary = Path("/tmp/mendflow-pwned")
    canary.unlink(missing_ok=True)
    res = await run('printf "%s" "$NAME"', {"NAME": HOSTILE})
    assert res.ok and res.outputs["stdout"] == HOSTILE
    assert not canary.exists()


async def test_a_value_that_would_split_or_glob_fails_the_step_saying_so() -> None:
    for value in ("a b", "*", "x\ny", "[ab]"):
        with pytest.raises(StepFailed) as failed:
            await run("ls $DIR", {"DIR": value})
        assert "not one word" in str(failed.value) and not failed.value.retryable


def test_a_name_the_shell_uses_is_refused() -> None:
    for name in ("PATH", "IFS", "BASH_ENV", "LD_PRELOAD", "x; rm"):
        with pytest.raises(PluginError):
            parse_params(BashPlugin, {"script": "ls", "args": {name: "/tmp"}})


async def test_the_exit_status_is_the_world_answer() -> None:
    res = await run("grep -q nothing-like-this /etc/hostname")
    assert not res.ok and res.outputs["exit_code"] == 1


async def test_a_dry_run_cannot_write(tmp_path: Path) -> None:
    target = tmp_path / "written"
    res = await run(f"echo x > {target}", dry_run=True)
    assert not res.ok and not target.exists()
    assert "read-only" in (res.error or "")


def test_it_is_registered_and_takes_its_script_verbatim() -> None:
    text = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    assert 'bash = "plugins.bash:BashPlugin"' in text
    assert Registry(extra={"bash": BashPlugin}).get("bash") is BashPlugin
    assert "script" in BashPlugin.untemplated_params


async def test_a_line_that_is_a_pipeline_is_judged_by_every_stage(tmp_path: Path) -> None:
    """`grep x app.log 2>/dev/null | tail -5` whose grep found no file printed nothing: no
    evidence that the log is clean (bash's own status, tail's 0, said so before)."""
    missing = tmp_path / "no-such.log"
    res = await run(f"grep -i error {missing} 2>/dev/null | tail -5")
    assert not res.ok and res.outputs["exit_code"] == 0
    assert f"grep -i error {missing} (stage 1 of 2) exited with status 2" in res.error
    assert res.outputs["stderr"] == ""  # the statuses' line is the engine's, not the output's
    assert res.summary.startswith("exit 2 at stage 1")
    log = tmp_path / "app.log"
    log.write_text("all good\n")
    res = await run(f"grep -i error {log} | tail -5")  # grep's 1: nothing matched, an answer
    assert res.ok and res.outputs["stdout"] == ""
    res = await run(f"cat {log} | grep -c good")
    assert res.ok and res.outputs["stdout"] == "1\n"
    res = await run("yes | head -n 2")  # head closed the pipe on yes
    assert res.ok and res.outputs["stdout"] == "y\ny\n"


async def test_a_pipeline_lines_stderr_and_status_are_its_own() -> None:
    res = await run("echo oops >&2; false | cat")
    assert res.ok  # not one pipeline: bash's status (cat's 0) is the line's, as before
    res = await run("printf 'warn\\n' >&2 | cat; exit 3")
    assert not res.ok and res.outputs["exit_code"] == 3
    res = await run("sh -c 'echo boom >&2; exit 4' | cat")
    assert not res.ok and "boom" in res.outputs["stderr"] and "pipestatus" not in \
        res.outputs["stderr"]
    assert "(stage 1 of 2) exited with status 4" in res.error and res.error.endswith("boom")


async def test_a_command_that_fails_inside_any_other_line_fails_the_step(tmp_path: Path) -> None:
    """A loop, a `$(...)` or a list whose last command succeeded hid every failure before it:
    `for f in a.log b.log; do grep -c ERROR "$f"; done` with b.log missing printed "0" and
    succeeded, and "If it prints 0, no action is needed" ended the run healthy."""
    log, missing = tmp_path / "a.log", tmp_path / "b.log"
    log.write_text("all good\n")
    res = await run(f'for f in {log} {missing}; do grep -c ERROR "$f"; done; echo counted')
    assert not res.ok and res.outputs["exit_code"] == 0
    assert res.error.startswith('`grep -c ERROR "$f"` exited with status 2 inside `for f in')
    assert res.error.endswith("No such file or directory")
    assert "mendflow-failed" not in res.outputs["stderr"]  # the engine's lines are taken out
    assert res.outputs["stderr"] == f"grep: {missing}: No such file or directory\n"
    assert res.summary.startswith("exit 2 inside the line")
    res = await run(f'echo "errors: $(grep -c ERROR {missing})"')
    assert not res.ok and "`grep -c ERROR" in res.error and "status 2" in res.error
    res = await run(f"n=$(cat {missing} 2>/dev/null); echo \"[$n]\"")
    assert not res.ok and res.error.startswith(f"`cat {missing} 2> /dev/null` exited with "
                                               "status 1")


@pytest.mark.parametrize("line", [
    'for f in {log} {log}; do grep -c ERROR "$f"; done; echo counted',  # grep's 1: no match
    'n=$(grep -c ERROR {log}); echo "errors: $n"',
    '[[ -f {log}.old ]]; echo checked',
    'read -r first < /dev/null; echo "first: $first"',
    'grep -q ERROR {log} || echo clean; echo done',
    'ls {log}.old 2>/dev/null && echo old; echo done',  # an && list's first: not reported
    'x=$(yes | head -n 1); echo "$x"',
])
async def test_an_answer_inside_a_line_is_no_failure(tmp_path: Path, line: str) -> None:
    log = tmp_path / "a.log"
    log.write_text("all good\n")
    res = await run(line.format(log=log))
    assert res.ok, res.error
    assert "mendflow-failed" not in res.outputs["stderr"]


def test_a_guide_whose_loop_missed_a_log_is_not_healthy(tmp_path: Path) -> None:
    from tests.support.compiling import compile_text
    from tests.support.running import run_locally

    log, missing = tmp_path / "a.log", tmp_path / "b.log"
    log.write_text("all good\n")
    guide = ("# Errors\n\n## Diagnosis\n\n1. Count the errors in each log {{#count}}:\n\n"
             "   ```bash\n   for f in {logs}; do grep -c ERROR \"$f\"; done; echo counted\n"
             "   ```\n\n2. If it prints 0, no action is needed.\n\n"
             "3. Otherwise, escalate to the app team.\n")
    record = run_locally(compile_text(guide.format(logs=f"{log} {log}")), tmp_path / "ok")
    assert record.outcome == "no_action", record.reason  # both logs read: 0 is an answer
    record = run_locally(compile_text(guide.format(logs=f"{log} {missing}")), tmp_path / "bad")
    assert record.outcome == "inconclusive", record.reason  # it ended no_action before
    assert "exited with status 2 inside" in (record.reason or "")


async def test_the_line_runs_in_its_working_directory(tmp_path: Path) -> None:
    """After the guide's `cd DIR` the line runs there (a line that needs bash became a
    person's step after any `cd`: bash took no directory)."""
    (tmp_path / "app.log.1").write_text("x")
    params = parse_params(BashPlugin, {"script": "ls app.log* | wc -l", "cwd": str(tmp_path)})
    res = await BashPlugin().run(params=params, ctx=ctx())
    assert res.ok and res.outputs["stdout"].strip() == "1"
    gone = parse_params(BashPlugin, {"script": "ls", "cwd": str(tmp_path / "gone")})
    with pytest.raises(StepFailed, match="working directory does not exist"):
        await BashPlugin().run(params=gone, ctx=ctx())
