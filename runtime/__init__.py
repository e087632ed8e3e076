"""inferstack's inference runtime: bundles, framework loaders and the model server.

Build a bundle in code with ``bundle(model, framework=..., name=..., version=...,
out=...)``, load it in-process with ``load_bundle(path)``, serve it with
``python -m inferstack.runtime serve PATH`` or ``inferstack serve PATH``.
"""

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
