"""Transcription benchmark: real-time factor and peak memory of the built-in Whisper.

    python -m bench.transcription [--smoke | --full] [--minutes 1 10] [--beams 1 5]

For each length of synthesised speech (default 1 and 10 minutes; ``--full`` adds 30 and 120):

- **baseline**: decoding alone — PyAV decode + resample to 16 kHz mono of the same file
  (``callstream_transcriber.audio.iter_pcm``), so the ASR cost reads relative to the I/O;
- Whisper tiny.en (``build_transcriber("builtin", beam_size=…, chunk_seconds=…)``) at beam 1
  and beam 5, **chunked** (the service's default chunk) and **whole** (one chunk as long as
  the file). A file no longer than one chunk is the same either way and runs once.

Every configuration runs in a fresh subprocess and its peak RSS is that process's own
``ru_maxrss`` as the kernel reports it to the parent (``os.wait4``), so no figure inherits
memory from another run. Reported: wall time, real-time factor (wall / audio), CPU seconds per
audio second (less sensitive to other load on a shared machine), peak RSS, RSS once the model
is loaded, the ratio to decoding alone, and the word error rate against the spoken script.

The speech is the labelled calls of ``eval/scripts/`` one after another (varied sentences,
a voice per speaker), spoken by espeak-ng at 160 words per minute and encoded as MP3 like a
real upload; files are cached in ``bench/results/cache/transcription/``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.common import (
    RESULTS_DIR,
    Chart,
    Series,
    console,
    fmt_ratio,
    print_table,
    ratio,
    save_results,
)

ROOT = Path(__file__).resolve().parents[1]
CACHE_DIR = RESULTS_DIR / "cache" / "transcription"
SPEED_WPM = 160
DEFAULT_MINUTES = (1.0, 10.0)
FULL_MINUTES = (1.0, 10.0, 30.0, 120.0)
SMOKE_MINUTES = (0.25,)
BEAMS = (1, 5)


@dataclass(frozen=True)
class BenchAudio:
    minutes: float
    """The length asked for; the file's real length is measured when it is decoded."""
    path: Path
    reference: str


@dataclass(frozen=True)
class Config:
    kind: str
    """``decode`` (baseline) or ``asr``."""
    beam_size: int = 0
    chunk_seconds: float = 0.0
    mode: str = ""
    """``chunked``, ``whole`` or ``single chunk`` (a file no longer than one chunk)."""

    @property
    def label(self) -> str:
        if self.kind == "decode":
            return "decode only (baseline)"
        chunk = f" {self.chunk_seconds:g} s" if self.mode == "chunked" else ""
        return f"beam {self.beam_size}, {self.mode}{chunk}"


@dataclass
class Measurement:
    minutes: float
    audio_seconds: float
    config: str
    kind: str
    beam_size: int
    mode: str
    chunk_seconds: float
    wall_seconds: float
    cpu_seconds: float
    load_seconds: float
    peak_rss_kib: int
    loaded_rss_kib: int
    segments: int
    wer: float | None
    vs_decode: float | None = None
    error: str | None = None
    """Why the configuration's process failed (e.g. killed for memory); its peak RSS up to
    then is still reported."""

    @property
    def rtf(self) -> float:
        return self.wall_seconds / self.audio_seconds

    @property
    def cpu_per_audio_second(self) -> float:
        return self.cpu_seconds / self.audio_seconds


# --------------------------------------------------------------------------- audio


def bench_audio(minutes: float) -> BenchAudio:
    """About ``minutes`` of speech from the eval scripts, as MP3 (cached)."""
    from eval.generate import SYNTH_VERSION, content_hash, stitched_lines, synthesize_lines

    lines = stitched_lines(minutes * 60, speed=SPEED_WPM)
    spoken = [(voice, text) for _label, voice, text in lines]
    reference = " ".join(text for _v, text in spoken)
    key = content_hash({"synth": SYNTH_VERSION, "speed": SPEED_WPM, "lines": spoken})[:16]
    path = CACHE_DIR / f"speech-{minutes:g}min-{key}.mp3"
    if not path.exists():
        with console.status(f"synthesising {minutes:g} min of speech ({len(spoken)} lines)"):
            synthesize_lines(spoken, path, SPEED_WPM, fmt="mp3")
    return BenchAudio(minutes, path, reference)


# --------------------------------------------------------------------------- one measurement


