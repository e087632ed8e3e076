"""Physical names that AWS accepts: one rule per resource type, and one way to fit a name.

Every name the AWS target sets goes through `fit(rule, ...)`, and every resource left
to Pulumi's auto-naming gets its logical name through `auto_logical(rule, ...)`, so
that `<logical>-<7 hex>` fits. A name that already fits comes back unchanged (deployed
stacks keep their names); one that does not is cleaned to the rule's characters and,
if still too long, cut and ended with 8 hex characters of a hash of the whole name, so
it stays unique and the same on every run.

Each rule cites the AWS page that states it. Where AWS documents no length limit
(API Gateway's API, key, usage plan and authorizer names), `documented` is False and
the limit is our own cap.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from inferstack.components.errors import DeployError

AUTO_SUFFIX = 8
"""What Pulumi's auto-naming adds to a logical name: '-' and 7 random hex characters."""
DIGEST = 8
"""Hex characters of the hash that ends a shortened name."""


class NameFitError(DeployError):
    """A name cannot be made to fit its AWS rule (a bug in how names are put together)."""


@dataclass(frozen=True)
class NameRule:
    """What AWS accepts as the name of one resource type."""

    what: str
    """The resource and its name field, for messages."""
    token: str
    """The Pulumi type token of the resource."""
    field: str
    """The input that holds the name (camelCase, as the plan records it)."""
    max_length: int
    pattern: str
    """A regex the whole name must match (length apart)."""
    source: str
    """The AWS page that states the rule."""
    min_length: int = 1
    invalid: str = r"[^A-Za-z0-9-]+"
    """Runs of characters to replace with '-' when fitting."""
    edges: str = "-"
    """Characters that may not start or end a name (stripped when fitting)."""
    lower: bool = False
    """Lower-case only (fitting lower-cases)."""
    collapse: str | None = None
    """Runs of separators that may not follow each other (fitting keeps the first)."""
    forbidden_prefixes: tuple[str, ...] = ()
    """Prefixes AWS reserves (fitting puts 'x' in front)."""
    autonamed: bool = False
    """Whether the stack may leave this name to Pulumi's auto-naming."""
    documented: bool = True
    """False where AWS states no length limit and `max_length` is our own cap."""

    def problems(self, name: str) -> list[str]:
        """Why AWS would refuse `name` (empty when it fits)."""
        out = []
        if not self.min_length <= len(name) <= self.max_length:
            out.append(f"{len(name)} characters, not {self.min_length}-{self.max_length}")
        if not re.fullmatch(self.pattern, name):
            out.append(f"does not match {self.pattern}")
        if self.lower and name != name.lower():
            out.append("is not lower-case")
        reserved = [p for p in self.forbidden_prefixes if name.startswith(p)]
        out += [f"starts with reserved {p!r}" for p in reserved]
        return out


# SageMaker resource names: CreateEndpoint, CreateEndpointConfig, CreateModel and
# ProductionVariant.VariantName share one pattern, 63 characters at most.
_SAGEMAKER = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
_API = "https://docs.aws.amazon.com/{}"

