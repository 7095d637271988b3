"""A long call split across transcribers: when to split, what a chunk's transcript holds,
and how the chunks become one transcript — pure rules, no I/O.

A recording longer than the threshold is cut at pauses (``audio.plan_chunks``, the same
planning the in-process chunked decode uses), each chunk is transcribed by whichever
transcriber instance takes its event, and when the last one is stored the call's
transcript is assembled here, in chunk order, exactly as the whole-file path would have
built it: words at call time (each chunk's exact sample offset added), loops dropped and
segments cut over the joined words (so a sentence across a cut is one segment), and the
speakers clustered over the speech windows of *every* chunk at once, so that "Speaker 1"
is the same voice from the first chunk to the last.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol, runtime_checkable

from callstream_common.contracts import Diarization, Transcript
from callstream_transcriber.diarization import SpeechWindows, label_speakers
from callstream_transcriber.segments import TimedWord, build_segments, drop_loops

CHUNK_PREFIX = "chunks"


def should_split(duration_seconds: float, threshold_seconds: float) -> bool:
    """Whether a call of ``duration_seconds`` goes to the chunk topic (0 turns splitting off)."""
    return threshold_seconds > 0 and duration_seconds > threshold_seconds


def chunk_prefix(conversation_id: uuid.UUID) -> str:
    """Where the chunks of one call live in the object store (deleted once assembled)."""
    return f"{CHUNK_PREFIX}/{conversation_id}/"


def chunk_key(conversation_id: uuid.UUID, index: int) -> str:
    """The object key of one chunk: derived, so a repeated split overwrites, never adds."""
    return f"{chunk_prefix(conversation_id)}{index:04d}.flac"


@dataclass(frozen=True)
class ChunkSpan:
    """One chunk of the plan: its place in the call and where its audio was put."""

    index: int
    start: float
    end: float
    object_key: str


@dataclass(frozen=True)
class PieceTranscript:
    """What one transcriber made of one chunk, at call time (the chunk's offset added)."""

    index: int
    start: float
    end: float
    words: tuple[TimedWord, ...]
    speech: SpeechWindows
    """The chunk's speech windows, kept so that speakers are found over the whole call."""
    provider: str
    model: str
    language: str = "en"
    elapsed_seconds: float = 0.0
    """Transcription time of the chunk (what a projection of more machines is built on)."""


@runtime_checkable
class PieceTranscriber(Protocol):
    """An engine that transcribes one chunk file placed at ``start`` seconds of its call;
    ``vocabulary`` is only used by the first chunk (where names are introduced)."""

    def transcribe_piece(
        self, path: Path, index: int, start: float, vocabulary: Sequence[str] = ()
    ) -> PieceTranscript: ...


class ChunksIncomplete(ValueError):
    """Assembly was asked for with a chunk missing (a bug in the caller, never retried)."""


def assemble(
    pieces: Iterable[PieceTranscript],
    count: int,
    *,
    diarize: bool = True,
    max_speakers: int = 4,
) -> Transcript:
    """The call's transcript from its ``count`` chunk transcripts, whatever order they
    arrived in. Words keep chunk order; a word a decoder timed a hair before the previous
    chunk's last word is moved up to it, so the transcript stays ordered."""
    ordered = sorted(pieces, key=lambda p: p.index)
    if [p.index for p in ordered] != list(range(count)):
        have = [p.index for p in ordered]
        raise ChunksIncomplete(f"expected chunks 0..{count - 1}, have {have}")
    words: list[TimedWord] = []
    speech = SpeechWindows.empty()
    for piece in ordered:
        for word in piece.words:
            floor = words[-1].start if words else 0.0
            if word.start < floor:
                word = replace(word, start=floor, end=max(word.end, floor))
            words.append(word)
        speech = speech + piece.speech
    method = Diarization.NONE
    if diarize and not any(w.speaker for w in words):
        words, method = label_speakers(words, speech, max_speakers)
    first = ordered[0]
    return Transcript(
        language=next((p.language for p in ordered if p.language), "en"),
        duration_seconds=round(ordered[-1].end, 3),
        segments=build_segments(drop_loops(words)),
        provider=first.provider,
        model=first.model,
        diarization=method,
    )


def piece_from_transcript(
    transcript: Transcript, index: int, start: float, elapsed_seconds: float = 0.0
) -> PieceTranscript:
    """A chunk transcript from an engine that only transcribes whole files (a remote API):
    its words (or each segment as one word when it gives none) moved to call time."""
    words: list[TimedWord] = []
    for segment in transcript.segments:
        timed = segment.words or []
        if timed:
            words += [
                TimedWord(start + w.start, start + w.end, f" {w.text}", segment.speaker)
                for w in timed
            ]
        else:
            words.append(TimedWord(start + segment.start, start + segment.end, f" {segment.text}"))
    return PieceTranscript(
        index=index,
        start=start,
        end=start + transcript.duration_seconds,
        words=tuple(words),
        speech=SpeechWindows.empty(),
        provider=transcript.provider,
        model=transcript.model,
        language=transcript.language,
        elapsed_seconds=elapsed_seconds,
    )
