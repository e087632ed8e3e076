"""The inferstack stack program: one deployment spec from config, one endpoint.

`pulumi up -s <stack>` runs this with `stacks/Pulumi.<stack>.yaml`; `inferstack
plan <stack>` runs it unchanged under Pulumi's mock runtime.
"""

import pulumi

from inferstack.components.endpoint import create_endpoint, extra_outputs
from inferstack.components.errors import DeployError
from inferstack.components.spec.config import (
    check_local_bundle,
    find_project_root,
    resolve_artifacts,
    spec_from_pulumi_config,
    stack_source,
)
from inferstack.components.spec.models import DeploymentSpec


def endpoint_name(spec: DeploymentSpec) -> str:
    """The endpoint component's name, which its resources' names derive from.

    `local`: the stack's name. Renaming the model then keeps every resource (and its
    Docker names, which are global to the engine), and two local stacks stay apart.
    The cloud targets: the model's name, which their physical names are made of.
    """
    return pulumi.get_stack() if spec.target == "local" else spec.model.name


def main() -> None:
    try:
        spec = resolve_artifacts(spec_from_pulumi_config(), find_project_root())
        check_local_bundle(spec, stack_source())
        endpoint = create_endpoint(endpoint_name(spec), spec)
    except DeployError as err:
        # RunError prints the message alone, without a traceback.
        raise pulumi.RunError(str(err)) from err
    pulumi.export("endpoint_url", endpoint.url)
    pulumi.export("api_key", pulumi.Output.secret(endpoint.api_key))
    pulumi.export("dashboard_url", endpoint.dashboard_url)
    for key, value in extra_outputs(endpoint).items():
        pulumi.export(key, value)


main()
