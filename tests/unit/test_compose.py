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
