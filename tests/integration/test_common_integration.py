"""libs/common against the real servers: broker, database, object store."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from callstream_common.contracts import CallUploaded, ConversationMetadata

pytestmark = pytest.mark.stack


def _event() -> CallUploaded:
    return CallUploaded(
        conversation_id=uuid.uuid4(),
        object_key="recordings/t.wav",
        content_type="audio/wav",
        size_bytes=1,
        sha256="b" * 64,
        metadata=ConversationMetadata(opportunity_name="Acme", rep_id="r1"),
    )


async def test_subscriber_receives_a_published_contract_with_its_trace_context(
    common_settings: Any,
) -> None:
    from faststream.kafka import KafkaBroker

    from callstream_common.kafka import make_broker

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    topic = f"it.contract.{uuid.uuid4().hex[:8]}"
    broker: KafkaBroker = make_broker(common_settings)
    # the middleware reads the global provider; give it ours for this test
    from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware

    broker = KafkaBroker(
        common_settings.kafka_bootstrap_servers,
        middlewares=[KafkaTelemetryMiddleware(tracer_provider=provider)],
        acks="all",
        enable_idempotence=True,
    )
    received: asyncio.Future[tuple[CallUploaded, str | None]] = (
        asyncio.get_running_loop().create_future()
    )

    @broker.subscriber(topic, group_id="it-contract", auto_offset_reset="earliest")
    async def handle(event: CallUploaded) -> None:
        ctx = trace.get_current_span().get_span_context()
        if not received.done():
            received.set_result((event, format(ctx.trace_id, "032x") if ctx.is_valid else None))

    sent = _event()
    async with broker:
        await broker.start()
        tracer = provider.get_tracer("test")
        with tracer.start_as_current_span("upload") as parent:
            parent_trace = format(parent.get_span_context().trace_id, "032x")
            await broker.publish(sent.model_dump(mode="json"), topic)
        event, trace_id = await asyncio.wait_for(received, 60)
    assert event == sent
    assert trace_id == parent_trace
    names = {s.name for s in exporter.get_finished_spans()}
    assert any("publish" in n for n in names) and any("process" in n for n in names)


async def test_migrations_apply_to_an_empty_database(endpoints: Any) -> None:
    import asyncpg

    from callstream_common.db.migrate import downgrade, upgrade

    url = endpoints.database_url.get_secret_value()
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    db = f"empty_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{db}"')
    finally:
        await conn.close()
    target = url.rsplit("/", 1)[0] + f"/{db}"
    await asyncio.to_thread(upgrade, target)
    conn = await asyncpg.connect(dsn.rsplit("/", 1)[0] + f"/{db}")
    try:
        tables = {
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")
        }
    finally:
        await conn.close()
    assert {
        "conversations",
        "transcripts",
        "meddic_analyses",
        "notifications",
        "alerts",
        "alert_rules",
        "dlq_entries",
        "api_credentials",
        "reps",
    } <= tables
    await asyncio.to_thread(downgrade, target)


async def _chunks(total: int, size: int) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        n = min(size, total - sent)
        yield os.urandom(n)
        sent += n


async def test_object_round_trips_through_the_store(common_settings: Any, tmp_path: Any) -> None:
    import hashlib

    from callstream_common.objectstore import ObjectStore

    store = ObjectStore(common_settings)
    store.ensure_bucket()
    data = os.urandom(20 * 1024 * 1024 + 123)  # spans several multipart parts

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(data), 256 * 1024):
            yield data[i : i + 256 * 1024]

    key = f"it/{uuid.uuid4()}.bin"
    stored = await store.put_stream(key, chunks())
    assert stored.size == len(data) and stored.sha256 == hashlib.sha256(data).hexdigest()
    path = tmp_path / "back.bin"
    store.download(key, path)
    assert path.read_bytes() == data
    assert store.confirm(key) == len(data)
    store.remove(key)
    assert not store.exists(key)


async def test_confirming_a_missing_object_fails_as_its_download_would(
    common_settings: Any, tmp_path: Any
) -> None:
    from minio.error import S3Error

    from callstream_common.objectstore import ObjectStore

    store = ObjectStore(common_settings)
    key = f"it/{uuid.uuid4()}.wav"
    with pytest.raises(S3Error) as confirmed:
        store.confirm(key)
    with pytest.raises(S3Error) as downloaded:
        store.download(key, tmp_path / "missing.wav")
    assert confirmed.value.code == downloaded.value.code == "NoSuchKey"


async def test_a_pooled_connection_the_server_closed_is_replaced_at_checkout(
    common_settings: Any,
) -> None:
    """What a PostgreSQL restart does to a pool, without restarting it: the server ends
    the pooled connection's backend; the next transaction gets a new connection instead
    of failing on the dead one (and no ping was needed to find out)."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from callstream_common.db.engine import make_engine, make_sessionmaker

    engine = make_engine(common_settings.model_copy(update={"database_pool_size": 1}))
    killer = create_async_engine(common_settings.database_url.get_secret_value())
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as session:
            first = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        async with killer.begin() as other:
            await other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": first})
        await asyncio.sleep(0.5)
        async with sessions() as session:
            second = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert second != first
    finally:
        await engine.dispose()
        await killer.dispose()


