"""`ServingWorkloads`: the Kubernetes objects of a deployment, and the identity they run as.

`serving_objects` lists every manifest (pure: tests render and validate exactly this
list); the component declares them through pulumi-kubernetes on the cluster's provider,
after the GCP service account and its Workload Identity binding exist.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp
import pulumi_random as random

from inferstack.components.gcp import routing, workloads
from inferstack.components.gcp.capture import (
    CaptureBucket,
    CaptureBucketArgs,
    capture_on,
    sample_rate,
)
from inferstack.components.gcp.context import GcpContext
from inferstack.components.gcp.kube import declare
from inferstack.components.gcp.rules import gcp_options, pod_requests
from inferstack.components.gcp.workloads import Manifest, Serving, Workload
from inferstack.components.spec.models import DeploymentSpec
from inferstack.runtime.auth import hash_key


@dataclass(frozen=True)
class EdgeNames:
    """What the Gateway refers to outside the cluster."""

    address: str
    security_policy: str
    certificate_map: str | None
    ssl_policy: str | None = None


@dataclass(frozen=True)
class Track:
    """One Service and its route weight, with the Deployments behind it."""

    name: str
    service: str
    weight: int
    workloads: tuple[Workload, ...]


def serving_for(ctx: GcpContext, gsa_email: Any, capture_uri: Any = None) -> Serving:
    spec = ctx.spec
    cpu, memory = pod_requests(spec)
    return Serving(
        namespace=ctx.namespace,
        app=spec.model.name,
        service_account=f"{spec.model.name}-runtime",
        gcp_service_account=gsa_email,
        environment=spec.environment,
        cpu=f"{cpu:g}",
        memory=f"{memory:g}Gi",
        gpus=spec.compute.gpu_count if spec.compute.accelerator != "none" else 0,
        api_key_secret=f"{spec.model.name}-api-key" if spec.gateway.auth == "api_key" else None,
        capture_uri=capture_uri,
        capture_rate=sample_rate(spec),
    )


def weights(spec: DeploymentSpec) -> dict[str, int]:
    """Route weight per track: the canary share, or the A/B weights in percent of their sum
    (HTTPRoute weights are integers, relative to each other)."""
    rollout = spec.rollout
    if not rollout.variants:
        return {"stable": 100}
    raw = {"stable": rollout.primary_weight, **{v.name: v.weight for v in rollout.variants}}
    total = sum(raw.values())
    return {track: round(100 * weight / total) for track, weight in raw.items()}


def tracks(
    ctx: GcpContext, image: Any, variant_images: dict[str, Any] | None = None
) -> list[Track]:
    """stable (and canary, or A/B variant) tracks: weights from the rollout, capacity from
    compute. `variant_images`: each variant's image (default: `image`)."""
    spec, options = ctx.spec, gcp_options(ctx.spec)
    scaling, compute = spec.scaling, spec.compute
    canary = spec.rollout.strategy == "canary" and options.stable_version is not None

    def flex_and_base(
        track: str, version: str, img: Any, low: int, high: int
    ) -> tuple[Workload, ...]:
        if not compute.spot:
            return (
                Workload(
                    ctx.deployment_name(track), track, version, img, "on-demand", low, high, True
                ),
            )
        base = min(compute.on_demand_base, high) if track == "stable" else 0
        out = []
        if base:
            name = ctx.deployment_name(track, "base")
            out.append(Workload(name, track, version, img, "on-demand", base, base, False))
        if high > base:  # the rest prefers spot; an HPA keeps at least one of it
            name = ctx.deployment_name(track)
            flex = Workload(
                name, track, version, img, "flex", max(1, low - base), high - base, True
            )
            out.append(flex)
        return tuple(out)

    if not canary:
        shares = weights(spec)
        variants = [
            Track(
                v.name,
                ctx.service_name(v.name),
                shares[v.name],
                flex_and_base(
                    v.name,
                    v.model_version,
                    (variant_images or {}).get(v.name, image),
                    v.replicas,
                    max(v.replicas, scaling.max_replicas),
                ),
            )
            for v in spec.rollout.variants
        ]
        return [
            Track(
                "stable",
                ctx.service_name("stable"),
                shares["stable"],
                flex_and_base(
                    "stable", spec.model.version, image, scaling.min_replicas, scaling.max_replicas
                ),
            ),
            *variants,
        ]
    share = round(spec.rollout.canary_percent)
    canary_max = max(1, math.ceil(scaling.max_replicas * share / 100))
    stable_version, stable_image = options.stable_version, options.stable_image
    assert stable_version is not None
    return [
        Track(
            "stable",
            ctx.service_name("stable"),
            100 - share,
            flex_and_base(
                "stable",
                stable_version,
                stable_image,
                scaling.min_replicas,
                scaling.max_replicas,
            ),
        ),
        Track(
            "canary",
            ctx.service_name("canary"),
            share,
            flex_and_base("canary", spec.model.version, image, 1, canary_max),
        ),
    ]


