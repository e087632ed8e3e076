"""Drift statistics over the sliding window match scipy and cross thresholds when they should."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from inferstack.runtime.errors import BundleError
from inferstack.runtime.manifest import InputSchema, OutputSchema
from inferstack.runtime.monitoring import DriftMonitor
from inferstack.runtime.reference import (
    SAMPLE_ROWS,
    feature_samples,
    prediction_profile,
    profile_columns,
    reference_columns,
)
from inferstack.runtime.reference_samples import ReferenceSamples, read_samples, write_samples

SCHEMA = InputSchema.model_validate(
    {
        "features": [
            {"name": "x", "dtype": "float64"},
            {"name": "city", "dtype": "string"},
            {"name": "flag", "dtype": "bool"},
        ]
    }
)
CITIES = np.array(["a", "b", "c"], dtype=object)


def _frame(rng: np.random.Generator, n: int, shift: float = 0.0, p=(0.5, 0.3, 0.2)) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": rng.normal(shift, 1.0, n),
            "city": rng.choice(CITIES, n, p=p),
            "flag": rng.random(n) < 0.3,
        }
    )


def _rows(df: pd.DataFrame) -> np.ndarray:
    return df.to_numpy(dtype=object)


@pytest.fixture
def monitor(tmp_path: Path) -> DriftMonitor:
    columns = reference_columns(_frame(np.random.default_rng(0), 5000), SCHEMA)
    write_samples(tmp_path / "reference.npz", ReferenceSamples(feature_samples(columns, SCHEMA)))
    return DriftMonitor(
        profile_columns(columns, SCHEMA),
        SCHEMA.names,
        window=2000,
        min_rows=100,
        dtypes=list(SCHEMA.dtypes),
        samples=tmp_path / "reference.npz",
    )


def test_reference_profiles_every_kind_of_feature(tmp_path: Path) -> None:
    columns = reference_columns(_frame(np.random.default_rng(0), 5000), SCHEMA)
    ref = profile_columns(columns, SCHEMA)
    samples = feature_samples(columns, SCHEMA)
    assert set(samples) == {"x"}  # numeric features only
    assert len(samples["x"]) == SAMPLE_ROWS
    write_samples(tmp_path / "s.npz", ReferenceSamples(samples))
    back = read_samples(tmp_path / "s.npz")
    assert back.features["x"] == pytest.approx(samples["x"], rel=1e-6)  # float32 on disk
    assert back.prediction is None
    assert ref["city"].categories == ("a", "b", "c")
    assert ref["city"].fractions == pytest.approx((0.5, 0.3, 0.2), abs=0.03)
    assert ref["flag"].categories == ("false", "true")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"x": ["oops"] * 3}, "reference column 'x' (float64): expected numbers, got 'oops'"),
        ({"city": [1, 2, 3]}, "reference column 'city' (string): expected strings, got 1"),
        ({"flag": ["yes"] * 3}, "reference column 'flag' (bool): expected true/false"),
        ({"x": [np.nan] * 3}, "reference column 'x' (float64): missing or NaN values"),
    ],
)
def test_reference_rows_off_the_schema_name_the_column(change: dict, message: str) -> None:
    df = _frame(np.random.default_rng(0), 3).assign(**change)
    with pytest.raises(BundleError, match=message.replace("(", r"\(").replace(")", r"\)")):
        reference_columns(df, SCHEMA)
    with pytest.raises(BundleError, match="no column 'city'"):
        reference_columns(df.drop(columns="city"), SCHEMA)


def test_statistics_match_scipy_on_the_window(monitor: DriftMonitor) -> None:
    rng = np.random.default_rng(1)
    live = _frame(rng, 3000, shift=0.5, p=(0.3, 0.3, 0.4))
    for chunk in np.array_split(_rows(live), 9):
        monitor.update(chunk)
    report = monitor.report()
    window = live.iloc[-2000:]
    ks = stats.ks_2samp(window["x"].to_numpy(float), monitor.samples().features["x"])
    assert report.features["x"].test == "ks"
    assert report.features["x"].statistic == pytest.approx(ks.statistic, rel=1e-12)
    assert report.features["x"].pvalue == pytest.approx(ks.pvalue, rel=1e-9)
    observed = window["city"].value_counts().reindex(["a", "b", "c"]).to_numpy()
    ref = np.asarray(monitor.profiles[1].fractions)
    chi = stats.chisquare(observed, ref / ref.sum() * observed.sum())
    assert report.features["city"].test == "chi2"
    assert report.features["city"].statistic == pytest.approx(chi.statistic, rel=1e-9)
    assert report.features["city"].pvalue == pytest.approx(chi.pvalue, rel=1e-9)
    edges = np.asarray(monitor.profiles[0].edges)
    a = np.bincount(np.searchsorted(edges, window["x"], side="right"), minlength=len(edges) + 1)
    a = np.clip(a / 2000, 1e-4, None)
    e = np.clip(np.asarray(monitor.profiles[0].fractions), 1e-4, None)
    assert report.features["x"].psi == pytest.approx(float(np.sum((a - e) * np.log(a / e))))


def test_thresholds_crossed_exactly_when_shifted(monitor: DriftMonitor) -> None:
    rng = np.random.default_rng(2)
    monitor.update(_rows(_frame(rng, 2000)))
    same = monitor.report().features
    assert all(d.psi < 0.1 and d.pvalue is not None and d.pvalue > 0.01 for d in same.values())
    monitor.update(_rows(_frame(rng, 2000, shift=1.0, p=(0.2, 0.3, 0.5))))
    shifted = monitor.report().features
    for name in ("x", "city"):
        assert shifted[name].psi > 0.25, name
        assert shifted[name].pvalue < 1e-6, name
    assert shifted["flag"].pvalue > 0.01  # unchanged feature stays quiet


def test_unseen_category_and_too_few_rows(monitor: DriftMonitor) -> None:
    rng = np.random.default_rng(3)
    monitor.update(_rows(_frame(rng, 50)))
    assert monitor.report().features == {}
    df = _frame(rng, 500).assign(city="zzz")
    monitor.update(_rows(df))
    city = monitor.report().features["city"]
    assert city.test == "chi2"
    assert city.pvalue == 0.0
    assert city.psi > 1


def test_memory_is_bounded_by_the_window(monitor: DriftMonitor) -> None:
    rows = _rows(_frame(np.random.default_rng(4), 10))
    for _ in range(2000):
        monitor.update(rows)
    assert monitor._inputs.rows <= 2000 + 10


def test_prediction_drift_matches_scipy(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    ref_p = rng.beta(2, 5, 4000)
    out = OutputSchema(kind="probabilities")
    found = prediction_profile(np.column_stack([1 - ref_p, ref_p]), out)
    assert found is not None
    pred, sample = found
    assert sample is not None
    assert len(sample) == SAMPLE_ROWS
    write_samples(tmp_path / "r.npz", ReferenceSamples(prediction=sample))
    monitor = DriftMonitor(
        {}, [], window=1000, min_rows=10, prediction=pred, output=out, samples=tmp_path / "r.npz"
    )
    live = rng.beta(5, 2, 1500)
    monitor.update(np.empty((0, 0)), np.column_stack([1 - live, live]))
    drift = monitor.report().prediction
    assert drift is not None
    assert drift.test == "ks"
    want = stats.ks_2samp(live[-1000:], sample.astype(np.float32).astype(np.float64))
    assert drift.statistic == pytest.approx(want.statistic)
    assert drift.pvalue < 1e-6
    labels = prediction_profile(np.array(["no", "yes", "no", "no"]), OutputSchema(kind="label"))
    assert labels is not None
    assert labels[0].categories == ("no", "yes")
    assert labels[1] is None  # categorical: chi-squared, no sample


def test_unreadable_samples_leave_psi_only(tmp_path: Path) -> None:
    columns = reference_columns(_frame(np.random.default_rng(0), 500), SCHEMA)
    (tmp_path / "reference.npz").write_bytes(b"not a zip")
    monitor = DriftMonitor(
        profile_columns(columns, SCHEMA),
        SCHEMA.names,
        min_rows=10,
        dtypes=list(SCHEMA.dtypes),
        samples=tmp_path / "reference.npz",
    )
    monitor.update(_rows(_frame(np.random.default_rng(1), 100)))
    x = monitor.report().features["x"]
    assert x.test is None
    assert x.psi >= 0


def test_samples_file_refuses_pickles(tmp_path: Path) -> None:
    np.savez(tmp_path / "p.npz", **{"feature.x": np.array([object()], dtype=object)})
    with pytest.raises(BundleError, match=r"reference samples .* cannot be read"):
        read_samples(tmp_path / "p.npz")


def test_samples_file_is_digested_and_verified(tmp_path: Path) -> None:
    import shutil

    from inferstack.runtime import load_bundle
    from inferstack.runtime.integrity import served_files

    example = Path(__file__).resolve().parents[3] / "examples/logreg-20f/bundle"
    copied = shutil.copytree(example, tmp_path / "b")
    manifest = load_bundle(copied).manifest
    assert "reference.npz" in served_files(manifest)
    (copied / "reference.npz").write_bytes((copied / "reference.npz").read_bytes() + b"\0")
    with pytest.raises(BundleError, match=r"bundle file 'reference\.npz' changed since bundling"):
        load_bundle(copied)
    (copied / "reference.npz").unlink()
    with pytest.raises(BundleError, match=r"bundle file 'reference\.npz' not found"):
        load_bundle(copied)
