"""The offset bookkeeping behind concurrent stages: commit only past a finished prefix."""

from __future__ import annotations

import pytest

from callstream_common.inflight import InFlight, PartitionOffsets


def test_nothing_is_committable_until_the_first_record_finishes() -> None:
    p = PartitionOffsets()
    for offset in (10, 11, 12):
        p.start(offset)
    p.finish(12)
    p.finish(11)
    assert p.committable() is None
    p.finish(10)
    assert p.committable() == 13 and p.in_flight == 0


def test_a_gap_holds_the_commit_at_the_unfinished_record() -> None:
    p = PartitionOffsets()
    for offset in range(5):
        p.start(offset)
    for offset in (0, 1, 3, 4):
        p.finish(offset)
    assert p.committable() == 2
    p.mark_committed(2)
    assert p.committable() is None
    p.finish(2)
    assert p.committable() == 5


def test_a_commit_never_moves_backwards() -> None:
    p = PartitionOffsets()
    p.mark_committed(7)
    p.mark_committed(3)
    assert p.committed == 7


def test_concurrency_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        InFlight("t", 0)
