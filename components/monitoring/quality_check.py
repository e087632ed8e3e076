"""Whether the spec's live quality metric fits the model, when its bundle is at hand.

The runtime computes accuracy, precision and recall for classifiers (and AUC when they
return probabilities), MAE and RMSE for regressors (runtime/feedback.py). A quality alarm
on a metric the model never exports would never fire, so it is refused up front. Only a
local bundle folder can be read before deploying; remote artifacts and `raw` outputs
are not checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from inferstack.components.spec.models import DeploymentSpec
from inferstack.runtime.errors import InferstackError
from inferstack.runtime.manifest import read_manifest

METRICS_BY_OUTPUT: Final[dict[str, frozenset[str]]] = {
    "probabilities": frozenset({"accuracy", "precision", "recall", "auc"}),
    "label": frozenset({"accuracy", "precision", "recall"}),
    "value": frozenset({"mae", "rmse"}),
}


def quality_metric_problem(spec: DeploymentSpec) -> str | None:
    """Why `observability.alarms.quality_metric` cannot be computed for the spec's local
    bundle, or None (no metric, a remote artifact, an unreadable or `raw` bundle)."""
    metric = spec.observability.alarms.quality_metric
    folder = Path(spec.model.artifact)
    if metric is None or not (folder / "inferstack.yaml").is_file():
        return None
    try:
        kind = read_manifest(folder).output.kind
    except InferstackError:
        return None  # the bundle's own checks report it
    allowed = METRICS_BY_OUTPUT.get(kind)
    if allowed is None or metric in allowed:
        return None
    return (
        f"observability.alarms.quality_metric: the bundle's outputs are {kind!r}, so live "
        f"quality has {', '.join(sorted(allowed))}, not {metric!r}"
    )
