"""Pulumi mocks that create every AWS resource in moto, for tests (yours too).

`MotoMocks` answers `pulumi.runtime.set_mocks`: each AWS resource the program
declares is created through boto3 (so botocore checks the request against the
real API model) inside an active `moto.mock_aws()`, and moto's ids and ARNs come
back as the resource's outputs. Cross-resource references therefore resolve to
things moto holds, and tests ask moto what exists.

The mirror is a table: type token -> a small function. A resource type with no
entry fails loudly (an `aws:` type must be mirrored); non-AWS types (random) get
the offline plan's fakes. Where moto has no operation for a resource the entry
says so and records the inputs (see `NOT_IN_MOTO`).

    with mock_aws():
        mocks = MotoMocks()
        outputs = run_program(lambda: {"url": AwsEndpoint("m", spec).url}, mocks)
"""

from __future__ import annotations

import base64
import copy
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pulumi

import inferstack.components.aws.plan_fakes  # noqa: F401  (fakes for non-AWS types)
from inferstack.components.aws.plan_fakes import auto_name
from inferstack.components.plan.mocks import PlanMocks
from inferstack.components.plan.run import run_under_mocks

Args = pulumi.runtime.MockResourceArgs
Result = tuple[str, dict[str, Any]]
Mirror = Callable[["MotoMocks", Args], Result]
CALLER_IDENTITY = "aws:index/getCallerIdentity:getCallerIdentity"
ECR_TOKEN = "aws:ecr/getAuthorizationToken:getAuthorizationToken"  # noqa: S105 (a token)

# botocore's names where capitalising the camelCase input is not enough.
_SPECIAL_KEYS = {
    "memorySizeInMb": "MemorySizeInMB",
    "cloudwatchMetricsEnabled": "CloudWatchMetricsEnabled",
}
# Maps whose keys are data, not field names.
_DATA_MAPS = frozenset({"environment", "tags", "variables", "requestParameters"})

NOT_IN_MOTO: dict[str, str] = {
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration#instanceType": (
        "moto's instance-type list is old; checked against botocore's list instead"
    ),
    "aws:s3/bucketObjectv2:BucketObjectv2#bucketPolicy": (
        "moto evaluates bucket-policy conditions without request context; uploads lift it"
    ),
    "aws:sagemaker/endpoint:Endpoint#deploymentConfig": (
        "moto's CreateEndpoint drops DeploymentConfig; botocore still validates its shape"
    ),
    "aws:sagemaker/model:Model#enableNetworkIsolation": (
        "moto's CreateModel drops EnableNetworkIsolation; botocore validates it"
    ),
}


