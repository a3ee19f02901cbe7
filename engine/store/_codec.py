"""What every store backend encodes the same way: run rows, JSON values, stored plans, statuses.

A backend owns its connections, SQL dialect and time type; this module owns the parts that
must not differ between backends (the contract suite would catch a difference, but one copy
cannot drift in the first place).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any, get_args

import pydantic

from engine import files
from engine.errors import PlanError, StoreError
from engine.plan import Plan
from engine.store.base import MemoryEntry, RunRecord, RunStatus

RUN_STATUSES = frozenset(get_args(RunStatus))
RUN_COLUMNS = ("run_id, plan_id, plan_hash, guide_path, title, status, outcome, reason, "
               "created_at, updated_at, version, state, context, options, state_seq, "
               "parent_run_id, parent_step")


_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
"""One encoder for every value (`json.dumps` with options builds a new one per call)."""


def _not_json(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# `_ENCODER`'s C core, made once: `JSONEncoder.encode` makes it again on every call, which
# costs more than encoding a small value (a commit encodes several). It keeps no record of
# the containers it is in (that record is not safe to share): a value that contains itself
# goes as deep as the interpreter lets it and is refused then (RecursionError).
_C_ENCODE = c_make_encoder(None, _not_json, encode_basestring, None, ":", ",", False, False,
                           False) if c_make_encoder is not None else None


def dumps(value: Any) -> str:
    """Strict JSON (no NaN): a value that is not JSON is refused before anything is written."""
    try:
        if _C_ENCODE is not None:
            return "".join(_C_ENCODE(value, 0))
        return _ENCODER.encode(value)
    except (TypeError, ValueError, RecursionError) as exc:
        raise StoreError(f"cannot store a value that is not JSON: {exc}",
                         hint="Store only dicts, lists, strings, finite numbers, booleans "
                         "and None") from exc


UNREADABLE = (ValueError, TypeError, KeyError)
"""What decoding a stored record raises when it was edited or damaged: bad JSON, a field of the
wrong shape (pydantic's ValidationError), a time that is no time, a missing value or key.
(Writing raises StoreError: `dumps`.)"""


def unreadable(where: str, exc: BaseException) -> StoreError:
    """The one-line error for a record in `where` that does not decode."""
    if isinstance(exc, pydantic.ValidationError):
        first = exc.errors(include_url=False)[0]
        said = f"{exc.title}.{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    else:
        said = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return StoreError(f"{where} holds a record this Mendflow cannot read: {said}",
                      hint="Was it edited by hand? Restore it from a backup")


def check_status(status: str) -> None:
    if status not in RUN_STATUSES:
        raise StoreError(f"unknown run status {status!r}",
                         hint=f"Use one of {', '.join(sorted(RUN_STATUSES))}")


def run_values(record: RunRecord, at: Callable[[datetime], Any]) -> tuple[Any, ...]:
    """The run's columns in RUN_COLUMNS order; `at` turns a datetime into the backend's type."""
    return (record.run_id, record.plan_id, record.plan_hash, record.guide_path, record.title,
            record.status, record.outcome, record.reason, at(record.created_at),
            at(record.updated_at), record.version, dumps(record.state), dumps(record.context),
            dumps(record.options.model_dump(mode="json")), record.state_seq,
            record.parent_run_id, record.parent_step)


def stored_plan(text: str | None, plan_hash: str, where: str) -> Plan:
    if text is None:
        raise StoreError(f"no plan with hash {plan_hash} in {where}",
                         hint="Recompile the guide and start a new run")
    try:
        plan = Plan.from_json(text, file=f"{where}#plan/{plan_hash}")
    except PlanError as exc:
        raise StoreError(f"the stored plan {plan_hash} cannot be read: {exc.message}",
                         hint=exc.hint) from exc
    if _hash_of(text) != plan_hash:
        # A run names its plan by this hash: approvals given, steps finished and in doubt
        # are of that plan. Edited since (a step's command changed between a kill and the
        # resume), it is another plan, and an approval would pass another change.
        raise StoreError(f"the stored plan {plan_hash[:12]} was changed since it was saved "
                         "(its text does not hash to its name)",
                         hint="Was the store edited by hand? Restore it from a backup; start a "
                              "new run of the guide")
    return plan


def _hash_of(text: str) -> str:
    """The content hash of a stored plan's data, as `Plan.content_hash` took it when it was
    saved (older stores kept it with other separators: the data, not the text, is hashed)."""
    data = files.loads(text)
    return hashlib.sha256(json.dumps(data, sort_keys=True,
                                     separators=(",", ":")).encode()).hexdigest()


def memory_json(entries: Sequence[MemoryEntry]) -> list[dict[str, Any]]:
    """Memory entries as JSON objects (a parked report's), their times in UTC."""
    return [{"key": m.key, "value": m.value, "step_id": m.step_id, "attempt": m.attempt,
             "at": _utc(m.at).isoformat()} for m in entries]


def memory_entries(items: list[dict[str, Any]]) -> list[MemoryEntry]:
    """Memory entries from JSON objects (`memory_json`'s), their times timezone-aware."""
    return [MemoryEntry(key=m["key"], value=m["value"], step_id=m["step_id"],
                        attempt=m["attempt"], at=datetime.fromisoformat(m["at"]).astimezone(UTC))
            for m in items]


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
