"""inferstack's inference runtime: bundles, framework loaders and the model server.

Build a bundle in code with ``bundle(model, framework=..., name=..., version=...,
out=...)``, load it in-process with ``load_bundle(path)``, serve it with
``python -m inferstack.runtime serve PATH`` or ``inferstack serve PATH``.

Names are imported on first use (PEP 562), so ``import inferstack.runtime`` (which
the CLI and the image build do) needs neither numpy nor the server packages; those
come with ``pip install 'inferstack[runtime]'`` and the framework extras.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inferstack.runtime.app import InferenceApp, create_app
    from inferstack.runtime.auth import hash_key
    from inferstack.runtime.bundling import bundle, validate_bundle
    from inferstack.runtime.errors import (
        BundleError,
        InferstackError,
        InvalidInput,
        MissingExtraError,
    )
    from inferstack.runtime.fakes import EchoModel
    from inferstack.runtime.loaders.base import Predictor
    from inferstack.runtime.manifest import FRAMEWORKS, Manifest, read_manifest
    from inferstack.runtime.model import ServedModel, load_bundle
    from inferstack.runtime.settings import RuntimeSettings

_EXPORTS = {
    "FRAMEWORKS": "manifest",
    "BundleError": "errors",
    "EchoModel": "fakes",
    "InferenceApp": "app",
    "InferstackError": "errors",
    "InvalidInput": "errors",
    "Manifest": "manifest",
    "MissingExtraError": "errors",
    "Predictor": "loaders.base",
    "RuntimeSettings": "settings",
    "ServedModel": "model",
    "bundle": "bundling",
    "create_app": "app",
    "hash_key": "auth",
    "load_bundle": "model",
    "read_manifest": "manifest",
    "validate_bundle": "bundling",
}

__all__ = [
    "FRAMEWORKS",
    "BundleError",
    "EchoModel",
    "InferenceApp",
    "InferstackError",
    "InvalidInput",
    "Manifest",
    "MissingExtraError",
    "Predictor",
    "RuntimeSettings",
    "ServedModel",
    "bundle",
    "create_app",
    "hash_key",
    "load_bundle",
    "read_manifest",
    "validate_bundle",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'inferstack.runtime' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"inferstack.runtime.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
