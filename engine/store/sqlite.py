"""The embedded store: one SQLite file (stdlib `sqlite3`, no server) plus an artifacts directory.

This module owns the SQLite schema, its migrations, and the translation of every `sqlite3`
exception into `StoreError`. It implements `engine.store.base.SharedStore` (the `Store`, and
what workers sharing it need: each of those methods is one `BEGIN IMMEDIATE` transaction, the
file's write lock standing for PostgreSQL's row and advisory locks); which store a target
names is decided by `engine.store.open_store`.

Concurrency. The engine is async and `sqlite3` blocks, so each store has one connection and one
worker thread; every call is run there, one at a time, which also serialises commits made by
tasks of the same process. A commit (and each `SharedStore` write: `begin_step`,
`commit_or_park`, `commit_locked`, `apply_reports`) is the exception: it is first tried on the
caller's thread (the event loop) on a second connection that never waits for SQLite's write
lock (busy timeout 0), which spares the two thread handoffs, which cost more than the commit
itself (about 60 us); if the lock is held (by the store's thread or another process), the
commit queues on the thread like any call and waits there. So that the loop never copies the
WAL into the database, that connection does not checkpoint on commit; every `CHECKPOINT_EVERY`
commits a third connection does, on a thread of its own (a passive checkpoint, as SQLite's
automatic one is), while the loop goes on committing and the store's thread answers other
calls: a checkpoint syncs the log and the database file, milliseconds that neither need wait
for. The log restarts from its start only after a checkpoint with no commit in
between: when a checkpoint finds it past `WAL_LIMIT_FRAMES` (commits kept coming), the next
commit is made on the thread right after a checkpoint there, and waits for it (the thread's own
writes checkpoint in line at that size too, not at SQLite's default 1,000 pages). Other
processes (a run in one, `mendflow runs` in another) share the file through SQLite's own locks:
writes take the write lock up front (`BEGIN IMMEDIATE`) and wait up to `busy_timeout_s` for it.
WAL mode lets readers proceed while a writer commits. The file must be on a local filesystem
(WAL needs shared memory; not NFS).

Durability. WAL with `synchronous=NORMAL`: a commit that returned survives a crash or `kill -9`
of the process; only a power loss or OS crash may lose the last commits (the file stays
consistent either way).

Artifacts are files under `<artifacts_dir>/<run_id>/<step_id>/<attempt>/<name>`, written to a
temporary file and renamed into place; their size and sha256 are kept in SQLite, and
`get_artifact` refuses bytes whose hash does not match.

Datetimes are stored as ISO 8601 text in UTC and read back timezone-aware; a naive datetime
given to the store is taken to be UTC already.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from engine.errors import RunNotFound, StoreError
from engine.plan import Plan
from engine.store._codec import (
    RUN_COLUMNS,
    UNREADABLE,
    check_status,
    dumps,
    memory_entries,
    memory_json,
    run_values,
    stored_plan,
    unreadable,
)
from engine.store.base import (
    AlertRecord,
    ArtifactRef,
    Committed,
    EventRecord,
    FailureFix,
    FailureRecord,
    Lease,
    LeaseHeld,
    LlmUsage,
    MemoryEntry,
    NextClaim,
    Question,
    QuestionKind,
    Report,
    RunCause,
    RunNotes,
    RunOptions,
    RunRecord,
    RunStatus,
    SharedStore,
    SignatureStats,
    StaleState,
    StepStart,
)

T = TypeVar("T")
log = logging.getLogger("mendflow.store.sqlite")

# Statements are composed once, here, from constants; every value is a bound ? parameter.
# A run's state snapshot is kept apart from its row (`snapshots`, migration 14): a commit
# rewrites the whole row it updates, and the row is updated by every commit, the snapshot
# (O(steps)) only now and then. A run is inserted as both rows, read as one (RUN_COLUMNS).
_RUN_ROW_COLUMNS = ", ".join(c for c in (c.strip() for c in RUN_COLUMNS.split(","))
                             if c not in ("state", "state_seq"))
_INSERT_RUN = (f"INSERT INTO runs ({_RUN_ROW_COLUMNS}) VALUES "
               f"({', '.join('?' for _ in _RUN_ROW_COLUMNS.split(','))})")
_INSERT_SNAPSHOT = "INSERT INTO snapshots (run_id, state, state_seq) VALUES (?, ?, ?)"
_RUN_FIELDS = ", ".join(
    f"(SELECT s.{c} FROM snapshots AS s WHERE s.run_id = runs.run_id)"
    if c in ("state", "state_seq") else c for c in (c.strip() for c in RUN_COLUMNS.split(",")))
"""RUN_COLUMNS, selected from `runs`: the snapshot's columns read from its own row."""
_SELECT_RUN = f"SELECT {_RUN_FIELDS} FROM runs WHERE run_id = ?"
_SELECT_CHILD_RUNS = (f"SELECT {_RUN_FIELDS} FROM runs WHERE parent_run_id = ? "
                      "ORDER BY created_at, rowid")
_SELECT_NEWEST_RUNS = (f"SELECT {_RUN_FIELDS} FROM runs ORDER BY created_at DESC, rowid DESC "
                       "LIMIT ?")
_ADD_LLM_USAGE = (
    "INSERT INTO llm_usage (run_id, purpose, model, calls, input_tokens, output_tokens, "
    "cost_usd) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, purpose, model) DO UPDATE SET "
    "calls = calls + excluded.calls, input_tokens = input_tokens + excluded.input_tokens, "
    "output_tokens = output_tokens + excluded.output_tokens, "
    "cost_usd = cost_usd + excluded.cost_usd")

_SELECT_STALLED_RUNS = (f"SELECT {_RUN_FIELDS} FROM runs WHERE status = 'running' AND updated_at "
                        "< ? AND parent_run_id IS NULL ORDER BY updated_at LIMIT ?")

_SELECT_STOPPED_RUNS = (f"SELECT {_RUN_FIELDS} FROM runs WHERE status <> 'running' AND "
                        "updated_at >= ? AND parent_run_id IS NULL ORDER BY updated_at LIMIT ?")

