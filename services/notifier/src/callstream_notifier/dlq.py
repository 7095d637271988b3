"""The DLQ recorder: every dead letter becomes a row in ``dlq_entries``, and a DLQ that
grows faster than a threshold raises an alert.

It always commits: a dead letter is never re-processed, so the recorder cannot loop. A
database outage is ridden out with a few in-call retries; after that the record is logged
(it stays in the DLQ topic, replayable by offset) and the offset is committed anyway.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tenacity import AsyncRetrying, stop_after_attempt, wait_exponential

from callstream_common import topics
from callstream_common.dlq import record_entry
from callstream_common.dlq_headers import str_headers
from callstream_common.stage import raw_decoder

log = logging.getLogger(__name__)


@dataclass
class GrowthMonitor:
    """Pure: decides when the DLQ grew by more than ``threshold`` entries in ``window``
    seconds, at most one alert per ``cooldown``."""

    threshold: int
    window: float
    cooldown: float
    _times: deque[float] = field(default_factory=deque)
    _last_alert: float | None = None

    def observe(self, now: float) -> int | None:
        """Record one entry; the count in the window when an alert is due, else None."""
        self._times.append(now)
        while self._times and self._times[0] < now - self.window:
            self._times.popleft()
        if len(self._times) <= self.threshold:
            return None
        if self._last_alert is not None and now - self._last_alert < self.cooldown:
            return None
        self._last_alert = now
        return len(self._times)


@dataclass
class DlqRecorder:
    sessions: async_sessionmaker[AsyncSession]
    monitor: GrowthMonitor
    alert: Callable[[str], Awaitable[None]]
    clock: Callable[[], float] = time.monotonic

    def subscribe(self, broker: KafkaBroker, group_id: str) -> None:
        @broker.subscriber(
            topics.DLQ,
            group_id=group_id,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.ACK,
            decoder=raw_decoder,
            title="dlq-recorder",
        )
        async def on_dead_letter(body: bytes, message: KafkaMessage) -> None:
            await self.record(body, message)

    async def record(self, body: bytes, message: KafkaMessage) -> None:
        raw = message.raw_message
        headers = str_headers(message.headers)
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(5), wait=wait_exponential(0.2, max=3), reraise=True
            ):
                with attempt:
                    async with self.sessions() as session, session.begin():
                        new = await record_entry(
                            session,
                            partition=raw.partition,  # type: ignore[union-attr]
                            offset=raw.offset,  # type: ignore[union-attr]
                            key=raw.key,  # type: ignore[union-attr]
                            value=body,
                            headers=headers,
                        )
        except Exception:
            log.exception(
                "could not record DLQ entry at partition %s offset %s; it stays in the topic",
                raw.partition,  # type: ignore[union-attr]
                raw.offset,  # type: ignore[union-attr]
            )
            return
        if not new:
            return
        log.warning(
            "dead letter from %s: %s",
            headers.get("x-callstream-service", "?"),
            headers.get("x-callstream-exception-message", "?"),
        )
        count = self.monitor.observe(self.clock())
        if count is not None:
            await self.alert(
                f"The dead-letter queue grew by {count} entries in the last "
                f"{self.monitor.window:.0f} s (threshold {self.monitor.threshold})."
            )
