"""Build a bundle from a model object or file, and check it loads and predicts."""

from __future__ import annotations

import inspect
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from inferstack.runtime.contract import DEFAULT_DTYPE
from inferstack.runtime.errors import BundleError, InferstackError
from inferstack.runtime.frames import reconcile_features
from inferstack.runtime.integrity import file_digests, sha256_file
from inferstack.runtime.loaders import load_predictor, loader_module
from inferstack.runtime.manifest import (
    FRAMEWORKS,
    Batching,
    InputSchema,
    Manifest,
    OutputSchema,
    SavedWith,
    parse_manifest,
    write_manifest,
)
from inferstack.runtime.mlflow_import import MlflowModel, is_mlflow_model, read_mlflow_model
from inferstack.runtime.model import ServedModel, load_bundle
from inferstack.runtime.provenance import saved_with_here
from inferstack.runtime.reference import (
    feature_samples,
    prediction_profile,
    profile_columns,
    reference_batch,
    reference_columns,
)
from inferstack.runtime.reference_samples import SAMPLES_FILE, ReferenceSamples, write_samples
from inferstack.runtime.requirements import read_requirements, requirement_name, write_requirements


def bundle(
    model: Any,
    *,
    framework: str | None = None,
    name: str,
    version: str,
    out: str | Path,
    features: Sequence[str | dict[str, str]] | None = None,
    shape: Sequence[int] | None = None,
    dtype: str = DEFAULT_DTYPE,
    allow_nan: bool = False,
    output: str | OutputSchema | None = None,
    batching: Batching | dict[str, Any] | None = None,
    reference_data: Any = None,
    files: Sequence[str | Path] = (),
    requirements: str | Path | Sequence[str] | None = None,
    sample: Any = None,
    description: str = "",
    skops_trusted: Sequence[str] = (),
    allow_pickle: bool = False,
    overwrite: bool = False,
) -> Path:
    """Write a bundle to ``out`` and check it; returns ``out``.

    ``model`` is a model object, a path to a saved model file, (framework
    ``custom``) a predictor class or ``path/to/module.py:Class``, or an MLflow model
    directory (its ``MLmodel`` file gives the framework, the input schema and the
    requirements; ``framework`` then picks a flavour, ``custom`` its pyfunc). Features
    default to the model's own names or ``f0..fN``; ``sample``, a pandas DataFrame
    like the training data, gives their names and dtypes instead. ``reference_data``
    (a DataFrame with the features' columns, or rows x features) becomes the drift
    reference: per-feature profiles and the model's prediction distribution on it
    (see ``runtime/reference.py``); a value that does not fit the schema is an error
    naming its column. ``requirements`` (a
    requirements file or a list of lines) are extra pip requirements kept in the
    bundle. ``skops_trusted`` lists the types of a ``.skops`` artifact you trust
    beyond skops' defaults (``skops.io.get_untrusted_types`` shows them).

    A pickle is code: loading one runs whatever it holds. A scikit-learn model object
    is saved with skops where skops can represent it; a pickle (a joblib file given,
    or a model skops cannot represent) needs ``allow_pickle=True``, recorded in the
    manifest, and is never loaded before that check. The manifest records the SHA-256
    of every file the bundle serves, and the Python and framework versions of this
    environment. Raises ``BundleError`` naming the problem.
    """
    imported: MlflowModel | None = None
    if is_mlflow_model(model):
        imported = read_mlflow_model(Path(model), framework)
        framework, model = imported.framework, imported.model
        skops_trusted = (*imported.skops_trusted, *skops_trusted)
    if framework is None:
        raise BundleError("framework is missing: pass one of " + ", ".join(FRAMEWORKS))
    if framework not in FRAMEWORKS:
        raise BundleError(f"unknown framework '{framework}'; expected one of {list(FRAMEWORKS)}")
    declared = read_requirements(requirements) if requirements is not None else ()
    if imported is not None:
        declared = tuple(dict.fromkeys((*imported.requirements, *declared)))
    if sample is not None:
        if features is not None:
            raise BundleError("pass features or sample, not both")
        features = _sample_features(sample)
    elif features is None and shape is None and imported is not None:
        features, shape, dtype = imported.features, imported.shape, imported.dtype or dtype
    out = Path(out)
    for extra in files:
        if not Path(extra).is_file():
            raise BundleError(f"files: '{extra}' is not a file")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise BundleError(f"output directory '{out}' is not empty (use overwrite)")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".bundle-", dir=out.parent))
    try:
        artifact, predictor, trusted = _write_model(
            model, framework, work, skops_trusted, allow_pickle
        )
        for extra in files:
            shutil.copy2(extra, work / Path(extra).name)
        for tree, dest in imported.trees if imported is not None else ():
            shutil.copytree(tree, work / dest)
        write_requirements(declared, work)
        base = {
            "name": name,
            "version": version,
            "framework": framework,
            "description": description,
            "artifact": artifact,
            "predictor": predictor,
            "skops_trusted": list(dict.fromkeys((*skops_trusted, *trusted))) or None,
            "allow_pickle": _pickle_based(framework, artifact) or None,
        }
        served = _provisional(base, work)
        inp = _input_schema(served, features, shape, dtype, allow_nan, sample is not None)
        out_schema = _output_schema(served, output)
        saved = imported.saved_with if imported is not None else None
        data = {
            **base,
            "input": inp.model_dump(exclude_none=True),
            "output": out_schema.model_dump(),
            "saved_with": (saved or _saved_with(framework, declared)).model_dump(),
            "requirements": list(declared),
        }
        data["batching"] = _batching(served, batching)
        columns = reference_columns(reference_data, inp) if reference_data is not None else None
        if columns is not None:
            ref = profile_columns(columns, inp)
            data["reference"] = {k: v.model_dump(exclude_none=True) for k, v in ref.items()}
        data["digests"] = file_digests(work)
        write_manifest(parse_manifest({k: v for k, v in data.items() if v is not None}), work)
        loaded = load_bundle(work)
        if columns is not None:
            _add_reference_outputs(loaded, columns, data, work)
        if out.exists():
            shutil.rmtree(out)
        work.rename(out)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return out


