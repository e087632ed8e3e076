"""`LocalEndpoint`: the model served by the runtime container on the local Docker engine.

The `local` row of the target table: the runtime image built from the bundle, one
container with its port published on 127.0.0.1, a restart policy and a health check
on readiness, an API key from `pulumi_random` (a secret), and optionally Prometheus
and Grafana beside it (`LocalMonitoring`). Replicas are fixed at one; a new model
version replaces the container.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from inferstack.components.errors import SpecError
from inferstack.components.image.component import RuntimeImage, RuntimeImageArgs
from inferstack.components.local.monitoring import (
    GRAFANA_PORT,
    PROMETHEUS_PORT,
    LocalMonitoring,
    LocalMonitoringArgs,
)
from inferstack.components.local.target import LocalOptions
from inferstack.components.spec.config import check_local_bundle
from inferstack.components.spec.models import DeploymentSpec
from inferstack.runtime import contract
from inferstack.runtime.contract import Env

RUNTIME_PORT = contract.PORT
CAPTURE_DIR = "/var/lib/inferstack/capture"
HEALTHCHECK = ["CMD", "python", "/usr/local/bin/inferstack-healthcheck"]
# Seconds `docker stop` waits after SIGTERM: the runtime drains in-flight requests.
STOP_TIMEOUT_S = 30


@dataclass(frozen=True)
class LocalPorts:
    """Host ports, all published on 127.0.0.1."""

    endpoint: int = RUNTIME_PORT
    """The runtime's API."""
    prometheus: int = PROMETHEUS_PORT
    """Prometheus (when the dashboard is on)."""
    grafana: int = GRAFANA_PORT
    """Grafana (when the dashboard is on)."""

    @classmethod
    def of(cls, spec: DeploymentSpec) -> LocalPorts:
        """The ports the spec's `local` settings name."""
        local = local_options(spec)
        return cls(local.port, local.prometheus_port, local.grafana_port)


def local_options(spec: DeploymentSpec) -> LocalOptions:
    """The spec's `targets.local` settings (defaults when it sets none)."""
    options = spec.options
    if not isinstance(options, LocalOptions):
        raise SpecError(
            [f"deployment.target: LocalEndpoint needs target local, got {spec.target!r}"]
        )
    return options


def check_local_spec(spec: DeploymentSpec) -> Path:
    """The bundle folder of a local deployment, or `SpecError` naming the field."""
    artifact = spec.model.artifact
    if "://" in artifact:
        raise SpecError(
            [
                "deployment.model.artifact: the local target builds from a bundle folder, "
                f"not {artifact!r}"
            ]
        )
    check_local_bundle(spec)
    return Path(artifact)


class LocalEndpoint(pulumi.ComponentResource):
    """The runtime container on the local Docker engine, with optional monitoring."""

    url: pulumi.Output[str]
    """Base URL of the API, on 127.0.0.1."""
    api_key: pulumi.Output[str]
    """The caller API key, a secret ("" when gateway.auth is none)."""
    dashboard_url: pulumi.Output[str]
    """The Grafana dashboard ("" when observability.dashboard is off)."""

    def __init__(
        self,
        name: str,
        spec: DeploymentSpec,
        opts: pulumi.ResourceOptions | None = None,
        *,
        ports: LocalPorts | None = None,
    ) -> None:
        super().__init__("inferstack:local:LocalEndpoint", name, None, opts)
        bundle = check_local_spec(spec)
        ports = ports or LocalPorts.of(spec)
        child = pulumi.ResourceOptions(parent=self)
        gpu = spec.compute.accelerator != "none"
        runtime_host = f"inferstack-{name}-runtime"

        network = docker.Network(f"{name}-network", name=f"inferstack-{name}", opts=child)
        image = RuntimeImage(
            f"{name}-image",
            RuntimeImageArgs(
                bundle_dir=bundle,
                model_name=spec.model.name,
                model_version=spec.model.version,
                gpu=gpu,
            ),
            opts=child,
        )
        if spec.gateway.auth == "api_key":
            key = random.RandomPassword(f"{name}-api-key", length=40, special=False, opts=child)
            self.api_key = pulumi.Output.secret(key.result)
        else:
            self.api_key = pulumi.Output.secret("")
        envs: list[pulumi.Input[str]] = [
            f"{Env.PORT}={RUNTIME_PORT}",
            f"{Env.HOST}=0.0.0.0",
            f"{Env.MODEL_NAME}={spec.model.name}",
            f"{Env.MODEL_VERSION}={spec.model.version}",
            f"{Env.ENVIRONMENT}={spec.environment}",
        ]
        if spec.gateway.auth == "api_key":
            envs.append(pulumi.Output.concat(f"{Env.API_KEY}=", self.api_key))
        volumes = []
        capture = spec.observability.data_capture_percent
        if capture > 0:
            volume = docker.Volume(f"{name}-capture", name=f"inferstack-{name}-capture", opts=child)
            volumes.append(
                docker.ContainerVolumeArgs(container_path=CAPTURE_DIR, volume_name=volume.name)
            )
            envs += [
                f"{Env.CAPTURE_DIR}={CAPTURE_DIR}",
                f"{Env.CAPTURE_SAMPLE_RATE}={capture / 100:g}",
            ]
        self.container = docker.Container(
            f"{name}-runtime",
            name=runtime_host,
            image=image.image_ref,
            envs=envs,
            ports=[
                docker.ContainerPortArgs(
                    internal=RUNTIME_PORT, external=ports.endpoint, ip="127.0.0.1"
                )
            ],
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=network.name, aliases=[runtime_host])
            ],
            restart="unless-stopped",
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=HEALTHCHECK, interval="10s", timeout="3s", retries=3, start_period="60s"
            ),
            wait=True,
            wait_timeout=180,
            stop_signal="SIGTERM",
            stop_timeout=STOP_TIMEOUT_S,
            # What a replacement or `make down` waits: the provider stops the container
            # with this timeout (0 when unset: SIGKILL right after SIGTERM) and would
            # cut the in-flight requests off instead of draining them.
            destroy_grace_seconds=STOP_TIMEOUT_S,
            gpus="all" if gpu else None,
            volumes=volumes or None,
            labels=[
                docker.ContainerLabelArgs(label="dev.inferstack.model", value=spec.model.name),
                docker.ContainerLabelArgs(
                    label="dev.inferstack.model.version", value=spec.model.version
                ),
            ],
            opts=child,
        )
        self.url = self.container.name.apply(lambda _: f"http://127.0.0.1:{ports.endpoint}")
        self.monitoring: LocalMonitoring | None = None
        if spec.observability.dashboard:
            self.monitoring = LocalMonitoring(
                f"{name}-monitoring",
                LocalMonitoringArgs(
                    network=network.name,
                    runtime_address=f"{runtime_host}:{RUNTIME_PORT}",
                    job=f"inferstack-{name}",
                    model=spec.model.name,
                    alarms=spec.observability.alarms,
                    prometheus_port=ports.prometheus,
                    grafana_port=ports.grafana,
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.container]),
            )
            self.dashboard_url = self.monitoring.dashboard_url
        else:
            self.dashboard_url = pulumi.Output.from_input("")
        self.register_outputs(
            {"url": self.url, "api_key": self.api_key, "dashboard_url": self.dashboard_url}
        )
