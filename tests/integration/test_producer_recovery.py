"""An idempotent producer with a sequence gap, on the real broker.

The gap is made the way aiokafka makes it when the broker restarts: a partition's sequence
number advanced for a batch that was never sent (see :mod:`callstream_common.producer_recovery`).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import OutOfOrderSequenceNumber
from faststream.kafka import KafkaBroker

from callstream_common.kafka import broker_options, make_broker
from tests.integration.test_stage import make_topics

pytestmark = pytest.mark.stack


def skip_a_sequence_number(broker: KafkaBroker, topic: str) -> None:
    """What aiokafka does to a batch that expires while its partition has no leader."""
    producer = broker.config.producer._producer.producer  # type: ignore[attr-defined]
    producer._txn_manager.increment_sequence_number(TopicPartition(topic, 0), 1)


async def values(bootstrap: str, topic: str, count: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        got: list[bytes] = []
        while len(got) < count:
            batch = await consumer.getmany(timeout_ms=10_000)
            if not batch:
                break
            got += [r.value for records in batch.values() for r in records if r.value]
        return got
    finally:
        await consumer.stop()


async def test_without_recovery_a_gap_refuses_every_later_publish(common_settings: Any) -> None:
    """The defect itself (if aiokafka ever fixes it, this fails and the workaround can go)."""
    topic = f"it.seq.{uuid.uuid4().hex[:8]}"
    await make_topics(common_settings.kafka_bootstrap_servers, topic)
    broker = KafkaBroker(**broker_options(common_settings))
    await broker.start()
    try:
        await broker.publish(b"before", topic, partition=0)
        skip_a_sequence_number(broker, topic)
        for _ in range(3):
            with pytest.raises(OutOfOrderSequenceNumber):
                await broker.publish(b"refused", topic, partition=0)
    finally:
        await broker.stop()


async def test_a_gap_costs_one_refused_publish_then_the_producer_starts_again(
    common_settings: Any,
) -> None:
    bootstrap = common_settings.kafka_bootstrap_servers
    topic = f"it.seq.{uuid.uuid4().hex[:8]}"
    await make_topics(bootstrap, topic)
    broker = make_broker(common_settings)
    await broker.start()
    try:
        await broker.publish(b"before", topic, partition=0)
        skip_a_sequence_number(broker, topic)
        with pytest.raises(OutOfOrderSequenceNumber):
            await broker.publish(b"refused", topic, partition=0)
        for i in range(3):
            await broker.publish(f"after{i}".encode(), topic, partition=0)
    finally:
        await broker.stop()
    assert await values(bootstrap, topic, 4) == [b"before", b"after0", b"after1", b"after2"]
