"""The built-in engine: real Whisper tiny.en on synthesised speech, and the factory."""

from __future__ import annotations

import difflib
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from callstream_common.contracts import Transcript, TranscriptSegment
from callstream_transcriber.audio import (
    SAMPLE_RATE,
    UndecodableAudio,
    UndecodableReason,
    iter_audio_chunks,
)
from callstream_transcriber.factory import build_transcriber
from callstream_transcriber.remote import OpenAICompatibleTranscriber
from callstream_transcriber.transcription import Transcriber, place_segment
from callstream_transcriber.whisper import WhisperTranscriber
from tests.support.audio import make_garbage

from .conftest import THREE_MINUTE_LINES


@pytest.fixture(scope="module")
def whisper() -> WhisperTranscriber:
    return WhisperTranscriber(chunk_seconds=600)


@pytest.fixture(scope="module")
def whisper_60s(whisper: WhisperTranscriber) -> WhisperTranscriber:
    """60-s chunks; shares the already loaded weights (cached per process)."""
    chunked = WhisperTranscriber(chunk_seconds=60)
    assert chunked._model is whisper._model
    return chunked


_NUMBERS = {
    "2": "two",
    "3": "three",
    "4": "four",
    "6": "six",
    "20": "twenty",
    "50": "fifty",
    "80": "eighty",
    "90": "ninety",
}


def words(text: str) -> list[str]:
    """Lower-case words, with the digits Whisper prints spelt out as in the script."""
    return [_NUMBERS.get(w, w) for w in re.findall(r"[a-z0-9']+", text.lower())]


