"""An idempotent producer that recovers from a sequence gap instead of failing forever.

aiokafka (0.14) numbers each partition's batches when it drains them for sending. While a
partition has no leader (the broker restarting), a batch that waits longer than the request
timeout is failed *after* it took its sequence number, without ever being sent. From then on
every batch for that partition carries a sequence the broker has not seen the predecessor
of, and is refused with ``OutOfOrderSequenceNumber``: not retriable, so each publish of
the process to that partition fails, forever (aio-libs/aiokafka#1017). The fault suite's
Kafka restart left ingest's outbox relay looping on it.

The Java producer resets its idempotence state in that case; aiokafka has no such path, so
:class:`ProducerRecovery` does it: a publish refused with ``OutOfOrderSequenceNumber``
makes the producer drop its producer id and sequence numbers; its sender asks the broker
for a fresh id before the next batch, and numbering starts again at zero. The refused
publish still fails (the caller retries it, as for any publish failure); duplicate
protection is lost only for that retry, which the stages' idempotency absorbs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import OutOfOrderSequenceNumber
from aiokafka.producer.transaction_manager import (
    NO_PRODUCER_EPOCH,
    NO_PRODUCER_ID,
    PidAndEpoch,
)
from faststream import BaseMiddleware
from faststream.kafka import KafkaBroker

log = logging.getLogger(__name__)


def producer_id(producer: AIOKafkaProducer | None) -> int | None:
    """The idempotent producer's current id (None: not idempotent, or not started)."""
    txn = getattr(producer, "_txn_manager", None)
    if txn is None or txn.transactional_id is not None:
        return None
    pid: int = txn.producer_id
    return pid


def restart_idempotence(producer: AIOKafkaProducer, refused_pid: int | None) -> bool:
    """Drop the producer id and sequence numbers, unless a concurrent refusal already did
    (the id is no longer the one the refused publish ran under); True if this call did."""
    txn = getattr(producer, "_txn_manager", None)
    if txn is None or txn.transactional_id is not None:
        return False
    if refused_pid is None or txn.producer_id != refused_pid or refused_pid == NO_PRODUCER_ID:
        return False
    txn._pid_and_epoch = PidAndEpoch(NO_PRODUCER_ID, NO_PRODUCER_EPOCH)
    txn._pid_waiter = asyncio.get_running_loop().create_future()
    txn._sequence_numbers.clear()
    return True


def _aiokafka_producer(broker: KafkaBroker) -> AIOKafkaProducer | None:
    state = getattr(broker.config.producer, "_producer", None)
    return getattr(state, "producer", None) if state else None


def install(broker: KafkaBroker) -> None:
    """Make every publish of ``broker`` (stages, outbox, relay) recover from a gap."""

    class ProducerRecovery(BaseMiddleware):
        async def publish_scope(self, call_next: Callable[[Any], Awaitable[Any]], cmd: Any) -> Any:
            producer = _aiokafka_producer(broker)
            pid = producer_id(producer)
            try:
                return await call_next(cmd)
            except OutOfOrderSequenceNumber:
                if producer is not None and restart_idempotence(producer, pid):
                    log.warning(
                        "producer %s was refused for a sequence gap; starting again with a "
                        "new producer id (the refused publish is retried by its caller)",
                        pid,
                    )
                raise

    broker.add_middleware(ProducerRecovery)
