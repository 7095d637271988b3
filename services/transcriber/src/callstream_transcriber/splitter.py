"""Cut a long recording into chunk files in the object store: the splitter's I/O.

Why chunk files and not byte ranges of the original: a cut has to land in a pause, and
finding the pauses means decoding the call from its start anyway; compressed formats (MP3,
M4A) cannot be cut at a sample by byte range, and a seek lands on a frame near, not at, the
cut. So the instance that takes ``calls.uploaded`` decodes the call once (streamed, memory
bounded by 1.5 chunks), plans the cuts (``audio.plan_chunks``) and writes each chunk as
16 kHz mono FLAC (lossless, ~1 MB per minute) under ``chunks/<conversation>/``; every other
instance downloads only its chunk, and chunk offsets are exact sample counts.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from callstream_transcriber.audio import (
    channels_differ,
    encode_flac,
    iter_audio_chunks,
    probe_audio,
)
from callstream_transcriber.chunking import ChunkSpan, chunk_key, should_split

PutBytes = Callable[[str, bytes, str], object]
"""Writes bytes under a key of the object store, with a content type."""


@dataclass(frozen=True)
class ChunkSplitter:
    chunk_seconds: float
    """Length of a chunk (cut earlier, at a pause): the transcriber's own chunk length."""
    threshold_seconds: float
    """Calls longer than this are split (0: never)."""

    def wants_split(self, path: Path) -> bool:
        """Long enough to split, from the container's header (a full decode only when the
        header does not say). A stereo call whose channels differ stays whole: it is
        transcribed channel by channel, each an exact speaker, which chunks of a mono mix
        would lose."""
        if self.threshold_seconds <= 0:
            return False
        info = probe_audio(path, decode=False)
        if info.declared_seconds is None:
            info = probe_audio(path)
        if not should_split(info.duration_seconds, self.threshold_seconds):
            return False
        return not (info.channels == 2 and channels_differ(path))

    def split(self, path: Path, conversation_id: uuid.UUID, put: PutBytes) -> list[ChunkSpan]:
        """Decode, cut at pauses and store every chunk; the whole file is validated on the
        way (a truncated one raises ``UndecodableAudio`` at its end, before any chunk event
        is emitted)."""
        spans: list[ChunkSpan] = []
        for index, chunk in enumerate(iter_audio_chunks(path, self.chunk_seconds)):
            key = chunk_key(conversation_id, index)
            put(key, encode_flac(chunk.samples), "audio/flac")
            spans.append(ChunkSpan(index, chunk.start, chunk.end, key))
        return spans
