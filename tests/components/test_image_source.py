"""The runtime image's sources from a pip-installed inferstack, not only a checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

BUNDLE = ROOT / "examples" / "logreg-20f" / "bundle"
PROBE = """
import json, sys
from pathlib import Path
import inferstack.runtime
from inferstack.components.image.context import flavor, plan_build
plan = plan_build(Path(sys.argv[1]), "logreg-20f", "1.0.0", flavor(), staging=Path(sys.argv[2]))
print(json.dumps({"package": inferstack.runtime.__file__, "context": str(plan.context),
                  "tag": plan.tag}))
"""


def pip(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "--quiet", *args], check=True, capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """inferstack installed from its wheel into a plain folder, as pip would."""
    wheels = tmp_path_factory.mktemp("wheels")
    pip("wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(wheels), str(ROOT))
    target = tmp_path_factory.mktemp("site")
    pip("install", "--no-deps", "--target", str(target), str(next(wheels.glob("*.whl"))))
    return target


def plan_from(installed: Path, staging: Path) -> dict[str, str]:
    # -S: no .pth files, so the editable checkout cannot shadow the installed copy.
    path = os.pathsep.join(
        [str(installed), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    )
    env = {k: v for k, v in os.environ.items() if k != "INFERSTACK_SOURCE_DIR"}
    result = subprocess.run(
        [sys.executable, "-S", "-c", PROBE, str(BUNDLE), str(staging)],
        env={**env, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_an_installed_package_rebuilds_its_source_tree(installed: Path, tmp_path: Path) -> None:
    found = plan_from(installed, tmp_path)
    assert found["package"].startswith(str(installed))
    context = Path(found["context"])
    for needed in (
        "runtime/Dockerfile",
        "runtime/docker/entrypoint.sh",
        "bundle/inferstack.yaml",
        "components/spec/models.py",
    ):
        assert (context / needed).is_file(), needed

    generated = tomllib.loads((context / "pyproject.toml").read_text())["project"]
    ours = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert generated["version"] == ours["version"]
    assert set(generated["optional-dependencies"]) == set(ours["optional-dependencies"])
    runtime = generated["optional-dependencies"]["runtime"]
    assert "uvicorn>=0.29" in runtime
    assert "uvloop>=0.19; sys_platform != 'win32'" in runtime


def test_the_rebuilt_tree_builds_the_same_package(installed: Path, tmp_path: Path) -> None:
    context = Path(plan_from(installed, tmp_path / "staging")["context"])
    pip("wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(tmp_path), str(context))
    with zipfile.ZipFile(next(tmp_path.glob("inferstack-*.whl"))) as wheel:
        names = set(wheel.namelist())
    assert {
        "inferstack/runtime/app.py",
        "inferstack/runtime/docker/entrypoint.sh",
        "inferstack/components/spec/models.py",
        "inferstack/policies/rules.py",
    } <= names


def test_the_tag_is_stable_for_an_unchanged_install(installed: Path, tmp_path: Path) -> None:
    assert (
        plan_from(installed, tmp_path / "a")["tag"] == plan_from(installed, tmp_path / "b")["tag"]
    )
