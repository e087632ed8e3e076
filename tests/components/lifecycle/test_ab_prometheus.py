"""ab-report through a real Prometheus server (Debian's `prometheus`) on 127.0.0.1 that
scrapes two runtimes' metrics: the local stack's default source, found from its
`targets.local.prometheus_port`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from typer.testing import CliRunner

from inferstack.components.cli.app import app
from inferstack.components.lifecycle.stackfile import StackFile
from tests.components.lifecycle.test_local import _project
from tests.runtime.server import free_port

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def prometheus(metrics_server: str, tmp_path: Path) -> Iterator[str]:
    """Prometheus scraping /1.0.0/metrics and /1.1.0/metrics every second."""
    binary = shutil.which("prometheus")
    if binary is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("the prometheus binary is missing (apt-get install prometheus)")
        pytest.skip("the prometheus binary is missing (apt-get install prometheus)")
    target = urlsplit(metrics_server).netloc
    jobs = "".join(
        f"  - job_name: v{v}\n    metrics_path: /{v}/metrics\n"
        f"    static_configs: [{{targets: ['{target}']}}]\n"
        for v in ("1.0.0", "1.1.0")
    )
    config = tmp_path / "prometheus.yml"
    config.write_text(f"global:\n  scrape_interval: 1s\nscrape_configs:\n{jobs}")
    port = free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        # Every series of both jobs scraped at least twice: increase() over a window (the
        # test's --since) needs two samples, and a loaded machine can leave one job behind.
        series = f"{url}/api/v1/query?query=count(inferstack_requests_total)"
        sampled = (
            f"{url}/api/v1/query?query=min(count_over_time(inferstack_requests_total%5B5m%5D))"
        )
        while True:
            try:
                counts = []
                for query in (series, sampled):
                    with urllib.request.urlopen(query, timeout=2) as response:  # noqa: S310
                        result = json.loads(response.read())["data"]["result"]
                    counts.append(float(result[0]["value"][1]) if result else 0.0)
                if counts[0] >= 4 and counts[1] >= 2:  # 2 routes x 2 versions, 2 scrapes
                    break
            except OSError:
                pass
            assert process.poll() is None, (tmp_path / "prometheus.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "Prometheus scraped nothing in 90 s"
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def test_local_ab_report_reads_the_stacks_prometheus(tmp_path: Path, prometheus: str) -> None:
    project = tmp_path / "project"
    project.mkdir()
    config = _project(project, ROOT)
    stack = StackFile(config)
    stack.set(("targets", "local", "prometheus_port"), int(urlsplit(prometheus).port or 0))
    stack.save()
    result = CliRunner().invoke(app, ["ab-report", "local", "--project", str(project), "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["source"] == f"prometheus {prometheus}"
    counts = {v["version"]: v["requests"] for v in body["variants"]}
    assert counts == {"1.0.0": 4000, "1.1.0": 1000}  # health checks left out
    rows = {c["metric"]: c for c in body["comparisons"]}
    assert rows["latency ms"]["n_a"] == 4000
    assert rows["latency ms"]["significant"]
    assert rows["error rate"]["test"] == "two-proportion z"
    # a window: Prometheus's increase() over it (nothing changed since the first scrape)
    windowed = CliRunner().invoke(
        app, ["ab-report", "local", "--prometheus", prometheus, "--since", "5m", "--json"]
    )
    assert windowed.exit_code == 0, windowed.output
    assert all(v["requests"] == 0 for v in json.loads(windowed.stdout)["variants"])
