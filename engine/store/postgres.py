"""The scale-out store: PostgreSQL through asyncpg (the only asyncpg importer in engine/).

This module owns the PostgreSQL schema, its versioned migrations, the connection pool, and the
translation of every asyncpg and socket exception into `StoreError`. It implements
`engine.store.base.Store` (the same contract tests as SQLite) plus `stalled_runs`, which the
distributed executor's reconciler uses (never for a child run: the process running its call
step drives it). Which store a target names is `engine.store.open_store`'s business.

Migrations. `MIGRATIONS[n-1]` brings the schema from version n-1 to n; the applied versions are
rows of `mendflow_migrations`. `open()` applies the missing ones in one transaction under a
transaction-level advisory lock (keyed by the schema), so two processes starting at once
migrate once: the second waits for the lock, then finds nothing left to do.

Connections. One asyncpg pool per store, living on the event loop that opened it. A query that
fails because the connection went away (PostgreSQL restarted, a socket reset, the server still
starting) is retried on a fresh connection, with backoff, for up to `reconnect_s`; then it is a
`StoreError`. A failed connection at `open()` is not retried: the URL (password masked) and what
to check are reported at once. A commit whose connection broke after it was sent may have landed;
retrying it then raises `StaleState`, which callers already handle by re-reading.

Round trips. A worker's handoff is two statements: `begin_step` (claim the step, count the
start, read the run, the events after its snapshot and its memory) and `commit` (one
statement: the compare-and-set update, the events and the memory, atomic as any statement is).
A worker that goes on to run a step its commit started (continuation) claims it, and counts its
start, in that same statement (`commit_or_park(claim=...)`): a chain then costs one statement
per step. When several steps of one run finish at once, those that lose compare-and-set park their
reports in the same statement (`commit_or_park`, table `reports`), and one applier at a time
(`apply_reports`, under a transaction-level advisory lock keyed by schema and run, then the row
lock) takes every parked report and commits them together; `commit_locked` applies any other
event under the run row's lock instead of retrying compare-and-set. Connections go back to the
pool without asyncpg's reset query (an open transaction is still rolled back): the store sets
no session state, so that query was one wasted round trip per call.

Values are JSON text (not jsonb, which would turn 1.0 into 1 or 1e300 into an integer), times
are `timestamptz`, artifacts are `bytea` rows checked against their sha256 on the way out.
Claim leases are measured on the database's clock, so workers with skewed clocks agree.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

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
    Store,
)

T = TypeVar("T")
log = logging.getLogger("mendflow.store.postgres")

# Statements are composed once, here, from constants; every value is a bound $n parameter.
_INSERT_RUN = (f"INSERT INTO runs ({RUN_COLUMNS}, last_seq) VALUES "
               "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, "
               "$15)")
_SELECT_RUN = f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = $1"
_SELECT_CHILD_RUNS = (f"SELECT {RUN_COLUMNS} FROM runs WHERE parent_run_id = $1 "
                      "ORDER BY created_at, row_no")
_SELECT_NEWEST_RUNS = (f"SELECT {RUN_COLUMNS} FROM runs ORDER BY created_at DESC, row_no DESC "
                       "LIMIT $1")
_ADD_LLM_USAGE = (
    "INSERT INTO llm_usage AS u (run_id, purpose, model, calls, input_tokens, output_tokens, "
    "cost_usd) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (run_id, purpose, model) DO "
    "UPDATE SET calls = u.calls + excluded.calls, input_tokens = u.input_tokens + "
    "excluded.input_tokens, output_tokens = u.output_tokens + excluded.output_tokens, "
    "cost_usd = u.cost_usd + excluded.cost_usd")
_SELECT_STOPPED_RUNS = (f"SELECT {RUN_COLUMNS} FROM runs WHERE status <> 'running' AND "
                        "updated_at >= $1 AND parent_run_id IS NULL ORDER BY updated_at LIMIT $2")
# Many runs' events of one type after a seq each (`notes_after`), with each run's last seq
# (kept on its row): each run's events read on their primary key from its seq on, so a watcher
# that looks from the last seq it was told reads only what is new.
_NOTES_AFTER = (
    "SELECT w.run_id, r.last_seq, e.seq, e.at, e.type, e.step_id, e.attempt, e.data "
    "FROM unnest($1::text[], $2::bigint[]) AS w (run_id, after) "
    "JOIN runs AS r ON r.run_id = w.run_id "
    "LEFT JOIN events AS e ON e.run_id = w.run_id AND e.seq > w.after AND e.type = $3 "
    "ORDER BY w.run_id, e.seq")
_SELECT_STALLED_RUNS = (f"SELECT {RUN_COLUMNS} FROM runs WHERE status = 'running' AND updated_at "
                        "< clock_timestamp() - $1 * interval '1 second' AND parent_run_id IS "
                        "NULL ORDER BY updated_at LIMIT $2")

# A slot of `key` for `holder`: the one it already holds (renewed), else the lowest of 0..limit-1
# that is free or lapsed: 0 or one past a live slot, so a take reads the slots held, never a
# series of `limit` rows (a limit of 100,000 sorted 100,000 rows per take). Two takers that
# pick the same free slot meet on its primary key: one inserts, the other's update finds the
# slot live and returns nothing (it tries again later).
_TAKE_SLOT = (
    "WITH mine AS (UPDATE slots SET expires_at = clock_timestamp() + $4::float8 * interval "
    "'1 second' WHERE key = $1 AND holder = $3 AND slot < $2 RETURNING slot), "
    "free AS (SELECT s FROM (SELECT 0 AS s UNION SELECT slot + 1 FROM slots WHERE key = $1 "
    "AND expires_at > clock_timestamp()) AS c WHERE s < $2 AND NOT EXISTS (SELECT 1 FROM mine) "
    "AND NOT EXISTS (SELECT 1 FROM slots WHERE key = $1 AND slot = c.s AND expires_at > "
    "clock_timestamp()) ORDER BY s LIMIT 1), "
    "taken AS (INSERT INTO slots AS t (key, slot, holder, expires_at) SELECT $1, s, $3, "
    "clock_timestamp() + $4::float8 * interval '1 second' FROM free ON CONFLICT (key, slot) "
    "DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at WHERE "
    "t.expires_at <= clock_timestamp() RETURNING slot) "
    "SELECT EXISTS (SELECT 1 FROM mine) OR EXISTS (SELECT 1 FROM taken) AS got, "
    "EXISTS (SELECT 1 FROM free) AS had_free")
_SLOT_RACES = 100  # lost races in a row before a take gives up (each one is another's win)

# The group's claim moves to a new run only when its run is not live (running or interrupted),
# or was claimed more than a minute ago and never created (its claimer died in between).
_CLAIM_ALERT_GROUP = (
    "INSERT INTO alert_groups AS g (group_key, run_id, guide, claimed_at) VALUES ($1, $2, $3, "
    "clock_timestamp()) ON CONFLICT (group_key) DO UPDATE SET run_id = excluded.run_id, "
    "guide = excluded.guide, claimed_at = excluded.claimed_at WHERE NOT EXISTS (SELECT 1 FROM "
    "runs r WHERE r.run_id = g.run_id AND r.status IN ('running', 'interrupted')) AND (EXISTS "
    "(SELECT 1 FROM runs r WHERE r.run_id = g.run_id) OR g.claimed_at < clock_timestamp() - "
    "interval '60 seconds') RETURNING run_id")
_QUESTION_COLUMNS = ("run_id, step_id, kind, text, asked_at, answered_at, yes, by, source")
_ALERT_COLUMNS = ("received_at, group_key, alertname, status, disposition, guide, run_id, "
                  "detail, labels, annotations, fingerprint")

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: plans, runs, their events, memory, step claims and artifacts (bytes in the table)
    (
        """CREATE TABLE plans (
            hash text PRIMARY KEY, plan_id text NOT NULL, json text NOT NULL,
            saved_at timestamptz NOT NULL DEFAULT now())""",
        """CREATE TABLE runs (
            run_id text PRIMARY KEY, row_no bigserial, plan_id text NOT NULL,
            plan_hash text NOT NULL, guide_path text NOT NULL, title text NOT NULL,
            status text NOT NULL, outcome text, reason text, created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL, version bigint NOT NULL, state text NOT NULL,
            state_seq bigint NOT NULL DEFAULT 0, last_seq bigint NOT NULL DEFAULT 0,
            context text NOT NULL, options text NOT NULL)""",
        "CREATE INDEX runs_newest_first ON runs (created_at DESC, row_no DESC)",
        "CREATE INDEX runs_running ON runs (updated_at) WHERE status = 'running'",
        """CREATE TABLE events (
            run_id text NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            seq bigint NOT NULL, at timestamptz NOT NULL, type text NOT NULL, step_id text,
            attempt integer, data text NOT NULL, PRIMARY KEY (run_id, seq))""",
        """CREATE TABLE memory (
            id bigserial PRIMARY KEY,
            run_id text NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            key text NOT NULL, value text NOT NULL, step_id text NOT NULL,
            attempt integer NOT NULL, at timestamptz NOT NULL)""",
        "CREATE INDEX memory_by_run ON memory (run_id, id)",
        """CREATE TABLE claims (
            run_id text NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            step_id text NOT NULL, attempt integer NOT NULL, owner text NOT NULL,
            claimed_at timestamptz NOT NULL, expires_at timestamptz,
            PRIMARY KEY (run_id, step_id, attempt))""",
        """CREATE TABLE artifacts (
            run_id text NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            step_id text NOT NULL, attempt integer NOT NULL, name text NOT NULL,
            size bigint NOT NULL, sha256 text NOT NULL, data bytea NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (run_id, step_id, attempt, name))""",
    ),
    # 2: finished steps' reports parked for the run's applier (`park_report`, `apply_reports`)
    (
        """CREATE TABLE reports (
            run_id text NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            step_id text NOT NULL, attempt integer NOT NULL, no bigserial, type text NOT NULL,
            data text NOT NULL, memory text NOT NULL, at timestamptz NOT NULL,
            PRIMARY KEY (run_id, step_id, attempt))""",
    ),
    # 3: one driver per run: its lease, renewed while it drives (`take_lease`)
    (
        """CREATE TABLE leases (
            run_id text PRIMARY KEY REFERENCES runs (run_id) ON DELETE CASCADE,
            holder text NOT NULL, host text NOT NULL, pid integer NOT NULL,
            since timestamptz NOT NULL, expires_at timestamptz NOT NULL)""",
    ),
    # 4: what a run spent on LLMs (judge, compile): calls, tokens, approximate cost
    (
        """CREATE TABLE llm_usage (
            run_id text NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            purpose text NOT NULL, model text NOT NULL, calls bigint NOT NULL,
            input_tokens bigint NOT NULL, output_tokens bigint NOT NULL,
            cost_usd double precision, PRIMARY KEY (run_id, purpose, model))""",
    ),
    # 5: concurrency slots shared by every worker (`take_slot`): slot i of key k is held by
    # one step attempt until it releases it or its lease lapses
    (
        """CREATE TABLE slots (
            key text NOT NULL, slot integer NOT NULL, holder text NOT NULL,
            expires_at timestamptz NOT NULL, PRIMARY KEY (key, slot))""",
    ),
    # 6: alerts `mendflow serve` received, and the one live run of each alert group
    (
        """CREATE TABLE alerts (
            no bigserial PRIMARY KEY, received_at timestamptz NOT NULL,
            group_key text NOT NULL, alertname text NOT NULL, status text NOT NULL,
            disposition text NOT NULL, guide text, run_id text, detail text NOT NULL,
            labels text NOT NULL, annotations text NOT NULL, fingerprint text NOT NULL)""",
        "CREATE INDEX alerts_by_disposition ON alerts (disposition, no DESC)",
        """CREATE TABLE alert_groups (
            group_key text PRIMARY KEY, run_id text NOT NULL, guide text NOT NULL,
            claimed_at timestamptz NOT NULL)""",
    ),
    # 7: a linked guide's child run names the run and call step that started it
    (
        "ALTER TABLE runs ADD COLUMN parent_run_id text, ADD COLUMN parent_step text",
        "CREATE INDEX runs_children ON runs (parent_run_id) WHERE parent_run_id IS NOT NULL",
    ),
    # 8: questions put to people through the API, and who answered them, when, from where
    (
        """CREATE TABLE questions (
            run_id text NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            step_id text NOT NULL, kind text NOT NULL, text text NOT NULL,
            asked_at timestamptz NOT NULL, answered_at timestamptz, yes boolean, by text,
            source text, PRIMARY KEY (run_id, step_id))""",
        "CREATE INDEX questions_pending ON questions (asked_at) WHERE answered_at IS NULL",
    ),
    # 9: what runs teach (`engine.learn`): failed attempts by signature, the fixes of failures
    # in later runs, and each ended run's root cause
    (
        """CREATE TABLE failures (
            run_id text NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            step_id text NOT NULL, attempt integer NOT NULL, signature text NOT NULL,
            pattern text NOT NULL, message text NOT NULL, guide text NOT NULL,
            guide_path text NOT NULL, plan_hash text NOT NULL, line integer,
            at timestamptz NOT NULL, PRIMARY KEY (run_id, step_id, attempt))""",
        "CREATE INDEX failures_by_signature ON failures (signature, at)",
        "CREATE INDEX failures_by_step ON failures (guide, step_id, at)",
        """CREATE TABLE failure_fixes (
            failed_run_id text NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            step_id text NOT NULL, signature text NOT NULL, fixed_run_id text NOT NULL,
            changes text NOT NULL, at timestamptz NOT NULL,
            PRIMARY KEY (failed_run_id, step_id, signature))""",
        "CREATE INDEX failure_fixes_by_signature ON failure_fixes (signature, at)",
        """CREATE TABLE run_causes (
            run_id text PRIMARY KEY REFERENCES runs (run_id) ON DELETE CASCADE,
            guide text NOT NULL, cause text NOT NULL, summary text NOT NULL,
            evidence text NOT NULL, at timestamptz NOT NULL)""",
        "CREATE INDEX run_causes_by_guide ON run_causes (guide, cause, at)",
    ),
    # 10: the notifications `mendflow serve` sent, one row per run and event (`claim_notice`):
    # however many processes see the event, one tells it
    (
        """CREATE TABLE notices (
            run_id text NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            key text NOT NULL, at timestamptz NOT NULL, PRIMARY KEY (run_id, key))""",
    ),
    # 11: the runs that stopped since a notifier last looked (`stopped_runs`, every poll of
    # every `serve`), by update time without reading every run. Only stopped top-level runs are
    # in it: the commits of running runs, which move updated_at, write nothing to it.
    (
        "CREATE INDEX runs_stopped ON runs (updated_at) "
        "WHERE status <> 'running' AND parent_run_id IS NULL",
    ),
)
"""Migration N (1-based) brings the schema from version N-1 to N. Append, never edit."""

SCHEMA_VERSION = len(MIGRATIONS)

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

# Events and memory come back as one JSON array each (one round trip, one parse); `data::json`
# and `value::json` embed the stored text verbatim (json, unlike jsonb, keeps 1.0 as 1.0).
_EVENTS_AFTER_SNAPSHOT = (
    "(SELECT json_agg(json_build_object('seq', e.seq, 'at', e.at, 'type', e.type, "
    "'step_id', e.step_id, 'attempt', e.attempt, 'data', e.data::json) ORDER BY e.seq) "
    "FROM events e WHERE e.run_id = r.run_id AND e.seq > r.state_seq)")
_MEMORY = (
    "(SELECT json_agg(json_build_object('key', m.key, 'value', m.value::json, 'step_id', "
    "m.step_id, 'attempt', m.attempt, 'at', m.at) ORDER BY m.id) FROM memory m "
    "WHERE m.run_id = r.run_id)")

# The compare-and-set commit as one statement: the run row (only at the expected version; a
# concurrent writer makes it match nothing), then its events and memory entries, which are
# written only if the row was. $n are `_commit_args`.
_COMMIT_CTES = """
WITH r AS (
    UPDATE runs SET state = coalesce($3, state),
        state_seq = CASE WHEN $3 IS NULL THEN state_seq ELSE last_seq + cardinality($7::text[])
                    END,
        last_seq = last_seq + cardinality($7::text[]), status = $4, outcome = $5, reason = $6,
        updated_at = clock_timestamp(), version = version + 1
    WHERE run_id = $1 AND version = $2
    RETURNING version, last_seq - cardinality($7::text[]) AS base
), ev AS (
    INSERT INTO events (run_id, seq, at, type, step_id, attempt, data)
    SELECT $1, r.base + x.n, clock_timestamp(), x.t, x.s, x.a, x.d
    FROM r, unnest($7::text[], $8::text[], $9::int[], $10::text[]) WITH ORDINALITY
        AS x(t, s, a, d, n)
), mem AS (
    INSERT INTO memory (run_id, key, value, step_id, attempt, at)
    SELECT $1, x.k, x.v, x.s, x.a, x.t
    FROM r, unnest($11::text[], $12::text[], $13::text[], $14::int[], $15::timestamptz[])
        WITH ORDINALITY AS x(k, v, s, a, t, n)
    ORDER BY x.n
)"""
_COMMIT = _COMMIT_CTES + "\nSELECT version FROM r"

# A guide's step histories (`step_durations`): the work time of each successful attempt in
# its latest runs that are over; each run's events by its primary key (the fence, OFFSET 0,
# keeps the planner from parsing every run's events before the join), parsed once. A dry run's
# stand-ins and a replay's served steps (`replayed`: not run, 0 s) are not work times.
_STEP_DURATIONS = """
SELECT e.step_id, (e.j ->> 'duration_s')::float8 AS duration
FROM (SELECT run_id FROM runs
      WHERE plan_id = $1 AND status <> 'running' AND ($2::timestamptz IS NULL OR created_at < $2)
      ORDER BY created_at DESC, row_no DESC LIMIT $3) AS r
