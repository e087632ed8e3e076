"""`LocalMonitoring`: Prometheus scraping the runtime, and Grafana showing it.

Both run as containers on the endpoint's Docker network, with their ports
published on 127.0.0.1 only. Their configuration (scrape config, alert rules,
datasource, dashboard) is generated here and uploaded into the containers, so no
file on the host is involved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_docker as docker
import pulumi_random as random
import yaml

from inferstack.components.local.alerts import RULES_FILE, alert_rules_yaml
from inferstack.components.local.dashboard import (
    DASHBOARDS_DIR,
    PROVISIONING_DIR,
    dashboard_json,
    dashboard_provider_yaml,
    datasource_yaml,
)
from inferstack.components.local.naming import REPLACE_IN_PLACE, LocalNames, go_duration
from inferstack.components.local.target import ENDPOINT_LABEL
from inferstack.components.spec.models import AlarmThresholds

PROMETHEUS_IMAGE = "prom/prometheus:v2.53.2"
GRAFANA_IMAGE = "grafana/grafana-oss:11.2.2"
PROMETHEUS_CONFIG = "/etc/prometheus/prometheus.yml"
PROMETHEUS_PORT = 9090
GRAFANA_PORT = 3000
SCRAPE_INTERVAL = "10s"


@dataclass(frozen=True)
class LocalMonitoringArgs:
    """Where the runtime is and what to watch for."""

    network: pulumi.Input[str]
    """Docker network the runtime container is on."""
    runtime_address: str
    """`host:port` of the runtime on that network (its /metrics is scraped)."""
    job: str
    """Prometheus scrape job name (every rule and panel is scoped to it); also the
    prefix of the container names and the dashboard's uid."""
    model: str
    """Model name, for titles and alert summaries."""
    alarms: AlarmThresholds
    """Alert thresholds from the spec."""
    endpoint: str = ""
    """The endpoint component's name (the containers' `dev.inferstack.endpoint` label)."""
    prometheus_port: int = PROMETHEUS_PORT
    """Host port (on 127.0.0.1) of Prometheus."""
    grafana_port: int = GRAFANA_PORT
    """Host port (on 127.0.0.1) of Grafana."""


def prometheus_config(job: str, runtime_address: str) -> str:
    """prometheus.yml: scrape the runtime's /metrics and load the generated rules."""
    return yaml.safe_dump(
        {
            "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
            "rule_files": [RULES_FILE],
            "scrape_configs": [
                {
                    "job_name": job,
                    "metrics_path": "/metrics",
                    "static_configs": [{"targets": [runtime_address]}],
                }
            ],
        },
        sort_keys=False,
    )


class LocalMonitoring(pulumi.ComponentResource):
    """Prometheus (scrape config + alert rules) and Grafana (datasource + dashboard)."""

    prometheus_url: pulumi.Output[str]
    """Prometheus on the host, e.g. http://127.0.0.1:9090."""
    dashboard_url: pulumi.Output[str]
    """The provisioned Grafana dashboard on the host."""
    grafana_admin_password: pulumi.Output[str]
    """Grafana's admin password (a secret); viewers need none."""

    def __init__(
        self,
        name: str,
        args: LocalMonitoringArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        previous_name: str | None = None,
    ) -> None:
        super().__init__("inferstack:local:LocalMonitoring", name, None, opts)
        names = LocalNames(name, previous_name)

        def child(suffix: str, **options: Any) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, aliases=names.aliases(suffix), **options)

        labels = [docker.ContainerLabelArgs(label=ENDPOINT_LABEL, value=args.endpoint)]
        prometheus_host = f"{args.job}-prometheus"
        networks = [
            docker.ContainerNetworksAdvancedArgs(name=args.network, aliases=[prometheus_host])
        ]
        prom_image = docker.RemoteImage(
            names.child("prometheus-image"),
            name=PROMETHEUS_IMAGE,
            keep_locally=True,
            opts=child("prometheus-image"),
        )
        self.prometheus = docker.Container(
            names.child("prometheus"),
            name=prometheus_host,
            image=prom_image.image_id,
            restart="unless-stopped",
            networks_advanced=networks,
            ports=[
                docker.ContainerPortArgs(
                    internal=PROMETHEUS_PORT, external=args.prometheus_port, ip="127.0.0.1"
                )
            ],
            uploads=[
                docker.ContainerUploadArgs(
                    file=PROMETHEUS_CONFIG,
                    content=prometheus_config(args.job, args.runtime_address),
                ),
                docker.ContainerUploadArgs(
                    file=RULES_FILE, content=alert_rules_yaml(args.job, args.model, args.alarms)
                ),
            ],
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=[
                    "CMD",
                    "wget",
                    "-q",
                    "-O",
                    "/dev/null",
                    f"http://127.0.0.1:{PROMETHEUS_PORT}/-/ready",
                ],
                interval=go_duration(10),
                timeout=go_duration(3),
                retries=3,
                start_period=go_duration(20),
            ),
            labels=labels,
            opts=child("prometheus", **REPLACE_IN_PLACE),
        )
        admin = random.RandomPassword(
            names.child("grafana-admin"), length=24, special=False, opts=child("grafana-admin")
        )
        self.grafana_admin_password = pulumi.Output.secret(admin.result)
        uid = args.job[:40]
        grafana_image = docker.RemoteImage(
            names.child("grafana-image"),
            name=GRAFANA_IMAGE,
            keep_locally=True,
            opts=child("grafana-image"),
        )
        self.grafana = docker.Container(
            names.child("grafana"),
            name=f"{args.job}-grafana",
            image=grafana_image.image_id,
            restart="unless-stopped",
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=args.network)],
            ports=[
                docker.ContainerPortArgs(
                    internal=GRAFANA_PORT, external=args.grafana_port, ip="127.0.0.1"
                )
            ],
            envs=[
                "GF_AUTH_ANONYMOUS_ENABLED=true",
                "GF_AUTH_ANONYMOUS_ORG_ROLE=Viewer",
                "GF_USERS_ALLOW_SIGN_UP=false",
                pulumi.Output.concat("GF_SECURITY_ADMIN_PASSWORD=", self.grafana_admin_password),
            ],
            uploads=[
                docker.ContainerUploadArgs(
                    file=f"{PROVISIONING_DIR}/datasources/inferstack.yaml",
                    content=datasource_yaml(f"http://{prometheus_host}:{PROMETHEUS_PORT}"),
                ),
                docker.ContainerUploadArgs(
                    file=f"{PROVISIONING_DIR}/dashboards/inferstack.yaml",
                    content=dashboard_provider_yaml(),
                ),
                docker.ContainerUploadArgs(
                    file=f"{DASHBOARDS_DIR}/inferstack.json",
                    content=dashboard_json(uid, args.job, args.model, args.alarms),
                ),
            ],
            labels=labels,
            opts=child("grafana", depends_on=[self.prometheus], **REPLACE_IN_PLACE),
        )
        self.prometheus_url = self.prometheus.name.apply(
            lambda _: f"http://127.0.0.1:{args.prometheus_port}"
        )
        self.dashboard_url = self.grafana.name.apply(
            lambda _: f"http://127.0.0.1:{args.grafana_port}/d/{uid}"
        )
        self.register_outputs(
            {
                "prometheus_url": self.prometheus_url,
                "dashboard_url": self.dashboard_url,
                "grafana_admin_password": self.grafana_admin_password,
            }
        )
