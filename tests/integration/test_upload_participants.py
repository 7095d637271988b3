"""Participants on an upload, over HTTP against the running services: repeated fields (form
or query) are stored and shown with the call and travel in its ``CallUploaded`` (the
transcriber's vocabulary); each kind of bad value is a 422 naming the field with nothing
stored — no row, no object in the store."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import text

from callstream_common import topics

pytestmark = pytest.mark.stack

META = {"opportunity_name": "Participants deal", "rep_id": "rep-a"}


def upload(services: Any, token: str, **kw: Any) -> httpx.Response:
    return httpx.post(
        f"{services.base_url}/v1/conversations",
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
        **kw,
    )


def show(services: Any, accepted: httpx.Response, token: str) -> httpx.Response:
    """The call an upload accepted, as GET /v1/conversations/{id} shows it."""
    assert accepted.status_code == 202, accepted.text
    return httpx.get(
        f"{services.base_url}/v1/conversations/{accepted.json()['id']}",
        headers={"Authorization": f"Bearer {token}"},
    )


async def stored(sessions: Any, common_settings: Any) -> tuple[int, int]:
    """Conversation rows and recordings in the object store: what an upload leaves."""
    from callstream_common.objectstore import ObjectStore

    async with sessions() as s:
        rows = int((await s.execute(text("SELECT count(*) FROM conversations"))).scalar_one())
    store = ObjectStore(common_settings)
    return rows, len(await asyncio.to_thread(store.list_keys, "recordings/"))


async def uploaded_event(endpoints: Any, conversation_id: str) -> dict[str, Any]:
    """The call's ``CallUploaded`` as the transcriber receives it from Kafka."""
    consumer = AIOKafkaConsumer(
        topics.CALLS_UPLOADED,
        bootstrap_servers=endpoints.kafka_bootstrap,
        group_id=f"participants-test-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        async with asyncio.timeout(60):
            async for record in consumer:
                body = json.loads(record.value)
                if body.get("conversation_id") == conversation_id:
                    return dict(body)
    finally:
        await consumer.stop()
    raise AssertionError("no CallUploaded for the call")


async def test_participants_are_stored_shown_and_sent_to_the_transcriber(
    services: Any, tokens: dict[str, str], sample_wav: Any, endpoints: Any
) -> None:
    wav = sample_wav.read_bytes()
    names = ["Dana Whitfield", "  Marco Ruiz ", "dana whitfield", "Smith, John", "Zoë Ångström"]
    r = upload(
        services,
        tokens["user_a"],
        files=[*(("participants", (None, n)) for n in names), ("file", ("a.wav", wav))],
        data=META,
    )
    assert r.status_code == 202, r.text
    want = ["Dana Whitfield", "Marco Ruiz", "Smith, John", "Zoë Ångström"]
    detail = show(services, r, tokens["user_a"])
    assert detail.status_code == 200 and detail.json()["participants"] == want
    event = await uploaded_event(endpoints, r.json()["id"])
    assert event["metadata"]["participants"] == want

    # A raw body takes them as repeated query parameters; none given is an empty list.
    raw = upload(
        services,
        tokens["user_a"],
        content=wav,
        params=[*META.items(), ("participants", "Ann Lee"), ("participants", "Bo")],
    )
    assert raw.status_code == 202, raw.text
    assert show(services, raw, tokens["user_a"]).json()["participants"] == ["Ann Lee", "Bo"]
    plain = upload(services, tokens["user_a"], content=wav, params=META)
    assert show(services, plain, tokens["user_a"]).json()["participants"] == []


@pytest.mark.parametrize(
    ("names", "field"),
    [
        ([f"Person {i}" for i in range(21)], "participants"),
        (["x" * 121], "participants.0"),
        (["Ann", "Bo\r\nX-Injected: yes"], "participants.1"),
        (["Nul\x00byte"], "participants.0"),
        (["Bell\x07"], "participants.0"),
        (["flip\u202egnp.exe"], "participants.0"),
    ],
)
@pytest.mark.parametrize("where", ["before the file", "after the file", "query"])
async def test_bad_participants_are_a_422_naming_the_field_and_store_nothing(
    services: Any,
    tokens: dict[str, str],
    sample_wav: Any,
    sessions: Any,
    common_settings: Any,
    names: list[str],
    field: str,
    where: str,
) -> None:
    wav = sample_wav.read_bytes()
    before = await stored(sessions, common_settings)
    parts = [("participants", (None, n)) for n in names]
    file = ("file", ("a.wav", wav))
    if where == "query":
        params = [*META.items(), *(("participants", n) for n in names)]
        r = upload(services, tokens["admin"], content=wav, params=params)
    elif where == "before the file":
        r = upload(services, tokens["admin"], files=[*parts, file], data=META)
    else:
        r = upload(services, tokens["admin"], files=[file, *parts], data=META)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    if where == "query" and any("\x00" in n for n in names):
        # The edge refuses a NUL byte in any query string before a handler runs.
        code, field = "invalid_request", "query.participants"
    else:
        code = "invalid_metadata"
    assert error["code"] == code and "participants" in error["message"], error
    assert field in [p["field"] for p in error["details"]["problems"]], error
    assert await stored(sessions, common_settings) == before
