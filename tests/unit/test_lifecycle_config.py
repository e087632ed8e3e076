"""Round-trip edits of a stack config (comments, order and quoting kept) and the input
schema comparison that guards a promote."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from inferstack.components.lifecycle.schema import input_differences
from inferstack.components.lifecycle.stackfile import StackFile, StackFileError, set_scalar
from inferstack.runtime.manifest import InputSchema

CONFIG = """\
# top comment
config:
  aws:region: us-east-1
  inferstack:deployment:
    target: aws   # where
    model:
      name: churn
      version: "1.0.0"  # quoted on purpose
      artifact: bundles/v1
    rollout:
      strategy: blue_green
      # A/B
      variants:
        - name: candidate
          model_version: 1.1.0
          weight: 0
    tags:
      team: ml
"""


def test_set_keeps_every_other_character(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.s.yaml"
    path.write_text(CONFIG)
    stack = StackFile(path)
    stack.set(("model", "version"), "1.1.0")
    stack.set_weights({"primary": 0.25, "candidate": 0.75})
    stack.save()
    text = path.read_text()
    expected = CONFIG.replace('"1.0.0"  # quoted', "1.1.0  # quoted").replace(
        "weight: 0\n", "weight: 0.75\n      primary_weight: 0.25\n"
    )
    assert text == expected
    data = yaml.safe_load(text)["config"]["inferstack:deployment"]
    assert data["rollout"]["primary_weight"] == 0.25
    assert data["model"]["version"] == "1.1.0"
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left


def test_missing_mappings_are_created_under_their_parent() -> None:
    text = set_scalar(CONFIG, ("config", "inferstack:deployment", "scaling", "min_replicas"), 2)
    data = yaml.safe_load(text)["config"]["inferstack:deployment"]
    assert data["scaling"] == {"min_replicas": 2}
    assert data["tags"] == {"team": "ml"}


def test_values_yaml_would_misread_are_quoted() -> None:
    text = set_scalar(CONFIG, ("config", "inferstack:deployment", "model", "artifact"), "yes")
    assert yaml.safe_load(text)["config"]["inferstack:deployment"]["model"]["artifact"] == "yes"


def test_bad_paths_are_named(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.s.yaml"
    path.write_text(CONFIG)
    with pytest.raises(StackFileError, match="variant 'blue' serves traffic but is not in"):
        StackFile(path).set_weights({"blue": 1.0})
    with pytest.raises(StackFileError, match="is not a single value"):
        StackFile(path).set(("model",), "x")


def _schema(**data: object) -> InputSchema:
    return InputSchema.model_validate(data)


def test_identical_schemas_are_compatible() -> None:
    schema = _schema(features=["a", "b"], dtype="float64")
    assert input_differences(schema, schema) == []


def test_schema_differences_are_named() -> None:
    old = _schema(features=["a", "b", "c"], dtype="float64", allow_nan=True)
    new = _schema(
        features=[
            {"name": "b", "dtype": "float64"},
            {"name": "a", "dtype": "int64"},
            {"name": "d", "dtype": "float64"},
        ],
    )
    assert input_differences(old, new) == [
        "features removed: c",
        "features added: d",
        "feature a: dtype float64 -> int64",
        "feature order changed",
        "allow_nan true -> false (NaN inputs would be refused)",
    ]


def test_tensor_shape_change_is_named() -> None:
    assert input_differences(_schema(shape=[2, 3]), _schema(shape=[3, 2])) == [
        "shape [2, 3] -> [3, 2]"
    ]


def test_promote_steps_follow_the_rollout_strategy() -> None:
    from inferstack.components.lifecycle.rollout import check_steps, step_percents
    from inferstack.components.lifecycle.seam import LifecycleError
    from inferstack.components.spec.models import RolloutSpec

    assert step_percents(RolloutSpec(strategy="blue_green", canary_percent=5)) == [5, 100]
    assert step_percents(RolloutSpec(strategy="linear", linear_step_percent=30)) == [
        30,
        60,
        90,
        100,
    ]
    assert step_percents(RolloutSpec(strategy="all_at_once")) == [100]
    assert check_steps([10, 50]) == [10, 50, 100]
    with pytest.raises(LifecycleError, match="must increase"):
        check_steps([50, 10])
    with pytest.raises(LifecycleError, match=r"must lie in \(0, 100\]"):
        check_steps([0, 100])


def test_append_item_to_an_existing_list_and_a_missing_one() -> None:
    from inferstack.components.lifecycle.stackfile import append_item

    path = ("config", "inferstack:deployment", "rollout", "variants")
    item = {"name": "c2", "model_version": "1.2.0", "weight": 0}
    text = append_item(CONFIG, path, item)
    assert "          weight: 0\n        - name: c2\n          model_version: 1.2.0\n" in text
    assert yaml.safe_load(text)["config"]["inferstack:deployment"]["rollout"]["variants"][1] == item
    bare = CONFIG[: CONFIG.index("    rollout:")] + CONFIG[CONFIG.index("    tags:") :]
    created = append_item(bare, path, item)
    data = yaml.safe_load(created)["config"]["inferstack:deployment"]
    assert data["rollout"] == {"variants": [item]}
    assert data["tags"] == {"team": "ml"}