CROSS JOIN LATERAL (
    SELECT step_id, data::jsonb AS j FROM events
    WHERE events.run_id = r.run_id AND type = 'step_succeeded' AND step_id IS NOT NULL
    OFFSET 0) AS e
WHERE coalesce(e.j #>> '{event,note}', '') <> 'dry run' AND NOT e.j ? 'replayed'"""

# A note (`add_note`): the next seq taken under the run's row lock, as a commit takes it, but
# the version and the snapshot left alone (the note is after the snapshot, and replays to
# nothing).
_ADD_NOTE = """
WITH r AS (
    UPDATE runs SET last_seq = last_seq + 1 WHERE run_id = $1 RETURNING last_seq
), ev AS (
    INSERT INTO events (run_id, seq, at, type, step_id, attempt, data)
    SELECT $1, r.last_seq, clock_timestamp(), $2, NULL, NULL, $3 FROM r
)
SELECT last_seq FROM r"""

# The compare-and-set commit, or else (a sibling committed first) the step's report parked for
# the run's applier: one statement, so the report is durable before its writer looks for the
# applier's lock. A report already parked for (run, step, attempt) stays (the scheduler would
# ignore a second one). $16.. are the report: step, attempt, type, data, memory. When the commit
# lands, it may also claim steps it started for its writer (continuation): steps $21, attempts
# $22, leases $24 (s), for owner $23; and, for each claim won, count its first start (marker
# `step#run1`, held by $25), as `begin_step` would have.
_COMMIT_OR_PARK = _COMMIT_CTES + """, park AS (
    INSERT INTO reports (run_id, step_id, attempt, type, data, memory, at)
    SELECT $1, $16, $17, $18, $19, $20, clock_timestamp()
    WHERE NOT EXISTS (SELECT 1 FROM r)
    ON CONFLICT DO NOTHING
), claim AS (
    INSERT INTO claims (run_id, step_id, attempt, owner, claimed_at, expires_at)
    SELECT $1, x.s, x.a, $23, clock_timestamp(),
        clock_timestamp() + x.l * interval '1 second'
    FROM r, unnest($21::text[], $22::int[], $24::float8[]) AS x(s, a, l)
    ON CONFLICT DO NOTHING
    RETURNING step_id, attempt
), counted AS (
    INSERT INTO claims (run_id, step_id, attempt, owner, claimed_at)
    SELECT $1, c.step_id || '#run1', c.attempt, $25, clock_timestamp() FROM claim c
    ON CONFLICT DO NOTHING
    RETURNING step_id
)
SELECT version, (SELECT array_agg(step_id) FROM claim) AS claimed,
    (SELECT array_agg(step_id) FROM counted) AS counted FROM r
"""

# The run's applier: the run's advisory lock if free (transaction-scoped; the key is the schema
# and run), then the row lock, the run, its events after the snapshot and the parked reports,
# taken (deleted) in this transaction. No row: another applier holds the lock (it looks for
# reports again after it releases it). A DELETE skips rows a concurrent applier took.
_TAKE_REPORTS = f"""
WITH got AS (
    SELECT pg_try_advisory_xact_lock(hashtextextended(current_schema() || ':' || $1, 0)) AS ok
), r AS (
    SELECT {RUN_COLUMNS}, last_seq FROM runs, got
    WHERE got.ok AND run_id = $1 FOR NO KEY UPDATE OF runs
), taken AS (
    DELETE FROM reports p WHERE p.run_id = $1 AND EXISTS (SELECT 1 FROM r)
    RETURNING p.no, p.step_id, p.attempt, p.type, p.data, p.memory
)
SELECT r.*, {_EVENTS_AFTER_SNAPSHOT} AS events,
    (SELECT json_agg(json_build_object('step_id', t.step_id, 'attempt', t.attempt,
        'type', t.type, 'data', t.data::json, 'memory', t.memory::json) ORDER BY t.no)
     FROM taken t) AS reports
FROM r
"""

# Claim (run, step, attempt), count the start (the first free `step#runN` marker, when the
# claim was won), and read the run, the events after its snapshot and, for the claimant, its
# memory: one statement, one snapshot. $7 are the marker names `step#run1..K`.
_BEGIN_STEP = f"""
WITH r AS (
    SELECT {RUN_COLUMNS} FROM runs WHERE run_id = $1
), claim AS (
    INSERT INTO claims AS c (run_id, step_id, attempt, owner, claimed_at, expires_at)
    SELECT $1, $2, $3, $4, clock_timestamp(),
        clock_timestamp() + $5::float8 * interval '1 second'
    FROM r
    ON CONFLICT (run_id, step_id, attempt) DO UPDATE SET owner = excluded.owner,
        claimed_at = excluded.claimed_at, expires_at = excluded.expires_at
    WHERE c.owner = excluded.owner OR c.expires_at <= clock_timestamp()
    RETURNING 1
), counted AS (
    SELECT count(*) AS n FROM claims
    WHERE run_id = $1 AND attempt = $3 AND step_id = ANY($7::text[])
), start AS (
    INSERT INTO claims (run_id, step_id, attempt, owner, claimed_at)
    SELECT $1, $2 || '#run' || (counted.n + 1), $3, $6, clock_timestamp()
    FROM counted
    WHERE EXISTS (SELECT 1 FROM claim) AND counted.n < cardinality($7::text[])
    ON CONFLICT DO NOTHING
    RETURNING 1
)
SELECT r.*, EXISTS (SELECT 1 FROM claim) AS claimed, (SELECT n FROM counted) AS counted,
    EXISTS (SELECT 1 FROM start) AS marked, {_EVENTS_AFTER_SNAPSHOT} AS events,
    CASE WHEN EXISTS (SELECT 1 FROM claim) THEN {_MEMORY} END AS memory
FROM r
"""

# The run row under a row lock (`NO KEY UPDATE`: claims and events referencing the run are not
# blocked), with the events after its snapshot as this statement's snapshot saw them. After
# waiting for the lock the row is the newest version but the events may be older: the caller
# checks that they reach `last_seq`, and reads them again if not.
_LOCK_RUN = f"""
SELECT {RUN_COLUMNS}, last_seq, {_EVENTS_AFTER_SNAPSHOT} AS events
FROM runs r WHERE r.run_id = $1 FOR NO KEY UPDATE OF r
"""

# Errors after which a fresh connection may succeed: the server restarted, is starting, or the
# socket went away. Anything else (a constraint, bad SQL, auth) is not retried.
_TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.exceptions.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.exceptions.CannotConnectNowError,  # 57P03: the server is starting up
    asyncpg.exceptions.AdminShutdownError,  # 57P01: terminated by the administrator
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.InterfaceError,  # "connection is closed", pool torn down mid-call
    asyncpg.exceptions.InternalClientError,  # a socket that died mid-protocol
)


