"""The SageMaker endpoint's own update path: a Pulumi dynamic provider over boto3.

pulumi-aws's `aws.sagemaker.Endpoint` replaces the endpoint (delete first: its name is
fixed) when `deployment_config.auto_rollback_configuration` changes, never sends
`RetainAllVariantProperties` (a rollout resets the fleet to `initial_instance_count`),
waits at most 60 minutes and not through `RollingBack`. This provider instead:

- creates the endpoint and waits until it is InService;
- updates it in place with `UpdateEndpoint(RetainAllVariantProperties=True)`, keeping
  the instance counts that autoscaling set (weights and data capture come from the
  new configuration), and waits through Updating and RollingBack up to
  `wait_timeout_s` (the component passes the rollout's own timeout plus the rollback);
- fails the update, naming the alarm that fired, when SageMaker rolled back;
- never replaces the endpoint for a configuration, deployment-config or tag change;
- deregisters and restores a variant's autoscaling (target, policies, scheduled
  actions) around an update that changes its instance type, which UpdateEndpoint
  refuses otherwise;
- deletes the previous configuration and the models only it used once the endpoint
  serves the new one, and the endpoint, its configuration and models on destroy. The
  component declares configurations and models with `retain_on_delete`, so Pulumi never
  deletes what the endpoint may still serve (after a rollback, the old ones).

The provider object is pickled into the stack's state: it holds no clients, Outputs or
settings; each call makes its clients from the standard AWS environment (credentials)
and the `region` input.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import pulumi
import pulumi.dynamic as dynamic

KIND = "sagemaker-endpoint"
"""The `kind` input that tells this dynamic resource from others (plan fakes, policies)."""
DYNAMIC_TYPE = "pulumi-python:dynamic:Resource"
"""The type token of every Python dynamic resource."""

# Inputs whose change needs the endpoint replaced: another name or region is another one.
REPLACE_ON = ("name", "region")
WAIT_STATES = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack"})
FAILED_STATES = frozenset({"Failed", "UpdateRollbackFailed", "OutOfService"})
SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
# Properties UpdateEndpoint takes from the new configuration although the rest is kept.
FROM_NEW_CONFIG = (
    {"VariantPropertyType": "DesiredWeight"},
    {"VariantPropertyType": "DataCaptureConfig"},
)


class EndpointUpdateError(Exception):
    """A create, update or delete of the endpoint did not reach the state it needs."""


def plain(value: Any) -> Any:
    """`value` with integral floats as ints (Pulumi sends every number as a float and
    botocore refuses 600.0 for an integer)."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _clients(region: str) -> tuple[Any, Any, Any]:
    import boto3

    session = boto3.session.Session(region_name=region or None)
    return (
        session.client("sagemaker"),
        session.client("cloudwatch"),
        session.client("application-autoscaling"),
    )


def _not_found(err: Exception) -> bool:
    return "Could not find" in str(err) or "does not exist" in str(err)


