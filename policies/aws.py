"""Policy rules for the AWS target's resources."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from inferstack.components.aws.sizes import AWS_INSTANCE_STORE_FAMILIES
from inferstack.policies.base import Rule, Subject
from inferstack.policies.base import of as _of

# pulumi-aws renamed several S3 resources in v7; accept both tokens.
S3_BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
S3_ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
S3_PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
IAM_POLICY_TYPES = ("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy")
# Actions that AWS does not scope to a resource, so "Resource": "*" is their only form.
UNSCOPED_ACTIONS = frozenset(
    {
        "ecr:GetAuthorizationToken",
        "sagemaker:ListEndpoints",
        "logs:DescribeLogGroups",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "kms:ListAliases",
        "s3:ListAllMyBuckets",
        # ELBv2's Describe* actions have no resource-level permissions (the instance
        # group's drain agent waits on its target's deregistration with it).
        "elasticloadbalancing:DescribeTargetHealth",
        # What SageMaker needs to place an endpoint in a VPC, granted on "*" in its guide.
        "ec2:CreateNetworkInterface",
        "ec2:CreateNetworkInterfacePermission",
        "ec2:DeleteNetworkInterface",
        "ec2:DeleteNetworkInterfacePermission",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeVpcs",
        "ec2:DescribeDhcpOptions",
        "ec2:DescribeSubnets",
        "ec2:DescribeSecurityGroups",
    }
)
AUTHORIZED_METHODS = ("AWS_IAM", "CUSTOM", "COGNITO_USER_POOLS", "JWT")


def s3_encrypted_with_kms(resources: list[Subject]) -> Iterable[tuple[str, str | None]]:
    buckets = _of(resources, S3_BUCKETS)
    kms_configs = [
        c
        for c in _of(resources, S3_ENCRYPTION)
        if any(
            (rule.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm") == "aws:kms"
            for rule in c.props.get("rules", [])
        )
    ]
    if len(kms_configs) < len(buckets):
        yield (
            f"{len(buckets)} S3 buckets but only {len(kms_configs)} default-encrypt with aws:kms",
            None,
        )


def s3_public_access_blocked(resources: list[Subject]) -> Iterable[tuple[str, str | None]]:
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    buckets = _of(resources, S3_BUCKETS)
    blocks = [
        b
        for b in _of(resources, S3_PUBLIC_ACCESS_BLOCK)
        if all(b.props.get(f) is True for f in flags)
    ]
    if len(blocks) < len(buckets):
        yield (
            f"{len(buckets)} S3 buckets but only {len(blocks)} public access blocks with "
            f"all of {', '.join(flags)}",
            None,
        )


def sagemaker_encrypted(resources: list[Subject]) -> Iterable[tuple[str, str | None]]:
    for config in _of(resources, "aws:sagemaker/endpointConfiguration:EndpointConfiguration"):
        variants = config.props.get("productionVariants") or []
        # Serverless variants and instance-store families take no volume key: AWS encrypts
        # their storage itself and refuses a kmsKeyArn.
        keyless = variants and all(
            v.get("serverlessConfig")
            or str(v.get("instanceType", "")).startswith(AWS_INSTANCE_STORE_FAMILIES)
            for v in variants
        )
        if not config.props.get("kmsKeyArn") and not keyless:
            yield (
                "endpoint configuration has no kmsKeyArn: volumes are not encrypted with "
                "the stack's key",
                config.name,
            )


def api_methods_authorized(resources: list[Subject]) -> Iterable[tuple[str, str | None]]:
    for method in _of(resources, "aws:apigateway/method:Method"):
        if method.props.get("httpMethod") == "OPTIONS":
            continue
        if not method.props.get("apiKeyRequired") and (
            method.props.get("authorization") not in AUTHORIZED_METHODS
        ):
            yield ("method is open: set apiKeyRequired or an IAM/JWT authorizer", method.name)


# Actions that take no resource but that a condition key scopes: "Resource": "*" is
# accepted for them only with that key in the statement's Condition.
CONDITION_SCOPED_ACTIONS: Mapping[str, str] = {"cloudwatch:PutMetricData": "cloudwatch:namespace"}


def _condition_scoped(statement: Mapping[str, Any], actions: list[str]) -> bool:
    """Whether every action of `statement` is condition-scoped and its Condition sets the
    key that scopes it (under any operator)."""
    if not actions or not set(actions) <= set(CONDITION_SCOPED_ACTIONS):
        return False
    condition = statement.get("Condition") or {}
    keys = {key for block in condition.values() if isinstance(block, dict) for key in block}
    return all(CONDITION_SCOPED_ACTIONS[a] in keys for a in actions)


def log_retention_set(resources: list[Subject]) -> Iterable[tuple[str, str | None]]:
    for group in _of(resources, "aws:cloudwatch/logGroup:LogGroup"):
        if not group.props.get("retentionInDays"):
            yield "log group keeps logs forever: set retentionInDays", group.name


def iam_least_privilege(resources: list[Subject]) -> Iterable[tuple[str, str | None]]:
    for policy in _of(resources, IAM_POLICY_TYPES):
        document = policy.props.get("policy")
        if isinstance(document, str):
            try:
                document = json.loads(document)
            except json.JSONDecodeError:
                yield "policy document is not JSON", policy.name
                continue
        for statement in _statements(document):
            if statement.get("Effect", "Allow") != "Allow":
                continue
            actions = _as_list(statement.get("Action"))
            if any(a == "*" or a.endswith(":*") for a in actions):
                yield f"wildcard action in {actions}", policy.name
            resources_ = _as_list(statement.get("Resource"))
            if "*" not in resources_ or set(actions) <= UNSCOPED_ACTIONS:
                continue
            if _condition_scoped(statement, actions):
                continue
            scoped = sorted(set(actions) - UNSCOPED_ACTIONS)
            keys = sorted(
                {CONDITION_SCOPED_ACTIONS[a] for a in scoped if a in CONDITION_SCOPED_ACTIONS}
            )
            hint = f" (with Resource '*', scope them with a Condition on {keys})" if keys else ""
            yield f"Resource '*' for actions that can be scoped: {scoped}{hint}", policy.name


def sns_encrypted(resources: list[Subject]) -> Iterable[tuple[str, str | None]]:
    for topic in _of(resources, "aws:sns/topic:Topic"):
        if not topic.props.get("kmsMasterKeyId"):
            yield "topic is not encrypted: set kmsMasterKeyId", topic.name


def ecr_immutable_and_scanned(resources: list[Subject]) -> Iterable[tuple[str, str | None]]:
    for repo in _of(resources, "aws:ecr/repository:Repository"):
        if repo.props.get("imageTagMutability") != "IMMUTABLE":
            yield "image tags are mutable: a tag could be moved under a running endpoint", repo.name
        if not (repo.props.get("imageScanningConfiguration") or {}).get("scanOnPush"):
            yield "images are not scanned on push", repo.name


# inferstack's SageMaker endpoint is a Python dynamic resource (aws/endpoint_provider.py)
# whose `kind` input names it and whose deployment_config is UpdateEndpoint's own shape.
DYNAMIC_RESOURCE = "pulumi-python:dynamic:Resource"
SAGEMAKER_ENDPOINT_KIND = "sagemaker-endpoint"


def sagemaker_auto_rollback(resources: list[Subject]) -> Iterable[tuple[str, str | None]]:
    message = "updates do not roll back on alarms (rollout.auto_rollback)"
    for endpoint in _of(resources, "aws:sagemaker/endpoint:Endpoint"):
        rollback = (endpoint.props.get("deploymentConfig") or {}).get("autoRollbackConfiguration")
        if not (rollback or {}).get("alarms"):
            yield message, endpoint.name
    for endpoint in _of(resources, DYNAMIC_RESOURCE):
        if endpoint.props.get("kind") != SAGEMAKER_ENDPOINT_KIND:
            continue
        rollback = (endpoint.props.get("deployment_config") or {}).get("AutoRollbackConfiguration")
        if not (rollback or {}).get("Alarms"):
            yield message, endpoint.name


# EC2 hosts (the instance group's launch template; plain instances too). The provider
# takes the template's booleans as strings ("true"), the instance's as booleans.
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"


def _true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.lower() == "false")


def ec2_imdsv2_required(resources: list[Subject]) -> Iterable[tuple[str, str | None]]:
    for host in [*_of(resources, LAUNCH_TEMPLATE), *_of(resources, INSTANCE)]:
        options = host.props.get("metadataOptions") or {}
        if options.get("httpEndpoint") == "disabled":
            continue  # no metadata service at all
        if options.get("httpTokens") != "required":
            yield (
                "instance metadata answers IMDSv1 (no session token): set "
                "metadataOptions.httpTokens to required",
                host.name,
            )


def ec2_volumes_encrypted(resources: list[Subject]) -> Iterable[tuple[str, str | None]]:
    for template in _of(resources, LAUNCH_TEMPLATE):
        mappings = [m for m in template.props.get("blockDeviceMappings") or [] if m.get("ebs")]
        if not mappings:
            yield (
                "no block device mapping: the root volume keeps the AMI's encryption",
                (template.name),
            )
        for mapping in mappings:
            if not _true(mapping["ebs"].get("encrypted")):
                yield f"volume {mapping.get('deviceName')} is not encrypted", template.name
    for instance in _of(resources, INSTANCE):
        devices = [instance.props.get("rootBlockDevice") or {}]
        devices += instance.props.get("ebsBlockDevices") or []
        if not all(_true(d.get("encrypted")) for d in devices):
            yield "a volume is not encrypted", instance.name
    for volume in _of(resources, "aws:ebs/volume:Volume"):
        if not _true(volume.props.get("encrypted")):
            yield "volume is not encrypted", volume.name


def ec2_no_public_ip(resources: list[Subject]) -> Iterable[tuple[str, str | None]]:
    for template in _of(resources, LAUNCH_TEMPLATE):
        interfaces = template.props.get("networkInterfaces") or []
        if not interfaces or not all(_false(i.get("associatePublicIpAddress")) for i in interfaces):
            yield (
                "hosts may get a public address: set networkInterfaces[]."
                "associatePublicIpAddress to false",
                template.name,
            )
    for instance in _of(resources, INSTANCE):
        if not _false(instance.props.get("associatePublicIpAddress")):
            yield (
                "instance may get a public address: set associatePublicIpAddress false",
                (instance.name),
            )
    for subnet in _of(resources, "aws:ec2/subnet:Subnet"):
        if _true(subnet.props.get("mapPublicIpOnLaunch")):
            yield "subnet gives public addresses to what launches in it", subnet.name


def _statements(document: Any) -> list[dict[str, Any]]:
    if not isinstance(document, dict):
        return []
    statements = document.get("Statement", [])
    return [statements] if isinstance(statements, dict) else list(statements)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


RULES: tuple[Rule, ...] = (
    Rule(
        "s3-encrypted-with-kms",
        "S3 buckets default-encrypt with a KMS key.",
        "mandatory",
        s3_encrypted_with_kms,
    ),
    Rule(
        "s3-no-public-access",
        "S3 buckets block every form of public access.",
        "mandatory",
        s3_public_access_blocked,
    ),
    Rule(
        "sagemaker-kms",
        "SageMaker endpoint configurations encrypt with a KMS key.",
        "mandatory",
        sagemaker_encrypted,
    ),
    Rule(
        "api-auth-required",
        "Every API Gateway method needs a key or an authorizer.",
        "mandatory",
        api_methods_authorized,
    ),
    Rule("log-retention", "CloudWatch log groups set a retention.", "mandatory", log_retention_set),
    Rule(
        "iam-least-privilege",
        "IAM policies name actions and scope resources.",
        "mandatory",
        iam_least_privilege,
    ),
    Rule("sns-encrypted", "SNS topics encrypt with a KMS key.", "mandatory", sns_encrypted),
    Rule(
        "ecr-immutable-scanned",
        "ECR repositories keep tags immutable and scan images on push.",
        "mandatory",
        ecr_immutable_and_scanned,
    ),
    Rule(
        "ec2-imdsv2-required",
        "EC2 hosts answer instance metadata with IMDSv2 session tokens only.",
        "mandatory",
        ec2_imdsv2_required,
    ),
    Rule(
        "ec2-volumes-encrypted",
        "EC2 hosts' EBS volumes are encrypted.",
        "mandatory",
        ec2_volumes_encrypted,
    ),
    Rule(
        "ec2-no-public-ip",
        "EC2 hosts and subnets give no public IP addresses.",
        "mandatory",
        ec2_no_public_ip,
    ),
    Rule(
        "sagemaker-auto-rollback",
        "SageMaker endpoint updates roll back automatically on alarms.",
        "advisory",
        sagemaker_auto_rollback,
    ),
)
