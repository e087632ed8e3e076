"""`AwsEndpoint`: the spec on SageMaker, behind API Gateway, with logs, alarms, rollouts."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from inferstack.components.aws.alarms import rollback_alarm_names
from inferstack.components.aws.artifacts import variant_artifacts
from inferstack.components.aws.autoscaling import (
    EndpointAutoscaling,
    EndpointAutoscalingArgs,
    aws_cron,
)
from inferstack.components.aws.common import names_for
from inferstack.components.aws.context import AwsContext, context_for
from inferstack.components.aws.gateway import ApiGateway, ApiGatewayArgs
from inferstack.components.aws.gateway_backend import GatewayBackend, SageMakerBackend
from inferstack.components.aws.group_stack import declare_instance_group
from inferstack.components.aws.iam import ExecutionRole, ExecutionRoleArgs
from inferstack.components.aws.kms import StackKey, StackKeyArgs
from inferstack.components.aws.limits import rollout_share_note
from inferstack.components.aws.naming import SAGEMAKER_VARIANT
from inferstack.components.aws.observability import Observability, ObservabilityArgs
from inferstack.components.aws.registry import (
    ImageRepository,
    ImageRepositoryArgs,
    configured_image_uri,
    ecr_repository_arn,
)
from inferstack.components.aws.rules import aws_options, group_mode
from inferstack.components.aws.sagemaker import (
    MAX_ROLLBACK_ALARMS,
    SageMakerEndpoint,
    SageMakerEndpointArgs,
)
from inferstack.components.aws.storage import ArtifactStore, ArtifactStoreArgs
from inferstack.components.errors import SpecError
from inferstack.components.spec.config import check_local_bundle
from inferstack.components.spec.models import DeploymentSpec


@dataclass(frozen=True)
class AwsEndpointOptions:
    """AWS settings that are not part of the cloud-neutral spec."""

    image_uri: str | None = None
    """ECR image of the runtime every variant runs; overrides `targets.aws.image_uri`.
    Default: images built from the bundles and pushed to this deployment's repository."""
    manage_account_logging: bool | None = None
    """Overrides `targets.aws.manage_account_logging` (None: the spec's setting, off by
    default): set API Gateway's account-wide CloudWatch logging role."""


def validate(spec: DeploymentSpec, options: AwsEndpointOptions) -> None:
    """Refuse what the spec's rules cannot know: bundle files, cron syntax, the rollback
    alarm count and the image reference (the rest is in `aws/rules.py`)."""
    problems: list[str] = []
    if spec.target != "aws":
        problems.append(f"deployment.target: AwsEndpoint needs target aws, got {spec.target!r}")
    try:  # every local artifact is a bundle of the variant's version (as on local)
        check_local_bundle(spec)
    except SpecError as err:
        problems += err.problems
    for i, window in enumerate(spec.scaling.schedules):
        try:
            aws_cron(window.cron)
        except ValueError as err:
            problems.append(f"deployment.scaling.schedules.{i}.cron: {err}")
    sagemaker_rollout = aws_options(spec).mode != "serverless" and not group_mode(spec)
    if sagemaker_rollout:  # serverless and the instance group have no deployment config
        problems += _rollback_alarm_problems(spec)
    problems += _image_problems(spec, options)
    problems += _name_problems(spec)
    if problems:
        raise SpecError(problems)
    note = rollout_share_note(spec)
    if note:
        pulumi.log.info(note)


def _image_problems(spec: DeploymentSpec, options: AwsEndpointOptions) -> list[str]:
    """The image must be ECR; an s3:// artifact has no bundle to build one from, and this
    stack's repository is empty until this `up` has run, so it needs an image set."""
    field = "image_uri" if options.image_uri else "deployment.targets.aws.image_uri"
    image_uri = configured_image_uri(spec, options.image_uri)
    if image_uri:
        try:
            ecr_repository_arn(image_uri, "aws")
        except ValueError as err:
            return [f"{field}: {err}"]
        return []
    in_s3 = [a for a in variant_artifacts(spec) if not a.uploaded]
    return [
        f"deployment.targets.aws.image_uri: variant {a.variant!r} serves {a.source}, which "
        "has no bundle to build an image from; push the runtime image built from that "
        "bundle (inferstack build, linux/amd64, the spec's CPU or GPU flavour) to ECR and "
        "set its URI here"
        for a in in_s3[:1]
    ]


def _name_problems(spec: DeploymentSpec) -> list[str]:
    """Variant names are SageMaker VariantNames as given (callers and metrics use them), so
    one SageMaker refuses is refused here rather than renamed. The other names are fitted
    to their rules (aws/naming.py); the stack name is shortened with a hash there."""
    return [
        f"deployment.rollout.variants.{i}.name: {v.name!r} is not a SageMaker variant name "
        f"({'; '.join(SAGEMAKER_VARIANT.problems(v.name))}); end it with a letter or digit"
        for i, v in enumerate(spec.rollout.variants)
        if SAGEMAKER_VARIANT.problems(v.name)
    ]


