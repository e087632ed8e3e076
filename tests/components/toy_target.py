"""A throwaway target defined only in the tests: proof that a target is one folder.

It declares a profile, typed options, a rule, a component and plan fakes, exactly as
`components/<target>/target.py` does, and nothing else in the tree names it.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pydantic import Field

from inferstack.components.spec.models import DeploymentSpec
from inferstack.components.spec.options import TargetOptions
from inferstack.components.spec.rules import SpecRuleError
from inferstack.components.target import Target, TargetProfile

TOY_TOKEN = "toy:index/box:Box"


class ToyOptions(TargetOptions):
    """Settings of the toy target."""

    color: str = Field("blue", description="Paint of the box.")
    size: int = Field(1, ge=1, le=3, description="Size of the box.")


def _no_red_in_prod(spec: DeploymentSpec) -> None:
    options = spec.options
    if isinstance(options, ToyOptions) and spec.environment == "prod" and options.color == "red":
        raise SpecRuleError("targets.toy.color", "red boxes are not allowed in prod")


class ToyBox(pulumi.CustomResource):
    """A resource of a provider that exists only under the mocks."""

    url: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions) -> None:
        super().__init__(TOY_TOKEN, name, {**props, "url": None}, opts)


class ToyEndpoint(pulumi.ComponentResource):
    """The toy target's endpoint: one box painted from the spec's settings."""

    def __init__(
        self, name: str, spec: DeploymentSpec, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("inferstack:toy:ToyEndpoint", name, None, opts)
        options = spec.options
        assert isinstance(options, ToyOptions)
        box = ToyBox(
            f"{name}-box",
            {"color": options.color, "size": options.size, "model": spec.model.name},
            pulumi.ResourceOptions(parent=self),
        )
        self.url = box.url
        self.api_key = pulumi.Output.secret("toy-key")
        self.dashboard_url = pulumi.Output.from_input("")
        # A target's own stack outputs beside the common three.
        self.extra_outputs = {"toy_color": pulumi.Output.from_input(options.color)}
        self.register_outputs({"url": self.url})


def _box(args: pulumi.runtime.MockResourceArgs) -> dict[str, Any]:
    return {"url": f"https://{args.inputs['color']}.toy.example/{args.name}"}


RESOURCE_FAKES = {TOY_TOKEN: _box}
CALL_FAKES: dict[str, Any] = {}

TARGET = Target(
    name="toy",
    profile=TargetProfile(
        name="toy",
        default_region="toy-1",
        instance_types={"none": "toy.small"},
        autoscaling=False,
        auth_modes=("api_key",),
    ),
    options=ToyOptions,
    rules=(_no_red_in_prod,),
    component="tests.components.toy_target:ToyEndpoint",
    plan_fakes=("tests.components.toy_target",),
)
