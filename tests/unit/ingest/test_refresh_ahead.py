"""Refresh-ahead's choice of answers: recently read ones that a bump touches, within the
window and the capacity; nothing when switched off."""

from __future__ import annotations

from callstream_common.reads.scope import Scope, ScopeKind
from callstream_ingest.cache.policy import CacheRequest, Entry
from callstream_ingest.cache.refresh import HotEntries


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def request(*scopes: str) -> CacheRequest:
    return CacheRequest(Entry.DASHBOARD, Scope(ScopeKind.ALL), scopes)


def test_a_bump_touches_the_answers_that_depend_on_its_scopes() -> None:
    hot: HotEntries[str] = HotEntries(clock=Clock())
    hot.read("dashboard", request("all:status", "all:members"), "compute dashboard")
    hot.read("team list", request("team:t1:members"), "compute team list")
    touched = hot.touched_by(["all:status", "rep:r1:status"])
    assert [(key, e.compute) for key, e in touched] == [("dashboard", "compute dashboard")]
    assert hot.touched_by(["conv:x"]) == []


def test_answers_not_read_within_the_window_are_forgotten() -> None:
    clock = Clock()
    hot: HotEntries[str] = HotEntries(window_seconds=60, clock=clock)
    hot.read("old", request("all:status"), "old")
    clock.now = 30
    hot.read("recent", request("all:status"), "recent")
    clock.now = 61
    assert [key for key, _ in hot.touched_by(["all:status"])] == ["recent"]
    assert len(hot) == 1


def test_reading_again_keeps_an_answer_and_the_least_recent_goes_beyond_capacity() -> None:
    clock = Clock()
    hot: HotEntries[str] = HotEntries(capacity=2, clock=clock)
    hot.read("a", request("s"), "a")
    hot.read("b", request("s"), "b")
    hot.read("a", request("s"), "a")
    hot.read("c", request("s"), "c")
    assert sorted(key for key, _ in hot.touched_by(["s"])) == ["a", "c"]


def test_a_zero_window_switches_refresh_ahead_off() -> None:
    hot: HotEntries[str] = HotEntries(window_seconds=0)
    hot.read("a", request("s"), "a")
    assert not hot.enabled
    assert hot.touched_by(["s"]) == []
    assert len(hot) == 0
