"""Adapters ingest holds for the life of the process, and the operations on them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from faststream.kafka import KafkaBroker
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callstream_common import topics
from callstream_common.contracts import CallUploaded
from callstream_common.db.models import Conversation
from callstream_common.objectstore import ObjectStore
from callstream_ingest.auth import Authenticator
from callstream_ingest.errors import ApiError
from callstream_ingest.settings import IngestSettings

CHECK_TIMEOUT_SECONDS = 3.0


@dataclass
class IngestState:
    settings: IngestSettings
    sessions: async_sessionmaker[AsyncSession]
    store: ObjectStore
    broker: KafkaBroker
    auth: Authenticator

    async def find_by_idempotency_key(self, key: str) -> Conversation | None:
        async with self.sessions() as session:
            return (
                await session.execute(
                    select(Conversation).where(Conversation.idempotency_key == key)  # type: ignore[arg-type]
                )
            ).scalar_one_or_none()

    async def save_and_publish(self, conv: Conversation, event: CallUploaded) -> None:
        """Commit the row, then publish; if Kafka does not acknowledge, delete the row again.

        Committing first means a consumer can never receive the event before the row is
        visible; the compensating delete means a failed publish leaves nothing behind.
        """
        async with self.sessions() as session, session.begin():
            session.add(conv)
        try:
            await asyncio.wait_for(
                self.broker.publish(
                    event.model_dump(mode="json"),
                    topics.lane_for(topics.CALLS_UPLOADED, event.priority),
                    key=str(event.conversation_id).encode(),
                    headers={"x-callstream-priority": str(event.priority)},
                ),
                self.settings.kafka_publish_timeout_seconds,
            )
        except BaseException as exc:
            async with self.sessions() as session, session.begin():
                await session.execute(
                    text("DELETE FROM conversations WHERE id = :id"), {"id": conv.id}
                )
            if isinstance(exc, Exception) and _is_kafka_failure(exc):
                raise ApiError(
                    503, "kafka_unavailable", "the event bus is unavailable; nothing was stored"
                ) from exc
            raise

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


def _is_kafka_failure(exc: Exception) -> bool:
    return isinstance(exc, TimeoutError | OSError | ConnectionError) or type(
        exc
    ).__module__.startswith("aiokafka")
