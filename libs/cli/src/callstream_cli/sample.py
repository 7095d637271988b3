"""The sample sales call `make up` processes: synthesized on the spot, never downloaded.

Two espeak-ng voices (rep and prospect) speak a short discovery call that touches every
MEDDIC dimension — pain, metrics, economic buyer, decision criteria, decision process and a
champion — and sox joins the lines with short pauses into one 16 kHz mono WAV.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

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
    missing = [t for t in ("espeak-ng", "sox") if shutil.which(t) is None]
    if missing:
        raise RuntimeError(
            f"missing {', '.join(missing)}: run scripts/bootstrap.sh "
            "(apt-get install espeak-ng sox)"
        )


def synthesize(
    lines: Sequence[tuple[str, str]], out: Path, speed: int = 160, pause: float = 0.4
) -> Path:
    """Speak ``lines`` [(voice, text)] into one 16 kHz mono WAV at ``out``."""
    require_tools()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="callstream-tts-") as tmp:
        parts: list[str] = []
        silence = Path(tmp) / "silence.wav"
        subprocess.run(
            [
                "sox",
                "-n",
                "-r",
                "16000",
                "-c",
                "1",
                "-b",
                "16",
                str(silence),
                "trim",
                "0",
                str(pause),
            ],
            check=True,
        )
        for i, (voice, text) in enumerate(lines):
            raw = Path(tmp) / f"line{i:04d}.wav"
            subprocess.run(
                ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), text],
                check=True,
                capture_output=True,
            )
            norm = Path(tmp) / f"norm{i:04d}.wav"
            subprocess.run(
                ["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(norm)], check=True
            )
            parts += [str(norm), str(silence)]
        subprocess.run(["sox", *parts, str(out)], check=True)
    return out
