"""Several records in flight per stage consumer, offsets committed only after their effects.

FastStream runs a subscriber's handler inline in its poll loop: one record at a time, and a
handler that takes longer than ``max.poll.interval.ms`` (a two-hour transcription) makes the
consumer leave its group, the commit fail and the record come back. :class:`InFlight` turns
the subscriber callback into a *dispatch*: the record's work becomes an asyncio task and the
callback returns at once, so the poll loop keeps fetching (and the group keeps seeing a live
member) however long the work takes.

What the pipeline promises still holds:

* **At-least-once, commit after effects.** A partition's committed offset only moves past a
  record once it and every earlier record of that partition are done
  (:class:`PartitionOffsets`), so a crash replays whatever was not finished and nothing that
  was.
* **Bounded.** At most ``limit`` records of the consumer run at once; when that many are in
  flight the consumer's partitions are paused (fetching stops, the group membership does
  not) and resumed as slots free up.
* **Per-key order.** Two records with the same key (the same call) never run concurrently:
  the second waits for the first, as it would on a one-at-a-time consumer.
* **Rebalances.** Revoked partitions get ``revoke_grace_seconds`` to finish their records,
  then what is done is committed and the rest is left to the partition's next owner (the
  stages' processed-event ledgers make that replay harmless).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

log = logging.getLogger(__name__)

Work = Callable[[], Awaitable[None]]
COMMIT_TIMEOUT_SECONDS = 30.0


@dataclass
class PartitionOffsets:
    """Which offsets of one partition were started and finished; pure bookkeeping.

    Offsets are started in increasing order (a consumer hands them out that way); they may
    finish in any order. :meth:`committable` is the offset to commit (Kafka's "next record
    to read") once a contiguous prefix is finished, or ``None`` if nothing new is.
    """

    started: deque[int] = field(default_factory=deque)
    finished: set[int] = field(default_factory=set)
    committed: int | None = None
    _ready: int | None = None

    def start(self, offset: int) -> None:
        self.started.append(offset)

    def finish(self, offset: int) -> None:
        self.finished.add(offset)
        while self.started and self.started[0] in self.finished:
            done = self.started.popleft()
            self.finished.discard(done)
            self._ready = done + 1

    def committable(self) -> int | None:
        if self._ready is None or (self.committed is not None and self._ready <= self.committed):
            return None
        return self._ready

    def mark_committed(self, offset: int) -> None:
        if self.committed is None or offset > self.committed:
            self.committed = offset

    @property
    def in_flight(self) -> int:
        return len(self.started)


class InFlight(ConsumerRebalanceListener):
    """The dispatcher of one subscriber's consumer (see the module docstring)."""

    def __init__(self, name: str, limit: int, revoke_grace_seconds: float = 10.0) -> None:
        if limit < 1:
            raise ValueError(f"stage concurrency must be at least 1, got {limit}")
        self.name = name
        self.limit = limit
        self.revoke_grace_seconds = revoke_grace_seconds
        self.consumer: Any = None
        self._slots = asyncio.Semaphore(limit)
        self._partitions: dict[TopicPartition, PartitionOffsets] = {}
        self._tasks: dict[TopicPartition, set[asyncio.Task[None]]] = {}
        self._key_tails: dict[tuple[TopicPartition, bytes], asyncio.Task[None]] = {}
        self._watchdog: asyncio.Task[None] | None = None
        self._commit_lock = asyncio.Lock()
        self._count = 0
        self._stopping = False

    @property
    def in_flight(self) -> int:
        return self._count

    def submit(
        self, consumer: Any, topic: str, partition: int, offset: int, key: Any, work: Work
    ) -> None:
        """Start ``work`` for the record at ``topic/partition/offset`` and return at once."""
        self.consumer = consumer
        tp = TopicPartition(topic, partition)
        progress = self._partitions.setdefault(tp, PartitionOffsets())
        progress.start(offset)
        key_slot = (tp, bytes(key)) if key is not None else None
        previous = self._key_tails.get(key_slot) if key_slot is not None else None
        task = asyncio.create_task(self._run(tp, progress, offset, previous, work))
        self._tasks.setdefault(tp, set()).add(task)
        task.add_done_callback(self._report_crash)
        if key_slot is not None:
            self._key_tails[key_slot] = task
            task.add_done_callback(lambda t: self._forget_key(key_slot, t))
        self._count += 1
        if self._count >= self.limit:
            self._pause_assigned()

    async def _run(
        self,
        tp: TopicPartition,
        progress: PartitionOffsets,
        offset: int,
        previous: asyncio.Task[None] | None,
        work: Work,
    ) -> None:
        try:
            if previous is not None and not previous.done():
                await asyncio.wait([previous])
            async with self._slots:
                await self._until_done(tp, progress, work)
        finally:
            self._count -= 1
            task = asyncio.current_task()
            self._tasks.get(tp, set()).discard(task)
            if self._count < self.limit:
                self._resume_paused()
            if self._partitions.get(tp) is progress:
                progress.finish(offset)
                await self.commit()

    async def _until_done(self, tp: TopicPartition, progress: PartitionOffsets, work: Work) -> None:
        """Run ``work``; if it raises (the stage could not even route the failure: Kafka
        unreachable) try again with backoff while the partition is still ours."""
        delay = 0.5
        while True:
            try:
                await work()
                return
            except Exception:
                if self._partitions.get(tp) is not progress:
                    log.warning(
                        "%s: %s was revoked; leaving the record to its new owner", self.name, tp
                    )
                    return
                log.exception(
                    "%s: processing a record of %s failed; retrying in %.1fs", self.name, tp, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    def _report_crash(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("%s: a record's bookkeeping failed", self.name, exc_info=exc)

    def _forget_key(self, key_slot: tuple[TopicPartition, bytes], task: asyncio.Task[None]) -> None:
        if self._key_tails.get(key_slot) is task:
            del self._key_tails[key_slot]

    async def commit(self, only: set[TopicPartition] | None = None) -> None:
        """Commit every partition's finished prefix; one commit at a time, so they land in
        order, and completions that arrive meanwhile ride on the next one."""
        async with self._commit_lock:
            offsets = {
                tp: nxt
                for tp, progress in self._partitions.items()
                if (only is None or tp in only) and (nxt := progress.committable()) is not None
            }
            if not offsets or not hasattr(self.consumer, "commit"):
                return
            if getattr(self.consumer, "_closed", False):
                log.info("%s: consumer closed; finished records will be replayed", self.name)
                return
            try:
                await asyncio.wait_for(
                    self.consumer.commit(
                        {tp: OffsetAndMetadata(o, "") for tp, o in offsets.items()}
                    ),
                    COMMIT_TIMEOUT_SECONDS,
                )
            except (KafkaError, TimeoutError, OSError) as exc:
                log.warning(
                    "%s: offset commit failed (%s: %s); retried with the next one, replayed "
                    "after a crash",
                    self.name,
                    type(exc).__name__,
                    exc,
                )
                return
            for tp, o in offsets.items():
                if (progress := self._partitions.get(tp)) is not None:
                    progress.mark_committed(o)

    def _flow_control(self) -> bool:
        """An aiokafka consumer; FastStream's in-memory test broker has none to pause."""
        return self.consumer is not None and hasattr(self.consumer, "pause")

    def _pause_assigned(self) -> None:
        """Stop fetching while the pool is full (the consumer stays in its group). Only
        this class pauses its consumer, so the consumer's own paused set is the truth."""
        if not self._flow_control():
            return
        assigned = self.consumer.assignment()
        if assigned:
            self.consumer.pause(*assigned)
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = asyncio.create_task(self._keep_flowing())

    def _resume_paused(self) -> None:
        if not self._flow_control() or self._stopping:
            return
        paused = self.consumer.paused()
        if paused:
            self.consumer.resume(*paused)

    async def _keep_flowing(self) -> None:
        """Safety net: whatever path a rebalance or an outage took, a consumer whose pool
        has room is never left paused for more than a second."""
        while not self._stopping and self.consumer is not None:
            await asyncio.sleep(1.0)
            if self._count < self.limit:
                self._resume_paused()
                if not self.consumer.paused():
                    return

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        running = [t for tp in revoked for t in self._tasks.get(tp, ())]
        if running:
            log.info(
                "%s: waiting up to %.0fs for %d record(s) of revoked partitions",
                self.name,
                self.revoke_grace_seconds,
                len(running),
            )
            await asyncio.wait(running, timeout=self.revoke_grace_seconds)
        await self.commit(only=set(revoked))
        for tp in revoked:
            self._partitions.pop(tp, None)
            self._tasks.pop(tp, None)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        if self._count >= self.limit:
            self._pause_assigned()

    async def drain(self, grace_seconds: float) -> None:
        """Shutdown: stop fetching, let the records in flight finish, commit what is done."""
        self._stopping = True
        self._pause_assigned()
        running = [t for tasks in self._tasks.values() for t in tasks]
        if running:
            await asyncio.wait(running, timeout=grace_seconds)
        await self.commit()
