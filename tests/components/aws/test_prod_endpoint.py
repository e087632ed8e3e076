"""The prod deployment mirrored into moto: what exists, and how it is wired."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def prod(deploy, spec_for):
    return deploy(spec_for())


def test_outputs(prod) -> None:
    assert prod.outputs["endpoint_name"] == "churn-test"
