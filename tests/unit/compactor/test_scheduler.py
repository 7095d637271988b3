"""When the scheduled compaction fires, with a controllable clock, and what it picks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callstream_compactor.scheduler import DatasetDue, Scheduler, next_fire, pick_datasets
from callstream_compactor.settings import CompactorSettings


class FakeClock:
    """A clock that advances only when the scheduler sleeps."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_default_schedule_is_daily_at_two_utc() -> None:
    cron = CompactorSettings().compaction_schedule_cron
    assert next_fire(cron, at("2026-11-20T01:59:59")) == at("2026-11-20T02:00:00")
    assert next_fire(cron, at("2026-11-20T02:00:00")) == at("2026-11-21T02:00:00")


def test_next_fire_is_computed_in_utc_whatever_the_input_zone() -> None:
    from zoneinfo import ZoneInfo

    paris = datetime(2026, 11, 20, 3, 30, tzinfo=ZoneInfo("Europe/Paris"))  # 02:30 UTC
    assert next_fire("0 2 * * *", paris) == at("2026-11-21T02:00:00")
    with pytest.raises(ValueError):
        next_fire("0 2 * * *", datetime(2026, 11, 20))


def test_an_invalid_cron_expression_is_refused_at_configuration() -> None:
    with pytest.raises(ValueError):
        CompactorSettings(compaction_schedule_cron="every night")
    assert CompactorSettings(compaction_schedule_cron="*/15 * * * *")


async def test_scheduler_sleeps_until_each_slot_and_fires_it() -> None:
    clock = FakeClock(at("2026-11-20T12:00:00"))
    fired: list[datetime] = []

    async def tick(slot: datetime) -> None:
        fired.append(slot)

    scheduler = Scheduler("0 2 * * *", tick, clock=clock, sleep=clock.sleep)
    after = clock()
    for _ in range(3):
        after = await scheduler.run_once(after)
    assert fired == [
        at("2026-11-21T02:00:00"),
        at("2026-11-22T02:00:00"),
        at("2026-11-23T02:00:00"),
    ]
    assert max(clock.slept) <= scheduler.max_sleep_seconds


async def test_a_failing_tick_does_not_stop_the_schedule() -> None:
    clock = FakeClock(at("2026-11-20T12:00:00"))
    calls: list[datetime] = []

    async def tick(slot: datetime) -> None:
        calls.append(slot)
        raise RuntimeError("database down")

    scheduler = Scheduler("0 * * * *", tick, clock=clock, sleep=clock.sleep)
    after = await scheduler.run_once(clock())
    await scheduler.run_once(after)
    assert calls == [at("2026-11-20T13:00:00"), at("2026-11-20T14:00:00")]


async def test_missed_slots_run_once_for_the_latest() -> None:
    clock = FakeClock(at("2026-11-20T12:00:00"))
    fired: list[datetime] = []

    async def sleep_through_three_days(seconds: float) -> None:
        clock.now += timedelta(days=3)

    async def tick(slot: datetime) -> None:
        fired.append(slot)

    scheduler = Scheduler("0 2 * * *", tick, clock=clock, sleep=sleep_through_three_days)
    await scheduler.run_once(clock())
    assert fired == [at("2026-11-23T02:00:00")]


def test_pick_datasets_takes_at_most_n_needing_compaction_oldest_first() -> None:
    d = [
        DatasetDue("fresh", True, at("2026-11-20T10:00:00"), None),
        DatasetDue("clean", False, None, None),
        DatasetDue("old", True, at("2026-11-01T00:00:00"), at("2026-11-01T00:00:00")),
        DatasetDue("middle", True, at("2026-11-10T00:00:00"), None),
        DatasetDue("unknown-since", True, None, None),
    ]
    assert pick_datasets(d, 2) == ["old", "middle"]
    assert pick_datasets(d, 10) == ["old", "middle", "fresh", "unknown-since"]
    assert pick_datasets(d, 0) == []
