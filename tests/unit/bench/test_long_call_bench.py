"""The long-call benchmark's projection for more machines: built from the 1-instance run's
own parts (split, per-chunk cost, the rest), not fitted."""

from __future__ import annotations

from bench.long_call import Run, projection


def test_projection_divides_only_the_chunks_among_machines() -> None:
    one = Run("split, 1 instance", 1, True, wall_seconds=60.0, split_seconds=5.0)
    one.chunk_seconds = [10.0, 10.0, 10.0, 10.0]
    assert projection(one, (1, 2, 3, 4, 8)) == [
        (1, 60.0),
        (2, 40.0),
        (3, 40.0),  # ceil(4 / 3) = 2 rounds of chunks
        (4, 30.0),
        (8, 30.0),  # no more than one chunk per machine helps
    ]


def test_no_projection_without_chunk_figures() -> None:
    assert projection(Run("split, 1 instance", 1, True), (1, 2)) == []