class SageMakerEndpointProvider(dynamic.ResourceProvider):
    """Creates, updates in place (RetainAllVariantProperties), waits through rollbacks,
    and deletes a SageMaker endpoint (module docstring)."""

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        keys = ("endpoint_config_name", "deployment_config", "tags", *REPLACE_ON)
        changed = [k for k in keys if plain(olds.get(k)) != plain(news.get(k))]
        replaces = [k for k in changed if k in REPLACE_ON]
        return dynamic.DiffResult(
            changes=bool(changed),
            replaces=replaces,
            stables=["name", "region"],
            delete_before_replace=False,
        )

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        props = plain(props)
        sagemaker, _, _ = _clients(props["region"])
        request: dict[str, Any] = {
            "EndpointName": props["name"],
            "EndpointConfigName": props["endpoint_config_name"],
            "Tags": [{"Key": k, "Value": v} for k, v in (props.get("tags") or {}).items()],
        }
        if props.get("deployment_config"):
            request["DeploymentConfig"] = props["deployment_config"]
        arn = sagemaker.create_endpoint(**request)["EndpointArn"]
        described = self._wait(props, sagemaker, "create")
        if described["EndpointStatus"] != "InService":
            raise EndpointUpdateError(
                f"endpoint {props['name']} did not start: {described['EndpointStatus']}"
                f" ({described.get('FailureReason') or 'no reason given'})"
            )
        return dynamic.CreateResult(props["name"], {**props, "arn": arn})

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        olds, news = plain(olds), plain(news)
        sagemaker, cloudwatch, autoscaling = _clients(news["region"])
        name = news["name"]
        if olds.get("tags") != news.get("tags"):
            self._retag(sagemaker, olds["arn"], olds.get("tags") or {}, news.get("tags") or {})
        old_config, new_config = olds["endpoint_config_name"], news["endpoint_config_name"]
        if old_config == new_config:
            # A deployment config governs the next UpdateEndpoint: kept in state until then.
            return dynamic.UpdateResult({**news, "arn": olds["arn"]})
        request: dict[str, Any] = {
            "EndpointName": name,
            "EndpointConfigName": new_config,
            "RetainAllVariantProperties": True,
            "ExcludeRetainedVariantProperties": list(FROM_NEW_CONFIG),
        }
        if news.get("deployment_config"):
            request["DeploymentConfig"] = news["deployment_config"]
        moved = self._instance_type_changes(sagemaker, old_config, new_config)
        saved = _suspend_scaling(autoscaling, name, moved)
        started = datetime.now(UTC)
        try:
            sagemaker.update_endpoint(**request)
            described = self._wait(news, sagemaker, "update")
        finally:
            _restore_scaling(autoscaling, saved)
        status, serving = described["EndpointStatus"], described.get("EndpointConfigName")
        if status != "InService" or serving != new_config:
            fired = _fired_alarms(cloudwatch, news.get("deployment_config"), started)
            raise EndpointUpdateError(
                f"endpoint {name} did not move to {new_config}: it is {status} on {serving}"
                + (f"; rolled back by alarm(s) {', '.join(fired)}" if fired else "")
                + f" ({described.get('FailureReason') or 'no reason given'})."
                " The previous configuration and its models are kept and still serve."
            )
        self._collect(sagemaker, old_config, keep=new_config)
        return dynamic.UpdateResult({**news, "arn": olds["arn"]})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        props = plain(props)
        sagemaker, _, _ = _clients(props["region"])
        try:
            sagemaker.delete_endpoint(EndpointName=props["name"])
        except Exception as err:  # botocore's ClientError; an endpoint already gone is fine
            if not _not_found(err):
                raise
        else:
            self._wait(props, sagemaker, "delete", gone_ok=True)
        self._collect(sagemaker, props["endpoint_config_name"], keep=None)

    # -- helpers -------------------------------------------------------------------

    def _wait(
        self, props: dict[str, Any], sagemaker: Any, what: str, *, gone_ok: bool = False
    ) -> dict[str, Any]:
        """DescribeEndpoint until the endpoint leaves Creating/Updating/RollingBack (or
        Deleting, on delete), at most `wait_timeout_s`."""
        deadline = time.monotonic() + float(props["wait_timeout_s"])
        waiting = WAIT_STATES | ({"Deleting"} if gone_ok else frozenset())
        while True:
            try:
                described: dict[str, Any] = sagemaker.describe_endpoint(EndpointName=props["name"])
            except Exception as err:
                if gone_ok and _not_found(err):
                    return {"EndpointStatus": "Deleted"}
                raise
            status = described["EndpointStatus"]
            if status not in waiting:
                return described
            if time.monotonic() >= deadline:
                raise EndpointUpdateError(
                    f"endpoint {props['name']} still {status} after {props['wait_timeout_s']}s"
                    f" ({what}); SageMaker goes on: check it with `aws sagemaker "
                    f"describe-endpoint --endpoint-name {props['name']}` and run `up` again"
                )
            time.sleep(float(props.get("poll_s", 30)))

    @staticmethod
    def _retag(sagemaker: Any, arn: str, old: dict[str, str], new: dict[str, str]) -> None:
        gone = [k for k in old if k not in new]
        if gone:
            sagemaker.delete_tags(ResourceArn=arn, TagKeys=gone)
        changed = [{"Key": k, "Value": v} for k, v in new.items() if old.get(k) != v]
        if changed:
            sagemaker.add_tags(ResourceArn=arn, Tags=changed)

    @staticmethod
    def _variants(sagemaker: Any, config: str) -> dict[str, dict[str, Any]]:
        described = sagemaker.describe_endpoint_config(EndpointConfigName=config)
        return {v["VariantName"]: v for v in described["ProductionVariants"]}

    def _instance_type_changes(self, sagemaker: Any, old: str, new: str) -> list[str]:
        """Variants that keep their name but change instance type."""
        before, after = self._variants(sagemaker, old), self._variants(sagemaker, new)
        return [
            v
            for v, variant in after.items()
            if v in before and before[v].get("InstanceType") != variant.get("InstanceType")
        ]

    def _collect(self, sagemaker: Any, config: str, keep: str | None) -> None:
        """Delete `config` and the models that only it uses (not those of `keep`)."""
        try:
            old = self._variants(sagemaker, config)
        except Exception as err:
            if _not_found(err):
                return
            raise
        kept = {v["ModelName"] for v in self._variants(sagemaker, keep).values()} if keep else set()
        sagemaker.delete_endpoint_config(EndpointConfigName=config)
        for model in sorted({v["ModelName"] for v in old.values()} - kept):
            try:
                sagemaker.delete_model(ModelName=model)
            except Exception as err:
                if not _not_found(err):
                    raise


