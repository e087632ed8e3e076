"""`ImageRegistry`: the Artifact Registry repository and the runtime image pushed to it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_gcp as gcp

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
        url = (
            f"{registry_host(ctx.region)}/{ctx.project}/{ctx.repository_id()}/{ctx.spec.model.name}"
        )
        if options.image:
            self.image = pulumi.Output.from_input(options.image)
        else:
            token = gcp.organizations.get_client_config_output()
            built = RuntimeImage(
                f"{name}-runtime",
                RuntimeImageArgs(
                    bundle_dir=Path(ctx.spec.model.artifact),
                    model_name=ctx.spec.model.name,
                    model_version=ctx.spec.model.version,
                    gpu=ctx.spec.compute.accelerator != "none",
                    registry=ImageRegistry(
                        repository_url=repo.repository_id.apply(lambda _: url),
                        server=registry_host(ctx.region),
                        username="oauth2accesstoken",
                        password=token.access_token,
                    ),
                    platform=GKE_PLATFORM,
                ),
                opts=child,
            )
            self.image = built.image_ref
        self.register_outputs({"image": self.image})
