"""POST /feedback on a real server: outcomes joined to captured predictions give the
metrics scikit-learn computes on the same pairs; late, unknown and invalid items are
counted without losing the rest; the key is required; outcomes reach the capture."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from sklearn.metrics import accuracy_score, precision_score, recall_score, roc_auc_score

from inferstack.runtime.contract import REQUEST_ID_HEADER
from tests.runtime.conftest import Built, load_example
from tests.runtime.server import RuntimeServer, metric_value

KEY = "feedback-test-key"
AUTH = {"x-api-key": KEY}
MV = {"model": "logreg-20f", "version": "1.0.0"}


def _quality(text: str, metric: str) -> float:
    return metric_value(text, "inferstack_quality", metric=metric, **MV)


def test_feedback_joins_outcomes_and_matches_sklearn(
    sklearn_bundle: Built, tmp_path: Path, log_dir: Path
) -> None:
    capture = tmp_path / "capture"
    env = {
        "INFERSTACK_API_KEY": KEY,
        "INFERSTACK_CAPTURE_DIR": str(capture),
        "INFERSTACK_CAPTURE_SAMPLE_RATE": "1.0",
        "INFERSTACK_QUALITY_WINDOW": "100",
        "INFERSTACK_FEEDBACK_TTL_S": "4",
        "INFERSTACK_CLOUDWATCH_EMF": "true",
        "INFERSTACK_CLOUDWATCH_EMF_INTERVAL_S": "0.2",
        "INFERSTACK_ENDPOINT_NAME": "churn-prod",
        "INFERSTACK_VARIANT": "primary",
    }
    rows = sklearn_bundle[2][:130]
    truth = load_example("logreg-20f").data()[1][1500:1630]
    with RuntimeServer(sklearn_bundle[0], log_dir, env=env) as server, httpx.Client() as client:
        ids, probs = [], []
        for row in rows:
            r = client.post(
                server.url + "/predict", json={"instances": [row.tolist()]}, headers=AUTH
            )
            assert r.status_code == 200
            ids.append(r.headers[REQUEST_ID_HEADER])
            probs.append(r.json()["predictions"][0])

        denied = client.post(server.url + "/feedback", json={"id": ids[0], "outcome": 1})
        assert denied.status_code == 401

        # 120 outcomes in two batches, with unknown and invalid items among them.
        first = [{"id": i, "outcome": int(t)} for i, t in zip(ids[:60], truth[:60], strict=True)]
        first += [{"id": "never-served", "outcome": 1}, {"id": ids[125], "outcome": "maybe"}]
        answer = client.post(server.url + "/feedback", json={"outcomes": first}, headers=AUTH)
        assert answer.status_code == 200, answer.text
        counts = answer.json()["counts"]
        assert counts == {"joined": 60, "late": 0, "unknown": 1, "invalid": 1}
        assert answer.json()["results"][-1]["reason"].startswith("outcome 'maybe'")
        second = [
            {"id": i, "outcome": int(t)} for i, t in zip(ids[60:120], truth[60:120], strict=True)
        ]
        answer = client.post(server.url + "/feedback", json={"outcomes": second}, headers=AUTH)
        assert answer.json()["counts"]["joined"] == 60
        one = {"id": ids[120], "outcome": int(truth[120])}
        single = client.post(server.url + "/feedback", json=one, headers=AUTH)
        assert single.json()["counts"]["joined"] == 1

        text = client.get(server.url + "/metrics").text
        y = truth[21:121]  # the window holds the last 100 joined outcomes
        p = np.asarray(probs[21:121])
        predicted = p.argmax(axis=1)
        assert _quality(text, "accuracy") == pytest.approx(accuracy_score(y, predicted))
        assert _quality(text, "precision") == pytest.approx(precision_score(y, predicted))
        assert _quality(text, "recall") == pytest.approx(recall_score(y, predicted))
        assert _quality(text, "auc") == pytest.approx(roc_auc_score(y, p[:, 1]))
        assert metric_value(text, "inferstack_quality_samples", **MV) == 100
        assert metric_value(text, "inferstack_feedback_outcomes_total", result="joined") == 121
        assert metric_value(text, "inferstack_feedback_outcomes_total", result="unknown") == 1
        assert metric_value(text, "inferstack_feedback_outcomes_total", result="invalid") == 1

        time.sleep(4.5)  # past the TTL: the rest of the captured predictions are late
        late = client.post(
            server.url + "/feedback",
            json={"outcomes": [{"id": ids[121], "outcome": 0}, "junk"]},
            headers=AUTH,
        )
        assert late.json()["counts"] == {"joined": 0, "late": 1, "unknown": 0, "invalid": 1}
        malformed = client.post(server.url + "/feedback", content=b"[1, 2]", headers=AUTH)
        assert malformed.status_code == 400
        assert "feedback body must be" in malformed.json()["error"]["message"]
        emf = [
            json.loads(line)
            for line in server.log_path.read_text(errors="replace").splitlines()
            if line.startswith('{"_aws"') and '"Quality.' in line
        ]
    assert emf, "no Quality EMF line"
    assert emf[-1]["Quality.accuracy"] == pytest.approx(accuracy_score(y, predicted))
    assert emf[-1]["EndpointName"] == "churn-prod"
    assert emf[-1]["QualitySamples"] == 100
    feedback = [
        json.loads(line)
        for f in capture.glob("*.feedback.jsonl")
        for line in f.read_text().splitlines()
    ]
    # Every outcome that was not invalid: 121 joined, 1 unknown, 1 late.
    assert len(feedback) == 123
    assert {r["kind"] for r in feedback} == {"feedback"}
    assert {"never-served", ids[121]} <= {r["id"] for r in feedback}
