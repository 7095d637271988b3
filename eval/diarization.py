"""Diarization error rate (DER) of the transcriber's mono diarization on synthesised mixes.

    python -m eval.diarization

Each mix is a two- (or three-) voice conversation spoken line by line by espeak-ng voices
of different timbre, laid on one mono track with pauses of varied length and, for some turn
changes, the next speaker starting before the previous one finished (overlap). The exact
time of every line is the ground truth. DER is measured with ``pyannote.metrics``
(missed speech + false alarm + speaker confusion, over reference speech; collar 0.25 s
around each reference boundary, overlap included), for the clustering and for the baseline
"all speech is one speaker" (the reference speech, one label), in the same run.
"""

from __future__ import annotations

import random
import subprocess
import tempfile
import time
import warnings
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from eval.generate import CACHE_DIR

SAMPLE_RATE = 16_000
COLLAR = 0.25

_LINES = (
    "Thanks for taking the time today, I wanted to learn how your team handles renewals.",
    "Sure. Right now it is mostly spreadsheets and a lot of email reminders.",
    "How many renewals does the team process in a typical quarter?",
    "Around four hundred, and about a tenth of them slip past the deadline.",
    "What happens when one slips?",
    "We lose the discount and finance gets very unhappy with us.",
    "Who else would look at a tool like ours before you decide?",
    "Our controller, and the security team will want to review it.",
    "That makes sense. Would a short pilot help you make the case?",
    "Yes, a pilot with one region would be the easiest way to start.",
    "Great, I will send over a proposal and some times for next week.",
    "Perfect, please copy my manager on that email.",
)

MIXES: tuple[tuple[str, tuple[str, ...], int], ...] = (
    ("male-female", ("en-us+m3", "en-gb+f3"), 1),
    ("two-males", ("en-us+m3", "en-us+m7"), 2),
    ("two-females", ("en-gb+f2", "en-us+f4"), 3),
    ("female-male-fast", ("en-us+f3", "en-gb+m1"), 4),
    ("three-voices", ("en-us+m3", "en-gb+f3", "en-us+m7"), 5),
    ("one-voice", ("en-us+m3",), 7),
)
"""(id, voices in speaking order, seed for pauses and overlaps)."""


@dataclass(frozen=True)
class Mix:
    name: str
    path: Path
    turns: list[tuple[float, float, str]]
    """(start, end, speaker) of every spoken line: the reference."""

    @property
    def stereo_path(self) -> Path:
        """Each voice on its own channel (two-voice mixes only)."""
        return self.path.with_name(f"{self.name}-stereo.wav")

    @property
    def seconds(self) -> float:
        return max(end for _, end, _ in self.turns)


