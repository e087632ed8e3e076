"""The target seam: one registry, typed per-target settings, fakes loaded from it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from itertools import permutations
from pathlib import Path
from typing import Any

import pytest
import yaml

from inferstack.components.errors import SpecError
from inferstack.components.plan import run_plan
from inferstack.components.plan.mocks import PlanMocks
from inferstack.components.spec.config import load_spec
from inferstack.components.targets import all_targets, get_target, registered, target_names
from tests.components import toy_target

BUILT_IN = ("local", "aws", "azure", "gcp")


def spec_for(target: str, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "target": target,
        "model": {"name": "m", "version": "1.0.0", "framework": "sklearn", "artifact": "s3://b/k"},
    }
    if target == "local":
        data["gateway"] = {"tls": False}
    return {**data, **extra}


@pytest.fixture
def toy() -> Iterator[None]:
    with registered(toy_target.TARGET):
        yield


def test_the_registry_lists_the_built_in_targets_in_order() -> None:
    assert target_names()[:4] == BUILT_IN
    for name in BUILT_IN:
        assert get_target(name).name == name


def test_target_declarations_import_neither_pulumi_nor_a_cloud_sdk() -> None:
    code = (
        "import sys\n"
        "from inferstack.components.targets import all_targets\n"
        "from inferstack.components.spec.config import load_spec\n"
        "all_targets()\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'pulumi', 'pulumi_aws', 'pulumi_docker', 'pulumi_random', 'boto3'})\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


@pytest.mark.parametrize(("target", "other"), list(permutations(BUILT_IN, 2)))
def test_settings_of_another_target_are_refused_naming_the_key(target: str, other: str) -> None:
    with pytest.raises(SpecError) as err:
        load_spec(spec_for(target, targets={other: {}}))
    assert f"deployment.targets.{other}: only the {other} target reads" in str(err.value)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ({"compute": {"aws": {"mode": "async"}}}, "targets.aws"),
        ({"compute": {"instance_type": {"aws": "ml.g5.xlarge"}}}, "targets.<target>.instance_type"),
        ({"local": {"port": 18080}}, "targets.local"),
    ],
)
def test_moved_keys_say_where_they_went(old: dict[str, Any], new: str) -> None:
    with pytest.raises(SpecError) as err:
        load_spec(spec_for("aws", **old))
    assert f"moved to {new}" in str(err.value)


def test_unknown_target_names_under_targets_are_refused() -> None:
    with pytest.raises(SpecError) as err:
        load_spec(spec_for("aws", targets={"heroku": {}}))
    assert "deployment.targets.heroku: unknown target" in str(err.value)


def test_a_registered_target_is_a_valid_spec_target_with_typed_settings(toy: None) -> None:
    spec = load_spec(spec_for("toy", targets={"toy": {"color": "green"}}))
    assert isinstance(spec.options, toy_target.ToyOptions)
    assert spec.options.color == "green"
    assert spec.instance_type() == "toy.small"
    with pytest.raises(SpecError, match=r"deployment\.targets\.toy\.size: .*less than or equal"):
        load_spec(spec_for("toy", targets={"toy": {"size": 9}}))
    with pytest.raises(SpecError, match="red boxes are not allowed in prod"):
        load_spec(spec_for("toy", environment="prod", targets={"toy": {"color": "red"}}))


def test_the_throwaway_target_is_gone_after_its_test() -> None:
    assert "toy" not in all_targets()
    with pytest.raises(SpecError, match="unknown target 'toy'"):
        load_spec(spec_for("toy"))


def test_a_stack_plans_on_a_target_defined_only_in_the_tests(
    toy: None, tmp_path: Path, project_root: Path
) -> None:
    (tmp_path / "stacks").mkdir()
    shutil.copy(project_root / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copy(project_root / "stacks" / "__main__.py", tmp_path / "stacks" / "__main__.py")
    config = {"inferstack:deployment": spec_for("toy", targets={"toy": {"color": "green"}})}
    (tmp_path / "stacks" / "Pulumi.toy.yaml").write_text(yaml.safe_dump({"config": config}))

    plan = run_plan("toy", tmp_path)

    by_type = {r.type: r for r in plan.resources}
    assert by_type["inferstack:toy:ToyEndpoint"].name == "m"
    box = by_type[toy_target.TOY_TOKEN]
    assert box.inputs["color"] == "green"
    assert box.parent == "m"
    assert plan.outputs["endpoint_url"] == "https://green.toy.example/m-box"
    assert plan.outputs["toy_color"] == "green"


def test_plan_fakes_come_from_the_registry_not_from_imports(toy: None) -> None:
    assert toy_target.TOY_TOKEN in PlanMocks().resource_fakes
    assert toy_target.TOY_TOKEN not in PlanMocks(targets=["local"]).resource_fakes
    assert "docker:index/remoteImage:RemoteImage" in PlanMocks(targets=["local"]).resource_fakes


def test_two_different_fakes_for_one_token_are_an_error(toy: None) -> None:
    from inferstack.components.plan import mocks

    other = {toy_target.TOY_TOKEN: lambda args: {}}
    with pytest.raises(ValueError, match=f"two plan fakes for {toy_target.TOY_TOKEN}"):
        mocks._merge(dict(toy_target.RESOURCE_FAKES), other, "elsewhere")
