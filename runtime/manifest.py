"""The bundle manifest, ``inferstack.yaml``: what a bundle holds and how to serve it."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from inferstack.runtime.contract import (
    DEFAULT_DTYPE,
    MANIFEST_FILE,
    SEMVER_PATTERN,
    DType,
    Framework,
)
from inferstack.runtime.contract import (
    FRAMEWORKS as FRAMEWORKS,  # re-exported: the runtime's public name
)
from inferstack.runtime.errors import BundleError

MANIFEST_NAME = MANIFEST_FILE
# libyaml's safe loader when PyYAML has it: a manifest with reference profiles parses
# in milliseconds instead of about half a second.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
OutputKind = Literal["probabilities", "label", "value", "raw"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Feature(_Frozen):
    """One input column."""

    name: str = Field(min_length=1, max_length=128)
    dtype: DType = DEFAULT_DTYPE


class InputSchema(_Frozen):
    """The rows a request carries: named features, or an unnamed tensor ``shape``."""

    features: tuple[Feature, ...] | None = None
    """Named input columns; a plain name takes ``dtype``."""
    shape: tuple[Annotated[int, Field(ge=1)], ...] | None = None
    dtype: DType = DEFAULT_DTYPE
    allow_nan: bool = False
    frame: bool | None = None
    """The model was fitted on a pandas DataFrame and gets one: columns named and typed
    as the features. Unset (the default) means a numpy array, as in bundles made
    before this field existed."""
    categories: dict[str, tuple[str, ...]] | None = None
    """String features' values seen in training, in the model's order. The load-time
    probe sends the first; in a frame for XGBoost or LightGBM each such feature is a
    pandas ``category`` column with exactly these categories."""

    @model_validator(mode="before")
    @classmethod
    def _names_to_features(cls, data: Any) -> Any:
        # Features given by name take the schema-wide ``dtype``; a feature's own
        # ``categories`` (as ``features_from_frame`` gives them) join ``categories``.
        if isinstance(data, dict) and isinstance(data.get("features"), list | tuple):
            dtype = data.get("dtype", DEFAULT_DTYPE)
            features = [
                {"name": v, "dtype": dtype} if isinstance(v, str) else v for v in data["features"]
            ]
            hoisted = {
                f["name"]: f["categories"]
                for f in features
                if isinstance(f, dict) and f.get("categories") is not None
            }
            if hoisted:
                features = [
                    {k: v for k, v in f.items() if k != "categories"} if isinstance(f, dict) else f
                    for f in features
                ]
                data = {**data, "categories": {**(data.get("categories") or {}), **hoisted}}
            return {**data, "features": features}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> InputSchema:
        if self.features is None and self.shape is None:
            raise ValueError("input needs 'features' or 'shape'")
        if self.features is not None:
            names = [f.name for f in self.features]
            if len(set(names)) != len(names):
                raise ValueError("input.features has duplicate names")
            if self.shape is not None and math.prod(self.shape) != len(names):
                raise ValueError(
                    f"input.shape {list(self.shape)} does not hold {len(names)} features"
                )
        if self.frame and (self.features is None or len(self.row_shape) != 1):
            raise ValueError("input.frame needs named features in one row (no tensor shape)")
        strings = {n for n, d in zip(self.names, self.dtypes, strict=True) if d == "string"}
        for name, values in (self.categories or {}).items():
            if name not in strings:
                raise ValueError(f"input.categories: '{name}' is not a string feature")
            if not values or len(set(values)) != len(values):
                raise ValueError(f"input.categories.{name}: expected distinct values")
        return self

    @property
    def row_shape(self) -> tuple[int, ...]:
        """Shape of one row (without the batch dimension)."""
        if self.shape is not None:
            return self.shape
        return (len(self.features or ()),)

    @property
    def width(self) -> int:
        """Number of scalar cells in one row."""
        return math.prod(self.row_shape)

    @property
    def names(self) -> list[str]:
        """Feature names; ``x0..xN`` for an unnamed tensor."""
        if self.features is not None:
            return [f.name for f in self.features]
        return [f"x{i}" for i in range(self.width)]

    @property
    def dtypes(self) -> list[str]:
        """Per-cell dtypes, in feature order."""
        if self.features is not None:
            return [f.dtype for f in self.features]
        return [self.dtype] * self.width


class OutputSchema(_Frozen):
    """What the model returns per row."""

    kind: OutputKind = "raw"
    names: tuple[str, ...] | None = None


class Batching(_Frozen):
    """Adaptive batching bounds (environment variables override them)."""

    max_batch_size: int = Field(default=64, ge=1, le=65536)
    max_wait_ms: float = Field(default=1.0, ge=0, le=10_000)


class FeatureProfile(_Frozen):
    """Reference distribution of one feature, or of the model's predictions.

    Numeric: quantile bin ``edges`` and the ``fractions`` in each bin (one more than
    edges); the values for two-sample tests are in the bundle's ``reference_samples``.
    Categorical (string and boolean features, labels): ``categories`` and the fraction
    of each; whatever the fractions leave of 1 is the share of other values.
    """

    edges: tuple[float, ...] = ()
    fractions: tuple[float, ...]
    categories: tuple[str, ...] | None = None
    low: float | None = None
    """Numeric: the smallest finite reference value (the anomaly check's range)."""
    high: float | None = None
    """Numeric: the largest finite reference value; profiles made before it have none."""

    @model_validator(mode="after")
    def _sizes(self) -> FeatureProfile:
        if self.categories is not None:
            if self.edges:
                raise ValueError("a categorical profile has no edges")
            if len(self.fractions) != len(self.categories):
                raise ValueError("fractions needs one entry per category")
            if sum(self.fractions) > 1 + 1e-6:
                raise ValueError("category fractions add up to more than 1")
            return self
        if not self.edges:
            raise ValueError("a numeric profile needs edges")
        if len(self.fractions) != len(self.edges) + 1:
            raise ValueError("fractions needs one more entry than edges")
        if list(self.edges) != sorted(self.edges):
            raise ValueError("edges must be sorted")
        if (self.low is None) != (self.high is None):
            raise ValueError("low and high come together")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError("low is above high")
        return self


class SavedWith(_Frozen):
    """The versions of Python and of the framework in the environment that made a bundle."""

    python: str
    framework: str | None = None
    """The framework's distribution name (``scikit-learn``, ``torch``); none for ``custom``."""
    framework_version: str | None = None
    packages: dict[str, str] = {}
    """Other distributions the artifact may depend on, by name: their versions then."""


class Manifest(_Frozen):
    """``inferstack.yaml``: the contents of a model bundle."""

    bundle_format: Literal[1] = 1
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")
    version: str = Field(pattern=SEMVER_PATTERN)
    framework: Framework
    artifact: str | None = None
    predictor: str | None = Field(default=None, pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    description: str = ""
    skops_trusted: tuple[str, ...] = ()
    input: InputSchema
    output: OutputSchema = OutputSchema()
    batching: Batching = Batching()
    reference: dict[str, FeatureProfile] | None = None
    prediction_reference: FeatureProfile | None = None
    """The model's outputs on the reference rows (probability, value or label)."""
    reference_samples: str | None = None
    """File in the bundle with the reference values for KS tests (``reference_samples.py``)."""
    saved_with: SavedWith | None = None
    """Versions that saved the artifact; bundles made before this field have none."""
    requirements: tuple[str, ...] = ()
    """Extra pip requirements the model needs (also in the bundle's requirements.txt)."""
    allow_pickle: bool = False
    """The bundle's author chose to ship a pickle-based artifact (loading it runs code)."""
    digests: dict[str, str] | None = None
    """SHA-256 of every file the bundle serves, by path inside the bundle; written by
    ``bundle()`` and checked at load. Bundles made before this field have none."""

    @field_validator("digests")
    @classmethod
    def _digest_entries(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for path, digest in (value or {}).items():
            if Path(path).is_absolute() or ".." in Path(path).parts:
                raise ValueError(f"digests: '{path}' is not a path inside the bundle")
            if not re.fullmatch(r"[0-9a-f]{64}", digest):
                raise ValueError(f"digests.{path}: expected a hex SHA-256, got {digest!r}")
        return value

    @field_validator("requirements")
    @classmethod
    def _one_line_each(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # Full PEP 508 parsing happens where they are made (runtime/requirements.py);
        # here only what would break a requirements file.
        for i, line in enumerate(value):
            if not line.strip() or "\n" in line or line.lstrip().startswith(("-", "#")):
                raise ValueError(f"requirements[{i}]: expected one requirement, got {line!r}")
        return value

    @field_validator("artifact", "reference_samples")
    @classmethod
    def _relative(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and (Path(value).is_absolute() or ".." in Path(value).parts):
            raise ValueError(f"{info.field_name} must be a path inside the bundle")
        return value

    @model_validator(mode="after")
    def _framework_needs(self) -> Manifest:
        if self.framework == "custom" and self.predictor is None:
            raise ValueError("framework 'custom' needs 'predictor: module:Class'")
        if self.framework != "custom" and self.artifact is None:
            raise ValueError(f"framework '{self.framework}' needs 'artifact'")
        if self.reference is not None:
            unknown = set(self.reference) - set(self.input.names)
            if unknown:
                raise ValueError(f"reference names unknown features: {sorted(unknown)}")
        return self


def parse_manifest(data: Any, source: str = MANIFEST_NAME) -> Manifest:
    """Validate a manifest mapping; errors name the offending key."""
    try:
        return Manifest.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in err.errors()
        )
        raise BundleError(f"{source}: {problems}") from err


def read_manifest(bundle_dir: str | Path) -> Manifest:
    """Read and validate ``BUNDLE_DIR/inferstack.yaml``."""
    path = Path(bundle_dir) / MANIFEST_NAME
    if not path.is_file():
        raise BundleError(f"no {MANIFEST_NAME} in bundle directory '{bundle_dir}'")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as err:
        raise BundleError(f"{path}: not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise BundleError(f"{path}: expected a mapping at the top level")
    return parse_manifest(data, str(path))


def write_manifest(manifest: Manifest, bundle_dir: str | Path) -> Path:
    """Write ``inferstack.yaml`` into ``bundle_dir``."""
    path = Path(bundle_dir) / MANIFEST_NAME
    data = manifest.model_dump(mode="json", exclude_none=True)
    features = data["input"].get("features")
    if features and all(f["dtype"] == data["input"]["dtype"] for f in features):
        data["input"]["features"] = [f["name"] for f in features]  # compact: names only
    for empty in ("skops_trusted", "requirements", "allow_pickle"):
        if not data.get(empty):
            data.pop(empty, None)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path
