"""A long call split across transcribers: upload → scorecard of one long recording with 1
and 2 transcriber instances (one CPU thread each), and a projection for more machines.

    python -m bench.long_call [--smoke] [--keep] [--minutes 120] [--instances 1 2]
                              [--chunk-seconds 300] [--threshold-seconds 600] [--no-baseline]

The recording is a synthesized dialogue (the eval scripts spoken by espeak-ng, a few minutes)
repeated by ffmpeg to ``--minutes`` and encoded as MP3 like a real upload (cached under
``bench/results/cache/long_call/``; nothing is downloaded). Ingest, the transcriber
(built-in Whisper tiny.en, ``CALLSTREAM_TRANSCRIBER_CPU_THREADS=1`` and
``CALLSTREAM_STAGE_CONCURRENCY=1``: an instance is one thread on one record at a time, otherwise
it would take as many chunks at once as the machine has cores), the analyzer (``instant``,
so that the figure is the transcription's) and the notifier run on the bench stack.

Each configuration restarts the services and uploads the recording once:

* **baseline** (same run): the whole-call path of one instance (threshold 0, today's
  behaviour: one process decodes the call chunk after chunk);
* **split, N instances**: the call is cut at pauses into ``--chunk-seconds`` chunks on the
  chunk topic, taken by N transcriber processes of one consumer group.

Reported per configuration: upload → ``completed`` wall time, the split time, per-chunk
transcription time (from the ``transcript_chunks`` rows), each transcriber's peak RSS
(``VmHWM``) and CPU seconds, and the load average before and after (the machine is shared:
read the wall times with it). The projection for N machines (one instance each) is
``split + ceil(chunks / N) x mean chunk time + the rest of the 1-instance run`` (upload,
assembly, analysis, notification), measured, not fitted.
"""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from bench.common import (
    REP_ID,
    RESULTS_DIR,
    Chart,
    Series,
    Target,
    arg_parser,
    bearer,
    bench_ingest_port,
    bench_services,
    bench_stack_settings,
    console,
    cpu_seconds,
    fmt_mb,
    print_table,
    read_memory_kib,
    save_results,
)

CACHE_DIR = RESULTS_DIR / "cache" / "long_call"
SERVICES = ("ingest", "transcriber", "analyzer", "notifier")
SPEED_WPM = 160
BASE_MINUTES = 4.0
"""Length of the synthesized dialogue that is repeated to the recording's length."""
PROJECTED_MACHINES = (1, 2, 4, 8, 16, 32)


@dataclass
class Run:
    label: str
    instances: int
    split: bool
    status: str = "not run"
    wall_seconds: float | None = None
    accept_seconds: float | None = None
    audio_seconds: float | None = None
    split_seconds: float | None = None
    chunks: int = 0
    chunk_seconds: list[float] = field(default_factory=list)
    """Transcription time of each chunk (its transcriber's own measure)."""
    peak_rss_kib: list[int] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def rtf(self) -> float | None:
        if self.wall_seconds is None or not self.audio_seconds:
            return None
        return self.wall_seconds / self.audio_seconds


# --------------------------------------------------------------------------- audio


def recording(minutes: float) -> Path:
    """``minutes`` of speech as MP3: a synthesized dialogue looped by ffmpeg (cached)."""
    from eval.generate import SYNTH_VERSION, content_hash, stitched_lines, synthesize_lines

    lines = stitched_lines(min(minutes, BASE_MINUTES) * 60, speed=SPEED_WPM)
    spoken = [(voice, text) for _label, voice, text in lines]
    key = content_hash({"synth": SYNTH_VERSION, "speed": SPEED_WPM, "lines": spoken})[:12]
    base = CACHE_DIR / f"dialogue-{key}.wav"
    out = CACHE_DIR / f"call-{minutes:g}min-{key}.mp3"
    if out.exists():
        return out
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    if not base.exists():
        with console.status(f"synthesising the dialogue ({len(spoken)} lines)"):
            synthesize_lines(spoken, base, SPEED_WPM, fmt="wav")
    partial = out.with_suffix(".partial.mp3")
    with console.status(f"looping it to {minutes:g} min of MP3"):
        subprocess.run(
            [
                "ffmpeg", "-v", "error", "-y", "-stream_loop", "-1", "-i", str(base),
                "-t", f"{minutes * 60:.0f}", "-ac", "1", "-ar", "16000",
                "-c:a", "libmp3lame", "-b:a", "48k", str(partial),
            ],
            check=True,
        )  # fmt: skip
    partial.replace(out)
    return out


# --------------------------------------------------------------------------- one run


