"""Probe, validate and stream-decode call recordings with PyAV.

Why this module exists: a recording that cannot be decoded will never become decodable by
retrying, so it must be recognised *before* minutes of transcription are spent and reported
as a permanent failure with a reason a human understands (``UndecodableAudio``). Everything
else in the transcriber consumes audio through ``iter_audio_chunks``, which decodes in a
streaming fashion so a 2-hour call costs the same memory as a 10-minute one.

PyAV bundles its own FFmpeg, so no system ``ffmpeg`` is needed at run time.
"""

from __future__ import annotations

import io
import logging
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import av
import av.error
import numpy as np
import numpy.typing as npt
from av.audio.frame import AudioFrame
from av.audio.resampler import AudioResampler
from av.audio.stream import AudioStream
from av.container import InputContainer

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
"""Whisper's native rate; every chunk handed to a model is 16 kHz mono float32."""

TRUNCATION_RATIO = 0.9
"""A file whose decoded audio is shorter than this share of its declared duration..."""
TRUNCATION_MIN_SECONDS = 2.0
"""...and more than this many seconds short, is treated as truncated. Both conditions are
needed: encoder padding and VBR estimates make small discrepancies normal on short files."""

FloatArray = npt.NDArray[np.float32]


class UndecodableReason(StrEnum):
    """Stable, human-readable reasons; stored on the conversation as the failure reason."""

    EMPTY_FILE = "empty file"
    UNREADABLE = "not a readable audio file"
    NO_AUDIO_STREAM = "no audio stream"
    ZERO_DURATION = "zero duration"
    TRUNCATED = "truncated audio"


