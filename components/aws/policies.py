"""IAM, KMS, S3 and API Gateway policy documents as plain functions.

Each function takes concrete strings (resolved ARNs) and returns a policy
document (a dict), so tests can read the least-privilege rules without Pulumi.
Components call them inside `Output.all(...).apply(...)`.
"""

from __future__ import annotations

from typing import Any

Policy = dict[str, Any]

# ecr:GetAuthorizationToken has no resource-level permissions: AWS only accepts "*".
# It grants a registry login token and nothing else; image pulls are scoped below.
TOKEN_ONLY_ACTIONS = ("ecr:GetAuthorizationToken",)


def _doc(*statements: Policy) -> Policy:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def kms_key_policy(account_id: str, region: str, partition: str) -> Policy:
    """The stack key's policy: the account administers it (IAM policies apply), CloudWatch
    Logs encrypts this account's log groups with it, CloudWatch alarms publish to the
    encrypted SNS topic."""
    root = f"arn:{partition}:iam::{account_id}:root"
    log_groups = f"arn:{partition}:logs:{region}:{account_id}:log-group:*"
    return _doc(
        {
            "Sid": "AccountAdministers",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "CloudWatchLogsEncrypt",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.amazonaws.com"},
            "Action": [
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            "Resource": "*",
            "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups}},
        },
        {
            "Sid": "CloudWatchAlarmsPublish",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        },
    )


def bucket_policy(bucket_arn: str, key_arn: str) -> Policy:
    """TLS only, and objects written with a KMS key may only use the stack's key."""
    return _doc(
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Sid": "DenyOtherKmsKeys",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/*",
            "Condition": {
                "StringNotEqualsIfExists": {
                    "s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn
                }
            },
        },
    )


def service_trust(service: str, account_id: str) -> Policy:
    """A role trust policy for AWS service `service`, only on behalf of this account."""
    return _doc(
        {
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        }
    )


def execution_role_policy(
    *,
    artifact_arns: list[str],
    write_prefix_arns: list[str],
    key_arn: str,
    repository_arn: str,
    log_group_arn: str,
    vpc: bool = False,
) -> Policy:
    """SageMaker's execution role: read the artifacts and pull the image, write capture and
    async output under its own prefixes and logs to its own log group, use the stack key."""
    statements: list[Policy] = [
        {
            "Sid": "ReadArtifacts",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": sorted(set(artifact_arns)),
        },
        {
            "Sid": "WriteOwnPrefixes",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": sorted(set(write_prefix_arns)),
        },
        {
            "Sid": "UseStackKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey", "kms:CreateGrant", "kms:DescribeKey"],
            "Resource": key_arn,
        },
        {
            "Sid": "PullImage",
            "Effect": "Allow",
            "Action": [
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchCheckLayerAvailability",
            ],
            "Resource": repository_arn,
        },
        {
            "Sid": "RegistryLogin",
            "Effect": "Allow",
            "Action": list(TOKEN_ONLY_ACTIONS),
            "Resource": "*",
        },
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            "Resource": [log_group_arn, f"{log_group_arn}:log-stream:*"],
        },
    ]
    if vpc:
        # ENI management in the spec's subnets, as SageMaker's VPC guide grants it: on "*".
        # (aws:CalledVia cannot pin it: SageMaker assumes this role rather than forwarding
        # a caller's session, so such a condition would deny every ENI it creates.)
        statements.append(
            {
                "Sid": "ManageVpcInterfaces",
                "Effect": "Allow",
                "Action": [
                    "ec2:CreateNetworkInterface",
                    "ec2:CreateNetworkInterfacePermission",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DeleteNetworkInterfacePermission",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeVpcs",
                    "ec2:DescribeDhcpOptions",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeSecurityGroups",
                ],
                "Resource": "*",
            }
        )
    return _doc(*statements)


def invoke_policy(endpoint_arn: str, *, asynchronous: bool = False) -> Policy:
    """API Gateway's integration role: invoke this one endpoint, nothing else."""
    action = "sagemaker:InvokeEndpointAsync" if asynchronous else "sagemaker:InvokeEndpoint"
    return _doc(
        {"Sid": "InvokeOwnEndpoint", "Effect": "Allow", "Action": action, "Resource": endpoint_arn}
    )


def log_delivery_policy(partition: str, region: str, account_id: str) -> Policy:
    """API Gateway's account-wide logging role. The setting is one per account and region,
    so it covers every inferstack API there: access and execution log groups only."""
    prefix = f"arn:{partition}:logs:{region}:{account_id}:log-group"
    groups = [f"{prefix}:/aws/apigateway/*", f"{prefix}:API-Gateway-Execution-Logs_*"]
    return _doc(
        {
            "Sid": "WriteGatewayLogs",
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:DescribeLogGroups",
                "logs:DescribeLogStreams",
                "logs:GetLogEvents",
                "logs:FilterLogEvents",
            ],
            "Resource": sorted([*groups, *(f"{g}:log-stream:*" for g in groups)]),
        }
    )


def api_resource_policy(allowed_cidrs: tuple[str, ...], account_root: str | None = None) -> Policy:
    """Allow invoking the API; from `allowed_cidrs` only when any are given.

    With IAM auth pass `account_root` (`arn:<partition>:iam::<account>:root`): an allow
    for `*` would let a signed caller of any other account in whose own IAM policy
    `execute-api:Invoke` is allowed; naming the account keeps callers to its principals.
    """
    allow: Policy = {
        "Effect": "Allow",
        "Principal": {"AWS": account_root} if account_root else "*",
        "Action": "execute-api:Invoke",
        "Resource": "execute-api:/*",
    }
    if not allowed_cidrs:
        return _doc(allow)
    deny: Policy = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "execute-api:Invoke",
        "Resource": "execute-api:/*",
        "Condition": {"NotIpAddress": {"aws:SourceIp": list(allowed_cidrs)}},
    }
    return _doc(allow, deny)
