"""publish: the real huggingface_hub client against a hub API on 127.0.0.1, the card read
back with huggingface_hub's own parser, and S3 through boto3 against moto."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import numpy as np
import pytest
from huggingface_hub import ModelCard
from huggingface_hub.repocard_data import model_index_to_eval_results
from typer.testing import CliRunner

from inferstack.components.cli.app import app
from inferstack.components.lifecycle.publish import CardInfo, model_card, to_huggingface, to_s3
from inferstack.components.lifecycle.seam import LifecycleError
from inferstack.runtime.bundling import bundle
from tests.components.lifecycle.conftest import REGION
from tests.components.lifecycle.hub_server import TOKEN, serve_hub


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A logistic regression on 4 features, trained here and bundled."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    out = tmp_path_factory.mktemp("bundle") / "tiny"
    return bundle(
        LogisticRegression().fit(x, y),
        framework="sklearn",
        name="tiny-churn",
        version="1.2.0",
        out=out,
        features=["tenure", "spend", "visits", "age"],
        output="probabilities",
        description="Ranks accounts by churn risk for the retention team; not for pricing.",
    )


def test_card_follows_the_hub_metadata_format(tiny_bundle: Path) -> None:
    card = model_card(tiny_bundle, CardInfo({"accuracy": 0.93, "roc_auc": 0.97}, "q3 holdout"))
    parsed = ModelCard(str(card))  # the hub client's own parser
    data = parsed.data.to_dict()
    assert data["library_name"] == "sklearn"
    assert "inferstack" in data["tags"]
    assert "version-1.2.0" in data["tags"]
    assert data["pipeline_tag"] == "tabular-classification"
    name, results = model_index_to_eval_results(data["model-index"])
    assert name == "tiny-churn"
    assert {(r.metric_type, r.metric_value, r.dataset_name) for r in results} == {
        ("accuracy", 0.93, "q3 holdout"),
        ("roc_auc", 0.97, "q3 holdout"),
    }
    text = parsed.text
    assert "| tenure | float64 |" in text
    assert "Ranks accounts by churn risk" in text
    assert "- **Version:** 1.2.0" in text


def test_publish_to_the_hub_with_the_real_client(
    tiny_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with serve_hub() as hub:
        args = [
            "publish",
            str(tiny_bundle),
            "--to",
            "huggingface",
            "--repo",
            "acme/tiny-churn",
            "--metric",
            "accuracy=0.93",
            "--endpoint",
            hub.url,
            "--json",
        ]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        body = json.loads(result.stdout)
    assert body["commit_url"].startswith(f"{hub.url}/acme/tiny-churn/commit/")
    files = hub.repos["acme/tiny-churn"]
    assert sorted(files) == ["README.md", "inferstack.yaml", "model.skops"]
    assert files["model.skops"] == (tiny_bundle / "model.skops").read_bytes()
    assert hub.private["acme/tiny-churn"] is True
    assert hub.commits[0]["summary"] == "tiny-churn 1.2.0 (inferstack publish)"
    card = ModelCard(files["README.md"].decode())
    assert card.data.to_dict()["model-index"][0]["results"][0]["metrics"][0]["value"] == 0.93
    assert hub.validated[0]["library_name"] == "sklearn"


def test_hub_refusal_is_reported(tiny_bundle: Path) -> None:
    card = model_card(tiny_bundle, CardInfo())
    with serve_hub() as hub, pytest.raises(LifecycleError, match="upload to acme/x failed"):
        to_huggingface(tiny_bundle, "acme/x", card, endpoint=hub.url, token="hf_wrong")


def test_publish_to_s3(tiny_bundle: Path, aws_env: None) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="models")
    args = ["publish", str(tiny_bundle), "--to", "s3", "--uri", "s3://models/team", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    keys = json.loads(result.stdout)["keys"]
    assert sorted(keys) == [
        "team/tiny-churn/1.2.0/README.md",
        "team/tiny-churn/1.2.0/inferstack.yaml",
        "team/tiny-churn/1.2.0/model.skops",
    ]
    got = s3.get_object(Bucket="models", Key="team/tiny-churn/1.2.0/README.md")["Body"].read()
    assert ModelCard(got.decode()).data.to_dict()["model_name"] == "tiny-churn"


def test_bad_input_is_named(tiny_bundle: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["publish", str(tiny_bundle), "--to", "huggingface"])
    assert missing.exit_code == 2
    assert "needs --repo" in missing.stderr
    bad = runner.invoke(
        app, ["publish", str(tiny_bundle), "--to", "s3", "--uri", "s3://b", "--metric", "acc"]
    )
    assert bad.exit_code == 2
    assert "--metric 'acc': expected name=number" in bad.stderr
    not_bundle = runner.invoke(app, ["publish", str(tmp_path), "--to", "s3", "--uri", "s3://b"])
    assert not_bundle.exit_code == 1
    assert "cannot publish" in not_bundle.stderr
    card = model_card(tiny_bundle, CardInfo())
    with pytest.raises(LifecycleError, match="needs --uri s3://bucket"):
        to_s3(tiny_bundle, "models/x", card)


def test_a_changed_bundle_file_is_refused(tiny_bundle: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "tiny"
    shutil.copytree(tiny_bundle, copy)
    (copy / "model.skops").write_bytes(b"tampered")
    with pytest.raises(LifecycleError, match="changed since bundling"):
        model_card(copy, CardInfo())
