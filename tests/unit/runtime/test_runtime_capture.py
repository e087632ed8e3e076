"""The capture queue (drops counted, never blocking), request ids, feedback joins and quality."""

from __future__ import annotations

import gzip
import json
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (
    accuracy_score,
    mean_absolute_error,
    mean_squared_error,
    precision_score,
    recall_score,
    roc_auc_score,
)

from inferstack.runtime.capture import Capture, CaptureQueue
from inferstack.runtime.capture_ids import MAX_ID_CHARS, RequestIds, accept_id
from inferstack.runtime.capture_sinks import FileSink, ObjectSink, object_sink
from inferstack.runtime.errors import ConfigError, InvalidInput
from inferstack.runtime.feedback import MAX_OUTCOMES, Feedback, parse_outcomes
from inferstack.runtime.feedback_quality import roc_auc
from inferstack.runtime.manifest import OutputSchema


class FakeSink:
    """A sink that fails, stalls or stores, as told."""

    name = "fake"

    def __init__(self, fail: bool = False, stall: threading.Event | None = None) -> None:
        self.fail = fail
        self.stall = stall
        self.batches: list[list[dict[str, Any]]] = []

    def write(self, records: list[dict[str, Any]]) -> None:
        if self.stall is not None:
            self.stall.wait(30)
        if self.fail:
            raise ConnectionError("store unreachable")
        self.batches.append(records)


def _queue(sink: FakeSink, **kw: Any) -> tuple[CaptureQueue, dict[str, int]]:
    counts: dict[str, int] = {"written": 0}

    def dropped(reason: str, n: int) -> None:
        counts[reason] = counts.get(reason, 0) + n

    def written(n: int) -> None:
        counts["written"] += n

    settings = {"max_records": 100, "flush_records": 10, "flush_interval_s": 0.05} | kw
    return CaptureQueue(sink, on_written=written, on_dropped=dropped, **settings), counts


def test_queue_batches_by_count_and_time_and_drains() -> None:
    sink = FakeSink()
    queue, counts = _queue(sink, flush_interval_s=0.2)
    queue.put([{"n": i} for i in range(25)])
    queue.put([{"n": 25}])
    queue.close(5)
    assert [r["n"] for b in sink.batches for r in b] == list(range(26))
    assert max(len(b) for b in sink.batches) == 10
    assert counts == {"written": 26}


def test_a_stalled_sink_never_blocks_put_and_counts_every_drop() -> None:
    release = threading.Event()
    sink = FakeSink(stall=release)
    queue, counts = _queue(sink, max_records=50, flush_records=10)
    start = time.perf_counter()
    for i in range(1000):
        queue.put([{"n": i}])
    assert time.perf_counter() - start < 0.5, "put waited for the stalled sink"
    release.set()
    queue.close(5)
    stored = sum(len(b) for b in sink.batches)
    assert counts["queue_full"] == 1000 - stored
    assert counts["written"] == stored
    assert 50 <= stored <= 60  # what the queue held, plus the batch taken before the stall


def test_a_failing_sink_drops_after_bounded_retries_and_logs_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = FakeSink(fail=True)
    queue, counts = _queue(sink, retry_delays_s=(0.01, 0.01))
    for _ in range(3):
        queue.put([{"n": i} for i in range(10)])
        time.sleep(0.1)
    queue.close(5)
    assert counts == {"written": 0, "sink_error": 30}
    failures = [r for r in caplog.records if "capture sink failed" in r.getMessage()]
    assert len(failures) == 1


def test_drain_gives_up_at_its_bound() -> None:
    sink = FakeSink(fail=True)
    queue, counts = _queue(sink, retry_delays_s=(5.0,), flush_interval_s=10)
    queue.put([{"n": i} for i in range(5)])
    start = time.perf_counter()
    queue.close(0.5)
    assert time.perf_counter() - start < 2
    assert counts["sink_error"] == 5


def test_file_sink_keeps_the_historical_names(tmp_path: Path) -> None:
    sink = FileSink(tmp_path, "m", "1.0.0")
    sink.write([{"kind": "prediction", "id": "a"}, {"kind": "feedback", "id": "a", "outcome": 1}])
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 2
    assert names[0].endswith(".feedback.jsonl")
    assert names[1].startswith("m-1.0.0-")
    assert names[1].endswith(".jsonl")
    capture = Capture(tmp_path, 1.0, "m", "1.0.0")
    assert capture.path.name == names[1]


