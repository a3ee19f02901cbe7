r"""Trust, session 22 (the runtime): one history check on every executor and every reader, and
changes whose answer was lost.

1. A history cut short (a step's result in the run's memory, the events that finish it gone)
   was refused by the local executor's resume only. On Celery, `resume` read it as it was,
   and the reconciler, finding the run idle, dispatched its finished change again; `show`,
   `report`, the API and the web UI showed it as a run (exit 0, HTTP 200). Every reader that
   resumes or re-dispatches a run (`engine.runtime.replay.checked_state`) and every view of it
   (`engine.report.build_view`) checks it: refused in one line, exit 5 (HTTP 503), nothing
   dispatched.
2. A `sql` write whose connection was lost (a proxy's reset after its COMMIT went out, a
   session the server ended under it) was a transient error, retried: the COMMIT may have
   landed, and the write was sent again. Its effect is unknown now: not retried by itself.
3. An `opcua` call (a change to a cell) whose answer never came, or after which the awaited
   state or a read failed, was retryable: a retry called the method again. The call may have
   acted (after an answer, it did): its effect is unknown, and it is not called again.
4. A password in base64 of the URL that carries it percent-encoded (a Kubernetes Secret's
   `DATABASE_URL`, shown by `kubectl get secret -o yaml`), or of a JSON text escaping it, was
   left whole: base64 was looked for of the secret itself only. The base64 of each escaped
   form a URL or JSON carries it in is masked too.
5. An `http` change (a POST, `retries=3`) answered 502 or 504 by a gateway (it lost the answer
   of the service behind it, which may have acted) was retried: the POST went out four times.
   Such an answer leaves a change's effect unknown (`StepResult.effect_unknown`): sent once.
6. A command that changes the world whose tool said it was cut off after it may have acted
   (`ssh web-1 sudo systemctl restart app` exiting 255 when the connection dropped, `curl -X
   POST` exiting 52 on an empty reply, a stage killed by a signal or by `timeout`) was retried
   like any failure: the restart ran again. Such a status leaves its effect unknown.
7. A healthy ending reached on one branch while a check on a parallel branch had failed and
   was being tried again ended the run healthy, the retry cancelled: the check's only answer
   was a failure. It is `inconclusive` now, naming the check, as a check that failed for good
   already was.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import threading
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from engine.errors import StoreError
from engine.plan import Edge, Plan, SourceInfo, Span, Step
from tests.support.killed import (
    CHANGE_THEN_WAIT,
    assert_one_line_error,
    killed_run,
    mendflow,
    restart_over_http,
)

PG_URL = os.environ.get("MENDFLOW_TEST_DATABASE_URL",
                        "postgresql://postgres@127.0.0.1:5432/test")
SPAN = Span(start=1, end=1)


# -- helpers --------------------------------------------------------------------------------------


@pytest.fixture
async def pg_schema() -> AsyncIterator[str]:
    """A PostgreSQL schema of the test's own in the `test` database, dropped afterwards."""
    name = f"mf_trust22_{uuid.uuid4().hex[:12]}"
    yield name
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
    finally:
        await conn.close()


# -- 1. a history cut short, read by every executor and every reader ------------------------------



def test_show_and_report_of_a_history_cut_short_say_so(tmp_path: Path) -> None:
    # Given a run killed after its approved change was made, its events after the snapshot lost
    db, run_id, env = killed_run(tmp_path, CHANGE_THEN_WAIT.format(ledger=tmp_path / "l"),
                                  "settle", "--yes")
    with sqlite3.connect(db) as conn:
        cut = conn.execute("DELETE FROM events WHERE seq > (SELECT state_seq FROM snapshots)")
        assert cut.rowcount >= 3
    conn.close()
    # When it is shown or reported
    for command in ("show", "report"):
        shown = mendflow(env, command, run_id)
        # Then it says the history cannot be read back, in one line, exit 5 (before: exit 0,
        # the change shown as never run)
        assert_one_line_error(shown, 5, "events that say so are missing")


