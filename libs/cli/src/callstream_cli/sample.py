"""The sample sales call `make up` processes: synthesized on the spot, never downloaded.

Two espeak-ng voices (rep and prospect) speak a short discovery call that touches every
MEDDIC dimension — pain, metrics, economic buyer, decision criteria, decision process and a
champion — and sox joins the lines with short pauses into one 16 kHz mono file. The same
synthesizer makes the test suite's and the evaluation's audio.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

AudioFormat = Literal["wav", "mp3", "ogg", "flac", "m4a"]

REP, PROSPECT = "en-us", "en-gb"

SAMPLE_CALL: list[tuple[str, str]] = [
    (REP, "Thanks for taking the time today. I am Sarah from Acme Analytics."),
    (PROSPECT, "Happy to be here. I run operations at Northwind Logistics."),
    (REP, "What is the biggest problem your team is dealing with right now?"),
    (
        PROSPECT,
        "Our dispatchers spend about twenty hours a week rebuilding reports by hand, "
        "and late deliveries cost us roughly two hundred thousand dollars a year.",
    ),
    (REP, "What result would make this project a success for you?"),
    (PROSPECT, "We want to cut late deliveries by thirty percent within six months."),
    (REP, "Who signs off on a purchase like this?"),
    (
        PROSPECT,
        "Our chief financial officer, Maria Lopez, approves the budget for anything above "
        "fifty thousand dollars.",
    ),
    (REP, "How will you decide between vendors?"),
    (
        PROSPECT,
        "Our requirements are integration with our warehouse system, a security review, "
        "and a successful pilot.",
    ),
    (REP, "What does the approval process look like after the pilot?"),
    (
        PROSPECT,
        "After the pilot, procurement and legal review the contract, which takes about "
        "four weeks, and we want to sign before the end of the quarter.",
    ),
    (
        PROSPECT,
        "I will champion this internally and I can introduce you to Maria next week.",
    ),
    (REP, "Great. The next step is a technical demo with your IT team next Tuesday."),
]


def require_tools() -> None:
    """Raise a clear error when the synthesis tools are missing."""
    missing = [t for t in ("espeak-ng", "sox", "ffmpeg") if shutil.which(t) is None]
    if missing:
        raise RuntimeError(
            f"missing {', '.join(missing)}: apt-get install -y espeak-ng sox libsox-fmt-all ffmpeg"
        )


def synthesize(
    lines: Sequence[tuple[str, str]],
    out: Path,
    fmt: AudioFormat = "wav",
    speed: int = 160,
    *,
    pause_seconds: float = 0.6,
    sample_rate: int = 16_000,
) -> Path:
    """Speak ``lines`` of ``(voice, text)`` one after the other into ``out``.

    Each line is rendered by espeak-ng at ``speed`` words per minute, lines are separated
    by ``pause_seconds`` of silence (sox), and the result is encoded as ``fmt`` (mono,
    ``sample_rate`` Hz; MP3 with a Xing header, so truncation is detectable). sox runs
    without dither, so the same lines always give the same WAV bytes.
    """
    require_tools()
    if not lines:
        raise ValueError("lines must not be empty")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="synth-") as tmp:
        tmpdir = Path(tmp)
        parts: list[Path] = []
        gap = tmpdir / "gap.wav"
        silence = ["trim", "0", f"{pause_seconds:.3f}"]
        _run(["sox", "-D", "-n", "-r", str(sample_rate), "-c", "1", "-b", "16", gap, *silence])
        for i, (voice, text) in enumerate(lines):
            raw = tmpdir / f"line-{i:04d}.raw.wav"
            part = tmpdir / f"line-{i:04d}.wav"
            _run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", raw, text])
            _run(["sox", "-D", raw, "-r", str(sample_rate), "-c", "1", "-b", "16", part])
            if parts:
                parts.append(gap)
            parts.append(part)
        joined = tmpdir / "joined.wav"
        _concat(parts, joined, tmpdir)
        encode(joined, out, fmt)
    return out


def encode(src: Path, out: Path, fmt: AudioFormat) -> Path:
    """Re-encode ``src`` as ``fmt`` with ffmpeg (mono, same rate)."""
    codec = {
        "wav": ["-c:a", "pcm_s16le"],
        "mp3": ["-c:a", "libmp3lame", "-q:a", "5"],
        "ogg": ["-c:a", "libvorbis", "-q:a", "3"],
        "flac": ["-c:a", "flac"],
        "m4a": ["-c:a", "aac", "-b:a", "64k", "-movflags", "+faststart"],
    }[fmt]
    _run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-y",
            "-i",
            src,
            "-ac",
            "1",
            *codec,
            "-f",
            {"m4a": "mp4"}.get(fmt, fmt),
            out,
        ]
    )
    return out


def _concat(parts: list[Path], out: Path, tmpdir: Path) -> None:
    # sox takes every input on the command line; batch to stay below ARG_MAX for long calls.
    batch = 200
    if len(parts) <= batch:
        _run(["sox", "-D", *parts, out])
        return
    groups = []
    for g, i in enumerate(range(0, len(parts), batch)):
        group = tmpdir / f"group-{g:04d}.wav"
        _run(["sox", "-D", *parts[i : i + batch], group])
        groups.append(group)
    _concat(groups, out, tmpdir)


def _run(cmd: Iterable[str | Path]) -> None:
    subprocess.run([str(c) for c in cmd], check=True, capture_output=True)
