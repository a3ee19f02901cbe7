"""Trailing windows, first crossings, and cleaning streams with NaNs and gaps."""

from __future__ import annotations

import numpy as np
import pytest

from engine.detect import StreamDataError, clean_stream, first_crossing, window_sum


def test_window_sum_is_trailing_and_causal() -> None:
    s = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert window_sum(s, 2).tolist() == [1, 3, 5, 7, 9]
    assert window_sum(s, 10).tolist() == [1, 3, 6, 10, 15]
    # changing a later score never changes an earlier aggregate
    t = s.copy()
    t[4] = 100
    assert window_sum(t, 3)[:4].tolist() == window_sum(s, 3)[:4].tolist()


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError):
        window_sum(np.ones(3), 0)


def test_first_crossing_is_strict() -> None:
    assert first_crossing(np.array([0, 1, 2, 3]), 2) == 3
    assert first_crossing(np.array([0, 1, 2]), 2) is None
    assert first_crossing(np.array([0, 5, 1]), np.array([1, 4, 0])) == 1


def test_nans_are_dropped_and_counted() -> None:
    t = np.arange(100) * 0.02
    x = np.ones((100, 2))
    x[10, 1] = np.nan
    t2, x2, dropped = clean_stream(t, x, max_gap_s=0.5)
    assert dropped == 1 and len(t2) == 99 and np.isfinite(x2).all()


def test_too_many_nans_is_an_error_with_a_hint() -> None:
    t = np.arange(100) * 0.02
    x = np.ones((100, 1))
    x[::5] = np.nan
    with pytest.raises(StreamDataError) as err:
        clean_stream(t, x, max_gap_s=0.5)
    assert "20 of 100 samples" in str(err.value) and err.value.hint


def test_a_gap_is_an_error() -> None:
    t = np.concatenate([np.arange(50) * 0.02, 3 + np.arange(50) * 0.02])
    with pytest.raises(StreamDataError, match="gap of 2.02 s"):
        clean_stream(t, np.ones((100, 1)), max_gap_s=0.5)


def test_time_going_backwards_is_an_error() -> None:
    with pytest.raises(StreamDataError, match="does not increase"):
        clean_stream(np.array([0, 0.02, 0.01]), np.ones((3, 1)), max_gap_s=1)


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(StreamDataError, match="shape"):
        clean_stream(np.arange(3.0), np.ones((4, 2)), max_gap_s=1)
