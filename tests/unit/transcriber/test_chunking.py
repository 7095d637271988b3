"""The pure side of a long call split across transcribers: the cut plan, and the assembly
of chunk transcripts into one (in any arrival order, with speakers consistent over the
chunk borders)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from callstream_common.contracts import Diarization, Transcript, TranscriptSegment
from callstream_transcriber.audio import SAMPLE_RATE, plan_chunks
from callstream_transcriber.chunking import (
    ChunksIncomplete,
    PieceTranscript,
    assemble,
    chunk_key,
    piece_from_transcript,
    should_split,
)
from callstream_transcriber.diarization import SpeechWindows
from callstream_transcriber.segments import TimedWord


def words(start: float, *texts: str) -> tuple[TimedWord, ...]:
    return tuple(
        TimedWord(start + i * 0.5, start + i * 0.5 + 0.4, f" {t}") for i, t in enumerate(texts)
    )


def piece(index: int, start: float, end: float, *texts: str, **kw: object) -> PieceTranscript:
    defaults: dict[str, object] = {
        "speech": SpeechWindows.empty(),
        "provider": "builtin",
        "model": "whisper-tiny.en",
    }
    return PieceTranscript(index, start, end, words(start, *texts), **(defaults | kw))  # type: ignore[arg-type]


PIECES = [
    piece(0, 0.0, 29.7, "Thanks", "for", "joining."),
    piece(1, 29.7, 58.2, "Our", "budget", "is", "approved."),
    piece(2, 58.2, 80.0, "Next", "step", "is", "legal."),
]


def test_split_only_above_a_positive_threshold() -> None:
    assert should_split(1200.0, 900.0)
    assert not should_split(900.0, 900.0)
    assert not should_split(7200.0, 0.0)


def test_in_order_the_transcript_follows_the_chunks_at_call_time() -> None:
    transcript = assemble(PIECES, 3)
    assert [s.text for s in transcript.segments] == [
        "Thanks for joining.",
        "Our budget is approved.",
        "Next step is legal.",
    ]
    assert transcript.segments[1].start == 29.7 and transcript.segments[2].start == 58.2
    starts = [w.start for s in transcript.segments for w in s.words]
    assert starts == sorted(starts)
    assert transcript.duration_seconds == 80.0


def test_out_of_order_arrival_gives_the_same_transcript() -> None:
    assert assemble([PIECES[2], PIECES[0], PIECES[1]], 3) == assemble(PIECES, 3)


def test_a_missing_chunk_is_refused_and_a_duplicate_is_not_a_substitute() -> None:
    with pytest.raises(ChunksIncomplete, match=r"0\.\.2"):
        assemble([PIECES[0], PIECES[2]], 3)
    with pytest.raises(ChunksIncomplete):
        assemble([PIECES[0], PIECES[0], PIECES[2]], 3)


def test_a_sentence_across_a_cut_is_one_segment() -> None:
    before_cut = PieceTranscript(
        0, 0.0, 29.9, words(28.5, "The", "budget"), SpeechWindows.empty(), "builtin", "m"
    )
    across = [before_cut, piece(1, 29.9, 60.0, "is", "approved.")]
    [segment] = assemble(across, 2).segments
    assert segment.text == "The budget is approved."
    assert (segment.start, segment.words[2].start) == (28.5, 29.9)


def test_a_word_timed_before_the_previous_chunk_ends_is_kept_in_order() -> None:
    late = piece(0, 0.0, 30.0, "one", "two")
    early = PieceTranscript(
        1, 30.0, 60.0, (TimedWord(0.2, 0.3, " three"),), SpeechWindows.empty(), "b", "m"
    )
    starts = [w.start for s in assemble([late, early], 2).segments for w in s.words]
    assert starts == sorted(starts)


def voice_windows(start: float, voice: int, n: int = 20) -> SpeechWindows:
    """``n`` windows of one synthetic voice: two voices far apart in feature space."""
    rng = np.random.default_rng(voice * 100 + int(start))
    centre = np.full(20, 4.0 if voice else -4.0)
    starts = start + np.arange(n) * 0.5
    feats = centre + rng.normal(0, 0.3, (n, 20))
    frames = np.concatenate([s + np.arange(0, 0.5, 0.01) for s in starts])
    return SpeechWindows(starts, feats, frames)


def test_speakers_are_clustered_over_the_whole_call_so_labels_hold_across_chunks() -> None:
    """Chunk 1 starts with the *other* voice: labelled per chunk it would become
    "Speaker 1"; clustered over the call it keeps the label it had in chunk 0."""
    a0, b0 = voice_windows(0.0, 0), voice_windows(10.0, 1)
    b1, a1 = voice_windows(30.0, 1), voice_windows(40.0, 0)
    first = PieceTranscript(
        0,
        0.0,
        30.0,
        (TimedWord(1.0, 1.4, " Hello."), TimedWord(11.0, 11.4, " Hi.")),
        a0 + b0,
        "builtin",
        "m",
    )
    second = PieceTranscript(
        1,
        30.0,
        60.0,
        (TimedWord(31.0, 31.4, " Budget?"), TimedWord(41.0, 41.4, " Approved.")),
        b1 + a1,
        "builtin",
        "m",
    )
    transcript = assemble([second, first], 2)
    assert transcript.diarization == Diarization.CLUSTERING
    speakers = [s.speaker for s in transcript.segments]
    assert speakers == ["Speaker 1", "Speaker 2", "Speaker 2", "Speaker 1"]


def test_speech_windows_survive_storage() -> None:
    windows = voice_windows(12.5, 1)
    back = SpeechWindows.from_bytes(windows.to_bytes())
    np.testing.assert_allclose(back.starts, windows.starts, atol=1e-4)
    np.testing.assert_allclose(back.features, windows.features, atol=1e-4)
    np.testing.assert_allclose(back.speech_frames, windows.speech_frames, atol=1e-4)
    assert SpeechWindows.from_bytes(SpeechWindows.empty().to_bytes()).features.shape == (0, 20)


def test_a_whole_file_engine_piece_is_moved_to_call_time() -> None:
    transcript = Transcript(
        language="en",
        duration_seconds=28.0,
        segments=[TranscriptSegment(start=1.0, end=3.0, text="No word times here.")],
        provider="openai",
        model="whisper-1",
    )
    placed = piece_from_transcript(transcript, 2, 60.0)
    assert (placed.start, placed.end) == (60.0, 88.0)
    assert placed.words == (TimedWord(61.0, 63.0, " No word times here."),)


def tone_with_pauses(seconds: float, pause_every: float = 7.0) -> np.ndarray:
    """A tone with a 0.6-s silence every ``pause_every`` seconds."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    audio = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    audio[(t % pause_every) > pause_every - 0.6] = 0.0
    return audio


def test_the_plan_tiles_the_call_and_cuts_in_pauses() -> None:
    audio = tone_with_pauses(80.0)
    blocks = [audio[i : i + 5 * SAMPLE_RATE] for i in range(0, len(audio), 5 * SAMPLE_RATE)]
    chunks = list(plan_chunks(blocks, 30.0))
    assert len(chunks) == 3
    assert chunks[0].start == 0.0
    for before, after in itertools.pairwise(chunks):
        assert after.start == pytest.approx(before.end)
        assert np.abs(audio[int(after.start * SAMPLE_RATE)]) == 0.0  # in a pause
    assert sum(len(c.samples) for c in chunks) == len(audio)
    assert all(c.duration <= 30.0 for c in chunks)


def test_chunk_keys_are_derived() -> None:
    import uuid

    cid = uuid.UUID(int=7)
    assert chunk_key(cid, 3) == f"chunks/{cid}/0003.flac"
