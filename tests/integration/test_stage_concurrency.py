"""Records in flight per stage, on the real broker: overlap, order, commits, long handlers."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from callstream_common.kafka import make_broker
from callstream_common.retry import RetryPolicy
from callstream_common.stage import Stage
from tests.integration.test_stage import Job, make_topics

pytestmark = pytest.mark.stack


async def start_stage(
    settings: Any,
    handler: Any,
    concurrency: int,
    group: str | None = None,
    topic: str = "",
    **extra: Any,
) -> tuple[Any, str, str]:
    if not topic:
        topic = f"it.conc.{uuid.uuid4().hex[:8]}"
        await make_topics(settings.kafka_bootstrap_servers, topic)
    group = group or f"it-{topic}"
    broker = make_broker(settings)
    Stage(
        broker=broker,
        service="it",
        group_id=group,
        topic=topic,
        model=Job,
        policy=RetryPolicy(3, 0.5, 2),
        concurrency=concurrency,
        **extra,
    ).consume(handler)
    await broker.start()
    return broker, topic, group


async def committed(bootstrap: str, group: str) -> dict[int, int]:
    """The group's committed offset per partition (absent: nothing committed)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


async def group_state(bootstrap: str, group: str) -> str:
    """The consumer group's state as the coordinator reports it (``Stable`` once joined)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    return str(response.groups[0][2])


async def settled(bootstrap: str, group: str, checks: int = 3) -> None:
    """Wait until the group has stayed ``Stable`` for a few consecutive checks (every
    consumer of the stage has joined), so later rebalances can only come from the test."""
    stable = 0
    for _ in range(60):
        stable = stable + 1 if await group_state(bootstrap, group) == "Stable" else 0
        if stable >= checks:
            return
        await asyncio.sleep(1)
    raise TimeoutError(f"group {group} never settled")


async def wait_until(predicate: Any, timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.2)


async def test_a_record_held_well_past_max_poll_interval_is_processed_once(
    common_settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A handler working 30 s against a configured ``max.poll.interval.ms`` of 10 s (a
    two-hour transcription against the default five minutes): the consumer never leaves
    its group, no rebalance revokes the partition, the offset commits without a
    ``CommitFailedError``, and the record is never delivered again."""
    calls: list[str] = []
    finished = asyncio.Event()

    async def handler(job: Job) -> None:
        calls.append(job.job_id)
        await asyncio.sleep(30)
        finished.set()

    broker, topic, group = await start_stage(
        common_settings,
        handler,
        concurrency=1,
        max_poll_interval_ms=10_000,
    )
    bootstrap = common_settings.kafka_bootstrap_servers
    try:
        await settled(bootstrap, group)
        with caplog.at_level(logging.INFO):
            await broker.publish(Job(job_id="long").model_dump(mode="json"), topic, key=b"call-1")
            await asyncio.wait_for(finished.wait(), 90)

            async def offset_committed() -> bool:
                return sum((await committed(bootstrap, group)).values()) == 1

            await wait_until(offset_committed)
            await asyncio.sleep(20)  # two more poll intervals: a redelivery would show up here
            during = [r.getMessage() for r in caplog.records]
    finally:
        await broker.stop()
    assert calls == ["long"]
    assert sum((await committed(bootstrap, group)).values()) == 1
    assert not [m for m in during if "LeaveGroup" in m], "the consumer left its group"
    assert not [m for m in during if m.startswith("Revoking") and f"topic='{topic}'" in m], (
        "rebalanced"
    )
    assert not [m for m in during if "CommitFailed" in m or "offset commit failed" in m]


async def test_records_overlap_up_to_the_limit_and_all_commit(common_settings: Any) -> None:
    running = 0
    peak = 0
    done: list[str] = []

    async def handler(job: Job) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.5)
        running -= 1
        done.append(job.job_id)

    broker, topic, group = await start_stage(common_settings, handler, concurrency=4)
    try:
        for i in range(16):
            await broker.publish(
                Job(job_id=f"j{i}").model_dump(mode="json"), topic, key=f"k{i}".encode()
            )

        async def all_committed() -> bool:
            return (
                sum((await committed(common_settings.kafka_bootstrap_servers, group)).values())
                == 16
            )

        await wait_until(all_committed)
    finally:
        await broker.stop()
    assert sorted(done) == sorted(f"j{i}" for i in range(16))
    assert 2 <= peak <= 4


