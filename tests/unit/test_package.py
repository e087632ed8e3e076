"""Packaging and public API: namespaces, `__all__`, the generated spec reference."""

from __future__ import annotations

import importlib
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import inferstack.components
import inferstack.policies
from inferstack.components.spec.docs import render_markdown
from tests.conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]


def test_every_package_folder_is_packaged() -> None:
    """A folder with __init__.py under a mapped folder must be in the wheel's package list."""
    listed = set(SETUPTOOLS["packages"])
    for package, folder in SETUPTOOLS["package-dir"].items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder).parts
            assert ".".join((package, *relative)) in listed, init


def test_no_top_level_components_or_runtime_module(tmp_path: Path) -> None:
    # Outside the checkout, so only what the installation provides is importable.
    probe = (
        "import importlib.util as u, inferstack.components as c; "
        "print([n for n in ('components', 'runtime', 'policies') if u.find_spec(n)]); "
        "print(c.__file__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert result.stdout.splitlines() == ["[]", str(ROOT / "components" / "__init__.py")]


@pytest.mark.parametrize("module", [inferstack.components, inferstack.policies])
def test_all_is_honest(module: object) -> None:
    names = module.__all__  # type: ignore[attr-defined]
    assert len(set(names)) == len(names)
    for name in names:
        assert getattr(module, name) is not None, name


def test_spec_reference_is_current() -> None:
    committed = (ROOT / "docs" / "spec.md").read_text()
    assert committed == render_markdown(), "regenerate: inferstack spec > docs/spec.md"


def test_spec_reference_covers_every_field() -> None:
    text = render_markdown()
    for name in inferstack.components.DeploymentSpec.model_fields:
        assert f"| `{name}` |" in text
    assert "## `deployment.rollout.variants[]` (VariantSpec)" in text


def test_extras_keep_runtime_apart_from_iac() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]
    runtime = " ".join(extras["runtime"])
    assert "pulumi" not in runtime
    for target in ("local", "aws", "azure", "gcp"):
        assert "inferstack[iac]" in extras[target]
    assert not any(d.startswith(("pulumi", "torch")) for d in PYPROJECT["project"]["dependencies"])


def test_cli_entry_point_resolves() -> None:
    module, _, attribute = PYPROJECT["project"]["scripts"]["inferstack"].partition(":")
    assert callable(getattr(importlib.import_module(module), attribute))


def test_the_aws_package_exports_each_component_and_its_args() -> None:
    import inferstack.components.aws as aws

    for name in aws.__all__:
        assert getattr(aws, name).__name__ == name