async def test_the_api_says_a_history_cut_short_cannot_be_read_back(tmp_path: Path) -> None:
    from engine.plugins import default_registry
    from engine.runtime.executor import LocalExecutor
    from engine.runtime.services import build_services
    from engine.serve.app import ServeConfig, create_app, load_routes
    from engine.serve.auth import parse_tokens
    from engine.settings import Settings
    from engine.store import open_store
    from tests.serve.conftest import TOKENS, VIEWER_TOKEN, bearer, serving, write_guides

    # Given a run whose events after the snapshot were lost (its change among them)
    db, run_id, _ = await asyncio.to_thread(
        killed_run, tmp_path, CHANGE_THEN_WAIT.format(ledger=tmp_path / "l"), "settle",
        "--yes")
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM events WHERE seq > (SELECT state_seq FROM snapshots)")
    conn.close()
    settings = Settings(data_dir=db.parent)
    store = open_store(settings.store_path)
    await store.open()
    registry = default_registry()
    guides = write_guides(tmp_path / "guides")
    app = create_app(ServeConfig(guides=guides, tokens=parse_tokens(TOKENS)),
                     build_services(settings, store, registry),
                     load_routes(guides, known_plugins=set(registry.names())), LocalExecutor)
    async with serving(app, store) as client:
        # When the API and the web UI are asked for it
        for path in (f"/api/v1/runs/{run_id}", f"/api/v1/runs/{run_id}/report",
                     f"/ui/runs/{run_id}"):
            said = await client.get(path, headers=bearer(VIEWER_TOKEN))
            # Then they say its history cannot be read back (before: 200, shown as if the
            # change had never run)
            assert said.status_code == 503, (path, said.status_code, said.text[:300])
            assert "events that say so are missing" in said.text, (path, said.text[:300])


CHECK_CHANGE_SETTLE = """# Restart

## Mitigation

1. Look at the service {{#look}}:

   ```bash
   echo up
   ```

2. Record the restart {{#record}}:

   ```bash
   echo restarted >> {ledger}
   ```

3. Let it settle {{#settle}}:

   ```bash
   echo settled
   ```
"""


