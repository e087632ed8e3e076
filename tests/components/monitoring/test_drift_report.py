"""The drift report on captures drawn from known distributions: unshifted data flags
nothing, shifted data flags exactly the shifted features, and every number is the
runtime's own statistic (and scipy's) on the same rows."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

from inferstack.components.cli.app import app
from inferstack.components.monitoring import (
    CaptureError,
    build_report,
    load_reference,
    open_source,
    render_html,
)
from inferstack.components.monitoring.accumulate import NumericCounts
from inferstack.runtime.drift_stats import categorical_drift, numeric_drift, psi
from inferstack.runtime.reference import category_labels, prediction_values
from tests.components.monitoring.conftest import (
    LIVE_ROWS,
    LIVE_SEED,
    Bundle,
    draw,
    jsonl,
    records,
    write_folder,
)


def report_of(b: Bundle, folder: Path):
    return build_report(open_source(str(folder)), load_reference(b.path))


def test_the_reference_sample_fits_its_distributions(drift_bundle: Bundle) -> None:
    samples = load_reference(drift_bundle.path).samples.features
    assert stats.kstest(samples["a"], "norm", args=(0, 1)).pvalue > 0.05
    assert stats.kstest(samples["b"], "norm", args=(5, 2)).pvalue > 0.05
    assert stats.kstest(samples["c"], "uniform").pvalue > 0.05


def test_unshifted_capture_flags_nothing(drift_bundle: Bundle, tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "cap", records(drift_bundle, draw(LIVE_ROWS, seed=LIVE_SEED)))
    report = report_of(drift_bundle, folder)
    assert report.rows_scored == LIVE_ROWS
    assert report.drifted == []
    assert {f.verdict for f in report.features} == {"stable"}
    assert report.prediction is not None
    assert report.prediction.verdict == "stable"


def test_shifted_capture_flags_exactly_the_shifted_features(
    drift_bundle: Bundle, tmp_path: Path
) -> None:
    live = draw(LIVE_ROWS, seed=LIVE_SEED, shift_a=0.6, colors=(0.2, 0.3, 0.5))
    folder = write_folder(tmp_path / "cap", records(drift_bundle, live))
    report = report_of(drift_bundle, folder)
    assert set(report.drifted) == {"a", "color"}
    assert report.features[-1].verdict == "stable"  # sorted: drifted first
    assert report.prediction is not None
    assert report.prediction.verdict == "drift"  # the model leans on a and color


def test_numbers_are_the_runtimes_and_scipys(drift_bundle: Bundle, tmp_path: Path) -> None:
    live = draw(LIVE_ROWS, seed=9, shift_a=0.3)
    folder = write_folder(tmp_path / "cap", records(drift_bundle, live))
    ref = load_reference(drift_bundle.path)
    report = build_report(open_source(str(folder)), ref)
    by_name = {f.name: f.drift for f in report.features}
    profiles = ref.manifest.reference or {}
    for name in ("a", "b", "c"):
        values = live[name].to_numpy()
        sample = ref.samples.features[name]
        assert by_name[name] == numeric_drift(values, profiles[name], sample)
        ks = stats.ks_2samp(values, sample)
        assert by_name[name].statistic == pytest.approx(ks.statistic, rel=1e-12)
        assert by_name[name].pvalue == pytest.approx(ks.pvalue, rel=1e-9)
    labels = category_labels(live["color"].to_numpy(dtype=object))
    assert by_name["color"] == categorical_drift(labels, profiles["color"])
    cats = list(profiles["color"].categories or ())
    observed = np.array([(labels == c).sum() for c in cats])
    expected = np.array(profiles["color"].fractions) * LIVE_ROWS
    chi = stats.chisquare(observed, expected / expected.sum() * observed.sum())
    assert by_name["color"].statistic == pytest.approx(chi.statistic, rel=1e-9)
    found = prediction_values(drift_bundle.model.predict_proba(live), ref.manifest.output)
    assert found is not None
    pred = numeric_drift(found[0], ref.manifest.prediction_reference, ref.samples.prediction)  # type: ignore[arg-type]
    assert report.prediction is not None
    assert report.prediction.drift == pred


def test_reservoir_is_bounded_seeded_and_psi_counts_every_value() -> None:
    from inferstack.runtime.manifest import FeatureProfile

    profile = FeatureProfile(edges=(-1.0, 0.0, 1.0), fractions=(0.16, 0.34, 0.34, 0.16))
    values = np.random.default_rng(3).normal(0, 1, 5000)
    runs = []
    for _ in range(2):
        counts = NumericCounts(profile, capacity=500)
        for chunk in np.array_split(values, 7):
            counts.add(chunk)
        runs.append(counts)
    assert runs[0].seen == 5000
    assert len(runs[0].sample) == 500
    assert np.array_equal(runs[0].sample, runs[1].sample)  # fixed seed: same report twice
    assert set(runs[0].sample) <= set(values)
    whole = np.bincount(np.searchsorted(profile.edges, values, side="right"), minlength=4)
    assert runs[0].drift(None).psi == psi(whole / 5000, np.asarray(profile.fractions))
    assert runs[0].drift(None).rows == 5000


def test_bad_records_are_counted_by_reason_and_never_crash(
    drift_bundle: Bundle, tmp_path: Path
) -> None:
    good = records(drift_bundle, draw(200, seed=5), per_request=100)
    bad_rows = [[1.0, 2.0, 3.0], [1.0, "x", 3.0, "red"], [1.0, 2.0, 3.0, 7], {"a": 1.0}]
    extra = [
        {"ts": 1.79e9, "version": "1.0.0", "inputs": bad_rows, "outputs": [0, 0, 0, 0]},
        {"kind": "feedback", "id": "r0", "outcome": 1, "ts": 1.79e9},
        {"kind": "prediction", "inputs": "not rows"},
    ]
    folder = tmp_path / "cap"
    write_folder(folder, [*good, *extra])
    with (folder / "churn-1.0.0-20260101-42.jsonl").open("ab") as fh:
        fh.write(b"{not json\n")
    (folder / "churn-1.0.0-20260101-42.feedback.jsonl").write_bytes(b"garbage\n")
    report = report_of(drift_bundle, folder)
    assert report.rows_scored == 200
    assert report.rows_read == 204
    assert report.skipped == {
        "row has 3 values, the input schema has 4 features (a, b, c, color)": 1,
        "feature 'b' (float64): expected a number, got a string": 1,
        "feature 'color' (string): expected a string, got int": 1,
        "row has no feature 'b'": 1,
        "record: record has no 'inputs' list": 1,
        "record: line is not JSON": 1,
    }
    assert report.ignored == {"feedback": 1}


def test_time_and_version_filters(drift_bundle: Bundle, tmp_path: Path) -> None:
    items = records(drift_bundle, draw(400, seed=5), per_request=100, t0=1000.0)
    items[3]["version"] = "0.9.0"
    folder = write_folder(tmp_path / "cap", items)
    report = build_report(
        open_source(str(folder)), load_reference(drift_bundle.path), since=1001.0, version="1.0.0"
    )
    assert report.rows_scored == 200
    assert report.filtered == {"outside --since/--until": 1, "other version": 1}
    assert (report.first_ts, report.last_ts) == (1001.0, 1002.0)


def test_bundle_without_reference_and_unknown_uri_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="expected a folder, s3://"):
        open_source("ftp://host/x")
    with pytest.raises(CaptureError, match="does not exist"):
        open_source(str(tmp_path / "none")).names()
    with pytest.raises(CaptureError, match=r"expected https://ACCOUNT\.blob"):
        open_source("https://example.com/x")


def test_missing_sdk_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "google.cloud.storage", None)
    monkeypatch.delattr("google.cloud.storage", raising=False)
    with pytest.raises(CaptureError, match=r"inferstack\[capture-gcs\]"):
        open_source("gs://bucket/prefix")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.svgs: list[str] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "svg":
            self.svgs.append(found.get("aria-label") or "")
        if tag == "div" and found.get("id"):
            self.ids.append(found["id"] or "")


def test_cli_writes_html_with_a_plot_per_feature_and_json(
    drift_bundle: Bundle, tmp_path: Path
) -> None:
    live = draw(LIVE_ROWS, seed=LIVE_SEED, shift_a=0.6, colors=(0.2, 0.3, 0.5))
    folder = write_folder(tmp_path / "cap", records(drift_bundle, live))
    out = tmp_path / "report"
    args = ["drift-report", str(folder), "--bundle", str(drift_bundle.path), "--out", str(out)]
    done = CliRunner().invoke(app, [*args, "--json"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.output)
    assert set(data["drifted"]) == {"a", "color"}
    assert data["rows"] == {"read": LIVE_ROWS, "scored": LIVE_ROWS, "skipped": 0}
    assert json.loads((out / "drift-report.json").read_text()) == data
    page = _Tags()
    page.feed((out / "drift-report.html").read_text())
    assert page.ids[0] == "f-(prediction)"
    assert set(page.ids[1:3]) == {"f-a", "f-color"}  # drifted features first
    assert set(page.ids[3:]) == {"f-b", "f-c"}
    plots = [s for s in page.svgs if s.endswith("reference vs live distribution")]
    assert len(plots) == 5  # four features and the predictions
    assert "PSI per feature" in page.svgs
    table = CliRunner().invoke(app, args)
    assert table.exit_code == 0, table.output
    assert "drifted: a, color" in table.output or "drifted: color, a" in table.output


def test_cli_errors_name_the_problem(drift_bundle: Bundle, tmp_path: Path) -> None:
    runner = CliRunner()
    done = runner.invoke(app, ["drift-report", str(tmp_path), "--bundle", str(tmp_path)])
    assert done.exit_code == 2
    assert "no inferstack.yaml" in done.output
    done = runner.invoke(
        app,
        ["drift-report", str(tmp_path), "--bundle", str(drift_bundle.path), "--since", "soon"],
    )
    assert done.exit_code == 2
    assert "--since 'soon'" in done.output


def test_html_renders_a_report_without_predictions(drift_bundle: Bundle, tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "cap", records(drift_bundle, draw(300, seed=2)))
    (folder / "x.jsonl").write_bytes(jsonl([{"inputs": [[1.0, 2.0, 3.0, "red"]]}]))
    report = report_of(drift_bundle, folder)
    page = render_html(report)
    assert "outputs missing or not one per row" in page
