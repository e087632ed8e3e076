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
from inferstack.runtime.contract import PORT, Routes

CONTAINER = "inferstack"
"""The runtime container's name on the host."""
BUNDLE_DIR = "/opt/inferstack/model"
"""Where the bundle is unpacked on the host (mounted read-only at /opt/ml/model)."""
MAX_USER_DATA_BYTES = 16 * 1024
"""EC2's limit on user data, raw, before base64 encoding."""
RETRIES = 10
"""Tries of each call that can fail while the host is new (endpoint DNS, IAM propagation)."""
RETRY_WAIT_S = 15
"""Seconds between those tries."""
READY_WAIT_S = 1200
"""How long the script waits for the runtime's /ready before it gives the instance up
(inside the launch hook's heartbeat)."""


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
    launch_hook_name: str = ""
    """The launch lifecycle hook the script completes once the runtime is ready (CONTINUE)
    or on a failure (ABANDON); empty: no launch hook."""
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


def _complete_launch(args: UserDataArgs) -> str:
    """The body of `launched`: complete the launch hook with the given result."""
    q = shlex.quote
    if not args.launch_hook_name:
        return "  : no launch hook"
    return (
        '  [ -n "$instance" ] || return 1\n'
        f"  aws autoscaling complete-lifecycle-action --region {q(args.region)} \\\n"
        f"    --auto-scaling-group-name {q(args.asg_name)} \\\n"
        f"    --lifecycle-hook-name {q(args.launch_hook_name)} \\\n"
        '    --instance-id "$instance" --lifecycle-action-result "$1"'
    )


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
    complete = _complete_launch(args)
    return f"""#!/bin/bash
# inferstack instance group: fetch the bundle, start the runtime on the GPU, install the
# drain agent, and let the group put the instance in service once the runtime is ready
# (the launch lifecycle hook). Runs once, as root, at first boot (cloud-init).
set -euo pipefail

retry() {{  # retry CMD...: calls a new host makes before its endpoints and role settle
  local try
  for try in $(seq 1 {RETRIES}); do
    "$@" && return 0
    echo "inferstack: try $try of {RETRIES} failed: $*" >&2
    sleep {RETRY_WAIT_S}
  done
  return 1
}}
imds() {{
  local token
  token="$(curl -sf -X PUT http://169.254.169.254/latest/api/token \\
    -H 'X-aws-ec2-metadata-token-ttl-seconds: 60')" || return 1
  curl -sf -H "X-aws-ec2-metadata-token: $token" "http://169.254.169.254/latest/meta-data/$1"
}}
instance=""
launched() {{  # launched CONTINUE|ABANDON: answer the launch lifecycle hook
{complete}
}}
# Any failure gives the instance up at once (the group launches another) instead of
# leaving it in Pending:Wait until the hook's heartbeat runs out.
on_exit() {{
  local status=$?
  if [ "$status" -ne 0 ]; then
    echo "inferstack: user data failed ($status); abandoning the launch" >&2
    retry launched ABANDON || true
  fi
}}
trap on_exit EXIT
command -v aws >/dev/null || {{ echo "inferstack: the AMI has no AWS CLI" >&2; exit 1; }}
instance="$(retry imds instance-id)"

install -d -m 0755 /etc/inferstack {q(BUNDLE_DIR)}
cat > /etc/inferstack/drain.env <<'INFERSTACK_ENV'
{_env_file(args)}INFERSTACK_ENV
cat > /usr/local/bin/inferstack-drain <<'INFERSTACK_DRAIN'
{DRAIN_SCRIPT}INFERSTACK_DRAIN
chmod 0755 /usr/local/bin/inferstack-drain

retry aws s3 cp --region {q(args.region)} {q(args.model_data_url)} /tmp/model.tar.gz
tar -xzf /tmp/model.tar.gz -C {q(BUNDLE_DIR)}
rm -f /tmp/model.tar.gz

ecr_login() {{
  aws ecr get-login-password --region {q(args.region)} \\
    | docker login --username AWS --password-stdin {q(registry)}
}}
retry ecr_login
retry docker pull {q(args.image_uri)}
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
StartLimitIntervalSec=0

[Service]
ExecStart=/usr/local/bin/inferstack-drain
Restart=on-failure
RestartSec=5

[Install]
WantedBy=multi-user.target
INFERSTACK_UNIT
systemctl daemon-reload
systemctl enable --now inferstack-drain.service

# In service only once the runtime answers /ready (bundle loaded and probed).
ready=0
for _ in $(seq 1 {READY_WAIT_S // 10}); do
  if curl -sf http://127.0.0.1:{PORT}{Routes.READY} >/dev/null; then ready=1; break; fi
  sleep 10
done
if [ "$ready" -ne 1 ]; then
  echo "inferstack: the runtime was not ready in {READY_WAIT_S}s" >&2
  exit 1
fi
retry launched CONTINUE
"""
