"""One small module per framework behind the ``Predictor`` interface.

Framework modules are imported only when a bundle needs them, so a missing optional
package is a clear ``MissingExtraError`` instead of an import failure at start.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from inferstack.runtime.errors import BundleError, InferstackError
from inferstack.runtime.loaders.base import Predictor
from inferstack.runtime.manifest import Manifest

# framework -> (module, predictor class)
REGISTRY: dict[str, tuple[str, str]] = {
    "sklearn": ("inferstack.runtime.loaders.sklearn", "SklearnPredictor"),
    "xgboost": ("inferstack.runtime.loaders.xgboost", "XGBoostPredictor"),
    "lightgbm": ("inferstack.runtime.loaders.lightgbm", "LightGBMPredictor"),
    "onnx": ("inferstack.runtime.loaders.onnx", "OnnxPredictor"),
    "pytorch": ("inferstack.runtime.loaders.pytorch", "TorchScriptPredictor"),
    "custom": ("inferstack.runtime.loaders.custom", "CustomPredictor"),
}


def loader_module(framework: str) -> Any:
    """The loader module for ``framework``."""
    if framework not in REGISTRY:
        raise BundleError(f"unknown framework '{framework}'; expected one of {sorted(REGISTRY)}")
    return importlib.import_module(REGISTRY[framework][0])


def load_predictor(
    bundle_dir: str | Path, manifest: Manifest, fast_path: bool = True, allow_pickle: bool = False
) -> Predictor:
    """Instantiate and load the predictor a bundle names.

    ``fast_path=False`` turns off framework shortcuts (the scikit-learn numpy path);
    ``allow_pickle=True`` loads a pickle-based artifact whose manifest does not opt in.
    """
    module = loader_module(manifest.framework)
    predictor: Predictor = getattr(module, REGISTRY[manifest.framework][1])()
    predictor.manifest = manifest
    predictor.fast_path_allowed = fast_path
    predictor.pickle_allowed = allow_pickle
    try:
        predictor.load(Path(bundle_dir))
    except InferstackError:
        raise
    except Exception as err:  # a framework's own error: the artifact does not fit the bundle
        what = manifest.artifact or manifest.predictor
        raise BundleError(
            f"{manifest.framework} cannot load '{what}': {type(err).__name__}: {str(err)[:300]}"
        ) from err
    return predictor


__all__ = ["REGISTRY", "Predictor", "load_predictor", "loader_module"]
