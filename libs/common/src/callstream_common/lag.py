"""Consumer lag: how many records each consumer group has yet to commit, per partition.

Read from Kafka itself (the group's committed offsets against the partitions' end
offsets), so it is the same number whichever process asks: each service publishes its own
groups' lag as ``callstream_consumer_lag_messages`` and ``callstream lag`` prints every
group's. A partition the group has never committed counts from its first offset, since
the stages start from the earliest record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker
from faststream.kafka.security import parse_security

from callstream_common import metrics
from callstream_common.kafka import broker_security
from callstream_common.settings import CommonSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    committed: int | None
    """None: the group never committed on this partition."""
    start: int
    end: int

    @property
    def lag(self) -> int:
        return max(0, self.end - (self.committed if self.committed is not None else self.start))


def lag_by_group(rows: Iterable[PartitionLag]) -> dict[str, int]:
    """Total lag of each group (one group per stage), for a one-line-per-stage summary."""
    totals: dict[str, int] = {}
    for row in rows:
        totals[row.group] = totals.get(row.group, 0) + row.lag
    return totals


class LagReader:
    """An admin client and an offsets-only consumer (no group, never commits), kept open
    between reads."""

    def __init__(self, settings: CommonSettings) -> None:
        options = {
            "bootstrap_servers": settings.kafka_bootstrap_servers,
            "request_timeout_ms": 10_000,
            **parse_security(broker_security(settings)),
        }
        self._admin = AIOKafkaAdminClient(client_id="callstream-lag", **options)
        self._offsets = AIOKafkaConsumer(
            client_id="callstream-lag", enable_auto_commit=False, group_id=None, **options
        )
        self._started = False

    async def __aenter__(self) -> LagReader:
        self._started = True
        try:
            await self._admin.start()
            await self._offsets.start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._started:
            self._started = False
            with contextlib.suppress(Exception):
                await self._offsets.stop()
            with contextlib.suppress(Exception):
                await self._admin.close()

    async def groups(self) -> list[str]:
        return sorted(str(g[0]) for g in await self._admin.list_consumer_groups())

    async def read(
        self, groups: Iterable[str], topics_of_group: dict[str, set[str]] | None = None
    ) -> list[PartitionLag]:
        """Lag of every partition of the topics each group consumes: those it committed
        on, plus ``topics_of_group[group]`` (its subscriptions, when the caller knows)."""
        rows: list[PartitionLag] = []
        for group in groups:
            committed = await self._admin.list_consumer_group_offsets(group)
            topic_names = {tp.topic for tp in committed} | (topics_of_group or {}).get(group, set())
            described = await self._admin.describe_topics(sorted(topic_names))
            partitions = [
                TopicPartition(d["topic"], p["partition"])
                for d in described
                if d["error_code"] == 0
                for p in sorted(d["partitions"], key=lambda p: int(p["partition"]))
            ]
            if not partitions:
                continue
            ends = await self._offsets.end_offsets(partitions)
            starts = await self._offsets.beginning_offsets(partitions)
            for tp in partitions:
                done = committed.get(tp)
                offset = done.offset if done is not None and done.offset >= 0 else None
                rows.append(
                    PartitionLag(group, tp.topic, tp.partition, offset, starts[tp], ends[tp])
                )
        return rows


def subscriptions(broker: KafkaBroker) -> dict[str, set[str]]:
    """Each consumer group of a broker's subscribers and the topics it reads."""
    out: dict[str, set[str]] = {}
    for sub in broker.subscribers:
        group = getattr(sub, "group_id", None)
        if group:
            out.setdefault(group, set()).update(getattr(sub, "topic_names", ()))
    return out


def publish(
    rows: Iterable[PartitionLag], previous: set[tuple[str, str, str]]
) -> set[tuple[str, str, str]]:
    """Set the lag gauge from a fresh read, dropping partitions that are gone."""
    seen: set[tuple[str, str, str]] = set()
    for row in rows:
        labels = (row.group, row.topic, str(row.partition))
        metrics.CONSUMER_LAG.labels(*labels).set(row.lag)
        seen.add(labels)
    for labels in previous - seen:
        with contextlib.suppress(KeyError):
            metrics.CONSUMER_LAG.remove(*labels)
    metrics.CONSUMER_LAG_UPDATED.set(time.time())
    return seen


async def monitor(settings: CommonSettings, broker: KafkaBroker, interval: float) -> None:
    """Keep the lag gauge of this service's groups fresh until cancelled; Kafka being away
    only skips a round."""
    groups = subscriptions(broker)
    known: set[tuple[str, str, str]] = set()
    reader: LagReader | None = None
    try:
        while True:
            try:
                if reader is None:
                    reader = await LagReader(settings).__aenter__()
                known = publish(await reader.read(groups, groups), known)
            except Exception as exc:
                log.warning("consumer lag not read: %s: %s", type(exc).__name__, exc)
                if reader is not None:
                    with contextlib.suppress(Exception):
                        await reader.close()
                    reader = None
            await asyncio.sleep(interval)
    finally:
        if reader is not None:
            with contextlib.suppress(Exception):
                await reader.close()
