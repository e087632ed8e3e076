"""The one place the moto mirror meets the offline plan's fakes.

Non-AWS resources (random passwords, docker images) and provider functions that
moto cannot answer get the plan's fakes, and physical names follow the plan's
auto-naming so that both mocks name a resource alike. If the way plan fakes are
registered changes, this module is what adapts.
"""

from __future__ import annotations

import pulumi

from inferstack.components.aws.plan_fakes import auto_name


def plan_fallback() -> pulumi.runtime.Mocks:
    """The offline plan's mocks, with the AWS target's fakes registered."""
    # Where plan fakes register on import, this import is what registers the AWS ones;
    # where PlanMocks loads each target's fakes itself, it is harmless.
    import inferstack.components.aws.plan_fakes  # noqa: F401
    from inferstack.components.plan.mocks import PlanMocks

    return PlanMocks()


__all__ = ["auto_name", "plan_fallback"]