_QUESTION_COLUMNS = "run_id, step_id, kind, text, asked_at, answered_at, yes, by, source"
_ALERT_COLUMNS = ("received_at, group_key, alertname, status, disposition, guide, run_id, "
                  "detail, labels, annotations, fingerprint")

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: plans, runs, their events, memory, step claims and artifact refs
    (
        """CREATE TABLE plans (
            hash TEXT PRIMARY KEY, plan_id TEXT NOT NULL, json TEXT NOT NULL,
            saved_at TEXT NOT NULL)""",
        """CREATE TABLE runs (
            run_id TEXT PRIMARY KEY, plan_id TEXT NOT NULL, plan_hash TEXT NOT NULL,
            guide_path TEXT NOT NULL, title TEXT NOT NULL, status TEXT NOT NULL,
            outcome TEXT, reason TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
            version INTEGER NOT NULL, state TEXT NOT NULL, context TEXT NOT NULL,
            options TEXT NOT NULL)""",
        "CREATE INDEX runs_newest_first ON runs (created_at DESC)",
        """CREATE TABLE events (
            run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            seq INTEGER NOT NULL, at TEXT NOT NULL, type TEXT NOT NULL, step_id TEXT,
            attempt INTEGER, data TEXT NOT NULL, PRIMARY KEY (run_id, seq))""",
        """CREATE TABLE memory (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            key TEXT NOT NULL, value TEXT NOT NULL, step_id TEXT NOT NULL,
            attempt INTEGER NOT NULL, at TEXT NOT NULL)""",
        "CREATE INDEX memory_by_run ON memory (run_id, id)",
        """CREATE TABLE claims (
            run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            step_id TEXT NOT NULL, attempt INTEGER NOT NULL, owner TEXT NOT NULL,
            claimed_at TEXT NOT NULL, expires_at REAL,
            PRIMARY KEY (run_id, step_id, attempt))""",
        """CREATE TABLE artifacts (
            run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            step_id TEXT NOT NULL, attempt INTEGER NOT NULL, name TEXT NOT NULL,
            size INTEGER NOT NULL, sha256 TEXT NOT NULL, created_at TEXT NOT NULL,
            PRIMARY KEY (run_id, step_id, attempt, name))""",
    ),
    # 2: the state snapshot is written now and then; events after state_seq are replayed
    ("ALTER TABLE runs ADD COLUMN state_seq INTEGER NOT NULL DEFAULT 0",),
    # 3: one driver per run: its lease, renewed while it drives
    ("""CREATE TABLE leases (
            run_id TEXT PRIMARY KEY REFERENCES runs (run_id) ON DELETE CASCADE,
            holder TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
            since TEXT NOT NULL, expires_at REAL NOT NULL)""",),
    # 4: what a run spent on LLMs (judge, compile): calls, tokens, approximate cost
    ("""CREATE TABLE llm_usage (
            run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            purpose TEXT NOT NULL, model TEXT NOT NULL, calls INTEGER NOT NULL,
            input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, cost_usd REAL,
            PRIMARY KEY (run_id, purpose, model))""",),
    # 5: concurrency slots (`take_slot`): slot i of key k is held by one step attempt until it
    # releases it or its lease lapses
    ("""CREATE TABLE slots (
            key TEXT NOT NULL, slot INTEGER NOT NULL, holder TEXT NOT NULL,
            expires_at REAL NOT NULL, PRIMARY KEY (key, slot))""",),
    # 6: alerts `mendflow serve` received, and the one live run of each alert group
    ("""CREATE TABLE alerts (
            no INTEGER PRIMARY KEY AUTOINCREMENT, received_at TEXT NOT NULL,
            group_key TEXT NOT NULL, alertname TEXT NOT NULL, status TEXT NOT NULL,
            disposition TEXT NOT NULL, guide TEXT, run_id TEXT, detail TEXT NOT NULL,
            labels TEXT NOT NULL, annotations TEXT NOT NULL, fingerprint TEXT NOT NULL)""",
     "CREATE INDEX alerts_by_disposition ON alerts (disposition, no DESC)",
     """CREATE TABLE alert_groups (
            group_key TEXT PRIMARY KEY, run_id TEXT NOT NULL, guide TEXT NOT NULL,
            claimed_at REAL NOT NULL)"""),
    # 7: a linked guide's child run names the run and call step that started it
    ("ALTER TABLE runs ADD COLUMN parent_run_id TEXT",
     "ALTER TABLE runs ADD COLUMN parent_step TEXT",
     "CREATE INDEX runs_children ON runs (parent_run_id) WHERE parent_run_id IS NOT NULL"),
    # 8: questions put to people through the API, and who answered them, when, from where
    ("""CREATE TABLE questions (
            run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            step_id TEXT NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL,
            asked_at TEXT NOT NULL, answered_at TEXT, yes INTEGER, by TEXT, source TEXT,
            PRIMARY KEY (run_id, step_id))""",),
    # 9: what workers sharing the store need (`SharedStore`): finished steps' reports parked
    # for the run's applier (oldest first by rowid), and the running runs by idleness
    ("""CREATE TABLE reports (
            run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            step_id TEXT NOT NULL, attempt INTEGER NOT NULL, type TEXT NOT NULL,
            data TEXT NOT NULL, memory TEXT NOT NULL, at TEXT NOT NULL,
            PRIMARY KEY (run_id, step_id, attempt))""",
     "CREATE INDEX runs_running ON runs (updated_at) WHERE status = 'running'"),
    # 10: a commit writes one page per table it appends to. Events are kept in their primary
    # key's order (WITHOUT ROWID: one b-tree, not a table and its key's index); memory entries
    # likewise, keyed by the run version that wrote them (`commit_version`) and their place in
    # it (`n`), instead of an AUTOINCREMENT id (a table, an index, and sqlite_sequence's row,
    # all written by every commit). Entries from before keep their order: version 0, n their id.
    ("""CREATE TABLE events_10 (
            run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            seq INTEGER NOT NULL, at TEXT NOT NULL, type TEXT NOT NULL, step_id TEXT,
            attempt INTEGER, data TEXT NOT NULL, PRIMARY KEY (run_id, seq)) WITHOUT ROWID""",
     """INSERT INTO events_10 (run_id, seq, at, type, step_id, attempt, data)
            SELECT run_id, seq, at, type, step_id, attempt, data FROM events""",
     "DROP TABLE events",
     "ALTER TABLE events_10 RENAME TO events",
     """CREATE TABLE memory_10 (
            run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            commit_version INTEGER NOT NULL, n INTEGER NOT NULL, key TEXT NOT NULL,
            value TEXT NOT NULL, step_id TEXT NOT NULL, attempt INTEGER NOT NULL,
            at TEXT NOT NULL, PRIMARY KEY (run_id, commit_version, n)) WITHOUT ROWID""",
     """INSERT INTO memory_10 (run_id, commit_version, n, key, value, step_id, attempt, at)
            SELECT run_id, 0, id, key, value, step_id, attempt, at FROM memory""",
     "DROP TABLE memory",
     "ALTER TABLE memory_10 RENAME TO memory"),
    # 11: what runs teach (`engine.learn`): failed attempts by signature, the fixes of failures
    # in later runs, and each ended run's root cause
    ("""CREATE TABLE failures (
            run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            step_id TEXT NOT NULL, attempt INTEGER NOT NULL, signature TEXT NOT NULL,
            pattern TEXT NOT NULL, message TEXT NOT NULL, guide TEXT NOT NULL,
            guide_path TEXT NOT NULL, plan_hash TEXT NOT NULL, line INTEGER, at TEXT NOT NULL,
            PRIMARY KEY (run_id, step_id, attempt))""",
     "CREATE INDEX failures_by_signature ON failures (signature, at)",
     "CREATE INDEX failures_by_step ON failures (guide, step_id, at)",
     """CREATE TABLE failure_fixes (
            failed_run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            step_id TEXT NOT NULL, signature TEXT NOT NULL, fixed_run_id TEXT NOT NULL,
            changes TEXT NOT NULL, at TEXT NOT NULL,
            PRIMARY KEY (failed_run_id, step_id, signature))""",
     "CREATE INDEX failure_fixes_by_signature ON failure_fixes (signature, at)",
     """CREATE TABLE run_causes (
            run_id TEXT PRIMARY KEY REFERENCES runs (run_id) ON DELETE CASCADE,
            guide TEXT NOT NULL, cause TEXT NOT NULL, summary TEXT NOT NULL,
            evidence TEXT NOT NULL, at TEXT NOT NULL)""",
     "CREATE INDEX run_causes_by_guide ON run_causes (guide, cause, at)"),
    # 12: the notifications `mendflow serve` sent, one row per run and event (`claim_notice`)
    ("""CREATE TABLE notices (
            run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            key TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (run_id, key))""",),
    # 13: the runs that stopped since a notifier last looked (`stopped_runs`, every poll of every
    # `serve`), by update time without reading every run. Only stopped top-level runs are in it:
    # the commits of running runs, which move updated_at, write nothing to it.
    ("CREATE INDEX runs_stopped ON runs (updated_at) "
     "WHERE status <> 'running' AND parent_run_id IS NULL",),
    # 14: the state snapshot moves out of the run's row into a row of its own. SQLite rewrites
    # a whole row to update any column of it, and every commit updates the run's (version,
    # status, time), while the snapshot (O(steps), tens of KB for a large plan) changes only
    # now and then: in the row, each commit copied it, which cost more than the rest of the
    # update.
    ("""CREATE TABLE snapshots (
            run_id TEXT PRIMARY KEY REFERENCES runs (run_id) ON DELETE CASCADE,
            state TEXT NOT NULL, state_seq INTEGER NOT NULL)""",
     "INSERT INTO snapshots (run_id, state, state_seq) SELECT run_id, state, state_seq FROM runs",
     "ALTER TABLE runs DROP COLUMN state",
     "ALTER TABLE runs DROP COLUMN state_seq"),
)
"""Migration N (1-based) brings the schema from user_version N-1 to N. Append, never edit."""

CHECKPOINT_EVERY = 256
"""Commits between the store thread's WAL checkpoints (at a few pages a commit, about what
SQLite's automatic checkpoint at 1,000 pages would do)."""

WAL_LIMIT_FRAMES = 4096
"""Pages (16 MB at 4 KB) past which the log is restarted, the loop waiting for a checkpoint."""

