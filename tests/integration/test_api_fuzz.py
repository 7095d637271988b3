"""Schemathesis over the OpenAPI document of the running ingest, with an admin and a
user credential: a bounded run (``CALLSTREAM_FUZZ_EXAMPLES`` cases per operation and
credential, default 12; every operation on the document, so new routes are covered as
they land) that must find no server error, no response outside its declared schema and
no status code the document does not declare.

Driven through schemathesis' Python API (one Hypothesis run per operation) rather than
its pytest plugin, which does not run under this pytest version."""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
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


def fuzz(base_url: str, token: str) -> tuple[int, list[str]]:
    """Cases run and one line per failing operation."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    headers = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    cases = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            nonlocal cases
            cases += 1
            case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=30)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis' FailureGroup
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    return cases, failures


@pytest.mark.parametrize("role", ["admin", "user_a"])
def test_api_keeps_its_contract(services: Any, tokens: dict[str, str], role: str) -> None:
    try:
        cases, failures = fuzz(services.base_url, tokens[role])
    finally:
        # An admin's fuzz cases may switch the read cache off: later tests expect it on.
        httpx.put(
            f"{services.base_url}/v1/ops/cache",
            json={"enabled": True},
            headers={"Authorization": f"Bearer {tokens['admin']}"},
            timeout=30,
        ).raise_for_status()
    print(f"schemathesis as {role}: {cases} cases, {len(failures)} failing operations")
    assert cases >= 50
    assert not failures, "\n\n".join(failures)
