"""Wiring every service repeats: logging, tracing, broker, database, object store."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from callstream_common.db.engine import make_engine, make_sessionmaker
from callstream_common.kafka import make_broker
from callstream_common.logs import setup_logging
from callstream_common.objectstore import ObjectStore
from callstream_common.settings import CommonSettings
from callstream_common.telemetry import setup_telemetry

_EVENT_NAMESPACE = uuid.UUID("5b0c6d1e-7d1f-4c8e-9a39-1c0f4f7f0c11")


def event_id_for(conversation_id: uuid.UUID, event_type: str) -> uuid.UUID:
    """A stage's output event id is derived, not random: re-publishing after a crash
    yields the same id, so the next stage's ledger recognises the duplicate."""
    return uuid.uuid5(_EVENT_NAMESPACE, f"{conversation_id}:{event_type}")


@dataclass
class Runtime:
    settings: CommonSettings
    broker: KafkaBroker
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    store: ObjectStore


def build_runtime(settings: CommonSettings) -> Runtime:
    setup_logging(settings.service_name, settings.log_level, settings.log_json)
    setup_telemetry(settings.service_name)
    engine = make_engine(settings)
    return Runtime(
        settings=settings,
        broker=make_broker(settings),
        engine=engine,
        sessions=make_sessionmaker(engine),
        store=ObjectStore(settings),
    )
