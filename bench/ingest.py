"""Ingest benchmark: upload latency to the 202 and memory during a 1 GB streamed upload.

    python -m bench.ingest [--smoke] [--keep] [--uploads 200] [--concurrency 1 8 32]

1. Latency: raw-body uploads of a 5 MB WAV (``POST /v1/conversations``) at concurrency 1, 8
   and 32, timed from the first byte of the request to the 202's headers (httpcore's trace
   events). Baseline in the same run, at the same concurrencies: the bare PUT ingest itself
   sends for such an upload (:meth:`ObjectStore.put_streamed`: one PUT, minio's SigV4
   signer with ``UNSIGNED-PAYLOAD``, urllib3 through a pool of kept-alive connections as
   ingest's) of the same 5 MB, from memory as one block, each thread reusing its
   connection; the table prints the ratio. For reference the run also times minio's own
   ``put_object`` of the same bytes (which hashes the payload into its signature over
   plain HTTP). The run also reports the CPU each upload cost ingest and the object store
   (user + system time from /proc, steadier than latency on a shared machine).
2. Memory: one 1 GB upload streamed from a generator (chunked transfer encoding, so no
   length is known: ingest sends it as a multipart upload of 8 MiB parts) while the ingest
   process's VmRSS is sampled from /proc; it must stay flat. Baseline: the same stream put
   straight into the object store with minio's ``put_object`` (the same multipart upload).

Only ingest runs on the bench stack (no transcriber consuming the uploads), with
``CALLSTREAM_MAX_UPLOAD_BYTES`` raised above 1 GB. Everything the run stored is removed.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from bench.common import (
    REP_ID,
    WAV_HEADER_BYTES,
    Chart,
    MemorySampler,
    Series,
    Summary,
    Target,
    arg_parser,
    bearer,
    bench_services,
    console,
    fmt_mb,
    fmt_ms,
    fmt_ratio,
    pcm_tone,
    print_table,
    ratio,
    read_memory_kib,
    save_results,
    summarize,
    synth_wav,
    wav_header,
)
from bench.cpu import CpuMeter
from bench.ingest_baseline import (
    PHASE_TIMEOUT,
    _Reader,
    measure_bare_puts,
    remove_objects,
    s3_client,
)
from bench.ingest_phases import PHASES, upload_phases

MiB = 1024 * 1024
GiB = 1024 * MiB
#: Growth of the ingest process's RSS during the streamed upload still called "flat".
FLAT_LIMIT_BYTES = 100 * MiB


@dataclass(frozen=True)
class IngestConfig:
    upload_bytes: int = 5 * MiB
    uploads: int = 200
    concurrencies: tuple[int, ...] = (1, 8, 32)
    stream_bytes: int = GiB
    stream_chunk: int = 256 * 1024
    warmup: int = 4
    remove_uploads: bool = True
    """Remove what ingest stored (only where nothing consumes the uploads: the bench stack)."""

    @classmethod
    def smoke(cls) -> IngestConfig:
        return cls(
            upload_bytes=64 * 1024,
            uploads=2,
            concurrencies=(1, 2),
            stream_bytes=512 * 1024,
            stream_chunk=64 * 1024,
            warmup=1,
        )


@dataclass
class StreamResult:
    seconds: float
    bytes: int
    rss_before_kib: int
    rss_peak_kib: int
    hwm_before_kib: int
    hwm_after_kib: int
    baseline_seconds: float
    samples: list[tuple[float, int]] = field(default_factory=list)
    load_average: float | None = None

    @property
    def growth_bytes(self) -> int:
        return max(0, self.rss_peak_kib - self.rss_before_kib) * 1024

    @property
    def flat(self) -> bool:
        return self.growth_bytes < FLAT_LIMIT_BYTES


@dataclass
class LatencyRow:
    concurrency: int
    ingest: Summary
    baseline: Summary
    ingest_seconds: float
    baseline_seconds: float
    minio_put: Summary | None = None
    load_average: float | None = None
    """The 1-minute load average when the level finished (the machine is shared)."""
    phases: dict[str, float] = field(default_factory=dict)
    """p50 ms per phase inside ingest (:mod:`bench.ingest_phases`)."""
    cpu_ms: dict[str, float] = field(default_factory=dict)
    """CPU ms per upload or PUT (:class:`CpuMeter`): ingest's, and the object store's
    during ingest's uploads and during the bare PUTs."""


