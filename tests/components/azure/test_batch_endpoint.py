"""`targets.azure.batch` under the offline plan: the batch endpoint, its deployment of the
live model version and image, the low-priority cluster that scales to zero, its identity
and grants; the rules that refuse what Azure would; and the scoring script run for real
on a bundle, its rows equal to the model's in process."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from pydantic import ValidationError

from inferstack.components.azure.batch import SCORING_SCRIPT, code_folder
from inferstack.components.azure.batch_crosscheck import (
    BatchEntities,
    batch_documents,
    batch_entities,
)
from inferstack.components.azure.batch_naming import (
    BATCH_DEPLOYMENT,
    BATCH_ENDPOINT,
    BATCH_NAME_RULES,
    COMPUTE_CLUSTER,
    batch_names,
)
from inferstack.components.azure.roles import ACR_PULL, STORAGE_BLOB_DATA_CONTRIBUTOR
from inferstack.components.plan.run import Plan, PlannedResource
from inferstack.runtime import azureml_batch, scoring
from inferstack.runtime.model import load_bundle
from tests.components.azure.test_names_and_modes import IMAGE, MODEL, STACK, deploy, spec

ML = "azure-native:machinelearningservices"
BATCH = {
    "enabled": True,
    "max_nodes": 6,
    "instance_count": 2,
    "mini_batch_size": 3,
    "max_concurrency_per_instance": 4,
    "max_retries": 5,
    "mini_batch_timeout_s": 900,
}
BUNDLE = Path(__file__).resolve().parents[3] / "examples" / "logreg-20f" / "bundle"


@pytest.fixture(scope="module")
def plan() -> Plan:
    return deploy(spec(batch=BATCH))


def one(plan: Plan, token: str) -> PlannedResource:
    (resource,) = plan.of_type(token)
    return resource


def test_cluster_is_low_priority_and_scales_to_zero(plan: Plan) -> None:
    cluster = one(plan, f"{ML}:Compute")
    outer = cluster.inputs["properties"]
    assert outer["computeType"] == "AmlCompute"
    assert outer["disableLocalAuth"] is True
    props = outer["properties"]
    assert props["vmPriority"] == "LowPriority"
    assert props["vmSize"] == "Standard_NC4as_T4_v3"  # the online deployment's size
    assert props["scaleSettings"] == {
        "minNodeCount": 0,
        "maxNodeCount": 6,
        "nodeIdleTimeBeforeScaleDown": "PT300S",
    }
    assert props["remoteLoginPortPublicAccess"] == "Disabled"
    assert not COMPUTE_CLUSTER.problems(cluster.inputs["computeName"])


def test_cluster_runs_as_its_identity_with_the_grants_it_needs(plan: Plan) -> None:
    cluster = one(plan, f"{ML}:Compute")
    (identity,) = cluster.inputs["identity"]["userAssignedIdentities"]
    assert cluster.inputs["identity"]["type"] == "UserAssigned"
    (uai,) = [
        r
        for r in plan.of_type("azure-native:managedidentity:UserAssignedIdentity")
        if r.name.endswith("-batch-identity")
    ]
    assert f"/userAssignedIdentities/{uai.name}-" in identity
    grants = [
        r
        for r in plan.of_type("azure-native:authorization:RoleAssignment")
        if r.parent and r.parent.endswith("-batch")
    ]
    roles = sorted(g.inputs["roleDefinitionId"].rsplit("/", 1)[-1] for g in grants)
    # AcrPull on the image's registry and the workspace's; blob read/write on the storage.
    assert roles == sorted([ACR_PULL, ACR_PULL, STORAGE_BLOB_DATA_CONTRIBUTOR])
    assert {g.inputs["principalType"] for g in grants} == {"ServicePrincipal"}
    assert len({g.inputs["principalId"] for g in grants}) == 1


def test_endpoint_and_deployment_run_the_live_model_and_image(plan: Plan) -> None:
    endpoint = one(plan, f"{ML}:BatchEndpoint")
    assert endpoint.inputs["properties"]["authMode"] == "AADToken"
    assert not BATCH_ENDPOINT.problems(endpoint.inputs["endpointName"])
    online = one(plan, f"{ML}:OnlineEndpoint").inputs["endpointName"]
    assert endpoint.inputs["endpointName"] != online  # one DNS space per region
    deployment = one(plan, f"{ML}:BatchDeployment")
    assert deployment.inputs["endpointName"] == endpoint.inputs["endpointName"]
    assert not BATCH_DEPLOYMENT.problems(deployment.inputs["deploymentName"])
    props = deployment.inputs["properties"]
    cluster = one(plan, f"{ML}:Compute")
    assert props["compute"].endswith(f"/computes/{cluster.inputs['computeName']}")
    model_ids = [r for r in plan.of_type(f"{ML}:ModelVersion") if r.inputs["version"] == "1.0.0"]
    assert len(model_ids) == 1
    assert props["model"]["referenceType"] == "Id"
    assert props["model"]["assetId"].endswith(
        "/models/" + model_ids[0].inputs["name"] + "/versions/1.0.0"
    )
    (env,) = [
        r
        for r in plan.of_type(f"{ML}:EnvironmentVersion")
        if r.parent and r.parent.endswith("-batch")
    ]
    assert env.inputs["properties"]["image"] == IMAGE
    assert "inferenceConfig" not in env.inputs["properties"]
    assert props["environmentId"].endswith(f"/versions/{env.inputs['version']}")
    code = one(plan, f"{ML}:CodeVersion")
    assert props["codeConfiguration"]["scoringScript"] == SCORING_SCRIPT
    assert props["codeConfiguration"]["codeId"].endswith(f"/versions/{code.inputs['version']}")
    assert props["resources"] == {"instanceCount": 2}
    assert props["miniBatchSize"] == 3
    assert props["maxConcurrencyPerInstance"] == 4
    assert props["retrySettings"] == {"maxRetries": 5, "timeout": "PT900S"}
    assert props["outputAction"] == "SummaryOnly"
    assert props["errorThreshold"] == -1
    assert props["environmentVariables"]["INFERSTACK_MODEL_VERSION"] == "1.0.0"


def test_code_asset_is_the_scoring_script_alone(plan: Plan) -> None:
    folder = code_folder()
    assert sorted(p.name for p in folder.iterdir()) == [SCORING_SCRIPT]
    namespace: dict[str, Any] = {}
    exec(compile((folder / SCORING_SCRIPT).read_text(), SCORING_SCRIPT, "exec"), namespace)  # noqa: S102
    assert namespace["init"] is azureml_batch.init
    assert namespace["run"] is azureml_batch.run
    code = one(plan, f"{ML}:CodeVersion")
    assert code.inputs["properties"]["codeUri"].startswith("https://")


def test_batch_off_declares_nothing() -> None:
    plan = deploy(spec())
    assert not plan.of_type(f"{ML}:BatchEndpoint")
    assert not plan.of_type(f"{ML}:Compute")


@pytest.mark.parametrize(
    ("batch", "field"),
    [
        ({"instance_count": 5, "max_nodes": 4}, "max_nodes"),
        ({"max_nodes": 101}, "max_nodes"),
        ({"max_nodes": 0}, "max_nodes"),
        ({"mini_batch_size": 0}, "mini_batch_size"),
        ({"max_concurrency_per_instance": 5}, "max_concurrency_per_instance"),
        ({"instance_type": "Standard_DS3_v2"}, "instance_type"),  # no T4: the bundle is GPU
        ({"instance_type": "Standard_X1"}, "instance_type"),
        ({"priority": "Spot"}, "priority"),
        ({"idle_before_scale_down_s": 10}, "idle_before_scale_down_s"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_refused_before_deploy(batch: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        spec(batch={"enabled": True, **batch})


def test_names_fit_for_the_longest_model_and_stack() -> None:
    names = batch_names(MODEL, "inferstack", STACK)
    for rule, name in zip(
        BATCH_NAME_RULES, (names.endpoint, names.deployment, names.compute), strict=True
    ):
        assert not rule.problems(name), (rule.what, name)
    other = batch_names(MODEL, "inferstack", STACK + "x")
    assert other.endpoint != names.endpoint
    assert other.compute != names.compute


@pytest.mark.parametrize("bad", ["9churn", "ch", "a" * 33, "churn_batch", "churn-"])
def test_endpoint_rule_refuses_bad_names(bad: str) -> None:
    assert BATCH_ENDPOINT.problems(bad)


@pytest.mark.parametrize("bad", ["b" * 17, "1abc", "a_b", "-ab"])
def test_cluster_rule_refuses_bad_names(bad: str) -> None:
    assert COMPUTE_CLUSTER.problems(bad)


def test_scoring_script_scores_every_row_like_the_model_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(7)
    columns = [f"f{i}" for i in range(20)]
    inputs = []
    for n, rows in enumerate((250, 40)):
        frame = pd.DataFrame(rng.normal(size=(rows, 20)), columns=columns)
        path = tmp_path / f"in-{n}.csv"
        frame.to_csv(path, index=False)
        inputs.append((path, frame))
    bad = tmp_path / "bad.csv"
    broken = inputs[1][1].copy().astype(object)
    broken.iloc[3, 5] = "not-a-number"
    broken.to_csv(bad, index=False)
    out = tmp_path / "out"
    monkeypatch.setenv("INFERSTACK_BUNDLE_DIR", str(BUNDLE))
    monkeypatch.setenv("INFERSTACK_MODEL_VERSION", "1.0.0")
    monkeypatch.setenv(azureml_batch.OUTPUT_ENV, str(out))
    azureml_batch.init()
    loads: list[object] = []
    real_load = scoring.load_bundle
    monkeypatch.setattr(
        scoring, "load_bundle", lambda *a, **k: loads.append(a) or real_load(*a, **k)
    )
    summary = azureml_batch.run([str(p) for p, _ in inputs] + [str(bad)])
    assert summary == ["in-0.csv,250,0", "in-1.csv,40,0", "bad.csv,39,1"]
    assert loads == []  # every file scored with the model init() loaded
    model = load_bundle(BUNDLE)
    for path, frame in inputs:
        folder = azureml_batch.output_folder(out, str(path))
        assert (folder / "_SUCCESS").is_file()
        got = pd.concat(pd.read_csv(p) for p in sorted(folder.glob("part-*.csv")))
        expected = np.asarray(model.run(frame.to_numpy()))
        np.testing.assert_allclose(got[["0", "1"]].to_numpy(), expected, rtol=1e-12)
    (rejects,) = azureml_batch.output_folder(out, str(bad)).glob("rejects-*.csv")
    assert "row 3" in rejects.read_text()
    assert "f5" in rejects.read_text()


def test_scoring_script_refuses_another_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from inferstack.runtime.errors import ConfigError

    monkeypatch.setenv("INFERSTACK_BUNDLE_DIR", str(BUNDLE))
    monkeypatch.setenv("INFERSTACK_MODEL_VERSION", "2.0.0")
    monkeypatch.setenv(azureml_batch.OUTPUT_ENV, str(tmp_path))
    with pytest.raises(ConfigError, match=r"2\.0\.0"):
        azureml_batch.init()


def _seconds(duration: str) -> float:
    """An ISO 8601 duration of hours, minutes and seconds, in seconds."""
    match = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?", duration)
    assert match, duration
    hours, minutes, seconds = (float(g or 0) for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


# azure-ai-ml's schemas use marshmallow options that marshmallow 3.2x deprecates.
def _marshmallow_warnings(test: Any) -> Any:
    test = pytest.mark.filterwarnings("ignore::marshmallow.warnings.RemovedInMarshmallow4Warning")(
        test
    )
    return pytest.mark.filterwarnings("ignore::marshmallow.warnings.ChangedInMarshmallow4Warning")(
        test
    )


@pytest.fixture(scope="module")
def entities() -> BatchEntities:
    return batch_entities(spec(batch=BATCH), "inferstack", STACK)


@_marshmallow_warnings
def test_cluster_agrees_with_azure_ai_ml(plan: Plan, entities: BatchEntities) -> None:
    ours = one(plan, f"{ML}:Compute").inputs["properties"]
    theirs = entities.compute["properties"]
    assert ours["computeType"] == theirs["computeType"]
    for key in ("vmSize", "vmPriority", "osType"):
        assert ours["properties"][key] == theirs["properties"][key], key
    mine, sdk = ours["properties"]["scaleSettings"], theirs["properties"]["scaleSettings"]
    assert (mine["minNodeCount"], mine["maxNodeCount"]) == (
        sdk["minNodeCount"],
        sdk["maxNodeCount"],
    )
    assert _seconds(mine["nodeIdleTimeBeforeScaleDown"]) == _seconds(
        sdk["nodeIdleTimeBeforeScaleDown"]
    )


@_marshmallow_warnings
def test_deployment_and_endpoint_agree_with_azure_ai_ml(
    plan: Plan, entities: BatchEntities
) -> None:
    ours = one(plan, f"{ML}:BatchDeployment").inputs["properties"]
    theirs = entities.deployment["properties"]
    for key in ("miniBatchSize", "maxConcurrencyPerInstance", "outputAction", "errorThreshold"):
        assert ours[key] == theirs[key], key
    assert ours["resources"]["instanceCount"] == theirs["resources"]["instanceCount"]
    assert ours["loggingLevel"].lower() == theirs["loggingLevel"].lower()
    assert ours["retrySettings"]["maxRetries"] == theirs["retrySettings"]["maxRetries"]
    assert _seconds(ours["retrySettings"]["timeout"]) == _seconds(
        theirs["retrySettings"]["timeout"]
    )
    assert (
        ours["codeConfiguration"]["scoringScript"] == theirs["codeConfiguration"]["scoringScript"]
    )
    assert ours["model"]["referenceType"] == theirs["model"]["referenceType"]
    assert theirs["compute"] == one(plan, f"{ML}:Compute").inputs["computeName"]
    endpoint = one(plan, f"{ML}:BatchEndpoint").inputs
    assert (
        endpoint["properties"]["authMode"].lower()
        == entities.endpoint["properties"]["authMode"].lower()
    )
    assert endpoint["endpointName"] == batch_names(MODEL, "inferstack", STACK).endpoint


@_marshmallow_warnings
def test_azure_ai_ml_refuses_what_the_spec_refuses() -> None:
    from azure.ai.ml import load_batch_deployment
    from marshmallow.exceptions import ValidationError as SchemaError

    docs = batch_documents(spec(batch=BATCH), "inferstack", STACK)
    docs["deployment"]["output_action"] = "keep_everything"
    with pytest.raises(SchemaError, match="output_action"):
        load_batch_deployment(source=io.StringIO(yaml.safe_dump(docs["deployment"])))