async def test_records_of_one_key_never_overlap_and_keep_their_order(common_settings: Any) -> None:
    order: list[int] = []
    overlapping = False
    active = False

    async def handler(job: Job) -> None:
        nonlocal active, overlapping
        overlapping = overlapping or active
        active = True
        await asyncio.sleep(0.2)
        order.append(int(job.job_id))
        active = False

    broker, topic, _ = await start_stage(common_settings, handler, concurrency=8)
    try:
        for i in range(6):
            await broker.publish(
                Job(job_id=str(i)).model_dump(mode="json"), topic, key=b"same-call"
            )

        async def all_done() -> bool:
            return len(order) == 6

        await wait_until(all_done)
    finally:
        await broker.stop()
    assert order == list(range(6))
    assert not overlapping


async def test_offsets_commit_only_past_finished_records_and_replay_the_rest(
    common_settings: Any,
) -> None:
    """Later records finishing first do not move the commit past an unfinished earlier one;
    a process that dies then loses nothing: the next one replays from that record."""
    release = asyncio.Event()
    first_run: list[str] = []

    async def handler(job: Job) -> None:
        first_run.append(job.job_id)
        if job.job_id == "slow":
            await release.wait()

    bootstrap = common_settings.kafka_bootstrap_servers
    broker, topic, group = await start_stage(common_settings, handler, concurrency=4)
    try:
        await broker.publish(
            Job(job_id="slow").model_dump(mode="json"), topic, key=b"a", partition=0
        )
        for i in range(3):
            await broker.publish(
                Job(job_id=f"fast{i}").model_dump(mode="json"),
                topic,
                key=f"b{i}".encode(),
                partition=0,
            )

        async def fast_done() -> bool:
            return len(first_run) == 4

        await wait_until(fast_done)
        await asyncio.sleep(2)
        assert (await committed(bootstrap, group)).get(0) is None
    finally:
        await broker.stop()  # "crash" with the slow record unfinished
        release.set()

    replayed: list[str] = []

    async def second(job: Job) -> None:
        replayed.append(job.job_id)

    broker, _, _ = await start_stage(
        common_settings, second, concurrency=4, group=group, topic=topic
    )
    try:

        async def all_committed() -> bool:
            return (await committed(bootstrap, group)).get(0) == 4

        await wait_until(all_committed)
    finally:
        await broker.stop()
    assert sorted(replayed) == ["fast0", "fast1", "fast2", "slow"]


async def test_a_rebalance_lets_records_in_flight_finish_and_never_runs_them_twice(
    common_settings: Any,
) -> None:
    """A second instance joins while the first is in the middle of two slow records: the
    first finishes them within its revoke grace and commits, so the newcomer (which may now
    own their partitions) does not run them again."""
    runs: list[tuple[str, str]] = []
    started = asyncio.Event()

    def handler_for(instance: str) -> Any:
        async def handler(job: Job) -> None:
            runs.append((instance, job.job_id))
            if len(runs) == 2:
                started.set()
            await asyncio.sleep(5)

        return handler

    bootstrap = common_settings.kafka_bootstrap_servers
    first, topic, group = await start_stage(
        common_settings, handler_for("a"), concurrency=4, revoke_grace_seconds=20
    )
    second = None
    try:
        for partition in (0, 1):
            await first.publish(
                Job(job_id=f"slow{partition}").model_dump(mode="json"),
                topic,
                key=f"k{partition}".encode(),
                partition=partition,
            )
        await asyncio.wait_for(started.wait(), 30)
        second, _, _ = await start_stage(
            common_settings, handler_for("b"), concurrency=4, group=group, topic=topic
        )

        async def both_committed() -> bool:
            return await committed(bootstrap, group) == {0: 1, 1: 1}

        await wait_until(both_committed, timeout=60)
        await asyncio.sleep(3)
    finally:
        if second is not None:
            await second.stop()
        await first.stop()
    assert sorted(runs) == [("a", "slow0"), ("a", "slow1")]


async def test_a_full_pool_survives_members_coming_and_going(common_settings: Any) -> None:
    """Rebalances while the pool is full (its partitions paused): every record is still
    processed once the group settles, and everything commits."""
    done: list[str] = []

    async def handler(job: Job) -> None:
        await asyncio.sleep(1)
        done.append(job.job_id)

    bootstrap = common_settings.kafka_bootstrap_servers
    first, topic, group = await start_stage(
        common_settings, handler, concurrency=2, revoke_grace_seconds=2
    )
    try:
        for i in range(20):
            await first.publish(
                Job(job_id=f"j{i}").model_dump(mode="json"), topic, key=f"k{i}".encode()
            )
        await asyncio.sleep(3)
        for _ in range(2):
            other, _, _ = await start_stage(
                common_settings, handler, concurrency=2, group=group, topic=topic
            )
            await asyncio.sleep(4)
            await other.stop()

        async def all_committed() -> bool:
            return sum((await committed(bootstrap, group)).values()) == 20

        await wait_until(all_committed, timeout=120)
    finally:
        await first.stop()
    assert set(done) == {f"j{i}" for i in range(20)}