def boto(value: Any, key: str = "") -> Any:
    """Pulumi's camelCase inputs as botocore's PascalCase parameters, integral floats as int."""
    if isinstance(value, dict):
        if key in _DATA_MAPS:
            return {k: boto(v) for k, v in value.items()}
        return {
            _SPECIAL_KEYS.get(k, k[:1].upper() + k[1:]): boto(v, k)
            for k, v in value.items()
            if v is not None
        }
    if isinstance(value, list):
        return [boto(v, key) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def boto_numbers(value: Any) -> Any:
    """`value` with integral floats (Pulumi sends every number as float) as ints."""
    if isinstance(value, dict):
        return {k: boto_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [boto_numbers(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def unwrap_secrets(value: Any) -> Any:
    """`value` with Pulumi's secret envelopes replaced by the values they hold."""
    from pulumi.runtime import rpc

    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return unwrap_secrets(value.get("value"))
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


def _tag_list(tags: dict[str, str] | None) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in (tags or {}).items()]


def _dimension_list(dims: dict[str, str] | None) -> list[dict[str, str]]:
    return [{"Name": k, "Value": v} for k, v in (dims or {}).items()]


def _params(**kwargs: Any) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if v is not None}


class MotoMocks(pulumi.runtime.Mocks):
    """Mocks that create each AWS resource in moto and return moto's ids and ARNs."""

    def __init__(self, region: str = "us-east-1") -> None:
        self.region = region
        self._session = boto3.session.Session(region_name=region)
        self._clients: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._fallback = PlanMocks()
        self.resources: list[tuple[str, str, str]] = []
        """(type, name, id) of every resource created, in order."""
        self.inputs: dict[str, list[dict[str, Any]]] = {}
        """type -> the (secret-free) inputs of each resource of that type, in order."""

    def client(self, service: str) -> Any:
        """A boto3 client for `service` in the mocks' region (moto answers it)."""
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._session.client(service)
            return self._clients[service]

    @property
    def account_id(self) -> str:
        """The account moto runs as."""
        return str(self.client("sts").get_caller_identity()["Account"])

    def new_resource(self, args: Args) -> tuple[str, dict]:
        mirror = MIRRORS.get(args.typ)
        if mirror is None:
            if args.typ.startswith("aws:"):
                raise NotImplementedError(f"MotoMocks has no mirror for {args.typ}")
            return self._fallback.new_resource(args)
        plain = copy.copy(args)
        plain.inputs = unwrap_secrets(args.inputs)
        with self._lock:
            resource_id, outputs = mirror(self, plain)
            self.resources.append((args.typ, args.name, resource_id))
            self.inputs.setdefault(args.typ, []).append(boto_numbers(plain.inputs))
        return resource_id, {**args.inputs, **outputs}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        # MockMonitor.Invoke takes a bare dict or (result, failures) and iterates the
        # failures, so the tuple carries [] (no check failures), never None.
        if args.token == CALLER_IDENTITY:
            identity = self.client("sts").get_caller_identity()
            return {
                "accountId": identity["Account"],
                "arn": identity["Arn"],
                "userId": identity["UserId"],
                "id": identity["Account"],
            }, []
        if args.token == ECR_TOKEN:
            data = self.client("ecr").get_authorization_token()["authorizationData"][0]
            user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
            return {
                "authorizationToken": data["authorizationToken"],
                "userName": user,
                "password": password,
                "proxyEndpoint": data["proxyEndpoint"],
                "expiresAt": str(data["expiresAt"]),
                "registryId": self.account_id,
                "id": self.region,
            }, []
        return self._fallback.call(args)


def run_program(
    program: Callable[[], Any],
    mocks: pulumi.runtime.Mocks,
    *,
    stack: str = "test",
    project: str = "inferstack",
    config: dict[str, str] | None = None,
) -> Any:
    """Run `program` under `mocks` and return its result with every Output resolved."""
    config = {"aws:region": getattr(mocks, "region", "us-east-1"), **(config or {})}
    plan = run_under_mocks(program, mocks=mocks, stack=stack, project=project, config=config)
    return plan.result


# --- KMS, S3, IAM, ECR -------------------------------------------------------------------


def _kms_key(m: MotoMocks, a: Args) -> Result:
    i = a.inputs
    meta = m.client("kms").create_key(
        **_params(
            Description=i.get("description"),
            Policy=i.get("policy"),
            Tags=[{"TagKey": k, "TagValue": v} for k, v in (i.get("tags") or {}).items()],
        )
    )["KeyMetadata"]
    if i.get("enableKeyRotation"):
        m.client("kms").enable_key_rotation(KeyId=meta["KeyId"])
    return meta["KeyId"], {"keyId": meta["KeyId"], "arn": meta["Arn"]}


def _kms_alias(m: MotoMocks, a: Args) -> Result:
    name = a.inputs["name"]
    m.client("kms").create_alias(AliasName=name, TargetKeyId=a.inputs["targetKeyId"])
    return name, {"arn": f"arn:aws:kms:{m.region}:{m.account_id}:{name}"}


def _bucket(m: MotoMocks, a: Args) -> Result:
    name = a.inputs.get("bucket") or auto_name(a, lower=True)
    s3 = m.client("s3")
    s3.create_bucket(Bucket=name)
    if a.inputs.get("tags"):
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _tag_list(a.inputs["tags"])})
    return name, {
        "bucket": name,
        "arn": f"arn:aws:s3:::{name}",
        "bucketRegionalDomainName": f"{name}.s3.{m.region}.amazonaws.com",
    }


def _ownership(m: MotoMocks, a: Args) -> Result:
    m.client("s3").put_bucket_ownership_controls(
        Bucket=a.inputs["bucket"],
        OwnershipControls={"Rules": [{"ObjectOwnership": a.inputs["rule"]["objectOwnership"]}]},
    )
    return a.inputs["bucket"], {}


def _public_access(m: MotoMocks, a: Args) -> Result:
    keys = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    config = {k[0].upper() + k[1:]: bool(a.inputs.get(k)) for k in keys}
    m.client("s3").put_public_access_block(
        Bucket=a.inputs["bucket"], PublicAccessBlockConfiguration=config
    )
    return a.inputs["bucket"], {}


