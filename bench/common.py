"""What every benchmark shares: statistics, tables, results on disk, test audio, memory
sampling, and the bench stack (its own ports and folder) with the services on it.

Benchmarks are commands that print tables; each also saves its numbers as JSON and a chart
as PNG under ``bench/results/`` (git-ignored). They are not timed tests: the test suite runs
only their core functions at a tiny size (``tests/integration/test_bench_smoke.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import math
import os
import re
import sys
import threading
import time
import uuid
import wave
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from callstream_cli.stack.endpoints import StackEndpoints
from callstream_cli.stack.settings import StackSettings, project_root

ROOT = project_root()
RESULTS_DIR = ROOT / "bench" / "results"
BENCH_STACK_DIR = ROOT / ".local" / "bench-stack"
#: Where the bench stack's ingest listens (outside the dev 8000 and the tests' 28000).
BENCH_INGEST_PORT = 31800


def bench_port_offset() -> int:
    """``CALLSTREAM_BENCH_PORT_OFFSET`` shifts every port of the bench stack and its folder,
    so that benchmarks of two checkouts can run on one machine."""
    return int(os.environ.get("CALLSTREAM_BENCH_PORT_OFFSET", "0"))


def bench_ingest_port() -> int:
    return BENCH_INGEST_PORT + bench_port_offset()


REP_ID = "rep-bench"
MAX_REPLICAS = 8
"""Instances of one service a benchmark may start (all stopped before a new run)."""

console = Console(width=None if sys.stdout.isatty() else 160)


# --------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation between closest ranks.

    The same definition as numpy's default (``method="linear"``): rank ``q/100 * (n-1)``.
    """
    if not values:
        raise ValueError("percentile of an empty sequence")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Summary:
    """Count and distribution of a sample of durations (seconds) or any other quantity."""

    n: int
    mean: float
    p50: float
    p95: float
    p99: float
    min: float
    max: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def summarize(values: Sequence[float]) -> Summary:
    if not values:
        raise ValueError("cannot summarise an empty sample")
    return Summary(
        n=len(values),
        mean=sum(values) / len(values),
        p50=percentile(values, 50),
        p95=percentile(values, 95),
        p99=percentile(values, 99),
        min=min(values),
        max=max(values),
    )


def ratio(value: float, baseline: float) -> float | None:
    """``value / baseline``, or None when the baseline is zero or negative."""
    return value / baseline if baseline > 0 else None


def fmt_ms(seconds: float | None) -> str:
    """Seconds as milliseconds, with precision that suits the magnitude."""
    if seconds is None or math.isnan(seconds):
        return "-"
    ms = seconds * 1000
    if ms < 10:
        return f"{ms:.2f} ms"
    if ms < 1000:
        return f"{ms:.1f} ms"
    return f"{ms:,.0f} ms"


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"x{value:.2f}"


def fmt_mb(n_bytes: float) -> str:
    return f"{n_bytes / 1024 / 1024:,.1f} MB"


# --------------------------------------------------------------------------- output


def print_table(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[object]], caption: str = ""
) -> Table:
    """Print a table (first column left-aligned, the others right-aligned) and return it."""
    table = Table(title=title, caption=caption or None, title_justify="left")
    for n, name in enumerate(columns):
        table.add_column(name, justify="left" if n == 0 else "right", no_wrap=n != 0)
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    console.print(table)
    return table


@dataclass
class Series:
    label: str
    x: list[float]
    y: list[float]
    dashed: bool = False
    """A reference line (e.g. the offered rate) rather than a measurement."""


@dataclass
class Chart:
    """One panel of a results figure: lines with markers, one per series."""

    title: str
    xlabel: str
    ylabel: str
    series: list[Series] = field(default_factory=list)
    log_x: bool = False
    log_y: bool = False


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "bench"


def save_results(
    name: str, payload: dict[str, Any], charts: Sequence[Chart] = (), directory: Path | None = None
) -> list[Path]:
    """Write ``<name>-<UTC timestamp>.json`` (and ``.png`` if there are charts) and also
    ``<name>-latest.*`` copies; return the paths written."""
    directory = directory or RESULTS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = _slug(name)
    document = {"benchmark": name, "created_at": datetime.now(UTC).isoformat(), **payload}
    text = json.dumps(document, indent=2, default=_json_default)
    written: list[Path] = []
    for suffix in (stamp, "latest"):
        path = directory / f"{base}-{suffix}.json"
        path.write_text(text + "\n")
        written.append(path)
    if charts:
        png = render_charts(name, charts)
        for suffix in (stamp, "latest"):
            path = directory / f"{base}-{suffix}.png"
            path.write_bytes(png)
            written.append(path)
    return written


