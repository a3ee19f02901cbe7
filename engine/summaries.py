"""Bounded summaries of large results: what a query step puts in run memory.

A query may return a million rows or a thousand time series; the whole result is an artifact,
and memory gets a summary small enough to keep and rich enough for a condition to test
(`steps.slow_requests.row_count > 0`, `steps.error_rate.value > 0.05`).

`summarize_rows` makes one streaming pass with bounded memory, whatever the number of rows:
counters stop admitting new distinct values at `distinct_cap`, text is truncated, and only the
first and last `keep` rows are kept. `summarize_series` does the same for Prometheus results.
`to_jsonable` turns one database value into JSON (for summaries and JSON-lines artifacts).

Pure: no I/O, no third-party imports. What this module does not own: fetching rows (the query
plugins), storing artifacts (the executor).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import math
import uuid
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

TEXT_CHARS = 200
"""Longest text kept in a summary; longer values end with an ellipsis."""

MAX_COLUMNS = 64
"""Columns beyond this many are counted but get no per-column statistics."""


def to_jsonable(value: Any, *, max_chars: int | None = None) -> Any:
    """One database or Prometheus value as JSON; non-finite floats become "NaN"/"+Inf"/"-Inf"."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else _non_finite_name(value)
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            return _non_finite_name(float(value))
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, str):
        return _clip(value, max_chars)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        if max_chars is not None and len(raw) > max_chars:
            return f"<{len(raw)} bytes>"
        return base64.b64encode(raw).decode("ascii")
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v, max_chars=max_chars) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v, max_chars=max_chars) for v in value]
    return _clip(str(value), max_chars)


def _non_finite_name(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return "+Inf" if value > 0 else "-Inf"


def _clip(text: str, max_chars: int | None) -> str:
    if max_chars is None or len(text) <= max_chars:
        return text
    return text[: max_chars - 1] + "…"


class _ColumnStats:
    """Streaming statistics for one column, in constant memory."""

    __slots__ = ("nulls", "count", "min", "max", "sum", "non_finite", "counts", "distinct_overflow",
                 "distinct_cap", "tmin", "tmax")

    def __init__(self, distinct_cap: int) -> None:
        self.nulls = 0
        self.count = 0  # finite numbers
        self.min: float | None = None
        self.max: float | None = None
        self.sum = 0.0
        self.non_finite = 0
        self.counts: dict[str, int] = {}
        self.distinct_overflow = False
        self.distinct_cap = distinct_cap
        self.tmin: Any = None  # dates and times compare among themselves
        self.tmax: Any = None

    def add(self, value: Any) -> None:
        if value is None:
            self.nulls += 1
        elif isinstance(value, bool):
            self._add_text("true" if value else "false")
        elif isinstance(value, int | float | decimal.Decimal):
            self._add_number(value)
        elif isinstance(value, dt.datetime | dt.date | dt.time):
            self._add_time(value)
        else:
            text = to_jsonable(value, max_chars=TEXT_CHARS)
            self._add_text(text if isinstance(text, str) else str(text))

    def _add_number(self, value: int | float | decimal.Decimal) -> None:
        number = float(value)
        if not math.isfinite(number):
            self.non_finite += 1
            return
        self.count += 1
        self.sum += number
        if self.min is None or number < self.min:
            self.min = number
        if self.max is None or number > self.max:
            self.max = number

    def _add_time(self, value: Any) -> None:
        try:
            if self.tmin is None or value < self.tmin:
                self.tmin = value
            if self.tmax is None or value > self.tmax:
                self.tmax = value
        except TypeError:  # naive against aware datetimes: count them as text instead
            self._add_text(value.isoformat())

    def _add_text(self, text: str) -> None:
        text = _clip(text, TEXT_CHARS)
        if text in self.counts:
            self.counts[text] += 1
        elif len(self.counts) < self.distinct_cap:
            self.counts[text] = 1
        else:
            self.distinct_overflow = True

    def result(self, top_k: int) -> dict[str, Any]:
        out: dict[str, Any] = {"nulls": self.nulls}
        kinds = []
        if self.count or self.non_finite:
            kinds.append("number")
            out.update(min=_num(self.min), max=_num(self.max), sum=_num(self.sum),
                       mean=_num(self.sum / self.count) if self.count else None, count=self.count)
            if self.non_finite:
                out["non_finite"] = self.non_finite
        if self.tmin is not None:
            kinds.append("time")
            out.update(min_time=self.tmin.isoformat(), max_time=self.tmax.isoformat())
        if self.counts:
            kinds.append("text")
            top = sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top_k]
            out.update(distinct=len(self.counts), distinct_exact=not self.distinct_overflow,
                       top=[{"value": v, "count": c} for v, c in top])
        out["kind"] = "+".join(kinds) if kinds else "null"
        return out