def _versioning(m: MotoMocks, a: Args) -> Result:
    status = a.inputs["versioningConfiguration"]["status"]
    m.client("s3").put_bucket_versioning(
        Bucket=a.inputs["bucket"], VersioningConfiguration={"Status": status}
    )
    return a.inputs["bucket"], {}


def _encryption(m: MotoMocks, a: Args) -> Result:
    rules = []
    for rule in a.inputs["rules"]:
        default = rule["applyServerSideEncryptionByDefault"]
        rules.append(
            {
                "ApplyServerSideEncryptionByDefault": _params(
                    SSEAlgorithm=default["sseAlgorithm"],
                    KMSMasterKeyID=default.get("kmsMasterKeyId"),
                ),
                "BucketKeyEnabled": bool(rule.get("bucketKeyEnabled")),
            }
        )
    m.client("s3").put_bucket_encryption(
        Bucket=a.inputs["bucket"], ServerSideEncryptionConfiguration={"Rules": rules}
    )
    return a.inputs["bucket"], {}


def _bucket_policy(m: MotoMocks, a: Args) -> Result:
    m.client("s3").put_bucket_policy(Bucket=a.inputs["bucket"], Policy=a.inputs["policy"])
    return a.inputs["bucket"], {}


def _object(m: MotoMocks, a: Args) -> Result:
    i = a.inputs
    source = i.get("source")
    body = (
        Path(source.path).read_bytes()
        if isinstance(source, pulumi.FileAsset)
        else (i.get("content") or "").encode()
    )
    s3 = m.client("s3")
    # NOT_IN_MOTO: moto checks bucket policies without the request's context keys, so a
    # conditional Deny (aws:SecureTransport, the SSE key header) denies every upload. The
    # policy is lifted for this one TLS, stack-key upload, as real S3 would allow it.
    try:
        policy = s3.get_bucket_policy(Bucket=i["bucket"])["Policy"]
        s3.delete_bucket_policy(Bucket=i["bucket"])
    except s3.exceptions.ClientError:
        policy = None
    try:
        response = s3.put_object(
            **_params(
                Bucket=i["bucket"],
                Key=i["key"],
                Body=body,
                ContentType=i.get("contentType"),
                ServerSideEncryption=i.get("serverSideEncryption"),
                SSEKMSKeyId=i.get("kmsKeyId"),
            )
        )
    finally:
        if policy:
            s3.put_bucket_policy(Bucket=i["bucket"], Policy=policy)
    return i["key"], {
        "etag": response["ETag"].strip('"'),
        "versionId": response.get("VersionId", ""),
        "arn": f"arn:aws:s3:::{i['bucket']}/{i['key']}",
    }


def _role(m: MotoMocks, a: Args) -> Result:
    i = a.inputs
    name = auto_name(a)
    role = m.client("iam").create_role(
        **_params(
            RoleName=name,
            AssumeRolePolicyDocument=i["assumeRolePolicy"],
            Description=i.get("description"),
            MaxSessionDuration=boto(i.get("maxSessionDuration")),
            Tags=_tag_list(i.get("tags")),
        )
    )["Role"]
    return name, {"name": name, "arn": role["Arn"], "uniqueId": role["RoleId"]}


def _role_policy(m: MotoMocks, a: Args) -> Result:
    name = auto_name(a)
    m.client("iam").put_role_policy(
        RoleName=a.inputs["role"], PolicyName=name, PolicyDocument=a.inputs["policy"]
    )
    return f"{a.inputs['role']}:{name}", {"name": name}


def _repository(m: MotoMocks, a: Args) -> Result:
    i = a.inputs
    name = i.get("name") or auto_name(a, lower=True)
    encryption = (i.get("encryptionConfigurations") or [None])[0]
    repo = m.client("ecr").create_repository(
        **_params(
            repositoryName=name,
            imageTagMutability=i.get("imageTagMutability"),
            imageScanningConfiguration=i.get("imageScanningConfiguration"),
            encryptionConfiguration=encryption,
            tags=_tag_list(i.get("tags")),
        )
    )["repository"]
    return name, {
        "name": name,
        "arn": repo["repositoryArn"],
        "registryId": repo["registryId"],
        "repositoryUrl": repo["repositoryUri"],
    }