def test_object_keys_follow_the_layout() -> None:
    from datetime import UTC, datetime

    sink = ObjectSink("capture/prod/", "churn", "1.2.0")
    key = sink.key(datetime(2026, 3, 4, 5, 6, 7, 890, tzinfo=UTC))
    parts = key.split("/")
    assert parts[:8] == ["capture", "prod", "churn", "1.2.0", "2026", "03", "04", "05"]
    stamp, rest = parts[8].split("-", 1)
    assert stamp == "20260304T050607000890Z"
    assert rest.endswith("-0.jsonl.gz")
    assert sink.key().endswith("-1.jsonl.gz")


def test_object_sink_uri_errors_name_the_problem() -> None:
    with pytest.raises(ConfigError, match="names no object store"):
        object_sink("ftp://host/x", "m", "1.0.0")
    with pytest.raises(ConfigError, match="names no object store"):
        object_sink("https://example.com/container/x", "m", "1.0.0")


def test_request_ids_are_unique_and_callers_ids_sanitised() -> None:
    ids = RequestIds()
    fresh = {ids.new() for _ in range(10_000)}
    assert len(fresh) == 10_000
    assert RequestIds().prefix != ids.prefix
    assert accept_id(b"abc-123_x.y") == "abc-123_x.y"
    assert accept_id(b"has space") is None
    assert accept_id("x" * (MAX_ID_CHARS + 1)) is None
    assert accept_id(b'quote"') is None
    assert ids.of(b"bad\x00id").startswith(ids.prefix)


def _binary() -> Feedback:
    return Feedback(OutputSchema(kind="probabilities"), 500, 1000, 60.0)


def test_binary_quality_matches_sklearn() -> None:
    rng = np.random.default_rng(7)
    fb = _binary()
    p1 = rng.random(300)
    truth = (rng.random(300) < p1).astype(int)
    for i, p in enumerate(p1):
        fb.remember(f"r{i}", np.array([[1 - p, p]]))
    results, records = fb.join([{"id": f"r{i}", "outcome": int(t)} for i, t in enumerate(truth)])
    assert {r["result"] for r in results} == {"joined"}
    assert len(records) == 300
    values, n = fb.metrics()
    predicted = (p1 >= 0.5).astype(int)  # argmax; no exact 0.5 with this seed
    assert n == 300
    assert values["accuracy"] == pytest.approx(accuracy_score(truth, predicted))
    assert values["precision"] == pytest.approx(precision_score(truth, predicted))
    assert values["recall"] == pytest.approx(recall_score(truth, predicted))
    assert values["auc"] == pytest.approx(roc_auc_score(truth, p1))


def test_one_probability_column_is_the_positive_class() -> None:
    """A sigmoid model's (n, 1) output is binary, not one class that is always predicted."""
    rng = np.random.default_rng(11)
    p1 = rng.random(200)
    truth = (rng.random(200) < p1).astype(int)
    for outputs in (p1[:, None], p1):
        fb = _binary()
        for i, p in enumerate(outputs):
            fb.remember(
                f"r{i}", np.asarray(p).reshape(1, -1) if outputs.ndim == 2 else np.array([p])
            )
        results, _ = fb.join([{"id": f"r{i}", "outcome": int(t)} for i, t in enumerate(truth)])
        assert {r["result"] for r in results} == {"joined"}
        values, _ = fb.metrics()
        predicted = (p1 >= 0.5).astype(int)
        assert values["accuracy"] == pytest.approx(accuracy_score(truth, predicted))
        assert values["precision"] == pytest.approx(precision_score(truth, predicted))
        assert values["recall"] == pytest.approx(recall_score(truth, predicted))
        assert values["auc"] == pytest.approx(roc_auc_score(truth, p1))


def test_multiclass_quality_matches_sklearn() -> None:
    rng = np.random.default_rng(3)
    names = ("a", "b", "c")
    fb = Feedback(OutputSchema(kind="probabilities", names=names), 200, 1000, 60.0)
    probs = rng.dirichlet([1, 1, 1], size=250)
    truth = rng.integers(0, 3, size=250)
    for i, p in enumerate(probs):
        fb.remember(f"r{i}", p[None, :])
    fb.join([{"id": f"r{i}", "outcome": names[t]} for i, t in enumerate(truth)])
    values, n = fb.metrics()
    assert n == 200  # the window keeps the last 200
    last_t, last_p = truth[-200:], probs[-200:]
    pred = last_p.argmax(axis=1)
    assert values["accuracy"] == pytest.approx(accuracy_score(last_t, pred))
    assert values["precision"] == pytest.approx(
        precision_score(last_t, pred, average="macro", zero_division=0)
    )
    assert values["recall"] == pytest.approx(
        recall_score(last_t, pred, average="macro", zero_division=0)
    )
    assert values["auc"] == pytest.approx(roc_auc_score(last_t, last_p, multi_class="ovr"))