def ngrams(seq: list[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(seq[i : i + n]) for i in range(len(seq) - n + 1))


def assert_ordered(transcript: Transcript) -> None:
    previous = 0.0
    for seg in transcript.segments:
        assert seg.start >= previous
        assert seg.end >= seg.start
        assert seg.end <= transcript.duration_seconds + 1e-6
        assert seg.text == seg.text.strip() and seg.text
        previous = seg.start


def test_short_sentence(whisper: WhisperTranscriber, short_mp3: Path) -> None:
    transcript = whisper.transcribe(short_mp3)
    assert isinstance(whisper, Transcriber)
    assert transcript.provider == "builtin"
    assert transcript.model == "whisper-tiny.en"
    assert transcript.language == "en"
    assert transcript.duration_seconds == pytest.approx(7.2, abs=0.5)
    said = set(words(transcript.text))
    assert {"test", "transcription", "budget", "project"} <= said
    assert said & {"50", "000", "fifty", "thousand"}
    assert_ordered(transcript)
    # The second line starts after the first ends (two lines, ~3.3 s each).
    budget = next(s for s in transcript.segments if "budget" in s.text.lower())
    assert budget.start > 2.5


def test_undecodable_input_fails_before_the_model(
    whisper: WhisperTranscriber, tmp_path: Path
) -> None:
    with pytest.raises(UndecodableAudio) as err:
        whisper.transcribe(make_garbage(tmp_path / "x.wav"))
    assert err.value.reason == UndecodableReason.UNREADABLE


def word_errors(ref: list[str], hyp: list[str]) -> list[int]:
    """Errors per reference word: substituted/deleted words count 1 at their position,
    inserted words count at the reference word they precede (duplicates show up here)."""
    errors = [0] * len(ref)
    matcher = difflib.SequenceMatcher(a=ref, b=hyp, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op in ("replace", "delete"):
            for i in range(i1, i2):
                errors[i] += 1
        if op in ("replace", "insert"):
            errors[min(i1, len(ref) - 1)] += max(0, (j2 - j1) - (i2 - i1))
    return errors


def lost_or_repeated(ref: list[str], hyp: list[str]) -> list[int]:
    """Per reference word, the words lost there or added there (a repeat is an addition);
    a replaced run counts only the difference in length, not the substituted words."""
    counts = [0] * len(ref)
    matcher = difflib.SequenceMatcher(a=ref, b=hyp, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op != "equal":
            counts[min(i1, len(ref) - 1)] += abs((i2 - i1) - (j2 - j1))
    return counts


def ref_index(ref: list[str], hyp: list[str], hyp_index: int) -> int:
    """The reference word aligned with (or nearest before) ``hyp[hyp_index]``."""
    best = 0
    matcher = difflib.SequenceMatcher(a=ref, b=hyp, autojunk=False)
    for a, b, size in matcher.get_matching_blocks():
        if b <= hyp_index:
            best = a + min(hyp_index - b, max(size - 1, 0))
    return best


def test_chunked_run_matches_whole_file_run(
    whisper: WhisperTranscriber, whisper_60s: WhisperTranscriber, three_minute_wav: Path
) -> None:
    whole = whisper.transcribe(three_minute_wav)
    chunked = whisper_60s.transcribe(three_minute_wav)
    cuts = [c.start for c in iter_audio_chunks(three_minute_wav, 60.0, search_seconds=12.0)][1:]
    assert len(cuts) >= 2  # the file really was cut

    assert chunked.duration_seconds == pytest.approx(whole.duration_seconds, abs=0.01)
    assert_ordered(chunked)
    # Absolute timestamps: segments continue past every cut instead of restarting at 0.
    for cut in cuts:
        assert any(s.start >= cut for s in chunked.segments)
    assert chunked.segments[-1].end > chunked.duration_seconds - 10

    ref = words(" ".join(text for _, text in THREE_MINUTE_LINES))
    whole_words, chunked_words = words(whole.text), words(chunked.text)
    whole_err, chunked_err = word_errors(ref, whole_words), word_errors(ref, chunked_words)
    # Chunking costs no accuracy overall (tiny.en on espeak: ~5% word errors either way)...
    assert sum(chunked_err) <= sum(whole_err) + 0.02 * len(ref), (sum(chunked_err), len(ref))
    assert sum(chunked_err) < 0.15 * len(ref)

    # ...and none at the borders. Every cut lies in a pause, so no word is cut in two...
    samples = np.concatenate(
        [c.samples for c in iter_audio_chunks(three_minute_wav, 60.0, search_seconds=12.0)]
    )
    speech_rms = float(np.sqrt(np.mean(np.square(samples))))
    for cut in cuts:
        at = int(cut * SAMPLE_RATE)
        around = samples[at - SAMPLE_RATE // 10 : at + SAMPLE_RATE // 10]
        assert float(np.sqrt(np.mean(np.square(around)))) < 0.01 * speech_rms, cut

    # ...and around each cut no more words are lost or repeated than the whole-file run
    # loses or repeats on the same stretch of the script. Substitutions are left to the
    # totals above: two decodes of the same sentence differ word by word with the CPU's
    # instruction set (int8 GEMM kernels), e.g. "the better fit" vs "the benefit", which
    # says nothing about the border.
    whole_gaps, chunked_gaps = (
        lost_or_repeated(ref, whole_words),
        lost_or_repeated(ref, chunked_words),
    )
    for cut in cuts:
        first_after = sum(len(words(s.text)) for s in chunked.segments if s.start < cut)
        centre = ref_index(ref, chunked_words, first_after)
        lo, hi = max(0, centre - 12), centre + 12
        local_chunked, local_whole = sum(chunked_gaps[lo:hi]), sum(whole_gaps[lo:hi])
        assert local_chunked <= local_whole + 2, (cut, ref[lo:hi], local_chunked, local_whole)

    # ...and nothing is transcribed twice (what a naive overlap would do).
    expected = ngrams(ref, 5) | ngrams(whole_words, 5)  # | keeps the larger count
    repeated = {g: n for g, n in ngrams(chunked_words, 5).items() if n > max(1, expected[g])}
    assert not repeated, repeated


def test_place_segment_clamps_and_orders() -> None:
    assert place_segment(1.0, 2.0, offset=60.0, limit=120.0, floor=0.0) == (61.0, 62.0)
    assert place_segment(59.9, 60.4, offset=60.0, limit=120.0, floor=0.0) == (119.9, 120.0)
    assert place_segment(0.5, 1.0, offset=60.0, limit=120.0, floor=61.0) == (61.0, 61.0)
    TranscriptSegment(start=61.0, end=61.0, text="ok")  # the contract accepts it


def test_factory_builds_each_provider() -> None:
    remote = build_transcriber(
        "openai", base_url="http://127.0.0.1:9/v1", api_key="k", model="whisper-large-v3"
    )
    assert isinstance(remote, OpenAICompatibleTranscriber)
    assert remote.model_name == "whisper-large-v3"
    assert remote.url == "http://127.0.0.1:9/v1/audio/transcriptions"
    remote.close()
    with pytest.raises(ValueError, match="unknown transcription provider"):
        build_transcriber("azure")
    with pytest.raises(ValueError, match="base_url"):
        build_transcriber("openai")
    builtin = build_transcriber("builtin", model="whisper-large-v3-turbo", cpu_threads=2)
    assert isinstance(builtin, WhisperTranscriber)
    assert builtin.model_name == "whisper-tiny.en"
    with pytest.raises(ValueError, match="chunk_seconds"):
        build_transcriber("builtin", chunk_seconds=5)
