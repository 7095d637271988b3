"""Adapters ingest holds for the life of the process, and the operations on them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from faststream.kafka import KafkaBroker
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callstream_common import outbox, topics
from callstream_common.contracts import CallUploaded
from callstream_common.db.models import Conversation
from callstream_common.objectstore import ObjectStore
from callstream_ingest.auth import Authenticator
from callstream_ingest.settings import IngestSettings

CHECK_TIMEOUT_SECONDS = 3.0


@dataclass
class IngestState:
    settings: IngestSettings
    sessions: async_sessionmaker[AsyncSession]
    store: ObjectStore
    broker: KafkaBroker
    auth: Authenticator
    _publishing: set[asyncio.Task[bool]] = field(default_factory=set)

    async def find_by_idempotency_key(self, key: str) -> Conversation | None:
        async with self.sessions() as session:
            return (
                await session.execute(
                    select(Conversation).where(Conversation.idempotency_key == key)  # type: ignore[arg-type]
                )
            ).scalar_one_or_none()

    async def save_and_publish(self, conv: Conversation, event: CallUploaded) -> None:
        """The row and its event in one transaction (outbox); published right after, in
        the background.

        Once the transaction commits the event cannot be lost (the outbox relay publishes
        whatever is left behind), so the caller's 202 does not wait for Kafka's
        acknowledgement and the outbox row's removal: two round trips off every upload.
        """
        async with self.sessions() as session, session.begin():
            session.add(conv)
            staged = outbox.stage_event(
                session,
                topics.lane_for(topics.CALLS_UPLOADED, event.priority),
                event.model_dump(mode="json"),
                key=str(event.conversation_id).encode(),
                headers={"x-callstream-priority": str(event.priority)},
            )
        task = asyncio.create_task(
            outbox.publish_staged(
                self.sessions, self.broker, staged, self.settings.kafka_publish_timeout_seconds
            )
        )
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    async def finish_publishing(self, grace_seconds: float = 10.0) -> None:
        """Shutdown: let the background publishes finish (the relay covers any that do not)."""
        if self._publishing:
            await asyncio.wait(set(self._publishing), timeout=grace_seconds)

    async def check_dependencies(self) -> dict[str, str]:
        async def database() -> None:
            async with self.sessions() as session:
                await session.execute(text("SELECT 1"))

        async def object_store() -> None:
            await asyncio.to_thread(self.store.ping)

        async def kafka() -> None:
            if not await self.broker.ping(timeout=CHECK_TIMEOUT_SECONDS):
                raise ConnectionError("broker did not answer")

        async def run(check: object) -> str:
            try:
                await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)  # type: ignore[operator]
                return "ok"
            except Exception as exc:
                return f"error: {type(exc).__name__}"

        names = ("database", "object_store", "kafka")
        results = await asyncio.gather(run(database), run(object_store), run(kafka))
        return dict(zip(names, results, strict=True))
