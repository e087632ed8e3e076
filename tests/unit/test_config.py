"""Stack config files and the local bundle checks made before anything deploys."""

from __future__ import annotations

import pytest

from inferstack.components import DeploymentSpec, SpecError, load_spec
from inferstack.components.config import check_local_bundle, read_stack_config, stack_names
from tests.conftest import ROOT

BUNDLE = ROOT / "examples" / "logreg-20f" / "bundle"


def local_spec(**model: object) -> DeploymentSpec:
    return load_spec(
        {
            "target": "local",
            "gateway": {"tls": False},
            "model": {
                "name": "churn",
                "version": "1.0.0",
                "framework": "sklearn",
                "artifact": str(BUNDLE),
                **model,
            },
        }
    )


def test_every_stack_file_holds_a_valid_spec() -> None:
    for stack in stack_names(ROOT):
        load_spec(read_stack_config(ROOT, stack)["inferstack:deployment"], stack)


def test_a_matching_input_contract_passes() -> None:
    contract = [{"name": f"f{i}", "dtype": "float64"} for i in range(20)]
    check_local_bundle(local_spec(input_schema=contract))


def test_renamed_feature_breaks_the_contract() -> None:
    contract = [{"name": f"f{i}", "dtype": "float64"} for i in range(20)]
    contract[5] = {"name": "tenure", "dtype": "float64"}
    with pytest.raises(SpecError, match=r"feature 5 is \('tenure', 'float64'\) in the spec"):
        check_local_bundle(local_spec(input_schema=contract))


def test_remote_artifacts_are_not_read() -> None:
    check_local_bundle(local_spec(artifact="s3://bucket/model.tar.gz"))