class UndecodableAudio(ValueError):
    """The recording can never be transcribed: a permanent failure, do not retry.

    ``reason`` is one of ``UndecodableReason`` (stable, suitable for grouping and tests);
    ``detail`` carries the specifics (FFmpeg's message, the measured durations).
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


@dataclass(frozen=True, slots=True)
class AudioInfo:
    """What a probe learnt about a recording."""

    format_name: str
    codec: str
    sample_rate: int
    channels: int
    size_bytes: int
    declared_seconds: float | None
    """Duration the container claims (header, Xing frame count, moov atom), if any."""
    decoded_seconds: float | None
    """Duration actually decoded; ``None`` when the probe was run with ``decode=False``."""

    @property
    def duration_seconds(self) -> float:
        """Best known duration: what was decoded, else what the container claims."""
        if self.decoded_seconds is not None:
            return self.decoded_seconds
        return self.declared_seconds or 0.0


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """A piece of a recording, resampled to 16 kHz mono float32."""

    start: float
    """Offset of the first sample from the start of the recording, in seconds."""
    samples: FloatArray

    @property
    def duration(self) -> float:
        return len(self.samples) / SAMPLE_RATE

    @property
    def end(self) -> float:
        return self.start + self.duration


# --------------------------------------------------------------------------- probing


def probe_audio(path: Path, *, decode: bool = True) -> AudioInfo:
    """Open ``path``, read what the container declares and (by default) decode it all.

    Decoding is streamed packet by packet and counts samples only — nothing is buffered — so
    a full validation pass over a 2-hour call takes seconds and constant memory. With
    ``decode=False`` only the headers are read (cheap, but a truncated body goes unnoticed).

    Raises ``UndecodableAudio`` for an empty file, a file FFmpeg cannot read, a file without
    an audio stream, zero duration, or a decoded duration far shorter than declared.
    ``FileNotFoundError`` is *not* converted: a missing file is an infrastructure problem,
    not a property of the recording.
    """
    size = path.stat().st_size
    if size == 0:
        raise UndecodableAudio(UndecodableReason.EMPTY_FILE)
    with _open(path) as container:
        stream = _audio_stream(container)
        declared = _declared_seconds(container, stream, path)
        decoded: float | None = None
        if decode:
            decoded = _decoded_seconds(container, stream)
        info = AudioInfo(
            format_name=container.format.name,
            codec=stream.codec_context.name,
            sample_rate=stream.codec_context.sample_rate or 0,
            channels=stream.codec_context.channels or 0,
            size_bytes=size,
            declared_seconds=declared,
            decoded_seconds=decoded,
        )
    _check_durations(info.declared_seconds, info.decoded_seconds)
    return info


def _open(path: Path) -> InputContainer:
    try:
        return av.open(str(path), mode="r", metadata_errors="ignore")
    except FileNotFoundError:
        raise
    except av.error.FFmpegError as exc:
        raise UndecodableAudio(UndecodableReason.UNREADABLE, _ffmpeg_message(exc)) from exc


def _ffmpeg_message(exc: av.error.FFmpegError) -> str:
    # str(exc) embeds the full path; the reason is stored and shown to users, keep it short.
    return str(getattr(exc, "strerror", None) or exc)


def _audio_stream(container: InputContainer) -> AudioStream:
    if not container.streams.audio:
        kinds: list[str] = sorted({s.type for s in container.streams}) or ["none"]
        raise UndecodableAudio(
            UndecodableReason.NO_AUDIO_STREAM,
            f"container {container.format.name!r} holds streams: {', '.join(kinds)}",
        )
    return container.streams.audio[0]


def _declared_seconds(container: InputContainer, stream: AudioStream, path: Path) -> float | None:
    """The longest duration any header claims.

    FFmpeg's WAV demuxer clamps the RIFF ``data`` size to the bytes present, so a truncated
    WAV looks complete to it; reading the RIFF header ourselves restores the claim.
    """
    candidates: list[float] = []
    if container.duration is not None and container.duration > 0:
        candidates.append(container.duration / av.time_base)
    if stream.duration is not None and stream.duration > 0 and stream.time_base is not None:
        candidates.append(float(stream.duration * stream.time_base))
    riff = _riff_declared_seconds(path)
    if riff is not None:
        candidates.append(riff)
    return max(candidates) if candidates else None


def _riff_declared_seconds(path: Path) -> float | None:
    """Duration from a WAV file's own ``fmt``/``data`` chunk sizes, if it is a plain RIFF.

    Streaming writers put 0 or 0xFFFFFFFF in the size fields; those mean "unknown".
    """
    with path.open("rb") as fh:
        head = fh.read(64 * 1024)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos, byte_rate = 12, 0
    while pos + 8 <= len(head):
        chunk_id = head[pos : pos + 4]
        (chunk_size,) = struct.unpack_from("<I", head, pos + 4)
        body = pos + 8
        if chunk_id == b"fmt " and body + 12 <= len(head):
            (byte_rate,) = struct.unpack_from("<I", head, body + 8)
        elif chunk_id == b"data":
            if byte_rate <= 0 or chunk_size in (0, 0xFFFFFFFF):
                return None
            return float(chunk_size / byte_rate)
        pos = body + chunk_size + (chunk_size & 1)
    return None


def _decoded_seconds(container: InputContainer, stream: AudioStream) -> float:
    seconds = 0.0
    for frame in _decode_frames(container, stream):
        seconds += frame.samples / (frame.sample_rate or SAMPLE_RATE)
    return seconds


def _decode_frames(container: InputContainer, stream: AudioStream) -> Iterator[AudioFrame]:
    """Decode packet by packet, skipping corrupt packets the way the ffmpeg CLI does.

    ``container.decode()`` ends the whole generator at the first bad packet; going through
    ``demux`` lets a single damaged frame cost 20 ms of audio instead of the rest of the
    call. Whether too much was lost is judged afterwards from the durations.
    """
    bad = 0
    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except (av.error.InvalidDataError, av.error.PatchWelcomeError, ValueError):
            bad += 1
            continue
        for frame in frames:
            if isinstance(frame, AudioFrame) and frame.samples > 0:
                yield frame
    if bad:
        log.info("skipped %d undecodable packet(s)", bad)


def _check_durations(declared: float | None, decoded: float | None) -> None:
    actual = decoded if decoded is not None else declared
    if not actual or actual <= 0:
        raise UndecodableAudio(UndecodableReason.ZERO_DURATION)
    if declared is None or decoded is None:
        return
    missing = declared - decoded
    if decoded < TRUNCATION_RATIO * declared and missing > TRUNCATION_MIN_SECONDS:
        raise UndecodableAudio(
            UndecodableReason.TRUNCATED,
            f"decoded {decoded:.1f} s of {declared:.1f} s declared",
        )


# --------------------------------------------------------------------------- streaming PCM


def iter_pcm(
    path: Path, *, block_seconds: float = 5.0, channel: int | None = None
) -> Iterator[FloatArray]:
    """Yield the recording as 16 kHz mono float32 blocks of about ``block_seconds``: all
    channels mixed down, or only ``channel`` (0 = left, 1 = right of a stereo file).

    Decoding and resampling are streamed; the only buffer is one block. At the end the
    decoded total is checked against the declared duration, so a caller that skipped
    ``probe_audio`` still gets ``UndecodableAudio`` rather than a silently short transcript.
    """
    if path.stat().st_size == 0:
        raise UndecodableAudio(UndecodableReason.EMPTY_FILE)
    block = max(1, int(block_seconds * SAMPLE_RATE))
    pending: list[FloatArray] = []
    pending_len = 0
    total = 0
    with _open(path) as container:
        stream = _audio_stream(container)
        declared = _declared_seconds(container, stream, path)
        for samples in _resampled(_decode_frames(container, stream), channel):
            pending.append(samples)
            pending_len += len(samples)
            if pending_len >= block:
                out = np.concatenate(pending)
                pending, pending_len = [], 0
                total += len(out)
                yield out
    if pending:
        out = np.concatenate(pending)
        total += len(out)
        yield out
    _check_durations(declared, total / SAMPLE_RATE)


def _resampled(frames: Iterator[AudioFrame], channel: int | None = None) -> Iterator[FloatArray]:
    """Resample to 16 kHz mono float32, rebuilding the resampler if the input changes.

    Some MP3s switch sample rate or channel layout mid-stream; a PyAV resampler is bound to
    the first frame's parameters, so it is flushed and replaced when they change.
    """
    resampler: AudioResampler | None = None
    signature: tuple[str, str, int] | None = None
    for frame in frames:
        sig = (frame.format.name, frame.layout.name, frame.sample_rate)
        if sig != signature:
            if resampler is not None:
                yield from _frames_to_arrays(resampler.resample(None), channel)
            resampler = (
                AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
                if channel is None
                else AudioResampler(format="fltp", layout="stereo", rate=SAMPLE_RATE)
            )
            signature = sig
        frame.pts = None  # timestamps are irrelevant; gaps must not be "fixed" by padding
        assert resampler is not None
        yield from _frames_to_arrays(resampler.resample(frame), channel)
    if resampler is not None:
        yield from _frames_to_arrays(resampler.resample(None), channel)


def _frames_to_arrays(frames: list[AudioFrame], channel: int | None) -> Iterator[FloatArray]:
    for frame in frames:
        arr = frame.to_ndarray()
        picked = arr.reshape(-1) if channel is None else arr[channel]
        yield np.ascontiguousarray(picked, dtype=np.float32)


def channels_differ(path: Path, *, seconds: float = 120.0) -> bool:
    """Whether a stereo recording carries two different signals (each side of the call on its
    own channel) rather than the same one twice: the channels' correlation over the first
    ``seconds`` of audio that has any sound."""
    left: list[FloatArray] = []
    right: list[FloatArray] = []
    taken = 0
    for block_l, block_r in zip(iter_pcm(path, channel=0), iter_pcm(path, channel=1), strict=False):
        n = min(len(block_l), len(block_r))
        left.append(block_l[:n])
        right.append(block_r[:n])
        taken += n
        if taken >= seconds * SAMPLE_RATE:
            break
    if not left:
        return False
    a, b = np.concatenate(left).astype(np.float64), np.concatenate(right).astype(np.float64)
    if a.std() < 1e-6 or b.std() < 1e-6:
        return False  # one side silent: a mono call on one channel
    return float(np.corrcoef(a, b)[0, 1]) < 0.9


def encode_flac(samples: FloatArray) -> bytes:
    """16 kHz mono float32 → FLAC bytes (16-bit): lossless for ASR, about half of WAV."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16).reshape(1, -1)
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="flac") as out:
        stream = out.add_stream("flac", rate=SAMPLE_RATE, layout="mono", format="s16")
        frame = AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = 0
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buf.getvalue()


