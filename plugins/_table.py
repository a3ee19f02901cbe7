"""A query's whole result as a table: built row by row under a bound, kept as Parquet.

Memory keeps a summary of what a query found (`engine.summaries`); the whole result is a run
artifact, `rows.parquet`, that a compute step (`plugins.compute`) reads as a table. Its bound is
the settings `result_cap_rows` and `result_cap_bytes` (`ctx.result_cap_rows`/`_bytes`): past it
the table is cut and `cut_note` says where, for memory.

Values arrive redacted (the plugin redacts before anything keeps them). Each column takes the
Arrow type pyarrow infers; a column whose values do not share one (a JSON column holding
numbers and text, say) is kept as text (JSON for anything that is not a string), numbers that
do not fit one integer or decimal type as floats.

What this module does not own: running queries (the plugins), reading the table back
(`read_table` here, used by `plugins.compute`).
"""

from __future__ import annotations

import decimal
import io
import json
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from engine.summaries import to_jsonable

RESULT_ARTIFACT = "rows.parquet"
"""The artifact name under which a step keeps its whole result as a table."""

_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError,
                 ValueError, OverflowError)


class TableBuilder:
    """Rows in, one Parquet file out; `add` says False once the bound is reached."""

    def __init__(self, columns: Sequence[str], *, cap_rows: int, cap_bytes: int,
                 cap_rows_name: str = "result_cap_rows") -> None:
        self.columns = list(columns)
        self.cap_rows, self.cap_bytes = cap_rows, cap_bytes
        self.cap_rows_name = cap_rows_name
        self._values: list[list[Any]] = [[] for _ in self.columns]
        self.rows = 0
        self.bytes = 0
        self.cut: str | None = None  # why the table stops short of the result

    def add(self, row: Sequence[Any], *, size: int | None = None) -> bool:
        """Take one row (values in column order); `size`: its bytes, if the caller knows
        them (else estimated). False, and `cut` set, when the row is past the bound."""
        if self.rows >= self.cap_rows:
            self.cut = f"kept the first {self.rows} rows ({self.cap_rows_name} = {self.cap_rows})"
            return False
        size = size if size is not None else _estimate(row)
        if self.bytes + size > self.cap_bytes:
            self.cut = (f"kept the first {self.rows} rows ({self.bytes} bytes; "
                        f"result_cap_bytes = {self.cap_bytes})")
            return False
        for column, value in zip(self._values, row, strict=False):
            column.append(value)
        self.rows += 1
        self.bytes += size
        return True

    def table(self) -> pa.Table:
        arrays = [_column(values) for values in self._values]
        return pa.Table.from_arrays(arrays, names=self.columns)

    def parquet(self) -> bytes:
        return to_parquet(self.table())


def to_parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def read_table(data: bytes) -> pa.Table:
    """A table kept by `TableBuilder`; raises ValueError (one line) when it is not one."""
    try:
        return pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as exc:
        text = str(exc).strip().splitlines()
        raise ValueError(text[0][:200] if text else type(exc).__name__) from None


def lines_table(lines: Sequence[str]) -> pa.Table:
    """A shell step's output lines as a one-column table (`line`)."""
    return pa.table({"line": pa.array([str(x) for x in lines], type=pa.string())})


def _column(values: list[Any]) -> pa.Array:
    """One column's values as an Arrow array of one type (see the module's doc)."""
    try:
        return pa.array(values)
    except _ARROW_ERRORS:
        pass
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, int | float | decimal.Decimal) and not isinstance(v, bool)
                       for v in present):
        return pa.array([None if v is None else float(v) for v in values], type=pa.float64())
    return pa.array([None if v is None else v if isinstance(v, str) else
                     json.dumps(to_jsonable(v), default=str) for v in values], type=pa.string())


def _estimate(row: Sequence[Any]) -> int:
    return sum(len(v) if isinstance(v, str | bytes) else 8 if v is None or
               isinstance(v, int | float) else len(str(v)) for v in row) + 8
