"""The docker mirror's translation of declared inputs into Engine API bodies (no engine):
the local plan's containers map field by field, and nothing is dropped silently."""

from __future__ import annotations

import pytest

from inferstack.components.plan.run import run_plan
from inferstack.components.testing.docker import DockerMirrorError
from inferstack.components.testing.docker.container import container_config, duration_ns
from inferstack.components.testing.docker.mocks import plain
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def runtime_inputs() -> dict:
    plan = run_plan("local", ROOT)
    return plain(plan.by_name()["local-runtime"].raw_inputs)


def test_the_local_runtime_container_maps_field_by_field(runtime_inputs: dict) -> None:
    config = container_config(runtime_inputs)
    host = config["HostConfig"]
    assert host["PortBindings"] == {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]}
    assert config["ExposedPorts"] == {"8080/tcp": {}}
    assert host["RestartPolicy"] == {"Name": "unless-stopped"}
    assert host["NetworkMode"] == "inferstack-local"
    assert config["NetworkingConfig"]["EndpointsConfig"]["inferstack-local"]["Aliases"] == [
        "inferstack-local-runtime"
    ]
    assert host["Mounts"] == [
        {
            "Type": "volume",
            "Source": "inferstack-local-capture",
            "Target": "/var/lib/inferstack/capture",
            "ReadOnly": False,
        }
    ]
    assert config["Healthcheck"] == {
        "Test": ["CMD", "python", "/usr/local/bin/inferstack-healthcheck"],
        "Interval": 10 * 10**9,
        "Timeout": 3 * 10**9,
        "StartPeriod": 60 * 10**9,
        "Retries": 3,
    }
    assert (config["StopSignal"], config["StopTimeout"]) == ("SIGTERM", 30)
    # The env list holds a secret (the key's hash): it reaches the engine unwrapped.
    assert all("=" in e for e in config["Env"])
    assert any(e.startswith("INFERSTACK_API_KEY_HASHES=") for e in config["Env"])
    assert config["Labels"]["dev.inferstack.endpoint"] == "local"


def test_an_input_the_mirror_does_not_map_is_refused(runtime_inputs: dict) -> None:
    with pytest.raises(DockerMirrorError, match=r"does not map \['privileged'\]"):
        container_config({**runtime_inputs, "privileged": True})


@pytest.mark.parametrize(
    ("text", "ns"),
    [("10s", 10**10), ("1m0s", 6 * 10**10), ("1h2m3s", 3723 * 10**9), ("500ms", 5 * 10**8)],
)
def test_go_durations(text: str, ns: int) -> None:
    assert duration_ns(text) == ns


def test_a_bad_duration_names_itself() -> None:
    with pytest.raises(DockerMirrorError, match="'10 seconds' is not a Go duration"):
        duration_ns("10 seconds")
