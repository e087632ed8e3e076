"""`CaptureContainer`: where the Azure ML runtime writes captured requests (capture on).

With ``observability.data_capture_percent`` above 0 the stack creates one private blob
container (no anonymous access) in the workspace's storage account, whose encryption
at rest is the account's (Microsoft-managed keys on the account this stack creates;
shared-key access off, Azure AD only). The endpoint's user-assigned identity gets
Storage Blob Data Contributor scoped to that container only (not the account, so it
cannot read the bundles or the workspace's other data), before the deployments start;
the deployments get ``INFERSTACK_CAPTURE_URI=https://<account>.blob.core.windows.net/
<container>/capture`` and the sample rate. Azure ML runs the image the user built
(``targets.azure.image_uri``): it has to hold the ``capture-azure`` extra's packages
(docs/monitoring.md says how to build it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure_native

from inferstack.components.azure.context import AzureContext
from inferstack.components.spec.models import DeploymentSpec

CAPTURE_EXTRA = "capture-azure"
CAPTURE_PREFIX = "capture"
_ACCOUNT_ID = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/([^/]+)/providers/Microsoft\.Storage/"
    r"storageAccounts/([^/]+)$",
    re.IGNORECASE,
)


def capture_on(spec: DeploymentSpec) -> bool:
    """Whether the spec captures requests at all."""
    return spec.observability.data_capture_percent > 0


def sample_rate(spec: DeploymentSpec) -> str:
    """INFERSTACK_CAPTURE_SAMPLE_RATE: the spec's percent as a fraction."""
    return f"{spec.observability.data_capture_percent / 100:g}"


def container_name(ctx: AzureContext) -> str:
    """``capture-<endpoint>``: 3-63 lowercase letters, digits and single hyphens."""
    name = re.sub(r"-{2,}", "-", f"capture-{ctx.names.endpoint.lower()}")
    return name[:63].rstrip("-")


def account_of(storage_account_id: str) -> tuple[str, str]:
    """(resource group, account name) of a storage account's ARM ID."""
    match = _ACCOUNT_ID.match(storage_account_id)
    if match is None:
        raise ValueError(f"not a storage account ID: {storage_account_id!r}")
    return match[1], match[2]


@dataclass(frozen=True)
class CaptureContainerArgs:
    """The workspace's storage account the container goes in."""

    ctx: AzureContext
    """The deployment's names."""
    storage_account_id: pulumi.Input[str]
    """ARM ID of the workspace's storage account."""


class CaptureContainer(pulumi.ComponentResource):
    """A private blob container for captured requests."""

    uri: pulumi.Output[str]
    """The runtime's INFERSTACK_CAPTURE_URI (container URL and the ``capture`` prefix)."""
    scope: pulumi.Output[str]
    """The container's ARM ID: the scope of the endpoint identity's write grant."""

    def __init__(
        self, name: str, args: CaptureContainerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("inferstack:azure:CaptureContainer", name, None, opts)
        account = pulumi.Output.from_input(args.storage_account_id).apply(account_of)
        container = azure_native.storage.BlobContainer(
            f"{name}-container",
            container_name=container_name(args.ctx),
            account_name=account.apply(lambda a: a[1]),
            resource_group_name=account.apply(lambda a: a[0]),
            public_access=azure_native.storage.PublicAccess.NONE,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.scope = pulumi.Output.concat(
            args.storage_account_id, "/blobServices/default/containers/", container.name
        )
        self.uri = pulumi.Output.concat(
            "https://",
            account.apply(lambda a: a[1]),
            ".blob.core.windows.net/",
            container.name,
            f"/{CAPTURE_PREFIX}",
        )
        self.register_outputs({"uri": self.uri, "scope": self.scope})
