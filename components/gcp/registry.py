"""`ImageRegistry`: the Artifact Registry repository and the runtime image pushed to it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_gcp as gcp

from inferstack.components.gcp.capture import image_extras
from inferstack.components.gcp.context import GcpContext
from inferstack.components.gcp.rules import ARTIFACT_REGISTRY_IMAGE, gcp_options
from inferstack.components.image.component import ImageRegistry, RuntimeImage, RuntimeImageArgs

# GKE nodes here are x86-64 (N1, G2, A2, A3, N2): an arm64 laptop must not push arm64.
GKE_PLATFORM = "linux/amd64"


def registry_host(region: str) -> str:
    return f"{region}-docker.pkg.dev"


@dataclass(frozen=True)
class ArtifactRepositoryArgs:
    """The deployment's context and the node service account that pulls."""

    ctx: GcpContext
    node_service_account: pulumi.Input[str]


class ArtifactRepository(pulumi.ComponentResource):
    """A Docker repository with immutable tags; the nodes' account may read it (image
    pulls on GKE use the node's service account, not the pod's Workload Identity)."""

    image: pulumi.Output[str]
    """What the spec's version runs: the given image or the one built from the bundle."""
    variant_images: dict[str, pulumi.Output[str]]
    """A/B variant -> the image built from its bundle."""

    def __init__(
        self, name: str, args: ArtifactRepositoryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("inferstack:gcp:ArtifactRepository", name, None, opts)
        ctx = args.ctx
        options = gcp_options(ctx.spec)
        child = pulumi.ResourceOptions(parent=self)
        repo = gcp.artifactregistry.Repository(
            f"{name}-repo",
            repository_id=ctx.repository_id(),
            project=ctx.project,
            location=ctx.region,
            format="DOCKER",
            docker_config={"immutable_tags": True},
            labels=ctx.labels,
            opts=child,
        )
        reader = pulumi.Output.from_input(args.node_service_account).apply(
            lambda e: f"serviceAccount:{e}"
        )
        gcp.artifactregistry.RepositoryIamMember(
            f"{name}-nodes-read",
            project=ctx.project,
            location=ctx.region,
            repository=repo.repository_id,
            role="roles/artifactregistry.reader",
            member=reader,
            opts=child,
        )
        # Images given by URL may live in another repository: the nodes read those too.
        given = {i for i in (options.image, options.stable_image) if i}
        for i, image in enumerate(sorted(given)):
            found = ARTIFACT_REGISTRY_IMAGE.match(image)
            assert found  # gcp/rules.py refused anything else
            gcp.artifactregistry.RepositoryIamMember(
                f"{name}-nodes-read-{i}",
                project=found["project"],
                location=found["location"],
                repository=found["repo"],
                role="roles/artifactregistry.reader",
                member=reader,
                opts=child,
            )
        self.variant_images = {}
        if options.image:
            self.image = pulumi.Output.from_input(options.image)
        else:
            self.image = self._build(name, ctx, repo)
        self.register_outputs({"image": self.image})

    def _build(
        self, name: str, ctx: GcpContext, repo: gcp.artifactregistry.Repository
    ) -> pulumi.Output[str]:
        """One RuntimeImage per distinct bundle and version (the model's and the A/B
        variants'), for linux/amd64, pushed here; returns the model's."""
        spec = ctx.spec
        url = f"{registry_host(ctx.region)}/{ctx.project}/{ctx.repository_id()}/{spec.model.name}"
        registry = ImageRegistry(
            repository_url=repo.repository_id.apply(lambda _: url),
            server=registry_host(ctx.region),
            username="oauth2accesstoken",
            password=gcp.organizations.get_client_config_output().access_token,
        )
        bundles = {"stable": (spec.model.artifact, spec.model.version)}
        for variant in spec.rollout.variants:
            bundles[variant.name] = (variant.artifact or spec.model.artifact, variant.model_version)
        built: dict[tuple[str, str], pulumi.Output[str]] = {}
        for track, (bundle, version) in bundles.items():
            if (bundle, version) not in built:
                image = RuntimeImage(
                    f"{name}-runtime" if track == "stable" else f"{name}-{track}",
                    RuntimeImageArgs(
                        bundle_dir=Path(bundle),
                        model_name=spec.model.name,
                        model_version=version,
                        gpu=spec.compute.accelerator != "none",
                        registry=registry,
                        platform=GKE_PLATFORM,
                        extras=image_extras(spec),
                    ),
                    opts=pulumi.ResourceOptions(parent=self),
                )
                built[bundle, version] = image.image_ref
            if track != "stable":
                self.variant_images[track] = built[bundle, version]
        return built[bundles["stable"]]
