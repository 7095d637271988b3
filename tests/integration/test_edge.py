"""The HTTP edge of ingest as an attacker and a careless client meet it (issue: hardening
the edge). Each test names the defect it pins down."""

from __future__ import annotations

import json
import socket
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

pytestmark = pytest.mark.stack

META = {"opportunity_name": "Edge renewal", "rep_id": "rep-a"}


def auth(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} | extra


def upload(services: Any, token: str, wav: bytes, meta: dict[str, str], **headers: str) -> Any:
    return httpx.post(
        f"{services.base_url}/v1/conversations",
        headers=auth(token, **headers),
        files={"file": ("call.wav", wav, "audio/wav")},
        data=meta,
        timeout=60,
    )


def code(r: httpx.Response) -> str:
    return str(r.json()["error"]["code"])


@pytest.fixture(scope="module")
def wav(sample_wav: Any) -> bytes:
    return bytes(sample_wav.read_bytes())


async def dead_letter(
    sessions: Any,
    *,
    conversation_id: uuid.UUID | None,
    topic: str = "calls.transcribed",
    service: str = "analyzer",
    error_class: str = "callstream_common.retry.PermanentError",
) -> uuid.UUID:
    from callstream_common.db.models import DlqEntry

    entry = DlqEntry(
        dlq_partition=0,
        dlq_offset=-(uuid.uuid4().int % 2**31),
        original_topic=topic,
        value=json.dumps({"conversation_id": str(conversation_id)}).encode(),
        headers={},
        service=service,
        consumer_group=service,
        error_class=error_class,
        error_message="boom",
        stack_trace="Traceback (most recent call last): secret internals",
        attempts=3,
        conversation_id=conversation_id,
    )
    async with sessions() as session, session.begin():
        session.add(entry)
    return entry.id


async def failed_call(sessions: Any, rep_id: str) -> uuid.UUID:
    from callstream_common.db.models import Conversation, ConversationStatus

    conv = Conversation(
        id=uuid.uuid4(),
        status=ConversationStatus.FAILED,
        failure_stage="analysis",
        failure_reason="boom",
        opportunity_name="Edge",
        rep_id=rep_id,
        object_key=f"recordings/edge/{uuid.uuid4()}.wav",
        content_type="audio/wav",
        size_bytes=10,
        sha256="0" * 64,
    )
    async with sessions() as session, session.begin():
        session.add(conv)
    return conv.id


# 1 ------------------------------------------------------------------ Idempotency-Key


def test_idempotency_key_belongs_to_its_credential_and_its_request(
    services: Any, tokens: dict[str, str], wav: bytes
) -> None:
    key = f"edge-{uuid.uuid4()}"
    first = upload(services, tokens["admin"], wav, META, **{"Idempotency-Key": key})
    assert first.status_code == 202, first.text
    again = upload(services, tokens["admin"], wav, META, **{"Idempotency-Key": key})
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
    assert again.json()["idempotent_replay"] is True

    other = upload(services, tokens["user_a"], wav, META, **{"Idempotency-Key": key})
    assert other.status_code == 202 and other.json()["id"] != first.json()["id"]
    assert other.json()["trace_id"] != first.json()["trace_id"]

    empty = httpx.post(
        f"{services.base_url}/v1/conversations",
        headers=auth(tokens["user_c"], **{"Idempotency-Key": key}),
    )
    assert empty.status_code == 400 and code(empty) == "empty_body"

    changed = upload(
        services, tokens["admin"], wav, META | {"title": "other"}, **{"Idempotency-Key": key}
    )
    assert changed.status_code == 422 and code(changed) == "idempotency_key_reused"
    assert changed.json()["error"]["details"]["differs"] == ["title"]
    other_bytes = upload(
        services, tokens["admin"], wav + b"\0" * 64, META, **{"Idempotency-Key": key}
    )
    assert other_bytes.status_code == 422
    assert other_bytes.json()["error"]["details"]["differs"] == ["content"]


