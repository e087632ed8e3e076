"""Reference profiles from data: per feature, and of the model's predictions.

``reference_columns`` checks reference rows (a DataFrame, or rows x features) against
the input schema, naming the column of the first bad value. Numeric features get
quantile bins, and ``feature_samples`` keeps a seeded sample of ``SAMPLE_ROWS`` of
their values for two-sample tests (stored beside the manifest, see
``reference_samples``); string and boolean features get category frequencies (the
``MAX_CATEGORIES`` most frequent). ``prediction_values`` turns model outputs into the
one value per row whose distribution is watched: the positive class's probability
(binary), the top class (multi-class probabilities), the label, or the value.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from inferstack.runtime.errors import BundleError
from inferstack.runtime.manifest import FeatureProfile, InputSchema, OutputSchema

SAMPLE_ROWS = 1000
MAX_CATEGORIES = 100
SEED = 0
CATEGORICAL = ("string", "bool")


def reference_columns(data: Any, schema: InputSchema) -> dict[str, np.ndarray]:
    """The reference data's columns by feature name, typed as the schema says."""
    names, dtypes = schema.names, schema.dtypes
    if hasattr(data, "columns"):  # a DataFrame
        missing = [n for n in names if n not in data.columns]
        if missing:
            raise BundleError(f"reference: no column '{missing[0]}' (a feature of the model)")
        raw = {n: np.asarray(data[n].to_numpy()) for n in names}
    else:
        rows = np.asarray(data, dtype=object if _has_strings(data) else None)
        if rows.ndim != 2 or rows.shape[1] != len(names):
            raise BundleError(
                f"reference: expected rows x {len(names)} features ({', '.join(names)}), "
                f"got shape {rows.shape}"
            )
        raw = {n: rows[:, j] for j, n in enumerate(names)}
    if not len(next(iter(raw.values()), [])):
        raise BundleError("reference: no rows")
    return {
        n: _typed(n, raw[n], d, schema.allow_nan, (schema.categories or {}).get(n))
        for n, d in zip(names, dtypes, strict=True)
    }


def _has_strings(data: Any) -> bool:
    return (
        isinstance(data, list | tuple) or getattr(getattr(data, "dtype", None), "kind", "") == "O"
    )


def _typed(name: str, col: np.ndarray, dtype: str, allow_nan: bool, categories: Any) -> np.ndarray:
    where = f"reference column '{name}' ({dtype})"
    if dtype == "string":
        bad = next((v for v in col if not isinstance(v, str)), None)
        if bad is not None or any(not isinstance(v, str) for v in col):
            raise BundleError(f"{where}: expected strings, got {_shown(bad)}")
        if categories:
            unknown = next((v for v in col if v not in set(categories)), None)
            if unknown is not None:
                raise BundleError(f"{where}: '{unknown}' is not one of the model's categories")
        return col.astype(object)
    if dtype == "bool":
        bad = next((v for v in col if v not in (True, False)), None)
        if bad is not None or any(v not in (True, False) for v in col):
            raise BundleError(f"{where}: expected true/false, got {_shown(bad)}")
        return np.asarray(col, dtype=bool)
    try:
        values = np.asarray(col, dtype=np.float64)
    except (TypeError, ValueError) as err:
        bad = next(v for v in col if not _is_number(v))
        raise BundleError(f"{where}: expected numbers, got {_shown(bad)}") from err
    if not allow_nan and np.isnan(values).any():
        raise BundleError(f"{where}: missing or NaN values, and the schema does not allow NaN")
    if dtype.startswith("int") and not np.array_equal(
        values[np.isfinite(values)].round(), values[np.isfinite(values)]
    ):
        raise BundleError(f"{where}: expected integers, got fractions")
    return values


def _shown(value: Any) -> str:
    return repr(value.item() if isinstance(value, np.generic) else value)


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, str)


def category_labels(values: np.ndarray) -> np.ndarray:
    """Values as the strings categories are kept as (booleans as ``true``/``false``)."""
    if values.dtype == bool:
        return np.where(values, "true", "false").astype(object)
    return np.asarray([v if isinstance(v, str) else _label(v) for v in values], dtype=object)


