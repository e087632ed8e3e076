"""Run `inferstack promote` in this process against moto, for the Ctrl-C test.

Usage: python -m tests.components.lifecycle.promote_under_moto PROJECT WEIGHTS_OUT ARGS...

Creates the project's prod-aws endpoint in moto, prints BAKING to stderr when the first
bake starts watching alarms (so the test knows when to send SIGINT), runs the real CLI
with ARGS, then writes the endpoint's weights as JSON to WEIGHTS_OUT and exits with the
CLI's exit code.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import yaml
from moto import mock_aws

from inferstack.components.cli.app import app
from inferstack.components.lifecycle.aws import AwsLifecycle
from tests.components.lifecycle.conftest import FAKE_ENV, STACK, create_endpoint


def main() -> int:
    project, out, *args = sys.argv[1:]
    os.environ.update(FAKE_ENV)
    config = Path(project) / "stacks" / f"Pulumi.{STACK}.yaml"
    deployment = yaml.safe_load(config.read_text())["config"]["inferstack:deployment"]
    watch = AwsLifecycle.firing_alarms

    def firing_alarms(self: AwsLifecycle) -> list[str]:
        if not getattr(firing_alarms, "said", False):
            firing_alarms.said = True  # type: ignore[attr-defined]
            print("BAKING", file=sys.stderr, flush=True)
        return watch(self)

    AwsLifecycle.firing_alarms = firing_alarms  # type: ignore[method-assign]
    with mock_aws():
        endpoint = create_endpoint(deployment)
        code = 0
        try:
            app(args, prog_name="inferstack")
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        Path(out).write_text(json.dumps(endpoint.weights()))
    return code


if __name__ == "__main__":
    sys.exit(main())