def _resource_id(endpoint: str, variant: str) -> str:
    return f"endpoint/{endpoint}/variant/{variant}"


def _suspend_scaling(autoscaling: Any, endpoint: str, variants: list[str]) -> list[dict[str, Any]]:
    """Deregister the scalable targets of `variants`, returning what restores them."""
    saved: list[dict[str, Any]] = []
    for variant in variants:
        rid = _resource_id(endpoint, variant)
        scope = {"ServiceNamespace": "sagemaker", "ResourceId": rid}
        targets = autoscaling.describe_scalable_targets(
            ServiceNamespace="sagemaker", ResourceIds=[rid]
        )["ScalableTargets"]
        if not targets:
            continue
        policies = autoscaling.describe_scaling_policies(**scope)["ScalingPolicies"]
        actions = autoscaling.describe_scheduled_actions(**scope)["ScheduledActions"]
        saved.append({"target": targets[0], "policies": policies, "actions": actions})
        autoscaling.deregister_scalable_target(**scope, ScalableDimension=SCALABLE_DIMENSION)
    return saved


def _restore_scaling(autoscaling: Any, saved: list[dict[str, Any]]) -> None:
    """Register the targets, policies and scheduled actions `_suspend_scaling` removed."""
    pick: Callable[[dict[str, Any], tuple[str, ...]], dict[str, Any]] = lambda d, keys: {  # noqa: E731
        k: d[k] for k in keys if d.get(k) is not None
    }
    for entry in saved:
        target = entry["target"]
        autoscaling.register_scalable_target(
            **pick(
                target,
                (
                    "ServiceNamespace",
                    "ResourceId",
                    "ScalableDimension",
                    "MinCapacity",
                    "MaxCapacity",
                    "RoleARN",
                    "SuspendedState",
                ),
            )
        )
        for policy in entry["policies"]:
            autoscaling.put_scaling_policy(
                **pick(
                    policy,
                    (
                        "PolicyName",
                        "ServiceNamespace",
                        "ResourceId",
                        "ScalableDimension",
                        "PolicyType",
                        "StepScalingPolicyConfiguration",
                        "TargetTrackingScalingPolicyConfiguration",
                    ),
                )
            )
        for action in entry["actions"]:
            autoscaling.put_scheduled_action(
                **pick(
                    action,
                    (
                        "ServiceNamespace",
                        "Schedule",
                        "Timezone",
                        "ScheduledActionName",
                        "ResourceId",
                        "ScalableDimension",
                        "StartTime",
                        "EndTime",
                        "ScalableTargetAction",
                    ),
                )
            )


def _fired_alarms(
    cloudwatch: Any, deployment_config: dict[str, Any] | None, since: datetime
) -> list[str]:
    """The rollback alarms that are in ALARM, or changed state since the update began."""
    names = [
        a["AlarmName"]
        for a in ((deployment_config or {}).get("AutoRollbackConfiguration") or {}).get(
            "Alarms", []
        )
    ]
    if not names:
        return []
    alarms = cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]
    firing = [a["AlarmName"] for a in alarms if a.get("StateValue") == "ALARM"]
    if firing:
        return firing
    return [
        a["AlarmName"]
        for a in alarms
        if a.get("StateUpdatedTimestamp") and a["StateUpdatedTimestamp"] >= since
    ]


class SageMakerEndpointResource(dynamic.Resource):
    """A SageMaker endpoint owned by `SageMakerEndpointProvider` (module docstring)."""

    name: pulumi.Output[str]
    """The endpoint's name."""
    arn: pulumi.Output[str]
    """The endpoint's ARN."""
    endpoint_config_name: pulumi.Output[str]
    """The configuration it serves."""

    def __init__(
        self,
        resource_name: str,
        *,
        name: str,
        region: str,
        endpoint_config_name: pulumi.Input[str],
        deployment_config: Mapping[str, Any] | None,
        tags: Mapping[str, str],
        wait_timeout_s: int,
        poll_s: int = 30,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            SageMakerEndpointProvider(),
            resource_name,
            {
                "kind": KIND,
                "name": name,
                "region": region,
                "endpoint_config_name": endpoint_config_name,
                "deployment_config": dict(deployment_config) if deployment_config else None,
                "tags": dict(tags),
                "wait_timeout_s": wait_timeout_s,
                "poll_s": poll_s,
                "arn": None,
            },
            opts,
        )
