"""`LocalEndpoint`: the model served by the runtime container on the local Docker engine.

The `local` row of the target table: the runtime image built from the bundle, one
container with its port published on 127.0.0.1, a restart policy and a health check
on readiness, an API key from `pulumi_random` (a secret, passed to the container as
its SHA-256 only), and optionally Prometheus and Grafana beside it (`LocalMonitoring`).
Replicas are fixed at one; a new model version replaces the container, the old one
first (its name and host port are fixed). Names come from the component's name, not
the model's (see `naming`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from inferstack.components.local.naming import REPLACE_IN_PLACE, LocalNames, go_duration
from inferstack.components.local.target import ENDPOINT_LABEL, LocalOptions
from inferstack.components.spec.config import check_local_bundle
from inferstack.components.spec.models import DeploymentSpec
from inferstack.runtime import contract
from inferstack.runtime.auth import hash_key
from inferstack.runtime.contract import Env

RUNTIME_PORT = contract.PORT
CAPTURE_DIR = "/var/lib/inferstack/capture"
HEALTHCHECK = ["CMD", "python", "/usr/local/bin/inferstack-healthcheck"]
# Seconds `docker stop` waits after SIGTERM: the runtime drains in-flight requests.
STOP_TIMEOUT_S = 30
# Durations in the form the provider reads back (`go_duration`), or every `pulumi up`
# would show a diff.
RUNTIME_HEALTHCHECK = docker.ContainerHealthcheckArgs(
    tests=HEALTHCHECK,
    interval=go_duration(10),
    timeout=go_duration(3),
    retries=3,
    start_period=go_duration(60),
)


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
        names = LocalNames(name, spec.model.name)
        opts = pulumi.ResourceOptions.merge(
            opts or pulumi.ResourceOptions(), pulumi.ResourceOptions(aliases=names.aliases())
        )
        super().__init__("inferstack:local:LocalEndpoint", name, None, opts)
        bundle = check_local_spec(spec)
        ports = ports or LocalPorts.of(spec)
        gpu = spec.compute.accelerator != "none"
        runtime_host = names.docker("runtime")

        def child(suffix: str, **options: Any) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, aliases=names.aliases(suffix), **options)

        network = docker.Network(names.child("network"), name=names.docker(), opts=child("network"))
        image = RuntimeImage(
            names.child("image"),
            RuntimeImageArgs(
                bundle_dir=bundle,
                model_name=spec.model.name,
                model_version=spec.model.version,
                gpu=gpu,
            ),
            opts=child("image"),
        )
        envs: list[pulumi.Input[str]] = [
            f"{Env.PORT}={RUNTIME_PORT}",
            f"{Env.HOST}=0.0.0.0",
            f"{Env.MODEL_NAME}={spec.model.name}",
            f"{Env.MODEL_VERSION}={spec.model.version}",
            f"{Env.ENVIRONMENT}={spec.environment}",
        ]
        if spec.gateway.auth == "api_key":
            key = random.RandomPassword(
                names.child("api-key"), length=40, special=False, opts=child("api-key")
            )
            self.api_key = pulumi.Output.secret(key.result)
            # Only the key's SHA-256 goes into the container: `docker inspect` shows
            # every environment variable in plain text.
            envs.append(
                pulumi.Output.concat(f"{Env.API_KEY_HASHES}=", self.api_key.apply(hash_key))
            )
        else:
            self.api_key = pulumi.Output.secret("")
        volumes = []
        capture = spec.observability.data_capture_percent
        if capture > 0:
            # Kept on `make down` and on replacement: it holds the captured requests.
            volume = docker.Volume(
                names.child("capture"),
                name=names.docker("capture"),
                labels=[docker.VolumeLabelArgs(label=ENDPOINT_LABEL, value=name)],
                opts=child("capture", retain_on_delete=True),
            )
            volumes.append(
                docker.ContainerVolumeArgs(container_path=CAPTURE_DIR, volume_name=volume.name)
            )
            envs += [
                f"{Env.CAPTURE_DIR}={CAPTURE_DIR}",
                f"{Env.CAPTURE_SAMPLE_RATE}={capture / 100:g}",
            ]
        self.container = docker.Container(
            names.child("runtime"),
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
            healthcheck=RUNTIME_HEALTHCHECK,
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
                docker.ContainerLabelArgs(label=ENDPOINT_LABEL, value=name),
                docker.ContainerLabelArgs(label="dev.inferstack.model", value=spec.model.name),
                docker.ContainerLabelArgs(
                    label="dev.inferstack.model.version", value=spec.model.version
                ),
            ],
            opts=child("runtime", **REPLACE_IN_PLACE),
        )
        self.url = self.container.name.apply(lambda _: f"http://127.0.0.1:{ports.endpoint}")
        self.monitoring: LocalMonitoring | None = None
        if spec.observability.dashboard:
            self.monitoring = LocalMonitoring(
                names.child("monitoring"),
                LocalMonitoringArgs(
                    network=network.name,
                    runtime_address=f"{runtime_host}:{RUNTIME_PORT}",
                    job=names.docker(),
                    endpoint=name,
                    model=spec.model.name,
                    alarms=spec.observability.alarms,
                    prometheus_port=ports.prometheus,
                    grafana_port=ports.grafana,
                ),
                opts=child("monitoring", depends_on=[self.container]),
                previous_name=names.nested("monitoring").previous,
            )
            self.dashboard_url = self.monitoring.dashboard_url
        else:
            self.dashboard_url = pulumi.Output.from_input("")
        self.register_outputs(
            {"url": self.url, "api_key": self.api_key, "dashboard_url": self.dashboard_url}
        )
