"""What the Prometheus metrics cost: per record consumed, and per scrape.

    python -m bench.metrics [--smoke] [--records 20000]

No Kafka server: FastStream's ``TestKafkaBroker`` hands each published record to the
subscriber in memory, so the time measured is the CPU a record costs in the consume path
(network and broker time, which dwarf it in production, are left out on purpose: they
would hide the difference).

* **with metrics**: a broker from ``callstream_common.kafka.broker_options`` (OpenTelemetry
  and Prometheus middlewares) and a ``Stage`` consuming a topic with an empty handler, as
  every service runs it (the stage's own series included).
* **baseline**: the same broker and stage without FastStream's Prometheus middleware.

The two run in alternating blocks so that drift in the machine's load affects both alike.
Then one scrape of the registry (``generate_latest``) is timed, with the series a busy
service has (every topic of the registry, several error classes), and its size reported.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from faststream.kafka import KafkaBroker, TestKafkaBroker
from prometheus_client import REGISTRY, generate_latest

from bench.common import (
    Chart,
    Series,
    arg_parser,
    console,
    fmt_ratio,
    print_table,
    ratio,
    save_results,
    summarize,
)
from callstream_common import metrics, topics
from callstream_common.contracts import CallTranscribed
from callstream_common.kafka import broker_options
from callstream_common.settings import CommonSettings
from callstream_common.stage import Stage

BLOCK = 500


def record() -> bytes:
    import uuid

    return (
        CallTranscribed(
            conversation_id=uuid.uuid4(), language="en", duration_seconds=61.0, segment_count=12
        )
        .model_dump_json()
        .encode()
    )


def make_broker(with_metrics: bool) -> KafkaBroker:
    options = broker_options(CommonSettings(service_name="bench-metrics"))
    if not with_metrics:
        options["middlewares"] = [
            m for m in options["middlewares"] if type(m).__name__ != "KafkaPrometheusMiddleware"
        ]
    broker = KafkaBroker(**options)

    async def handler(event: Any) -> None:
        return None

    Stage(
        broker=broker,
        service="bench-metrics",
        group_id="bench-metrics",
        topic=topics.CALLS_TRANSCRIBED,
        model=CallTranscribed,
    ).consume(handler)
    return broker


async def timed_block(client: KafkaBroker, body: bytes, n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        await client.publish(body, topics.CALLS_TRANSCRIBED)
        out.append(time.perf_counter() - started)
    return out


async def measure(records: int) -> dict[str, list[float]]:
    body = record()
    samples: dict[str, list[float]] = {"with metrics": [], "baseline": []}
    async with (
        TestKafkaBroker(make_broker(True)) as with_metrics,
        TestKafkaBroker(make_broker(False)) as baseline,
    ):
        await timed_block(with_metrics, body, BLOCK)
        await timed_block(baseline, body, BLOCK)
        done = 0
        while done < records:
            n = min(BLOCK, records - done)
            samples["with metrics"] += await timed_block(with_metrics, body, n)
            samples["baseline"] += await timed_block(baseline, body, n)
            done += n
    return samples


def busy_registry() -> None:
    """The label sets a service accumulates over a day: every topic, a few error classes."""
    for spec in topics.all_topics():
        for outcome in ("ok", "retry", "dead_letter"):
            metrics.STAGE_MESSAGES.labels("bench-metrics", spec.name, outcome).observe(0.1)
        for error in ("TimeoutError", "RetryableDeliveryError", "PermanentError"):
            metrics.STAGE_RETRIES.labels("bench-metrics", spec.name, error).inc()
        for partition in range(spec.partitions):
            metrics.CONSUMER_LAG.labels("bench-metrics", spec.name, str(partition)).set(0)


def time_scrapes(n: int) -> tuple[list[float], int]:
    busy_registry()
    durations = []
    size = 0
    for _ in range(n):
        started = time.perf_counter()
        size = len(generate_latest(REGISTRY))
        durations.append(time.perf_counter() - started)
    return durations, size


def us(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f} µs"


def main() -> None:
    parser = arg_parser("Cost of the Prometheus metrics per record and per scrape.")
    parser.add_argument("--records", type=int, default=20_000)
    args = parser.parse_args()
    records = 2_000 if args.smoke else args.records
    logging.disable(logging.INFO)
    console.print(f"{records} records per side, in blocks of {BLOCK}, alternating")
    samples = asyncio.run(measure(records))
    stats = {name: summarize(values) for name, values in samples.items()}
    base = stats["baseline"]
    rows = [
        [name, us(s.p50), us(s.p95), us(s.p99), us(s.mean), fmt_ratio(ratio(s.p50, base.p50))]
        for name, s in stats.items()
    ]
    print_table(
        "Consume path per record (in memory, no Kafka)",
        ["", "p50", "p95", "p99", "mean", "p50 vs baseline"],
        rows,
        caption=f"metrics add {us(stats['with metrics'].p50 - base.p50)} per record at p50",
    )
    scrapes, size = time_scrapes(20 if args.smoke else 200)
    scrape = summarize(scrapes)
    print_table(
        "One scrape of /metrics (generate_latest)",
        ["series size", "p50", "p99"],
        [[f"{size / 1024:,.1f} KiB", us(scrape.p50), us(scrape.p99)]],
    )
    charts = [
        Chart(
            "Consume path per record",
            "percentile",
            "µs",
            [
                Series(
                    name,
                    [50, 95, 99],
                    [s.p50 * 1e6, s.p95 * 1e6, s.p99 * 1e6],
                    dashed=name == "baseline",
                )
                for name, s in stats.items()
            ],
        )
    ]
    for path in save_results(
        "metrics",
        {
            "records_per_side": records,
            "per_record_seconds": stats,
            "overhead_p50_seconds": stats["with metrics"].p50 - base.p50,
            "scrape_seconds": scrape,
            "scrape_bytes": size,
        },
        charts,
    ):
        console.print(f"wrote {path}")


if __name__ == "__main__":
    main()
