"""Trackers through the API: everyone signed in reads them, only an admin changes them, and
bad definitions get a 4xx naming the problem without touching what is stored."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.stack


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_admin_manages_trackers_and_others_only_read(services: Any, tokens: dict[str, str]) -> None:
    base, admin = services.base_url, auth(tokens["admin"])
    name = f"competitors-{uuid.uuid4().hex[:8]}"
    url = f"{base}/v1/trackers/{name}"

    r = httpx.put(url, json={"phrases": ["Gong", "Chorus"]}, headers=admin)
    assert r.status_code == 201, r.text
    tracker_id = r.json().pop("id")
    assert uuid.UUID(tracker_id)
    assert r.json() == {
        "id": tracker_id,
        "name": name,
        "kind": "keyword",
        "phrases": ["Gong", "Chorus"],
        "threshold": 0.6,
    }
    smart = {"kind": "smart", "phrases": ["we are evaluating other vendors"], "threshold": 0.5}
    r = httpx.put(url, json=smart, headers=admin)
    assert r.status_code == 200 and r.json()["kind"] == "smart"
    assert r.json()["id"] == tracker_id, "replacing a tracker keeps its id"

    for role in ("manager", "user_a"):
        who = auth(tokens[role])
        listed = httpx.get(f"{base}/v1/trackers", headers=who).json()["trackers"]
        assert {"id": tracker_id, "name": name, **smart} in listed
        denied = httpx.put(url, json={"phrases": ["x"]}, headers=who)
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden"
        assert httpx.delete(url, headers=who).status_code == 403
    assert httpx.get(url, headers=admin).json()["kind"] == "smart"  # unchanged

    assert httpx.delete(url, headers=admin).status_code == 204
    gone = httpx.get(url, headers=admin)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "tracker_not_found"
    assert httpx.delete(url, headers=admin).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"phrases": []},
        {"phrases": [""]},
        {"phrases": ["ok"], "kind": "regex"},
        {"phrases": ["ok"], "threshold": 1.5},
        {"phrases": ["ok"], "colour": "red"},
    ],
)
def test_bad_tracker_definitions_are_rejected(
    services: Any, tokens: dict[str, str], body: dict[str, Any]
) -> None:
    base, admin = services.base_url, auth(tokens["admin"])
    name = f"bad-{uuid.uuid4().hex[:8]}"
    r = httpx.put(f"{base}/v1/trackers/{name}", json=body, headers=admin)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "invalid_request"
    assert httpx.get(f"{base}/v1/trackers/{name}", headers=admin).status_code == 404


def test_trackers_need_a_credential(services: Any) -> None:
    r = httpx.get(f"{services.base_url}/v1/trackers")
    assert r.status_code == 401