async def test_a_failed_stream_leaves_no_object(common_settings: Any) -> None:
    from callstream_common.objectstore import ObjectStore

    store = ObjectStore(common_settings)

    async def broken() -> AsyncIterator[bytes]:
        yield b"x" * (9 * 1024 * 1024)
        raise RuntimeError("client went away")

    key = f"it/{uuid.uuid4()}.bin"
    with pytest.raises(RuntimeError, match="client went away"):
        await store.put_stream(key, broken())
    assert not store.exists(key)


@pytest.mark.parametrize("size", [3 * 1024 * 1024 + 7, 9 * 1024 * 1024 + 5])
async def test_a_stream_of_known_length_is_one_put_sent_as_it_arrives(
    common_settings: Any, size: int
) -> None:
    """Up to STREAMED_PUT_MAX one PUT streams the bytes; with no length, what fits one part
    is one PUT after all, more a multipart upload (the 20 MB round trip above)."""
    import hashlib

    from callstream_common.objectstore import ObjectStore

    store = ObjectStore(common_settings)
    data = os.urandom(size)

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(data), 64 * 1024):
            yield data[i : i + 64 * 1024]

    for length in (size, None):
        key = f"it/{uuid.uuid4()}.bin"
        stored = await store.put_stream(key, chunks(), length=length)
        assert (stored.size, stored.sha256) == (size, hashlib.sha256(data).hexdigest())
        assert store.get_bytes(key) == data
        store.remove(key)


@pytest.mark.parametrize("declared", [5 * 1024 * 1024, 1024 * 1024])
async def test_a_stream_that_breaks_its_declared_length_leaves_no_object(
    common_settings: Any, declared: int
) -> None:
    from callstream_common.objectstore import ObjectStore, UploadAborted

    store = ObjectStore(common_settings)

    async def two_mb() -> AsyncIterator[bytes]:
        for _ in range(32):
            yield b"x" * 64 * 1024

    key = f"it/{uuid.uuid4()}.bin"
    with pytest.raises(UploadAborted, match="declared"):
        await store.put_stream(key, two_mb(), length=declared)
    assert not store.exists(key)


async def test_a_stream_failing_midway_through_its_put_leaves_no_object(
    common_settings: Any,
) -> None:
    from callstream_common.objectstore import ObjectStore

    store = ObjectStore(common_settings)

    async def broken() -> AsyncIterator[bytes]:
        yield b"x" * (3 * 1024 * 1024)
        await asyncio.sleep(0.2)
        raise RuntimeError("client went away")

    key = f"it/{uuid.uuid4()}.bin"
    with pytest.raises(RuntimeError, match="client went away"):
        await store.put_stream(key, broken(), length=5 * 1024 * 1024)
    assert not store.exists(key)


async def test_outbox_relay_publishes_what_a_crash_left_behind(
    common_settings: Any, sessions: Any
) -> None:
    """A row committed with its event, and the process gone before publishing: the relay
    publishes the event and removes it from the outbox."""
    from aiokafka import AIOKafkaConsumer
    from sqlalchemy import text

    from callstream_common.kafka import make_broker
    from callstream_common.outbox import relay_once, stage_event

    topic = f"it.outbox.{uuid.uuid4().hex[:8]}"
    marker = uuid.uuid4().hex
    async with sessions() as session, session.begin():
        staged = stage_event(session, topic, {"marker": marker}, key=b"k")
    broker = make_broker(common_settings)
    async with broker:
        await broker.start()
        assert await relay_once(sessions, broker, older_than_seconds=3600) == 0
        assert await relay_once(sessions, broker, older_than_seconds=0) >= 1
    async with sessions() as session:
        left = (
            await session.execute(
                text("SELECT count(*) FROM event_outbox WHERE id = :id"), {"id": staged.id}
            )
        ).scalar_one()
    assert left == 0
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=common_settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        group_id=f"t-{uuid.uuid4()}",
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), 30)
    finally:
        await consumer.stop()
    assert marker.encode() in record.value and record.key == b"k"
