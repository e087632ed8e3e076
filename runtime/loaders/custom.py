"""A user's own predictor class: business logic around any model.

The bundle names it as ``predictor: module:Class``; ``module.py`` lives in the bundle
folder, and may import helper modules shipped beside it. The class needs
``predict(batch)`` and may have ``load(bundle_dir)``, ``preprocess(batch)`` and
``postprocess(outputs)``; subclassing ``inferstack.runtime.Predictor`` is optional.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from inferstack.runtime.errors import BundleError
from inferstack.runtime.loaders.base import Predictor


def import_predictor(bundle_dir: Path, spec: str) -> type[Any]:
    """Import ``Class`` from ``bundle_dir/module.py`` (or an installed module)."""
    module_name, _, class_name = spec.partition(":")
    file = Path(bundle_dir) / (module_name.replace(".", "/") + ".py")
    if file.is_file():
        # Helper modules shipped beside the predictor must import; appended, so a
        # bundle file never shadows an installed package (one bundle per process).
        folder = str(Path(bundle_dir).resolve())
        if folder not in sys.path:
            sys.path.append(folder)
        unique = f"inferstack_bundle_{abs(hash(str(file.resolve())))}_{module_name}"
        mod_spec = importlib.util.spec_from_file_location(unique, file)
        if mod_spec is None or mod_spec.loader is None:
            raise BundleError(f"cannot import predictor module '{file}'")
        module = importlib.util.module_from_spec(mod_spec)
        sys.modules[unique] = module
        try:
            mod_spec.loader.exec_module(module)
        except Exception as err:  # user code: any failure is a bundle error
            raise BundleError(f"predictor module '{file.name}' failed to import: {err}") from err
    else:
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:
            raise BundleError(f"predictor module '{module_name}' not found in bundle") from err
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type) or not callable(getattr(cls, "predict", None)):
        raise BundleError(f"predictor '{spec}' is not a class with a predict method")
    return cls


class CustomPredictor(Predictor):
    """Adapts a user's class to the ``Predictor`` contract."""

    framework = "custom"

    def load(self, bundle_dir: Path) -> None:
        cls = import_predictor(bundle_dir, self.manifest.predictor or "")
        self.user = cls()
        if isinstance(self.user, Predictor) or hasattr(self.user, "manifest"):
            self.user.manifest = self.manifest
        if callable(getattr(self.user, "load", None)):
            self.user.load(Path(bundle_dir))

    def preprocess(self, inputs: Any) -> Any:
        fn = getattr(self.user, "preprocess", None)
        return fn(inputs) if callable(fn) else inputs

    def predict(self, inputs: Any) -> Any:
        return self.user.predict(inputs)

    def postprocess(self, outputs: Any) -> Any:
        fn = getattr(self.user, "postprocess", None)
        return fn(outputs) if callable(fn) else outputs