def test_label_and_regression_quality_match_sklearn() -> None:
    rng = np.random.default_rng(5)
    labels = Feedback(OutputSchema(kind="label"), 100, 1000, 60.0)
    truth = rng.integers(0, 2, 80)
    pred = rng.integers(0, 2, 80)
    for i, f in enumerate(pred):
        labels.remember(f"l{i}", np.array([f]))
    labels.join([{"id": f"l{i}", "outcome": bool(t)} for i, t in enumerate(truth)])
    values, _ = labels.metrics()
    assert values["accuracy"] == pytest.approx(accuracy_score(truth, pred))
    assert values["precision"] == pytest.approx(precision_score(truth, pred))
    assert values["recall"] == pytest.approx(recall_score(truth, pred))
    assert "auc" not in values

    values_fb = Feedback(OutputSchema(kind="value"), 100, 1000, 60.0)
    y = rng.normal(size=(30, 2))
    f = y + rng.normal(scale=0.3, size=(30, 2))
    for i in range(30):
        values_fb.remember(f"v{i}", f[i])  # a two-row request
    values_fb.join([{"id": f"v{i}", "outcome": y[i].tolist()} for i in range(30)])
    got, n = values_fb.metrics()
    assert n == 60
    assert got["mae"] == pytest.approx(mean_absolute_error(y.ravel(), f.ravel()))
    assert got["rmse"] == pytest.approx(mean_squared_error(y.ravel(), f.ravel()) ** 0.5)


def test_late_unknown_invalid_never_lose_the_rest() -> None:
    now = [0.0]
    fb = Feedback(OutputSchema(kind="probabilities"), 100, 3, 10.0, clock=lambda: now[0])
    for i in range(4):  # r0 is evicted by the bound of 3
        fb.remember(f"r{i}", np.array([[0.2, 0.8]]))
    now[0] = 5.0
    fb.remember("fresh", np.array([[0.9, 0.1]]))  # evicts r1
    now[0] = 12.0  # r2, r3 past the TTL; fresh is not
    results, records = fb.join(
        [
            {"id": "r0", "outcome": 1},
            {"id": "r2", "outcome": 1},
            {"id": "never", "outcome": 1},
            {"id": "fresh", "outcome": 7},
            {"id": "fresh"},
            "not an object",
            {"id": "fresh", "outcome": 0},
            {"id": "fresh", "outcome": 0},
        ]
    )
    assert [r["result"] for r in results] == [
        "late",
        "late",
        "unknown",
        "invalid",
        "invalid",
        "invalid",
        "joined",
        "invalid",
    ]
    assert "none of the classes" in results[3]["reason"]
    assert "already recorded" in results[7]["reason"]
    assert [r["id"] for r in records] == ["r0", "r2", "never", "fresh"]
    assert fb.metrics() == ({"accuracy": 1.0, "precision": 0.0, "recall": 0.0}, 1)


def test_feedback_bodies() -> None:
    assert parse_outcomes({"id": "a", "outcome": 1}) == [{"id": "a", "outcome": 1}]
    assert parse_outcomes({"outcomes": []}) == []
    with pytest.raises(InvalidInput, match="at most"):
        parse_outcomes({"outcomes": [{}] * (MAX_OUTCOMES + 1)})
    with pytest.raises(InvalidInput, match="feedback body must be"):
        parse_outcomes([1, 2])


def test_roc_auc_handles_ties_as_sklearn() -> None:
    y = np.array([0, 0, 1, 1, 0, 1, 1, 0])
    s = np.array([0.1, 0.5, 0.5, 0.9, 0.5, 0.2, 0.9, 0.9])
    assert roc_auc(y.astype(bool), s) == pytest.approx(roc_auc_score(y, s))


