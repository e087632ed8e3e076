"""PyTorch TorchScript modules, on CUDA when available."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from inferstack.runtime.errors import BundleError
from inferstack.runtime.loaders.base import Predictor, artifact_path, require


def save(model: Any, out_dir: Path) -> str:
    """Save a TorchScript module (scripting or tracing is the caller's job)."""
    torch = require("torch", "pytorch")
    if not isinstance(model, torch.jit.ScriptModule):
        raise BundleError("framework 'pytorch' takes a TorchScript module (torch.jit.script/trace)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        model.save(str(out_dir / "model.pt"))
    return "model.pt"


class TorchScriptPredictor(Predictor):
    """A TorchScript module called under ``torch.inference_mode``."""

    framework = "pytorch"

    def load(self, bundle_dir: Path) -> None:
        self.torch = torch = require("torch", "pytorch")
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        path = artifact_path(bundle_dir, self.manifest)
        try:
            with warnings.catch_warnings():  # TorchScript is deprecated upstream, still supported
                warnings.simplefilter("ignore", DeprecationWarning)
                self.module = torch.jit.load(str(path), map_location=self.device)
        except (RuntimeError, ValueError) as err:
            raise BundleError(f"not a TorchScript file '{path.name}': {err}") from err
        self.module.eval()

    def preprocess(self, inputs: np.ndarray) -> Any:
        return self.torch.from_numpy(np.ascontiguousarray(inputs)).to(self.device)

    def predict(self, inputs: Any) -> Any:
        with self.torch.inference_mode():
            return self.module(inputs)

    def postprocess(self, outputs: Any) -> Any:
        return outputs.detach().cpu().numpy()