def transcriber_pids(instances: int) -> list[int]:
    from callstream_cli.services import ServiceSet

    services = ServiceSet(
        settings=bench_stack_settings(),
        ingest_port=bench_ingest_port(),
        replicas=(("transcriber", instances),),
    )
    names = [n for n in services.instances() if services.service_of(n) == "transcriber"]
    return [pid for n in names if (pid := services.process(n).pid()) is not None]


async def chunk_figures(database_url: str, conversation_id: str) -> list[float]:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT elapsed_seconds FROM transcript_chunks "
                    "WHERE conversation_id = :c ORDER BY chunk_index"
                ),
                {"c": conversation_id},
            )
            return [float(r.elapsed_seconds) for r in rows]
    finally:
        await engine.dispose()


def upload_and_wait(target: Target, path: Path, run: Run, timeout: float) -> str | None:
    """Upload, poll until the call is finished; fills ``run``; returns the call's id."""
    headers = {**bearer(target.token), "Content-Type": "audio/mpeg"}
    started = time.monotonic()
    with httpx.Client(base_url=target.base_url, timeout=600) as client:
        with path.open("rb") as body:
            response = client.post(
                "/v1/conversations",
                params={
                    "opportunity_name": "Bench long call",
                    "rep_id": REP_ID,
                    "title": run.label,
                },
                content=body,
                headers=headers,
            )
        run.accept_seconds = time.monotonic() - started
        if response.status_code != 202:
            run.status = f"upload {response.status_code}: {response.text[:200]}"
            return None
        cid = str(response.json()["id"])
        while time.monotonic() - started < timeout:
            conv = client.get(f"/v1/conversations/{cid}", headers=headers).json()
            if conv["status"] in ("completed", "failed"):
                run.wall_seconds = time.monotonic() - started
                run.status = conv["status"] + (
                    f": {conv.get('failure_reason')}" if conv["status"] == "failed" else ""
                )
                timing = (conv.get("timings") or {}).get("transcription") or {}
                run.audio_seconds = timing.get("audio_seconds") or conv.get("duration_seconds")
                run.split_seconds = timing.get("split_seconds")
                run.chunks = int(timing.get("chunks") or 0)
                return cid
            time.sleep(2)
        run.status = "timed out"
        return cid


def measure(run: Run, path: Path, env: dict[str, str], timeout: float) -> Run:
    replicas = (("transcriber", run.instances),)
    with bench_services(SERVICES, env, replicas=replicas, stop_stack=False) as target:
        pids = transcriber_pids(run.instances)
        cpu_before = [cpu_seconds(p) for p in pids]
        run.load_before = os.getloadavg()
        cid = upload_and_wait(target, path, run, timeout)
        run.load_after = os.getloadavg()
        run.peak_rss_kib = [read_memory_kib(p).get("VmHWM", 0) for p in pids]
        run.cpu_seconds = [
            round(cpu_seconds(p) - b, 1) for p, b in zip(pids, cpu_before, strict=True)
        ]
        if cid is not None and run.split:
            url = target.endpoints.database_url.get_secret_value()
            run.chunk_seconds = asyncio.run(chunk_figures(url, cid))
    console.print(
        f"{run.label}: {run.status}, {run.wall_seconds or 0:.0f} s, "
        f"load {run.load_before[0]:.1f} → {run.load_after[0]:.1f}"
    )
    return run


# --------------------------------------------------------------------------- projection


def projection(one: Run, machines: Sequence[int]) -> list[tuple[int, float]]:
    """Wall time with N one-instance machines from the 1-instance split run's own parts."""
    if one.wall_seconds is None or not one.chunk_seconds:
        return []
    mean_chunk = sum(one.chunk_seconds) / len(one.chunk_seconds)
    split = one.split_seconds or 0.0
    rest = max(0.0, one.wall_seconds - split - sum(one.chunk_seconds))
    return [
        (n, split + math.ceil(len(one.chunk_seconds) / n) * mean_chunk + rest) for n in machines
    ]


# --------------------------------------------------------------------------- output


