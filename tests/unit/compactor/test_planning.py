"""Which files of a partition are merged into how many outputs (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from callstream_compactor.planning import FileInfo, output_slices, plan_partition

DAY = date(2026, 11, 20)
T0 = datetime(2026, 11, 20, tzinfo=UTC)
MB = 1024 * 1024


def files(n: int, size: int, start: int = 0) -> list[FileInfo]:
    return [
        FileInfo(f"k{start + i:04d}", 10, size, T0 + timedelta(minutes=start + i)) for i in range(n)
    ]


def test_many_small_files_merge_into_the_fewest_target_sized_outputs() -> None:
    plan = plan_partition(DAY, files(500, MB // 2), target_bytes=128 * MB)
    assert plan is not None
    assert len(plan.inputs) == 500
    assert plan.output_count == 2  # 250 MB of input, 128 MB target
    assert plan.files_after == 2
    assert plan.input_rows == 5000


def test_inputs_are_ordered_by_time() -> None:
    shuffled = list(reversed(files(5, 100)))
    plan = plan_partition(DAY, shuffled, target_bytes=10 * MB)
    assert plan is not None
    assert [f.key for f in plan.inputs] == [f"k{i:04d}" for i in range(5)]


def test_large_files_are_kept_and_only_small_ones_merged() -> None:
    big = [FileInfo("big", 1000, 100 * MB, T0)]
    plan = plan_partition(DAY, big + files(3, MB), target_bytes=128 * MB)
    assert plan is not None
    assert [f.key for f in plan.kept] == ["big"]
    assert "big" not in {f.key for f in plan.inputs}
    assert plan.files_after == 2


@pytest.mark.parametrize(
    "partition_files",
    [[], files(1, MB), [FileInfo("a", 1, 100 * MB), FileInfo("b", 1, 100 * MB)]],
)
def test_nothing_to_do_when_merging_would_not_reduce_the_file_count(
    partition_files: list[FileInfo],
) -> None:
    assert plan_partition(DAY, partition_files, target_bytes=128 * MB) is None


def test_an_already_compacted_partition_is_a_noop() -> None:
    first = plan_partition(DAY, files(100, MB), target_bytes=128 * MB)
    assert first is not None
    compacted = [FileInfo("out", first.input_rows, first.input_bytes, T0)]
    assert plan_partition(DAY, compacted, target_bytes=128 * MB) is None


def test_target_must_be_positive() -> None:
    with pytest.raises(ValueError):
        plan_partition(DAY, files(2, 1), target_bytes=0)


@pytest.mark.parametrize(("rows", "outputs"), [(10, 3), (9, 3), (0, 2), (2, 5), (100_000, 7)])
def test_output_slices_cover_every_row_once(rows: int, outputs: int) -> None:
    slices = output_slices(rows, outputs)
    assert sum(length for _, length in slices) == rows
    offset = 0
    for start, length in slices:
        assert start == offset
        offset += length
    lengths = [length for _, length in slices]
    assert max(lengths) - min(lengths) <= 1
    assert len(slices) <= max(1, outputs)


@pytest.mark.parametrize(
    ("estimated", "planned", "expected"),
    [(10 * MB, 2, 1), (200 * MB, 2, 2), (900 * MB, 3, 3), (0, 4, 1)],
)
def test_output_count_follows_the_merged_size_but_never_exceeds_the_plan(
    estimated: int, planned: int, expected: int
) -> None:
    from callstream_compactor.planning import output_count_for

    assert output_count_for(estimated, 128 * MB, planned) == expected