# 2 ------------------------------------------------------------------ scope


def test_managers_upload_only_for_their_team(
    services: Any, tokens: dict[str, str], wav: bytes
) -> None:
    manager = tokens["manager"]  # team-east: rep-a, rep-b
    west = upload(services, manager, wav, META | {"rep_id": "rep-c"})
    assert west.status_code == 403 and code(west) == "forbidden"
    ghost = upload(services, manager, wav, META | {"rep_id": f"rep-{uuid.uuid4()}"})
    assert ghost.status_code == 403
    east = upload(services, manager, wav, META | {"rep_id": "rep-b"})
    assert east.status_code == 202, east.text


async def test_managers_see_their_team_s_dead_letters_without_stack_traces(
    services: Any, tokens: dict[str, str], sessions: Any
) -> None:
    base = services.base_url
    west = await dead_letter(sessions, conversation_id=await failed_call(sessions, "rep-c"))
    east = await dead_letter(sessions, conversation_id=await failed_call(sessions, "rep-b"))
    manager, admin = auth(tokens["manager"]), auth(tokens["admin"])

    assert httpx.get(f"{base}/v1/ops/dlq/{west}", headers=manager).status_code == 404
    listed = {
        e["id"]
        for e in httpx.get(f"{base}/v1/ops/dlq?limit=500", headers=manager).json()["entries"]
    }
    assert str(east) in listed and str(west) not in listed
    seen = httpx.get(f"{base}/v1/ops/dlq/{east}", headers=manager).json()
    assert "stack_trace" not in seen and seen["payload"]
    assert (
        "secret internals"
        in httpx.get(f"{base}/v1/ops/dlq/{west}", headers=admin).json()["stack_trace"]
    )

    jobs = httpx.get(f"{base}/v1/ops/jobs/status", headers=manager).json()
    assert all(f["id"] != str(west) for f in jobs["recent_failures"])
    everything = httpx.get(f"{base}/v1/ops/jobs/status", headers=admin).json()
    assert sum(everything["counts"].values()) > sum(jobs["counts"].values())


@pytest.mark.parametrize("path", ["/v1/compaction/datasets", "/v1/compaction/runs"])
def test_users_are_kept_off_the_archive(services: Any, tokens: dict[str, str], path: str) -> None:
    r = httpx.get(f"{services.base_url}{path}", headers=auth(tokens["user_a"]))
    assert r.status_code == 403 and code(r) == "forbidden"
    assert (
        httpx.get(f"{services.base_url}{path}", headers=auth(tokens["manager"])).status_code == 200
    )


# 3 ------------------------------------------------------------------ replay


@pytest.mark.parametrize("payload", ["evil", "other_conversation", "too_large"])
async def test_an_edited_replay_is_checked_before_anything_changes(
    services: Any, tokens: dict[str, str], sessions: Any, payload: str
) -> None:
    from callstream_common.contracts import CallTranscribed
    from callstream_common.db.models import Conversation, DlqEntry

    conv_id = await failed_call(sessions, "rep-a")
    entry_id = await dead_letter(sessions, conversation_id=conv_id)
    valid = CallTranscribed(
        conversation_id=conv_id, language="en", duration_seconds=1.0, segment_count=1
    ).model_dump(mode="json")
    body = {
        "evil": {"evil": "x"},
        "other_conversation": valid | {"conversation_id": str(uuid.uuid4())},
        "too_large": valid | {"language": "e" * 1_100_000},
    }[payload]
    r = httpx.post(
        f"{services.base_url}/v1/ops/dlq/{entry_id}/replay",
        headers=auth(tokens["admin"]),
        json={"payload": body},
        timeout=30,
    )
    expected = (413, "too_large") if payload == "too_large" else (422, "invalid_payload")
    assert (r.status_code, code(r)) == expected, r.text
    async with sessions() as session:
        entry = await session.get(DlqEntry, entry_id)
        conv = await session.get(Conversation, conv_id)
    assert entry is not None and entry.status == "new"
    assert conv is not None and conv.status == "failed" and conv.failure_stage == "analysis"


