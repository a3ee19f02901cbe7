"""Summaries stay small and useful whatever the size of the result."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math

from engine.summaries import label_string, summarize_rows, summarize_series, to_jsonable


def test_numeric_and_text_statistics() -> None:
    rows = [(1, "api"), (2, "api"), (3, "db"), (None, "api"), (10, None)]
    summary = summarize_rows(["latency", "service"], rows)
    latency, service = summary["stats"]["latency"], summary["stats"]["service"]
    assert summary["row_count"] == 5
    assert (latency["min"], latency["max"], latency["sum"], latency["nulls"]) == (1, 10, 16, 1)
    assert latency["mean"] == 4.0
    assert service["distinct"] == 2
    assert service["top"][0] == {"value": "api", "count": 3}
    assert service["nulls"] == 1


def test_first_and_last_rows_are_kept_in_order() -> None:
    summary = summarize_rows(["n"], ((i,) for i in range(100)), keep=3)
    assert summary["first_rows"] == [[0], [1], [2]]
    assert summary["last_rows"] == [[97], [98], [99]]


def test_short_results_are_not_repeated_in_last_rows() -> None:
    summary = summarize_rows(["n"], [(1,), (2,)], keep=5)
    assert summary["first_rows"] == [[1], [2]]
    assert summary["last_rows"] == []


def test_mapping_rows_are_read_by_column_name() -> None:
    summary = summarize_rows(["a", "b"], [{"b": 2, "a": 1}])
    assert summary["first_rows"] == [[1, 2]]


def test_a_million_rows_make_a_bounded_summary() -> None:
    # Given a million rows, each with a distinct long text value
    rows = ((i, f"user-{i}-" + "x" * 500, i % 7 == 0) for i in range(1_000_000))
    summary = summarize_rows(["id", "name", "flag"], rows, distinct_cap=200)
    # Then the counts are exact, distinct counting says it gave up, and the JSON is small
    assert summary["row_count"] == 1_000_000
    assert summary["stats"]["id"]["max"] == 999_999
    assert summary["stats"]["name"]["distinct_exact"] is False
    assert summary["stats"]["flag"]["distinct"] == 2
    assert len(json.dumps(summary)) < 20_000


def test_values_that_json_cannot_hold_become_text() -> None:
    when = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
    rows = [(decimal.Decimal("1.5"), when, float("nan"), b"\x00\x01")]
    summary = summarize_rows(["d", "t", "f", "b"], rows)
    json.dumps(summary, allow_nan=False)
    assert summary["stats"]["d"]["max"] == 1.5
    assert summary["stats"]["t"]["max_time"] == when.isoformat()
    assert summary["stats"]["f"]["non_finite"] == 1
    assert to_jsonable(float("-inf")) == "-Inf"


def test_long_text_is_clipped() -> None:
    summary = summarize_rows(["t"], [("y" * 10_000,)])
    assert len(summary["first_rows"][0][0]) <= 200


def test_many_columns_get_bounded_statistics() -> None:
    columns = [f"c{i}" for i in range(500)]
    summary = summarize_rows(columns, [tuple(range(500))])
    assert summary["stats_columns_omitted"] == 500 - len(summary["stats"])
    assert len(json.dumps(summary)) < 50_000


def test_single_instant_series_gives_a_value() -> None:
    summary = summarize_series("vector", [{"labels": {"code": "500"}, "value": 0.07}])
    assert summary["value"] == 0.07
    assert summary["values_by"] == {'{code="500"}': 0.07}
    assert summary["count"] == 1


def test_series_are_bounded_and_worst_first() -> None:
    series = ({"labels": {"pod": f"p{i}"}, "value": float(i)} for i in range(1000))
    summary = summarize_series("vector", series, max_series=3)
    assert summary["count"] == 1000
    assert [s["value"] for s in summary["series"]] == [999.0, 998.0, 997.0]
    assert summary["series_truncated"] is True
    assert summary["value"] is None
    assert summary["max"] == 999


def test_range_series_get_last_min_max_mean() -> None:
    samples = [(100.0, 1.0), (115.0, 5.0), (130.0, float("nan")), (145.0, 3.0)]
    summary = summarize_series("matrix", [{"labels": {}, "samples": samples}])
    entry = summary["series"][0]
    assert (entry["last"], entry["min"], entry["max"], entry["mean"]) == (3.0, 1, 5, 3.0)
    assert entry["non_finite_samples"] == 1
    assert summary["value"] == 3.0


def test_nan_instant_value_is_json_safe() -> None:
    summary = summarize_series("vector", [{"labels": {}, "value": math.nan}])
    json.dumps(summary, allow_nan=False)
    assert summary["value"] == "NaN"


def test_label_string_escapes_quotes() -> None:
    assert label_string({"__name__": "up", "job": 'a"b'}) == 'up{job="a\\"b"}'


def test_incremental_summary_matches_the_one_pass_summary() -> None:
    from engine.summaries import RowSummary

    rows = [(i, f"s{i % 3}") for i in range(50)]
    incremental = RowSummary(["n", "s"], keep=3)
    for row in rows:
        incremental.add(row)
    assert incremental.result() == summarize_rows(["n", "s"], rows, keep=3)
    assert incremental.row_count == 50