def _json_default(value: object) -> object:
    if isinstance(value, Summary):
        return value.to_dict()
    if isinstance(value, Path | uuid.UUID | datetime):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def render_charts(title: str, charts: Sequence[Chart]) -> bytes:
    """The charts side by side in one PNG (matplotlib's non-interactive Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, axes = plt.subplots(1, len(charts), figsize=(6.4 * len(charts), 4.6), squeeze=False)
    for ax, chart in zip(axes[0], charts, strict=True):
        for s in chart.series:
            if s.dashed:
                ax.plot(s.x, s.y, linestyle="--", color="grey", label=s.label)
            else:
                ax.plot(s.x, s.y, marker="o" if len(s.x) <= 50 else None, label=s.label)
        ax.set_title(chart.title)
        ax.set_xlabel(chart.xlabel)
        ax.set_ylabel(chart.ylabel)
        if chart.log_x:
            ax.set_xscale("log", base=2)
        if chart.log_y:
            ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        if chart.series:
            ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


# --------------------------------------------------------------------------- test audio

SAMPLE_RATE = 16_000
WAV_HEADER_BYTES = 44


def wav_header(data_bytes: int, sample_rate: int = SAMPLE_RATE) -> bytes:
    """The 44-byte RIFF/WAVE header of 16-bit mono PCM with ``data_bytes`` of samples."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.setnframes(data_bytes // 2)
        w.writeframes(b"")
    header = bytearray(buf.getvalue()[:WAV_HEADER_BYTES])
    # wave writes the sizes of what it was given (nothing); patch in the announced sizes.
    header[4:8] = (36 + data_bytes).to_bytes(4, "little")
    header[40:44] = data_bytes.to_bytes(4, "little")
    return bytes(header)


def pcm_tone(n_bytes: int, sample_rate: int = SAMPLE_RATE) -> bytes:
    """16-bit mono PCM: a second of 440 Hz tone, then a second of silence, repeated."""
    import numpy as np

    frames = n_bytes // 2
    t = np.arange(frames) / sample_rate
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    tone[(t.astype(np.int64) % 2) == 1] = 0.0
    pcm = (tone * 32767).astype("<i2").tobytes()
    return pcm + b"\0" * (n_bytes - len(pcm))


def synth_wav(total_bytes: int, sample_rate: int = SAMPLE_RATE) -> bytes:
    """A valid WAV file of exactly ``total_bytes`` (tone and silence)."""
    data = total_bytes - WAV_HEADER_BYTES
    if data < 2 or data % 2:
        raise ValueError("a 16-bit WAV needs an even, positive number of data bytes")
    return wav_header(data, sample_rate) + pcm_tone(data, sample_rate)


# --------------------------------------------------------------------------- memory


