"""pandas DataFrames for tabular models fitted on them.

``features_from_frame`` turns a DataFrame's columns into schema features (the bundle
API and the CLI's sample file use it); ``FrameBuilder`` turns a validated batch back
into the DataFrame the model was fitted on, with the schema's names and dtypes, and
pandas ``category`` columns carrying the categories seen in training where the
framework needs them (XGBoost, LightGBM). pandas is imported only here, and only for
bundles that need it, so the all-numeric path never pays for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from inferstack.runtime.errors import BundleError, InvalidInput, MissingExtraError
from inferstack.runtime.manifest import InputSchema

_NUMPY = {
    "float32": np.float32,
    "float64": np.float64,
    "int32": np.int32,
    "int64": np.int64,
    "bool": np.bool_,
}


def _pandas(framework: str) -> Any:
    try:
        import pandas
    except ImportError as err:
        raise MissingExtraError(framework, "pandas") from err
    return pandas


def features_from_frame(df: Any) -> list[dict[str, Any]]:
    """Schema features for a DataFrame's columns, in column order.

    Each is ``{"name", "dtype"}``; ``category`` columns (string categories) and
    ``object``/``string`` columns holding strings become ``string`` features, the
    ``category`` ones with ``"categories"`` (in the frame's order, which is what
    XGBoost and LightGBM learnt codes for). Booleans are ``bool``, integers ``int32``
    or ``int64``, floats ``float32`` or ``float64``. Raises ``BundleError`` naming the
    column for anything else.
    """
    pd = _pandas("sklearn")
    if not isinstance(df, pd.DataFrame):
        raise BundleError(f"sample: expected a pandas DataFrame, got {type(df).__name__}")
    if df.columns.empty:
        raise BundleError("sample: the DataFrame has no columns")
    return [_feature(pd, name, df[name]) for name in _column_names(df)]


def _column_names(df: Any) -> list[str]:
    names = list(df.columns)
    bad = [n for n in names if not isinstance(n, str)]
    if bad:
        raise BundleError(f"sample: column names must be strings, got {bad[0]!r}")
    if len(set(names)) != len(names):
        raise BundleError("sample: the DataFrame has duplicate column names")
    return names


def _feature(pd: Any, name: str, col: Any) -> dict[str, Any]:
    types = pd.api.types
    dtype = col.dtype
    where = f"sample column '{name}' ({dtype})"
    if isinstance(dtype, pd.CategoricalDtype):
        categories = list(dtype.categories)
        if not all(isinstance(c, str) for c in categories):
            raise BundleError(f"{where}: only string categories are supported")
        return {"name": name, "dtype": "string", "categories": categories}
    if types.is_bool_dtype(dtype):
        return {"name": name, "dtype": "bool"}
    if types.is_integer_dtype(dtype):
        size = np.dtype(dtype.numpy_dtype if hasattr(dtype, "numpy_dtype") else dtype)
        if size.kind == "u" and size.itemsize >= 8:
            raise BundleError(f"{where}: unsigned 64-bit integers do not fit int64")
        wide = size.itemsize > 4 or (size.kind == "u" and size.itemsize == 4)
        return {"name": name, "dtype": "int64" if wide else "int32"}
    if types.is_float_dtype(dtype):
        size = np.dtype(dtype.numpy_dtype if hasattr(dtype, "numpy_dtype") else dtype)
        return {"name": name, "dtype": "float64" if size.itemsize > 4 else "float32"}
    if types.is_string_dtype(dtype) or types.is_object_dtype(dtype):
        values = col.dropna()
        if not all(isinstance(v, str) for v in values):
            raise BundleError(f"{where}: holds values that are not strings")
        return {"name": name, "dtype": "string"}
    raise BundleError(f"{where}: unsupported dtype; use numbers, booleans or strings")


class FrameBuilder:
    """Builds the DataFrame a model was fitted on from a validated batch.

    ``categorical`` makes string features pandas ``category`` columns with the
    schema's categories (XGBoost and LightGBM take strings only that way); without it
    they are ``object`` columns of ``str``, as scikit-learn pipelines are usually fitted.
    A value outside a feature's categories is a missing value (LightGBM does the same
    in-process), or with ``refuse_unknown`` an ``InvalidInput`` naming it (XGBoost
    refuses such values in-process).
    """

    def __init__(
        self,
        schema: InputSchema,
        framework: str,
        categorical: bool = False,
        refuse_unknown: bool = False,
    ) -> None:
        self.pd = pd = _pandas(framework)
        self.refuse_unknown = refuse_unknown
        if schema.features is None or len(schema.row_shape) != 1:
            raise BundleError("input.frame needs named features (a table, not a tensor)")
        self.names = schema.names
        categories = schema.categories or {}
        self.dtypes: list[Any] = []
        for name, dtype in zip(self.names, schema.dtypes, strict=True):
            if dtype != "string":
                self.dtypes.append(_NUMPY[dtype])
            elif not categorical:
                self.dtypes.append(object)
            elif name in categories:
                self.dtypes.append(pd.CategoricalDtype(list(categories[name])))
            else:
                raise BundleError(
                    f"{framework} takes string feature '{name}' only as a category: "
                    "input.categories needs its categories (bundle it with sample=DataFrame)"
                )
        self.arrow_strings = _arrow_strings(pd) if object in self.dtypes else None

    def __call__(self, batch: np.ndarray | Columns) -> Any:
        """The batch (rows x features) as a DataFrame with the schema's columns and dtypes.

        A ``Columns`` batch (batch scoring's) gives the same DataFrame as the rows batch
        holding the same values, without a Python object per cell.
        """
        pd = self.pd
        given = (
            batch.columns
            if isinstance(batch, Columns)
            else [batch[:, j] for j in range(len(self.names))]
        )
        columns: dict[str, Any] = {}
        for name, dtype, col in zip(self.names, self.dtypes, given, strict=True):
            if not isinstance(col, np.ndarray):  # pyarrow strings (a Columns batch)
                if dtype is object and self.arrow_strings is not None:
                    columns[name] = pd.array(col, dtype=self.arrow_strings)
                    continue
                col = col.to_numpy(zero_copy_only=False)
            if isinstance(dtype, pd.CategoricalDtype):
                # codes straight from the categories: -1 (missing) for values outside them
                codes = dtype.categories.get_indexer(col)
                columns[name] = pd.Categorical.from_codes(codes, dtype=dtype)
                if self.refuse_unknown and (codes < 0).any():
                    value = col[int(np.argmax(codes < 0))]
                    raise InvalidInput(
                        f"feature '{name}': {value!r} is not a category the model was "
                        f"trained on ({', '.join(map(str, dtype.categories[:10]))}"
                        f"{', ...' if len(dtype.categories) > 10 else ''})"
                    )
            elif col.dtype != dtype:
                columns[name] = col.astype(dtype)
            else:
                columns[name] = col
        return pd.DataFrame(columns, copy=False)


def _arrow_strings(pd: Any) -> Any:
    """The dtype pandas gives a column of ``str`` objects when pyarrow stores it (pandas
    3's ``str``), else ``None`` (then pyarrow strings become objects first)."""
    inferred = pd.DataFrame({"s": np.array(["s"], dtype=object)}, copy=False)["s"].dtype
    return inferred if getattr(inferred, "storage", None) == "pyarrow" else None


@dataclass(frozen=True)
class Columns:
    """A validated batch as one column per schema feature, typed as the feature says:
    numpy arrays (numbers, booleans, ``str`` objects) or pyarrow string arrays. Batch
    scoring hands these to a ``FrameBuilder`` instead of a rows batch of Python objects."""

    columns: list[Any]

    def __len__(self) -> int:
        return len(self.columns[0])


def probe_rows(schema: InputSchema, rows: int) -> np.ndarray:
    """Valid rows of a schema with string features: a training category, or ``""``, and 0.

    The cells are Python values typed as each feature says, like a decoded request.
    """
    categories = schema.categories or {}
    row: list[Any] = []
    for name, dtype in zip(schema.names, schema.dtypes, strict=True):
        if dtype == "string":
            row.append(categories[name][0] if categories.get(name) else "")
        elif dtype == "bool":
            row.append(False)
        elif dtype.startswith("int"):
            row.append(0)
        else:
            row.append(0.0)
    out = np.empty((rows, len(row)), dtype=object)
    out[:] = row
    return out.reshape((rows, *schema.row_shape))


def reconcile_features(
    fitted: list[dict[str, Any]], given: list[Any], from_sample: bool
) -> list[dict[str, Any] | str]:
    """Features given for a model fitted on a DataFrame, completed by what it recorded.

    A sample's columns are picked and ordered as the model's (a target column in the
    sample is left out). A feature given by name alone takes the model's dtype and
    categories; a string feature takes the model's categories, which are the ones its
    codes mean.
    """
    known = {f["name"]: f for f in fitted}
    if from_sample:
        by_name = {f["name"]: f for f in given}
        missing = [n for n in known if n not in by_name]
        if missing:
            raise BundleError(f"sample lacks the column '{missing[0]}' the model was fitted on")
        given = [by_name[n] for n in known]
    out: list[dict[str, Any] | str] = []
    for feature in given:
        name = feature if isinstance(feature, str) else feature.get("name")
        model = known.get(name) if isinstance(name, str) else None
        if model is None:
            out.append(feature)
        elif isinstance(feature, str):
            out.append(model if "dtype" in model else feature)
        elif feature.get("dtype") == "string" and model.get("categories") is not None:
            out.append({**feature, "categories": model["categories"]})
        else:
            out.append(feature)
    return out
