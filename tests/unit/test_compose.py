"""docker-compose.yml runs the same stack for people with Docker; here (no engine) the file
is validated by docker-compose itself."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_compose_file_is_valid() -> None:
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.fail("docker-compose is missing: scripts/bootstrap.sh installs it")
    result = subprocess.run(
        [tool, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_compose_runs_the_whole_stack_and_every_service() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert {"kafka", "postgres", "minio", "redis", "zipkin"} <= set(services)
    assert {"ingest", "transcriber", "analyzer", "notifier", "compactor"} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka")


def test_prometheus_scrapes_every_service_on_its_metrics_port() -> None:
    from callstream_analyzer.settings import AnalyzerSettings
    from callstream_compactor.settings import CompactorSettings
    from callstream_ingest.settings import IngestSettings
    from callstream_notifier.settings import NotifierSettings
    from callstream_transcriber.settings import TranscriberSettings

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    prometheus = compose["services"]["prometheus"]
    assert prometheus["image"].startswith("prom/prometheus")
    source, target = prometheus["volumes"][0].split(":")[:2]
    assert target == "/etc/prometheus/prometheus.yml"
    config = yaml.safe_load((ROOT / source).read_text())
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    targets = {c["labels"]["service"]: c["targets"][0] for c in job["static_configs"]}
    ports = {
        "ingest": IngestSettings().port,
        "transcriber": TranscriberSettings().metrics_port,
        "analyzer": AnalyzerSettings().metrics_port,
        "notifier": NotifierSettings().metrics_port,
        "compactor": CompactorSettings().metrics_port,
    }
    assert targets == {name: f"{name}:{port}" for name, port in ports.items()}
    env = compose["x-service-env"]
    assert job["authorization"]["credentials"] == env["CALLSTREAM_METRICS_TOKEN"]
    assert env["CALLSTREAM_METRICS_HOST"] == "0.0.0.0"