def _add_reference_outputs(
    served: ServedModel, columns: dict[str, np.ndarray], data: dict[str, Any], work: Path
) -> None:
    """Profile the model's outputs on the reference rows and write the samples file."""
    m = served.manifest
    batch = reference_batch(columns, m.input)
    step = m.batching.max_batch_size
    try:
        outputs = [np.asarray(served.run(batch[i : i + step])) for i in range(0, len(batch), step)]
        pred = prediction_profile(np.concatenate(outputs), m.output)
    except InferstackError:
        raise
    except Exception as err:
        raise BundleError(
            f"reference: the model raised {type(err).__name__} on the reference rows: {err}"
        ) from err
    if pred is not None:
        data["prediction_reference"] = pred[0].model_dump(exclude_none=True)
    samples = ReferenceSamples(feature_samples(columns, m.input), pred[1] if pred else None)
    if samples.features or samples.prediction is not None:
        write_samples(work / SAMPLES_FILE, samples)
        data["reference_samples"] = SAMPLES_FILE
        data["digests"] = {**data["digests"], SAMPLES_FILE: sha256_file(work / SAMPLES_FILE)}
    write_manifest(parse_manifest({k: v for k, v in data.items() if v is not None}), work)


def _saved_with(framework: str, requirements: Sequence[str]) -> SavedWith:
    # A custom predictor's pickles depend on whatever its requirements name.
    extra = [requirement_name(r) for r in requirements] if framework == "custom" else []
    return saved_with_here(framework, extra)


def _sample_features(sample: Any) -> list[dict[str, Any]]:
    try:
        from inferstack.runtime.frames import features_from_frame
    except ImportError as err:  # the pandas bridge is not in this runtime
        raise BundleError("sample needs inferstack.runtime.frames (pandas support)") from err
    return features_from_frame(sample)


def _pickle_based(framework: str, artifact: str | None) -> bool:
    check = getattr(loader_module(framework), "pickle_based", None)
    return bool(artifact and check is not None and check(artifact))


