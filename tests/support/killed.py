"""Runs cut short: a `mendflow run` killed mid-way and the CLI run again on what it left, and a
change sent over HTTP to a server that loses its answer: the helpers the trust tests share
(tests/engine/test_trust21.py, test_trust22_runtime.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

# A change, then a wait long enough to kill the run in: the change is made and recorded before
# the kill (the guide's `{ledger}` is a file each run of the change appends a line to)
CHANGE_THEN_WAIT = """# Restart

## Mitigation

1. Record the restart {{#record}}:

   ```bash
   echo restarted >> {ledger}
   ```

2. Let it settle {{#settle}}:

   ```bash
   sleep 30
   ```
"""

# A change sent over HTTP, retried up to three times (the guide's `{port}` is the test server's)
RESTART_OVER_HTTP = """# Restart

## Mitigation

1. Restart the service {{#restart retries=3}}:

   ```http
   method: POST
   url: http://127.0.0.1:{port}/restart
   ```
"""


def mendflow(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI run as a person would, with `env`, no terminal, its output captured."""
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def assert_one_line_error(proc: subprocess.CompletedProcess[str], code: int, words: str) -> None:
    """The CLI refused with exit `code` and one `error:` line saying `words`, no traceback."""
    said = proc.stdout + proc.stderr
    assert proc.returncode == code, said
    assert "Traceback" not in said and "internal error" not in said, said
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and words in errors[0], said


def started(db: Path, step: str) -> bool:
    """Whether the run in the store file `db` has started `step`."""
    if not db.exists():
        return False
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            row = conn.execute("SELECT 1 FROM events WHERE type = 'step_started' AND step_id = ?",
                               (step,)).fetchone()
        conn.close()
    except sqlite3.OperationalError:  # not created yet
        return False
    return row is not None


def killed_run(tmp_path: Path, guide_text: str, step: str, *args: str,
               env: dict[str, str] | None = None, name: str = "guide.md"
               ) -> tuple[Path, str, dict[str, str]]:
    """`mendflow run` of the guide (a plan's JSON when `name` ends .json), SIGKILLed once
    `step` has started: the store's file, the run's id, and the environment to go on with."""
    guide = tmp_path / name
    guide.write_text(guide_text)
    data = tmp_path / "data"
    full = {**os.environ, "MENDFLOW_DATA_DIR": str(data), **(env or {})}
    full.pop("MENDFLOW_DEBUG", None)
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "run", str(guide), *args],
                            env=full, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    db = data / "mendflow.sqlite3"
    deadline = time.monotonic() + 60
    while not started(db, step):
        assert proc.poll() is None, f"the run ended before step {step}"
        assert time.monotonic() < deadline, f"the run never reached step {step}"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    with sqlite3.connect(db) as conn:
        (run_id,) = conn.execute("SELECT run_id FROM runs").fetchone()
    conn.close()
    return db, run_id, full


def restart_over_http(tmp_path: Path, serve: Callable[[list[bytes]], Awaitable[asyncio.Server]]
                      ) -> tuple[list[bytes], Any]:
    """RESTART_OVER_HTTP run to its end (approved) against the server `serve` starts, which
    appends each request it receives to the list it is given: the requests, the run's record."""
    from engine.compile import compile_guide
    from engine.guide import parse_guide
    from engine.interaction import Answers
    from engine.plugins import default_registry
    from engine.runtime.executor import LocalExecutor
    from engine.runtime.services import Services
    from engine.settings import Settings
    from engine.store import open_store

    async def go() -> tuple[list[bytes], Any]:
        received: list[bytes] = []
        server = await serve(received)
        port = server.sockets[0].getsockname()[1]
        plan = compile_guide(parse_guide(RESTART_OVER_HTTP.format(port=port), path="g.md"),
                             known_plugins={"http"})
        store = open_store(tmp_path / "s.sqlite3")
        await store.open()
        try:
            executor = LocalExecutor(Services(store=store, registry=default_registry(),
                                              settings=Settings(data_dir=tmp_path)),
                                     interaction=Answers(assume_yes=True))
            record = await executor.start(plan, guide_path="g.md")
        finally:
            await store.close()
            server.close()
            await server.wait_closed()
        return received, record

    return asyncio.run(go())
