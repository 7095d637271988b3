"""Schemathesis over the OpenAPI document of the running ingest, with an admin and a
user credential: a bounded run (``CALLSTREAM_FUZZ_EXAMPLES`` cases per operation and
role, default 12) that must find no server error, no response outside its declared
schema and no status code the document does not declare."""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.stack

EXAMPLES = int(os.environ.get("CALLSTREAM_FUZZ_EXAMPLES", "12"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
]


@pytest.fixture(scope="module")
def ingest_schema(services: Any) -> Any:
    return schemathesis.openapi.from_url(f"{services.base_url}/openapi.json")


schema = schemathesis.pytest.from_fixture("ingest_schema")


@pytest.mark.parametrize("role", ["admin", "user_a"])
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_api_keeps_its_contract(
    case: Any, role: str, tokens: dict[str, str], services: Any
) -> None:
    case.call_and_validate(
        base_url=services.base_url,
        headers={"Authorization": f"Bearer {tokens[role]}"},
        checks=CHECKS,
        timeout=30,
    )