def read_memory_kib(pid: int) -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` (peak RSS) of a process, in KiB, from /proc/<pid>/status."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class MemorySampler:
    """Samples a process's RSS on a background thread every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        t0 = time.monotonic()
        while not self._stop.is_set():
            try:
                rss = read_memory_kib(self.pid)["VmRSS"]
            except (OSError, KeyError):
                return
            self.samples.append((time.monotonic() - t0, rss))
            self._stop.wait(self.interval)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    @property
    def peak_kib(self) -> int:
        return max((rss for _, rss in self.samples), default=0)


# --------------------------------------------------------------------------- the bench stack


def bench_stack_settings(stack_dir: Path | None = None) -> StackSettings:
    """The bench stack: its own folder and ports (31xxx, below the kernel's ephemeral range
    32768+), so it runs beside a developer's stack (1xxxx) and the test stack (2xxxx).

    SeaweedFS binds its admin gRPC port to admin HTTP + 10000 whatever it is told, so the admin
    port is 22346 (gRPC 32346): the dev stack uses 17346/27346 and the tests 28446/38446.
    """
    off = bench_port_offset()
    folder = BENCH_STACK_DIR if off == 0 else BENCH_STACK_DIR.with_name(f"bench-stack{off:+d}")
    ports = {
        "kafka_port": 31092,
        "kafka_controller_port": 31093,
        "postgres_port": 31432,
        "s3_port": 31333,
        "weed_s3_grpc_port": 31334,
        "weed_master_port": 31330,
        "weed_master_grpc_port": 31331,
        "weed_volume_port": 31340,
        "weed_volume_grpc_port": 31341,
        "weed_filer_port": 31388,
        "weed_filer_grpc_port": 31389,
        "weed_admin_port": 22346,
        "redis_port": 31379,
        "zipkin_port": 31411,
    }
    return StackSettings.model_validate(
        {
            "stack_dir": stack_dir or folder,
            "s3_secret_key": SecretStr("callstream-bench-secret"),
            **{k: v + off for k, v in ports.items()},
        }
    )


async def create_admin_token(database_url: str, name: str = "bench-admin") -> str:
    """A new admin credential (one per run; only its hash is stored)."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from callstream_common.credentials import create_credential
    from callstream_common.db.engine import make_sessionmaker
    from callstream_common.db.models import Role

    engine = create_async_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            return await create_credential(
                session, f"{name}-{uuid.uuid4().hex[:8]}", Role.ADMIN, rep_id=REP_ID
            )
    finally:
        await engine.dispose()


def bearer(token: str) -> dict[str, str]:
    """The header a request to the API carries its credential in."""
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Target:
    """Where a benchmark sends its load: the API, a token, the stack, the ingest PID (and
    the object store's, when the stack is the bench's own)."""

    base_url: str
    token: str
    endpoints: StackEndpoints
    ingest_pid: int | None = None
    store_pid: int | None = None


@contextmanager
def bench_services(
    names: Sequence[str],
    extra_env: dict[str, str],
    keep: bool = False,
    prepare: Callable[[StackEndpoints], None] | None = None,
    replicas: tuple[tuple[str, int], ...] = (),
    stop_stack: bool = True,
) -> Iterator[Target]:
    """Bring up the bench stack and (re)start ``names`` on it with ``extra_env`` (and the
    extra instances ``replicas`` asks for, see ``ServiceSet.replicas``).

    Services of an earlier run (replicas included) are stopped first so that the
    environment given here applies; ``prepare`` runs once the stack is up and before the
    services start. On exit the services and (if ``stop_stack``) the stack are stopped,
    unless ``keep``.
    """
    from callstream_cli.services import ServiceSet
    from callstream_cli.stack import manager
    from callstream_cli.stack.seaweed import SeaweedS3
    from callstream_common.db.migrate import upgrade
    from callstream_common.topics import all_topics

    settings = bench_stack_settings()
    began = time.monotonic()
    console.print(f"[bold]bench stack[/] in {settings.stack_dir} (Kafka :{settings.kafka_port})")
    endpoints = manager.up(settings, all_topics())
    try:
        upgrade(endpoints.database_url.get_secret_value())
        token = asyncio.run(create_admin_token(endpoints.database_url.get_secret_value()))
        if names:
            ServiceSet(
                settings=settings,
                ingest_port=bench_ingest_port(),
                replicas=tuple((n, MAX_REPLICAS) for n in names),
            ).down()
        if prepare is not None:
            prepare(endpoints)
        services = ServiceSet(
            settings=settings,
            ingest_port=bench_ingest_port(),
            extra_env=tuple(extra_env.items()),
            names=tuple(names),
            replicas=replicas,
        )
        try:
            if names:
                services.up(timeout=240)
                console.print(
                    f"services {', '.join(names)} up at {services.base_url} "
                    f"({time.monotonic() - began:.0f}s)"
                )
            pid = services.process("ingest").pid() if "ingest" in names else None
            store = SeaweedS3(settings).tracked_process().pid()
            yield Target(services.base_url, token, endpoints, pid, store)
        finally:
            if not keep:
                services.down()
    finally:
        if not keep and stop_stack:
            manager.down(settings)
            console.print("bench stack stopped")
        elif keep:
            console.print(
                f"[yellow]--keep[/]: bench stack and services left running in {settings.stack_dir}"
            )


def arg_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--smoke", action="store_true", help="a tiny run (seconds)")
    parser.add_argument(
        "--keep", action="store_true", help="leave the bench stack and services running"
    )
    return parser