async def test_a_record_kafka_refuses_rolls_back_to_the_pipeline_s_stage_name(
    services: Any, tokens: dict[str, str], sessions: Any
) -> None:
    from callstream_common.db.models import Conversation, DlqEntry

    conv_id = await failed_call(sessions, "rep-a")
    entry_id = await dead_letter(sessions, conversation_id=conv_id)
    async with sessions() as session, session.begin():
        entry = await session.get(DlqEntry, entry_id)
        assert entry is not None
        entry.value = json.dumps({"conversation_id": str(conv_id), "pad": "x" * 1_200_000}).encode()
    r = httpx.post(
        f"{services.base_url}/v1/ops/dlq/{entry_id}/replay",
        headers=auth(tokens["admin"]),
        timeout=30,
    )
    assert r.status_code == 413 and code(r) == "too_large", r.text
    async with sessions() as session:
        entry = await session.get(DlqEntry, entry_id)
        conv = await session.get(Conversation, conv_id)
    assert entry is not None and entry.status == "new"
    assert conv is not None and conv.status == "failed" and conv.failure_stage == "analysis"


# 4 ------------------------------------------------------------------ client errors


def test_nul_bytes_are_the_client_s_error_not_an_outage(
    services: Any, tokens: dict[str, str], wav: bytes
) -> None:
    admin = auth(tokens["admin"])
    r = httpx.get(f"{services.base_url}/v1/ops/dlq?stage=%00", headers=admin)
    assert r.status_code == 422 and code(r) == "invalid_request"
    assert "retry-after" not in r.headers
    r = upload(services, tokens["admin"], wav, META | {"title": "a\x00b"})
    assert r.status_code == 422 and code(r) == "invalid_metadata"


# 5 ------------------------------------------------------------------ connections


def test_an_aborted_upload_is_an_info_line_not_an_error(
    services: Any, tokens: dict[str, str], wav: bytes
) -> None:
    log_path = services.process("ingest").log_path
    before = log_path.stat().st_size
    url = urlsplit(services.base_url)
    with socket.create_connection((url.hostname, url.port)) as sock:
        head = (
            "POST /v1/conversations?opportunity_name=x&rep_id=rep-a HTTP/1.1\r\n"
            f"Host: {url.netloc}\r\nAuthorization: Bearer {tokens['admin']}\r\n"
            "Content-Type: audio/wav\r\nContent-Length: 10000000\r\n\r\n"
        )
        sock.sendall(head.encode() + wav[:200_000])
        time.sleep(1.0)
    deadline = time.monotonic() + 10
    text = ""
    while time.monotonic() < deadline and "client went away" not in text:
        time.sleep(0.3)
        with log_path.open("rb") as f:
            f.seek(before)
            text = f.read().decode("utf-8", "replace")
    assert "client went away" in text
    assert '"ERROR"' not in text and "Traceback" not in text, text[-3000:]


def test_an_error_before_the_body_is_read_closes_the_connection_cleanly(
    services: Any, wav: bytes
) -> None:
    with httpx.Client(base_url=services.base_url) as client:
        r = client.post(
            "/v1/conversations", content=wav, headers={"Authorization": "Bearer nope-edge"}
        )
        assert r.status_code == 401 and r.headers["connection"] == "close"
        assert client.get("/health").status_code == 200


# 6 ------------------------------------------------------------------ failed authentication


