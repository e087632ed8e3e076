"""The bundle's files uploaded to blob storage with Azure AD: a Pulumi dynamic resource.

The stack's storage account refuses shared-key access, and azure-native's `storage.Blob`
uploads with the account key (pulumi/pulumi-azure-native#2015), so bundles go up
through the Blob service's REST API (Put Blob) with an Azure AD token instead. The
deploying identity gets Storage Blob Data Contributor on the container first; a 403
while that assignment propagates is retried.

The blobs live under `<model>/<version>/`; a version's files never change: its digest
list is an input, and new files under a prefix already uploaded are refused (`check`),
since the registered model version that points at them is immutable. A new prefix
replaces the resource; destroying it leaves the blobs that the registered model
version points at.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pulumi.dynamic as dynamic

from inferstack.components.azure.arm import (
    PROPAGATION_WAIT_S,
    STORAGE_SCOPE,
    TokenCredential,
    default_credential,
    request,
)

KIND = "azure-bundle-upload"
"""The `kind` input that tells this dynamic resource from others."""
BLOB_API_VERSION = "2023-11-03"


def bundle_files(bundle_dir: Path) -> dict[str, str]:
    """Every file of the bundle by its path relative to the bundle, with its SHA-256."""
    files = sorted(p for p in bundle_dir.rglob("*") if p.is_file())
    return {
        p.relative_to(bundle_dir).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in files
    }


class BundleUploadProvider(dynamic.ResourceProvider):
    """Puts each file of a bundle folder as a block blob, authenticated with Azure AD."""

    def __init__(
        self,
        credential: Callable[[], TokenCredential] | None = None,
        retry_forbidden_s: float = PROPAGATION_WAIT_S,
        retry_sleep_s: float = 10.0,
    ) -> None:
        self.credential = credential
        self.retry_forbidden_s = retry_forbidden_s
        self.retry_sleep_s = retry_sleep_s

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        credential = (self.credential or default_credential)()
        root = Path(props["bundle_dir"])
        base = f"{props['container_url'].rstrip('/')}/{props['prefix'].strip('/')}"
        for relative in props["files"]:
            data = (root / relative).read_bytes()
            headers = {
                "x-ms-version": BLOB_API_VERSION,
                "x-ms-blob-type": "BlockBlob",
                "Content-Type": "application/octet-stream",
                "Content-MD5": base64.b64encode(hashlib.md5(data).digest()).decode(),  # noqa: S324 (integrity, as the Blob API asks)
            }
            request(
                credential,
                STORAGE_SCOPE,
                "PUT",
                f"{base}/{relative}",
                data,
                headers,
                retry_forbidden_s=self.retry_forbidden_s,
                sleep=self.retry_sleep_s,
            )
        return dynamic.CreateResult(id_=base, outs={**props, "uri": f"{base}/"})

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.CheckResult:
        """Refuse new files under a prefix already uploaded: the registered model version
        points at these blobs and is immutable, so a changed bundle needs a new version."""
        same_place = all(olds.get(k) == news.get(k) for k in ("container_url", "prefix"))
        if olds and same_place and olds.get("files") != news.get("files"):
            return dynamic.CheckResult(
                news,
                [
                    dynamic.CheckFailure(
                        "files",
                        f"the bundle for {news.get('prefix')!r} changed after it was uploaded "
                        "and registered; registered model versions are immutable: bump "
                        "model.version (or previous.model_version)",
                    )
                ],
            )
        return dynamic.CheckResult(news, [])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        """A new place is a new upload (replace); anything else is no change, so the
        resource is never updated in place (an update would upload nothing)."""
        moved = [k for k in ("container_url", "prefix") if olds.get(k) != news.get(k)]
        return dynamic.DiffResult(changes=bool(moved), replaces=moved, delete_before_replace=False)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Nothing: a registered model version keeps pointing at these blobs."""


def folder_uri(container_url: pulumi.Input[str], prefix: str) -> pulumi.Output[str]:
    """The URL of the bundle's folder in the container (what the model version names)."""
    return pulumi.Output.concat(
        pulumi.Output.from_input(container_url).apply(lambda u: u.rstrip("/")),
        "/",
        prefix.strip("/"),
        "/",
    )


class BundleUpload(dynamic.Resource):
    """A bundle folder in blob storage; `uri` is the folder's URL (ends with '/')."""

    uri: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        bundle_dir: Path,
        container_url: pulumi.Input[str],
        prefix: str,
        opts: pulumi.ResourceOptions | None = None,
        provider: BundleUploadProvider | None = None,
    ) -> None:
        super().__init__(
            provider or BundleUploadProvider(),
            name,
            {
                "kind": KIND,
                "bundle_dir": str(bundle_dir),
                "container_url": container_url,
                "prefix": prefix,
                "files": bundle_files(bundle_dir),
                # Known before the upload, so planning and dependents need no provider.
                "uri": folder_uri(container_url, prefix),
            },
            opts,
        )
