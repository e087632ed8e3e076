"""The instance group's host agent, a bash script that user data installs as a service.

Every POLL_S seconds it asks the instance metadata service (IMDSv2: a session token per
call) whether the instance is going: a spot interruption notice (`spot/instance-action`)
or the Auto Scaling termination lifecycle action (`autoscaling/target-lifecycle-state`
Terminated, which the termination hook holds the instance in). Then it drains, once:

1. deregisters the instance from the target group, so the load balancer sends no new
   requests and lets those in flight finish (up to the deregistration delay);
2. stops the runtime container with SIGTERM (`docker stop --time`, the runtime's drain
   bound plus a margin): the runtime answers every request it accepted, then exits;
3. completes the lifecycle action (CONTINUE) once the group holds one, so the instance
   goes without waiting for the hook's timeout.

Each minute it also publishes the instance's capacity kind (one datapoint per minute,
stamped with it) (spot or on-demand) and GPU
utilisation, and counts interruption notices and rebalance recommendations, as
CloudWatch metrics of the group (the alarms, dashboard and GPU scaling read them).

`IMDS`, `AWS`, `DOCKER` and `POLL_S` can be overridden, which is how the tests run the
same script against a fake metadata service and a real runtime process on 127.0.0.1.
"""

from __future__ import annotations

DRAIN_SCRIPT = r"""#!/bin/bash
# inferstack-drain: drain the runtime before the instance goes (spot notice or scale-in).
set -euo pipefail

# shellcheck source=/dev/null
. "${DRAIN_ENV:-/etc/inferstack/drain.env}"
IMDS="${IMDS:-http://169.254.169.254}"
AWS="${AWS:-aws}"
DOCKER="${DOCKER:-docker}"
POLL_S="${POLL_S:-5}"
: "${REGION:?}" "${TARGET_GROUP_ARN:?}" "${ASG_NAME:?}" "${HOOK_NAME:?}" "${CONTAINER:?}"
: "${PORT:?}" "${DEREGISTRATION_DELAY_S:?}" "${STOP_TIMEOUT_S:?}" "${NAMESPACE:?}"

log() { echo "inferstack-drain: $*" >&2; }

# IMDSv2 only: a session token for every read (the launch template refuses IMDSv1).
meta() {
  local token
  token="$(curl -sf -X PUT "$IMDS/latest/api/token" \
    -H "X-aws-ec2-metadata-token-ttl-seconds: 60")" || return 1
  curl -sf -H "X-aws-ec2-metadata-token: $token" "$IMDS/latest/meta-data/$1"
}

metric() {  # metric NAME VALUE [UNIT [Name=Value ...]]; METRIC_TIME: its timestamp
  local name="$1" value="$2" unit="${3:-Count}"
  shift 3 || shift $#
  local dims="AutoScalingGroupName=$ASG_NAME"
  for extra in "$@"; do dims="$dims,$extra"; done
  "$AWS" cloudwatch put-metric-data --region "$REGION" --namespace "$NAMESPACE" \
    --metric-name "$name" --value "$value" --unit "$unit" --dimensions "$dims" \
    ${METRIC_TIME:+--timestamp "$METRIC_TIME"} || log "could not publish $name"
}

deregister_and_stop() {
  local instance="$1" reason="$2"
  log "draining $instance ($reason)"
  "$AWS" elbv2 deregister-targets --region "$REGION" \
    --target-group-arn "$TARGET_GROUP_ARN" --targets "Id=$instance,Port=$PORT" \
    || log "deregister-targets failed; stopping anyway"
  # The target drains for up to the deregistration delay: no new requests reach it and
  # those in flight finish. Then the container gets SIGTERM and its own drain.
  # Capped at the delay plus one of the waiter's 15 s polls: past the delay the load
  # balancer has closed what was in flight anyway (aws/group_rules.py counts this cap).
  timeout "$((DEREGISTRATION_DELAY_S + 15))" "$AWS" elbv2 wait target-deregistered \
    --region "$REGION" --target-group-arn "$TARGET_GROUP_ARN" \
    --targets "Id=$instance,Port=$PORT" || log "deregistration not confirmed; stopping"
  "$DOCKER" stop --time "$STOP_TIMEOUT_S" "$CONTAINER" || log "container already stopped"
  log "runtime stopped"
}

complete_lifecycle() {
  "$AWS" autoscaling complete-lifecycle-action --region "$REGION" \
    --auto-scaling-group-name "$ASG_NAME" --lifecycle-hook-name "$HOOK_NAME" \
    --instance-id "$1" --lifecycle-action-result CONTINUE
}

main() {
  local instance lifecycle drained=0 rebalanced=0 last_minute="" minute state
  instance="$(meta instance-id)"
  lifecycle="$(meta instance-life-cycle || echo on-demand)"
  while true; do
    state="$(meta autoscaling/target-lifecycle-state || true)"
    if [ "$state" = "Terminated" ]; then
      if [ "$drained" -eq 0 ]; then deregister_and_stop "$instance" "scale-in"; drained=1; fi
      complete_lifecycle "$instance" && log "lifecycle action completed" && return 0
    elif [ "$drained" -eq 0 ] && meta spot/instance-action >/dev/null; then
      metric SpotInterruptionNotices 1 Count
      deregister_and_stop "$instance" "spot interruption notice"
      drained=1
    fi
    if [ "$rebalanced" -eq 0 ] && meta events/recommendations/rebalance >/dev/null; then
      metric RebalanceRecommendations 1 Count
      rebalanced=1
    fi
    # One capacity datapoint per host in each minute, stamped with that minute, so the
    # dashboard's per-minute Sum counts hosts (a 60 s interval from a loop drifts: some
    # minutes would hold none and some two).
    minute="$(date -u +%Y-%m-%dT%H:%M:00Z)"
    if [ "$drained" -eq 0 ] && [ "$minute" != "$last_minute" ]; then
      last_minute="$minute"
      METRIC_TIME="$minute" metric Instances 1 Count "Lifecycle=$lifecycle"
      if command -v nvidia-smi >/dev/null; then
        metric GPUUtilization "$(nvidia-smi --query-gpu=utilization.gpu \
          --format=csv,noheader,nounits | awk '{s+=$1} END {print (NR ? s/NR : 0)}')" Percent
      fi
    fi
    sleep "$POLL_S"
  done
}

main "$@"
"""
"""The agent, installed as /usr/local/bin/inferstack-drain."""
