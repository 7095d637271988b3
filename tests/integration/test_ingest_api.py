"""What each kind of request gets from ingest, over HTTP against the running services."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.stack

META = {"opportunity_name": "Acme renewal", "rep_id": "rep-a"}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def post(services: Any, token: str | None, **kw: Any) -> httpx.Response:
    headers = kw.pop("headers", {})
    if token:
        headers |= auth(token)
    return httpx.post(f"{services.base_url}/v1/conversations", headers=headers, timeout=60, **kw)


def err(r: httpx.Response) -> str:
    assert r.headers["content-type"].startswith("application/json"), r.text
    return str(r.json()["error"]["code"])


async def count_conversations(sessions: Any) -> int:
    from sqlalchemy import text

    async with sessions() as s:
        return int((await s.execute(text("SELECT count(*) FROM conversations"))).scalar_one())


def test_health_is_public_and_checks_every_dependency(services: Any) -> None:
    r = httpx.get(f"{services.base_url}/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["version"]
    assert body["services"] == {"database": "ok", "object_store": "ok", "kafka": "ok"}


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc", "Bearer"])
def test_every_api_needs_a_valid_credential(services: Any, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    r = httpx.post(f"{services.base_url}/v1/conversations", headers=headers, content=b"x")
    assert r.status_code == 401 and err(r) == "unauthorized"
    r = httpx.get(f"{services.base_url}/v1/conversations/{uuid.uuid4()}", headers=headers)
    assert r.status_code == 401 and err(r) == "unauthorized"


async def test_bad_uploads_get_their_own_error_and_store_nothing(
    services: Any, tokens: dict[str, str], sessions: Any, sample_wav: Any
) -> None:
    before = await count_conversations(sessions)
    token = tokens["admin"]
    wav = sample_wav.read_bytes()
    cases = [
        (post(services, token, content=b"", params=META), 400, "empty_body"),
        (post(services, token, files={"file": ("a.wav", b"")}, data=META), 400, "empty_body"),
        (
            post(services, token, content=b"%PDF-1.7 this is a document" * 10, params=META),
            415,
            "not_audio",
        ),
        (
            post(
                services,
                token,
                files={"file": ("x.wav", b"\x89PNG\r\n\x1a\n" + b"0" * 200)},
                data=META,
            ),
            415,
            "not_audio",
        ),
        (
            post(services, token, files={"file": ("a.wav", wav)}, data={"rep_id": "rep-a"}),
            422,
            "missing_metadata",
        ),
        (post(services, token, content=wav, params={"rep_id": "rep-a"}), 422, "missing_metadata"),
        (
            post(services, token, files={"file": ("a.wav", wav)}, data=META | {"priority": "11"}),
            422,
            "invalid_metadata",
        ),
        (
            post(services, token, files={"audio": ("a.wav", wav)}, data=META),
            400,
            "unexpected_file_field",
        ),
        (post(services, token, data=META), 415, "unsupported_media_type"),
        (
            post(
                services,
                token,
                files={"file": ("big.wav", wav[:64] + b"\0" * (21 * 1024 * 1024))},
                data=META,
            ),
            413,
            "too_large",
        ),
        (
            post(
                services,
                tokens["user_a"],
                files={"file": ("a.wav", wav)},
                data=META | {"rep_id": "rep-c"},
            ),
            403,
            "forbidden",
        ),
    ]
    for response, status, code in cases:
        assert (response.status_code, err(response)) == (status, code), response.text
    assert await count_conversations(sessions) == before


async def test_upload_is_accepted_at_once_and_idempotency_key_creates_nothing_new(
    services: Any, tokens: dict[str, str], sessions: Any, sample_wav: Any
) -> None:
    key = f"idem-{uuid.uuid4()}"
    wav = sample_wav.read_bytes()
    first = post(
        services, tokens["admin"], content=wav, params=META, headers={"Idempotency-Key": key}
    )
    assert first.status_code == 202, first.text
    assert first.json()["status"] == "pending" and first.json()["status_url"].endswith(
        first.json()["id"]
    )
    before = await count_conversations(sessions)
    again = post(
        services, tokens["admin"], content=wav, params=META, headers={"Idempotency-Key": key}
    )
    assert again.status_code == 202
    assert again.json()["id"] == first.json()["id"] and again.json()["idempotent_replay"]
    assert await count_conversations(sessions) == before


def test_users_see_their_own_calls_managers_their_team_admins_all(
    services: Any, tokens: dict[str, str], sample_wav: Any
) -> None:
    r = post(services, tokens["admin"], content=sample_wav.read_bytes(), params=META)
    cid = r.json()["id"]
    url = f"{services.base_url}/v1/conversations/{cid}"
    assert httpx.get(url, headers=auth(tokens["admin"])).status_code == 200
    assert httpx.get(url, headers=auth(tokens["user_a"])).status_code == 200
    assert httpx.get(url, headers=auth(tokens["manager"])).status_code == 200
    denied = httpx.get(url, headers=auth(tokens["user_c"]))
    assert denied.status_code == 404 and err(denied) == "not_found"
    assert (
        err(
            httpx.get(
                f"{services.base_url}/v1/conversations/not-a-uuid", headers=auth(tokens["admin"])
            )
        )
        == "invalid_request"
    )


@pytest.mark.parametrize(
    ("name", "maker", "reason"),
    [
        ("truncated", "truncated_body", "truncated"),
        ("garbage-after-header", "garbage_after_header", "undecodable"),
    ],
)
def test_undecodable_audio_fails_the_call_with_its_reason(
    services: Any,
    tokens: dict[str, str],
    sample_wav: Any,
    tmp_path: Any,
    name: str,
    maker: str,
    reason: str,
) -> None:
    wav = sample_wav.read_bytes()
    if maker == "truncated_body":
        data = wav[: len(wav) // 3]
    else:
        data = wav[:44] + bytes(range(256)) * 40
        data = b"RIFF" + (999999).to_bytes(4, "little") + b"WAVE" + b"junk" * 500
    r = post(services, tokens["admin"], content=data, params=META)
    assert r.status_code == 202, r.text
    cid = r.json()["id"]
    deadline = time.monotonic() + 120
    while True:
        body = httpx.get(
            f"{services.base_url}/v1/conversations/{cid}", headers=auth(tokens["admin"])
        ).json()
        if body["status"] in ("completed", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert body["status"] == "failed", body
    assert body["failure_stage"] == "transcription"
    assert reason in body["failure_reason"].lower() and "permanent" in body["failure_reason"]