def _write_model(
    model: Any, framework: str, work: Path, trusted: Sequence[str], allow_pickle: bool
) -> tuple[str | None, str | None, tuple[str, ...]]:
    """Write the artifact (or predictor); returns it, the predictor and types to trust."""
    if framework == "custom":
        return (*_write_custom(model, work), ())
    if isinstance(model, str | Path):
        src = Path(model)
        if not src.is_file():
            raise BundleError(f"model file '{src}' not found")
        if _pickle_based(framework, src.name) and not allow_pickle:
            raise BundleError(
                f"model file '{src.name}' is a pickle: loading it runs any code it holds, "
                "so it is not loaded without an explicit opt-in. If you trust it, pass "
                "allow_pickle=True (inferstack bundle --allow-pickle); or save the model "
                "with skops (skops.io.dump(model, 'model.skops')) and bundle that"
            )
        shutil.copy2(src, work / src.name)
        return src.name, None, ()
    if framework == "sklearn":
        saved = loader_module(framework).save(model, work, trusted, allow_pickle)
        return saved.artifact, None, saved.trusted
    return loader_module(framework).save(model, work), None, ()


def _write_custom(model: Any, work: Path) -> tuple[str | None, str]:
    if isinstance(model, type):
        source = inspect.getsourcefile(model)
        if source is None:
            raise BundleError(f"cannot find the source file of {model.__name__}")
        path, cls = Path(source), model.__name__
    else:
        text = str(model)
        file, sep, cls = text.rpartition(":")
        if not sep or not file.endswith(".py"):
            raise BundleError("framework 'custom' takes a class or 'path/to/module.py:Class'")
        path = Path(file)
    if not path.is_file():
        raise BundleError(f"predictor file '{path}' not found")
    shutil.copy2(path, work / path.name)
    return None, f"{path.stem}:{cls}"


def _provisional(base: dict[str, Any], work: Path) -> ServedModel | None:
    if base["framework"] == "custom":
        return None
    manifest = parse_manifest(
        {k: v for k, v in base.items() if v is not None}
        | {"input": {"shape": [1]}, "output": {"kind": "raw"}}
    )
    predictor = load_predictor(work, manifest)
    return ServedModel(work, manifest, predictor)


def _input_schema(
    served: ServedModel | None,
    features: Sequence[Any] | None,
    shape: Sequence[int] | None,
    dtype: str,
    allow_nan: bool,
    from_sample: bool = False,
) -> InputSchema:
    # A model fitted on a DataFrame knows its columns (and some their dtypes, categories).
    fitted = served.predictor.fitted_input() if served is not None else None
    if features is None and shape is None and served is not None:
        width = served.predictor.expected_width()
        if fitted is not None:
            features = fitted.features
        elif width is not None:
            features = [f"f{i}" for i in range(width)]
    elif features is not None and fitted is not None:
        features = reconcile_features(fitted.features, list(features), from_sample)
    if features is None and shape is None:
        raise BundleError("cannot tell the model's inputs: pass features or shape")
    feats = (
        None
        if features is None
        else [
            {"name": f, "dtype": dtype} if isinstance(f, str) else {"dtype": dtype, **f}
            for f in features
        ]
    )
    raw = {
        "features": feats,
        "shape": list(shape) if shape else None,
        "dtype": dtype,
        "allow_nan": allow_nan,
        "frame": True if fitted is not None and fitted.frame else None,
    }
    return parse_manifest_part(
        InputSchema, {k: v for k, v in raw.items() if v is not None}, "input"
    )


def _batching(
    served: ServedModel | None, batching: Batching | dict[str, Any] | None
) -> dict[str, Any]:
    """The bounds given; the framework's default for any not given."""
    default = served.predictor.default_batching() if served is not None else Batching()
    given = batching.model_dump() if isinstance(batching, Batching) else dict(batching or {})
    return {**default.model_dump(), **given}


def _output_schema(served: ServedModel | None, output: str | OutputSchema | None) -> OutputSchema:
    default = served.predictor.default_output() if served is not None else OutputSchema(kind="raw")
    if output is None:
        return default
    if isinstance(output, OutputSchema):
        return output
    names = default.names if default.kind == output else None
    return parse_manifest_part(OutputSchema, {"kind": output, "names": names}, "output")


def parse_manifest_part(cls: Any, data: dict[str, Any], where: str) -> Any:
    """Validate one part of a manifest, naming it in the error."""
    from pydantic import ValidationError

    try:
        return cls.model_validate(data)
    except ValidationError as err:
        msg = "; ".join(f"{where}.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise BundleError(msg) from err


def validate_bundle(bundle_dir: str | Path) -> Manifest:
    """Load a bundle and run a probe prediction; returns its manifest."""
    return load_bundle(bundle_dir).manifest
