"""The instance group's user data: a bash script that fetches the bundle, starts the
runtime container on the GPU, and installs the drain agent (aws/group_drain.py).

A plain function of plain values, so tests render it and run `bash -n` and shellcheck
on it; the launch template feeds it the stack's outputs.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from inferstack.components.aws.group_drain import DRAIN_SCRIPT
from inferstack.components.errors import DeployError
from inferstack.runtime.contract import PORT

CONTAINER = "inferstack"
"""The runtime container's name on the host."""
BUNDLE_DIR = "/opt/inferstack/model"
"""Where the bundle is unpacked on the host (mounted read-only at /opt/ml/model)."""
MAX_USER_DATA_BYTES = 16 * 1024
"""EC2's limit on user data, raw, before base64 encoding."""


class UserDataError(DeployError):
    """The rendered user data does not fit EC2's limit."""


@dataclass(frozen=True)
class UserDataArgs:
    """What the script needs, all known when the launch template is declared."""

    region: str
    """The deployment's region."""
    image_uri: str
    """The runtime image the stack pushed (ECR)."""
    model_data_url: str
    """s3:// URL of the bundle's model.tar.gz."""
    log_group: str
    """The containers' log group."""
    target_group_arn: str
    """The target group the drain deregisters from."""
    asg_name: str
    """The Auto Scaling group's name."""
    hook_name: str
    """The termination lifecycle hook's name."""
    drain_s: int
    """The runtime's SIGTERM drain bound."""
    stop_timeout_s: int
    """`docker stop --time`: above the drain bound."""
    deregistration_delay_s: int
    """The target group's deregistration delay."""
    metrics_namespace: str
    """CloudWatch namespace of the agent's metrics."""
    environment: tuple[tuple[str, str], ...] = ()
    """Extra INFERSTACK_* settings of the container."""


def _env_file(args: UserDataArgs) -> str:
    values = {
        "REGION": args.region,
        "TARGET_GROUP_ARN": args.target_group_arn,
        "ASG_NAME": args.asg_name,
        "HOOK_NAME": args.hook_name,
        "CONTAINER": CONTAINER,
        "PORT": str(PORT),
        "DEREGISTRATION_DELAY_S": str(args.deregistration_delay_s),
        "STOP_TIMEOUT_S": str(args.stop_timeout_s),
        "NAMESPACE": args.metrics_namespace,
    }
    return "".join(f"{k}={shlex.quote(v)}\n" for k, v in values.items())


def render_user_data(args: UserDataArgs) -> str:
    """The whole user data script; UserDataError when it is over EC2's 16 KB."""
    script = _render(args)
    size = len(script.encode())
    if size > MAX_USER_DATA_BYTES:
        raise UserDataError(
            f"the instance group's user data is {size} bytes, over EC2's "
            f"{MAX_USER_DATA_BYTES} (raw, before base64); shorten its environment settings"
        )
    return script


def _render(args: UserDataArgs) -> str:
    q = shlex.quote
    registry = args.image_uri.split("/", 1)[0]
    env_flags = " ".join(
        f"-e {q(f'{k}={v}')}"
        for k, v in (
            ("INFERSTACK_TIMEOUT_GRACEFUL_SHUTDOWN_S", str(args.drain_s)),
            *args.environment,
        )
    )
    return f"""#!/bin/bash
# inferstack instance group: fetch the bundle, start the runtime on the GPU, install the
# drain agent. Runs once, as root, at first boot (cloud-init).
set -euo pipefail

install -d -m 0755 /etc/inferstack {q(BUNDLE_DIR)}
cat > /etc/inferstack/drain.env <<'INFERSTACK_ENV'
{_env_file(args)}INFERSTACK_ENV
cat > /usr/local/bin/inferstack-drain <<'INFERSTACK_DRAIN'
{DRAIN_SCRIPT}INFERSTACK_DRAIN
chmod 0755 /usr/local/bin/inferstack-drain

aws s3 cp --region {q(args.region)} {q(args.model_data_url)} /tmp/model.tar.gz
tar -xzf /tmp/model.tar.gz -C {q(BUNDLE_DIR)}
rm -f /tmp/model.tar.gz

aws ecr get-login-password --region {q(args.region)} \\
  | docker login --username AWS --password-stdin {q(registry)}
docker pull {q(args.image_uri)}
instance="$(TOKEN="$(curl -sf -X PUT http://169.254.169.254/latest/api/token \\
  -H 'X-aws-ec2-metadata-token-ttl-seconds: 60')" \\
  && curl -sf -H "X-aws-ec2-metadata-token: $TOKEN" \\
  http://169.254.169.254/latest/meta-data/instance-id)"
docker run -d --name {CONTAINER} --restart unless-stopped --gpus all \\
  --stop-timeout {args.stop_timeout_s} -p {PORT}:{PORT} \\
  -v {q(BUNDLE_DIR)}:/opt/ml/model:ro \\
  --log-driver awslogs --log-opt awslogs-region={q(args.region)} \\
  --log-opt awslogs-group={q(args.log_group)} --log-opt awslogs-stream="$instance" \\
  {env_flags} \\
  {q(args.image_uri)} serve

cat > /etc/systemd/system/inferstack-drain.service <<'INFERSTACK_UNIT'
[Unit]
Description=inferstack drain agent (spot notice and scale-in)
After=docker.service
Requires=docker.service

[Service]
ExecStart=/usr/local/bin/inferstack-drain
Restart=on-failure

[Install]
WantedBy=multi-user.target
INFERSTACK_UNIT
systemctl daemon-reload
systemctl enable --now inferstack-drain.service
"""
