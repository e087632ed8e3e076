"""Suite-wide settings: markers by directory, and the project root for tests."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_MARKER_BY_DIR = {
    "unit": "unit",
    "components": "components",
    "runtime": "runtime",
    "container": "container",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(item.path).relative_to(ROOT / "tests").parts
        marker = _MARKER_BY_DIR.get(parts[0]) if len(parts) > 1 else None
        if marker:
            item.add_marker(getattr(pytest.mark, marker))


@pytest.fixture(scope="session")
def project_root() -> Path:
    """The repository root (where Pulumi.yaml is)."""
    return ROOT
