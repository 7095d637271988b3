"""/health tells which dependency is down and answers 503 then."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.stack


def test_health_names_the_dependency_that_is_down(common_settings: Any) -> None:
    from fastapi.testclient import TestClient

    from callstream_ingest.app import create_app
    from callstream_ingest.settings import IngestSettings

    settings = IngestSettings(
        **(common_settings.model_dump() | {"s3_endpoint": "127.0.0.1:9", "log_json": False})
    )
    client = TestClient(create_app(settings))  # no lifespan: the broker is never connected
    response = client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["services"]["database"] == "ok"
    assert body["services"]["object_store"].startswith("error")
    assert body["services"]["kafka"].startswith("error")