@dataclass
class IngestResult:
    config: IngestConfig
    latency: list[LatencyRow]
    stream: StreamResult | None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "config": self.config.__dict__,
            "latency": [
                {
                    "concurrency": r.concurrency,
                    "ingest_seconds": r.ingest.to_dict(),
                    "baseline_put_seconds": r.baseline.to_dict(),
                    "ingest_uploads_per_second": r.ingest.n / r.ingest_seconds,
                    "baseline_puts_per_second": r.baseline.n / r.baseline_seconds,
                    "ratio_p50": ratio(r.ingest.p50, r.baseline.p50),
                    "ratio_p95": ratio(r.ingest.p95, r.baseline.p95),
                    "ratio_p99": ratio(r.ingest.p99, r.baseline.p99),
                    "minio_put_object_seconds": r.minio_put.to_dict() if r.minio_put else None,
                    "load_average": r.load_average,
                    "phases_p50_ms": r.phases,
                    "cpu_ms_per_upload": r.cpu_ms,
                }
                for r in self.latency
            ],
        }
        if self.stream is not None:
            s = self.stream
            out["stream"] = {
                "bytes": s.bytes,
                "seconds": s.seconds,
                "baseline_put_seconds": s.baseline_seconds,
                "ratio": ratio(s.seconds, s.baseline_seconds),
                "rss_before_kib": s.rss_before_kib,
                "rss_peak_kib": s.rss_peak_kib,
                "rss_growth_bytes": s.growth_bytes,
                "vm_hwm_before_kib": s.hwm_before_kib,
                "vm_hwm_after_kib": s.hwm_after_kib,
                "flat": s.flat,
                "load_average": s.load_average,
                "rss_samples": s.samples,
            }
        return out


# --------------------------------------------------------------------------- uploads


class Uploader:
    """Raw-body uploads to ingest, each timed from its first byte sent to the 202."""

    def __init__(self, target: Target, concurrency: int) -> None:
        self.target = target
        self.client = httpx.AsyncClient(
            base_url=target.base_url,
            headers=bearer(target.token),
            timeout=httpx.Timeout(300.0, connect=10.0),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )
        self.ids: list[str] = []
        self.dates: set[date] = set()

    async def __aenter__(self) -> Uploader:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()

    async def upload(self, content: bytes | AsyncIterator[bytes]) -> float:
        marks: dict[str, float] = {}

        async def trace(event: str, info: dict[str, Any]) -> None:
            if event in (
                "http11.send_request_headers.started",
                "http11.receive_response_headers.complete",
            ):
                marks[event] = time.perf_counter()

        self.dates.add(datetime.now(UTC).date())
        started = time.perf_counter()
        response = await self.client.post(
            "/v1/conversations",
            params={"opportunity_name": "Bench upload", "rep_id": REP_ID, "title": "bench"},
            content=content,
            headers={"Content-Type": "audio/wav"},
            extensions={"trace": trace},
        )
        ended = time.perf_counter()
        self.dates.add(datetime.now(UTC).date())
        if response.status_code != 202:
            raise RuntimeError(f"upload answered {response.status_code}: {response.text[:300]}")
        self.ids.append(response.json()["id"])
        first = marks.get("http11.send_request_headers.started", started)
        accepted = marks.get("http11.receive_response_headers.complete", ended)
        return accepted - first

    def object_keys(self) -> list[str]:
        """Every key ingest may have used (``recordings/<UTC date>/<id>.wav``)."""
        days = {d + timedelta(days=k) for d in self.dates for k in (-1, 0)}
        return [f"recordings/{d:%Y/%m/%d}/{cid}.wav" for cid in self.ids for d in sorted(days)]