def _num(value: float | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


class RowSummary:
    """An incremental `summarize_rows`: `add` rows one at a time (from an async cursor, say),
    then read `result()`. Memory is bounded as for `summarize_rows`."""

    def __init__(self, columns: Sequence[str], *, keep: int = 5, top_k: int = 5,
                 distinct_cap: int = 1000) -> None:
        self.columns = [str(c) for c in columns]
        self._tracked = self.columns[:MAX_COLUMNS]
        self._stats = [_ColumnStats(distinct_cap) for _ in self._tracked]
        self._keep, self._top_k = keep, top_k
        self._first: list[list[Any]] = []
        self._last: deque[list[Any]] = deque(maxlen=keep)
        self.row_count = 0

    def add(self, row: Sequence[Any] | Mapping[str, Any]) -> None:
        values = [row.get(n) for n in self.columns] if isinstance(row, Mapping) else list(row)
        for column, value in zip(self._stats, values, strict=False):
            column.add(value)
        self.row_count += 1
        if len(self._first) < self._keep:
            self._first.append(_row_json(values))
        elif self._keep:
            self._last.append(values)

    def result(self) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "row_count": self.row_count,
            "columns": list(self.columns),
            "stats": {name: column.result(self._top_k)
                      for name, column in zip(self._tracked, self._stats, strict=True)},
            "first_rows": list(self._first),
            "last_rows": [_row_json(values) for values in self._last],
        }
        if len(self.columns) > len(self._tracked):
            summary["stats_columns_omitted"] = len(self.columns) - len(self._tracked)
        return summary


def summarize_rows(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any] | Mapping[str, Any]],
    *,
    keep: int = 5,
    top_k: int = 5,
    distinct_cap: int = 1000,
) -> dict[str, Any]:
    """Summarize a table in one pass: row count, per-column statistics, first and last rows.

    Rows are sequences in `columns` order, or mappings by column name. Memory stays bounded
    by `keep`, `distinct_cap` and the number of columns, never by the number of rows; once
    a column has more than `distinct_cap` distinct texts, `distinct_exact` is false and the
    `top` counts cover only the values seen before that.
    """
    summary = RowSummary(columns, keep=keep, top_k=top_k, distinct_cap=distinct_cap)
    for row in rows:
        summary.add(row)
    return summary.result()


def _row_json(values: Sequence[Any]) -> list[Any]:
    return [to_jsonable(v, max_chars=TEXT_CHARS) for v in values[:MAX_COLUMNS]]


def label_string(labels: Mapping[str, str]) -> str:
    """Prometheus's own notation: `name{a="1",b="2"}`, labels sorted, `{}` for none."""
    name = labels.get("__name__", "")
    pairs = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{name}{{{pairs}}}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def summarize_series(
    result_type: str,
    series: Iterable[Mapping[str, Any]],
    *,
    max_series: int = 20,
) -> dict[str, Any]:
    """Summarize Prometheus series, each `{"labels": {...}, "value": float}` (instant) or
    `{"labels": {...}, "samples": [(ts, float), ...]}` (range).

    Keeps the `max_series` series with the largest value (instant) or last value (range), so
    that the worst offenders are in memory; `value` is the single value when there is exactly
    one series; `values_by` maps each kept series' label string to its value. Non-finite
    values (NaN, ±Inf) are rendered as strings and left out of the numeric statistics.
    """
    # a bounded min-heap would do; lists are small
    kept: list[tuple[float, int, dict[str, Any]]] = []
    count = 0
    all_stats = _ColumnStats(distinct_cap=0)
    for index, item in enumerate(series):
        count += 1
        labels = dict(item.get("labels") or {})
        if "samples" in item:
            entry = _range_entry(labels, item["samples"])
            rank_value = entry.get("last")
        else:
            value = float(item["value"])
            entry = {"labels": labels, "value": to_jsonable(value)}
            rank_value = value
        all_stats.add(rank_value)
        rank = (rank_value if isinstance(rank_value, float) and math.isfinite(rank_value)
                else -math.inf)
        kept.append((rank, index, entry))
        if len(kept) > 4 * max_series:
            kept = sorted(kept, key=lambda t: (-t[0], t[1]))[:max_series]
    kept = sorted(kept, key=lambda t: (-t[0], t[1]))[:max_series]
    entries = [entry for _, _, entry in kept]
    key = "last" if result_type == "matrix" else "value"
    summary: dict[str, Any] = {
        "result_type": result_type,
        "count": count,
        "series": entries,
        "series_truncated": count > len(entries),
        "values_by": {label_string(e["labels"]): e.get(key) for e in entries},
        "value": entries[0].get(key) if count == 1 else None,
    }
    stats = all_stats.result(top_k=0)
    summary.update({k: stats[k] for k in ("min", "max", "sum", "mean") if k in stats})
    return summary


def _range_entry(labels: dict[str, Any], samples: Iterable[tuple[float, float]]) -> dict[str, Any]:
    stats = _ColumnStats(distinct_cap=0)
    first_ts = last_ts = None
    last: float | None = None
    n = 0
    for ts, value in samples:
        n += 1
        if first_ts is None:
            first_ts = ts
        last_ts, last = ts, float(value)
        stats.add(last)
    mean = stats.sum / stats.count if stats.count else None
    entry: dict[str, Any] = {
        "labels": labels,
        "last": to_jsonable(last),
        "min": _num(stats.min),
        "max": _num(stats.max),
        "mean": mean,
        "samples": n,
        "first_ts": first_ts,
        "last_ts": last_ts,
    }
    if stats.non_finite:
        entry["non_finite_samples"] = stats.non_finite
    return entry
