"""A long call split across two transcriber processes, for real: a ~60-s synthesized call
over a 20-s threshold is cut into 30-s chunks, both instances of the group take chunks,
and the call gets one transcript in call order and one ``calls.transcribed``."""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from callstream_common import topics
from tests.support.audio import SALES_CALL, synthesize_dialogue
from tests.support.calls import wait_terminal

pytestmark = [pytest.mark.stack, pytest.mark.e2e]

LONG_CALL_ENV = {
    "CALLSTREAM_TRANSCRIBER_CHUNK_THRESHOLD_SECONDS": "20",
    "CALLSTREAM_TRANSCRIBER_CHUNK_SECONDS": "30",
    "CALLSTREAM_TRANSCRIBER_CPU_THREADS": "1",
}


@pytest.fixture(scope="module")
def two_transcribers(services: Any, stack: Any, fake_slack: Any) -> Iterator[Any]:
    """The services with a short split threshold and a second transcriber in the group;
    the session's services are stopped first and started again at the end."""
    from callstream_cli.services import ServiceSet

    _, settings = stack
    services.down()
    svc = ServiceSet(
        settings=settings,
        ingest_port=services.ingest_port,
        extra_env=tuple((dict(services.extra_env) | LONG_CALL_ENV).items()),
        endpoints=services.endpoints,
        replicas=(("transcriber", 2),),
    )
    try:
        svc.up(timeout=240)
        yield svc
    finally:
        svc.down()
        services.up(timeout=240)


@pytest.fixture(scope="module")
def sales_call(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize_dialogue(SALES_CALL, tmp_path_factory.mktemp("long") / "call.wav")


async def transcribed_events(bootstrap: str, cid: str) -> list[dict[str, Any]]:
    """Every record for the call on calls.transcribed (and its lane), read from the start."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topics.CALLS_TRANSCRIBED,
        topics.priority_topic_for(topics.CALLS_TRANSCRIBED),
        bootstrap_servers=bootstrap,
        group_id=f"e2e-long-call-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=3000)
            if not batch:
                return found
            for records in batch.values():
                for record in records:
                    try:  # other tests' poison records share the topic
                        value = json.loads(record.value or b"{}")
                    except ValueError:
                        continue
                    if isinstance(value, dict) and value.get("conversation_id") == cid:
                        found.append(value)
    finally:
        await consumer.stop()


def stored_chunks(log_path: Path, cid: str) -> list[int]:
    chunks = []
    for line in log_path.read_text(errors="replace").splitlines():
        if cid in line and "chunk stored" in line:
            chunks.append(int(json.loads(line[line.index("{") :])["chunk"]))
    return chunks


async def test_a_long_call_is_transcribed_by_two_instances_into_one_ordered_transcript(
    two_transcribers: Any,
    tokens: dict[str, str],
    sales_call: Path,
    endpoints: Any,
    sessions: Any,
    common_settings: Any,
    fake_slack: Any,
) -> None:
    base = two_transcribers.base_url
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    with sales_call.open("rb") as fh:
        r = httpx.post(
            f"{base}/v1/conversations",
            headers=admin,
            files={"file": ("long-call.wav", fh, "audio/wav")},
            data={"opportunity_name": "Northwind long call", "rep_id": "rep-a"},
            timeout=60,
        )
    assert r.status_code == 202, r.text
    cid = r.json()["id"]
    conv = await asyncio.to_thread(wait_terminal, base, tokens["admin"], cid, 400)
    assert conv["status"] == "completed", conv.get("failure_reason")

    text = conv["transcript"]["text"].lower()
    order = [text.find(p) for p in ("sarah", "financial officer", "questionnaire")]
    assert -1 not in order and order == sorted(order), (order, text)
    segments = conv["transcript"]["segments"]
    starts = [w["start"] for s in segments for w in s["words"]]
    assert starts == sorted(starts)
    assert segments[-1]["end"] <= conv["transcript"]["duration_seconds"] + 0.5

    from sqlalchemy import text as sql

    async with sessions() as s:
        rows = (
            await s.execute(
                sql(
                    "SELECT chunk_index, chunk_count, start_seconds, end_seconds "
                    "FROM transcript_chunks WHERE conversation_id = :c ORDER BY chunk_index"
                ),
                {"c": cid},
            )
        ).all()
        analyses = (
            await s.execute(
                sql("SELECT count(*) FROM meddic_analyses WHERE conversation_id = :c"), {"c": cid}
            )
        ).scalar_one()
    count = rows[0].chunk_count
    assert count >= 2 and [r.chunk_index for r in rows] == list(range(count))
    for before, after in itertools.pairwise(rows):
        assert after.start_seconds == pytest.approx(before.end_seconds, abs=1e-3)
    assert conv["timings"]["transcription"]["chunks"] == count

    first = stored_chunks(two_transcribers.process("transcriber").log_path, cid)
    second = stored_chunks(two_transcribers.process("transcriber-2").log_path, cid)
    assert sorted(first + second) == list(range(count)), (first, second)
    assert first and second, "both instances of the group take chunks"

    events = await transcribed_events(endpoints.kafka_bootstrap, cid)
    assert len(events) == 1, events
    assert analyses == 1
    messages = fake_slack.wait_for_messages(1, needle=cid, timeout=30)
    assert len([m for m in messages if "rotating_light" not in m.text]) == 1

    from callstream_common.objectstore import ObjectStore

    assert ObjectStore(common_settings).list_keys(f"chunks/{cid}/") == []