# A guide's step histories (`step_durations`): the work time of each successful attempt in
# its latest runs that are over, newest first by the runs' index on created_at.
_STEP_DURATIONS = (
    "SELECT e.step_id, json_extract(e.data, '$.duration_s') FROM (SELECT run_id FROM runs "
    "WHERE plan_id = ? AND status <> 'running' AND created_at < ? "
    "ORDER BY created_at DESC LIMIT ?) AS r JOIN events AS e ON e.run_id = r.run_id "
    "WHERE e.type = 'step_succeeded' AND e.step_id IS NOT NULL "
    "AND json_extract(e.data, '$.duration_s') IS NOT NULL "
    "AND coalesce(json_extract(e.data, '$.event.note'), '') <> 'dry run' "
    "AND json_extract(e.data, '$.replayed') IS NULL")  # a replay's served steps: not work
_INSERT_EVENTS = ("INSERT INTO events (run_id, seq, at, type, step_id, attempt, data) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?)")
_INSERT_MEMORY = ("INSERT INTO memory (run_id, commit_version, n, key, value, step_id, attempt, "
                  "at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
_LAST_SEQ = "coalesce((SELECT max(seq) FROM events WHERE run_id = ?), 0)"
# Many runs' events of one type after a seq each (`notes_after`), with each run's last seq: the
# runs come as one JSON object (run id -> seq), each read on the events' primary key from its
# seq on, so a watcher that looks from the last seq it was told reads only what is new.
_NOTES_AFTER = (
    "SELECT w.key, coalesce((SELECT max(seq) FROM events WHERE run_id = w.key), 0), e.seq, "
    "e.at, e.type, e.step_id, e.attempt, e.data FROM json_each(?) AS w "
    "JOIN runs AS r ON r.run_id = w.key "
    "LEFT JOIN events AS e ON e.run_id = w.key AND e.seq > w.value AND e.type = ? "
    "ORDER BY w.key, e.seq")
# The compare-and-set: the run row only at the expected version, returning the run's last event
# seq before this commit's (the events are written after it, in the same transaction).
_ADVANCE = ("UPDATE runs SET status = ?, outcome = ?, reason = ?, updated_at = ?, "
            "version = version + 1 WHERE run_id = ? AND version = ? RETURNING " + _LAST_SEQ)
# A new snapshot, with the last event seq it includes (this commit's last).
_SNAPSHOT = "UPDATE snapshots SET state = ?, state_seq = ? WHERE run_id = ?"

SCHEMA_VERSION = len(MIGRATIONS)



class SqliteStore:
    """The embedded `Store`: `async with SqliteStore(path) as store: ...`."""

    def __init__(self, path: str | Path, *, artifacts_dir: str | Path | None = None,
                 busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path).expanduser()
        self.artifacts_dir = (Path(artifacts_dir).expanduser() if artifacts_dir is not None
                              else self.path.parent / "artifacts")
        self.busy_timeout_s = busy_timeout_s
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._loop_conn: sqlite3.Connection | None = None  # commits on the loop; no waiting
        self._commits = 0  # on the loop, since the last checkpoint
        self._checkpoint: Future[tuple[int, int, int]] | None = None  # on the checkpointer
        self._checkpointer: ThreadPoolExecutor | None = None  # its thread, and connection:
        self._checkpoint_conn: sqlite3.Connection | None = None
        self._restart = False  # the log is past WAL_LIMIT_FRAMES: restart it

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

    async def __aenter__(self) -> SqliteStore:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        if self._executor is not None:
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mendflow-sqlite")
        self._checkpointer = ThreadPoolExecutor(max_workers=1,
                                                thread_name_prefix="mendflow-sqlite-checkpoint")
        try:
            await self._run(self._open)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:  # a checkpoint under way ends before its connection
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: checkpointer.shutdown(wait=True))
        try:
            await asyncio.get_running_loop().run_in_executor(executor, self._close)
        finally:
            executor.shutdown(wait=True)

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the store directory {self.path.parent}: "
                             f"{exc.strerror}",
                             hint="Check the path and its permissions (MENDFLOW_DATA_DIR)") from exc
        # isolation_level=None: no implicit transactions; each write says BEGIN IMMEDIATE.
        self._conn = sqlite3.connect(self.path, isolation_level=None,
                                     timeout=self.busy_timeout_s)
        conn = self._conn
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        mode = self._wal(conn)
        if str(mode).lower() != "wal":
            raise StoreError(f"{self.path}: SQLite refused WAL mode (journal_mode={mode})",
                             hint="Put the store on a local filesystem")
        conn.execute("PRAGMA synchronous = NORMAL")
        # The thread checkpoints every CHECKPOINT_EVERY commits (see _write); a write of its
        # own (a lease, an artifact) checkpoints in line only a log past the limit, as the
        # commits do, instead of any log past SQLite's default 1,000 pages.
        conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_LIMIT_FRAMES}")
        self._migrate(conn)
        fast = sqlite3.connect(self.path, isolation_level=None, timeout=0,
                               check_same_thread=False)  # used by the loop, one call at a time
        fast.execute("PRAGMA busy_timeout = 0")
        fast.execute("PRAGMA foreign_keys = ON")
        fast.execute("PRAGMA synchronous = NORMAL")
        fast.execute("PRAGMA wal_autocheckpoint = 0")  # the checkpointer does (see above)
        self._loop_conn = fast
        self._checkpoint_conn = sqlite3.connect(self.path, isolation_level=None,
                                                check_same_thread=False)  # its thread's

    def _wal(self, conn: sqlite3.Connection) -> str:
        """Switch to WAL. SQLite answers BUSY at once, without waiting on busy_timeout, when
        several connections switch a new file at the same moment: retry within the timeout."""
        deadline = time.monotonic() + self.busy_timeout_s
        while True:
            try:
                return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def _migrate(self, conn: sqlite3.Connection) -> None:
        if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return
        with _transaction(conn):  # re-read under the write lock: another process may migrate
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} has store schema {version}; this Mendflow reads up to "
                    f"{SCHEMA_VERSION}",
                    hint="Upgrade Mendflow, or point MENDFLOW_DATA_DIR at another directory")
            if version == 0 and conn.execute(
                    "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
            ).fetchone()[0]:
                raise StoreError(f"{self.path} is an SQLite database but not a Mendflow store",
                                 hint="Point MENDFLOW_DATA_DIR (or the store URL) elsewhere")
            for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in statements:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")

    def _close(self) -> None:
        fast, self._loop_conn = self._loop_conn, None
        if fast is not None:
            fast.close()
        checkpoints, self._checkpoint_conn = self._checkpoint_conn, None
        if checkpoints is not None:
            checkpoints.close()
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn` on the store's thread, translating sqlite3 errors into StoreError."""
        if self._executor is None:
            raise StoreError(f"{self!r} is not open", hint="Call `await store.open()` first")
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, self._translated, fn, args)

    def _translated(self, fn: Callable[..., T], args: Sequence[Any]) -> T:
        try:
            if self._conn is None and fn != self._open:
                raise StoreError(f"{self!r} is closed", hint="Open it again")
            return fn(*args)
        except sqlite3.Error as exc:
            raise self._store_error(exc) from exc
        except UNREADABLE as exc:
            raise unreadable(str(self.path), exc) from exc

    def _store_error(self, exc: sqlite3.Error) -> StoreError:
        detail = str(exc) or type(exc).__name__
        text = detail.lower()
        if "locked" in text or "busy" in text:
            return StoreError(
                f"{self.path}: the store stayed locked by another process for more than "
                f"{self.busy_timeout_s:g}s", hint="Retry; if it persists, find the process "
                "holding it (fuser on the file)")
        if isinstance(exc, sqlite3.OperationalError) and "unable to open" in text:
            return StoreError(f"cannot open the store {self.path}: {detail}",
                              hint="Check the path and its permissions (MENDFLOW_DATA_DIR)")
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(
                exc, sqlite3.OperationalError | sqlite3.IntegrityError):
            return StoreError(
                f"{self.path} is corrupted or not a Mendflow store ({detail})",
                hint=f"Move it and any {self.path.name}-wal / -shm files beside it aside "
                "(e.g. add .corrupt) and rerun to start a new store; the runs in it are lost")
        return StoreError(f"{self.path}: {detail}")

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run the write transaction `fn(connection)` here, on the loop, if SQLite's write lock
        is free at once; else on the store's thread, waiting for it there. Every
        `CHECKPOINT_EVERY` commits, the checkpointer checkpoints the log meanwhile; once it is
        past `WAL_LIMIT_FRAMES`, a commit goes to the thread after a checkpoint there: with no
        commit of ours in between, the log is then written again from its start."""
        fast = self._loop_conn
        if fast is None or self._executor is None or self._checkpointer is None:
            return await self._run(lambda: fn(self._db()))  # says it is not open
        if self._checkpoint is not None and self._checkpoint.done():
            self._checkpointed(self._checkpoint)
            self._checkpoint = None
        self._commits += 1
        if self._restart and self._checkpoint is None:
            self._restart, self._commits = False, 0

            def checkpointed() -> T:
                db = self._db()
                db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                return fn(db)
            return await self._run(checkpointed)
        if self._commits >= CHECKPOINT_EVERY and self._checkpoint is None:
            self._commits = 0
            # A thread's future, not the loop's: it is seen done even by a caller that never
            # yields to the loop between commits.
            self._checkpoint = self._checkpointer.submit(self._checkpoint_log)
        try:
            return self._translated(fn, (fast,))
        except StoreError as exc:
            if fast.in_transaction:
                fast.execute("ROLLBACK")
            if not _busy(exc):
                raise
        return await self._run(lambda: fn(self._db()))

    def _checkpoint_log(self) -> tuple[int, int, int]:
        """On the checkpointer's thread: copy the log into the database, as far as readers let
        it. (busy, pages in the log, pages copied); a closed store has nothing to checkpoint."""
        conn = self._checkpoint_conn
        if conn is None:
            return (0, 0, 0)
        row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return (int(row[0]), int(row[1]), int(row[2]))

    def _checkpointed(self, done: Future[tuple[int, int, int]]) -> None:
        """A checkpoint of the checkpointer's ended: if the log had grown past its limit (commits
        kept coming while it ran, so it never restarted), the next commit restarts it. A
        failed checkpoint is only logged: the commits are in the log, the next one retries."""
        if done.cancelled():
            return
        error = done.exception()
        if error is not None:
            log.warning("%s: checkpoint failed: %s", self.path, error)
            return
        if done.result()[1] >= WAL_LIMIT_FRAMES:
            self._restart = True

    def _db(self) -> sqlite3.Connection:
        assert self._conn is not None  # _translated checked it
        return self._conn

    # -- plans -----------------------------------------------------------------------------

    async def save_plan(self, plan: Plan) -> str:
        plan_hash = plan.content_hash()
        text = plan.compact_json()  # the hashed text, encoded once a plan

        def save() -> None:
            self._db().execute("INSERT OR IGNORE INTO plans (hash, plan_id, json, saved_at) "
                               "VALUES (?, ?, ?, ?)", (plan_hash, plan.id, text, _now_text()))
        await self._run(save)
        return plan_hash

    async def load_plan(self, plan_hash: str) -> Plan:
        def load() -> str | None:
            row = self._db().execute("SELECT json FROM plans WHERE hash = ?",
                                     (plan_hash,)).fetchone()
            return None if row is None else row[0]
        text = await self._run(load)
        return stored_plan(text, plan_hash, str(self.path))

    # -- runs ------------------------------------------------------------------------------

    async def create_run(self, record: RunRecord) -> None:
        row = dict(zip((c.strip() for c in RUN_COLUMNS.split(",")),
                       run_values(record, _time_text), strict=True))
        snapshot = (record.run_id, row.pop("state"), row.pop("state_seq"))

        def create() -> None:
            db = self._db()
            try:
                with _transaction(db):
                    db.execute(_INSERT_RUN, tuple(row.values()))
                    db.execute(_INSERT_SNAPSHOT, snapshot)
            except sqlite3.IntegrityError as exc:
                raise StoreError(f"a run with id {record.run_id!r} already exists",
                                 hint="Run ids must be unique; generate a new one") from exc
        await self._run(create)

    async def get_run(self, run_id: str) -> RunRecord:
        return await self._run(self._get_run, run_id)

    def _get_run(self, run_id: str, db: sqlite3.Connection | None = None) -> RunRecord:
        row = (db or self._db()).execute(_SELECT_RUN, (run_id,)).fetchone()
        if row is None:
            raise self._not_found(run_id)
        return _run_record(row)

    def _not_found(self, run_id: str) -> RunNotFound:
        return RunNotFound(f"no run {run_id!r} in {self.path}",
                           hint="`mendflow runs` lists the runs it holds")

    async def list_runs(self, *, limit: int = 50) -> list[RunRecord]:
        if limit <= 0:
            return []

        def select() -> list[RunRecord]:
            rows = self._db().execute(_SELECT_NEWEST_RUNS, (limit,)).fetchall()
            return [_run_record(row) for row in rows]
        return await self._run(select)

    async def child_runs(self, run_id: str) -> list[RunRecord]:
        def select() -> list[RunRecord]:
            rows = self._db().execute(_SELECT_CHILD_RUNS, (run_id,)).fetchall()
            return [_run_record(row) for row in rows]
        return await self._run(select)

    async def commit(
        self,
        run_id: str,
        *,
        expected_version: int,
        state: dict[str, Any] | None,
        status: RunStatus,
        outcome: str | None = None,
        reason: str | None = None,
        events: Sequence[tuple[str, str | None, int | None, dict[str, Any]]] = (),
        memory: Sequence[MemoryEntry] = (),
    ) -> int:
        # Encode everything before the transaction: a value that is not JSON writes nothing.
        change = _Change.encode(state=state, status=status, outcome=outcome, reason=reason,
                                events=events, memory=memory)

        def write(db: sqlite3.Connection) -> int:
            with _transaction(db):
                version = change.write(db, run_id, expected_version)
                if version is None:
                    current = db.execute("SELECT version FROM runs WHERE run_id = ?",
                                         (run_id,)).fetchone()
                    if current is None:
                        raise self._not_found(run_id)
                    raise StaleState(
                        f"run {run_id} is at version {current[0]}, not {expected_version}",
                        hint="Re-read the run and apply the event to its current state")
                return version
        return await self._write(write)

    async def events(self, run_id: str, *, after: int = 0) -> list[EventRecord]:
        def select() -> list[EventRecord]:
            events = _events_after(self._db(), run_id, after)
            if not events:
                self._get_run(run_id)  # RunNotFound for an unknown run, [] for a quiet one
            return events
        return await self._run(select)

    async def set_options(self, run_id: str, options: RunOptions) -> None:
        text = dumps(options.model_dump(mode="json"))

        def write(db: sqlite3.Connection) -> None:
            with _transaction(db):
                if db.execute("UPDATE runs SET options = ? WHERE run_id = ?",
                              (text, run_id)).rowcount == 0:
                    raise RunNotFound(f"no run {run_id!r} in {self.path}",
                                      hint="`mendflow runs` lists the runs it holds")
        await self._write(write)

    async def add_note(self, run_id: str, type: str, data: dict[str, Any]) -> int:
        text = dumps(data)

        def write(db: sqlite3.Connection) -> int:
            with _transaction(db):
                if db.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() \
                        is None:
                    raise RunNotFound(f"no run {run_id!r} in {self.path}",
                                      hint="`mendflow runs` lists the runs it holds")
                seq = int(db.execute("SELECT " + _LAST_SEQ, (run_id,)).fetchone()[0]) + 1
                db.execute(_INSERT_EVENTS, (run_id, seq, _now_text(), type, None, None, text))
                return seq
        return await self._write(write)

    async def notes_after(self, type: str, after: Mapping[str, int]) -> dict[str, RunNotes]:
        if not after:
            return {}
        wanted = dumps({run_id: int(seq) for run_id, seq in after.items()})

        def select() -> dict[str, RunNotes]:
            found: dict[str, RunNotes] = {}
            for run_id, last_seq, seq, at, type_, step_id, attempt, data in self._db().execute(
                    _NOTES_AFTER, (wanted, type)):
                notes = found.setdefault(run_id, RunNotes(int(last_seq), [])).notes
                if seq is not None:
                    notes.append(EventRecord(seq=seq, at=_parse_time(at), type=type_,
                                             step_id=step_id, attempt=attempt,
                                             data=json.loads(data)))
            return {run_id: found[run_id] for run_id in after if run_id in found}
        return await self._run(select)

    async def step_durations(self, plan_id: str, *, before: datetime | None = None,
                             runs: int = 200) -> dict[str, list[float]]:
        until = _time_text(before) if before is not None else "9999"

        def select() -> dict[str, list[float]]:
            found: dict[str, list[float]] = {}
            for step_id, duration in self._db().execute(_STEP_DURATIONS,
                                                        (plan_id, until, max(runs, 0))):
                found.setdefault(step_id, []).append(float(duration))
            return found
        return await self._run(select)

    async def memory(self, run_id: str) -> list[MemoryEntry]:
        """Every entry written, oldest first; a key written twice appears twice (last wins)."""
        def select() -> list[MemoryEntry]:
            entries = _memory(self._db(), run_id)
            if not entries:
                self._get_run(run_id)
            return entries
        return await self._run(select)

    # -- exactly-once claims ---------------------------------------------------------------

    async def claim_step(self, run_id: str, step_id: str, attempt: int, owner: str, *,
                         lease_s: float | None = None) -> bool:
        def claim() -> bool:
            db = self._db()
            with _transaction(db):
                self._get_run(run_id)
                return _claim(db, run_id, step_id, attempt, owner, lease_s)
        return await self._run(claim)

    # -- what many workers sharing the store need (`SharedStore`) ----------------------------
    #
    # Each is one `BEGIN IMMEDIATE` transaction: it holds SQLite's write lock, which is the
    # whole file's, from its first statement, so what it reads cannot change before it writes
    # (PostgreSQL's row and advisory locks, for one run, are this lock for every run here).

    async def begin_step(self, run_id: str, step_id: str, attempt: int, owner: str, *,
                         lease_s: float | None, marker_owner: str,
                         max_starts: int) -> StepStart:
        """What a worker does before running a step, in one transaction: `claim_step` for
        `owner`; if won, count the start as a permanent claim on the first free marker
        `step#run1..max_starts` (held by `marker_owner`); read the run, the events after its
        snapshot and, if the claim was won, its memory. `starts` is `max_starts + 1` when every
        marker is taken (None when the claim was not won and some are free). RunNotFound for
        an unknown run (nothing is claimed)."""
        markers = [f"{step_id}#run{n}" for n in range(1, max_starts + 1)]

        def begin(db: sqlite3.Connection) -> StepStart:
            with _transaction(db):
                record = self._get_run(run_id, db)
                claimed = _claim(db, run_id, step_id, attempt, owner, lease_s)
                counted = db.execute(
                    f"SELECT count(*) FROM claims WHERE run_id = ? AND attempt = ? AND step_id "
                    f"IN ({', '.join('?' for _ in markers)})",
                    (run_id, attempt, *markers)).fetchone()[0] if markers else 0
                starts: int | None = None
                if counted >= max_starts:
                    starts = max_starts + 1
                elif claimed and db.execute(
                        "INSERT OR IGNORE INTO claims (run_id, step_id, attempt, owner, "
                        "claimed_at) VALUES (?, ?, ?, ?, ?)",
                        (run_id, markers[counted], attempt, marker_owner, _now_text())
                ).rowcount == 1:
                    starts = counted + 1
                return StepStart(record=record,
                                 events=_events_after(db, run_id, record.state_seq),
                                 memory=_memory(db, run_id) if claimed else [],
                                 claimed=claimed, starts=starts)
        return await self._write(begin)

    async def commit_or_park(self, run_id: str, *, expected_version: int,
                             claim: Sequence[NextClaim] = (), **commit: Any) -> Committed:
        """`commit` a step's report (the keyword arguments after `expected_version`; the first
        event row is the step's, the memory its), or, if the run is no longer at
        `expected_version`, park that report (the row and the memory) for the run's applier
        instead, once per (run, step, attempt): one transaction. Returns the new version, or
        None when the report was parked (then call `apply_reports`); and which of the steps
        in `claim` (steps this commit starts; one owner) were claimed with it (only when the
        commit landed, and no one held them) and had their first start counted."""
        kind, step_id, attempt, data = commit["events"][0]
        if step_id is None or attempt is None:
            raise StoreError(f"run {run_id}: a {kind} event is not a step's report",
                             hint="Only a step's report can be parked")
        change = _Change.encode(**commit)
        parked = (run_id, step_id, attempt, kind, dumps(data),
                  dumps(memory_json(commit.get("memory", ()))))

        def write(db: sqlite3.Connection) -> Committed:
            with _transaction(db):
                version = change.write(db, run_id, expected_version)
                if version is None:
                    self._get_run(run_id, db)  # RunNotFound for an unknown run
                    db.execute("INSERT OR IGNORE INTO reports (run_id, step_id, attempt, type, "
                               "data, memory, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                               (*parked, _now_text()))
                    return Committed(None, frozenset(), frozenset())
                now = datetime.now(UTC)
                claimed: set[str] = set()
                counted: set[str] = set()
                for c in claim:
                    if db.execute("INSERT OR IGNORE INTO claims (run_id, step_id, attempt, "
                                  "owner, claimed_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                                  (run_id, c.step_id, c.attempt, c.owner, _time_text(now),
                                   now.timestamp() + c.lease_s)).rowcount != 1:
                        continue  # someone holds it already
                    claimed.add(c.step_id)
                    if db.execute("INSERT OR IGNORE INTO claims (run_id, step_id, attempt, "
                                  "owner, claimed_at) VALUES (?, ?, ?, ?, ?)",
                                  (run_id, f"{c.step_id}#run1", c.attempt, c.marker_owner,
                                   _time_text(now))).rowcount == 1:
                        counted.add(c.step_id)
                return Committed(version, frozenset(claimed), frozenset(counted))
        return await self._write(write)

    async def commit_locked(
        self, run_id: str,
        decide: Callable[[RunRecord, list[EventRecord]], Mapping[str, Any] | None],
    ) -> int | None:
        """Read the run and the events after its snapshot and commit what
        `decide(record, events)` returns (the keyword arguments of `commit` after
        `expected_version`), in one transaction under the write lock; returns the new
        version, or None when `decide` returned None (nothing written). `decide` must be
        pure: it may be called again if the transaction is retried."""
        def locked(db: sqlite3.Connection) -> int | None:
            with _transaction(db):
                record = self._get_run(run_id, db)
                todo = decide(record, _events_after(db, run_id, record.state_seq))
                if todo is None:
                    return None
                version = _Change.encode(**todo).write(db, run_id, record.version)
                assert version is not None, "the write lock is held"
                return version
        return await self._write(locked)

    async def apply_reports(
        self, run_id: str,
        decide: Callable[[RunRecord, list[EventRecord], list[Report]], Mapping[str, Any] | None],
    ) -> tuple[bool, int | None]:
        """Become the run's applier: in one transaction under the write lock, take every
        parked report (oldest first) and commit what `decide(record, events, reports)` returns
        (as `commit_locked`'s `decide` does; the reports are taken even when it returns None).
        Returns (whether this call was the applier: False only for an unknown run, as the
        lock serialises appliers here, the new version or None)."""
        def take(db: sqlite3.Connection) -> tuple[bool, int | None]:
            with _transaction(db):
                row = db.execute(_SELECT_RUN, (run_id,)).fetchone()
                if row is None:
                    return False, None
                record = _run_record(row)
                reports = [Report(step_id=step_id, attempt=attempt, type=type_,
                                  data=json.loads(data),
                                  memory=memory_entries(json.loads(memory)))
                           for step_id, attempt, type_, data, memory in db.execute(
                               "SELECT step_id, attempt, type, data, memory FROM reports "
                               "WHERE run_id = ? ORDER BY rowid", (run_id,)).fetchall()]
                db.execute("DELETE FROM reports WHERE run_id = ?", (run_id,))
                todo = decide(record, _events_after(db, run_id, record.state_seq), reports)
                if todo is None:
                    return True, None
                version = _Change.encode(**todo).write(db, run_id, record.version)
                assert version is not None, "the write lock is held"
                return True, version
        return await self._write(take)

    async def has_reports(self, run_id: str) -> bool:
        """Whether reports are parked for the run (an applier asks after it is done)."""
        def select() -> bool:
            return self._db().execute("SELECT 1 FROM reports WHERE run_id = ? LIMIT 1",
                                      (run_id,)).fetchone() is not None
        return await self._run(select)

    async def stopped_runs(self, *, since: datetime, limit: int = 100) -> list[RunRecord]:
        if limit <= 0:
            return []

        def select() -> list[RunRecord]:
            rows = self._db().execute(_SELECT_STOPPED_RUNS, (_time_text(since), limit)).fetchall()
            return [_run_record(row) for row in rows]
        return await self._run(select)

    async def stalled_runs(self, *, idle_s: float, limit: int = 100) -> list[RunRecord]:
        """Runs still `running` that no one has committed to for `idle_s` seconds, oldest
        first, but child runs (the process running their call step drives them)."""
        cutoff = _time_text(datetime.fromtimestamp(time.time() - idle_s, UTC))

        def select() -> list[RunRecord]:
            rows = self._db().execute(_SELECT_STALLED_RUNS, (cutoff, limit)).fetchall()
            return [_run_record(row) for row in rows]
        return await self._run(select)

    # -- alerts (`mendflow serve`) -----------------------------------------------------------

    async def claim_alert_group(self, group_key: str, *, run_id: str, guide: str) -> str:
        def claim() -> str:
            db = self._db()
            with _transaction(db):
                now = time.time()
                row = db.execute(
                    "SELECT g.run_id, g.claimed_at, r.status FROM alert_groups g LEFT JOIN runs r "
                    "ON r.run_id = g.run_id WHERE g.group_key = ?", (group_key,)).fetchone()
                if row is not None:
                    held, claimed_at, status = row
                    if status in ("running", "interrupted") or (
                            status is None and claimed_at > now - 60):
                        return str(held)
                db.execute("INSERT OR REPLACE INTO alert_groups (group_key, run_id, guide, "
                           "claimed_at) VALUES (?, ?, ?, ?)", (group_key, run_id, guide, now))
                return run_id
        return await self._run(claim)

    async def alert_group_run(self, group_key: str) -> str | None:
        def read() -> str | None:
            row = self._db().execute("SELECT run_id FROM alert_groups WHERE group_key = ?",
                                     (group_key,)).fetchone()
            return None if row is None else str(row[0])
        return await self._run(read)

    async def release_alert_group(self, group_key: str, *, run_id: str) -> None:
        def release() -> None:
            with _transaction(self._db()):
                self._db().execute("DELETE FROM alert_groups WHERE group_key = ? AND run_id = ?",
                                   (group_key, run_id))
        await self._run(release)

    async def claim_notice(self, run_id: str, key: str) -> bool:
        def claim() -> bool:
            db = self._db()
            with _transaction(db):
                done = db.execute("INSERT OR IGNORE INTO notices (run_id, key, at) VALUES "
                                  "(?, ?, ?)", (run_id, key, time.time()))
                return done.rowcount == 1
        return await self._run(claim)

    async def record_alert(self, record: AlertRecord) -> None:
        def insert() -> None:
            with _transaction(self._db()):
                self._db().execute(
                    f"INSERT INTO alerts ({_ALERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
                    "?, ?)", (_time_text(record.received_at), record.group_key,
                              record.alertname, record.status, record.disposition, record.guide,
                              record.run_id, record.detail, json.dumps(record.labels),
                              json.dumps(record.annotations), record.fingerprint))
        await self._run(insert)

    async def alerts(self, *, limit: int = 100,
                     disposition: str | None = None) -> list[AlertRecord]:
        def select() -> list[AlertRecord]:
            rows = self._db().execute(
                f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE ? IS NULL OR disposition = ? "
                "ORDER BY no DESC LIMIT ?", (disposition, disposition, limit)).fetchall()
            names = [c.strip() for c in _ALERT_COLUMNS.split(",")]
            return [AlertRecord(**{**dict(zip(names, r)), "received_at": _parse_time(r[0]),
                                   "labels": json.loads(r[8]), "annotations": json.loads(r[9])})
                    for r in rows]
        return await self._run(select)

    # -- questions for people ----------------------------------------------------------------

    def _question(self, run_id: str, step_id: str) -> Question | None:
        row = self._db().execute(f"SELECT {_QUESTION_COLUMNS} FROM questions WHERE run_id = ? "
                                 "AND step_id = ?", (run_id, step_id)).fetchone()
        return None if row is None else _question(row)

    async def ask_question(self, run_id: str, step_id: str, *, kind: QuestionKind,
                           text: str) -> Question:
        def ask() -> Question:
            with _transaction(self._db()):
                self._get_run(run_id)  # RunNotFound for an unknown run
                self._db().execute(
                    "INSERT OR IGNORE INTO questions (run_id, step_id, kind, text, asked_at) "
                    "VALUES (?, ?, ?, ?, ?)", (run_id, step_id, kind, text, _now_text()))
                asked = self._question(run_id, step_id)
                assert asked is not None  # inserted or there already, in this transaction
                return asked
        return await self._run(ask)

    async def answer_question(self, run_id: str, step_id: str, *, yes: bool, by: str,
                              source: str) -> Question | None:
        def answer() -> Question | None:
            with _transaction(self._db()):
                cur = self._db().execute(
                    "UPDATE questions SET answered_at = ?, yes = ?, by = ?, source = ? WHERE "
                    "run_id = ? AND step_id = ? AND answered_at IS NULL",
                    (_now_text(), int(yes), by, source, run_id, step_id))
                return self._question(run_id, step_id) if cur.rowcount == 1 else None
        return await self._run(answer)

    async def questions(self, *, run_id: str | None = None,
                        pending: bool = True) -> list[Question]:
        def select() -> list[Question]:
            rows = self._db().execute(
                f"SELECT {_QUESTION_COLUMNS} FROM questions WHERE (? IS NULL OR run_id = ?) "
                "AND (NOT ? OR answered_at IS NULL) ORDER BY asked_at",
                (run_id, run_id, int(pending))).fetchall()
            return [_question(r) for r in rows]
        return await self._run(select)

    # -- concurrency slots shared by every process ------------------------------------------

    async def take_slot(self, key: str, *, limit: int, holder: str, ttl_s: float) -> bool:
        def take() -> bool:
            db = self._db()
            with _transaction(db):
                now = time.time()
                rows = db.execute("SELECT slot, holder, expires_at FROM slots WHERE key = ? "
                                  "AND slot < ?", (key, limit)).fetchall()
                mine = [slot for slot, owner, _ in rows if owner == holder]
                live = {slot for slot, owner, expires in rows if expires > now}
                # the lowest free slot is 0 or one past a live one: found in the slots held,
                # not by walking the limit (a limit of 100,000 cost ~5 ms a take, each one
                # holding the store's thread)
                free = mine or sorted(s for s in {0, *(slot + 1 for slot in live)}
                                      if s < limit and s not in live)[:1]
                if not free:
                    return False
                db.execute("INSERT OR REPLACE INTO slots (key, slot, holder, expires_at) "
                           "VALUES (?, ?, ?, ?)", (key, free[0], holder, now + ttl_s))
                return True
        return await self._run(take)

    async def release_slot(self, key: str, *, holder: str) -> None:
        def release() -> None:
            with _transaction(self._db()):
                self._db().execute("DELETE FROM slots WHERE key = ? AND holder = ?",
                                   (key, holder))
        await self._run(release)

    # -- one driver per run ----------------------------------------------------------------

    async def take_lease(self, run_id: str, *, holder: str, host: str, pid: int, ttl_s: float,
                         replacing: str | None = None) -> Lease:
        def take() -> Lease:
            db = self._db()
            with _transaction(db):
                self._get_run(run_id)
                now = datetime.now(UTC)
                row = db.execute("SELECT holder, host, pid, since, expires_at FROM leases "
                                 "WHERE run_id = ?", (run_id,)).fetchone()
                held = None if row is None else _lease(run_id, row)
                if (held is not None and held.holder not in (holder, replacing)
                        and held.expires_at > now):
                    raise LeaseHeld(held)
                ours = held is not None and held.holder == holder
                since = held.since if ours and held is not None else now
                expires = now.timestamp() + ttl_s
                db.execute("INSERT OR REPLACE INTO leases (run_id, holder, host, pid, since, "
                           "expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                           (run_id, holder, host, pid, _time_text(since), expires))
                return Lease(run_id=run_id, holder=holder, host=host, pid=pid, since=since,
                             expires_at=datetime.fromtimestamp(expires, UTC),
                             taken_over=None if ours else held)
        return await self._run(take)

    async def lease(self, run_id: str) -> tuple[Lease, bool] | None:
        def read() -> tuple[Lease, bool] | None:
            row = self._db().execute("SELECT holder, host, pid, since, expires_at FROM leases "
                                     "WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                return None
            held = _lease(run_id, row)
            return held, held.expires_at > datetime.now(UTC)
        return await self._run(read)

    async def renew_lease(self, run_id: str, *, holder: str, ttl_s: float) -> bool:
        def renew() -> bool:
            with _transaction(self._db()):
                cur = self._db().execute(
                    "UPDATE leases SET expires_at = ? WHERE run_id = ? AND holder = ?",
                    (time.time() + ttl_s, run_id, holder))
                return cur.rowcount == 1
        return await self._run(renew)

    async def release_lease(self, run_id: str, *, holder: str) -> None:
        def release() -> None:
            with _transaction(self._db()):
                self._db().execute("DELETE FROM leases WHERE run_id = ? AND holder = ?",
                                   (run_id, holder))
        await self._run(release)

    # -- LLM accounting --------------------------------------------------------------------

    async def add_llm_usage(self, run_id: str, usage: LlmUsage) -> None:
        def add() -> None:
            with _transaction(self._db()):
                self._get_run(run_id)  # RunNotFound for an unknown run
                self._db().execute(_ADD_LLM_USAGE, (
                    run_id, usage.purpose, usage.model, usage.calls, usage.input_tokens,
                    usage.output_tokens, usage.cost_usd))
        await self._run(add)

    async def llm_usage(self, run_id: str) -> list[LlmUsage]:
        def read() -> list[LlmUsage]:
            rows = self._db().execute(
                "SELECT purpose, model, calls, input_tokens, output_tokens, cost_usd FROM "
                "llm_usage WHERE run_id = ? ORDER BY purpose, model", (run_id,)).fetchall()
            return [LlmUsage(purpose=r[0], model=r[1], calls=r[2], input_tokens=r[3],
                             output_tokens=r[4], cost_usd=r[5]) for r in rows]
        return await self._run(read)

    # -- what runs teach ---------------------------------------------------------------------

    async def record_lessons(self, run_id: str, *, failures: Sequence[FailureRecord],
                             fixes: Sequence[FailureFix], cause: RunCause | None) -> None:
        def record() -> None:
            db = self._db()
            with _transaction(db):
                self._get_run(run_id)  # RunNotFound for an unknown run
                db.execute("DELETE FROM failures WHERE run_id = ?", (run_id,))
                db.executemany(f"INSERT INTO failures ({_FAILURE_COLUMNS}) VALUES "
                               "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               [_failure_row(f) for f in failures])
                db.executemany(
                    "INSERT OR IGNORE INTO failure_fixes (failed_run_id, step_id, signature, "
                    "fixed_run_id, changes, at) VALUES (?, ?, ?, ?, ?, ?)",
                    [(f.failed_run_id, f.step_id, f.signature, f.fixed_run_id,
                      json.dumps(f.changes), _time_text(f.at)) for f in fixes])
                db.execute("DELETE FROM run_causes WHERE run_id = ?", (run_id,))
                if cause is not None:
                    db.execute(
                        "INSERT INTO run_causes (run_id, guide, cause, summary, evidence, at) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (run_id, cause.guide, cause.cause, cause.summary,
                         json.dumps([e.model_dump(mode="json") for e in cause.evidence]),
                         _time_text(cause.at)))
        await self._run(record)

    async def unfixed_failures(self, guide: str, step_ids: Sequence[str], *,
                               before: datetime, limit: int = 1000) -> list[FailureRecord]:
        if not step_ids:
            return []

        def select() -> list[FailureRecord]:
            marks = ", ".join("?" * len(step_ids))
            rows = self._db().execute(
                f"SELECT {_FAILURE_COLUMNS} FROM failures f WHERE guide = ? AND step_id IN "
                f"({marks}) AND at <= ? AND NOT EXISTS (SELECT 1 FROM failure_fixes x WHERE "
                "x.failed_run_id = f.run_id AND x.step_id = f.step_id AND x.signature = "
                "f.signature) ORDER BY at, run_id, step_id, attempt LIMIT ?",
                (guide, *step_ids, _time_text(before), limit)).fetchall()
            return [_failure(r) for r in rows]
        return await self._run(select)

    async def run_failures(self, run_id: str) -> list[FailureRecord]:
        def select() -> list[FailureRecord]:
            rows = self._db().execute(
                f"SELECT {_FAILURE_COLUMNS} FROM failures WHERE run_id = ? "
                "ORDER BY step_id, attempt", (run_id,)).fetchall()
            return [_failure(r) for r in rows]
        return await self._run(select)

    async def signatures(self, *, guide: str | None = None,
                         signatures: Sequence[str] | None = None,
                         limit: int = 100) -> list[SignatureStats]:
        if signatures is not None and not signatures:
            return []

        def select() -> list[SignatureStats]:
            db = self._db()
            named = signatures or []
            marks = ", ".join("?" * len(named))
            rows = db.execute(
                "SELECT signature, max(pattern), count(*), count(DISTINCT run_id), min(at), "
                "max(at), group_concat(DISTINCT guide), group_concat(DISTINCT guide || '/' || "
                "step_id), (SELECT message FROM failures e WHERE e.signature = f.signature "
                "ORDER BY e.at DESC LIMIT 1) FROM failures f WHERE (? IS NULL OR guide = ? OR "
                f"guide_path = ?) {f'AND signature IN ({marks})' if named else ''} "
                "GROUP BY signature ORDER BY max(at) DESC, signature LIMIT ?",
                (guide, guide, guide, *named, limit)).fetchall()
            if not rows:
                return []
            sigs = [r[0] for r in rows]
            fixes: dict[str, list[FailureFix]] = {}
            for f in db.execute(
                    "SELECT signature, failed_run_id, step_id, fixed_run_id, changes, at FROM "
                    f"failure_fixes x WHERE signature IN ({', '.join('?' * len(sigs))}) "
                    f"AND ({_OF_GUIDE}) ORDER BY at DESC, fixed_run_id DESC, failed_run_id DESC",
                    (*sigs, guide, guide, guide)).fetchall():
                fixes.setdefault(f[0], []).append(FailureFix(
                    signature=f[0], failed_run_id=f[1], step_id=f[2], fixed_run_id=f[3],
                    changes=json.loads(f[4]), at=_parse_time(f[5])))
            return [SignatureStats(
                signature=r[0], pattern=r[1], count=r[2], runs=r[3],
                first_seen=_parse_time(r[4]), last_seen=_parse_time(r[5]),
                guides=sorted(r[6].split(",")), steps=sorted(r[7].split(",")),
                example=r[8] or "", fixes=fixes.get(r[0], [])[:_FIXES_SHOWN]) for r in rows]
        return await self._run(select)

    async def run_causes(self, *, run_ids: Sequence[str] | None = None,
                         guide: str | None = None, cause: str | None = None,
                         limit: int = 1000) -> list[RunCause]:
        if run_ids is not None and not run_ids:
            return []

        def select() -> list[RunCause]:
            named = run_ids or []
            marks = ", ".join("?" * len(named))
            rows = self._db().execute(
                "SELECT run_id, guide, cause, summary, evidence, at FROM run_causes WHERE "
                "(? IS NULL OR guide = ?) AND (? IS NULL OR cause = ?) "
                f"{f'AND run_id IN ({marks})' if named else ''} ORDER BY at DESC, run_id "
                "LIMIT ?", (guide, guide, cause, cause, *named, limit)).fetchall()
            return [RunCause(run_id=r[0], guide=r[1], cause=r[2], summary=r[3],
                             evidence=json.loads(r[4]), at=_parse_time(r[5])) for r in rows]
        return await self._run(select)

    # -- artifacts -------------------------------------------------------------------------

    def _artifact_path(self, run_id: str, step_id: str, attempt: int, name: str) -> Path:
        for part in (run_id, step_id, name):
            if part in ("", ".", "..") or any(c in part for c in "/\\\0"):
                raise StoreError(f"artifact path part {part!r} is not a plain file name",
                                 hint="Use names without slashes, NUL or '..'")
        return self.artifacts_dir / run_id / step_id / str(int(attempt)) / name

    async def put_artifact(self, run_id: str, step_id: str, attempt: int, name: str,
                           data: bytes) -> ArtifactRef:
        target = self._artifact_path(run_id, step_id, attempt, name)
        ref = ArtifactRef(run_id=run_id, step_id=step_id, attempt=attempt, name=name,
                          size=len(data), sha256=hashlib.sha256(data).hexdigest())

        def put() -> ArtifactRef:
            self._get_run(run_id)
            try:
                _write_atomically(target, data)
            except OSError as exc:
                raise StoreError(f"cannot write artifact {target}: {exc.strerror}",
                                 hint="Check free space and permissions of the artifacts "
                                 "directory") from exc
            self._db().execute(
                "INSERT OR REPLACE INTO artifacts (run_id, step_id, attempt, name, size, "
                "sha256, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, step_id, attempt, name, ref.size, ref.sha256, _now_text()))
            return ref
        return await self._run(put)

    async def get_artifact(self, ref: ArtifactRef) -> bytes:
        source = self._artifact_path(ref.run_id, ref.step_id, ref.attempt, ref.name)

        def get() -> bytes:
            try:
                data = source.read_bytes()
            except FileNotFoundError as exc:
                raise StoreError(f"artifact {source} is missing",
                                 hint="It was deleted outside Mendflow; rerun the step") from exc
            except OSError as exc:
                raise StoreError(f"cannot read artifact {source}: {exc.strerror}") from exc
            if len(data) != ref.size or hashlib.sha256(data).hexdigest() != ref.sha256:
                raise StoreError(f"artifact {source} does not match its recorded sha256 "
                                 f"{ref.sha256}: it was changed after it was written",
                                 hint="Do not trust its content; rerun the step to recreate it")
            return data
        return await self._run(get)


# -- helpers ---------------------------------------------------------------------------------


class _Change:
    """A commit encoded before its transaction (a value that is not JSON writes nothing),
    written by `write` inside one: the compare-and-set on the run row, then its events and
    memory entries."""

    __slots__ = ("state", "status", "outcome", "reason", "events", "memory")

    def __init__(self, state: str | None, status: str, outcome: str | None,
                 reason: str | None, events: list[tuple[str, str | None, int | None, str]],
                 memory: list[tuple[str, str, str, int, str]]) -> None:
        self.state, self.status, self.outcome, self.reason = state, status, outcome, reason
        self.events, self.memory = events, memory

    @classmethod
    def encode(cls, *, state: dict[str, Any] | None, status: RunStatus,
               outcome: str | None = None, reason: str | None = None,
               events: Sequence[tuple[str, str | None, int | None, dict[str, Any]]] = (),
               memory: Sequence[MemoryEntry] = ()) -> _Change:
        check_status(status)
        return cls(dumps(state) if state is not None else None, status, outcome, reason,
                   [(type_, step_id, attempt, dumps(data))
                    for type_, step_id, attempt, data in events],
                   [(m.key, dumps(m.value), m.step_id, m.attempt, _time_text(m.at))
                    for m in memory])

    def write(self, db: sqlite3.Connection, run_id: str, expected_version: int) -> int | None:
        """The run's new version; None (nothing written) if the run is not at
        `expected_version`, or does not exist."""
        now = _now_text()
        row = db.execute(_ADVANCE, (self.status, self.outcome, self.reason, now, run_id,
                                    expected_version, run_id)).fetchone()
        if row is None:
            return None
        last_seq = row[0]
        if self.state is not None:
            db.execute(_SNAPSHOT, (self.state, last_seq + len(self.events), run_id))
        if self.events:
            db.executemany(_INSERT_EVENTS, [(run_id, last_seq + i, now, *ev)
                                            for i, ev in enumerate(self.events, 1)])
        version = expected_version + 1
        if self.memory:
            db.executemany(_INSERT_MEMORY, [(run_id, version, n, *m)
                                            for n, m in enumerate(self.memory)])
        return version


class _transaction:
    """BEGIN IMMEDIATE (take the write lock now, not on first write) ... COMMIT or ROLLBACK."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type is not None else "COMMIT")


def _write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise




def _busy(exc: StoreError) -> bool:
    """Whether a store error is SQLite's write lock held by another connection."""
    cause = exc.__cause__
    return isinstance(cause, sqlite3.OperationalError) and (
        "locked" in str(cause).lower() or "busy" in str(cause).lower())


def _time_text(at: datetime) -> str:
    if at.tzinfo is not UTC:  # UTC already, as the engine's own times are: as it is
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return at.isoformat(timespec="microseconds")


def _now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


_FAILURE_COLUMNS = ("run_id, step_id, attempt, signature, pattern, message, guide, guide_path, "
                    "plan_hash, line, at")
_FIXES_SHOWN = 5
"""Fixes returned with each signature, newest first."""
# A fix of a failure of the guide (its id or path) when one is named (the three ?s)
_OF_GUIDE = ("? IS NULL OR EXISTS (SELECT 1 FROM failures f WHERE f.run_id = x.failed_run_id "
             "AND f.step_id = x.step_id AND f.signature = x.signature AND (f.guide = ? OR "
             "f.guide_path = ?))")


def _failure_row(f: FailureRecord) -> tuple[Any, ...]:
    return (f.run_id, f.step_id, f.attempt, f.signature, f.pattern, f.message, f.guide,
            f.guide_path, f.plan_hash, f.line, _time_text(f.at))


def _failure(row: Sequence[Any]) -> FailureRecord:
    names = [c.strip() for c in _FAILURE_COLUMNS.split(",")]
    return FailureRecord(**{**dict(zip(names, row)), "at": _parse_time(row[10])})


def _lease(run_id: str, row: Sequence[Any]) -> Lease:
    holder, host, pid, since, expires_at = row
    return Lease(run_id=run_id, holder=holder, host=host, pid=pid, since=_parse_time(since),
                 expires_at=datetime.fromtimestamp(expires_at, UTC))


def _run_record(row: Sequence[Any]) -> RunRecord:
    (run_id, plan_id, plan_hash, guide_path, title, status, outcome, reason, created_at,
     updated_at, version, state, context, options, state_seq, parent_run_id, parent_step) = row
    return RunRecord(run_id=run_id, plan_id=plan_id, plan_hash=plan_hash,
                     guide_path=guide_path, title=title, status=status, outcome=outcome,
                     reason=reason, created_at=_parse_time(created_at),
                     updated_at=_parse_time(updated_at), version=version,
                     state=json.loads(state), context=json.loads(context),
                     options=json.loads(options), state_seq=state_seq,
                     parent_run_id=parent_run_id, parent_step=parent_step)


def _question(row: Sequence[Any]) -> Question:
    run_id, step_id, kind, text, asked_at, answered_at, yes, by, source = row
    return Question(run_id=run_id, step_id=step_id, kind=kind, text=text,
                    asked_at=_parse_time(asked_at),
                    answered_at=_parse_time(answered_at) if answered_at else None,
                    yes=None if yes is None else bool(yes), by=by, source=source)


def _claim(db: sqlite3.Connection, run_id: str, step_id: str, attempt: int, owner: str,
           lease_s: float | None) -> bool:
    """`claim_step` inside a transaction, for a run known to exist."""
    now = datetime.now(UTC)
    expires = None if lease_s is None else now.timestamp() + lease_s
    held = db.execute("SELECT owner, expires_at FROM claims WHERE run_id = ? AND step_id = ? "
                      "AND attempt = ?", (run_id, step_id, attempt)).fetchone()
    if held is not None:
        holder, expires_at = held
        lapsed = expires_at is not None and expires_at <= now.timestamp()
        if holder != owner and not lapsed:
            return False
    db.execute("INSERT OR REPLACE INTO claims (run_id, step_id, attempt, owner, claimed_at, "
               "expires_at) VALUES (?, ?, ?, ?, ?, ?)",
               (run_id, step_id, attempt, owner, _time_text(now), expires))
    return True


def _events_after(db: sqlite3.Connection, run_id: str, after: int) -> list[EventRecord]:
    rows = db.execute("SELECT seq, at, type, step_id, attempt, data FROM events "
                      "WHERE run_id = ? AND seq > ? ORDER BY seq", (run_id, after)).fetchall()
    return [EventRecord(seq=seq, at=_parse_time(at), type=type_, step_id=step_id,
                        attempt=attempt, data=json.loads(data))
            for seq, at, type_, step_id, attempt, data in rows]


def _memory(db: sqlite3.Connection, run_id: str) -> list[MemoryEntry]:
    rows = db.execute("SELECT key, value, step_id, attempt, at FROM memory WHERE run_id = ? "
                      "ORDER BY commit_version, n", (run_id,)).fetchall()
    return [MemoryEntry(key=key, value=json.loads(value), step_id=step_id, attempt=attempt,
                        at=_parse_time(at))
            for key, value, step_id, attempt, at in rows]


def _keeps_the_protocol(store: SqliteStore) -> SharedStore:
    """Never called: the type checker holds SqliteStore to the SharedStore protocol here."""
    return store