def _vm_hwm_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """One configuration, in this (fresh) process: what the parent's subprocess runs."""
    path = Path(spec["path"])
    if spec["kind"] == "decode":
        from callstream_transcriber.audio import SAMPLE_RATE, iter_pcm

        before = resource.getrusage(resource.RUSAGE_SELF)
        began = time.perf_counter()
        samples = sum(len(block) for block in iter_pcm(path))
        wall = time.perf_counter() - began
        cpu = _cpu(resource.getrusage(resource.RUSAGE_SELF)) - _cpu(before)
        return {
            "audio_seconds": samples / SAMPLE_RATE,
            "wall_seconds": wall,
            "cpu_seconds": cpu,
            "load_seconds": 0.0,
            "loaded_rss_kib": 0,
            "segments": 0,
            "text": "",
        }
    from callstream_transcriber.factory import build_transcriber

    began = time.perf_counter()
    transcriber = build_transcriber(
        "builtin",
        beam_size=int(spec["beam_size"]),
        chunk_seconds=float(spec["chunk_seconds"]),
        cpu_threads=spec.get("cpu_threads"),
    )
    load = time.perf_counter() - began
    loaded_rss = _vm_hwm_kib()
    before = resource.getrusage(resource.RUSAGE_SELF)
    began = time.perf_counter()
    transcript = transcriber.transcribe(path)
    wall = time.perf_counter() - began
    cpu = _cpu(resource.getrusage(resource.RUSAGE_SELF)) - _cpu(before)
    return {
        "audio_seconds": transcript.duration_seconds,
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "load_seconds": load,
        "loaded_rss_kib": loaded_rss,
        "segments": len(transcript.segments),
        "text": transcript.text,
    }


class WorkerFailed(RuntimeError):
    def __init__(self, reason: str, peak_rss_kib: int, stderr_tail: str) -> None:
        super().__init__(f"{reason}\n{stderr_tail}")
        self.reason = reason
        self.peak_rss_kib = peak_rss_kib


