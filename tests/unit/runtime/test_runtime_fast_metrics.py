"""The lean metric updates show on /metrics exactly what prometheus_client's own would."""

from __future__ import annotations

import math

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from inferstack.runtime.fast_metrics import FastCounter, FastGauge, FastHistogram, fast
from inferstack.runtime.metrics import BATCH_BUCKETS, LATENCY_BUCKETS


def _families(registry: CollectorRegistry) -> tuple[Counter, Gauge, Histogram, Histogram]:
    return (
        Counter("c", "c", ["k"], registry=registry),
        Gauge("g", "g", ["k"], registry=registry),
        Histogram("rows", "rows", ["k"], buckets=BATCH_BUCKETS, registry=registry),
        Histogram("seconds", "seconds", ["k"], buckets=LATENCY_BUCKETS, registry=registry),
    )


def _text(registry: CollectorRegistry) -> list[str]:
    lines = generate_latest(registry).decode().splitlines()
    return [line for line in lines if "_created" not in line]  # creation timestamps differ


def test_lean_updates_expose_the_same_series_and_values() -> None:
    plain, lean = CollectorRegistry(), CollectorRegistry()
    amounts = [1, 2, 3, 64, 64, 65, 256, 1024, 1025, 10**6, 0, 4.0, 0.0004, 0.0005, 0.7, 31.0]
    for registry, wrap in ((plain, lambda child: child), (lean, fast)):
        counter, gauge, rows, seconds = (wrap(f.labels("a")) for f in _families(registry))
        for amount in amounts:
            counter.inc(amount)
            counter.inc()
            gauge.inc(amount)
            gauge.dec()
            rows.observe(amount)
            seconds.observe(amount / 1000)
        gauge.set(7)
        rows.observe(math.nan)  # in the sum, in no bucket
        seconds.observe(-1.0)
        seconds.observe(math.inf)
    assert _text(lean) == _text(plain)
    assert "rows_bucket" in "\n".join(_text(lean))


def test_children_become_lean_wrappers_and_other_objects_stay() -> None:
    counter, gauge, rows, _ = _families(CollectorRegistry())
    assert isinstance(fast(counter.labels("a")), FastCounter)
    assert isinstance(fast(gauge.labels("a")), FastGauge)
    assert isinstance(fast(rows.labels("a")), FastHistogram)
    recent = Gauge("m", "m", ["k"], multiprocess_mode="mostrecent", registry=CollectorRegistry())
    child = recent.labels("a")
    assert fast(child) is child  # its set carries a timestamp: kept as it is
    assert fast("not a metric") == "not a metric"