def test_gzip_objects_hold_json_lines() -> None:
    stored: dict[str, bytes] = {}

    class Memory(ObjectSink):
        def put(self, key: str, body: bytes, *, again: bool = False) -> None:
            stored[key] = body

    Memory("p", "m", "1.0.0").write([{"kind": "prediction", "outputs": np.array([1.5])}])
    (body,) = stored.values()
    assert [json.loads(x) for x in gzip.decompress(body).splitlines()] == [
        {"kind": "prediction", "outputs": [1.5]}
    ]


def test_a_retried_batch_keeps_its_key() -> None:
    """A store that kept the object but failed to answer gets no second copy on retry."""
    stored: dict[str, bytes] = {}
    calls: list[tuple[str, bool]] = []

    class StoresThenTimesOut(ObjectSink):
        def put(self, key: str, body: bytes, *, again: bool = False) -> None:
            calls.append((key, again))
            stored[key] = body
            if len(calls) == 1:
                raise TimeoutError("the answer was lost")

    queue = CaptureQueue(
        StoresThenTimesOut("p", "m", "1.0.0"),
        max_records=10,
        flush_records=2,
        flush_interval_s=0.01,
        retry_delays_s=(0.0,),
    )
    queue.put([{"kind": "prediction", "id": "a"}, {"kind": "prediction", "id": "b"}])
    queue.put([{"kind": "prediction", "id": "c"}])
    queue.close(5.0)
    assert queue.written == 3
    assert queue.dropped == 0
    assert calls[0][0] == calls[1][0]
    assert [a for _, a in calls] == [False, True, False]
    assert len(stored) == 2  # two batches, two objects; the retry rewrote its own key


def test_quality_emf_record_names_and_dimensions() -> None:
    from inferstack.runtime.emf import NAMESPACE, quality_record

    record = quality_record({"auc": 0.9, "accuracy": 0.8}, "churn-prod", "primary", samples=40)
    (directive,) = record["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == NAMESPACE
    assert directive["Dimensions"] == [["EndpointName", "VariantName"]]
    names = [m["Name"] for m in directive["Metrics"]]
    assert names == ["Quality.accuracy", "Quality.auc", "QualitySamples"]
    assert record["Quality.auc"] == 0.9
    assert record["VariantName"] == "primary"
    with pytest.raises(ValueError, match="at least one metric"):
        quality_record({}, "e", "v")


def test_raw_numbers_are_a_regressors_and_an_all_negative_window_is_not_perfect() -> None:
    rng = np.random.default_rng(6)
    raw = Feedback(OutputSchema(kind="raw"), 100, 1000, 60.0)
    y = rng.normal(size=20)
    f = y + rng.normal(scale=0.5, size=20)
    for i in range(20):
        raw.remember(f"r{i}", np.array([f[i]]))
    raw.join([{"id": f"r{i}", "outcome": float(y[i])} for i in range(20)])
    got, _ = raw.metrics()
    assert got["mae"] == pytest.approx(mean_absolute_error(y, f))
    assert got["rmse"] == pytest.approx(mean_squared_error(y, f) ** 0.5)
    assert "accuracy" not in got

    early = Feedback(OutputSchema(kind="label"), 100, 1000, 60.0)
    for i in range(10):  # a fraud model's first outcomes: nothing positive yet
        early.remember(f"e{i}", np.array([0]))
    early.join([{"id": f"e{i}", "outcome": 0} for i in range(10)])
    got, _ = early.metrics()
    zeros = np.zeros(10, dtype=int)
    assert got["accuracy"] == 1.0
    with pytest.warns(UndefinedMetricWarning):  # scikit-learn says 0.0 and warns
        assert got["precision"] == precision_score(zeros, zeros)
    assert got["recall"] == recall_score(zeros, zeros, zero_division=0.0) == 0.0


def test_a_named_binary_labels_positive_class_is_its_second_name() -> None:
    named = Feedback(OutputSchema(kind="label", names=("stay", "churn")), 100, 1000, 60.0)
    truth = ["stay", "churn", "churn", "stay", "stay"]
    pred = ["churn", "churn", "stay", "stay", "stay"]
    for i, p in enumerate(pred):
        named.remember(f"n{i}", np.array([p], dtype=object))
    named.join([{"id": f"n{i}", "outcome": t} for i, t in enumerate(truth)])
    got, _ = named.metrics()
    assert got["precision"] == precision_score(truth, pred, pos_label="churn")
    assert got["recall"] == recall_score(truth, pred, pos_label="churn")
