"""Audio probing, validation and streaming chunking (no model involved)."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from callstream_common.retry import is_permanent
from callstream_transcriber.audio import (
    SAMPLE_RATE,
    UndecodableAudio,
    UndecodableReason,
    find_cut,
    iter_audio_chunks,
    iter_pcm,
    probe_audio,
)
from tests.support.audio import (
    encode,
    make_empty,
    make_garbage,
    make_truncated_body,
    make_truncated_header,
    make_zero_duration_wav,
    write_wav,
)


@pytest.mark.parametrize("fmt", ["wav", "mp3", "ogg", "flac", "m4a"])
def test_probe_reads_declared_and_decoded_duration(
    short_wav: Path, tmp_path: Path, fmt: str
) -> None:
    src = short_wav if fmt == "wav" else encode(short_wav, tmp_path / f"s.{fmt}", fmt)  # type: ignore[arg-type]
    info = probe_audio(src)
    reference = probe_audio(short_wav).decoded_seconds
    assert reference is not None and 6 < reference < 9
    assert info.decoded_seconds == pytest.approx(reference, abs=0.15)
    assert info.declared_seconds == pytest.approx(reference, abs=0.15)
    assert info.sample_rate == 16_000 and info.channels == 1
    assert info.size_bytes == src.stat().st_size


def test_probe_without_decode_reads_headers_only(short_mp3: Path) -> None:
    info = probe_audio(short_mp3, decode=False)
    assert info.decoded_seconds is None
    assert info.duration_seconds == pytest.approx(probe_audio(short_mp3).duration_seconds, abs=0.1)


def _reason(path: Path) -> UndecodableAudio:
    with pytest.raises(UndecodableAudio) as err:
        probe_audio(path)
    assert isinstance(err.value, ValueError)
    assert is_permanent(err.value)  # the stage sends it to the DLQ, never to a retry
    return err.value


def test_empty_file(tmp_path: Path) -> None:
    exc = _reason(make_empty(tmp_path / "empty.wav"))
    assert exc.reason == UndecodableReason.EMPTY_FILE
    assert str(exc) == "empty file"


def test_garbage_bytes(tmp_path: Path) -> None:
    exc = _reason(make_garbage(tmp_path / "garbage.mp3"))
    assert exc.reason == UndecodableReason.UNREADABLE
    assert str(exc) == "not a readable audio file: Invalid data found when processing input"


@pytest.mark.parametrize("fmt", ["wav", "mp3"])
def test_truncated_header(short_wav: Path, short_mp3: Path, tmp_path: Path, fmt: str) -> None:
    src = short_wav if fmt == "wav" else short_mp3
    exc = _reason(make_truncated_header(src, tmp_path / f"head.{fmt}", keep_bytes=30))
    assert exc.reason == UndecodableReason.UNREADABLE


@pytest.mark.parametrize("fmt", ["wav", "mp3", "flac", "m4a"])
def test_truncated_body(minute_wav: Path, tmp_path: Path, fmt: str) -> None:
    src = minute_wav if fmt == "wav" else encode(minute_wav, tmp_path / f"m.{fmt}", fmt)  # type: ignore[arg-type]
    exc = _reason(make_truncated_body(src, tmp_path / f"cut.{fmt}", keep_fraction=0.4))
    assert exc.reason == UndecodableReason.TRUNCATED
    assert exc.detail.startswith("decoded ") and exc.detail.endswith(" s declared")
    assert str(exc).startswith("truncated audio: decoded ")


def test_slightly_short_file_is_not_truncated(short_wav: Path, tmp_path: Path) -> None:
    """Under 2 s missing is tolerated (encoder padding, VBR estimates)."""
    info = probe_audio(make_truncated_body(short_wav, tmp_path / "cut.wav", keep_fraction=0.9))
    assert info.decoded_seconds is not None and info.declared_seconds is not None
    assert info.declared_seconds - info.decoded_seconds < 2.0


def test_zero_duration(tmp_path: Path) -> None:
    exc = _reason(make_zero_duration_wav(tmp_path / "zero.wav"))
    assert exc.reason == UndecodableReason.ZERO_DURATION
    assert str(exc) == "zero duration"


def test_no_audio_stream(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("these are meeting notes, not a recording\n" * 50)
    exc = _reason(path)
    assert exc.reason == UndecodableReason.NO_AUDIO_STREAM


def test_missing_file_is_not_undecodable(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        probe_audio(tmp_path / "nope.wav")


def test_streaming_decoder_also_detects_truncation(minute_wav: Path, tmp_path: Path) -> None:
    cut = make_truncated_body(minute_wav, tmp_path / "cut.wav", keep_fraction=0.4)
    with pytest.raises(UndecodableAudio) as err:
        for _ in iter_pcm(cut):
            pass
    assert err.value.reason == UndecodableReason.TRUNCATED


def test_pcm_is_16k_mono_float32_in_bounded_blocks(tmp_path: Path) -> None:
    # 44.1 kHz stereo input: resampled and down-mixed.
    t = np.arange(44_100 * 12) / 44_100
    tone = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2")
    stereo = tmp_path / "stereo.wav"
    with wave.open(str(stereo), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44_100)
        w.writeframes(np.repeat(tone, 2).tobytes())
    blocks = list(iter_pcm(stereo, block_seconds=2.0))
    assert all(b.dtype == np.float32 and b.ndim == 1 for b in blocks)
    assert max(len(b) for b in blocks) < 3 * SAMPLE_RATE
    assert sum(len(b) for b in blocks) == pytest.approx(12 * SAMPLE_RATE, abs=SAMPLE_RATE // 50)
    # FFmpeg's default down-mix sums the channels at -3 dB each: 0.3 * 2 / sqrt(2).
    assert float(np.max(np.abs(np.concatenate(blocks)))) == pytest.approx(0.424, abs=0.01)


def _bursts(path: Path, pattern: list[tuple[float, bool]]) -> Path:
    """Tone (True) and silence (False) stretches of the given lengths in seconds."""
    parts = []
    for seconds, loud in pattern:
        n = int(seconds * SAMPLE_RATE)
        t = np.arange(n) / SAMPLE_RATE
        parts.append(0.5 * np.sin(2 * np.pi * 300 * t) if loud else np.zeros(n))
    return write_wav(path, np.concatenate(parts))


def test_chunks_tile_the_recording_and_cut_in_pauses(tmp_path: Path) -> None:
    # 7 s of "speech", 0.5 s pause, repeated: pauses at 7.0-7.5, 15.0-15.5, ...
    path = _bursts(tmp_path / "bursts.wav", [(7.0, True), (0.5, False)] * 10)
    chunks = list(iter_audio_chunks(path, chunk_seconds=20.0, search_seconds=6.0))
    total = sum(len(c.samples) for c in chunks)
    assert total == 75 * SAMPLE_RATE
    position = 0.0
    for chunk in chunks:  # contiguous: no gap, no overlap
        assert chunk.start == pytest.approx(position, abs=1e-9)
        assert chunk.duration <= 20.0
        position = chunk.end
    for chunk in chunks[:-1]:  # every cut falls inside a pause
        k = round(chunk.end / 7.5)
        assert k * 7.5 - 0.5 <= chunk.end <= k * 7.5, chunk.end
    assert all(c.duration >= 14.0 for c in chunks[:-2])
    assert min(c.duration for c in chunks) >= 7.0  # no stub at the end


def test_without_search_window_cuts_are_exact(tmp_path: Path) -> None:
    path = _bursts(tmp_path / "tone.wav", [(25.0, True)])
    chunks = list(iter_audio_chunks(path, chunk_seconds=10.0, search_seconds=0))
    assert [round(c.start, 3) for c in chunks] == [0.0, 10.0, 20.0]
    assert [round(c.duration, 3) for c in chunks] == [10.0, 10.0, 5.0]
    # 24 s: the stream ends with 14 s buffered; 10 + 4 would leave a stub, so it is halved.
    path = _bursts(tmp_path / "tone24.wav", [(24.0, True)])
    chunks = list(iter_audio_chunks(path, chunk_seconds=10.0, search_seconds=0))
    assert [round(c.duration, 3) for c in chunks] == [10.0, 7.0, 7.0]


def test_short_recording_is_one_chunk_and_a_little_over_is_halved(tmp_path: Path) -> None:
    short = _bursts(tmp_path / "short.wav", [(9.0, True)])
    assert [round(c.duration, 3) for c in iter_audio_chunks(short, 10.0)] == [9.0]
    over = _bursts(tmp_path / "over.wav", [(10.0, True), (0.4, False), (1.0, True)])
    halves = [c.duration for c in iter_audio_chunks(over, 10.0, search_seconds=2.0)]
    assert len(halves) == 2 and all(4.0 < d <= 10.0 for d in halves)


def test_find_cut_prefers_latest_quietest_point() -> None:
    audio = np.full(10 * SAMPLE_RATE, 0.5, dtype=np.float32)
    audio[6 * SAMPLE_RATE : 7 * SAMPLE_RATE] = 0.0
    cut = find_cut(audio, 5 * SAMPLE_RATE, 10 * SAMPLE_RATE)
    assert 6 * SAMPLE_RATE < cut < 7 * SAMPLE_RATE
    # In the middle of the pause, not at its edge where the next word starts.
    assert abs(cut - 6.5 * SAMPLE_RATE) < 0.05 * SAMPLE_RATE
    audio[8 * SAMPLE_RATE : 8 * SAMPLE_RATE + SAMPLE_RATE // 2] = 0.0
    later = find_cut(audio, 5 * SAMPLE_RATE, 10 * SAMPLE_RATE)
    assert abs(later - 8.25 * SAMPLE_RATE) < 0.05 * SAMPLE_RATE  # the latest pause wins


def test_chunk_arguments_are_checked(short_wav: Path) -> None:
    with pytest.raises(ValueError):
        next(iter_audio_chunks(short_wav, chunk_seconds=0))
    with pytest.raises(ValueError):
        next(iter_audio_chunks(short_wav, chunk_seconds=10, search_seconds=10))
