"""The retraining event an acting drift or quality alarm sends, version 1.

Every target builds the same JSON object (docs/monitoring.md, "Retraining";
`retrain-event.v1.json` is its schema). The fields that only the alarm knows at
fire time (its name, state and time) are left to the target's own templating:
EventBridge input transformer placeholders, Pub/Sub message attributes, the common
alert schema. A webhook receives the object wrapped as GitHub's repository_dispatch
body, so a workflow can be the consumer without glue.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, Final, Literal, get_args

from inferstack.runtime.contract import (
    RETRAIN_EVENT_SOURCE,
    RETRAIN_EVENT_TYPE,
    RETRAIN_EVENT_VERSION,
)

RetrainReason = Literal["drift", "prediction_drift", "quality"]
"""Why retraining is asked: input drift, prediction drift, or live quality past its level."""
RETRAIN_REASONS: Final = get_args(RetrainReason)
SCHEMA_FILE: Final = Path(__file__).with_name(f"retrain-event.v{RETRAIN_EVENT_VERSION}.json")


def retrain_payload(
    *,
    target: str,
    endpoint: str,
    model_name: str,
    model_version: str,
    reason: RetrainReason,
    alarm: str,
    state: str,
    time: str,
) -> dict[str, Any]:
    """The event's payload. A target passes its own placeholders for `alarm`, `state`
    and `time` where it fills them in at fire time."""
    return {
        "version": RETRAIN_EVENT_VERSION,
        "source": RETRAIN_EVENT_SOURCE,
        "type": RETRAIN_EVENT_TYPE,
        "time": time,
        "target": target,
        "endpoint": endpoint,
        "model": {"name": model_name, "version": model_version},
        "reason": reason,
        "alarm": {"name": alarm, "state": state},
    }


def webhook_body(payload: dict[str, Any]) -> dict[str, Any]:
    """What a webhook receives: a repository_dispatch body carrying the payload."""
    return {"event_type": RETRAIN_EVENT_TYPE, "client_payload": payload}


@cache
def retrain_schema() -> dict[str, Any]:
    """The payload's JSON schema (draft 2020-12)."""
    loaded: dict[str, Any] = json.loads(SCHEMA_FILE.read_text())
    return loaded
