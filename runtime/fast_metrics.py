"""Lean updates of prometheus_client label children, for the metrics every request moves.

A child's own ``inc``, ``set`` and ``observe`` check the metric and the amount on each
call and, for a histogram, walk the buckets in Python: several microseconds each, and a
256-row request moves about twenty of them. The wrappers here update the same value
objects the child holds (those ``/metrics`` reads, in one process or several, each
behind its own lock) directly; a histogram finds its bucket by bisection, remembered
for integer amounts (rows per model call). ``/metrics`` shows exactly what the child's
own methods would have made it show. A child without the expected internals (another
prometheus_client) is returned as it is.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from typing import Any

REMEMBERED = 4096
"""Integer amounts whose histogram bucket is remembered (at most this many per histogram)."""


class FastCounter:
    """``inc`` of a Counter child; amounts are never negative here, so none is checked."""

    __slots__ = ("_inc",)

    def __init__(self, child: Any) -> None:
        self._inc: Callable[[float], None] = child._value.inc

    def inc(self, amount: float = 1.0) -> None:
        """Add ``amount``."""
        self._inc(amount)


class FastGauge:
    """``inc``, ``dec`` and ``set`` of a Gauge child (not of the ``mostrecent`` modes)."""

    __slots__ = ("_inc", "_set")

    def __init__(self, child: Any) -> None:
        if child._is_most_recent:  # its set carries a timestamp
            raise AttributeError("mostrecent gauges keep their own methods")
        self._inc: Callable[[float], None] = child._value.inc
        self._set: Callable[[float], None] = child._value.set

    def inc(self, amount: float = 1.0) -> None:
        """Add ``amount``."""
        self._inc(amount)

    def dec(self, amount: float = 1.0) -> None:
        """Subtract ``amount``."""
        self._inc(-amount)

    def set(self, value: float) -> None:
        """Set the value."""
        self._set(float(value))


class FastHistogram:
    """``observe`` of a Histogram child."""

    __slots__ = ("_bounds", "_buckets", "_known", "_sum")

    def __init__(self, child: Any) -> None:
        self._sum: Callable[[float], None] = child._sum.inc
        self._buckets: list[Callable[[float], None]] = [b.inc for b in child._buckets]
        self._bounds: list[float] = list(child._upper_bounds)  # ends with +Inf
        if len(self._bounds) != len(self._buckets):
            raise AttributeError("buckets and bounds differ")
        self._known: dict[int, int] = {}

    def observe(self, amount: float) -> None:
        """Count ``amount`` in the first bucket whose bound is at least it, and in the sum."""
        self._sum(amount)
        at = self._known.get(amount)  # type: ignore[call-overload]
        if at is None:
            if amount != amount:  # NaN: in no bucket, as prometheus_client does
                return
            at = bisect_left(self._bounds, amount)
            if type(amount) is int and len(self._known) < REMEMBERED:
                self._known[amount] = at
        self._buckets[at](1)


def fast(child: Any) -> Any:
    """The lean wrapper of a Counter, Gauge or Histogram child, or the child itself."""
    kind = type(child).__name__
    wrapper = {"Counter": FastCounter, "Gauge": FastGauge, "Histogram": FastHistogram}.get(kind)
    if wrapper is None:
        return child
    try:
        return wrapper(child)
    except AttributeError:
        return child


__all__ = ["FastCounter", "FastGauge", "FastHistogram", "fast"]
