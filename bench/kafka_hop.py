"""Kafka hop latency: publish → handler start, FastStream vs raw aiokafka, same broker.

    python -m bench.kafka_hop [--smoke] [--keep] [--messages 2000]

One message in flight at a time (publish, wait until the handler has started, next), so the
number is the hop's latency, not a queue's. Both sides are configured as the services are:

* FastStream: a ``KafkaBroker`` from ``callstream_common.kafka.make_broker`` (acks=all,
  idempotent producer, the OpenTelemetry and Prometheus middlewares) and a subscriber as
  ``Stage`` declares it (consumer group, raw-bytes decoder, ``AckPolicy.NACK_ON_ERROR``:
  commit after the handler). The tracing middleware gets an SDK tracer provider without
  exporter: spans and context propagation are paid for, the export to Zipkin (a background
  thread in a service) is not.
  FastStream's per-message log lines are formatted and written, as a service writes them to
  its log file, but to /dev/null.
* aiokafka: ``AIOKafkaProducer`` (acks=all, idempotent) and ``AIOKafkaConsumer`` (same group
  settings, auto-commit off, one commit per record after the handler).

Each side has its own topic (6 partitions, as the stage topics), created for the run and
deleted after it. The two are measured in alternating blocks so that drift in the machine's
load affects both alike.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream import AckPolicy
from faststream.kafka import KafkaMessage
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from opentelemetry.sdk.trace import TracerProvider

from bench.common import (
    Chart,
    Series,
    Summary,
    arg_parser,
    bench_services,
    console,
    fmt_ms,
    fmt_ratio,
    percentile,
    print_table,
    ratio,
    save_results,
    summarize,
)
from callstream_common.kafka import make_broker
from callstream_common.settings import CommonSettings

SEQ_HEADER = "x-bench-seq"
HOP_TIMEOUT = 30.0
RUN_TIMEOUT = 900.0


@dataclass(frozen=True)
class HopConfig:
    messages: int = 2000
    """Measured hops per variant."""
    blocks: int = 10
    """Alternating blocks the measured hops are split into."""
    warmup: int = 50
    payload_bytes: int = 640
    """About the size of a ``CallUploaded`` event as JSON."""
    partitions: int = 6

    @classmethod
    def smoke(cls) -> HopConfig:
        return cls(messages=20, blocks=2, warmup=3)


@dataclass
class HopResult:
    config: HopConfig
    faststream: Summary
    aiokafka: Summary
    samples: dict[str, list[float]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.__dict__,
            "faststream_seconds": self.faststream.to_dict(),
            "aiokafka_seconds": self.aiokafka.to_dict(),
            "ratio_p50": ratio(self.faststream.p50, self.aiokafka.p50),
            "ratio_p99": ratio(self.faststream.p99, self.aiokafka.p99),
        }


class Hop(abc.ABC):
    """One side of the comparison: ``send`` publishes, the handler calls ``handler_started``."""

    name: str

    def __init__(self) -> None:
        self.waiting: dict[int, asyncio.Future[float]] = {}

    def handler_started(self, seq: int) -> None:
        now = time.perf_counter()
        fut = self.waiting.pop(seq, None)
        if fut is not None and not fut.done():
            fut.set_result(now)

    @abc.abstractmethod
    async def send(self, seq: int, payload: bytes) -> None: ...

    async def hop(self, seq: int, payload: bytes) -> float:
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[seq] = fut
        began = time.perf_counter()
        await self.send(seq, payload)
        return await asyncio.wait_for(fut, HOP_TIMEOUT) - began


def _seq(headers: Any) -> int:
    for key, value in headers or ():
        if key == SEQ_HEADER:
            return int(value)
    return -1


def _message_logger() -> logging.Logger:
    """FastStream's per-message INFO lines, formatted and written as a service writes them to
    its log file, but to /dev/null instead of over the benchmark's tables."""
    logger = logging.getLogger("bench.kafka_hop.faststream")
    if not logger.handlers:
        handler = logging.FileHandler(os.devnull)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


class FastStreamHop(Hop):
    name = "FastStream"

    def __init__(self, bootstrap: str, topic: str, group: str) -> None:
        super().__init__()
        settings = CommonSettings(kafka_bootstrap_servers=bootstrap, service_name="bench-hop")
        self.topic = topic
        self.broker = make_broker(
            settings,
            middlewares=[KafkaTelemetryMiddleware(tracer_provider=TracerProvider())],
            logger=_message_logger(),
        )

        async def decode(msg: Any) -> bytes:
            return bytes(msg.body)

        @self.broker.subscriber(
            topic,
            group_id=group,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            decoder=decode,
            title=f"bench:{topic}",
        )
        async def handle(body: bytes, message: KafkaMessage) -> None:
            self.handler_started(int(message.headers.get(SEQ_HEADER, "-1")))

    async def send(self, seq: int, payload: bytes) -> None:
        await self.broker.publish(
            payload, self.topic, key=str(seq).encode(), headers={SEQ_HEADER: str(seq)}
        )

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[FastStreamHop]:
        await self.broker.start()
        try:
            yield self
        finally:
            await self.broker.stop()


