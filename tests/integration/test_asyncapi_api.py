"""Ingest serves the AsyncAPI document: JSON and an offline HTML page, behind a credential
of any role (``CALLSTREAM_ASYNCAPI_PUBLIC`` off, the default)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.stack


def test_asyncapi_needs_a_credential(services: Any) -> None:
    for path in ("/asyncapi", "/asyncapi.json"):
        r = httpx.get(services.base_url + path)
        assert r.status_code == 401, path
        assert r.json()["error"]["code"] == "unauthorized"


def test_asyncapi_json_is_the_generated_document(services: Any, tokens: dict[str, str]) -> None:
    from callstream_cli.asyncapi import OUTPUT
    from callstream_cli.stack.settings import project_root
    from callstream_common.topics import all_topics

    r = httpx.get(
        services.base_url + "/asyncapi.json",
        headers={"Authorization": f"Bearer {tokens['user_a']}"},
    )
    assert r.status_code == 200
    assert r.json() == json.loads((project_root() / OUTPUT).read_text())
    assert {t.name for t in all_topics()} <= set(r.json()["channels"])


def test_asyncapi_page_renders_offline(services: Any, tokens: dict[str, str]) -> None:
    r = httpx.get(
        services.base_url + "/asyncapi", headers={"Authorization": f"Bearer {tokens['manager']}"}
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "<script" not in r.text and "https://" not in r.text.split("</style>")[0]
    assert "<code>calls.analyzed</code>" in r.text and "CallAnalyzed" in r.text
