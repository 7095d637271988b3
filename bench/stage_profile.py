"""Where a record's time goes in each stage, with instant models (the cheap path).

    python -m bench.stage_profile [--smoke] [--keep] [--rate 4] [--seconds 30]

The pipeline services run on the bench stack as in ``bench.pipeline`` (``instant``
transcriber and analyzer). Calls are uploaded at a steady rate; meanwhile ``py-spy``
samples every service process (all threads, without pausing them) and ``/proc`` gives
each process's CPU time. Per service the table shows CPU milliseconds per call and how
the samples split over what the code was doing: the database (SQLAlchemy, asyncpg),
Kafka (aiokafka, FastStream), the object store, telemetry, logging, pydantic, HTTP
serving, our own code, and the event loop itself. A sample is put under the innermost
frame that belongs to one of those. There is no baseline in the run: compare two commits'
runs (the README gives the figures before and after the cheap-path changes).

The servers the calls go through (Kafka, PostgreSQL with every backend, the object store,
Redis, Zipkin) and the benchmark's own client are measured the same way, so the table ends
with the CPU one call costs the machine as a whole and the rate that allows at most with
every core busy — and with our services costing nothing, the bound the servers alone set.
What each process spends in a quiet window before the load (a JVM's collector, polls,
exporters) is subtracted first.

Shares count the samples of threads at work: a thread waiting (event loop in ``epoll``, a
pool thread waiting for work) is idle, and a sample without Python frames (native code,
or one the sampler could not read without pausing the process) is counted apart.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import (
    arg_parser,
    bench_services,
    console,
    print_table,
    save_results,
)
from bench.cpu import BENCH_CLIENT, CpuMeter, infrastructure_pids
from bench.pipeline import (
    PIPELINE_ENV,
    PIPELINE_SERVICES,
    STAGE_GROUPS,
    Call,
    PipelineConfig,
    PipelineDriver,
    open_loop,
    service_pids,
    skip_backlog,
)

#: Innermost match wins; generic frames (asyncio, threading) only when nothing else does.
CATEGORIES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        ("telemetry", r"opentelemetry"),
        ("logging", r"/logging/|python_json_logger|callstream_common/logs"),
        ("metrics", r"prometheus_client|callstream_common/metrics"),
        ("database", r"sqlalchemy|asyncpg"),
        ("kafka", r"aiokafka|faststream"),
        ("object store", r"botocore|boto3|s3transfer|urllib3|minio"),
        ("pydantic", r"pydantic"),
        ("http serving", r"uvicorn|starlette|fastapi|h11|httptools|anyio"),
        ("our code", r"callstream_(?!.*__main__)"),
    )
)
GENERIC = (("event loop", re.compile(r"asyncio|selectors|uvloop")),)
#: A sample whose innermost frame is one of these is a thread waiting, not working.
IDLE = re.compile(
    r"^(EpollSelector\.select|Condition\.wait|Event\.wait|Queue\.get|_worker|"
    r"select|poll|sleep|SimpleQueue\.get)\b"
)


def categorize(stack: str) -> str:
    """The category of one collapsed stack (``thread;root;...;leaf``): ``idle`` for a
    waiting thread, ``no Python frame`` when the sampler saw none (native code)."""
    thread, *frames = stack.split(";")
    if not frames:
        return "no Python frame"
    if IDLE.match(frames[-1]):
        return "idle"
    if "Otel" in thread:
        return "telemetry"  # the span exporter's thread, whatever HTTP client it uses
    for frame in reversed(frames):
        for name, pattern in CATEGORIES:
            if pattern.search(frame):
                return name
    for frame in reversed(frames):
        for name, pattern in GENERIC:
            if pattern.search(frame):
                return name
    return "other"


def read_collapsed(path: Path) -> Counter[str]:
    shares: Counter[str] = Counter()
    if not path.exists():
        return shares
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            shares[categorize(stack)] += int(count)
    return shares


def top_frames(path: Path, ours: str = "callstream_", n: int = 8) -> list[tuple[str, int]]:
    """Our own functions with the most samples beneath them (where to look first)."""
    below: Counter[str] = Counter()
    if not path.exists():
        return []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        seen = {
            f.split(" (")[0] + " (" + f.split("(")[-1].split(":")[0].split("/")[-1] + ")"
            for f in stack.split(";")
            if ours in f
        }
        for frame in seen:
            below[frame] += int(count)
    return below.most_common(n)


IDLE_SECONDS = 10.0
"""The quiet window before the load: what each process spends with no call (a JVM's
collector, the consumers' polls, the exporters) is subtracted from the loaded window."""


def cpu_ceiling(per_call: dict[str, float], servers: list[str], cores: int) -> dict[str, Any]:
    """What the measured CPU per call allows on this machine at most, every core busy.

    ``per_call`` is CPU milliseconds per completed call of each process group (services,
    ``servers``, the bench client). Whatever our services are made to cost, the servers'
    own share bounds the rate: ``cores * 1000 / servers' ms`` calls/s.
    """
    ours = sum(ms for name, ms in per_call.items() if name not in servers and name != BENCH_CLIENT)
    theirs = sum(per_call.get(name, 0.0) for name in servers)
    client = per_call.get(BENCH_CLIENT, 0.0)
    total = ours + theirs + client

    def rate(ms: float) -> float | None:
        return round(cores * 1000 / ms, 1) if ms > 0 else None

    return {
        "cores": cores,
        "cpu_ms_per_call": {name: round(ms, 2) for name, ms in per_call.items()},
        "services_ms": round(ours, 2),
        "servers_ms": round(theirs, 2),
        "client_ms": round(client, 2),
        "total_ms": round(total, 2),
        "calls_per_second_at_most": rate(total),
        "calls_per_second_at_most_with_free_services": rate(theirs + client),
    }


def load_average() -> float:
    return os.getloadavg()[0]


async def steady_load(driver: PipelineDriver, rate: float, seconds: float) -> list[Call]:
    count = max(1, int(rate * seconds))
    calls = [Call(started=0.0) for _ in range(count)]

    async def one(i: int) -> None:
        calls[i].started = time.time()
        await driver.upload(calls[i])

    await open_loop(rate, count, one, driver.config.max_in_flight)
    await driver.wait_done(calls, time.monotonic() + driver.config.drain_timeout)
    return calls


def start_spies(
    py_spy: str, pids: dict[str, int], seconds: float, out_dir: Path
) -> list[subprocess.Popen[bytes]]:
    """One sampling profiler per service process, writing collapsed stacks."""
    return [
        subprocess.Popen(
            [
                py_spy,
                "record",
                "--pid",
                str(pid),
                "--nonblocking",
                "--threads",
                "--format",
                "raw",
                "--rate",
                "100",
                "--duration",
                str(int(seconds)),
                "--output",
                str(out_dir / f"{name}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in pids.items()
    ]


def run_profile(target: Any, rate: float, seconds: float, out_dir: Path) -> dict[str, Any]:
    pids = service_pids()
    servers = infrastructure_pids()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    config = PipelineConfig()
    driver = PipelineDriver(target, config)

    meter = CpuMeter(pids | servers)

    async def warm_then_measure() -> tuple[list[Call], dict[str, float]]:
        await steady_load(driver, 2, 3)
        await asyncio.sleep(2)
        await meter.measure_idle(IDLE_SECONDS)
        meter.start()
        spies = start_spies(py_spy, pids, seconds + 5, out_dir)
        calls = await steady_load(driver, rate, seconds)
        busy = meter.busy()
        for spy in spies:
            await asyncio.to_thread(spy.wait)
        await driver.aclose()
        return calls, busy

    load = load_average()
    calls, busy = asyncio.run(warm_then_measure())
    completed = sum(1 for c in calls if c.status == "completed")
    result: dict[str, Any] = {
        "rate": rate,
        "seconds": seconds,
        "calls": len(calls),
        "completed": completed,
        "load_average": load,
        "services": {},
    }
    per_call = {name: max(0.0, 1000 * cpu / max(1, completed)) for name, cpu in busy.items()}
    result["idle_cpu_ms_per_second"] = {
        name: round(1000 * cpu, 2) for name, cpu in meter.idle_per_second.items()
    }
    result["ceiling"] = cpu_ceiling(per_call, list(servers), os.cpu_count() or 1)
    for name in (n for n in busy if n in pids):
        shares = read_collapsed(out_dir / f"{name}.txt")
        waiting = shares.pop("idle", 0)
        unseen = shares.pop("no Python frame", 0)
        total = sum(shares.values()) or 1
        result["services"][name] = {
            "cpu_ms_per_call": per_call[name],
            "samples": total,
            "idle_samples": waiting,
            "samples_without_python_frames": unseen,
            "shares": {k: v / total for k, v in shares.most_common()},
            "our_hot_functions": top_frames(out_dir / f"{name}.txt"),
        }
    return result


def print_profile(result: dict[str, Any]) -> None:
    names = list(result["services"])
    categories = [n for n, _ in CATEGORIES] + ["event loop", "other"]
    rows = [["CPU ms / call", *(f"{result['services'][n]['cpu_ms_per_call']:.1f}" for n in names)]]
    for category in categories:
        cells = [f"{100 * result['services'][n]['shares'].get(category, 0):.0f}%" for n in names]
        if any(c != "0%" for c in cells):
            rows.append([category, *cells])
    print_table(
        f"Where the time goes: {result['completed']}/{result['calls']} calls at "
        f"{result['rate']}/s, load average {result['load_average']:.1f}",
        ["", *names],
        rows,
    )
    ceiling = result["ceiling"]
    servers = [n for n in ceiling["cpu_ms_per_call"] if n not in names and n != BENCH_CLIENT]
    print_table(
        f"CPU per call, every process ({ceiling['cores']} cores)",
        ["process", "CPU ms / call"],
        [[n, f"{ceiling['cpu_ms_per_call'][n]:.1f}"] for n in [*names, *servers, BENCH_CLIENT]]
        + [
            ["our services", f"{ceiling['services_ms']:.1f}"],
            [
                "servers (Kafka, PostgreSQL, object store, Redis, Zipkin)",
                f"{ceiling['servers_ms']:.1f}",
            ],
            ["all", f"{ceiling['total_ms']:.1f}"],
            ["calls/s at most, every core busy", f"{ceiling['calls_per_second_at_most']}"],
            [
                "calls/s at most if our services cost nothing",
                f"{ceiling['calls_per_second_at_most_with_free_services']}",
            ],
        ],
    )
    for name in names:
        hot = ", ".join(f"{f} {c}" for f, c in result["services"][name]["our_hot_functions"][:5])
        console.print(f"[bold]{name}[/] own code under: {hot}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = arg_parser(__doc__.splitlines()[0] if __doc__ else "stage profile")
    parser.add_argument("--rate", type=float, default=4.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument(
        "--samples", type=Path, default=None, help="keep py-spy's raw stacks in this folder"
    )
    args = parser.parse_args(argv)
    rate, seconds = (2.0, 3.0) if args.smoke else (args.rate, args.seconds)

    def prepare(endpoints: Any) -> None:
        asyncio.run(skip_backlog(endpoints.kafka_bootstrap, STAGE_GROUPS))

    with (
        tempfile.TemporaryDirectory(prefix="stage-profile-") as tmp,
        bench_services(PIPELINE_SERVICES, PIPELINE_ENV, keep=args.keep, prepare=prepare) as target,
    ):
        out_dir = args.samples or Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        result = run_profile(target, rate, seconds, out_dir)
        print_profile(result)
    paths = save_results("stage_profile", result, [])
    console.print("saved " + ", ".join(str(p) for p in paths if "latest" not in p.name))


if __name__ == "__main__":
    main()
