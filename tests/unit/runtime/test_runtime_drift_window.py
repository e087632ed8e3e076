"""The drift window's ring: the last rows appended, in order, whatever the batch sizes."""

from __future__ import annotations

import numpy as np
import pytest

from inferstack.runtime.drift_monitor import DriftMonitor, _Window, profile


@pytest.mark.parametrize("sizes", [[3, 5, 7, 1, 12, 4], [25], [10, 10, 10], [1] * 23, [9, 30, 2]])
def test_the_ring_holds_the_last_rows_in_order(sizes: list[int]) -> None:
    window = _Window(10)
    rows = np.arange(sum(sizes) * 2, dtype=float).reshape(-1, 2)
    start = 0
    for n in sizes:
        window.append(rows[start : start + n])
        start += n
        held = window.values()
        assert held is not None
        np.testing.assert_array_equal(held, rows[max(0, start - 10) : start])
        assert window.rows == min(start, 10)


def test_the_ring_copies_rows_and_keeps_strings() -> None:
    window = _Window(4)
    batch = np.array([["a", 1.0], ["b", 2.0], ["c", 3.0]], dtype=object)
    window.append(batch)
    batch[0, 0] = "changed"  # the request's buffer is not held
    window.append(batch[1:])
    held = window.values()
    assert held is not None
    assert held[:, 0].tolist() == ["b", "c", "b", "c"]


def test_another_row_shape_starts_a_new_ring() -> None:
    window = _Window(5)
    window.append(np.ones((3, 2)))
    window.append(np.zeros((2, 3)))
    held = window.values()
    assert held is not None
    assert held.shape == (2, 3)


def test_unprofiled_columns_are_left_out() -> None:
    monitor = DriftMonitor({}, ["a", "b"], window=10)
    monitor.update(np.ones((4, 2)))
    assert monitor._inputs.rows == 0
    assert monitor.report().features == {}


def test_only_profiled_columns_are_kept() -> None:
    x = np.random.default_rng(0).normal(size=(200, 3))
    monitor = DriftMonitor(profile(x, ["b"]), ["a", "b", "c"], window=50, min_rows=10)
    monitor.update(x[:, [1, 0, 2]])  # column b of this batch is x's first
    held = monitor._inputs.values()
    assert held is not None
    np.testing.assert_array_equal(held, x[-50:, [0]])
    assert set(monitor.report().features) == {"b"}


def test_past_twice_the_window_in_one_second_batches_are_skipped_and_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from inferstack.runtime import drift_monitor

    now = [100.2]
    monkeypatch.setattr(drift_monitor.time, "monotonic", lambda: now[0])
    x = np.random.default_rng(1).normal(size=(10, 1))
    monitor = DriftMonitor(profile(x, ["a"]), ["a"], window=20, min_rows=1)
    for _ in range(5):  # 50 rows in one second: 40 kept, the last batch skipped
        monitor.update(x)
    assert (monitor._inputs.rows, monitor.skipped_rows) == (20, 10)
    now[0] = 101.0  # the next second keeps again
    monitor.update(x + 5)
    held = monitor._inputs.values()
    assert held is not None
    np.testing.assert_array_equal(held[-10:], x + 5)
    assert monitor.skipped_rows == 10
