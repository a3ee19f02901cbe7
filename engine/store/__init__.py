"""Where runs are kept: the `Store` protocol, its record types, and `open_store(target)`.

This package's `__init__` owns only the choice of backend from a target (a path or a URL); the
protocol lives in `engine.store.base`, the embedded SQLite store in `engine.store.sqlite`, the
scale-out PostgreSQL store in `engine.store.postgres` (imported only when a URL names it).
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import ConfigError
from engine.store.base import (
    AlertRecord,
    ArtifactRef,
    EventRecord,
    Lease,
    LeaseHeld,
    LlmUsage,
    MemoryEntry,
    RunRecord,
    RunStatus,
    StaleState,
    Store,
)
from engine.store.sqlite import SqliteStore

__all__ = [
    "AlertRecord",
    "ArtifactRef",
    "EventRecord",
    "Lease",
    "LeaseHeld",
    "LlmUsage",
    "MemoryEntry",
    "RunRecord",
    "RunStatus",
    "SqliteStore",
    "StaleState",
    "Store",
    "open_store",
]

_SQLITE_PREFIX = "sqlite:///"


def open_store(target: str | Path, *, artifacts_dir: str | Path | None = None) -> Store:
    """The store a target names, not yet opened (`async with open_store(t) as store:`).

    - a `Path`, or a string without a scheme: an SQLite file;
    - `sqlite:///relative/path` or `sqlite:////absolute/path` (SQLAlchemy's spelling);
    - `postgresql://...` (or `postgres://`): the scale-out PostgreSQL store.

    Artifacts go to `artifacts_dir`, by default an `artifacts/` directory beside the file.
    """
    if isinstance(target, Path):
        return SqliteStore(target, artifacts_dir=artifacts_dir)
    text = str(target).strip()
    scheme = text.partition("://")[0].lower() if "://" in text else ""
    if scheme in ("postgresql", "postgres") or scheme.startswith("postgresql+"):
        from engine.store.postgres import PostgresStore

        if scheme.startswith("postgresql+"):  # SQLAlchemy's driver suffix: asyncpg needs none
            text = "postgresql" + text[len(scheme):]
        return PostgresStore(text)
    if scheme == "":
        return SqliteStore(Path(text), artifacts_dir=artifacts_dir)
    if scheme == "sqlite":
        if not text.startswith(_SQLITE_PREFIX) or not text[len(_SQLITE_PREFIX):]:
            raise ConfigError(f"store URL {text!r} names no file",
                              hint="Write sqlite:///relative/path or sqlite:////absolute/path")
        path = text[len(_SQLITE_PREFIX):]
        if path == ":memory:":
            raise ConfigError("an in-memory SQLite store cannot be shared or resumed",
                              hint="Give a file path: sqlite:////tmp/mendflow.sqlite3")
        return SqliteStore(Path(path), artifacts_dir=artifacts_dir)
    raise ConfigError(f"unknown store URL scheme {scheme!r} in {text!r}",
                      hint="Use a file path, sqlite:///path or postgresql://...")
