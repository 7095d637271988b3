"""The metrics benchmark at a tiny size (not a measurement: it proves both sides deliver
every record through the stage and that a scrape renders the stage series)."""

from __future__ import annotations

from bench.metrics import measure, time_scrapes


async def test_both_sides_consume_every_record() -> None:
    samples = await measure(200)
    assert {k: len(v) for k, v in samples.items()} == {"with metrics": 200, "baseline": 200}
    assert all(s > 0 for v in samples.values() for s in v)


def test_a_scrape_renders_the_stage_series() -> None:
    durations, size = time_scrapes(2)
    assert len(durations) == 2 and size > 10_000