def _lifecycle(m: MotoMocks, a: Args) -> Result:
    m.client("ecr").put_lifecycle_policy(
        repositoryName=a.inputs["repository"], lifecyclePolicyText=a.inputs["policy"]
    )
    return a.inputs["repository"], {"registryId": m.account_id}


# --- SageMaker and Application Auto Scaling ------------------------------------------------


def _model(m: MotoMocks, a: Args) -> Result:
    i = a.inputs
    name = auto_name(a)
    arn = m.client("sagemaker").create_model(
        **_params(
            ModelName=name,
            ExecutionRoleArn=i["executionRoleArn"],
            PrimaryContainer=boto(i.get("primaryContainer")),
            VpcConfig=boto(i.get("vpcConfig")),
            EnableNetworkIsolation=i.get("enableNetworkIsolation"),
            Tags=_tag_list(i.get("tags")),
        )
    )["ModelArn"]
    return name, {"name": name, "arn": arn}


def _validate_instance_type(m: MotoMocks) -> Callable[[Any, str], None]:
    # NOT_IN_MOTO: moto's instance-type list predates g5, g6, p4d and p5; botocore's
    # model of the real API has them all, so the check uses that list instead.
    shape = m.client("sagemaker").meta.service_model.shape_for("ProductionVariantInstanceType")
    valid = set(shape.enum)

    def validate(_: Any, instance_type: str) -> None:
        if instance_type not in valid:
            raise ValueError(f"{instance_type!r} is not a SageMaker instance type")

    return validate


def _endpoint_config(m: MotoMocks, a: Args) -> Result:
    from moto.sagemaker.models import FakeEndpointConfig

    i = a.inputs
    name = auto_name(a)
    with mock.patch.object(
        FakeEndpointConfig, "validate_instance_type", _validate_instance_type(m)
    ):
        arn = m.client("sagemaker").create_endpoint_config(
            **_params(
                EndpointConfigName=name,
                ProductionVariants=boto(i["productionVariants"]),
                DataCaptureConfig=boto(i.get("dataCaptureConfig")),
                AsyncInferenceConfig=boto(i.get("asyncInferenceConfig")),
                KmsKeyId=i.get("kmsKeyArn"),
                Tags=_tag_list(i.get("tags")),
            )
        )["EndpointConfigArn"]
    return name, {"name": name, "arn": arn}


def _endpoint(m: MotoMocks, a: Args) -> Result:
    i = a.inputs
    name = auto_name(a)
    # NOT_IN_MOTO: moto stores no DeploymentConfig; botocore validates the request shape.
    arn = m.client("sagemaker").create_endpoint(
        **_params(
            EndpointName=name,
            EndpointConfigName=i["endpointConfigName"],
            DeploymentConfig=boto(i.get("deploymentConfig")),
            Tags=_tag_list(i.get("tags")),
        )
    )["EndpointArn"]
    return name, {"name": name, "arn": arn}


def _scalable_target(m: MotoMocks, a: Args) -> Result:
    i = a.inputs
    arn = (
        m.client("application-autoscaling")
        .register_scalable_target(
            ServiceNamespace=i["serviceNamespace"],
            ResourceId=i["resourceId"],
            ScalableDimension=i["scalableDimension"],
            MinCapacity=boto(i["minCapacity"]),
            MaxCapacity=boto(i["maxCapacity"]),
        )
        .get("ScalableTargetARN", "")
    )
    return i["resourceId"], {"arn": arn}


def _tracking(config: dict[str, Any]) -> dict[str, Any]:
    out = boto({k: v for k, v in config.items() if k != "customizedMetricSpecification"})
    custom = config.get("customizedMetricSpecification")
    if custom:
        out["CustomizedMetricSpecification"] = _params(
            MetricName=custom["metricName"],
            Namespace=custom["namespace"],
            Statistic=custom["statistic"],
            Unit=custom.get("unit"),
            Dimensions=[
                {"Name": d["name"], "Value": d["value"]} for d in custom.get("dimensions") or []
            ],
        )
    return out


