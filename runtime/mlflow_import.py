"""MLflow model directories in: the ``MLmodel`` file read as plain YAML, no mlflow needed.

The sklearn, xgboost, lightgbm and onnx flavours become bundles of the native
artifact; a model with only the ``python_function`` flavour becomes a ``custom``
bundle whose generated predictor (``mlflow_pyfunc.py``) loads it with mlflow. The
signature's inputs become the input schema, ``requirements.txt`` the bundle's
requirements (less mlflow itself where the native artifact is served), and the
versions the flavour recorded the bundle's ``saved_with``.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from inferstack.runtime.errors import BundleError
from inferstack.runtime.manifest import SavedWith
from inferstack.runtime.requirements import check_requirements, requirement_name

MLMODEL_FILE = "MLmodel"
PYFUNC = "python_function"
PYFUNC_DIR = "mlflow_model"
"""Where a pyfunc bundle keeps the MLflow model directory."""

# flavour -> (runtime framework, distribution, the flavour's version key)
NATIVE: dict[str, tuple[str, str, str]] = {
    "sklearn": ("sklearn", "scikit-learn", "sklearn_version"),
    "xgboost": ("xgboost", "xgboost", "xgb_version"),
    "lightgbm": ("lightgbm", "lightgbm", "lgb_version"),
    "onnx": ("onnx", "onnx", "onnx_version"),
}
COLUMN_TYPES = {
    "double": "float64",
    "float": "float32",
    "long": "int64",
    "integer": "int32",
    "boolean": "bool",
    "string": "string",
}
TENSOR_TYPES = {
    "float64": "float64",
    "float32": "float32",
    "int64": "int64",
    "int32": "int32",
    "bool": "bool",
    "object": "string",
    "str": "string",
}


@dataclass(frozen=True)
class MlflowModel:
    """What an MLflow model directory gives a bundle."""

    framework: str
    model: str
    """The artifact file to copy, or ``path/to/module.py:Class`` for ``custom``."""
    saved_with: SavedWith
    requirements: tuple[str, ...] = ()
    features: list[dict[str, str]] | None = None
    shape: list[int] | None = None
    dtype: str | None = None
    skops_trusted: tuple[str, ...] = ()
    trees: tuple[tuple[Path, str], ...] = field(default=())
    """Directories to copy into the bundle, with their names there."""


def is_mlflow_model(model: Any) -> bool:
    """True for a path to a directory holding an ``MLmodel`` file."""
    return isinstance(model, str | Path) and (Path(model) / MLMODEL_FILE).is_file()


def read_mlflow_model(path: Path, framework: str | None = None) -> MlflowModel:
    """Read ``path/MLmodel``; ``framework`` picks a flavour (``custom``: its pyfunc)."""
    where = str(path / MLMODEL_FILE)
    try:
        doc = yaml.safe_load((path / MLMODEL_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise BundleError(f"{where}: cannot read it: {err}") from err
    flavors = doc.get("flavors") if isinstance(doc, dict) else None
    if not isinstance(flavors, dict) or not flavors:
        raise BundleError(f"{where}: no 'flavors'")
    flavour = _pick_flavour(flavors, framework, where)
    conf = flavors[flavour]
    requirements = _requirements(path)
    python = str((flavors.get(PYFUNC) or {}).get("python_version") or platform.python_version())
    features, shape, dtype = _signature(doc.get("signature"), where)
    if flavour == PYFUNC:
        predictor = Path(__file__).with_name("mlflow_pyfunc.py")
        return MlflowModel(
            framework="custom",
            model=f"{predictor}:MlflowPyfunc",
            saved_with=SavedWith(python=python, packages=_pins(requirements)),
            requirements=requirements,
            trees=((path, PYFUNC_DIR),),
            features=features,
            shape=shape,
            dtype=dtype,
        )
    fw, dist, version_key = NATIVE[flavour]
    artifact, trusted = _native_artifact(path, flavour, conf, where)
    if flavour == "lightgbm" and not artifact.endswith((".txt", ".lgb")):
        fw = "sklearn"  # the scikit-learn API model is a pickle
    native_reqs = tuple(r for r in requirements if requirement_name(r) not in _MLFLOW)
    pins = _pins(native_reqs)
    saved = SavedWith(
        python=python,
        framework=dist,
        framework_version=str(conf.get(version_key) or pins.get(dist) or "") or None,
        packages={k: v for k, v in pins.items() if k != dist},
    )
    return MlflowModel(
        framework=fw,
        model=str(path / artifact),
        saved_with=saved,
        requirements=native_reqs,
        skops_trusted=trusted,
        features=features,
        shape=shape,
        dtype=dtype,
    )


_MLFLOW = {"mlflow", "mlflow-skinny"}


def _pick_flavour(flavors: dict[str, Any], framework: str | None, where: str) -> str:
    supported = [f for f in (*NATIVE, PYFUNC) if f in flavors]
    if framework is None:
        if not supported:
            raise BundleError(
                f"{where}: flavours {sorted(flavors)} are not supported; "
                f"expected one of {[*NATIVE, PYFUNC]}"
            )
        return supported[0]
    wanted = PYFUNC if framework == "custom" else framework
    if wanted not in flavors or wanted not in (*NATIVE, PYFUNC):
        raise BundleError(
            f"{where}: framework '{framework}' needs the '{wanted}' flavour; "
            f"this model has {sorted(flavors)}"
        )
    return wanted


def _native_artifact(
    path: Path, flavour: str, conf: dict[str, Any], where: str
) -> tuple[str, tuple[str, ...]]:
    if flavour == "sklearn":
        if conf.get("code"):
            raise BundleError(
                f"{where}: the sklearn flavour has code paths ({conf['code']}); "
                "bundle it as framework 'custom' with its modules in --files"
            )
        name = conf.get("pickled_model")
        trusted = tuple(conf.get("skops_trusted_types") or ())
    else:
        name, trusted = conf.get("data"), ()
    if not isinstance(name, str) or not (path / name).is_file():
        raise BundleError(f"{where}: the {flavour} flavour's model file '{name}' is missing")
    return name, trusted


def _requirements(path: Path) -> tuple[str, ...]:
    file = path / "requirements.txt"
    if not file.is_file():
        return ()
    return check_requirements(file.read_text(encoding="utf-8").splitlines(), str(file))


def _pins(requirements: tuple[str, ...]) -> dict[str, str]:
    from packaging.requirements import Requirement

    pins = {}
    for line in requirements:
        req = Requirement(line)
        exact = [s.version for s in req.specifier if s.operator == "=="]
        if len(exact) == 1:
            pins[requirement_name(line)] = exact[0].split("+")[0]
    return pins


def _signature(
    signature: Any, where: str
) -> tuple[list[dict[str, str]] | None, list[int] | None, str | None]:
    if not isinstance(signature, dict) or not signature.get("inputs"):
        return None, None, None
    try:
        inputs = json.loads(signature["inputs"])
    except (TypeError, json.JSONDecodeError) as err:
        raise BundleError(f"{where}: signature.inputs is not JSON: {err}") from err
    if all(i.get("type") == "any" for i in inputs):  # "could not infer": the model decides
        return None, None, None
    if inputs and all(i.get("type") == "tensor" for i in inputs):
        return None, *_tensor(inputs, where)
    features = []
    for i, col in enumerate(inputs):
        kind, name = col.get("type"), col.get("name")
        if kind not in COLUMN_TYPES:
            raise BundleError(
                f"{where}: signature input '{name or i}' has type '{kind}'; "
                f"supported: {sorted(COLUMN_TYPES)}"
            )
        features.append({"name": str(name or f"f{i}"), "dtype": COLUMN_TYPES[kind]})
    return features, None, None


def _tensor(inputs: list[dict[str, Any]], where: str) -> tuple[list[int], str]:
    if len(inputs) != 1:
        raise BundleError(f"{where}: signature has {len(inputs)} input tensors; expected one")
    spec = inputs[0].get("tensor-spec") or {}
    dtype, shape = TENSOR_TYPES.get(str(spec.get("dtype"))), list(spec.get("shape") or [])
    if dtype is None:
        raise BundleError(f"{where}: signature tensor dtype '{spec.get('dtype')}' is not supported")
    row = shape[1:]
    if not row or any(not isinstance(d, int) or d < 1 for d in row):
        raise BundleError(f"{where}: signature tensor shape {shape} needs fixed row dimensions")
    return row, dtype