def measure(spec: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Run ``spec`` in a subprocess; its JSON result and its own peak RSS (KiB). Raises
    ``WorkerFailed`` (with the peak RSS reached) when the process fails or is killed."""
    cmd = [sys.executable, "-m", "bench.transcription", "--worker", json.dumps(spec)]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, cwd=ROOT)
        assert proc.stdout is not None
        out = proc.stdout.read()
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace")[-2000:]
            code = proc.returncode
            reason = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
            raise WorkerFailed(reason, int(usage.ru_maxrss), tail)
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result, int(usage.ru_maxrss)


def configs(audio_seconds: float, beams: Sequence[int], chunk_seconds: float) -> list[Config]:
    out = [Config("decode")]
    for beam in beams:
        if audio_seconds <= chunk_seconds:
            out.append(Config("asr", beam, chunk_seconds, "single chunk"))
        else:
            out.append(Config("asr", beam, chunk_seconds, "chunked"))
            out.append(Config("asr", beam, audio_seconds + 60, "whole"))
    return out


def run_size(
    audio: BenchAudio, beams: Sequence[int], chunk_seconds: float, cpu_threads: int | None
) -> list[Measurement]:
    from eval.run import edit_distance, normalize_words

    reference = normalize_words(audio.reference)
    decode, decode_rss = measure({"kind": "decode", "path": str(audio.path)})
    seconds = float(decode["audio_seconds"])
    rows: list[Measurement] = []
    for config in configs(seconds, beams, chunk_seconds):
        if config.kind == "decode":
            result, rss = decode, decode_rss
        else:
            spec = {
                "kind": "asr",
                "path": str(audio.path),
                "beam_size": config.beam_size,
                "chunk_seconds": config.chunk_seconds,
                "cpu_threads": cpu_threads,
            }
            try:
                with console.status(f"{audio.minutes:g} min: {config.label}"):
                    result, rss = measure(spec)
            except WorkerFailed as exc:
                console.print(f"[red]{audio.minutes:g} min {config.label} failed[/]: {exc}")
                rows.append(failed_row(audio, seconds, config, exc))
                continue
        hyp = normalize_words(result["text"]) if config.kind == "asr" else None
        m = Measurement(
            minutes=audio.minutes,
            audio_seconds=seconds,
            config=config.label,
            kind=config.kind,
            beam_size=config.beam_size,
            mode=config.mode,
            chunk_seconds=config.chunk_seconds,
            wall_seconds=float(result["wall_seconds"]),
            cpu_seconds=float(result["cpu_seconds"]),
            load_seconds=float(result["load_seconds"]),
            peak_rss_kib=rss,
            loaded_rss_kib=int(result["loaded_rss_kib"]),
            segments=int(result["segments"]),
            wer=edit_distance(reference, hyp) / max(1, len(reference)) if hyp is not None else None,
        )
        m.vs_decode = ratio(m.wall_seconds, float(decode["wall_seconds"]))
        rows.append(m)
        console.print(
            f"  {audio.minutes:g} min  {m.config:<28} wall {m.wall_seconds:7.1f} s  "
            f"RTF {m.rtf:.3f}  peak {m.peak_rss_kib / 1024:,.0f} MB"
        )
    return rows


def failed_row(audio: BenchAudio, seconds: float, config: Config, exc: WorkerFailed) -> Measurement:
    return Measurement(
        minutes=audio.minutes,
        audio_seconds=seconds,
        config=config.label,
        kind=config.kind,
        beam_size=config.beam_size,
        mode=config.mode,
        chunk_seconds=config.chunk_seconds,
        wall_seconds=0.0,
        cpu_seconds=0.0,
        load_seconds=0.0,
        peak_rss_kib=exc.peak_rss_kib,
        loaded_rss_kib=0,
        segments=0,
        wer=None,
        error=exc.reason,
    )


# --------------------------------------------------------------------------- report


COLUMNS = (
    "audio",
    "configuration",
    "wall s",
    "RTF",
    "CPU s/audio s",
    "x decode",
    "peak RSS MB",
    "RSS loaded MB",
    "load s",
    "WER",
    "segments",
)


def fmt_audio(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.1f} min"


def print_results(rows: Sequence[Measurement], threads: int) -> None:
    table_rows: list[list[object]] = []
    for m in rows:
        if m.error is not None:
            failed: list[object] = [fmt_audio(m.audio_seconds), m.config, f"failed: {m.error}"]
            failed += ["-"] * 3 + [f"{m.peak_rss_kib / 1024:,.0f}"] + ["-"] * 4
            table_rows.append(failed)
            continue
        asr = m.kind == "asr"
        table_rows.append(
            [
                fmt_audio(m.audio_seconds),
                m.config,
                f"{m.wall_seconds:,.1f}" if m.wall_seconds >= 10 else f"{m.wall_seconds:.2f}",
                f"{m.rtf:.3f}",
                f"{m.cpu_per_audio_second:.3f}",
                fmt_ratio(m.vs_decode) if asr else "x1.00",
                f"{m.peak_rss_kib / 1024:,.0f}",
                f"{m.loaded_rss_kib / 1024:,.0f}" if asr else "-",
                f"{m.load_seconds:.1f}" if asr else "-",
                f"{m.wer:.1%}" if m.wer is not None else "-",
                m.segments or "-",
            ]
        )
    print_table(
        f"Transcription — Whisper tiny.en (faster-whisper int8, {threads} threads) "
        "vs decoding alone",
        COLUMNS,
        table_rows,
        caption=(
            "RTF = wall / audio; x decode = wall / wall of decoding the same file; "
            "peak RSS of each configuration's own process"
        ),
    )


def charts(rows: Sequence[Measurement]) -> list[Chart]:
    """RTF and peak RSS against audio length, one line per configuration (a file that fits
    in one chunk counts as both chunked and whole)."""
    series: dict[str, list[Measurement]] = {}
    for m in rows:
        if m.error is not None:
            continue
        if m.kind == "decode":
            keys = ["decode only"]
        elif m.mode == "single chunk":
            keys = [f"beam {m.beam_size}, chunked", f"beam {m.beam_size}, whole"]
        else:
            keys = [f"beam {m.beam_size}, {m.mode}"]
        for key in keys:
            series.setdefault(key, []).append(m)
    rtf = Chart("Real-time factor", "audio (min)", "wall / audio", log_y=True)
    rss = Chart("Peak RSS", "audio (min)", "MB")
    for label, ms in series.items():
        x = [m.audio_seconds / 60 for m in ms]
        rtf.series.append(Series(label, x, [m.rtf for m in ms]))
        rss.series.append(Series(label, x, [m.peak_rss_kib / 1024 for m in ms]))
    return [rtf, rss]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--smoke", action="store_true", help="15 s of speech, beam 1 (seconds)")
    size.add_argument("--full", action="store_true", help="1, 10, 30 and 120 min (about 2 h)")
    size.add_argument("--minutes", type=float, nargs="+", help="lengths to run")
    parser.add_argument("--beams", type=int, nargs="+", help="beam sizes (default 1 5)")
    parser.add_argument("--chunk-seconds", type=float, help="chunked mode's chunk length")
    parser.add_argument("--cpu-threads", type=int, help="Whisper threads (default: all CPUs)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(run_worker(json.loads(args.worker))))
        return

    from callstream_transcriber.transcription import DEFAULT_CHUNK_SECONDS, available_cpus

    if args.smoke:
        minutes: Sequence[float] = SMOKE_MINUTES
        beams: Sequence[int] = args.beams or (1,)
    else:
        minutes = args.minutes or (FULL_MINUTES if args.full else DEFAULT_MINUTES)
        beams = args.beams or BEAMS
    chunk = args.chunk_seconds or DEFAULT_CHUNK_SECONDS
    threads = args.cpu_threads or available_cpus()
    began = time.perf_counter()
    load_average = os.getloadavg()[0]
    console.print(
        f"[bold]transcription bench[/]: {', '.join(f'{m:g}' for m in minutes)} min, "
        f"beams {', '.join(map(str, beams))}, chunk {chunk:g} s, {threads} threads, "
        f"load average {load_average:.1f}"
    )
    rows: list[Measurement] = []
    for m in minutes:
        rows.extend(run_size(bench_audio(m), beams, chunk, args.cpu_threads))
    print_results(rows, threads)
    written = save_results(
        "transcription",
        {
            "model": "whisper-tiny.en",
            "threads": threads,
            "chunk_seconds": chunk,
            "load_average_at_start": load_average,
            "rows": [
                asdict(m)
                | (
                    {}
                    if m.error
                    else {"rtf": m.rtf, "cpu_per_audio_second": m.cpu_per_audio_second}
                )
                for m in rows
            ],
        },
        charts(rows),
    )
    latest = next(p for p in written if p.name.endswith("-latest.json"))
    console.print(f"results: {latest} ({time.perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    main()
