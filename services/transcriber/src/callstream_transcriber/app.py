"""Wiring of the transcriber service."""

from __future__ import annotations

from faststream import FastStream

from callstream_common import topics
from callstream_common.contracts import CallUploaded, TranscriptionChunkRequested
from callstream_common.runtime import build_runtime
from callstream_transcriber.chunk_store import SqlChunkedUnitOfWork
from callstream_transcriber.chunking import PieceTranscriber
from callstream_transcriber.factory import build_transcriber
from callstream_transcriber.handlers import STAGE, TranscriberHandlers
from callstream_transcriber.instant import InstantTranscriber
from callstream_transcriber.long_calls import LongCalls
from callstream_transcriber.pieces import WholeFilePieces
from callstream_transcriber.settings import TranscriberSettings
from callstream_transcriber.splitter import ChunkSplitter
from callstream_transcriber.transcription import Transcriber


def make_transcriber(settings: TranscriberSettings) -> Transcriber:
    if settings.transcriber_provider == "instant":
        return InstantTranscriber()
    return build_transcriber(
        provider=settings.transcriber_provider,
        base_url=settings.transcriber_base_url,
        api_key=settings.transcriber_api_key,
        model=settings.transcriber_model,
        beam_size=settings.transcriber_beam_size,
        chunk_seconds=settings.transcriber_chunk_seconds,
        cpu_threads=settings.transcriber_cpu_threads,
    )


def create_app(settings: TranscriberSettings | None = None) -> FastStream:
    settings = settings or TranscriberSettings()
    runtime = build_runtime(settings)
    transcriber = make_transcriber(settings)
    pieces = (
        transcriber if isinstance(transcriber, PieceTranscriber) else WholeFilePieces(transcriber)
    )
    long_calls = LongCalls(
        unit_of_work=lambda: SqlChunkedUnitOfWork(runtime.sessions, runtime.broker),
        files=runtime.store,
        pieces=pieces,
        splitter=ChunkSplitter(
            settings.transcriber_chunk_seconds, settings.transcriber_chunk_threshold_seconds
        ),
        partitions=settings.transcriber_chunk_partitions,
        work_dir=settings.work_dir,
    )
    handlers = TranscriberHandlers(
        runtime.unit_of_work,
        runtime.store.download,
        transcriber,
        settings.work_dir,
        long_calls if settings.transcriber_chunk_threshold_seconds > 0 else None,
        confirm=runtime.store.confirm,
    )
    runtime.consume(
        topics.CALLS_UPLOADED,
        CallUploaded,
        handlers.on_uploaded,
        runtime.fail_conversation_on_dead_letter(STAGE),
    )
    runtime.consume(
        topics.TRANSCRIPTION_CHUNK_REQUESTED,
        TranscriptionChunkRequested,
        long_calls.on_chunk,
        long_calls.on_dead_letter,
    )
    return runtime.application(on_shutdown=[runtime.shutdown])