class AioKafkaHop(Hop):
    name = "aiokafka"

    def __init__(self, bootstrap: str, topic: str, group: str) -> None:
        super().__init__()
        self.topic = topic
        self.producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            enable_idempotence=True,
            client_id="bench-hop",
            request_timeout_ms=15_000,
        )
        self.consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=group,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            client_id="bench-hop",
        )

    async def _consume(self) -> None:
        async for record in self.consumer:
            self.handler_started(_seq(record.headers))
            await self.consumer.commit()

    async def send(self, seq: int, payload: bytes) -> None:
        await self.producer.send_and_wait(
            self.topic, payload, key=str(seq).encode(), headers=[(SEQ_HEADER, str(seq).encode())]
        )

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[AioKafkaHop]:
        await self.producer.start()
        await self.consumer.start()
        task = asyncio.create_task(self._consume())
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await self.consumer.stop()
            await self.producer.stop()


@contextlib.asynccontextmanager
async def bench_topics(
    bootstrap: str, names: Sequence[str], partitions: int
) -> AsyncIterator[None]:
    """Create ``names`` for the run and delete them afterwards."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="bench-admin")
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, partitions, 1) for n in names], timeout_ms=15_000)
        try:
            yield
        finally:
            await admin.delete_topics(list(names), timeout_ms=15_000)
    finally:
        await admin.close()


async def _measure(hop: Hop, seqs: range, payload: bytes) -> list[float]:
    return [await hop.hop(seq, payload) for seq in seqs]


async def run_kafka_hop(bootstrap: str, config: HopConfig) -> HopResult:
    """Measure both sides, print the table and return the numbers."""
    run = uuid.uuid4().hex[:8]
    fs_topic, raw_topic = f"bench.hop.faststream.{run}", f"bench.hop.aiokafka.{run}"
    payload = (b'{"bench":"' + b"x" * config.payload_bytes)[: config.payload_bytes - 2] + b'"}'
    samples: dict[str, list[float]] = {FastStreamHop.name: [], AioKafkaHop.name: []}

    async def body() -> None:
        async with (
            bench_topics(bootstrap, [fs_topic, raw_topic], config.partitions),
            FastStreamHop(bootstrap, fs_topic, f"bench-hop-fs-{run}").running() as fs,
            AioKafkaHop(bootstrap, raw_topic, f"bench-hop-raw-{run}").running() as raw,
        ):
            hops: list[Hop] = [fs, raw]
            for hop in hops:  # also waits out the consumer group's first rebalance
                await _measure(hop, range(-config.warmup, 0), payload)
            per_block = max(1, config.messages // config.blocks)
            seq = 0
            for block in range(config.blocks):
                order = hops if block % 2 == 0 else hops[::-1]
                for hop in order:
                    samples[hop.name] += await _measure(hop, range(seq, seq + per_block), payload)
                seq += per_block

    await asyncio.wait_for(body(), RUN_TIMEOUT)
    result = HopResult(
        config,
        summarize(samples[FastStreamHop.name]),
        summarize(samples[AioKafkaHop.name]),
        samples,
    )
    print_hop_table(result)
    return result


def print_hop_table(result: HopResult) -> None:
    fs, raw = result.faststream, result.aiokafka
    rows: list[tuple[object, ...]] = [
        (name, s.n, fmt_ms(s.p50), fmt_ms(s.p95), fmt_ms(s.p99), fmt_ms(s.mean), fmt_ms(s.max))
        for name, s in (("FastStream (make_broker + subscriber)", fs), ("raw aiokafka", raw))
    ]
    rows.append(
        (
            "ratio FastStream / aiokafka",
            "",
            fmt_ratio(ratio(fs.p50, raw.p50)),
            fmt_ratio(ratio(fs.p95, raw.p95)),
            fmt_ratio(ratio(fs.p99, raw.p99)),
            fmt_ratio(ratio(fs.mean, raw.mean)),
            "",
        )
    )
    print_table(
        f"Kafka hop: publish → handler start ({result.config.payload_bytes} B, one in flight)",
        ["", "n", "p50", "p95", "p99", "mean", "max"],
        rows,
    )


def charts(result: HopResult) -> list[Chart]:
    qs = [50.0, 75.0, 90.0, 95.0, 99.0]
    return [
        Chart(
            "publish → handler start",
            "percentile",
            "ms",
            [
                Series(name, qs, [percentile(values, q) * 1000 for q in qs])
                for name, values in result.samples.items()
            ],
        )
    ]


def main(argv: Sequence[str] | None = None) -> None:
    parser = arg_parser(__doc__.splitlines()[0] if __doc__ else "kafka hop benchmark")
    parser.add_argument("--messages", type=int, default=None, help="measured hops per side")
    args = parser.parse_args(argv)
    config = HopConfig.smoke() if args.smoke else HopConfig()
    if args.messages:
        config = HopConfig(**{**config.__dict__, "messages": args.messages})
    with bench_services([], {}, keep=args.keep) as target:
        result = asyncio.run(run_kafka_hop(target.endpoints.kafka_bootstrap, config))
    paths = save_results("kafka-hop", result.to_dict(), charts(result))
    console.print("saved " + ", ".join(str(p) for p in paths if "latest" not in p.name))


if __name__ == "__main__":
    main()
