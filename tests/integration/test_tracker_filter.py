"""The conversations list filtered by a tracker, over HTTP against the running services:
each role sees exactly its scope's calls with a hit, the speaker's role narrows the hits
that count, the tracker may be named by its id, keyset pages stay whole, a cursor is bound
to the tracker, an unknown tracker is a 422 naming the field, and creating or deleting a
tracker reaches cached pages at once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bench.read_seed import Seeded
from tests.support.read_data import seed_completed_calls

pytestmark = pytest.mark.stack

REPS = [("rep-a", "team-east"), ("rep-b", "team-east"), ("rep-c", "team-west")]
IN_SCOPE = {
    "user_a": {"rep-a"},
    "user_c": {"rep-c"},
    "manager": {"rep-a", "rep-b"},
    "admin": {"rep-a", "rep-b", "rep-c"},
}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def get(services: Any, token: str, **params: Any) -> httpx.Response:
    return httpx.get(
        f"{services.base_url}/v1/conversations", headers=auth(token), params=params, timeout=30
    )


def put_tracker(services: Any, tokens: dict[str, str], name: str) -> dict[str, Any]:
    r = httpx.put(
        f"{services.base_url}/v1/trackers/{name}",
        json={"phrases": [f"zz {uuid.uuid4().hex}"]},
        headers=auth(tokens["admin"]),
    )
    assert r.status_code in (200, 201), r.text
    return dict(r.json())


def delete_tracker(services: Any, tokens: dict[str, str], name: str) -> None:
    httpx.delete(f"{services.base_url}/v1/trackers/{name}", headers=auth(tokens["admin"]))


@pytest.fixture(scope="module")
async def tracker(services: Any, tokens: dict[str, str]) -> AsyncIterator[dict[str, Any]]:
    """A tracker nobody says (its phrase is random): its hits are only the seeded ones."""
    made = put_tracker(services, tokens, f"pricing-{uuid.uuid4().hex[:8]}")
    yield made
    delete_tracker(services, tokens, made["name"])


@pytest.fixture(scope="module")
async def seeded(
    services: Any, tokens: dict[str, str], endpoints: Any, tracker: dict[str, Any]
) -> Seeded:
    return await seed_completed_calls(endpoints, REPS, 48, tracker=tracker["name"])


def every_page(services: Any, token: str, **params: Any) -> list[str]:
    """The ids of every page, following ``next_cursor`` to the end."""
    ids: list[str] = []
    cursor = None
    for _ in range(200):
        page = get(services, token, **params, **({"cursor": cursor} if cursor else {}))
        assert page.status_code == 200, page.text
        ids += [i["id"] for i in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if not cursor:
            return ids
    raise AssertionError("the pages never end")


def expected(seeded: Seeded, reps: set[str], role: str | None = None) -> set[str]:
    return {
        str(c)
        for c, roles in seeded.hit_roles.items()
        if seeded.rep_of_conversation[c] in reps and (role is None or role in roles)
    }


def test_each_role_sees_exactly_its_scopes_calls_with_a_hit(
    services: Any, tokens: dict[str, str], seeded: Seeded, tracker: dict[str, Any]
) -> None:
    assert {frozenset({"prospect"}), frozenset({"rep"})} <= set(seeded.hit_roles.values())
    for who, reps in IN_SCOPE.items():
        for role in (None, "prospect", "rep"):
            params = {"tracker": tracker["name"], "limit": 100}
            if role:
                params["speaker_role"] = role
            found = every_page(services, tokens[who], **params)
            assert len(found) == len(set(found))
            assert set(found) == expected(seeded, reps, role), (who, role)
    # Named by its id, the same tracker gives the same calls.
    by_id = every_page(services, tokens["manager"], tracker=tracker["id"], limit=100)
    assert set(by_id) == expected(seeded, IN_SCOPE["manager"])
    # A filter on a rep outside the caller's scope is still a 404, tracker or not.
    r = get(services, tokens["user_a"], tracker=tracker["name"], rep_id="rep-c")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    narrowed = every_page(services, tokens["admin"], tracker=tracker["name"], rep_id="rep-b")
    assert set(narrowed) == expected(seeded, {"rep-b"})


def test_keyset_pages_of_a_tracker_filter_cover_it_once_in_order(
    services: Any, tokens: dict[str, str], seeded: Seeded, tracker: dict[str, Any]
) -> None:
    want = expected(seeded, IN_SCOPE["admin"])
    for sort in ("newest", "score"):
        found = every_page(services, tokens["admin"], tracker=tracker["name"], limit=4, sort=sort)
        assert len(found) == len(set(found)) and set(found) == want, sort
    page = get(services, tokens["admin"], tracker=tracker["name"], limit=2).json()
    assert page["next_cursor"]
    r = get(
        services,
        tokens["admin"],
        tracker=tracker["name"],
        speaker_role="rep",
        limit=2,
        cursor=page["next_cursor"],
    )
    assert r.status_code == 422 and "another query" in r.text


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"tracker": "no-such-tracker"}, "query.tracker"),
        ({"tracker": str(uuid.uuid4())}, "query.tracker"),
        ({"tracker": "x" * 81}, "query.tracker"),
        ({"speaker_role": "prospect"}, "query.speaker_role"),
        ({"tracker": "any", "speaker_role": "customer"}, "query.speaker_role"),
    ],
)
def test_a_bad_tracker_filter_is_a_422_naming_the_field(
    services: Any, tokens: dict[str, str], params: dict[str, Any], field: str
) -> None:
    r = get(services, tokens["user_a"], **params)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_request"
    assert field in [p["field"] for p in error["details"]["problems"]], error


def test_a_tracker_created_or_deleted_reaches_cached_pages_at_once(
    services: Any, tokens: dict[str, str]
) -> None:
    name = f"late-{uuid.uuid4().hex[:8]}"
    for _ in range(2):  # the second answer comes from the cache
        assert get(services, tokens["manager"], tracker=name).status_code == 422
    put_tracker(services, tokens, name)
    try:
        for _ in range(2):
            r = get(services, tokens["manager"], tracker=name)
            assert r.status_code == 200 and r.json()["items"] == []
    finally:
        delete_tracker(services, tokens, name)
    assert get(services, tokens["manager"], tracker=name).status_code == 422
