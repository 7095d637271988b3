"""Analysis benchmark: latency and throughput of the built-in MEDDIC analyzer on long calls.

    python -m bench.analysis [--smoke] [--minutes 5 30 60] [--repeat N]

For transcripts of 5, 30 and 60 minutes — the labelled calls of ``eval/scripts/`` one after
another in a seeded order (varied sentences, "Rep"/"Prospect" speaker labels, segments timed
at 150 words per minute) — ``build_analyzer("builtin").analyze(transcript)`` is timed
``--repeat`` times (latency p50/p95, transcripts per second on one thread), then again with
two threads sharing the one analyzer (the service's throughput on a 2-core machine).

Baseline in the same run, interleaved with the analyses so both see the same machine load:
the embedding step alone, ``default_embedder().embed(sentences)`` on the same transcript's
sentences (``split_sentences``; distinct texts, as the analyzer embeds each text once). The
difference is what the rules, cue patterns and scoring cost on top of the model.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bench.common import (
    Chart,
    Series,
    Summary,
    console,
    fmt_ms,
    fmt_ratio,
    print_table,
    ratio,
    save_results,
    summarize,
)

DEFAULT_MINUTES = (5.0, 30.0, 60.0)
SMOKE_MINUTES = (1.0,)
SEED = 20261123


def default_repeat(minutes: float) -> int:
    """Enough runs for a p95 on short calls without spending minutes on the long ones."""
    return max(5, round(50 / minutes))


@dataclass
class SizeResult:
    minutes: float
    transcript_seconds: float
    segments: int
    sentences: int
    distinct_sentences: int
    words: int
    analyze: Summary
    embed: Summary
    analyze_cpu: Summary
    """CPU seconds of this process per analysis: less sensitive than wall time to other
    work on a shared machine (the embedder runs one inference thread)."""
    embed_cpu: Summary
    throughput_1: float
    """Transcripts per second, one thread (n / total of the sequential analyses)."""
    throughput_2: float
    """Transcripts per second, two threads sharing the analyzer."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "minutes": self.minutes,
            "transcript_seconds": self.transcript_seconds,
            "segments": self.segments,
            "sentences": self.sentences,
            "distinct_sentences": self.distinct_sentences,
            "words": self.words,
            "analyze_seconds": self.analyze.to_dict(),
            "embed_seconds": self.embed.to_dict(),
            "analyze_cpu_seconds": self.analyze_cpu.to_dict(),
            "embed_cpu_seconds": self.embed_cpu.to_dict(),
            "transcripts_per_second_1_thread": self.throughput_1,
            "transcripts_per_second_2_threads": self.throughput_2,
            "embed_share_cpu_p50": ratio(self.embed_cpu.p50, self.analyze_cpu.p50),
        }


def run_size(analyzer: Any, embedder: Any, minutes: float, repeat: int) -> SizeResult:
    from callstream_analyzer.meddic import split_sentences
    from eval.generate import stitched_transcript

    transcript = stitched_transcript(minutes, seed=SEED)
    texts = [s.text for s in split_sentences(transcript)]
    distinct = list(dict.fromkeys(texts))
    analyze: list[float] = []
    embed: list[float] = []
    analyze_cpu: list[float] = []
    embed_cpu: list[float] = []
    with console.status(f"{minutes:g} min: analyze x{repeat} + embed x{repeat}"):
        for _ in range(repeat):
            began, cpu = time.perf_counter(), time.process_time()
            analyzer.analyze(transcript)
            analyze.append(time.perf_counter() - began)
            analyze_cpu.append(time.process_time() - cpu)
            began, cpu = time.perf_counter(), time.process_time()
            embedder.embed(distinct)
            embed.append(time.perf_counter() - began)
            embed_cpu.append(time.process_time() - cpu)
    with console.status(f"{minutes:g} min: 2 threads x{repeat} each"):
        began = time.perf_counter()
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda _: analyzer.analyze(transcript), range(2 * repeat)))
        parallel = time.perf_counter() - began
    result = SizeResult(
        minutes=minutes,
        transcript_seconds=transcript.duration_seconds,
        segments=len(transcript.segments),
        sentences=len(texts),
        distinct_sentences=len(distinct),
        words=len(transcript.text.split()),
        analyze=summarize(analyze),
        embed=summarize(embed),
        analyze_cpu=summarize(analyze_cpu),
        embed_cpu=summarize(embed_cpu),
        throughput_1=len(analyze) / sum(analyze),
        throughput_2=2 * repeat / parallel,
    )
    console.print(
        f"  {minutes:g} min: analyze p50 {fmt_ms(result.analyze.p50)}, "
        f"embed p50 {fmt_ms(result.embed.p50)}"
    )
    return result


