"""The same deployment built a second way: azure-ai-ml entities from the spec.

`azure_ml_entities(spec, project, stack)` writes the spec as Azure ML's own YAML
(endpoint, deployments, environments, models) and loads it with azure-ai-ml's
`load_*` functions, whose marshmallow schemas validate every field, then converts the
entities to the REST objects the SDK would send. Tests compare those with what the
Pulumi component declares (instance type, counts, request settings, probes, routes and
port, traffic), so two independent implementations check each other.

This module reads the spec directly, not the component's helpers, and imports
azure-ai-ml only when called (it is a dev dependency, not part of the azure extra).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import yaml

from inferstack.components.azure.context import OTHER, names_for
from inferstack.components.azure.rules import azure_options, live_traffic_percent
from inferstack.components.spec.models import DeploymentSpec
from inferstack.runtime.contract import PORT, Routes


@dataclass(frozen=True)
class AzureMlEntities:
    """What azure-ai-ml made of the spec, as REST bodies (camelCase, like ARM's)."""

    endpoint: dict[str, Any]
    deployments: dict[str, dict[str, Any]]
    """By colour."""
    environments: dict[str, dict[str, Any]]
    """By model version."""
    models: dict[str, dict[str, Any]]
    """By model version."""


def _probe(settings: Any) -> dict[str, int]:
    return {
        "initial_delay": settings.initial_delay_s,
        "period": settings.period_s,
        "timeout": settings.timeout_s,
        "failure_threshold": settings.failure_threshold,
        "success_threshold": 1,
    }


def documents(spec: DeploymentSpec, project: str, stack: str) -> dict[str, Any]:
    """The spec as Azure ML YAML documents (dicts): endpoint, deployments, environments,
    models."""
    options = azure_options(spec)
    names = names_for(spec, project, stack)
    live = options.live_color
    versions = {live: (spec.model.version, spec.instance_type(), options.image_uri)}
    if options.previous:
        previous = options.previous
        size = previous.instance_type or spec.instance_type()
        versions[OTHER[live]] = (previous.model_version, size, previous.image_uri)
    share = live_traffic_percent(spec)
    traffic = {live: share, **({OTHER[live]: 100 - share} if options.previous else {})}
    endpoint = {
        "name": names.endpoint,
        "auth_mode": "key" if options.endpoint_auth == "key" else "aad_token",
        "public_network_access": "disabled" if options.private else "enabled",
        "traffic": traffic,
        "mirror_traffic": {live: options.mirror_percent} if options.mirror_percent else {},
    }
    route = {"port": PORT}
    environments = {
        version: {
            "name": names.environment,
            "version": version,
            "image": image,
            "os_type": "linux",
            "inference_config": {
                "liveness_route": {**route, "path": Routes.LIVE},
                "readiness_route": {**route, "path": Routes.READY},
                "scoring_route": {**route, "path": Routes.SCORE},
            },
        }
        for version, _, image in versions.values()
    }
    models = {
        version: {
            "name": names.model,
            "version": version,
            "type": "custom_model",
            "path": "azureml://datastores/workspaceblobstore/paths/bundle/",
        }
        for version, _, _ in versions.values()
    }
    deployments = {
        color: {
            "name": color,
            "endpoint_name": names.endpoint,
            "model": f"azureml:{names.model}:{version}",
            "environment": f"azureml:{names.environment}:{version}",
            "instance_type": size,
            "instance_count": spec.scaling.min_replicas,
            "app_insights_enabled": True,
            "request_settings": {
                "request_timeout_ms": options.request_timeout_ms,
                "max_concurrent_requests_per_instance": (
                    options.max_concurrent_requests_per_instance
                ),
            },
            "liveness_probe": _probe(options.liveness_probe),
            "readiness_probe": _probe(options.readiness_probe),
        }
        for color, (version, size, _) in versions.items()
    }
    return {
        "endpoint": endpoint,
        "deployments": deployments,
        "environments": environments,
        "models": models,
    }


def _load(loader: Any, document: dict[str, Any]) -> Any:
    return loader(source=io.StringIO(yaml.safe_dump(document)))


def azure_ml_entities(spec: DeploymentSpec, project: str, stack: str) -> AzureMlEntities:
    """Load the spec's documents with azure-ai-ml (schema-validated) and return the REST
    bodies the SDK would send. azure-ai-ml's ValidationError names what it refused."""
    from azure.ai.ml import (
        load_environment,
        load_model,
        load_online_deployment,
        load_online_endpoint,
    )

    docs = documents(spec, project, stack)
    region = spec.resolved_region or "eastus"
    endpoint = _load(load_online_endpoint, docs["endpoint"])
    return AzureMlEntities(
        endpoint=endpoint._to_rest_online_endpoint(region).as_dict(),
        deployments={
            color: _load(load_online_deployment, doc)._to_rest_object(location=region).as_dict()
            for color, doc in docs["deployments"].items()
        },
        environments={
            version: _load(load_environment, doc)._to_rest_object().as_dict()
            for version, doc in docs["environments"].items()
        },
        models={
            version: _load(load_model, doc)._to_rest_object().as_dict()
            for version, doc in docs["models"].items()
        },
    )
