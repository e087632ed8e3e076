"""Plausible computed outputs of GCP resources for the offline plan (`PlanMocks`)."""

from __future__ import annotations

from typing import Any

import pulumi

from inferstack.components.plan.mocks import CallFake, ResourceFake, digest

Args = pulumi.runtime.MockResourceArgs


def _project(args: Args) -> str:
    return str(args.inputs.get("project", "plan-project"))


def _generic(args: Args) -> dict[str, Any]:
    return {"id": f"{args.name}-{digest(args.typ, args.name)[:7]}"}


def _account(args: Args) -> dict[str, Any]:
    account, project = args.inputs["accountId"], _project(args)
    email = f"{account}@{project}.iam.gserviceaccount.com"
    return {
        "id": f"projects/{project}/serviceAccounts/{email}",
        "email": email,
        "name": f"projects/{project}/serviceAccounts/{email}",
    }


def _cluster(args: Args) -> dict[str, Any]:
    return {
        "id": args.inputs["name"],
        "endpoint": "203.0.113.10",
        "controlPlaneEndpointsConfig": {
            "dnsEndpointConfig": {
                "allowExternalTraffic": True,
                "endpoint": f"gke-{digest(args.name)[:12]}.{args.inputs['location']}.gke.goog",
            }
        },
        "masterAuth": {"clusterCaCertificate": "LS0tLS1CRUdJTi1QTEFO"},
    }


def _address(args: Args) -> dict[str, Any]:
    return {"id": args.inputs["name"], "address": "203.0.113.20"}


def _dns_auth(args: Args) -> dict[str, Any]:
    domain = args.inputs["domain"]
    record = {
        "name": f"_acme-challenge.{domain}.",
        "type": "CNAME",
        "data": f"{digest(domain)[:8]}.authorize.certificatemanager.goog.",
    }
    return {
        "id": f"projects/{_project(args)}/locations/global/dnsAuthorizations/{args.inputs['name']}",
        "dnsResourceRecords": [record],
    }


def _log_bucket(args: Args) -> dict[str, Any]:
    name = f"projects/{_project(args)}/locations/global/buckets/{args.inputs['bucketId']}"
    return {"id": name, "name": name}


def _dashboard(args: Args) -> dict[str, Any]:
    return {"id": f"projects/{_project(args)}/dashboards/{digest(args.name)[:12]}"}


def _by_name(args: Args) -> dict[str, Any]:
    kind = args.typ.rsplit(":", 1)[1]
    return {"id": f"projects/{_project(args)}/{kind}/{args.inputs.get('name') or args.name}"}


RESOURCE_FAKES: dict[str, ResourceFake] = {
    "gcp:": _generic,
    "gcp:serviceaccount/account:Account": _account,
    "gcp:container/cluster:Cluster": _cluster,
    "gcp:compute/globalAddress:GlobalAddress": _address,
    "gcp:certificatemanager/dnsAuthorization:DnsAuthorization": _dns_auth,
    "gcp:certificatemanager/certificate:Certificate": _by_name,
    "gcp:logging/projectBucketConfig:ProjectBucketConfig": _log_bucket,
    "gcp:monitoring/dashboard:Dashboard": _dashboard,
    "gcp:monitoring/notificationChannel:NotificationChannel": _by_name,
    "kubernetes:": _generic,
}


def _client_config(_: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
    return {"accessToken": "offline-plan-token", "project": "plan-project", "id": "plan"}


def _get_cluster(args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
    name = args.args.get("name", "attached")
    return {
        "name": name,
        "endpoint": "203.0.113.11",
        "masterAuths": [{"clusterCaCertificate": "LS0tLS1CRUdJTi1QTEFO"}],
        "workloadIdentityConfigs": [{"workloadPool": f"{args.args.get('project')}.svc.id.goog"}],
        "gatewayApiConfigs": [{"channel": "CHANNEL_STANDARD"}],
        "monitoringConfigs": [{"managedPrometheuses": [{"enabled": True}]}],
        "datapathProvider": "ADVANCED_DATAPATH",
        "networkPolicies": [],
        "id": name,
    }


CALL_FAKES: dict[str, CallFake] = {
    "gcp:organizations/getClientConfig:getClientConfig": _client_config,
    "gcp:container/getCluster:getCluster": _get_cluster,
}