def _step(config: dict[str, Any]) -> dict[str, Any]:
    # Pulumi takes the interval bounds as strings; the API takes numbers.
    out = boto({k: v for k, v in config.items() if k != "stepAdjustments"})
    out["StepAdjustments"] = [
        _params(
            MetricIntervalLowerBound=_bound(s.get("metricIntervalLowerBound")),
            MetricIntervalUpperBound=_bound(s.get("metricIntervalUpperBound")),
            ScalingAdjustment=boto(s["scalingAdjustment"]),
        )
        for s in config.get("stepAdjustments") or []
    ]
    return out


def _bound(value: str | None) -> float | None:
    return None if value in (None, "") else float(value)


def _scaling_policy(m: MotoMocks, a: Args) -> Result:
    i = a.inputs
    name = auto_name(a)
    arn = m.client("application-autoscaling").put_scaling_policy(
        **_params(
            PolicyName=name,
            ServiceNamespace=i["serviceNamespace"],
            ResourceId=i["resourceId"],
            ScalableDimension=i["scalableDimension"],
            PolicyType=i["policyType"],
            TargetTrackingScalingPolicyConfiguration=_tracking(
                i["targetTrackingScalingPolicyConfiguration"]
            )
            if i.get("targetTrackingScalingPolicyConfiguration")
            else None,
            StepScalingPolicyConfiguration=_step(i["stepScalingPolicyConfiguration"])
            if i.get("stepScalingPolicyConfiguration")
            else None,
        )
    )["PolicyARN"]
    return arn, {"name": name, "arn": arn}


def _scheduled_action(m: MotoMocks, a: Args) -> Result:
    i = a.inputs
    name = auto_name(a)
    client = m.client("application-autoscaling")
    client.put_scheduled_action(
        **_params(
            ServiceNamespace=i["serviceNamespace"],
            Schedule=i["schedule"],
            Timezone=i.get("timezone"),
            ScheduledActionName=name,
            ResourceId=i["resourceId"],
            ScalableDimension=i["scalableDimension"],
            ScalableTargetAction=boto(i["scalableTargetAction"]),
        )
    )
    actions = client.describe_scheduled_actions(
        ServiceNamespace=i["serviceNamespace"], ScheduledActionNames=[name]
    )
    arn = actions["ScheduledActions"][0]["ScheduledActionARN"]
    return arn, {"name": name, "arn": arn}


# --- CloudWatch, logs, SNS -------------------------------------------------------------


def _log_group(m: MotoMocks, a: Args) -> Result:
    i = a.inputs
    name = auto_name(a)
    logs = m.client("logs")
    logs.create_log_group(
        **_params(logGroupName=name, kmsKeyId=i.get("kmsKeyId"), tags=i.get("tags"))
    )
    if i.get("retentionInDays"):
        logs.put_retention_policy(logGroupName=name, retentionInDays=boto(i["retentionInDays"]))
    return name, {"name": name, "arn": f"arn:aws:logs:{m.region}:{m.account_id}:log-group:{name}"}


def _metric_query(q: dict[str, Any]) -> dict[str, Any]:
    out = _params(
        Id=q["id"],
        Expression=q.get("expression"),
        Label=q.get("label"),
        ReturnData=q.get("returnData"),
    )
    metric = q.get("metric")
    if metric:
        out["MetricStat"] = _params(
            Metric={
                "Namespace": metric["namespace"],
                "MetricName": metric["metricName"],
                "Dimensions": _dimension_list(metric.get("dimensions")),
            },
            Period=boto(metric["period"]),
            Stat=metric["stat"],
            Unit=metric.get("unit"),
        )
    return out


def _alarm(m: MotoMocks, a: Args) -> Result:
    i = a.inputs
    name = auto_name(a)
    m.client("cloudwatch").put_metric_alarm(
        **_params(
            AlarmName=name,
            AlarmDescription=i.get("alarmDescription"),
            ComparisonOperator=i["comparisonOperator"],
            Threshold=i.get("threshold"),
            EvaluationPeriods=boto(i["evaluationPeriods"]),
            DatapointsToAlarm=boto(i.get("datapointsToAlarm")),
            TreatMissingData=i.get("treatMissingData"),
            AlarmActions=i.get("alarmActions"),
            OKActions=i.get("okActions"),
            Namespace=i.get("namespace"),
            MetricName=i.get("metricName"),
            Statistic=i.get("statistic"),
            ExtendedStatistic=i.get("extendedStatistic"),
            Period=boto(i.get("period")),
            Dimensions=_dimension_list(i.get("dimensions")) if i.get("dimensions") else None,
            Metrics=[_metric_query(q) for q in i["metricQueries"]]
            if i.get("metricQueries")
            else None,
            Tags=_tag_list(i.get("tags")),
        )
    )
    arn = f"arn:aws:cloudwatch:{m.region}:{m.account_id}:alarm:{name}"
    return name, {"name": name, "arn": arn}


