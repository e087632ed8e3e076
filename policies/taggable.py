"""Which resource types take cost tags, read from the provider SDKs themselves.

A resource that could carry tags but was declared without them is invisible to a rule
that only looks at the tags it finds; asking the SDK's args class whether the type has a
`tags` (AWS, Azure) or `labels` (GCP) field finds those too. Where a provider SDK is not
installed the answer is "unknown", and only resources that carry tags are checked.
"""

from __future__ import annotations

import importlib
from functools import cache

# The props key of each SDK field that holds cost tags, in the order they are tried.
# GCP's user_labels comes first: where a type has it, its `labels` are configuration
# (a notification channel's address), not cost labels.
_TAG_FIELDS = (
    ("tags", "tags"),
    ("user_labels", "userLabels"),
    ("labels", "labels"),
    ("resource_labels", "resourceLabels"),
)
_PACKAGES = {"aws": "pulumi_aws", "azure-native": "pulumi_azure_native", "gcp": "pulumi_gcp"}


@cache
def tag_field(token: str) -> str | None:
    """The props key that holds tags for resource type `token` (e.g.
    `aws:s3/bucketV2:BucketV2`), or None when the type takes none or is unknown."""
    package, _, rest = token.partition(":")
    module_path, _, class_name = rest.rpartition(":")
    if package not in _PACKAGES or not class_name:
        return None
    module = module_path.split("/")[0]
    try:
        sdk = importlib.import_module(f"{_PACKAGES[package]}.{module}")
    except ImportError:
        return None
    args = getattr(sdk, f"{class_name}Args", None)
    for field, key in _TAG_FIELDS:
        if args is not None and hasattr(args, field):
            return key
    return None
