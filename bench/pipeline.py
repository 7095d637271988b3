"""Pipeline overhead: calls/s sustained and upload → notification latency, at rising load.

    python -m bench.pipeline [--smoke] [--keep] [--rates 1 2 4 8 16 32 64] [--step-seconds 15]

Ingest, transcriber, analyzer and notifier run on the bench stack with the ``instant``
transcriber and analyzer (no model work), so what is measured is the pipeline's own cost:
HTTP upload and object store, PostgreSQL writes, three Kafka hops, telemetry, logging.

Load is open-loop: at each offered rate, calls are uploaded on a fixed schedule for
``--step-seconds`` (small WAVs, raw body), whatever the pipeline's answers. A call's latency is
its ``completed_at`` (read from its row once PostgreSQL notifies that it finished: the
benchmark does not poll the API, which would load ingest) minus the moment its upload
started; the output rate is how fast completions came. A step is *sustained* when every call
completed, within the drain time, at ≥ 90 % of the offered rate; the ramp stops at the first
step that is not (saturation).

Baseline in the same run: a raw aiokafka chain of the same shape — a producer, two
consume → produce stages and a final consumer, each stage in its own process like the
services — over three bench topics with the stage topics' partition count, carrying values
of the same sizes as ``CallUploaded``, ``CallTranscribed`` and ``CallAnalyzed``, with acks=all,
idempotent producers and one commit per record after its handling. Its ramp continues past
the pipeline's saturation up to its own.

A second baseline, the *durable chain*, is the same chain where each of the three consuming
stages first writes one row to PostgreSQL in its own transaction (committed, so flushed to
the WAL) and only then produces or finishes: the least a stage does that records its
outcome before it announces it, as every pipeline stage must for nothing to be lost. It
shows which part of the pipeline's distance to the raw chain durability alone accounts for.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import queue
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.synchronize import Event as MpEvent
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.common import (
    REP_ID,
    Chart,
    Series,
    Summary,
    Target,
    arg_parser,
    bearer,
    bench_ingest_port,
    bench_services,
    bench_stack_settings,
    console,
    fmt_ms,
    fmt_ratio,
    percentile,
    print_table,
    ratio,
    save_results,
    summarize,
    synth_wav,
)
from bench.completions import CompletionWatcher, asyncpg_dsn
from bench.cpu import CpuMeter, infrastructure_pids
from bench.kafka_hop import bench_topics
from bench.latency_proxy import latency_proxy
from callstream_cli.stack.endpoints import StackEndpoints
from callstream_common import topics
from callstream_common.contracts import (
    CallAnalyzed,
    CallTranscribed,
    CallUploaded,
    ConversationMetadata,
    QualificationStatus,
)
from callstream_common.topics import all_topics

PIPELINE_SERVICES = ("ingest", "transcriber", "analyzer", "notifier")
PIPELINE_ENV = {
    "CALLSTREAM_TRANSCRIBER_PROVIDER": "instant",
    "CALLSTREAM_ANALYZER_PROVIDER": "instant",
}
#: The consumer groups (and their input topics) whose backlog is skipped before a run, so
#: that what earlier runs left on the bench stack (the ingest benchmark's uploads) is not
#: processed in the middle of this one.
STAGE_GROUPS = {
    group: [*topics.input_topics(topic), topics.retry_topic_for(topic)]
    for group, topic in (
        ("transcriber", topics.CALLS_UPLOADED),
        ("analyzer", topics.CALLS_TRANSCRIBED),
        ("notifier", topics.CALLS_ANALYZED),
    )
} | {"dlq-recorder": [topics.DLQ]}
SEQ_HEADER = "x-bench-seq"
STAGE_LIFETIME = 3600.0
"""A raw chain process stops on its own after this long, whatever happens to its parent."""
RUN_TIMEOUT = 1800.0
RAW_START_TIMEOUT = 180.0
"""A raw chain stage process imports aiokafka and joins its group: long on a loaded machine."""
UNFINISHED = ("pending", "processing")
CPU_MIN_MESSAGES = 200
"""Steps with fewer completions get no CPU per message (an idle JVM's collector alone
spends tens of milliseconds a second)."""
DELAY_PROXY_PORT_SHIFT = 7
"""The delaying proxy listens this far above the bench stack's PostgreSQL port."""
SUSTAIN_FRACTION = 0.9
"""A step is sustained when completions came at least this fraction of the offered rate."""


