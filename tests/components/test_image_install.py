"""What the runtime image installs for a bundle: its framework's build, its requirements.

No Docker here: the build plan (arguments, the context's requirements file, the tag)
and the probe rows `inferstack build` sends; tests/container builds the images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from inferstack.components.image.context import (
    REQUIREMENTS_IN_CONTEXT,
    BuildPlan,
    ImageError,
    flavor,
    plan_build,
)
from inferstack.components.image.install import (
    TORCH_CPU_INDEX,
    flavoured,
    framework_install,
    saved_with_pin,
)
from inferstack.components.image.verify import probe_rows
from inferstack.runtime.manifest import parse_manifest

ARTIFACTS = {
    "sklearn": "model.joblib",
    "xgboost": "model.json",
    "lightgbm": "model.txt",
    "onnx": "model.onnx",
    "pytorch": "model.pt",
}


def _bundle(folder: Path, framework: str, **extra: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {
        "name": "m",
        "version": "1.0.0",
        "framework": framework,
        "input": {"features": ["a", "b"]},
        **extra,
    }
    if framework == "custom":
        manifest["predictor"] = "p:P"
        (folder / "p.py").write_text("class P:\n    pass\n")
    else:
        manifest["artifact"] = ARTIFACTS[framework]
        (folder / ARTIFACTS[framework]).write_bytes(b"weights")
    (folder / "inferstack.yaml").write_text(yaml.safe_dump(manifest))
    return folder


def _plan(bundle: Path, staging: Path, gpu: bool = False, **kw: Any) -> BuildPlan:
    return plan_build(bundle, "m", "1.0.0", flavor(gpu, "base:1"), staging, **kw)


def _installed(plan: BuildPlan) -> list[str]:
    text = (plan.context / REQUIREMENTS_IN_CONTEXT).read_text()
    return [line for line in text.splitlines() if line and not line.startswith("#")]


@pytest.mark.parametrize(
    ("framework", "gpu", "extras", "packages"),
    [
        ("sklearn", False, "runtime,sklearn", []),
        ("sklearn", True, "runtime,sklearn", []),
        ("xgboost", False, "runtime", ["xgboost-cpu>=2.1", "pandas>=2.2"]),
        ("xgboost", True, "runtime,xgboost", []),
        ("lightgbm", False, "runtime,lightgbm", []),
        ("lightgbm", True, "runtime,lightgbm", []),
        ("onnx", False, "runtime,onnx", []),
        ("onnx", True, "runtime", ["onnxruntime-gpu>=1.17"]),
        ("pytorch", False, "runtime,pytorch", []),
        ("pytorch", True, "runtime,pytorch", []),
        ("custom", False, "runtime", []),
        ("custom", True, "runtime", []),
    ],
)
def test_the_image_installs_the_bundles_framework(
    tmp_path: Path, framework: str, gpu: bool, extras: str, packages: list[str]
) -> None:
    plan = _plan(_bundle(tmp_path / "b", framework), tmp_path / "ctx", gpu)
    assert plan.build_args["EXTRAS"] == extras
    assert plan.build_args["REQUIREMENTS"] == REQUIREMENTS_IN_CONTEXT
    assert _installed(plan) == packages
    assert list(plan.requirements) == packages


def test_pytorch_on_cpu_reads_the_cpu_wheel_index_and_gpu_does_not(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path / "b", "pytorch")
    assert _plan(bundle, tmp_path / "c1").build_args["PIP_EXTRA_INDEX_URL"] == TORCH_CPU_INDEX
    assert "PIP_EXTRA_INDEX_URL" not in _plan(bundle, tmp_path / "c2", gpu=True).build_args


def test_lightgbm_gets_openmp_from_apt(tmp_path: Path) -> None:
    plan = _plan(_bundle(tmp_path / "b", "lightgbm"), tmp_path / "ctx")
    assert plan.build_args["APT_PACKAGES"] == "libgomp1"
    sklearn = _plan(_bundle(tmp_path / "s", "sklearn"), tmp_path / "ctx")
    assert "APT_PACKAGES" not in sklearn.build_args


def test_bundle_and_build_requirements_are_installed_in_the_flavours_build(
    tmp_path: Path,
) -> None:
    bundle = _bundle(tmp_path / "b", "custom", requirements=["pandas>=2.2", "xgboost==3.2.0"])
    cpu = _plan(bundle, tmp_path / "c1", requirements=["tokenizers>=0.19"])
    assert _installed(cpu) == ["pandas>=2.2", "xgboost-cpu==3.2.0", "tokenizers>=0.19"]
    gpu = _plan(bundle, tmp_path / "c2", gpu=True, requirements=["onnxruntime>=1.20"])
    assert _installed(gpu) == ["pandas>=2.2", "xgboost==3.2.0", "onnxruntime-gpu>=1.20"]


def test_the_tag_changes_with_the_requirement_set_only(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path / "b", "sklearn")
    plain = _plan(bundle, tmp_path / "ctx")
    assert _plan(bundle, tmp_path / "ctx").tag == plain.tag
    added = _plan(bundle, tmp_path / "ctx", requirements=["rapidfuzz>=3"])
    assert added.tag != plain.tag
    other = _plan(bundle, tmp_path / "ctx", requirements=["rapidfuzz>=3.1"])
    assert other.tag not in (plain.tag, added.tag)
    declared = _bundle(tmp_path / "d", "sklearn", requirements=["rapidfuzz>=3"])
    assert _plan(declared, tmp_path / "ctx").tag != plain.tag


def test_a_pickled_artifact_gets_the_minor_version_that_saved_it(tmp_path: Path) -> None:
    saved = {"python": "3.11.7", "framework": "scikit-learn", "framework_version": "1.5.2"}
    plan = _plan(_bundle(tmp_path / "b", "sklearn", saved_with=saved), tmp_path / "ctx")
    assert _installed(plan) == ["scikit-learn==1.5.*"]
    torch = {"python": "3.11.7", "framework": "torch", "framework_version": "2.5.1+cpu"}
    plan = _plan(_bundle(tmp_path / "t", "pytorch", saved_with=torch), tmp_path / "ctx")
    assert _installed(plan) == ["torch==2.5.*"]
    portable = {"python": "3.11.7", "framework": "xgboost", "framework_version": "3.2.0"}
    manifest = parse_manifest(
        {
            "name": "m",
            "version": "1.0.0",
            "framework": "xgboost",
            "artifact": "model.json",
            "input": {"features": ["a"]},
            "saved_with": portable,
        }
    )
    assert saved_with_pin(manifest) is None  # XGBoost's JSON loads under any version


@pytest.mark.parametrize(
    ("requirement", "gpu", "expected"),
    [
        ("xgboost[pandas]>=2.1 ; python_version >= '3.11'", False, "xgboost-cpu[pandas]>=2.1 ; "),
        ("XGBoost==3.0", False, "xgboost-cpu==3.0"),
        ("xgboost-cpu==3.0", True, "xgboost-cpu==3.0"),
        ("onnxruntime==1.20.1", True, "onnxruntime-gpu==1.20.1"),
        ("onnxruntime==1.20.1", False, "onnxruntime==1.20.1"),
        ("numpy>=2", True, "numpy>=2"),
    ],
)
def test_flavoured_requirements_keep_extras_versions_and_markers(
    requirement: str, gpu: bool, expected: str
) -> None:
    assert flavoured(requirement, gpu).startswith(expected)


def test_a_bad_build_requirement_is_named(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path / "b", "sklearn")
    with pytest.raises(ImageError, match="'numpy >>= 2' is not a requirement"):
        _plan(bundle, tmp_path / "ctx", requirements=["numpy >>= 2"])
    with pytest.raises(ImageError, match="pip options are not supported"):
        _plan(bundle, tmp_path / "ctx", requirements=["--index-url=http://x"])


def test_a_framework_without_an_extra_is_named() -> None:
    with pytest.raises(ImageError, match="framework 'tensorflow' has no image extra"):
        framework_install("tensorflow", gpu=False)


def test_probe_rows_follow_the_schema() -> None:
    manifest = parse_manifest(
        {
            "name": "m",
            "version": "1.0.0",
            "framework": "sklearn",
            "artifact": "model.joblib",
            "input": {
                "features": [
                    {"name": "age", "dtype": "int64"},
                    {"name": "income", "dtype": "float64"},
                    {"name": "city", "dtype": "string"},
                    {"name": "note", "dtype": "string"},
                    {"name": "vip", "dtype": "bool"},
                ],
                "categories": {"city": ["oslo", "rome"]},
            },
            "reference": {"age": {"edges": [20.0, 40.4, 60.0], "fractions": [0, 0.5, 0.5, 0]}},
        }
    )
    assert probe_rows(manifest, 2) == [[40, 0.0, "oslo", "", False]] * 2
    tensor = parse_manifest(
        {
            "name": "m",
            "version": "1.0.0",
            "framework": "onnx",
            "artifact": "model.onnx",
            "input": {"shape": [2, 3], "dtype": "float32"},
        }
    )
    assert probe_rows(tensor, 1) == [[[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]]