def serving_objects(
    ctx: GcpContext,
    image: Any,
    gsa_email: Any,
    key_hash: Any,
    edge: EdgeNames,
    variant_images: dict[str, Any] | None = None,
    capture_uri: Any = None,
) -> list[Manifest]:
    """Every Kubernetes object of the deployment, in apply order (`capture_uri`: the
    capture bucket's prefix the runtime writes to, None without data capture)."""
    spec, options = ctx.spec, gcp_options(ctx.spec)
    serving = serving_for(ctx, gsa_email, capture_uri)
    objects = [workloads.namespace(serving), workloads.service_account(serving)]
    if serving.api_key_secret:
        objects.append(workloads.api_key_secret(serving, key_hash))
    backends = []
    for track in tracks(ctx, image, variant_images):
        for workload in track.workloads:
            objects.append(workloads.deployment(serving, workload))
            objects.append(workloads.pdb(serving, workload))
            if workload.autoscaled:
                objects.append(
                    workloads.hpa(
                        serving,
                        workload,
                        workloads.hpa_metric(
                            spec.scaling.target_metric,
                            spec.scaling.target_value,
                            serving.namespace,
                            workload.name,
                        ),
                        spec.scaling.scale_in_cooldown_s,
                        spec.scaling.scale_out_cooldown_s,
                    )
                )
        objects.append(workloads.service(serving, track.service, track.name))
        objects.append(routing.backend_policy(serving, track.service, edge.security_policy))
        objects.append(routing.health_check_policy(serving, track.service))
        backends.append(routing.Backend(track.service, track.weight))
    gateway_name = spec.model.name
    objects.append(
        routing.gateway(
            serving, gateway_name, options.gateway_class, edge.address, edge.certificate_map
        )
    )
    if edge.ssl_policy:
        objects.append(routing.gateway_policy(serving, gateway_name, edge.ssl_policy))
    objects.append(
        routing.http_route(serving, spec.model.name, gateway_name, options.domain, backends)
    )
    objects.append(workloads.network_policy(serving, spec.model.name))
    objects.append(workloads.pod_monitoring(serving, spec.model.name))
    return objects


@dataclass(frozen=True)
class ServingWorkloadsArgs:
    ctx: GcpContext
    image: pulumi.Input[str]
    edge: EdgeNames
    variant_images: dict[str, pulumi.Input[str]]
    """A/B variant -> its image."""
    provider: pulumi.ProviderResource
    depends_on: tuple[pulumi.Resource, ...] = ()
    """The node pools: workloads wait for somewhere to run."""
    cluster: pulumi.Resource | None = None
    """A created cluster: the `<project>.svc.id.goog` pool the Workload Identity binding
    names exists only once it does (None: an attached cluster, whose pool exists)."""


class ServingWorkloads(pulumi.ComponentResource):
    """GCP service account + Workload Identity binding, then every Kubernetes object."""

    api_key: pulumi.Output[str]
    gcp_service_account: pulumi.Output[str]

    def __init__(
        self, name: str, args: ServingWorkloadsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("inferstack:gcp:ServingWorkloads", name, None, opts)
        ctx, spec = args.ctx, args.ctx.spec
        child = pulumi.ResourceOptions(parent=self)
        gsa = gcp.serviceaccount.Account(
            f"{name}-runtime",
            account_id=ctx.account_id("run"),
            display_name=f"inferstack runtime of {ctx.base}",
            project=ctx.project,
            opts=child,
        )
        serving = serving_for(ctx, "")
        binding = gcp.serviceaccount.IAMMember(
            f"{name}-workload-identity",
            service_account_id=gsa.name,
            role="roles/iam.workloadIdentityUser",
            member=f"serviceAccount:{ctx.workload_pool}[{serving.namespace}/{serving.service_account}]",
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[args.cluster] if args.cluster else []
            ),
        )
        grants: list[pulumi.Resource] = [binding]
        if spec.model.artifact.startswith("gs://"):
            bucket = spec.model.artifact.removeprefix("gs://").split("/", 1)[0]
            grants.append(
                gcp.storage.BucketIAMMember(
                    f"{name}-artifact-read",
                    bucket=bucket,
                    role="roles/storage.objectViewer",
                    member=gsa.email.apply(lambda e: f"serviceAccount:{e}"),
                    opts=child,
                )
            )
        capture_uri: pulumi.Output[str] | None = None
        if capture_on(spec):
            capture = CaptureBucket(
                f"{name}-capture", CaptureBucketArgs(ctx, gsa.email), opts=child
            )
            grants.append(capture.grant)
            capture_uri = capture.uri
        key_hash: pulumi.Input[str] = ""
        self.api_key = pulumi.Output.secret("")
        if spec.gateway.auth == "api_key":
            key = random.RandomPassword(f"{name}-api-key", length=40, special=False, opts=child)
            self.api_key = pulumi.Output.secret(key.result)
            key_hash = pulumi.Output.secret(key.result.apply(hash_key))
        kube = pulumi.ResourceOptions(
            parent=self, provider=args.provider, depends_on=[*grants, *args.depends_on]
        )
        namespace, *rest = serving_objects(
            ctx, args.image, gsa.email, key_hash, args.edge, args.variant_images, capture_uri
        )
        created = declare(f"{name}-namespace", namespace, kube)
        in_namespace = pulumi.ResourceOptions.merge(
            kube, pulumi.ResourceOptions(depends_on=[created])
        )
        for manifest in rest:
            kind, meta_name = manifest["kind"], manifest["metadata"]["name"]
            declare(f"{name}-{kind.lower()}-{meta_name}", manifest, in_namespace)
        self.gcp_service_account = gsa.email
        self.register_outputs({"gcp_service_account": self.gcp_service_account})