def _label(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    return str(value.item() if isinstance(value, np.generic) else value)


def numeric_profile(values: np.ndarray, bins: int = 10) -> FeatureProfile | None:
    """Quantile bins of the finite ``values``, and their range (``low``, ``high``)."""
    col = values[np.isfinite(values)]
    if not col.size:
        return None
    edges = np.unique(np.quantile(col, np.linspace(0, 1, bins + 1)[1:-1]))
    counts = np.bincount(np.searchsorted(edges, col, side="right"), minlength=len(edges) + 1)
    return FeatureProfile(
        edges=tuple(edges.tolist()),
        fractions=tuple((counts / counts.sum()).tolist()),
        low=float(col.min()),
        high=float(col.max()),
    )


def finite_sample(values: np.ndarray) -> np.ndarray:
    """The seeded ``SAMPLE_ROWS`` of ``values`` kept for two-sample tests, finite only."""
    kept = values[sample_index(len(values))]
    return kept[np.isfinite(kept)]


def categorical_profile(labels: np.ndarray) -> FeatureProfile:
    """Frequencies of the ``MAX_CATEGORIES`` most frequent labels."""
    cats, counts = np.unique(labels.astype(str), return_counts=True)
    order = np.argsort(-counts, kind="stable")[:MAX_CATEGORIES]
    return FeatureProfile(
        categories=tuple(str(c) for c in cats[order]),
        fractions=tuple((counts[order] / len(labels)).tolist()),
    )


def sample_index(rows: int) -> np.ndarray:
    """The seeded rows kept as the two-sample tests' reference."""
    if rows <= SAMPLE_ROWS:
        return np.arange(rows)
    return np.sort(np.random.default_rng(SEED).choice(rows, SAMPLE_ROWS, replace=False))


def profile_columns(
    columns: dict[str, np.ndarray], schema: InputSchema
) -> dict[str, FeatureProfile]:
    """Per-feature profiles of checked reference columns."""
    out: dict[str, FeatureProfile] = {}
    for name, dtype in zip(schema.names, schema.dtypes, strict=True):
        col = columns[name]
        if dtype in CATEGORICAL:
            out[name] = categorical_profile(category_labels(col))
        elif (p := numeric_profile(col)) is not None:
            out[name] = p
    return out


def feature_samples(columns: dict[str, np.ndarray], schema: InputSchema) -> dict[str, np.ndarray]:
    """The seeded sample of each numeric feature (same rows for all), for KS tests."""
    out: dict[str, np.ndarray] = {}
    for name, dtype in zip(schema.names, schema.dtypes, strict=True):
        if dtype not in CATEGORICAL and (kept := finite_sample(columns[name])).size:
            out[name] = kept
    return out


def reference_batch(columns: dict[str, np.ndarray], schema: InputSchema) -> np.ndarray:
    """The reference rows as a validated request batch would hold them."""
    cols = [columns[n] for n in schema.names]
    if all(d not in CATEGORICAL for d in schema.dtypes):
        return np.column_stack(cols).astype(schema.dtype)
    out = np.empty((len(cols[0]), len(cols)), dtype=object)
    for j, (col, dtype) in enumerate(zip(cols, schema.dtypes, strict=True)):
        out[:, j] = col if dtype in CATEGORICAL else col.astype(np.dtype(dtype)).tolist()
    return out


def prediction_values(out: Any, output: OutputSchema) -> tuple[np.ndarray, bool] | None:
    """One value per row to watch and whether it is categorical; None when there is none."""
    arr = np.asarray(out)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if output.kind == "label" or arr.dtype.kind in "OUSb":
        return (category_labels(arr), True) if arr.ndim == 1 else None
    if arr.dtype.kind not in "fiu":
        return None
    if output.kind == "probabilities" and arr.ndim == 2:
        if arr.shape[1] == 2:
            return arr[:, 1].astype(np.float64), False
        top = arr.argmax(axis=1)
        names = output.names
        labels = [names[i] if names and i < len(names) else str(i) for i in top]
        return np.asarray(labels, dtype=object), True
    return (arr.astype(np.float64), False) if arr.ndim == 1 else None


def prediction_profile(
    out: Any, output: OutputSchema
) -> tuple[FeatureProfile, np.ndarray | None] | None:
    """The profile of the model's outputs on the reference rows, and (numeric) a sample."""
    found = prediction_values(out, output)
    if found is None:
        return None
    values, categorical = found
    if categorical:
        return categorical_profile(values), None
    prof = numeric_profile(values)
    kept = finite_sample(values)
    return None if prof is None else (prof, kept if kept.size else None)
