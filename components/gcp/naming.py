"""Names GCP and Kubernetes accept, and one way to fit a name to them.

Every physical name the GKE target sets goes through `fit(rule, ...)`: a name that
already fits comes back unchanged; one that does not is lower-cased, its other
characters turned into '-', and, if still too long, cut and ended with 6 hex
characters of a hash of the whole name, so it stays unique and the same on every run.
Nothing is left to Pulumi's auto-naming (which would add 8 characters).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from inferstack.components.errors import DeployError

DIGEST = 6
_DNS_LABEL = r"[a-z]([-a-z0-9]*[a-z0-9])?"


class NameFitError(DeployError):
    """A name cannot be made to fit its rule (a bug in how names are put together)."""


@dataclass(frozen=True)
class NameRule:
    """What GCP or Kubernetes accepts as one kind of name."""

    what: str
    max_length: int
    pattern: str
    source: str
    min_length: int = 1

    def problems(self, name: str) -> list[str]:
        """Why the name would be refused (empty when it fits)."""
        out = []
        if not self.min_length <= len(name) <= self.max_length:
            out.append(f"{len(name)} characters, not {self.min_length}-{self.max_length}")
        if not re.fullmatch(self.pattern, name):
            out.append(f"does not match {self.pattern}")
        return out


_GKE = (
    "https://cloud.google.com/kubernetes-engine/docs/reference/rest/v1/projects.locations.clusters"
)
CLUSTER = NameRule("GKE cluster name", 40, _DNS_LABEL, _GKE)
NODE_POOL = NameRule("GKE node pool name", 40, _DNS_LABEL, f"{_GKE}.nodePools")
SERVICE_ACCOUNT_ID = NameRule(
    "IAM service account id",
    30,
    r"[a-z]([-a-z0-9]*[a-z0-9])",
    "https://cloud.google.com/iam/docs/reference/rest/v1/projects.serviceAccounts/create",
    min_length=6,
)
REPOSITORY = NameRule(
    "Artifact Registry repository id",
    63,
    _DNS_LABEL,
    "https://cloud.google.com/artifact-registry/docs/repositories/create-repos",
)
COMPUTE = NameRule(
    "Compute Engine resource name (security policy, address, network, subnet)",
    63,
    _DNS_LABEL,
    "https://cloud.google.com/compute/docs/naming-resources",
)
CERTIFICATE = NameRule(
    "Certificate Manager resource name",
    63,
    _DNS_LABEL,
    "https://cloud.google.com/certificate-manager/docs/reference/certificate-manager/rest",
)
LOG_BUCKET = NameRule(
    "Cloud Logging bucket id",
    100,
    r"[a-z0-9]([-_a-z0-9]*[a-z0-9])?",
    "https://cloud.google.com/logging/docs/reference/v2/rest/v2/projects.locations.buckets/create",
)
K8S_LABEL = NameRule(
    "Kubernetes DNS-1035 label (namespace, Service)",
    63,
    _DNS_LABEL,
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names/",
)
# Pods are named <deployment>-<pod-template-hash, up to 10>-<5>; their host name is a
# 63-character label, so the Deployment keeps to 63 - 17.
K8S_DEPLOYMENT = NameRule(
    "Kubernetes Deployment name (its pods' host names stay within 63)",
    46,
    _DNS_LABEL,
    "https://kubernetes.io/docs/concepts/workloads/controllers/deployment/",
)

NAME_RULES = (
    CLUSTER,
    NODE_POOL,
    SERVICE_ACCOUNT_ID,
    REPOSITORY,
    COMPUTE,
    CERTIFICATE,
    LOG_BUCKET,
    K8S_LABEL,
    K8S_DEPLOYMENT,
)


def digest(text: str, n: int = DIGEST) -> str:
    """`n` hex characters of the SHA-256 of `text`."""
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def fit(rule: NameRule, *parts: str) -> str:
    """`parts` joined with '-' and made to fit `rule` (unchanged when it already does)."""
    name = "-".join(p for p in parts if p)
    if not rule.problems(name):
        return name
    clean = re.sub(r"[^a-z0-9-]+", "-", name.lower())
    clean = re.sub(r"-{2,}", "-", clean).strip("-")
    if not clean or not clean[0].isalpha():
        clean = f"x{clean}"
    if len(clean) > rule.max_length or len(clean) < rule.min_length:
        keep = rule.max_length - DIGEST - 1
        clean = f"{clean[:keep].rstrip('-')}-{digest(name)}"
    problems = rule.problems(clean)
    if problems:
        raise NameFitError(f"{rule.what} {clean!r} from {name!r}: {'; '.join(problems)}")
    return clean