# --------------------------------------------------------------------------- chunking


def default_search_seconds(chunk_seconds: float) -> float:
    """How far back from a chunk's nominal end to look for a pause to cut at."""
    return min(20.0, chunk_seconds / 5)


def iter_audio_chunks(
    path: Path,
    chunk_seconds: float = 600.0,
    *,
    search_seconds: float | None = None,
    channel: int | None = None,
) -> Iterator[AudioChunk]:
    """Yield consecutive 16 kHz mono chunks of ``path`` (see :func:`plan_chunks`), decoded
    as a stream in blocks of at most 5 s."""
    if chunk_seconds <= 0:
        raise ValueError("chunk_seconds must be positive")
    blocks = iter_pcm(path, block_seconds=min(5.0, chunk_seconds), channel=channel)
    yield from plan_chunks(blocks, chunk_seconds, search_seconds=search_seconds)


def plan_chunks(
    blocks: Iterable[FloatArray],
    chunk_seconds: float = 600.0,
    *,
    search_seconds: float | None = None,
) -> Iterator[AudioChunk]:
    """Cut a stream of 16 kHz PCM blocks into consecutive chunks of at most
    ``chunk_seconds`` with their offsets: pure planning, no I/O, so that the in-process
    chunked decode and the split of a long call across transcribers cut at the same places.

    Chunks tile the recording exactly — no gap, no overlap — so offsets are simply running
    sums of chunk lengths and stitched timestamps are exact. Each cut is placed at the
    quietest moment within the last ``search_seconds`` of the nominal chunk (default
    ``default_search_seconds``; 0 cuts at exactly ``chunk_seconds``), which in speech is a
    pause between words, so no word is split between two chunks.

    No stub at the end: a 4-s last chunk gives the model too little context (its first
    words come out wrong). A cut is only made once half a chunk more audio is buffered, and
    if the stream then ends with between one and 1.5 chunks left, that remainder is split
    into two near-equal halves, again at a pause; so every chunk is at least about half
    ``chunk_seconds`` long unless the whole call is shorter. Memory is bounded by 1.5
    chunks plus one block, whatever the call's length.
    """
    if chunk_seconds <= 0:
        raise ValueError("chunk_seconds must be positive")
    search = default_search_seconds(chunk_seconds) if search_seconds is None else search_seconds
    if not 0 <= search < chunk_seconds:
        raise ValueError("search_seconds must be in [0, chunk_seconds)")
    chunk_len = int(chunk_seconds * SAMPLE_RATE)
    search_len = int(search * SAMPLE_RATE)
    lookahead = chunk_len // 2
    buffer: list[FloatArray] = []
    buffered = 0
    offset = 0  # samples already yielded
    for block in blocks:
        buffer.append(block)
        buffered += len(block)
        while buffered >= chunk_len + lookahead:
            audio = np.concatenate(buffer)
            cut = find_cut(audio, chunk_len - search_len, chunk_len)
            yield AudioChunk(start=offset / SAMPLE_RATE, samples=audio[:cut].copy())
            offset += cut
            rest = audio[cut:].copy()
            buffer, buffered = [rest], len(rest)
    if not buffered:
        return
    audio = np.concatenate(buffer)
    if buffered > chunk_len:
        # Both halves stay within chunk_len; the cut lands near the middle, at a pause.
        half = buffered // 2
        lo = max(buffered - chunk_len, half - search_len // 2)
        hi = min(chunk_len, half + search_len // 2)
        cut = find_cut(audio, lo, hi)
        yield AudioChunk(start=offset / SAMPLE_RATE, samples=audio[:cut].copy())
        offset += cut
        audio = audio[cut:]
    yield AudioChunk(start=offset / SAMPLE_RATE, samples=audio)


_FRAME = SAMPLE_RATE // 50  # 20 ms energy frames
_WINDOW_FRAMES = 15  # 300 ms: about the shortest pause between words
_SILENCE_ENERGY = 1e-8  # mean square of a -80 dBFS signal: digital silence plus dither


def find_cut(audio: FloatArray, lo: int, hi: int) -> int:
    """Sample index in ``[lo, hi]`` in the middle of the latest quietest pause of ``audio[lo:hi]``.

    Frame energies are smoothed over a 300-ms window; among the near-equally quiet windows the
    latest pause wins (to keep chunks long) and the cut goes to the middle of that pause, so
    both chunks keep some silence around the words next to the cut. A plain energy
    minimum needs no second model and is deterministic; on continuous noise it still lands
    on the least harmful spot. A range shorter than one window yields ``hi``.
    """
    if hi - lo < _FRAME * _WINDOW_FRAMES:
        return max(1, hi)
    region = audio[lo:hi]
    n_frames = len(region) // _FRAME
    energy = np.square(region[: n_frames * _FRAME].astype(np.float64)).reshape(n_frames, _FRAME)
    frame_energy = energy.mean(axis=1)
    smooth = np.convolve(frame_energy, np.ones(_WINDOW_FRAMES) / _WINDOW_FRAMES, mode="valid")
    # Pauses that are all "silent" differ only by dither or room noise; treat windows within
    # a small margin of the minimum as equally quiet and take the latest of them.
    is_quiet = smooth <= smooth.min() * 2 + _SILENCE_ENERGY
    last = int(np.flatnonzero(is_quiet)[-1])
    first = last
    while first > 0 and is_quiet[first - 1]:
        first -= 1
    # The middle of that quiet run, not its edge: the latest quiet window ends where the next
    # word begins, and a chunk that starts on a word's soft onset ("th", "f", "h") loses it.
    best = (first + last) // 2
    cut = lo + (best + _WINDOW_FRAMES // 2) * _FRAME + _FRAME // 2
    return max(1, min(cut, hi))