COLUMNS = (
    "transcript",
    "sentences",
    "analyze p50",
    "analyze p95",
    "analyze CPU",
    "embed p50",
    "embed CPU",
    "x embed CPU",
    "/s 1 thread",
    "/s 2 threads",
)


def print_results(results: Sequence[SizeResult], load_seconds: float, first_call: float) -> None:
    rows = [
        [
            f"{r.transcript_seconds / 60:.1f} min",
            f"{r.sentences:,} ({r.distinct_sentences:,})",
            fmt_ms(r.analyze.p50),
            fmt_ms(r.analyze.p95),
            fmt_ms(r.analyze_cpu.p50),
            fmt_ms(r.embed.p50),
            fmt_ms(r.embed_cpu.p50),
            fmt_ratio(ratio(r.analyze_cpu.p50, r.embed_cpu.p50)),
            f"{r.throughput_1:.2f}",
            f"{r.throughput_2:.2f}",
        ]
        for r in results
    ]
    print_table(
        "Analysis — built-in MEDDIC analyzer (MiniLM int8 + rules) vs embedding alone",
        COLUMNS,
        rows,
        caption=(
            "sentences (distinct); embed = baseline, embedding the distinct sentences alone; "
            "CPU = p50 CPU time; x embed CPU = analyze CPU / embed CPU; /s = transcripts per "
            f"second. Load {load_seconds:.2f} s, first call (1 min) {fmt_ms(first_call)}, "
            f"runs per size: {', '.join(str(r.analyze.n) for r in results)}"
        ),
    )


def charts(results: Sequence[SizeResult]) -> list[Chart]:
    x = [r.transcript_seconds / 60 for r in results]
    latency = Chart("Latency (p50)", "transcript (min)", "seconds")
    latency.series = [
        Series("analyze", x, [r.analyze.p50 for r in results]),
        Series("embed only (baseline)", x, [r.embed.p50 for r in results]),
    ]
    throughput = Chart("Throughput", "transcript (min)", "transcripts / s", log_y=True)
    throughput.series = [
        Series("1 thread", x, [r.throughput_1 for r in results]),
        Series("2 threads", x, [r.throughput_2 for r in results]),
    ]
    return [latency, throughput]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--smoke", action="store_true", help="one 1-min transcript, 3 runs")
    size.add_argument("--minutes", type=float, nargs="+", help="transcript lengths")
    parser.add_argument("--repeat", type=int, help="runs per length (default: by length)")
    args = parser.parse_args(argv)

    minutes: Sequence[float] = SMOKE_MINUTES if args.smoke else args.minutes or DEFAULT_MINUTES
    began = time.perf_counter()
    load_average = os.getloadavg()[0]
    console.print(
        f"[bold]analysis bench[/]: {', '.join(f'{m:g}' for m in minutes)} min transcripts, "
        f"load average {load_average:.1f}"
    )
    from callstream_analyzer.embeddings import default_embedder
    from callstream_analyzer.factory import build_analyzer
    from eval.generate import stitched_transcript

    t0 = time.perf_counter()
    embedder = default_embedder()
    analyzer = build_analyzer("builtin", embedder=embedder)
    load = time.perf_counter() - t0
    t0 = time.perf_counter()
    analyzer.analyze(stitched_transcript(1, seed=SEED + 1))
    first_call = time.perf_counter() - t0

    results = [
        run_size(analyzer, embedder, m, args.repeat or (3 if args.smoke else default_repeat(m)))
        for m in minutes
    ]
    print_results(results, load, first_call)
    written = save_results(
        "analysis",
        {
            "analyzer": "builtin (meddic-rules+minilm-l6-int8)",
            "load_seconds": load,
            "first_call_seconds": first_call,
            "load_average_at_start": load_average,
            "sizes": [r.to_dict() for r in results],
        },
        charts(results),
    )
    latest = next(p for p in written if p.name.endswith("-latest.json"))
    console.print(f"results: {latest} ({time.perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    main()
