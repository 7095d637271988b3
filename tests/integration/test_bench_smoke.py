"""The benchmarks' core functions at a tiny size against the session's stack and services.

Not a measurement: it only proves that each benchmark still runs end to end (uploads are
accepted and timed, the ingest process's memory is read, both Kafka hop variants deliver,
calls flow through the pipeline and through the raw and the durable aiokafka chains). The
full-size runs are ``make bench-ingest``, ``make bench-pipeline`` and ``make bench-kafka``.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import asyncpg
import pytest

from bench.common import Target
from bench.completions import asyncpg_dsn
from bench.ingest import IngestConfig, run_ingest_bench
from bench.kafka_hop import HopConfig, run_kafka_hop
from bench.pipeline import DURABLE_TABLE, PipelineConfig, run_pipeline_bench

pytestmark = [pytest.mark.stack, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def target(services: Any, tokens: dict[str, str], endpoints: Any) -> Target:
    return Target(
        base_url=services.base_url,
        token=tokens["admin"],
        endpoints=endpoints,
        ingest_pid=services.process("ingest").pid(),
    )


async def test_kafka_hop_smoke(endpoints: Any) -> None:
    began = time.monotonic()
    result = await run_kafka_hop(endpoints.kafka_bootstrap, HopConfig.smoke())
    assert result.faststream.n == result.aiokafka.n == HopConfig.smoke().messages
    assert 0 < result.faststream.p50 < 5 and 0 < result.aiokafka.p50 < 5
    assert time.monotonic() - began < 30


async def test_pipeline_smoke(target: Target) -> None:
    """The test services run the real transcriber and analyzer: a 1 s tone is quick for both.
    The durable chain's stages recorded each record in PostgreSQL, and its table is gone."""
    began = time.monotonic()
    config = PipelineConfig.smoke()
    result = await run_pipeline_bench(target, config)
    assert [s.offered for s in result.pipeline] == list(config.rates)
    assert [s.offered for s in result.raw] == list(config.raw_rates)
    assert [s.offered for s in result.durable] == list(config.raw_rates)
    for step in (*result.pipeline, *result.raw, *result.durable):
        assert step.completed == step.sent, step
        assert step.latency is not None and step.latency.p50 > 0
    assert result.pipeline[0].stages["total"] > 0
    conn = await asyncpg.connect(asyncpg_dsn(target.endpoints.database_url.get_secret_value()))
    try:
        assert await conn.fetchval("SELECT to_regclass($1)", DURABLE_TABLE) is None
    finally:
        await conn.close()
    assert time.monotonic() - began < 90


async def test_ingest_smoke(target: Target) -> None:
    began = time.monotonic()
    # The uploads are left to the pipeline (the test services consume them).
    config = dataclasses.replace(IngestConfig.smoke(), remove_uploads=False)
    result = await run_ingest_bench(target, config)
    assert [r.concurrency for r in result.latency] == list(config.concurrencies)
    for row in result.latency:
        assert row.ingest.n == row.baseline.n == config.uploads
        assert row.ingest.p50 > 0 and row.baseline.p50 > 0
    assert result.stream is not None
    assert result.stream.rss_before_kib > 0 and result.stream.samples
    assert result.stream.flat
    assert time.monotonic() - began < 30
