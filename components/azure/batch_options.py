"""`targets.azure.batch`: batch scoring on a low-priority compute cluster (opt-in).

Plain pydantic, no Pulumi or Azure SDK, so a spec validates anywhere. The bounds here are
the ones a field can state alone; `batch_rules.py` checks what needs the rest of the spec.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_NODES = 100
"""Our ceiling for one cluster: a batch job's cost grows with it, and low-priority quota
rarely allows more (raise it deliberately, with the quota in hand)."""


class AzureBatchOptions(BaseModel):
    """A batch endpoint serving the stack's model on an AmlCompute cluster that scales to
    zero: where spot capacity fits Azure ML (low-priority VMs can be preempted; a batch
    job retries the mini-batches a preempted node held)."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    enabled: bool = Field(
        False,
        description="Create the batch endpoint and its cluster (the image in image_uri must be "
        "built with `inferstack build --extra azureml-batch`).",
    )
    instance_type: str | None = Field(
        None,
        description="VM size of the cluster's nodes (default: the online deployment's size).",
    )
    priority: Literal["LowPriority", "Dedicated"] = Field(
        "LowPriority",
        description="Low-priority nodes (preemptible, from the region's low-priority vCPU "
        "quota) or dedicated ones.",
    )
    max_nodes: int = Field(
        4, ge=1, le=MAX_NODES, description="Largest node count the cluster scales to."
    )
    instance_count: int = Field(
        1, ge=1, le=MAX_NODES, description="Nodes one job runs on (at most max_nodes)."
    )
    idle_before_scale_down_s: int = Field(
        300,
        ge=60,
        le=86400,
        description="Seconds an idle node stays before the cluster scales it away (to 0).",
    )
    mini_batch_size: int = Field(
        1, ge=1, le=1000, description="Input files each run() call of the scoring script gets."
    )
    max_concurrency_per_instance: int = Field(
        1,
        ge=1,
        le=64,
        description="Scoring processes per node (each loads the model; at most the node's vCPUs).",
    )
    max_retries: int = Field(
        3, ge=0, le=10, description="Retries of a failed or preempted mini-batch."
    )
    mini_batch_timeout_s: int = Field(
        3600,
        ge=30,
        le=259200,
        description="Seconds one mini-batch may take before it counts as failed.",
    )
    error_threshold: int = Field(
        -1,
        ge=-1,
        description="Failed input files the job tolerates before it fails (-1: any number; "
        "rows failing the schema go to the rejects files and are no error).",
    )
    logging_level: Literal["Info", "Warning", "Debug"] = Field(
        "Info", description="Log level of the batch driver."
    )

    @model_validator(mode="after")
    def _count_within_cluster(self) -> Self:
        if self.instance_count > self.max_nodes:
            raise ValueError(
                f"instance_count {self.instance_count} is more nodes than the cluster's "
                f"max_nodes {self.max_nodes}; raise max_nodes or lower instance_count"
            )
        return self