def mask_password(url: str) -> str:
    """The URL with its password replaced by ***, fit for an error message or a log."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]  # (as written: a port out of range is no number)
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


class PostgresStore:
    """The scale-out `Store`: `async with PostgresStore(url) as store: ...`.

    `schema` puts the tables in their own PostgreSQL schema (created if missing), so that
    several stores can share one database (tests do this).
    """

    def __init__(self, url: str, *, schema: str | None = None, min_size: int = 1,
                 max_size: int = 4, connect_timeout_s: float = 10.0,
                 reconnect_s: float = 30.0) -> None:
        if schema is not None and not _SCHEMA_NAME.match(schema):
            raise StoreError(f"schema name {schema!r} is not a plain lower-case identifier",
                             hint="Use letters, digits and underscores")
        self.url = url
        self.schema = schema
        self.min_size, self.max_size = min_size, max_size
        self.connect_timeout_s = connect_timeout_s
        self.reconnect_s = reconnect_s
        self._pool: asyncpg.Pool | None = None

    def __repr__(self) -> str:
        where = f", schema={self.schema!r}" if self.schema else ""
        return f"PostgresStore({mask_password(self.url)!r}{where})"

    async def __aenter__(self) -> PostgresStore:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        if self._pool is not None:
            return
        settings = {"search_path": self.schema} if self.schema else None
        try:
            conn = await asyncpg.connect(self.url, timeout=self.connect_timeout_s)
            try:
                await self._migrate(conn)
            finally:
                await conn.close()
            self._pool = await asyncpg.create_pool(
                self.url, min_size=self.min_size, max_size=self.max_size,
                timeout=self.connect_timeout_s, server_settings=settings,
                command_timeout=None, reset=_keep_session)
        except StoreError:
            raise
        except Exception as exc:
            raise self._open_error(exc) from exc

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), timeout=5)
        except Exception:  # a dead server cannot say goodbye; drop the sockets
            pool.terminate()

    def _open_error(self, exc: BaseException) -> StoreError:
        where = mask_password(self.url)
        detail = str(exc) or type(exc).__name__
        if isinstance(exc, asyncpg.exceptions.InvalidPasswordError | asyncpg.exceptions
                      .InvalidAuthorizationSpecificationError):
            return StoreError(f"PostgreSQL at {where} refused the login: {detail}",
                              hint="Check the user and password in MENDFLOW_DATABASE_URL and "
                              "the server's pg_hba.conf")
        if isinstance(exc, asyncpg.exceptions.InvalidCatalogNameError):
            return StoreError(f"PostgreSQL at {where}: {detail}",
                              hint="Create the database (createdb) or fix its name in "
                              "MENDFLOW_DATABASE_URL")
        if isinstance(exc, _TRANSIENT):
            return StoreError(f"cannot connect to PostgreSQL at {where}: {detail}",
                              hint="Check that PostgreSQL is running and reachable at that "
                              "host and port, and MENDFLOW_DATABASE_URL")
        if isinstance(exc, StoreError):
            return exc
        return StoreError(f"cannot open the PostgreSQL store at {where}: {detail}",
                          hint="Check MENDFLOW_DATABASE_URL")

    async def _migrate(self, conn: asyncpg.Connection) -> None:
        lock_key = int.from_bytes(hashlib.blake2b(
            f"mendflow-migrate:{self.schema or ''}".encode(), digest_size=8).digest(),
            "big", signed=True)
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", lock_key)
            if self.schema:  # under the lock: CREATE SCHEMA IF NOT EXISTS races otherwise
                await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
                await conn.execute(f"SET LOCAL search_path TO {self.schema}")
            await conn.execute("CREATE TABLE IF NOT EXISTS mendflow_migrations ("
                               "version integer PRIMARY KEY, "
                               "applied_at timestamptz NOT NULL DEFAULT now())")
            version = await conn.fetchval(
                "SELECT coalesce(max(version), 0) FROM mendflow_migrations")
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self!r} has store schema {version}; this Mendflow reads up to "
                    f"{SCHEMA_VERSION}", hint="Upgrade Mendflow, or point "
                    "MENDFLOW_DATABASE_URL at another database")
            for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in statements:
                    await conn.execute(statement)
                await conn.execute("INSERT INTO mendflow_migrations (version) VALUES ($1)",
                                   number)
                log.info("%r: applied store migration %d", self, number)

    async def _call(self, fn: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """Run `fn` on a pooled connection, retrying transient connection failures."""
        if self._pool is None:
            raise StoreError(f"{self!r} is not open", hint="Call `await store.open()` first")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.reconnect_s
        delay = 0.05
        while True:
            pool = self._pool
            if pool is None:
                raise StoreError(f"{self!r} is closed", hint="Open it again")
            try:
                async with pool.acquire(timeout=self.connect_timeout_s) as conn:
                    return await fn(conn)
            except StoreError:
                raise
            except _TRANSIENT as exc:
                if loop.time() + delay > deadline:
                    raise StoreError(
                        f"lost PostgreSQL at {mask_password(self.url)} for more than "
                        f"{self.reconnect_s:g}s: {str(exc) or type(exc).__name__}",
                        hint="Check that PostgreSQL is running; the run resumes from its "
                        "last commit once it is back") from exc
                log.warning("%r: %s; retrying in %.2fs", self, type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
            except asyncpg.PostgresError as exc:
                raise StoreError(f"{self!r}: {exc.sqlstate} {exc}") from exc
            except UNREADABLE as exc:
                raise unreadable(repr(self), exc) from exc

    # -- plans -----------------------------------------------------------------------------

    async def save_plan(self, plan: Plan) -> str:
        plan_hash = plan.content_hash()
        text = plan.compact_json()  # the hashed text, encoded once a plan

        async def save(conn: asyncpg.Connection) -> None:
            await conn.execute("INSERT INTO plans (hash, plan_id, json) VALUES ($1, $2, $3) "
                               "ON CONFLICT (hash) DO NOTHING", plan_hash, plan.id, text)
        await self._call(save)
        return plan_hash

    async def load_plan(self, plan_hash: str) -> Plan:
        async def load(conn: asyncpg.Connection) -> str | None:
            text: str | None = await conn.fetchval("SELECT json FROM plans WHERE hash = $1",
                                                   plan_hash)
            return text
        text = await self._call(load)
        return stored_plan(text, plan_hash, str(repr(self)))

    # -- runs ------------------------------------------------------------------------------

    async def create_run(self, record: RunRecord) -> None:
        row = run_values(record, _utc)

        async def create(conn: asyncpg.Connection) -> None:
            try:
                await conn.execute(_INSERT_RUN, *row)
            except asyncpg.UniqueViolationError as exc:
                raise StoreError(f"a run with id {record.run_id!r} already exists",
                                 hint="Run ids must be unique; generate a new one") from exc
        await self._call(create)

    async def get_run(self, run_id: str) -> RunRecord:
        async def get(conn: asyncpg.Connection) -> RunRecord:
            return await self._get_run(conn, run_id)
        return await self._call(get)

    async def _get_run(self, conn: asyncpg.Connection, run_id: str) -> RunRecord:
        row = await conn.fetchrow(_SELECT_RUN, run_id)
        if row is None:
            raise RunNotFound(f"no run {run_id!r} in {self!r}",
                              hint="`mendflow runs` lists the runs it holds")
        return _run_record(row)

    async def list_runs(self, *, limit: int = 50) -> list[RunRecord]:
        if limit <= 0:
            return []

        async def select(conn: asyncpg.Connection) -> list[RunRecord]:
            rows = await conn.fetch(_SELECT_NEWEST_RUNS, limit)
            return [_run_record(row) for row in rows]
        return await self._call(select)

    async def child_runs(self, run_id: str) -> list[RunRecord]:
        async def select(conn: asyncpg.Connection) -> list[RunRecord]:
            rows = await conn.fetch(_SELECT_CHILD_RUNS, run_id)
            return [_run_record(row) for row in rows]
        return await self._call(select)

    async def stopped_runs(self, *, since: datetime, limit: int = 100) -> list[RunRecord]:
        if limit <= 0:
            return []

        async def select(conn: asyncpg.Connection) -> list[RunRecord]:
            rows = await conn.fetch(_SELECT_STOPPED_RUNS, since, limit)
            return [_run_record(row) for row in rows]
        return await self._call(select)

    async def stalled_runs(self, *, idle_s: float, limit: int = 100) -> list[RunRecord]:
        """Runs still `running` that no one has committed to for `idle_s` seconds, oldest
        first: the reconciler re-dispatches their in-flight steps."""
        async def select(conn: asyncpg.Connection) -> list[RunRecord]:
            rows = await conn.fetch(_SELECT_STALLED_RUNS, float(idle_s), limit)
            return [_run_record(row) for row in rows]
        return await self._call(select)

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
        # Encode everything first: a value that is not JSON writes nothing.
        args = self._commit_args(run_id, expected_version, state=state, status=status,
                                 outcome=outcome, reason=reason, events=events, memory=memory)

        async def write(conn: asyncpg.Connection) -> int:
            version = await conn.fetchval(_COMMIT, *args)
            if version is None:
                current = await conn.fetchval("SELECT version FROM runs WHERE run_id = $1",
                                              run_id)
                if current is None:
                    raise RunNotFound(f"no run {run_id!r} in {self!r}",
                                      hint="`mendflow runs` lists the runs it holds")
                raise StaleState(
                    f"run {run_id} is at version {current}, not {expected_version}",
                    hint="Re-read the run and apply the event to its current state")
            return int(version)
        return await self._call(write)

    async def commit_locked(
        self, run_id: str,
        decide: Callable[[RunRecord, list[EventRecord]], Mapping[str, Any] | None],
    ) -> int | None:
        """Lock the run's row, read it and the events after its snapshot, and commit what
        `decide(record, events)` returns (the keyword arguments of `commit` after
        `expected_version`), in one transaction; returns the new version, or None when
        `decide` returned None (nothing written). Writers of one run queue on the lock instead
        of losing compare-and-set races. `decide` may be called again if the connection
        breaks, so it must be pure."""
        async def locked(conn: asyncpg.Connection) -> int | None:
            async with conn.transaction():
                row = await conn.fetchrow(_LOCK_RUN, run_id)
                if row is None:
                    raise RunNotFound(f"no run {run_id!r} in {self!r}",
                                      hint="`mendflow runs` lists the runs it holds")
                record = _run_record(row)
                events = _event_records(row["events"])
                if len(events) != row["last_seq"] - record.state_seq:  # we waited for the lock
                    events = await self._events_after(conn, run_id, record.state_seq)
                todo = decide(record, events)
                if todo is None:
                    return None
                args = self._commit_args(run_id, record.version, **todo)
                version = await conn.fetchval(_COMMIT, *args)
                assert version is not None, "the row is locked"
                return int(version)
        return await self._call(locked)

    async def commit_or_park(self, run_id: str, *, expected_version: int,
                             claim: Sequence[NextClaim] = (), **commit: Any) -> Committed:
        """`commit` a step's report (the keyword arguments after `expected_version`; the first
        event row is the step's, the memory its), or, if the run is no longer at
        `expected_version`, park that report (the row and the memory) for the run's applier
        instead: one statement. Returns the new version, or None when the report was parked
        (then call `apply_reports`, which applies it unless another applier is at work); and
        which of the steps in `claim` (steps this commit starts; one owner) were claimed with it
        (only when the commit landed, and no one held them) and had their first start
        counted."""
        kind, step_id, attempt, data = commit["events"][0]
        if step_id is None or attempt is None:
            raise StoreError(f"run {run_id}: a {kind} event is not a step's report",
                             hint="Only a step's report can be parked")
        claims = ([c.step_id for c in claim], [c.attempt for c in claim],
                  claim[0].owner if claim else "", [c.lease_s for c in claim],
                  claim[0].marker_owner if claim else "")
        args = self._commit_args(run_id, expected_version, **commit) + (
            step_id, attempt, kind, dumps(data),
            dumps(memory_json(commit.get("memory", ())))) + claims

        async def write(conn: asyncpg.Connection) -> Committed:
            try:
                row = await conn.fetchrow(_COMMIT_OR_PARK, *args)
            except asyncpg.ForeignKeyViolationError as exc:
                raise RunNotFound(f"no run {run_id!r} in {self!r}",
                                  hint="`mendflow runs` lists the runs it holds") from exc
            if row is None:
                return Committed(None, frozenset(), frozenset())
            return Committed(int(row["version"]), frozenset(row["claimed"] or ()),
                             frozenset(s.rsplit("#", 1)[0] for s in row["counted"] or ()))
        return await self._call(write)

    async def apply_reports(
        self, run_id: str,
        decide: Callable[[RunRecord, list[EventRecord], list[Report]], Mapping[str, Any] | None],
    ) -> tuple[bool, int | None]:
        """Become the run's applier if no one else is: in one transaction, under the run's
        advisory lock and row lock, take every parked report and commit what
        `decide(record, events, reports)` returns (as `commit_locked`'s `decide` does; the
        reports are taken even when it returns None). Returns (whether this call was the
        applier, the new version or None).

        An applier looks for parked reports again after it returns (`has_reports`) and
        applies those too: a report parked before its writer found the lock busy is then
        visible, so none is stranded. `decide` may be called again if the connection breaks,
        so it must be pure."""
        async def take(conn: asyncpg.Connection) -> tuple[bool, int | None]:
            async with conn.transaction():
                row = await conn.fetchrow(_TAKE_REPORTS, run_id)
                if row is None:  # another applier has the run (or there is no such run)
                    return False, None
                record = _run_record(row)
                events = _event_records(row["events"])
                if len(events) != row["last_seq"] - record.state_seq:  # we waited for the row
                    events = await self._events_after(conn, run_id, record.state_seq)
                reports = [Report(step_id=r["step_id"], attempt=r["attempt"], type=r["type"],
                                  data=r["data"], memory=memory_entries(r["memory"]))
                           for r in json.loads(row["reports"] or "[]")]
                todo = decide(record, events, reports)
                if todo is None:
                    return True, None
                args = self._commit_args(run_id, record.version, **todo)
                version = await conn.fetchval(_COMMIT, *args)
                assert version is not None, "the row is locked"
                return True, int(version)
        return await self._call(take)

    async def has_reports(self, run_id: str) -> bool:
        """Whether reports are parked for the run (an applier asks after it is done)."""
        async def select(conn: asyncpg.Connection) -> bool:
            return bool(await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM reports WHERE run_id = $1)", run_id))
        return await self._call(select)

    def _commit_args(self, run_id: str, expected_version: int, *,
                     state: dict[str, Any] | None, status: RunStatus,
                     outcome: str | None = None, reason: str | None = None,
                     events: Sequence[tuple[str, str | None, int | None, dict[str, Any]]] = (),
                     memory: Sequence[MemoryEntry] = ()) -> tuple[Any, ...]:
        check_status(status)
        return (run_id, expected_version, dumps(state) if state is not None else None,
                status, outcome, reason, [e[0] for e in events], [e[1] for e in events],
                [e[2] for e in events], [dumps(e[3]) for e in events],
                [m.key for m in memory], [dumps(m.value) for m in memory],
                [m.step_id for m in memory], [m.attempt for m in memory],
                [_utc(m.at) for m in memory])

    async def events(self, run_id: str, *, after: int = 0) -> list[EventRecord]:
        async def select(conn: asyncpg.Connection) -> list[EventRecord]:
            events = await self._events_after(conn, run_id, after)
            if not events:
                await self._get_run(conn, run_id)  # RunNotFound, or [] for a quiet run
            return events
        return await self._call(select)

    async def set_options(self, run_id: str, options: RunOptions) -> None:
        text = dumps(options.model_dump(mode="json"))

        async def write(conn: asyncpg.Connection) -> None:
            done = await conn.fetchval(
                "UPDATE runs SET options = $2 WHERE run_id = $1 RETURNING 1", run_id, text)
            if done is None:
                raise RunNotFound(f"no run {run_id!r} in {self!r}",
                                  hint="`mendflow runs` lists the runs it holds")
        await self._call(write)

    async def add_note(self, run_id: str, type: str, data: dict[str, Any]) -> int:
        text = dumps(data)

        async def note(conn: asyncpg.Connection) -> int:
            seq = await conn.fetchval(_ADD_NOTE, run_id, type, text)
            if seq is None:
                raise RunNotFound(f"no run {run_id!r} in {self!r}",
                                  hint="`mendflow runs` lists the runs it holds")
            return int(seq)
        return await self._call(note)

    async def notes_after(self, type: str, after: Mapping[str, int]) -> dict[str, RunNotes]:
        if not after:
            return {}
        run_ids = list(after)
        seqs = [int(after[run_id]) for run_id in run_ids]

        async def select(conn: asyncpg.Connection) -> dict[str, RunNotes]:
            found: dict[str, RunNotes] = {}
            for r in await conn.fetch(_NOTES_AFTER, run_ids, seqs, type):
                notes = found.setdefault(r["run_id"], RunNotes(int(r["last_seq"]), [])).notes
                if r["seq"] is not None:
                    notes.append(EventRecord(seq=r["seq"], at=r["at"], type=r["type"],
                                             step_id=r["step_id"], attempt=r["attempt"],
                                             data=json.loads(r["data"])))
            return {run_id: found[run_id] for run_id in run_ids if run_id in found}
        return await self._call(select)

    async def _events_after(self, conn: asyncpg.Connection, run_id: str,
                            after: int) -> list[EventRecord]:
        rows = await conn.fetch(
            "SELECT seq, at, type, step_id, attempt, data FROM events "
            "WHERE run_id = $1 AND seq > $2 ORDER BY seq", run_id, after)
        return [EventRecord(seq=r["seq"], at=r["at"], type=r["type"], step_id=r["step_id"],
                            attempt=r["attempt"], data=json.loads(r["data"])) for r in rows]

    async def step_durations(self, plan_id: str, *, before: datetime | None = None,
                             runs: int = 200) -> dict[str, list[float]]:
        async def select(conn: asyncpg.Connection) -> dict[str, list[float]]:
            found: dict[str, list[float]] = {}
            for row in await conn.fetch(_STEP_DURATIONS, plan_id, before, max(runs, 0)):
                if row["duration"] is not None:
                    found.setdefault(row["step_id"], []).append(float(row["duration"]))
            return found
        return await self._call(select)

    async def memory(self, run_id: str) -> list[MemoryEntry]:
        """Every entry written, oldest first; a key written twice appears twice (last wins)."""
        async def select(conn: asyncpg.Connection) -> list[MemoryEntry]:
            rows = await conn.fetch("SELECT key, value, step_id, attempt, at FROM memory "
                                    "WHERE run_id = $1 ORDER BY id", run_id)
            if not rows:
                await self._get_run(conn, run_id)
            return [MemoryEntry(key=r["key"], value=json.loads(r["value"]),
                                step_id=r["step_id"], attempt=r["attempt"], at=r["at"])
                    for r in rows]
        return await self._call(select)

    # -- exactly-once claims ---------------------------------------------------------------

    async def claim_step(self, run_id: str, step_id: str, attempt: int, owner: str, *,
                         lease_s: float | None = None) -> bool:
        async def claim(conn: asyncpg.Connection) -> bool:
            try:
                got = await conn.fetchval(
                    "INSERT INTO claims AS c (run_id, step_id, attempt, owner, claimed_at, "
                    "expires_at) VALUES ($1, $2, $3, $4, clock_timestamp(), "
                    "clock_timestamp() + $5::float8 * interval '1 second') "
                    "ON CONFLICT (run_id, step_id, attempt) DO UPDATE SET owner = "
                    "excluded.owner, claimed_at = excluded.claimed_at, expires_at = "
                    "excluded.expires_at WHERE c.owner = excluded.owner OR "
                    "c.expires_at <= clock_timestamp() RETURNING 1",
                    run_id, step_id, attempt, owner, lease_s)
            except asyncpg.ForeignKeyViolationError as exc:
                raise RunNotFound(f"no run {run_id!r} in {self!r}",
                                  hint="`mendflow runs` lists the runs it holds") from exc
            return got is not None
        return await self._call(claim)

    # -- alerts (`mendflow serve`) -----------------------------------------------------------

    async def claim_alert_group(self, group_key: str, *, run_id: str, guide: str) -> str:
        async def claim(conn: asyncpg.Connection) -> str:
            async with conn.transaction():
                won: str | None = await conn.fetchval(_CLAIM_ALERT_GROUP, group_key, run_id,
                                                      guide)
                if won is not None:
                    return won
                held: str = await conn.fetchval(
                    "SELECT run_id FROM alert_groups WHERE group_key = $1", group_key)
                return held
        return await self._call(claim)

    async def alert_group_run(self, group_key: str) -> str | None:
        async def read(conn: asyncpg.Connection) -> str | None:
            held: str | None = await conn.fetchval(
                "SELECT run_id FROM alert_groups WHERE group_key = $1", group_key)
            return held
        return await self._call(read)

    async def release_alert_group(self, group_key: str, *, run_id: str) -> None:
        async def release(conn: asyncpg.Connection) -> None:
            await conn.execute("DELETE FROM alert_groups WHERE group_key = $1 AND run_id = $2",
                               group_key, run_id)
        await self._call(release)

    async def claim_notice(self, run_id: str, key: str) -> bool:
        async def claim(conn: asyncpg.Connection) -> bool:
            won = await conn.fetchval(
                "INSERT INTO notices (run_id, key, at) VALUES ($1, $2, clock_timestamp()) "
                "ON CONFLICT DO NOTHING RETURNING true", run_id, key)
            return bool(won)
        return await self._call(claim)

    async def record_alert(self, record: AlertRecord) -> None:
        async def insert(conn: asyncpg.Connection) -> None:
            await conn.execute(
                f"INSERT INTO alerts ({_ALERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, "
                "$8, $9, $10, $11)", record.received_at, record.group_key, record.alertname,
                record.status, record.disposition, record.guide, record.run_id, record.detail,
                json.dumps(record.labels), json.dumps(record.annotations), record.fingerprint)
        await self._call(insert)

    async def alerts(self, *, limit: int = 100,
                     disposition: str | None = None) -> list[AlertRecord]:
        async def select(conn: asyncpg.Connection) -> list[AlertRecord]:
            rows = await conn.fetch(
                f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE $1::text IS NULL OR disposition "
                "= $1 ORDER BY no DESC LIMIT $2", disposition, limit)
            return [_alert_record(dict(r)) for r in rows]
        return await self._call(select)

    # -- questions for people ----------------------------------------------------------------

    async def ask_question(self, run_id: str, step_id: str, *, kind: QuestionKind,
                           text: str) -> Question:
        async def ask(conn: asyncpg.Connection) -> Question:
            try:
                await conn.execute(
                    "INSERT INTO questions (run_id, step_id, kind, text, asked_at) VALUES "
                    "($1, $2, $3, $4, clock_timestamp()) ON CONFLICT DO NOTHING",
                    run_id, step_id, kind, text)
            except asyncpg.ForeignKeyViolationError as exc:
                raise RunNotFound(f"no run {run_id!r} in {self!r}",
                                  hint="`mendflow runs` lists the runs it holds") from exc
            row = await conn.fetchrow(f"SELECT {_QUESTION_COLUMNS} FROM questions WHERE "
                                      "run_id = $1 AND step_id = $2", run_id, step_id)
            return Question(**dict(row))
        return await self._call(ask)

    async def answer_question(self, run_id: str, step_id: str, *, yes: bool, by: str,
                              source: str) -> Question | None:
        async def answer(conn: asyncpg.Connection) -> Question | None:
            row = await conn.fetchrow(
                "UPDATE questions SET answered_at = clock_timestamp(), yes = $3, by = $4, "
                "source = $5 WHERE run_id = $1 AND step_id = $2 AND answered_at IS NULL "
                f"RETURNING {_QUESTION_COLUMNS}", run_id, step_id, yes, by, source)
            return None if row is None else Question(**dict(row))
        return await self._call(answer)

    async def questions(self, *, run_id: str | None = None,
                        pending: bool = True) -> list[Question]:
        async def select(conn: asyncpg.Connection) -> list[Question]:
            rows = await conn.fetch(
                f"SELECT {_QUESTION_COLUMNS} FROM questions WHERE ($1::text IS NULL OR "
                "run_id = $1) AND (NOT $2 OR answered_at IS NULL) ORDER BY asked_at",
                run_id, pending)
            return [Question(**dict(r)) for r in rows]
        return await self._call(select)

    # -- concurrency slots shared by every process ------------------------------------------

    async def take_slot(self, key: str, *, limit: int, holder: str, ttl_s: float) -> bool:
        async def take(conn: asyncpg.Connection) -> bool:
            # Concurrent takers see the same lowest free slot; all but one then find it taken
            # (the conflict's WHERE fails): a lost race, not a full limit. The next statement
            # sees the winner's slot and picks another free one, if any.
            for _ in range(_SLOT_RACES):
                row = await conn.fetchrow(_TAKE_SLOT, key, limit, holder, ttl_s)
                if row["got"] or not row["had_free"]:
                    return bool(row["got"])
            return False
        return await self._call(take)

    async def release_slot(self, key: str, *, holder: str) -> None:
        async def release(conn: asyncpg.Connection) -> None:
            await conn.execute("DELETE FROM slots WHERE key = $1 AND holder = $2", key, holder)
        await self._call(release)

    async def begin_step(self, run_id: str, step_id: str, attempt: int, owner: str, *,
                         lease_s: float | None, marker_owner: str,
                         max_starts: int) -> StepStart:
        """What a worker does before running a step, in one statement: `claim_step` for
        `owner`; if won, count the start as a permanent claim on the first free marker
        `step#run1..max_starts` (held by `marker_owner`); read the run, the events after its
        snapshot and, if the claim was won, its memory. `starts` is `max_starts + 1` when every
        marker is taken, and None when a concurrent start took the same marker (count again
        with `claim_step`). RunNotFound for an unknown run (nothing is claimed)."""
        markers = [f"{step_id}#run{n}" for n in range(1, max_starts + 1)]

        async def begin(conn: asyncpg.Connection) -> StepStart:
            row = await conn.fetchrow(_BEGIN_STEP, run_id, step_id, attempt, owner, lease_s,
                                      marker_owner, markers)
            if row is None:
                raise RunNotFound(f"no run {run_id!r} in {self!r}",
                                  hint="`mendflow runs` lists the runs it holds")
            starts: int | None = None
            if row["marked"]:
                starts = row["counted"] + 1
            elif row["counted"] >= max_starts:
                starts = max_starts + 1
            memory = memory_entries(json.loads(row["memory"] or "[]"))
            return StepStart(record=_run_record(row), events=_event_records(row["events"]),
                             memory=memory, claimed=row["claimed"], starts=starts)
        return await self._call(begin)

    # -- one driver per run ----------------------------------------------------------------

    async def take_lease(self, run_id: str, *, holder: str, host: str, pid: int, ttl_s: float,
                         replacing: str | None = None) -> Lease:
        async def take(conn: asyncpg.Connection) -> Lease:
            async with conn.transaction():
                try:  # a run with no lease: ours at once
                    row = await conn.fetchrow(
                        "INSERT INTO leases (run_id, holder, host, pid, since, expires_at) "
                        "VALUES ($1, $2, $3, $4, clock_timestamp(), clock_timestamp() + "
                        "$5::float8 * interval '1 second') ON CONFLICT DO NOTHING "
                        "RETURNING since, expires_at", run_id, holder, host, pid, ttl_s)
                except asyncpg.ForeignKeyViolationError as exc:
                    raise RunNotFound(f"no run {run_id!r} in {self!r}",
                                      hint="`mendflow runs` lists the runs it holds") from exc
                if row is not None:
                    return Lease(run_id=run_id, holder=holder, host=host, pid=pid,
                                 since=row["since"], expires_at=row["expires_at"])
                row = await conn.fetchrow(
                    "SELECT holder, host, pid, since, expires_at, expires_at > "
                    "clock_timestamp() AS live FROM leases WHERE run_id = $1 FOR UPDATE",
                    run_id)
                held = Lease(run_id=run_id, holder=row["holder"], host=row["host"],
                             pid=row["pid"], since=row["since"], expires_at=row["expires_at"])
                if held.holder not in (holder, replacing) and row["live"]:
                    raise LeaseHeld(held)
                ours = held.holder == holder
                row = await conn.fetchrow(
                    "UPDATE leases SET holder = $2, host = $3, pid = $4, since = CASE WHEN $6 "
                    "THEN since ELSE clock_timestamp() END, expires_at = clock_timestamp() + "
                    "$5::float8 * interval '1 second' WHERE run_id = $1 "
                    "RETURNING since, expires_at", run_id, holder, host, pid, ttl_s, ours)
                return Lease(run_id=run_id, holder=holder, host=host, pid=pid,
                             since=row["since"], expires_at=row["expires_at"],
                             taken_over=None if ours else held)
        return await self._call(take)

    async def lease(self, run_id: str) -> tuple[Lease, bool] | None:
        async def read(conn: asyncpg.Connection) -> tuple[Lease, bool] | None:
            row = await conn.fetchrow(
                "SELECT holder, host, pid, since, expires_at, expires_at > clock_timestamp() "
                "AS live FROM leases WHERE run_id = $1", run_id)
            if row is None:
                return None
            return Lease(run_id=run_id, holder=row["holder"], host=row["host"], pid=row["pid"],
                         since=row["since"], expires_at=row["expires_at"]), bool(row["live"])
        return await self._call(read)

    async def renew_lease(self, run_id: str, *, holder: str, ttl_s: float) -> bool:
        async def renew(conn: asyncpg.Connection) -> bool:
            return await conn.fetchval(
                "UPDATE leases SET expires_at = clock_timestamp() + $3::float8 * "
                "interval '1 second' WHERE run_id = $1 AND holder = $2 RETURNING true",
                run_id, holder, ttl_s) is not None
        return await self._call(renew)

    async def release_lease(self, run_id: str, *, holder: str) -> None:
        async def release(conn: asyncpg.Connection) -> None:
            await conn.execute("DELETE FROM leases WHERE run_id = $1 AND holder = $2",
                               run_id, holder)
        await self._call(release)

    # -- LLM accounting --------------------------------------------------------------------

    async def add_llm_usage(self, run_id: str, usage: LlmUsage) -> None:
        async def add(conn: asyncpg.Connection) -> None:
            try:
                await conn.execute(_ADD_LLM_USAGE, run_id, usage.purpose, usage.model,
                                   usage.calls, usage.input_tokens, usage.output_tokens,
                                   usage.cost_usd)
            except asyncpg.ForeignKeyViolationError as exc:
                raise RunNotFound(f"no run {run_id!r} in {self!r}",
                                  hint="`mendflow runs` lists the runs it holds") from exc
        await self._call(add)

    async def llm_usage(self, run_id: str) -> list[LlmUsage]:
        async def read(conn: asyncpg.Connection) -> list[LlmUsage]:
            rows = await conn.fetch(
                "SELECT purpose, model, calls, input_tokens, output_tokens, cost_usd FROM "
                "llm_usage WHERE run_id = $1 ORDER BY purpose, model", run_id)
            return [LlmUsage(purpose=r["purpose"], model=r["model"], calls=r["calls"],
                             input_tokens=r["input_tokens"], output_tokens=r["output_tokens"],
                             cost_usd=r["cost_usd"]) for r in rows]
        return await self._call(read)

    # -- what runs teach ---------------------------------------------------------------------

    async def record_lessons(self, run_id: str, *, failures: Sequence[FailureRecord],
                             fixes: Sequence[FailureFix], cause: RunCause | None) -> None:
        async def record(conn: asyncpg.Connection) -> None:
            async with conn.transaction():
                await self._get_run(conn, run_id)  # RunNotFound for an unknown run
                await conn.execute("DELETE FROM failures WHERE run_id = $1", run_id)
                await conn.executemany(
                    f"INSERT INTO failures ({_FAILURE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, "
                    "$6, $7, $8, $9, $10, $11)",
                    [(f.run_id, f.step_id, f.attempt, f.signature, f.pattern, f.message,
                      f.guide, f.guide_path, f.plan_hash, f.line, f.at) for f in failures])
                await conn.executemany(
                    "INSERT INTO failure_fixes (failed_run_id, step_id, signature, "
                    "fixed_run_id, changes, at) VALUES ($1, $2, $3, $4, $5, $6) "
                    "ON CONFLICT DO NOTHING",
                    [(f.failed_run_id, f.step_id, f.signature, f.fixed_run_id,
                      json.dumps(f.changes), f.at) for f in fixes])
                await conn.execute("DELETE FROM run_causes WHERE run_id = $1", run_id)
                if cause is not None:
                    await conn.execute(
                        "INSERT INTO run_causes (run_id, guide, cause, summary, evidence, at) "
                        "VALUES ($1, $2, $3, $4, $5, $6)", run_id, cause.guide, cause.cause,
                        cause.summary,
                        json.dumps([e.model_dump(mode="json") for e in cause.evidence]),
                        cause.at)
        await self._call(record)

    async def unfixed_failures(self, guide: str, step_ids: Sequence[str], *,
                               before: datetime, limit: int = 1000) -> list[FailureRecord]:
        if not step_ids:
            return []

        async def select(conn: asyncpg.Connection) -> list[FailureRecord]:
            rows = await conn.fetch(
                f"SELECT {_FAILURE_COLUMNS} FROM failures f WHERE guide = $1 AND step_id = "
                "ANY($2::text[]) AND at <= $3 AND NOT EXISTS (SELECT 1 FROM failure_fixes x "
                "WHERE x.failed_run_id = f.run_id AND x.step_id = f.step_id AND x.signature = "
                "f.signature) ORDER BY at, run_id, step_id, attempt LIMIT $4",
                guide, list(step_ids), before, limit)
            return [FailureRecord(**_utc_values(r)) for r in rows]
        return await self._call(select)

    async def run_failures(self, run_id: str) -> list[FailureRecord]:
        async def select(conn: asyncpg.Connection) -> list[FailureRecord]:
            rows = await conn.fetch(
                f"SELECT {_FAILURE_COLUMNS} FROM failures WHERE run_id = $1 "
                "ORDER BY step_id, attempt", run_id)
            return [FailureRecord(**_utc_values(r)) for r in rows]
        return await self._call(select)

    async def signatures(self, *, guide: str | None = None,
                         signatures: Sequence[str] | None = None,
                         limit: int = 100) -> list[SignatureStats]:
        if signatures is not None and not signatures:
            return []

        async def select(conn: asyncpg.Connection) -> list[SignatureStats]:
            rows = await conn.fetch(
                "SELECT signature, max(pattern) AS pattern, count(*) AS count, "
                "count(DISTINCT run_id) AS runs, min(at) AS first_seen, max(at) AS last_seen, "
                "array_agg(DISTINCT guide ORDER BY guide) AS guides, "
                "array_agg(DISTINCT guide || '/' || step_id ORDER BY guide || '/' || step_id) "
                "AS steps, (SELECT message FROM failures e WHERE e.signature = f.signature "
                "ORDER BY e.at DESC LIMIT 1) AS example FROM failures f "
                "WHERE ($1::text IS NULL OR guide = $1 OR guide_path = $1) "
                "AND ($2::text[] IS NULL OR signature = ANY($2::text[])) "
                "GROUP BY signature ORDER BY max(at) DESC, signature LIMIT $3",
                guide, None if signatures is None else list(signatures), limit)
            if not rows:
                return []
            fixes: dict[str, list[FailureFix]] = {}
            for f in await conn.fetch(
                    "SELECT signature, failed_run_id, step_id, fixed_run_id, changes, at FROM "
                    "failure_fixes x WHERE signature = ANY($1::text[]) AND ($2::text IS NULL "
                    "OR EXISTS (SELECT 1 FROM failures f WHERE f.run_id = x.failed_run_id AND "
                    "f.step_id = x.step_id AND f.signature = x.signature AND (f.guide = $2 OR "
                    "f.guide_path = $2))) "
                    "ORDER BY at DESC, fixed_run_id DESC, failed_run_id DESC",
                    [r["signature"] for r in rows], guide):
                fixes.setdefault(f["signature"], []).append(FailureFix(
                    **{**_utc_values(f), "changes": json.loads(f["changes"])}))
            return [SignatureStats(**{**_utc_values(r), "guides": list(r["guides"]),
                                      "steps": list(r["steps"]), "example": r["example"] or "",
                                      "fixes": fixes.get(r["signature"], [])[:_FIXES_SHOWN]})
                    for r in rows]
        return await self._call(select)

    async def run_causes(self, *, run_ids: Sequence[str] | None = None,
                         guide: str | None = None, cause: str | None = None,
                         limit: int = 1000) -> list[RunCause]:
        if run_ids is not None and not run_ids:
            return []

        async def select(conn: asyncpg.Connection) -> list[RunCause]:
            rows = await conn.fetch(
                "SELECT run_id, guide, cause, summary, evidence, at FROM run_causes WHERE "
                "($1::text IS NULL OR guide = $1) AND ($2::text IS NULL OR cause = $2) AND "
                "($3::text[] IS NULL OR run_id = ANY($3::text[])) ORDER BY at DESC, run_id "
                "LIMIT $4", guide, cause, None if run_ids is None else list(run_ids), limit)
            return [RunCause(**{**_utc_values(r), "evidence": json.loads(r["evidence"])})
                    for r in rows]
        return await self._call(select)

    # -- artifacts -------------------------------------------------------------------------

    async def put_artifact(self, run_id: str, step_id: str, attempt: int, name: str,
                           data: bytes) -> ArtifactRef:
        for part in (run_id, step_id, name):
            if part in ("", ".", "..") or any(c in part for c in "/\\\0"):
                raise StoreError(f"artifact name part {part!r} is not a plain file name",
                                 hint="Use names without slashes, NUL or '..'")
        ref = ArtifactRef(run_id=run_id, step_id=step_id, attempt=attempt, name=name,
                          size=len(data), sha256=hashlib.sha256(data).hexdigest())

        async def put(conn: asyncpg.Connection) -> None:
            try:
                await conn.execute(
                    "INSERT INTO artifacts (run_id, step_id, attempt, name, size, sha256, "
                    "data) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (run_id, step_id, "
                    "attempt, name) DO UPDATE SET size = excluded.size, sha256 = "
                    "excluded.sha256, data = excluded.data, created_at = now()",
                    run_id, step_id, attempt, name, ref.size, ref.sha256, data)
            except asyncpg.ForeignKeyViolationError as exc:
                raise RunNotFound(f"no run {run_id!r} in {self!r}") from exc
        await self._call(put)
        return ref

    async def get_artifact(self, ref: ArtifactRef) -> bytes:
        async def get(conn: asyncpg.Connection) -> bytes | None:
            data: bytes | None = await conn.fetchval(
                "SELECT data FROM artifacts WHERE run_id = $1 AND step_id = $2 AND "
                "attempt = $3 AND name = $4", ref.run_id, ref.step_id, ref.attempt, ref.name)
            return data
        data = await self._call(get)
        where = f"{ref.run_id}/{ref.step_id}/{ref.attempt}/{ref.name}"
        if data is None:
            raise StoreError(f"artifact {where} is missing from {self!r}",
                             hint="It was deleted outside Mendflow; rerun the step")
        if len(data) != ref.size or hashlib.sha256(data).hexdigest() != ref.sha256:
            raise StoreError(f"artifact {where} does not match its recorded sha256 "
                             f"{ref.sha256}: it was changed after it was written",
                             hint="Do not trust its content; rerun the step to recreate it")
        return bytes(data)


# -- helpers ---------------------------------------------------------------------------------




async def _keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset: nothing beyond asyncpg's own rollback of an open transaction. The
    store sets no session state (no SET, LISTEN, cursors or session advisory locks)."""


