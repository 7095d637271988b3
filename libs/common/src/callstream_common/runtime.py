"""Wiring every service repeats: logging, tracing, broker, database, object store."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from faststream import FastStream
from faststream.kafka import KafkaBroker
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from callstream_common.conversations.sql import SqlUnitOfWork
from callstream_common.conversations.unit_of_work import UnitOfWork
from callstream_common.db.engine import make_engine, make_sessionmaker
from callstream_common.db.models import ConversationStatus
from callstream_common.kafka import make_broker
from callstream_common.logs import setup_logging
from callstream_common.objectstore import ObjectStore
from callstream_common.observability import ServiceObservability
from callstream_common.settings import CommonSettings
from callstream_common.stage import DeadLetter, Stage
from callstream_common.telemetry import setup_telemetry

EventT = TypeVar("EventT", bound=BaseModel)

_EVENT_NAMESPACE = uuid.UUID("5b0c6d1e-7d1f-4c8e-9a39-1c0f4f7f0c11")


def event_id_for(conversation_id: uuid.UUID, event_type: str) -> uuid.UUID:
    """A stage's output event id is derived, not random: re-publishing after a crash
    yields the same id, so a re-emitted event is recognisably the same event."""
    return uuid.uuid5(_EVENT_NAMESPACE, f"{conversation_id}:{event_type}")


@dataclass
class Runtime:
    settings: CommonSettings
    broker: KafkaBroker
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    store: ObjectStore
    stages: list[Stage[Any]] = field(default_factory=list)

    def unit_of_work(self) -> UnitOfWork:
        """A new unit of work (one transaction; events published after it commits)."""
        return SqlUnitOfWork(self.sessions, self.broker)

    def consume(
        self,
        topic: str,
        model: type[EventT],
        handler: Callable[[EventT], Awaitable[None]],
        on_dead_letter: Callable[[DeadLetter[EventT]], Awaitable[None]] | None = None,
    ) -> None:
        """Run ``handler`` as this service's stage on ``topic`` (lanes, retries, DLQ)."""
        stage = Stage(
            broker=self.broker,
            service=self.settings.service_name,
            group_id=self.settings.consumer_group or self.settings.service_name,
            topic=topic,
            model=model,
            policy=self.settings.retry_policy(),
            on_dead_letter=on_dead_letter,
            concurrency=self.settings.stage_concurrency,
            max_poll_interval_ms=self.settings.kafka_max_poll_interval_ms,
            revoke_grace_seconds=self.settings.stage_revoke_grace_seconds,
        )
        stage.consume(handler)
        self.stages.append(stage)

    async def startup(self) -> None:
        """Size asyncio's default thread pool for the records this process keeps in flight.

        Blocking clients (the object store, remote speech-to-text and LLM providers) run on
        it through ``asyncio.to_thread``; its default of cores + 4 threads would cap a
        network-bound stage's overlap below its configured concurrency."""
        lanes = sum(len(stage.lanes) for stage in self.stages) or 1
        workers = min(64, max(8, self.settings.stage_concurrency * lanes + 4))
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="blocking")
        )

    async def shutdown(self) -> None:
        """Graceful stop: records in flight finish and are committed, then the pool closes."""
        for stage in self.stages:
            await stage.drain()
        await self.engine.dispose()

    def application(
        self,
        after_startup: Sequence[Callable[[], Awaitable[None]]] = (),
        on_shutdown: Sequence[Callable[[], Awaitable[None]]] = (),
        on_startup: Sequence[Callable[[], Awaitable[None]]] = (),
    ) -> FastStream:
        """The service's FastStream app, with its ``/metrics`` port and consumer-lag reader
        running while the broker does."""
        observability = ServiceObservability(self.settings, self.broker)
        return FastStream(
            self.broker,
            on_startup=[self.startup, *on_startup],
            after_startup=[observability.start, *after_startup],
            on_shutdown=[observability.stop, *on_shutdown],
        )

    def fail_conversation_on_dead_letter(
        self, stage: str
    ) -> Callable[[DeadLetter[Any]], Awaitable[None]]:
        return fail_conversation_on_dead_letter(self.unit_of_work, stage)


def fail_conversation_on_dead_letter(
    unit_of_work: Callable[[], UnitOfWork], stage: str
) -> Callable[[DeadLetter[Any]], Awaitable[None]]:
    """The usual dead-letter reaction of a call's stage: the call ends ``failed`` with
    the reason, so the user sees why instead of a call stuck in ``processing``."""

    async def on_dead_letter(dead: DeadLetter[Any]) -> None:
        conversation_id = getattr(dead.event, "conversation_id", None)
        if conversation_id is None:
            return
        async with unit_of_work() as uow:
            await uow.conversations.move(
                conversation_id,
                ConversationStatus.FAILED,
                stage=stage,
                reason=f"{dead.reason}: {dead.error_class}: {dead.error_message}",
            )
            await uow.commit()

    return on_dead_letter


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
