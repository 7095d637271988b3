"""The transactional outbox: write an event with the row it announces, publish it right
after the commit, and let a relay publish whatever a crash or an outage left behind."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from faststream.kafka import KafkaBroker
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callstream_common.db.models import OutboxEvent

log = logging.getLogger(__name__)


def stage_event(
    session: AsyncSession,
    topic: str,
    payload: dict[str, Any],
    key: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> OutboxEvent:
    """Add the event to the caller's transaction (committed with the row or not at all)."""
    event = OutboxEvent(topic=topic, key=key, payload=payload, headers=headers or {})
    session.add(event)
    return event


async def publish_staged(
    sessions: async_sessionmaker[AsyncSession],
    broker: KafkaBroker,
    event: OutboxEvent,
    timeout_seconds: float,
) -> bool:
    """Publish a committed outbox event and remove it; False (left for the relay) if Kafka
    did not acknowledge in time."""
    return await publish_many(sessions, broker, [event], timeout_seconds) == 1


async def publish_many(
    sessions: async_sessionmaker[AsyncSession],
    broker: KafkaBroker,
    events: list[OutboxEvent],
    timeout_seconds: float,
) -> int:
    """Publish committed outbox events at once (the producer batches them) and remove the
    acknowledged ones in one statement; the others are left for the relay."""

    async def publish(event: OutboxEvent) -> uuid.UUID | None:
        try:
            await asyncio.wait_for(
                broker.publish(event.payload, event.topic, key=event.key, headers=event.headers),
                timeout_seconds,
            )
        except Exception as exc:
            log.warning("event %s left for the outbox relay: %s", event.id, type(exc).__name__)
            return None
        return event.id

    published = [i for i in await asyncio.gather(*(publish(e) for e in events)) if i]
    if published:
        await _delete(sessions, published)
    return len(published)


class BackgroundPublisher:
    """Publishes committed outbox events off the caller's path: an HTTP answer need not
    wait for Kafka, since the committed row is the promise and the relay its fallback.
    Whatever accumulated while one round was publishing goes out together in the next."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        broker: KafkaBroker,
        timeout_seconds: float,
    ) -> None:
        self._sessions = sessions
        self._broker = broker
        self._timeout = timeout_seconds
        self._pending: list[OutboxEvent] = []
        self._worker: asyncio.Task[None] | None = None

    def publish(self, event: OutboxEvent) -> None:
        self._pending.append(event)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._run(), name="outbox-background")

    async def _run(self) -> None:
        while self._pending:
            events, self._pending = self._pending, []
            await publish_many(self._sessions, self._broker, events, self._timeout)

    async def finish(self, grace_seconds: float = 10.0) -> None:
        """Shutdown: let the pending publishes finish (the relay covers any that do not)."""
        if self._worker is not None and not self._worker.done():
            await asyncio.wait([self._worker], timeout=grace_seconds)


async def _delete(sessions: async_sessionmaker[AsyncSession], event_ids: list[uuid.UUID]) -> None:
    try:
        async with sessions() as session, session.begin():
            await session.execute(
                text("DELETE FROM event_outbox WHERE id = ANY(:ids)"), {"ids": event_ids}
            )
    except Exception as exc:  # the relay will publish them again: consumers are idempotent
        log.warning("%d outbox row(s) not deleted: %s", len(event_ids), type(exc).__name__)


async def relay_once(
    sessions: async_sessionmaker[AsyncSession],
    broker: KafkaBroker,
    older_than_seconds: float,
    batch: int = 100,
) -> int:
    """Publish outbox events older than the threshold (rows locked, SKIP LOCKED, so
    several replicas share the work); returns how many were published."""
    published = 0
    async with sessions() as session, session.begin():
        rows = (
            await session.execute(
                text(
                    "SELECT id, topic, key, payload, headers FROM event_outbox "
                    "WHERE created_at < now() - make_interval(secs => :age) "
                    "ORDER BY created_at LIMIT :n FOR UPDATE SKIP LOCKED"
                ),
                {"age": older_than_seconds, "n": batch},
            )
        ).all()
        for row in rows:
            await broker.publish(row.payload, row.topic, key=row.key, headers=row.headers)
            await session.execute(text("DELETE FROM event_outbox WHERE id = :id"), {"id": row.id})
            published += 1
    if published:
        log.info("outbox relay published %d event(s)", published)
    return published


async def run_relay(
    sessions: async_sessionmaker[AsyncSession],
    broker: KafkaBroker,
    older_than_seconds: float,
    interval_seconds: float,
) -> None:
    while True:
        try:
            await relay_once(sessions, broker, older_than_seconds)
        except Exception as exc:  # an outage: try again next round
            log.warning("outbox relay round failed: %s: %s", type(exc).__name__, exc)
        await asyncio.sleep(interval_seconds)
