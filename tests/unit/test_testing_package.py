"""`inferstack.components.testing`: its public names, its extra, and its moto guard."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from types import ModuleType

import pytest

import inferstack.components.testing as testing
from tests.conftest import ROOT

# Blocks one import the way an environment without the `testing` extra would.
BLOCKER = """
import importlib.abc, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == {blocked!r} or name.startswith({blocked!r} + "."):
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, Block())
import inferstack.components.testing
"""


def test_all_is_honest() -> None:
    names = testing.__all__
    assert len(names) == len(set(names))
    for name in names:
        assert not name.startswith("_"), name
        assert getattr(testing, name) is not None, name
    public = {
        n
        for n, v in vars(testing).items()
        if not n.startswith("_") and not isinstance(v, ModuleType) and n != "annotations"
    }
    assert public == set(names), public ^ set(names)


@pytest.mark.parametrize("blocked", ["boto3", "moto", "pulumi_aws"])
def test_missing_extra_names_the_install_command(blocked: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", BLOCKER.format(blocked=blocked)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last == (
        f"ImportError: inferstack.components.testing needs {blocked}: "
        "pip install 'inferstack[testing]'"
    )


def test_the_testing_extra_brings_boto3_and_the_mirrored_moto_services() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    testing_extra = " ".join(extras["testing"])
    assert "inferstack[aws]" in extras["testing"]
    assert "boto3" in testing_extra
    services = set(testing_extra.split("moto[", 1)[1].split("]", 1)[0].split(","))
    # Pulumi's module name -> moto's extra, where they differ; log groups need `logs`
    # and the caller-identity call needs `sts`. Security group rules (aws:vpc/) are EC2's,
    # load balancers (aws:lb/) ELBv2's, state machines (aws:sfn/) stepfunctions'; moto's
    # apigatewayv2 extra needs a subset of its apigateway extra's packages (PyYAML,
    # openapi-spec-validator).
    moto_extra = {
        "appautoscaling": "applicationautoscaling",
        "vpc": "ec2",
        "lb": "elbv2",
        "apigatewayv2": "apigateway",
        "sfn": "stepfunctions",
    }
    needed = {
        moto_extra.get(t.split(":")[1].split("/")[0], t.split(":")[1].split("/")[0])
        for t in testing.MIRRORS
        if t.startswith("aws:")  # the dynamic SageMaker endpoint mirrors into sagemaker
    }
    assert needed | {"logs", "sts"} <= services, (needed | {"logs", "sts"}) - services
    assert any("testing" in extra for extra in extras["dev"] if extra.startswith("inferstack["))
    assert not any(d.startswith(("moto", "boto3")) for d in extras["dev"])


def test_aws_calls_outside_moto_are_refused() -> None:
    from moto import mock_aws

    mocks = testing.MotoMocks("eu-west-1")
    with pytest.raises(testing.MotoNotActiveError, match=r"mock_aws\(\)"):
        mocks.client("s3")
    with mock_aws():
        assert mocks.client("sts").get_caller_identity()["Account"] == mocks.account_id
    with pytest.raises(testing.MotoNotActiveError):
        mocks.client("sts")
