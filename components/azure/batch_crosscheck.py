"""The batch scoring objects built a second way: azure-ai-ml entities from the spec.

As `crosscheck.py` does for the online endpoint: the spec's `targets.azure.batch` written
as Azure ML's own YAML (batch endpoint, batch deployment, AmlCompute cluster), loaded
with azure-ai-ml's `load_*` functions (their marshmallow schemas validate every field)
and turned into the REST bodies the SDK would send. Tests compare them with what
`BatchScoring` declares. This reads the spec directly, not the component's helpers;
azure-ai-ml (a dev dependency) is imported only when called.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any

import yaml

from inferstack.components.azure.batch_naming import batch_names
from inferstack.components.azure.rules import azure_options
from inferstack.components.spec.models import DeploymentSpec

_TIERS = {"LowPriority": "low_priority", "Dedicated": "dedicated"}


@dataclass(frozen=True)
class BatchEntities:
    """What azure-ai-ml made of the batch settings, as REST bodies (camelCase)."""

    endpoint: dict[str, Any]
    deployment: dict[str, Any]
    compute: dict[str, Any]


def batch_documents(spec: DeploymentSpec, project: str, stack: str) -> dict[str, Any]:
    """The batch settings as Azure ML YAML documents (dicts)."""
    options = azure_options(spec)
    batch = options.batch
    names = batch_names(spec.model.name, project, stack)
    size = batch.instance_type or options.instance_type or spec.instance_type()
    return {
        "endpoint": {"name": names.endpoint, "auth_mode": "aad_token"},
        "compute": {
            "name": names.compute,
            "type": "amlcompute",
            "size": size,
            "tier": _TIERS[batch.priority],
            "min_instances": 0,
            "max_instances": batch.max_nodes,
            "idle_time_before_scale_down": batch.idle_before_scale_down_s,
        },
        "deployment": {
            "name": names.deployment,
            "endpoint_name": names.endpoint,
            "model": f"azureml:{spec.model.name}:{spec.model.version}",
            "environment": f"azureml:{spec.model.name}-runtime-batch:{spec.model.version}",
            "code_configuration": {"code": f"azureml:{names.code}:1", "scoring_script": "score.py"},
            "compute": f"azureml:{names.compute}",
            "resources": {"instance_count": batch.instance_count},
            "mini_batch_size": batch.mini_batch_size,
            "max_concurrency_per_instance": batch.max_concurrency_per_instance,
            "output_action": "summary_only",
            "error_threshold": batch.error_threshold,
            "logging_level": batch.logging_level.lower(),
            "retry_settings": {
                "max_retries": batch.max_retries,
                "timeout": batch.mini_batch_timeout_s,
            },
        },
    }


def _load(loader: Any, document: dict[str, Any]) -> Any:
    return loader(source=io.StringIO(yaml.safe_dump(document)))


def batch_entities(spec: DeploymentSpec, project: str, stack: str) -> BatchEntities:
    """Load the documents with azure-ai-ml and return the REST bodies it would send."""
    from azure.ai.ml import load_batch_deployment, load_batch_endpoint, load_compute

    docs = batch_documents(spec, project, stack)
    region = spec.resolved_region or "eastus"
    with warnings.catch_warnings():
        # The classic (model) deployment YAML loads as the base class, which azure-ai-ml
        # marks deprecated in favour of ModelBatchDeployment; the REST body is the same.
        warnings.simplefilter("ignore", UserWarning)
        deployment = _load(load_batch_deployment, docs["deployment"])
    return BatchEntities(
        endpoint=_load(load_batch_endpoint, docs["endpoint"])
        ._to_rest_batch_endpoint(region)
        .as_dict(),
        deployment=deployment._to_rest_object(location=region).as_dict(),
        compute=_load(load_compute, docs["compute"])._to_rest_object().as_dict(),
    )