SAGEMAKER_ENDPOINT = NameRule(
    "SageMaker endpoint name",
    "pulumi-python:dynamic:Resource",  # aws/endpoint_provider.py (kind sagemaker-endpoint)
    "name",
    63,
    _SAGEMAKER,
    _API.format("sagemaker/latest/APIReference/API_CreateEndpoint.html"),
)
SAGEMAKER_ENDPOINT_CONFIG = NameRule(
    "SageMaker endpoint configuration name",
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
    "name",
    63,
    _SAGEMAKER,
    _API.format("sagemaker/latest/APIReference/API_CreateEndpointConfig.html"),
    autonamed=True,
)
SAGEMAKER_MODEL = NameRule(
    "SageMaker model name",
    "aws:sagemaker/model:Model",
    "name",
    63,
    _SAGEMAKER,
    _API.format("sagemaker/latest/APIReference/API_CreateModel.html"),
    autonamed=True,
)
SAGEMAKER_VARIANT = NameRule(
    "SageMaker production variant name",
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
    "productionVariants[].variantName",
    63,
    _SAGEMAKER,
    _API.format("sagemaker/latest/APIReference/API_ProductionVariant.html"),
)
IAM_ROLE = NameRule(
    "IAM role name",
    "aws:iam/role:Role",
    "name",
    64,
    r"[\w+=,.@-]+",
    _API.format("IAM/latest/APIReference/API_CreateRole.html"),
    invalid=r"[^\w+=,.@-]+",
    edges="",
    autonamed=True,
)
IAM_ROLE_POLICY = NameRule(
    "IAM inline policy name",
    "aws:iam/rolePolicy:RolePolicy",
    "name",
    128,
    r"[\w+=,.@-]+",
    _API.format("IAM/latest/APIReference/API_PutRolePolicy.html"),
    invalid=r"[^\w+=,.@-]+",
    edges="",
    autonamed=True,
)
S3_BUCKET = NameRule(
    "S3 bucket name",
    "aws:s3/bucket:Bucket",
    "bucket",
    63,
    r"[a-z0-9][a-z0-9.-]*[a-z0-9]",
    _API.format("AmazonS3/latest/userguide/bucketnamingrules.html"),
    min_length=3,
    invalid=r"[^a-z0-9.-]+",
    edges="-.",
    lower=True,
    collapse=r"\.\.+",
    forbidden_prefixes=("xn--", "sthree-", "amzn-s3-demo-"),
    autonamed=True,
)
ECR_REPOSITORY = NameRule(
    "ECR repository name",
    "aws:ecr/repository:Repository",
    "name",
    256,
    r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*",
    _API.format("AmazonECR/latest/APIReference/API_CreateRepository.html"),
    min_length=2,
    invalid=r"[^a-z0-9._/-]+",
    edges="._-/",
    lower=True,
    collapse=r"[._-]{2,}",
)
KMS_ALIAS = NameRule(
    "KMS alias name",
    "aws:kms/alias:Alias",
    "name",
    256,
    r"alias/(?!aws/)[a-zA-Z0-9/_-]+",
    _API.format("kms/latest/APIReference/API_CreateAlias.html"),
    invalid=r"[^a-zA-Z0-9/_-]+",
    edges="",
)
LOG_GROUP = NameRule(
    "CloudWatch Logs log group name",
    "aws:cloudwatch/logGroup:LogGroup",
    "name",
    512,
    r"[.\-_/#A-Za-z0-9]+",
    _API.format("AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html"),
    invalid=r"[^.\-_/#A-Za-z0-9]+",
    edges="",
)
METRIC_ALARM = NameRule(
    "CloudWatch alarm name",
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "name",
    255,
    r"[^\x00-\x1f\x7f]+",  # any UTF-8 but ASCII control characters
    _API.format("AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html"),
    invalid=r"[\x00-\x1f\x7f]+",
    edges="",
)
DASHBOARD = NameRule(
    "CloudWatch dashboard name",
    "aws:cloudwatch/dashboard:Dashboard",
    "dashboardName",
    255,
    r"[A-Za-z0-9_-]+",
    _API.format("AmazonCloudWatch/latest/APIReference/API_PutDashboard.html"),
    invalid=r"[^A-Za-z0-9_-]+",
    edges="",
)
SNS_TOPIC = NameRule(
    "SNS topic name",
    "aws:sns/topic:Topic",
    "name",
    256,
    r"[A-Za-z0-9_-]+",
    _API.format("sns/latest/api/API_CreateTopic.html"),
    invalid=r"[^A-Za-z0-9_-]+",
    edges="",
)
WEB_ACL = NameRule(
    "WAF web ACL name",
    "aws:wafv2/webAcl:WebAcl",
    "name",
    128,
    r"[\w-]+",
    _API.format("waf/latest/APIReference/API_CreateWebACL.html"),
    invalid=r"[^\w-]+",
    edges="",
)
WAF_METRIC = NameRule(
    "WAF visibility config metric name",
    "aws:wafv2/webAcl:WebAcl",
    "visibilityConfig.metricName",
    128,
    r"[\w#:.\-/]+",
    _API.format("waf/latest/APIReference/API_VisibilityConfig.html"),
    invalid=r"[^\w#:.\-/]+",
    edges="",
)
SCALING_POLICY = NameRule(
    "Application Auto Scaling policy name",
    "aws:appautoscaling/policy:Policy",
    "name",
    256,
    r"[\x20-\x7e]+",  # \p{Print}
    _API.format("autoscaling/application/APIReference/API_PutScalingPolicy.html"),
    invalid=r"[^\x20-\x7e]+",
    edges=" ",
    autonamed=True,
)
SCHEDULED_ACTION = NameRule(
    "Application Auto Scaling scheduled action name",
    "aws:appautoscaling/scheduledAction:ScheduledAction",
    "name",
    256,
    r"[^\x00-\x1f\x7f-\x9f:/| ]([^\x00-\x1f\x7f-\x9f:/|]*[^\x00-\x1f\x7f-\x9f:/| ])?",
    _API.format("autoscaling/application/APIReference/API_PutScheduledAction.html"),
    invalid=r"[\x00-\x1f\x7f-\x9f:/|]+",
    edges=" ",
    autonamed=True,
)
API_STAGE = NameRule(
    "API Gateway stage name",
    "aws:apigateway/stage:Stage",
    "stageName",
    128,
    r"[A-Za-z0-9_-]+",
    _API.format("apigateway/latest/api/API_Stage.html"),
    invalid=r"[^A-Za-z0-9_-]+",
    edges="",
)
# CreateRestApi, CreateApiKey, CreateUsagePlan and CreateAuthorizer state no length or
# characters for `name`; 255 is our own cap, and the names keep to the endpoint's set.
REST_API = NameRule(
    "API Gateway REST API name",
    "aws:apigateway/restApi:RestApi",
    "name",
    255,
    r"[A-Za-z0-9_-]+",
    _API.format("apigateway/latest/api/API_CreateRestApi.html"),
    documented=False,
)
API_KEY = NameRule(
    "API Gateway API key name",
    "aws:apigateway/apiKey:ApiKey",
    "name",
    255,
    r"[A-Za-z0-9_-]+",
    _API.format("apigateway/latest/api/API_CreateApiKey.html"),
    documented=False,
)
USAGE_PLAN = NameRule(
    "API Gateway usage plan name",
    "aws:apigateway/usagePlan:UsagePlan",
    "name",
    255,
    r"[A-Za-z0-9_-]+",
    _API.format("apigateway/latest/api/API_CreateUsagePlan.html"),
    documented=False,
)
AUTHORIZER = NameRule(
    "API Gateway authorizer name",
    "aws:apigateway/authorizer:Authorizer",
    "name",
    255,
    r"[A-Za-z0-9_-]+",
    _API.format("apigateway/latest/api/API_CreateAuthorizer.html"),
    documented=False,
    autonamed=True,
)

