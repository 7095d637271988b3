"""Wiring of the transcriber service."""

from __future__ import annotations

from faststream import FastStream

from callstream_common import topics
from callstream_common.contracts import CallUploaded
from callstream_common.runtime import build_runtime
from callstream_transcriber.factory import build_transcriber
from callstream_transcriber.handlers import STAGE, TranscriberHandlers
from callstream_transcriber.instant import InstantTranscriber
from callstream_transcriber.settings import TranscriberSettings
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
    handlers = TranscriberHandlers(
        runtime.unit_of_work, runtime.store.download, make_transcriber(settings), settings.work_dir
    )
    runtime.consume(
        topics.CALLS_UPLOADED,
        CallUploaded,
        handlers.on_uploaded,
        runtime.fail_conversation_on_dead_letter(STAGE),
    )
    return runtime.application(on_shutdown=[runtime.shutdown])