@dataclass(frozen=True)
class PipelineConfig:
    rates: tuple[float, ...] = (1, 2, 4, 8, 16, 32, 64)
    raw_rates: tuple[float, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
    step_seconds: float = 15.0
    max_calls_per_step: int = 1000
    max_messages_per_step: int = 16_000
    min_per_step: int = 30
    """Calls (messages) of the slowest steps: the p50 at 1 call/s is the latency target's
    figure, and a median of 15 moved by several ms from one run to the next."""
    max_in_flight: int = 256
    """Uploads in flight at once; a step whose schedule had to wait for a slot is saturated."""
    drain_timeout: float = 180.0
    wav_bytes: int = 32_044
    """1 s of 16 kHz 16-bit mono audio: the instant transcriber ignores the content."""
    warmup_calls: int = 3
    idle_seconds: float = 5.0
    """Quiet window before each ramp: what the measured processes spend idle."""
    partitions: int = field(default_factory=lambda: all_topics()[0].partitions)

    @classmethod
    def smoke(cls) -> PipelineConfig:
        return cls(
            rates=(1,),
            raw_rates=(2,),
            step_seconds=2.0,
            drain_timeout=40.0,
            warmup_calls=1,
            idle_seconds=0.5,
            min_per_step=2,
        )

    def step_count(self, rate: float, cap: int) -> int:
        """How many calls (messages) a step at ``rate`` sends: ``step_seconds`` of them,
        at least :attr:`min_per_step`, at most ``cap``."""
        return min(cap, max(self.min_per_step, round(rate * self.step_seconds)))


@dataclass
class Step:
    """One offered rate: what was sent, what came out, how long it took."""

    offered: float
    sent: int
    completed: int
    failed: int
    send_seconds: float
    output_rate: float
    latency: Summary | None
    stages: dict[str, float] = field(default_factory=dict)
    """p50 seconds of each segment of a call's way (pipeline only)."""
    cpu_seconds: float | None = None
    """CPU the step cost the machine: the chain's or the services' processes, the servers
    and this process, less what they spend idle (:class:`bench.cpu.CpuMeter`)."""

    @property
    def cpu_ms_per_message(self) -> float | None:
        """None below :data:`CPU_MIN_MESSAGES`: the idle time's noise would outweigh them."""
        if self.cpu_seconds is None or self.completed < CPU_MIN_MESSAGES:
            return None
        return 1000 * self.cpu_seconds / self.completed

    @property
    def on_schedule(self) -> bool:
        """The load generator started every call on time (it never waited for a free slot)."""
        planned = (self.sent - 1) / self.offered
        return self.send_seconds <= planned / SUSTAIN_FRACTION + 0.5

    @property
    def sustained(self) -> bool:
        return (
            self.completed == self.sent
            and self.failed == 0
            and self.on_schedule
            and self.output_rate >= SUSTAIN_FRACTION * self.offered
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "offered_per_second": self.offered,
            "sent": self.sent,
            "completed": self.completed,
            "failed": self.failed,
            "send_seconds": self.send_seconds,
            "output_per_second": self.output_rate,
            "on_schedule": self.on_schedule,
            "sustained": self.sustained,
            "latency_seconds": self.latency.to_dict() if self.latency else None,
            "stage_p50_seconds": self.stages,
            "cpu_ms_per_message": self.cpu_ms_per_message,
        }


@dataclass
class PipelineResult:
    config: PipelineConfig
    pipeline: list[Step]
    raw: list[Step]
    durable: list[Step] = field(default_factory=list)
    """The durable chain (see the module docstring)."""

    @staticmethod
    def max_sustained(steps: Sequence[Step]) -> float:
        return max((s.offered for s in steps if s.sustained), default=0.0)

    @staticmethod
    def peak_output(steps: Sequence[Step]) -> float:
        return max((s.output_rate for s in steps), default=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.__dict__,
            "pipeline": [s.to_dict() for s in self.pipeline],
            "raw_aiokafka_chain": [s.to_dict() for s in self.raw],
            "durable_chain": [s.to_dict() for s in self.durable],
            "pipeline_max_sustained_per_second": self.max_sustained(self.pipeline),
            "raw_max_sustained_per_second": self.max_sustained(self.raw),
            "durable_max_sustained_per_second": self.max_sustained(self.durable),
            "pipeline_peak_output_per_second": self.peak_output(self.pipeline),
            "raw_peak_output_per_second": self.peak_output(self.raw),
            "durable_peak_output_per_second": self.peak_output(self.durable),
        }


def output_rate(done_times: Sequence[float], sent: int, send_seconds: float) -> float:
    """Completions per second, measured between the first and the last completion.

    With a single completion (or all at once) the best estimate is the sending rate.
    """
    if len(done_times) < 2:
        return sent / send_seconds if send_seconds > 0 else 0.0
    span = max(done_times) - min(done_times)
    return (len(done_times) - 1) / span if span > 0 else float(len(done_times))


async def open_loop(
    rate: float, count: int, one: Callable[[int], Awaitable[None]], max_in_flight: int
) -> float:
    """Start ``one(i)`` at ``rate`` per second, ``count`` times, at most ``max_in_flight`` at
    once (a start waits while that many are running); return the seconds the starts took."""
    gate = asyncio.Semaphore(max_in_flight)
    tasks: list[asyncio.Task[None]] = []

    async def guarded(i: int) -> None:
        try:
            await one(i)
        finally:
            gate.release()

    began = time.perf_counter()
    for i in range(count):
        delay = began + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await gate.acquire()
        tasks.append(asyncio.create_task(guarded(i)))
    sent = time.perf_counter() - began
    await asyncio.gather(*tasks, return_exceptions=True)
    return sent


# --------------------------------------------------------------------------- the pipeline


@dataclass
class Call:
    started: float  # wall clock (the API's completed_at is wall clock too)
    id: str | None = None
    status: str = "uploading"
    view: dict[str, Any] | None = None


def stage_segments(view: dict[str, Any], started: float) -> dict[str, float]:
    """Seconds of each segment of one call: stages and the hops between them."""
    timings: dict[str, Any] = view.get("timings") or {}

    def at(stage: str, key: str) -> float | None:
        value = (timings.get(stage) or {}).get(key)
        return datetime.fromisoformat(value).timestamp() if value else None

    order = ("upload", "transcription", "analysis", "notification")
    out: dict[str, float] = {}
    for n, stage in enumerate(order):
        begin, end = at(stage, "started_at"), at(stage, "finished_at")
        if begin is not None and end is not None:
            out[stage] = end - begin
        if n > 0:
            prev_end = at(order[n - 1], "finished_at")
            if prev_end is not None and begin is not None:
                out[f"hop {n}"] = begin - prev_end
    completed = view.get("completed_at")
    if completed:
        out["total"] = datetime.fromisoformat(completed).timestamp() - started
    return out


SEGMENTS = (
    "upload",
    "hop 1",
    "transcription",
    "hop 2",
    "analysis",
    "hop 3",
    "notification",
    "total",
)


class PipelineDriver:
    def __init__(self, target: Target, config: PipelineConfig) -> None:
        self.target = target
        self.config = config
        self.wav = synth_wav(config.wav_bytes)
        self.client = httpx.AsyncClient(
            base_url=target.base_url,
            headers=bearer(target.token),
            timeout=httpx.Timeout(60.0, connect=10.0),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
        )
        self.completions = CompletionWatcher(target.endpoints.database_url.get_secret_value())

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.completions.close()

    async def upload(self, call: Call) -> None:
        await self.completions.start()
        try:
            response = await self.client.post(
                "/v1/conversations",
                params={"opportunity_name": "Bench pipeline", "rep_id": REP_ID, "title": "bench"},
                content=self.wav,
                headers={"Content-Type": "audio/wav"},
            )
        except httpx.HTTPError as exc:
            call.status = f"upload error: {type(exc).__name__}"
            return
        if response.status_code != 202:
            call.status = f"upload {response.status_code}"
            return
        call.id = response.json()["id"]
        call.status = "pending"

    async def wait_done(self, calls: list[Call], deadline: float) -> None:
        """Until all are completed or failed or the deadline passes: learned from
        PostgreSQL's change notifications, not by polling the API (which would make ingest
        spend the pipeline's CPU on the benchmark, see :mod:`bench.completions`)."""
        await self.completions.wait(calls, deadline)

    async def step(self, rate: float, count: int) -> Step:
        calls = [Call(started=0.0) for _ in range(count)]

        async def one(i: int) -> None:
            calls[i].started = time.time()
            await self.upload(calls[i])

        send_seconds = await open_loop(rate, count, one, self.config.max_in_flight)
        await self.wait_done(calls, time.monotonic() + self.config.drain_timeout)
        return self.summarise(rate, calls, send_seconds)

    def summarise(self, rate: float, calls: list[Call], send_seconds: float) -> Step:
        done = [c for c in calls if c.status == "completed" and c.view is not None]
        segments = [stage_segments(c.view, c.started) for c in done if c.view is not None]
        totals = [s["total"] for s in segments if "total" in s]
        done_at = [c.started + s["total"] for c, s in zip(done, segments, strict=True)]
        stages = {
            name: percentile(values, 50)
            for name in SEGMENTS
            if (values := [s[name] for s in segments if name in s])
        }
        return Step(
            offered=rate,
            sent=len(calls),
            completed=len(done),
            failed=sum(1 for c in calls if c.status == "failed" or c.id is None),
            send_seconds=send_seconds,
            output_rate=output_rate(done_at, len(calls), send_seconds),
            latency=summarize(totals) if totals else None,
            stages=stages,
        )


def service_pids() -> dict[str, int]:
    """The bench stack's pipeline services by name (none on another stack)."""
    from callstream_cli.services import ServiceSet

    services = ServiceSet(settings=bench_stack_settings(), ingest_port=bench_ingest_port())
    found = {name: services.process(name).pid() for name in PIPELINE_SERVICES}
    return {name: pid for name, pid in found.items() if pid}


async def run_pipeline_steps(target: Target, config: PipelineConfig) -> list[Step]:
    driver = PipelineDriver(target, config)
    meter = CpuMeter(service_pids() | infrastructure_pids())
    steps: list[Step] = []
    try:
        warm = await driver.step(1.0, config.warmup_calls)
        if warm.completed < warm.sent:
            raise RuntimeError(
                f"warm-up: {warm.completed}/{warm.sent} calls completed; is the pipeline running "
                "(instant transcriber and analyzer)?"
            )
        await meter.measure_idle(config.idle_seconds)
        for rate in config.rates:
            count = config.step_count(rate, config.max_calls_per_step)
            console.print(f"pipeline: {rate:g} calls/s x {count} calls")
            meter.start()
            step = await driver.step(rate, count)
            step.cpu_seconds = max(0.0, sum(meter.busy().values()))
            steps.append(step)
            if not step.sustained:
                break
    finally:
        await driver.aclose()
    return steps


# --------------------------------------------------------------------------- raw aiokafka chain


@dataclass(frozen=True)
class RawStageSpec:
    bootstrap: str
    in_topic: str
    out_topic: str | None
    out_bytes: int
    group: str
    database_url: str | None = None
    """Set for the durable chain: the PostgreSQL DSN its stages record each record in."""


DURABLE_TABLE = "bench_durable_chain"
"""Where the durable chain's stages record their records (created and dropped by the run)."""
DURABLE_RECORD = "INSERT INTO bench_durable_chain (stage, key) VALUES ($1, $2)"


def json_value(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes."""
    head, tail = b'{"v":"', b'"}'
    return head + b"x" * max(0, size - len(head) - len(tail)) + tail


def raw_stage_process(spec: RawStageSpec, ready: MpEvent, stop: MpEvent, done: Any) -> None:
    """Entry point of one raw chain stage (a child process)."""
    asyncio.run(_raw_stage(spec, ready, stop, done))


async def _raw_stage(spec: RawStageSpec, ready: MpEvent, stop: MpEvent, done: Any) -> None:
    consumer = AIOKafkaConsumer(
        spec.in_topic,
        bootstrap_servers=spec.bootstrap,
        group_id=spec.group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        client_id=spec.group,
    )
    producer = (
        AIOKafkaProducer(
            bootstrap_servers=spec.bootstrap,
            acks="all",
            enable_idempotence=True,
            client_id=spec.group,
            request_timeout_ms=15_000,
        )
        if spec.out_topic
        else None
    )
    value = json_value(spec.out_bytes)
    database = await asyncpg.connect(spec.database_url) if spec.database_url else None
    await consumer.start()
    if producer is not None:
        await producer.start()

    async def handle() -> None:
        async for record in consumer:
            if database is not None:
                await database.execute(DURABLE_RECORD, spec.group, record.key or b"")
            if producer is not None and spec.out_topic:
                await producer.send_and_wait(
                    spec.out_topic, value, key=record.key, headers=list(record.headers)
                )
            else:
                seq = next((int(v) for k, v in record.headers if k == SEQ_HEADER), -1)
                done.put((seq, time.time()))
            await consumer.commit()

    task = asyncio.create_task(handle())
    ready.set()
    deadline = time.monotonic() + STAGE_LIFETIME
    try:
        # a multiprocessing.Event cannot be awaited: poll it (5 times a second)
        while not stop.is_set() and not task.done() and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await consumer.stop()
        if producer is not None:
            await producer.stop()
        if database is not None:
            await database.close()


def event_sizes() -> tuple[int, int, int]:
    """Bytes of a typical CallUploaded, CallTranscribed and CallAnalyzed as JSON."""
    cid = uuid.uuid4()
    uploaded = CallUploaded(
        conversation_id=cid,
        object_key=f"recordings/2026/01/15/{cid}.wav",
        content_type="audio/wav",
        size_bytes=32_044,
        sha256="0" * 64,
        metadata=ConversationMetadata(opportunity_name="Bench pipeline", rep_id=REP_ID),
    )
    transcribed = CallTranscribed(
        conversation_id=cid, language="en", duration_seconds=35.0, segment_count=7
    )
    analyzed = CallAnalyzed(
        conversation_id=cid, overall_score=3.5, qualification_status=QualificationStatus.MEDIUM
    )
    return (
        len(uploaded.model_dump_json()),
        len(transcribed.model_dump_json()),
        len(analyzed.model_dump_json()),
    )


class Completions:
    """Collects (seq, wall time) from the final stage's queue on a thread."""

    def __init__(self, done: Any) -> None:
        self.done_queue = done
        self.times: dict[int, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="raw-completions", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                seq, at = self.done_queue.get(timeout=0.2)
            except queue.Empty:
                continue
            with self._lock:
                self.times[seq] = at

    def count(self, seqs: range) -> int:
        with self._lock:
            return sum(1 for s in seqs if s in self.times)

    def get(self, seq: int) -> float | None:
        with self._lock:
            return self.times.get(seq)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


@contextlib.asynccontextmanager
async def durable_table(database_url: str | None) -> AsyncIterator[None]:
    """The durable chain's table for the length of a run (nothing when there is no DSN)."""
    if database_url is None:
        yield
        return
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {DURABLE_TABLE} "
            "(stage text NOT NULL, key bytea NOT NULL, at timestamptz NOT NULL DEFAULT now())"
        )
        yield
    finally:
        await conn.execute(f"DROP TABLE IF EXISTS {DURABLE_TABLE}")
        await conn.close()


@contextlib.asynccontextmanager
async def raw_chain(
    bootstrap: str, config: PipelineConfig, database_url: str | None = None
) -> AsyncIterator[RawChain]:
    run = uuid.uuid4().hex[:8]
    names = [f"bench.chain.{run}.{n}" for n in ("uploaded", "transcribed", "analyzed")]
    sizes = event_sizes()
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    done = ctx.Queue()
    specs = [
        RawStageSpec(
            bootstrap, names[0], names[1], sizes[1], f"bench-chain-{run}-transcriber", database_url
        ),
        RawStageSpec(
            bootstrap, names[1], names[2], sizes[2], f"bench-chain-{run}-analyzer", database_url
        ),
        RawStageSpec(bootstrap, names[2], None, 0, f"bench-chain-{run}-notifier", database_url),
    ]
    async with bench_topics(bootstrap, names, config.partitions), durable_table(database_url):
        readies = [ctx.Event() for _ in specs]
        procs = [
            ctx.Process(
                target=raw_stage_process,
                args=(spec, ready, stop, done),
                name=f"raw-{spec.group}",
                daemon=True,
            )
            for spec, ready in zip(specs, readies, strict=True)
        ]
        for p in procs:
            p.start()
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            enable_idempotence=True,
            client_id=f"bench-chain-{run}-ingest",
            request_timeout_ms=15_000,
        )
        completions = Completions(done)
        try:
            for ready in readies:
                if not await asyncio.to_thread(ready.wait, RAW_START_TIMEOUT):
                    raise RuntimeError(
                        f"a raw chain stage did not start in {RAW_START_TIMEOUT:.0f} s"
                    )
            await producer.start()
            try:
                pids = {p.name: p.pid for p in procs if p.pid is not None}
                yield RawChain(producer, names[0], json_value(sizes[0]), completions, config, pids)
            finally:
                await producer.stop()
        finally:
            stop.set()
            for p in procs:
                await asyncio.to_thread(p.join, 30)
                if p.is_alive():
                    p.kill()
            completions.close()


class RawChain:
    def __init__(
        self,
        producer: AIOKafkaProducer,
        topic: str,
        value: bytes,
        completions: Completions,
        config: PipelineConfig,
        pids: dict[str, int],
    ) -> None:
        self.pids = pids
        """The chain's stage processes by name."""
        self.producer = producer
        self.topic = topic
        self.value = value
        self.completions = completions
        self.config = config
        self.next_seq = 0

    async def step(self, rate: float, count: int) -> Step:
        seqs = range(self.next_seq, self.next_seq + count)
        self.next_seq += count
        started: dict[int, float] = {}
        failed = 0

        async def one(i: int) -> None:
            nonlocal failed
            seq = seqs[i]
            started[seq] = time.time()
            try:
                await self.producer.send_and_wait(
                    self.topic,
                    self.value,
                    key=str(uuid.uuid4()).encode(),
                    headers=[(SEQ_HEADER, str(seq).encode())],
                )
            except Exception:
                failed += 1

        send_seconds = await open_loop(rate, count, one, self.config.max_messages_per_step)
        deadline = time.monotonic() + self.config.drain_timeout
        # completions arrive on a thread from the final stage's process: poll their count
        while self.completions.count(seqs) < count - failed and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        done_at = [t for s in seqs if (t := self.completions.get(s)) is not None]
        latencies = [t - started[s] for s in seqs if (t := self.completions.get(s)) is not None]
        return Step(
            offered=rate,
            sent=count,
            completed=len(done_at),
            failed=failed,
            send_seconds=send_seconds,
            output_rate=output_rate(done_at, count, send_seconds),
            latency=summarize(latencies) if latencies else None,
        )


async def run_raw_steps(
    bootstrap: str, config: PipelineConfig, database_url: str | None = None
) -> list[Step]:
    """The raw chain's ramp; the durable chain's with a ``database_url``."""
    steps: list[Step] = []
    label = "durable chain" if database_url else "raw aiokafka chain"
    async with raw_chain(bootstrap, config, database_url) as chain:
        warm = await chain.step(10.0, max(3, config.warmup_calls))
        if warm.completed < warm.sent:
            raise RuntimeError(f"{label} warm-up: {warm.completed}/{warm.sent} arrived")
        meter = CpuMeter(chain.pids | infrastructure_pids())
        await meter.measure_idle(config.idle_seconds)
        for rate in config.raw_rates:
            count = config.step_count(rate, config.max_messages_per_step)
            console.print(f"{label}: {rate:g} msg/s x {count}")
            meter.start()
            step = await chain.step(rate, count)
            step.cpu_seconds = max(0.0, sum(meter.busy().values()))
            steps.append(step)
            if not step.sustained:
                break
    return steps


# --------------------------------------------------------------------------- the benchmark


async def run_pipeline_bench(
    target: Target, config: PipelineConfig, chains: bool = True
) -> PipelineResult:
    """Raw chain, durable chain (they leave nothing behind), then the pipeline; print and
    return. Without ``chains`` only the pipeline runs (comparing two commits' pipelines)."""

    async def both() -> PipelineResult:
        bootstrap = target.endpoints.kafka_bootstrap
        raw, durable = [], []
        if chains:
            raw = await run_raw_steps(bootstrap, config)
            dsn = asyncpg_dsn(target.endpoints.database_url.get_secret_value())
            durable = await run_raw_steps(bootstrap, config, dsn)
        pipeline = await run_pipeline_steps(target, config)
        return PipelineResult(config, pipeline, raw, durable)

    result = await asyncio.wait_for(both(), RUN_TIMEOUT)
    print_pipeline_tables(result)
    return result


def _latency_cells(step: Step | None) -> tuple[str, str]:
    if step is None or step.latency is None:
        return "-", "-"
    return fmt_ms(step.latency.p50), fmt_ms(step.latency.p99)


def print_pipeline_tables(result: PipelineResult) -> None:
    raw_by_rate = {s.offered: s for s in result.raw}
    rows: list[tuple[object, ...]] = []
    for step in result.pipeline:
        raw = raw_by_rate.get(step.offered)
        p50, p99 = _latency_cells(step)
        rp50, rp99 = _latency_cells(raw)
        rows.append(
            (
                f"{step.offered:g}",
                f"{step.completed}/{step.sent}",
                f"{step.output_rate:,.1f}",
                p50,
                p99,
                "yes" if step.sustained else "NO",
                _cpu_cell(step),
                f"{raw.output_rate:,.1f}" if raw else "-",
                rp50,
                rp99,
                fmt_ratio(ratio(step.latency.p50, raw.latency.p50))
                if raw and raw.latency and step.latency
                else "-",
                fmt_ratio(ratio(step.latency.p99, raw.latency.p99))
                if raw and raw.latency and step.latency
                else "-",
            )
        )
    print_table(
        "Pipeline (instant ASR + analysis) vs raw aiokafka chain: upload → notification",
        [
            "offered /s",
            "done",
            "out /s",
            "p50",
            "p99",
            "sustained",
            "CPU ms / call",
            "raw out /s",
            "raw p50",
            "raw p99",
            "ratio p50",
            "ratio p99",
        ],
        rows,
    )
    for title, steps in (
        ("Raw aiokafka chain alone (producer → 2 x consume/produce → consumer)", result.raw),
        (
            "Durable chain: the raw chain, each stage committing a row before it emits",
            result.durable,
        ),
    ):
        if not steps:
            continue
        print_table(
            title,
            ["offered /s", "done", "out /s", "p50", "p99", "sustained", "CPU ms / msg"],
            [
                (
                    f"{s.offered:g}",
                    f"{s.completed}/{s.sent}",
                    f"{s.output_rate:,.1f}",
                    *_latency_cells(s),
                    "yes" if s.sustained else "NO",
                    _cpu_cell(s),
                )
                for s in steps
            ],
        )
    print_table(
        "Pipeline: p50 seconds of each segment of a call (hop n = previous stage's end → "
        "next stage's start)",
        ["offered /s", *SEGMENTS],
        [
            (f"{s.offered:g}", *(fmt_ms(s.stages.get(name)) for name in SEGMENTS))
            for s in result.pipeline
        ],
    )
    series = (result.pipeline, result.durable, result.raw)
    p_max, d_max, r_max = (result.max_sustained(s) for s in series)
    p_peak, d_peak, r_peak = (result.peak_output(s) for s in series)
    low_p = result.pipeline[0] if result.pipeline else None
    low_r = raw_by_rate.get(low_p.offered) if low_p else None
    low_d = {s.offered: s for s in result.durable}.get(low_p.offered) if low_p else None
    print_table(
        "Pipeline vs raw aiokafka chain: summary (durable chain: the floor durability sets)",
        ["", "pipeline", "durable chain", "raw chain", "pipeline / raw", "durable / raw"],
        [
            (
                "max sustained offered rate /s",
                f"{p_max:g}",
                f"{d_max:g}",
                f"{r_max:g}",
                fmt_ratio(ratio(p_max, r_max)),
                fmt_ratio(ratio(d_max, r_max)),
            ),
            (
                "peak output rate /s",
                f"{p_peak:,.1f}",
                f"{d_peak:,.1f}",
                f"{r_peak:,.1f}",
                fmt_ratio(ratio(p_peak, r_peak)),
                fmt_ratio(ratio(d_peak, r_peak)),
            ),
            (
                "CPU ms per call / message at the top sustained rate",
                *(_cpu_cell(top_sustained(s)) for s in series),
                "-",
                "-",
            ),
            (
                f"p50 latency at {low_p.offered:g}/s" if low_p else "p50 latency",
                *_compared(low_p, low_d, low_r, "p50"),
            ),
            (
                f"p99 latency at {low_p.offered:g}/s" if low_p else "p99 latency",
                *_compared(low_p, low_d, low_r, "p99"),
            ),
        ],
    )


def top_sustained(steps: Sequence[Step]) -> Step | None:
    """The step at the highest offered rate that was sustained."""
    return max((s for s in steps if s.sustained), key=lambda s: s.offered, default=None)


def _cpu_cell(step: Step | None) -> str:
    ms = step.cpu_ms_per_message if step is not None else None
    return "-" if ms is None else f"{ms:.2f}"


def _compared(p: Step | None, d: Step | None, r: Step | None, q: str) -> tuple[str, ...]:
    """A latency quantile of the pipeline, the durable and the raw chain, and both ratios."""
    a, b, c = (getattr(x.latency, q) if x and x.latency else None for x in (p, d, r))
    return (
        fmt_ms(a),
        fmt_ms(b),
        fmt_ms(c),
        fmt_ratio(ratio(a, c) if a is not None and c is not None else None),
        fmt_ratio(ratio(b, c) if b is not None and c is not None else None),
    )


def charts(result: PipelineResult) -> list[Chart]:
    def rate(label: str, steps: Sequence[Step], dashed: bool = False) -> Series:
        y = [s.offered if dashed else s.output_rate for s in steps]
        return Series(label, [s.offered for s in steps], y, dashed=dashed)

    def latency(label: str, steps: Sequence[Step], q: str) -> Series:
        measured = [s for s in steps if s.latency is not None]
        return Series(
            label,
            [s.offered for s in measured],
            [getattr(s.latency, q) * 1000 for s in measured],
        )

    return [
        Chart(
            "output rate vs offered rate",
            "offered /s",
            "completed /s",
            [
                rate("pipeline", result.pipeline),
                rate("raw aiokafka chain", result.raw),
                rate("durable chain", result.durable),
                rate("offered", result.raw or result.pipeline, dashed=True),
            ],
            log_x=True,
            log_y=True,
        ),
        Chart(
            "upload → notification latency",
            "offered /s",
            "ms",
            [
                latency("pipeline p50", result.pipeline, "p50"),
                latency("pipeline p99", result.pipeline, "p99"),
                latency("raw chain p50", result.raw, "p50"),
                latency("raw chain p99", result.raw, "p99"),
                latency("durable chain p50", result.durable, "p50"),
            ],
            log_x=True,
            log_y=True,
        ),
    ]


async def skip_backlog(bootstrap: str, groups: dict[str, list[str]]) -> None:
    """Commit every group's offsets at the end of its topics (nothing old is processed).

    Topics that do not exist are left out, and never asked about: the broker would create them.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="bench-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = sorted({t for names in groups.values() for t in names} & existing)
        described = await admin.describe_topics(wanted) if wanted else []
    finally:
        await admin.close()
    partitions = {
        d["topic"]: [TopicPartition(d["topic"], p["partition"]) for p in d["partitions"]]
        for d in described
        if d.get("error_code", 0) == 0
    }
    for group, names in groups.items():
        tps = [tp for t in names for tp in partitions.get(t, [])]
        if not tps:
            continue
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
        )
        await consumer.start()
        try:
            consumer.assign(tps)
            await consumer.seek_to_end(*tps)
            await consumer.commit({tp: await consumer.position(tp) for tp in tps})
        finally:
            await consumer.stop()


@contextlib.contextmanager
def delayed_database(delay_ms: float) -> Iterator[str]:
    """The services' database URL through a :mod:`bench.latency_proxy` holding each chunk
    ``delay_ms`` back each way (the benchmark itself reads PostgreSQL directly)."""
    settings = bench_stack_settings()
    port = settings.postgres_port + DELAY_PROXY_PORT_SHIFT
    direct = StackEndpoints.from_settings(settings).database_url.get_secret_value()
    with latency_proxy(port, settings.postgres_port, delay_ms):
        console.print(f"PostgreSQL for the services through :{port}, {delay_ms:g} ms each way")
        yield direct.replace(f":{settings.postgres_port}/", f":{port}/", 1)


def main(argv: Sequence[str] | None = None) -> None:
    parser = arg_parser(__doc__.splitlines()[0] if __doc__ else "pipeline benchmark")
    parser.add_argument("--rates", type=float, nargs="+", default=None)
    parser.add_argument("--step-seconds", type=float, default=None)
    parser.add_argument(
        "--database-delay-ms",
        type=float,
        default=0.0,
        help="hold each chunk between the services and PostgreSQL back this long each way "
        "(a database across a network: a round trip gains twice this)",
    )
    parser.add_argument(
        "--pipeline-only", action="store_true", help="skip the raw and durable chains"
    )
    args = parser.parse_args(argv)
    config = PipelineConfig.smoke() if args.smoke else PipelineConfig()
    if args.rates:
        config = PipelineConfig(**{**config.__dict__, "rates": tuple(args.rates)})
    if args.step_seconds:
        config = PipelineConfig(**{**config.__dict__, "step_seconds": args.step_seconds})

    def prepare(endpoints: Any) -> None:
        asyncio.run(skip_backlog(endpoints.kafka_bootstrap, STAGE_GROUPS))

    with contextlib.ExitStack() as stack:
        env = dict(PIPELINE_ENV)
        if args.database_delay_ms > 0:
            env["CALLSTREAM_DATABASE_URL"] = stack.enter_context(
                delayed_database(args.database_delay_ms)
            )
        target = stack.enter_context(
            bench_services(PIPELINE_SERVICES, env, keep=args.keep, prepare=prepare)
        )
        result = asyncio.run(run_pipeline_bench(target, config, chains=not args.pipeline_only))
    paths = save_results(
        "pipeline",
        result.to_dict() | {"database_delay_ms": args.database_delay_ms},
        charts(result),
    )
    console.print("saved " + ", ".join(str(p) for p in paths if "latest" not in p.name))


if __name__ == "__main__":
    main()
