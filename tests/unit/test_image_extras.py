"""Every extra `inferstack build --extra` accepts is one pyproject.toml defines, on the runtime."""

from __future__ import annotations

import tomllib
from pathlib import Path

from inferstack.components.cli.build import IMAGE_EXTRAS

ROOT = Path(__file__).resolve().parents[2]


def _extras() -> dict[str, list[str]]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extras: dict[str, list[str]] = data["project"]["optional-dependencies"]
    return extras


def _closure(extras: dict[str, list[str]], name: str) -> set[str]:
    """The extra's requirements, with `inferstack[...]` self-references followed."""
    found: set[str] = set()
    for requirement in extras[name]:
        if requirement.startswith("inferstack["):
            for inner in requirement[len("inferstack[") : -1].split(","):
                found |= {f"extra:{inner}"} | _closure(extras, inner)
        else:
            found.add(requirement)
    return found


def test_image_extras_are_defined_and_carry_the_runtime() -> None:
    extras = _extras()
    for name in IMAGE_EXTRAS:
        assert name in extras, f"--extra {name} is accepted but pyproject.toml has no such extra"
        assert "extra:runtime" in _closure(extras, name), f"{name} does not carry the runtime"


def test_azureml_batch_images_hold_the_batch_driver_and_the_readers() -> None:
    closure = _closure(_extras(), "azureml-batch")
    assert any(r.startswith("azureml-core") for r in closure)
    assert any(r.startswith("pyarrow") for r in closure)