def test_a_replay_of_a_history_that_lost_a_finish_is_refused(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    guide = tmp_path / "guide.md"
    guide.write_text(CHECK_CHANGE_SETTLE.format(ledger=ledger))
    env = {**os.environ, "MENDFLOW_DATA_DIR": str(tmp_path / "data")}
    env.pop("MENDFLOW_DEBUG", None)
    ran = mendflow(env, "run", str(guide), "--yes")
    assert ledger.read_text() == "restarted\n", ran.stdout + ran.stderr
    db = tmp_path / "data" / "mendflow.sqlite3"
    with sqlite3.connect(db) as conn:
        (run_id,) = conn.execute("SELECT run_id FROM runs").fetchone()
        # Given the events that finished the change lost (the snapshot and memory kept)
        cut = conn.execute("DELETE FROM events WHERE step_id = 'record' "
                           "AND type <> 'step_started'")
        assert cut.rowcount >= 1
    conn.close()
    # When it is replayed from a later step, approvals given
    replayed = mendflow(env, "replay", run_id, "--from", "settle", "--yes")
    # Then it is refused in one line, exit 5, and the change is not made again (before: the
    # replay did not reuse the change, and made it again)
    assert ledger.read_text() == "restarted\n", replayed.stdout + replayed.stderr
    assert_one_line_error(replayed, 5, "events that say so are missing")


class _Dispatched:
    """A dispatcher that only notes what it is asked to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, int]] = []

    async def dispatch(self, *, run_id: str, step_id: str, attempt: int, delay_s: float,
                       queue: str | None) -> None:
        self.sent.append((step_id, attempt))

    async def flush(self) -> None:
        pass


def _change_then_wait_plan(ledger: Path) -> Plan:
    record = Step(id="record", title="record", kind="command", plugin="shell", mutating=True,
                  params={"pipeline": [["tee", "-a", str(ledger)]], "stdin": "restarted\n"},
                  source=SPAN)
    settle = Step(id="settle", title="settle", kind="command", plugin="shell",
                  params={"pipeline": [["sleep", "30"]]}, source=SPAN)
    done = Step(id="done", title="done", kind="end", outcome="resolved", source=SPAN)
    return Plan(id="cut-short", title="cut short", compiler="test/1",
                source=SourceInfo(path="t.md", sha256="0" * 64), entry="record",
                steps=[record, settle, done],
                edges=[Edge(source="record", target="settle"),
                       Edge(source="settle", target="done")])


async def test_a_history_cut_short_is_refused_on_the_distributed_executor(
        tmp_path: Path, pg_schema: str) -> None:
    from engine.interaction import Answers
    from engine.plugins import default_registry
    from engine.runtime.distributed import DistributedRunner
    from engine.runtime.services import Services
    from engine.settings import Settings
    from engine.store.postgres import PostgresStore

    ledger = tmp_path / "ledger"
    async with PostgresStore(PG_URL, schema=pg_schema) as store:
        dispatched = _Dispatched()
        runner = DistributedRunner(Services(store=store, registry=default_registry(),
                                            settings=Settings(data_dir=tmp_path)),
                                   dispatcher=dispatched)
        # Given a run on the shared store whose change was made and recorded by a worker
        record = await runner.start(_change_then_wait_plan(ledger), guide_path="t.md",
                                    run_id="cut-1")
        await runner.execute(record.run_id, "record", 1)
        assert ledger.read_text() == "restarted\n"
        assert dispatched.sent == [("record", 1), ("settle", 1)]
        # and its history restored without its tail (the memory of the change kept)
        conn = await asyncpg.connect(PG_URL, server_settings={"search_path": pg_schema})
        try:
            await conn.execute("DELETE FROM events WHERE run_id = $1", record.run_id)
            await conn.execute("UPDATE runs SET state = '{}', state_seq = 0, "
                               "updated_at = now() - interval '1 hour' WHERE run_id = $1",
                               record.run_id)
        finally:
            await conn.close()
        dispatched.sent.clear()
        # When it is resumed (Celery's `mendflow resume`), and the reconciler finds it idle
        with pytest.raises(StoreError, match="events that say so are missing"):
            await runner.settle_in_doubt(record.run_id, Answers(assume_yes=True))
        await runner.reconcile(idle_s=0)
        # Then nothing is dispatched again (before: the reconciler started the change again)
        assert dispatched.sent == []
        assert ledger.read_text() == "restarted\n"
        # and the run is set aside for a person, once: no longer a stalled run for every sweep
        # to log again and to put before the others' turn
        after = await store.get_run(record.run_id)
        assert after.status == "interrupted" and "events that say so are missing" in after.reason
        assert record.run_id not in {r.run_id for r in await store.stalled_runs(idle_s=0)}


# -- 2. a SQL write whose answer was lost ---------------------------------------------------------

async def _cut_after_commit_proxy(target: tuple[str, int]) -> asyncio.Server:
    """Forwards a PostgreSQL session; once the client's COMMIT has gone to the server, hangs
    up on both (a proxy's reset, a failover) before the server's answer comes back."""
    async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter,
                   cut: asyncio.Event, watch: bool) -> None:
        while not cut.is_set() and (chunk := await src.read(65536)):
            dst.write(chunk)
            await dst.drain()
            if watch and b"COMMIT" in chunk.upper():
                cut.set()

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*target)
        cut = asyncio.Event()
        pumps = [asyncio.ensure_future(pipe(reader, up_writer, cut, True)),
                 asyncio.ensure_future(pipe(up_reader, writer, cut, False))]
        await asyncio.wait([*pumps, asyncio.ensure_future(cut.wait())],
                           return_when=asyncio.FIRST_COMPLETED)
        for pump in pumps:
            pump.cancel()
        for w in (writer, up_writer):
            w.close()

    return await asyncio.start_server(session, "127.0.0.1", 0)


@pytest.fixture
async def pg_table() -> AsyncIterator[str]:
    """A schema of the test's own holding `restarts (id int)`; yields the table's name."""
    schema = f"mf_trust22_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(PG_URL)
    await conn.execute(f"CREATE SCHEMA {schema}")
    await conn.execute(f"CREATE TABLE {schema}.restarts (id int)")
    yield f"{schema}.restarts"
    await conn.execute(f"DROP SCHEMA {schema} CASCADE")
    await conn.close()


async def _sql_write(url: str, query: str) -> Any:
    from engine.datasources import Redactor
    from engine.plugins import StepContext, parse_params
    from plugins.sql import SqlPlugin

    ctx = StepContext(run_id="r1", step_id="restart", attempt=1, idempotency_key="k",
                      deadline_s=20.0, dry_run=False, mutating=True,
                      data_source={"name": "db", "type": "postgresql", "url": url,
                                   "secrets": {}}, secrets=Redactor())
    return await SqlPlugin().run(params=parse_params(SqlPlugin, {"query": query,
                                                                 "read_only": False}), ctx=ctx)


async def test_a_sql_write_whose_commit_answer_was_lost_is_effect_unknown(
        pg_table: str) -> None:
    from engine.errors import StepFailed

    proxy = await _cut_after_commit_proxy(("127.0.0.1", 5432))
    port = proxy.sockets[0].getsockname()[1]
    try:
        # Given a gated write whose connection drops once its COMMIT has been sent
        with pytest.raises(StepFailed) as failed:
            await _sql_write(f"postgresql://postgres@127.0.0.1:{port}/test",
                             f"INSERT INTO {pg_table} VALUES (1)")
    finally:
        proxy.close()
        await proxy.wait_closed()
    # Then the write may well have been made (here it was), and the step says its effect is
    # unknown: the engine does not send it again by itself (before: retried as not sent)
    # (the server commits in its own time after the hang-up: under load the count came
    # before the commit, so it is awaited, never for more than 10 s)
    conn = await asyncpg.connect(PG_URL)
    try:
        deadline = asyncio.get_running_loop().time() + 10
        while await conn.fetchval(f"SELECT count(*) FROM {pg_table}") == 0 and \
                asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        assert await conn.fetchval(f"SELECT count(*) FROM {pg_table}") == 1
    finally:
        await conn.close()
    assert failed.value.effect_unknown, str(failed.value)


async def test_a_sql_write_whose_session_was_ended_under_it_is_effect_unknown(
        pg_table: str) -> None:
    from engine.errors import StepFailed

    async def end_the_writer() -> None:
        conn = await asyncpg.connect(PG_URL)
        try:
            while not await conn.fetchval(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE query LIKE $1 AND pid <> pg_backend_pid()",
                    f"%INSERT INTO {pg_table}%"):
                await asyncio.sleep(0.05)
        finally:
            await conn.close()

    # Given a gated write whose session the server ends while it runs (a failover, an admin)
    ender = asyncio.ensure_future(end_the_writer())
    with pytest.raises(StepFailed) as failed:
        await _sql_write(PG_URL, f"INSERT INTO {pg_table} SELECT 1 FROM pg_sleep(5)")
    await ender
    # Then its effect is unknown to the engine (before: a transient error, retried)
    assert failed.value.effect_unknown, str(failed.value)


# -- 3. a cell's method called, the step failing after it -----------------------------------------

async def test_an_opcua_call_the_cell_took_is_not_called_again_by_itself() -> None:
    from engine.errors import StepFailed
    from engine.plugins import parse_params
    from plugins.robot.opcua import OpcUaPlugin
    from tests.plugins.detectors.helpers import ctx
    from tests.plugins.robot.conftest import start_cell, stop_cell

    proc, url = start_cell("--seed", "8")
    try:
        # Given a call the cell takes (Reset), whose awaited state does not come in time
        params = parse_params(OpcUaPlugin, {"endpoint": url, "call": "Reset",
                                            "wait_for": {"State": ["never"]},
                                            "wait_timeout_s": 0.3})
        with pytest.raises(StepFailed) as failed:
            await OpcUaPlugin().run(params=params, ctx=ctx("cell"))
    finally:
        stop_cell(proc)
    # Then the step's effect is unknown (the call acted): the engine does not call it again by
    # itself (before: a retryable failure, and a retry called Reset again)
    assert failed.value.effect_unknown, str(failed.value)
    assert "after Reset was called" in str(failed.value)


async def test_an_opcua_call_whose_answer_never_came_is_effect_unknown() -> None:
    from engine.errors import StepFailed
    from plugins.robot.ua import CellClient
    from tests.plugins.robot.conftest import start_cell, stop_cell

    proc, url = start_cell("--seed", "8")
    try:
        async with CellClient(url, timeout_s=1.0) as cell:
            await cell.call("Reset")  # answered: the cell is reached and its method known
            # Given a cell that stops answering while the call is on its way (frozen)
            proc.send_signal(signal.SIGSTOP)
            try:
                with pytest.raises(StepFailed) as failed:
                    await cell.call("Reset", timeout_s=1.0)
            finally:
                proc.send_signal(signal.SIGCONT)
    finally:
        stop_cell(proc)
    # Then its effect is unknown (before: a retryable timeout, the call sent again)
    assert failed.value.effect_unknown, str(failed.value)


# -- 4. a secret in base64 of the URL or JSON that carries it -------------------------------------

SECRET = "Zq7/pl@nt-S3cret!x"


def _carriers() -> list[tuple[str, str]]:
    """(the text, the secret as it sits in it)."""
    from urllib.parse import quote, quote_plus

    url, kept, form = quote(SECRET, safe=""), quote(SECRET), quote_plus(SECRET)
    sub = quote(SECRET, safe="!")
    php = SECRET.replace("/", "\\/")
    return [(f"postgresql://app:{url}@db:5432/app", url),  # Python's quote
            (f"postgresql://app:{kept}@db:5432/app", kept),  # `/` left
            (f"mysql://app:{sub}@db/app", sub),  # a sub-delim left: `!`
            (f"password={form}&user=app", form),  # a form
            ('{"password": "' + php + '"}', php)]  # PHP's JSON


@pytest.mark.parametrize("carrier", _carriers(), ids=lambda c: c[1])
@pytest.mark.parametrize("lead", ["", "x", "xy"])  # every alignment inside the base64
def test_a_secret_in_base64_of_the_url_or_json_carrying_it_is_masked(
        carrier: tuple[str, str], lead: str) -> None:
    import base64

    from engine.datasources import Redactor

    text, escaped = carrier
    # Given a Kubernetes Secret's value: base64 of a URL (or JSON) with the password escaped
    raw = (lead + text).encode()
    encoded = base64.b64encode(raw).decode()
    at = raw.index(escaped.encode())
    core = encoded[-(-8 * at // 6):8 * (at + len(escaped)) // 6]  # encodes the secret only
    # When it is redacted (memory, logs, reports, artifacts all are)
    masked = Redactor([SECRET]).redact(f"data:\n  DATABASE_URL: {encoded}\n")
    # Then none of the base64 that encodes the password is left (before: all of it)
    left = [core[i:i + 8] for i in range(len(core) - 7) if core[i:i + 8] in masked]
    assert not left, masked


# -- 5. a change a gateway answered it lost -------------------------------------------------------



async def _gateway(received: list[bytes], status: int) -> asyncio.Server:
    """Takes each request whole and answers `status`, as a load balancer does when it lost
    the answer of the service behind it."""
    async def take(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        received.append(head + await reader.readexactly(length))
        writer.write(f"HTTP/1.1 {status} Gateway\r\nContent-Length: 0\r\n"
                     "Connection: close\r\n\r\n".encode())
        await writer.drain()
        writer.close()
    return await asyncio.start_server(take, "127.0.0.1", 0)


def _restart_through(tmp_path: Path, status: int) -> tuple[list[bytes], Any]:
    return restart_over_http(tmp_path, lambda received: _gateway(received, status))


@pytest.mark.parametrize("status", [502, 504])
def test_a_change_a_gateway_lost_the_answer_of_is_not_sent_again(tmp_path: Path,
                                                                   status: int) -> None:
    # Given a gated POST, retried up to three times, through a gateway that lost the answer
    received, record = _restart_through(tmp_path, status)
    # Then it was sent once (before: four times), and the run says its effect is unknown
    assert len(received) == 1, [r.split(b"\r\n", 1)[0] for r in received]
    restart = record.state["steps"]["restart"]
    assert restart["status"] == "failed" and restart["attempt"] == 1, restart
    assert "may have done so" in restart["error"], restart


def test_a_change_the_server_itself_refused_is_still_retried(tmp_path: Path) -> None:
    # A 503 is the service's own answer that it did not take the request: retried as written
    received, _ = _restart_through(tmp_path, 503)
    assert len(received) == 4, [r.split(b"\r\n", 1)[0] for r in received]  # 1 + 3 retries


# -- 6. a command cut off after it may have acted -------------------------------------------------

SSH_RESTART = """# Restart

## Mitigation

1. Restart the app on web-1 {{#restart retries=3 backoff=0.1s}}:

   ```bash
   ssh web-1 sudo systemctl restart app
   ```

2. The app is restarted: the incident is mitigated.
"""

CURL_RESTART = """# Restart

## Mitigation

1. Ask the app to restart {{#restart retries=3 backoff=0.1s}}:

   ```bash
   curl -sS -X POST http://127.0.0.1:{port}/restart
   ```

2. The app is restarted: the incident is mitigated.
"""


def _hang_up_after_request(received: list[bytes]) -> tuple[socket.socket, threading.Thread]:
    """A server that reads each request whole and closes the connection unanswered."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data and (chunk := conn.recv(65536)):
                    data += chunk
                received.append(data)
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server, thread


def _run_guide(tmp_path: Path, text: str, env: dict[str, str] | None = None
               ) -> subprocess.CompletedProcess[str]:
    guide = tmp_path / "guide.md"
    guide.write_text(text)
    full = {**os.environ, "MENDFLOW_DATA_DIR": str(tmp_path / "data"), **(env or {})}
    full.pop("MENDFLOW_DEBUG", None)
    return mendflow(full, "run", str(guide), "--yes")


def test_a_change_over_ssh_whose_connection_dropped_is_not_run_again(tmp_path: Path) -> None:
    # Given an ssh whose connection drops once the remote command is sent (status 255)
    ledger = tmp_path / "sent"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ssh").write_text(f"#!/bin/sh\necho \"$*\" >> {ledger}\n"
                                 "echo 'Connection to web-1 closed by remote host.' >&2\n"
                                 "exit 255\n")
    (bin_dir / "ssh").chmod(0o755)
    # When a gated restart over it, retried up to three times, runs
    ran = _run_guide(tmp_path, SSH_RESTART,
                     env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    # Then it is sent once (before: four times), its effect said to be unknown
    said = ran.stdout + ran.stderr
    assert ledger.read_text().splitlines() == ["web-1 sudo systemctl restart app"], said
    assert "may have done so" in " ".join(said.split()), said
    assert ran.returncode != 0, said


CLEANUP_CUT_OFF = """# Cell

## Diagnosis

1. Read the state {{#state}}:

   ```bash
   echo ok
   ```

## Clean-up (always)

1. Release the brake {{#release retries=1}}:

   ```bash
   timeout 1 sh -c 'echo released >> {ledger}; sleep 5'
   ```
"""


def test_a_clean_up_step_cut_off_is_tried_again_and_says_so(tmp_path: Path) -> None:
    # Given a clean-up step (the safe stop, made to be repeated) cut off after it may have acted
    ledger = tmp_path / "released"
    ran = _run_guide(tmp_path, CLEANUP_CUT_OFF.format(ledger=ledger))
    said = " ".join((ran.stdout + ran.stderr).split())
    # Then it is tried again within its retries, as clean-up always is, and its error says so
    # (before: "it is not tried again by itself", and it was tried again)
    assert ledger.read_text().splitlines() == ["released", "released"], said
    assert "written to be repeated, it is tried again within its retries" in said, said
    assert "not tried again by itself" not in said, said


def test_a_change_over_curl_whose_answer_was_lost_is_not_sent_again(tmp_path: Path) -> None:
    received: list[bytes] = []
    server, thread = _hang_up_after_request(received)
    try:
        # Given a server that takes the POST and hangs up unanswered (curl's 52)
        ran = _run_guide(tmp_path, CURL_RESTART.format(port=server.getsockname()[1]))
    finally:
        server.close()
        thread.join(timeout=5)
    # Then the POST went out once (before: four times)
    said = ran.stdout + ran.stderr
    assert [r.split(b"\r\n", 1)[0] for r in received] == [b"POST /restart HTTP/1.1"], said
    assert "may have done so" in " ".join(said.split()), said


# -- 7. a healthy ending while a parallel check is failing ----------------------------------------

@pytest.mark.parametrize("delay", [True, False])
def test_a_healthy_ending_while_a_parallel_check_retries_a_failure_concludes_nothing(
        delay: bool) -> None:
    from engine import scheduler as sched
    from engine.plan import Retry

    # Given two checks in parallel ("Steps 2-3 can be run in parallel"): one leads to "no
    # action is needed", the other, retried, to an escalation
    check = Step(id="health", title="health", kind="command", plugin="shell",
                 retry=Retry(attempts=3, backoff_s=5.0 if delay else 0.0, jitter=False),
                 source=SPAN)
    plan = Plan(id="par", title="par", compiler="test/1",
                source=SourceInfo(path="t.md", sha256="0" * 64), entry="start",
                steps=[Step(id="start", title="start", kind="command", plugin="shell",
                            source=SPAN),
                       Step(id="errors", title="errors", kind="command", plugin="shell",
                            source=SPAN), check,
                       Step(id="fine", title="fine", kind="end", outcome="no_action",
                            source=SPAN),
                       Step(id="page", title="page", kind="end", outcome="escalate",
                            source=SPAN)],
                edges=[Edge(source="start", target="errors"),
                       Edge(source="start", target="health"),
                       Edge(source="errors", target="fine"),
                       Edge(source="health", target="page")])
    state = sched.initial_state(plan, seed="r")
    for event in (sched.Start(), sched.StepSucceeded(step="start", attempt=1),
                  # When the health check fails, and is being tried again
                  sched.StepFailed(step="health", attempt=1, error="connection refused",
                                   retryable=True),
                  # and the other check reaches "no action is needed"
                  sched.StepSucceeded(step="errors", attempt=1)):
        state, _ = sched.apply(plan, state, event)
    # Then the run concludes nothing (before: no_action, the failing check cancelled)
    assert (state.status, state.outcome) == ("succeeded", "inconclusive"), state.reason
    assert "'health' failed (connection refused)" in (state.reason or "")