async def run_concurrently(count: int, concurrency: int, one: Any) -> tuple[list[float], float]:
    """Call ``await one()`` ``count`` times from ``concurrency`` workers; (durations, wall)."""
    durations: list[float] = []
    remaining = iter(range(count))

    async def worker() -> None:
        for _ in remaining:
            durations.append(await one())

    began = time.perf_counter()
    await asyncio.wait_for(
        asyncio.gather(*(worker() for _ in range(min(concurrency, count)))), PHASE_TIMEOUT
    )
    return durations, time.perf_counter() - began


async def measure_uploads(
    target: Target, body: bytes, concurrency: int, count: int, warmup: int, meter: CpuMeter
) -> tuple[list[float], float, list[str], tuple[float, float]]:
    """(durations, wall, keys stored, the measured uploads' window in Unix seconds);
    ``meter`` measures the CPU of the measured uploads."""
    async with Uploader(target, concurrency) as up:
        await run_concurrently(max(warmup, concurrency), concurrency, lambda: up.upload(body))
        since = time.time()
        with meter:
            durations, wall = await run_concurrently(count, concurrency, lambda: up.upload(body))
        return durations, wall, up.object_keys(), (since, time.time())


# --------------------------------------------------------------------------- 1 GB stream


def _stream_chunks(total: int, chunk: int) -> Iterator[bytes]:
    """A WAV of ``total`` bytes as a header and ``chunk``-sized blocks of one tone buffer."""
    data = total - WAV_HEADER_BYTES
    yield wav_header(data)
    block = pcm_tone(chunk)
    sent = 0
    while sent < data:
        n = min(chunk, data - sent)
        yield block if n == chunk else block[:n]
        sent += n


async def _astream(total: int, chunk: int) -> AsyncIterator[bytes]:
    for part in _stream_chunks(total, chunk):
        yield part


async def measure_stream(target: Target, config: IngestConfig) -> tuple[StreamResult, list[str]]:
    if target.ingest_pid is None:
        raise ValueError("the streamed upload needs the ingest PID to sample its memory")
    before = read_memory_kib(target.ingest_pid)
    async with Uploader(target, 1) as up:
        with MemorySampler(target.ingest_pid) as sampler:
            seconds = await asyncio.wait_for(
                up.upload(_astream(config.stream_bytes, config.stream_chunk)), PHASE_TIMEOUT
            )
        keys = up.object_keys()
    after = read_memory_kib(target.ingest_pid)

    def bare() -> tuple[float, str]:
        client = s3_client(target.endpoints, 1)
        key = f"bench/baseline/stream-{uuid.uuid4()}.wav"
        t0 = time.perf_counter()
        client.put_object(
            target.endpoints.s3_bucket,
            key,
            _Reader(_stream_chunks(config.stream_bytes, config.stream_chunk)),  # type: ignore[arg-type]
            length=-1,
            part_size=8 * MiB,
            content_type="audio/wav",
        )
        return time.perf_counter() - t0, key

    baseline_seconds, baseline_key = await asyncio.to_thread(bare)
    result = StreamResult(
        seconds=seconds,
        bytes=config.stream_bytes,
        rss_before_kib=before["VmRSS"],
        rss_peak_kib=max(sampler.peak_kib, before["VmRSS"]),
        hwm_before_kib=before["VmHWM"],
        hwm_after_kib=after["VmHWM"],
        baseline_seconds=baseline_seconds,
        samples=sampler.samples,
        load_average=os.getloadavg()[0],
    )
    return result, [*keys, baseline_key]


# --------------------------------------------------------------------------- the benchmark


