"""Where a deployment lives: account, region, partition, and its fixed names."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from inferstack.components.aws.common import Names, names_for, partition, resource_tags
from inferstack.components.spec.models import DeploymentSpec


@dataclass(frozen=True)
class AwsContext:
    """What every AWS child component needs besides the spec."""

    spec: DeploymentSpec
    """The validated deployment spec."""
    names: Names
    """Fixed physical names (endpoint, variants, API, stage)."""
    region: str
    """Region the resources are created in."""
    partition: str
    """ARN partition of the region."""
    account_id: pulumi.Output[str]
    """The account the provider deploys into."""

    @property
    def tags(self) -> dict[str, str]:
        """Tags for every resource."""
        return resource_tags(self.spec)

    def arn(self, service: str, resource: str, *, regional: bool = True) -> pulumi.Output[str]:
        """An ARN in this account, e.g. `arn("logs", "log-group:/aws/x")`."""
        region = self.region if regional else ""
        return self.account_id.apply(
            lambda account: f"arn:{self.partition}:{service}:{region}:{account}:{resource}"
        )


def deployment_region(spec: DeploymentSpec) -> str:
    """The spec's region, else the provider's `aws:region`, else the target's default."""
    configured = pulumi.Config("aws").get("region")
    return spec.region or configured or spec.resolved_region or "us-east-1"


def context_for(name: str, spec: DeploymentSpec) -> AwsContext:
    """The context of deployment `name`; reads the account through `getCallerIdentity`."""
    region = deployment_region(spec)
    identity = aws.get_caller_identity_output()
    return AwsContext(
        spec=spec,
        names=names_for(name, spec),
        region=region,
        partition=partition(region),
        account_id=identity.account_id,
    )