def _event_records(text: str | None) -> list[EventRecord]:
    """Events from a `json_agg` column (NULL when there are none)."""
    return [EventRecord(seq=e["seq"], at=_parse_time(e["at"]), type=e["type"],
                        step_id=e["step_id"], attempt=e["attempt"], data=e["data"])
            for e in json.loads(text or "[]")]


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _run_record(row: asyncpg.Record) -> RunRecord:
    return RunRecord(run_id=row["run_id"], plan_id=row["plan_id"], plan_hash=row["plan_hash"],
                     guide_path=row["guide_path"], title=row["title"], status=row["status"],
                     outcome=row["outcome"], reason=row["reason"],
                     created_at=row["created_at"].astimezone(UTC),
                     updated_at=row["updated_at"].astimezone(UTC), version=row["version"],
                     state=json.loads(row["state"]), context=json.loads(row["context"]),
                     options=json.loads(row["options"]), state_seq=row["state_seq"],
                     parent_run_id=row["parent_run_id"], parent_step=row["parent_step"])


def _alert_record(row: dict[str, Any]) -> AlertRecord:
    return AlertRecord(**{**row, "labels": json.loads(row["labels"]),
                          "annotations": json.loads(row["annotations"])})


def _keeps_the_protocols(store: PostgresStore) -> tuple[Store, SharedStore]:
    """Never called: the type checker holds PostgresStore to both protocols here."""
    return store, store


_FAILURE_COLUMNS = ("run_id, step_id, attempt, signature, pattern, message, guide, guide_path, "
                    "plan_hash, line, at")
_FIXES_SHOWN = 5
"""Fixes returned with each signature, newest first."""


def _utc_values(row: asyncpg.Record) -> dict[str, Any]:
    """A row as a dict, its times in UTC (as the SQLite store gives them)."""
    return {k: v.astimezone(UTC) if isinstance(v, datetime) else v for k, v in row.items()}