async def run_ingest_bench(target: Target, config: IngestConfig) -> IngestResult:
    """Measure (stream first, so VmHWM is not raised by the concurrent phases), print the
    tables and return the numbers."""
    body = synth_wav(config.upload_bytes)
    stored: list[str] = []
    baseline_keys: list[str] = []
    stream: StreamResult | None = None
    rows: list[LatencyRow] = []
    windows: list[tuple[float, float]] = []
    try:
        async with Uploader(target, 1) as up:  # warm-up: connections, auth cache, JIT-free paths
            for _ in range(config.warmup):
                await up.upload(body)
            stored += up.object_keys()
        if target.ingest_pid is not None:
            console.print(f"streaming {fmt_mb(config.stream_bytes)} through ingest …")
            stream, keys = await measure_stream(target, config)
            stored += keys[:-1]
            baseline_keys += keys[-1:]
        for c in config.concurrencies:
            console.print(f"concurrency {c}: {config.uploads} uploads + {config.uploads} bare PUTs")
            meter = CpuMeter({"ingest": target.ingest_pid, "store": target.store_pid}, client=False)
            durations, wall, keys, window = await measure_uploads(
                target, body, c, config.uploads, config.warmup, meter
            )
            windows.append(window)
            stored += keys
            bare_meter = CpuMeter({"store": target.store_pid}, client=False)
            base, base_wall, bkeys = await asyncio.to_thread(
                measure_bare_puts,
                target.endpoints,
                body,
                c,
                config.uploads,
                config.warmup,
                around=bare_meter,
            )
            minio_put, _, mkeys = await asyncio.to_thread(
                measure_bare_puts, target.endpoints, body, c, config.uploads, config.warmup, True
            )
            baseline_keys += bkeys + mkeys
            rows.append(
                LatencyRow(
                    c,
                    summarize(durations),
                    summarize(base),
                    wall,
                    base_wall,
                    summarize(minio_put),
                    os.getloadavg()[0],
                    cpu_ms={
                        **{
                            f"{n} (uploads)": 1000 * t / len(durations)
                            for n, t in meter.used.items()
                        },
                        **{
                            f"{n} (bare PUTs)": 1000 * t / len(base)
                            for n, t in bare_meter.used.items()
                        },
                    },
                )
            )
    finally:
        await asyncio.to_thread(
            remove_objects,
            target.endpoints,
            baseline_keys + (stored if config.remove_uploads else []),
        )
        for row, (since, until) in zip(rows, windows, strict=True):
            row.phases = await asyncio.to_thread(
                upload_phases, target.endpoints.zipkin_url, since, until, config.uploads
            )
    result = IngestResult(config, rows, stream)
    print_ingest_tables(result)
    return result


def print_ingest_tables(result: IngestResult) -> None:
    size = fmt_mb(result.config.upload_bytes)
    print_table(
        f"Ingest: first byte → 202 for a {size} WAV (raw body) vs bare S3 PUT of the same bytes",
        [
            "concurrency",
            "n",
            "ingest p50",
            "p99",
            "bare PUT p50",
            "p99",
            "ratio p50",
            "ratio p99",
            "ingest MB/s",
            "PUT MB/s",
            "minio put_object p50",
            "load",
        ],
        [
            (
                r.concurrency,
                r.ingest.n,
                fmt_ms(r.ingest.p50),
                fmt_ms(r.ingest.p99),
                fmt_ms(r.baseline.p50),
                fmt_ms(r.baseline.p99),
                fmt_ratio(ratio(r.ingest.p50, r.baseline.p50)),
                fmt_ratio(ratio(r.ingest.p99, r.baseline.p99)),
                f"{r.ingest.n * result.config.upload_bytes / MiB / r.ingest_seconds:,.0f}",
                f"{r.baseline.n * result.config.upload_bytes / MiB / r.baseline_seconds:,.0f}",
                fmt_ms(r.minio_put.p50) if r.minio_put else "—",
                f"{r.load_average:.1f}" if r.load_average is not None else "—",
            )
            for r in result.latency
        ],
    )
    if any(r.phases for r in result.latency):
        print_table(
            "Inside ingest: p50 ms per phase of the measured uploads (their spans in Zipkin)",
            ["concurrency", "traces", *PHASES],
            [
                (
                    r.concurrency,
                    int(r.phases.get("traces", 0)),
                    *(f"{r.phases[p]:,.1f}" if p in r.phases else "—" for p in PHASES),
                )
                for r in result.latency
            ],
        )
    if any(r.cpu_ms for r in result.latency):
        names = sorted({n for r in result.latency for n in r.cpu_ms})
        print_table(
            "CPU ms per upload (user + system, over the measured uploads or bare PUTs)",
            ["concurrency", *names],
            [
                (r.concurrency, *(f"{r.cpu_ms[n]:,.1f}" if n in r.cpu_ms else "—" for n in names))
                for r in result.latency
            ],
        )
    s = result.stream
    if s is not None:
        print_table(
            f"Ingest: one {fmt_mb(s.bytes)} streamed upload (chunked, from a generator)",
            ["measure", "value"],
            [
                ("time to 202", f"{s.seconds:,.1f} s ({s.bytes / MiB / s.seconds:,.0f} MB/s)"),
                (
                    "bare S3 PUT of the same stream",
                    f"{s.baseline_seconds:,.1f} s ({s.bytes / MiB / s.baseline_seconds:,.0f} MB/s)",
                ),
                ("ratio", fmt_ratio(ratio(s.seconds, s.baseline_seconds))),
                ("load average (1 min)", f"{s.load_average:.1f}" if s.load_average else "—"),
                ("ingest VmRSS before", fmt_mb(s.rss_before_kib * 1024)),
                (
                    f"ingest VmRSS peak ({len(s.samples)} samples)",
                    fmt_mb(s.rss_peak_kib * 1024),
                ),
                ("RSS growth", fmt_mb(s.growth_bytes)),
                (
                    "ingest VmHWM before → after",
                    f"{fmt_mb(s.hwm_before_kib * 1024)} → {fmt_mb(s.hwm_after_kib * 1024)}",
                ),
                (
                    "verdict",
                    f"flat (growth < {fmt_mb(FLAT_LIMIT_BYTES)})"
                    if s.flat
                    else f"NOT flat (growth ≥ {fmt_mb(FLAT_LIMIT_BYTES)})",
                ),
            ],
        )


