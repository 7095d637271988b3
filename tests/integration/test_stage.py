"""The retry/DLQ mechanics of every stage, on the real broker."""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pydantic import BaseModel

from callstream_common import topics
from callstream_common.dlq_headers import H_ATTEMPT, H_EXC_CLASS, H_ORIGINAL_TOPIC, H_REASON
from callstream_common.kafka import make_broker
from callstream_common.retry import PermanentError, RetryableError, RetryPolicy
from callstream_common.stage import Stage

pytestmark = pytest.mark.stack


class Job(BaseModel):
    schema_version: int = 1
    job_id: str
    not_before: datetime | None = None
    max_attempts: int | None = None


async def make_topics(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(topic, 2, 1), NewTopic(topics.retry_topic_for(topic), 2, 1)]
        )
    finally:
        await admin.close()


async def dlq_records(bootstrap: str, job_id: str, timeout: float = 30) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topics.DLQ,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=f"t-{uuid.uuid4()}",
    )
    await consumer.start()
    found: list[Any] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while not found and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                found += [r for r in records if job_id.encode() in r.value]
    finally:
        await consumer.stop()
    return found


async def run_stage(settings: Any, handler: Any, policy: RetryPolicy) -> tuple[Any, str]:
    topic = f"it.stage.{uuid.uuid4().hex[:8]}"
    await make_topics(settings.kafka_bootstrap_servers, topic)
    broker = make_broker(settings)
    Stage(
        broker=broker,
        service="it",
        group_id=f"it-{topic}",
        topic=topic,
        model=Job,
        policy=policy,
    ).consume(handler)
    await broker.start()
    return broker, topic


async def test_retryable_failure_goes_through_the_retry_topic_then_succeeds(
    common_settings: Any,
) -> None:
    attempts: list[tuple[str, float]] = []
    done = asyncio.Event()

    async def handler(job: Job) -> None:
        attempts.append((job.job_id, asyncio.get_running_loop().time()))
        if len(attempts) < 3:
            raise ConnectionError("database went away")
        done.set()

    broker, topic = await run_stage(common_settings, handler, RetryPolicy(3, 2.0, 10))
    try:
        await broker.publish(Job(job_id="j1").model_dump(mode="json"), topic, key=b"j1")
        await asyncio.wait_for(done.wait(), 60)
    finally:
        await broker.stop()
    gaps = [b[1] - a[1] for a, b in itertools.pairwise(attempts)]
    assert len(attempts) == 3
    assert 1.9 <= gaps[0] < 3.5 and 3.9 <= gaps[1] < 6  # 2^1 s then 2^2 s


async def test_permanent_failure_goes_straight_to_the_dlq_with_its_context(
    common_settings: Any,
) -> None:
    calls = 0

    async def handler(job: Job) -> None:
        nonlocal calls
        calls += 1
        raise PermanentError(f"undecodable audio in {job.job_id}")

    job_id = f"perm-{uuid.uuid4()}"
    broker, topic = await run_stage(common_settings, handler, RetryPolicy(3, 1.0, 10))
    try:
        await broker.publish(Job(job_id=job_id).model_dump(mode="json"), topic, key=b"k")
        records = await dlq_records(common_settings.kafka_bootstrap_servers, job_id)
    finally:
        await broker.stop()
    assert calls == 1 and len(records) == 1
    headers = {k: v.decode() for k, v in records[0].headers}
    assert headers[H_REASON] == "permanent"
    assert headers[H_ORIGINAL_TOPIC] == topic and headers[H_ATTEMPT] == "1"
    assert headers[H_EXC_CLASS].endswith("PermanentError")
    assert records[0].key == b"k" and json.loads(records[0].value)["job_id"] == job_id


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "malformed JSON"),
        (b'{"schema_version": 7, "job_id": "x"}', "unknown schema_version 7"),
        (b'{"schema_version": 1}', "job_id: Field required"),
    ],
)
async def test_poison_messages_are_dead_lettered_with_the_reason(
    common_settings: Any, body: bytes, reason: str
) -> None:
    async def handler(job: Job) -> None:
        raise AssertionError("a poison message must never reach the handler")

    marker = uuid.uuid4().hex
    broker, topic = await run_stage(common_settings, handler, RetryPolicy(3, 1.0, 10))
    try:
        await broker.publish(body, topic, key=marker.encode(), headers={"marker": marker})
        consumer = AIOKafkaConsumer(
            topics.DLQ,
            bootstrap_servers=common_settings.kafka_bootstrap_servers,
            auto_offset_reset="earliest",
            group_id=f"t-{uuid.uuid4()}",
        )
        await consumer.start()
        found = []
        try:
            for _ in range(60):
                batch = await consumer.getmany(timeout_ms=500)
                found += [r for rs in batch.values() for r in rs if r.key == marker.encode()]
                if found:
                    break
        finally:
            await consumer.stop()
    finally:
        await broker.stop()
    assert len(found) == 1
    headers = {k: v.decode() for k, v in found[0].headers}
    assert reason in headers["x-callstream-exception-message"]
    assert found[0].value == body


async def test_exhausted_retries_and_per_message_max_attempts(common_settings: Any) -> None:
    calls: list[str] = []

    async def handler(job: Job) -> None:
        calls.append(job.job_id)
        raise RetryableError("still down")

    job_id = f"exh-{uuid.uuid4()}"
    broker, topic = await run_stage(common_settings, handler, RetryPolicy(5, 0.5, 1))
    try:
        await broker.publish(
            Job(job_id=job_id, max_attempts=2).model_dump(mode="json"), topic, key=b"k"
        )
        records = await dlq_records(common_settings.kafka_bootstrap_servers, job_id)
    finally:
        await broker.stop()
    assert calls == [job_id, job_id]
    headers = {k: v.decode() for k, v in records[0].headers}
    assert headers[H_REASON] == "retries exhausted after 2 attempts"


async def test_delayed_work_waits_without_blocking_other_messages(common_settings: Any) -> None:
    seen: dict[str, float] = {}
    both = asyncio.Event()

    async def handler(job: Job) -> None:
        seen[job.job_id] = asyncio.get_running_loop().time()
        if len(seen) == 2:
            both.set()

    broker, topic = await run_stage(common_settings, handler, RetryPolicy())
    start = asyncio.get_running_loop().time()
    try:
        later = datetime.now(UTC) + timedelta(seconds=3)
        await broker.publish(
            Job(job_id="late", not_before=later).model_dump(mode="json"), topic, key=b"a"
        )
        await broker.publish(Job(job_id="now").model_dump(mode="json"), topic, key=b"a")
        await asyncio.wait_for(both.wait(), 60)
    finally:
        await broker.stop()
    assert seen["now"] < seen["late"]
    assert seen["late"] - start >= 2.9
