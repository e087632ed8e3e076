"""The local target: the runtime container on this machine's Docker engine."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, model_validator

from inferstack.components.local.rules import LOCAL_RULES
from inferstack.components.spec.options import TargetOptions
from inferstack.components.target import Target, TargetProfile
from inferstack.runtime.contract import PORT

Port = Annotated[int, Field(ge=1024, le=65535)]
ENDPOINT_LABEL = "dev.inferstack.endpoint"
"""Label on the local containers and volume: the endpoint component's name (the stack's
name under the stack program)."""


class LocalOptions(TargetOptions):
    """Local-only settings: the host ports, each published on 127.0.0.1."""

    port: Port = Field(PORT, description="Host port of the runtime's API.")
    prometheus_port: Port = Field(9090, description="Host port of Prometheus (with dashboard).")
    grafana_port: Port = Field(3000, description="Host port of Grafana (with dashboard).")

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        ports = [self.port, self.prometheus_port, self.grafana_port]
        if len(set(ports)) != len(ports):
            raise ValueError(f"port, prometheus_port and grafana_port must differ, got {ports}")
        return self

    def published(self, dashboard: bool) -> list[tuple[int, str]]:
        """The host ports the stack publishes on 127.0.0.1, each with the setting that
        moves it (Prometheus and Grafana only with the dashboard)."""
        ports = [(self.port, "targets.local.port")]
        if dashboard:
            ports += [
                (self.prometheus_port, "targets.local.prometheus_port"),
                (self.grafana_port, "targets.local.grafana_port"),
            ]
        return ports


TARGET = Target(
    name="local",
    profile=TargetProfile(
        name="local",
        default_region=None,
        # The host's GPU, if any, is passed through to the container.
        instance_types={
            "none": "host",
            "nvidia-t4": "host-gpu",
            "nvidia-a10g": "host-gpu",
            "nvidia-l4": "host-gpu",
            "nvidia-a100": "host-gpu",
            "nvidia-h100": "host-gpu",
        },
        autoscaling=False,
        rollback_on_alarms=False,  # one container, replaced in place
        auth_modes=("api_key", "none"),
    ),
    options=LocalOptions,
    rules=LOCAL_RULES,
    component="inferstack.components.local.endpoint:LocalEndpoint",
    plan_fakes=("inferstack.components.image.plan_fakes", "inferstack.components.local.plan_fakes"),
)
