"""A raw upload with a ``Content-Length`` goes to the object store as it arrives (one PUT
streamed from the request): what is stored is exactly what was sent, and an upload that
breaks off or runs over the limit midway, or whose PUT the store drops midway, when part
of it already went to the store, answers its error and leaves no row, no event and no
object behind."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import text

from tests.support.cutting_proxy import CuttingProxy

pytestmark = pytest.mark.stack

META = {"opportunity_name": "Streamed renewal", "rep_id": "rep-a"}
ROW = text("SELECT object_key, size_bytes, sha256 FROM conversations WHERE id = :id")
LIMIT = 20 * 1024 * 1024
"""The test stack's ``CALLSTREAM_MAX_UPLOAD_BYTES``."""


@pytest.fixture(scope="module")
def wav(sample_wav: Any) -> bytes:
    return bytes(sample_wav.read_bytes())


def store(common_settings: Any) -> Any:
    from callstream_common.objectstore import ObjectStore

    return ObjectStore(common_settings)


async def state(common_settings: Any, sessions: Any) -> tuple[int, int, set[str]]:
    """(conversations, outbox rows naming no conversation, objects no conversation names)."""
    keys = set(await asyncio.to_thread(store(common_settings).list_keys, "recordings/"))
    async with sessions() as s:
        named = set((await s.execute(text("SELECT object_key FROM conversations"))).scalars())
        count = (await s.execute(text("SELECT count(*) FROM conversations"))).scalar_one()
        stray_events = (
            await s.execute(
                text(
                    "SELECT count(*) FROM event_outbox e WHERE NOT EXISTS (SELECT 1 FROM "
                    "conversations c WHERE c.id::text = e.payload->>'conversation_id')"
                )
            )
        ).scalar_one()
    return int(count), int(stray_events), keys - named


def wait_for_log(services: Any, since: int, needle: str, seconds: float = 15) -> str:
    log_path = services.process("ingest").log_path
    deadline = time.monotonic() + seconds
    seen = ""
    while time.monotonic() < deadline and needle not in seen:
        time.sleep(0.2)
        with log_path.open("rb") as f:
            f.seek(since)
            seen = f.read().decode("utf-8", "replace")
    return seen


async def test_a_raw_upload_is_stored_byte_for_byte_whether_its_length_is_declared_or_not(
    services: Any, tokens: dict[str, str], sessions: Any, common_settings: Any, wav: bytes
) -> None:
    async def chunked() -> AsyncIterator[bytes]:
        for i in range(0, len(wav), 100_000):
            yield wav[i : i + 100_000]

    async with httpx.AsyncClient(base_url=services.base_url, timeout=60) as client:
        for content in (wav, chunked()):
            r = await client.post(
                "/v1/conversations",
                params=META,
                content=content,
                headers={"Authorization": f"Bearer {tokens['admin']}", "Content-Type": "audio/wav"},
            )
            assert r.status_code == 202, r.text
            async with sessions() as s:
                row = (await s.execute(ROW, {"id": uuid.UUID(r.json()["id"])})).one()
            assert (row.size_bytes, row.sha256) == (len(wav), hashlib.sha256(wav).hexdigest())
            assert await asyncio.to_thread(store(common_settings).get_bytes, row.object_key) == wav


async def test_an_upload_cut_off_midway_leaves_nothing_behind(
    services: Any, tokens: dict[str, str], sessions: Any, common_settings: Any, wav: bytes
) -> None:
    """5 MB declared, 3 MB sent (already streaming into the store), then the client is gone."""
    before = await state(common_settings, sessions)
    since = services.process("ingest").log_path.stat().st_size
    url = urlsplit(services.base_url)
    head = (
        f"POST /v1/conversations?opportunity_name=Cut&rep_id=rep-a HTTP/1.1\r\n"
        f"Host: {url.netloc}\r\nAuthorization: Bearer {tokens['admin']}\r\n"
        f"Content-Type: audio/wav\r\nContent-Length: {5 * 1024 * 1024}\r\n\r\n"
    )
    body = (wav * (3 * 1024 * 1024 // len(wav) + 1))[: 3 * 1024 * 1024]
    with socket.create_connection((url.hostname, url.port)) as sock:
        sock.sendall(head.encode() + body)
        time.sleep(0.5)
    seen = await asyncio.to_thread(wait_for_log, services, since, "client went away")
    assert "client went away" in seen
    assert await state(common_settings, sessions) == before


async def test_an_upload_over_the_limit_midway_is_413_and_leaves_nothing_behind(
    services: Any, tokens: dict[str, str], sessions: Any, common_settings: Any, wav: bytes
) -> None:
    """A declared length just over the limit passes the early check (multipart overhead is
    allowed for); the limit is hit while the bytes already stream into the store."""
    before = await state(common_settings, sessions)
    body = wav[:64] + b"\0" * (LIMIT + 1000 - 64)
    r = httpx.post(
        f"{services.base_url}/v1/conversations",
        params=META,
        content=body,
        headers={"Authorization": f"Bearer {tokens['admin']}", "Content-Type": "audio/wav"},
        timeout=60,
    )
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large", r.text
    assert await state(common_settings, sessions) == before


async def test_metadata_refused_after_the_bytes_went_out_removes_them(
    services: Any, tokens: dict[str, str], sessions: Any, common_settings: Any, wav: bytes
) -> None:
    """A user naming another rep's opportunity by id: known only once the upload is stored
    (the opportunity is looked up with the row), answered 404, and the object removed."""
    before = await state(common_settings, sessions)
    r = httpx.post(
        f"{services.base_url}/v1/conversations",
        params={"opportunity_id": str(uuid.uuid4()), "rep_id": "rep-a"},
        content=wav,
        headers={"Authorization": f"Bearer {tokens['user_a']}", "Content-Type": "audio/wav"},
        timeout=60,
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", r.text
    assert await state(common_settings, sessions) == before


async def test_the_store_dropping_the_put_midway_is_503_and_leaves_nothing_behind(
    services: Any, tokens: dict[str, str], sessions: Any, common_settings: Any, wav: bytes
) -> None:
    """The object store's connection breaks after 1 MB of a 5 MB upload's PUT (the bytes
    already streaming from the request into it): 503 ``dependency_unavailable`` (the
    client may retry), no row, no event, no object. Ingest runs in this process, its
    object store behind a proxy that cuts the connection."""
    from starlette.testclient import TestClient

    from callstream_ingest.app import create_app
    from callstream_ingest.settings import IngestSettings

    host, port = common_settings.s3_endpoint.rsplit(":", 1)
    size = 5 * 1024 * 1024
    body = (wav * (size // len(wav) + 1))[:size]
    before = await state(common_settings, sessions)
    with CuttingProxy((host, int(port)), budget=1024 * 1024).running() as proxy:
        settings = IngestSettings(
            **(common_settings.model_dump() | {"log_json": False, "s3_endpoint": proxy.endpoint})
        )

        def upload() -> Any:
            with TestClient(create_app(settings)) as client:
                return client.post(
                    "/v1/conversations",
                    params=META,
                    content=body,
                    headers={
                        "Authorization": f"Bearer {tokens['admin']}",
                        "Content-Type": "audio/wav",
                    },
                )

        r = await asyncio.to_thread(upload)
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "dependency_unavailable"
    assert r.headers["Retry-After"] == "5"
    assert proxy.cut == 1
    assert await state(common_settings, sessions) == before