def _dashboard(m: MotoMocks, a: Args) -> Result:
    name = a.inputs["dashboardName"]
    m.client("cloudwatch").put_dashboard(
        DashboardName=name, DashboardBody=a.inputs["dashboardBody"]
    )
    return name, {"dashboardArn": f"arn:aws:cloudwatch::{m.account_id}:dashboard/{name}"}


def _topic(m: MotoMocks, a: Args) -> Result:
    i = a.inputs
    name = auto_name(a)
    attributes = _params(KmsMasterKeyId=i.get("kmsMasterKeyId"))
    arn = m.client("sns").create_topic(
        Name=name, Attributes=attributes, Tags=_tag_list(i.get("tags"))
    )["TopicArn"]
    return arn, {"name": name, "arn": arn}


def _subscription(m: MotoMocks, a: Args) -> Result:
    i = a.inputs
    arn = m.client("sns").subscribe(
        TopicArn=i["topic"],
        Protocol=i["protocol"],
        Endpoint=i["endpoint"],
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    return arn, {"arn": arn}


# --- API Gateway and WAF -----------------------------------------------------------------


def _rest_api(m: MotoMocks, a: Args) -> Result:
    i = a.inputs
    types = (i.get("endpointConfiguration") or {}).get("types", "REGIONAL")
    api = m.client("apigateway").create_rest_api(
        **_params(
            name=i.get("name") or auto_name(a),
            description=i.get("description"),
            apiKeySource=i.get("apiKeySource"),
            policy=i.get("policy"),
            tags=i.get("tags"),
            endpointConfiguration={"types": [types] if isinstance(types, str) else types},
        )
    )
    root = next(
        r["id"]
        for r in m.client("apigateway").get_resources(restApiId=api["id"])["items"]
        if r["path"] == "/"
    )
    return api["id"], {
        "rootResourceId": root,
        "executionArn": f"arn:aws:execute-api:{m.region}:{m.account_id}:{api['id']}",
        "arn": f"arn:aws:apigateway:{m.region}::/restapis/{api['id']}",
    }


def _api_resource(m: MotoMocks, a: Args) -> Result:
    i = a.inputs
    resource = m.client("apigateway").create_resource(
        restApiId=i["restApi"], parentId=i["parentId"], pathPart=i["pathPart"]
    )
    return resource["id"], {"path": resource["path"]}


def _authorizer(m: MotoMocks, a: Args) -> Result:
    i = a.inputs
    authorizer = m.client("apigateway").create_authorizer(
        **_params(
            restApiId=i["restApi"],
            name=i.get("name") or auto_name(a),
            type=i["type"],
            providerARNs=i.get("providerArns"),
            identitySource=i.get("identitySource"),
        )
    )
    return authorizer["id"], {}


def _method(m: MotoMocks, a: Args) -> Result:
    i = a.inputs
    m.client("apigateway").put_method(
        **_params(
            restApiId=i["restApi"],
            resourceId=i["resourceId"],
            httpMethod=i["httpMethod"],
            authorizationType=i["authorization"],
            apiKeyRequired=i.get("apiKeyRequired"),
            authorizerId=i.get("authorizerId"),
            requestParameters=i.get("requestParameters"),
        )
    )
    return f"agm-{i['restApi']}-{i['resourceId']}-{i['httpMethod']}", {}


def _integration(m: MotoMocks, a: Args) -> Result:
    i = a.inputs
    m.client("apigateway").put_integration(
        **_params(
            restApiId=i["restApi"],
            resourceId=i["resourceId"],
            httpMethod=i["httpMethod"],
            type=i["type"],
            integrationHttpMethod=i.get("integrationHttpMethod"),
            uri=i.get("uri"),
            credentials=i.get("credentials"),
            passthroughBehavior=i.get("passthroughBehavior"),
            timeoutInMillis=boto(i.get("timeoutMilliseconds")),
            requestParameters=i.get("requestParameters"),
        )
    )
    return f"agi-{i['restApi']}-{i['resourceId']}-{i['httpMethod']}", {}


def _method_response(m: MotoMocks, a: Args) -> Result:
    i = a.inputs
    m.client("apigateway").put_method_response(
        restApiId=i["restApi"],
        resourceId=i["resourceId"],
        httpMethod=i["httpMethod"],
        statusCode=i["statusCode"],
    )
    return f"agmr-{i['restApi']}-{i['resourceId']}-{i['httpMethod']}-{i['statusCode']}", {}


def _integration_response(m: MotoMocks, a: Args) -> Result:
    i = a.inputs
    m.client("apigateway").put_integration_response(
        **_params(
            restApiId=i["restApi"],
            resourceId=i["resourceId"],
            httpMethod=i["httpMethod"],
            statusCode=i["statusCode"],
            selectionPattern=i.get("selectionPattern"),
        )
    )
    return f"agir-{i['restApi']}-{i['resourceId']}-{i['httpMethod']}-{i['statusCode']}", {}


def _deployment(m: MotoMocks, a: Args) -> Result:
    i = a.inputs
    deployment = m.client("apigateway").create_deployment(
        **_params(restApiId=i["restApi"], description=i.get("description"))
    )
    return deployment["id"], {}


def _stage(m: MotoMocks, a: Args) -> Result:
    i = a.inputs
    api, stage = i["restApi"], i["stageName"]
    client = m.client("apigateway")
    client.create_stage(
        **_params(
            restApiId=api,
            stageName=stage,
            deploymentId=i["deployment"],
            tags=i.get("tags"),
            tracingEnabled=i.get("xrayTracingEnabled"),
        )
    )
    logs = i.get("accessLogSettings")
    if logs:
        client.update_stage(
            restApiId=api,
            stageName=stage,
            patchOperations=[
                {
                    "op": "replace",
                    "path": "/accessLogSettings/destinationArn",
                    "value": logs["destinationArn"],
                },
                {"op": "replace", "path": "/accessLogSettings/format", "value": logs["format"]},
            ],
        )
    return f"ags-{api}-{stage}", {
        "invokeUrl": f"https://{api}.execute-api.{m.region}.amazonaws.com/{stage}",
        "executionArn": f"arn:aws:execute-api:{m.region}:{m.account_id}:{api}/{stage}",
        "arn": f"arn:aws:apigateway:{m.region}::/restapis/{api}/stages/{stage}",
    }


_METHOD_SETTING_PATHS = {
    "throttlingRateLimit": "throttling/rateLimit",
    "throttlingBurstLimit": "throttling/burstLimit",
    "metricsEnabled": "metrics/enabled",
    "loggingLevel": "logging/loglevel",
    "dataTraceEnabled": "logging/dataTrace",
}


def _method_settings(m: MotoMocks, a: Args) -> Result:
    i = a.inputs
    operations = [
        {
            "op": "replace",
            "path": f"/{i['methodPath']}/{path}",
            "value": str(boto(i["settings"][key])).lower()
            if isinstance(i["settings"][key], bool)
            else str(boto(i["settings"][key])),
        }
        for key, path in _METHOD_SETTING_PATHS.items()
        if i["settings"].get(key) is not None
    ]
    m.client("apigateway").update_stage(
        restApiId=i["restApi"], stageName=i["stageName"], patchOperations=operations
    )
    return f"{i['restApi']}-{i['stageName']}-{i['methodPath']}", {}


def _api_key(m: MotoMocks, a: Args) -> Result:
    i = a.inputs
    key = m.client("apigateway").create_api_key(
        **_params(
            name=i.get("name") or auto_name(a),
            value=i.get("value"),
            enabled=i.get("enabled", True),
            tags=i.get("tags"),
        )
    )
    return key["id"], {
        "value": key["value"],
        "arn": f"arn:aws:apigateway:{m.region}::/apikeys/{key['id']}",
    }


def _usage_plan(m: MotoMocks, a: Args) -> Result:
    i = a.inputs
    plan = m.client("apigateway").create_usage_plan(
        **_params(
            name=i.get("name") or auto_name(a),
            apiStages=[{"apiId": s["apiId"], "stage": s["stage"]} for s in i.get("apiStages", [])],
            throttle=_params(
                rateLimit=i["throttleSettings"].get("rateLimit"),
                burstLimit=boto(i["throttleSettings"].get("burstLimit")),
            )
            if i.get("throttleSettings")
            else None,
            quota=_params(
                limit=boto(i["quotaSettings"]["limit"]), period=i["quotaSettings"]["period"]
            )
            if i.get("quotaSettings")
            else None,
            tags=i.get("tags"),
        )
    )
    return plan["id"], {"arn": f"arn:aws:apigateway:{m.region}::/usageplans/{plan['id']}"}


def _usage_plan_key(m: MotoMocks, a: Args) -> Result:
    i = a.inputs
    key = m.client("apigateway").create_usage_plan_key(
        usagePlanId=i["usagePlanId"], keyId=i["keyId"], keyType=i["keyType"]
    )
    return key["id"], {"name": key.get("name", ""), "value": key.get("value", "")}


def _account(m: MotoMocks, a: Args) -> Result:
    m.client("apigateway").update_account(
        patchOperations=[
            {"op": "replace", "path": "/cloudwatchRoleArn", "value": a.inputs["cloudwatchRoleArn"]}
        ]
    )
    return "api-gateway-account", {}


def _web_acl(m: MotoMocks, a: Args) -> Result:
    i = a.inputs
    name = i.get("name") or auto_name(a)
    summary = m.client("wafv2").create_web_acl(
        Name=name,
        Scope=i["scope"],
        DefaultAction=boto(i["defaultAction"]),
        Rules=boto(i.get("rules") or []),
        VisibilityConfig=boto(i["visibilityConfig"]),
        Tags=_tag_list(i.get("tags")),
    )["Summary"]
    return summary["Id"], {"name": name, "arn": summary["ARN"], "lockToken": summary["LockToken"]}


def _web_acl_association(m: MotoMocks, a: Args) -> Result:
    i = a.inputs
    m.client("wafv2").associate_web_acl(WebACLArn=i["webAclArn"], ResourceArn=i["resourceArn"])
    return f"{i['webAclArn']},{i['resourceArn']}", {}


MIRRORS: dict[str, Mirror] = {
    "aws:kms/key:Key": _kms_key,
    "aws:kms/alias:Alias": _kms_alias,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": _ownership,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _public_access,
    "aws:s3/bucketVersioning:BucketVersioning": _versioning,
    "aws:s3/bucketServerSideEncryptionConfiguration:"
    "BucketServerSideEncryptionConfiguration": _encryption,
    "aws:s3/bucketPolicy:BucketPolicy": _bucket_policy,
    "aws:s3/bucketObjectv2:BucketObjectv2": _object,
    "aws:iam/role:Role": _role,
    "aws:iam/rolePolicy:RolePolicy": _role_policy,
    "aws:ecr/repository:Repository": _repository,
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": _lifecycle,
    "aws:sagemaker/model:Model": _model,
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": _endpoint_config,
    "aws:sagemaker/endpoint:Endpoint": _endpoint,
    "aws:appautoscaling/target:Target": _scalable_target,
    "aws:appautoscaling/policy:Policy": _scaling_policy,
    "aws:appautoscaling/scheduledAction:ScheduledAction": _scheduled_action,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:cloudwatch/dashboard:Dashboard": _dashboard,
    "aws:sns/topic:Topic": _topic,
    "aws:sns/topicSubscription:TopicSubscription": _subscription,
    "aws:apigateway/restApi:RestApi": _rest_api,
    "aws:apigateway/resource:Resource": _api_resource,
    "aws:apigateway/authorizer:Authorizer": _authorizer,
    "aws:apigateway/method:Method": _method,
    "aws:apigateway/integration:Integration": _integration,
    "aws:apigateway/methodResponse:MethodResponse": _method_response,
    "aws:apigateway/integrationResponse:IntegrationResponse": _integration_response,
    "aws:apigateway/deployment:Deployment": _deployment,
    "aws:apigateway/stage:Stage": _stage,
    "aws:apigateway/methodSettings:MethodSettings": _method_settings,
    "aws:apigateway/apiKey:ApiKey": _api_key,
    "aws:apigateway/usagePlan:UsagePlan": _usage_plan,
    "aws:apigateway/usagePlanKey:UsagePlanKey": _usage_plan_key,
    "aws:apigateway/account:Account": _account,
    "aws:wafv2/webAcl:WebAcl": _web_acl,
    "aws:wafv2/webAclAssociation:WebAclAssociation": _web_acl_association,
}
