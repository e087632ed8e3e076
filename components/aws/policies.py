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
# Actions that take no resource ("*" only) but that a condition key narrows: the action
# and the key that must scope it. SageMaker publishes its instance metrics (CPU, GPU,
# memory, disk) with the execution role, under /aws/sagemaker/Endpoints.
CONDITION_SCOPED_ACTIONS = {"cloudwatch:PutMetricData": "cloudwatch:namespace"}
INSTANCE_METRICS_NAMESPACES = ("/aws/sagemaker/*",)
# Services that do not send aws:SourceAccount / aws:SourceArn when they assume a role,
# so a trust condition on them never matches. API Gateway documents the trust policy of
# an AWS-service integration's credentials role ("Control access to a REST API with IAM
# permissions", apigateway/latest/developerguide/permissions.html) and of the account's
# CloudWatch logging role ("Set up CloudWatch logging for REST APIs",
# apigateway/latest/developerguide/set-up-logging.html) as the principal alone. EC2
# assumes an instance profile's role with the principal alone too ("IAM roles for Amazon
# EC2", AWSEC2/latest/UserGuide/iam-roles-for-amazon-ec2.html).
UNCONDITIONED_TRUST = ("apigateway.amazonaws.com", "ec2.amazonaws.com")


# Batch Transform jobs (`inferstack score --stack`) run the endpoint's model with this
# role and write their containers' logs to SageMaker's one log group for all transform
# jobs, in streams named <job>/<instance> ("Log Amazon SageMaker AI Events with Amazon
# CloudWatch"); SageMaker creates the group on the first job.
TRANSFORM_LOG_GROUP = "/aws/sagemaker/TransformJobs"


def sibling_log_group(log_group_arn: str, name: str) -> str:
    """The ARN of log group `name` in the account and region of `log_group_arn`."""
    prefix, _, _ = log_group_arn.partition(":log-group:")
    return f"{prefix}:log-group:{name}"


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
    """A role trust policy for AWS service `service`: on behalf of this account only,
    except for the services in UNCONDITIONED_TRUST, which never send the condition key
    and are trusted in the shape their documentation gives."""
    statement: Policy = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if service not in UNCONDITIONED_TRUST:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": account_id}}
    return _doc(statement)


def image_pull_statements(repository_arn: str) -> list[Policy]:
    """Pull one repository's images (and the registry login, which takes no resource)."""
    return [
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
    ]


def execution_role_policy(
    *,
    artifact_arns: list[str],
    write_prefix_arns: list[str],
    key_arn: str,
    repository_arn: str,
    log_group_arn: str,
    alarm_arns: list[str] | None = None,
    vpc: bool = False,
) -> Policy:
    """SageMaker's execution role: read the artifacts and pull the image, write capture and
    async output under its own prefixes and logs to its own log group, use the stack key,
    publish instance metrics, and read the rollback alarms (`alarm_arns`) it watches.
    Batch transform jobs of the same model log to SageMaker's transform log group.

    The logs and metrics grants are those of the CreateModel execution-role policy in
    SageMaker's "How to use SageMaker AI execution roles"; DescribeAlarms on the rollback
    alarms is what "Auto-Rollback Configuration and Monitoring" (deployment guardrails)
    asks for."""
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
        *image_pull_statements(repository_arn),
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:DescribeLogStreams",
            ],
            "Resource": [log_group_arn, f"{log_group_arn}:log-stream:*"],
        },
        {
            "Sid": "WriteTransformJobLogs",
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:DescribeLogStreams",
            ],
            "Resource": [
                sibling_log_group(log_group_arn, TRANSFORM_LOG_GROUP),
                f"{sibling_log_group(log_group_arn, TRANSFORM_LOG_GROUP)}:log-stream:*",
            ],
        },
        {
            # PutMetricData takes no resource; the namespace condition is its only scope.
            "Sid": "PublishInstanceMetrics",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {
                "StringLike": {"cloudwatch:namespace": list(INSTANCE_METRICS_NAMESPACES)}
            },
        },
    ]
    if alarm_arns:
        statements.append(
            {
                "Sid": "ReadRollbackAlarms",
                "Effect": "Allow",
                "Action": "cloudwatch:DescribeAlarms",
                "Resource": sorted(set(alarm_arns)),
            }
        )
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