def charts(result: IngestResult) -> list[Chart]:
    xs = [float(r.concurrency) for r in result.latency]
    out = [
        Chart(
            "first byte → 202 (p50 / p99)",
            "concurrency",
            "ms",
            [
                Series("ingest p50", xs, [r.ingest.p50 * 1000 for r in result.latency]),
                Series("ingest p99", xs, [r.ingest.p99 * 1000 for r in result.latency]),
                Series("bare PUT p50", xs, [r.baseline.p50 * 1000 for r in result.latency]),
                Series("bare PUT p99", xs, [r.baseline.p99 * 1000 for r in result.latency]),
            ],
            log_x=True,
            log_y=True,
        )
    ]
    if result.stream is not None and result.stream.samples:
        samples = result.stream.samples
        out.append(
            Chart(
                f"ingest RSS during a {fmt_mb(result.stream.bytes)} upload",
                "seconds",
                "VmRSS (MB)",
                [Series("VmRSS", [t for t, _ in samples], [kib / 1024 for _, kib in samples])],
            )
        )
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = arg_parser(__doc__.splitlines()[0] if __doc__ else "ingest benchmark")
    parser.add_argument("--uploads", type=int, default=None, help="uploads per concurrency")
    parser.add_argument("--concurrency", type=int, nargs="+", default=None)
    parser.add_argument("--stream-mb", type=int, default=None, help="size of the streamed upload")
    args = parser.parse_args(argv)
    config = IngestConfig.smoke() if args.smoke else IngestConfig()
    if args.uploads:
        config = IngestConfig(**{**config.__dict__, "uploads": args.uploads})
    if args.concurrency:
        config = IngestConfig(**{**config.__dict__, "concurrencies": tuple(args.concurrency)})
    if args.stream_mb:
        config = IngestConfig(**{**config.__dict__, "stream_bytes": args.stream_mb * MiB})
    limit = max(2 * GiB, config.stream_bytes + 64 * MiB)
    env = {"CALLSTREAM_MAX_UPLOAD_BYTES": str(limit)}
    with bench_services(["ingest"], env, keep=args.keep) as target:
        result = asyncio.run(run_ingest_bench(target, config))
    paths = save_results("ingest", result.to_dict(), charts(result))
    console.print("saved " + ", ".join(str(p) for p in paths if "latest" not in p.name))


if __name__ == "__main__":
    main()
