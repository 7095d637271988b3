"""Wiring of the analyzer service."""

from __future__ import annotations

from faststream import FastStream

from callstream_analyzer.handlers import AnalyzerHandlers
from callstream_analyzer.meddic import build_analyzer
from callstream_analyzer.settings import AnalyzerSettings
from callstream_common import topics
from callstream_common.contracts import CallTranscribed
from callstream_common.runtime import build_runtime
from callstream_common.stage import Stage


def create_app(settings: AnalyzerSettings | None = None) -> FastStream:
    settings = settings or AnalyzerSettings()
    runtime = build_runtime(settings)
    analyzer = build_analyzer(
        provider=settings.analyzer_provider,
        base_url=settings.analyzer_base_url,
        api_key=settings.analyzer_api_key,
        model=settings.analyzer_model,
    )
    handlers = AnalyzerHandlers(runtime, analyzer)
    Stage(
        broker=runtime.broker,
        service=settings.service_name,
        group_id=settings.consumer_group,
        topic=topics.CALLS_TRANSCRIBED,
        model=CallTranscribed,
        policy=settings.retry_policy(),
        on_dead_letter=handlers.on_dead_letter,
    ).consume(handlers.on_transcribed)
    return FastStream(runtime.broker, on_shutdown=[runtime.engine.dispose])
