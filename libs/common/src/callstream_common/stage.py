"""The consuming side of every stage: decode, run the handler, route failures.

``Stage.consume`` registers two FastStream subscribers in the stage's consumer group:

* the main one on the input topic. It decodes the record into the stage's event contract
  and calls the handler. A failure is classified (:mod:`callstream_common.retry`): a
  retryable one is republished to the stage's retry topic with the attempt count and the
  due time in headers, a permanent or exhausted one to the shared DLQ with its reason.
  Only once that publish is acknowledged is the input offset committed; if even that
  fails (Kafka unreachable) the record is processed again after a backoff. Several
  records are in flight at once (``concurrency``) and the poll loop never waits for a
  handler: see :mod:`callstream_common.inflight`.
* the retry one on ``<topic>.retry``. A record that is not due yet pauses its partition
  and is sought back; the partition resumes at the due time, so the event loop never
  sleeps and other partitions keep flowing. A due record is republished to the input
  topic with its attempt headers.

The headers they carry are the protocol of :mod:`callstream_common.dlq_headers`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar, cast

from aiokafka import ConsumerRecord, TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from pydantic import BaseModel, ValidationError

from callstream_common import metrics, topics
from callstream_common.dlq_headers import (
    H_ATTEMPT,
    H_DUE_AT,
    H_ORIGINAL_TOPIC,
    dead_letter_headers,
    due_at_ms,
    failure_headers,
    str_headers,
    without_trace,
)
from callstream_common.inflight import InFlight
from callstream_common.retry import (
    FailureDecision,
    PermanentError,
    RetryPolicy,
    UnknownSchemaVersion,
    decide,
    is_stale_connection,
)

log = logging.getLogger(__name__)

KNOWN_SCHEMA_VERSIONS = {1}

EventT = TypeVar("EventT", bound=BaseModel)


def decode_event(model: type[EventT], body: bytes) -> EventT:
    """Parse a record value into its contract, naming precisely what is wrong with it."""
    import json

    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PermanentError(f"malformed JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise PermanentError(f"expected a JSON object, got {type(data).__name__}")
    version = data.get("schema_version")
    if version not in KNOWN_SCHEMA_VERSIONS:
        raise UnknownSchemaVersion(
            f"unknown schema_version {version!r} for {model.__name__} "
            f"(known: {sorted(KNOWN_SCHEMA_VERSIONS)})"
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()
        )
        raise PermanentError(f"{model.__name__} failed validation: {problems}") from exc


@dataclass
class DeadLetter(Generic[EventT]):
    """What a stage's ``on_dead_letter`` callback learns about a message it gave up on."""

    event: EventT | None
    reason: str
    error_class: str
    error_message: str


