"""Chunks of a long call through an engine that only transcribes whole files."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from callstream_transcriber.chunking import PieceTranscript, piece_from_transcript
from callstream_transcriber.transcription import Transcriber


@dataclass(frozen=True)
class WholeFilePieces:
    """Transcribes a chunk file as a whole recording (a remote API, the instant engine) and
    places its words at the chunk's offset; no speech windows, so no clustering across
    chunks (the built-in Whisper has its own ``transcribe_piece`` that keeps them)."""

    transcriber: Transcriber

    def transcribe_piece(
        self, path: Path, index: int, start: float, vocabulary: Sequence[str] = ()
    ) -> PieceTranscript:
        began = time.perf_counter()
        transcript = self.transcriber.transcribe(path, vocabulary if index == 0 else ())
        return piece_from_transcript(transcript, index, start, time.perf_counter() - began)
