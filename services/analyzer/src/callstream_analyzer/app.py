"""Wiring of the analyzer service."""

from __future__ import annotations

from faststream import FastStream

from callstream_analyzer.factory import build_analyzer
from callstream_analyzer.handlers import STAGE, AnalyzerHandlers
from callstream_analyzer.instant import InstantAnalyzer
from callstream_analyzer.meddic import Analyzer
from callstream_analyzer.settings import AnalyzerSettings
from callstream_common import topics
from callstream_common.contracts import CallTranscribed
from callstream_common.runtime import build_runtime


def create_app(settings: AnalyzerSettings | None = None) -> FastStream:
    settings = settings or AnalyzerSettings()
    runtime = build_runtime(settings)
    analyzer: Analyzer = (
        InstantAnalyzer()
        if settings.analyzer_provider == "instant"
        else build_analyzer(
            provider=settings.analyzer_provider,
            base_url=settings.analyzer_base_url,
            api_key=settings.analyzer_api_key,
            model=settings.analyzer_model,
        )
    )
    handlers = AnalyzerHandlers(runtime, analyzer)
    runtime.consume(
        topics.CALLS_TRANSCRIBED,
        CallTranscribed,
        handlers.on_transcribed,
        runtime.fail_conversation_on_dead_letter(STAGE),
    )
    return runtime.application(on_shutdown=[runtime.shutdown])