@dataclass
class Stage(Generic[EventT]):
    broker: KafkaBroker
    service: str
    group_id: str
    topic: str
    model: type[EventT]
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    on_dead_letter: Callable[[DeadLetter[EventT]], Awaitable[None]] | None = None
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    concurrency: int = 1
    """Records of one lane in flight at once in this process (see :mod:`.inflight`)."""
    max_poll_interval_ms: int = 300_000
    revoke_grace_seconds: float = 10.0
    lanes: dict[str, InFlight] = field(default_factory=dict)
    _resume_handles: dict[TopicPartition, asyncio.TimerHandle] = field(default_factory=dict)

    def consume(self, handler: Callable[[EventT], Awaitable[None]]) -> None:
        retry_topic = topics.retry_topic_for(self.topic)
        for lane in topics.input_topics(self.topic):
            self._subscribe_lane(lane, handler)

        @self.broker.subscriber(
            retry_topic,
            group_id=self.group_id,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.MANUAL,
            decoder=raw_decoder,
            title=f"{self.service}:{retry_topic}",
        )
        async def retry(body: bytes, message: KafkaMessage) -> None:
            await self._release_when_due(body, message)

    def _subscribe_lane(self, lane: str, handler: Callable[[EventT], Awaitable[None]]) -> None:
        """One subscriber (its own consumer and its own slots) per lane: lanes never wait
        for each other, so the priority lane overtakes a backlog of normal records.

        The subscriber callback only dispatches: the record runs as a task of the lane's
        :class:`InFlight`, which commits offsets itself once effects are done, so the poll
        loop keeps polling however long a handler takes (``max.poll.interval.ms`` measures
        the poll loop, not the handler)."""
        inflight = InFlight(f"{self.service}:{lane}", self.concurrency, self.revoke_grace_seconds)
        self.lanes[lane] = inflight

        @self.broker.subscriber(
            lane,
            group_id=self.group_id,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.MANUAL,
            decoder=raw_decoder,
            listener=inflight,
            max_poll_interval_ms=self.max_poll_interval_ms,
            title=f"{self.service}:{lane}",
        )
        async def main(body: bytes, message: KafkaMessage) -> None:
            record = _record(message)
            inflight.submit(
                message.consumer,
                record.topic,
                record.partition,
                record.offset,
                record.key,
                lambda: self._process(handler, body, message),
            )

    async def drain(self, grace_seconds: float = 30.0) -> None:
        """Let every lane's records in flight finish and commit them (graceful shutdown)."""
        await asyncio.gather(*(lane.drain(grace_seconds) for lane in self.lanes.values()))

    async def _process(
        self, handler: Callable[[EventT], Awaitable[None]], body: bytes, message: KafkaMessage
    ) -> None:
        headers = str_headers(message.headers)
        attempt = int(headers.get(H_ATTEMPT, "0")) + 1
        event: EventT | None = None
        started = time.perf_counter()
        outcome = "ok"
        try:
            event = decode_event(self.model, body)
            not_before = getattr(event, "not_before", None)
            if not_before is not None and not_before > self.clock():
                outcome = "deferred"
                await self._defer(body, message, headers, not_before)
                return
            await self._handle(handler, event)
        except Exception as exc:
            limit = getattr(event, "max_attempts", None) if event is not None else None
            decision = decide(exc, attempt, self.clock(), self.policy, limit)
            log.warning(
                "stage %s failed on attempt %d: %s: %s -> %s",
                self.service,
                attempt,
                type(exc).__name__,
                exc,
                "DLQ" if decision.dead_letter else f"retry at {decision.due_at}",
            )
            outcome = "unrouted"
            await self._route_failure(body, message, headers, exc, decision)
            outcome = "dead_letter" if decision.dead_letter else "retry"
            if decision.dead_letter and self.on_dead_letter is not None:
                await self.on_dead_letter(
                    DeadLetter(event, decision.reason, type(exc).__name__, str(exc))
                )
        finally:
            metrics.STAGE_MESSAGES.labels(self.service, _record(message).topic, outcome).observe(
                time.perf_counter() - started
            )

    async def _handle(self, handler: Callable[[EventT], Awaitable[None]], event: EventT) -> None:
        """Run the handler; once more at once if a pooled database connection turned out
        dead (the pool then holds fresh ones), instead of spending an attempt and the
        retry topic's delay on it. Handlers are idempotent, so a second run is safe."""
        try:
            await handler(event)
        except Exception as exc:
            if not is_stale_connection(exc):
                raise
            log.warning("stage %s: database connection was gone; running again", self.service)
            await handler(event)

    async def _route_failure(
        self,
        body: bytes,
        message: KafkaMessage,
        headers: dict[str, str],
        exc: BaseException,
        decision: FailureDecision,
    ) -> None:
        record = _record(message)
        out = failure_headers(
            headers,
            topic=str(record.topic),
            partition=record.partition,
            offset=record.offset,
            service=self.service,
            group=self.group_id,
            exc=exc,
            attempts=decision.next_attempt - (0 if decision.dead_letter else 1),
            now=self.clock(),
        )
        if decision.dead_letter:
            out = dead_letter_headers(out, exc, decision.reason)
            await self.broker.publish(body, topics.DLQ, key=record.key, headers=out)
            metrics.STAGE_DEAD_LETTERS.labels(
                self.service,
                record.topic,
                metrics.error_class(exc),
                "permanent" if decision.reason == "permanent" else "exhausted",
            ).inc()
        else:
            assert decision.due_at is not None
            out[H_DUE_AT] = due_at_ms(decision.due_at)
            await self.broker.publish(
                body, topics.retry_topic_for(self.topic), key=record.key, headers=out
            )
            metrics.STAGE_RETRIES.labels(self.service, record.topic, metrics.error_class(exc)).inc()

    async def _defer(
        self, body: bytes, message: KafkaMessage, headers: dict[str, str], due: datetime
    ) -> None:
        """Delayed work ("not before"): park it on the retry topic without using an attempt."""
        out = without_trace(headers)
        out[H_DUE_AT] = due_at_ms(due)
        out.setdefault(H_ORIGINAL_TOPIC, str(_record(message).topic))
        await self.broker.publish(
            body,
            topics.retry_topic_for(self.topic),
            key=_record(message).key,
            headers=out,
        )

    async def _release_when_due(self, body: bytes, message: KafkaMessage) -> None:
        headers = str_headers(message.headers)
        due_ms = int(headers.get(H_DUE_AT, "0"))
        now_ms = int(self.clock().timestamp() * 1000)
        record = _record(message)
        consumer: Any = message.consumer
        if due_ms > now_ms:
            tp = TopicPartition(record.topic, record.partition)
            consumer.seek(tp, record.offset)
            consumer.pause(tp)
            loop = asyncio.get_running_loop()
            old = self._resume_handles.pop(tp, None)
            if old is not None:
                old.cancel()
            self._resume_handles[tp] = loop.call_later(
                (due_ms - now_ms) / 1000, self._resume, consumer, tp
            )
            return
        forward = without_trace(headers)
        forward.pop(H_DUE_AT, None)
        origin = headers.get(H_ORIGINAL_TOPIC, self.topic)
        target = origin if origin in topics.input_topics(self.topic) else self.topic
        await self.broker.publish(body, target, key=record.key, headers=forward)
        await message.ack()

    def _resume(self, consumer: Any, tp: TopicPartition) -> None:
        self._resume_handles.pop(tp, None)
        if tp in consumer.assignment():
            consumer.resume(tp)


def _record(message: KafkaMessage) -> ConsumerRecord[bytes, bytes]:
    """The aiokafka record behind a (non-batch) FastStream message."""
    return cast("ConsumerRecord[bytes, bytes]", message.raw_message)


async def raw_decoder(msg: Any) -> bytes:
    """Hand the handler the record's raw bytes so that a poison record reaches our own
    decoding (and the DLQ with its reason) instead of failing inside the framework."""
    return bytes(msg.body)
