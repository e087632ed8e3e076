"""`RolePropagation`: a wait between role assignments and what uses them, a Pulumi
dynamic resource.

ARM answers a role assignment's PUT at once, but the data plane (an endpoint identity
pulling from ACR or reading blobs, API Management reading a key vault secret) sees it
minutes later ("Troubleshoot Azure RBAC": changes can take up to 30 minutes in rare
cases; typically a few). `depends_on` only orders the ARM calls, and an Azure ML
deployment whose first pull is refused fails after a long create (and may then need a
manual delete before a retry), so its consumers wait here first. The wait runs when
the assignments are created or replaced, never on an unchanged `pulumi up`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import pulumi
import pulumi.dynamic as dynamic

from inferstack.components.azure.naming import digest

KIND = "azure-role-propagation"
"""The `kind` input that tells this dynamic resource from others."""
PROPAGATION_S = 180
"""Seconds to wait: past the few minutes role assignments usually take to apply."""


class RolePropagationProvider(dynamic.ResourceProvider):
    """Sleeps on create; a new set of assignments replaces it (and waits again)."""

    def __init__(self, sleep: Callable[[float], None] = time.sleep) -> None:
        self.sleep = sleep

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        self.sleep(float(props["seconds"]))
        return dynamic.CreateResult(id_=digest(*props["assignment_ids"]), outs=props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        moved = olds.get("assignment_ids") != news.get("assignment_ids")
        return dynamic.DiffResult(
            changes=moved, replaces=["assignment_ids"] if moved else [], delete_before_replace=False
        )

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Nothing to remove."""


class RolePropagation(dynamic.Resource):
    """Done `seconds` after `assignments` were created; make their consumers depend on it."""

    def __init__(
        self,
        name: str,
        assignments: Sequence[pulumi.CustomResource],
        seconds: int = PROPAGATION_S,
        opts: pulumi.ResourceOptions | None = None,
        provider: RolePropagationProvider | None = None,
    ) -> None:
        super().__init__(
            provider or RolePropagationProvider(),
            name,
            {
                "kind": KIND,
                "assignment_ids": [a.id for a in assignments],
                "seconds": seconds,
            },
            opts,
        )
