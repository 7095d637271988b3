"""Labelled synthetic sales calls: the dialogue scripts of ``eval/scripts/``, spoken.

    python -m eval.generate [--only ID ...]     # synthesise (cached) and list the calls

Each script (one YAML file) is a hand-written call in its own industry and wording, with the
voices and speed it is spoken in and a ground truth for every MEDDIC dimension: ``absent``
(never came up) or the strength 2-5 a careful reviewer gives it on the scorecard's scale,
where 1 means "not discussed" and is therefore the same as absent:

    2  touched on: the prospect only acknowledged the rep's claim, deflected, was vague,
       or does not know (what only the rep said, unanswered, is absent)
    3  the prospect speaks to it clearly, without specifics
    4  specifics (numbers, names, dates, systems) on more than one aspect
    5  thorough: several aspects, all specific, confirmed or repeated

Audio is spoken by espeak-ng through ``callstream_cli.sample.synthesize`` (one voice per
speaker, one speed per call, 16 kHz mono WAV) and cached under ``eval/results/cache/audio/``
by a hash of what is spoken, so reruns and the benchmarks reuse it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import threading
import wave
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from callstream_common.contracts import MeddicDimension, Transcript, TranscriptSegment

if TYPE_CHECKING:
    from callstream_cli.sample import AudioFormat

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS_DIR = Path(__file__).resolve().parent / "scripts"
RESULTS_DIR = ROOT / "eval" / "results"
CACHE_DIR = RESULTS_DIR / "cache"

DIMENSIONS: tuple[MeddicDimension, ...] = tuple(MeddicDimension)
ABSENT = "absent"
MIN_STRENGTH, MAX_STRENGTH = 2, 5
#: Speaker keys a script may use, and the labels a diarised transcript would carry.
SPEAKER_LABELS: dict[str, str] = {
    "rep": "Rep",
    "rep2": "Sales Engineer",
    "prospect": "Prospect",
    "prospect2": "Prospect 2",
}
PAUSE_SECONDS = 0.4
"""Silence between lines (``callstream_cli.sample.synthesize``'s ``pause_seconds``)."""
SYNTH_VERSION = "callstream_cli.sample.synthesize/v2"
"""Part of the audio cache key: change it when the way audio is made changes."""


class Line(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    speaker: str
    text: str = Field(min_length=1)


class Script(BaseModel):
    """One labelled call: who says what, how it is spoken, and the MEDDIC ground truth."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    industry: str
    description: str
    speed: int = Field(ge=80, le=260)
    """espeak-ng words per minute for the whole call."""
    noise: bool = False
    """Small talk, interruptions, names and numbers around the substance."""
    held_out: bool = False
    """Written after the analyzer was last tuned and never looked at while tuning it: the
    eval reports these calls' figures on their own as well (an honest generalisation check)."""
    voices: dict[str, str]
    """Speaker key (``rep``, ``prospect``, ...) to espeak-ng voice."""
    truth: dict[MeddicDimension, int | None]
    """Strength 2-5 per dimension, ``None`` when absent (written ``absent`` in YAML)."""
    lines: tuple[Line, ...] = Field(min_length=4)

    @field_validator("truth", mode="before")
    @classmethod
    def _absent_is_none(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {k: None if v == ABSENT else v for k, v in value.items()}

    @field_validator("truth")
    @classmethod
    def _every_dimension(
        cls, value: dict[MeddicDimension, int | None]
    ) -> dict[MeddicDimension, int | None]:
        missing = [d.value for d in DIMENSIONS if d not in value]
        if missing:
            raise ValueError(f"ground truth missing for {', '.join(missing)}")
        for d, strength in value.items():
            if strength is not None and not MIN_STRENGTH <= strength <= MAX_STRENGTH:
                raise ValueError(
                    f"{d.value}: strength must be {MIN_STRENGTH}-{MAX_STRENGTH} or '{ABSENT}'"
                )
        return {d: value[d] for d in DIMENSIONS}

    @field_validator("lines", mode="before")
    @classmethod
    def _one_key_mappings(cls, value: Any) -> Any:
        """YAML writes a line as ``- rep: "text"``; turn it into ``Line``."""
        if not isinstance(value, list):
            return value
        out: list[Any] = []
        for item in value:
            if isinstance(item, dict) and len(item) == 1:
                ((speaker, text),) = item.items()
                out.append({"speaker": speaker, "text": text})
            else:
                out.append(item)
        return out

    @model_validator(mode="after")
    def _speakers_are_voiced(self) -> Script:
        unknown = set(self.voices) - set(SPEAKER_LABELS)
        if unknown:
            raise ValueError(f"unknown speaker keys {sorted(unknown)}; use {list(SPEAKER_LABELS)}")
        unvoiced = {line.speaker for line in self.lines} - set(self.voices)
        if unvoiced:
            raise ValueError(f"lines by speakers without a voice: {sorted(unvoiced)}")
        if not {"rep", "prospect"} <= {line.speaker for line in self.lines}:
            raise ValueError("a call needs lines by both 'rep' and 'prospect'")
        return self

    def present(self, dimension: MeddicDimension) -> bool:
        return self.truth[dimension] is not None

    @property
    def reference_text(self) -> str:
        """What is said, in order: the reference for word error rate."""
        return " ".join(line.text for line in self.lines)

    @property
    def word_count(self) -> int:
        return len(self.reference_text.split())

    def spoken_lines(self) -> list[tuple[str, str]]:
        """``(voice, text)`` pairs as ``callstream_cli.sample.synthesize`` takes them."""
        return [(self.voices[line.speaker], line.text) for line in self.lines]

    @property
    def audio_key(self) -> str:
        """Hash of everything that shapes the audio (not the labels or descriptions)."""
        return content_hash(
            {"synth": SYNTH_VERSION, "speed": self.speed, "lines": self.spoken_lines()}
        )


def content_hash(value: object) -> str:
    data = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(data).hexdigest()


def load_script(path: Path) -> Script:
    return Script.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def load_scripts(directory: Path = SCRIPTS_DIR, only: Iterable[str] = ()) -> list[Script]:
    """Every script in ``directory`` in file-name order (or just the ids in ``only``)."""
    scripts = [load_script(p) for p in sorted(directory.glob("*.yaml"))]
    ids = [s.id for s in scripts]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"duplicate script ids: {duplicates}")
    wanted = list(only)
    if wanted:
        unknown = sorted(set(wanted) - set(ids))
        if unknown:
            raise ValueError(f"unknown script ids: {unknown}")
        scripts = [s for s in scripts if s.id in wanted]
    return scripts


# --------------------------------------------------------------------------- text transcripts


def speaking_seconds(text: str, speed: int) -> float:
    """Rough length of ``text`` spoken at ``speed`` words per minute."""
    return max(0.5, len(text.split()) * 60.0 / speed)


def script_transcript(script: Script, *, speakers: bool = True) -> Transcript:
    """The script as a perfect transcript: one segment per line with estimated times and,
    if ``speakers``, diarised role labels ("Rep", "Prospect", ...)."""
    segments: list[TranscriptSegment] = []
    t = 0.0
    for line in script.lines:
        end = t + speaking_seconds(line.text, script.speed)
        segments.append(
            TranscriptSegment(
                start=round(t, 2),
                end=round(end, 2),
                text=line.text,
                speaker=SPEAKER_LABELS[line.speaker] if speakers else None,
            )
        )
        t = end + PAUSE_SECONDS
    return Transcript(
        language="en",
        duration_seconds=round(t, 2),
        segments=segments,
        provider="script",
        model=script.id,
    )


_MARKERS = ("So", "Well", "And", "Honestly", "Right", "Also", "Look", "Okay", "Now", "Actually")


def _reworded(text: str, round_no: int) -> str:
    """``text`` as said again in a later round: each sentence opens with a discourse marker
    that differs from round to round, so no sentence of a long call is an exact repeat
    (an analyzer that embeds each distinct sentence once would otherwise get a discount)."""
    if round_no == 0:
        return text
    out: list[str] = []
    for j, sentence in enumerate(re.split(r"(?<=[.?!])\s+", text)):
        marker = _MARKERS[(3 * round_no + j) % len(_MARKERS)]
        first, _, rest = sentence.partition(" ")
        if first != "I" and not first.startswith("I'"):
            first = first[:1].lower() + first[1:]
        out.append(f"{marker}, {first} {rest}".rstrip())
    return " ".join(out)


def stitched_lines(
    min_seconds: float, *, speed: int = 160, scripts: Sequence[Script] | None = None
) -> list[tuple[str, str, str]]:
    """``(speaker label, voice, text)`` lines from the scripts, one call after another, until
    about ``min_seconds`` of speech at ``speed``: varied sentences in varied voices for long
    benchmark calls. Past the end of the corpus (about 36 minutes) it goes round again with
    every sentence reworded (``_reworded``), so no sentence repeats exactly."""
    pool = list(scripts) if scripts is not None else load_scripts()
    if not pool:
        raise ValueError("no scripts to build a call from")
    out: list[tuple[str, str, str]] = []
    total = 0.0
    n = 0
    while total < min_seconds:
        script = pool[n % len(pool)]
        round_no = n // len(pool)
        n += 1
        for line in script.lines:
            text = _reworded(line.text, round_no)
            out.append((SPEAKER_LABELS[line.speaker], script.voices[line.speaker], text))
            total += speaking_seconds(text, speed) + PAUSE_SECONDS
            if total >= min_seconds:
                break
    return out


def stitched_transcript(minutes: float, *, seed: int = 0, speed: int = 150) -> Transcript:
    """A long diarised transcript of about ``minutes`` from the scripts' lines (calls in a
    seeded random order), with segments timed at ``speed`` words per minute: realistic input
    for timing the analyzer on long calls."""
    pool = load_scripts()
    random.Random(seed).shuffle(pool)
    segments: list[TranscriptSegment] = []
    t = 0.0
    for speaker, _voice, text in stitched_lines(minutes * 60, speed=speed, scripts=pool):
        end = t + speaking_seconds(text, speed)
        segments.append(
            TranscriptSegment(start=round(t, 2), end=round(end, 2), text=text, speaker=speaker)
        )
        t = end + PAUSE_SECONDS
    return Transcript(
        language="en", duration_seconds=round(t, 2), segments=segments, provider="stitched"
    )


# --------------------------------------------------------------------------- audio


def audio_path(script: Script, cache_dir: Path = CACHE_DIR) -> Path:
    return cache_dir / "audio" / f"{script.id}-{script.audio_key[:16]}.wav"


def synthesize_lines(
    lines: Sequence[tuple[str, str]], out: Path, speed: int, fmt: AudioFormat = "wav"
) -> Path:
    """Speak ``(voice, text)`` lines into ``out`` (16 kHz mono ``fmt``), atomically: a
    half-written file never looks cached."""
    from callstream_cli.sample import synthesize

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.{threading.get_ident()}.tmp{out.suffix}")
    try:
        synthesize(lines, tmp, fmt, speed, pause_seconds=PAUSE_SECONDS)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def synthesize_script(script: Script, cache_dir: Path = CACHE_DIR) -> Path:
    """The call's WAV (16 kHz mono), synthesised on first use and cached by content."""
    path = audio_path(script, cache_dir)
    if not path.exists():
        synthesize_lines(script.spoken_lines(), path, script.speed)
    return path


def synthesize_all(
    scripts: Sequence[Script], cache_dir: Path = CACHE_DIR, workers: int = 2
) -> dict[str, Path]:
    """Synthesise every script not yet cached (``workers`` at a time); id → WAV path."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        paths = list(pool.map(lambda s: synthesize_script(s, cache_dir), scripts))
    return {s.id: p for s, p in zip(scripts, paths, strict=True)}


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


def truth_summary(script: Script) -> str:
    """E.g. ``M5 EB4 DC- DP4 IP5 CH4`` (``-`` = absent)."""
    return " ".join(
        f"{short_name(d)}{'-' if script.truth[d] is None else script.truth[d]}" for d in DIMENSIONS
    )


SHORT_NAMES: dict[MeddicDimension, str] = {
    MeddicDimension.METRICS: "M",
    MeddicDimension.ECONOMIC_BUYER: "EB",
    MeddicDimension.DECISION_CRITERIA: "DC",
    MeddicDimension.DECISION_PROCESS: "DP",
    MeddicDimension.IDENTIFY_PAIN: "IP",
    MeddicDimension.CHAMPION: "CH",
}


def short_name(dimension: MeddicDimension) -> str:
    return SHORT_NAMES[dimension]


def main(argv: Sequence[str] | None = None) -> None:
    from bench.common import print_table

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", default=[], metavar="ID", help="just these calls")
    parser.add_argument("--workers", type=int, default=2, help="parallel syntheses")
    args = parser.parse_args(argv)

    scripts = load_scripts(only=args.only)
    paths = synthesize_all(scripts, workers=args.workers)
    manifest: list[dict[str, object]] = []
    rows: list[list[object]] = []
    for s in scripts:
        seconds = wav_seconds(paths[s.id])
        voices = " / ".join(s.voices.values())
        manifest.append(
            {
                "id": s.id,
                "industry": s.industry,
                "audio": str(paths[s.id].relative_to(ROOT)),
                "audio_seconds": round(seconds, 1),
                "speed": s.speed,
                "voices": s.voices,
                "noise": s.noise,
                "words": s.word_count,
                "truth": {d.value: s.truth[d] for d in DIMENSIONS},
                "reference": s.reference_text,
            }
        )
        rows.append(
            [
                s.id,
                voices,
                s.speed,
                "yes" if s.noise else "",
                s.word_count,
                f"{seconds:.0f}",
                truth_summary(s),
            ]
        )
    total = sum(float(str(m["audio_seconds"])) for m in manifest)
    print_table(
        f"{len(scripts)} labelled calls, {total / 60:.1f} min of audio",
        ["call", "voices", "wpm", "noise", "words", "audio s", "ground truth"],
        rows,
        caption="ground truth: M EB DC DP IP CH strength 2-5, - = absent",
    )
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "calls.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