def _rollback_alarm_problems(spec: DeploymentSpec) -> list[str]:
    """A deployment config holds at most MAX_ROLLBACK_ALARMS alarms; UpdateEndpoint
    refuses more."""
    if not spec.rollout.auto_rollback:
        return []
    # Names do not change the count; a placeholder stack keeps this Pulumi-free.
    names = names_for("validate", spec, stack="validate")
    alarms = rollback_alarm_names(spec, names)
    if len(alarms) <= MAX_ROLLBACK_ALARMS:
        return []
    return [
        f"deployment.rollout.variants: {len(names.variants)} variants (primary included) "
        f"make {len(alarms)} rollback alarms and SageMaker watches at most "
        f"{MAX_ROLLBACK_ALARMS}; use fewer variants or auto_rollback: false"
    ]


class AwsEndpoint(pulumi.ComponentResource):
    """A model deployment on AWS: KMS key, S3 artifacts, ECR, execution role, SageMaker
    endpoint with blue/green rollouts, autoscaling, API Gateway, logs, alarms, dashboard;
    or, in mode instance_group, a spot GPU Auto Scaling group behind an internal load
    balancer that the same API Gateway reaches through a VPC link."""

    url: pulumi.Output[str]
    """Base URL of the API (POST {url}/invocations)."""
    api_key: pulumi.Output[str]
    """The caller API key, a secret ("" unless gateway.auth is api_key)."""
    dashboard_url: pulumi.Output[str]
    """CloudWatch dashboard in the console ("" when off)."""
    endpoint_name: pulumi.Output[str]
    """The SageMaker endpoint's name (the Auto Scaling group's in mode instance_group)."""

    def __init__(
        self,
        name: str,
        spec: DeploymentSpec,
        opts: pulumi.ResourceOptions | None = None,
        *,
        options: AwsEndpointOptions | None = None,
    ) -> None:
        options = options or AwsEndpointOptions()
        validate(spec, options)
        super().__init__("inferstack:aws:AwsEndpoint", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ctx = context_for(name, spec)
        key = StackKey(f"{name}-kms", StackKeyArgs(ctx), opts=child)
        store = ArtifactStore(f"{name}-artifacts", ArtifactStoreArgs(ctx, key.arn), opts=child)
        images = ImageRepository(
            f"{name}-images", ImageRepositoryArgs(ctx, key.arn, options.image_uri), opts=child
        )
        backend: GatewayBackend
        if group_mode(spec):
            parts = declare_instance_group(name, ctx, key.arn, store, images, self)
            observability, backend = parts.observability, parts.backend
            endpoint_name = parts.group_name
        else:
            observability, backend = _declare_sagemaker(name, ctx, key, store, images, self)
            endpoint_name = pulumi.Output.from_input(backend.endpoint_name)
        gateway = ApiGateway(
            f"{name}-gateway",
            ApiGatewayArgs(
                ctx,
                backend=backend,
                access_log_group_arn=observability.access_log_group_arn,
                key_arn=key.arn,
                manage_account_logging=options.manage_account_logging,
            ),
            opts=child,
        )
        self.url = gateway.url
        self.api_key = gateway.api_key
        self.dashboard_url = observability.dashboard_url
        self.endpoint_name = endpoint_name
        self.register_outputs(
            {
                "url": self.url,
                "api_key": self.api_key,
                "dashboard_url": self.dashboard_url,
                "endpoint_name": self.endpoint_name,
            }
        )


def _declare_sagemaker(
    name: str,
    ctx: AwsContext,
    key: StackKey,
    store: ArtifactStore,
    images: ImageRepository,
    parent: pulumi.Resource,
) -> tuple[Observability, SageMakerBackend]:
    """SageMaker's side of `AwsEndpoint`: execution role, observability, the endpoint and
    its autoscaling (children of `parent`, named as they always were)."""
    spec = ctx.spec
    child = pulumi.ResourceOptions(parent=parent)
    role = ExecutionRole(
        f"{name}-execution",
        ExecutionRoleArgs(
            ctx,
            read_arns=store.read_arns,
            write_arns=store.write_arns,
            key_arn=key.arn,
            repository_arn=images.repository_arn,
        ),
        opts=child,
    )
    observability = Observability(
        f"{name}-observability", ObservabilityArgs(ctx, key.arn), opts=child
    )
    endpoint = SageMakerEndpoint(
        f"{name}-sagemaker",
        SageMakerEndpointArgs(
            ctx,
            role_arn=role.arn,
            image_uris=images.image_uris,
            model_data_urls=store.model_data_urls,
            key_arn=key.arn,
            capture_uri=store.capture_uri,
            async_output_uri=store.async_output_uri,
            rollback_alarms=rollback_alarm_names(spec, ctx.names),
        ),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[role, observability]),
    )
    if aws_options(spec).mode != "serverless":
        EndpointAutoscaling(
            f"{name}-autoscaling",
            EndpointAutoscalingArgs(ctx, endpoint.endpoint_name),
            opts=child,
        )
    return observability, SageMakerBackend(endpoint.endpoint_name, endpoint.endpoint_arn)
