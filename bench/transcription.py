"""Benchmark the built-in transcriber: speed, peak memory, accuracy on synthesised calls.

    uv run python bench/transcription.py all --minutes 1 10      # RTF + RSS, chunked vs whole
    uv run python bench/transcription.py run call.mp3 --chunk-seconds 600   # one measurement

Each measurement runs in a fresh process so its peak RSS (``ru_maxrss``) is its own.
Reported: wall-clock real-time factor (elapsed / audio length), CPU seconds per audio
second (less sensitive to other load on the machine) and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

WHOLE = 1e9  # chunk_seconds large enough that the whole file is a single chunk


def run(path: Path, chunk_seconds: float, cpu_threads: int | None) -> dict[str, object]:
    from callstream_transcriber.transcription import WhisperTranscriber

    t0 = time.perf_counter()
    transcriber = WhisperTranscriber(chunk_seconds=chunk_seconds, cpu_threads=cpu_threads)
    load = time.perf_counter() - t0
    before = resource.getrusage(resource.RUSAGE_SELF)
    t1 = time.perf_counter()
    transcript = transcriber.transcribe(path)
    elapsed = time.perf_counter() - t1
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    audio = transcript.duration_seconds
    return {
        "file": path.name,
        "mode": "whole" if chunk_seconds >= WHOLE else f"chunked({chunk_seconds:g}s)",
        "audio_seconds": round(audio, 1),
        "load_seconds": round(load, 2),
        "elapsed_seconds": round(elapsed, 1),
        "rtf_wall": round(elapsed / audio, 4),
        "cpu_per_audio_second": round(cpu / audio, 4),
        "peak_rss_mb": round(after.ru_maxrss / 1024, 1),
        "segments": len(transcript.segments),
        "text": transcript.text,
    }


def words(text: str) -> list[str]:
    numbers = {"20": "twenty", "50": "fifty", "200": "two", "000": "thousand"}
    return [numbers.get(w, w) for w in re.findall(r"[a-z0-9']+", text.lower())]


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate by edit distance over lower-cased words."""
    ref, hyp = words(reference), words(hypothesis)
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1] / max(1, len(ref))


def measure(path: Path, chunk_seconds: float, cpu_threads: int | None) -> dict[str, object]:
    cmd = [sys.executable, __file__, "run", str(path), "--chunk-seconds", str(chunk_seconds)]
    if cpu_threads:
        cmd += ["--cpu-threads", str(cpu_threads)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    one = sub.add_parser("run")
    one.add_argument("path", type=Path)
    one.add_argument("--chunk-seconds", type=float, default=600.0)
    one.add_argument("--cpu-threads", type=int)
    both = sub.add_parser("all")
    both.add_argument("--minutes", type=float, nargs="+", default=[1.0, 10.0])
    both.add_argument("--chunk-seconds", type=float, default=600.0)
    both.add_argument("--cpu-threads", type=int)
    both.add_argument("--out-dir", type=Path, default=Path("/tmp/callstream-bench"))
    args = parser.parse_args()

    if args.cmd == "run":
        print(json.dumps(run(args.path, args.chunk_seconds, args.cpu_threads)))
        return

    from tests.support.audio import SALES_CALL, long_dialogue, synthesize_dialogue

    args.out_dir.mkdir(parents=True, exist_ok=True)
    clean = synthesize_dialogue(SALES_CALL, args.out_dir / "sales-call.mp3", fmt="mp3")
    result = measure(clean, args.chunk_seconds, args.cpu_threads)
    reference = " ".join(text for _, text in SALES_CALL)
    print(json.dumps({"wer": round(wer(reference, str(result["text"])), 3), **result}))
    for minutes in args.minutes:
        # ~5 s per sentence including the pause.
        lines = long_dialogue(int(minutes * 60 / 5.1))
        path = synthesize_dialogue(lines, args.out_dir / f"call-{minutes:g}min.mp3", fmt="mp3")
        # Longer than one chunk: also run it whole, to compare speed and peak memory.
        modes = [args.chunk_seconds] + ([WHOLE] if minutes * 60 > args.chunk_seconds else [])
        for chunk in modes:
            row = measure(path, chunk, args.cpu_threads)
            row.pop("text")
            print(json.dumps(row))


if __name__ == "__main__":
    main()
