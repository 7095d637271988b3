"""Adapters ingest holds for the life of the process, and the operations on them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from faststream.kafka import KafkaBroker
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callstream_common import outbox, topics
from callstream_common.contracts import CallUploaded
from callstream_common.db.models import Conversation
from callstream_common.objectstore import ObjectStore
from callstream_common.reads import opportunities
from callstream_common.reads.scope import Scope
from callstream_ingest.auth import Authenticator, Principal
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

    async def attach_opportunity(self, conv: Conversation, who: Principal) -> None:
        """An upload naming an opportunity id joins that deal (404 if the caller may not
        see it or it belongs to another rep); otherwise the deal is found or created from
        (rep, name, company) when the call is saved."""
        if conv.opportunity_id is None:
            return
        async with self.sessions() as session:
            found = await opportunities.find_opportunity(
                session,
                Scope.of(who.role.value, who.rep_id, who.team_id),
                conv.opportunity_id,
            )
        if found is None or found.rep_id != conv.rep_id:
            raise ApiError(
                404, "not_found", f"opportunity {conv.opportunity_id} not found for this rep"
            )
        conv.opportunity_name = found.name
        conv.company_name = conv.company_name or found.company_name

    async def save_and_publish(self, conv: Conversation, event: CallUploaded) -> None:
        """The row and its event in one transaction (outbox), then published at once.

        If Kafka does not acknowledge, or this process dies before it does, the outbox
        relay publishes the event later: a committed call always gets its event, and the
        upload is still accepted while Kafka is briefly away.
        """
        async with self.sessions() as session, session.begin():
            if conv.opportunity_id is None:
                conv.opportunity_id = await opportunities.upsert_opportunity(
                    session, conv.rep_id, conv.opportunity_name, conv.company_name
                )
            else:
                await opportunities.touch_opportunity(
                    session, Scope.everything(), conv.opportunity_id
                )
            session.add(conv)
            staged = outbox.stage_event(
                session,
                topics.lane_for(topics.CALLS_UPLOADED, event.priority),
                event.model_dump(mode="json"),
                key=str(event.conversation_id).encode(),
                headers={"x-callstream-priority": str(event.priority)},
            )
        await outbox.publish_staged(
            self.sessions, self.broker, staged, self.settings.kafka_publish_timeout_seconds
        )

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