def report(runs: Sequence[Run], projected: list[tuple[int, float]], minutes: float) -> None:
    baseline = next((r.wall_seconds for r in runs if not r.split and r.wall_seconds), None)
    rows = []
    for r in runs:
        mean_chunk = sum(r.chunk_seconds) / len(r.chunk_seconds) if r.chunk_seconds else None
        rows.append(
            [
                r.label,
                r.status.split(":")[0],
                f"{r.wall_seconds:,.0f} s" if r.wall_seconds else "-",
                f"x{baseline / r.wall_seconds:.2f}" if baseline and r.wall_seconds else "-",
                f"{r.rtf:.3f}" if r.rtf else "-",
                f"{r.split_seconds:.0f} s" if r.split_seconds else "-",
                f"{r.chunks} x {mean_chunk:.0f} s" if mean_chunk else "-",
                " / ".join(fmt_mb(k * 1024) for k in r.peak_rss_kib) or "-",
                " / ".join(f"{c:.0f}" for c in r.cpu_seconds) or "-",
                f"{r.load_before[0]:.1f} → {r.load_after[0]:.1f}",
            ]
        )
    print_table(
        f"{minutes:g}-min recording: upload → scorecard",
        [
            "configuration",
            "status",
            "wall",
            "speed-up vs baseline",
            "RTF",
            "split",
            "chunks x mean",
            "peak RSS per transcriber",
            "CPU s per transcriber",
            "load avg (1 min)",
        ],
        rows,
        caption="baseline: the whole-call path (one instance) in the same run",
    )
    if projected:
        print_table(
            "projection from the 1-instance split run (one instance per machine)",
            ["machines", "upload → scorecard"],
            [[n, f"{s:,.0f} s"] for n, s in projected],
        )


def charts(runs: Sequence[Run], projected: list[tuple[int, float]]) -> list[Chart]:
    split = [r for r in runs if r.split and r.wall_seconds]
    wall = Chart("upload → scorecard", "transcriber instances", "seconds")
    wall.series.append(
        Series(
            "measured (split)", [r.instances for r in split], [r.wall_seconds or 0 for r in split]
        )
    )
    if projected:
        wall.series.append(
            Series("projected", [n for n, _ in projected], [s for _, s in projected], dashed=True)
        )
    for r in runs:
        if not r.split and r.wall_seconds:
            wall.series.append(Series("whole call (baseline)", [1], [r.wall_seconds]))
    memory = Chart("peak RSS per transcriber", "transcriber instances", "MiB")
    memory.series.append(
        Series(
            "largest instance",
            [r.instances for r in split],
            [max(r.peak_rss_kib, default=0) / 1024 for r in split],
        )
    )
    return [wall, memory]


def main(argv: Sequence[str] | None = None) -> None:
    parser = arg_parser(__doc__.splitlines()[0] if __doc__ else "long call bench")
    parser.add_argument("--minutes", type=float, default=120.0)
    parser.add_argument("--instances", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--chunk-seconds", type=float, default=300.0)
    parser.add_argument("--threshold-seconds", type=float, default=600.0)
    parser.add_argument("--no-baseline", action="store_true", help="skip the whole-call run")
    parser.add_argument("--timeout", type=float, default=5400.0)
    args = parser.parse_args(argv)
    if args.smoke:
        args.minutes, args.chunk_seconds, args.threshold_seconds = 1.5, 30.0, 40.0
    path = recording(args.minutes)
    env = {
        "CALLSTREAM_ANALYZER_PROVIDER": "instant",
        "CALLSTREAM_TRANSCRIBER_CPU_THREADS": "1",
        "CALLSTREAM_STAGE_CONCURRENCY": "1",
        "CALLSTREAM_TRANSCRIBER_CHUNK_SECONDS": f"{args.chunk_seconds:g}",
        "CALLSTREAM_LOG_LEVEL": "INFO",
    }
    split_env = env | {
        "CALLSTREAM_TRANSCRIBER_CHUNK_THRESHOLD_SECONDS": f"{args.threshold_seconds:g}"
    }
    try:
        runs = [
            measure(
                Run(f"split, {n} instance{'s' if n > 1 else ''}", n, True),
                path,
                split_env,
                args.timeout,
            )
            for n in sorted(args.instances, reverse=True)
        ]
        if not args.no_baseline:
            whole_env = env | {"CALLSTREAM_TRANSCRIBER_CHUNK_THRESHOLD_SECONDS": "0"}
            runs.append(
                measure(Run("whole call (baseline)", 1, False), path, whole_env, args.timeout)
            )
    finally:
        if not args.keep:
            from callstream_cli.stack import manager

            manager.down(bench_stack_settings())
    one = next((r for r in runs if r.split and r.instances == 1), None)
    projected = projection(one, PROJECTED_MACHINES) if one else []
    report(runs, projected, args.minutes)
    written = save_results(
        "long-call",
        {
            "minutes": args.minutes,
            "chunk_seconds": args.chunk_seconds,
            "threshold_seconds": args.threshold_seconds,
            "cpu_count": os.cpu_count(),
            "runs": [asdict(r) for r in runs],
            "projection": [{"machines": n, "seconds": s} for n, s in projected],
        },
        charts(runs, projected),
    )
    console.print("saved " + ", ".join(str(p) for p in written))


if __name__ == "__main__":
    main()