# The instance group's resources (mode instance_group).
_ELB = r"(?!internal-)[A-Za-z0-9](-?[A-Za-z0-9])*"
LOAD_BALANCER = NameRule(
    "Elastic Load Balancing load balancer name",
    "aws:lb/loadBalancer:LoadBalancer",
    "name",
    32,
    _ELB,
    _API.format("elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html"),
    collapse=r"--+",
    forbidden_prefixes=("internal-",),
    autonamed=True,
)
TARGET_GROUP = NameRule(
    "Elastic Load Balancing target group name",
    "aws:lb/targetGroup:TargetGroup",
    "name",
    32,
    r"[A-Za-z0-9](-?[A-Za-z0-9])*",
    _API.format("elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html"),
    collapse=r"--+",
    autonamed=True,
)
LAUNCH_TEMPLATE = NameRule(
    "EC2 launch template name",
    "aws:ec2/launchTemplate:LaunchTemplate",
    "name",
    128,
    r"[a-zA-Z0-9().\-/_]+",
    _API.format("AWSEC2/latest/APIReference/API_CreateLaunchTemplate.html"),
    min_length=3,
    invalid=r"[^a-zA-Z0-9().\-/_]+",
    edges="",
    autonamed=True,
)
AUTOSCALING_GROUP = NameRule(
    "EC2 Auto Scaling group name",
    "aws:autoscaling/group:Group",
    "name",
    255,
    r"[A-Za-z0-9_.-]+",  # AWS allows more; colons would break its ARN-form references
    _API.format("autoscaling/ec2/APIReference/API_CreateAutoScalingGroup.html"),
    invalid=r"[^A-Za-z0-9_.-]+",
    edges="",
)
LIFECYCLE_HOOK = NameRule(
    "EC2 Auto Scaling lifecycle hook name",
    "aws:autoscaling/lifecycleHook:LifecycleHook",
    "name",
    255,
    r"[A-Za-z0-9\-_/]+",
    _API.format("autoscaling/ec2/APIReference/API_PutLifecycleHook.html"),
    invalid=r"[^A-Za-z0-9\-_/]+",
    edges="",
)
AUTOSCALING_POLICY = NameRule(
    "EC2 Auto Scaling policy name",
    "aws:autoscaling/policy:Policy",
    "name",
    255,
    r"[\x20-\x7e]+",
    _API.format("autoscaling/ec2/APIReference/API_PutScalingPolicy.html"),
    invalid=r"[^\x20-\x7e]+",
    edges=" ",
    autonamed=True,
)
INSTANCE_PROFILE = NameRule(
    "IAM instance profile name",
    "aws:iam/instanceProfile:InstanceProfile",
    "name",
    128,
    r"[\w+=,.@-]+",
    _API.format("IAM/latest/APIReference/API_CreateInstanceProfile.html"),
    invalid=r"[^\w+=,.@-]+",
    edges="",
    autonamed=True,
)
SECURITY_GROUP = NameRule(
    "EC2 security group name",
    "aws:ec2/securityGroup:SecurityGroup",
    "name",
    255,
    r"(?!sg-)[A-Za-z0-9 ._\-:/()#,@\[\]+=&;{}!$*]+",
    _API.format("AWSEC2/latest/APIReference/API_CreateSecurityGroup.html"),
    invalid=r"[^A-Za-z0-9 ._\-:/()#,@\[\]+=&;{}!$*]+",
    edges=" ",
    forbidden_prefixes=("sg-",),
    autonamed=True,
)
VPC_LINK = NameRule(
    "API Gateway VPC link (V2) name",
    "aws:apigatewayv2/vpcLink:VpcLink",
    "name",
    128,
    r"[A-Za-z0-9_-]+",
    _API.format("apigatewayv2/latest/api-reference/vpclinks.html"),
)

