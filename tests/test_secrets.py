"""A planted secret never leaves Mendflow, whole, encoded or in part, from any output.

A data-source password and a token are planted in the environment, and a plan makes every
plugin meet them: programs print the password across each place where output is cut (stdout
at 4,000 characters, the 160-character summary, the 2,000-character stderr tail, the
500-character error line, the capture cap), a log line holds it across the 500-character cut
and the 64 KiB line limit, a database holds it across the 300-character error cut and the
200-character preview, an HTTP server echoes the Basic and Bearer headers (base64 of
`user:password`) and puts the password across the 200-character error cut, and a Prometheus
proxy echoes the Basic header in its error. The plan runs through the real command; then
every file under the data directory (store: memory, events; artifacts), the command's printed
output (`run`, `show`, `report`) and every log record of an in-process run are searched for
the secrets, their derived forms, and any piece of four characters or more.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, quote_plus

import asyncpg
import pytest

from engine.datasources import load_datasources
from engine.plugins import Registry
from engine.runtime.executor import LocalExecutor
from engine.runtime.services import Services
from engine.settings import Settings
from engine.store import open_store
from plugins.http import HttpPlugin
from plugins.logs import LogsPlugin
from plugins.prometheus import PrometheusPlugin
from plugins.shell import ShellPlugin
from plugins.sql import SqlPlugin
from tests.engine.runtime.conftest import edge, end, plan, sh, step
from tests.support.plans import gate_changes

SECRET = 'Zq7/pl@nt"ed+K9 w'  # quote, quote_plus and JSON each write it differently
TOKEN = "Tk9-Qx7/zP3+vW8"
USER = "alice"
CAP = 20_000  # MENDFLOW_OUTPUT_CAP_BYTES for the run
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
READER = "mendflow_test_reader"


def derived(secret: str, user: str = USER) -> list[str]:
    """The forms a secret travels in, computed here independently of the Redactor."""
    b64 = base64.b64encode(secret.encode()).decode()
    basic = base64.b64encode(f"{user}:{secret}".encode()).decode()
    return [secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1],
            b64, b64.rstrip("="), basic, f"Basic {basic}", f"Bearer {secret}",
            secret.encode().hex(), secret.encode().hex().upper()]


def pieces(secret: str) -> list[str]:
    return [secret[i:i + 4] for i in range(len(secret) - 3)]


def wrapped_pieces(text: str) -> list[str]:
    """Six characters of a secret's base64 left in `text` once its lines are joined: line
    breaks (as printed, or JSON-escaped in a stored value) and the indentation after them
    taken out, as whoever reads a wrapped base64 text joins it."""
    joined = re.sub(r"(?:\r?\n|(?:\\r)?\\n)[ \t]*", "", text)
    return [p for s in (SECRET, TOKEN) for b64 in [base64.b64encode(s.encode()).decode()]
            for p in (b64[i:i + 6] for i in range(len(b64) - 5)) if p in joined]


def leaks(text: str) -> list[str]:
    found = [f for s in (SECRET, TOKEN) for f in derived(s) if f in text]
    return found + [p for s in (SECRET, TOKEN) for p in pieces(s) if p in text] + \
        wrapped_pieces(text)


# -- the servers the plan talks to --------------------------------------------------------------


class Echo(BaseHTTPRequestHandler):
    """An API that echoes the Authorization header, and fails with the secret in its body."""

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        auth = self.headers.get("Authorization", "")
        if self.path.startswith("/echo"):
            self._send(200, json.dumps({"you_sent": auth}).encode())
        else:  # the password across the 200-character cut of an error body
            self._send(500, ("h" * 192 + SECRET + " and " + auth).encode(), "text/plain")

    def do_POST(self) -> None:  # noqa: N802  (a Prometheus proxy refusing the query)
        auth = self.headers.get("Authorization", "")
        body = {"status": "error", "errorType": "bad_data",
                "error": "i" * 292 + f"{SECRET} rejected Authorization: {auth}"}
        self._send(400, json.dumps(body).encode())


class Quiet(ThreadingHTTPServer):
    daemon_threads = True


@pytest.fixture(scope="module")
def echo() -> Iterator[str]:
    server = Quiet(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """A schema whose table holds the password where the database's messages get cut."""
    schema = f"s_{uuid.uuid4().hex[:10]}"

    async def setup() -> None:
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            try:
                await conn.execute(f"CREATE ROLE {READER} LOGIN IN ROLE pg_read_all_data")
            except (asyncpg.exceptions.DuplicateObjectError,
                    asyncpg.exceptions.UniqueViolationError):
                pass
            await conn.execute(f"CREATE SCHEMA {schema}")
            await conn.execute(f"CREATE TABLE {schema}.t (bad text, shown text)")
            # 'invalid input syntax for type integer: "' is 41 characters: the password
            # then straddles the 300th; the preview clips values at 200
            await conn.execute(f"INSERT INTO {schema}.t VALUES ($1, $2)",
                               "j" * (296 - 41) + SECRET, "k" * 196 + SECRET)
        finally:
            await conn.close()

    async def teardown() -> None:
        conn = await asyncpg.connect(PG_ADMIN)
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        await conn.close()

    asyncio.run(setup())
    yield schema
    asyncio.run(teardown())