def test_repeated_failed_authentication_is_slowed_down_per_address(
    services: Any, tokens: dict[str, str]
) -> None:
    attacker = {"X-Forwarded-For": f"198.51.100.{uuid.uuid4().int % 250 + 1}"}
    url = f"{services.base_url}/v1/ops/jobs/status"
    answers = [
        httpx.get(url, headers={"Authorization": f"Bearer guess-{i}"} | attacker).status_code
        for i in range(25)
    ]
    assert answers[:20] == [401] * 20 and set(answers[20:]) == {429}
    throttled = httpx.get(url, headers={"Authorization": "Bearer guess-x"} | attacker)
    assert code(throttled) == "too_many_failed_attempts"
    assert 0 < int(throttled.headers["retry-after"]) <= 60
    assert httpx.get(url, headers=auth(tokens["admin"])).status_code == 200


# 7 ------------------------------------------------------------------ URLs


def test_urls_come_from_the_public_base_url_not_the_host_header(
    services: Any, tokens: dict[str, str], wav: bytes
) -> None:
    r = upload(services, tokens["admin"], wav, META, Host="evil.example")
    assert r.status_code == 202, r.text
    assert r.json()["status_url"].startswith(services.base_url + "/v1/conversations/")
    assert r.headers["location"] == r.json()["status_url"]
    slash = httpx.get(f"{services.base_url}/v1/ops/dlq/", headers={"Host": "evil.example"})
    assert "evil.example" not in slash.headers.get("location", "")


# 8 ------------------------------------------------------------------ headers and contract


def test_security_headers(services: Any, tokens: dict[str, str]) -> None:
    base = services.base_url
    r = httpx.get(f"{base}/v1/ops/jobs/status", headers=auth(tokens["admin"]))
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"
    assert "server" not in r.headers
    health = httpx.get(f"{base}/health")
    assert health.headers["x-content-type-options"] == "nosniff" and "server" not in health.headers
    docs = httpx.get(f"{base}/docs")
    assert (
        docs.status_code == 200 and "default-src 'self'" in docs.headers["content-security-policy"]
    )
    wrong = httpx.delete(f"{base}/v1/conversations", headers=auth(tokens["admin"]))
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    assert code(wrong) == "method_not_allowed"


def test_openapi_declares_bearer_upload_bodies_and_error_shapes(services: Any) -> None:
    doc = httpx.get(f"{services.base_url}/openapi.json").json()
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API credential: `Authorization: Bearer <token>`.",
    }
    upload_op = doc["paths"]["/v1/conversations"]["post"]
    assert upload_op["security"] == [{"bearerAuth": []}]
    assert set(upload_op["requestBody"]["content"]) == {
        "multipart/form-data",
        "application/octet-stream",
    }
    assert set(doc["paths"]["/v1/compaction/upload"]["post"]["requestBody"]["content"]) == {
        "multipart/form-data",
        "application/octet-stream",
    }
    for status in ("400", "401", "409", "413", "415", "422", "429", "503"):
        schema = upload_op["responses"][status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorBody"}
    assert "security" not in doc["paths"]["/health"]["get"]


async def test_error_class_is_matched_literally_and_dates_are_dates(
    services: Any, tokens: dict[str, str], sessions: Any
) -> None:
    marker = uuid.uuid4().hex[:8]
    await dead_letter(sessions, conversation_id=None, error_class=f"x.Value{marker}Error")
    url, admin = f"{services.base_url}/v1/ops/dlq", auth(tokens["admin"])
    found = httpx.get(url, params={"error_class": f"Value{marker}Error"}, headers=admin).json()
    assert found["count"] == 1
    wildcard = httpx.get(url, params={"error_class": f"Value{marker}%"}, headers=admin).json()
    underscore = httpx.get(url, params={"error_class": f"_alue{marker}Error"}, headers=admin)
    assert wildcard["count"] == 0 and underscore.json()["count"] == 0
    number = httpx.get(url, params={"since": "1700000000"}, headers=admin)
    assert number.status_code == 422 and code(number) == "invalid_request"
    day = httpx.get(url, params={"since": "2020-01-01", "until": "2999-01-01"}, headers=admin)
    assert day.status_code == 200 and day.json()["count"] >= 1
