"""CloudWatch log groups, alarms and dashboards, and SNS topics, in moto."""

from __future__ import annotations

from typing import Any

from inferstack.components.testing.aws.fallback import auto_name
from inferstack.components.testing.aws.shapes import (
    Args,
    Mirror,
    Moto,
    Result,
    boto,
    dimension_list,
    params,
    tag_list,
)


def _log_group(m: Moto, a: Args) -> Result:
    i = a.inputs
    name = auto_name(a)
    logs = m.client("logs")
    logs.create_log_group(
        **params(logGroupName=name, kmsKeyId=i.get("kmsKeyId"), tags=i.get("tags"))
    )
    if i.get("retentionInDays"):
        logs.put_retention_policy(logGroupName=name, retentionInDays=boto(i["retentionInDays"]))
    return name, {"name": name, "arn": f"arn:aws:logs:{m.region}:{m.account_id}:log-group:{name}"}


def _metric_query(q: dict[str, Any]) -> dict[str, Any]:
    out = params(
        Id=q["id"],
        Expression=q.get("expression"),
        Label=q.get("label"),
        ReturnData=q.get("returnData"),
    )
    metric = q.get("metric")
    if metric:
        out["MetricStat"] = params(
            Metric={
                "Namespace": metric["namespace"],
                "MetricName": metric["metricName"],
                "Dimensions": dimension_list(metric.get("dimensions")),
            },
            Period=boto(metric["period"]),
            Stat=metric["stat"],
            Unit=metric.get("unit"),
        )
    return out


def _alarm(m: Moto, a: Args) -> Result:
    i = a.inputs
    name = auto_name(a)
    m.client("cloudwatch").put_metric_alarm(
        **params(
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
            Dimensions=dimension_list(i.get("dimensions")) if i.get("dimensions") else None,
            Metrics=[_metric_query(q) for q in i["metricQueries"]]
            if i.get("metricQueries")
            else None,
            Tags=tag_list(i.get("tags")),
        )
    )
    arn = f"arn:aws:cloudwatch:{m.region}:{m.account_id}:alarm:{name}"
    return name, {"name": name, "arn": arn}


def _dashboard(m: Moto, a: Args) -> Result:
    name = a.inputs["dashboardName"]
    m.client("cloudwatch").put_dashboard(
        DashboardName=name, DashboardBody=a.inputs["dashboardBody"]
    )
    return name, {"dashboardArn": f"arn:aws:cloudwatch::{m.account_id}:dashboard/{name}"}


def _topic(m: Moto, a: Args) -> Result:
    i = a.inputs
    name = auto_name(a)
    attributes = params(KmsMasterKeyId=i.get("kmsMasterKeyId"))
    arn = m.client("sns").create_topic(
        Name=name, Attributes=attributes, Tags=tag_list(i.get("tags"))
    )["TopicArn"]
    return arn, {"name": name, "arn": arn}


def _subscription(m: Moto, a: Args) -> Result:
    i = a.inputs
    arn = m.client("sns").subscribe(
        TopicArn=i["topic"],
        Protocol=i["protocol"],
        Endpoint=i["endpoint"],
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    return arn, {"arn": arn}


MIRRORS: dict[str, Mirror] = {
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:cloudwatch/dashboard:Dashboard": _dashboard,
    "aws:sns/topic:Topic": _topic,
    "aws:sns/topicSubscription:TopicSubscription": _subscription,
}