def _speak(voice: str, text: str, tmp: Path) -> npt.NDArray[np.float32]:
    raw = tmp / "line.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", "165", "-w", str(raw), text], check=True)
    out = tmp / "line16k.wav"
    subprocess.run(
        ["sox", "-D", str(raw), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(out)], check=True
    )
    with wave.open(str(out)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    samples = pcm.astype(np.float32) / 32768.0
    loud = np.flatnonzero(np.abs(samples) > 0.01)
    return samples[loud[0] : loud[-1] + 1] if len(loud) else samples


def build_mix(name: str, voices: Sequence[str], seed: int, cache_dir: Path = CACHE_DIR) -> Mix:
    """The mix's WAV (cached by name) and its reference turns."""
    rng = random.Random(seed)
    lines = [(voices[i % len(voices)], text) for i, text in enumerate(_LINES)]
    path = cache_dir / "diarization" / f"{name}.wav"
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mix-") as tmp:
        spoken = [_speak(v, t, Path(tmp)) for v, t in lines]
    length = int((sum(len(s) for s in spoken) / SAMPLE_RATE + 30) * SAMPLE_RATE)
    tracks = np.zeros((len(voices), length), np.float32)
    turns: list[tuple[float, float, str]] = []
    cursor = 0.5
    for (voice, _), samples in zip(lines, spoken, strict=True):
        start = cursor
        at = int(start * SAMPLE_RATE)
        tracks[voices.index(voice), at : at + len(samples)] += samples
        end = start + len(samples) / SAMPLE_RATE
        turns.append((round(start, 3), round(end, 3), f"voice {voices.index(voice) + 1}"))
        roll = rng.random()
        gap = -rng.uniform(0.3, 0.9) if roll < 0.2 else rng.uniform(0.2, 1.5)
        cursor = end + gap
    used = int((max(e for _, e, _ in turns) + 0.5) * SAMPLE_RATE)
    _write_wav(path, tracks[:, :used].sum(axis=0, keepdims=True))
    if len(voices) == 2:
        _write_wav(path.with_name(f"{name}-stereo.wav"), tracks[:, :used])
    return Mix(name, path, turns)


def _write_wav(path: Path, channels: npt.NDArray[np.float32]) -> None:
    """(channels, samples) floats as 16-bit PCM, interleaved."""
    pcm = (np.clip(channels, -1, 1) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(len(channels))
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm.T.copy().tobytes())


def _annotation(turns: Sequence[tuple[float, float, str]]) -> object:
    from pyannote.core import Annotation, Segment

    ann = Annotation()
    for i, (start, end, speaker) in enumerate(turns):
        ann[Segment(start, end), str(i)] = speaker
    return ann


def der(
    reference: Sequence[tuple[float, float, str]], hypothesis: Sequence[tuple[float, float, str]]
) -> float:
    from pyannote.core import Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    warnings.filterwarnings("ignore", module="pyannote")
    metric = DiarizationErrorRate(collar=COLLAR, skip_overlap=False)
    extent = Timeline([Segment(0.0, max(e for _, e, _ in [*reference, *hypothesis]))])
    return float(metric(_annotation(reference), _annotation(hypothesis), uem=extent))


def one_speaker_baseline(
    reference: Sequence[tuple[float, float, str]],
) -> list[tuple[float, float, str]]:
    """All reference speech, labelled as a single speaker."""
    return [(s, e, "everyone") for s, e, _ in reference]


@dataclass(frozen=True)
class DiarizationResult:
    mix: str
    seconds: float
    speakers_true: int
    speakers_found: int
    der: float
    der_baseline: float
    elapsed_seconds: float


def diarize_mix(mix: Mix) -> DiarizationResult:
    from callstream_transcriber.audio import iter_pcm
    from callstream_transcriber.diarization import (
        cluster_windows,
        speaker_label,
        speaker_turns,
        speech_windows,
    )

    samples = np.concatenate(list(iter_pcm(mix.path)))
    started = time.perf_counter()
    windows = speech_windows(samples)
    labels = cluster_windows(windows)
    turns = speaker_turns(windows, labels.tolist())
    elapsed = time.perf_counter() - started
    hypothesis = [(t.start, t.end, speaker_label(t.speaker)) for t in turns]
    return DiarizationResult(
        mix=mix.name,
        seconds=round(mix.seconds, 1),
        speakers_true=len({s for _, _, s in mix.turns}),
        speakers_found=len(set(labels.tolist())),
        der=round(der(mix.turns, hypothesis), 4),
        der_baseline=round(der(mix.turns, one_speaker_baseline(mix.turns)), 4),
        elapsed_seconds=round(elapsed, 3),
    )


def run_diarization_eval() -> list[DiarizationResult]:
    return [diarize_mix(build_mix(name, voices, seed)) for name, voices, seed in MIXES]


def total(results: Sequence[DiarizationResult]) -> tuple[float, float]:
    """Duration-weighted DER of the clustering and of the one-speaker baseline."""
    weight = sum(r.seconds for r in results) or 1.0
    return (
        sum(r.der * r.seconds for r in results) / weight,
        sum(r.der_baseline * r.seconds for r in results) / weight,
    )


def print_diarization(results: Sequence[DiarizationResult]) -> None:
    from bench.common import print_table

    rows: list[list[object]] = [
        [
            r.mix,
            f"{r.seconds:.0f}",
            r.speakers_true,
            r.speakers_found,
            f"{r.der:.1%}",
            f"{r.der_baseline:.1%}",
            f"{r.elapsed_seconds:.2f}",
        ]
        for r in results
    ]
    ours, base = total(results)
    rows.append(
        [
            "all (time-weighted)",
            f"{sum(r.seconds for r in results):.0f}",
            "",
            "",
            f"{ours:.1%}",
            f"{base:.1%}",
            "",
        ]
    )
    print_table(
        "Diarization — mono mixes of espeak voices (pauses, 20% overlapping turns)",
        ["mix", "audio s", "speakers", "found", "DER", "DER one-speaker", "s"],
        rows,
        caption=(
            f"pyannote.metrics DER, collar {COLLAR} s, overlap scored; "
            "baseline: all speech one speaker"
        ),
    )


def main() -> None:
    print_diarization(run_diarization_eval())


if __name__ == "__main__":
    main()
