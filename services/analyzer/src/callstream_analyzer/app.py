"""Wiring of the analyzer service."""

from __future__ import annotations

from faststream import FastStream

from callstream_analyzer.call_facts import CallFactsAnalyzer
from callstream_analyzer.embeddings import default_embedder
from callstream_analyzer.factory import build_analyzer
from callstream_analyzer.handlers import STAGE, AnalyzerHandlers
from callstream_analyzer.instant import InstantAnalyzer
from callstream_analyzer.meddic import Analyzer
from callstream_analyzer.reanalysis import ReanalysisHandler
from callstream_analyzer.settings import AnalyzerSettings
from callstream_analyzer.tracker_store import TrackerCache
from callstream_common import topics
from callstream_common.contracts import CallTranscribed, ReanalysisRequested
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
    trackers = TrackerCache(runtime.sessions, settings.tracker_refresh_seconds)
    embedder = None if settings.analyzer_provider == "instant" else default_embedder()
    analyzer = CallFactsAnalyzer(analyzer, trackers.current, embedder)
    handlers = AnalyzerHandlers(runtime.unit_of_work, analyzer)
    runtime.consume(
        topics.CALLS_TRANSCRIBED,
        CallTranscribed,
        handlers.on_transcribed,
        runtime.fail_conversation_on_dead_letter(STAGE),
    )
    runtime.consume(
        topics.ANALYSIS_REQUESTED,
        ReanalysisRequested,
        ReanalysisHandler(runtime.unit_of_work, analyzer).on_requested,
    )
    return runtime.application(
        on_startup=[trackers.start],
        on_shutdown=[trackers.stop, runtime.shutdown],
    )
