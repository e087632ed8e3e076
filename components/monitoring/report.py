"""The offline drift report: captured requests against a bundle's reference profile.

``build_report`` streams every capture object under a location (``sources``), decodes
its lines (``records``), checks each row against the bundle's input schema
(``schema_rows``) and counts it per feature (``accumulate``); rows that do not fit are
counted by reason, never fatal. Each feature's and the predictions' statistics are the
runtime's (PSI, KS, chi-squared from ``inferstack.runtime.drift_stats``), against the
profile and samples the bundle stores. A feature drifts when its PSI reaches the PSI
threshold or its test's p-value falls below the p-value threshold (the spec's alarm
defaults, ``observability.alarms.drift_score`` and ``drift_pvalue``).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from inferstack.components.monitoring.accumulate import (
    CategoricalCounts,
    NumericCounts,
)
from inferstack.components.monitoring.records import Captured, Ignored, Skipped, decode_line
from inferstack.components.monitoring.results import (
    PREDICTION,
    Bin,
    DriftResult,
    Report,
    Thresholds,
)
from inferstack.components.monitoring.schema_rows import RowChecker
from inferstack.components.monitoring.sources import CaptureError, CaptureSource, lines
from inferstack.runtime.manifest import FeatureProfile, Manifest, read_manifest
from inferstack.runtime.reference import category_labels, prediction_values
from inferstack.runtime.reference_samples import ReferenceSamples, read_samples

__all__ = ["Reference", "build_report", "load_reference"]

_CHUNK = 4096


@dataclass(frozen=True)
class Reference:
    """What a bundle holds for drift: its manifest and its KS samples."""

    manifest: Manifest
    samples: ReferenceSamples


def load_reference(bundle: str | Path) -> Reference:
    """The bundle's manifest and samples; a ``CaptureError`` without a reference profile."""
    manifest = read_manifest(bundle)
    if not manifest.reference:
        raise CaptureError(
            f"bundle '{bundle}' has no reference profile: "
            "make it with `inferstack bundle ... --reference DATA.csv`"
        )
    samples = ReferenceSamples()
    if manifest.reference_samples:
        samples = read_samples(Path(bundle) / manifest.reference_samples)
    return Reference(manifest, samples)


class _Scorer:
    """Per-feature and prediction counters fed in chunks of checked rows."""

    def __init__(self, manifest: Manifest) -> None:
        schema, reference = manifest.input, manifest.reference or {}
        self.checker = RowChecker(schema)
        self.columns = [(i, n) for i, n in enumerate(schema.names) if n in reference]
        self.booleans = {n for n, d in zip(schema.names, schema.dtypes, strict=True) if d == "bool"}
        self.counts: dict[str, NumericCounts | CategoricalCounts] = {
            n: _counter(reference[n]) for _, n in self.columns
        }
        pred = manifest.prediction_reference
        self.output = manifest.output
        self.prediction = _counter(pred) if pred is not None else None
        self.rows: list[list[Any]] = []
        self.outputs: list[Any] = []

    def add(self, captured: Captured, report: Report) -> None:
        good, outs = [], []
        aligned = captured.outputs is not None and len(captured.outputs) == len(captured.rows)
        for k, row in enumerate(captured.rows):
            report.rows_read += 1
            checked = self.checker.check(row)
            if isinstance(checked, str):
                report.skipped[checked] += 1
                continue
            good.append(checked)
            if aligned and captured.outputs is not None:
                outs.append(captured.outputs[k])
        if self.prediction is not None and good and not aligned:
            report.skipped["outputs missing or not one per row (no prediction drift)"] += len(good)
        report.rows_scored += len(good)
        self.rows.extend(good)
        self.outputs.extend(outs)
        if len(self.rows) >= _CHUNK:
            self.flush(report)

    def flush(self, report: Report) -> None:
        if self.rows:
            for i, name in self.columns:
                col = [r[i] for r in self.rows]
                counter = self.counts[name]
                if isinstance(counter, CategoricalCounts):
                    arr = np.asarray(col, dtype=bool if name in self.booleans else object)
                    counter.add(category_labels(arr))
                else:
                    counter.add(np.asarray(col, dtype=np.float64))
        if self.prediction is not None and self.outputs:
            self._predictions(report)
        self.rows, self.outputs = [], []

    def _predictions(self, report: Report) -> None:
        try:
            found = prediction_values(np.asarray(self.outputs), self.output)
        except ValueError:
            found = None
        if found is None:
            report.skipped["outputs not readable as the model's output (no prediction drift)"] += (
                len(self.outputs)
            )
            return
        values, categorical = found
        if isinstance(self.prediction, CategoricalCounts) and categorical:
            self.prediction.add(values)
        elif isinstance(self.prediction, NumericCounts) and not categorical:
            self.prediction.add(np.asarray(values, dtype=np.float64))
        else:
            report.skipped["outputs of another kind than the reference's"] += len(self.outputs)


