"""Names of the batch scoring objects, fitted to Azure ML's rules.

- A batch endpoint's name is part of its scoring host, `<name>.<region>.inference.ml.azure.com`,
  the same DNS space as online endpoints: 3-32 letters, digits and hyphens, starting with a
  letter, unique per region. It ends with a hash of the project, stack, model and "batch",
  so it never equals the stack's online endpoint nor another stack's batch endpoint.
- A compute cluster's name is 2-16 letters, digits and hyphens, starting with a letter,
  unique in its workspace (stacks may share one): it ends with the same kind of hash.
- Batch deployment names follow the endpoint's rule ("reference-yaml-deployment-batch").
Sources: "Batch endpoint YAML schema" and "Compute cluster" pages of Azure ML
(https://learn.microsoft.com/azure/machine-learning/reference-yaml-endpoint-batch,
https://learn.microsoft.com/azure/machine-learning/how-to-create-attach-compute-cluster).
"""

from __future__ import annotations

from dataclasses import dataclass

from inferstack.components.azure.naming import ML_ASSET, AzureNameRule, fit, global_name

_LETTER_FIRST = r"[a-zA-Z]([a-zA-Z0-9-]*[a-zA-Z0-9])?"
_ML = "azure-native:machinelearningservices"

BATCH_ENDPOINT = AzureNameRule(
    "batch endpoint (unique per region)",
    f"{_ML}:BatchEndpoint",
    "endpointName",
    3,
    32,
    _LETTER_FIRST,
    r"[^a-zA-Z0-9-]+",
)
BATCH_DEPLOYMENT = AzureNameRule(
    "batch deployment",
    f"{_ML}:BatchDeployment",
    "deploymentName",
    3,
    32,
    _LETTER_FIRST,
    r"[^a-zA-Z0-9-]+",
)
COMPUTE_CLUSTER = AzureNameRule(
    "compute cluster (unique in its workspace)",
    f"{_ML}:Compute",
    "computeName",
    2,
    16,
    _LETTER_FIRST,
    r"[^a-zA-Z0-9-]+",
)
BATCH_NAME_RULES = (BATCH_ENDPOINT, BATCH_DEPLOYMENT, COMPUTE_CLUSTER)


@dataclass(frozen=True)
class BatchNames:
    """Physical names of one stack's batch scoring objects."""

    endpoint: str
    deployment: str
    compute: str
    code: str
    """The code asset holding the scoring script."""


def batch_names(model: str, project: str, stack: str) -> BatchNames:
    """The batch objects' names for `model` in `project`/`stack`."""
    scope = (project, stack, model, "batch")
    return BatchNames(
        endpoint=global_name(BATCH_ENDPOINT, "", f"{model}-batch", *scope),
        deployment=fit(BATCH_DEPLOYMENT, "score"),
        compute=global_name(COMPUTE_CLUSTER, "b", model, *scope),
        code=fit(ML_ASSET, model, "batch-score"),
    )