# -- the plan --------------------------------------------------------------------------------


def py(code: str) -> list[str]:
    return [sys.executable, "-c", "import os, sys; S = os.environ['MF_TEST_PW']; " + code]


def the_plan(tmp: Path, schema: str):  # noqa: ANN201
    logs = tmp / "logs"
    logs.mkdir(exist_ok=True)
    (logs / "app.log").write_text("f" * 492 + SECRET + "\n" + "g" * (65536 - 8) + SECRET + "\n")
    checks = [
        # stdout cut at 4,000 and the summary at 160
        # (a program is never read-only: these steps are gated, and the hand-made plan runs
        # them without a gate in front)
        sh("stdout_cuts", *py("print('b' * 150 + S); print('a' * (4000 - 160 - 8) + S)"),
           mutating=True),
        # the stderr tail: its last 2,000 characters start inside the password
        sh("stderr_tail", *py("sys.stderr.write(S + 'c' * (2000 - 8))"), mutating=True),
        # the error line cut at 500
        step("error_line", params={"pipeline": [py(
            "sys.stderr.write('d' * 492 + S + chr(10)); sys.exit(3)")]}, on_error="continue",
             mutating=True),
        # the capture cap
        sh("capture_cap", *py(f"sys.stdout.write('e' * ({CAP} - 8) + S)"), mutating=True),
        # encoded as a hex dump prints it, and a tool showing the first half of it
        sh("hex_and_half", *py("print(S.encode().hex(), S.encode().hex().upper()); "
                               "print('password: ' + S[:len(S) // 2 + 1] + '...')"),
           mutating=True),
        # base64 wrapped across lines, a break inside the password: `base64`'s 76 columns
        # (after 42 other bytes), and a YAML block's indented 16-column lines
        sh("wrapped_base64", *py(
            "import base64; print(base64.encodebytes(b'x' * 42 + S.encode()).decode()); "
            "b = base64.b64encode(S.encode()).decode(); print('data: |'); "
            "[print('    ' + b[i:i + 16]) for i in range(0, len(b), 16)]"), mutating=True),
        step("logs", kind="query", plugin="logs",
             params={"paths": [str(logs / "app.log")], "roots": [str(logs)]}),
        step("basic_echo", kind="query", plugin="http",
             params={"source": "api", "url": "echo", "extract": {"auth": "you_sent"}}),
        step("basic_error", kind="query", plugin="http", params={"source": "api", "url": "fail"},
             on_error="continue"),
        step("bearer_echo", kind="query", plugin="http",
             params={"source": "tokens", "url": "echo"}),
        step("prom_error", kind="query", plugin="prometheus",
             params={"source": "prom", "query": "up"}, on_error="continue"),
        step("sql_error", kind="query", plugin="sql",
             params={"source": "db", "query": f"SELECT bad::int FROM {schema}.t"},
             on_error="continue"),
        step("sql_rows", kind="query", plugin="sql",
             params={"source": "db", "query": f"SELECT shown FROM {schema}.t"}),
    ]
    return plan([sh("start", "true"), *checks, end("done")],
                [edge("start", c.id) for c in checks] + [edge(c.id, "done") for c in checks])


