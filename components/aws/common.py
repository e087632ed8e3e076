"""Small helpers every AWS module shares: physical names, tags, ARNs.

SageMaker, API Gateway and CloudWatch names are fixed up front (not left to
Pulumi's auto-naming) where another resource must know them before they exist:
the execution role names the endpoint's log group, alarms name the endpoint and
variant, and the endpoint's rollback config names the alarms.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from inferstack.components.aws.naming import (
    LOG_GROUP,
    METRIC_ALARM,
    SAGEMAKER_ENDPOINT,
    NameRule,
    fit,
)
from inferstack.components.spec.models import DeploymentSpec

SAGEMAKER_NAMESPACE = "/aws/sagemaker/Endpoints"
# The runtime's own metrics, as `inferstack.runtime.emf` prints them (EMF on stdout).
RUNTIME_NAMESPACE = "inferstack"
DRIFT_METRIC = "DriftScore"


def partition(region: str) -> str:
    """The ARN partition of `region` (aws, aws-cn, aws-us-gov)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def physical_name(*parts: str, rule: NameRule = SAGEMAKER_ENDPOINT) -> str:
    """`parts` joined by '-' as a name `rule` accepts (default: a SageMaker endpoint's),
    shortened with a stable hash if too long (aws/naming.py)."""
    return fit(rule, *parts)


@dataclass(frozen=True)
class Names:
    """The fixed physical names of one deployment, derived from its name and stack."""

    endpoint: str
    """SageMaker endpoint name (also names the alarms, log group and dashboard)."""
    variants: tuple[str, ...]
    """Production variant names, primary first."""
    api: str
    """API Gateway REST API name."""
    stage: str
    """API Gateway stage name."""

    @property
    def endpoint_log_group(self) -> str:
        """Where SageMaker writes the containers' logs."""
        return fit(LOG_GROUP, f"{SAGEMAKER_NAMESPACE}/{self.endpoint}")

    @property
    def access_log_group(self) -> str:
        """Where API Gateway writes JSON access logs."""
        return fit(LOG_GROUP, f"/aws/apigateway/{self.api}/access")

    @property
    def batch_input(self) -> str:
        """Bucket key prefix the execution role reads batch transform input from."""
        return f"batch/{self.endpoint}/input"

    @property
    def batch_output(self) -> str:
        """Bucket key prefix the execution role writes batch transform results to."""
        return f"batch/{self.endpoint}/output"

    def alarm(self, what: str, variant: str | None = None) -> str:
        """The name of alarm `what` (on `variant`, if given)."""
        return fit(METRIC_ALARM, self.endpoint, variant or "", what)


def names_for(name: str, spec: DeploymentSpec, stack: str | None = None) -> Names:
    """The physical names of deployment `name` of `spec` in stack `stack` (default: current)."""
    stack = stack if stack is not None else pulumi.get_stack()
    endpoint = physical_name(name, stack)
    variants = (primary_variant(spec), *(v.name for v in spec.rollout.variants))
    return Names(endpoint=endpoint, variants=variants, api=endpoint, stage=spec.environment)


def primary_variant(spec: DeploymentSpec) -> str:
    """The primary production variant's name."""
    return "primary"


def resource_tags(spec: DeploymentSpec, **extra: str) -> dict[str, str]:
    """Tags for every resource: the spec's, plus who manages it."""
    return {
        "inferstack:model": spec.model.name,
        "inferstack:version": spec.model.version,
        "inferstack:environment": spec.environment,
        **spec.tags,
        **extra,
    }
