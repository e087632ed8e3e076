"""Stack config files and the local bundle checks made before anything deploys."""

from __future__ import annotations

import pytest

from inferstack.components import DeploymentSpec, SpecError, load_spec
from inferstack.components.spec.config import check_local_bundle, read_stack_config, stack_names
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


def ab_spec(*variants: dict[str, object]) -> DeploymentSpec:
    return load_spec(
        {
            "target": "aws",
            "model": {
                "name": "churn",
                "version": "1.0.0",
                "framework": "sklearn",
                "artifact": str(BUNDLE),
            },
            "rollout": {"strategy": "blue_green", "variants": list(variants)},
        }
    )


def test_each_ab_variant_serves_a_bundle_of_its_own_version(tmp_path) -> None:
    check_local_bundle(ab_spec({"name": "same", "model_version": "1.0.0", "weight": 1}))
    check_local_bundle(
        ab_spec({"name": "own", "model_version": "1.0.0", "weight": 1, "artifact": str(BUNDLE)})
    )
    with pytest.raises(SpecError) as err:
        check_local_bundle(
            ab_spec(
                {"name": "inherits", "model_version": "1.1.0", "weight": 1},
                {"name": "own", "model_version": "2.0.0", "weight": 1, "artifact": str(BUNDLE)},
                {"name": "gone", "model_version": "1.0.0", "weight": 1, "artifact": str(tmp_path)},
            )
        )
    assert err.value.problems == (
        "deployment.rollout.variants.0.model_version: '1.1.0' differs from the model's "
        "'1.0.0', whose bundle the variant would serve; give the variant its own artifact",
        f"deployment.rollout.variants.1.model_version: '2.0.0' does not match the bundle's "
        f"'1.0.0' ({BUNDLE})",
        f"deployment.rollout.variants.2.artifact: no inferstack.yaml in bundle directory "
        f"'{tmp_path}'",
    )


def test_stack_artifacts_resolve_against_the_project_root() -> None:
    from inferstack.components.spec.config import resolve_artifacts

    spec = ab_spec(
        {
            "name": "own",
            "model_version": "1.0.0",
            "weight": 1,
            "artifact": "examples/logreg-20f/bundle",
        }
    )
    resolved = resolve_artifacts(spec, ROOT)
    assert resolved.rollout.variants[0].artifact == str(BUNDLE.resolve())
    assert resolved.model.artifact == str(BUNDLE.resolve())
