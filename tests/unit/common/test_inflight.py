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


def test_local_models_default_to_what_the_cores_allow_unless_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from callstream_analyzer.settings import AnalyzerSettings
    from callstream_transcriber.settings import TranscriberSettings

    monkeypatch.delenv("CALLSTREAM_STAGE_CONCURRENCY", raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert TranscriberSettings(transcriber_cpu_threads=2).stage_concurrency == 4
    assert TranscriberSettings(transcriber_provider="openai").stage_concurrency == 8
    assert TranscriberSettings(stage_concurrency=3).stage_concurrency == 3
    assert AnalyzerSettings().stage_concurrency == 8
    monkeypatch.setenv("CALLSTREAM_STAGE_CONCURRENCY", "2")
    assert TranscriberSettings().stage_concurrency == 2


def test_a_redelivered_offset_never_moves_the_commit_backwards() -> None:
    p = PartitionOffsets()
    for offset in (5, 6):
        p.start(offset)
    p.finish(5)
    p.finish(6)
    p.mark_committed(p.committable() or 0)
    p.start(5)  # the same record again (a rebalance the stage was not told about)
    p.finish(5)
    assert p.committable() is None