NAME_RULES: tuple[NameRule, ...] = (
    SAGEMAKER_ENDPOINT,
    SAGEMAKER_ENDPOINT_CONFIG,
    SAGEMAKER_MODEL,
    SAGEMAKER_VARIANT,
    IAM_ROLE,
    IAM_ROLE_POLICY,
    S3_BUCKET,
    ECR_REPOSITORY,
    KMS_ALIAS,
    LOG_GROUP,
    METRIC_ALARM,
    DASHBOARD,
    SNS_TOPIC,
    WEB_ACL,
    WAF_METRIC,
    SCALING_POLICY,
    SCHEDULED_ACTION,
    API_STAGE,
    REST_API,
    API_KEY,
    USAGE_PLAN,
    AUTHORIZER,
    LOAD_BALANCER,
    TARGET_GROUP,
    LAUNCH_TEMPLATE,
    AUTOSCALING_GROUP,
    LIFECYCLE_HOOK,
    AUTOSCALING_POLICY,
    INSTANCE_PROFILE,
    SECURITY_GROUP,
    VPC_LINK,
)
"""Every name rule, for the tests that check a planned stack against them."""


def _digest(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:DIGEST]


def _clean(rule: NameRule, name: str) -> str:
    """`name` in the rule's characters: lower-cased if need be, invalid runs as '-',
    no repeated separators where they are refused, no separator at either end."""
    if rule.lower:
        name = name.lower()
    name = re.sub(rule.invalid, "-", name)
    if rule.collapse:
        name = re.sub(rule.collapse, lambda m: m.group()[0], name)
    name = name.strip(rule.edges) if rule.edges else name
    for prefix in rule.forbidden_prefixes:
        if name.startswith(prefix):
            name = f"x{name}"
    return name


def _shorten(rule: NameRule, name: str, limit: int) -> str:
    """`name` cut to `limit` with a hash of the whole of it at the end, if too long."""
    if len(name) <= limit:
        return name
    head = name[: limit - DIGEST - 1]
    head = head.rstrip(rule.edges) if rule.edges else head
    return f"{head}-{_digest(name)}"


def fit(rule: NameRule, *parts: str) -> str:
    """`parts` joined by '-' as a name that `rule` accepts: unchanged when it already
    fits; else cleaned, and cut with a hash when too long.

    Raises NameFitError when no such name exists (say, nothing is left after cleaning).
    """
    joined = "-".join(p for p in parts if p)
    if not rule.problems(joined):
        return joined
    name = _shorten(rule, _clean(rule, joined), rule.max_length)
    problems = rule.problems(name)
    if problems:
        raise NameFitError(f"{rule.what} {name!r} from {joined!r}: {'; '.join(problems)}")
    return name


def auto_logical(rule: NameRule, logical: str) -> str:
    """A logical name whose Pulumi auto-name (`<logical>-<7 hex>`) `rule` accepts:
    `logical` itself when it does (so no deployed resource is renamed), else cleaned and
    cut with a hash of the whole of it."""
    sample = f"{logical}-{'0' * (AUTO_SUFFIX - 1)}"
    if not rule.problems(sample.lower() if rule.lower else sample):
        return logical
    name = _shorten(rule, _clean(rule, logical), rule.max_length - AUTO_SUFFIX)
    sample = f"{name}-{'0' * (AUTO_SUFFIX - 1)}"
    problems = rule.problems(sample)
    if problems:
        raise NameFitError(f"{rule.what} auto-named from {logical!r}: {'; '.join(problems)}")
    return name
