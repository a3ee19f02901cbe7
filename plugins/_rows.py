"""Rows as a query plugin receives them: redacted, summarised for memory, kept whole.

Shared by the plugins that return rows (`plugins.sql`, `plugins.compute`): every value is
redacted as it arrives, before anything clips it to a preview; memory gets the summary of
`engine.summaries.RowSummary`, `truncated`, `rows` (the first few rows as dicts) and `value`
(the cell, when the result is one row of one column); the artifacts are every row kept, as
JSON lines (`rows`, for people) and as a table (`rows.parquet`, for compute steps).

What is kept is bounded by the step's `max_rows` and the settings `result_cap_rows` and
`result_cap_bytes`, whichever comes first; past it the result is cut, and memory says so
(`truncated`, `cut`).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from engine.plugins import StepContext, StepResult
from engine.summaries import RowSummary, to_jsonable
from plugins._table import RESULT_ARTIFACT, TableBuilder


class RowCollector:
    """Rows as they arrive: the summary, the artifacts, the cap."""

    def __init__(self, columns: Sequence[str], *, max_rows: int | None, keep: int,
                 ctx: StepContext) -> None:
        self.ctx = ctx
        self.columns = unique_names([ctx.redact(str(c)) for c in columns])
        self.summary = RowSummary(self.columns, keep=keep)
        cap = ctx.result_cap_rows
        self.max_rows = cap if max_rows is None else min(max_rows, cap)
        self.table = TableBuilder(self.columns, cap_rows=self.max_rows,
                                  cap_bytes=ctx.result_cap_bytes,
                                  cap_rows_name="max_rows" if max_rows is not None
                                  and max_rows <= cap else "result_cap_rows")
        self.keep = keep
        self.truncated = False
        self.preview: list[dict[str, Any]] = []
        self._lines: list[bytes] = []
        self.status: str | None = None
        self.affected: int | None = None

    def add(self, row: Sequence[Any]) -> bool:
        """Take one row; False (and `truncated`) once the cap is reached."""
        if self.truncated:
            return False
        row = [redacted(v, self.ctx) for v in row]
        record = {c: to_jsonable(v) for c, v in zip(self.columns, row, strict=False)}
        line = json.dumps(record, allow_nan=False, default=str).encode() + b"\n"
        if not self.table.add(row, size=len(line)):
            self.truncated = True
            return False
        self.summary.add(row)
        self._lines.append(line)
        if len(self.preview) < self.keep:
            self.preview.append({c: to_jsonable(v, max_chars=200)
                                 for c, v in zip(self.columns, row, strict=False)})
        return True

    def result(self) -> StepResult:
        if self.status is not None and not self.columns:
            outputs: dict[str, Any] = {"status": self.status, "affected_rows": self.affected,
                                       "row_count": 0, "value": None}
            return StepResult(outputs=outputs, summary=self.status)
        outputs = self.summary.result()
        one_cell = outputs["row_count"] == 1 and len(self.columns) == 1 and not self.truncated
        outputs.update(truncated=self.truncated, rows=self.preview,
                       value=self.preview[0][self.columns[0]] if one_cell else None)
        more = ""
        if self.truncated:
            outputs["max_rows"] = self.max_rows
            outputs["cut"] = self.table.cut
            more = f" (truncated: {self.table.cut})"
        summary = (f"value {outputs['value']}" if one_cell
                   else f"{outputs['row_count']} rows{more}")
        return StepResult(outputs=outputs, artifacts={"rows": b"".join(self._lines),
                                                      RESULT_ARTIFACT: self.table.parquet()},
                          summary=summary)


def unique_names(columns: Sequence[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in columns:
        name = str(name)
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out


def redacted(value: Any, ctx: StepContext) -> Any:
    """A database value with its text redacted (nested values too); numbers, times and the
    like pass unchanged, anything else becomes its redacted text."""
    if value is None or isinstance(value, bool | int | float | decimal.Decimal | uuid.UUID
                                   | dt.date | dt.time | dt.timedelta):
        return value
    if isinstance(value, str):
        return ctx.redact(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return ctx.secrets.redact_bytes(bytes(value))
    if isinstance(value, Mapping):
        return {ctx.redact(str(k)): redacted(v, ctx) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redacted(v, ctx) for v in value]
    return ctx.redact(str(value))