def _counter(profile: FeatureProfile) -> NumericCounts | CategoricalCounts:
    return CategoricalCounts(profile) if profile.categories is not None else NumericCounts(profile)


def build_report(
    source: CaptureSource,
    reference: Reference,
    thresholds: Thresholds | None = None,
    since: float | None = None,
    until: float | None = None,
    version: str | None = None,
) -> Report:
    """Read every capture object under ``source`` and score it against ``reference``."""
    manifest = reference.manifest
    report = Report(source.uri, manifest.name, manifest.version, thresholds or Thresholds())
    scorer = _Scorer(manifest)
    for name in _listed(source):
        report.objects += 1
        for line in _read(source, name):
            decoded = decode_line(line)
            if decoded is None:
                continue
            report.records += 1
            if isinstance(decoded, Skipped):
                report.skipped[f"record: {decoded.reason}"] += 1
            elif isinstance(decoded, Ignored):
                report.ignored[decoded.kind] += 1
            elif _kept(decoded, report, since, until, version):
                report.formats[decoded.source_format] += 1
                scorer.add(decoded, report)
    scorer.flush(report)
    _results(report, scorer, reference.samples)
    return report


def _listed(source: CaptureSource) -> list[str]:
    try:
        return source.names()
    except CaptureError:
        raise
    except Exception as err:  # any SDK's error, named with the source
        raise CaptureError(f"cannot list '{source.uri}': {err}") from err


def _read(source: CaptureSource, name: str) -> list[bytes]:
    try:
        return list(lines(source, name))
    except CaptureError:
        raise
    except Exception as err:  # any SDK's error, named with the object
        raise CaptureError(f"cannot read '{name}' under '{source.uri}': {err}") from err


def _kept(
    c: Captured, report: Report, since: float | None, until: float | None, version: str | None
) -> bool:
    if version is not None and c.version is not None and c.version != version:
        report.filtered["other version"] += 1
        return False
    if since is not None or until is not None:
        if c.ts is None:
            report.filtered["no timestamp"] += 1
            return False
        if (since is not None and c.ts < since) or (until is not None and c.ts >= until):
            report.filtered["outside --since/--until"] += 1
            return False
    if c.ts is not None:
        report.first_ts = c.ts if report.first_ts is None else min(report.first_ts, c.ts)
        report.last_ts = c.ts if report.last_ts is None else max(report.last_ts, c.ts)
    return True


def _results(report: Report, scorer: _Scorer, samples: ReferenceSamples) -> None:
    t = report.thresholds
    results = [
        _result(name, counter, samples.features.get(name), t.psi, t.pvalue)
        for name, counter in scorer.counts.items()
    ]
    results.sort(key=lambda r: (r.verdict != "drift", r.verdict == "no data", -r.drift.psi))
    report.features = results
    if scorer.prediction is not None:
        report.prediction = _result(
            PREDICTION, scorer.prediction, samples.prediction, t.prediction_psi, t.pvalue
        )


def _result(
    name: str,
    counter: NumericCounts | CategoricalCounts,
    sample: np.ndarray | None,
    psi_threshold: float,
    pvalue: float,
) -> DriftResult:
    if isinstance(counter, CategoricalCounts):
        drift, kind = counter.drift(), "categorical"
        labels = [*(counter.profile.categories or ()), "(other)"]
        reference = _as_floats(counter.profile, categorical=True)
    else:
        drift, kind = counter.drift(sample), "numeric"
        labels = _bin_labels(counter.profile.edges)
        reference = _as_floats(counter.profile, categorical=False)
    live = counter.live_fractions().tolist()
    bins = tuple(Bin(lab, r, v) for lab, r, v in zip(labels, reference, live, strict=True))
    if not drift.rows:
        verdict = "no data"
    elif drift.psi >= psi_threshold or (drift.pvalue is not None and drift.pvalue < pvalue):
        verdict = "drift"
    else:
        verdict = "stable"
    return DriftResult(name, kind, drift, bins, verdict, psi_threshold)


def _as_floats(profile: FeatureProfile, categorical: bool) -> list[float]:
    fractions = [float(f) for f in profile.fractions]
    return [*fractions, max(0.0, 1.0 - sum(fractions))] if categorical else fractions


def _bin_labels(edges: tuple[float, ...]) -> list[str]:
    e = [f"{x:.3g}" for x in edges]
    return [f"< {e[0]}", *(f"{a} - {b}" for a, b in pairwise(e)), f">= {e[-1]}"]
