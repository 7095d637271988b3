"""Adapters ingest holds for the life of the process, and the operations on them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from faststream.kafka import KafkaBroker
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callstream_common.conversations.sql import SqlUnitOfWork
from callstream_common.conversations.unit_of_work import UnitOfWork
from callstream_common.db.models import Conversation
from callstream_common.objectstore import ObjectStore
from callstream_common.outbox import BackgroundPublisher
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
    background: BackgroundPublisher = field(init=False)

    def __post_init__(self) -> None:
        self.background = BackgroundPublisher(
            self.sessions, self.broker, self.settings.kafka_publish_timeout_seconds
        )

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

    def unit_of_work(self) -> UnitOfWork:
        """Durable events (an upload's ``CallUploaded``) are published after the answer:
        once the transaction commits the outbox relay covers a crash, so the 202 waits
        for neither Kafka's acknowledgement nor the outbox row's removal."""
        return SqlUnitOfWork(
            self.sessions,
            self.broker,
            self.settings.kafka_publish_timeout_seconds,
            durable_in_background=self.background,
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