@pytest.fixture
def world(tmp_path: Path, echo: str, database: str) -> dict[str, object]:
    config = tmp_path / "mendflow.toml"
    host = echo.split("://", 1)[1]
    config.write_text(
        f'[datasources.api]\ntype = "http"\nurl = "http://{USER}@{host}"\n'
        'password_env = "MF_TEST_PW"\n\n'
        f'[datasources.tokens]\ntype = "http"\nurl = "{echo}"\ntoken_env = "MF_TEST_TOKEN"\n'
        'auth = "bearer"\n\n'
        f'[datasources.prom]\ntype = "prometheus"\nurl = "http://{USER}@{host}"\n'
        'password_env = "MF_TEST_PW"\n\n'
        f'[datasources.db]\ntype = "postgresql"\nurl = "postgresql://{READER}@127.0.0.1:5432/test"\n'
        'password_env = "MF_TEST_PW"\n')
    plan_file = tmp_path / "secrets.plan.json"
    plan_file.write_text(gate_changes(the_plan(tmp_path, database)).to_json())
    env = {"MF_TEST_PW": SECRET, "MF_TEST_TOKEN": TOKEN, "MENDFLOW_CONFIG_FILE": str(config),
           "MENDFLOW_OUTPUT_CAP_BYTES": str(CAP), "MENDFLOW_DATA_DIR": str(tmp_path / "data")}
    return {"config": config, "plan": plan_file, "env": env, "data": tmp_path / "data"}


def mendflow(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], text=True,
                          capture_output=True, timeout=120, stdin=subprocess.DEVNULL,
                          env={**os.environ, **env})


# -- the checks --------------------------------------------------------------------------------


@pytest.mark.slow
def test_no_secret_leaves_through_any_output_at_any_cut(world) -> None:
    env = world["env"]
    # When the plan runs through the real command, and is shown and reported
    ran = mendflow("run", str(world["plan"]), "--yes", env=env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    run_id = _last_run(world["data"])
    shown = mendflow("show", run_id, env=env)
    report = mendflow("report", run_id, env=env)
    printed = {"run": ran.stdout + ran.stderr, "show": shown.stdout + shown.stderr,
               "report": report.stdout + report.stderr}
    # Then nothing printed holds a secret, a derived form of one, or a piece of one
    for name, text in printed.items():
        assert not leaks(text), (name, leaks(text))
    # Nor does any file the run wrote: the store (memory, events) and every artifact
    files = [p for p in Path(world["data"]).rglob("*") if p.is_file()]
    assert any("artifacts" in p.parts for p in files)
    for path in files:
        text = path.read_bytes().decode("utf-8", errors="replace")
        assert not leaks(text), (path, leaks(text))
    # And every step did meet its secret (the checks above are not vacuous)
    assert report.stdout.count("***") >= 8, report.stdout


def _last_run(data: Path) -> str:
    async def newest() -> str:
        store = open_store(data / "mendflow.sqlite3")
        await store.open()
        try:
            return (await store.list_runs())[0].run_id
        finally:
            await store.close()

    return asyncio.run(newest())


@pytest.mark.slow
async def test_no_secret_reaches_a_log_record(world, caplog, tmp_path: Path) -> None:
    # Given the same plan run in this process, every logger at DEBUG
    caplog.set_level(logging.DEBUG)
    settings = Settings(data_dir=tmp_path / "inproc", config_file=world["config"],
                        output_cap_bytes=CAP)
    environ = {**os.environ, **world["env"]}
    sources = load_datasources(settings, environ)
    store = open_store(settings.store_path)
    await store.open()
    previous = {k: os.environ.get(k) for k in ("MF_TEST_PW", "MF_TEST_TOKEN")}
    os.environ.update({"MF_TEST_PW": SECRET, "MF_TEST_TOKEN": TOKEN})  # for the programs
    try:
        registry = Registry(discover=False, extra={p.name: p for p in (
            ShellPlugin, LogsPlugin, HttpPlugin, PrometheusPlugin, SqlPlugin)})
        executor = LocalExecutor(Services(store=store, registry=registry, settings=settings,
                                          datasources=sources,
                                          redact=sources.redactor().redact_obj))
        record = await executor.start(_plan_from(world["plan"]), guide_path="secrets")
    finally:
        await store.close()
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    assert record.status == "succeeded"
    # Then no log record holds a secret in any form, or a piece of one
    for record_ in caplog.records:
        text = record_.getMessage() + (record_.exc_text or "")
        assert not leaks(text), (record_.name, leaks(text))


def _plan_from(path: Path):  # noqa: ANN202
    from engine.plan import Plan

    return Plan.from_json(path.read_text())
