"""The shell plugin runs real processes: injection, pipelines, exit codes, cleanup, caps."""

from __future__ import annotations

import asyncio
import os
import tracemalloc
from pathlib import Path

import pytest

from engine.errors import PluginError, StepFailed
from engine.plugins import Registry, StepContext, parse_params
from plugins.shell import ShellParams, ShellPlugin

pytestmark = pytest.mark.slow


def ctx(deadline_s: float = 10.0, cap: int = 1_000_000) -> StepContext:
    return StepContext(run_id="r1", step_id="s1", attempt=1, idempotency_key="k",
                       deadline_s=deadline_s, output_cap_bytes=cap)


async def run(pipeline, *, deadline_s: float = 10.0, cap: int = 1_000_000, **params):
    p = parse_params(ShellPlugin, {"pipeline": pipeline, **params})
    return await ShellPlugin().run(params=p, ctx=ctx(deadline_s, cap))


def alive(pid: int) -> bool:
    """A process counts as alive unless it is gone or a zombie waiting for init to reap it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


async def wait_for_pids(path: Path, n: int) -> list[int]:
    for _ in range(200):
        if path.exists():
            pids = path.read_text().split()
            if len(pids) >= n:
                return [int(p) for p in pids]
        await asyncio.sleep(0.02)
    raise AssertionError(f"the test command never wrote {n} pids to {path}")


SPAWN_TWO = 'sleep 100 & echo $! >> "$1"; sleep 100 & echo $! >> "$1"; echo $$ >> "$1"; wait'


@pytest.mark.parametrize("evil", ["; rm -rf /", "$(id)", "`id`", "a | b", "&& echo pwned",
                                  "> /tmp/x", "*", "'\"", "$HOME", "\n"])
async def test_a_rendered_value_stays_one_literal_argument(evil):
    res = await run([["printf", "%s\\n", evil]])
    assert res.ok
    assert res.outputs["stdout"] == evil + "\n"
    assert res.outputs["argv"] == [["printf", "%s\\n", evil]]


async def test_pipeline_connects_stages_like_a_pipe():
    res = await run([["printf", "a\\nb\\nc\\n"], ["grep", "b"], ["wc", "-l"]])
    assert res.ok
    assert res.outputs["stdout"].strip() == "1"
    assert res.outputs["pipestatus"] == [0, 0, 0]


async def test_outputs_lines_and_counts():
    res = await run([["seq", "1", "500"]])
    assert res.outputs["lines"] == [str(i) for i in range(1, 201)]
    assert res.outputs["line_count"] == 500
    assert res.outputs["exit_code"] == 0
    assert res.artifacts["stdout"].endswith(b"499\n500\n")
    assert res.outputs["truncated"] is False


async def test_nonzero_exit_is_a_failed_result_with_evidence():
    res = await run([["sh", "-c", "echo partial; echo first >&2; echo 'disk full' >&2; exit 3"]])
    assert not res.ok
    assert res.outputs["exit_code"] == 3
    assert res.outputs["stdout"] == "partial\n"
    assert "status 3" in res.error and "disk full" in res.error and "sh -c" in res.error


async def test_ok_exit_codes_accepts_listed_status():
    # grep exits 1 when nothing matches: for "is anything wrong?" that is a fine answer
    res = await run([["printf", "x\\n"], ["grep", "nomatch"]], ok_exit_codes=[0, 1])
    assert res.ok and res.outputs["exit_code"] == 1


async def test_status_is_the_last_stages_and_every_stage_is_reported():
    res = await run([["true"], ["cat"]])
    assert res.ok and res.outputs["pipestatus"] == [0, 0]
    res = await run([["true"], ["false"]])
    assert not res.ok and res.outputs["exit_code"] == 1


async def test_a_stage_before_the_last_that_fails_fails_the_step():
    # curl could not connect: grep counted nothing, and "0 errors" would be no evidence
    res = await run([["sh", "-c", "echo 'connection refused' >&2; exit 7"],
                     ["grep", "-c", "error_total"]], ok_exit_codes=[0, 1])
    assert not res.ok
    assert res.outputs["exit_code"] == 1 and res.outputs["pipestatus"] == [7, 1]
    assert res.outputs["stdout"] == "0\n"  # the evidence is kept, read as none
    assert "stage 1 of 2) exited with status 7" in res.error
    assert "connection refused" in res.error and res.summary.startswith("exit 7 at stage 1")
    res = await run([["false"], ["cat"]])
    assert not res.ok and res.outputs["pipestatus"] == [1, 0]


async def test_an_earlier_stage_that_answers_or_meets_a_closed_pipe_is_no_failure():
    # grep's 1 is its answer, nothing matched: `grep x f | wc -l` prints 0, and that is true
    res = await run([["grep", "nomatch", "/etc/hostname"], ["wc", "-l"]])
    assert res.ok and res.outputs["pipestatus"] == [1, 0]
    # head stopped reading: what fed it may die of the closed pipe (SIGPIPE or a write error)
    res = await run([["yes"], ["head", "-n", "2"]])
    assert res.ok and res.outputs["stdout"] == "y\ny\n"
    res = await run([["sh", "-c", "echo one; echo two; exit 1"], ["grep", "-m", "1", "o"]])
    assert res.ok and res.outputs["pipestatus"] == [1, 0]
    # but grep's 2 (the file is missing) is no answer
    res = await run([["grep", "x", "/nonexistent/file"], ["wc", "-l"]])
    assert not res.ok and "stage 1 of 2) exited with status 2" in res.error


async def test_missing_command_is_a_clear_non_retryable_failure():
    with pytest.raises(StepFailed) as err:
        await run([["printf", "x"], ["kubectl-not-installed", "get", "pods"]])
    assert "command not found: kubectl-not-installed" in str(err.value)
    assert "PATH" in str(err.value)
    assert err.value.retryable is False


async def test_stdin_env_and_cwd(tmp_path):
    res = await run([["sh", "-c", 'cat; echo "$MF_X"; pwd']], stdin="from stdin\n",
                    env={"MF_X": "from env"}, cwd=str(tmp_path))
    assert res.outputs["lines"] == ["from stdin", "from env", str(tmp_path)]


async def test_stdin_ignored_by_the_program_is_not_an_error():
    res = await run([["true"]], stdin="x" * 1_000_000)
    assert res.ok


async def test_missing_cwd_is_named():
    with pytest.raises(StepFailed, match="working directory does not exist"):
        await run([["true"]], cwd="/nonexistent/dir")


async def test_timeout_kills_the_process_group_including_grandchildren(tmp_path):
    pidfile = tmp_path / "pids"
    task = asyncio.create_task(run([["sh", "-c", SPAWN_TWO, "sh", str(pidfile)]],
                                   deadline_s=1.0))
    pids = await wait_for_pids(pidfile, 3)
    assert all(alive(p) for p in pids)
    with pytest.raises(StepFailed, match="timed out after 1s"):
        await task
    assert not any(alive(p) for p in pids)


async def test_cancellation_cleans_up(tmp_path):
    pidfile = tmp_path / "pids"
    task = asyncio.create_task(run([["sh", "-c", SPAWN_TWO, "sh", str(pidfile)],
                                    ["cat"]]))
    pids = await wait_for_pids(pidfile, 3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not any(alive(p) for p in pids)


async def test_executor_wait_for_timeout_cleans_up(tmp_path):
    # Given the executor's own timeout is shorter than the plugin's deadline
    pidfile = tmp_path / "pids"
    coro = run([["sh", "-c", SPAWN_TWO, "sh", str(pidfile)]], deadline_s=60)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(coro, 1.0)
    pids = await wait_for_pids(pidfile, 3)
    assert not any(alive(p) for p in pids)


async def test_background_children_end_with_the_step(tmp_path):
    # A command that leaves a daemon behind would otherwise hold the pipe (and the step) open
    pidfile = tmp_path / "pids"
    res = await run([["sh", "-c", 'sleep 100 & echo $! > "$1"; echo done', "sh", str(pidfile)]])
    assert res.ok and res.outputs["stdout"] == "done\n"
    assert not alive(int(pidfile.read_text()))


async def test_flood_until_timeout_is_capped_with_bounded_memory():
    tracemalloc.start()
    try:
        with pytest.raises(StepFailed, match="timed out"):
            await run([["yes"]], deadline_s=1.5, cap=64 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024


async def test_output_beyond_cap_is_read_discarded_and_counted():
    # 5 MB through a 64 KB cap: the writer must not block on a full pipe
    res = await run([["head", "-c", "5000000", "/dev/zero"], ["tr", "\\0", "a"]],
                    cap=64 * 1024)
    assert res.ok
    assert res.outputs["truncated"] is True
    assert res.outputs["stdout_bytes"] == 5_000_000
    assert len(res.artifacts["stdout"]) == 64 * 1024
    assert len(res.outputs["stdout"]) <= 4000


async def test_invalid_utf8_is_replaced_not_fatal():
    res = await run([["printf", "ok \\377\\376 end\\n"]])
    assert res.outputs["stdout"] == "ok \ufffd\ufffd end\n"


async def test_stderr_is_a_tail():
    res = await run([["sh", "-c", "seq 1 5000 >&2"]])
    assert res.outputs["stderr"].endswith("4999\n5000\n")
    assert len(res.outputs["stderr"]) <= 2000


def test_describe_quotes_each_stage():
    p = ShellParams(pipeline=[["kubectl", "get", "pods", "-n", "a b; rm -rf /"], ["grep", "x"]])
    assert ShellPlugin().describe(params=p) == "kubectl get pods -n 'a b; rm -rf /' | grep x"


@pytest.mark.parametrize("bad", [[], [[]], [[""]]])
def test_empty_pipeline_or_stage_is_rejected(bad):
    with pytest.raises(PluginError, match="pipeline"):
        parse_params(ShellPlugin, {"pipeline": bad})


def test_registry_resolves_the_shell_entry_point():
    assert Registry().get("shell") is ShellPlugin


# -- the runner dies: its steps die with it ----------------------------------------------------

RUNNER = """
import asyncio, sys
from plugins._process import run_pipeline
asyncio.run(run_pipeline([["sh", "-c", sys.argv[1], "sh", sys.argv[2]]], cap=1000))
"""


async def test_a_step_process_dies_with_the_process_running_it(tmp_path):
    # Given a runner (as `mendflow run` or a worker) whose step writes its pid, then waits
    import signal
    import subprocess
    import sys

    pids = tmp_path / "pids"
    runner = subprocess.Popen(
        [sys.executable, "-c", RUNNER, 'echo $$ >> "$1"; sleep 30; echo late >> "$1"',
         str(pids)], env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    (pid,) = await wait_for_pids(pids, 1)
    # When the runner is SIGKILLed (nothing of its clean-up runs)
    runner.send_signal(signal.SIGKILL)
    runner.wait(timeout=10)
    # Then the kernel ends the step's process at once (PR_SET_PDEATHSIG)
    for _ in range(100):
        if not alive(pid):
            break
        await asyncio.sleep(0.02)
    assert not alive(pid), "the step's process outlived its runner"
    assert pids.read_text().split() == [str(pid)]


# -- the dry run is enforced by the OS ---------------------------------------------------------


def dry_ctx() -> StepContext:
    return StepContext(run_id="r1", step_id="s1", attempt=1, idempotency_key="k",
                       deadline_s=10, dry_run=True)


async def dry(pipeline, **params):
    p = parse_params(ShellPlugin, {"pipeline": pipeline, **params})
    return await ShellPlugin().run(params=p, ctx=dry_ctx())


def canaries(tmp_path: Path) -> tuple[Path, dict[Path, bytes]]:
    root = tmp_path / "canary"
    (root / "sub").mkdir(parents=True)
    files = {root / "a.txt": b"keep me", root / "sub" / "b.bin": b"\x00\x01"}
    for path, data in files.items():
        path.write_bytes(data)
    return root, files


def test_this_machine_can_sandbox_a_dry_run():
    from plugins._process import sandbox_problem

    assert sandbox_problem() is None, (
        f"{sandbox_problem()}: run scripts/ensure-system.sh as root (it installs bubblewrap)")


@pytest.mark.parametrize("command", [
    ["find", "{root}", "-delete"],
    ["touch", "{root}/new"],
    ["sh", "-c", "echo x > {root}/a.txt"],
    ["rm", "-rf", "{root}/sub"],
    ["sh", "-c", "(sleep 0.2; rm {root}/a.txt) & setsid sh -c 'rm {root}/sub/b.bin'; wait"],
])
async def test_a_step_wrongly_taken_for_read_only_cannot_write_in_a_dry_run(tmp_path, command):
    root, files = canaries(tmp_path)
    res = await dry([[part.replace("{root}", str(root)) for part in command]])
    assert {p: p.read_bytes() for p in files} == files
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == [
        "a.txt", "sub", "sub/b.bin"]
    if command[0] != "sh" or "rm -rf" in command:
        assert not res.ok
    if not res.ok:
        assert "the filesystem was read-only" in res.error


@pytest.mark.parametrize("command", [
    ["sh", "-c", "echo 'curl: (7) Failed to connect to 127.0.0.1 port 9: Connection refused' >&2;"
                 " exit 7"],
    ["cat", "/nonexistent/mendflow-dry-run"],
])
async def test_a_dry_run_does_not_blame_the_sandbox_for_a_failure_that_wrote_nothing(command):
    res = await dry([command])
    assert not res.ok and "read-only" not in res.error  # the step's own failure, said as is


async def test_a_dry_run_still_reads_the_real_files_and_processes(tmp_path):
    root, _ = canaries(tmp_path)
    res = await dry([["find", str(root), "-type", "f"]], )
    assert res.ok and sorted(res.outputs["lines"]) == sorted(
        str(p) for p in (root / "a.txt", root / "sub" / "b.bin"))
    ps = await dry([["sh", "-c", f"test -d /proc/{os.getpid()} && echo seen"]])
    assert ps.outputs["stdout"] == "seen\n"  # the host's processes are visible, read-only
    tmp = await dry([["sh", "-c", 'echo scratch > "$TMPDIR/x" && cat "$TMPDIR/x"']])
    assert tmp.ok and tmp.outputs["stdout"] == "scratch\n"  # a private writable $TMPDIR


async def test_a_dry_run_without_a_sandbox_warns_once_and_runs(tmp_path, monkeypatch, caplog):
    import plugins._process as process
    import plugins.shell as shell

    monkeypatch.setattr(shell, "sandbox_problem", lambda: "bubblewrap (bwrap) is not installed")
    monkeypatch.setattr(process, "sandbox_problem", lambda: "bubblewrap (bwrap) is not installed")
    monkeypatch.setattr(ShellPlugin, "_warned_unsandboxed", False)
    with caplog.at_level("WARNING"):
        first = await dry([["touch", str(tmp_path / "written")]])
        await dry([["true"]])
    assert first.ok and (tmp_path / "written").exists()  # not enforced: said so
    warnings = [r.getMessage() for r in caplog.records if "not enforced" in r.getMessage()]
    assert warnings == ["dry run not enforced by the OS: bubblewrap (bwrap) is not installed; "
                        "ungated steps run with write access (install bubblewrap to enforce "
                        "it)"]


def test_a_dry_run_of_a_hand_edited_plan_leaves_the_canaries_alone(tmp_path):
    # Given a plan whose ungated step deletes (hand-edited: `mutating: false` on find -delete)
    import subprocess
    import sys

    from engine.plan import Edge, Plan, SourceInfo, Span, Step

    root, files = canaries(tmp_path)
    steps = [Step(id="look", title="look", kind="command", plugin="shell", mutating=False,
                  params={"pipeline": [["find", str(root), "-type", "f", "-delete"]]},
                  source=Span(start=1, end=1)),
             Step(id="done", title="done", kind="end", outcome="resolved",
                  source=Span(start=2, end=2))]
    plan = Plan(id="canary", title="canary", compiler="test/1",
                source=SourceInfo(path="canary.md", sha256="0" * 64), entry="look",
                steps=steps, edges=[Edge(source="look", target="done")])
    plan_file = tmp_path / "canary.plan.json"
    plan_file.write_text(plan.to_json())
    env = {**os.environ, "MENDFLOW_DATA_DIR": str(tmp_path / "data"),
           "PYTHONPATH": str(Path(__file__).parents[2])}
    # When it is dry-run
    done = subprocess.run([sys.executable, "-m", "engine.cli", "run", str(plan_file),
                           "--dry-run"], env=env, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, cwd=tmp_path)
    # Then nothing is deleted: the read-only table refuses the step before it starts (the
    # sandbox, the layer under it, is tested on the plugin itself above)
    assert {p: p.read_bytes() for p in files} == files
    assert done.returncode == 4, done.stdout + done.stderr  # inconclusive: nothing concluded
    said = " ".join(done.stdout.split())  # wrapped where the paths' length puts it
    assert "refused: `find" in said and "not on the read-only list" in said, done.stdout



# -- an ungated step's PostgreSQL clients only read ---------------------------------------------

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
async def pg_function_that_writes():
    """A schema with a table and a function that inserts into it: what `psql -c "SELECT
    f()"` calls, which no reading of the text can tell from a read."""
    import uuid

    import asyncpg
    schema = f"s_{uuid.uuid4().hex[:10]}"
    try:
        conn = await asyncpg.connect(PG_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL at {PG_URL} is required for this test: {exc}")
    try:
        await conn.execute(f"""
            CREATE SCHEMA {schema};
            CREATE TABLE {schema}.notes (n int);
            CREATE FUNCTION {schema}.archive_old_rows() RETURNS int LANGUAGE sql AS
              $$ INSERT INTO {schema}.notes VALUES (1) RETURNING n $$;""")
        yield schema, conn
    finally:
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        await conn.close()


async def test_an_ungated_psql_cannot_write_through_a_function(pg_function_that_writes):
    # Given `psql -c "SELECT <fn>()"`, on the read-only table (a SELECT), where fn inserts
    schema, conn = pg_function_that_writes
    argv = ["psql", PG_URL, "-X", "-A", "-t", "-c", f"SELECT {schema}.archive_old_rows()"]
    p = parse_params(ShellPlugin, {"pipeline": [argv]})
    # When it runs ungated, Then the server refuses the write
    res = await ShellPlugin().run(params=p, ctx=ctx())
    assert not res.ok and "read-only transaction" in res.outputs["stderr"]
    assert await conn.fetchval(f"SELECT count(*) FROM {schema}.notes") == 0
    # When the same step runs gated (mutating), Then it writes
    gated = StepContext(run_id="r1", step_id="s1", attempt=1, idempotency_key="k",
                        deadline_s=10.0, mutating=True)
    res = await ShellPlugin().run(params=p, ctx=gated)
    assert res.ok, res.outputs["stderr"]
    assert await conn.fetchval(f"SELECT count(*) FROM {schema}.notes") == 1


async def test_an_ungated_step_keeps_its_own_pgoptions_and_adds_read_only(monkeypatch):
    monkeypatch.setenv("PGOPTIONS", "-c statement_timeout=5s")
    res = await run([["sh", "-c", 'printf %s "$PGOPTIONS"']])
    assert res.outputs["stdout"] == \
        "-c statement_timeout=5s -c default_transaction_read_only=on"


async def test_an_ungated_mysql_client_starts_its_session_read_only(tmp_path, monkeypatch):
    # Given a `mysql` on PATH that shows the arguments it was given (no MySQL server here:
    # what the server then refuses is MySQL's documented READ ONLY transaction)
    fake = tmp_path / "mysql"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    argv = ["mysql", "-e", "SELECT purge_old_rows()", "shop"]
    p = parse_params(ShellPlugin, {"pipeline": [argv]})
    # When it runs ungated, Then its session starts read-only, before its own statement
    res = await ShellPlugin().run(params=p, ctx=ctx())
    assert res.outputs["stdout"].splitlines() == [
        "--init-command=SET SESSION TRANSACTION READ ONLY", "-e", "SELECT purge_old_rows()",
        "shop"]
    # When the same step runs gated (mutating), Then it runs as written
    gated = StepContext(run_id="r1", step_id="s1", attempt=1, idempotency_key="k",
                        deadline_s=10.0, mutating=True)
    res = await ShellPlugin().run(params=p, ctx=gated)
    assert res.outputs["stdout"].splitlines() == ["-e", "SELECT purge_old_rows()", "shop"]


def _on_path(tmp_path, monkeypatch, name: str, script: str) -> None:
    fake = tmp_path / name
    fake.write_text("#!/bin/sh\n" + script)
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")


async def test_an_ungated_psql_behind_sudo_cannot_write_through_a_function(
        pg_function_that_writes, tmp_path, monkeypatch):
    # Given a `sudo` that, like sudo's env_reset, drops PGOPTIONS, and `sudo -u postgres psql
    # -c "SELECT <fn>()"` (read-only by its text) where fn inserts
    schema, conn = pg_function_that_writes
    _on_path(tmp_path, monkeypatch, "sudo",
             '[ "$1" = -u ] && shift 2\nexec env -i PATH="$PATH" "$@"\n')
    argv = ["sudo", "-u", "postgres", "psql", PG_URL, "-X", "-A", "-t", "-c",
            f"SELECT {schema}.archive_old_rows()"]
    p = parse_params(ShellPlugin, {"pipeline": [argv]})
    # When it runs ungated, Then the server refuses the write
    res = await ShellPlugin().run(params=p, ctx=ctx())
    assert not res.ok and "read-only transaction" in res.outputs["stderr"]
    assert await conn.fetchval(f"SELECT count(*) FROM {schema}.notes") == 0
    # ... in one transaction (-1) too; and a read's output is as it was (no `SET` lines)
    one = parse_params(ShellPlugin, {"pipeline": [[*argv[:-2], "-1", *argv[-2:]]]})
    res = await ShellPlugin().run(params=one, ctx=ctx())
    assert not res.ok and "read-only transaction" in res.outputs["stderr"]
    read = parse_params(ShellPlugin, {"pipeline": [[*argv[:-1], "SELECT 41 + 1"]]})
    assert (await ShellPlugin().run(params=read, ctx=ctx())).outputs["stdout"] == "42\n"
    # When the same step runs gated (mutating), Then it writes
    gated = StepContext(run_id="r1", step_id="s1", attempt=1, idempotency_key="k",
                        deadline_s=10.0, mutating=True)
    res = await ShellPlugin().run(params=p, ctx=gated)
    assert res.ok, res.outputs["stderr"]
    assert await conn.fetchval(f"SELECT count(*) FROM {schema}.notes") == 1


async def test_an_ungated_mysql_in_a_pod_starts_its_session_read_only(tmp_path, monkeypatch):
    # Given a `kubectl` that shows the arguments it was given
    _on_path(tmp_path, monkeypatch, "kubectl", 'printf "%s\\n" "$@"\n')
    argv = ["kubectl", "exec", "db-0", "--", "mysql", "-e", "SELECT purge_old_rows()"]
    res = await run([argv])
    # Then the mysql in the pod starts its session read-only, before its own statement
    assert res.outputs["stdout"].splitlines() == [
        "exec", "db-0", "--", "mysql", "--init-command=SET SESSION TRANSACTION READ ONLY",
        "-e", "SELECT purge_old_rows()"]
