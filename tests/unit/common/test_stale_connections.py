"""A pooled database connection that died (PostgreSQL restarted) costs a replacement or an
immediate second run of the record, never an attempt on the retry topic, and never a ping
on every checkout."""

from __future__ import annotations

import time
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import exc

from callstream_common.db import engine
from callstream_common.retry import is_stale_connection
from callstream_common.stage import Stage


class Event(BaseModel):
    n: int = 1


def stale_error() -> exc.DBAPIError:
    error = exc.DBAPIError("SELECT 1", {}, ConnectionError("connection is closed"))
    error.connection_invalidated = True
    return error


def test_an_invalidated_connection_is_stale_even_when_wrapped() -> None:
    assert is_stale_connection(stale_error())
    wrapper = RuntimeError("handler failed")
    wrapper.__cause__ = stale_error()
    assert is_stale_connection(wrapper)
    assert not is_stale_connection(exc.DBAPIError("SELECT 1", {}, ValueError("bad")))
    assert not is_stale_connection(TimeoutError())


def stage() -> Stage[Event]:
    return Stage(broker=None, service="test", group_id="g", topic="t", model=Event)  # type: ignore[arg-type]


async def test_a_record_that_met_a_dead_connection_runs_again_at_once() -> None:
    runs: list[int] = []

    async def handler(event: Event) -> None:
        runs.append(event.n)
        if len(runs) == 1:
            raise stale_error()

    await stage()._handle(handler, Event())
    assert runs == [1, 1]


async def test_only_once_and_only_for_dead_connections() -> None:
    runs: list[int] = []

    async def always_stale(event: Event) -> None:
        runs.append(event.n)
        raise stale_error()

    with pytest.raises(exc.DBAPIError):
        await stage()._handle(always_stale, Event())
    assert len(runs) == 2

    async def failing(event: Event) -> None:
        runs.append(event.n)
        raise TimeoutError("provider")

    runs.clear()
    with pytest.raises(TimeoutError):
        await stage()._handle(failing, Event())
    assert len(runs) == 1


class DriverConnection:
    def __init__(self, closed: bool) -> None:
        self.closed = closed

    def is_closed(self) -> bool:
        return self.closed


class PooledConnection:
    def __init__(self, closed: bool = False, ping_fails: bool = False) -> None:
        self._connection = DriverConnection(closed)
        self.ping_fails = ping_fails
        self.pings = 0

    def ping(self) -> None:
        self.pings += 1
        if self.ping_fails:
            raise OSError("connection reset")


class Record:
    def __init__(self, idle_seconds: float | None) -> None:
        self.info: dict[str, Any] = {}
        if idle_seconds is not None:
            self.info[engine._CHECKED_IN] = time.monotonic() - idle_seconds


def test_a_connection_in_steady_use_is_handed_out_without_a_round_trip() -> None:
    connection = PooledConnection()
    engine._check_on_checkout(connection, Record(idle_seconds=0.5), None)
    engine._check_on_checkout(connection, Record(idle_seconds=None), None)
    assert connection.pings == 0


def test_a_connection_the_server_closed_is_replaced_without_a_round_trip() -> None:
    connection = PooledConnection(closed=True)
    with pytest.raises(exc.DisconnectionError):
        engine._check_on_checkout(connection, Record(idle_seconds=0.5), None)
    assert connection.pings == 0


def test_a_long_idle_connection_is_pinged_and_replaced_if_gone() -> None:
    idle = engine.IDLE_PING_SECONDS + 1
    alive = PooledConnection()
    engine._check_on_checkout(alive, Record(idle), None)
    assert alive.pings == 1
    gone = PooledConnection(ping_fails=True)
    with pytest.raises(exc.DisconnectionError):
        engine._check_on_checkout(gone, Record(idle), None)


def test_checkin_stamps_the_time() -> None:
    record = Record(idle_seconds=None)
    engine._stamp_checkin(PooledConnection(), record)
    assert time.monotonic() - record.info[engine._CHECKED_IN] < 1
