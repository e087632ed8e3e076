"""Example bundles trained on the fly, and real server processes on 127.0.0.1."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.runtime.server import RuntimeServer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = {
    "sklearn": "logreg-20f",
    "xgboost": "xgboost-binary",
    "lightgbm": "lightgbm-multiclass",
    "onnx": "onnx-logreg",
    "pytorch": "pytorch-mlp",
    "custom": "custom-threshold",
}
Built = tuple[Path, Callable[[Any], Any], Any]


def load_example(name: str) -> Any:
    """Import ``examples/<name>/train.py`` as a module."""
    path = ROOT / "examples" / name / "train.py"
    spec = importlib.util.spec_from_file_location(f"example_{name.replace('-', '_')}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def build_example(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Built]:
    """Build (once per session) a framework's example bundle in a temp folder."""
    cache: dict[str, Built] = {}

    def build(framework: str) -> Built:
        if framework not in cache:
            name = EXAMPLES[framework]
            out = tmp_path_factory.mktemp("bundles") / name
            cache[framework] = load_example(name).build(out)
        return cache[framework]

    return build


@pytest.fixture(scope="session")
def sklearn_bundle(build_example: Callable[[str], Built]) -> Built:
    """The quickstart logistic regression (20 features)."""
    return build_example("sklearn")


@pytest.fixture(scope="module")
def sklearn_server(
    sklearn_bundle: Built, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RuntimeServer]:
    """One server on the sklearn bundle, shared by a test module."""
    with RuntimeServer(sklearn_bundle[0], tmp_path_factory.mktemp("logs")) as server:
        yield server


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    """Where a test's server writes its log."""
    return tmp_path
