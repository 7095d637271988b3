"""Which files of a partition to merge, and into how many outputs — pure, no I/O.

A partition's *small* files (below a fraction of the target size) are merged; files
already close to the target are left alone, so compacting twice is a no-op rather than a
rewrite of everything. The merged rows are written sorted by time and cut into
``ceil(total_bytes / target)`` outputs of equal row counts. Input sizes are an upper
bound of the output sizes (one large file compresses at least as well as many small
ones), so outputs do not exceed the target by more than rounding.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class FileInfo:
    key: str
    rows: int
    bytes: int
    min_time: datetime | None = None


@dataclass(frozen=True)
class PartitionPlan:
    partition: date
    inputs: tuple[FileInfo, ...]
    output_count: int
    kept: tuple[FileInfo, ...]

    @property
    def input_rows(self) -> int:
        return sum(f.rows for f in self.inputs)

    @property
    def input_bytes(self) -> int:
        return sum(f.bytes for f in self.inputs)

    @property
    def files_after(self) -> int:
        return len(self.kept) + self.output_count


def is_small(file: FileInfo, target_bytes: int, small_fraction: float) -> bool:
    return file.bytes < target_bytes * small_fraction


def plan_partition(
    partition: date,
    files: Sequence[FileInfo],
    target_bytes: int,
    small_fraction: float = 0.5,
) -> PartitionPlan | None:
    """The merge for one partition, or None when merging would not reduce the file count."""
    if target_bytes <= 0:
        raise ValueError("target_bytes must be positive")
    small = [f for f in files if is_small(f, target_bytes, small_fraction)]
    kept = [f for f in files if not is_small(f, target_bytes, small_fraction)]
    if not small:
        return None
    total = sum(f.bytes for f in small)
    outputs = max(1, math.ceil(total / target_bytes))
    if outputs >= len(small):
        return None
    ordered = sorted(small, key=lambda f: (f.min_time is None, f.min_time or datetime.min, f.key))
    return PartitionPlan(
        partition, tuple(ordered), outputs, tuple(sorted(kept, key=lambda f: f.key))
    )


def output_slices(rows: int, outputs: int) -> list[tuple[int, int]]:
    """(offset, length) of each output: equal row counts, the first ones one row longer."""
    if outputs <= 0:
        raise ValueError("outputs must be positive")
    outputs = max(1, min(outputs, rows)) if rows else 1
    base, extra = divmod(rows, outputs)
    slices: list[tuple[int, int]] = []
    offset = 0
    for i in range(outputs):
        length = base + (1 if i < extra else 0)
        slices.append((offset, length))
        offset += length
    return slices


def small_file_count(files: Sequence[FileInfo], target_bytes: int, small_fraction: float) -> int:
    return sum(1 for f in files if is_small(f, target_bytes, small_fraction))


def output_count_for(estimated_bytes: int, target_bytes: int, planned: int) -> int:
    """Outputs once the merged size is known (estimated from a written sample): merged
    files compress better than the inputs, so this is often fewer than planned — and
    cutting by the real size is what makes a second compaction a no-op."""
    return max(1, min(planned, math.ceil(estimated_bytes / target_bytes)))
