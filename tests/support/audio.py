"""Synthesised test audio: spoken dialogues and deliberately broken files.

Nothing is downloaded: speech comes from espeak-ng, concatenation from sox, compressed
formats from ffmpeg (``apt-get install -y espeak-ng sox libsox-fmt-all ffmpeg``).

    from tests.support.audio import SALES_CALL, synthesize_dialogue
    path = synthesize_dialogue(SALES_CALL, tmp_path / "call.mp3", fmt="mp3")
"""

from __future__ import annotations

import random
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

from callstream_cli.sample import AudioFormat, encode, require_tools
from callstream_cli.sample import synthesize as synthesize_dialogue

__all__ = [
    "SALES_CALL",
    "SENTENCES",
    "VOICES",
    "AudioFormat",
    "encode",
    "long_dialogue",
    "make_empty",
    "make_garbage",
    "make_truncated_body",
    "make_truncated_header",
    "make_zero_duration_wav",
    "require_tools",
    "synthesize_dialogue",
    "write_wav",
]

VOICES = ("en-us", "en-gb", "en+m3", "en+f3")
"""Voices that exist in every espeak-ng install; alternate them for two speakers."""

SALES_CALL: list[tuple[str, str]] = [
    ("en-us", "Thanks for joining the call today. I am Sarah from Acme Analytics."),
    ("en-gb", "Happy to be here. I run operations at Northwind Logistics."),
    ("en-us", "What is the biggest problem your team is dealing with right now?"),
    (
        "en-gb",
        "Our dispatchers spend about twenty hours a week rebuilding reports by hand, "
        "and late deliveries cost us roughly two hundred thousand dollars a year.",
    ),
    ("en-us", "Who signs off on a purchase like this?"),
    (
        "en-gb",
        "Our chief financial officer, Maria Lopez, approves anything above fifty thousand "
        "dollars. I will champion this internally.",
    ),
    ("en-us", "How will you decide between vendors?"),
    (
        "en-gb",
        "We care about integration with our warehouse system, security review, "
        "and a pilot by the end of the quarter.",
    ),
    ("en-us", "Great. The next step is a technical demo with your IT team next Tuesday."),
    ("en-gb", "That works. Please send the security questionnaire before then."),
]
"""A short MEDDIC-flavoured call (~60 s) for end-to-end tests."""

SENTENCES: tuple[str, ...] = (
    "Let us start with a quick overview of your current process.",
    "We track every shipment in a spreadsheet that nobody trusts.",
    "The warehouse team updates the numbers twice a day.",
    "Our largest customer complained about missed deadlines last month.",
    "How many people touch each order before it ships?",
    "Usually three people, sometimes four during the holiday season.",
    "What would it mean for you to cut that time in half?",
    "It would free up two full time employees for customer work.",
    "Who else should be part of the evaluation?",
    "Our head of finance and the security lead will join later.",
    "The budget for this project was approved in January.",
    "We need a decision before the end of the second quarter.",
    "Have you looked at any other vendors so far?",
    "We had a short demo with a competitor but the price was too high.",
    "What did you like about their product?",
    "The dashboards were nice but the integration looked painful.",
    "Integration is where we usually win these comparisons.",
    "Can your system connect to our existing warehouse software?",
    "Yes, we have a connector that takes about a week to configure.",
    "That sounds much faster than what we expected.",
    "What happens if the connector fails during the night?",
    "The platform retries automatically and alerts the on call engineer.",
    "Security will ask about encryption and data retention.",
    "Everything is encrypted at rest and in transit by default.",
    "Customer data is deleted ninety days after the contract ends.",
    "I will send you our compliance report after this call.",
    "Let us talk about pricing for a moment.",
    "The standard plan covers up to fifty users.",
    "We would probably need around eighty seats next year.",
    "Then the enterprise plan is the better fit for you.",
    "Could we run a pilot with one region first?",
    "A pilot of six weeks is a common way to start.",
    "Who would own the pilot on your side?",
    "My colleague David manages the northern region and he is very motivated.",
    "Great, let us schedule a kickoff with David next week.",
    "I will prepare a short proposal with the pilot scope.",
    "Please include the success criteria we discussed today.",
    "Of course, we will measure delivery time and report accuracy.",
    "Thank you for your time, this was a very helpful conversation.",
    "Talk to you next week, have a great afternoon.",
    "Before we finish, could you share the current contract terms?",
    "Our renewal with the old provider comes up in September.",
    "Legal usually needs two weeks to review a new agreement.",
    "We can start the paperwork in parallel with the pilot.",
    "Send me the names of everyone who should receive the proposal.",
    "I will follow up by email with a summary of today.",
)
"""Forty-six distinct sentences (~3.8 min); ``long_dialogue`` cycles through them."""


def long_dialogue(min_sentences: int) -> list[tuple[str, str]]:
    """At least ``min_sentences`` lines alternating two voices (~5 s of speech each)."""
    return [(VOICES[i % 2], SENTENCES[i % len(SENTENCES)]) for i in range(max(1, min_sentences))]


# --------------------------------------------------------------------------- broken files


def make_empty(out: Path) -> Path:
    """A zero-byte file."""
    out.write_bytes(b"")
    return out


def make_garbage(out: Path, size: int = 8192, seed: int = 1234) -> Path:
    """Bytes no demuxer recognises: a text-like header then seeded noise."""
    rng = random.Random(seed)
    out.write_bytes(b"%%GARBAGE%%" + bytes(rng.getrandbits(8) for _ in range(size)))
    return out


def make_truncated_header(src: Path, out: Path, keep_bytes: int = 30) -> Path:
    """Only the first ``keep_bytes`` of ``src``: the container header itself is cut."""
    out.write_bytes(src.read_bytes()[:keep_bytes])
    return out


def make_truncated_body(src: Path, out: Path, keep_fraction: float = 0.4) -> Path:
    """The first ``keep_fraction`` of ``src``'s bytes: header intact, audio cut short.

    Detectable for WAV, FLAC, MP3 with a Xing header and faststart M4A; an OGG file has no
    declared length and simply looks shorter.
    """
    data = src.read_bytes()
    out.write_bytes(data[: int(len(data) * keep_fraction)])
    return out


def make_zero_duration_wav(out: Path, sample_rate: int = 16_000) -> Path:
    """A well-formed WAV header with no samples."""
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(b"")
    return out


def write_wav(out: Path, samples: npt.NDArray[np.floating], sample_rate: int = 16_000) -> Path:
    """Write mono 16-bit PCM from floats in [-1, 1] (for synthetic tones and silences)."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())
    return out
